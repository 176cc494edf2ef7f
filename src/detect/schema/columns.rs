//! SCH001 and SCH002: the columns themselves: added, removed or retyped against the baseline,
//! and null rates that moved.

use serde_json::{Value, json};

use crate::detect::{
    Context, Detector, Finding, NamedValue, Param, Predicate, Severity, evidence, example_rows,
    json_num, pct, tier, tier_params,
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
safe widening) is low. A column with no value on one side (no rows, or all null) is not \
compared by type."
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
                // A column without a value on one side (no rows, or every value null: a CSV
                // column with no value is read as text) shows no type to compare; its nulls
                // are SCH002's.
                Some(c)
                    if c.column_type != b.column_type
                        && cur.rows > c.nulls
                        && base.rows > b.nulls =>
                {
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

/// A column's missing values by kind: nulls, NaN, +inf, −inf.
fn missing_kinds(c: &ColumnProfile) -> [u64; 4] {
    let n = c.numeric.as_ref();
    [
        c.nulls,
        n.map_or(0, |n| n.nan),
        n.map_or(0, |n| n.pos_inf),
        n.map_or(0, |n| n.neg_inf),
    ]
}

/// The kinds of missing values either side has, each baseline share → current share (`nulls
/// 1.0% → 1.0%, NaN 0% → 4.0%`), when there is more than nulls: missing values are never
/// only a sum in which NaN and infinities hide.
fn missing_breakdown(c: &ColumnProfile, b: &ColumnProfile) -> Option<String> {
    let (kc, kb) = (missing_kinds(c), missing_kinds(b));
    if kc[1..].iter().chain(&kb[1..]).all(|&k| k == 0) {
        return None;
    }
    let share = |k: u64, rows: u64| k as f64 / rows.max(1) as f64;
    let parts: Vec<String> = ["nulls", "NaN", "+inf", "−inf"]
        .iter()
        .enumerate()
        .filter(|&(i, _)| kc[i] > 0 || kb[i] > 0)
        .map(|(i, name)| {
            format!(
                "{name} {} → {}",
                pct(share(kb[i], b.rows)),
                pct(share(kc[i], c.rows))
            )
        })
        .collect();
    Some(parts.join(", "))
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
                    "missing values in `{}` {} from {} to {}{}",
                    c.name,
                    if p1 > p0 { "rose" } else { "fell" },
                    pct(p0),
                    pct(p1),
                    missing_breakdown(c, b).map_or(String::new(), |s| format!(" ({s})"))
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
                ("current_nan", json!(missing_kinds(c)[1])),
                ("current_pos_inf", json!(missing_kinds(c)[2])),
                ("current_neg_inf", json!(missing_kinds(c)[3])),
                ("baseline_nulls", json!(b.nulls)),
                ("baseline_non_finite", json!(missing(b) - b.nulls)),
                ("baseline_nan", json!(missing_kinds(b)[1])),
                ("baseline_pos_inf", json!(missing_kinds(b)[2])),
                ("baseline_neg_inf", json!(missing_kinds(b)[3])),
                ("current_null_labels", json!(c.null_labels)),
                ("baseline_null_labels", json!(b.null_labels)),
            ]);
            out.push(f);
        }
        out
    }
}
