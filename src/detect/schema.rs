//! SCH — schema and domain: columns added, removed or retyped; null rates; categories the
//! baseline never had; values outside the baseline's range; unit changes.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{
    Context, Detector, Finding, NamedValue, Param, Predicate, Severity, TRIGGER_MIN_ROWS,
    TRIGGER_PURITY, evidence, example_rows, features, json_num, label_purity, pct, source_path,
    tier, tier_params,
};
use crate::profile::{ColumnProfile, Role, SampleValue};
use crate::stats;

pub struct SchemaChange;

impl Detector for SchemaChange {
    fn code(&self) -> &'static str {
        "SCH001"
    }
    fn check(&self) -> &'static str {
        "schema-change"
    }
    fn doc(&self) -> &'static str {
        "What it finds: a column the baseline had is missing, a column the baseline did not have \
appeared, or a column changed type.

Why it matters: a model trained on the new data silently loses a feature, gains one the \
serving path does not send, or reads numbers that used to be text. Pipelines that coerce types \
hide these changes until the model degrades.

Example: `employment` is missing (high); `referrer` was added (medium); `zip` was integer and is \
now text (high).

Defaults: removed or retyped is high; added is medium; an integer column that became float (a \
safe widening) is low."
    }
    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let Some(base) = ctx.baseline else {
            return Vec::new();
        };
        let cur = ctx.current;
        let mut out = Vec::new();
        let mk = |sev, title: String, col: &str, ev: Vec<(&str, Value)>| {
            let mut f = Finding::new(self.code(), self.check(), sev, 1.0, title);
            f.columns = vec![col.to_string()];
            f.rows = cur.rows;
            f.baseline_rows = Some(base.rows);
            f.evidence = evidence(ev);
            f
        };
        for b in &base.columns {
            match cur.column(&b.name) {
                None => out.push(mk(
                    Severity::High,
                    format!("column `{}` is missing (the baseline has it)", b.name),
                    &b.name,
                    vec![
                        ("change", json!("removed")),
                        ("baseline_type", json!(b.column_type.name())),
                    ],
                )),
                Some(c) if c.column_type != b.column_type => {
                    let widening = b.column_type == crate::ingest::ColumnType::Int
                        && c.column_type == crate::ingest::ColumnType::Float;
                    out.push(mk(
                        if widening {
                            Severity::Low
                        } else {
                            Severity::High
                        },
                        format!(
                            "column `{}` changed type from {} to {}",
                            b.name,
                            b.column_type.name(),
                            c.column_type.name()
                        ),
                        &b.name,
                        vec![
                            ("change", json!("retyped")),
                            ("baseline_type", json!(b.column_type.name())),
                            ("current_type", json!(c.column_type.name())),
                        ],
                    ));
                }
                Some(_) => {}
            }
        }
        for c in &cur.columns {
            if base.column(&c.name).is_none() {
                out.push(mk(
                    Severity::Medium,
                    format!("column `{}` is new (the baseline does not have it)", c.name),
                    &c.name,
                    vec![
                        ("change", json!("added")),
                        ("current_type", json!(c.column_type.name())),
                    ],
                ));
            }
        }
        out
    }
}

pub struct NullRate;

/// Rows without a usable value: nulls, and NaN or ±inf in numeric columns.
fn missing(c: &ColumnProfile) -> u64 {
    c.nulls
        + c.numeric
            .as_ref()
            .map_or(0, |n| n.nan + n.pos_inf + n.neg_inf)
}

/// Cohen's h thresholds for null-rate changes (low, medium, high).
const NULL_H: [Param; 3] = tier_params(
    0.1,
    0.2,
    0.5,
    3.2,
    "Cohen's h of the null-rate change at this severity",
);

