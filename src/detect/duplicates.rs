//! DUP — duplicates, from the row fingerprints: the duplicate rate against the baseline's,
//! identical feature vectors with conflicting labels, and large new groups of identical rows.

use std::collections::BTreeMap;

use serde_json::json;

use super::{
    Context, Detector, Finding, NamedValue, Param, Severity, evidence, json_num, pct, tier,
    tier_params,
};
use crate::profile::{Profile, UNKNOWN_SEGMENT, features, label_hash, label_part, segment_of};
use crate::stats;

/// Absolute rise of a duplicate or conflict rate for low, medium and high.
const RATE_TIERS: [Param; 3] = tier_params(
    0.002,
    0.01,
    0.05,
    1.0,
    "rise of the rate (current minus baseline, a share of rows) at this severity",
);
/// Sources named in a finding.
const MAX_SOURCES: usize = 5;
/// A file at least this share of whose rows repeat other rows is made of copies …
const COPIES_SHARE: f64 = 0.9;
/// … when that is this much above the rate of the rest of the data …
const COPIES_MARGIN: f64 = 0.5;
/// … and that many rows with a twin are this unlikely over all files (Bonferroni).
const COPIES_P: f64 = 1e-4;

/// Runs of equal feature hashes in sorted fingerprints: `(start, end)` index ranges.
fn feature_runs(rows: &[u128]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        if i >= rows.len() {
            return None;
        }
        let start = i;
        let f = features(rows[i]);
        while i < rows.len() && features(rows[i]) == f {
            i += 1;
        }
        Some((start, i))
    })
}

