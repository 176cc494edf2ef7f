//! OUT001: the outlier rate rose against the baseline, overall, in a source file or in a
//! single-predicate slice. Reads the row pass (`rows::pass`).

use super::{Context, Detector, Finding, NamedValue, Param, tier_params};
use super::{evidence, json_num, pct, slice_predicate, source_path, tier};
use crate::rows::pass::{GroupKey, RowPass, TAIL};

/// Minimum flagged rows, and minimum flagged rows above the expected count, for a finding.
const MIN_FLAGGED: u64 = 10;
/// … and in one source file.
const MIN_FLAGGED_FILE: u64 = 3;
/// Severity by the ratio of the outlier rate to the rate it is tested against.
const RATIO_TIERS: [Param; 3] = tier_params(
    2.0,
    5.0,
    20.0,
    1e6,
    "ratio of the outlier rate to the baseline's at this severity",
);
/// At most this many slice findings and source findings each (strongest first).
const MAX_FINDINGS: usize = 10;

pub struct OutlierRate;

impl Detector for OutlierRate {
    fn code(&self) -> &'static str {
        "OUT001"
    }
    fn check(&self) -> &'static str {
        "outlier-rate-up"
    }
    fn doc(&self) -> &'static str {
        "What it finds: more rows above the baseline's outlier threshold than the baseline has, in \
the whole data, in one source file, or in one slice (a category, a baseline-decile bin of a \
numeric column, the values below the baseline's minimum or above its maximum, the nulls of a \
column). The finding names the slice or file, the rates, the \
columns that made the flagged rows extreme, and example rows.

Why it matters: injected rows (an outlier block, a trigger stamped on rows, a corrupted file) \
are often far from the baseline's data in a few columns while each column on its own still looks \
plausible; a per-row score catches the combination, the groups say where the rows are.

Example: 1,000 rows of `current/part-3.parquet` are outliers (97% of the file's flagged rows \
have `amount` and `age` at the extreme), rate 40% against 0.5% in the baseline: high.

Defaults: each row gets an Isolation Forest score (100 trees, subsample 256) and an ECOD score, \
both fitted on the baseline's sample on a shared encoding (numbers scaled by the baseline's \
median and IQR, categories by their baseline frequency, missing values as indicators); the \
`outlier_score` in the rows file is the share of baseline rows less outlying (the rank of the \
larger of the two detectors' ranks), and a row is flagged above 0.995: 0.5% of the baseline. A \
group's baseline rate is the upper 99% bound (Wilson) of its own flagged share in the baseline \
sample (for values past the baseline's range, of the extreme decile bin's); the severity follows \
the ratio to it. A file or a slice is tested against the larger of that rate and the rate in the \
rest of the current data, so that a rise spread evenly is reported once, for the whole data; it \
must at least double that rate. One-sided binomial test, Benjamini–Hochberg across \
all groups tested, q ≤ 0.01; at least 10 flagged rows, 10 more than expected (in a file, where \
a small batch of injected rows arrives, 3 and 3), and a rate ratio \
≥ 2 (low), ≥ 5 (medium), ≥ 20 (high). Needs a baseline; without one the rows file still gets \
scores."
    }
    fn params(&self) -> &'static [Param] {
        &RATIO_TIERS
    }

    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let (Some(rp), Some(_)) = (ctx.rows, ctx.baseline) else {
            return Vec::new();
        };
        outlier_findings(ctx, rp)
    }
}

struct Tested {
    key: GroupKey,
    n: u64,
    k: u64,
    /// The group's baseline rate (the effect is measured against it) ...
    p0: f64,
    /// ... and the rate tested against: also at least the current data's overall rate.
    p_test: f64,
    baseline_rows: Option<u64>,
    p: f64,
}