impl Detector for NullRate {
    fn code(&self) -> &'static str {
        "SCH002"
    }
    fn check(&self) -> &'static str {
        "null-rate-change"
    }
    fn doc(&self) -> &'static str {
        "What it finds: a column whose share of missing values (nulls, and NaN or ±inf in numeric \
columns) changed compared with the baseline.

Why it matters: a null-rate jump is the most common sign of a broken upstream join or a field \
dropped by one producer; it also changes what the model learns from the missing-value \
indicator, and a null stamped on rows of one label is itself a trigger.

Example: `employment` was null on 0.4% of rows and is now null on 9%: Cohen's h = 0.44, medium.

Defaults: two-proportion z-test, Benjamini–Hochberg across columns, q ≤ 0.01; effect size \
Cohen's h = |2·asin√p₁ − 2·asin√p₀| with low ≥ 0.1, medium ≥ 0.2, high ≥ 0.5 (Cohen's own small, \
medium and large are 0.2, 0.5, 0.8; a null-rate change is a data defect sooner than a shift, so \
each tier is one step stricter). The evidence gives the label shares of the null rows on both \
sides."
    }
    fn params(&self) -> &'static [Param] {
        &NULL_H
    }

    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let Some(base) = ctx.baseline else {
            return Vec::new();
        };
        let tiers = ctx.tiers(self.code(), &NULL_H);
        let cur = ctx.current;
        let pairs: Vec<(&ColumnProfile, &ColumnProfile)> = cur
            .columns
            .iter()
            .filter(|c| cur.role(c) != Role::Partition)
            .filter_map(|c| base.column(&c.name).map(|b| (c, b)))
            .collect();
        let tests: Vec<(f64, f64)> = pairs
            .iter()
            .map(|(c, b)| stats::two_proportion_z(missing(c), c.rows, missing(b), b.rows))
            .collect();
        let q = stats::bh_adjust(&tests.iter().map(|t| t.1).collect::<Vec<_>>());
        let mut out = Vec::new();
        for (i, (c, b)) in pairs.iter().enumerate() {
            let (p1, p0) = (
                missing(c) as f64 / c.rows.max(1) as f64,
                missing(b) as f64 / b.rows.max(1) as f64,
            );
            let h = stats::cohens_h(p1, p0);
            let Some(sev) = tier(h, tiers.0, tiers.1, tiers.2) else {
                continue;
            };
            if q[i] > ctx.alpha() {
                continue;
            }
            let mut f = Finding::new(
                self.code(),
                self.check(),
                sev,
                h.abs(),
                format!(
                    "missing values in `{}` {} from {} to {}",
                    c.name,
                    if p1 > p0 { "rose" } else { "fell" },
                    pct(p0),
                    pct(p1)
                ),
            );
            f.columns = vec![c.name.clone()];
            f.slice = vec![Predicate::is_null(&c.name)];
            f.rows = missing(c);
            f.baseline_rows = Some(missing(b));
            f.statistic = Some(NamedValue {
                name: "z".into(),
                value: tests[i].0,
            });
            f.p_value = Some(tests[i].1);
            f.q_value = Some(q[i]);
            f.effect = Some(NamedValue {
                name: "cohens_h".into(),
                value: h,
            });
            f.example_rows = example_rows(cur, &c.name, |v| matches!(v, SampleValue::Null), 5);
            f.evidence = evidence(vec![
                ("baseline_null_rate", json_num(p0)),
                ("current_null_rate", json_num(p1)),
                ("current_nulls", json!(c.nulls)),
                ("current_non_finite", json!(missing(c) - c.nulls)),
                ("baseline_nulls", json!(b.nulls)),
                ("baseline_non_finite", json!(missing(b) - b.nulls)),
                ("current_null_labels", json!(c.null_labels)),
                ("baseline_null_labels", json!(b.null_labels)),
            ]);
            out.push(f);
        }
        out
    }
}

