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

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Array, ListBuilder, RecordBatch, StringArray, StringBuilder, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::ecod::Ecod;
use super::encode::{ABOVE_CODE, BELOW_CODE, Encoder, Kind, NULL_CODE, UNSEEN_CODE};
use super::iforest::{ForestSettings, IsolationForest, Rows};
use crate::error::{Error, Result};
use crate::ingest::{Batch, Dataset, Shard};
use crate::profile::{Profile, ProfileSettings};

/// Share of the baseline above the flagging threshold.
pub const TAIL: f64 = 0.005;
/// Flagged rows kept as examples per group.
const EXAMPLES: usize = 5;
use super::labels::{LabelCounts, LabelModel, LabelScratch, SLICE_CODES, SLOTS, code_of_slot};

/// A weighted empirical CDF, `F(x)` = weight of values `≤ x` / total weight, on ECOD's lookup
/// table: exact in the top and bottom 1% (where the flagging threshold lies), within 1/1024
/// in between.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct WeightedCdf(super::ecod::Ecdf);

impl WeightedCdf {
    fn new(values: &[f64], weights: &[f64]) -> WeightedCdf {
        WeightedCdf(super::ecod::Ecdf::new(
            values
                .iter()
                .copied()
                .zip(weights.iter().copied())
                .collect(),
        ))
    }

    fn at(&self, x: f64) -> f64 {
        self.0.cdf(x)
    }
}

/// Two detectors' ranks into one: the larger (a row is as outlying as the detector that finds
/// it most outlying). Compared with their mean on the demo data, ACS 2018 against 2015 and 20
/// pairs of random halves of Adult and ACS (reports/outliers.md): both raise nothing on the
/// halves; the larger finds the demo's injected rows at 99–100% with no other slice, the mean
/// at 8–100% with eight spurious category slices.
fn combine(a: f64, b: f64) -> f64 {
    a.max(b)
}

/// Per-batch buffers of the two detectors' scores, and the time they took.
#[derive(Default)]
struct Scratch {
    forest: Vec<f64>,
    ecod: Vec<f64>,
    seconds: PartSeconds,
}

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

    fn add_flagged(&mut self, terms: &[f64], example: (u32, u64)) {
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

    fn merge(&mut self, o: GroupCount) {
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
    }
}

/// The fitted row model.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RowModel {
    pub encoder: Encoder,
    forest: IsolationForest,
    ecod: Ecod,
    forest_rank: WeightedCdf,
    ecod_rank: WeightedCdf,
    combined_rank: WeightedCdf,
    /// Weighted share of the reference rows flagged, overall.
    pub reference_rate: f64,
    /// The reference sample's rows and flagged rows per slice group.
    pub reference_groups: BTreeMap<GroupKey, RefCount>,
    /// The same for the whole sample.
    pub reference_all: RefCount,
    /// Reference rows the sample stands for, and sample rows used.
    pub reference_rows: f64,
    pub sample_rows: usize,
}

/// Reference sample rows of a group: weighted (standing for the reference's rows) and as
/// sample rows (for the uncertainty of the rate).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RefCount {
    pub rows_weighted: f64,
    pub flagged_weighted: f64,
    pub rows: u64,
    pub flagged: u64,
}

impl RefCount {
    pub(crate) fn add(&mut self, w: f64, flagged: bool) {
        self.rows_weighted += w;
        self.rows += 1;
        if flagged {
            self.flagged_weighted += w;
            self.flagged += 1;
        }
    }

    /// The weighted flagged share (0 without rows).
    pub fn rate(&self) -> f64 {
        if self.rows_weighted > 0.0 {
            self.flagged_weighted / self.rows_weighted
        } else {
            0.0
        }
    }
}

/// One row's scores.
struct Scored {
    outlier_score: f64,
    flagged: bool,
}

impl RowModel {
    /// The widths the forest and ECOD were fitted on.
    pub(crate) fn dims(&self) -> (usize, usize) {
        (self.forest.dim, self.ecod.features.len())
    }

