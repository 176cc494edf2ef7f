//! SLC001: the slices (conjunctions of up to three predicates) that best explain what changed,
//! found by SliceLine on four error vectors and kept only when a held-out half confirms them
//! against the baseline (see `slice`).

use std::collections::BTreeMap;

use serde_json::json;

use super::{
    Context, Detector, Finding, NamedValue, Param, Predicate, Severity, evidence, json_num, pct,
    slice_predicate, source_path, tier, tier_params, weighted_score,
};
use crate::slice::{self, Candidate, Key, SearchSettings, SliceData, Tally};

pub struct SliceFinder;

const MIN_ROWS: Param = Param {
    name: "min-rows",
    default: 10.0,
    min: 5.0,
    max: 1e9,
    doc: "smallest slice searched, in sample rows of the search half",
};
const TOP_K: Param = Param {
    name: "k",
    default: 10.0,
    min: 1.0,
    max: 100.0,
    doc: "slices each SliceLine pass keeps (then re-tested)",
};
const SEARCH_ROWS: Param = Param {
    name: "search-rows",
    default: 25_000.0,
    min: 1000.0,
    max: 1e7,
    doc: "most sample rows of each side the search uses (a seeded subset of the search half)",
};
const MAX_CANDIDATES: Param = Param {
    name: "max-candidates",
    default: 20_000.0,
    min: 100.0,
    max: 1e7,
    doc: "most candidates evaluated per level, those with the highest score bounds",
};
const ROUNDS: Param = Param {
    name: "rounds",
    default: 3.0,
    min: 1.0,
    max: 20.0,
    doc: "rounds of each pass; after a round its best slice's rows count as explained",
};
const MAX_LEVEL: Param = Param {
    name: "max-level",
    default: 3.0,
    min: 1.0,
    max: 3.0,
    doc: "most predicates in a slice",
};
const ALPHA_BROAD: Param = Param {
    name: "alpha-broad",
    default: 0.5,
    min: 0.01,
    max: 1.0,
    doc: "SliceLine's alpha of the broad pass (weight of the error against the size)",
};
/// Membership's mean error is the current side's share of the rows (about 1/2), so a slice of
/// current rows only scores above 0 when it holds more than 1 − α of all rows: α 0.95 (5%) is
/// its broad pass and 0.999 (0.1%) its concentrated one.
const MEMBERSHIP_BROAD: Param = Param {
    name: "membership-alpha-broad",
    default: 0.95,
    min: 0.01,
    max: 1.0,
    doc: "SliceLine's alpha of membership's broad pass (a slice of current rows only needs 1 - alpha of the rows)",
};
const MEMBERSHIP_SMALL: Param = Param {
    name: "membership-alpha-concentrated",
    default: 0.999,
    min: 0.01,
    max: 1.0,
    doc: "SliceLine's alpha of membership's concentrated pass",
};
const ALPHA_SMALL: Param = Param {
    name: "alpha-concentrated",
    default: 0.99,
    min: 0.01,
    max: 1.0,
    doc: "SliceLine's alpha of the pass for small concentrated slices",
};
/// Severity of a rate (loss, outlier, label issue, share of rows) by its ratio to the
/// baseline's.
const RATIO: [Param; 3] = tier_params(
    2.0,
    4.0,
    8.0,
    1e6,
    "ratio of the slice's rate (or share of rows) now to the baseline's at this severity",
);
/// Severity of a label share's change within a slice (Cohen's h), as LBL001.
const LABEL_H: [Param; 3] = [
    Param {
        name: "label-h-low",
        ..LABEL_H_BASE[0]
    },
    Param {
        name: "label-h-medium",
        ..LABEL_H_BASE[1]
    },
    Param {
        name: "label-h-high",
        ..LABEL_H_BASE[2]
    },
];
const LABEL_H_BASE: [Param; 3] = tier_params(
    0.2,
    0.35,
    0.5,
    3.2,
    "Cohen's h of a label's share change within a slice at this severity",
);
const MEMBERSHIP_MEDIUM: Param = Param {
    name: "membership-medium-share",
    default: 0.01,
    min: 0.0,
    max: 1.0,
    doc: "an over-represented slice is medium (at most) only when it holds this share of the rows more than in the baseline",
};
const MIN_EXCESS: Param = Param {
    name: "min-excess-rows",
    default: 10.0,
    min: 1.0,
    max: 1e12,
    doc: "the slice must hold at least this many more affected rows than the baseline's rate gives",
};
const PARAMS: [Param; 19] = [
    SEARCH_ROWS,
    MAX_CANDIDATES,
    MEMBERSHIP_MEDIUM,
    ROUNDS,
    MIN_ROWS,
    TOP_K,
    MAX_LEVEL,
    ALPHA_BROAD,
    ALPHA_SMALL,
    MEMBERSHIP_BROAD,
    MEMBERSHIP_SMALL,
    RATIO[0],
    RATIO[1],
    RATIO[2],
    LABEL_H[0],
    LABEL_H[1],
    LABEL_H[2],
    MIN_EXCESS,
    MAX_FINDINGS,
];
const MAX_FINDINGS: Param = Param {
    name: "max-findings",
    default: 10.0,
    min: 1.0,
    max: 1000.0,
    doc: "most slices reported",
};

