//! DRF — distribution drift: per column (numeric and categorical), of the label, and drift
//! concentrated in one source file or partition.
//!
//! Every drift finding needs an effect size above its threshold *and* a Benjamini–Hochberg
//! q-value at most `ALPHA` across all the columns tested: at millions of rows every p-value is
//! tiny, so the effect size is what decides, and the test is what keeps small samples quiet.
//!
//! The thresholds of the family are here; `column` holds the per-column tests, `whole` the
//! checks on the whole data (DRF001–DRF003), `source` the check per source (DRF004).

mod column;
mod creep;
mod source;
mod whole;

use std::collections::{BTreeMap, BTreeSet};

use super::{Param, Severity, named_tier_params, tier, tier_params};

pub use self::column::{Bins, ColumnDrift, column_drift};
pub use self::creep::CreepingChange;
pub use self::source::SourceDrift;
pub use self::whole::{CategoricalDrift, LabelDrift, NumericDrift};

/// PSI tiers (low, medium, high) for numeric drift. 0.1 and 0.25 are the customary "moderate"
/// and "major" shift of credit-scoring practice; 1.0 means most of the mass moved bins.
pub const PSI_TIERS: (f64, f64, f64) = (0.1, 0.25, 1.0);
const PSI_PARAMS: [Param; 3] = tier_params(
    PSI_TIERS.0,
    PSI_TIERS.1,
    PSI_TIERS.2,
    100.0,
    "PSI of a numeric column (DRF001, and DRF004's numeric tests) at this severity",
);
/// L∞ tiers (largest change of one category's share) for categorical and label drift.
pub const LINF_TIERS: (f64, f64, f64) = (0.05, 0.1, 0.3);
const LINF_PARAMS: [Param; 3] = tier_params(
    LINF_TIERS.0,
    LINF_TIERS.1,
    LINF_TIERS.2,
    1.0,
    "largest change of one category's share (DRF002, and DRF004's categorical tests) at this severity",
);
const LABEL_LINF: [Param; 3] = tier_params(
    LINF_TIERS.0,
    LINF_TIERS.1,
    LINF_TIERS.2,
    1.0,
    "largest change of one label's share at this severity",
);
/// DRF003's second set of tiers: the factor by which one label's share of the rows moved, the
/// bound of its ratio now to the baseline's that is nearer 1 (a rise's lower bound, a fall's
/// upper bound, inverted), each one-sided at 1 − 0.01 / (2 × the labels tested). L∞ cannot see a rare
/// class vanish: a fraud label on 1% of the rows that lost nine in ten of them moves L∞ by 0.009.
/// 1.5 (low), 3 (medium), 5 (high). On a balanced label L∞'s tiers are factors of 1.1, 1.25
/// and 2.5 (50% → 20% is L∞ 0.3, high); a rare label's share varies more in relative terms, so
/// these are wider, and a label whose share was divided or multiplied by at least five on counts
/// that rule out chance (the positives a pipeline stopped delivering, labels that arrive late)
/// blocks retraining as a balanced label moved to 20% does.
const LABEL_RATIO: [Param; 3] = {
    // A factor is at least 1.
    let mut t = named_tier_params(
        ["ratio-low", "ratio-medium", "ratio-high"],
        1.5,
        3.0,
        5.0,
        1e12,
        "factor by which one label's share moved (its ratio's bound nearer 1) at this severity",
    );
    t[0].min = 1.0;
    t[1].min = 1.0;
    t[2].min = 1.0;
    t
};
const LABEL_PARAMS: [Param; 6] = [
    LABEL_LINF[0],
    LABEL_LINF[1],
    LABEL_LINF[2],
    LABEL_RATIO[0],
    LABEL_RATIO[1],
    LABEL_RATIO[2],
];
/// Below the low tier, drift that is significant and at least this large is reported as info
/// (it never fails a gate): PSI 0.05, L∞ 0.02 …
pub const PSI_INFO: f64 = 0.05;
pub const LINF_INFO: f64 = 0.02;
/// … and a label's share moved by a factor of 1.2 (DRF003).
pub const RATIO_INFO: f64 = 1.2;

fn drift_tier(effect: f64, info: f64, tiers: (f64, f64, f64)) -> Option<Severity> {
    tier(effect, tiers.0, tiers.1, tiers.2).or((effect.abs() >= info).then_some(Severity::Info))
}

/// Shares below this count as this in PSI (empty bins stay finite).
pub const PSI_FLOOR: f64 = 1e-4;
/// Categories compared when a column's full value list is not kept.
const TOP_VALUES: usize = 50;
/// A source must stand out: its effect at least this many times the whole data's.
pub const SOURCE_FACTOR: f64 = 2.0;
const SOURCE_PARAMS: [Param; 1] = [Param {
    name: "factor",
    default: SOURCE_FACTOR,
    min: 1.0,
    max: 1000.0,
    doc: "a file's drift must be this many times the whole data's and the column's typical file's",
}];
/// Sources with fewer rows are not tested on their own.
pub const SOURCE_MIN_ROWS: u64 = 100;

/// A baseline value with at least this share of the rows gets its own PSI bin.
pub const POINT_MASS: f64 = 0.05;

fn shares(v: &[f64]) -> Vec<f64> {
    let t: f64 = v.iter().sum();
    v.iter()
        .map(|x| if t > 0.0 { x / t } else { 0.0 })
        .collect()
}

/// Largest absolute change of one share, and which.
fn linf(c: &[f64], b: &[f64]) -> (f64, usize) {
    c.iter()
        .zip(b)
        .enumerate()
        .map(|(i, (x, y))| ((x - y).abs(), i))
        .fold((0.0, 0), |a, x| if x.0 > a.0 { x } else { a })
}

/// Label shares of both sides over the union of labels: (names, current, baseline) counts.
fn label_table(
    c: &BTreeMap<String, u64>,
    b: &BTreeMap<String, u64>,
) -> (Vec<String>, Vec<f64>, Vec<f64>) {
    let keys: BTreeSet<&String> = c.keys().chain(b.keys()).collect();
    (
        keys.iter().map(|k| k.to_string()).collect(),
        keys.iter()
            .map(|k| c.get(*k).copied().unwrap_or(0) as f64)
            .collect(),
        keys.iter()
            .map(|k| b.get(*k).copied().unwrap_or(0) as f64)
            .collect(),
    )
}