    /// Fit on `reference`'s sample; `None` when there is nothing to encode or no sample.
    pub fn fit(reference: &Profile, current: &Profile, seed: u64) -> Option<RowModel> {
        let encoder = Encoder::new(reference, current);
        let d = encoder.dim();
        if d == 0 || reference.sample.is_empty() {
            return None;
        }
        // Each stratum's rows stand for that label's rows of the reference.
        let weights = reference.sample_weights();
        let values: Vec<&[crate::profile::SampleValue]> = reference
            .sample
            .rows()
            .map(|(_, r)| &r.values[..])
            .collect();
        let mut x = Vec::new();
        let mut codes = Vec::new();
        encoder.encode_sample(values.into_iter(), &mut x, &mut codes);
        let rows = Rows::new(&x, d);
        let forest = IsolationForest::fit_weighted(
            rows,
            Some(&weights),
            ForestSettings {
                seed,
                ..Default::default()
            },
        );
        let ecod = Ecod::fit(&x, d, &weights);
        let s_forest = forest.score(rows);
        let s_ecod = ecod.score(&x);
        let forest_rank = WeightedCdf::new(&s_forest, &weights);
        let ecod_rank = WeightedCdf::new(&s_ecod, &weights);
        let combined: Vec<f64> = s_forest
            .iter()
            .zip(&s_ecod)
            .map(|(&a, &b)| combine(forest_rank.at(a), ecod_rank.at(b)))
            .collect();
        let combined_rank = WeightedCdf::new(&combined, &weights);
        let total: f64 = weights.iter().sum();
        let mut reference_all = RefCount::default();
        let mut reference_groups: BTreeMap<GroupKey, RefCount> = BTreeMap::new();
        for (i, &c) in combined.iter().enumerate() {
            let f = combined_rank.at(c) > 1.0 - TAIL;
            let w = weights[i];
            reference_all.add(w, f);
            for j in 0..d {
                let key = GroupKey::Slice {
                    feature: j as u32,
                    code: codes[i * d + j],
                };
                reference_groups.entry(key).or_default().add(w, f);
            }
        }
        Some(RowModel {
            sample_rows: weights.len(),
            encoder,
            forest,
            ecod,
            forest_rank,
            ecod_rank,
            combined_rank,
            reference_rate: reference_all.rate(),
            reference_groups,
            reference_all,
            reference_rows: total,
        })
    }

    /// Whether each encoded row (`x`, row-major) is an outlier at OUT001's threshold.
    pub fn flags(&self, x: &[f64]) -> Vec<bool> {
        let mut scratch = Scratch::default();
        let mut terms = Vec::new();
        let d = self.encoder.dim().max(1);
        x.chunks(d * 4096)
            .flat_map(|c| self.score_batch(c, &mut scratch, &mut terms))
            .map(|s| s.flagged)
            .collect()
    }

    fn score_batch(&self, x: &[f64], scratch: &mut Scratch, terms: &mut Vec<f64>) -> Vec<Scored> {
        let d = self.encoder.dim();
        let t = std::time::Instant::now();
        self.forest
            .score_sequential(Rows::new(x, d), &mut scratch.forest);
        let t2 = std::time::Instant::now();
        self.ecod.score_batch(x, &mut scratch.ecod, terms);
        scratch.seconds.forest += (t2 - t).as_secs_f64();
        scratch.seconds.ecod += t2.elapsed().as_secs_f64();
        scratch
            .forest
            .iter()
            .zip(&scratch.ecod)
            .map(|(&sf, &se)| {
                let c = combine(self.forest_rank.at(sf), self.ecod_rank.at(se));
                let outlier_score = self.combined_rank.at(c);
                Scored {
                    outlier_score,
                    flagged: outlier_score > 1.0 - TAIL,
                }
            })
            .collect()
    }

