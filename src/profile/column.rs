//! Per-column statistics: updated batch by batch inside a shard, merged across shards in plan
//! order. Counts, null/NaN/inf counts, min/max and (for integer columns) the moments are exact;
//! float moments are merged with Chan's formula; quantiles, frequent items and distinct counts
//! come from sketches.
//!
//! Cost control (DESIGN.md, "the budget per value"): exact statistics see every value in tight
//! loops; the quantile sketches, the per-class quantile sketches and the numeric frequent-items
//! sketch see a deterministic subsample of each shard's rows with weights (see `sample_level`).

use std::collections::{BTreeMap, HashMap};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimestampMicrosecondType};
use datasketches::frequencies::{ErrorType, FrequentItemsSketch};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use super::hll::{Hll, fmix64};
use super::kll::{DEFAULT_K, Kll};
use super::sketch_serde;
use crate::ingest::ColumnType;

/// Above this many distinct values a column's exact value (× label) counts are dropped.
pub const LOW_CARD_MAX: usize = 1000;
/// Frequent-items map size: the a-priori error is 3.5/4096 ≈ 0.085% of the weight.
pub const FREQ_MAP: usize = 4096;
/// Rows of a shard fed to the sampled sketches at full rate; see `sample_level`.
pub const FULL_RATE_ROWS: u64 = 1 << 15;

/// Which level (weight 2^level) the sampled sketches see row `local` of a file at: the first
/// 2^15 rows at level 0, the next 2^15 at level 1 (every 2nd row on average), the next 2^16 at
/// level 2, and so on, so about 2^14 rows of every doubling are fed: 115,000 of 1M rows,
/// 170,000 of 10M. A row is fed when the low `level` bits of its seeded hash are zero. The
/// subsample adds at most 2.576 · sqrt(Σ w(w−1) / 4) / n ≈ 0.6% to a rank's error at 99%
/// (`NumericStats::rank_error` carries the exact figure).
#[inline]
pub fn sample_level(local: u64) -> u32 {
    if local < FULL_RATE_ROWS {
        0
    } else {
        64 - (local / FULL_RATE_ROWS).leading_zeros()
    }
}

/// A numeric value as the key used for frequent items, distinct counts and exact counts:
/// the f64 bit pattern, with -0 folded into 0 and one NaN.
#[inline]
pub fn numeric_key(x: f64) -> u64 {
    if x == 0.0 {
        0
    } else if x.is_nan() {
        f64::NAN.to_bits()
    } else {
        x.to_bits()
    }
}

/// The text used for a numeric key in reports and exact counts.
pub fn numeric_text(x: f64) -> String {
    if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

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

/// What a batch tells a column beyond its own values: each row's label (an index into
/// `label_names`) and which rows the sampled sketches see, at which level.
pub struct BatchContext<'a> {
    pub label_ids: &'a [u32],
    pub label_names: &'a [String],
    /// (row in batch, level) for the rows the sampled sketches see.
    pub sampled: &'a [(u32, u32)],
    pub seed: u64,
    /// The batch's source (index into the sources) and the index in it of its first row.
    pub source: u32,
    pub first_row: u64,
}

/// The 64-bit value hash of a null cell (see `value_hashes`).
pub const NULL_HASH: u64 = 0x6e75_6c6c_2d63_656c;
const BOOL_HASHES: [u64; 2] = [0xb001_0000_0000_0f00, 0xb001_0000_0000_0f01];

