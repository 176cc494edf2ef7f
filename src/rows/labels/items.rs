//! Items and rules, the words the label checks count in: an item is one slice code of one
//! feature or one exact value; a rule is 1–3 items. Label values and their class ids, a row's
//! codes, and the matcher that finds the rules a row satisfies.

use std::collections::{BTreeMap, HashMap};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Int64Type};

use crate::profile::label_text;
use crate::rows::encode::{Encoder, Kind, UNSEEN_CODE};
use crate::rows::shared::{NO_CLASS, SLOTS, slot_of};

/// A row's code for a value feature when it holds none of the feature's values.
pub const NO_VALUE: u32 = u32::MAX;

/// One item: slice code `code` of encoder feature `feature`, or, for `feature ≥ d`, value
/// `code` of value feature `feature − d`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Item {
    pub feature: u32,
    pub code: u32,
}

/// A rule's left-hand side: 1–3 items on distinct features, sorted.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Rule {
    pub items: Vec<Item>,
}

/// Exact numeric values of one column counted as items.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ValueFeature {
    pub column: String,
    /// The encoder feature of the same column.
    pub feature: usize,
    /// Sorted, distinct, finite.
    pub values: Vec<f64>,
}

/// Label values and their class ids.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(into = "Vec<String>", from = "Vec<String>")]
pub struct Classes {
    pub names: Vec<String>,
    index: HashMap<String, u16>,
    ints: HashMap<i64, u16>,
}

impl From<Classes> for Vec<String> {
    fn from(c: Classes) -> Vec<String> {
        c.names
    }
}

impl From<Vec<String>> for Classes {
    fn from(names: Vec<String>) -> Classes {
        Classes::new(names)
    }
}

impl Classes {
    pub(super) fn new(names: Vec<String>) -> Classes {
        let index: HashMap<String, u16> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u16))
            .collect();
        let ints = names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                let v: i64 = n.parse().ok()?;
                (v.to_string() == *n).then_some((v, i as u16))
            })
            .collect();
        Classes { names, index, ints }
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn id(&self, label: &str) -> u16 {
        self.index.get(label).copied().unwrap_or(NO_CLASS)
    }

    /// The class id of every row of a label column (text as `profile::label_text` gives it).
    pub fn ids(&self, a: &dyn Array, out: &mut Vec<u16>) {
        out.clear();
        let n = a.len();
        let null = self.id(crate::profile::NULL_LABEL);
        match a.data_type() {
            DataType::Utf8 => {
                let s = a.as_string::<i32>();
                out.extend((0..n).map(|i| {
                    if s.is_null(i) {
                        null
                    } else {
                        self.id(s.value(i))
                    }
                }));
            }
            DataType::Int64 => {
                let v = a.as_primitive::<Int64Type>();
                out.extend((0..n).map(|i| {
                    if v.is_null(i) {
                        null
                    } else {
                        self.ints.get(&v.value(i)).copied().unwrap_or(NO_CLASS)
                    }
                }));
            }
            _ => out.extend((0..n).map(|i| self.id(&label_text(a, i)))),
        }
    }
}

/// A row's codes: encoder features, then value features.
pub(super) struct RowCodes<'a> {
    pub(super) codes: &'a [u32],
    pub(super) d: usize,
    pub(super) values: &'a [u32],
    pub(super) v: usize,
}

impl RowCodes<'_> {
    #[inline]
    pub(super) fn get(&self, i: usize, f: usize) -> u32 {
        if f < self.d {
            self.codes[i * self.d + f]
        } else {
            self.values[i * self.v + f - self.d]
        }
    }

    fn matches(&self, i: usize, rule: &Rule) -> bool {
        rule.items
            .iter()
            .all(|it| self.get(i, it.feature as usize) == it.code)
    }
}

/// Whether a code of a feature is an item: categories (the reference's and the current-only
/// ones), nulls, values past the reference's range, decile bins, a value feature's values; not
/// the missing indicators or the lumped unseen categories.
pub(super) fn is_item(encoder: &Encoder, f: usize, code: u32) -> bool {
    if f >= encoder.dim() {
        return code != NO_VALUE;
    }
    match &encoder.features[f].kind {
        Kind::Missing => false,
        _ => code != UNSEEN_CODE && slot_of(code).is_some(),
    }
}

pub(super) fn build_matcher(rules: &[Rule]) -> Vec<(u32, Vec<Vec<u32>>)> {
    let mut by_feature: BTreeMap<u32, Vec<Vec<u32>>> = BTreeMap::new();
    for (r, rule) in rules.iter().enumerate() {
        let first = rule.items[0];
        let Some(k) = slot_of(first.code) else {
            continue;
        };
        by_feature
            .entry(first.feature)
            .or_insert_with(|| vec![Vec::new(); SLOTS])[k]
            .push(r as u32);
    }
    by_feature.into_iter().collect()
}

#[inline]
pub(super) fn for_each_match(
    matcher: &[(u32, Vec<Vec<u32>>)],
    rules: &[Rule],
    rows: &RowCodes<'_>,
    i: usize,
    mut hit: impl FnMut(usize),
) {
    for (f, by_slot) in matcher {
        let code = rows.get(i, *f as usize);
        let Some(k) = slot_of(code) else { continue };
        for &r in &by_slot[k] {
            let rule = &rules[r as usize];
            // The first item matched through its slot; a slot is one code.
            if rule.items[0].code == code && rows.matches(i, rule) {
                hit(r as usize);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_ids_of_typed_label_columns() {
        use arrow::array::{Int64Array, StringArray};
        let c = Classes::new(vec![
            "0".into(),
            "1".into(),
            crate::profile::NULL_LABEL.into(),
        ]);
        let mut out = Vec::new();
        c.ids(
            &Int64Array::from(vec![Some(1), None, Some(0), Some(7)]),
            &mut out,
        );
        assert_eq!(out, vec![1, 2, 0, NO_CLASS]);
        c.ids(
            &StringArray::from(vec![Some("0"), Some("x"), None]),
            &mut out,
        );
        assert_eq!(out, vec![0, NO_CLASS, 2]);
    }
}