    /// The predicate text of a slice group, for reports: (column, kind of predicate).
    pub fn slice_of(&self, feature: u32, code: u32) -> Option<SliceDesc> {
        let f = self.encoder.features.get(feature as usize)?;
        let column = f.column.clone();
        match &f.kind {
            Kind::Missing => None,
            Kind::Numeric { min, .. } if code == BELOW_CODE => {
                Some(SliceDesc::Below { column, min: *min })
            }
            Kind::Numeric { max, .. } if code == ABOVE_CODE => {
                Some(SliceDesc::Above { column, max: *max })
            }
            Kind::Numeric { edges, .. } => Some(if code == NULL_CODE {
                SliceDesc::Null { column }
            } else if edges.is_empty() || code as usize > edges.len() {
                // Bin codes are 0..=edges.len(); anything else names no slice.
                return None;
            } else {
                let b = code as usize;
                SliceDesc::Bin {
                    column,
                    low: (b > 0).then(|| edges[b - 1]),
                    high: edges.get(b).copied(),
                }
            }),
            Kind::Frequency { categories, .. } => match code {
                NULL_CODE => Some(SliceDesc::Null { column }),
                UNSEEN_CODE => None,
                c => categories.get(c as usize).map(|v| SliceDesc::Category {
                    column,
                    value: v.clone(),
                }),
            },
        }
    }

    /// Whether a slice code of a feature is a category only the current data has (the label
    /// checks test those; OUT001 leaves them to SCH, as it does every unseen category).
    pub fn is_new_category(&self, feature: u32, code: u32) -> bool {
        match self.encoder.features.get(feature as usize).map(|f| &f.kind) {
            Some(Kind::Frequency { known, .. }) => code >= *known && (code as usize) < SLICE_CODES,
            _ => false,
        }
    }

    /// The slice group whose baseline rate stands for a group the reference has no rows in:
    /// the top decile bin for values above the maximum, the bottom one below the minimum.
    pub fn nearest_reference_group(&self, feature: u32, code: u32) -> Option<GroupKey> {
        let f = self.encoder.features.get(feature as usize)?;
        let Kind::Numeric { edges, .. } = &f.kind else {
            return None;
        };
        let code = match code {
            ABOVE_CODE => edges.len() as u32,
            BELOW_CODE => 0,
            _ => return None,
        };
        Some(GroupKey::Slice { feature, code })
    }

    /// The counter slot of a slice group, `None` when the group is not tested: numeric bins,
    /// values past the range and nulls always; categories among the first
    /// `SLICE_CODES` (in value order) and nulls; never the missing indicators.
    #[inline]
    fn slot(&self, feature: usize, code: u32) -> Option<usize> {
        match &self.encoder.features[feature].kind {
            Kind::Missing => None,
            Kind::Frequency { .. } if code == UNSEEN_CODE => None,
            _ if (code as usize) < SLICE_CODES => Some(code as usize),
            _ if code >= ABOVE_CODE => Some(SLICE_CODES + (u32::MAX - code) as usize),
            _ => None,
        }
    }
}

/// A slice group in words.
#[derive(Debug, Clone, PartialEq)]
pub enum SliceDesc {
    Null {
        column: String,
    },
    Category {
        column: String,
        value: String,
    },
    /// Below the reference's minimum, above its maximum.
    Below {
        column: String,
        min: f64,
    },
    Above {
        column: String,
        max: f64,
    },
    /// One exact number.
    Value {
        column: String,
        value: f64,
    },
    /// `low ≤ x < high`; an open end is `None`.
    Bin {
        column: String,
        low: Option<f64>,
        high: Option<f64>,
    },
}

/// What the row pass found.
#[derive(Debug, Clone)]
pub struct RowPass {
    pub model: RowModel,
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
    /// Both samples with per-row signals, for slice finding (SLC001), with a baseline.
    pub slices: Option<super::slices::SliceData>,
    /// Every current row's scores, binned.
    pub histograms: ScoreHistograms,
}

/// Settings of the pass.
pub struct PassSettings<'a> {
    pub profile: &'a ProfileSettings,
    pub rows_out: Option<&'a Path>,
    /// The current data's duplicate groups (`duplicate_groups`), for the rows file.
    pub duplicates: Option<&'a HashMap<u128, u64>>,
    /// Called after each shard (progress).
    pub on_shard: &'a (dyn Fn() + Sync),
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
    fn new() -> ScoreHistograms {
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
        ) == (
            o.rows,
            &o.groups,
            o.duplicate_rows,
            &o.histograms,
            &o.labels,
        )
    }
}

