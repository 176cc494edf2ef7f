//! The batch loops of numeric columns (integers, timestamps, floats): exact counts, extremes and
//! moments over every value, the sampled rows fed to the quantile and frequent-items sketches,
//! the distinct-count sketch, and the exact value × label counts while they stay small.

use std::collections::HashMap;

use arrow::array::Array;

use super::{
    BatchContext, ColumnProfile, Frequent, KeyHash, LOW_CARD_MAX, NumericStats, numeric_key,
    numeric_text,
};
use crate::profile::kll::{DEFAULT_K, Kll};

#[inline(never)]
pub(super) fn update_ints(
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
        // |v| < 2^62 keeps v² below 2^124, but a batch of such squares can pass i128::MAX
        // (found by fuzzing): past it the exact sum of squares is given up, never wrapped.
        if sumsq_ok && v.unsigned_abs() < (1u64 << 62) {
            match sumsq.checked_add((v as i128) * (v as i128)) {
                Some(s) => sumsq = s,
                None => sumsq_ok = false,
            }
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
    // The exact value counts are keyed by doubles: past 2^53 two integers could be one key, so
    // such a column keeps none (as a column of many values does); its distinct count and the
    // rows' fingerprints key each integer exactly (`int_key`).
    const EXACT_INT: i64 = 1 << 53;
    if lo < -EXACT_INT || hi > EXACT_INT {
        p.exact = None;
    }
    // In i128: values spanning the whole of i64 make 2^64 values, one more than a u64 holds.
    let span = hi as i128 - lo as i128 + 1;
    if p.exact.is_some() && span <= DENSE_SPAN as i128 {
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
pub(super) fn update_floats(
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