/// Rows per source for the given fingerprints, largest first (ties by path).
fn sources_of(p: &Profile, fps: impl Iterator<Item = u128>) -> Vec<(String, u64)> {
    let mut by_source: BTreeMap<String, u64> = BTreeMap::new();
    for f in fps {
        let seg = segment_of(f);
        let name = if seg == UNKNOWN_SEGMENT {
            "<unknown>".to_string()
        } else {
            p.segments
                .get(seg as usize)
                .map(|s| super::source_path(p, s.source))
                .unwrap_or_else(|| "<unknown>".to_string())
        };
        *by_source.entry(name).or_default() += 1;
    }
    let mut v: Vec<(String, u64)> = by_source.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

/// Rows by source for the evidence (the first 20).
fn sources_json(v: &[(String, u64)]) -> serde_json::Value {
    json!(
        v.iter()
            .take(20)
            .map(|s| json!({"source": s.0, "rows": s.1}))
            .collect::<Vec<_>>()
    )
}

fn top_sources(v: &[(String, u64)]) -> Vec<String> {
    v.iter().take(MAX_SOURCES).map(|s| s.0.clone()).collect()
}

/// The rows that repeat an earlier identical row (features and label), as fingerprints.
fn repeated_rows(p: &Profile) -> Vec<u128> {
    let rows = &p.fingerprints.rows;
    let mut out = Vec::new();
    for w in 1..rows.len() {
        if crate::profile::row_key(rows[w]) == crate::profile::row_key(rows[w - 1]) {
            out.push(rows[w]);
        }
    }
    out
}

/// The rows of feature groups that carry more than one label.
fn conflicting_rows(p: &Profile) -> Vec<u128> {
    let rows = &p.fingerprints.rows;
    let mut out = Vec::new();
    for (a, b) in feature_runs(rows) {
        if rows[a..b]
            .iter()
            .any(|&f| label_part(f) != label_part(rows[a]))
        {
            out.extend_from_slice(&rows[a..b]);
        }
    }
    out
}

/// Rows that share their content (features and label) with another row, in all and, for a
/// current profile, per source: `(twins, per source (rows, twins))`.
fn twins(p: &Profile) -> (u64, Vec<(u64, u64)>) {
    let rows = &p.fingerprints.rows;
    let mut per_source = vec![(0u64, 0u64); p.manifest.len()];
    for (seg, n) in p.segment_rows().into_iter().enumerate() {
        if let Some(s) = p.segments.get(seg)
            && let Some(v) = per_source.get_mut(s.source as usize)
        {
            v.0 += n;
        }
    }
    let mut total = 0;
    for (i, j) in p.fingerprints.identical_runs() {
        if j - i > 1 {
            total += (j - i) as u64;
            for &f in &rows[i..j] {
                let seg = segment_of(f);
                if seg == UNKNOWN_SEGMENT {
                    continue;
                }
                if let Some(s) = p.segments.get(seg as usize)
                    && let Some(v) = per_source.get_mut(s.source as usize)
                {
                    v.1 += 1;
                }
            }
        }
    }
    (total, per_source)
}

/// A file made of copies: its rows, those that repeat another row, the rate they are tested
/// against and the p-value over all files.
struct Copies {
    source: String,
    rows: u64,
    twins: u64,
    expected_rate: f64,
    p: f64,
}

/// The current files at least 90% of whose rows repeat another row (a twin anywhere in the
/// current data), 50 points above the twin rate of the rest of the current data (add-one
/// smoothed) or of the baseline, whichever is larger, and so many that fresh rows would have
/// that many twins with P ≤ 10⁻⁴ over all files (one-sided binomial, Bonferroni): a batch of
/// copies delivered as its own file, however small, when the data has few natural repeats.
fn copies(cur: &Profile, base: &Profile) -> Vec<Copies> {
    let (cur_twins, per_source) = twins(cur);
    let base_rate = twins(base).0 as f64 / base.rows.max(1) as f64;
    let files = per_source.len().max(1) as f64;
    let mut out: Vec<Copies> = per_source
        .iter()
        .enumerate()
        .filter_map(|(s, &(n, t))| {
            if n == 0 {
                return None;
            }
            let share = t as f64 / n as f64;
            let rest = (cur_twins.saturating_sub(t) as f64 + 1.0)
                / (cur.rows.saturating_sub(n) as f64 + 2.0);
            let expected_rate = rest.max(base_rate).min(1.0);
            let p = (stats::binom_sf_ge(t, n, expected_rate) * files).min(1.0);
            (share >= COPIES_SHARE && share - expected_rate >= COPIES_MARGIN && p <= COPIES_P).then(
                || Copies {
                    source: super::source_path(cur, s as u32),
                    rows: n,
                    twins: t,
                    expected_rate,
                    p,
                },
            )
        })
        .collect();
    out.sort_by(|a, b| b.twins.cmp(&a.twins).then_with(|| a.source.cmp(&b.source)));
    out
}

/// A rate test of the current rate against the baseline's, effect = absolute rise. Rows that
/// repeat one another are not independent draws: a set whose duplicates come in large groups
/// varies far more from sample to sample than a binomial count would. A count is therefore a
/// sum over groups (a group of identical rows adds its repeats, a feature group its
/// conflicting rows, a lone row nothing), and its variance is the cluster-sampling estimate
/// Σ yᵢ² − Y²/m over the m groups ([`cluster_variance`]), which is Y(1 − Y/m) when every group
/// is a pair or a lone row. Under the null hypothesis both sides are samples of one population,
/// so both variances come from the baseline's, scaled to each side's rows: the current data's
/// own groups are what is tested, and one planted group of a thousand copies must not widen
/// the test that should find it. One-sided normal test of the difference of the rates.
struct RateTest {
    cur: u64,
    n_cur: u64,
    base: u64,
    n_base: u64,
    /// The variance of the baseline's count.
    base_var: f64,
}

impl RateTest {
    fn rates(&self) -> (f64, f64) {
        (
            self.cur as f64 / self.n_cur.max(1) as f64,
            self.base as f64 / self.n_base.max(1) as f64,
        )
    }

    /// The one-sided p-value of the rise. A baseline without any such rows still allows for
    /// half a row's worth of variance.
    fn p_value(&self) -> f64 {
        let (rc, rb) = self.rates();
        let (nc, nb) = (self.n_cur.max(1) as f64, self.n_base.max(1) as f64);
        // Var(count)/n² on each side, the current count's variance being the baseline's
        // scaled by nc / nb.
        let per_row = self.base_var.max(0.5) / nb;
        let var = per_row / nc + per_row / nb;
        stats::normal_sf((rc - rb) / var.sqrt())
    }

    /// (p-value, rise, severity) when the rise is significant and large enough.
    fn judge(&self, ctx: &Context<'_>, code: &str) -> Option<(f64, f64, Severity)> {
        let (rc, rb) = self.rates();
        let p = self.p_value();
        let (low, medium, high) = ctx.tiers(code, &RATE_TIERS);
        let sev = tier(rc - rb, low, medium, high)?;
        (rc > rb && p <= ctx.alpha()).then_some((p, rc - rb, sev))
    }
}

/// The cluster-sampling variances (Σ yᵢ² − Y²/m) of a side's duplicate count (over groups
/// of identical rows, yᵢ = size − 1) and of its conflict count (over groups of identical
/// features, yᵢ = size when they carry two labels or more, else 0), from its sorted
/// fingerprints and its `total_rows`: rows without a fingerprint (a profile that keeps only its
/// repeated rows') are lone rows, groups of y = 0.
fn cluster_variance(rows: &[u128], total_rows: u64) -> (f64, f64) {
    let lone = total_rows.saturating_sub(rows.len() as u64) as f64;
    let (mut dup, mut dup_sq, mut dup_groups) = (0.0, 0.0, lone);
    let (mut conflict, mut conflict_sq, mut feature_groups) = (0.0, 0.0, lone);
    for (a, b) in feature_runs(rows) {
        feature_groups += 1.0;
        let mut labels = 0;
        let mut k = a;
        while k < b {
            let mut m = k + 1;
            while m < b && label_part(rows[m]) == label_part(rows[k]) {
                m += 1;
            }
            let y = (m - k - 1) as f64;
            dup += y;
            dup_sq += y * y;
            dup_groups += 1.0;
            labels += 1;
            k = m;
        }
        if labels > 1 {
            let y = (b - a) as f64;
            conflict += y;
            conflict_sq += y * y;
        }
    }
    let var = |sum: f64, sq: f64, m: f64| {
        if m > 0.0 {
            (sq - sum * sum / m).max(0.0)
        } else {
            0.0
        }
    };
    (
        var(dup, dup_sq, dup_groups),
        var(conflict, conflict_sq, feature_groups),
    )
}

pub struct DuplicateRate;

impl Detector for DuplicateRate {
    fn code(&self) -> &'static str {
        "DUP001"
    }
    fn check(&self) -> &'static str {
        "duplicate-rate-up"
    }
    fn doc(&self) -> &'static str {
        "What it finds: the share of rows that exactly repeat another row (all feature columns \
and the label; the id column left out) rose compared with the baseline. The finding names the \
files that hold the extra copies.

