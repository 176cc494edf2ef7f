//! OUT002: the rows of one source file lie off the baseline's joint distribution, each value
//! plausible, the combination not. Reads the row pass's joint ranks (`rows::pass::joint`).

use super::{Context, Detector, Finding, NamedValue, Param, tier_params};
use super::{evidence, json_num, pct, source_path, tier};
use crate::rows::pass::{GroupCount, GroupKey, JOINT_BINS, JointModel, RowPass, TERM_RANK};
use crate::stats::rank_sum_p;

/// Fewest rows a file needs to be tested (a small batch of injected rows is a file too).
const MIN_ROWS: u64 = 3;
/// Fewest rows the rest of the current data needs for the file to be compared with it.
const MIN_REST: u64 = 20;
/// Severity by the smaller of the file's two A values (against the baseline, against the rest
/// of the current data): Vargha and Delaney's (2000) small, medium and large effects.
const A_TIERS: [Param; 3] = tier_params(
    0.56,
    0.64,
    0.71,
    1.0,
    "probability that a row of the file lies farther from the baseline's joint distribution \
than a row of the baseline (and than a row of the other files) at this severity",
);
/// At most this many findings (strongest first).
const MAX_FINDINGS: usize = 10;
/// Columns named in a finding.
const TOP_COLUMNS: usize = 3;

pub struct JointOutliers;

impl Detector for JointOutliers {
    fn code(&self) -> &'static str {
        "OUT002"
    }
    fn check(&self) -> &'static str {
        "rows-off-joint-distribution"
    }
    fn doc(&self) -> &'static str {
        "What it finds: a source file whose rows lie farther from the baseline's joint \
distribution than the baseline's own rows and the other files' rows do, although each of their \
values may be common. The finding names the file, how often one of its rows is the more \
atypical, and the columns whose combination is off.

Why it matters: fabricated rows (each value taken from a different real record, or drawn \
column by column by a generator) pass every per-column check, the outlier forest and the label \
checks; what they break is how the columns go together, and they arrive as a batch, a file.

Example: `current/part-4.parquet`, 100 rows: a random row of it is farther from the baseline's \
joint distribution than a random baseline row 86% of the time, and than a row of the other \
files 85% of the time; `relationship` and `sex` no longer agree: high.

Defaults: each row's Mahalanobis distance from the baseline sample's weighted mean and \
covariance (numbers robust-scaled and clipped to ±5, categories of up to 16 values one-hot, \
wider ones by frequency, a null where the encoder puts it; the leading 64 principal \
directions, the others as one residual term, eigenvalues floored at 0.1% of their mean), turned into its rank among \
the baseline's rows. A file (3 rows or more, when the current data has another file) is tested \
against the baseline (its rows' ranks are uniform if it is like the baseline) and against the \
rest of the current data (the Mann–Whitney test in ranks, ties at the histogram's 1/200 \
resolution counted half); the larger p-value counts, so that drift of the whole data is left \
to DRF. Up to 20 rows the rank sum is read off the Irwin–Hall distribution, beyond that the \
normal; Benjamini–Hochberg across files, q ≤ 0.01. Severity by the smaller of the two \
Vargha–Delaney A values (the rank sums' means): ≥ 0.56 low, ≥ 0.64 medium, ≥ 0.71 high. \
Needs a baseline and at least two current files."
    }
    fn params(&self) -> &'static [Param] {
        &A_TIERS
    }

    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let (Some(rp), Some(_)) = (ctx.rows, ctx.baseline) else {
            return Vec::new();
        };
        let Some(jm) = rp.joint.as_ref() else {
            return Vec::new();
        };
        joint_findings(ctx, rp, jm)
    }
}

/// One file's test.
struct Tested {
    source: u32,
    rows: u64,
    /// Mean rank against the baseline and against the rest of the current data (the A values).
    a_baseline: f64,
    a_rest: f64,
    p_baseline: f64,
    p_rest: f64,
}

/// A group's rows: the sum of its rank histogram.
fn rows_of(g: &GroupCount) -> u64 {
    g.joint.iter().fold(0u64, |a, &b| a.saturating_add(b))
}