/// Two slices sharing this share of the smaller one's current rows are one finding.
const REDUNDANT: f64 = 0.5;

/// |a ∩ b| / min(|a|, |b|) of two sorted row lists.
fn overlap(a: &[u32], b: &[u32]) -> f64 {
    let (mut i, mut j, mut both) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                both += 1;
                i += 1;
                j += 1;
            }
        }
    }
    both as f64 / a.len().min(b.len()).max(1) as f64
}

/// A re-tested slice.
struct Tested {
    c: Candidate,
    t: [Tally; 4],
    z: f64,
    p: f64,
    /// Rate (or share) now and in the baseline.
    now: f64,
    before: f64,
    /// Ratio, or Cohen's h for a label share.
    effect: f64,
    excess: f64,
}

fn z_test(now: f64, n_now: f64, before: f64, n_before: f64) -> (f64, f64) {
    if n_now <= 0.0 || n_before <= 0.0 {
        return (0.0, 1.0);
    }
    let var = now * (1.0 - now) / n_now + before * (1.0 - before) / n_before;
    // A rate of 0 on both sides has no variance: floor it at half a row on the smaller side.
    let var = var.max(0.25 / (n_now.min(n_before) * n_now.min(n_before)));
    let z = (now - before) / var.sqrt();
    (z, crate::stats::normal_sf(z))
}

fn test(data: &SliceData, c: Candidate) -> Option<Tested> {
    let t = slice::retest_tallies(data, &c);
    let has_label = c.keys.iter().any(|k| matches!(k, Key::Label(_)));
    let (now, before, n_now, n_before, effect, excess): (f64, f64, f64, f64, f64, f64);
    if c.signal == "membership" && !has_label {
        // The slice's share of the current rows against its share of the baseline's.
        now = t[0].weight / t[2].weight.max(f64::MIN_POSITIVE);
        before = t[1].weight / t[3].weight.max(f64::MIN_POSITIVE);
        n_now = t[2].effective();
        n_before = t[3].effective();
        effect = now / before.max(0.5 / t[3].rows.max(1) as f64);
        excess = (now - before) * data.current_rows;
    } else {
        // A rate within the slice: the label's share (membership) or the signal's rate.
        // Both sides need rows in the slice: a slice's natural rate is not the data's (a rare
        // combination is an outlier more often, a hard one misclassified more often), and a
        // slice the baseline never had is SCH's and OUT001's to grade.
        if t[0].rows < 10 || t[1].rows < 10 {
            return None;
        }
        now = t[0].rate();
        n_now = t[0].effective();
        let reference = t[1];
        before = reference.rate();
        n_before = reference.effective();
        effect = if c.signal == "membership" {
            crate::stats::cohens_h(now, before)
        } else {
            now / before.max(0.5 / reference.rows.max(1) as f64)
        };
        let share = t[0].weight / t[2].weight.max(f64::MIN_POSITIVE);
        excess = (now - before) * share * data.current_rows;
    }
    let (z, p) = z_test(now, n_now, before, n_before);
    Some(Tested {
        c,
        t,
        z,
        p,
        now,
        before,
        effect,
        excess,
    })
}