Why it matters: duplicated rows up-weight some examples: a cheap way to bias a model towards \
an attacker's rows, and a common pipeline fault (a retried write, a join that fans out).

Example: 1,500 rows of `current/part-2.parquet` repeat rows of `current/part-0.parquet`: \
duplicate rate 1.8% against 0.0% in the baseline, medium.

Defaults: one-sided test of the difference of the two rates, p ≤ 0.01, with the variance \
estimated from the baseline as in cluster sampling (a group of k identical rows is one draw \
adding k - 1 repeats) and scaled to each side's rows: a baseline whose duplicates come in large \
groups (whose random halves differ by points) needs a larger rise than one of pairs. The rise \
must be ≥ 0.2 points for low, ≥ 1 point for medium, ≥ 5 points \
for high. A file made of copies is high whatever the rise: ≥ 90% of its rows repeat another row \
of the current data, 50 points above the rate of the rest of the data (add-one smoothed) or of \
the baseline, and so many that fresh rows would repeat that often with P ≤ 10⁻⁴ over all files \
(one-sided binomial, Bonferroni): five copies of one row delivered as their own file are found \
in data with few natural repeats. Rows are compared by 80-bit fingerprints (a false match is \
below 10⁻⁸ at 10⁸ rows)."
    }
    fn params(&self) -> &'static [Param] {
        &RATE_TIERS
    }

    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let Some(base) = ctx.baseline else {
            return Vec::new();
        };
        let cur = ctx.current;
        let (dc, db) = (cur.duplicates(), base.duplicates());
        let t = RateTest {
            cur: dc.duplicate_rows,
            n_cur: cur.rows,
            base: db.duplicate_rows,
            n_base: base.rows,
            base_var: cluster_variance(&base.fingerprints.rows, base.rows).0,
        };
        let judged = t.judge(ctx, self.code());
        let copies = copies(cur, base);
        let (p, sev) = match (judged, copies.first()) {
            (Some((p, _, sev)), None) => (p, sev),
            (Some((p, _, _)), Some(_)) => (p, Severity::High),
            (None, Some(c)) => (c.p, Severity::High),
            (None, None) => return Vec::new(),
        };
        let (rc, rb) = t.rates();
        let rise = rc - rb;
        let sources = sources_of(cur, repeated_rows(cur).into_iter());
        let title = match (judged, copies.first()) {
            (_, Some(c)) => format!(
                "{} of the rows of `{}` repeat other rows ({} of {}), against {} elsewhere{}",
                pct(c.twins as f64 / c.rows as f64),
                c.source,
                crate::report::thousands(c.twins),
                crate::report::thousands(c.rows),
                pct(c.expected_rate),
                if judged.is_some() {
                    format!("; duplicate rows rose from {} to {}", pct(rb), pct(rc))
                } else {
                    String::new()
                }
            ),
            _ => format!(
                "duplicate rows rose from {} to {} ({} rows repeat another row){}",
                pct(rb),
                pct(rc),
                crate::report::thousands(dc.duplicate_rows),
                sources
                    .first()
                    .map(|s| format!(", most in `{}`", s.0))
                    .unwrap_or_default()
            ),
        };
        let mut f = Finding::new(self.code(), self.check(), sev, rise, title);
        let mut named: Vec<String> = copies.iter().map(|c| c.source.clone()).collect();
        for s in top_sources(&sources) {
            if !named.contains(&s) {
                named.push(s);
            }
        }
        named.truncate(MAX_SOURCES);
        f.sources = named;
        f.rows = dc.duplicate_rows;
        f.baseline_rows = Some(db.duplicate_rows);
        f.statistic = Some(NamedValue {
            name: "duplicate_rows".into(),
            value: dc.duplicate_rows as f64,
        });
        f.p_value = Some(p);
        f.q_value = Some(p);
        f.effect = Some(NamedValue {
            name: "duplicate_rate_delta".into(),
            value: rise,
        });
        let mut ev = vec![
            ("current_rate", json_num(rc)),
            ("baseline_rate", json_num(rb)),
            ("groups", json!(dc.groups)),
            ("largest_group", json!(dc.largest_group)),
            ("repeated_rows_by_source", sources_json(&sources)),
        ];
        if !copies.is_empty() {
            ev.push((
                "files_of_copies",
                json!(
                    copies
                        .iter()
                        .take(20)
                        .map(|c| json!({
                            "source": c.source,
                            "rows": c.rows,
                            "rows_repeated": c.twins,
                            "expected_rate": json_num(c.expected_rate),
                            "p_value": json_num(c.p),
                        }))
                        .collect::<Vec<_>>()
                ),
            ));
        }
        f.evidence = evidence(ev);
        vec![f]
    }
}

