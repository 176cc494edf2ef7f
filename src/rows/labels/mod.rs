//! Label-aware counts for the label and trigger checks (LBL001, TRG001, TRG002), gathered in the
//! row pass next to the outlier scores.
//!
//! - **Slices.** Every single-predicate slice the row pass knows (a category, a baseline decile
//!   bin, values past the baseline's range, nulls) is counted per label class over every current
//!   row, and over the baseline's sample.
//! - **Items and rules.** An item is one slice code of one feature, or one exact numeric value
//!   (a *value feature*: the values whose share rose against the baseline, the spike
//!   candidates; those whose share of one class's rows rose though their overall share did not,
//!   a clean-label trigger's common values; and those beside a grown one). A rule is a set of 1–3 items. Candidate rules are mined from the current
//!   data's sample (label-stratified, so small classes are well represented): itemsets of rare
//!   items (≤ `RARE_SHARE` of the rows), and pairs of a rare value item with a category of any
//!   share, that carry one label with high confidence. The row pass then counts every candidate
//!   exactly over all current rows, per class; the baseline side comes from its sample. Mining
//!   on the sample keeps memory bounded; a rule has to reach the sample to be tested (at 50,000
//!   rows a class, a rule on 0.1% of the rows of 10M has about 50 sample rows).
//!
//! The baseline's sample is stratified by label: within one class it is a simple random sample
//! of that class's rows, so per-class shares (of a slice, of a rule) are estimated without bias
//! and with the binomial uncertainty of the class's sample rows. The detectors build on that.
//!
//! - `items`: items, rules, value features, classes, and the matcher that finds a row's rules;
//! - `mine`: the value features and the candidate rules, mined from the current sample;
//! - `model`: the label model, fitted before the pass on the baseline's sample;
//! - `counts`: the per-batch counting in the pass, and the counts that merge in plan order;
//! - `analogue`: a rule's baseline analogue, and an item in words.

mod analogue;
mod counts;
mod items;
mod mine;
mod model;

pub use analogue::{Analogue, AnalogueItem, TAIL_SHARE, analogue, describe};
pub use counts::{EXAMPLES, FlagCount, FlagGroups, LabelCounts, LabelScratch, RefFlags};
pub use items::{Classes, Item, NO_VALUE, Rule, Target, ValueFeature};
pub use mine::{MIN_PAST_RANGE_SAMPLE_SUPPORT, RARE_SHARE, in_range};
pub use model::{LabelModel, LabelParts};
// The shared slot and row helpers, where the label checks have always read them.
pub use super::shared::{BatchRows, NO_CLASS, SLICE_CODES, SLOTS, code_of_slot, slot_of};