impl RowCounts {
    fn new(labels: Option<&LabelModel>) -> RowCounts {
        RowCounts {
            histograms: ScoreHistograms::new(),
            labels: labels.map(LabelModel::counts),
            ..RowCounts::default()
        }
    }

    /// Add the counts of the part after this one (parts merge in plan order: examples keep the
    /// first rows, sums add in one order).
    pub fn merge(&mut self, r: RowCounts) {
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

/// One part's counts and, when the rows file is written, its rows.
struct PartOut {
    counts: RowCounts,
    batches: Vec<RecordBatch>,
}

/// What scoring a part needs besides its batches.
struct PassContext<'a> {
    model: &'a RowModel,
    labels: Option<&'a LabelModel>,
    /// Per column of the batches, its position among the fingerprint's feature columns.
    positions: Vec<Option<usize>>,
    id: Option<&'a str>,
    out_schema: SchemaRef,
    source_names: Vec<String>,
    /// Per source of the batches, its index among the models' sources (the current profile's).
    source_index: Vec<u32>,
    /// Whether OUT001 is on: count outliers per group and mark them in the rows file.
    outliers: bool,
    /// Feature hash → duplicate group, when the rows file is written.
    dup_groups: Option<&'a HashMap<u128, u64>>,
}

impl<'a> PassContext<'a> {
    fn new(
        schema: &Schema,
        partition_columns: &[String],
        source_names: Vec<String>,
        models: &'a super::RowModels,
        settings: &'a PassSettings<'_>,
    ) -> Result<PassContext<'a>> {
        if settings.rows_out.is_some() && settings.duplicates.is_none() {
            return Err(Error::Internal(
                "the rows file needs the current data's duplicate groups".into(),
            ));
        }
        let columns = crate::ingest::column_types(schema);
        let source_index = source_names
            .iter()
            .map(|n| {
                models
                    .sources
                    .iter()
                    .position(|m| m == n)
                    .map(|i| i as u32)
                    .ok_or_else(|| Error::BadBatch {
                        source_name: n.clone(),
                        reason: "it is not a source of the profile the row models were fitted on"
                            .into(),
                    })
            })
            .collect::<Result<Vec<u32>>>()?;
        let id = settings.profile.id.as_deref();
        let id_field = id.and_then(|id| schema.field_with_name(id).ok().cloned());
        Ok(PassContext {
            model: &models.model,
            labels: models.labels.as_ref(),
            positions: crate::profile::feature_positions(
                &columns,
                settings.profile,
                partition_columns,
            ),
            id,
            out_schema: rows_schema(id_field.as_ref()),
            source_names,
            source_index,
            outliers: models.outliers,
            dup_groups: settings.rows_out.and(settings.duplicates),
        })
    }

    /// The rows file's batch for these rows and how many of them are in a duplicate group,
    /// when the rows file is written.
    fn rows_file(
        &self,
        batch: &Batch,
        scored: &[Scored],
        labels: &LabelScratch,
        row_hasher: &mut crate::profile::RowHasher,
        hashes: &mut Vec<u64>,
    ) -> Result<Option<(RecordBatch, u64)>> {
        let Some(dup_groups) = self.dup_groups else {
            return Ok(None);
        };
        let b = &batch.batch;
        row_hasher.reset(b.num_rows());
        for (ci, pos) in self.positions.iter().enumerate() {
            if let Some(k) = pos {
                crate::profile::column::value_hashes(b.column(ci).as_ref(), hashes);
                row_hasher.add_column(*k, hashes);
            }
        }
        let groups: Vec<Option<u64>> = row_hasher
            .finish()
            .map(|h| {
                dup_groups
                    .get(&crate::profile::features(crate::profile::fingerprint(
                        h, 0, 0,
                    )))
                    .copied()
            })
            .collect();
        let duplicated = groups.iter().filter(|g| g.is_some()).count() as u64;
        let id = self.id.and_then(|c| b.column_by_name(c));
        let name = self
            .source_names
            .get(batch.source)
            .map(String::as_str)
            .unwrap_or_default();
        let rows = self.rows_batch(name, batch.first_row, id.cloned(), scored, labels, groups)?;
        Ok(Some((rows, duplicated)))
    }

