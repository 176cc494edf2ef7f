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
}
