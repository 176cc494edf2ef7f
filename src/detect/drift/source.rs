//! DRF004: drift concentrated in one source file or one partition value, tested part by part
//! from the per-source summaries and kept when the part stands out against the whole data and
//! against a typical part.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::column::baseline_shares;
use super::whole::{factor_of, moved_text, share_factor};
use super::{
    Bins, LABEL_RATIO, LINF_PARAMS, PSI_FLOOR, PSI_PARAMS, SOURCE_MIN_ROWS, SOURCE_PARAMS,
    label_table, linf, shares,
};
use crate::detect::{
    Context, Detector, Finding, NamedValue, Param, Predicate, Severity, evidence, json_num,
    source_path, tier,
};
use crate::profile::source::grid_cdf;
use crate::profile::{Profile, Role, SourceColumn, SourceSummary};
use crate::stats;

/// An effect tested on the parts of one family: (family, column, the effect's name).
type Effect = (usize, String, &'static str);

/// A part of the current data tested on its own: one source file, or one partition value (the
/// mixture of its files).
struct Part<'a> {
    /// Parts of one family (the sources, or the values of one partition column) cover the data.
    family: usize,
    name: String,
    slice: Vec<Predicate>,
    sources: Vec<String>,
    members: Vec<&'a SourceSummary>,
}

impl Part<'_> {
    fn rows(&self) -> u64 {
        self.members.iter().map(|m| m.rows).sum()
    }

    fn labels(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        for s in &self.members {
            for (l, c) in &s.label_counts {
                *m.entry(l.clone()).or_insert(0) += c;
            }
        }
        m
    }

    fn cols(&self, ci: usize) -> Vec<&SourceColumn> {
        self.members
            .iter()
            .filter_map(|m| m.columns.get(ci))
            .collect()
    }

    /// Bin shares of a numeric column: the members' grids mixed by their finite counts.
    fn numeric_shares(&self, ci: usize, bins: &Bins) -> Option<Vec<f64>> {
        let cols = self.cols(ci);
        let finite: u64 = cols.iter().map(|c| c.finite).sum();
        let rows = self.rows();
        if finite == 0 || rows == 0 {
            return None;
        }
        let cdf = |x: f64| {
            cols.iter()
                .filter(|c| c.finite > 0)
                .map(|c| grid_cdf(&c.grid, x).unwrap_or(0.0) * c.finite as f64)
                .sum::<f64>()
                / finite as f64
        };
        // Below/above: exact when the scan counted them against this baseline's range.
        let below: u64 = cols.iter().map(|c| c.below).sum();
        let above: u64 = cols.iter().map(|c| c.above).sum();
        let exact =
            (below + above > 0).then(|| (below as f64 / rows as f64, above as f64 / rows as f64));
        // The grid cannot tell < from ≤; the tiny shift keeps a point mass at an edge inside.
        let lt = |x: f64| cdf(x - x.abs() * 1e-12 - f64::MIN_POSITIVE);
        Some(bins.shares(lt, cdf, finite as f64 / rows as f64, exact))
    }

    fn values(&self, ci: usize) -> Option<BTreeMap<String, u64>> {
        let mut m = BTreeMap::new();
        for c in self.cols(ci) {
            for (v, n) in c.values.as_ref()? {
                *m.entry(v.clone()).or_insert(0) += n;
            }
        }
        Some(m)
    }
}

/// The parts to test: every value of every partition column (when it has at least two), and
/// every source (when there are at least two) that is not alone in a partition.
fn parts(cur: &Profile) -> Vec<Part<'_>> {
    let mut out = Vec::new();
    // A file alone in its partition is tested as that partition (its name says more).
    let mut alone = BTreeSet::new();
    for (fi, key) in cur.partition_columns.iter().enumerate() {
        let mut groups: BTreeMap<Option<String>, Vec<usize>> = BTreeMap::new();
        for (i, m) in cur.manifest.iter().enumerate() {
            if let Some((_, v)) = m.partitions.iter().find(|(k, _)| k == key) {
                groups.entry(v.clone()).or_default().push(i);
            }
        }
        if groups.len() < 2 {
            continue;
        }
        for (v, idx) in groups {
            if let [only] = idx.as_slice() {
                alone.insert(*only);
            }
            let value = v.clone().unwrap_or_else(|| "<null>".into());
            out.push(Part {
                family: fi + 1,
                name: format!("partition `{key}={value}`"),
                slice: vec![match v {
                    Some(v) => Predicate::eq(key, v),
                    None => Predicate::is_null(key),
                }],
                sources: idx.iter().map(|&i| source_path(cur, i as u32)).collect(),
                members: idx.iter().filter_map(|&i| cur.sources.get(i)).collect(),
            });
        }
    }
    if cur.sources.len() >= 2 {
        for (i, s) in cur.sources.iter().enumerate() {
            if alone.contains(&i) {
                continue;
            }
            let path = source_path(cur, i as u32);
            out.push(Part {
                family: 0,
                name: format!("`{path}`"),
                slice: vec![Predicate::eq("__source", path.clone())],
                sources: vec![path],
                members: vec![s],
            });
        }
    }
    out
}

