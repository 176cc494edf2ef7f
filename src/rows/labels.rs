//! Label-aware counts for the label and trigger checks (LBL001, TRG001, TRG002), gathered in the
//! row pass next to the outlier scores.
//!
//! - **Slices.** Every single-predicate slice the row pass knows (a category, a baseline decile
//!   bin, values past the baseline's range, nulls) is counted per label class over every current
//!   row, and over the baseline's sample.
//! - **Items and rules.** An item is one slice code of one feature, or one exact numeric value
//!   (a *value feature*: the values whose share rose against the baseline, the spike
//!   candidates). A rule is a set of 1–3 items. Candidate rules are mined from the current
//!   data's sample (label-stratified, so small classes are well represented): itemsets of rare
//!   items (≤ `RARE_SHARE` of the rows) that carry one label with high confidence. The row pass
//!   then counts every candidate exactly over all current rows, per class; the baseline side
//!   comes from its sample. Mining on the sample keeps memory bounded; a rule has to reach the
//!   sample to be tested (at 50,000 rows a class, a rule on 0.1% of the rows of 10M has about
//!   50 sample rows).
//!
//! The baseline's sample is stratified by label: within one class it is a simple random sample
//! of that class's rows, so per-class shares (of a slice, of a rule) are estimated without bias
//! and with the binomial uncertainty of the class's sample rows. The detectors build on that.

use std::collections::{BTreeMap, HashMap};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Int64Type};

use super::confident::{ConfidentModel, Probs, Verdict};
use super::encode::{ABOVE_CODE, BELOW_CODE, Encoder, Kind, UNSEEN_CODE, numbers_of};
use super::knn::{FLAG, KnnModel, Query};
use super::pass::RefCount;
use crate::profile::column::numeric_text;
use crate::profile::{ColumnProfile, MAX_CLASSES, Profile, SampleValue, label_text};
use rayon::prelude::*;

/// Slice codes counted per feature: the ordinary codes below this, and the four special codes.
pub const SLICE_CODES: usize = 200;
/// Counter slots per feature (see `slot_of`).
pub const SLOTS: usize = SLICE_CODES + 4;
/// A row's code for a value feature when it holds none of the feature's values.
pub const NO_VALUE: u32 = u32::MAX;
/// Class id of a label the model does not know.
pub const NO_CLASS: u16 = u16::MAX;

/// An item's current share (in the sample) at most this to enter a 2- or 3-item rule.
pub const RARE_SHARE: f64 = 0.05;
/// Rare items of one sample row combined (the rarest first).
const MAX_ITEMS_PER_ROW: usize = 8;
/// Candidate rules: at least this many sample rows ...
const MIN_SAMPLE_SUPPORT: u64 = 5;
/// ... one label on at least this share of them (weighted; the final test asks for 0.95 on
/// the exact counts) ...
const MIN_SAMPLE_CONFIDENCE: f64 = 0.8;
/// ... and at most this many candidates (most confident first).
const MAX_RULES: usize = 4096;
/// Spike candidates: at most this many values per numeric column ...
const MAX_SPIKE_VALUES: usize = 16;
/// ... each on at least this share of the current rows and `MIN_SPIKE_ROWS` rows ...
const MIN_SPIKE_SHARE: f64 = 0.001;
const MIN_SPIKE_ROWS: u64 = 10;
/// ... whose share grew at least this much (estimated from the profiles; tested exactly later).
const MIN_SPIKE_GROWTH: f64 = 1.5;
/// Examples kept per slice and class, and per rule.
pub const EXAMPLES: usize = 5;

/// The counter slot of a code: ordinary codes below `SLICE_CODES`, then null, unseen, below
/// and above; `None` for other codes.
#[inline]
pub fn slot_of(code: u32) -> Option<usize> {
    if (code as usize) < SLICE_CODES {
        Some(code as usize)
    } else if code >= ABOVE_CODE {
        Some(SLICE_CODES + (u32::MAX - code) as usize)
    } else {
        None
    }
}

/// The code of a counter slot (the inverse of `slot_of`).
pub fn code_of_slot(k: usize) -> u32 {
    if k < SLICE_CODES {
        k as u32
    } else {
        u32::MAX - (k - SLICE_CODES) as u32
    }
}

/// One item: slice code `code` of encoder feature `feature`, or, for `feature ≥ d`, value
/// `code` of value feature `feature − d`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Item {
    pub feature: u32,
    pub code: u32,
}

/// A rule's left-hand side: 1–3 items on distinct features, sorted.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Rule {
    pub items: Vec<Item>,
}

/// Exact numeric values of one column counted as items.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ValueFeature {
    pub column: String,
    /// The encoder feature of the same column.
    pub feature: usize,
    /// Sorted, distinct, finite.
    pub values: Vec<f64>,
}

/// Label values and their class ids.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(into = "Vec<String>", from = "Vec<String>")]
pub struct Classes {
    pub names: Vec<String>,
    index: HashMap<String, u16>,
    ints: HashMap<i64, u16>,
}

impl From<Classes> for Vec<String> {
    fn from(c: Classes) -> Vec<String> {
        c.names
    }
}

impl From<Vec<String>> for Classes {
    fn from(names: Vec<String>) -> Classes {
        Classes::new(names)
    }
}

impl Classes {
    fn new(names: Vec<String>) -> Classes {
        let index: HashMap<String, u16> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u16))
            .collect();
        let ints = names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                let v: i64 = n.parse().ok()?;
                (v.to_string() == *n).then_some((v, i as u16))
            })
            .collect();
        Classes { names, index, ints }
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn id(&self, label: &str) -> u16 {
        self.index.get(label).copied().unwrap_or(NO_CLASS)
    }

    /// The class id of every row of a label column (text as `profile::label_text` gives it).
    pub fn ids(&self, a: &dyn Array, out: &mut Vec<u16>) {
        out.clear();
        let n = a.len();
        let null = self.id(crate::profile::NULL_LABEL);
        match a.data_type() {
            DataType::Utf8 => {
                let s = a.as_string::<i32>();
                out.extend((0..n).map(|i| {
                    if s.is_null(i) {
                        null
                    } else {
                        self.id(s.value(i))
                    }
                }));
            }
            DataType::Int64 => {
                let v = a.as_primitive::<Int64Type>();
                out.extend((0..n).map(|i| {
                    if v.is_null(i) {
                        null
                    } else {
                        self.ints.get(&v.value(i)).copied().unwrap_or(NO_CLASS)
                    }
                }));
            }
            _ => out.extend((0..n).map(|i| self.id(&label_text(a, i)))),
        }
    }
}

