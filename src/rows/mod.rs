//! The row-level pass (pass 2): outlier scores for every current row.
//!
//! - [`iforest`]: Isolation Forest, fitted on the baseline's sample (or a sample of the current
//!   data without a baseline), scoring every row.
//! - [`ecod`]: ECOD from the baseline's per-feature distributions; it also says which features
//!   made a row extreme.

pub mod ecod;
pub mod iforest;