fn outlier_findings(ctx: &Context<'_>, rp: &RowPass) -> Vec<Finding> {
    let tiers = ctx.tiers("OUT001", &RATIO_TIERS);
    let m = &rp.model;
    let all = m.reference_all;
    // Where: a file or slice must stand out against the rest of the current data too, so that a
    // rise spread over the whole data is reported once (the `All` group), not in every slice.
    let (all_rows, all_flagged) = rp
        .groups
        .get(&GroupKey::All)
        .map(|g| (g.rows, g.flagged))
        .unwrap_or((0, 0));
    let current_rate = if all_rows > 0 {
        all_flagged as f64 / all_rows as f64
    } else {
        0.0
    };
    let rest_rate = |n: u64, k: u64| {
        let (rn, rk) = (all_rows.saturating_sub(n), all_flagged.saturating_sub(k));
        if rn > 0 { rk as f64 / rn as f64 } else { 0.0 }
    };
    let mut tested: Vec<Tested> = Vec::new();
    for (key, g) in &rp.groups {
        if g.rows == 0 {
            continue;
        }
        if let GroupKey::Slice { feature, code } = key
            && m.is_new_category(*feature, *code)
        {
            continue;
        }
        // The group's baseline: its own rows of the reference sample; for values past the
        // reference's range (no reference rows by definition) the extreme decile bin; else the
        // whole sample.
        let reference = match key {
            GroupKey::All | GroupKey::Source(_) => all,
            GroupKey::Slice { feature, code } => {
                let own = m.reference_groups.get(key).copied().unwrap_or_default();
                let near = m
                    .nearest_reference_group(*feature, *code)
                    .and_then(|k| m.reference_groups.get(&k).copied());
                match near {
                    Some(n) if own.rows == 0 => n,
                    _ if own.rows == 0 => all,
                    _ => own,
                }
            }
        };
        let baseline_rows = match key {
            GroupKey::Slice { .. } => Some(
                m.reference_groups
                    .get(key)
                    .map(|r| r.rows_weighted.round() as u64)
                    .unwrap_or(0),
            ),
            _ => None,
        };
        // The baseline rate's upper 99% bound (Wilson), from the sample rows behind it, and
        // never below the design rate's tenth.
        let p0 = crate::stats::wilson_upper(reference.rate(), reference.rows).max(TAIL / 10.0);
        let p_test = match key {
            GroupKey::All => p0,
            _ => p0.max(rest_rate(g.rows, g.flagged)),
        };
        tested.push(Tested {
            key: *key,
            n: g.rows,
            k: g.flagged,
            p0,
            p_test,
            baseline_rows,
            p: crate::stats::binom_sf_ge(g.flagged, g.rows, p_test),
        });
    }
    let q = crate::stats::bh_adjust(&tested.iter().map(|t| t.p).collect::<Vec<_>>());
    let mut findings: Vec<(GroupKey, Finding)> = Vec::new();
    for (t, &q) in tested.iter().zip(&q) {
        let rate = t.k as f64 / t.n as f64;
        let ratio = rate / t.p0;
        let expected = t.p_test * t.n as f64;
        // A file may be a small batch of injected rows: three flagged rows are enough there
        // when the test says so; a slice or the whole data needs ten.
        let min = match t.key {
            GroupKey::Source(_) => MIN_FLAGGED_FILE,
            _ => MIN_FLAGGED,
        };
        if q > ctx.alpha() || t.k < min || (t.k as f64) < expected + min as f64 {
            continue;
        }
        // A file or slice must at least double the rate it is tested against (its baseline's,
        // and the rest of the current data's).
        if t.key != GroupKey::All && rate < 2.0 * t.p_test {
            continue;
        }
        let Some(severity) = tier(ratio, tiers.0, tiers.1, tiers.2) else {
            continue;
        };
        let g = &rp.groups[&t.key];
        let (slice, sources, place, columns) = match t.key {
            GroupKey::All => (
                Vec::new(),
                Vec::new(),
                "in the data".to_string(),
                Vec::new(),
            ),
            GroupKey::Source(s) => {
                let path = source_path(ctx.current, s);
                (
                    Vec::new(),
                    vec![path.clone()],
                    format!("in `{path}`"),
                    Vec::new(),
                )
            }
            GroupKey::Slice { feature, code } => {
                let Some(desc) = m.slice_of(feature, code) else {
                    continue;
                };
                let (pred, text, col) = slice_predicate(ctx, &desc);
                (vec![pred], Vec::new(), format!("where {text}"), vec![col])
            }
        };
        // Features by their share of the flagged rows' ECOD mass.
        let sums = g.term_sums();
        let total: f64 = sums.iter().sum();
        let mut top: Vec<(usize, f64)> = sums
            .iter()
            .enumerate()
            .map(|(j, &v)| (j, if total > 0.0 { v / total } else { 0.0 }))
            .collect();
        top.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        top.truncate(3);
        let top_json: Vec<serde_json::Value> = top
            .iter()
            .map(|&(j, share)| {
                serde_json::json!({
                    "feature": m.encoder.features[j].name,
                    "share_of_ecod_score": json_num(share),
                })
            })
            .collect();
        let mut columns = columns;
        for &(j, _) in &top {
            let c = &m.encoder.features[j].column;
            if !columns.contains(c) {
                columns.push(c.clone());
            }
        }
        let title = format!(
            "Outlier rate {} ({} of {} rows) {place}, against {} in the baseline",
            pct(rate),
            crate::report::thousands(t.k),
            crate::report::thousands(t.n),
            pct(t.p0)
        );
        let mut f = Finding::new(
            "OUT001",
            "outlier-rate-up",
            severity,
            score(ratio, q),
            title,
        );
        f.columns = columns;
        f.slice = slice;
        f.sources = sources;
        f.rows = t.k;
        f.baseline_rows = t.baseline_rows;
        f.statistic = Some(NamedValue {
            name: "flagged_rows".into(),
            value: t.k as f64,
        });
        f.p_value = Some(t.p);
        f.q_value = Some(q);
        f.effect = Some(NamedValue {
            name: "outlier_rate_ratio".into(),
            value: crate::report::round(ratio),
        });
        f.example_rows = super::row_refs(ctx.current, &g.examples);
        f.evidence = evidence(vec![
            ("rows_in_group", serde_json::json!(t.n)),
            ("flagged_rows", serde_json::json!(t.k)),
            ("outlier_rate", json_num(rate)),
            ("baseline_outlier_rate", json_num(t.p0)),
            ("current_outlier_rate_overall", json_num(current_rate)),
            (
                "current_outlier_rate_elsewhere",
                json_num(rest_rate(t.n, t.k)),
            ),
            ("expected_flagged_rows", json_num(expected)),
            ("threshold_outlier_score", json_num(1.0 - TAIL)),
            ("top_features", serde_json::Value::Array(top_json)),
            ("detectors", serde_json::json!(["isolation_forest", "ecod"])),
            ("baseline_sample_rows", serde_json::json!(m.sample_rows)),
        ]);
        findings.push((t.key, f));
    }
    // The strongest first; cap slice and source findings.
    super::strongest(findings, MAX_FINDINGS, |k| match k {
        GroupKey::All => None,
        GroupKey::Source(_) => Some(0),
        GroupKey::Slice { .. } => Some(1),
    })
}