/// Which parts of the label model the enabled checks need: the kNN model (LBL002), the
/// confident-learning model (LBL003), the candidate trigger rules (TRG001, TRG002). A part no
/// enabled check reads is not fitted, and marks no row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelParts {
    pub knn: bool,
    pub confident: bool,
    pub rules: bool,
}

impl LabelParts {
    pub const ALL: LabelParts = LabelParts {
        knn: true,
        confident: true,
        rules: true,
    };
}

/// What the label checks know before the pass: classes, the baseline sample's counts, the value
/// features and the candidate rules, the kNN model.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LabelModel {
    /// kNN label disagreement (LBL002), when there are enough labelled reference rows.
    pub knn: Option<KnnModel>,
    /// The reference sample's rows and kNN-flagged rows per slice and overall.
    pub reference_knn: RefFlags,
    /// Confident learning (LBL003), cross-fitted on the baseline's sample (the current data's
    /// without a baseline), when it has two classes with enough rows.
    pub confident: Option<ConfidentModel>,
    /// The reference sample's rows and label issues by confident learning (out of fold), per
    /// slice and overall.
    pub reference_confident: RefFlags,
    /// Per reference sample row (in `Sample::rows` order): its out-of-fold confident-learning
    /// verdict and whether kNN flags it (for slice finding).
    pub reference_verdicts: Vec<Option<Verdict>>,
    pub reference_knn_flags: Vec<bool>,
    pub label: String,
    pub classes: Classes,
    /// Encoder features (`d`).
    pub dim: usize,
    /// The baseline rows a baseline sample row of each class stands for (N_h / n_h).
    pub class_weights: Vec<f64>,
    /// Baseline rows per class (N_h) and baseline sample rows per class (n_h).
    pub reference_rows: Vec<f64>,
    pub reference_sample: Vec<u64>,
    /// Baseline sample rows per class of each slice: `(feature × SLOTS + slot) × classes +
    /// class` (see `reference_slice`).
    reference_slices: Vec<u64>,
    pub values: Vec<ValueFeature>,
    pub rules: Vec<Rule>,
    /// Baseline sample rows per class matching each rule.
    pub reference_rules: Vec<Vec<u64>>,
    /// Each rule's baseline analogue (see `analogue`) and its baseline sample rows per class.
    pub analogues: Vec<Analogue>,
    pub reference_analogues: Vec<Vec<u64>>,
    /// Per first-item feature: slot → rules starting there.
    matcher: Vec<(u32, Vec<Vec<u32>>)>,
    /// Per encoder feature, its column's index in the reference profile.
    columns: Vec<usize>,
}

/// A row's codes: encoder features, then value features.
struct RowCodes<'a> {
    codes: &'a [u32],
    d: usize,
    values: &'a [u32],
    v: usize,
}

impl RowCodes<'_> {
    #[inline]
    fn get(&self, i: usize, f: usize) -> u32 {
        if f < self.d {
            self.codes[i * self.d + f]
        } else {
            self.values[i * self.v + f - self.d]
        }
    }

    fn matches(&self, i: usize, rule: &Rule) -> bool {
        rule.items
            .iter()
            .all(|it| self.get(i, it.feature as usize) == it.code)
    }
}

/// Whether a code of a feature is an item: categories (the reference's and the current-only
/// ones), nulls, values past the reference's range, decile bins, a value feature's values; not
/// the missing indicators or the lumped unseen categories.
fn is_item(encoder: &Encoder, f: usize, code: u32) -> bool {
    if f >= encoder.dim() {
        return code != NO_VALUE;
    }
    match &encoder.features[f].kind {
        Kind::Missing => false,
        _ => code != UNSEEN_CODE && slot_of(code).is_some(),
    }
}

