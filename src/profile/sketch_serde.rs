//! Serde adapters that store DataSketches sketches in their own (cross-language) binary format.
//!
//! The frequent-items image is written with its items in a canonical order (`canonical`): the
//! crate writes them in its hash map's slot order, which depends on the order they went in, so
//! a profile read back (which re-inserts them) and written again gave other bytes. Sorted, the
//! bytes depend only on the sketch's items, counts and header: write, read, write is stable.

use datasketches::frequencies::FrequentItemsSketch;
use serde::{Deserializer, Serializer};

pub mod freq_str {
    use super::*;

    pub fn serialize<S: Serializer>(
        s: &FrequentItemsSketch<String>,
        ser: S,
    ) -> Result<S::Ok, S::Error> {
        ser.serialize_bytes(&canonical(s.serialize(), str_len))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        de: D,
    ) -> Result<FrequentItemsSketch<String>, D::Error> {
        let bytes: Vec<u8> = serde_bytes_vec(de)?;
        check_image(&bytes).map_err(serde::de::Error::custom)?;
        FrequentItemsSketch::<String>::deserialize(&bytes).map_err(serde::de::Error::custom)
    }

    /// The sketch as it is read back from its canonical image.
    pub fn reread(s: &FrequentItemsSketch<String>) -> Result<FrequentItemsSketch<String>, String> {
        let bytes = canonical(s.serialize(), str_len);
        FrequentItemsSketch::<String>::deserialize(&bytes).map_err(|e| e.to_string())
    }

    fn str_len(rest: &[u8]) -> Option<usize> {
        let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        4usize.checked_add(len)
    }
}

pub mod freq_num {
    use super::*;

    pub fn serialize<S: Serializer>(
        s: &FrequentItemsSketch<i64>,
        ser: S,
    ) -> Result<S::Ok, S::Error> {
        ser.serialize_bytes(&canonical(s.serialize(), |_| Some(8)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        de: D,
    ) -> Result<FrequentItemsSketch<i64>, D::Error> {
        let bytes: Vec<u8> = serde_bytes_vec(de)?;
        check_image(&bytes).map_err(serde::de::Error::custom)?;
        FrequentItemsSketch::<i64>::deserialize(&bytes).map_err(serde::de::Error::custom)
    }

    /// The sketch as it is read back from its canonical image.
    pub fn reread(s: &FrequentItemsSketch<i64>) -> Result<FrequentItemsSketch<i64>, String> {
        let bytes = canonical(s.serialize(), |_| Some(8));
        FrequentItemsSketch::<i64>::deserialize(&bytes).map_err(|e| e.to_string())
    }
}

/// What the crate does not check of an image before acting on it, and a profile's sketches
/// always satisfy: the map sizes poisonscan uses (an image may otherwise ask for a map of 2^30
/// slots, an allocation that aborts the process), an offset within the stream weight, and a
/// weight far from overflow when profiles are merged.
fn check_image(bytes: &[u8]) -> Result<(), String> {
    let lg_max = crate::profile::column::FREQ_MAP.trailing_zeros() as u8;
    let (Some(&max), Some(&cur)) = (bytes.get(3), bytes.get(4)) else {
        return Err("a frequent-items sketch is truncated".into());
    };
    if max != lg_max || cur > lg_max {
        return Err(format!(
            "a frequent-items sketch has map sizes 2^{max} and 2^{cur}; profiles use 2^{lg_max}"
        ));
    }
    if bytes.len() >= 32 && bytes[0] & 0x3F == 4 {
        let word = |at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[at..at + 8]);
            u64::from_le_bytes(w)
        };
        let (weight, offset) = (word(16), word(24));
        if weight > 1 << 56 || offset > weight {
            return Err(format!(
                "a frequent-items sketch has stream weight {weight} and offset {offset}"
            ));
        }
    }
    Ok(())
}

