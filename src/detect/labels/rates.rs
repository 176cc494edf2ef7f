//! LBL002 and LBL003: the rate of rows flagged as label issues (by their nearest trusted
//! neighbours, by confident learning) against the baseline sample's, overall, per source file and
//! per single-predicate slice.

use super::{MAX_FINDINGS, MIN_REFERENCE_ROWS, ROWS_SHARE_TIERS, Where, labelled};
use crate::detect::{
    Context, Detector, Finding, NamedValue, Param, named_tier_params, tier_params,
};
use crate::detect::{evidence, json_num, pct, slice_predicate, source_path, tier, weighted_score};
use crate::rows::labels::{FlagGroups, LabelModel, RefFlags, SLOTS, code_of_slot};
use crate::rows::pass::RowPass;

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

/// The severity tiers (low, medium, high) of a rise of the flagged rate of the whole data: the
/// one-sided 99% lower bound of the current rate less the baseline's, as a share of the rows.
const EXCESS_TIERS: [Param; 3] = named_tier_params(
    ["excess-low", "excess-medium", "excess-high"],
    ROWS_SHARE_TIERS[0],
    ROWS_SHARE_TIERS[1],
    ROWS_SHARE_TIERS[2],
    1.0,
    EXCESS_DOC,
);
const EXCESS_DOC: &str = "lower 99% bound of the flagged rate of the whole data (LBL003: or \
of a class) less the baseline's, a share of its rows, at this severity";