pub struct ConflictingLabels;

impl Detector for ConflictingLabels {
    fn code(&self) -> &'static str {
        "DUP002"
    }
    fn check(&self) -> &'static str {
        "conflicting-labels"
    }
    fn doc(&self) -> &'static str {
        "What it finds: identical feature vectors that carry different labels, more often than \
in the baseline (or, without a baseline, at all).

Why it matters: the same input with two labels is label noise by construction; a rise is the \
footprint of label flipping applied to copies of rows, or of two sources that disagree.

Example: 2,400 rows (3%) sit in 1,150 groups of identical features with more than one label, \
against 0.1% in the baseline: medium.

Defaults: with a baseline, DUP001's test (each group of identical features one draw, adding its \
rows when it carries two labels or more), p ≤ 0.01, and a rise ≥ 0.2 points (low), ≥ 1 point \
(medium), ≥ 5 points (high). Without \
a baseline any conflict is reported as low (real data has some)."
    }
    fn params(&self) -> &'static [Param] {
        &RATE_TIERS
    }

    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let cur = ctx.current;
        if cur.label.is_none() {
            return Vec::new();
        }
        let dc = cur.duplicates();
        if dc.conflicting_rows == 0 {
            return Vec::new();
        }
        let rc = dc.conflicting_rows as f64 / cur.rows.max(1) as f64;
        let (sev, p, rb, base_rows) = match ctx.baseline {
            Some(base) => {
                let db = base.duplicates();
                let t = RateTest {
                    cur: dc.conflicting_rows,
                    n_cur: cur.rows,
                    base: db.conflicting_rows,
                    n_base: base.rows,
                    base_var: cluster_variance(&base.fingerprints.rows, base.rows).1,
                };
                let Some((p, _, sev)) = t.judge(ctx, self.code()) else {
                    return Vec::new();
                };
                (sev, Some(p), Some(t.rates().1), Some(db.conflicting_rows))
            }
            None => (Severity::Low, None, None, None),
        };
        let sources = sources_of(cur, conflicting_rows(cur).into_iter());
        let mut f = Finding::new(
            self.code(),
            self.check(),
            sev,
            rc - rb.unwrap_or(0.0),
            format!(
                "{} rows ({}) share their features with rows of another label{}",
                crate::report::thousands(dc.conflicting_rows),
                pct(rc),
                rb.map(|r| format!(" (baseline {})", pct(r)))
                    .unwrap_or_default()
            ),
        );
        f.columns = cur.label.iter().cloned().collect();
        f.sources = top_sources(&sources);
        f.rows = dc.conflicting_rows;
        f.baseline_rows = base_rows;
        f.p_value = p;
        f.q_value = p;
        f.effect = Some(NamedValue {
            name: "conflict_rate_delta".into(),
            value: rc - rb.unwrap_or(0.0),
        });
        f.evidence = evidence(vec![
            ("conflicting_groups", json!(dc.conflicting_groups)),
            ("current_rate", json_num(rc)),
            (
                "baseline_rate",
                rb.map(json_num).unwrap_or(serde_json::Value::Null),
            ),
            ("rows_by_source", sources_json(&sources)),
        ]);
        vec![f]
    }
}

