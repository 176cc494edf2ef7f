//! LBL001: the label mix moved within a single-predicate slice or a source file. Reads the row
//! pass's per-class counts (`rows::labels`).
//!
//! For a slice (a category, a baseline decile bin, values past the baseline's range, nulls) the
//! baseline's share of label `l` comes from the baseline's label-stratified sample: with `w_h`
//! the baseline rows a class-`h` sample row stands for and `m_h` the slice's sample rows of
//! class `h`, `p_b = w_l·m_l / Σ_h w_h·m_h`. Within a class the sample is a simple random
//! sample, so `m_h` is binomial, and the delta method gives
//! `Var(p_b) = Σ_h w_h²·n_h·π_h(1 − π_h)·(1[h = l] − p_b)² / (Σ_h w_h·m_h)²` (π_h = m_h/n_h,
//! smoothed by half a row).
//!
//! A label shift over the whole data (a prior shift, DRF's label drift) moves every slice's
//! share with it; LBL001 asks whether a slice moved *beyond* the other slices of its column.
//! The typical move of a column is the median, over its slices (weighted by rows), of the
//! label's log odds ratio now against the baseline (the whole data's odds ratio for a column
//! with fewer than 3 slices). The share expected now is the baseline's with its odds moved by
//! that, `e`. A median, not the whole data's move, because a flipped slice that is a large part
//! of the data would otherwise explain itself away, and not the rest of the data's move,
//! because that makes every large slice look like the mirror image of a flipped one. The test
//! is a z-test of the current share against `e` with the variance of both sides (the
//! baseline's through `de/dp_b`; the typical move, estimated on many more rows, taken as
//! known). The effect is Cohen's h between the current share and `e`; a finding needs a BH
//! q-value ≤ `ALPHA` across all the slices and files tested, at least `MIN_MOVED_ROWS` rows
//! moved, and h ≥ 0.2 (low), 0.35 (medium), 0.5 (high).
//!
//! A source file is compared with the rest of the current data and with the whole baseline,
//! and must differ from both (so a label shift everywhere is reported once, by DRF).

use std::collections::BTreeSet;

use super::{Context, Detector, Finding, NamedValue, Param, RowRef, tier_params};
use super::{evidence, json_num, pct, slice_predicate, source_path, tier, weighted_score};
use crate::rows::labels::{FlagGroups, LabelCounts, LabelModel, RefFlags, SLOTS, code_of_slot};
use crate::rows::pass::RowPass;

/// Cohen's h tiers (low, medium, high).
const H_TIERS: [Param; 3] = tier_params(
    0.2,
    0.35,
    0.5,
    3.2,
    "Cohen's h of a label's share change in a slice at this severity",
);
/// A slice needs this many current rows ...
const MIN_ROWS: u64 = 30;
const SHIFT_PARAMS: [Param; 4] = [
    H_TIERS[0],
    H_TIERS[1],
    H_TIERS[2],
    Param {
        name: "min-rows",
        default: MIN_ROWS as f64,
        min: 1.0,
        max: 1e12,
        doc: "smallest slice tested (current rows)",
    },
];
/// ... and this many baseline sample rows to be tested.
const MIN_REFERENCE_ROWS: u64 = 20;
/// Rows whose label moved (|p − e|·n) at least this for a finding.
const MIN_MOVED_ROWS: f64 = 10.0;
/// A column needs this many tested slices for its own typical shift (else the whole data's).
const MIN_SLICES_FOR_MEDIAN: usize = 3;
/// At most this many slice findings and source findings each (strongest first).
const MAX_FINDINGS: usize = 10;

pub struct LabelShift;

