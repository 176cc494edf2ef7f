//! SCH — schema and domain: columns added, removed or retyped; null rates; categories the
//! baseline never had; values outside the baseline's range; unit changes.
//!
//! One file per check; the severity rule for values the baseline never had (SCH003, SCH004) and
//! the number format of titles are shared here.

mod categories;
mod columns;
mod label_class;
mod range;
mod units;

use serde_json::{Value, json};

use super::{Severity, TRIGGER_MIN_ROWS, TRIGGER_PURITY, json_num};

pub use self::categories::NewCategories;
pub use self::columns::{NullRate, SchemaChange};
pub use self::label_class::NewLabelClass;
pub use self::range::OutOfRange;
pub use self::units::UnitChange;

/// Severity of rows holding values the baseline never had (new categories, values outside its
/// range), and whether they look like a trigger: one label on ≥ 95% of ≥ 10 rows beyond what
/// the reference explains (binomial p ≤ 0.001; needs exact per-label counts). High when
/// trigger-like or on ≥ 10% of rows, medium on ≥ 1%, low otherwise.
fn unseen_severity(
    labels_known: bool,
    rows: u64,
    share: f64,
    purity: &Option<(String, f64, f64)>,
) -> (Severity, bool) {
    let trigger = labels_known
        && rows >= TRIGGER_MIN_ROWS
        && purity
            .as_ref()
            .is_some_and(|(_, s, bp)| *s >= TRIGGER_PURITY && *bp <= 1e-3);
    let sev = if trigger || share >= 0.1 {
        Severity::High
    } else if share >= 0.01 {
        Severity::Medium
    } else {
        Severity::Low
    };
    (sev, trigger)
}

fn purity_evidence((label, share, p): (String, f64, f64)) -> Value {
    json!({"label": label, "share": json_num(share), "p_value": json_num(p)})
}

/// A number for a title: whole numbers without decimals, others to 4 significant digits.
fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{}", crate::report::round(x))
    }
}
