//! SCH004: numeric values outside the baseline's range, with their labels against the labels of
//! the baseline's tails.

use std::collections::BTreeMap;

use serde_json::json;

use super::{num, purity_evidence, unseen_severity};
use crate::detect::{
    Context, Detector, Finding, NamedValue, Predicate, evidence, features, json_num, label_purity,
    pct, source_path,
};
use crate::profile::{ColumnProfile, LabelType, Role};
use crate::stats;

pub struct OutOfRange;

/// A value beyond the baseline's range by more than this many times the range's width is far:
/// an order of magnitude off, as a flipped high bit, a unit error or a corrupted page makes it.
pub const FAR: f64 = 10.0;
const PARAMS: [crate::detect::Param; 1] = [crate::detect::Param {
    name: "far",
    default: FAR,
    min: 0.0,
    max: 1e12,
    doc: "times the baseline's range (max - min) beyond it at which even one value is a finding",
}];

/// How far `v` lies beyond [lo, hi], in widths of the range (a constant column's width is its
/// magnitude, or 1).
pub(super) fn beyond(v: f64, lo: f64, hi: f64) -> f64 {
    let width = if hi > lo { hi - lo } else { hi.abs().max(1.0) };
    if v > hi {
        (v - hi) / width
    } else if v < lo {
        (lo - v) / width
    } else {
        0.0
    }
}

impl Detector for OutOfRange {
    fn code(&self) -> &'static str {
        "SCH004"
    }
    fn check(&self) -> &'static str {
        "out-of-range-values"
    }
    fn doc(&self) -> &'static str {
        "What it finds: values of a numeric column below the baseline's minimum or above its \
maximum: how many, their share, on which side, and how pure the label is on those rows.

Why it matters: an out-of-range value that always carries one label is a classic backdoor \
trigger (a feature set to a constant just outside its range); a block of them without a label \
pattern is a unit error, a sensor fault or an outlier injection.