impl LabelModel {
    /// The model for `current` against `baseline` (both labelled with the same column), or
    /// against the current data itself without a baseline (then only the kNN label scores:
    /// no rules, no value spikes); `None` without a label on either side or with more classes
    /// than poisonscan checks.
    pub fn fit(
        baseline: Option<&Profile>,
        current: &Profile,
        encoder: &Encoder,
        seed: u64,
        parts: LabelParts,
        rec: &dyn crate::recorder::Recorder,
    ) -> Option<LabelModel> {
        let label = current.label.clone()?;
        let self_reference = baseline.is_none();
        let baseline = baseline.unwrap_or(current);
        if baseline.label.as_deref() != Some(label.as_str()) {
            return None;
        }
        let mut names: Vec<String> = baseline
            .label_counts
            .keys()
            .chain(current.label_counts.keys())
            .cloned()
            .collect();
        names.sort_unstable();
        names.dedup();
        if names.is_empty() || names.len() > MAX_CLASSES {
            return None;
        }
        let classes = Classes::new(names);
        let l = classes.len();
        let d = encoder.dim();
        let values = if self_reference {
            Vec::new()
        } else {
            spike_candidates(baseline, current, encoder)
        };

        // The baseline sample, encoded, with per-row classes.
        let reference_rows: Vec<f64> = classes
            .names
            .iter()
            .map(|c| baseline.label_counts.get(c).copied().unwrap_or(0) as f64)
            .collect();
        let mut reference_sample = vec![0u64; l];
        let (sample, current_sample) = rayon::join(
            || encode_sample(baseline, encoder, &values, &classes),
            || (!self_reference).then(|| encode_sample(current, encoder, &values, &classes)),
        );
        let ref_class = &sample.class;
        let ref_rows = RowCodes {
            codes: &sample.codes,
            d,
            values: &sample.values,
            v: values.len(),
        };
        let mut reference_slices = vec![0u64; d * SLOTS * l];
        for (i, &c) in ref_class.iter().enumerate() {
            if c == NO_CLASS {
                continue;
            }
            reference_sample[c as usize] += 1;
            for f in 0..d {
                let code = ref_rows.get(i, f);
                if is_item(encoder, f, code)
                    && let Some(k) = slot_of(code)
                {
                    reference_slices[(f * SLOTS + k) * l + c as usize] += 1;
                }
            }
        }

        let rules = match &current_sample {
            Some(cs) if parts.rules => mine_rules(current, cs, encoder, &values, &classes),
            _ => Vec::new(),
        };
        let tails = baseline_tails(baseline, encoder);
        let analogues: Vec<Analogue> = rules
            .iter()
            .map(|r| analogue(encoder, &values, &tails, r))
            .collect();
        let mut reference_rules = vec![vec![0u64; l]; rules.len()];
        let matcher = build_matcher(&rules);
        for (i, &c) in ref_class.iter().enumerate() {
            if c != NO_CLASS {
                for_each_match(&matcher, &rules, &ref_rows, i, |r| {
                    reference_rules[r][c as usize] += 1
                });
            }
        }
        // Analogues with a tail item are counted on the sample's raw values (few rules).
        let mut reference_analogues = reference_rules.clone();
        let raw: Vec<&[SampleValue]> = baseline.sample.rows().map(|(_, r)| &r.values[..]).collect();
        for (r, a) in analogues.iter().enumerate() {
            if !a.is_substituted() {
                continue;
            }
            let counts = &mut reference_analogues[r];
            counts.iter_mut().for_each(|k| *k = 0);
            for (i, &c) in ref_class.iter().enumerate() {
                if c == NO_CLASS {
                    continue;
                }
                let hit = a.items.iter().all(|it| match *it {
                    AnalogueItem::Same(it) => ref_rows.get(i, it.feature as usize) == it.code,
                    AnalogueItem::Tail {
                        column,
                        above,
                        threshold,
                    } => match raw[i].get(column) {
                        Some(SampleValue::Number(x)) => {
                            if above {
                                *x >= threshold
                            } else {
                                *x <= threshold
                            }
                        }
                        _ => false,
                    },
                });
                if hit {
                    counts[c as usize] += 1;
                }
            }
        }
        let class_weights: Vec<f64> = (0..l)
            .map(|h| reference_rows[h] / reference_sample[h].max(1) as f64)
            .collect();
        // Two models, fitted side by side on the trusted side's sample (the kNN scores of its
        // rows are collected in row order, so nothing depends on the threads).
        //
        // kNN label disagreement: the reference sample's own flagged rows, each row left out of
        // its own neighbours.
        //
        // Confident learning: one model, cross-fitted on the trusted side's sample. With a
        // baseline, the baseline's model scores both sides: its sample rows out of fold (the
        // baseline rate), every current row with the mean of its fold models, under the same
        // per-class thresholds. Two models fitted on each side's own sample would differ where
        // the sample is thin (a category seen on a few training rows learnt on one side and not
        // the other), and that difference, not the data, would move a slice's rate. A model
        // fitted on the current data would also learn a poisoned pattern as normal. Without a
        // baseline, the current data's own model (the rows file's verdicts, no rate to compare).
        let ((knn, knn_scores), fitted) = rayon::join(
            || {
                let knn = if parts.knn {
                    KnnModel::fit(
                        encoder,
                        &sample.x,
                        &sample.codes,
                        &sample.class,
                        &sample.provenance,
                        class_weights.clone(),
                        self_reference,
                    )
                } else {
                    None
                };
                // Diagnostic: the search's recall against the exact kNN in the projected
                // space, on 2,000 reference rows (reports/labels.md).
                if let Some(knn) = &knn
                    && rec.diagnostic("knn-recall")
                {
                    let n = sample.class.len();
                    let rows: Vec<usize> = (0..n).step_by((n / 2000).max(1)).collect();
                    rec.note(&format!(
                        "knn recall@{}: {:.4} on {} rows",
                        super::knn::K,
                        knn.recall_at_k(&sample.x, &sample.codes, d, &rows),
                        rows.len()
                    ));
                }
                let scores: Vec<Option<f64>> = match &knn {
                    Some(knn) => (0..ref_class.len())
                        .into_par_iter()
                        .with_min_len(2048)
                        .map_init(Query::default, |q, i| {
                            let (xi, ci) = (
                                &sample.x[i * d..(i + 1) * d],
                                &sample.codes[i * d..(i + 1) * d],
                            );
                            knn.score(xi, ci, ref_class[i], Some(sample.provenance[i]), q)
                        })
                        .collect(),
                    None => Vec::new(),
                };
                (knn, scores)
            },
            || {
                if !parts.confident {
                    return None;
                }
                ConfidentModel::fit(
                    encoder,
                    &sample.x,
                    &sample.codes,
                    &sample.class,
                    &sample.provenance,
                    l,
                    seed,
                    u64::from(!self_reference),
                    rec,
                )
            },
        );
        let mut reference_knn = RefFlags::new(d);
        let mut reference_knn_flags = vec![false; ref_class.len()];
        for (i, score) in knn_scores.iter().enumerate() {
            let Some(score) = *score else { continue };
            let ci = &sample.codes[i * d..(i + 1) * d];
            reference_knn.add(class_weights[ref_class[i] as usize], score >= FLAG, ci);
            reference_knn_flags[i] = score >= FLAG;
        }
        let (confident, reference_model) = if self_reference {
            (fitted, None)
        } else {
            (fitted.clone().map(ConfidentModel::for_other_rows), fitted)
        };
        // (Without a baseline there is no rate to compare: only the rows file's verdicts.)
        let mut reference_confident = RefFlags::new(d);
        if let Some(m) = &reference_model {
            for (i, v) in m.sample_verdicts.iter().enumerate() {
                if let Some(v) = v {
                    let c = ref_class[i] as usize;
                    reference_confident.add(
                        class_weights[c],
                        v.issue,
                        &sample.codes[i * d..(i + 1) * d],
                    );
                }
            }
        }
        let reference_verdicts = reference_model
            .as_ref()
            .or(confident.as_ref())
            .map(|m| m.sample_verdicts.clone())
            .unwrap_or_default();
        Some(LabelModel {
            class_weights,
            knn,
            reference_knn,
            confident,
            reference_confident,
            reference_verdicts,
            reference_knn_flags,
            label,
            classes,
            dim: d,
            reference_rows,
            reference_sample,
            reference_slices,
            values,
            rules,
            reference_rules,
            analogues,
            reference_analogues,
            matcher,
            columns: encoder.features.iter().map(|f| f.reference_index).collect(),
        })
    }