/// Severity of rows holding values the baseline never had (new categories, values outside its
/// range), and whether they look like a trigger: one label on ≥ 95% of ≥ 10 rows beyond what
/// the reference explains (binomial p ≤ 0.001; needs exact per-label counts). High when
/// trigger-like or on ≥ 10% of rows, medium on ≥ 1%, low otherwise.
fn unseen_severity(
    labels_known: bool,
    rows: u64,
    share: f64,
    purity: &Option<(String, f64, f64)>,
) -> (Severity, bool) {
    let trigger = labels_known
        && rows >= TRIGGER_MIN_ROWS
        && purity
            .as_ref()
            .is_some_and(|(_, s, bp)| *s >= TRIGGER_PURITY && *bp <= 1e-3);
    let sev = if trigger || share >= 0.1 {
        Severity::High
    } else if share >= 0.01 {
        Severity::Medium
    } else {
        Severity::Low
    };
    (sev, trigger)
}

fn purity_evidence((label, share, p): (String, f64, f64)) -> Value {
    json!({"label": label, "share": json_num(share), "p_value": json_num(p)})
}

pub struct NewCategories;

/// A value the baseline never had: (value, rows, rows by label).
type NewValue = (String, u64, BTreeMap<String, u64>);

/// Values named in a finding's slice and evidence.
const MAX_LISTED: usize = 20;

impl Detector for NewCategories {
    fn code(&self) -> &'static str {
        "SCH003"
    }
    fn check(&self) -> &'static str {
        "new-categories"
    }
    fn doc(&self) -> &'static str {
        "What it finds: values of a column that was categorical in the baseline which the \
baseline never had: their share of the rows, examples, and how pure the label is on them.

Why it matters: a new category is either an upstream change (a new product, a renamed code) the \
model has never seen, or a planted trigger: a rare token stamped on rows that all carry the \
attacker's label.

Example: `promo_code` = `ZX-99` on 300 rows (0.4%), all labelled 1 while 1 is 38% of the data: \
high, trigger-like.