impl Detector for LabelShift {
    fn code(&self) -> &'static str {
        "LBL001"
    }

    fn check(&self) -> &'static str {
        "label-shift-in-slice"
    }

    fn doc(&self) -> &'static str {
        "What it finds: the share of a label within a slice of the data moved against the \
baseline, beyond any shift of the label over the whole data.\n\n\
Why it matters: this is where targeted label flipping shows: an attacker relabels the rows of \
one segment (a category, a range) to steer the model there.\n\n\
Example: the share of label `1` fell from 41% to 2% where `education` = `Doctorate`, while \
the other education levels kept theirs: high.\n\n\
Defaults: slices are each category, each baseline decile bin of a numeric column, values below the \
baseline's minimum or above its maximum, nulls, and each source file. The baseline's share in \
a slice comes from its label-stratified sample; the share expected now is that share moved by \
the typical change of the label's odds over the other slices of the same column (a shift \
everywhere is DRF's label drift, not LBL001). z-test \
of the current share against the expected one (both sides' sampling variance), \
Benjamini-Hochberg across all slices; a finding needs q <= 0.01, at least 10 rows moved and \
Cohen's h >= 0.2 (low), 0.35 (medium), 0.5 (high). A source file must also differ from the \
rest of the current data. Needs a labelled baseline (--label) and the row pass."
    }

    fn params(&self) -> &'static [Param] {
        &SHIFT_PARAMS
    }

    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding> {
        labelled(ctx).map_or_else(Vec::new, |(rp, lm, counts)| {
            label_shift(ctx, rp, lm, counts)
        })
    }
}

/// The row pass and its label counts, when the scan has a baseline and the label checks ran.
pub(super) fn labelled<'a>(
    ctx: &Context<'a>,
) -> Option<(&'a RowPass, &'a LabelModel, &'a LabelCounts)> {
    ctx.baseline?;
    let rp = ctx.rows?;
    let (lm, counts) = rp.labels.as_ref()?;
    Some((rp, lm, counts))
}

/// Where a tested group is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Where {
    Slice { feature: usize, slot: usize },
    Source(u32),
}

struct Tested {
    place: Where,
    class: usize,
    rows: u64,
    /// Current share, the baseline's, the one expected after the overall shift.
    share: f64,
    baseline_share: f64,
    expected: f64,
    z: f64,
    p: f64,
    h: f64,
    baseline_rows: f64,
}

/// The weighted median of (value, weight) pairs: the smallest value whose cumulative weight
/// reaches half the total (sorted in place).
fn weighted_median(v: &mut [(f64, f64)]) -> f64 {
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = v.iter().map(|e| e.1).sum();
    let mut acc = 0.0;
    for &(x, w) in v.iter() {
        acc += w;
        if acc >= total / 2.0 {
            return x;
        }
    }
    v.last().map_or(0.0, |e| e.0)
}

/// The odds of a share, with half a row of smoothing either side.
fn odds(k: f64, n: f64) -> f64 {
    (k + 0.5) / (n - k + 0.5)
}

/// The classes tested in a group: with two classes one of them (the baseline's rarer one: the
/// other's share is its mirror image), else every class.
fn tested_classes(lm: &LabelModel) -> Vec<usize> {
    let l = lm.classes.len();
    if l == 2 {
        let rarer = if lm.reference_rows[1] <= lm.reference_rows[0] {
            1
        } else {
            0
        };
        vec![rarer]
    } else {
        (0..l).collect()
    }
}