/// Both sets of tiers, as a config file sets them (`[checks.LBL002]`).
const RATE_PARAMS: [Param; 6] = [
    KNN_TIERS[0],
    KNN_TIERS[1],
    KNN_TIERS[2],
    EXCESS_TIERS[0],
    EXCESS_TIERS[1],
    EXCESS_TIERS[2],
];

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
single-predicate slice. The whole data: one-sided two-proportion z-test against the baseline \
sample's rate (its size discounted for its class weights, Kish), at least 10 flagged rows \
above that rate, at p <= 0.01 on its own (the one test decided beforehand). A file or slice: \
one-sided binomial test against the upper 99% Wilson bound of the baseline rate and the rate \
in the rest of the current data, at least 10 flagged rows above the expected count, at least \
double the rate it is tested against, and q <= 0.01 by Benjamini-Hochberg across the files \
and slices. Severity by the ratio of the rate to the baseline bound: 1.25 (low), 2 (medium), 4 \
(high); for the whole data also by the excess, the lower 99% bound (Newcombe's hybrid score \
interval) of its rate less the baseline's: 0.25% of the rows (low), 0.5% (medium), 1% (high), \
whichever is higher. A baseline that already has many such rows (a noisy label) hides flips in \
the ratio; the excess still counts them.\n\n\
Numeric targets (`--label-type numeric`): a row's target is compared with its neighbours' \
targets instead of their votes: the robust residual r = |y − median| / max(1.4826·MAD, a quarter \
of the baseline target's own 1.4826·MAD); label_issue_score = 1 − 10^(−r/4), flagged at r ≥ 4 \
(score 0.9). The rates are tested as above."
    }

    fn params(&self) -> &'static [Param] {
        &RATE_PARAMS
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
                    what: if lm.classes.is_numeric() {
                        "carry a target at least 4 robust spreads from their nearest baseline neighbours' median"
                    } else {
                        "carry a label most of their nearest baseline neighbours do not"
                    },
                    statistic: "flagged_rows",
                    method: [
                        ("neighbours", serde_json::json!(crate::rows::knn::K)),
                        (
                            "threshold_label_issue_score",
                            json_num(crate::rows::knn::FLAG),
                        ),
                    ]
                    .into_iter()
                    .chain(
                        lm.classes
                            .is_numeric()
                            .then(|| ("threshold_spreads", json_num(crate::rows::knn::R_FLAG))),
                    )
                    .collect(),
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
overall, per source file and per single-predicate slice as LBL002, and also per label class: \
the rows labelled with a class against the baseline sample's rows of that class (at least 20), \
by the same two-sample test as the whole data, the whole data and the classes one \
Benjamini-Hochberg family (a file or slice against the upper 99% Wilson bound of the baseline \
rate and the rest of the current data's rate, the other family; q <= 0.01 in each, at least 10 \
issues above the expected count). A one-way flip (rows of one class relabelled as another) \
raises the issue rate of the class it went to only, which the whole data dilutes. Severity by \
the ratio of the rate to the baseline bound, 1.25 (low), 2 (medium), 4 (high), and for the \
whole data and a class also by the lower 99% bound of the excess rate, 0.25%, 0.5%, 1% of the \
group's rows. (LBL002 is not tested per class: kNN flags rows that share neighbours together, \
so a small class's rate varies by more than a binomial test allows.) Classes with fewer than \
20 sample rows are not modelled. A model that does not predict the label cannot tell which \
labels are wrong: it stands only if its out-of-fold log loss beats that of the sample's class \
shares, row by row, by a one-sided z of at least 3 (a numeric target: its squared error against \
the sample mean's); otherwise LBL003 says nothing (labels no feature predicts put about half of \
each class's rows under its threshold, and that half moves with how a side is scored).\n\n\
Numeric targets (`--label-type numeric`): the same cross-fitting with ridge regression (L2 1 \
on the summed squared loss, the intercept unpenalised, solved exactly) on the same design; a \
row's residual is measured in the robust spread (1.4826·MAD) of the sample's out-of-fold \
residuals, and it is an issue at 4 spreads or more (label_confidence = 10^(−r/4)). The rates are \
tested as above, without the per-class groups."
    }

    fn params(&self) -> &'static [Param] {
        &RATE_PARAMS
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
                    what: if lm.classes.is_numeric() {
                        "have a target at least 4 robust spreads from a cross-fitted model's prediction"
                    } else {
                        "are label issues by confident learning"
                    },
                    statistic: "label_issues",
                    method: [
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
                    ]
                    .into_iter()
                    .chain(
                        lm.confident
                            .as_ref()
                            .and_then(|m| m.residual_spread)
                            .map(|v| ("residual_spread", json_num(v))),
                    )
                    .collect(),
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
    let excess_tiers = ctx.tiers(spec.code, &EXCESS_TIERS);
    let rest_rate = |g: &FlagCount| {
        let (n, k) = (all.rows - g.rows, all.flagged - g.flagged);
        if n > 0 { k as f64 / n as f64 } else { 0.0 }
    };
    struct Test<'a> {
        place: Group,
        group: &'a FlagCount,
        reference: RefCount,
        p0: f64,
        p_test: f64,
        p: f64,
        /// The whole data's and a class's: the lower 99% bound of its rate less the baseline's.
        excess_lower: Option<f64>,
    }
    let mut tests: Vec<Test<'_>> = Vec::new();
    let mut pending: Vec<(Group, &FlagCount, RefCount)> = vec![(Group::All, all, reference.all)];
    // A class against the same class in the baseline, when the baseline's sample holds enough
    // of its rows. Only confident learning's issues are counted per class (none for kNN, a
    // numeric target or a profile written before): a model of the whole sample judges each row
    // on its own, while kNN flags rows that share neighbours together, so a small class's kNN
    // rate moves between random halves by more than a binomial variance allows (false highs on
    // clean splits of Cardio and wine).
    for (c, g) in groups.classes.iter().enumerate() {
        if let Some(&own) = reference.classes.get(c)
            && own.rows >= MIN_REFERENCE_ROWS
            && groups.classes.len() > 1
        {
            pending.push((Group::Class(c), g, own));
        }
    }
    for (&s, g) in &groups.sources {
        if g.rows < all.rows {
            pending.push((Group::At(Where::Source(s)), g, reference.all));
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
            pending.push((Group::At(Where::Slice { feature, slot }), g, reference));
        }
    }
    for (place, group, reference) in pending {
        if group.rows == 0 {
            continue;
        }
        let p0 = crate::stats::wilson_upper(reference.rate(), reference.rows).max(1e-4);
        let test = if let Group::At(_) = place {
            let p_test = p0.max(rest_rate(group));
            let p = crate::stats::binom_sf_ge(group.flagged, group.rows, p_test);
            Test {
                place,
                group,
                reference,
                p0,
                p_test,
                p,
                excess_lower: None,
            }
        } else {
            // The whole data (a class) against the whole baseline sample (its rows of the
            // class): both rates are estimates, so a two-sample test, with the sample's
            // effective size under its class weights (equal within a class).
            let n_ref = match place {
                Group::All => reference.rows as f64 * kish_factor(lm),
                _ => reference.rows as f64,
            };
            let (_, p, lower) = crate::stats::rate_rise(
                group.flagged as f64 / group.rows as f64,
                group.rows as f64,
                reference.rate(),
                n_ref,
            );
            Test {
                place,
                group,
                reference,
                p0,
                p_test: reference.rate(),
                p,
                excess_lower: Some(lower),
            }
        };
        tests.push(test);
    }
    // The whole data and its classes are the tests decided beforehand, a family of their own;
    // the files and slices, searched for where the flagged rows gather, are another
    // (Benjamini-Hochberg in each). Adjusted together, a rise everywhere or in one class would
    // have to beat hundreds of slice tests it does not compete with.
    let planned = tests
        .iter()
        .take_while(|t| !matches!(t.place, Group::At(_)))
        .count();
    let mut q = crate::stats::bh_adjust(&tests[..planned].iter().map(|t| t.p).collect::<Vec<_>>());
    q.extend(crate::stats::bh_adjust(
        &tests[planned..].iter().map(|t| t.p).collect::<Vec<_>>(),
    ));
    let mut findings: Vec<(Group, Finding)> = Vec::new();
    let overall = all.flagged as f64 / all.rows as f64;
    for (t, &q) in tests.iter().zip(&q) {
        let (n, k) = (t.group.rows, t.group.flagged);
        let rate = k as f64 / n as f64;
        let expected = t.p_test * n as f64;
        if q > ctx.alpha() || k < MIN_FLAGGED || (k as f64) < expected + MIN_FLAGGED as f64 {
            continue;
        }
        if matches!(t.place, Group::At(_)) && rate < 2.0 * t.p_test {
            continue;
        }
        let ratio = rate / t.p0;
        let by_excess = t
            .excess_lower
            .and_then(|e| tier(e.max(0.0), excess_tiers.0, excess_tiers.1, excess_tiers.2));
        let Some(severity) = tier(ratio, tiers.0, tiers.1, tiers.2).max(by_excess) else {
            continue;
        };
        let (slice, sources, place_text, mut columns) = match t.place {
            Group::All => (
                Vec::new(),
                Vec::new(),
                "in the data".to_string(),
                Vec::new(),
            ),
            Group::Class(c) => (
                Vec::new(),
                Vec::new(),
                format!("labelled `{}`", lm.classes.names[c]),
                Vec::new(),
            ),
            Group::At(Where::Source(s)) => {
                let path = source_path(ctx.current, s);
                (
                    Vec::new(),
                    vec![path.clone()],
                    format!("in `{path}`"),
                    Vec::new(),
                )
            }
            Group::At(Where::Slice { feature, slot }) => {
                let Some(desc) = rp.model.slice_of(feature as u32, code_of_slot(slot)) else {
                    continue;
                };
                let (pred, text, col) = slice_predicate(ctx, &desc);
                (vec![pred], Vec::new(), format!("where {text}"), vec![col])
            }
        };
        columns.push(lm.label.clone());
        let mut title = format!(
            "{} of rows ({} of {}) {place_text} {}, against {} {}",
            pct(rate),
            crate::report::thousands(k),
            crate::report::thousands(n),
            spec.what,
            // The whole data is tested against the baseline's rate, the rest against its bound.
            pct(if t.excess_lower.is_some() {
                t.p_test
            } else {
                t.p0
            }),
            match t.place {
                Group::Class(_) => "of the baseline's",
                _ => "in the baseline",
            },
        );
        if let Some(e) = t.excess_lower.filter(|&e| e > 0.0) {
            let whom = if let Group::Class(_) = t.place {
                "them"
            } else {
                "the rows"
            };
            title.push_str(&format!(" (at least {} of {whom} more)", pct(e)));
        }
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
        f.baseline_rows = matches!(t.place, Group::At(Where::Slice { .. }) | Group::Class(_))
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
        f.example_rows = crate::detect::row_refs(ctx.current, &t.group.examples);
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
        if let Some(e) = t.excess_lower {
            items.push(("excess_rate_lower", json_num(e)));
        }
        if let Group::Class(c) = t.place {
            items.push(("label_class", serde_json::json!(lm.classes.names[c])));
        }
        items.extend(spec.method.iter().cloned());
        f.evidence = evidence(items);
        findings.push((t.place, f));
    }
    crate::detect::strongest(findings, MAX_FINDINGS, |w| match w {
        Group::All => None,
        Group::At(Where::Slice { .. }) => Some(0),
        Group::At(Where::Source(_)) => Some(1),
        Group::Class(_) => Some(2),
    })
}

/// A group of current rows whose flagged rate is tested (in this order, which breaks ties).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    /// The whole data.
    All,
    /// A file or a slice.
    At(Where),
    /// The rows of one label class.
    Class(usize),
}

/// The share of its size a class-weighted sample is worth for a rate over all its rows (Kish's
/// effective size over the size, `(Σ w_h m_h)² / (Σ w_h² m_h) / Σ m_h`): 1 when the weights are
/// equal, less when the sample over-represents rare classes.
fn kish_factor(lm: &LabelModel) -> f64 {
    let (mut sum_w, mut sum_w2, mut m) = (0.0, 0.0, 0.0);
    for (&w, &n) in lm.class_weights.iter().zip(&lm.reference_sample) {
        sum_w += w * n as f64;
        sum_w2 += w * w * n as f64;
        m += n as f64;
    }
    if sum_w2 > 0.0 && m > 0.0 {
        (sum_w * sum_w / sum_w2 / m).min(1.0)
    } else {
        1.0
    }
}