    /// The item's feature name and predicate text parts: (column, value text) for value items.
    pub fn value_of(&self, item: Item) -> Option<(&str, f64)> {
        let v = (item.feature as usize).checked_sub(self.dim)?;
        let vf = self.values.get(v)?;
        Some((&vf.column, *vf.values.get(item.code as usize)?))
    }

    /// Baseline sample rows per class of slice (feature, slot).
    pub fn reference_slice(&self, feature: usize, slot: usize) -> &[u64] {
        let l = self.classes.len();
        let at = (feature * SLOTS + slot) * l;
        &self.reference_slices[at..at + l]
    }

    /// The column (its index in the reference profile) an item feature reads.
    pub fn column_index(&self, feature: u32) -> usize {
        let f = feature as usize;
        if f < self.dim {
            self.columns[f]
        } else {
            self.columns[self.values[f - self.dim].feature]
        }
    }

    /// Value codes of a batch, row-major (`rows × values.len()`).
    fn value_codes(&self, batch: &RecordBatch, out: &mut Vec<u32>) {
        let n = batch.num_rows();
        let v = self.values.len();
        out.clear();
        out.resize(n * v, NO_VALUE);
        for (k, vf) in self.values.iter().enumerate() {
            let Some(a) = batch.column_by_name(&vf.column) else {
                continue;
            };
            let Some(numbers) = numbers_of(a.as_ref()) else {
                continue;
            };
            let nulls = a.logical_nulls();
            for i in 0..n {
                if nulls.as_ref().is_some_and(|b| b.is_null(i)) {
                    continue;
                }
                if let Ok(pos) = vf.values.binary_search_by(|p| p.total_cmp(&numbers.get(i))) {
                    out[i * v + k] = pos as u32;
                }
            }
        }
    }

    /// Empty counts for one shard.
    pub fn counts(&self) -> LabelCounts {
        let l = self.classes.len();
        LabelCounts {
            knn: FlagGroups::new(self.dim),
            confident: FlagGroups::new(self.dim),
            classes: l,
            all: vec![0; l],
            sources: BTreeMap::new(),
            slices: vec![0; self.dim * SLOTS * l],
            slice_examples: vec![Vec::new(); self.dim * SLOTS * l],
            rules: vec![0; self.rules.len() * l],
            rule_examples: vec![Vec::new(); self.rules.len()],
        }
    }

    /// Count one batch: `x` and `codes` are the encoder's values and slice codes of its rows
    /// (row-major). The rows' label issue scores are left in `scratch.scores`.
    #[allow(clippy::too_many_arguments)]
    pub fn count_batch(
        &self,
        batch: &RecordBatch,
        x: &[f64],
        codes: &[u32],
        source: u32,
        first_row: u64,
        scratch: &mut LabelScratch,
        counts: &mut LabelCounts,
    ) {
        let n = batch.num_rows();
        let l = self.classes.len();
        let d = self.dim;
        match batch.column_by_name(&self.label) {
            Some(a) => self.classes.ids(a.as_ref(), &mut scratch.classes),
            None => {
                scratch.classes.clear();
                scratch.classes.resize(n, NO_CLASS);
            }
        }
        self.value_codes(batch, &mut scratch.values);
        let rows = RowCodes {
            codes,
            d,
            values: &scratch.values,
            v: self.values.len(),
        };
        let by_source = counts.sources.entry(source).or_insert_with(|| vec![0; l]);
        for &c in &scratch.classes {
            if c != NO_CLASS {
                by_source[c as usize] += 1;
            }
        }
        for (i, &c) in scratch.classes.iter().enumerate() {
            if c == NO_CLASS {
                continue;
            }
            let c = c as usize;
            counts.all[c] += 1;
            let row = (source, first_row + i as u64);
            let row_codes = &codes[i * d..(i + 1) * d];
            for (f, &code) in row_codes.iter().enumerate() {
                if let Some(k) = slot_of(code) {
                    let at = (f * SLOTS + k) * l + c;
                    counts.slices[at] += 1;
                    // The shard's first rows of each slice and class (the count says when).
                    if counts.slices[at] <= EXAMPLES as u64 {
                        counts.slice_examples[at].push(row);
                    }
                }
            }
            for_each_match(&self.matcher, &self.rules, &rows, i, |r| {
                counts.rules[r * l + c] += 1;
                if counts.rule_examples[r].len() < EXAMPLES {
                    counts.rule_examples[r].push(row);
                }
            });
        }
        // kNN label disagreement and confident learning.
        match &self.knn {
            Some(knn) => knn.score_batch(
                &BatchRows {
                    x,
                    codes,
                    d,
                    class: &scratch.classes,
                    source,
                    first_row,
                },
                &mut scratch.query,
                &mut scratch.scores,
            ),
            None => {
                scratch.scores.clear();
                scratch.scores.resize(n, None);
            }
        }
        match &self.confident {
            Some(m) => m.verdict_batch(
                &BatchRows {
                    x,
                    codes,
                    d,
                    class: &scratch.classes,
                    source,
                    first_row,
                },
                &mut scratch.probs,
                &mut scratch.verdicts,
            ),
            None => {
                scratch.verdicts.clear();
                scratch.verdicts.resize(n, None);
            }
        }
        let mut knn_source = FlagCount::default();
        let mut confident_source = FlagCount::default();
        for i in 0..n {
            let row = (source, first_row + i as u64);
            let ci = &codes[i * d..(i + 1) * d];
            if let Some(score) = scratch.scores[i] {
                counts.knn.add(&mut knn_source, score >= FLAG, row, ci);
            }
            if let Some(v) = scratch.verdicts[i] {
                counts
                    .confident
                    .add(&mut confident_source, v.issue, row, ci);
            }
        }
        counts.knn.add_source(source, knn_source);
        counts.confident.add_source(source, confident_source);
    }
}

