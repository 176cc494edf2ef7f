//! A rule's analogue in the baseline (values past the baseline's range replaced by its own most
//! extreme values), and an item in words.

use super::items::{Item, Rule, ValueFeature};
use super::model::LabelModel;
use crate::profile::Profile;
use crate::rows::encode::{ABOVE_CODE, BELOW_CODE, Encoder, Kind};
use crate::rows::pass::{RowModel, SliceDesc};

/// Share of the baseline at either end that stands for values past its range.
pub const TAIL_SHARE: f64 = 0.01;

/// An item of a rule's baseline analogue.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum AnalogueItem {
    /// The item itself.
    Same(Item),
    /// The baseline's most extreme values of a numeric column: at or above `threshold`
    /// (`above`), else at or below it. `column` indexes the baseline profile's columns.
    Tail {
        column: usize,
        above: bool,
        threshold: f64,
    },
}

/// A rule's analogue in the baseline: the same items, with a value past the baseline's range
/// (an out-of-range code, or an exact value outside `[min, max]`) replaced by the baseline's
/// own most extreme values on that side (its top or bottom `TAIL_SHARE`). A rule on values the
/// baseline never had is then compared with the nearest rows it did have: "age above the old
/// maximum → not employed" is no trigger when the oldest 1% were not employed in the baseline
/// either; "hours above the old maximum → high income" is one when the longest hours were
/// mixed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Analogue {
    pub items: Vec<AnalogueItem>,
}

impl Analogue {
    /// Whether the analogue differs from its rule (the rule has values past the range).
    pub fn is_substituted(&self) -> bool {
        self.items
            .iter()
            .any(|it| matches!(it, AnalogueItem::Tail { .. }))
    }
}

/// The analogue of `rule`; `tails[f]` is encoder feature `f`'s baseline column index and its
/// (bottom, top) `TAIL_SHARE` quantiles, for numeric features.
pub fn analogue(
    encoder: &Encoder,
    values: &[ValueFeature],
    tails: &[Option<(usize, f64, f64)>],
    rule: &Rule,
) -> Analogue {
    let d = encoder.dim();
    let tail = |f: usize, above: bool| -> Option<AnalogueItem> {
        let (column, lo, hi) = (*tails.get(f)?)?;
        Some(AnalogueItem::Tail {
            column,
            above,
            threshold: if above { hi } else { lo },
        })
    };
    let items = rule
        .items
        .iter()
        .map(|&it| {
            let f = it.feature as usize;
            let mapped = if f < d {
                match it.code {
                    ABOVE_CODE => tail(f, true),
                    BELOW_CODE => tail(f, false),
                    _ => None,
                }
            } else {
                values.get(f - d).and_then(|vf| {
                    let x = *vf.values.get(it.code as usize)?;
                    let Kind::Numeric { min, max, .. } = &encoder.features.get(vf.feature)?.kind
                    else {
                        return None;
                    };
                    if x > *max {
                        tail(vf.feature, true)
                    } else if x < *min {
                        tail(vf.feature, false)
                    } else {
                        None
                    }
                })
            };
            mapped.unwrap_or(AnalogueItem::Same(it))
        })
        .collect();
    Analogue { items }
}

/// Per encoder feature: for numeric ones, the baseline column's index and its bottom and top
/// `TAIL_SHARE` quantiles.
pub(super) fn baseline_tails(
    baseline: &Profile,
    encoder: &Encoder,
) -> Vec<Option<(usize, f64, f64)>> {
    encoder
        .features
        .iter()
        .map(|f| {
            if !matches!(f.kind, Kind::Numeric { .. }) {
                return None;
            }
            let ci = baseline.columns.iter().position(|c| c.name == f.column)?;
            let q = baseline.columns[ci]
                .numeric
                .as_ref()?
                .quantiles
                .quantiles(&[TAIL_SHARE, 1.0 - TAIL_SHARE]);
            (q.len() == 2 && q.iter().all(|v| v.is_finite())).then(|| (ci, q[0], q[1]))
        })
        .collect()
}

/// An item in words: a slice of the row model, or one exact value.
pub fn describe(model: &LabelModel, row_model: &RowModel, item: Item) -> Option<SliceDesc> {
    if let Some((column, value)) = model.value_of(item) {
        return Some(SliceDesc::Value {
            column: column.to_string(),
            value,
        });
    }
    row_model.slice_of(item.feature, item.code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::encode::Feature;

    fn encoder() -> Encoder {
        Encoder {
            features: vec![
                Feature {
                    name: "x".into(),
                    column: "x".into(),
                    reference_index: 0,
                    kind: Kind::Numeric {
                        median: 2.0,
                        scale: 1.0,
                        edges: vec![1.0, 2.0, 3.0],
                        min: 0.0,
                        max: 4.0,
                    },
                },
                Feature {
                    name: "c".into(),
                    column: "c".into(),
                    reference_index: 1,
                    kind: Kind::Missing,
                },
            ],
        }
    }

    /// Out-of-range items (codes and exact values) become the baseline's extreme tail on their
    /// side; everything else stays.
    #[test]
    fn analogue_replaces_out_of_range_items_by_the_baseline_tail() {
        let e = encoder();
        let values = vec![ValueFeature {
            column: "x".into(),
            feature: 0,
            values: vec![-1.0, 2.5, 9.0],
        }];
        let tails = vec![Some((0, 0.1, 3.9)), None];
        let it = |feature, code| Item { feature, code };
        let rule = |items: Vec<Item>| Rule { items };
        let top = AnalogueItem::Tail {
            column: 0,
            above: true,
            threshold: 3.9,
        };
        let bottom = AnalogueItem::Tail {
            column: 0,
            above: false,
            threshold: 0.1,
        };
        let of = |r: Rule| analogue(&e, &values, &tails, &r).items;
        assert_eq!(of(rule(vec![it(0, ABOVE_CODE)])), vec![top.clone()]);
        assert_eq!(of(rule(vec![it(0, BELOW_CODE)])), vec![bottom.clone()]);
        // Value features come after the encoder's two: 9.0 is code 2 of feature 2.
        assert_eq!(of(rule(vec![it(2, 2)])), vec![top]);
        assert_eq!(of(rule(vec![it(2, 0)])), vec![bottom]);
        let inside = analogue(&e, &values, &tails, &rule(vec![it(0, 1), it(2, 1)]));
        assert!(!inside.is_substituted());
        assert_eq!(
            inside.items,
            vec![AnalogueItem::Same(it(0, 1)), AnalogueItem::Same(it(2, 1))]
        );
    }
}