Example: `num_accounts` > 41 (the baseline's maximum) on 200 rows (0.25%), labels mixed: low. \
`age` = 121 on 80 rows, all labelled 1 where the baseline's oldest 1% are 30% label 1: high, \
trigger-like.

Defaults: counted exactly during the scan (the current data is profiled against the baseline's \
range). Test: if both sides were one sample, the k most extreme pooled values would all be \
current ones with probability ≈ (k + 1)·C(n_cur, k)/C(n_base + n_cur, k); Benjamini–Hochberg \
across columns, q ≤ 0.01, so the few values that any fresh sample puts past the old extremes do \
not fire. Severity: high when one label holds ≥ 95% of such rows beyond its share among the \
baseline's own extreme rows (its lowest or highest 1% on the same side, from the per-class \
sketches; one-sided binomial p ≤ 0.001 on ≥ 10 rows, or on a handful of 3 or more rows \
p ≤ 0.001 after Bonferroni over the columns with such rows, which reports them whatever the \
count test says: five rows that all carry a label 5% of the tail has are p = 3·10⁻⁷), or the \
values cover ≥ 10% of rows; medium at ≥ 1%; low \
otherwise. A value more than 10 times the baseline's range (max − min) beyond it is at least \
medium even alone (what a bit flip in an unchecked page or a unit error makes: a wrong but \
valid number), whatever the test says. A numeric target (`--label-type numeric`) is checked as \
a numeric column is."
    }
    fn params(&self) -> &'static [crate::detect::Param] {
        &PARAMS
    }

    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let Some(base) = ctx.baseline else {
            return Vec::new();
        };
        let cur = ctx.current;
        let far_at = ctx.param(self.code(), &PARAMS[0]);
        struct Hit<'a> {
            col: &'a ColumnProfile,
            lo: f64,
            hi: f64,
            below: u64,
            above: u64,
            by_label: BTreeMap<String, u64>,
            examples: Vec<(u32, u64)>,
            estimated: bool,
            n_base: u64,
        }
        let mut hits = Vec::new();
        // A numeric target is checked as a numeric column is (SCH006 checks classes).
        let target = cur
            .label
            .as_deref()
            .filter(|_| {
                cur.label_type == LabelType::Numeric && base.label_type == LabelType::Numeric
            })
            .and_then(|l| cur.column(l));
        for c in features(cur).map(|(c, _)| c).chain(target) {
            let Some(b) = base.column(&c.name) else {
                continue;
            };
            let is_target = cur.label.as_deref() == Some(c.name.as_str());
            if base.role(b) != Role::Numeric && !is_target {
                continue;
            }
            let (Some(bn), Some(cn)) = (b.numeric.as_ref(), c.numeric.as_ref()) else {
                continue;
            };
            let (Some(lo), Some(hi)) = (bn.min, bn.max) else {
                continue;
            };
            if cn.count == 0 {
                continue;
            }
            let hit = match &c.outside {
                Some(o) if o.low == lo && o.high == hi => Hit {
                    col: c,
                    lo,
                    hi,
                    below: o.below.values().sum(),
                    above: o.above.values().sum(),
                    by_label: o.by_label(),
                    examples: o.examples.clone(),
                    estimated: false,
                    n_base: bn.count,
                },
                _ => {
                    // Without exact counts (profiles compared after the fact): the sketch's
                    // estimate, only when the extremes themselves are outside.
                    let below = if cn.min.is_some_and(|m| m < lo) {
                        (cn.quantiles.rank_lt(lo).unwrap_or(0.0) * cn.count as f64)
                            .round()
                            .max(1.0) as u64
                    } else {
                        0
                    };
                    let above = if cn.max.is_some_and(|m| m > hi) {
                        ((1.0 - cn.quantiles.rank(hi).unwrap_or(1.0)) * cn.count as f64)
                            .round()
                            .max(1.0) as u64
                    } else {
                        0
                    };
                    Hit {
                        col: c,
                        lo,
                        hi,
                        below,
                        above,
                        by_label: BTreeMap::new(),
                        examples: Vec::new(),
                        estimated: true,
                        n_base: bn.count,
                    }
                }
            };
            if hit.below + hit.above > 0 {
                hits.push(hit);
            }
        }
        let p: Vec<f64> = hits
            .iter()
            .map(|h| {
                let k = h.below + h.above;
                let n_cur = h.col.numeric.as_ref().map_or(0, |n| n.count);
                ((k + 1) as f64 * stats::absent_in_baseline_p(k, h.n_base, n_cur)).min(1.0)
            })
            .collect();
        let q = stats::bh_adjust(&p);
        let tests = hits.len();
        let mut out = Vec::new();
        for (i, h) in hits.into_iter().enumerate() {
            let cn = h.col.numeric.as_ref();
            let far = [cn.and_then(|n| n.min), cn.and_then(|n| n.max)]
                .into_iter()
                .flatten()
                .map(|v| beyond(v, h.lo, h.hi))
                .fold(0.0, f64::max);
            let is_far = far > far_at;
            let k = h.below + h.above;
            let n_cur = h.col.numeric.as_ref().map_or(0, |n| n.count);
            let share = k as f64 / n_cur.max(1) as f64;
            // Extremes often carry one label naturally (the oldest people are retired): the
            // reference is the label mix of the baseline's own tail on the same side.
            let reference = base
                .column(&h.col.name)
                .and_then(|b| tail_labels(b, &base.label_counts, h.below > 0, h.above > 0))
                .unwrap_or_else(|| base.label_counts.clone());
            let purity = label_purity(&h.by_label, &reference);
            // A numeric target's rows are keyed by whether it is null: no label mix to test.
            let labelled =
                cur.label.is_some() && cur.label_type == LabelType::Class && !h.estimated;
            let (mut sev, trigger) = unseen_severity(labelled, k, share, &purity, tests);
            // A few rows past the range are what any fresh sample brings; a few that all carry
            // one unlikely label are a trigger whatever their count.
            if q[i] > ctx.alpha() && !is_far && !trigger {
                continue;
            }
            if is_far {
                sev = sev.max(crate::detect::Severity::Medium);
            }
            let side = match (h.below > 0, h.above > 0) {
                (true, false) => format!("below the baseline's minimum {}", num(h.lo)),
                (false, true) => format!("above the baseline's maximum {}", num(h.hi)),
                _ => format!(
                    "outside the baseline's range [{}, {}]",
                    num(h.lo),
                    num(h.hi)
                ),
            };
            let mut title = format!(
                "{}{} values of `{}` ({}) are {side}",
                if h.estimated { "about " } else { "" },
                crate::report::thousands(k),
                h.col.name,
                pct(share)
            );
            if trigger && let Some((l, s, _)) = &purity {
                title.push_str(&format!(", {} labelled `{l}`", pct(*s)));
            }
            if is_far {
                let times = if far < 1e6 {
                    num(far)
                } else {
                    format!("{far:.2e}")
                };
                title.push_str(&format!(
                    ", up to {times} times the baseline's range beyond it"
                ));
            }
            let mut f = Finding::new(self.code(), self.check(), sev, share, title);
            f.columns = vec![h.col.name.clone()];
            // The slice names the side that holds most of the rows.
            f.slice = vec![if h.above >= h.below {
                Predicate::gt(&h.col.name, h.hi)
            } else {
                Predicate::lt(&h.col.name, h.lo)
            }];
            f.rows = k;
            f.baseline_rows = Some(0);
            f.statistic = Some(NamedValue {
                name: "rows_out_of_range".into(),
                value: k as f64,
            });
            f.p_value = Some(p[i]);
            f.q_value = Some(q[i]);
            f.effect = Some(NamedValue {
                name: "share_of_rows".into(),
                value: share,
            });
            f.example_rows = h
                .examples
                .iter()
                .map(|&(s, row)| crate::detect::RowRef {
                    source: source_path(cur, s),
                    row,
                })
                .collect();
            let mut sources: Vec<String> =
                f.example_rows.iter().map(|r| r.source.clone()).collect();
            sources.sort();
            sources.dedup();
            f.sources = sources;
            let mut ev = vec![
                ("baseline_min", json_num(h.lo)),
                ("baseline_max", json_num(h.hi)),
                ("below", json!(h.below)),
                ("above", json!(h.above)),
                (
                    "current_min",
                    json_num(
                        h.col
                            .numeric
                            .as_ref()
                            .and_then(|n| n.min)
                            .unwrap_or(f64::NAN),
                    ),
                ),
                (
                    "current_max",
                    json_num(
                        h.col
                            .numeric
                            .as_ref()
                            .and_then(|n| n.max)
                            .unwrap_or(f64::NAN),
                    ),
                ),
                ("labels", json!(h.by_label)),
                ("counts_estimated", json!(h.estimated)),
                ("ranges_beyond", json_num(far)),
            ];
            if let Some(p) = purity {
                ev.push(("label_purity", purity_evidence(p)));
            }
            f.evidence = evidence(ev);
            out.push(f);
        }
        out
    }
}