/// A batch's encoded rows with their classes and provenance `(source, first_row + i)`.
pub struct BatchRows<'a> {
    pub x: &'a [f64],
    pub codes: &'a [u32],
    pub d: usize,
    pub class: &'a [u16],
    pub source: u32,
    pub first_row: u64,
}

impl BatchRows<'_> {
    /// Row `i`'s encoding and slice codes.
    #[inline]
    pub fn row(&self, i: usize) -> (&[f64], &[u32]) {
        let d = self.d;
        (&self.x[i * d..(i + 1) * d], &self.codes[i * d..(i + 1) * d])
    }

    #[inline]
    pub fn provenance(&self, i: usize) -> (u32, u64) {
        (self.source, self.first_row + i as u64)
    }
}

/// Per-batch buffers.
#[derive(Default)]
pub struct LabelScratch {
    classes: Vec<u16>,
    values: Vec<u32>,
    query: Query,
    probs: Probs,
    /// The batch's label issue scores (`None`: no score for the row).
    pub scores: Vec<Option<f64>>,
    /// The batch's confident-learning verdicts.
    pub verdicts: Vec<Option<Verdict>>,
}

impl LabelScratch {
    /// Whether row `i` of the batch is flagged by kNN label disagreement.
    pub fn flagged(&self, i: usize) -> bool {
        self.scores
            .get(i)
            .copied()
            .flatten()
            .is_some_and(|s| s >= FLAG)
    }

    /// Whether row `i` of the batch is a label issue by confident learning.
    pub fn issue(&self, i: usize) -> bool {
        self.verdicts
            .get(i)
            .copied()
            .flatten()
            .is_some_and(|v| v.issue)
    }
}

/// Rows and kNN-flagged rows of a group, with the first flagged rows.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FlagCount {
    pub rows: u64,
    pub flagged: u64,
    pub examples: Vec<(u32, u64)>,
}

impl FlagCount {
    fn add(&mut self, flagged: bool, row: (u32, u64)) {
        self.rows += 1;
        if flagged {
            self.flagged += 1;
            if self.examples.len() < EXAMPLES {
                self.examples.push(row);
            }
        }
    }

    fn merge(&mut self, o: FlagCount) {
        self.rows += o.rows;
        self.flagged += o.flagged;
        for e in o.examples {
            if self.examples.len() < EXAMPLES {
                self.examples.push(e);
            }
        }
    }
}

/// Rows and flagged rows of the current data per slice (`feature × SLOTS + slot`), overall and
/// per source.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FlagGroups {
    pub slices: Vec<FlagCount>,
    pub all: FlagCount,
    pub sources: BTreeMap<u32, FlagCount>,
}

impl FlagGroups {
    fn new(d: usize) -> FlagGroups {
        FlagGroups {
            slices: vec![FlagCount::default(); d * SLOTS],
            all: FlagCount::default(),
            sources: BTreeMap::new(),
        }
    }

    /// Count a row with slice codes `codes`; its source's count goes to `source` (a batch's
    /// rows share one, added with `add_source`).
    fn add(&mut self, source: &mut FlagCount, flagged: bool, row: (u32, u64), codes: &[u32]) {
        self.all.add(flagged, row);
        source.add(flagged, row);
        for (f, &code) in codes.iter().enumerate() {
            if let Some(k) = slot_of(code) {
                self.slices[f * SLOTS + k].add(flagged, row);
            }
        }
    }

    fn add_source(&mut self, source: u32, count: FlagCount) {
        if count.rows > 0 {
            self.sources.entry(source).or_default().merge(count);
        }
    }

    fn merge(&mut self, o: FlagGroups) {
        for (a, b) in self.slices.iter_mut().zip(o.slices) {
            a.merge(b);
        }
        self.all.merge(o.all);
        for (s, f) in o.sources {
            self.sources.entry(s).or_default().merge(f);
        }
    }
}

/// The reference sample's rows (weighted to the baseline rows they stand for) and flagged rows
/// per slice (`feature × SLOTS + slot`) and overall.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RefFlags {
    pub slices: Vec<RefCount>,
    pub all: RefCount,
}

impl RefFlags {
    fn new(d: usize) -> RefFlags {
        RefFlags {
            slices: vec![RefCount::default(); d * SLOTS],
            all: RefCount::default(),
        }
    }

    fn add(&mut self, w: f64, flagged: bool, codes: &[u32]) {
        self.all.add(w, flagged);
        for (f, &code) in codes.iter().enumerate() {
            if let Some(k) = slot_of(code) {
                self.slices[f * SLOTS + k].add(w, flagged);
            }
        }
    }
}

/// Current rows per class: overall, per source, per slice, per rule (with example rows).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LabelCounts {
    /// kNN-flagged rows (LBL002) and label issues by confident learning (LBL003).
    pub knn: FlagGroups,
    pub confident: FlagGroups,
    pub classes: usize,
    pub all: Vec<u64>,
    pub sources: BTreeMap<u32, Vec<u64>>,
    /// `(feature × SLOTS + slot) × classes + class`.
    pub slices: Vec<u64>,
    pub slice_examples: Vec<Vec<(u32, u64)>>,
    /// `rule × classes + class`.
    pub rules: Vec<u64>,
    pub rule_examples: Vec<Vec<(u32, u64)>>,
}

impl LabelCounts {
    /// Merge a later shard's counts (plan order keeps the first examples).
    pub fn merge(&mut self, o: LabelCounts) {
        self.knn.merge(o.knn);
        self.confident.merge(o.confident);
        add(&mut self.all, &o.all);
        for (s, v) in o.sources {
            add(
                self.sources
                    .entry(s)
                    .or_insert_with(|| vec![0; self.classes]),
                &v,
            );
        }
        add(&mut self.slices, &o.slices);
        add(&mut self.rules, &o.rules);
        for (a, b) in self
            .slice_examples
            .iter_mut()
            .chain(self.rule_examples.iter_mut())
            .zip(o.slice_examples.into_iter().chain(o.rule_examples))
        {
            for e in b {
                if a.len() < EXAMPLES {
                    a.push(e);
                }
            }
        }
    }

    /// Current rows per class of slice (feature, slot).
    pub fn slice(&self, feature: usize, slot: usize) -> &[u64] {
        let at = (feature * SLOTS + slot) * self.classes;
        &self.slices[at..at + self.classes]
    }