/// One 64-bit hash per row of a column: numbers (integers, floats, timestamps) as the Murmur3
/// finaliser of their canonical f64 key (`numeric_key`, so an int and a float with equal values
/// agree), text as the xxh3-64 of its UTF-8 bytes, booleans and nulls as fixed constants.
/// Computed once per column and batch, it feeds the distinct-count sketch (numbers), the batch's
/// text count map, and the row fingerprints (`profile::RowHasher`).
pub fn value_hashes(a: &dyn Array, out: &mut Vec<u64>) {
    out.clear();
    let n = a.len();
    match a.data_type() {
        DataType::Int64 => {
            let v = a.as_primitive::<Int64Type>().values();
            out.extend(v.iter().map(|&x| fmix64(numeric_key(x as f64))));
        }
        DataType::Timestamp(..) => {
            let v = a.as_primitive::<TimestampMicrosecondType>().values();
            out.extend(v.iter().map(|&x| fmix64(numeric_key(x as f64))));
        }
        DataType::Float64 => {
            let v = a.as_primitive::<Float64Type>().values();
            out.extend(v.iter().map(|&x| fmix64(numeric_key(x))));
        }
        DataType::Utf8 => {
            let v = a.as_string::<i32>();
            out.extend((0..n).map(|i| xxh3_64(v.value(i).as_bytes())));
        }
        DataType::Boolean => {
            let v = a.as_boolean();
            out.extend((0..n).map(|i| BOOL_HASHES[usize::from(v.value(i))]));
        }
        _ => out.resize(n, NULL_HASH),
    }
    if let Some(nulls) = a.logical_nulls()
        && nulls.null_count() > 0
    {
        for (h, valid) in out.iter_mut().zip(nulls.iter()) {
            if !valid {
                *h = NULL_HASH;
            }
        }
    }
}

/// Update `p` with one column of a batch.
///
/// `hashes` are the column's `value_hashes` for the batch.
pub fn update(p: &mut ColumnProfile, array: &dyn Array, ctx: &BatchContext<'_>, hashes: &[u64]) {
    let n = array.len();
    p.rows += n as u64;
    let nulls = array.null_count();
    p.nulls += nulls as u64;
    if nulls > 0 {
        let mut counts = vec![0u64; ctx.label_names.len()];
        for i in 0..n {
            if array.is_null(i) {
                counts[ctx.label_ids[i] as usize] += 1;
            }
        }
        for (l, c) in counts.into_iter().enumerate() {
            if c > 0 {
                *p.null_labels.entry(ctx.label_names[l].clone()).or_default() += c;
            }
        }
    }
    match array.data_type() {
        DataType::Int64 => update_ints(
            p,
            array.as_primitive::<Int64Type>().values(),
            array,
            ctx,
            hashes,
        ),
        DataType::Timestamp(..) => update_ints(
            p,
            array.as_primitive::<TimestampMicrosecondType>().values(),
            array,
            ctx,
            hashes,
        ),
        DataType::Float64 => update_floats(
            p,
            array.as_primitive::<Float64Type>().values(),
            array,
            ctx,
            hashes,
        ),
        DataType::Utf8 => {
            let a = array.as_string::<i32>();
            update_text(p, n, |i| (!a.is_null(i)).then(|| a.value(i)), ctx, hashes);
        }
        DataType::Boolean => {
            let a = array.as_boolean();
            update_text(
                p,
                n,
                |i| (!a.is_null(i)).then(|| if a.value(i) { "true" } else { "false" }),
                ctx,
                hashes,
            );
        }
        _ => {} // Null columns: only the counts above.
    }
}

