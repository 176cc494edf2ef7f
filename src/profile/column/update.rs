//! Updating a column's statistics with one batch: nulls per label, then the loop for the
//! column's type (numbers in `numeric`, text and booleans here).
//!
//! Cost control (DESIGN.md, "the budget per value"): exact statistics see every value in tight
//! loops; the quantile sketches, the per-class quantile sketches and the numeric frequent-items
//! sketch see a deterministic subsample of each shard's rows with weights (see `sample_level`).

use std::collections::HashMap;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimestampMicrosecondType};

use super::numeric::{update_floats, update_ints};
use super::{ColumnProfile, Frequent, KeyHash, LOW_CARD_MAX, LengthStats};
use crate::ingest::ColumnType;

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

/// Update `p` with one column of a batch.
///
/// `hashes` are the column's `value_hashes` for the batch.
pub fn update(p: &mut ColumnProfile, array: &dyn Array, ctx: &BatchContext<'_>, hashes: &[u64]) {
    let n = array.len();
    p.rows += n as u64;
    // Logical nulls: a column of Arrow's null type has no validity buffer, and its physical
    // null count is 0 although every value is null.
    let logical = array.logical_nulls().filter(|b| b.null_count() > 0);
    if let Some(valid) = logical {
        p.nulls += valid.null_count() as u64;
        let mut counts = vec![0u64; ctx.label_names.len()];
        for i in 0..n {
            if valid.is_null(i) {
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
}
