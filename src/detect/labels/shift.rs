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
//! baseline's through `de/dp_b`; the current share's the larger of its own and `e`'s, the
//! null's; the typical move's, a weighted median's, see `typical_move`). The effect is Cohen's
//! h between the current share and `e`; a finding needs a BH q-value ≤ `ALPHA` across all the
//! slices and files tested, at least `MIN_MOVED_ROWS` rows moved, and h ≥ 0.2 (low), 0.35
//! (medium), 0.5 (high). The rows whose label moved raise the severity: the one-sided 99% lower
//! bound of the share's move (the smaller of its moves from `e` and from `p_b`, each less 2.33
//! of its own standard errors) times the slice's rows, as a share of all the current rows, at
//! 0.25% (low), 0.5% (medium), 1% (high), LBL002/LBL003's tiers for their excess. A flipped
//! slice is then graded by how much of the data it poisoned as well as by how far its mix
//! moved.
//!
//! A source file is compared with the rest of the current data and with the whole baseline,
//! and must differ from both (so a label shift everywhere is reported once, by DRF).

use std::collections::BTreeSet;

use super::{H_TIERS, MIN_MOVED_ROWS, MIN_SLICES_FOR_MEDIAN, MOVED_TIERS, SHIFT_PARAMS};
use super::{MAX_FINDINGS, MIN_REFERENCE_ROWS, Where, labelled, per_label};
use crate::detect::{Context, Detector, Finding, NamedValue, Param, RowRef};
use crate::detect::{evidence, json_num, pct, slice_predicate, source_path, tier, weighted_score};
use crate::rows::labels::{LabelCounts, LabelModel, SLOTS, code_of_slot};
use crate::rows::pass::RowPass;

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
of the current share against the expected one (both sides' sampling variance, the current \
side's the larger of the share's and the expected share's, and that of the typical change, a \
median of noisy slices on a small set), \
Benjamini-Hochberg across all slices; a finding needs q <= 0.01, at least 10 rows moved and \
Cohen's h >= 0.2 (low), 0.35 (medium), 0.5 (high); the rows whose label moved (the 99% \
lower bound of the share's move from the expected and from the baseline's share, the smaller, \
times the rows) raise it when they are 0.25% (low), 0.5% (medium) or 1% (high) of all the \
current rows, as LBL002/LBL003 grade their excess. A source file must also differ from the \
rest of the current data. A class the baseline has no row of is not tested (it is new \
everywhere: SCH006's). Needs a labelled baseline (--label) and the row pass.\n\n\
A numeric target (`--label-type numeric`) is tested on the bins between the baseline's 5th, \
25th, 50th, 75th and 95th percentiles as classes (a segment whose targets were shifted moves \
its quantiles against the same slice in the baseline); its evidence adds the share of the \
slice's targets below each of those values on both sides and the binned Wasserstein distance."
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

struct Tested {
    place: Where,
    class: usize,
    rows: u64,
    /// Current share, the baseline's, the one expected after the overall shift.
    share: f64,
    baseline_share: f64,
    expected: f64,
    z: f64,
    /// The standard errors of `share − expected` (for a slice, the z-test's, its current side the
    /// larger of the share's and the expected share's variance; for a file, the share's own) and
    /// of `share − baseline_share` (for a slice, the current side the larger of the share's and
    /// the baseline share's).
    sd: f64,
    sd_baseline: f64,
    p: f64,
    h: f64,
    baseline_rows: f64,
}

impl Tested {
    /// The one-sided 99% lower bound of the rows whose label moved: the smaller of the lower
    /// bounds of the share's moves from the expected share and from the baseline's (each less
    /// 2.33 of its own standard errors; none when they disagree in direction), times the rows;
    /// at least 0. Against the baseline too, so that a slice that only looks moved because the
    /// others' typical move is large (a column of two slices, one of them flipped) is not
    /// graded by rows it never lost.
    fn moved_lower(&self) -> f64 {
        let (from_expected, from_baseline) =
            (self.share - self.expected, self.share - self.baseline_share);
        if from_expected.signum() != from_baseline.signum() {
            return 0.0;
        }
        let z = crate::stats::Z99;
        let lower =
            (from_expected.abs() - z * self.sd).min(from_baseline.abs() - z * self.sd_baseline);
        lower.max(0.0) * self.rows as f64
    }
}