    pub fn slice_examples(&self, feature: usize, slot: usize, class: usize) -> &[(u32, u64)] {
        &self.slice_examples[(feature * SLOTS + slot) * self.classes + class]
    }

    /// Current rows per class matching rule `r`.
    pub fn rule(&self, r: usize) -> &[u64] {
        &self.rules[r * self.classes..(r + 1) * self.classes]
    }
}

fn add(a: &mut [u64], b: &[u64]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

fn build_matcher(rules: &[Rule]) -> Vec<(u32, Vec<Vec<u32>>)> {
    let mut by_feature: BTreeMap<u32, Vec<Vec<u32>>> = BTreeMap::new();
    for (r, rule) in rules.iter().enumerate() {
        let first = rule.items[0];
        let Some(k) = slot_of(first.code) else {
            continue;
        };
        by_feature
            .entry(first.feature)
            .or_insert_with(|| vec![Vec::new(); SLOTS])[k]
            .push(r as u32);
    }
    by_feature.into_iter().collect()
}

#[inline]
fn for_each_match(
    matcher: &[(u32, Vec<Vec<u32>>)],
    rules: &[Rule],
    rows: &RowCodes<'_>,
    i: usize,
    mut hit: impl FnMut(usize),
) {
    for (f, by_slot) in matcher {
        let code = rows.get(i, *f as usize);
        let Some(k) = slot_of(code) else { continue };
        for &r in &by_slot[k] {
            let rule = &rules[r as usize];
            // The first item matched through its slot; a slot is one code.
            if rule.items[0].code == code && rows.matches(i, rule) {
                hit(r as usize);
            }
        }
    }
}

/// A profile's sample encoded: slice codes, value codes and the class of each row (strata in
/// label order).
fn encode_sample(
    p: &Profile,
    encoder: &Encoder,
    values: &[ValueFeature],
    classes: &Classes,
) -> EncodedSample {
    let columns: Vec<Option<usize>> = encoder
        .features
        .iter()
        .map(|f| p.columns.iter().position(|c| c.name == f.column))
        .collect();
    let rows: Vec<&[SampleValue]> = p.sample.rows().map(|(_, r)| &r.values[..]).collect();
    let class: Vec<u16> = p.sample.rows().map(|(l, _)| classes.id(l)).collect();
    let mut x = Vec::new();
    let mut codes = Vec::new();
    encoder.encode_sample_columns(rows.iter().copied(), &columns, &mut x, &mut codes);
    let v = values.len();
    let mut vcodes = vec![NO_VALUE; rows.len() * v];
    for (k, vf) in values.iter().enumerate() {
        let Some(ci) = p.columns.iter().position(|c| c.name == vf.column) else {
            continue;
        };
        for (i, r) in rows.iter().enumerate() {
            if let Some(SampleValue::Number(x)) = r.get(ci)
                && let Ok(pos) = vf.values.binary_search_by(|p| p.total_cmp(x))
            {
                vcodes[i * v + k] = pos as u32;
            }
        }
    }
    EncodedSample {
        x,
        codes,
        values: vcodes,
        class,
        provenance: p.sample.rows().map(|(_, r)| (r.source, r.row)).collect(),
    }
}

/// A profile's sample, encoded.
struct EncodedSample {
    x: Vec<f64>,
    codes: Vec<u32>,
    values: Vec<u32>,
    class: Vec<u16>,
    provenance: Vec<(u32, u64)>,
}

/// A column profile's rows per value (by `numeric_text`): exact for low-cardinality columns,
/// else the frequent items' upper bounds (a value not among them: 0).
fn value_rows(c: &ColumnProfile) -> HashMap<String, u64> {
    c.rows_per_value(true).into_iter().collect()
}

/// Numeric values whose share of the rows grew against the baseline (from the profiles'
/// frequent items), per numeric feature the largest growths first.
fn spike_candidates(baseline: &Profile, current: &Profile, encoder: &Encoder) -> Vec<ValueFeature> {
    let mut out = Vec::new();
    for (fi, f) in encoder.features.iter().enumerate() {
        if !matches!(f.kind, Kind::Numeric { .. }) {
            continue;
        }
        let (Some(cur), Some(base)) = (current.column(&f.column), baseline.column(&f.column))
        else {
            continue;
        };
        let (n_cur, n_base) = (cur.rows.max(1) as f64, base.rows.max(1) as f64);
        let min_rows = MIN_SPIKE_ROWS.max((MIN_SPIKE_SHARE * n_cur).ceil() as u64);
        let base_rows = value_rows(base);
        let mut grown: Vec<(f64, f64)> = cur
            .frequent_values(min_rows)
            .into_iter()
            .filter_map(|fv| {
                let x: f64 = fv.value.parse().ok()?;
                if !x.is_finite() {
                    return None;
                }
                let share = fv.lower as f64 / n_cur;
                let base_share =
                    base_rows.get(&numeric_text(x)).copied().unwrap_or(0) as f64 / n_base;
                let growth = share / base_share.max(0.5 / n_base);
                (growth >= MIN_SPIKE_GROWTH).then_some((growth, x))
            })
            .collect();
        if grown.is_empty() {
            continue;
        }
        grown.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.total_cmp(&b.1)));
        grown.truncate(MAX_SPIKE_VALUES);
        let mut values: Vec<f64> = grown.into_iter().map(|(_, x)| x).collect();
        values.sort_by(f64::total_cmp);
        values.dedup();
        out.push(ValueFeature {
            column: f.column.clone(),
            feature: fi,
            values,
        });
    }
    out
}

/// Share of the baseline at either end that stands for values past its range.
pub const TAIL_SHARE: f64 = 0.01;

/// An item of a rule's baseline analogue.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum AnalogueItem {
    /// The item itself.
    Same(Item),
    /// The baseline's most extreme values of a numeric column: at or above `threshold`
    /// (`above`), else at or below it. `column` indexes the baseline profile's columns.
    Tail {
        column: usize,
        above: bool,
        threshold: f64,
    },
}

