//! The fitted row model: an Isolation Forest and ECOD on the shared encoding, their scores
//! turned into ranks among the reference rows and combined into a row's `outlier_score`, the
//! reference sample's flagged rows per group, and slice groups in words.

use std::collections::BTreeMap;

use rayon::prelude::*;

use super::counts::{GroupKey, PartSeconds};
use crate::profile::Profile;
use crate::rows::ecod::{Ecdf, Ecod};
use crate::rows::encode::{ABOVE_CODE, BELOW_CODE, Encoder, Kind, NULL_CODE, UNSEEN_CODE};
use crate::rows::iforest::{ForestSettings, IsolationForest, Rows};
use crate::rows::shared::{RefCount, SLICE_CODES, slot_of};

/// Share of the baseline above the flagging threshold.
pub const TAIL: f64 = 0.005;

/// A weighted empirical CDF, `F(x)` = weight of values `≤ x` / total weight, on ECOD's lookup
/// table: exact in the top and bottom 1% (where the flagging threshold lies), within 1/1024
/// in between.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct WeightedCdf(Ecdf);

impl WeightedCdf {
    pub(super) fn new(values: &[f64], weights: &[f64]) -> WeightedCdf {
        WeightedCdf(Ecdf::new(
            values
                .iter()
                .copied()
                .zip(weights.iter().copied())
                .collect(),
        ))
    }

    pub(super) fn at(&self, x: f64) -> f64 {
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
pub(super) struct Scratch {
    forest: Vec<f64>,
    ecod: Vec<f64>,
    pub(super) seconds: PartSeconds,
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

/// One row's scores.
pub(super) struct Scored {
    pub(super) outlier_score: f64,
    pub(super) flagged: bool,
}

impl RowModel {
    /// The widths the forest and ECOD were fitted on.
    pub(crate) fn dims(&self) -> (usize, usize) {
        (self.forest.dim, self.ecod.features.len())
    }

    /// Fit on `reference`'s sample; `None` when there is nothing to encode or no sample.
    pub fn fit(reference: &Profile, current: &Profile, seed: u64) -> Option<RowModel> {
        RowModel::fit_encoded(Encoder::new(reference, current), reference, seed)
    }

    /// Whether there is a model to fit: a column to encode and a reference sample.
    pub fn can_fit(encoder: &Encoder, reference: &Profile) -> bool {
        encoder.dim() > 0 && !reference.sample.is_empty()
    }

    /// `fit` with the encoder already made (`Encoder::new(reference, current)`).
    pub fn fit_encoded(encoder: Encoder, reference: &Profile, seed: u64) -> Option<RowModel> {
        if !RowModel::can_fit(&encoder, reference) {
            return None;
        }
        let d = encoder.dim();
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

    /// Whether each encoded row (`x`, row-major) is an outlier at OUT001's threshold (batches
    /// scored in parallel, collected in order).
    pub fn flags(&self, x: &[f64]) -> Vec<bool> {
        let d = self.encoder.dim().max(1);
        x.par_chunks(d * 4096)
            .map_init(
                || (Scratch::default(), Vec::new()),
                |(scratch, terms), c| self.score_batch(c, scratch, terms),
            )
            .flat_map_iter(|scored| scored.into_iter().map(|s| s.flagged))
            .collect()
    }

    pub(super) fn score_batch(
        &self,
        x: &[f64],
        scratch: &mut Scratch,
        terms: &mut Vec<f64>,
    ) -> Vec<Scored> {
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
    pub(super) fn slot(&self, feature: usize, code: u32) -> Option<usize> {
        match &self.encoder.features[feature].kind {
            Kind::Missing => None,
            Kind::Frequency { .. } if code == UNSEEN_CODE => None,
            _ => slot_of(code),
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
