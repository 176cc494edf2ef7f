//! Row fingerprints and what they give: one `u128` per row (feature hash, label hash, segment),
//! built by `RowHasher` from the columns' value hashes, sorted in O(n), and the duplicate
//! statistics read off the sorted column.

use rayon::prelude::*;
use serde::Serialize;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::hll;

/// Row fingerprints, one `u128` a row: the top 80 bits of the row's 128-bit feature hash
/// (`RowHasher`, over the feature columns: label, id and partition columns left out), then a 32-bit
/// hash of the row's label, then the 16-bit segment (file or Parquet row group, an index into
/// `Profile::segments`) the row came from. Sorting them groups identical feature vectors, and
/// within those, identical labels. 80 bits keep the chance of any false match below 10⁻⁸ at
/// 10⁸ rows. Kept sorted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fingerprints {
    pub rows: Vec<u128>,
}

/// The segment of rows a profile cannot name (past the first 65,535 segments).
pub const UNKNOWN_SEGMENT: u16 = u16::MAX;

/// The feature part of a fingerprint.
#[inline]
pub fn features(f: u128) -> u128 {
    f >> 48
}

/// The label part of a fingerprint.
#[inline]
pub fn label_part(f: u128) -> u32 {
    (f >> 16) as u32
}

/// Features and label: equal for rows that are exact duplicates.
#[inline]
pub fn row_key(f: u128) -> u128 {
    f >> 16
}

/// The segment a fingerprint's row came from.
#[inline]
pub fn segment_of(f: u128) -> u16 {
    f as u16
}

/// The 32-bit hash of a label as fingerprints hold it.
pub fn label_hash(label: &str) -> u32 {
    xxh3_64_with_seed(label.as_bytes(), 0x006c_6162_656c) as u32
}

/// A fingerprint from its parts.
#[inline]
pub fn fingerprint(row_hash: u128, label: u32, segment: u16) -> u128 {
    ((row_hash >> 48) << 48) | (u128::from(label) << 16) | u128::from(segment)
}

/// Duplicate statistics derived from the fingerprints.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Duplicates {
    /// Rows that repeat an earlier row exactly (features and label).
    pub duplicate_rows: u64,
    /// Groups of two or more identical rows.
    pub groups: u64,
    pub largest_group: u64,
    /// Rows in the largest group of identical feature vectors (whatever their labels).
    pub largest_feature_group: u64,
    /// Groups of identical feature vectors that carry more than one label.
    pub conflicting_groups: u64,
    pub conflicting_rows: u64,
}

impl Fingerprints {
    pub(super) fn sort(&mut self) {
        sort_fingerprints(&mut self.rows);
    }

    /// Groups of identical rows (features and label) by size: size → groups (sizes from 2; a
    /// profile that keeps only repeated rows' fingerprints gives the same).
    pub fn group_sizes(&self) -> std::collections::BTreeMap<u64, u64> {
        let mut out = std::collections::BTreeMap::new();
        for (a, b) in self.identical_runs() {
            if b - a > 1 {
                *out.entry((b - a) as u64).or_insert(0) += 1;
            }
        }
        out
    }

    /// Runs of identical rows (features and label) in the sorted fingerprints, as `(start,
    /// end)` index ranges, lone rows included.
    pub fn identical_runs(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let rows = &self.rows;
        let mut i = 0;
        std::iter::from_fn(move || {
            if i >= rows.len() {
                return None;
            }
            let start = i;
            i += 1;
            while i < rows.len() && row_key(rows[i]) == row_key(rows[start]) {
                i += 1;
            }
            Some((start, i))
        })
    }

    /// Duplicate statistics, computed on the rayon pool: the sorted column is cut into one
    /// piece per thread at boundaries between feature groups, and the pieces' counts added.
    pub fn duplicates(&self) -> Duplicates {
        let rows = &self.rows;
        let pieces = (rayon::current_num_threads() * 4).max(1);
        let mut cuts = vec![0usize];
        for i in 1..pieces {
            let mut c = rows.len() * i / pieces;
            // Move the cut to the start of a feature group.
            while c > 0 && c < rows.len() && features(rows[c]) == features(rows[c - 1]) {
                c += 1;
            }
            if c > *cuts.last().expect("non-empty") && c < rows.len() {
                cuts.push(c);
            }
        }
        cuts.push(rows.len());
        cuts.windows(2)
            .collect::<Vec<_>>()
            .par_iter()
            .map(|w| duplicates_of(&rows[w[0]..w[1]]))
            .reduce(Duplicates::default, |a, b| Duplicates {
                duplicate_rows: a.duplicate_rows + b.duplicate_rows,
                groups: a.groups + b.groups,
                largest_group: a.largest_group.max(b.largest_group),
                largest_feature_group: a.largest_feature_group.max(b.largest_feature_group),
                conflicting_groups: a.conflicting_groups + b.conflicting_groups,
                conflicting_rows: a.conflicting_rows + b.conflicting_rows,
            })
    }
}