impl Detector for SliceFinder {
    fn code(&self) -> &'static str {
        "SLC001"
    }

    fn check(&self) -> &'static str {
        "slice-finder"
    }

    fn doc(&self) -> &'static str {
        "What it finds: the slices (conjunctions of up to 3 predicates) that best explain what \
changed, with the signal that points at them.\n\n\
Why it matters: the other checks test one column, one file or one value at a time; poisoning \
and drift usually sit in a segment (a file crossed with a category, a range of one column \
within a category of another), and holding back the right rows before retraining needs that \
segment named.\n\n\
Example: outlier rate 99% where `promo_code` is null and the file is \
`current/part-0.parquet`, against 0.2% in the baseline: high.\n\n\
Defaults: SliceLine (Sagadeeva & Boehm, SIGMOD 2021), written here: level-wise enumeration of conjunctions \
of attribute values (categories, baseline decile bins, nulls, values past the range, the label, \
the source file), pruned by size and by an upper bound of the score \
alpha((se/ss)/e - 1) - (1-alpha)(n/ss - 1) from the parents' minima, top 10. It runs on the \
baseline's and the current data's samples (each row weighted by the rows it stands for), split \
at random in a search half (at most 25,000 rows of each side searched, at most 20,000 \
candidates evaluated per level, those with the highest score bounds) and a held-out half, on four error vectors: membership (current or \
baseline row, the label an attribute: a slice over-represented now, or a label over-represented \
within a slice), the 0-1 loss of the baseline's logistic regression (LBL003's model), OUT001's \
outlier flag, and LBL002/LBL003's label-issue flag. Each runs twice: broad (alpha 0.5) and for \
small concentrated slices (alpha 0.99); membership, whose mean error is about 1/2 rather than a \
small rate, with alpha 0.95 and 0.999 (a slice of current rows only then needs 5% and 0.1% of \
the rows).\n\n\
Every slice found is re-tested on the held-out half against the baseline: a slice's share of the \
rows (membership), a label's share within the slice's other predicates (membership with a \
label), or the signal's rate within the slice (the baseline's rows of both halves, which the \
search never saw): one-sided z-test with Kish's effective sample sizes, Benjamini-Hochberg \
across all slices tested, q <= 0.01, at least 10 more affected rows than the baseline's rate \
gives; both sides need 10 held-out sample rows in the slice (a slice the baseline never had is \
SCH's and OUT001's to grade), baseline rows matched without the source file. Severity: a label share by Cohen's h (0.2 low, 0.35 medium, 0.5 high, as LBL001); a \
rate or share by its ratio to the baseline's (2 low, 4 medium, 8 high); a share of rows \
(injected or drifted rows, which DRF, SCH, DUP and OUT grade) at most medium. Strongest first; a slice \
is dropped when half of its current rows are in a slice already reported (a refinement, or the \
same cause seen by another signal). Each pass runs 3 rounds: after a round, the rows of its best \
slice count as explained, so one strong cause cannot fill every top 10. Rows are estimated from \
the samples. Needs a baseline; the loss and label-issue signals need a label."
    }

    fn params(&self) -> &'static [Param] {
        &PARAMS
    }

    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let (Some(rp), Some(_)) = (ctx.rows, ctx.baseline) else {
            return Vec::new();
        };
        let Some(data) = ctx.slices else {
            return Vec::new();
        };
        let code = self.code();
        let settings = SearchSettings {
            alphas: [ctx.param(code, &ALPHA_BROAD), ctx.param(code, &ALPHA_SMALL)],
            membership_alphas: [
                ctx.param(code, &MEMBERSHIP_BROAD),
                ctx.param(code, &MEMBERSHIP_SMALL),
            ],
            k: ctx.param(code, &TOP_K) as usize,
            max_level: ctx.param(code, &MAX_LEVEL) as usize,
            min_rows: ctx.param(code, &MIN_ROWS) as u64,
            rounds: ctx.param(code, &ROUNDS) as usize,
            max_rows: ctx.param(code, &SEARCH_ROWS) as usize,
            max_candidates: ctx.param(code, &MAX_CANDIDATES) as usize,
        };
        let candidates = slice::search(data, &rp.model, &settings);
        let tested: Vec<Tested> = candidates
            .into_iter()
            .filter_map(|c| test(data, c))
            .collect();
        let q = crate::stats::bh_adjust(&tested.iter().map(|t| t.p).collect::<Vec<_>>());
        let ratio = ctx.tiers(code, &RATIO);
        let h = ctx.tiers(code, &LABEL_H);
        let min_excess = ctx.param(code, &MIN_EXCESS);
        let medium_share = ctx.param(code, &MEMBERSHIP_MEDIUM);
        let mut kept: Vec<(Severity, f64, &Tested, f64)> = Vec::new();
        for (t, &q) in tested.iter().zip(&q) {
            if q > ctx.alpha() || t.excess < min_excess || t.z <= 0.0 {
                continue;
            }
            let has_label = t.c.keys.iter().any(|k| matches!(k, Key::Label(_)));
            let severity = if t.c.signal == "membership" && has_label {
                tier(t.effect, h.0, h.1, h.2)
            } else if t.c.signal == "membership" {
                // Injected or drifted rows: medium only for a slice of at least 1% more of the
                // rows (DRF, SCH, DUP and OUT grade the rest).
                let cap = if t.excess >= medium_share * data.current_rows {
                    Severity::Medium
                } else {
                    Severity::Low
                };
                tier(t.effect, ratio.0, ratio.1, ratio.2).map(|s| s.min(cap))
            } else {
                tier(t.effect, ratio.0, ratio.1, ratio.2)
            };
            if let Some(s) = severity {
                kept.push((s, t.excess, t, q));
            }
        }
        // Within a severity, the slice that explains the most rows first: a general slice
        // before the purer refinements SliceLine also returns.
        kept.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then(b.1.total_cmp(&a.1))
                .then_with(|| a.2.c.signal.cmp(b.2.c.signal))
                .then_with(|| a.2.c.keys.cmp(&b.2.c.keys))
        });
        // A slice whose current rows are mostly those of a slice already reported (a
        // refinement, the same cause seen by another signal) adds nothing.
        let mut reported: Vec<Vec<u32>> = Vec::new();
        let mut out = Vec::new();
        let max = ctx.param(code, &MAX_FINDINGS) as usize;
        for (severity, _, t, q) in kept {
            if out.len() >= max {
                break;
            }
            let rows = slice::current_rows_of(data, &t.c.keys);
            let redundant = reported.iter().any(|r| overlap(r, &rows) >= REDUNDANT);
            if redundant {
                continue;
            }
            if let Some(f) = finding(ctx, data, t, severity, q) {
                reported.push(rows);
                out.push(f);
            }
        }
        out
    }
}