fn joint_findings(ctx: &Context<'_>, rp: &RowPass, jm: &JointModel) -> Vec<Finding> {
    let tiers = ctx.tiers("OUT002", &A_TIERS);
    let Some(all) = rp
        .groups
        .get(&GroupKey::All)
        .filter(|g| !g.joint.is_empty())
    else {
        return Vec::new();
    };
    let files: Vec<(u32, &GroupCount)> = rp
        .groups
        .iter()
        .filter_map(|(k, g)| match k {
            GroupKey::Source(s) if rows_of(g) > 0 => Some((*s, g)),
            _ => None,
        })
        .collect();
    if files.len() < 2 {
        return Vec::new();
    }
    let n_all = rows_of(all);
    let mut tested = Vec::new();
    for &(source, g) in &files {
        let n = rows_of(g);
        let rest_n = n_all.saturating_sub(n);
        if n < MIN_ROWS || rest_n < MIN_REST {
            continue;
        }
        // Against the baseline: the ranks themselves.
        let sum = g.joint_rank_sum();
        let a_baseline = sum / n as f64;
        let p_baseline = rank_sum_p(sum, n, jm.sample_rows as u64);
        // Against the rest: each bin's rank among the rest's rows (below it, and half of those
        // in it).
        let mut below = 0u64;
        let mut rest_sum = 0.0;
        for b in 0..JOINT_BINS {
            let file_b = g.joint.get(b).copied().unwrap_or(0);
            let rest_b = all
                .joint
                .get(b)
                .copied()
                .unwrap_or(0)
                .saturating_sub(file_b);
            let rank = (below as f64 + 0.5 * rest_b as f64) / rest_n as f64;
            rest_sum += file_b as f64 * rank;
            below += rest_b;
        }
        tested.push(Tested {
            source,
            rows: n,
            a_baseline,
            a_rest: rest_sum / n as f64,
            p_baseline,
            p_rest: rank_sum_p(rest_sum, n, rest_n),
        });
    }
    let p: Vec<f64> = tested.iter().map(|t| t.p_baseline.max(t.p_rest)).collect();
    let q = crate::stats::bh_adjust(&p);
    let mut findings = Vec::new();
    for ((t, &p), &q) in tested.iter().zip(&p).zip(&q) {
        if q > ctx.alpha() {
            continue;
        }
        let a = t.a_baseline.min(t.a_rest);
        let Some(severity) = tier(a.max(0.5), tiers.0, tiers.1, tiers.2) else {
            continue;
        };
        let g = &rp.groups[&GroupKey::Source(t.source)];
        let path = source_path(ctx.current, t.source);
        let top = top_columns(rp, jm, g);
        let names: Vec<String> = top.iter().map(|(c, _)| format!("`{c}`")).collect();
        let which = match names.len() {
            0 => String::new(),
            1 => format!("; mostly {}", names[0]),
            _ => format!("; mostly {}", names.join(", ")),
        };
        let title = format!(
            "Rows of `{path}` ({}) lie off the baseline's joint distribution: one of them is \
farther from it than a baseline row {} of the time, than a row of the other files {}{which}",
            crate::report::thousands(t.rows),
            pct(t.a_baseline),
            pct(t.a_rest),
        );
        let mut f = Finding::new(
            "OUT002",
            "rows-off-joint-distribution",
            severity,
            super::weighted_score(2.0 * (a - 0.5), q),
            title,
        );
        f.sources = vec![path];
        f.columns = top.iter().map(|(c, _)| c.clone()).collect();
        f.rows = t.rows;
        f.statistic = Some(NamedValue {
            name: "mean_joint_rank".into(),
            value: crate::report::round(t.a_baseline),
        });
        f.p_value = Some(p);
        f.q_value = Some(q);
        f.effect = Some(NamedValue {
            name: "vargha_delaney_a".into(),
            value: crate::report::round(a),
        });
        let top_json: Vec<serde_json::Value> = top
            .iter()
            .map(|(c, ratio)| {
                serde_json::json!({"column": c, "share_of_distance_vs_baseline": json_num(*ratio)})
            })
            .collect();
        f.evidence = evidence(vec![
            ("rows_in_group", serde_json::json!(t.rows)),
            ("a_against_baseline", json_num(t.a_baseline)),
            ("a_against_rest", json_num(t.a_rest)),
            ("p_against_baseline", json_num(t.p_baseline)),
            ("p_against_rest", json_num(t.p_rest)),
            (
                "rest_rows",
                serde_json::json!(rows_of(all).saturating_sub(t.rows)),
            ),
            ("rows_above_rank", serde_json::json!(g.joint_above)),
            ("rank_threshold", json_num(TERM_RANK)),
            ("top_columns", serde_json::Value::Array(top_json)),
            ("baseline_sample_rows", serde_json::json!(jm.sample_rows)),
        ]);
        findings.push((t.source, f));
    }
    super::strongest(findings, MAX_FINDINGS, |_| Some(0))
}

