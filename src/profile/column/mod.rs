//! Per-column statistics: updated batch by batch inside a shard, merged across shards in plan
//! order. Counts, null/NaN/inf counts, min/max and (for integer columns) the moments are exact;
//! float moments are merged with Chan's formula; quantiles, frequent items and distinct counts
//! come from sketches.
//!
//! This module holds the statistics types and their merge; `update` feeds them a batch (numbers
//! through the loops in `numeric`), and `keys` turns values into the keys and hashes the
//! statistics and fingerprints share.

mod keys;
mod numeric;
mod update;

use std::collections::BTreeMap;

use datasketches::frequencies::{ErrorType, FrequentItemsSketch};
use serde::{Deserialize, Serialize};

use super::hll::Hll;
use super::kll::{DEFAULT_K, Kll};
use super::sketch_serde;
use crate::ingest::ColumnType;

pub(crate) use self::keys::KeyHash;
pub use self::keys::{NULL_HASH, numeric_key, numeric_text, value_hashes};
pub use self::update::{BatchContext, FULL_RATE_ROWS, sample_level, update};

/// Above this many distinct values a column's exact value (× label) counts are dropped.
pub const LOW_CARD_MAX: usize = 1000;
/// Frequent-items map size: the a-priori error is 3.5/4096 ≈ 0.085% of the weight.
pub const FREQ_MAP: usize = 4096;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NumericStats {
    /// Finite values.
    pub count: u64,
    pub nan: u64,
    pub pos_inf: u64,
    pub neg_inf: u64,
    pub zeros: u64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// Chan/Welford running mean and sum of squared deviations of the finite values.
    pub mean: f64,
    pub m2: f64,
    /// Exact sums for integer columns while they fit in i128 (then moments are exact).
    pub int_sum: Option<i128>,
    pub int_sumsq: Option<i128>,
    /// Whether every finite value is a whole number.
    pub integral: bool,
    /// Quantile sketch of the finite values (sampled, weighted).
    pub quantiles: Kll,
    /// Sum over rows of (weight − 1): the variance the subsample adds to a rank count.
    pub sampling_variance: f64,
}

impl NumericStats {
    fn new(seed: u64) -> Self {
        NumericStats {
            count: 0,
            nan: 0,
            pos_inf: 0,
            neg_inf: 0,
            zeros: 0,
            min: None,
            max: None,
            mean: 0.0,
            m2: 0.0,
            int_sum: Some(0),
            int_sumsq: Some(0),
            integral: true,
            quantiles: Kll::new(DEFAULT_K, seed),
            sampling_variance: 0.0,
        }
    }

    /// The mean of the finite values: exact (correctly rounded) for integer columns.
    pub fn mean(&self) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        match self.int_sum {
            Some(s) => Some(s as f64 / self.count as f64),
            None => Some(self.mean),
        }
    }

    /// Sample variance (n − 1 denominator), as pandas and `numpy.var(ddof=1)` report it.
    pub fn variance(&self) -> Option<f64> {
        if self.count < 2 {
            return None;
        }
        let n = self.count as i128;
        if let (Some(s), Some(q)) = (self.int_sum, self.int_sumsq)
            && let Some(nq) = n.checked_mul(q)
            && let Some(ss) = s.checked_mul(s)
        {
            // n·Σx² − (Σx)² is exact; one rounding at the end.
            let num = nq - ss;
            return Some(num as f64 / (n * (n - 1)) as f64);
        }
        Some(self.m2 / (self.count - 1) as f64)
    }

    pub fn std(&self) -> Option<f64> {
        self.variance().map(f64::sqrt)
    }

    /// Rank error of the quantile sketch plus the subsample's added error (99%, pointwise,
    /// normal approximation, worst case at the median).
    pub fn rank_error(&self) -> f64 {
        let n = self.quantiles.n().max(1) as f64;
        self.quantiles.rank_error() + 2.576 * (0.25 * self.sampling_variance).sqrt() / n
    }

    /// The same over all ranks at once (for a Kolmogorov–Smirnov distance): the sketch's
    /// all-ranks bound plus the subsample's: the sup of a Brownian bridge scaled by the
    /// subsample's standard deviation, at the Kolmogorov distribution's 99% point (1.628).
    pub fn rank_error_all(&self) -> f64 {
        let n = self.quantiles.n().max(1) as f64;
        self.quantiles.rank_error_all() + 1.628 * self.sampling_variance.sqrt() / n
    }

    fn merge(&mut self, o: &NumericStats) {
        self.merge_exact(o);
        self.quantiles.merge(&o.quantiles);
        self.sampling_variance += o.sampling_variance;
    }

    /// Merge everything but the sketch: counts, extremes and moments.
    fn merge_exact(&mut self, o: &NumericStats) {
        let (na, nb) = (self.count as f64, o.count as f64);
        if o.count > 0 {
            let n = na + nb;
            let delta = o.mean - self.mean;
            self.mean += delta * nb / n;
            self.m2 += o.m2 + delta * delta * na * nb / n;
        }
        self.count += o.count;
        self.nan += o.nan;
        self.pos_inf += o.pos_inf;
        self.neg_inf += o.neg_inf;
        self.zeros += o.zeros;
        self.min = opt_fold(self.min, o.min, f64::min);
        self.max = opt_fold(self.max, o.max, f64::max);
        self.int_sum = self
            .int_sum
            .zip(o.int_sum)
            .and_then(|(a, b)| a.checked_add(b));
        self.int_sumsq = self
            .int_sumsq
            .zip(o.int_sumsq)
            .and_then(|(a, b)| a.checked_add(b));
        self.integral &= o.integral;
    }
}

