//! The row-level pass (pass 2): outlier scores for every current row.
//!
//! - [`iforest`]: Isolation Forest, fitted on the baseline's sample (or a sample of the current
//!   data without a baseline), scoring every row.
//! - [`confident`]: confident learning (LBL003) with cross-fitted logistic regression.
//! - [`ecod`]: ECOD from the baseline's per-feature distributions; it also says which features
//!   made a row extreme.
//! - [`encode`]: the feature encoding both share.
//! - [`knn`]: kNN label disagreement (LBL002) on a reduced encoding, with a k-d tree.
//! - [`labels`]: per-class counts of slices and candidate trigger rules for the label checks.
//! - [`models`]: the fitted models as one value that travels as bytes.
//! - [`pass`]: the model fitted on the reference sample, the pass over the current rows, the
//!   per-group outlier counts OUT001 tests, and the rows file.
//! - [`shared`]: what the files above share: slice-code slots, row-major rows, reference
//!   counts.
//!
//! Slice finding (SLC001), which reads the fitted models, is its own module, `crate::slice`.

pub mod confident;
pub mod ecod;
pub mod encode;
pub mod iforest;
pub mod knn;
pub mod labels;
pub mod models;
pub mod pass;
pub mod shared;

pub use models::{DuplicateGroups, RowModels};
pub use pass::RowCounts;