/// The delta-method variance of a slice's log odds ratio of class `c` (now against the
/// baseline) where the slice moved as the whole data did (odds ratio `r`): 1/k + 1/(n − k) for
/// the current rows, with `k` the rows of class `c` that move predicts (the baseline's share,
/// its odds times `r`), not those counted, so that a flipped slice's emptied cell does not
/// make its variance huge; and for the baseline's sample rows, whose classes stand for `w` rows
/// each, 1/m_c + Σ_{h≠c} w_h² m_h / (Σ_{h≠c} w_h m_h)². Half a row of smoothing in every cell.
fn log_odds_ratio_var(s: &Slice<'_>, c: usize, w: &[f64], r: f64) -> f64 {
    let n = s.n as f64;
    let p = (w[c] * s.m[c] as f64 + 0.5) / (s.wm + 1.0);
    let k = n * p * r / (1.0 - p + p * r);
    let (mut other, mut other_sq) = (0.0, 0.0);
    for (h, &m) in s.m.iter().enumerate() {
        if h != c {
            other += w[h] * (m as f64 + 0.5);
            other_sq += w[h] * w[h] * (m as f64 + 0.5);
        }
    }
    1.0 / (k + 0.5)
        + 1.0 / (n - k + 0.5)
        + 1.0 / (s.m[c] as f64 + 0.5)
        + other_sq / (other * other).max(1e-300)
}

