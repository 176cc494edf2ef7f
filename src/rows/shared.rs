//! What the row pass's files share: the counter slots of slice codes (`slot_of`, `code_of_slot`),
//! the class id of a label no model knows, a reference sample's weighted counts (`RefCount`),
//! and row-major encoded rows (`nth_row`, `BatchRows`).

use super::encode::ABOVE_CODE;

/// Slice codes counted per feature: the ordinary codes below this, and the four special codes.
pub const SLICE_CODES: usize = 200;
/// Counter slots per feature (see `slot_of`).
pub const SLOTS: usize = SLICE_CODES + 4;
/// Class id of a label the model does not know.
pub const NO_CLASS: u16 = u16::MAX;

/// The counter slot of a code: ordinary codes below `SLICE_CODES`, then null, unseen, below
/// and above; `None` for other codes.
#[inline]
pub fn slot_of(code: u32) -> Option<usize> {
    if (code as usize) < SLICE_CODES {
        Some(code as usize)
    } else if code >= ABOVE_CODE {
        Some(SLICE_CODES + (u32::MAX - code) as usize)
    } else {
        None
    }
}

/// The code of a counter slot (the inverse of `slot_of`).
pub fn code_of_slot(k: usize) -> u32 {
    if k < SLICE_CODES {
        k as u32
    } else {
        u32::MAX - (k - SLICE_CODES) as u32
    }
}

/// Row `i` of a row-major matrix `d` wide (`m[i·d .. (i+1)·d]`).
#[inline]
pub fn nth_row<T>(m: &[T], d: usize, i: usize) -> &[T] {
    &m[i * d..(i + 1) * d]
}

/// A batch's encoded rows with their classes and provenance `(source, first_row + i)`.
pub struct BatchRows<'a> {
    pub x: &'a [f64],
    pub codes: &'a [u32],
    pub d: usize,
    pub class: &'a [u16],
    /// A numeric target's value per row (NaN for null); empty for classes.
    pub target: &'a [f64],
    pub source: u32,
    pub first_row: u64,
}

impl BatchRows<'_> {
    /// Row `i`'s encoding and slice codes.
    #[inline]
    pub fn row(&self, i: usize) -> (&[f64], &[u32]) {
        (nth_row(self.x, self.d, i), nth_row(self.codes, self.d, i))
    }

    #[inline]
    pub fn provenance(&self, i: usize) -> (u32, u64) {
        (self.source, self.first_row + i as u64)
    }
}

/// Reference sample rows of a group: weighted (standing for the reference's rows) and as
/// sample rows (for the uncertainty of the rate).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RefCount {
    pub rows_weighted: f64,
    pub flagged_weighted: f64,
    pub rows: u64,
    pub flagged: u64,
}

impl RefCount {
    pub(crate) fn add(&mut self, w: f64, flagged: bool) {
        self.rows_weighted += w;
        self.rows += 1;
        if flagged {
            self.flagged_weighted += w;
            self.flagged += 1;
        }
    }

    /// The weighted flagged share (0 without rows).
    pub fn rate(&self) -> f64 {
        if self.rows_weighted > 0.0 {
            self.flagged_weighted / self.rows_weighted
        } else {
            0.0
        }
    }
}

/// A hash map written in key order, so the same model gives the same bytes.
pub(crate) fn sorted_map<S, K, V, H>(
    m: &std::collections::HashMap<K, V, H>,
    s: S,
) -> Result<S::Ok, S::Error>
where
    S: serde::Serializer,
    K: Ord + serde::Serialize,
    V: serde::Serialize,
{
    use serde::Serialize;
    m.iter()
        .collect::<std::collections::BTreeMap<&K, &V>>()
        .serialize(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::encode::{BELOW_CODE, NULL_CODE, UNSEEN_CODE};

    #[test]
    fn slots_and_codes_round_trip() {
        for code in [
            0,
            1,
            SLICE_CODES as u32 - 1,
            NULL_CODE,
            UNSEEN_CODE,
            BELOW_CODE,
            ABOVE_CODE,
        ] {
            let k = slot_of(code).unwrap();
            assert!(k < SLOTS);
            assert_eq!(code_of_slot(k), code);
        }
        assert_eq!(slot_of(SLICE_CODES as u32), None);
        assert_eq!(slot_of(ABOVE_CODE - 1), None);
    }
}