fn finding(
    ctx: &Context<'_>,
    data: &SliceData,
    t: &Tested,
    severity: Severity,
    q: f64,
) -> Option<Finding> {
    let rp = ctx.rows?;
    let lm = rp.labels.as_ref().map(|(lm, _)| lm);
    let label_col = ctx.current.label.clone().unwrap_or_default();
    let class_name = |c: u16| {
        lm.and_then(|lm| lm.classes.names.get(c as usize).cloned())
            .unwrap_or_default()
    };
    let mut slice: Vec<Predicate> = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut columns: Vec<String> = Vec::new();
    let mut label: Option<String> = None;
    let mut label_class: Option<u16> = None;
    for k in &t.c.keys {
        match *k {
            Key::Feature(f, code) => {
                let d = rp.model.slice_of(f, code)?;
                let (p, text, col) = slice_predicate(ctx, &d);
                slice.push(p);
                words.push(text);
                if !columns.contains(&col) {
                    columns.push(col);
                }
            }
            Key::Source(s) => {
                let path = source_path(ctx.current, s);
                slice.push(Predicate::eq("__source", path.clone()));
                words.push(format!("the file is `{path}`"));
                columns.push("__source".into());
            }
            Key::Label(c) => {
                label = Some(class_name(c));
                label_class = Some(c);
                if t.c.signal != "membership" {
                    words.push(format!("the label is `{}`", class_name(c)));
                }
            }
        }
    }
    let d = slice::describe(data, &t.c);
    let where_ = words.join(" and ");
    let title = match (t.c.signal, &label) {
        ("membership", Some(l)) => format!(
            "Label `{l}` on {} of rows where {where_}, against {} in the baseline (slice found by SliceLine)",
            pct(t.now),
            pct(t.before)
        ),
        ("membership", None) => format!(
            "Rows where {where_} are {:.1}× as common as in the baseline: {} of rows against {}",
            t.effect,
            pct(t.now),
            pct(t.before)
        ),
        ("loss", _) => format!(
            "The baseline's model misclassifies {} of rows where {where_}, against {} in the baseline",
            pct(t.now),
            pct(t.before)
        ),
        ("label-issue", _) => format!(
            "{} of rows where {where_} are label issues (kNN or confident learning), against {} in the baseline",
            pct(t.now),
            pct(t.before)
        ),
        _ => format!(
            "Outlier rate {} where {where_}, against {} in the baseline",
            pct(t.now),
            pct(t.before)
        ),
    };
    if let Some(l) = &label {
        let numeric = ctx
            .current
            .column(&label_col)
            .is_some_and(|c| c.numeric.is_some());
        let v = match (l.parse::<i64>(), l.parse::<f64>()) {
            (Ok(i), _) if numeric => json!(i),
            (_, Ok(x)) if numeric => json_num(x),
            _ => serde_json::Value::String(l.clone()),
        };
        // A numeric target's class is a bin of its values.
        let bin = lm
            .zip(label_class)
            .and_then(|(lm, c)| bin_predicate(&lm.classes, &label_col, c));
        slice.push(bin.unwrap_or_else(|| Predicate::eq(&label_col, v)));
        columns.push(label_col.clone());
    }
    let shares = |m: &BTreeMap<u16, f64>| {
        let total: f64 = m.values().sum();
        let o: serde_json::Map<String, serde_json::Value> = m
            .iter()
            .filter(|(c, _)| **c != crate::rows::shared::NO_CLASS)
            .map(|(&c, &w)| (class_name(c), json_num(w / total.max(f64::MIN_POSITIVE))))
            .collect();
        serde_json::Value::Object(o)
    };
    let mut sources: Vec<(u32, u64)> = d.sources.iter().map(|(&s, &n)| (s, n)).collect();
    sources.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    // Strength: the share of the current rows the slice explains (1% of the rows: 0.18).
    let explained = t.excess / data.current_rows.max(1.0);
    let score = weighted_score(1.0 - (-20.0 * explained).exp(), q);
    let mut f = Finding::new("SLC001", "slice-finder", severity, score, title);
    f.columns = columns;
    f.slice = slice;
    f.sources = sources
        .iter()
        .take(5)
        .map(|&(s, _)| source_path(ctx.current, s))
        .collect();
    f.rows = d.current_rows.round() as u64;
    f.baseline_rows = Some(d.baseline_rows.round() as u64);
    f.statistic = Some(NamedValue {
        name: "z".into(),
        value: t.z,
    });
    f.p_value = Some(t.p);
    f.q_value = Some(q);
    f.effect = Some(NamedValue {
        name: if t.c.signal == "membership" && label.is_some() {
            "cohens_h"
        } else if t.c.signal == "membership" {
            "share_ratio"
        } else {
            "rate_ratio"
        }
        .into(),
        value: t.effect,
    });
    f.example_rows = crate::detect::row_refs(ctx.current, &d.examples);
    f.evidence = evidence(vec![
        ("signal", json!(t.c.signal)),
        (
            "sliceline_alphas",
            json!(t.c.alphas.iter().map(|&a| json_num(a)).collect::<Vec<_>>()),
        ),
        ("sliceline_score", json_num(t.c.score)),
        ("rate_now", json_num(t.now)),
        ("rate_baseline", json_num(t.before)),
        ("excess_rows", json_num(t.excess)),
        ("held_out_current_rows", json!(t.t[0].rows)),
        ("held_out_baseline_rows", json!(t.t[1].rows)),
        ("label_shares_now", shares(&d.current_classes)),
        ("label_shares_baseline", shares(&d.baseline_classes)),
        ("rows_estimated_from_samples", json!(true)),
    ]);
    Some(f)
}