#[inline(never)]
fn update_ints(
    p: &mut ColumnProfile,
    values: &[i64],
    array: &dyn Array,
    ctx: &BatchContext<'_>,
    hashes: &[u64],
) {
    let valid = |i: usize| !array.is_null(i);
    let has_nulls = array.null_count() > 0;
    let s = p.numeric.as_mut().expect("numeric column");
    let mut count = 0u64;
    let mut sum: i128 = 0;
    let mut sumsq: i128 = 0;
    let mut zeros = 0u64;
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    let mut sumsq_ok = true;
    for (i, &v) in values.iter().enumerate() {
        if has_nulls && !valid(i) {
            continue;
        }
        count += 1;
        sum += v as i128;
        // |v| < 2^62 keeps v² below 2^124 and a batch's sum far below i128::MAX.
        if v.unsigned_abs() < (1u64 << 62) {
            sumsq += (v as i128) * (v as i128);
        } else {
            sumsq_ok = false;
        }
        zeros += u64::from(v == 0);
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if count == 0 {
        return;
    }
    let mean = sum as f64 / count as f64;
    let mut m2 = 0.0;
    for (i, &v) in values.iter().enumerate() {
        if has_nulls && !valid(i) {
            continue;
        }
        let d = v as f64 - mean;
        m2 += d * d;
    }
    let batch = NumericStats {
        count,
        zeros,
        min: Some(lo as f64),
        max: Some(hi as f64),
        mean,
        m2,
        int_sum: Some(sum),
        int_sumsq: sumsq_ok.then_some(sumsq),
        ..NumericStats::new(0)
    };
    s.merge_exact(&batch);
    let value = |i: usize| (!has_nulls || valid(i)).then(|| values[i] as f64);
    if let Some(o) = p.outside.as_mut()
        && ((lo as f64) < o.low || (hi as f64) > o.high)
    {
        o.count(value, values.len(), ctx);
    }
    feed_sampled(p, value, ctx);
    update_distinct(p, hashes, array);
    let span = (hi as i128 - lo as i128) as u64 + 1;
    if p.exact.is_some() && span <= DENSE_SPAN {
        update_exact_dense(
            p,
            values,
            |i| !has_nulls || valid(i),
            lo,
            ctx,
            span as usize,
        );
    } else {
        update_exact(p, values.len(), value, ctx);
    }
}

#[inline(never)]
fn update_floats(
    p: &mut ColumnProfile,
    values: &[f64],
    array: &dyn Array,
    ctx: &BatchContext<'_>,
    hashes: &[u64],
) {
    let has_nulls = array.null_count() > 0;
    let valid = |i: usize| !has_nulls || !array.is_null(i);
    let s = p.numeric.as_mut().expect("numeric column");
    let (mut count, mut nan, mut pinf, mut ninf, mut zeros) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut sum = 0.0;
    let mut integral = true;
    let fast = if has_nulls {
        None
    } else {
        finite_moments(values)
    };
    if let Some(m) = &fast {
        count = values.len() as u64;
        sum = m.sum;
        lo = m.lo;
        hi = m.hi;
        zeros = m.zeros;
        integral = m.integral;
    }
    for (i, &v) in values.iter().enumerate() {
        if fast.is_some() {
            break;
        }
        if !valid(i) {
            continue;
        }
        if v.is_finite() {
            count += 1;
            sum += v;
            lo = lo.min(v);
            hi = hi.max(v);
            zeros += u64::from(v == 0.0);
            // Whole-number test without a libm call: beyond 2^52 every float is whole.
            integral &= v.abs() >= 4.5e15 || (v as i64) as f64 == v;
        } else if v.is_nan() {
            nan += 1;
        } else if v > 0.0 {
            pinf += 1;
        } else {
            ninf += 1;
        }
    }
    let mut batch = NumericStats {
        count,
        nan,
        pos_inf: pinf,
        neg_inf: ninf,
        zeros,
        int_sum: None,
        int_sumsq: None,
        integral,
        ..NumericStats::new(0)
    };
    if count > 0 {
        let mean = sum / count as f64;
        let mut m2 = 0.0;
        if fast.is_some() {
            m2 = sum_sq_dev(values, mean);
        } else {
            for (i, &v) in values.iter().enumerate() {
                if valid(i) && v.is_finite() {
                    let d = v - mean;
                    m2 += d * d;
                }
            }
        }
        batch.mean = mean;
        batch.m2 = m2;
        batch.min = Some(lo);
        batch.max = Some(hi);
    }
    s.merge_exact(&batch);
    if let Some(o) = p.outside.as_mut()
        && count > 0
        && (lo < o.low || hi > o.high)
    {
        o.count(
            |i| (valid(i) && values[i].is_finite()).then(|| values[i]),
            values.len(),
            ctx,
        );
    }
    feed_sampled(
        p,
        |i| (valid(i) && values[i].is_finite()).then(|| values[i]),
        ctx,
    );
    update_distinct(p, hashes, array);
    update_exact(p, values.len(), |i| valid(i).then(|| values[i]), ctx);
}

/// One pass over a batch without nulls, in 8 independent lanes so the compiler can keep the
/// accumulators in registers and vectorise: `None` as soon as a value is not finite (the caller
/// then takes the general path).
struct FiniteMoments {
    sum: f64,
    lo: f64,
    hi: f64,
    zeros: u64,
    integral: bool,
}

fn finite_moments(values: &[f64]) -> Option<FiniteMoments> {
    const L: usize = 8;
    // Adding and subtracting 2^52 rounds to a whole number; a float equal to that is whole.
    const TWO52: f64 = 4_503_599_627_370_496.0;
    let mut sum = [0.0f64; L];
    let mut lo = [f64::INFINITY; L];
    let mut hi = [f64::NEG_INFINITY; L];
    let mut zeros = [0u64; L];
    let mut whole = [true; L];
    let mut finite = [true; L];
    let chunks = values.chunks_exact(L);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..L {
            let v = c[l];
            finite[l] &= v.is_finite();
            sum[l] += v;
            lo[l] = lo[l].min(v);
            hi[l] = hi[l].max(v);
            zeros[l] += u64::from(v == 0.0);
            let a = v.abs();
            whole[l] &= a >= TWO52 || (a + TWO52) - TWO52 == a;
        }
    }
    for &v in rest {
        finite[0] &= v.is_finite();
        sum[0] += v;
        lo[0] = lo[0].min(v);
        hi[0] = hi[0].max(v);
        zeros[0] += u64::from(v == 0.0);
        let a = v.abs();
        whole[0] &= a >= TWO52 || (a + TWO52) - TWO52 == a;
    }
    if !finite.iter().all(|&f| f) {
        return None;
    }
    Some(FiniteMoments {
        sum: sum.iter().sum(),
        lo: lo.iter().copied().fold(f64::INFINITY, f64::min),
        hi: hi.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        zeros: zeros.iter().sum(),
        integral: whole.iter().all(|&w| w),
    })
}