pub struct SourceDrift;

impl Detector for SourceDrift {
    fn code(&self) -> &'static str {
        "DRF004"
    }
    fn check(&self) -> &'static str {
        "drift-in-one-source"
    }
    fn doc(&self) -> &'static str {
        "What it finds: drift concentrated in one source file or one hive partition: the part \
differs from the baseline much more than the current data as a whole does.

Why it matters: poisoned or broken data usually arrives through one channel (one producer, one \
day's partition, one upload). Whole-dataset statistics dilute it; naming the file or partition \
is what lets an engineer quarantine it.

Example: `current/part-0.parquet` drifted on `income` (PSI 9.3, against 1.9 for all the data) \
and `channel` (L∞ 0.03): high, slice `__source = current/part-0.parquet`.

Defaults: every source is tested when there are at least two, and every value of every \
partition column when it has at least two; parts under 100 rows are skipped. Per part and \
column: PSI on the baseline's decile bins (numeric, from the part's 101-point quantile grid, \
parts of a partition mixed by their counts) or L∞ and chi-square on the category counts, and the \
label shares: their L∞ and chi-square, and, as DRF003 grades the label, the factor one label's \
share moved by against the baseline (its ratio's bound nearer 1, the test its binomial tail, \
both as DRF003's; a part that stopped carrying a rare label). A column counts when its effect \
reaches the low tier of DRF001/DRF002/DRF003, is at least 2× the whole data's effect on the \
same column (for the factor, the whole data's factor for the same label) and 2× a typical \
part's (the row-weighted median over the sources, or over the values of the same partition \
column: drift that most of the data shares is the data's drift, reported by DRF001–DRF003), \
and its test survives Benjamini–Hochberg across all parts and columns at q ≤ 0.01. One \
finding per part, with every column that counts; severity from the largest effect."
    }
    fn params(&self) -> &'static [Param] {
        &SOURCE_PARAMS
    }

    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let Some(base) = ctx.baseline else {
            return Vec::new();
        };
        let cur = ctx.current;
        let parts = parts(cur);
        if parts.is_empty() {
            return Vec::new();
        }
        // A file's drift is graded as a column's (DRF001's and DRF002's tiers).
        let psi_tiers = ctx.tiers("DRF001", &PSI_PARAMS);
        let linf_tiers = ctx.tiers("DRF002", &LINF_PARAMS);
        let ratio_tiers = ctx.tiers("DRF003", &LABEL_RATIO);
        let factor = ctx.param(self.code(), &SOURCE_PARAMS[0]);
        let whole: BTreeMap<&str, f64> = ctx
            .drift
            .iter()
            .map(|d| (d.column.as_str(), d.effect))
            .collect();
        struct Test {
            part: usize,
            column: String,
            effect: f64,
            name: &'static str,
            sev: Severity,
            p: f64,
            /// The whole current data's effect on the same column.
            whole: f64,
            ev: Value,
            /// The effect as the title shows it, and as the finding's `effect` holds it.
            text: String,
            value: f64,
        }
        let mut tests: Vec<Test> = Vec::new();
        let numeric_target = cur.label_type == crate::profile::LabelType::Numeric
            && base.label_type == crate::profile::LabelType::Numeric;
        // (family, column, effect) → every tested part's (effect, rows).
        let mut effects: BTreeMap<Effect, Vec<(f64, u64)>> = BTreeMap::new();
        for (pi, part) in parts.iter().enumerate() {
            let rows = part.rows();
            if rows < SOURCE_MIN_ROWS {
                continue;
            }
            for (ci, c) in cur.columns.iter().enumerate() {
                let Some(b) = base.column(&c.name) else {
                    continue;
                };
                let role = cur.role(c);
                // A numeric target drifts in a file as a numeric column does.
                let target = role == Role::Label && numeric_target;
                if matches!(role, Role::Label | Role::Id | Role::Partition) && !target {
                    continue;
                }
                let base_role = if target { Role::Numeric } else { base.role(b) };
                match base_role {
                    Role::Numeric => {
                        let Some(bins) = Bins::of(b) else { continue };
                        let (Some(bs), Some(ps)) =
                            (baseline_shares(b, &bins), part.numeric_shares(ci, &bins))
                        else {
                            continue;
                        };
                        let psi = stats::psi(&bs, &ps, PSI_FLOOR);
                        effects
                            .entry((part.family, c.name.clone(), "psi"))
                            .or_default()
                            .push((psi, rows));
                        let Some(sev) = tier(psi, psi_tiers.0, psi_tiers.1, psi_tiers.2) else {
                            continue;
                        };
                        let w = whole.get(c.name.as_str()).copied().unwrap_or(0.0);
                        let pc: Vec<f64> = ps.iter().map(|s| s * rows as f64).collect();
                        let bc: Vec<f64> = bs.iter().map(|s| s * b.rows as f64).collect();
                        let (_, _, p) = stats::chi2_homogeneity(&pc, &bc);
                        tests.push(Test {
                            part: pi,
                            column: c.name.clone(),
                            effect: psi,
                            name: "psi",
                            sev,
                            p,
                            whole: w,
                            ev: json!({"column": c.name, "psi": json_num(psi), "whole_data_psi": json_num(w)}),
                            text: format!("PSI {psi:.2}"),
                            value: psi,
                        });
                    }
                    Role::Categorical => {
                        let (Some(pv), Some(bv)) = (part.values(ci), b.value_counts()) else {
                            continue;
                        };
                        let keys: BTreeSet<&str> = pv
                            .keys()
                            .map(String::as_str)
                            .chain(bv.keys().copied())
                            .collect();
                        let pc: Vec<f64> = keys
                            .iter()
                            .map(|k| pv.get(*k).copied().unwrap_or(0) as f64)
                            .collect();
                        let bc: Vec<f64> = keys
                            .iter()
                            .map(|k| bv.get(k).copied().unwrap_or(0) as f64)
                            .collect();
                        let (l, _) = linf(&shares(&pc), &shares(&bc));
                        effects
                            .entry((part.family, c.name.clone(), "linf"))
                            .or_default()
                            .push((l, rows));
                        let Some(sev) = tier(l, linf_tiers.0, linf_tiers.1, linf_tiers.2) else {
                            continue;
                        };
                        let w = whole.get(c.name.as_str()).copied().unwrap_or(0.0);
                        let (_, _, p) = stats::chi2_homogeneity(&pc, &bc);
                        tests.push(Test {
                            part: pi,
                            column: c.name.clone(),
                            effect: l,
                            name: "linf",
                            sev,
                            p,
                            whole: w,
                            ev: json!({"column": c.name, "linf": json_num(l), "whole_data_linf": json_num(w)}),
                            text: format!("L∞ {l:.2}"),
                            value: l,
                        });
                    }
                    _ => {}
                }
            }
            if let Some(label) = cur.label.as_ref().filter(|_| !numeric_target) {
                let (names, pc, bc) = label_table(&part.labels(), &base.label_counts);
                let (_, wc, wb) = label_table(&cur.label_counts, &base.label_counts);
                let (l, _) = linf(&shares(&pc), &shares(&bc));
                let (w, _) = linf(&shares(&wc), &shares(&wb));
                effects
                    .entry((part.family, label.clone(), "linf"))
                    .or_default()
                    .push((l, rows));
                if let Some(sev) = tier(l, linf_tiers.0, linf_tiers.1, linf_tiers.2) {
                    let (_, _, p) = stats::chi2_homogeneity(&pc, &bc);
                    tests.push(Test {
                        part: pi,
                        column: label.clone(),
                        effect: l,
                        name: "linf",
                        sev,
                        p,
                        whole: w,
                        ev: json!({"column": label, "linf": json_num(l), "whole_data_linf": json_num(w), "label": true}),
                        text: format!("L∞ {l:.2}"),
                        value: l,
                    });
                }
                // DRF003's second grade: the factor one label's share moved by, which a rare
                // label that stopped arriving in this part moves where L∞ barely does. The
                // whole data's factor is that of the same label.
                let moved = share_factor(&names, &pc, &bc, ctx.alpha());
                effects
                    .entry((part.family, label.clone(), "share_ratio"))
                    .or_default()
                    .push((moved.as_ref().map_or(1.0, |m| m.factor), rows));
                if let Some(m) = moved
                    && let Some(sev) = tier(m.factor, ratio_tiers.0, ratio_tiers.1, ratio_tiers.2)
                {
                    let name = &names[m.label];
                    let count = |t: &BTreeMap<String, u64>| t.get(name).copied().unwrap_or(0);
                    let total = |t: &BTreeMap<String, u64>| t.values().sum::<u64>();
                    let w = factor_of(stats::share_ratio_bounds(
                        count(&cur.label_counts),
                        total(&cur.label_counts),
                        count(&base.label_counts),
                        total(&base.label_counts),
                        m.level,
                    ));
                    tests.push(Test {
                        part: pi,
                        column: label.clone(),
                        effect: m.factor,
                        name: "share_ratio",
                        sev,
                        p: m.p,
                        whole: w,
                        ev: json!({
                            "column": label,
                            "label": true,
                            "share_ratio": m.evidence(name),
                            "whole_data_factor": json_num(w),
                        }),
                        text: moved_text(name, &m),
                        value: m.ratio(),
                    });
                }
            }
        }
        // Concentrated: the part stands out against the whole data and against a typical part of
        // its family (the row-weighted median effect of the sources, or of the values of the
        // same partition column).
        let typical: BTreeMap<Effect, f64> = effects
            .into_iter()
            .map(|(k, mut v)| {
                v.sort_by(|a, b| a.0.total_cmp(&b.0));
                let half = v.iter().map(|x| x.1).sum::<u64>() as f64 / 2.0;
                let mut acc = 0.0;
                let median = v
                    .iter()
                    .find(|x| {
                        acc += x.1 as f64;
                        acc >= half
                    })
                    .map_or(0.0, |x| x.0);
                (k, median)
            })
            .collect();
        let concentrated: Vec<bool> = tests
            .iter()
            .map(|t| {
                let m = typical
                    .get(&(parts[t.part].family, t.column.clone(), t.name))
                    .copied()
                    .unwrap_or(0.0);
                t.effect >= factor * t.whole && t.effect >= factor * m
            })
            .collect();
        let tests: Vec<Test> = tests
            .into_iter()
            .zip(concentrated)
            .filter_map(|(t, c)| c.then_some(t))
            .collect();
        let q = stats::bh_adjust(&tests.iter().map(|t| t.p).collect::<Vec<_>>());
        let mut by_part: BTreeMap<usize, Vec<(usize, &Test)>> = BTreeMap::new();
        for (i, t) in tests.iter().enumerate() {
            if q[i] <= ctx.alpha() {
                by_part.entry(t.part).or_default().push((i, t));
            }
        }
        let mut out = Vec::new();
        for (pi, mut ts) in by_part {
            let part = &parts[pi];
            ts.sort_by(|a, b| {
                b.1.sev
                    .cmp(&a.1.sev)
                    .then(b.1.effect.total_cmp(&a.1.effect))
                    .then_with(|| a.1.column.cmp(&b.1.column))
            });
            let (ti, top) = ts[0];
            // The label may count twice (its L∞ and its factor): each column once.
            let mut columns: Vec<String> = Vec::new();
            for (_, t) in &ts {
                if !columns.contains(&t.column) {
                    columns.push(t.column.clone());
                }
            }
            let more = columns.len() - 1;
            let mut f = Finding::new(
                self.code(),
                self.check(),
                top.sev,
                top.effect,
                format!(
                    "{} drifted on `{}` ({}){} unlike the rest of the data",
                    part.name,
                    top.column,
                    top.text,
                    if more > 0 {
                        format!(
                            " and {more} more column{}",
                            if more == 1 { "" } else { "s" }
                        )
                    } else {
                        String::new()
                    }
                ),
            );
            f.columns = columns;
            f.slice = part.slice.clone();
            f.sources = part.sources.clone();
            f.rows = part.rows();
            f.baseline_rows = Some(base.rows);
            f.p_value = Some(top.p);
            f.q_value = Some(q[ti]);
            f.effect = Some(NamedValue {
                name: top.name.into(),
                value: top.value,
            });
            f.evidence = evidence(vec![(
                "columns",
                json!(
                    ts.iter()
                        .map(|(i, t)| {
                            let mut e = t.ev.clone();
                            e["q_value"] = json_num(q[*i]);
                            e
                        })
                        .collect::<Vec<_>>()
                ),
            )]);
            out.push(f);
        }
        out
    }
}