/// Share of the baseline in each tail used as the label reference of out-of-range rows.
const TAIL: f64 = 0.01;

/// Estimated label counts of the baseline's rows in its lowest and/or highest 1% of a column,
/// from the per-class quantile sketches (None when there are none: the caller takes the whole
/// baseline's label mix). Where the 1% quantile is a value many rows share (a
/// column that is 0 on 99.9% of its rows), the tail is the rows strictly beyond it: the rows at
/// it are the bulk, whose label mix says nothing of the extremes.
fn tail_labels(
    b: &ColumnProfile,
    base_labels: &BTreeMap<String, u64>,
    low: bool,
    high: bool,
) -> Option<BTreeMap<String, u64>> {
    let n = b.numeric.as_ref()?;
    let (q_lo, q_hi) = (n.quantiles.quantile(TAIL), n.quantiles.quantile(1.0 - TAIL));
    // Whether each side's inclusive tail holds more than twice its share: a mass point.
    let massed_lo = q_lo.is_some_and(|q| n.quantiles.rank(q).unwrap_or(0.0) > 2.0 * TAIL);
    let massed_hi = q_hi.is_some_and(|q| 1.0 - n.quantiles.rank_lt(q).unwrap_or(1.0) > 2.0 * TAIL);
    let weights: BTreeMap<String, u64> = b
        .class_quantiles
        .iter()
        .map(|(label, k)| {
            let cn = k.n() as f64;
            let mut w = 0.0;
            if low && let Some(q) = q_lo {
                let below = if massed_lo { k.rank_lt(q) } else { k.rank(q) };
                w += below.unwrap_or(0.0) * cn;
            }
            if high && let Some(q) = q_hi {
                let at_most = if massed_hi { k.rank(q) } else { k.rank_lt(q) };
                w += (1.0 - at_most.unwrap_or(1.0)) * cn;
            }
            (label.clone(), w.round() as u64)
        })
        .collect();
    // Past a mass point with (almost) no baseline rows beyond it, the extremes' label mix is
    // unknown: every label equally likely (all counts 0, which `label_purity` smooths to
    // 1/classes), not the bulk's mix.
    if weights.values().sum::<u64>() > 0 {
        Some(weights)
    } else if (low && massed_lo) || (high && massed_hi) {
        Some(base_labels.keys().map(|l| (l.clone(), 0)).collect())
    } else {
        None
    }
}
