//! xxh3-128 of a span of an object whose bytes arrive as ranges in any order: a Parquet row
//! group's span, fetched as column chunks by the shards of a remote read. The hash is the
//! standard xxh3-128 of the span's bytes (the one a local copy's manifest holds), computed on
//! the bytes as they pass, so no byte is downloaded twice.
//!
//! xxh3 has no tree mode to merge pieces hashed out of order (BLAKE3's [`super::RangeHasher`]
//! does), so the span is hashed in order: a range that starts at or before the next unhashed
//! byte is hashed at once, and a range ahead of it is kept, as the shared [`Bytes`] the fetch
//! returned (no copy), until the gap before it fills. A row group's chunks usually arrive in
//! one merged request, in order; shards that split a row group by pages can leave up to the
//! row group's bytes waiting, which the decoder of that row group holds at the same time.
//! Bytes that arrive twice are hashed once.

use std::collections::BTreeMap;
use std::ops::Range;

use bytes::Bytes;
use xxhash_rust::xxh3::Xxh3;

/// A 128-bit digest as 32 lowercase hex digits, most significant first (as `xxhsum -H2`
/// prints it).
pub(crate) fn hex128(digest: u128) -> String {
    format!("{digest:032x}")
}

/// The xxh3-128 of the bytes `[base, base + len)` of an object, fed in ranges.
pub(crate) struct SpanXxh3 {
    base: u64,
    len: u64,
    /// Bytes hashed so far (relative to `base`): `[0, next)`.
    next: u64,
    state: Box<Xxh3>,
    /// Ranges that arrived ahead of `next`: start (relative to `base`) → bytes.
    ahead: BTreeMap<u64, Bytes>,
}

impl std::fmt::Debug for SpanXxh3 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanXxh3")
            .field("base", &self.base)
            .field("len", &self.len)
            .field("next", &self.next)
            .field("ahead", &self.ahead.len())
            .finish()
    }
}

impl SpanXxh3 {
    /// A hasher of the `len` bytes that start at `base` in the object.
    pub(crate) fn new(base: u64, len: u64) -> SpanXxh3 {
        SpanXxh3 {
            base,
            len,
            next: 0,
            state: Box::new(Xxh3::new()),
            ahead: BTreeMap::new(),
        }
    }

    /// Feed the object's bytes that start at `offset`; what falls outside this hasher's span,
    /// or was fed before, is ignored.
    pub(crate) fn add(&mut self, offset: u64, bytes: &Bytes) {
        let lo = offset.max(self.base);
        let hi = (offset + bytes.len() as u64).min(self.base + self.len);
        if lo >= hi {
            return;
        }
        let (a, b) = (lo - self.base, hi - self.base);
        if b <= self.next {
            return;
        }
        let piece = bytes.slice((lo - offset) as usize..(hi - offset) as usize);
        if a > self.next {
            // Keep the longer of two pieces that start at the same byte.
            let keep = self.ahead.get(&a).is_none_or(|old| old.len() < piece.len());
            if keep {
                self.ahead.insert(a, piece);
            }
            return;
        }
        self.take(a, &piece);
        // The pieces the gap was holding back.
        while let Some(entry) = self.ahead.first_entry() {
            if *entry.key() > self.next {
                break;
            }
            let (start, piece) = entry.remove_entry();
            self.take(start, &piece);
        }
    }

    /// Hash the part of `piece` (which starts at `start` ≤ `next`) beyond `next`.
    fn take(&mut self, start: u64, piece: &[u8]) {
        let end = start + piece.len() as u64;
        if end > self.next {
            self.state.update(&piece[(self.next - start) as usize..]);
            self.next = end;
        }
    }

    /// The object's byte ranges of this span not fed yet, in order.
    pub(crate) fn missing(&self) -> Vec<Range<u64>> {
        let mut out = Vec::new();
        let mut at = self.next;
        for (&s, piece) in &self.ahead {
            if s > at {
                out.push(self.base + at..self.base + s);
            }
            at = at.max(s + piece.len() as u64);
        }
        if at < self.len {
            out.push(self.base + at..self.base + self.len);
        }
        out
    }

    /// The hash, in hex, once every byte of the span has been fed (`None` before).
    pub(crate) fn finish(&self) -> Option<String> {
        (self.next == self.len).then(|| hex128(self.state.digest128()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xxhash_rust::xxh3::xxh3_128;

    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n.max(1)
        }
    }

    #[test]
    fn ranges_in_any_order_hash_as_the_whole() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for len in [0u64, 1, 15, 16, 17, 240, 241, 1024, 70_000, 300_001] {
            let data: Vec<u8> = (0..len).map(|i| (i * 131 + i / 977) as u8).collect();
            let data = Bytes::from(data);
            let want = hex128(xxh3_128(&data));
            for round in 0..20 {
                let mut cuts: Vec<u64> = (0..rng.below(12)).map(|_| rng.below(len + 1)).collect();
                cuts.extend([0, len]);
                cuts.sort();
                cuts.dedup();
                let mut pieces: Vec<(u64, u64)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
                // Some pieces widened to overlap their neighbours, some sent twice.
                for p in &mut pieces {
                    if rng.below(3) == 0 {
                        p.0 = p.0.saturating_sub(rng.below(3000));
                        p.1 = (p.1 + rng.below(3000)).min(len);
                    }
                }
                if !pieces.is_empty() && rng.below(2) == 0 {
                    pieces.push(pieces[rng.below(pieces.len() as u64) as usize]);
                }
                for i in (1..pieces.len()).rev() {
                    pieces.swap(i, rng.below(i as u64 + 1) as usize);
                }
                let mut h = SpanXxh3::new(0, len);
                for &(a, b) in &pieces {
                    h.add(a, &data.slice(a as usize..b as usize));
                }
                assert!(h.missing().is_empty(), "len {len} round {round}");
                assert_eq!(h.finish().as_deref(), Some(want.as_str()), "{pieces:?}");
            }
        }
    }

    #[test]
    fn a_span_inside_the_object_hashes_its_own_bytes_and_names_its_gaps() {
        let data = Bytes::from((0..50_000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>());
        let (base, len) = (4, 40_000u64);
        let mut h = SpanXxh3::new(base, len);
        // A range ahead of the first byte waits; ranges spill past both ends of the span.
        h.add(30_000, &data.slice(30_000..));
        assert_eq!(h.missing(), vec![4..30_000]);
        h.add(0, &data.slice(..20_000));
        assert_eq!(h.missing(), vec![20_000..30_000]);
        assert!(h.finish().is_none());
        h.add(19_000, &data.slice(19_000..31_000));
        assert!(h.missing().is_empty());
        let want = xxh3_128(&data[base as usize..(base + len) as usize]);
        assert_eq!(h.finish(), Some(hex128(want)));
        // The canonical form, high half first, as `xxhsum -H2` prints it.
        assert_eq!(hex128(1 << 64 | 2), "00000000000000010000000000000002");
        // The reference implementation's digest (python-xxhash 3.x, `xxh3_128_hexdigest`).
        assert_eq!(
            hex128(xxh3_128(b"hello world")),
            "df8d09e93f874900a99b8775cc15b6c7"
        );
    }
}