/// A finding's score in [0, 1]: grows with the rate ratio, scaled down when the evidence is
/// weak.
fn score(ratio: f64, q: f64) -> f64 {
    super::weighted_score(1.0 - 1.0 / ratio.max(1.0), q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Severity;
    use crate::stats::wilson_upper;

    #[test]
    fn score_grows_with_ratio_and_certainty() {
        assert!(score(10.0, 1e-20) > score(3.0, 1e-20));
        assert!(score(10.0, 1e-20) > score(10.0, 1e-3));
        assert!(score(100.0, 0.0) <= 1.0);
        assert_eq!(score(1.0, 1e-20), 0.0);
    }

    #[test]
    fn wilson_upper_bound_by_hand() {
        // No event in n rows: the bound is z²/(n + z²), z = Φ⁻¹(0.99) = 2.3263478740408408.
        let z2 = 2.326_347_874_040_841_f64.powi(2);
        assert!((wilson_upper(0.0, 100) - z2 / (100.0 + z2)).abs() < 1e-15);
        // 0.5% of 6,000 rows (30 flagged): 0.76%, from the score-interval formula.
        assert!((wilson_upper(0.005, 6000) - 0.007_609_942_380_001_966).abs() < 1e-12);
        assert!((wilson_upper(0.3, 50) - 0.464_072_422_052_706_4).abs() < 1e-12);
        assert_eq!(wilson_upper(0.5, 0), 1.0);
    }

    #[test]
    fn severity_tiers() {
        assert_eq!(tier(2.5, 2.0, 5.0, 20.0), Some(Severity::Low));
        assert_eq!(tier(25.0, 2.0, 5.0, 20.0), Some(Severity::High));
        assert_eq!(tier(1.5, 2.0, 5.0, 20.0), None);
    }
}