/// A non-empty frequent-items image (DataSketches' layout: 4 preamble longs holding the number
/// of active items, then each item's count as a u64, then the items, each `item_len` bytes long)
/// with its (item, count) pairs sorted by the item's bytes. An image of another shape is
/// returned as it is.
fn canonical(bytes: Vec<u8>, item_len: impl Fn(&[u8]) -> Option<usize>) -> Vec<u8> {
    const HEADER: usize = 32;
    if bytes.len() < HEADER || bytes[0] & 0x3F != 4 {
        return bytes; // empty: no items
    }
    let n = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
    let Some(counts_end) = n.checked_mul(8).and_then(|c| c.checked_add(HEADER)) else {
        return bytes;
    };
    let mut pairs = Vec::with_capacity(n);
    let mut at = counts_end;
    for i in 0..n {
        let Some(len) = bytes.get(at..).and_then(&item_len) else {
            return bytes;
        };
        let (Some(item), Some(count)) = (
            bytes.get(at..at.saturating_add(len)),
            bytes.get(HEADER + 8 * i..HEADER + 8 * i + 8),
        ) else {
            return bytes;
        };
        pairs.push((item, count));
        at += len;
    }
    if at != bytes.len() {
        return bytes;
    }
    pairs.sort_unstable();
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..HEADER]);
    for (_, count) in &pairs {
        out.extend_from_slice(count);
    }
    for (item, _) in &pairs {
        out.extend_from_slice(item);
    }
    out
}

pub(crate) fn serde_bytes_vec<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<u8>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("bytes")
        }
        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }
        fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
            let mut out = Vec::new();
            while let Some(b) = seq.next_element::<u8>()? {
                out.push(b);
            }
            Ok(out)
        }
    }
    de.deserialize_bytes(V)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written, read and written again, a sketch gives the same bytes, whatever order its items
    /// went in; and the canonical image reads back to the same estimates.
    #[test]
    fn frequent_items_write_read_write_is_stable() {
        let mut a = FrequentItemsSketch::<String>::new(64).unwrap();
        let mut b = FrequentItemsSketch::<String>::new(64).unwrap();
        let items: Vec<(String, u64)> = (0..40).map(|i| (format!("v{i}"), 1 + i % 7)).collect();
        for (item, count) in &items {
            a.update_with_count(item.clone(), *count);
        }
        for (item, count) in items.iter().rev() {
            b.update_with_count(item.clone(), *count);
        }
        let len = |rest: &[u8]| {
            let n = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
            Some(4 + n)
        };
        let ca = canonical(a.serialize(), len);
        assert_eq!(ca, canonical(b.serialize(), len));
        let back = FrequentItemsSketch::<String>::deserialize(&ca).unwrap();
        assert_eq!(canonical(back.serialize(), len), ca);
        for (item, count) in &items {
            assert_eq!(back.estimate(item), *count);
        }
        let mut n = FrequentItemsSketch::<i64>::new(64).unwrap();
        for i in [5i64, -3, 99, 0, 7] {
            n.update_with_count(i, 2);
        }
        let cn = canonical(n.serialize(), |_| Some(8));
        let back = FrequentItemsSketch::<i64>::deserialize(&cn).unwrap();
        assert_eq!(canonical(back.serialize(), |_| Some(8)), cn);
        // Images a profile never holds are refused before the crate reads them.
        let mut huge = ca.clone();
        huge[3] = 30;
        huge[4] = 30;
        assert!(check_image(&huge).unwrap_err().contains("2^30"));
        let mut offset = ca.clone();
        offset[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(check_image(&offset).is_err());
        let mut real = FrequentItemsSketch::<i64>::new(crate::profile::column::FREQ_MAP).unwrap();
        real.update_with_count(1, 5);
        assert!(check_image(&real.serialize()).is_ok());
        // An empty sketch's image has no items and passes through.
        let e = FrequentItemsSketch::<i64>::new(64).unwrap().serialize();
        assert_eq!(canonical(e.clone(), |_| Some(8)), e);
    }
}
