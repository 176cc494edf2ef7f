//! The row pass: a second read of the current data that scores every row, counts outliers per
//! group (the whole data, each source file, each single-predicate slice) for OUT001, and writes
//! the rows file.
//!
//! The model is fitted on the reference sample (the baseline's, or the current data's without
//! a baseline), each sample row weighted back to its label's share of the reference rows:
//!
//! - an Isolation Forest (100 trees, ψ = 256, weighted draws) and ECOD on the shared encoding;
//! - each detector's score is turned into its rank among the reference rows (the weighted share
//!   of reference rows scoring at most as high), and a row's `outlier_score` is the rank, among
//!   the reference rows, of the larger of its two ranks (`combine`). It reads "more outlying
//!   than this share of the baseline": it is in [0, 1], comparable across datasets and
//!   detectors, and uniform on the baseline by construction.
//! - A row is flagged when its `outlier_score` is above `1 − tail` (tail = 0.5%: the baseline's
//!   99.5th percentile). The reference sample's own flagged share, overall and in every slice,
//!   is the baseline rate OUT001 compares with.
//!
//! The reference rows are scored by a forest grown on them; with ψ = 256 of tens of thousands of
//! rows each row is in about one tree's subsample of the hundred, so the bias is negligible.
//!
//! - `model`: the fitted row model, its ranks and the reference sample's rates;
//! - `joint`: OUT002's model, a row's Mahalanobis distance from the reference's joint
//!   distribution and its rank;
//! - `counts`: the per-group outlier counts, the histograms, and `RowCounts`;
//! - `score`: scoring a part's batches, the parts folded in plan order (`run`, `run_batches`);
//! - `rows_file`: the rows file's batches, schema and writer.

use std::collections::BTreeMap;

mod counts;
mod joint;
mod model;
mod rows_file;
mod score;

pub use counts::{GroupCount, GroupKey, HIST_BINS, PartSeconds, RowCounts, ScoreHistograms};
pub use joint::{JOINT_BINS, JointModel, TERM_RANK};
pub use model::{RowModel, SliceDesc, TAIL};
pub use rows_file::{duplicate_groups, rows_schema};
pub use score::{PassOutput, PassSettings, RowsOut, run, run_batches};
// Where the detectors have always read it.
pub use super::shared::RefCount;

use crate::rows::labels::{LabelCounts, LabelModel};

/// What the row pass found.
#[derive(Debug, Clone)]
pub struct RowPass {
    pub model: RowModel,
    /// OUT002's joint model (when it is on).
    pub joint: Option<JointModel>,
    pub rows: u64,
    pub groups: BTreeMap<GroupKey, GroupCount>,
    /// Rows in a duplicate group (when the rows file was written).
    pub duplicate_rows: u64,
    /// The label checks' model and counts (with a labelled baseline).
    pub labels: Option<(LabelModel, LabelCounts)>,
    /// CPU seconds the label checks took in the pass, summed over threads (for timings).
    pub label_seconds: f64,
    /// CPU seconds of the encoding, the forest and ECOD, summed over threads (for timings).
    pub part_seconds: PartSeconds,
    /// Every current row's scores, binned.
    pub histograms: ScoreHistograms,
}