fn opt_fold(a: Option<f64>, b: Option<f64>, f: fn(f64, f64) -> f64) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(f(x, y)),
        (x, y) => x.or(y),
    }
}

/// Byte lengths of string values.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LengthStats {
    pub min: Option<u64>,
    pub max: Option<u64>,
    pub total: u64,
    pub empty: u64,
}

impl LengthStats {
    fn merge(&mut self, o: &LengthStats) {
        self.min = match (self.min, o.min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max = self.max.max(o.max);
        self.total += o.total;
        self.empty += o.empty;
    }
}

/// Frequent items: strings for text and bool columns, numeric keys for numbers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Frequent {
    Text(#[serde(with = "sketch_serde::freq_str")] FrequentItemsSketch<String>),
    Number(#[serde(with = "sketch_serde::freq_num")] FrequentItemsSketch<i64>),
}

impl Frequent {
    /// The sketch as it is read back from its canonical image (items re-inserted in sorted
    /// order). The crate's hash map keeps the order items went in, and a full map's purge
    /// reads the first slots: a part sent as bytes (a Spark task's) and the same part kept in
    /// memory would merge into different sketches. Both are put in this form before they
    /// are merged, so the result depends only on each part's items and counts.
    pub(crate) fn canonicalize(&mut self) -> crate::error::Result<()> {
        let bad =
            |e: String| crate::error::Error::Internal(format!("a frequent-items sketch: {e}"));
        *self = match self {
            Frequent::Text(s) => Frequent::Text(sketch_serde::freq_str::reread(s).map_err(bad)?),
            Frequent::Number(s) => {
                Frequent::Number(sketch_serde::freq_num::reread(s).map_err(bad)?)
            }
        };
        Ok(())
    }
}

/// One frequent value with its estimated weight and bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct FrequentValue {
    pub value: String,
    pub estimate: u64,
    pub lower: u64,
    pub upper: u64,
}

/// Values outside a reference range (a baseline's `[min, max]`), counted exactly per label.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Outside {
    pub low: f64,
    pub high: f64,
    /// Label → finite values below `low`.
    pub below: BTreeMap<String, u64>,
    /// Label → finite values above `high`.
    pub above: BTreeMap<String, u64>,
    /// The first rows (in plan order) outside the range: (source index, row in source).
    pub examples: Vec<(u32, u64)>,
}

/// Example rows kept per column for out-of-range values.
pub const OUTSIDE_EXAMPLES: usize = 5;

impl Outside {
    pub fn new(low: f64, high: f64) -> Outside {
        Outside {
            low,
            high,
            below: BTreeMap::new(),
            above: BTreeMap::new(),
            examples: Vec::new(),
        }
    }

