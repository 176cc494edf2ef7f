//! What the pass counts: outliers per group (the whole data, each source, each
//! single-predicate slice) for OUT001, the score histograms, and `RowCounts`, which gathers them
//! with the label checks' counts and merges exactly in plan order.

use std::collections::BTreeMap;

use super::joint::{JOINT_BINS, JointModel};
use crate::rows::labels::{LabelCounts, LabelModel};

/// Flagged rows kept as examples per group.
const EXAMPLES: usize = 5;

/// A group of rows OUT001 tests.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum GroupKey {
    All,
    /// Index into the current dataset's sources (and the current profile's manifest).
    Source(u32),
    /// Rows whose slice code for `feature` (an index into the encoder's features) is `code`.
    Slice {
        feature: u32,
        code: u32,
    },
}

/// Counts of one group in the current data.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GroupCount {
    pub rows: u64,
    pub flagged: u64,
    /// Per feature, the sum of the ECOD terms of the flagged rows (which features made them
    /// extreme), in fixed point (`TERM_SCALE`): integer sums are exact, so they do not depend
    /// on how the rows were split into parts. [`GroupCount::term_sums`] reads them.
    pub terms: Vec<i128>,
    /// Per feature, whether a flagged row's term was infinite (1) or NaN (2): the sum is then
    /// that, as a float sum would be.
    pub non_finite: Vec<u8>,
    /// The first flagged rows (source index, row in source), in plan order.
    pub examples: Vec<(u32, u64)>,
    /// OUT002 (the whole data and each file only): the rows' joint ranks binned
    /// (`JOINT_BINS`), their sum in fixed point (`TERM_SCALE`), the rows above `TERM_RANK`
    /// and per feature the sum of their shares of D² in fixed point. Empty without the joint
    /// model.
    #[serde(default)]
    pub joint: Vec<u64>,
    #[serde(default)]
    pub joint_sum: i128,
    #[serde(default)]
    pub joint_above: u64,
    #[serde(default)]
    pub joint_terms: Vec<i128>,
}

/// Units of a term in `GroupCount::terms` (2⁻⁴⁰: far below any difference a report shows).
const TERM_SCALE: f64 = (1u64 << 40) as f64;

impl GroupCount {
    /// Per feature, the sum of the flagged rows' ECOD terms.
    pub fn term_sums(&self) -> Vec<f64> {
        self.terms
            .iter()
            .enumerate()
            .map(|(j, &t)| match self.non_finite.get(j) {
                Some(1) => f64::INFINITY,
                Some(2) => f64::NAN,
                _ => t as f64 / TERM_SCALE,
            })
            .collect()
    }

    /// The sum of the rows' joint ranks.
    pub fn joint_rank_sum(&self) -> f64 {
        self.joint_sum as f64 / TERM_SCALE
    }

    /// Per feature, the sum of the shares of D² of the rows above `TERM_RANK`.
    pub fn joint_term_sums(&self) -> Vec<f64> {
        self.joint_terms
            .iter()
            .map(|&t| t as f64 / TERM_SCALE)
            .collect()
    }

    /// Count one row's joint rank, and its features' shares of D² when it is above
    /// `TERM_RANK`.
    pub(super) fn add_joint(&mut self, rank: f64, terms: Option<&[f64]>) {
        if self.joint.is_empty() {
            self.joint = vec![0; JOINT_BINS];
        }
        self.joint[JointModel::bin(rank)] += 1;
        self.joint_sum += fixed(rank);
        if let Some(terms) = terms {
            self.joint_above += 1;
            add_fixed(&mut self.joint_terms, terms.iter().map(|&t| fixed(t)));
        }
    }

    pub(super) fn add_flagged(&mut self, terms: &[f64], example: (u32, u64)) {
        self.flagged += 1;
        if self.terms.len() < terms.len() {
            self.terms.resize(terms.len(), 0);
            self.non_finite.resize(terms.len(), 0);
        }
        for (j, &t) in terms.iter().enumerate() {
            if t.is_finite() {
                // `as` saturates: a finite term is far below the range, a sum of them too.
                self.terms[j] = self.terms[j].saturating_add((t * TERM_SCALE).round() as i128);
            } else {
                // Terms are never negative: +∞ where a tail probability is 0, NaN otherwise.
                let flag = if t == f64::INFINITY { 1 } else { 2 };
                self.non_finite[j] = self.non_finite[j].max(flag);
            }
        }
        if self.examples.len() < EXAMPLES {
            self.examples.push(example);
        }
    }

