//! BLAKE3 of an object whose bytes arrive as ranges in any order: the column chunks that the
//! shards of a remote Parquet file fetch concurrently, then the footer and whatever else no
//! shard read. The hash is the standard BLAKE3 of the whole object (the one `b3sum` prints of
//! a local copy), computed on the bytes as they pass, so no byte is downloaded twice.
//!
//! Written by hand on the `blake3` crate's `hazmat` interface (chaining values of subtrees at
//! an offset, merged in the tree's shape): no crate hashes ranges that arrive out of order.
//! Each range's whole 1 KiB chunks are hashed at once as the largest aligned power-of-two
//! subtrees that fit (BLAKE3's tree is the left-full binary tree over chunks, so each such
//! block is one of its nodes), and the partial chunks at a range's two ends are kept as bytes
//! (under 2 KiB a range) until their neighbours arrive. [`RangeHasher::finish`] merges the
//! pieces in the tree's order. Bytes that arrive twice are hashed once. Tested against
//! `blake3::hash` on random sizes and random, overlapping, shuffled ranges.

use std::collections::BTreeMap;

use blake3::CHUNK_LEN;
use blake3::hazmat::{
    ChainingValue, HasherExt, Mode, left_subtree_len, merge_subtrees_non_root, merge_subtrees_root,
};

const C: u64 = CHUNK_LEN as u64;

/// The BLAKE3 of the bytes `[base, base + len)` of an object, fed in ranges.
#[derive(Debug, Clone)]
pub(crate) struct RangeHasher {
    base: u64,
    len: u64,
    /// Byte ranges (relative to `base`) already hashed or kept: start → end, disjoint.
    covered: BTreeMap<u64, u64>,
    /// Hashed subtrees: first chunk → (chunks, chaining value).
    blocks: BTreeMap<u64, (u64, ChainingValue)>,
    /// Bytes of chunks only partly covered by one range: offset → bytes.
    edges: BTreeMap<u64, Vec<u8>>,
}

impl RangeHasher {
    /// A hasher of the `len` bytes that start at `base` in the object.
    pub(crate) fn new(base: u64, len: u64) -> RangeHasher {
        RangeHasher {
            base,
            len,
            covered: BTreeMap::new(),
            blocks: BTreeMap::new(),
            edges: BTreeMap::new(),
        }
    }

    fn chunks(&self) -> u64 {
        self.len.div_ceil(C).max(1)
    }

    /// Feed the object's bytes that start at `offset`; what falls outside this hasher's span,
    /// or was fed before, is ignored.
    pub(crate) fn add(&mut self, offset: u64, bytes: &[u8]) {
        let lo = offset.max(self.base);
        let hi = (offset + bytes.len() as u64).min(self.base + self.len);
        if lo >= hi {
            return;
        }
        let (a, b) = (lo - self.base, hi - self.base);
        let base = self.base;
        let slice =
            |x: u64, y: u64| &bytes[(x + base - offset) as usize..(y + base - offset) as usize];
        // The parts of [a, b) not covered yet.
        let mut gaps = Vec::new();
        let mut at = a;
        let before = self.covered.range(..=a).next_back().map(|(&s, &e)| (s, e));
        if let Some((_, e)) = before
            && e > at
        {
            at = e;
        }
        for (&s, &e) in self.covered.range(a..b) {
            if s > at {
                gaps.push((at, s.min(b)));
            }
            at = at.max(e);
        }
        if at < b {
            gaps.push((at, b));
        }
        for (x, y) in gaps {
            self.hash_new(x, slice(x, y));
            self.cover(x, y);
        }
    }

    fn cover(&mut self, a: u64, b: u64) {
        let (mut s, mut e) = (a, b);
        if let Some((&ps, &pe)) = self.covered.range(..=a).next_back()
            && pe >= a
        {
            s = ps;
            e = e.max(pe);
        }
        let inside: Vec<u64> = self.covered.range(s..=e).map(|(&k, _)| k).collect();
        for k in inside {
            if let Some(ke) = self.covered.remove(&k) {
                e = e.max(ke);
            }
        }
        self.covered.insert(s, e);
    }

    /// Hash the whole chunks of `[a, a + data.len())` (relative offsets, not covered before)
    /// as subtrees, and keep the partial chunks at its ends.
    fn hash_new(&mut self, a: u64, data: &[u8]) {
        let b = a + data.len() as u64;
        let total = self.chunks();
        let first = a.div_ceil(C);
        let end = if b == self.len { total } else { b / C };
        if total == 1 || first >= end {
            self.edges.insert(a, data.to_vec());
            return;
        }
        if a < first * C {
            self.edges
                .insert(a, data[..(first * C - a) as usize].to_vec());
        }
        if end * C < b {
            self.edges
                .insert(end * C, data[(end * C - a) as usize..].to_vec());
        }
        let mut p = first;
        while p < end {
            // The largest power-of-two block aligned at `p` that fits, never the whole tree.
            let mut size = if p == 0 {
                1 << 62
            } else {
                1 << p.trailing_zeros()
            };
            while p + size > end || size >= total {
                size /= 2;
            }
            let from = (p * C - a) as usize;
            let to = (((p + size) * C).min(self.len) - a) as usize;
            let cv = blake3::Hasher::new()
                .set_input_offset(p * C)
                .update(&data[from..to])
                .finalize_non_root();
            self.blocks.insert(p, (size, cv));
            p += size;
        }
    }

