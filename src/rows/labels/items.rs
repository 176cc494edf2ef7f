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

/// Quantiles of the baseline's target that bound the classes of a numeric label: its two 5%
/// tails (where a trigger rule's targets sit), its quartiles and its median.
pub const TARGET_QUANTILES: [f64; 5] = [0.05, 0.25, 0.5, 0.75, 0.95];

/// A label a rule may imply: one class, or a numeric target's extreme tail (several bins).
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Class ids, ascending.
    pub classes: Vec<usize>,
    pub name: String,
}

impl Target {
    /// The target's total of per-class counts.
    pub fn count(&self, per_class: &[u64]) -> u64 {
        self.classes.iter().map(|&c| per_class[c]).sum()
    }

    /// The target's total of per-class weights or shares.
    pub fn sum(&self, per_class: &[f64]) -> f64 {
        self.classes.iter().map(|&c| per_class[c]).sum()
    }
}

/// Label values and their class ids. A numeric target's classes are bins between the
/// baseline's quantiles (`edges`), then null when either side has null targets.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(into = "ClassesRepr", from = "ClassesRepr")]
pub struct Classes {
    pub names: Vec<String>,
    index: HashMap<String, u16>,
    ints: HashMap<i64, u16>,
    /// A numeric target's bin edges (strictly increasing; bin `k` is `[edges[k−1],
    /// edges[k])`); empty for classes.
    pub edges: Vec<f64>,
    /// The baseline quantile of each of `edges` (empty for classes, and in models saved before
    /// the tails were named).
    pub edge_quantiles: Vec<f64>,
    /// Whether these are a numeric target's bins.
    numeric: bool,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ClassesRepr {
    names: Vec<String>,
    edges: Vec<f64>,
    #[serde(default)]
    edge_quantiles: Vec<f64>,
    numeric: bool,
}

impl From<Classes> for ClassesRepr {
    fn from(c: Classes) -> ClassesRepr {
        ClassesRepr {
            names: c.names,
            edges: c.edges,
            edge_quantiles: c.edge_quantiles,
            numeric: c.numeric,
        }
    }
}

impl From<ClassesRepr> for Classes {
    fn from(r: ClassesRepr) -> Classes {
        let mut c = Classes::new(r.names);
        c.edges = r.edges;
        c.edge_quantiles = r.edge_quantiles;
        c.numeric = r.numeric;
        c
    }
}

impl Classes {
    /// How many label classes confident learning's issues are counted by (LBL003's per-class
    /// test): every class, none for a numeric target.
    pub fn issue_groups(&self) -> usize {
        if self.is_numeric() { 0 } else { self.len() }
    }

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
        Classes {
            names,
            index,
            ints,
            edges: Vec::new(),
            edge_quantiles: Vec::new(),
            numeric: false,
        }
    }

    /// The classes of a numeric target: `quantiles` are the baseline's (quantile, value) at
    /// `TARGET_QUANTILES`; equal values merge (a target with ties has fewer bins). `null`: a
    /// class for null targets. Each bin is named by its values and the baseline's share
    /// below them: `< 1.2 (bottom 5%)`, `1.2 to 3.4 (5–25%)`, `≥ 9.8 (top 5%)`.
    pub fn numeric(quantiles: &[(f64, f64)], null: bool) -> Classes {
        let mut edges: Vec<(f64, f64)> = Vec::new();
        for &(q, v) in quantiles {
            if v.is_finite() && edges.last().is_none_or(|&(_, last)| v > last) {
                edges.push((q, v));
            }
        }
        let text = crate::profile::column::numeric_text;
        let pct = |q: f64| format!("{}", (q * 100.0).round());
        let mut names = Vec::with_capacity(edges.len() + 2);
        if edges.is_empty() {
            names.push("any value".to_string());
        }
        for k in 0..edges.len() + usize::from(!edges.is_empty()) {
            let name = match (k.checked_sub(1).map(|j| edges[j]), edges.get(k)) {
                (None, Some(&(q, v))) => format!("< {} (bottom {}%)", text(v), pct(q)),
                (Some((q, v)), None) => format!("≥ {} (top {}%)", text(v), pct(1.0 - q)),
                (Some((q0, v0)), Some(&(q1, v1))) => {
                    format!("{} to {} ({}–{}%)", text(v0), text(v1), pct(q0), pct(q1))
                }
                (None, None) => unreachable!("k ≤ edges.len() with edges non-empty"),
            };
            names.push(name);
        }
        if null {
            names.push(crate::profile::NULL_LABEL.to_string());
        }
        let mut c = Classes::new(names);
        c.edge_quantiles = edges.iter().map(|&(q, _)| q).collect();
        c.edges = edges.into_iter().map(|(_, v)| v).collect();
        c.numeric = true;
        c
    }