fn label_shift(
    ctx: &Context<'_>,
    rp: &RowPass,
    lm: &LabelModel,
    counts: &LabelCounts,
) -> Vec<Finding> {
    let l = lm.classes.len();
    let min_rows = ctx.param("LBL001", &SHIFT_PARAMS[3]).ceil() as u64;
    let tiers = ctx.tiers("LBL001", &H_TIERS);
    let n_all: u64 = counts.all.iter().sum();
    let base_all: f64 = lm.reference_rows.iter().sum();
    if n_all == 0 || base_all <= 0.0 || l < 2 {
        return Vec::new();
    }
    // The rows a baseline sample row stands for, per class.
    let w = &lm.class_weights;
    // Overall odds ratio per class (current against baseline).
    let shift: Vec<f64> = (0..l)
        .map(|c| odds(counts.all[c] as f64, n_all as f64) / odds(lm.reference_rows[c], base_all))
        .collect();
    let classes = tested_classes(lm);
    // The slices that can be tested: (feature, slot, current rows per class, baseline sample
    // rows per class, baseline rows they stand for).
    struct Slice<'a> {
        feature: usize,
        slot: usize,
        cur: &'a [u64],
        n: u64,
        m: &'a [u64],
        wm: f64,
    }
    let mut slices: Vec<Slice<'_>> = Vec::new();
    for feature in 0..lm.dim {
        for slot in 0..SLOTS {
            let cur = counts.slice(feature, slot);
            let n: u64 = cur.iter().sum();
            if n < min_rows {
                continue;
            }
            let code = code_of_slot(slot);
            if rp.model.slice_of(feature as u32, code).is_none() {
                continue;
            }
            let m = lm.reference_slice(feature, slot);
            if m.iter().sum::<u64>() < MIN_REFERENCE_ROWS {
                continue;
            }
            let wm: f64 = (0..l).map(|h| w[h] * m[h] as f64).sum();
            slices.push(Slice {
                feature,
                slot,
                cur,
                n,
                m,
                wm,
            });
        }
    }
    // Per feature and class, how the label's odds moved in a typical slice of that feature:
    // the median over its slices (weighted by current rows) of the log odds ratio, now against
    // the baseline. Without an attack every slice moves with the whole (a prior shift), and the
    // median is that move; a flipped slice moves on its own and barely shifts the median.
    let mut typical: std::collections::BTreeMap<(usize, usize), f64> = Default::default();
    for feature in 0..lm.dim {
        let own: Vec<&Slice<'_>> = slices.iter().filter(|s| s.feature == feature).collect();
        for &c in &classes {
            let r = if own.len() >= MIN_SLICES_FOR_MEDIAN {
                let mut lor: Vec<(f64, f64)> = own
                    .iter()
                    .map(|s| {
                        let now = odds(s.cur[c] as f64, s.n as f64);
                        let then = odds(w[c] * s.m[c] as f64, s.wm);
                        ((now / then).ln(), s.n as f64)
                    })
                    .collect();
                weighted_median(&mut lor).exp()
            } else {
                shift[c]
            };
            typical.insert((feature, c), r);
        }
    }
    let mut tested: Vec<Tested> = Vec::new();
    for s in &slices {
        let (cur, n, m, wm) = (s.cur, s.n, s.m, s.wm);
        for &c in &classes {
            let p_b = w[c] * m[c] as f64 / wm;
            let var_b: f64 = (0..l)
                .map(|h| {
                    let nh = lm.reference_sample[h] as f64;
                    let pi = (m[h] as f64 + 0.5) / (nh + 1.0);
                    let z = if h == c { 1.0 } else { 0.0 };
                    w[h] * w[h] * nh * pi * (1.0 - pi) * (z - p_b).powi(2)
                })
                .sum::<f64>()
                / (wm * wm);
            let r = typical[&(s.feature, c)];
            let denom = 1.0 - p_b + p_b * r;
            let expected = p_b * r / denom;
            let slope = r / (denom * denom);
            let share = cur[c] as f64 / n as f64;
            let smoothed = (cur[c] as f64 + 0.5) / (n as f64 + 1.0);
            let var = slope * slope * var_b + smoothed * (1.0 - smoothed) / n as f64;
            let z = (share - expected) / var.sqrt();
            tested.push(Tested {
                place: Where::Slice {
                    feature: s.feature,
                    slot: s.slot,
                },
                class: c,
                rows: n,
                share,
                baseline_share: p_b,
                expected,
                z,
                p: (2.0 * crate::stats::normal_sf(z.abs())).min(1.0),
                h: crate::stats::cohens_h(share, expected),
                baseline_rows: wm,
            });
        }
    }
    // Source files: against the rest of the current data and the whole baseline.
    for (&source, cur) in &counts.sources {
        let n: u64 = cur.iter().sum();
        if n < min_rows || n == n_all {
            continue;
        }
        for &c in &classes {
            let share = cur[c] as f64 / n as f64;
            let (rest_k, rest_n) = (counts.all[c] - cur[c], n_all - n);
            let (z_rest, p_rest) = crate::stats::two_proportion_z(cur[c], n, rest_k, rest_n);
            let p_b = lm.reference_rows[c] / base_all;
            let smoothed = (cur[c] as f64 + 0.5) / (n as f64 + 1.0);
            let var = smoothed * (1.0 - smoothed) / n as f64
                + p_b * (1.0 - p_b) / lm.reference_sample.iter().sum::<u64>().max(1) as f64;
            let z_base = (share - p_b) / var.sqrt();
            let p_base = (2.0 * crate::stats::normal_sf(z_base.abs())).min(1.0);
            let rest_share = rest_k as f64 / rest_n as f64;
            let h_rest = crate::stats::cohens_h(share, rest_share);
            let h_base = crate::stats::cohens_h(share, p_b);
            // Both comparisons must agree in direction; the weaker one counts.
            let (h, z, expected) = if h_rest.signum() != h_base.signum() {
                (0.0, 0.0, share)
            } else if h_rest.abs() < h_base.abs() {
                (h_rest, z_rest, rest_share)
            } else {
                (h_base, z_base, p_b)
            };
            tested.push(Tested {
                place: Where::Source(source),
                class: c,
                rows: n,
                share,
                baseline_share: p_b,
                expected,
                z,
                p: p_rest.max(p_base),
                h,
                baseline_rows: base_all,
            });
        }
    }
    let q = crate::stats::bh_adjust(&tested.iter().map(|t| t.p).collect::<Vec<_>>());
    // Per group the strongest class that passes.
    let mut best: std::collections::BTreeMap<Where, (usize, f64)> = Default::default();
    for (i, (t, &q)) in tested.iter().zip(&q).enumerate() {
        let moved = (t.share - t.expected).abs() * t.rows as f64;
        if q > ctx.alpha()
            || moved < MIN_MOVED_ROWS
            || tier(t.h, tiers.0, tiers.1, tiers.2).is_none()
        {
            continue;
        }
        let e = best.entry(t.place).or_insert((i, t.h.abs()));
        if t.h.abs() > e.1 {
            *e = (i, t.h.abs());
        }
    }
    let mut findings: Vec<(Where, Finding)> = Vec::new();
    for (place, (i, _)) in best {
        let t = &tested[i];
        if let Some(f) = finding(ctx, rp, lm, counts, t, q[i]) {
            findings.push((place, f));
        }
    }
    super::strongest(findings, MAX_FINDINGS, |w| match w {
        Where::Slice { .. } => Some(0),
        Where::Source(_) => Some(1),
    })
}

