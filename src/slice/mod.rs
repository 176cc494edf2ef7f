//! Slice finding (SLC001): which conjunction of up to three predicates best explains what
//! changed. Runs on the two samples (the baseline's and the current data's, each row weighted
//! by the rows it stands for), split at random in a search half and a held-out half.
//!
//! Four error vectors carry the poisoning signal:
//! - `membership`: 1 for a current row, 0 for a baseline row, over both samples, with the label
//!   as an attribute: a slice over-represented in the current data (injected or drifted rows),
//!   or a label over-represented within a slice (flipped labels, triggers);
//! - `loss`: the 0-1 loss of the baseline's model (LBL003's logistic regression, cross-fitted on
//!   the baseline) on the current rows;
//! - `outlier`: the row is past OUT001's outlier threshold;
//! - `label-issue`: LBL002 (kNN) or LBL003 (confident learning) flags the row.
//!
//! SliceLine runs on the search half for each, once broad (α = 0.5) and once for small
//! concentrated slices (α = 0.99). Every slice found is then re-tested on the held-out half
//! against the baseline (a one-sided z-test on weighted shares with Kish's effective sample
//! size), Benjamini–Hochberg across all slices tested; the detector reports only survivors.
//!
//! - [`sliceline`]: the SliceLine algorithm (top-K slices by score, level-wise with pruning);
//! - [`data`]: the slice data built from both samples, with each row's signals;
//! - [`search`](mod@search): SliceLine's passes over each signal on the search half;
//! - [`retest`]: a candidate's held-out tallies, its rows and its description.
//!
//! It reads the row models (`rows`) and the profiles; the SLC001 detector (`detect::slices`)
//! turns what it finds into findings.

pub mod data;
pub mod retest;
pub mod search;
pub mod sliceline;

pub use data::{Key, SIGNALS, SliceData};
pub use retest::{Described, Tally, current_rows_of, describe, retest_tallies};
pub use search::{Candidate, SearchSettings, search};