/// The predicate on the label column `column` that selects class `c` of a numeric target (its
/// bin between the baseline's quantiles, or null); `None` for classes.
fn bin_predicate(
    classes: &crate::rows::labels::Classes,
    column: &str,
    c: u16,
) -> Option<Predicate> {
    if !classes.is_numeric() {
        return None;
    }
    let (k, e) = (c as usize, &classes.edges);
    Some(match k {
        _ if k > e.len() => Predicate::is_null(column),
        _ if e.is_empty() => return None,
        0 => Predicate::lt(column, e[0]),
        _ if k == e.len() => Predicate::ge(column, e[k - 1]),
        _ => Predicate::between(column, e[k - 1], e[k]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_is_shared_rows_over_the_smaller_slice() {
        assert_eq!(overlap(&[1, 2, 3, 4], &[3, 4, 5]), 2.0 / 3.0);
        assert_eq!(overlap(&[1, 2], &[3]), 0.0);
        assert_eq!(overlap(&[], &[3]), 0.0);
    }

    #[test]
    fn z_test_by_hand() {
        // 30% of 100 rows against 10% of 100: z = 0.2 / sqrt(0.21/100 + 0.09/100) = 3.6515.
        let (z, p) = z_test(0.3, 100.0, 0.1, 100.0);
        assert!((z - 0.2 / (0.003f64).sqrt()).abs() < 1e-12);
        assert!((p - crate::stats::normal_sf(z)).abs() < 1e-15);
        assert!(p < 2e-4 && p > 1e-4, "{p}");
        // No rate on either side: no evidence, whatever the sizes.
        let (z, _) = z_test(0.0, 50.0, 0.0, 80.0);
        assert_eq!(z, 0.0);
    }

    #[test]
    fn every_threshold_is_declared_once() {
        let mut names: Vec<&str> = PARAMS.iter().map(|p| p.name).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n);
    }
}
