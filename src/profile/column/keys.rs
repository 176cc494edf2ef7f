//! Values as keys: the canonical 64-bit key and text of a number, the per-row value hashes that
//! feed the distinct-count sketches, the text count maps and the row fingerprints, and the
//! cheap hasher for maps keyed by those hashes.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimestampMicrosecondType};
use xxhash_rust::xxh3::xxh3_64;

use crate::profile::hll::fmix64;

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

/// An integer's key: its `numeric_key` where a double holds it exactly (so that an int and a
/// float with equal values agree), else a key of its own, so that two integers past 2^53 that one
/// double would round together (IDs one apart near 2^60) stay two values. No double equals such
/// an integer, so nothing that should agree is parted.
#[inline]
pub fn int_key(x: i64) -> u64 {
    let f = x as f64;
    if f as i128 == x as i128 {
        numeric_key(f)
    } else {
        // Doubles' keys are their bit patterns; these are the integer's bits, turned so that
        // small magnitudes (never here) would not meet common doubles' patterns.
        (x as u64) ^ 0x9e37_79b9_7f4a_7c15
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

/// The 64-bit value hash of a null cell (see `value_hashes`).
pub const NULL_HASH: u64 = 0x6e75_6c6c_2d63_656c;
const BOOL_HASHES: [u64; 2] = [0xb001_0000_0000_0f00, 0xb001_0000_0000_0f01];

/// One 64-bit hash per row of a column: numbers (integers, floats, timestamps) as the Murmur3
/// finaliser of their canonical f64 key (`numeric_key`, so an int and a float with equal values
/// agree; `int_key` for an integer a double cannot hold), text as the xxh3-64 of its UTF-8 bytes,
/// booleans and nulls as fixed constants.
/// Computed once per column and batch, it feeds the distinct-count sketch (numbers), the batch's
/// text count map, and the row fingerprints (`profile::RowHasher`).
pub fn value_hashes(a: &dyn Array, out: &mut Vec<u64>) {
    out.clear();
    let n = a.len();
    match a.data_type() {
        DataType::Int64 => {
            let v = a.as_primitive::<Int64Type>().values();
            out.extend(v.iter().map(|&x| fmix64(int_key(x))));
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
            self.0 = fmix64(self.0 ^ u64::from(b));
        }
    }
    fn write_u64(&mut self, k: u64) {
        self.0 = fmix64(self.0 ^ k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_fold_signed_zero() {
        assert_eq!(numeric_key(-0.0), numeric_key(0.0));
        assert_eq!(numeric_text(3.0), "3");
        assert_eq!(numeric_text(0.5), "0.5");
    }

    #[test]
    fn integers_a_double_cannot_hold_keep_keys_of_their_own() {
        // Where a double holds the integer, the two agree (an int and a float column widened).
        for x in [0i64, 5, -7, 1 << 53, -(1 << 53), 1 << 60] {
            assert_eq!(int_key(x), numeric_key(x as f64), "{x}");
        }
        // 2^60 + 1 rounds to 2^60 as a double: its own key, and so do its neighbours.
        let base = 1i64 << 60;
        let keys: std::collections::HashSet<u64> = (1..200).map(|i| int_key(base + i)).collect();
        assert_eq!(keys.len(), 199);
        assert!(!keys.contains(&int_key(base)));
        // i64::MAX rounds to 2^63, which no i64 is.
        assert_ne!(int_key(i64::MAX), numeric_key(i64::MAX as f64));
        assert_ne!(int_key((1 << 53) + 1), int_key(1 << 53));
    }
}
