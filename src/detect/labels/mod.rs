//! LBL — the label checks, read from the row pass's per-class counts (`rows::labels`): LBL001,
//! the label mix moved within a slice or a source file (`shift`); LBL002 and LBL003, more rows
//! flagged as label issues than in the baseline (`rates`). Their thresholds are here.

mod rates;
mod shift;

use super::{Context, Param, named_tier_params, tier_params};
use crate::rows::labels::{LabelCounts, LabelModel};
use crate::rows::pass::RowPass;

pub use self::rates::{ConfidentLearning, LabelDisagreement};
pub use self::shift::LabelShift;

/// Cohen's h tiers (low, medium, high).
const H_TIERS: [Param; 3] = tier_params(
    0.2,
    0.35,
    0.5,
    3.2,
    "Cohen's h of a label's share change in a slice at this severity",
);
/// A slice needs this many current rows ...
const MIN_ROWS: u64 = 30;
/// LBL001's second set of tiers (low, medium, high): the rows whose label moved, the one-sided
/// 99% lower bound of the share's move (the smaller of its moves from the expected share and
/// from the baseline's) times the group's rows, as a share of all the current rows; the same
/// tiers as LBL002/LBL003's excess (`ROWS_SHARE_TIERS`), since both count rows that carry a
/// label they should not. Cohen's h grades how far a slice's mix moved and this how much of the
/// data it moved: 100 flipped labels in a slice of 764 rows (h 0.24) are 2% of the rows of a
/// 5,000-row set.
const MOVED_TIERS: [Param; 3] = named_tier_params(
    ["moved-low", "moved-medium", "moved-high"],
    ROWS_SHARE_TIERS[0],
    ROWS_SHARE_TIERS[1],
    ROWS_SHARE_TIERS[2],
    1.0,
    MOVED_DOC,
);
/// The shares of all the current rows (low, medium, high) at which rows that carry a label they
/// should not grade a finding: LBL001's rows moved, LBL002/LBL003's excess of flagged rows.
const ROWS_SHARE_TIERS: [f64; 3] = [0.0025, 0.005, 0.01];
const MOVED_DOC: &str = "lower 99% bound of the rows whose label moved in the group, a share of \
all the current rows, at this severity (a finding still needs Cohen's h at its low tier)";
const SHIFT_PARAMS: [Param; 7] = [
    H_TIERS[0],
    H_TIERS[1],
    H_TIERS[2],
    Param {
        name: "min-rows",
        default: MIN_ROWS as f64,
        min: 1.0,
        max: 1e12,
        doc: "smallest slice tested (current rows)",
    },
    MOVED_TIERS[0],
    MOVED_TIERS[1],
    MOVED_TIERS[2],
];
/// ... and this many baseline sample rows to be tested.
const MIN_REFERENCE_ROWS: u64 = 20;
/// Rows whose label moved (|p − e|·n) at least this for a finding.
const MIN_MOVED_ROWS: f64 = 10.0;
/// A column needs this many tested slices for its own typical shift (else the whole data's).
const MIN_SLICES_FOR_MEDIAN: usize = 3;
/// At most this many slice findings and source findings each (strongest first).
const MAX_FINDINGS: usize = 10;

/// The row pass and its label counts, when the scan has a baseline and the label checks ran.
pub(super) fn labelled<'a>(
    ctx: &Context<'a>,
) -> Option<(&'a RowPass, &'a LabelModel, &'a LabelCounts)> {
    ctx.baseline?;
    let rp = ctx.rows?;
    let (lm, counts) = rp.labels.as_ref()?;
    Some((rp, lm, counts))
}

/// Where a tested group is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Where {
    Slice { feature: usize, slot: usize },
    Source(u32),
}

/// Counts by label name, as a JSON object.
pub fn per_label(lm: &LabelModel, v: &[u64]) -> serde_json::Value {
    serde_json::Value::Object(
        lm.classes
            .names
            .iter()
            .zip(v)
            .map(|(name, &k)| (name.clone(), serde_json::json!(k)))
            .collect(),
    )
}