/// Σ (v − mean)² in 8 lanes (all values finite, no nulls).
fn sum_sq_dev(values: &[f64], mean: f64) -> f64 {
    const L: usize = 8;
    let mut acc = [0.0f64; L];
    let chunks = values.chunks_exact(L);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..L {
            let d = c[l] - mean;
            acc[l] += d * d;
        }
    }
    for &v in rest {
        let d = v - mean;
        acc[0] += d * d;
    }
    acc.iter().sum()
}

/// Feed the sampled rows' finite values to the quantile sketches (overall and per class) and to
/// the numeric frequent-items sketch.
#[inline(never)]
fn feed_sampled(
    p: &mut ColumnProfile,
    value: impl Fn(usize) -> Option<f64>,
    ctx: &BatchContext<'_>,
) {
    if ctx.sampled.is_empty() {
        return;
    }
    let s = p.numeric.as_mut().expect("numeric column");
    let Frequent::Number(freq) = &mut p.frequent else {
        return;
    };
    // Per-class sketches are taken out once per batch, indexed by the batch's label ids.
    let mut by_label: Vec<Kll> = ctx
        .label_names
        .iter()
        .map(|label| {
            p.class_quantiles
                .remove(label)
                .unwrap_or_else(|| Kll::new(DEFAULT_K, ctx.seed ^ crate::profile::hash_str(label)))
        })
        .collect();
    let mut keyed: Vec<(u64, u64)> = Vec::with_capacity(ctx.sampled.len());
    for &(i, level) in ctx.sampled {
        let i = i as usize;
        let Some(x) = value(i) else { continue };
        let level = level as usize;
        s.quantiles.update_at(x, level);
        s.sampling_variance += ((1u64 << level) - 1) as f64 * (1u64 << level) as f64;
        by_label[ctx.label_ids[i] as usize].update_at(x, level);
        keyed.push((numeric_key(x), 1u64 << level));
    }
    // Pre-aggregate repeated values: one sketch update per distinct value of the batch.
    keyed.sort_unstable_by_key(|e| e.0);
    let mut j = 0;
    while j < keyed.len() {
        let (k, mut w) = keyed[j];
        j += 1;
        while j < keyed.len() && keyed[j].0 == k {
            w += keyed[j].1;
            j += 1;
        }
        freq.update_with_count(k as i64, w);
    }
    for (label, k) in ctx.label_names.iter().zip(by_label) {
        if !k.is_empty() {
            p.class_quantiles.insert(label.clone(), k);
        }
    }
}