pub struct NewGroups;

/// Smallest group size that counts as large.
const GROUP_MIN: u64 = 10;
const GROUP_PARAMS: [Param; 2] = [
    Param {
        name: "min-rows",
        default: GROUP_MIN as f64,
        min: 2.0,
        max: 1e12,
        doc: "smallest group of identical rows reported",
    },
    Param {
        name: "growth",
        default: GROUP_GROWTH as f64,
        min: 1.0,
        max: 1e6,
        doc: "a group the baseline had must have grown this many times",
    },
];
/// A group already in the baseline counts as new when it grew at least this many times.
const GROUP_GROWTH: u64 = 5;
/// Groups listed in the evidence.
const MAX_GROUPS: usize = 10;

impl Detector for NewGroups {
    fn code(&self) -> &'static str {
        "DUP003"
    }
    fn check(&self) -> &'static str {
        "new-identical-groups"
    }
    fn doc(&self) -> &'static str {
        "What it finds: large groups of identical rows (same features, one label) that the \
baseline does not have, or had at most a fifth as many of: up-weighting of chosen examples.

Why it matters: repeating one row many times is the cheapest data-poisoning attack there is; \
the model's loss is dominated by the repeated rows and their label.

Example: one feature vector repeated 400 times, all labelled 1, absent from the baseline: high.