fn finding(
    ctx: &Context<'_>,
    rp: &RowPass,
    lm: &LabelModel,
    counts: &LabelCounts,
    t: &Tested,
    q: f64,
) -> Option<Finding> {
    let tiers = ctx.tiers("LBL001", &H_TIERS);
    let severity = tier(t.h, tiers.0, tiers.1, tiers.2)?;
    let l = lm.classes.len();
    let label = &lm.classes.names[t.class];
    // Example rows: of the class whose share grew most (for two classes, the other class
    // when the tested one fell).
    let grew = if l == 2 && t.share < t.expected {
        1 - t.class
    } else {
        t.class
    };
    let (cur, place_text, slice, mut columns, sources, example_keys) = match t.place {
        Where::Slice { feature, slot } => {
            let desc = rp.model.slice_of(feature as u32, code_of_slot(slot))?;
            let (pred, text, column) = slice_predicate(ctx, &desc);
            (
                counts.slice(feature, slot).to_vec(),
                format!("where {text}"),
                vec![pred],
                vec![column],
                Vec::new(),
                counts.slice_examples(feature, slot, grew).to_vec(),
            )
        }
        Where::Source(s) => {
            let path = source_path(ctx.current, s);
            (
                counts.sources[&s].clone(),
                format!("in `{path}`"),
                Vec::new(),
                Vec::new(),
                vec![path],
                Vec::new(),
            )
        }
    };
    columns.push(lm.label.clone());
    let n: u64 = cur.iter().sum();
    let examples: Vec<RowRef> = super::row_refs(ctx.current, &example_keys);
    let sources = if sources.is_empty() {
        examples
            .iter()
            .map(|r| r.source.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    } else {
        sources
    };
    let direction = if t.share > t.baseline_share {
        "rose"
    } else {
        "fell"
    };
    let title = format!(
        "Share of label `{label}` {direction} from {} to {} {place_text} ({} rows)",
        pct(t.baseline_share),
        pct(t.share),
        crate::report::thousands(n),
    );
    let shares = |v: &[u64], total: f64| -> serde_json::Map<String, serde_json::Value> {
        lm.classes
            .names
            .iter()
            .zip(v)
            .map(|(name, &k)| (name.clone(), json_num(k as f64 / total.max(1.0))))
            .collect()
    };
    let mut f = Finding::new(
        "LBL001",
        "label-shift-in-slice",
        severity,
        weighted_score(t.h.abs(), q),
        title,
    );
    f.columns = columns;
    f.slice = slice;
    f.sources = sources;
    f.rows = n;
    f.baseline_rows = Some(t.baseline_rows.round() as u64);
    f.statistic = Some(NamedValue {
        name: "z".into(),
        value: crate::report::round(t.z),
    });
    f.p_value = Some(t.p);
    f.q_value = Some(q);
    f.effect = Some(NamedValue {
        name: "label_share_delta".into(),
        value: crate::report::round(t.share - t.baseline_share),
    });
    f.example_rows = examples;
    let mut ev = vec![
        ("label", serde_json::json!(label)),
        ("label_share", json_num(t.share)),
        ("baseline_label_share", json_num(t.baseline_share)),
        ("expected_label_share", json_num(t.expected)),
        ("cohens_h", json_num(t.h)),
        ("rows_per_label", per_label(lm, &cur)),
        (
            "label_shares",
            serde_json::Value::Object(shares(&cur, n as f64)),
        ),
    ];
    if let Where::Slice { feature, slot } = t.place {
        ev.push((
            "baseline_sample_rows_per_label",
            per_label(lm, lm.reference_slice(feature, slot)),
        ));
    }
    f.evidence = evidence(ev);
    Some(f)
}

/// Counts by label name, as a JSON object.
pub fn per_label(lm: &LabelModel, v: &[u64]) -> serde_json::Value {
    serde_json::Value::Object(
        lm.classes
            .names
            .iter()
            .zip(v)
            .map(|(name, &k)| (name.clone(), serde_json::json!(k)))
            .collect(),
    )
}

/// LBL002: the share of rows whose label disagrees with a strong majority of their nearest
/// trusted neighbours rose, overall, in a source file or in a slice.
pub struct LabelDisagreement;

/// Ratio tiers (low, medium, high) of LBL002: the flagged rate against the baseline's upper
/// 99% bound.
const KNN_TIERS: [Param; 3] = tier_params(
    1.25,
    2.0,
    4.0,
    1e6,
    "ratio of the flagged rate to the baseline's upper 99% bound at this severity",
);
/// A group needs this many flagged rows, and this many above the expected count.
const MIN_FLAGGED: u64 = 10;

impl Detector for LabelDisagreement {
    fn code(&self) -> &'static str {
        "LBL002"
    }

    fn check(&self) -> &'static str {
        "knn-label-disagreement"
    }

    fn doc(&self) -> &'static str {
        "What it finds: more rows than in the baseline carry a label that a strong majority of \
their nearest trusted neighbours does not.\n\n\
Why it matters: random label flips and flips of one slice show here, row by row, so the rows \
can be quarantined; flips where the label was a coin toss anyway cannot be told from noise by \
any method, and are not flagged.\n\n\
Example: 9.2% of the rows of `current/part-0.parquet` (1,841 of 20,000) carry a label most \
of their nearest baseline neighbours do not, against 3.4% in the baseline: medium.\n\n\
Defaults: each current row's 10 nearest neighbours are found among the baseline's label-stratified \
sample (the current data's own sample, the row left out, without a baseline) in the shared \
encoding (numbers robust-scaled and clipped, categoricals of up to 16 levels one-hot), \
projected on its first 6 principal components, with a k-d tree search of bounded cost (its \
recall is measured in reports/labels.md) that stops after 3 leaves when the row's score there \
is below 0.5. Neighbours vote with the baseline rows they stand \
for; label_issue_score = the weighted share of neighbours with another label (in the rows \
file), and a row is flagged at >= 0.9 (code LBL002 in the rows file). The baseline sample's own \
rows, scored the same way, give the baseline rate. Tested overall, per source file and per \
single-predicate slice: one-sided binomial test against the upper 99% Wilson bound of the \
baseline rate (and, for a file or slice, the rate in the rest of the current data), \
Benjamini-Hochberg, q <= 0.01, at least 10 flagged rows above the expected count; a file or \
slice must at least double the rate it is tested against. Severity by the ratio of the rate to \
the baseline bound: 1.25 (low), 2 (medium), 4 (high)."
    }

    fn params(&self) -> &'static [Param] {
        &KNN_TIERS
    }

    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding> {
        match labelled(ctx) {
            Some((rp, lm, counts)) if lm.knn.is_some() => flagged_rates(
                ctx,
                rp,
                lm,
                &lm.reference_knn,
                &counts.knn,
                &RateCheck {
                    code: "LBL002",
                    check: "knn-label-disagreement",
                    what: "carry a label most of their nearest baseline neighbours do not",
                    statistic: "flagged_rows",
                    method: vec![
                        ("neighbours", serde_json::json!(crate::rows::knn::K)),
                        (
                            "threshold_label_issue_score",
                            json_num(crate::rows::knn::FLAG),
                        ),
                    ],
                },
            ),
            _ => Vec::new(),
        }
    }
}