/// The distinct-count sketch sees every value (a later merge may overflow the exact table, and
/// then the sketch must stand for all rows).
#[inline(never)]
fn update_distinct(p: &mut ColumnProfile, hashes: &[u64], array: &dyn Array) {
    match array.nulls().filter(|n| n.null_count() > 0) {
        None => p.distinct.update_hashed_all(hashes),
        Some(nulls) => {
            for (&h, valid) in hashes.iter().zip(nulls.iter()) {
                if valid {
                    p.distinct.update_hashed(h);
                }
            }
        }
    }
}

/// Exact value × label counts, kept while the column stays low-cardinality.
#[inline(never)]
fn update_exact(
    p: &mut ColumnProfile,
    n: usize,
    value: impl Fn(usize) -> Option<f64>,
    ctx: &BatchContext<'_>,
) {
    if p.exact.is_none() {
        return;
    }
    let mut local: HashMap<u64, Vec<u64>, KeyHash> = HashMap::default();
    for i in 0..n {
        let Some(x) = value(i) else { continue };
        let e = local
            .entry(numeric_key(x))
            .or_insert_with(|| vec![0; ctx.label_names.len()]);
        e[ctx.label_ids[i] as usize] += 1;
        if local.len() > LOW_CARD_MAX {
            p.exact = None;
            return;
        }
    }
    merge_exact_counts(p, local.into_iter().collect(), ctx);
}

/// Exact counts of an integer batch whose values span fewer than `DENSE_SPAN` values: a plain
/// array indexed by value and label instead of a hash map.
const DENSE_SPAN: u64 = 4096;

#[inline(never)]
fn update_exact_dense(
    p: &mut ColumnProfile,
    values: &[i64],
    valid: impl Fn(usize) -> bool,
    lo: i64,
    ctx: &BatchContext<'_>,
    span: usize,
) {
    let classes = ctx.label_names.len();
    let mut counts = vec![0u64; span * classes];
    for (i, &v) in values.iter().enumerate() {
        if valid(i) {
            let slot = (v.wrapping_sub(lo)) as usize;
            counts[slot * classes + ctx.label_ids[i] as usize] += 1;
        }
    }
    let mut keyed = Vec::new();
    for (slot, row) in counts.chunks_exact(classes).enumerate() {
        if row.iter().any(|&c| c > 0) {
            keyed.push((numeric_key((lo + slot as i64) as f64), row.to_vec()));
            if keyed.len() > LOW_CARD_MAX {
                p.exact = None;
                return;
            }
        }
    }
    merge_exact_counts(p, keyed, ctx);
}

fn merge_exact_counts(
    p: &mut ColumnProfile,
    mut keyed: Vec<(u64, Vec<u64>)>,
    ctx: &BatchContext<'_>,
) {
    let Some(exact) = p.exact.as_mut() else {
        return;
    };
    keyed.sort_unstable_by_key(|(k, _)| *k);
    for (k, counts) in keyed {
        let text = numeric_text(f64::from_bits(k));
        let e = exact.entry(text).or_default();
        for (l, c) in counts.into_iter().enumerate() {
            if c > 0 {
                *e.entry(ctx.label_names[l].clone()).or_default() += c;
            }
        }
    }
    if exact.len() > LOW_CARD_MAX {
        p.exact = None;
    }
}