    /// The labels a rule may imply: every class, then for a numeric target its two extreme
    /// tails, each the two bins past the baseline's 75th percentile or before its 25th
    /// (when the quantiles are distinct enough for that to be a tail of several bins). A
    /// trigger that sends targets into the top quarter spreads them over the bins 75–95% and
    /// top 5%, neither of which it fills alone.
    pub fn targets(&self) -> Vec<Target> {
        let mut out: Vec<Target> = (0..self.len())
            .map(|c| Target {
                classes: vec![c],
                name: self.names[c].clone(),
            })
            .collect();
        let (e, q) = (&self.edges, &self.edge_quantiles);
        if !self.numeric || e.len() < 3 || q.len() != e.len() {
            return out;
        }
        let text = crate::profile::column::numeric_text;
        let pct = |q: f64| format!("{}", (q * 100.0).round());
        // Bins 0..=e.len(); the top tail starts at edge e.len() − 2, the bottom one ends at 1.
        let top = e.len() - 2;
        if q[top] >= 0.75 - 1e-9 {
            out.push(Target {
                classes: vec![top + 1, top + 2],
                name: format!("≥ {} (top {}%)", text(e[top]), pct(1.0 - q[top])),
            });
        }
        if q[1] <= 0.25 + 1e-9 {
            out.push(Target {
                classes: vec![0, 1],
                name: format!("< {} (bottom {}%)", text(e[1]), pct(q[1])),
            });
        }
        out
    }

    /// Whether these are a numeric target's bins.
    pub fn is_numeric(&self) -> bool {
        self.numeric
    }

    /// The class of a numeric target's value (null and NaN: the null class, if any).
    pub fn of_value(&self, x: Option<f64>) -> u16 {
        match x {
            Some(x) if !x.is_nan() => self.edges.partition_point(|&e| e <= x) as u16,
            _ => self.id(crate::profile::NULL_LABEL),
        }
    }

    /// A numeric target's value at every sample row of `p` (NaN for null); empty for classes.
    pub fn sample_targets(&self, p: &crate::profile::Profile) -> Vec<f64> {
        use crate::profile::SampleValue;
        if !self.is_numeric() {
            return Vec::new();
        }
        let label = p
            .label
            .as_ref()
            .and_then(|l| p.columns.iter().position(|c| &c.name == l));
        p.sample
            .rows()
            .map(|(_, r)| match label.and_then(|i| r.values.get(i)) {
                Some(SampleValue::Number(x)) => *x,
                _ => f64::NAN,
            })
            .collect()
    }