    /// The rows file's batch of scored rows.
    fn rows_batch(
        &self,
        source: &str,
        first_row: u64,
        id: Option<ArrayRef>,
        scored: &[Scored],
        labels: &LabelScratch,
        duplicate_group: Vec<Option<u64>>,
    ) -> Result<RecordBatch> {
        let (schema, mark_outliers) = (&self.out_schema, self.outliers);
        let n = scored.len();
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![source; n])),
            Arc::new(UInt64Array::from_iter_values(
                (0..n as u64).map(|i| first_row + i),
            )),
        ];
        if schema.field_with_name("id").is_ok() {
            let field = schema
                .field_with_name("id")
                .map_err(|e| Error::Internal(e.to_string()))?;
            cols.push(match id {
                Some(a) => a,
                None => arrow::array::new_null_array(field.data_type(), n),
            });
        }
        let mut codes = ListBuilder::new(StringBuilder::new());
        for (i, s) in scored.iter().enumerate() {
            if labels.flagged(i) {
                codes.values().append_value("LBL002");
            }
            if labels.issue(i) {
                codes.values().append_value("LBL003");
            }
            if mark_outliers && s.flagged {
                codes.values().append_value("OUT001");
            }
            codes.append(true);
        }
        cols.extend([
            Arc::new(Float64Array::from_iter_values(
                scored.iter().map(|s| s.outlier_score),
            )) as ArrayRef,
            Arc::new(if labels.scores.len() == n {
                Float64Array::from(labels.scores.clone())
            } else {
                Float64Array::from(vec![None::<f64>; n])
            }),
            Arc::new(UInt64Array::from(duplicate_group)),
            Arc::new(codes.finish()),
            Arc::new(if labels.verdicts.len() == n {
                Float64Array::from_iter(
                    labels.verdicts.iter().map(|v| v.map(|v| v.self_confidence)),
                )
            } else {
                Float64Array::from(vec![None::<f64>; n])
            }),
        ]);
        RecordBatch::try_new(schema.clone(), cols).map_err(|e| Error::Internal(e.to_string()))
    }

    /// Score one part's batches, in order: the counts, and the rows file's batches when it is
    /// written.
    fn score(&self, batches: impl Iterator<Item = Result<Batch>>) -> Result<PartOut> {
        let (model, labels) = (self.model, self.labels);
        let d = model.encoder.dim();
        let mut out = RowCounts::new(labels);
        let mut rows_out = Vec::new();
        let mut x = Vec::new();
        let mut codes = Vec::new();
        let mut scratch = Scratch::default();
        let mut terms = Vec::new();
        let mut hashes = Vec::new();
        let mut row_hasher = crate::profile::RowHasher::new();
        let mut label_scratch = LabelScratch::default();
        // Dense counters: per feature one slot per tested code (see `slot`), the whole shard,
        // and the current batch's source.
        let mut slices: Vec<Vec<GroupCount>> = vec![vec![GroupCount::default(); SLOTS]; d];
        let mut all = GroupCount::default();
        for batch in batches {
            let batch = batch?;
            let b = &batch.batch;
            let n = b.num_rows();
            let t = std::time::Instant::now();
            model.encoder.encode_batch(b, &mut x, &mut codes);
            scratch.seconds.encode += t.elapsed().as_secs_f64();
            let scored = model.score_batch(&x, &mut scratch, &mut terms);
            let source = *self
                .source_index
                .get(batch.source)
                .ok_or_else(|| Error::Internal(format!("a batch names source {}", batch.source)))?;
            if let (Some(m), Some(c)) = (labels, out.labels.as_mut()) {
                let t = std::time::Instant::now();
                m.count_batch(
                    b,
                    &x,
                    &codes,
                    source,
                    batch.first_row,
                    &mut label_scratch,
                    c,
                );
                out.label_seconds += t.elapsed().as_secs_f64();
            } else {
                label_scratch.scores.clear();
                label_scratch.verdicts.clear();
            }
            for s in &scored {
                out.histograms.outlier[ScoreHistograms::bin(s.outlier_score)] += 1;
            }
            for score in label_scratch.scores.iter().flatten() {
                out.histograms.label_issue[ScoreHistograms::bin(*score)] += 1;
            }
            out.rows += n as u64;
            if let Some((rows, duplicated)) = self.rows_file(
                &batch,
                &scored,
                &label_scratch,
                &mut row_hasher,
                &mut hashes,
            )? {
                out.duplicate_rows += duplicated;
                rows_out.push(rows);
            }
            // Per-group outlier counts are OUT001's alone.
            if !self.outliers {
                continue;
            }
            let mut this_source = GroupCount::default();
            for (i, s) in scored.iter().enumerate() {
                let row = batch.first_row + i as u64;
                let row_terms = &terms[i * d..(i + 1) * d];
                let add = |g: &mut GroupCount| {
                    g.rows += 1;
                    if s.flagged {
                        g.add_flagged(row_terms, (source, row));
                    }
                };
                add(&mut all);
                add(&mut this_source);
                for (j, counters) in slices.iter_mut().enumerate() {
                    if let Some(k) = model.slot(j, codes[i * d + j]) {
                        add(&mut counters[k]);
                    }
                }
            }
            out.groups
                .entry(GroupKey::Source(source))
                .or_default()
                .merge(this_source);
        }
        if all.rows > 0 {
            out.groups.insert(GroupKey::All, all);
        }
        for (j, counters) in slices.into_iter().enumerate() {
            for (k, g) in counters.into_iter().enumerate() {
                if g.rows > 0 {
                    let key = GroupKey::Slice {
                        feature: j as u32,
                        code: code_of_slot(k),
                    };
                    out.groups.insert(key, g);
                }
            }
        }
        out.part_seconds = scratch.seconds;
        Ok(PartOut {
            counts: out,
            batches: rows_out,
        })
    }
}