    pub fn rows(&self) -> u64 {
        self.below.values().sum::<u64>() + self.above.values().sum::<u64>()
    }

    /// Label → rows outside the range on either side.
    pub fn by_label(&self) -> BTreeMap<String, u64> {
        let mut m = self.below.clone();
        for (l, c) in &self.above {
            *m.entry(l.clone()).or_default() += c;
        }
        m
    }

    fn merge(&mut self, o: &Outside, source_offset: u32) {
        for (l, c) in &o.below {
            *self.below.entry(l.clone()).or_default() += c;
        }
        for (l, c) in &o.above {
            *self.above.entry(l.clone()).or_default() += c;
        }
        for &(s, r) in &o.examples {
            if self.examples.len() >= OUTSIDE_EXAMPLES {
                break;
            }
            self.examples.push((s + source_offset, r));
        }
    }

    /// Count the values of a batch outside the range (the caller has checked that some are).
    fn count(&mut self, value: impl Fn(usize) -> Option<f64>, n: usize, ctx: &BatchContext<'_>) {
        let mut below = vec![0u64; ctx.label_names.len()];
        let mut above = vec![0u64; ctx.label_names.len()];
        for i in 0..n {
            let Some(x) = value(i) else { continue };
            let side = if x < self.low {
                &mut below
            } else if x > self.high {
                &mut above
            } else {
                continue;
            };
            side[ctx.label_ids[i] as usize] += 1;
            if self.examples.len() < OUTSIDE_EXAMPLES {
                self.examples.push((ctx.source, ctx.first_row + i as u64));
            }
        }
        for (l, name) in ctx.label_names.iter().enumerate() {
            if below[l] > 0 {
                *self.below.entry(name.clone()).or_default() += below[l];
            }
            if above[l] > 0 {
                *self.above.entry(name.clone()).or_default() += above[l];
            }
        }
    }
}

/// Statistics of one column. Mergeable: see `merge`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColumnProfile {
    pub name: String,
    pub column_type: ColumnType,
    pub rows: u64,
    pub nulls: u64,
    pub numeric: Option<NumericStats>,
    pub lengths: Option<LengthStats>,
    pub distinct: Hll,
    pub frequent: Frequent,
    /// Exact value → label → rows, while the column has at most `LOW_CARD_MAX` distinct
    /// non-null values (`None` after that). Without a label the label key is "".
    pub exact: Option<BTreeMap<String, BTreeMap<String, u64>>>,
    /// Label → rows among the rows where this column is null.
    pub null_labels: BTreeMap<String, u64>,
    /// Per label class: quantile sketch of this (numeric) column.
    pub class_quantiles: BTreeMap<String, Kll>,
    /// Values outside the reference range, when the profile was given one for this column.
    pub outside: Option<Outside>,
}

impl ColumnProfile {
    pub fn new(name: &str, column_type: ColumnType, seed: u64) -> Self {
        let frequent = if column_type.is_numeric() {
            Frequent::Number(FrequentItemsSketch::new(FREQ_MAP).expect("valid map size"))
        } else {
            Frequent::Text(FrequentItemsSketch::new(FREQ_MAP).expect("valid map size"))
        };
        ColumnProfile {
            name: name.to_string(),
            column_type,
            rows: 0,
            nulls: 0,
            numeric: column_type.is_numeric().then(|| NumericStats::new(seed)),
            lengths: (column_type == ColumnType::String).then(LengthStats::default),
            distinct: Hll::new(),
            frequent,
            exact: Some(BTreeMap::new()),
            null_labels: BTreeMap::new(),
            class_quantiles: BTreeMap::new(),
            outside: None,
        }
    }

    /// Estimated distinct non-null values: exact while the exact table is kept.
    pub fn distinct(&self) -> u64 {
        match &self.exact {
            Some(m) => m.len() as u64,
            None => self.distinct.estimate().round() as u64,
        }
    }

    pub fn non_null(&self) -> u64 {
        self.rows - self.nulls
    }

    /// Exact per-value counts (summed over labels), when the column is low-cardinality.
    pub fn value_counts(&self) -> Option<BTreeMap<&str, u64>> {
        self.exact.as_ref().map(|m| {
            m.iter()
                .map(|(v, l)| (v.as_str(), l.values().sum()))
                .collect()
        })
    }