/// A text value with its xxh3-64 (from `value_hashes`): the batch's count map hashes the
/// hash (through `KeyHash`) and compares the text only on a hash match.
#[derive(Clone, Copy)]
struct Prehashed<'a>(u64, &'a str);

impl PartialEq for Prehashed<'_> {
    fn eq(&self, o: &Self) -> bool {
        self.0 == o.0 && self.1 == o.1
    }
}

impl Eq for Prehashed<'_> {}

impl std::hash::Hash for Prehashed<'_> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        h.write_u64(self.0);
    }
}

/// Hashes the 64-bit keys of the per-batch count maps (and the encoder's category lookups) with
/// one finaliser instead of SipHash.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct KeyHash;

impl std::hash::BuildHasher for KeyHash {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(0)
    }
}

pub(crate) struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = super::hll::fmix64(self.0 ^ u64::from(b));
        }
    }
    fn write_u64(&mut self, k: u64) {
        self.0 = super::hll::fmix64(self.0 ^ k);
    }
}

fn update_text<'a>(
    p: &mut ColumnProfile,
    n: usize,
    value: impl Fn(usize) -> Option<&'a str>,
    ctx: &BatchContext<'_>,
    hashes: &[u64],
) {
    // Pre-aggregate the batch by the values' hashes (already computed for the fingerprints),
    // then one sketch update per distinct value.
    let mut local: HashMap<Prehashed<'a>, Vec<u64>, KeyHash> = HashMap::default();
    let lens = p.lengths.get_or_insert_with(LengthStats::default);
    let mut lmin = u64::MAX;
    let mut lmax = 0u64;
    for i in 0..n {
        let Some(v) = value(i) else { continue };
        let len = v.len() as u64;
        lmin = lmin.min(len);
        lmax = lmax.max(len);
        lens.total += len;
        lens.empty += u64::from(len == 0);
        let e = local
            .entry(Prehashed(hashes[i], v))
            .or_insert_with(|| vec![0; ctx.label_names.len()]);
        e[ctx.label_ids[i] as usize] += 1;
    }
    if lmin != u64::MAX {
        lens.merge(&LengthStats {
            min: Some(lmin),
            max: Some(lmax),
            total: 0,
            empty: 0,
        });
    }
    if p.column_type == ColumnType::Bool {
        p.lengths = None;
    }
    let mut keyed: Vec<(&str, u64, Vec<u64>)> =
        local.into_iter().map(|(k, v)| (k.1, k.0, v)).collect();
    keyed.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let Frequent::Text(freq) = &mut p.frequent else {
        return;
    };
    for (v, hash, counts) in &keyed {
        let total: u64 = counts.iter().sum();
        p.distinct.update(*hash);
        freq.update_with_count(v.to_string(), total);
    }
    if let Some(exact) = p.exact.as_mut() {
        for (v, _, counts) in keyed {
            let e = exact.entry(v.to_string()).or_default();
            for (l, c) in counts.into_iter().enumerate() {
                if c > 0 {
                    *e.entry(ctx.label_names[l].clone()).or_default() += c;
                }
            }
            if exact.len() > LOW_CARD_MAX {
                p.exact = None;
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_levels() {
        assert_eq!(sample_level(0), 0);
        assert_eq!(sample_level(FULL_RATE_ROWS - 1), 0);
        assert_eq!(sample_level(FULL_RATE_ROWS), 1);
        assert_eq!(sample_level(2 * FULL_RATE_ROWS - 1), 1);
        assert_eq!(sample_level(2 * FULL_RATE_ROWS), 2);
        assert_eq!(sample_level(4 * FULL_RATE_ROWS), 3);
    }

    #[test]
    fn keys_fold_signed_zero() {
        assert_eq!(numeric_key(-0.0), numeric_key(0.0));
        assert_eq!(numeric_text(3.0), "3");
        assert_eq!(numeric_text(0.5), "0.5");
    }

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