/// A rule's analogue in the baseline: the same items, with a value past the baseline's range
/// (an out-of-range code, or an exact value outside `[min, max]`) replaced by the baseline's
/// own most extreme values on that side (its top or bottom `TAIL_SHARE`). A rule on values the
/// baseline never had is then compared with the nearest rows it did have: "age above the old
/// maximum → not employed" is no trigger when the oldest 1% were not employed in the baseline
/// either; "hours above the old maximum → high income" is one when the longest hours were
/// mixed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Analogue {
    pub items: Vec<AnalogueItem>,
}

impl Analogue {
    /// Whether the analogue differs from its rule (the rule has values past the range).
    pub fn is_substituted(&self) -> bool {
        self.items
            .iter()
            .any(|it| matches!(it, AnalogueItem::Tail { .. }))
    }
}

/// The analogue of `rule`; `tails[f]` is encoder feature `f`'s baseline column index and its
/// (bottom, top) `TAIL_SHARE` quantiles, for numeric features.
pub fn analogue(
    encoder: &Encoder,
    values: &[ValueFeature],
    tails: &[Option<(usize, f64, f64)>],
    rule: &Rule,
) -> Analogue {
    let d = encoder.dim();
    let tail = |f: usize, above: bool| -> Option<AnalogueItem> {
        let (column, lo, hi) = (*tails.get(f)?)?;
        Some(AnalogueItem::Tail {
            column,
            above,
            threshold: if above { hi } else { lo },
        })
    };
    let items = rule
        .items
        .iter()
        .map(|&it| {
            let f = it.feature as usize;
            let mapped = if f < d {
                match it.code {
                    ABOVE_CODE => tail(f, true),
                    BELOW_CODE => tail(f, false),
                    _ => None,
                }
            } else {
                values.get(f - d).and_then(|vf| {
                    let x = *vf.values.get(it.code as usize)?;
                    let Kind::Numeric { min, max, .. } = &encoder.features.get(vf.feature)?.kind
                    else {
                        return None;
                    };
                    if x > *max {
                        tail(vf.feature, true)
                    } else if x < *min {
                        tail(vf.feature, false)
                    } else {
                        None
                    }
                })
            };
            mapped.unwrap_or(AnalogueItem::Same(it))
        })
        .collect();
    Analogue { items }
}

/// Per encoder feature: for numeric ones, the baseline column's index and its bottom and top
/// `TAIL_SHARE` quantiles.
fn baseline_tails(baseline: &Profile, encoder: &Encoder) -> Vec<Option<(usize, f64, f64)>> {
    encoder
        .features
        .iter()
        .map(|f| {
            if !matches!(f.kind, Kind::Numeric { .. }) {
                return None;
            }
            let ci = baseline.columns.iter().position(|c| c.name == f.column)?;
            let q = baseline.columns[ci]
                .numeric
                .as_ref()?
                .quantiles
                .quantiles(&[TAIL_SHARE, 1.0 - TAIL_SHARE]);
            (q.len() == 2 && q.iter().all(|v| v.is_finite())).then(|| (ci, q[0], q[1]))
        })
        .collect()
}

/// Candidate rules from the current data's sample: every value item alone (for TRG002), and
/// itemsets of 1–3 rare items whose rows carry one label with high confidence.
fn mine_rules(
    current: &Profile,
    sample: &EncodedSample,
    encoder: &Encoder,
    values: &[ValueFeature],
    classes: &Classes,
) -> Vec<Rule> {
    let d = encoder.dim();
    let l = classes.len();
    let nf = d + values.len();
    let EncodedSample {
        codes,
        values: vcodes,
        class,
        ..
    } = sample;
    let rows = RowCodes {
        codes,
        d,
        values: vcodes,
        v: values.len(),
    };
    // Each sample row stands for its class's share of the current rows.
    let mut sample_per_class = vec![0u64; l];
    for &c in class {
        if c != NO_CLASS {
            sample_per_class[c as usize] += 1;
        }
    }
    let weight: Vec<f64> = classes
        .names
        .iter()
        .zip(&sample_per_class)
        .map(|(name, &n)| {
            current.label_counts.get(name).copied().unwrap_or(0) as f64 / n.max(1) as f64
        })
        .collect();
    let total: f64 = weight
        .iter()
        .zip(&sample_per_class)
        .map(|(w, &n)| w * n as f64)
        .sum();
    if total <= 0.0 {
        return Vec::new();
    }
    let prior: Vec<f64> = (0..l)
        .map(|c| weight[c] * sample_per_class[c] as f64 / total)
        .collect();
    // The column each item feature reads (encoder features, then value features).
    let column_of: Vec<usize> = encoder
        .features
        .iter()
        .map(|f| f.reference_index)
        .chain(
            values
                .iter()
                .map(|v| encoder.features[v.feature].reference_index),
        )
        .collect();
    // Item shares, by (feature, slot); NaN for codes that are no item.
    let item_of = |f: usize, code: u32| {
        if is_item(encoder, f, code) {
            slot_of(code).map(|k| f * SLOTS + k)
        } else {
            None
        }
    };
    let mut share = vec![0.0f64; nf * SLOTS];
    for (i, &c) in class.iter().enumerate() {
        if c == NO_CLASS {
            continue;
        }
        for f in 0..nf {
            if let Some(at) = item_of(f, rows.get(i, f)) {
                share[at] += weight[c as usize] / total;
            }
        }
    }
    // Itemsets of each row's rare items (keys: up to 3 items packed, padded with u64::MAX).
    let pack = |it: &Item| ((it.feature as u64) << 32) | it.code as u64;
    let mut sets: HashMap<[u64; 3], (u64, Vec<f64>), xxhash_rust::xxh3::Xxh3DefaultBuilder> =
        HashMap::default();
    let mut items: Vec<(f64, Item)> = Vec::new();
    for (i, &c) in class.iter().enumerate() {
        if c == NO_CLASS {
            continue;
        }
        items.clear();
        for f in 0..nf {
            let code = rows.get(i, f);
            if let Some(at) = item_of(f, code)
                && (share[at] <= RARE_SHARE || f >= d)
            {
                let it = Item {
                    feature: f as u32,
                    code,
                };
                items.push((share[at], it));
            }
        }
        items.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        items.truncate(MAX_ITEMS_PER_ROW);
        let mut its: Vec<Item> = items.iter().map(|e| e.1).collect();
        its.sort_unstable();
        let w = weight[c as usize];
        let mut bump = |set: &[Item]| {
            let mut key = [u64::MAX; 3];
            for (k, it) in key.iter_mut().zip(set) {
                *k = pack(it);
            }
            let e = sets.entry(key).or_insert_with(|| (0, vec![0.0; l]));
            e.0 += 1;
            e.1[c as usize] += w;
        };
        // Items on one column never combine (a value and its out-of-range flag are one fact).
        let k = its.len();
        let col = |it: &Item| column_of[it.feature as usize];
        for a in 0..k {
            bump(&[its[a]]);
            for b in a + 1..k {
                if col(&its[a]) == col(&its[b]) {
                    continue;
                }
                bump(&[its[a], its[b]]);
                for cc in b + 1..k {
                    if col(&its[cc]) == col(&its[a]) || col(&its[cc]) == col(&its[b]) {
                        continue;
                    }
                    bump(&[its[a], its[b], its[cc]]);
                }
            }
        }
    }
    let mut candidates: Vec<(f64, u64, Rule)> = Vec::new();
    for (key, (count, by_class)) in sets {
        let set: Vec<Item> = key
            .iter()
            .filter(|&&k| k != u64::MAX)
            .map(|&k| Item {
                feature: (k >> 32) as u32,
                code: k as u32,
            })
            .collect();
        let value_only = set.len() == 1 && set[0].feature as usize >= d;
        let sum: f64 = by_class.iter().sum();
        let (top, &w) = by_class
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
            .expect("at least one class");
        let confidence = if sum > 0.0 { w / sum } else { 0.0 };
        let lift = confidence / prior[top].max(f64::MIN_POSITIVE);
        let candidate =
            count >= MIN_SAMPLE_SUPPORT && confidence >= MIN_SAMPLE_CONFIDENCE && lift > 1.0;
        if value_only || candidate {
            candidates.push((
                if value_only { 2.0 } else { confidence },
                count,
                Rule { items: set },
            ));
        }
    }
    candidates.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then(b.1.cmp(&a.1))
            .then_with(|| a.2.cmp(&b.2))
    });
    candidates.truncate(MAX_RULES);
    let mut rules: Vec<Rule> = candidates.into_iter().map(|c| c.2).collect();
    rules.sort_unstable();
    rules
}