/// The pass's results so far: parts are folded in plan order.
struct Totals {
    counts: RowCounts,
    writer: Option<RowsWriter>,
    write_error: Option<Error>,
}

impl Totals {
    /// Nothing counted yet; the rows file created when one is asked for.
    fn new(
        labels: Option<&LabelModel>,
        rows_out: Option<&Path>,
        schema: &SchemaRef,
    ) -> Result<Totals> {
        let writer = match rows_out {
            Some(path) => Some(RowsWriter::create(path, schema.clone())?),
            None => None,
        };
        Ok(Totals {
            counts: RowCounts::new(labels),
            writer,
            write_error: None,
        })
    }

    fn fold(&mut self, r: PartOut) {
        self.counts.merge(r.counts);
        if let Some(w) = self.writer.as_mut()
            && self.write_error.is_none()
        {
            for b in &r.batches {
                if let Err(e) = w.write(b) {
                    self.write_error = Some(e);
                    break;
                }
            }
        }
    }

    fn finish(self) -> Result<RowCounts> {
        if let Some(e) = self.write_error {
            return Err(e);
        }
        if let Some(w) = self.writer {
            w.finish()?;
        }
        Ok(self.counts)
    }
}

/// Score every row of `ds` and count outliers per group, shards in parallel, folded in plan
/// order.
pub fn run(
    ds: &Dataset,
    models: &super::RowModels,
    settings: &PassSettings<'_>,
) -> Result<RowCounts> {
    let names = ds.sources.iter().map(|s| s.display()).collect();
    let ctx = PassContext::new(&ds.schema, &ds.partition_columns, names, models, settings)?;
    let mut totals = Totals::new(models.labels.as_ref(), settings.rows_out, &ctx.out_schema)?;
    let tasks: Vec<&Shard> = ds.shards.iter().collect();
    crate::profile::run_ordered(
        &tasks,
        |s| {
            let out = ctx.score(ds.read_shard(s)?)?;
            (settings.on_shard)();
            Ok(out)
        },
        |r: PartOut| totals.fold(r),
    )?;
    totals.finish()
}