    pub(super) fn merge(&mut self, o: GroupCount) {
        self.rows += o.rows;
        self.flagged += o.flagged;
        if self.terms.len() < o.terms.len() {
            self.terms.resize(o.terms.len(), 0);
            self.non_finite.resize(o.terms.len(), 0);
        }
        for (a, b) in self.terms.iter_mut().zip(&o.terms) {
            *a = a.saturating_add(*b);
        }
        for (a, b) in self.non_finite.iter_mut().zip(&o.non_finite) {
            *a = (*a).max(*b);
        }
        for e in o.examples {
            if self.examples.len() < EXAMPLES {
                self.examples.push(e);
            }
        }
        if self.joint.len() < o.joint.len() {
            self.joint.resize(o.joint.len(), 0);
        }
        for (a, b) in self.joint.iter_mut().zip(&o.joint) {
            *a += b;
        }
        self.joint_sum = self.joint_sum.saturating_add(o.joint_sum);
        self.joint_above += o.joint_above;
        add_fixed(&mut self.joint_terms, o.joint_terms.into_iter());
    }
}

/// A finite value in fixed point (`TERM_SCALE`); `as` saturates, far beyond any share of D².
fn fixed(v: f64) -> i128 {
    if v.is_finite() {
        (v * TERM_SCALE).round() as i128
    } else {
        0
    }
}

/// Add fixed-point values to sums, element by element (the sums grow to fit).
fn add_fixed(sums: &mut Vec<i128>, values: impl ExactSizeIterator<Item = i128>) {
    if sums.len() < values.len() {
        sums.resize(values.len(), 0);
    }
    for (a, b) in sums.iter_mut().zip(values) {
        *a = a.saturating_add(b);
    }
}

/// Bins of the score histograms (width 1/HIST_BINS over [0, 1]).
pub const HIST_BINS: usize = 20;

/// Rows per score bin: outlier scores, and label issue scores (rows without one left out).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScoreHistograms {
    pub outlier: Vec<u64>,
    pub label_issue: Vec<u64>,
}

impl ScoreHistograms {
    pub(super) fn new() -> ScoreHistograms {
        ScoreHistograms {
            outlier: vec![0; HIST_BINS],
            label_issue: vec![0; HIST_BINS],
        }
    }

    /// The bin of a score in [0, 1] (1 falls in the last bin).
    pub fn bin(score: f64) -> usize {
        ((score * HIST_BINS as f64) as usize).min(HIST_BINS - 1)
    }

    fn merge(&mut self, o: &ScoreHistograms) {
        for (a, b) in self.outlier.iter_mut().zip(&o.outlier) {
            *a += b;
        }
        for (a, b) in self.label_issue.iter_mut().zip(&o.label_issue) {
            *a += b;
        }
    }
}

/// CPU seconds of the row pass's parts, summed over threads.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct PartSeconds {
    pub encode: f64,
    pub forest: f64,
    pub ecod: f64,
}

impl PartSeconds {
    fn add(&mut self, o: &PartSeconds) {
        self.encode += o.encode;
        self.forest += o.forest;
        self.ecod += o.ecod;
    }
}

/// What the row-level checks need of the scored rows: per-group counts that merge exactly, in
/// plan order (DataFusion's accumulator pattern: each part is scored into its own `RowCounts`
/// and `merge` folds them), so that parts scored anywhere (threads, Spark tasks) add up to the
/// counts of the whole.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct RowCounts {
    pub rows: u64,
    pub groups: BTreeMap<GroupKey, GroupCount>,
    /// Rows in a duplicate group (when the rows file was written).
    pub duplicate_rows: u64,
    pub histograms: ScoreHistograms,
    /// The label checks' counts (with a label model).
    pub labels: Option<LabelCounts>,
    /// The identity of the row models that made the counts (`RowModels::id`), for counts made
    /// by `RowModels::score` to be shipped and merged: counts of other models are refused.
    /// `None` inside one scan, where one set of models makes every part's counts.
    pub models: Option<[u8; 32]>,
    /// CPU seconds of the label checks and of the pass's parts (for timings; not merged into
    /// results).
    #[serde(skip)]
    pub label_seconds: f64,
    #[serde(skip)]
    pub part_seconds: PartSeconds,
}