/// LBL003: more rows than in the baseline are label issues by confident learning, overall, in
/// a source file or in a slice.
pub struct ConfidentLearning;

impl Detector for ConfidentLearning {
    fn code(&self) -> &'static str {
        "LBL003"
    }

    fn check(&self) -> &'static str {
        "confident-learning"
    }

    fn doc(&self) -> &'static str {
        "What it finds: more rows than in the baseline are label issues by confident learning \
(Northcutt et al., JAIR 2021).\n\n\
Why it matters: a flipped label teaches the model a wrong answer; confident learning names \
the rows whose label a model of the trusted data contradicts, ranked by how sure that model is, \
with per-class thresholds learned from the data rather than set by hand. A linear model learns \
a slice whose labels were all flipped as if it were true; such flips show in LBL001.\n\n\
Example: 40% of the rows where `income` is above the baseline's maximum (80 of 200) are \
label issues, against 19% in the baseline: medium.\n\n\
Defaults: out-of-sample class probabilities come from multinomial logistic regression (linfa, L2 with \
alpha 1) cross-fitted on the trusted baseline's label-stratified sample (the current data's \
without a baseline) in 5 stratified folds: a sample row is scored by the model that did not see \
its fold, every other row by the mean of the five models. The design is the shared encoding: numbers robust-scaled and clipped to +-5, plus \
an indicator for each category, baseline decile bin, null and past-the-range flag seen on at \
least 5 sample rows. Per-class thresholds t_j are the mean probability of class j over the \
sample rows labelled j; a row labelled i is a label issue when the most probable class j among \
those with p_j >= t_j exists and is not i (the off-diagonal of the confident joint). Issues are \
ranked by self-confidence p_i (the rows file's label_confidence; code LBL003). The baseline \
rate is that of the baseline's sample rows out of fold, so both sides are judged by one model \
and one set of thresholds: a model fitted on each side would differ where the sample is thin, \
and that difference would move a slice's rate. Tested \
overall, per source file and per single-predicate slice exactly as LBL002: one-sided binomial \
test against the upper 99% Wilson bound of the baseline rate (and the rest of the current \
data's rate for a file or slice), Benjamini-Hochberg, q <= 0.01, at least 10 issues above the \
expected count; a file or slice must at least double the rate it is tested against. Severity \
by the ratio of the rate to the baseline bound: 1.25 (low), 2 (medium), 4 (high). Classes \
with fewer than 20 sample rows are not modelled."
    }

    fn params(&self) -> &'static [Param] {
        &KNN_TIERS
    }

    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding> {
        match labelled(ctx) {
            Some((rp, lm, counts)) if lm.confident.is_some() => flagged_rates(
                ctx,
                rp,
                lm,
                &lm.reference_confident,
                &counts.confident,
                &RateCheck {
                    code: "LBL003",
                    check: "confident-learning",
                    what: "are label issues by confident learning",
                    statistic: "label_issues",
                    method: vec![
                        ("folds", serde_json::json!(crate::rows::confident::FOLDS)),
                        (
                            "class_thresholds",
                            per_label_f64(
                                lm,
                                &lm.confident
                                    .as_ref()
                                    .map(|m| m.thresholds.clone())
                                    .unwrap_or_default(),
                            ),
                        ),
                    ],
                },
            ),
            _ => Vec::new(),
        }
    }
}