/// Duplicate statistics of sorted fingerprints that do not split a feature group.
fn duplicates_of(rows: &[u128]) -> Duplicates {
    let mut d = Duplicates::default();
    let mut i = 0;
    while i < rows.len() {
        let mut j = i + 1;
        while j < rows.len() && features(rows[j]) == features(rows[i]) {
            j += 1;
        }
        d.largest_feature_group = d.largest_feature_group.max((j - i) as u64);
        // rows[i..j] share features; count exact (feature+label) runs inside.
        let mut labels = 1;
        let mut k = i;
        while k < j {
            let mut m = k + 1;
            while m < j && label_part(rows[m]) == label_part(rows[k]) {
                m += 1;
            }
            let size = (m - k) as u64;
            if size > 1 {
                d.groups += 1;
                d.duplicate_rows += size - 1;
                d.largest_group = d.largest_group.max(size);
            }
            if k > i {
                labels += 1;
            }
            k = m;
        }
        if labels > 1 {
            d.conflicting_groups += 1;
            d.conflicting_rows += (j - i) as u64;
        }
        i = j;
    }
    d
}

/// Sort fingerprints in place in O(n): an American-flag pass on the top 8 bits (hashes are
/// uniform, so the buckets are even; 256 write heads stay in cache), then, in parallel, a second
/// pass on the next 8 bits inside each bucket (which fits in cache) and a sort of the small
/// sub-buckets. No second copy of the column is made.
fn sort_fingerprints(v: &mut [u128]) {
    if v.len() < 1 << 16 {
        v.sort_unstable();
        return;
    }
    flag_pass(v, 120)
        .into_par_iter()
        .for_each(|part| match part.len() {
            0..=64 => part.sort_unstable(),
            _ => flag_pass(part, 112)
                .into_iter()
                .for_each(|p| p.sort_unstable()),
        });
}

/// Distribute `v` in place into 256 buckets by the 8 bits at `shift` and return them.
fn flag_pass(v: &mut [u128], shift: u32) -> Vec<&mut [u128]> {
    let bucket = |f: u128| ((f >> shift) & 0xff) as usize;
    let mut counts = [0usize; 256];
    for &f in v.iter() {
        counts[bucket(f)] += 1;
    }
    let mut next = [0usize; 256];
    let mut ends = [0usize; 256];
    let mut acc = 0;
    for b in 0..256 {
        next[b] = acc;
        acc += counts[b];
        ends[b] = acc;
    }
    for b in 0..256 {
        while next[b] < ends[b] {
            let mut x = v[next[b]];
            let mut t = bucket(x);
            // Follow the cycle until an element of bucket b comes back.
            while t != b {
                std::mem::swap(&mut x, &mut v[next[t]]);
                next[t] += 1;
                t = bucket(x);
            }
            v[next[b]] = x;
            next[b] += 1;
        }
    }
    let mut parts: Vec<&mut [u128]> = Vec::with_capacity(256);
    let mut rest: &mut [u128] = v;
    for c in counts {
        let (head, tail) = rest.split_at_mut(c);
        parts.push(head);
        rest = tail;
    }
    parts
}

/// The feature hash of row fingerprints, built a column at a time from the columns'
/// `column::value_hashes` (which the distinct-count sketches and text maps use too, so each value
/// is hashed once). Two 64-bit lanes take a multilinear combination of the value hashes: for the
/// feature column at position `k` (schema order, label, id and partition columns left out),
/// `a += h·A_k` and `b += rotl(h, 32)·B_k` with fixed odd multipliers; a row's 128-bit hash is the
/// Murmur3 finaliser of both lanes. The value hash is a bijection of a number's canonical key, so
/// rows that differ in one numeric column never share lane `a`; rows that differ in several
/// collide with probability about 2⁻⁶⁴ per lane. Rows with no feature columns all hash alike.
pub struct RowHasher {
    lanes: Vec<(u64, u64)>,
}

impl RowHasher {
    const SEED: (u64, u64) = (0x7073_6361_6e2d_726f, 0x772d_6861_7368_2d31);

    pub fn new() -> RowHasher {
        RowHasher { lanes: Vec::new() }
    }

    /// Start a batch of `n` rows.
    pub fn reset(&mut self, n: usize) {
        self.lanes.clear();
        self.lanes.resize(n, Self::SEED);
    }

    fn multipliers(position: usize) -> (u64, u64) {
        let k = position as u64;
        (
            hll::fmix64(0x1000_0000 + k) | 1,
            hll::fmix64(0x2000_0000 + k) | 1,
        )
    }