/// The columns whose share of the distance, among the file's rows above `TERM_RANK`, most
/// exceeds their share among the baseline's such rows (the ratio of the two mean shares; at
/// most `TOP_COLUMNS`, those at least 1.5 times the baseline's).
fn top_columns(rp: &RowPass, jm: &JointModel, g: &GroupCount) -> Vec<(String, f64)> {
    let columns: Vec<&str> = rp
        .model
        .encoder
        .features
        .iter()
        .map(|f| f.column.as_str())
        .collect();
    column_ratios(
        &columns,
        &g.joint_term_sums(),
        g.joint_above,
        &jm.reference_terms,
    )
}

/// `top_columns` on plain numbers: per encoder feature its column, the group's summed shares of
/// D² over its `above` rows, and the reference's mean share. A column's shares are the sums over
/// its features (a category's one-hot dimensions are one feature; a column may have several).
/// No column without a row above `TERM_RANK`.
fn column_ratios(
    columns: &[&str],
    sums: &[f64],
    above: u64,
    reference: &[f64],
) -> Vec<(String, f64)> {
    if above == 0 {
        return Vec::new();
    }
    let mut by_column: Vec<(String, f64, f64)> = Vec::new();
    for (j, column) in columns.iter().enumerate() {
        let cur = sums.get(j).copied().unwrap_or(0.0) / above as f64;
        let base = reference.get(j).copied().unwrap_or(0.0);
        match by_column.iter_mut().find(|(c, ..)| c == column) {
            Some(e) => {
                e.1 += cur;
                e.2 += base;
            }
            None => by_column.push((column.to_string(), cur, base)),
        }
    }
    // A share of D² is about 1 per dimension on the baseline; a floor keeps a column that
    // barely contributes there from a huge ratio.
    let mut ratios: Vec<(String, f64)> = by_column
        .into_iter()
        .map(|(c, cur, base)| (c, cur / base.max(1.0)))
        .filter(|(_, r)| *r >= 1.5)
        .collect();
    ratios.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ratios.truncate(TOP_COLUMNS);
    ratios
}

#[cfg(test)]
mod tests {
    use super::column_ratios;

    /// The ratios by hand: 4 rows above the rank threshold, six features of five columns
    /// (`c` has two). Mean shares now: a 12/4 = 3, b 2/4 = 0.5, c (4 + 6)/4 = 2.5, d 9/4 = 2.25,
    /// e 8/4 = 2. The reference's: a 1.2, b 0.25 (floored to 1), c 0.5 + 0.5 = 1, d 1.5, e 0.4
    /// (floored to 1). Ratios: a 2.5, b 0.5, c 2.5, d 1.5, e 2: b is under 1.5, and the top three
    /// are a and c (tied, by name) and e; d (1.5, enough) is the fourth and left out.
    #[test]
    fn ratios_by_hand() {
        let got = column_ratios(
            &["a", "b", "c", "c", "d", "e"],
            &[12.0, 2.0, 4.0, 6.0, 9.0, 8.0],
            4,
            &[1.2, 0.25, 0.5, 0.5, 1.5, 0.4],
        );
        let want = [("a", 2.5), ("c", 2.5), ("e", 2.0)];
        assert_eq!(got.len(), want.len(), "{got:?}");
        for ((c, r), (wc, wr)) in got.iter().zip(want) {
            assert_eq!(c, wc);
            assert!((r - wr).abs() < 1e-12, "{got:?}");
        }
        // A column under 1.5 times the reference's share is not named.
        assert!(column_ratios(&["a"], &[1.4], 1, &[1.0]).is_empty());
        // No row above the rank threshold: no column, whatever the sums.
        assert!(column_ratios(&["a"], &[5.0], 0, &[1.0]).is_empty());
    }
}