/// The same for batches a caller holds, in their order, on the calling thread: one part per run
/// of one source and row group, as a file's row groups are (see `ingest::for_each_run`).
pub fn run_batches(
    data: &crate::ingest::Conformed<'_>,
    models: &super::RowModels,
    settings: &PassSettings<'_>,
) -> Result<RowCounts> {
    let ctx = PassContext::new(&data.schema, &[], data.names.clone(), models, settings)?;
    let mut totals = Totals::new(models.labels.as_ref(), settings.rows_out, &ctx.out_schema)?;
    crate::ingest::for_each_run(data.batches()?, |_, run| {
        totals.fold(ctx.score(run)?);
        (settings.on_shard)();
        Ok(())
    })?;
    totals.finish()
}

/// Feature hash (as `profile::features` gives it) → duplicate group number, for every feature
/// vector that occurs more than once; groups are numbered in fingerprint order.
pub fn duplicate_groups(p: &Profile) -> HashMap<u128, u64> {
    let mut out = HashMap::new();
    let rows = &p.fingerprints.rows;
    let mut i = 0;
    while i < rows.len() {
        let f = crate::profile::features(rows[i]);
        let mut j = i + 1;
        while j < rows.len() && crate::profile::features(rows[j]) == f {
            j += 1;
        }
        if j - i > 1 {
            let g = out.len() as u64;
            out.insert(f, g);
        }
        i = j;
    }
    out
}

/// The rows file's schema (DESIGN.md, "Rows file").
pub fn rows_schema(id: Option<&Field>) -> SchemaRef {
    let mut fields = vec![
        Field::new("source", DataType::Utf8, false),
        Field::new("row", DataType::UInt64, false),
    ];
    if let Some(f) = id {
        fields.push(Field::new("id", f.data_type().clone(), true));
    }
    fields.extend([
        Field::new("outlier_score", DataType::Float64, false),
        Field::new("label_issue_score", DataType::Float64, true),
        Field::new("duplicate_group", DataType::UInt64, true),
        Field::new(
            "codes",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            false,
        ),
        // Added after the contract's fields: the out-of-sample probability of the row's own
        // label by confident learning (LBL003; null without a verdict). Lowest first ranks the
        // label issues.
        Field::new("label_confidence", DataType::Float64, true),
    ]);
    Arc::new(Schema::new(fields))
}

/// Writes the rows file to `NAME.tmp` beside it and renames it into place when complete, so a
/// failed run never leaves a half-written file under the requested name.
struct RowsWriter {
    path: PathBuf,
    tmp: PathBuf,
    writer: Option<parquet::arrow::ArrowWriter<std::fs::File>>,
}

impl RowsWriter {
    fn create(path: &Path, schema: SchemaRef) -> Result<RowsWriter> {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".tmp");
        let tmp = path.with_file_name(name);
        let cannot = |e: std::io::Error| Error::RowsFile {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let file = std::fs::File::create(&tmp).map_err(cannot)?;
        let props = parquet::file::properties::WriterProperties::builder()
            .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
            .build();
        let writer =
            parquet::arrow::ArrowWriter::try_new(file, schema, Some(props)).map_err(|e| {
                Error::RowsFile {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                }
            })?;
        Ok(RowsWriter {
            path: path.to_path_buf(),
            tmp,
            writer: Some(writer),
        })
    }

    fn fail(&self, e: impl std::fmt::Display) -> Error {
        Error::RowsFile {
            path: self.path.clone(),
            reason: e.to_string(),
        }
    }

    fn write(&mut self, b: &RecordBatch) -> Result<()> {
        let r = match self.writer.as_mut() {
            Some(w) => w.write(b),
            None => return Err(self.fail("written after it was closed")),
        };
        r.map_err(|e| self.fail(e))
    }

    fn finish(mut self) -> Result<()> {
        if let Some(w) = self.writer.take() {
            w.close().map_err(|e| self.fail(e))?;
        }
        std::fs::rename(&self.tmp, &self.path).map_err(|e| Error::write(&self.path, e))
    }
}

impl Drop for RowsWriter {
    fn drop(&mut self) {
        // After a successful `finish` the temporary file is gone (renamed); otherwise remove
        // what was written.
        let _ = std::fs::remove_file(&self.tmp);
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