    /// Fold in the value hashes of the feature column at `position`.
    #[inline(never)]
    pub fn add_column(&mut self, position: usize, hashes: &[u64]) {
        let (ka, kb) = Self::multipliers(position);
        for (l, &h) in self.lanes.iter_mut().zip(hashes) {
            l.0 = l.0.wrapping_add(h.wrapping_mul(ka));
            l.1 = l.1.wrapping_add(h.rotate_left(32).wrapping_mul(kb));
        }
    }

    /// The 128-bit feature hash of each row of the batch.
    pub fn finish(&self) -> impl Iterator<Item = u128> + '_ {
        self.lanes.iter().map(|&(a, b)| {
            let hi = hll::fmix64(a ^ hll::fmix64(b ^ 0x5bd1_e995));
            let lo = hll::fmix64(b.wrapping_add(a.rotate_left(29)));
            (u128::from(hi) << 64) | u128::from(lo)
        })
    }
}

impl Default for RowHasher {
    fn default() -> Self {
        RowHasher::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{column, mix};

    #[test]
    fn duplicate_stats_by_hand() {
        let mut f = Fingerprints {
            rows: [
                (1, 7),
                (1, 7),
                (1, 7),
                (2, 7),
                (2, 8),
                (3, 1),
                (4, 1),
                (4, 1),
            ]
            .iter()
            .map(|&(f, l): &(u128, u32)| fingerprint(f << 48, l, 3))
            .collect(),
        };
        f.sort();
        let d = f.duplicates();
        assert_eq!(d.groups, 2); // (1,7)x3 and (4,1)x2
        assert_eq!(d.duplicate_rows, 3);
        assert_eq!(d.largest_group, 3);
        assert_eq!(d.conflicting_groups, 1); // features 2 with labels 7 and 8
        assert_eq!(d.conflicting_rows, 2);
    }

    #[test]
    fn row_hashes_follow_values_and_positions() {
        use arrow::array::{Float64Array, Int64Array, StringArray};
        let ints = Int64Array::from(vec![Some(3), Some(0), None, Some(7)]);
        let floats = Float64Array::from(vec![Some(3.0), Some(-0.0), None, Some(7.5)]);
        let text = StringArray::from(vec![Some("a"), Some(""), None, Some("b")]);
        let mut hi = Vec::new();
        let mut hf = Vec::new();
        let mut ht = Vec::new();
        column::value_hashes(&ints, &mut hi);
        column::value_hashes(&floats, &mut hf);
        column::value_hashes(&text, &mut ht);
        // Equal numbers hash alike across types (and -0 like 0); nulls alike across types.
        assert_eq!(&hi[..3], &hf[..3]);
        assert_ne!(hi[3], hf[3]);
        assert_eq!(ht[2], column::NULL_HASH);
        // A null is neither 0 nor the empty string.
        assert_ne!(hi[1], hi[2]);
        assert_ne!(ht[1], ht[2]);
        let rows = |cols: &[&[u64]]| -> Vec<u128> {
            let mut h = RowHasher::new();
            h.reset(cols[0].len());
            for (k, c) in cols.iter().enumerate() {
                h.add_column(k, c);
            }
            h.finish().collect()
        };
        let ab = rows(&[&hi, &ht]);
        let ba = rows(&[&ht, &hi]);
        let same = rows(&[&hf, &ht]);
        // Rows 0-2 have equal values in both tables; row 3 differs in one column.
        assert_eq!(&ab[..3], &same[..3]);
        assert_ne!(ab[3], same[3]);
        // The same values in other columns make another row (row 2 is null in both columns).
        for r in [0, 1, 3] {
            assert_ne!(ab[r], ba[r]);
        }
        assert_eq!(ab[2], ba[2]);
        // Every row of a table differs from the others.
        let mut u = ab.clone();
        u.sort_unstable();
        u.dedup();
        assert_eq!(u.len(), 4);
    }

    #[test]
    fn bucket_sort_matches_std_sort() {
        let mut v: Vec<u128> = (0..200_000u64)
            .map(|i| ((mix(i, 1) as u128) << 64) | mix(i, 2) as u128)
            .collect();
        let mut w = v.clone();
        w.sort_unstable();
        sort_fingerprints(&mut v);
        assert_eq!(v, w);
        // Skewed: one top byte, a few second bytes, many exact duplicates.
        let mut v: Vec<u128> = (0..100_000u64)
            .map(|i| (0xabu128 << 120) | (u128::from(i % 3) << 112) | u128::from(mix(i % 977, 5)))
            .collect();
        let mut w = v.clone();
        w.sort_unstable();
        sort_fingerprints(&mut v);
        assert_eq!(v, w);
    }
}