/// How the odds of class `c` moved in a typical slice of a column (`own`, its slices): the
/// median over them (weighted by current rows) of the log odds ratio, now against the baseline.
/// Without an attack every slice moves with the whole (a prior shift), and the median is that
/// move; a flipped slice moves on its own and barely shifts the median.
///
/// That median is itself an estimate: on a small set each slice's log odds ratio is noisy,
/// and a median of ten noisy slices can move every slice's expected share by points. Its
/// variance is a weighted median's, of independent slices each near normal about the common
/// move with its own variance vᵢ: the median m solves Σ wᵢ·sign(xᵢ − m) = 0 (wᵢ = nᵢ/N), whose
/// left side has variance Σ wᵢ² and a slope of size 2·Σ wᵢ·φ(0)/√vᵢ in m, so
/// Var(m) ≈ (π/2)·Σ wᵢ² / (Σ wᵢ/√vᵢ)² (a normal median's π/2·v/K for K like slices). vᵢ is
/// slice i's delta-method variance (Σ 1/count over the four cells, the baseline's in sample
/// rows with their class weights) where the slice moved as the whole data did: its current
/// cells are the counts that move predicts, not those seen, so a flipped slice's emptied cell
/// leaves it as it was. A slice too noisy to pin the median (a rare class's bin the baseline
/// has no row of) adds its weight to the spread but next to nothing to the slope. Over clean
/// draws this is about 0.9–1.5 times the medians' spread (the unit test's two columns, and
/// categories of mixed sizes and rare classes in scratch simulations); the median of the
/// slices' variances times Σ wᵢ², as it was, stood up to 50 times above it where a few large
/// categories sit among many small ones (Adult's `education`: ninefold), and the weighted
/// mean's variance Σ wᵢ²·vᵢ about four times above it on a rare class's bins. Its limit: it
/// takes the median to sit among the clean slices' centres; where one flipped slice holds much
/// of the column's rows (nearly half), the median is pushed into the others' tails and this,
/// like the variance before it, understates its spread (the large clean slices can then look
/// moved the other way; Cohen's h ≥ 0.2 and the rows moved keep most such mirror images out).
///
/// Returns the typical odds ratio and the variance of its log; `whole` is the whole data's odds
/// ratio of `c`, the move the slices' variances are taken under.
fn typical_move(own: &[&Slice<'_>], c: usize, w: &[f64], whole: f64) -> (f64, f64) {
    let mut lor: Vec<(f64, f64)> = own
        .iter()
        .map(|s| {
            let now = odds(s.cur[c] as f64, s.n as f64);
            let then = odds(w[c] * s.m[c] as f64, s.wm);
            ((now / then).ln(), s.n as f64)
        })
        .collect();
    let total: f64 = own.iter().map(|s| s.n as f64).sum();
    let (mut spread, mut density) = (0.0, 0.0);
    for s in own {
        let share = s.n as f64 / total;
        spread += share * share;
        density += share / log_odds_ratio_var(s, c, w, whole).sqrt();
    }
    (
        crate::stats::weighted_median(&mut lor).exp(),
        std::f64::consts::FRAC_PI_2 * spread / (density * density).max(f64::MIN_POSITIVE),
    )
}

/// The odds of a share, with half a row of smoothing either side.
fn odds(k: f64, n: f64) -> f64 {
    (k + 0.5) / (n - k + 0.5)
}

/// The classes tested in a group: with two classes one of them (the baseline's rarer one: the
/// other's share is its mirror image), else every class. A class the baseline has no row of is
/// never tested: it is new everywhere, so every slice holding it would look moved, and no typical
/// move can be taken from a share of 0; a class new to the data is SCH006's, and its share of the
/// whole data DRF003's.
fn tested_classes(lm: &LabelModel) -> Vec<usize> {
    let l = lm.classes.len();
    let classes: Vec<usize> = if l == 2 {
        let rarer = if lm.reference_rows[1] <= lm.reference_rows[0] {
            1
        } else {
            0
        };
        vec![rarer]
    } else {
        (0..l).collect()
    };
    classes
        .into_iter()
        .filter(|&c| lm.reference_rows.get(c).is_some_and(|&r| r > 0.0))
        .collect()
}

/// A slice that can be tested: its feature and slot, the current rows per class, the baseline's
/// sample rows per class and the baseline rows they stand for.
struct Slice<'a> {
    feature: usize,
    slot: usize,
    cur: &'a [u64],
    n: u64,
    m: &'a [u64],
    wm: f64,
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
    let mut typical: std::collections::BTreeMap<(usize, usize), (f64, f64)> = Default::default();
    for feature in 0..lm.dim {
        let own: Vec<&Slice<'_>> = slices.iter().filter(|s| s.feature == feature).collect();
        for &c in &classes {
            let r = if own.len() >= MIN_SLICES_FOR_MEDIAN {
                typical_move(&own, c, w, shift[c])
            } else {
                (shift[c], 0.0)
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
            let (r, var_log_r) = typical[&(s.feature, c)];
            let denom = 1.0 - p_b + p_b * r;
            let expected = p_b * r / denom;
            let slope = r / (denom * denom);
            let share = cur[c] as f64 / n as f64;
            let smoothed = (cur[c] as f64 + 0.5) / (n as f64 + 1.0);
            // d expected / d ln r = p_b (1 - p_b) r / denom².
            let by_log_r = p_b * (1.0 - p_b) * slope;
            // The current share's variance: the larger of the share's own and the expected
            // share's (the test's null). The share's own alone shrinks as a share moves towards
            // 0 or 1, and made such moves look surer than they are (a small category's label
            // share from 83% to 96% on 91 rows: z 4.5 by it, 3 under the null).
            let cur_var = smoothed * (1.0 - smoothed);
            let var = slope * slope * var_b
                + cur_var.max(expected * (1.0 - expected)) / n as f64
                + by_log_r * by_log_r * var_log_r;
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
                sd: var.sqrt(),
                sd_baseline: (var_b + cur_var.max(p_b * (1.0 - p_b)) / n as f64).sqrt(),
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
            let sd_rest = (smoothed * (1.0 - smoothed) / n as f64
                + rest_share * (1.0 - rest_share) / rest_n as f64)
                .sqrt();
            // Both comparisons must agree in direction; the weaker one counts.
            let (h, z, expected, sd) = if h_rest.signum() != h_base.signum() {
                (0.0, 0.0, share, 0.0)
            } else if h_rest.abs() < h_base.abs() {
                (h_rest, z_rest, rest_share, sd_rest)
            } else {
                (h_base, z_base, p_b, var.sqrt())
            };
            tested.push(Tested {
                place: Where::Source(source),
                class: c,
                rows: n,
                share,
                baseline_share: p_b,
                expected,
                z,
                sd,
                sd_baseline: var.sqrt(),
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
    crate::detect::strongest(findings, MAX_FINDINGS, |w| match w {
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
    let moved_tiers = ctx.tiers("LBL001", &MOVED_TIERS);
    let all_rows: u64 = counts.all.iter().sum();
    let moved_share = t.moved_lower() / all_rows.max(1) as f64;
    // Cohen's h must reach its low tier; the rows moved can then raise the severity.
    let severity = tier(t.h, tiers.0, tiers.1, tiers.2)?.max(
        tier(moved_share, moved_tiers.0, moved_tiers.1, moved_tiers.2)
            .unwrap_or(crate::detect::Severity::Low),
    );
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
    let examples: Vec<RowRef> = crate::detect::row_refs(ctx.current, &example_keys);
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
        ("moved_rows_lower", json_num(t.moved_lower())),
        ("moved_share_lower", json_num(moved_share)),
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
    if lm.classes.is_numeric() {
        // The target's distribution in the group on the baseline's quantile grid, against the
        // baseline's in the same slice (its sample rows, weighted; a file: the whole baseline).
        let base: Vec<f64> = match t.place {
            Where::Slice { feature, slot } => lm
                .reference_slice(feature, slot)
                .iter()
                .zip(&lm.class_weights)
                .map(|(&k, w)| k as f64 * w)
                .collect(),
            Where::Source(_) => lm.reference_rows.clone(),
        };
        let cur: Vec<f64> = cur.iter().map(|&k| k as f64).collect();
        let (grid, w1) = target_shift(&lm.classes.edges, &cur, &base);
        ev.push(("target_share_below_baseline_quantiles", grid));
        ev.push(("wasserstein_binned", json_num(w1)));
    }
    f.evidence = evidence(ev);
    Some(f)
}

/// A numeric target's shift between two groups given as rows per bin (bins between `edges`,
/// then null, which is left out): at each edge, the share of each group's values below it, and
/// the Wasserstein-1 distance of the two with each interior bin's rows spread evenly over it
/// and the tails' at the outer edges (a lower bound of the true distance).
fn target_shift(edges: &[f64], cur: &[f64], base: &[f64]) -> (serde_json::Value, f64) {
    let bins = edges.len() + 1;
    let below = |v: &[f64]| -> Vec<f64> {
        let total: f64 = v.iter().take(bins).sum();
        let mut acc = 0.0;
        (0..edges.len())
            .map(|j| {
                acc += v.get(j).copied().unwrap_or(0.0);
                acc / total.max(f64::MIN_POSITIVE)
            })
            .collect()
    };
    let (fc, fb) = (below(cur), below(base));
    let grid = serde_json::Value::Array(
        edges
            .iter()
            .zip(fc.iter().zip(&fb))
            .map(|(&e, (&c, &b))| {
                serde_json::json!({
                    "value": json_num(e),
                    "share_below": json_num(c),
                    "baseline_share_below": json_num(b),
                })
            })
            .collect(),
    );
    let mut w1 = 0.0;
    for j in 0..edges.len().saturating_sub(1) {
        let width = edges[j + 1] - edges[j];
        let (a, b) = (fc[j] - fb[j], fc[j + 1] - fb[j + 1]);
        // ∫|d| over the bin, d linear from a to b.
        w1 += if a * b >= 0.0 {
            width * (a.abs() + b.abs()) / 2.0
        } else {
            width * (a * a + b * b) / (2.0 * (a.abs() + b.abs()))
        };
    }
    (grid, w1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// A binomial draw by its Bernoulli trials.
    fn binomial(rng: &mut rand_chacha::ChaCha8Rng, n: u64, p: f64) -> u64 {
        (0..n).filter(|_| rng.random::<f64>() < p).count() as u64
    }

    /// The variance `typical_move` takes for the median's log, and the one it took before
    /// (the median over the slices of each one's variance from its counts, times Σ (nᵢ/N)²),
    /// each as a ratio to the medians' variance over 600 clean draws of a column whose slices
    /// hold `shares`: (rows a side, the label's share), both sides drawn from it, the baseline's
    /// sample all its rows. On each draw, a large slice flipped (every row of the label
    /// relabelled), the whole data's move held as it was, must leave the variance as it was: the
    /// slices' variances are read from the counts the whole data's move predicts, not their own.
    fn variance_ratios(seed: u64, shares: &[(u64, f64)]) -> (f64, f64) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let w = [1.0, 1.0];
        let (mut logs, mut vars, mut old) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..600 {
            let cells: Vec<([u64; 2], [u64; 2])> = shares
                .iter()
                .map(|&(n, p)| {
                    let (k, m) = (binomial(&mut rng, n, p), binomial(&mut rng, n, p));
                    ([n - k, k], [n - m, m])
                })
                .collect();
            let slices: Vec<Slice<'_>> = cells
                .iter()
                .map(|(cur, m)| Slice {
                    feature: 0,
                    slot: 0,
                    cur,
                    n: cur[0] + cur[1],
                    m,
                    wm: (m[0] + m[1]) as f64,
                })
                .collect();
            let own: Vec<&Slice<'_>> = slices.iter().collect();
            let sum = |f: &dyn Fn(&Slice<'_>) -> u64| own.iter().map(|s| f(s) as f64).sum::<f64>();
            let (k, n) = (sum(&|s| s.cur[1]), sum(&|s| s.n));
            let (m, wm) = (sum(&|s| s.m[1]), sum(&|s| s.m[0] + s.m[1]));
            let whole = odds(k, n) / odds(m, wm);
            let (r, var) = typical_move(&own, 1, &w, whole);
            logs.push(r.ln());
            vars.push(var);
            let mut seen: Vec<f64> = own
                .iter()
                .map(|s| {
                    let (k, n) = (s.cur[1] as f64, s.n as f64);
                    let (m, mn) = (s.m[1] as f64, s.wm);
                    1.0 / (k + 0.5) + 1.0 / (n - k + 0.5) + 1.0 / (m + 0.5) + 1.0 / (mn - m + 0.5)
                })
                .collect();
            seen.sort_by(f64::total_cmp);
            let spread: f64 = own.iter().map(|s| (s.n as f64 / n).powi(2)).sum();
            old.push(std::f64::consts::FRAC_PI_2 * seen[(seen.len() - 1) / 2] * spread);
            let largest = (0..own.len()).max_by_key(|&i| own[i].n).unwrap();
            let flipped = [own[largest].n, 0];
            let changed = Slice {
                cur: &flipped,
                ..*own[largest]
            };
            let mut with_flip = own.clone();
            with_flip[largest] = &changed;
            assert_eq!(typical_move(&with_flip, 1, &w, whole).1, var);
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let centre = mean(&logs);
        let spread =
            logs.iter().map(|x| (x - centre).powi(2)).sum::<f64>() / (logs.len() - 1) as f64;
        (mean(&vars) / spread, mean(&old) / spread)
    }

    /// The typical move's variance against the medians' spread over clean draws (a normal
    /// median's π/2 is for many like slices: of three large ones it is nearer 1.35, so the
    /// variance taken may stand above the spread, within a factor of 2):
    /// - 3 large categories (1,500 rows a side each) among 20 small ones (25 rows; Adult's
    ///   `education` is like it): 1.18, where the old variance stood 50 times above;
    /// - ten bins of 500 rows of a rare label (0.1% to 10% of a bin's rows; mammography's bins
    ///   are like them), where a bin the baseline has no row of the label has a huge variance
    ///   of its own but barely moves the median: 1.34, where the old variance stood twice as
    ///   high (2.1; the weighted mean's variance, Σ (nᵢ/N)²·vᵢ, about four times).
    #[test]
    fn typical_move_variance_matches_the_medians_spread() {
        let mut long_tail = vec![(1500u64, 0.2), (1500, 0.3), (1500, 0.25)];
        long_tail.extend((0..20).map(|i| (25u64, 0.05 + 0.025 * i as f64)));
        let (taken, was) = variance_ratios(7, &long_tail);
        assert!((0.8..2.0).contains(&taken), "{taken} {was}");
        assert!(was > 10.0, "{taken} {was}");
        let rare: Vec<(u64, f64)> = [
            0.001, 0.001, 0.002, 0.003, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1,
        ]
        .iter()
        .map(|&p| (500, p))
        .collect();
        let (taken, was) = variance_ratios(8, &rare);
        assert!((0.8..2.0).contains(&taken), "{taken} {was}");
        assert!(was > 1.5, "{taken} {was}");
    }

    /// By hand: all current targets in [1, 2), all baseline ones in [2, 3): spread evenly,
    /// uniform on [1, 2] against uniform on [2, 3], Wasserstein 1. Shares below the edges 1,
    /// 2, 3: 0, 1, 1 against 0, 0, 1. The null class (past the bins) is left out.
    #[test]
    fn target_shift_by_hand() {
        let (grid, w1) = target_shift(
            &[1.0, 2.0, 3.0],
            &[0.0, 10.0, 0.0, 0.0, 7.0],
            &[0.0, 0.0, 4.0, 0.0],
        );
        assert!((w1 - 1.0).abs() < 1e-12, "{w1}");
        let below: Vec<(f64, f64)> = grid
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g["share_below"].as_f64().unwrap(),
                    g["baseline_share_below"].as_f64().unwrap(),
                )
            })
            .collect();
        assert_eq!(below, vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]);
        let (_, w1) = target_shift(&[0.0, 2.0], &[0.0, 1.0, 0.0], &[0.0, 0.0, 1.0]);
        // Shares below 0 and 2: 0 and 1 against 0 and 0: d 0 → 1 over width 2: 1.
        assert!((w1 - 1.0).abs() < 1e-12, "{w1}");
        let (_, w1) = target_shift(&[0.0, 2.0], &[1.0, 0.0, 1.0], &[0.0, 2.0, 0.0]);
        // d = +0.5 at 0 and −0.5 at 2 (crossing): 2·(0.25 + 0.25)/(2·1) = 0.5.
        assert!((w1 - 0.5).abs() < 1e-12, "{w1}");
    }
}