    /// Rows per value, sorted by value: exact for a low-cardinality column, else the frequent
    /// items' estimates (or their upper bounds, with `upper`).
    pub fn rows_per_value(&self, upper: bool) -> Vec<(String, u64)> {
        let mut counts: Vec<(String, u64)> = match self.value_counts() {
            Some(counts) => counts
                .into_iter()
                .map(|(v, k)| (v.to_string(), k))
                .collect(),
            None => self
                .frequent_values(1)
                .into_iter()
                .map(|f| (f.value, if upper { f.upper } else { f.estimate }))
                .collect(),
        };
        counts.sort_unstable();
        counts
    }

    /// Frequent values, most frequent first (ties by value), with estimates ≥ `min_weight`.
    pub fn frequent_values(&self, min_weight: u64) -> Vec<FrequentValue> {
        let mut out: Vec<FrequentValue> = match &self.frequent {
            Frequent::Text(s) => s
                .frequent_items_with_threshold(ErrorType::NoFalseNegatives, min_weight)
                .into_iter()
                .map(|r| FrequentValue {
                    value: r.item().clone(),
                    estimate: r.estimate(),
                    lower: r.lower_bound(),
                    upper: r.upper_bound(),
                })
                .collect(),
            Frequent::Number(s) => s
                .frequent_items_with_threshold(ErrorType::NoFalseNegatives, min_weight)
                .into_iter()
                .map(|r| FrequentValue {
                    value: numeric_text(f64::from_bits(*r.item() as u64)),
                    estimate: r.estimate(),
                    lower: r.lower_bound(),
                    upper: r.upper_bound(),
                })
                .collect(),
        };
        out.sort_by(|a, b| {
            b.estimate
                .cmp(&a.estimate)
                .then_with(|| a.value.cmp(&b.value))
        });
        out
    }

    /// Merge `o` (a later shard in plan order) into `self`.
    pub fn merge(&mut self, o: &ColumnProfile) {
        self.merge_offset(o, 0);
    }

    /// Merge `o`, whose source indices are shifted by `source_offset` in the merged profile.
    pub fn merge_offset(&mut self, o: &ColumnProfile, source_offset: u32) {
        self.outside = match (self.outside.take(), &o.outside) {
            (Some(mut a), Some(b)) if a.low == b.low && a.high == b.high => {
                a.merge(b, source_offset);
                Some(a)
            }
            _ => None,
        };
        self.rows += o.rows;
        self.nulls += o.nulls;
        if let (Some(a), Some(b)) = (self.numeric.as_mut(), o.numeric.as_ref()) {
            a.merge(b);
        }
        if let (Some(a), Some(b)) = (self.lengths.as_mut(), o.lengths.as_ref()) {
            a.merge(b);
        }
        self.distinct.merge(&o.distinct);
        match (&mut self.frequent, &o.frequent) {
            (Frequent::Text(a), Frequent::Text(b)) => a.merge(b),
            (Frequent::Number(a), Frequent::Number(b)) => a.merge(b),
            _ => {}
        }
        self.exact = match (self.exact.take(), &o.exact) {
            (Some(mut a), Some(b)) => {
                for (v, labels) in b {
                    let e = a.entry(v.clone()).or_default();
                    for (l, c) in labels {
                        *e.entry(l.clone()).or_default() += c;
                    }
                }
                (a.len() <= LOW_CARD_MAX).then_some(a)
            }
            _ => None,
        };
        for (l, c) in &o.null_labels {
            *self.null_labels.entry(l.clone()).or_default() += c;
        }
        for (l, k) in &o.class_quantiles {
            match self.class_quantiles.get_mut(l) {
                Some(mine) => mine.merge(k),
                None => {
                    self.class_quantiles.insert(l.clone(), k.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_integer_moments() {
        let mut s = NumericStats::new(0);
        s.count = 3;
        s.int_sum = Some(6);
        s.int_sumsq = Some(14);
        assert_eq!(s.mean(), Some(2.0));
        assert_eq!(s.variance(), Some(1.0));
    }
}