/// Equal counts (the timings left out).
impl PartialEq for RowCounts {
    fn eq(&self, o: &RowCounts) -> bool {
        (
            self.rows,
            &self.groups,
            self.duplicate_rows,
            &self.histograms,
            &self.labels,
            self.models,
        ) == (
            o.rows,
            &o.groups,
            o.duplicate_rows,
            &o.histograms,
            &o.labels,
            o.models,
        )
    }
}

impl RowCounts {
    pub(super) fn new(labels: Option<&LabelModel>) -> RowCounts {
        RowCounts {
            histograms: ScoreHistograms::new(),
            labels: labels.map(LabelModel::counts),
            ..RowCounts::default()
        }
    }

    /// Add the counts of the part after this one (parts merge in plan order: examples keep the
    /// first rows, sums add in one order).
    ///
    /// Counts of different row models (their `models` identities differ) are an error: their
    /// groups would add up to counts of no model.
    pub fn merge(&mut self, r: RowCounts) -> crate::error::Result<()> {
        let empty = |c: &RowCounts| c.rows == 0 && c.groups.is_empty() && c.labels.is_none();
        match (self.models, r.models) {
            (a, b) if a == b => {}
            // An empty accumulator (`RowCounts::default()`, a fold's zero) is the identity on
            // either side: it takes the other side's models, or adds nothing.
            (None, Some(_)) if empty(self) => self.models = r.models,
            (Some(_), None) if empty(&r) => return Ok(()),
            _ => {
                return Err(crate::error::Error::BadCounts {
                    reason: "counts made by different row models cannot be merged".into(),
                });
            }
        }
        self.merge_part(r);
        Ok(())
    }

    /// [`RowCounts::merge`] within one pass, where one set of models makes every part.
    pub(crate) fn merge_part(&mut self, r: RowCounts) {
        self.rows += r.rows;
        self.duplicate_rows += r.duplicate_rows;
        if self.histograms.outlier.is_empty() {
            self.histograms = ScoreHistograms::new();
        }
        self.histograms.merge(&r.histograms);
        for (k, g) in r.groups {
            self.groups.entry(k).or_default().merge(g);
        }
        match (self.labels.as_mut(), r.labels) {
            (Some(a), Some(b)) => a.merge(b),
            (None, Some(b)) => self.labels = Some(b),
            _ => {}
        }
        self.label_seconds += r.label_seconds;
        self.part_seconds.add(&r.part_seconds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Term sums do not depend on how rows are split into parts, and keep a float sum's
    /// infinities and NaNs.
    #[test]
    fn group_counts_merge_exactly_in_any_split() {
        let rows: Vec<[f64; 2]> = (0..1000)
            .map(|i| [0.1 * (i % 7) as f64 + 1e-9 * i as f64, (i as f64).sqrt()])
            .collect();
        let count = |rows: &[[f64; 2]]| {
            let mut g = GroupCount::default();
            for (i, r) in rows.iter().enumerate() {
                g.rows += 1;
                g.add_flagged(r, (0, i as u64));
            }
            g
        };
        let whole = count(&rows);
        for cut in [1, 333, 999] {
            let mut a = count(&rows[..cut]);
            let mut b = count(&rows[cut..]);
            b.examples.clear();
            a.merge(b);
            a.examples = whole.examples.clone();
            assert_eq!(a, whole, "cut at {cut}");
        }
        let sums = whole.term_sums();
        let float: f64 = rows.iter().map(|r| r[0]).sum();
        assert!((sums[0] - float).abs() < 1e-6, "{} {float}", sums[0]);
        let mut g = count(&rows[..10]);
        g.add_flagged(&[f64::INFINITY, f64::NAN], (0, 10));
        g.merge(count(&rows[10..20]));
        let s = g.term_sums();
        assert_eq!(s[0], f64::INFINITY);
        assert!(s[1].is_nan());
    }
}