Defaults: a group is large from 10 rows, and above the baseline's largest group of identical \
feature vectors (scaled by the ratio of row counts when the current data is larger), so data \
with many natural repeats raises the bar. Severity by the share of rows in such groups: \
≥ 1% high, ≥ 0.1% medium, otherwise low."
    }
    fn params(&self) -> &'static [Param] {
        &GROUP_PARAMS
    }

    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let Some(base) = ctx.baseline else {
            return Vec::new();
        };
        let cur = ctx.current;
        let b = &base.fingerprints.rows;
        // Large means larger than any group the baseline has, scaled to the current size:
        // data with few, coarse columns repeats rows naturally.
        let largest = base.duplicates().largest_feature_group;
        let scale = (cur.rows as f64 / base.rows.max(1) as f64).max(1.0);
        let min_size = (ctx.param(self.code(), &GROUP_PARAMS[0]) as u64)
            .max((largest as f64 * scale).ceil() as u64 + 1);
        let names: BTreeMap<u32, &str> = cur
            .label_counts
            .keys()
            .map(|l| (label_hash(l), l.as_str()))
            .collect();
        let rows = &cur.fingerprints.rows;
        // (rows, rows in the baseline, label, rows by source)
        type Group = (u64, u64, String, Vec<(String, u64)>);
        let mut groups: Vec<Group> = Vec::new();
        for (s, e) in feature_runs(rows) {
            let size = (e - s) as u64;
            if size < min_size
                || rows[s..e]
                    .iter()
                    .any(|&f| label_part(f) != label_part(rows[s]))
            {
                continue;
            }
            let feat = features(rows[s]);
            let lo = b.partition_point(|&x| features(x) < feat);
            let hi = b.partition_point(|&x| features(x) <= feat);
            let in_base = (hi - lo) as u64;
            if in_base > 0
                && (size as f64) < ctx.param(self.code(), &GROUP_PARAMS[1]) * in_base as f64
            {
                continue;
            }
            // A numeric target's fingerprints carry its value, which no label key names.
            let label = match names.get(&label_part(rows[s])) {
                Some(l) if cur.label_type == crate::profile::LabelType::Class => l.to_string(),
                _ if cur.label_type == crate::profile::LabelType::Numeric => {
                    "one target value".into()
                }
                _ => "?".into(),
            };
            groups.push((
                size,
                in_base,
                label,
                sources_of(cur, rows[s..e].iter().copied()),
            ));
        }
        if groups.is_empty() {
            return Vec::new();
        }
        groups.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then_with(|| a.2.cmp(&b.2))
                .then_with(|| a.3.cmp(&b.3))
        });
        let total: u64 = groups.iter().map(|g| g.0).sum();
        let share = total as f64 / cur.rows.max(1) as f64;
        let sev = if share >= 0.01 {
            Severity::High
        } else if share >= 0.001 {
            Severity::Medium
        } else {
            Severity::Low
        };
        let mut all_sources: BTreeMap<String, u64> = BTreeMap::new();
        for g in &groups {
            for (s, n) in &g.3 {
                *all_sources.entry(s.clone()).or_default() += n;
            }
        }
        let mut srcs: Vec<(String, u64)> = all_sources.into_iter().collect();
        srcs.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut f = Finding::new(
            self.code(),
            self.check(),
            sev,
            share,
            format!(
                "{} new group{} of identical single-label rows ({} rows, {}; the largest: {} copies labelled `{}`)",
                groups.len(),
                if groups.len() == 1 { "" } else { "s" },
                crate::report::thousands(total),
                pct(share),
                groups[0].0,
                groups[0].2
            ),
        );
        f.columns = cur.label.iter().cloned().collect();
        f.sources = top_sources(&srcs);
        f.rows = total;
        f.baseline_rows = Some(groups.iter().map(|g| g.1).sum());
        f.effect = Some(NamedValue {
            name: "share_of_rows".into(),
            value: share,
        });
        f.evidence = evidence(vec![
            ("min_group_size", json!(min_size)),
            (
                "groups",
                json!(groups.iter().take(MAX_GROUPS).map(|g| json!({
                    "rows": g.0,
                    "baseline_rows": g.1,
                    "label": g.2,
                    "sources": g.3.iter().map(|s| json!({"source": s.0, "rows": s.1})).collect::<Vec<_>>(),
                })).collect::<Vec<_>>()),
            ),
        ]);
        vec![f]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fingerprint with these features and label.
    fn fp(features: u128, label: u32) -> u128 {
        (features << 48) | ((label as u128) << 16)
    }

    /// The p-value DUP001 and DUP002 print: a normal tail of the rise over the baseline's
    /// variance scaled to both sides (values from Python's `0.5 * math.erfc(z / math.sqrt(2))`).
    #[test]
    fn rate_test_p_values_by_hand() {
        let t = RateTest {
            cur: 30,
            n_cur: 1000,
            base: 10,
            n_base: 1000,
            base_var: 9.0,
        };
        // z = 0.02 / √(0.009/1000 + 0.009/1000) = 4.714045
        assert!((t.p_value() / 1.2142337364879275e-06 - 1.0).abs() < 1e-6);
        // A baseline without repeats: half a row's worth of variance.
        let t = RateTest {
            cur: 40,
            n_cur: 2000,
            base: 0,
            n_base: 1000,
            base_var: 0.0,
        };
        // Var = 0.5/1000/2000 + 0.5/1000/1000, z = 0.02 / √Var = 23.094011
        assert!((t.p_value() / 2.6591224769489574e-118 - 1.0).abs() < 1e-4);
        assert_eq!(
            RateTest {
                cur: 10,
                n_cur: 1000,
                base: 10,
                n_base: 1000,
                base_var: 9.0
            }
            .p_value(),
            0.5
        );
    }

    #[test]
    fn cluster_variances_by_hand() {
        // Groups of identical rows: {1:a ×3}, {2:a ×2, 2:b ×1}, {3:a}, {4:b ×2}.
        let mut rows = vec![
            fp(1, 7),
            fp(1, 7),
            fp(1, 7),
            fp(2, 7),
            fp(2, 7),
            fp(2, 8),
            fp(3, 7),
            fp(4, 8),
            fp(4, 8),
        ];
        rows.sort_unstable();
        let (dup, conflict) = cluster_variance(&rows, 9);
        // Repeats per group of identical rows: 2, 1, 0, 0, 1 (m = 5, Y = 4).
        assert!(
            (dup - (4.0 + 1.0 + 1.0 - 16.0 / 5.0)).abs() < 1e-12,
            "{dup}"
        );
        // Conflicting rows per feature group: 0, 3, 0, 0 (m = 4, Y = 3).
        assert!((conflict - (9.0 - 9.0 / 4.0)).abs() < 1e-12, "{conflict}");
        // Pairs and lone rows only: the binomial variance Y(1 − Y/m).
        let pairs: Vec<u128> = (0..10u128)
            .flat_map(|f| {
                if f < 3 {
                    vec![fp(f, 1), fp(f, 1)]
                } else {
                    vec![fp(f, 1)]
                }
            })
            .collect();
        let (dup, _) = cluster_variance(&pairs, 13);
        assert!((dup - 3.0 * (1.0 - 3.0 / 10.0)).abs() < 1e-12, "{dup}");
        // A profile that keeps only its repeated rows' fingerprints: the other rows are lone.
        let repeated: Vec<u128> = pairs.into_iter().filter(|&f| f >> 48 < 3).collect();
        let (dup, _) = cluster_variance(&repeated, 13);
        assert!((dup - 3.0 * (1.0 - 3.0 / 10.0)).abs() < 1e-12, "{dup}");
    }
}