    /// The class of every sample row of `p` (in `Sample::rows` order): by its label key, or
    /// for a numeric target by its label value.
    pub fn of_sample(&self, p: &crate::profile::Profile) -> Vec<u16> {
        if !self.is_numeric() {
            return p.sample.rows().map(|(l, _)| self.id(l)).collect();
        }
        // (A NaN target, as a null one, is in the null class.)
        self.sample_targets(p)
            .into_iter()
            .map(|y| self.of_value(Some(y)))
            .collect()
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
        if self.is_numeric() {
            match crate::rows::encode::numbers_of(a) {
                Some(v) => {
                    out.extend((0..n).map(|i| self.of_value((!a.is_null(i)).then(|| v.get(i)))))
                }
                None => out.extend(std::iter::repeat_n(NO_CLASS, n)),
            }
            return;
        }
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

    /// A numeric target's bins: named by their values and quantiles, ties merged, values at an
    /// edge in the bin above it, null and NaN in the null class.
    #[test]
    fn numeric_classes_bin_on_the_baseline_quantiles() {
        use arrow::array::Float64Array;
        let q = [
            (0.05, 1.0),
            (0.25, 2.0),
            (0.5, 2.0),
            (0.75, 5.5),
            (0.95, 9.0),
        ];
        let c = Classes::numeric(&q, true);
        assert_eq!(
            c.names,
            vec![
                "< 1 (bottom 5%)",
                "1 to 2 (5–25%)",
                "2 to 5.5 (25–75%)",
                "5.5 to 9 (75–95%)",
                "≥ 9 (top 5%)",
                "<null>"
            ]
        );
        assert_eq!(c.edges, vec![1.0, 2.0, 5.5, 9.0]);
        let mut out = Vec::new();
        c.ids(
            &Float64Array::from(vec![
                Some(0.5),
                Some(1.0),
                Some(2.0),
                Some(5.49),
                Some(9.0),
                Some(1e9),
                None,
                Some(f64::NAN),
            ]),
            &mut out,
        );
        assert_eq!(out, vec![0, 1, 2, 2, 4, 4, 5, 5]);
        // Without null targets there is no null class; a target that is 3 from its 5th to its
        // 95th percentile has two bins, the upper one from the first of the tied quantiles.
        let c = Classes::numeric(&[(0.05, 3.0), (0.5, 3.0), (0.95, 3.0)], false);
        assert_eq!(c.names, vec!["< 3 (bottom 5%)", "≥ 3 (top 95%)"]);
        assert_eq!(c.of_value(None), NO_CLASS);
        // It survives serialization (the Spark driver ships the model to its tasks).
        let back: Classes = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back.edges, c.edges);
        assert!(back.is_numeric());
    }

    #[test]
    fn a_numeric_targets_tails_are_targets_of_their_own() {
        let names = |t: &[Target]| t.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
        // Classes imply themselves only.
        let c = Classes::new(vec!["0".into(), "1".into()]);
        let t = c.targets();
        assert_eq!(names(&t), vec!["0", "1"]);
        assert_eq!(t[1].classes, vec![1]);
        // A target with five distinct quantiles (and nulls): its six bins and the null class,
        // then the two bins past the 75th percentile and the two below the 25th.
        let q = [
            (0.05, 1.0),
            (0.25, 2.0),
            (0.5, 3.0),
            (0.75, 5.5),
            (0.95, 9.0),
        ];
        let c = Classes::numeric(&q, true);
        let t = c.targets();
        assert_eq!(t.len(), c.len() + 2);
        assert_eq!(t[c.len()].classes, vec![4, 5]);
        assert_eq!(t[c.len()].name, "≥ 5.5 (top 25%)");
        assert_eq!(t[c.len() + 1].classes, vec![0, 1]);
        assert_eq!(t[c.len() + 1].name, "< 2 (bottom 25%)");
        assert_eq!(t[c.len()].count(&[1, 2, 3, 4, 5, 6, 7]), 11);
        assert_eq!(
            t[c.len() + 1].sum(&[0.5, 0.25, 0.0, 0.0, 0.0, 0.0, 0.0]),
            0.75
        );
        // The tails survive serialization.
        let back: Classes = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back.targets(), t);
        // A median tied with the quartiles (wine's grades: 5, 5, 6, 6, 7): three edges, and
        // the two bins on either side reach the median, no tail: no tail targets.
        let c = Classes::numeric(
            &[
                (0.05, 5.0),
                (0.25, 5.0),
                (0.5, 6.0),
                (0.75, 6.0),
                (0.95, 7.0),
            ],
            false,
        );
        assert_eq!(c.targets().len(), c.len());
        // A model saved before the tails were named has none.
        let old: Classes = serde_json::from_str(
            r#"{"names":["< 1 (bottom 5%)","1 to 2 (5–25%)","2 to 3 (25–50%)","3 to 5.5 (50–75%)","5.5 to 9 (75–95%)","≥ 9 (top 5%)"],"edges":[1.0,2.0,3.0,5.5,9.0],"numeric":true}"#,
        )
        .unwrap();
        assert_eq!(old.targets().len(), 6);
    }

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