/// An item in words: a slice of the row model, or one exact value.
pub fn describe(
    model: &LabelModel,
    row_model: &super::pass::RowModel,
    item: Item,
) -> Option<super::pass::SliceDesc> {
    if let Some((column, value)) = model.value_of(item) {
        return Some(super::pass::SliceDesc::Value {
            column: column.to_string(),
            value,
        });
    }
    row_model.slice_of(item.feature, item.code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::encode::{Feature, NULL_CODE};

    #[test]
    fn slots_and_codes_round_trip() {
        for code in [
            0,
            1,
            SLICE_CODES as u32 - 1,
            NULL_CODE,
            UNSEEN_CODE,
            BELOW_CODE,
            ABOVE_CODE,
        ] {
            let k = slot_of(code).unwrap();
            assert!(k < SLOTS);
            assert_eq!(code_of_slot(k), code);
        }
        assert_eq!(slot_of(SLICE_CODES as u32), None);
        assert_eq!(slot_of(ABOVE_CODE - 1), None);
    }

    fn encoder() -> Encoder {
        Encoder {
            features: vec![
                Feature {
                    name: "x".into(),
                    column: "x".into(),
                    reference_index: 0,
                    kind: Kind::Numeric {
                        median: 2.0,
                        scale: 1.0,
                        edges: vec![1.0, 2.0, 3.0],
                        min: 0.0,
                        max: 4.0,
                    },
                },
                Feature {
                    name: "c".into(),
                    column: "c".into(),
                    reference_index: 1,
                    kind: Kind::Missing,
                },
            ],
        }
    }

    /// Out-of-range items (codes and exact values) become the baseline's extreme tail on their
    /// side; everything else stays.
    #[test]
    fn analogue_replaces_out_of_range_items_by_the_baseline_tail() {
        let e = encoder();
        let values = vec![ValueFeature {
            column: "x".into(),
            feature: 0,
            values: vec![-1.0, 2.5, 9.0],
        }];
        let tails = vec![Some((0, 0.1, 3.9)), None];
        let it = |feature, code| Item { feature, code };
        let rule = |items: Vec<Item>| Rule { items };
        let top = AnalogueItem::Tail {
            column: 0,
            above: true,
            threshold: 3.9,
        };
        let bottom = AnalogueItem::Tail {
            column: 0,
            above: false,
            threshold: 0.1,
        };
        let of = |r: Rule| analogue(&e, &values, &tails, &r).items;
        assert_eq!(of(rule(vec![it(0, ABOVE_CODE)])), vec![top.clone()]);
        assert_eq!(of(rule(vec![it(0, BELOW_CODE)])), vec![bottom.clone()]);
        // Value features come after the encoder's two: 9.0 is code 2 of feature 2.
        assert_eq!(of(rule(vec![it(2, 2)])), vec![top]);
        assert_eq!(of(rule(vec![it(2, 0)])), vec![bottom]);
        let inside = analogue(&e, &values, &tails, &rule(vec![it(0, 1), it(2, 1)]));
        assert!(!inside.is_substituted());
        assert_eq!(
            inside.items,
            vec![AnalogueItem::Same(it(0, 1)), AnalogueItem::Same(it(2, 1))]
        );
    }

    #[test]
    fn class_ids_of_typed_label_columns() {
        use arrow::array::{Int64Array, StringArray};
        let c = Classes::new(vec![
            "0".into(),
            "1".into(),
            crate::profile::NULL_LABEL.into(),
        ]);
        let mut out = Vec::new();
        c.ids(
            &Int64Array::from(vec![Some(1), None, Some(0), Some(7)]),
            &mut out,
        );
        assert_eq!(out, vec![1, 2, 0, NO_CLASS]);
        c.ids(
            &StringArray::from(vec![Some("0"), Some("x"), None]),
            &mut out,
        );
        assert_eq!(out, vec![0, NO_CLASS, 2]);
    }
}