    /// Bytes (relative to the span) no range has covered yet, as absolute offsets.
    pub(crate) fn missing(&self) -> Vec<std::ops::Range<u64>> {
        let mut out = Vec::new();
        let mut at = 0;
        for (&s, &e) in &self.covered {
            if s > at {
                out.push(self.base + at..self.base + s);
            }
            at = at.max(e);
        }
        if at < self.len {
            out.push(self.base + at..self.base + self.len);
        }
        out
    }

    /// The hash, in hex, once every byte of the span has been fed (`None` before).
    pub(crate) fn finish(&self) -> Option<String> {
        if !self.missing().is_empty() {
            return None;
        }
        let total = self.chunks();
        // The partial chunks' bytes, joined per chunk.
        let mut chunk_bytes: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
        for (&off, bytes) in &self.edges {
            let mut pos = off;
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                let chunk = pos / C;
                let take = ((chunk + 1) * C - pos).min(rest.len() as u64) as usize;
                chunk_bytes
                    .entry(chunk)
                    .or_default()
                    .extend_from_slice(&rest[..take]);
                pos += take as u64;
                rest = &rest[take..];
            }
        }
        if total == 1 {
            let bytes = chunk_bytes.remove(&0).unwrap_or_default();
            return Some(blake3::hash(&bytes).to_hex().to_string());
        }
        let left_bytes = left_subtree_len(self.len);
        let left = self.node(0, left_bytes / C, &chunk_bytes)?;
        let right = self.node(left_bytes / C, total - left_bytes / C, &chunk_bytes)?;
        Some(
            merge_subtrees_root(&left, &right, Mode::Hash)
                .to_hex()
                .to_string(),
        )
    }

    /// The chaining value of the (non-root) subtree of `n` chunks from chunk `p`.
    fn node(&self, p: u64, n: u64, chunk_bytes: &BTreeMap<u64, Vec<u8>>) -> Option<ChainingValue> {
        if let Some(&(size, cv)) = self.blocks.get(&p)
            && size == n
        {
            return Some(cv);
        }
        if n == 1 {
            let bytes = chunk_bytes.get(&p)?;
            return Some(
                blake3::Hasher::new()
                    .set_input_offset(p * C)
                    .update(bytes)
                    .finalize_non_root(),
            );
        }
        let bytes = ((p + n) * C).min(self.len) - p * C;
        let left = left_subtree_len(bytes) / C;
        let l = self.node(p, left, chunk_bytes)?;
        let r = self.node(p + left, n - left, chunk_bytes)?;
        Some(merge_subtrees_non_root(&l, &r, Mode::Hash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (no test dependency needed).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
    }

    #[test]
    fn ranges_in_any_order_hash_as_the_whole() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let sizes = [
            0u64, 1, 1023, 1024, 1025, 2048, 3000, 4096, 5000, 70_000, 300_001,
        ];
        for (k, &len) in sizes
            .iter()
            .chain([rng.below(2_000_000)].iter())
            .enumerate()
        {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 + i / 1000) as u8).collect();
            let want = blake3::hash(&data).to_hex().to_string();
            for round in 0..12 {
                // Cut points, shuffled pieces, some pieces widened to overlap their neighbours.
                let mut cuts: Vec<u64> = (0..rng.below(12)).map(|_| rng.below(len + 1)).collect();
                cuts.extend([0, len]);
                cuts.sort();
                cuts.dedup();
                let mut pieces: Vec<(u64, u64)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
                for p in &mut pieces {
                    if rng.below(3) == 0 {
                        p.0 = p.0.saturating_sub(rng.below(3000));
                        p.1 = (p.1 + rng.below(3000)).min(len);
                    }
                }
                for i in (1..pieces.len()).rev() {
                    let j = rng.below(i as u64 + 1) as usize;
                    pieces.swap(i, j);
                }
                let mut h = RangeHasher::new(0, len);
                for (i, &(a, b)) in pieces.iter().enumerate() {
                    if i + 1 < pieces.len() || len == 0 {
                        assert!(h.finish().is_none() || h.missing().is_empty());
                    }
                    h.add(a, &data[a as usize..b as usize]);
                }
                if len == 0 {
                    h.add(0, &[]);
                }
                assert!(h.missing().is_empty(), "case {k} round {round}");
                assert_eq!(
                    h.finish().as_deref(),
                    Some(want.as_str()),
                    "len {len} round {round} pieces {pieces:?}"
                );
            }
        }
    }

    #[test]
    fn a_span_inside_the_object_hashes_its_own_bytes() {
        let data: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
        let (base, len) = (4, 40_000u64);
        let mut h = RangeHasher::new(base, len);
        // Ranges that spill past both ends of the span.
        h.add(0, &data[..20_000]);
        assert_eq!(h.missing(), vec![20_000..base + len]);
        assert!(h.finish().is_none());
        h.add(19_000, &data[19_000..]);
        let want = blake3::hash(&data[base as usize..(base + len) as usize]);
        assert_eq!(h.finish(), Some(want.to_hex().to_string()));
    }
}