/// Per-label values as a JSON object (label → value).
fn per_label_f64(lm: &LabelModel, v: &[f64]) -> serde_json::Value {
    serde_json::Value::Object(
        lm.classes
            .names
            .iter()
            .zip(v)
            .filter(|(_, x)| x.is_finite())
            .map(|(name, &x)| (name.clone(), json_num(x)))
            .collect(),
    )
}

/// What differs between the flagged-rate checks (LBL002, LBL003).
struct RateCheck {
    code: &'static str,
    check: &'static str,
    /// What the flagged rows are, for the title ("… of rows … {what}").
    what: &'static str,
    /// The name of the count of flagged rows.
    statistic: &'static str,
    /// The method's settings, added to the evidence.
    method: Vec<(&'static str, serde_json::Value)>,
}

/// The flagged rate of the current rows against the baseline sample's, overall, per source file
/// and per single-predicate slice.
fn flagged_rates(
    ctx: &Context<'_>,
    rp: &RowPass,
    lm: &LabelModel,
    reference: &RefFlags,
    groups: &FlagGroups,
    spec: &RateCheck,
) -> Vec<Finding> {
    use crate::rows::labels::FlagCount;
    use crate::rows::pass::RefCount;
    let all = &groups.all;
    if all.rows == 0 {
        return Vec::new();
    }
    let tiers = ctx.tiers(spec.code, &KNN_TIERS);
    let rest_rate = |g: &FlagCount| {
        let (n, k) = (all.rows - g.rows, all.flagged - g.flagged);
        if n > 0 { k as f64 / n as f64 } else { 0.0 }
    };
    struct Test<'a> {
        place: Option<Where>,
        group: &'a FlagCount,
        reference: RefCount,
        p0: f64,
        p_test: f64,
        p: f64,
    }
    let mut tests: Vec<Test<'_>> = Vec::new();
    let mut pending: Vec<(Option<Where>, &FlagCount, RefCount)> = vec![(None, all, reference.all)];
    for (&s, g) in &groups.sources {
        if g.rows < all.rows {
            pending.push((Some(Where::Source(s)), g, reference.all));
        }
    }
    for feature in 0..lm.dim {
        for slot in 0..SLOTS {
            let g = &groups.slices[feature * SLOTS + slot];
            let code = code_of_slot(slot);
            if g.rows == 0
                || rp.model.slice_of(feature as u32, code).is_none()
                || rp.model.is_new_category(feature as u32, code)
            {
                continue;
            }
            let own = reference.slices[feature * SLOTS + slot];
            let reference = if own.rows >= MIN_REFERENCE_ROWS {
                own
            } else {
                reference.all
            };
            pending.push((Some(Where::Slice { feature, slot }), g, reference));
        }
    }
    for (place, group, reference) in pending {
        if group.rows == 0 {
            continue;
        }
        let p0 = crate::stats::wilson_upper(reference.rate(), reference.rows).max(1e-4);
        let p_test = if place.is_some() {
            p0.max(rest_rate(group))
        } else {
            p0
        };
        let p = crate::stats::binom_sf_ge(group.flagged, group.rows, p_test);
        tests.push(Test {
            place,
            group,
            reference,
            p0,
            p_test,
            p,
        });
    }
    let q = crate::stats::bh_adjust(&tests.iter().map(|t| t.p).collect::<Vec<_>>());
    let mut findings: Vec<(Option<Where>, Finding)> = Vec::new();
    let overall = all.flagged as f64 / all.rows as f64;
    for (t, &q) in tests.iter().zip(&q) {
        let (n, k) = (t.group.rows, t.group.flagged);
        let rate = k as f64 / n as f64;
        let expected = t.p_test * n as f64;
        if q > ctx.alpha() || k < MIN_FLAGGED || (k as f64) < expected + MIN_FLAGGED as f64 {
            continue;
        }
        if t.place.is_some() && rate < 2.0 * t.p_test {
            continue;
        }
        let ratio = rate / t.p0;
        let Some(severity) = tier(ratio, tiers.0, tiers.1, tiers.2) else {
            continue;
        };
        let (slice, sources, place_text, mut columns) = match t.place {
            None => (
                Vec::new(),
                Vec::new(),
                "in the data".to_string(),
                Vec::new(),
            ),
            Some(Where::Source(s)) => {
                let path = source_path(ctx.current, s);
                (
                    Vec::new(),
                    vec![path.clone()],
                    format!("in `{path}`"),
                    Vec::new(),
                )
            }
            Some(Where::Slice { feature, slot }) => {
                let Some(desc) = rp.model.slice_of(feature as u32, code_of_slot(slot)) else {
                    continue;
                };
                let (pred, text, col) = slice_predicate(ctx, &desc);
                (vec![pred], Vec::new(), format!("where {text}"), vec![col])
            }
        };
        columns.push(lm.label.clone());
        let title = format!(
            "{} of rows ({} of {}) {place_text} {}, against {} in the baseline",
            pct(rate),
            crate::report::thousands(k),
            crate::report::thousands(n),
            spec.what,
            pct(t.p0),
        );
        let mut f = Finding::new(
            spec.code,
            spec.check,
            severity,
            weighted_score(1.0 - 1.0 / ratio.max(1.0), q),
            title,
        );
        f.columns = columns;
        f.slice = slice;
        f.sources = sources;
        f.rows = k;
        f.baseline_rows = matches!(t.place, Some(Where::Slice { .. }))
            .then(|| t.reference.rows_weighted.round() as u64);
        f.statistic = Some(NamedValue {
            name: spec.statistic.into(),
            value: k as f64,
        });
        f.p_value = Some(t.p);
        f.q_value = Some(q);
        f.effect = Some(NamedValue {
            name: "flagged_rate_ratio".into(),
            value: crate::report::round(ratio),
        });
        f.example_rows = super::row_refs(ctx.current, &t.group.examples);
        let mut items = vec![
            ("rows_in_group", serde_json::json!(n)),
            ("flagged_rows", serde_json::json!(k)),
            ("flagged_rate", json_num(rate)),
            ("baseline_flagged_rate", json_num(t.reference.rate())),
            ("baseline_flagged_rate_upper", json_num(t.p0)),
            ("current_flagged_rate_overall", json_num(overall)),
            ("expected_flagged_rows", json_num(expected)),
            ("baseline_sample_rows", serde_json::json!(t.reference.rows)),
        ];
        items.extend(spec.method.iter().cloned());
        f.evidence = evidence(items);
        findings.push((t.place, f));
    }
    super::strongest(findings, MAX_FINDINGS, |w| match w {
        None => None,
        Some(Where::Slice { .. }) => Some(0),
        Some(Where::Source(_)) => Some(1),
    })
}
