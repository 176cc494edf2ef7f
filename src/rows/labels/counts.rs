//! The label checks' counts in the pass: per batch, the current rows per class of every slice
//! and rule and the rows kNN and confident learning flag (`LabelCounts`, merged in plan order);
//! the reference sample's flagged rows (`RefFlags`).

use std::collections::BTreeMap;

use arrow::array::{Array, RecordBatch};

use super::items::{NO_VALUE, RowCodes, for_each_match};
use super::model::LabelModel;
use crate::rows::confident::{Probs, Verdict};
use crate::rows::encode::numbers_of;
use crate::rows::knn::{FLAG, Query};
use crate::rows::shared::{BatchRows, NO_CLASS, RefCount, SLOTS, nth_row, slot_of};

/// Examples kept per slice and class, and per rule.
pub const EXAMPLES: usize = 5;

impl LabelModel {
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
            knn: FlagGroups::new(self.dim, 0),
            confident: FlagGroups::new(self.dim, self.classes.issue_groups()),
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
        scratch.targets.clear();
        if self.classes.is_numeric() {
            match batch
                .column_by_name(&self.label)
                .and_then(|a| numbers_of(a.as_ref()).map(|v| (a, v)))
            {
                Some((a, v)) => scratch
                    .targets
                    .extend((0..n).map(|i| if a.is_null(i) { f64::NAN } else { v.get(i) })),
                None => scratch.targets.resize(n, f64::NAN),
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
            let row_codes = nth_row(codes, d, i);
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
                    target: &scratch.targets,
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
                    target: &scratch.targets,
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
            let ci = nth_row(codes, d, i);
            let class =
                Some(scratch.classes[i] as usize).filter(|_| scratch.classes[i] != NO_CLASS);
            if let Some(score) = scratch.scores[i] {
                counts
                    .knn
                    .add(&mut knn_source, score >= FLAG, row, ci, class);
            }
            if let Some(v) = scratch.verdicts[i] {
                counts
                    .confident
                    .add(&mut confident_source, v.issue, row, ci, class);
            }
        }
        counts.knn.add_source(source, knn_source);
        counts.confident.add_source(source, confident_source);
    }
}

/// Per-batch buffers.
#[derive(Default)]
pub struct LabelScratch {
    classes: Vec<u16>,
    /// A numeric target's values (NaN for null); empty for classes.
    targets: Vec<f64>,
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

/// Rows and flagged rows of the current data per slice (`feature × SLOTS + slot`), overall, per
/// source and (confident learning's) per label class.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FlagGroups {
    pub slices: Vec<FlagCount>,
    pub all: FlagCount,
    pub sources: BTreeMap<u32, FlagCount>,
    /// Per class of the row's own label (empty when not counted: kNN, a numeric target).
    #[serde(default)]
    pub classes: Vec<FlagCount>,
}

impl FlagGroups {
    fn new(d: usize, classes: usize) -> FlagGroups {
        FlagGroups {
            slices: vec![FlagCount::default(); d * SLOTS],
            all: FlagCount::default(),
            sources: BTreeMap::new(),
            classes: vec![FlagCount::default(); classes],
        }
    }

    /// Count a row with slice codes `codes` and label class `class`; its source's count goes to
    /// `source` (a batch's rows share one, added with `add_source`).
    fn add(
        &mut self,
        source: &mut FlagCount,
        flagged: bool,
        row: (u32, u64),
        codes: &[u32],
        class: Option<usize>,
    ) {
        self.all.add(flagged, row);
        source.add(flagged, row);
        if let Some(g) = class.and_then(|c| self.classes.get_mut(c)) {
            g.add(flagged, row);
        }
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
        if self.classes.len() < o.classes.len() {
            self.classes.resize(o.classes.len(), FlagCount::default());
        }
        for (a, b) in self.classes.iter_mut().zip(o.classes) {
            a.merge(b);
        }
    }
}

/// The reference sample's rows (weighted to the baseline rows they stand for) and flagged rows
/// per slice (`feature × SLOTS + slot`), overall and (confident learning's) per label class.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RefFlags {
    pub slices: Vec<RefCount>,
    pub all: RefCount,
    /// Per label class (empty when not counted, and in profiles written before it).
    #[serde(default)]
    pub classes: Vec<RefCount>,
}

impl RefFlags {
    pub(super) fn new(d: usize, classes: usize) -> RefFlags {
        RefFlags {
            slices: vec![RefCount::default(); d * SLOTS],
            all: RefCount::default(),
            classes: vec![RefCount::default(); classes],
        }
    }

    pub(super) fn add(&mut self, w: f64, flagged: bool, codes: &[u32], class: usize) {
        self.all.add(w, flagged);
        if let Some(g) = self.classes.get_mut(class) {
            g.add(w, flagged);
        }
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
    /// Whether these counts have the shape of `empty` (the counts a label model starts from),
    /// every source below `sources`: counts made by that model for that data.
    pub fn fits(&self, empty: &LabelCounts, sources: usize) -> bool {
        let groups = |a: &FlagGroups, b: &FlagGroups| {
            a.slices.len() == b.slices.len() && a.sources.keys().all(|&s| (s as usize) < sources)
        };
        self.classes == empty.classes
            && self.all.len() == empty.all.len()
            && self.slices.len() == empty.slices.len()
            && self.slice_examples.len() == empty.slice_examples.len()
            && self.rules.len() == empty.rules.len()
            && self.rule_examples.len() == empty.rule_examples.len()
            && self
                .sources
                .iter()
                .all(|(&s, v)| (s as usize) < sources && v.len() == self.classes)
            && groups(&self.knn, &empty.knn)
            && groups(&self.confident, &empty.confident)
    }

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
