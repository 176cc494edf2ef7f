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
/// range), and whether they look like a trigger: one label on ≥ 95% of the rows beyond what the
/// reference explains (needs exact per-label counts), by a one-sided binomial test: p ≤ 0.001
/// on ≥ 10 rows, or, for a handful of rows (≥ 3), p ≤ 0.001 after Bonferroni over the `tests`
/// columns that had such rows. Five rows past a range that all carry a label 5% of the
/// reference has (p = 0.05⁵ ≈ 3·10⁻⁷) are a trigger; a fresh sample's few rows past the old
/// extremes carry the tail's own label mix and are not. High when trigger-like or on ≥ 10% of
/// rows, medium on ≥ 1%, low otherwise.
fn unseen_severity(
    labels_known: bool,
    rows: u64,
    share: f64,
    purity: &Option<(String, f64, f64)>,
    tests: usize,
) -> (Severity, bool) {
    let trigger = labels_known
        && purity.as_ref().is_some_and(|(_, s, bp)| {
            *s >= TRIGGER_PURITY
                && ((rows >= TRIGGER_MIN_ROWS && *bp <= 1e-3)
                    || (rows >= HANDFUL && *bp * tests.max(1) as f64 <= 1e-3))
        });
    let sev = if trigger || share >= 0.1 {
        Severity::High
    } else if share >= 0.01 {
        Severity::Medium
    } else {
        Severity::Low
    };
    (sev, trigger)
}

/// The fewest rows a trigger-like group of unseen values is judged on by its label test alone.
const HANDFUL: u64 = 3;

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

#[cfg(test)]
mod tests {
    use super::*;

    /// The purity of `rows` rows that all carry label `1`, whose reference share is `share`:
    /// the binomial p-value is share^rows (all of them), by hand.
    fn all_one(rows: u64, share: f64) -> Option<(String, f64, f64)> {
        Some(("1".into(), 1.0, share.powi(rows as i32)))
    }

    #[test]
    fn a_handful_of_rows_with_one_unlikely_label_is_a_trigger() {
        // Five rows, a label 5% of the reference has: 0.05^5 = 3.1e-7; × 6 columns = 1.9e-6.
        assert_eq!(
            unseen_severity(true, 5, 0.001, &all_one(5, 0.05), 6),
            (Severity::High, true)
        );
        // Two rows are never enough, however unlikely their label (0.01^2 = 1e-4).
        assert_eq!(
            unseen_severity(true, 2, 0.001, &all_one(2, 0.01), 1),
            (Severity::Low, false)
        );
        // Five rows of a label half the tail has: 0.5^5 = 0.03, no trigger.
        assert_eq!(
            unseen_severity(true, 5, 0.001, &all_one(5, 0.5), 1),
            (Severity::Low, false)
        );
        // Three rows at 5%: 1.25e-4 passes alone, but not across 9 columns (1.1e-3).
        assert!(unseen_severity(true, 3, 0.001, &all_one(3, 0.05), 1).1);
        assert!(!unseen_severity(true, 3, 0.001, &all_one(3, 0.05), 9).1);
        // Ten rows or more keep the test without the correction: 0.5^10 = 9.8e-4.
        assert!(unseen_severity(true, 10, 0.001, &all_one(10, 0.5), 50).1);
        // Mixed labels, or labels not known exactly, are no trigger.
        let mixed = Some(("1".to_string(), 0.8, 1e-9));
        assert!(!unseen_severity(true, 20, 0.001, &mixed, 1).1);
        assert!(!unseen_severity(false, 5, 0.001, &all_one(5, 0.05), 1).1);
        // Without a trigger the share decides.
        assert_eq!(
            unseen_severity(false, 5, 0.02, &None, 1).0,
            Severity::Medium
        );
        assert_eq!(unseen_severity(false, 5, 0.2, &None, 1).0, Severity::High);
    }
}