Defaults: exact conditional test: if both sides were one sample, all k rows with unseen values \
would land in the current data with hypergeometric probability C(n_cur, k)/C(n_base + n_cur, k); \
Benjamini–Hochberg across columns, q ≤ 0.01 (so a single stray value never fires). Severity: \
high when one label holds ≥ 95% of ≥ 10 such rows beyond its base rate (binomial p ≤ 0.001) or \
when the new values cover ≥ 10% of rows; medium at ≥ 1%; low otherwise. Only columns whose \
baseline kept the full value list (≤ 1,000 distinct values) are checked; when the current side \
has more values than that, only its frequent values are compared."
    }
    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let Some(base) = ctx.baseline else {
            return Vec::new();
        };
        let cur = ctx.current;
        struct Hit<'a> {
            col: &'a ColumnProfile,
            new: Vec<NewValue>,
            k: u64,
            n_base: u64,
            estimated: bool,
        }
        let mut hits: Vec<Hit<'_>> = Vec::new();
        for (c, _) in features(cur) {
            let Some(b) = base.column(&c.name) else {
                continue;
            };
            if base.role(b) != Role::Categorical {
                continue;
            }
            let Some(known) = b.exact.as_ref() else {
                continue;
            };
            let (new, estimated): (Vec<NewValue>, bool) = match &c.exact {
                Some(m) => (
                    m.iter()
                        .filter(|(v, _)| !known.contains_key(*v))
                        .map(|(v, l)| (v.clone(), l.values().sum(), l.clone()))
                        .collect(),
                    false,
                ),
                None => (
                    c.frequent_values(1)
                        .into_iter()
                        .filter(|f| !known.contains_key(&f.value))
                        .map(|f| (f.value, f.lower, BTreeMap::new()))
                        .collect(),
                    true,
                ),
            };
            let k: u64 = new.iter().map(|n| n.1).sum();
            if k == 0 {
                continue;
            }
            hits.push(Hit {
                col: c,
                new,
                k,
                n_base: b.non_null(),
                estimated,
            });
        }
        let p: Vec<f64> = hits
            .iter()
            .map(|h| stats::absent_in_baseline_p(h.k, h.n_base, h.col.non_null()))
            .collect();
        let q = stats::bh_adjust(&p);
        let mut out = Vec::new();
        for (i, mut h) in hits.into_iter().enumerate() {
            if q[i] > ctx.alpha() {
                continue;
            }
            let share = h.k as f64 / h.col.non_null().max(1) as f64;
            let mut by_label: BTreeMap<String, u64> = BTreeMap::new();
            for (_, _, l) in &h.new {
                for (name, c) in l {
                    *by_label.entry(name.clone()).or_default() += c;
                }
            }
            let purity = label_purity(&by_label, &base.label_counts);
            let (sev, trigger) =
                unseen_severity(cur.label.is_some() && !h.estimated, h.k, share, &purity);
            h.new
                .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let listed: Vec<&NewValue> = h.new.iter().take(MAX_LISTED).collect();
            let names: Vec<String> = listed.iter().map(|n| format!("`{}`", n.0)).collect();
            let mut title = format!(
                "`{}` has {} value{} the baseline never had ({}{}) on {} of rows",
                h.col.name,
                h.new.len(),
                if h.new.len() == 1 { "" } else { "s" },
                names.iter().take(3).cloned().collect::<Vec<_>>().join(", "),
                if h.new.len() > 3 { ", …" } else { "" },
                pct(share)
            );
            if trigger && let Some((l, s, _)) = &purity {
                title.push_str(&format!(", {} labelled `{l}`", pct(*s)));
            }
            let mut f = Finding::new(self.code(), self.check(), sev, share, title);
            f.columns = vec![h.col.name.clone()];
            let values: Vec<Value> = listed.iter().map(|n| json!(n.0)).collect();
            f.slice = vec![if values.len() == 1 {
                Predicate::eq(&h.col.name, values[0].clone())
            } else {
                Predicate::is_in(&h.col.name, values)
            }];
            f.rows = h.k;
            f.baseline_rows = Some(0);
            f.statistic = Some(NamedValue {
                name: "new_value_rows".into(),
                value: h.k as f64,
            });
            f.p_value = Some(p[i]);
            f.q_value = Some(q[i]);
            f.effect = Some(NamedValue {
                name: "share_of_rows".into(),
                value: share,
            });
            let new_set: Vec<&str> = h.new.iter().map(|n| n.0.as_str()).collect();
            f.example_rows = example_rows(
                cur,
                &h.col.name,
                |v| match v {
                    SampleValue::Text(t) => new_set.contains(&t.as_str()),
                    SampleValue::Number(x) => {
                        new_set.contains(&crate::profile::column::numeric_text(*x).as_str())
                    }
                    SampleValue::Bool(b) => new_set.contains(&if *b { "true" } else { "false" }),
                    SampleValue::Null => false,
                },
                5,
            );
            let mut sources: Vec<String> =
                f.example_rows.iter().map(|r| r.source.clone()).collect();
            sources.sort();
            sources.dedup();
            f.sources = sources;
            let mut ev = vec![
                (
                    "new_values",
                    json!(
                        listed
                            .iter()
                            .map(|n| json!({"value": n.0, "rows": n.1, "labels": n.2}))
                            .collect::<Vec<_>>()
                    ),
                ),
                ("new_value_count", json!(h.new.len())),
                ("labels", json!(by_label)),
                ("counts_estimated", json!(h.estimated)),
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

pub struct OutOfRange;

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
not fire. Severity: high when one label holds ≥ 95% of ≥ 10 such rows beyond its share among the \
baseline's own extreme rows (its lowest or highest 1% on the same side, from the per-class \
sketches; binomial p ≤ 0.001), or the values cover ≥ 10% of rows; medium at ≥ 1%; low \
otherwise."
    }
    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let Some(base) = ctx.baseline else {
            return Vec::new();
        };
        let cur = ctx.current;
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
        for (c, _) in features(cur) {
            let Some(b) = base.column(&c.name) else {
                continue;
            };
            if base.role(b) != Role::Numeric {
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
        let mut out = Vec::new();
        for (i, h) in hits.into_iter().enumerate() {
            if q[i] > ctx.alpha() {
                continue;
            }
            let k = h.below + h.above;
            let n_cur = h.col.numeric.as_ref().map_or(0, |n| n.count);
            let share = k as f64 / n_cur.max(1) as f64;
            // Extremes often carry one label naturally (the oldest people are retired): the
            // reference is the label mix of the baseline's own tail on the same side.
            let reference = base
                .column(&h.col.name)
                .map(|b| tail_labels(b, h.below > 0, h.above > 0))
                .filter(|m| m.values().sum::<u64>() > 0)
                .unwrap_or_else(|| base.label_counts.clone());
            let purity = label_purity(&h.by_label, &reference);
            let (sev, trigger) =
                unseen_severity(cur.label.is_some() && !h.estimated, k, share, &purity);
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
                .map(|&(s, row)| super::RowRef {
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
/// from the per-class quantile sketches.
fn tail_labels(b: &ColumnProfile, low: bool, high: bool) -> BTreeMap<String, u64> {
    let Some(n) = b.numeric.as_ref() else {
        return BTreeMap::new();
    };
    let (q_lo, q_hi) = (n.quantiles.quantile(TAIL), n.quantiles.quantile(1.0 - TAIL));
    b.class_quantiles
        .iter()
        .map(|(label, k)| {
            let cn = k.n() as f64;
            let mut w = 0.0;
            if low && let Some(q) = q_lo {
                w += k.rank(q).unwrap_or(0.0) * cn;
            }
            if high && let Some(q) = q_hi {
                w += (1.0 - k.rank_lt(q).unwrap_or(1.0)) * cn;
            }
            (label.clone(), w.round() as u64)
        })
        .collect()
}

/// A number for a title: whole numbers without decimals, others to 4 significant digits.
fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{}", crate::report::round(x))
    }
}

pub struct UnitChange;

/// How close (in log10) both ratios must be to the same power of ten.
const UNIT_TOLERANCE: f64 = 0.15;
/// Rows needed on each side.
const UNIT_MIN_ROWS: u64 = 30;

/// (median, spread) of a distribution given by quantiles at 25%, 50%, 75%; the spread is the
/// IQR, or the standard deviation when the IQR is zero.
fn location_spread(q25: f64, q50: f64, q75: f64, std: Option<f64>) -> (f64, f64) {
    let iqr = q75 - q25;
    (q50, if iqr > 0.0 { iqr } else { std.unwrap_or(0.0) })
}

/// The power of ten both ratios agree on, if any (|k| ≥ 1).
fn power_of_ten(cur: (f64, f64), base: (f64, f64)) -> Option<i32> {
    let (rm, rs) = (cur.0 / base.0, cur.1 / base.1);
    if !(rm.is_finite() && rs.is_finite()) || rm <= 0.0 || rs <= 0.0 {
        return None;
    }
    let (lm, ls) = (rm.log10(), rs.log10());
    let k = lm.round();
    (k != 0.0 && (lm - k).abs() <= UNIT_TOLERANCE && (ls - k).abs() <= UNIT_TOLERANCE)
        .then_some(k as i32)
}

impl Detector for UnitChange {
    fn code(&self) -> &'static str {
        "SCH005"
    }
    fn check(&self) -> &'static str {
        "unit-change"
    }
    fn doc(&self) -> &'static str {
        "What it finds: a numeric column whose median and spread both moved by the same power of \
ten compared with the baseline, in the whole data or in one source file: a unit or scale change \
(grams and kilograms, cents and dollars, a value reported in thousands).

Why it matters: the model reads the new numbers on the old scale; its inputs are wrong by a \
factor of ten or more and nothing fails.

Example: `income` in `current/part-0.parquet` has median 52 and IQR 31 where the baseline has \
51,800 and 30,900: ÷1000, high.

Defaults: both median ratio and spread ratio (IQR, or standard deviation when the IQR is 0) \
within 0.15 in log10 of the same power of ten 10^k, k ≠ 0, with at least 30 values on each side. \
Always high."
    }
    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let Some(base) = ctx.baseline else {
            return Vec::new();
        };
        let cur = ctx.current;
        let mut out = Vec::new();
        for (c, _) in features(cur) {
            let Some(ci) = cur.columns.iter().position(|x| x.name == c.name) else {
                continue;
            };
            let Some(b) = base.column(&c.name) else {
                continue;
            };
            if base.role(b) != Role::Numeric {
                continue;
            }
            let Some(bn) = b.numeric.as_ref().filter(|n| n.count >= UNIT_MIN_ROWS) else {
                continue;
            };
            let bq = bn.quantiles.quantiles(&[0.25, 0.5, 0.75]);
            let bls = location_spread(bq[0], bq[1], bq[2], bn.std());
            let mut report = |ls: (f64, f64), k: i32, source: Option<String>, rows: u64| {
                let factor = 10f64.powi(k.abs());
                let how = if k > 0 {
                    format!("×{}", num(factor))
                } else {
                    format!("÷{}", num(factor))
                };
                let whre = source
                    .as_ref()
                    .map(|s| format!(" in `{s}`"))
                    .unwrap_or_default();
                let mut f = Finding::new(
                    self.code(),
                    self.check(),
                    Severity::High,
                    1.0,
                    format!(
                        "`{}`{whre} looks rescaled {how}: median {} and spread {} against {} and {} in the baseline",
                        c.name,
                        num(crate::report::round(ls.0)),
                        num(crate::report::round(ls.1)),
                        num(crate::report::round(bls.0)),
                        num(crate::report::round(bls.1))
                    ),
                );
                f.columns = vec![c.name.clone()];
                if let Some(s) = &source {
                    f.slice = vec![Predicate::eq("__source", s.clone())];
                    f.sources = vec![s.clone()];
                }
                f.rows = rows;
                f.baseline_rows = Some(bn.count);
                f.effect = Some(NamedValue {
                    name: "log10_scale".into(),
                    value: k as f64,
                });
                f.evidence = evidence(vec![
                    ("median", json_num(ls.0)),
                    ("spread", json_num(ls.1)),
                    ("baseline_median", json_num(bls.0)),
                    ("baseline_spread", json_num(bls.1)),
                    ("factor", json_num(10f64.powi(k))),
                ]);
                out.push(f);
            };
            if let Some(cn) = c.numeric.as_ref().filter(|n| n.count >= UNIT_MIN_ROWS) {
                let q = cn.quantiles.quantiles(&[0.25, 0.5, 0.75]);
                let ls = location_spread(q[0], q[1], q[2], cn.std());
                if let Some(k) = power_of_ten(ls, bls) {
                    report(ls, k, None, cn.count);
                    continue;
                }
            }
            if cur.sources.len() < 2 {
                continue;
            }
            for (si, s) in cur.sources.iter().enumerate() {
                let Some(sc) = s.columns.get(ci) else {
                    continue;
                };
                if sc.finite < UNIT_MIN_ROWS || sc.grid.len() != crate::profile::source::GRID_POINTS
                {
                    continue;
                }
                let ls = location_spread(sc.grid[25], sc.grid[50], sc.grid[75], sc.std);
                if let Some(k) = power_of_ten(ls, bls) {
                    report(ls, k, Some(source_path(cur, si as u32)), sc.finite);
                }
            }
        }
        out
    }
}
