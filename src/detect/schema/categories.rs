//! SCH003: categories the baseline never had, with their rows and labels, and whether they look
//! like a planted trigger.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{purity_evidence, unseen_severity};
use crate::detect::{
    Context, Detector, Finding, NamedValue, Predicate, evidence, example_rows, features,
    label_purity, pct,
};
use crate::profile::{ColumnProfile, Role, SampleValue};
use crate::stats;

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
high when one label holds ≥ 95% of such rows beyond its base rate (one-sided binomial p ≤ 0.001 \
on ≥ 10 rows, or on a handful of 3 or more rows p ≤ 0.001 after Bonferroni over the columns \
with new values, which reports them whatever the count test says) or when the new values cover \
≥ 10% of rows; medium at ≥ 1%; low otherwise. Only columns whose \
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
        let tests = hits.len();
        let mut out = Vec::new();
        for (i, mut h) in hits.into_iter().enumerate() {
            let share = h.k as f64 / h.col.non_null().max(1) as f64;
            let mut by_label: BTreeMap<String, u64> = BTreeMap::new();
            for (_, _, l) in &h.new {
                for (name, c) in l {
                    *by_label.entry(name.clone()).or_default() += c;
                }
            }
            let purity = label_purity(&by_label, &base.label_counts);
            // A numeric target's rows are keyed by whether it is null: no label mix to test.
            let labelled = cur.label.is_some()
                && cur.label_type == crate::profile::LabelType::Class
                && !h.estimated;
            let (sev, trigger) = unseen_severity(labelled, h.k, share, &purity, tests);
            // A handful of rows with new values that all carry one unlikely label are a
            // trigger even where their count alone is what a fresh sample brings.
            if q[i] > ctx.alpha() && !trigger {
                continue;
            }
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
