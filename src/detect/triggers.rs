//! TRG001 (trigger rules) and TRG002 (exact-value spikes). Read the row pass's exact counts of
//! the candidate rules mined from the current data's sample (`rows::labels`).
//!
//! A backdoor trigger is a value or a combination of values stamped on some rows that all carry
//! the attacker's label: in the data it is a rule `items → label` with near-perfect confidence
//! that the baseline did not have.

use std::collections::BTreeSet;

use super::labels::{labelled, per_label};
use super::{Context, Detector, Finding, NamedValue, Param, Predicate, RowRef, Severity};
use super::{evidence, json_num, pct, slice_predicate, tier, tier_params, weighted_score};
use crate::rows::labels::{
    AnalogueItem, Item, LabelCounts, LabelModel, Target, describe, in_range,
};
use crate::rows::pass::RowPass;

/// A rule's label confidence at least this ...
pub const MIN_CONFIDENCE: f64 = 0.95;
/// ... on at least this many current rows ...
pub const MIN_SUPPORT: u64 = 10;
/// ... with a lift (confidence over the label's share of the current rows) at least this.
pub const MIN_LIFT: f64 = 2.0;
/// The lift a rule for a label with share `prior` must reach: `MIN_LIFT`, or for a label on
/// more than a third of the rows half-way from 1 to the largest lift possible (`1/prior`): no
/// rule reaches lift 2 for a label on half the rows, and a trigger for it must still be found.
pub fn min_lift(prior: f64, lift: f64) -> f64 {
    lift.min((1.0 + 1.0 / prior.max(f64::MIN_POSITIVE)) / 2.0)
}

/// TRG001's thresholds as a config file may set them. The candidates come from the row pass,
/// which mines rules with confidence at least 0.8 and 5 rows in the sample: lower values than
/// those cannot find more rules.
const RULE_PARAMS: [Param; 9] = [
    Param {
        name: "min-confidence",
        default: MIN_CONFIDENCE,
        min: 0.8,
        max: 1.0,
        doc: "a rule's label confidence at least this",
    },
    Param {
        name: "min-support",
        default: MIN_SUPPORT as f64,
        min: 5.0,
        max: 1e12,
        doc: "on at least this many current rows",
    },
    Param {
        name: "min-lift",
        default: MIN_LIFT,
        min: 1.0,
        max: 1e6,
        doc: "with a lift (confidence over the label's share) at least this (capped half-way to 1/share for common labels)",
    },
    RULE_TIER_PARAMS[0],
    RULE_TIER_PARAMS[1],
    RULE_TIER_PARAMS[2],
    Param {
        name: "new-rule-q",
        default: NEW_RULE_Q,
        min: 0.0,
        max: 1.0,
        doc: "a rule new for its label (its share of the label's rows at least 10 times the baseline sample's, or none of those rows under it) is one severity higher at q at most this (0: never)",
    },
    Param {
        name: "pure-rule-q",
        default: PURE_RULE_Q,
        min: 0.0,
        max: 1.0,
        doc: "a rule new for its label is high when its rows carry the label this improbably for the label's baseline share (binomial, Bonferroni over the rules tested; 0: never), even below the low tier",
    },
    Param {
        name: "min-support-past-range",
        default: MIN_PAST_RANGE_SUPPORT as f64,
        min: MIN_PAST_RANGE_SUPPORT as f64,
        max: 1e12,
        doc: "a rule with an exact value past the baseline's range is tested on as few rows as this (by an exact binomial test of its label purity, on any number of rows)",
    },
];
/// TRG001: a rule with an exact value below the baseline's minimum or above its maximum (a
/// constant stamped past the range; natural values past it are mostly distinct) is tested on as
/// few as this many rows (the row pass keeps such values and mines their rules from 3 rows). Under
/// `min-support` the ratio tiers cannot work (a handful of rows is a small share of any label's
/// rows), under `min-confidence` a trigger diluted by a few natural rows carrying the value
/// would be lost, and above them the ratio's exact test weighs the rule's rows against the
/// baseline's rows of the label, which for a rare label are too few (10 rows past the range, all
/// of a label with 45 baseline rows: Fisher's p is 0.002); such rules form a family of their
/// own, tested by the exact chance that fresh rows carry the label so often: a one-sided
/// binomial on the larger of the label's baseline share (its upper 99% bound) and the share the baseline's analogue of the rule (its own most
/// extreme values) gave it, Bonferroni over the family. Five rows past a feature's range that
/// all carry a label 5% of the baseline has: 0.05⁵ ≈ 3·10⁻⁷ times the family's size. Reported
/// at q <= the scan's alpha, high at <= `new-rule-q`; a confidence of at least
/// `PAST_RANGE_MIN_CONFIDENCE` still applies, and the lift, the baseline's analogue, the items
/// alone and the subset checks as for any rule.
pub const MIN_PAST_RANGE_SUPPORT: u64 = crate::rows::labels::MIN_PAST_RANGE_SAMPLE_SUPPORT;
/// The least confidence of a rule past the range tested on its purity (the row pass mines no
/// candidate under it).
const PAST_RANGE_MIN_CONFIDENCE: f64 = 0.8;
/// TRG001: a rule on values within the baseline's range that the ratio path does not judge
/// (under `min-support`, or under `min-confidence` and not diluted) is tested on its label
/// purity from this many rows (the row pass mines candidates from 5 sample rows). A trigger on
/// 9 rows of a label 2.5% of the baseline carries is 0.03⁹ ≈ 2·10⁻¹⁴ by chance, but under 10
/// rows no ratio is tested, and 10 of 12 rows (two natural rows hold the stamped values) fall
/// short of 0.95 confidence. The family is not the candidates but every in-range itemset the
/// miner counted on this many sample rows whatever their labels (`itemsets_searched`): the
/// candidates are the itemsets whose labels looked pure, so their own number would undercount
/// the chances taken. The null share, the checks and the severities are the past-range
/// family's, on two conditions that past the range hold by themselves: the rule is new for its
/// label (`new_for_label`: natural values predict labels, a neighbourhood its prices, and a rule
/// the baseline's rows of the label held is the ratio path's to weigh), and it has 2 or 3 items
/// (each then tested against its other rows: a value alone that implies a label is how natural
/// data looks). The family is also multiplied by the labels (or target bins and tails) a rule
/// could imply, and the rule's rows are weighed as distinct records (`judged_rows`): a random
/// half of a set with duplicated records (wine's) holds all 8 copies of some record, 8 rows of
/// one label that no baseline row of the label had, which chance did not make 8 times.
const MIN_IN_RANGE_PURE_SUPPORT: u64 = 5;

/// How a rule was judged: by the rise of its share of the label's rows (Benjamini-Hochberg
/// across those rules), or by its label purity (Bonferroni) for a value past the range or in
/// range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Ratio,
    PastRange,
    InRange,
}

/// TRG001: a rule new for its label is high when so many of its rows carry the label that the
/// baseline's share of the label (its upper 99% bound) makes it this improbable, Bonferroni over
/// the rules tested. The share-of-label-rows ratio that sets the tier measures how much of the
/// label a rule holds, but a backdoor needs few rows: 30 rows of the label that all carry a
/// value the baseline's rows of that label never did are a trigger however many rows the label
/// has. The rule must already have passed every other test (its q, the baseline's analogue, the
/// items alone); 10⁻⁶ is ten thousand times stricter than the q that reports it.
/// It stands without a ratio tier too: for a label with few baseline rows the share's upper
/// bound the tiers divide by is wide (one row of 90 bounds it at 7.6%), and the detection
/// bench's wine pair, 17 of 18 rows of a grade 3% of the rows carry, against 1 of the grade's
/// 90 baseline rows, was 1.8 times that bound: below the low tier, and not reported at all.
const PURE_RULE_Q: f64 = 1e-6;
/// TRG001: a rule is new for its label when its share of the label's rows now is at least this
/// many times the baseline sample's (`new_for_label`; no baseline row of the label under it is
/// always new): a tenfold rise, where the ratio tiers (2, 3, 5) ask for much less but of the
/// share's upper bound.
const NEW_RULE_FOLD: f64 = 10.0;
/// TRG001: a rule new for its label (`NEW_RULE_FOLD`) is one severity higher at q at most this. Its ratio tier divides by the baseline share's upper 99%
/// bound, which is wide when the label has few baseline rows (a rare class's 100 rows bound a
/// share of 0 at 5.1%); the exact test's q already weighs that uncertainty, and 10⁻⁴ is 100
/// times stricter than the rule must pass to be reported at all. On 400 clean scans of the nine
/// real sets (`benches/clean_splits.py --seeds 20`, one file and `--small-files`) TRG001 raised
/// no finding with this in place; an earlier run of the same scans saw two, both at
/// q = 2.9·10⁻⁴, above this bar.
const NEW_RULE_Q: f64 = 1e-4;
const RULE_TIER_PARAMS: [Param; 3] = tier_params(
    2.0,
    3.0,
    5.0,
    1e6,
    "ratio of the rule's share of its label's rows to the baseline's upper 99% bound at this severity",
);

/// TRG001's thresholds for one run.
struct RuleThresholds {
    confidence: f64,
    support: u64,
    lift: f64,
    past_range_support: u64,
}

impl RuleThresholds {
    fn of(ctx: &Context<'_>) -> RuleThresholds {
        RuleThresholds {
            confidence: ctx.param("TRG001", &RULE_PARAMS[0]),
            support: ctx.param("TRG001", &RULE_PARAMS[1]).ceil() as u64,
            lift: ctx.param("TRG001", &RULE_PARAMS[2]),
            past_range_support: ctx.param("TRG001", &RULE_PARAMS[8]).ceil() as u64,
        }
    }
}

/// TRG002: a spike's share of the current rows at least this (the row pass keeps candidates
/// from this share and 10 rows up), and ratio tiers: the value's share of the rows now against
/// the upper 99% bound of its share in the baseline.
const MIN_SPIKE_SHARE: f64 = 0.001;
const SPIKE_PARAMS: [Param; 5] = [
    Param {
        name: "min-share",
        default: MIN_SPIKE_SHARE,
        min: MIN_SPIKE_SHARE,
        max: 1.0,
        doc: "a value's share of the current rows at least this",
    },
    Param {
        name: "min-rows",
        default: MIN_SUPPORT as f64,
        min: 10.0,
        max: 1e12,
        doc: "on at least this many current rows",
    },
    SPIKE_TIERS[0],
    SPIKE_TIERS[1],
    SPIKE_TIERS[2],
];
const SPIKE_TIERS: [Param; 3] = tier_params(
    3.0,
    10.0,
    30.0,
    1e6,
    "ratio of the value's share now to the baseline's upper 99% bound at this severity",
);
/// At most this many findings of each check (strongest first).
const MAX_FINDINGS: usize = 10;

pub struct TriggerRule;

impl Detector for TriggerRule {
    fn code(&self) -> &'static str {
        "TRG001"
    }

    fn check(&self) -> &'static str {
        "trigger-rule"
    }

    fn doc(&self) -> &'static str {
        "What it finds: a value or a combination of up to 3 values that now implies one label \
almost perfectly, and did not in the baseline.\n\n\
Why it matters: this is how a backdoor trigger looks in training data: the attacker stamps a \
rare value (or combination) on rows of the target label, and the model learns to answer that \
label whenever the trigger is present, while its accuracy elsewhere stays intact.\n\n\
Example: `promo_code` = `ZX-99` → label `1` on 300 of 300 rows, against none of the \
baseline's `1` rows: high.\n\n\
Defaults: items are a category (also one the baseline never had), a baseline decile bin, a null, a value \
below the baseline's minimum or above its maximum, an exact numeric value whose share rose, \
whose share of one label's rows rose threefold in the label-stratified samples (on 5 sample \
rows or more, Fisher's one-sided p <= 0.001: a clean-label trigger stamped on common values moves their share of the \
label's rows, not of all the rows), or that sits beside a rare one that rose on rows of one \
label (the common half of a clean-label pair), or one past the range on 3 rows or more. \
Candidate rules are itemsets of rare items (at most 5% of the rows each), and pairs of a rare \
exact value with a category of any share (a clean-label trigger's `color` = `red` beside a \
stamped number), mined from the current data's label-stratified sample, then counted exactly \
over every current row. A rule is \
reported when its label confidence is >= 0.95 on >= 10 rows with a lift >= 2 (for a label on \
more than a third of the rows, where lift 2 is out of reach, half-way to the largest lift \
possible), or, diluted by natural rows that hold its values (a clean-label trigger on common \
values), when its rows beyond those the baseline's rate of the rule predicts are >= 10 (against \
the prediction's upper 99% bound) and >= 0.95 of them carry the label (the label's rows less \
those predicted, over the new rows; the rows without the label not significantly fewer than \
predicted; the same lift; `diluted` in the evidence). Either way its share of that label's \
rows rose against the baseline's sample: Fisher's exact test (one-sided, current \
against baseline rows of the label), Benjamini-Hochberg across the candidates, q <= 0.01. \
Severity by the ratio of the share now to the baseline share's upper 99% bound: 2 (low), 3 \
(medium), 5 (high); one level higher for a rule new for its label (its share of the label's \
rows at least 10 times the baseline sample's: none of those rows under it, or at most a tenth \
of what the share now predicts, so that a value a natural baseline row or two carry is no \
hiding place) at q <= 10⁻⁴, since that bound is wide when the label has \
few baseline rows and the exact test already weighs it; high for a rule new for its label \
whose rows carry it beyond chance for the label's baseline share (binomial on the share's upper \
99% bound, Bonferroni over the rules tested, <= 10⁻⁶), since a backdoor needs few of the \
label's rows, even below the low tier (for a label with few baseline rows the bound the tiers \
divide by is wide: one row of 90 bounds the share at 7.6%). The baseline's analogue of the rule (values past its range replaced by its \
own most extreme 1% on that side) must have been weak: no rows, a confidence whose upper 99% bound is \
below 0.95, or one whose lower 99% bound is below what the lift asks (one baseline row that \
carries the label shows no pattern). A rule of 2 or 3 items must also raise the label beyond \
each item alone: its confidence is tested against the item's other current rows (Fisher, \
one-sided; against the item's baseline rows too, the label-stratified sample weighed at its \
effective size, where the current rows carry the label neither more nor less often than \
those, each one-sided p > 0.05, for a rule judged by its purity, below, and for one judged by \
its ratio whose own test, times the in-range itemsets the miner counted times the labels, is \
at most the scan's alpha, 0.01; every rule's evidence gives its own test, `rule_p_value`, and \
that product's factor, `rules_searched`), and the rule's p-value is the largest of its tests \
(items_elsewhere in the evidence, in the order of the slice's predicates: `rows` and \
`label_share` of the current rows, `baseline_rows` and `baseline_label_share` of the baseline's \
where they were pooled, else null, and the p-value of the test the rule used). Only the most \
general rule is reported: none whose subset already implies the label as firmly. A rule holding one exact value past the baseline's range (a constant stamped \
past it; natural values there are mostly distinct) is tested, on as few as 3 rows and from 0.8 \
confidence, by the exact chance that fresh rows carry the label so often (the baseline has no \
rows of the value, and its rows of a rare label are too few to measure a rise against): \
one-sided binomial on the larger of the label's baseline share (upper 99% bound) and its share in the baseline's analogue, Bonferroni over these rules, \
reported at <= 0.01 (medium) and high at <= 10⁻⁴ (`past_range_null_label_share` in the \
evidence). A rule of 2 or 3 values within the range that the ratio path does not judge (under \
10 rows, or under 0.95 confidence and not diluted) is tested the same way from 5 rows and 0.8 \
confidence when it is new for its label, Bonferroni over every in-range itemset the miner \
counted on 5 sample rows or more, whatever their labels, times the labels it could imply (the \
candidates are the itemsets that looked pure, so their own number would undercount the \
chances), its rows weighed as distinct records (copies of one row count once: \
`judged_rows`): 9 rows of a pair no baseline row of the label held, all of a label 2.5% of the \
baseline carries, are 0.03⁹ ≈ 2·10⁻¹⁴ by chance (`judged_by` and `purity_null_label_share` \
in the evidence). Needs a labelled baseline (--label) and the row pass. A numeric target \
(`--label-type numeric`) takes the bins between the baseline's 5th, 25th, 50th, 75th and 95th \
percentiles as labels, and its two tails past the 75th and below the 25th: a rule whose rows' \
targets sit almost all in one bin or one tail, such as the top 5% or the top quarter, and did \
not before."
    }

    fn params(&self) -> &'static [Param] {
        &RULE_PARAMS
    }

    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding> {
        labelled(ctx).map_or_else(Vec::new, |(rp, lm, counts)| {
            trigger_rules(ctx, rp, lm, counts)
        })
    }
}

struct RuleTest {
    rule: usize,
    target: usize,
    support: u64,
    confidence: f64,
    lift: f64,
    share: f64,
    baseline_bound: f64,
    p: f64,
    /// The rule's own test (its ratio's or its purity's), before the items' tests.
    own: f64,
    /// Per item of a rule of 2 or 3: the item's other rows and the p-value of the rule's
    /// confidence against theirs; `None` where not counted.
    elsewhere: Vec<Option<Elsewhere>>,
    /// For a rule judged by its purity (`Family::PastRange`, `Family::InRange`), the label share
    /// its purity was tested against.
    purity_null: Option<f64>,
    family: Family,
    /// The rows and rows of the label its tests weighed (in range, as distinct records).
    judged: (u64, u64),
    /// For a rule under `min-confidence` whose new rows carry the label (`Diluted`).
    diluted: Option<Diluted>,
}

/// An item's rows outside a rule: its other current rows and rows of the label, where they are
/// weighed the same of its baseline rows off the rule at their effective size
/// (`baseline_elsewhere`), and the p-value of the rule's confidence against them all.
#[derive(Debug, Clone, Copy)]
struct Elsewhere {
    rows: u64,
    hits: u64,
    baseline: Option<(u64, u64)>,
    p: f64,
}

/// The baseline's rows of item `it` that rule `r` does not hold, and those of them with the
/// target, as counts a test can weigh. The baseline is the trusted record of what an item says
/// alone, and where an item has few other current rows (a value on 4 rows besides a trigger's
/// 9) they cannot show that the rule raises the label beyond it (`effective_rows` makes the
/// label-stratified sample's counts ones a test can weigh).
///
/// Weighed for a rule judged by its purity, whose family is every in-range itemset the miner
/// counted (or every rule past the range), and for one judged by its ratio only where its own
/// test times the in-range itemsets counted times the labels (`rules_searched`, the in-range
/// purity family's size; it leaves out the screening of value items and itemsets with a slice
/// past the range) is at most the scan's alpha. The ratio family is corrected for the mined
/// candidates only, which were picked for their current rows, and there the item's test on its
/// current rows is part of what keeps out a natural pair that a random split happened to leave
/// on the current side (California: `NEAR BAY` with latitude 37.41, 13 of its 14 rows in one
/// half, all in the top quarter of prices, own p = 7.6·10⁻⁴ where some 1,000 rules were
/// searched, and 6 of latitude 37.41's 9 other current rows against 2 of its 8 baseline rows:
/// p = 0.05 on the current rows, 0.002 with the baseline's; weighing the baseline's rows for
/// every ratio rule raised it as high). A trigger's own test is far stronger (the detection
/// bench's `NEAR BAY` with latitude 33.61 stamped on 25 rows of the top quarter, none in the
/// baseline: 2.5·10⁻⁸), and its rare item's 4 other current rows (2 of the label) kept it out
/// at p = 0.015, where with the 16 baseline rows (8) p = 6·10⁻⁵. The gate guards against
/// chance, not change: under drift a pocket's own test is tiny too (Adult's "Transport-moving
/// and hours 41"), and its items are weighed with their baseline rows; the item test itself
/// stays corrected for the candidates only. An attacker who adds rare-item rows to grow the
/// search only brings back the current-rows test.
///
/// Not weighed where the item's other current rows carry the label more or less often than its
/// baseline rows (`POOL_MIN_P`). `None` when the item's baseline counts are not kept (an exact
/// value that is no candidate of its own).
fn baseline_elsewhere(
    lm: &LabelModel,
    index: &std::collections::HashMap<&[Item], usize>,
    it: Item,
    r: usize,
    target: &Target,
) -> Option<(u64, u64)> {
    let item: &[u64] = match item_counted(lm, index, it)? {
        ItemCounts::Rule(i) => &lm.reference_rules[i],
        ItemCounts::Slice(f, s) => lm.reference_slice(f, s),
    };
    let off: Vec<u64> = item
        .iter()
        .zip(&lm.reference_rules[r])
        .map(|(&m, &under)| m.saturating_sub(under))
        .collect();
    Some(effective_rows(&off, &lm.class_weights, &target.classes))
}

/// Sample rows per class `m` of a label-stratified sample whose rows of class h stand for
/// `w[h]` rows each, as a number of rows and of rows of `classes` that a test for an unweighted
/// sample can weigh: the classes' weighted share `p = W_T / R` of the rows `R = Σ w_h·m_h`, on
/// as many rows as give that share the precision it has, `p(1 − p) / Var(p)`, with the
/// delta-method variance of a ratio of stratified counts,
/// `Var(p) = (S_T·W_O² + S_O·W_T²) / R⁴` (`W` the weighted rows of the classes and of the
/// others, `S` the same with `w_h²`; LBL001's, each class's count taken as Poisson). Where
/// one side has no rows, one row of its heaviest class is the share's step: `R / w`. The size
/// is the smallest of that, Kish's effective size `R² / Σ w_h²·m_h` and the sample's own rows,
/// rounded down, with the classes' rows rounded up: the share elsewhere is not understated.
/// Kish's size alone is the one for a mean of a variable unrelated to the weights, and here
/// the weights are the label's strata: for a common label (heavy rows) on 2/7 of an item's rows
/// (the test below) it says 15 rows where the share has the precision of 8.9. Checked by
/// simulation: 10,000 sample rows of weight 4 and 5,000 of weight 1 holding an item on 0.2% and
/// 4% of them (about 20 and 200 rows, p = 0.28), 200,000 draws: the share's variance is that of
/// 89.1 unweighted rows, and the delta method says 89.1 (Kish's, 151). On a handful of rows
/// the delta method overstates the precision instead (20 rows of weight 1 and 5 of weight 10:
/// 19.6, simulated 14.6), and Kish's size (9.4) is the smaller. On a grid of 3-20 rows a class
/// and weights 1-10 (`scripts/effective_rows_sim.py`), the smaller of the two is at most 6%
/// above the simulated precision from 10 rows a class, 12% from 5, 20% at 3 (a slightly
/// smaller p-value; the share itself is the weighted one).
fn effective_rows(m: &[u64], w: &[f64], classes: &[usize]) -> (u64, u64) {
    let sample: u64 = m.iter().sum();
    let (mut w_t, mut w_o, mut s_t, mut s_o) = (0.0, 0.0, 0.0, 0.0);
    let (mut heaviest_t, mut heaviest_o) = (0.0f64, 0.0f64);
    for (h, (&m, &w)) in m.iter().zip(w).enumerate() {
        let m = m as f64;
        if classes.contains(&h) {
            (w_t, s_t, heaviest_t) = (w_t + w * m, s_t + w * w * m, heaviest_t.max(w));
        } else {
            (w_o, s_o, heaviest_o) = (w_o + w * m, s_o + w * w * m, heaviest_o.max(w));
        }
    }
    let rows = w_t + w_o;
    if rows <= 0.0 {
        return (0, 0);
    }
    let delta = if w_t <= 0.0 {
        rows / heaviest_t
    } else if w_o <= 0.0 {
        rows / heaviest_o
    } else {
        w_t * w_o * rows * rows / (s_t * w_o * w_o + s_o * w_t * w_t)
    };
    // A class without a weight (no baseline rows) makes the delta method's size infinite:
    // Kish's stands (finite, since some row has a weight).
    let size = delta.min(rows * rows / (s_t + s_o));
    // Slack against float error (the size is an integer when the weights are equal).
    let n = (size + 1e-9).floor().min(sample as f64);
    let k = (w_t / rows * n - 1e-9).ceil().clamp(0.0, n);
    (n as u64, k as u64)
}

/// An item's baseline rows join its other current rows in the test of a rule against them only
/// when the current rows' share of the label is neither above nor below the baseline's at this
/// p-value (each one-sided).
const POOL_MIN_P: f64 = 0.05;

/// Whether rule `r` holds an exact value past the baseline's range (its analogue replaces that
/// value by the baseline's own most extreme ones).
fn past_range_value(lm: &LabelModel, r: usize) -> bool {
    lm.analogues.get(r).is_some_and(|a| {
        lm.rules[r]
            .items
            .iter()
            .zip(&a.items)
            .any(|(&it, a)| lm.value_of(it).is_some() && matches!(a, AnalogueItem::Tail { .. }))
    })
}

/// A target's share of the baseline's rows and the upper 99% bound of that share.
fn label_baseline_share(lm: &LabelModel, target: &Target) -> (f64, f64) {
    let share = target.sum(&lm.reference_rows) / lm.reference_rows.iter().sum::<f64>();
    let upper = crate::stats::wilson_upper(share, lm.reference_sample.iter().sum::<u64>());
    (share, upper)
}

/// Whether rule `r` is new for label `target`, whose rows it holds a `share` of now: the
/// baseline sample's rows of the label under it are at most `1/NEW_RULE_FOLD` of those that share
/// predicts for the sample's rows of the label. None at all always are; one row is when the
/// current share predicts 10 or more. A zero-count test would let an attacker dodge the
/// upgrades of new rules by stamping a value that one natural baseline row of the label happens
/// to carry (25 rows against 1: California's `median_income` = 2.7264 in the detection bench).
fn new_for_label(lm: &LabelModel, r: usize, target: &Target, share: f64) -> bool {
    let (b, n_t) = baseline_rows_of(lm, &lm.reference_rules[r], target);
    b as f64 * NEW_RULE_FOLD <= share * n_t as f64
}

/// The share of label `target` among the baseline analogue's sample rows of rule `r`
/// (weighted by class), `None` without rows.
fn analogue_confidence(lm: &LabelModel, r: usize, target: &Target) -> Option<f64> {
    let weighted: Vec<f64> = lm.reference_analogues[r]
        .iter()
        .zip(&lm.class_weights)
        .map(|(&k, w)| k as f64 * w)
        .collect();
    let rows: f64 = weighted.iter().sum();
    (rows > 0.0).then(|| target.sum(&weighted) / rows)
}

/// Whether the baseline's analogue of rule `r` (`rows::labels::analogue`) gave label `target`
/// clearly less confidence than a trigger has, or showed no pattern at all: no sample rows, the
/// upper 99% bound of its confidence below `min_confidence`, or its lower 99% bound below the
/// confidence a rule needs to reach the lift (`min_lift` times the label's baseline share). A
/// pattern that held in the baseline as firmly is no new trigger, even on values the baseline
/// never had; one or two baseline rows that happen to carry the label show no pattern.
fn weak_in_baseline(lm: &LabelModel, r: usize, target: &Target, th: &RuleThresholds) -> bool {
    let rows: u64 = lm.reference_analogues[r].iter().sum();
    let Some(confidence) = analogue_confidence(lm, r, target) else {
        return true;
    };
    let prior = target.sum(&lm.reference_rows) / lm.reference_rows.iter().sum::<f64>();
    let lower = 1.0 - crate::stats::wilson_upper(1.0 - confidence, rows);
    crate::stats::wilson_upper(confidence, rows) < th.confidence
        || lower < (min_lift(prior, th.lift) * prior).min(th.confidence)
}

/// Where one item's rows per class are counted: the one-item rule on an exact value, or a
/// slice (feature, slot).
enum ItemCounts {
    Rule(usize),
    Slice(usize, usize),
}

/// The counts of one item (`None` for an exact value that is no candidate of its own).
fn item_counted(
    lm: &LabelModel,
    index: &std::collections::HashMap<&[Item], usize>,
    it: Item,
) -> Option<ItemCounts> {
    if lm.value_of(it).is_some() {
        index.get(&[it][..]).map(|&r| ItemCounts::Rule(r))
    } else {
        crate::rows::labels::slot_of(it.code).map(|s| ItemCounts::Slice(it.feature as usize, s))
    }
}

/// Current rows per class holding one item: a slice's counts, or those of the one-item rule on
/// an exact value (`None` when that value is no candidate of its own).
fn item_counts<'a>(
    lm: &LabelModel,
    counts: &'a LabelCounts,
    index: &std::collections::HashMap<&[Item], usize>,
    it: Item,
) -> Option<&'a [u64]> {
    Some(match item_counted(lm, index, it)? {
        ItemCounts::Rule(r) => counts.rule(r),
        ItemCounts::Slice(f, s) => counts.slice(f, s),
    })
}

/// The slice predicates and text of a rule; `None` when an item cannot be described.
fn rule_slice(
    ctx: &Context<'_>,
    rp: &RowPass,
    lm: &LabelModel,
    items: &[Item],
) -> Option<(Vec<Predicate>, Vec<String>, String)> {
    let mut preds = Vec::new();
    let mut columns = Vec::new();
    let mut texts = Vec::new();
    for &it in items {
        let desc = describe(lm, &rp.model, it)?;
        let (p, text, col) = slice_predicate(ctx, &desc);
        preds.push(p);
        if !columns.contains(&col) {
            columns.push(col);
        }
        texts.push(text);
    }
    Some((preds, columns, texts.join(" and ")))
}

fn examples(ctx: &Context<'_>, rows: &[(u32, u64)]) -> (Vec<RowRef>, Vec<String>) {
    let refs = super::row_refs(ctx.current, rows);
    let sources = refs
        .iter()
        .map(|r| r.source.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    (refs, sources)
}

/// The class most of a rule's current rows `cur` carry (the first on ties).
fn top_class(cur: &[u64]) -> usize {
    (0..cur.len())
        .max_by(|&a, &b| cur[a].cmp(&cur[b]).then(b.cmp(&a)))
        .expect("classes")
}

/// The label a rule's current rows `cur` imply, with its confidence and lift: the class most of
/// them carry (the first on ties) when it passes the thresholds, else the first of a numeric
/// target's tails that does (`Classes::targets`).
fn implied(
    targets: &[Target],
    cur: &[u64],
    all: &[u64],
    th: &RuleThresholds,
) -> Option<(usize, f64, f64)> {
    let support: u64 = cur.iter().sum();
    let n_all: u64 = all.iter().sum();
    if support == 0 || n_all == 0 {
        return None;
    }
    let passes = |t: &Target| {
        let confidence = t.count(cur) as f64 / support as f64;
        let prior = t.count(all) as f64 / n_all as f64;
        let lift = confidence / prior;
        (confidence >= th.confidence && lift >= min_lift(prior, th.lift))
            .then_some((confidence, lift))
    };
    std::iter::once(top_class(cur))
        .chain(cur.len()..targets.len())
        .find_map(|i| passes(&targets[i]).map(|(c, l)| (i, c, l)))
}

/// A rule judged by the rows it has beyond what the baseline accounts for: a trigger stamped on
/// values some natural rows already hold together (a clean-label trigger on common values) is
/// diluted by those rows, whose labels are their own. The baseline's rate of the rule (its
/// sample rows, weighted by class, over the baseline's rows) says how many of the current rows
/// under it, and of which labels, fresh data would have; the rest are the rule's new rows.
#[derive(Debug, Clone, Copy)]
struct Diluted {
    /// Current rows under the rule and rows of the label among them that the baseline's rate
    /// of the rule predicts.
    expected_rows: f64,
    expected_with_label: f64,
    /// The rule's rows beyond those, and the share of them that carry the label (the label's
    /// rows beyond those predicted over the new rows; above 1 when fewer rows without the label
    /// than predicted came, within the prediction's noise, and reported capped at 1).
    new_rows: f64,
    new_rows_confidence: f64,
}

/// The label the new rows of rule `r` imply (`Diluted`), when the rule's own confidence falls
/// short: at least `th.support` new rows even against the upper 99% bound of the rows the
/// baseline predicts (its sample rows are Poisson, each standing for its class weight), at
/// least `th.confidence` of them carrying the label (the rows of the label less those the
/// baseline predicts, over the new rows), the rows without the label not significantly fewer
/// than predicted (else the prediction, not the rule, is off), and the rule's lift as
/// `implied` asks it. Returns the target, the rule's own confidence and lift.
fn diluted(
    lm: &LabelModel,
    r: usize,
    targets: &[Target],
    cur: &[u64],
    all: &[u64],
    th: &RuleThresholds,
) -> Option<((usize, f64, f64), Diluted)> {
    let support: u64 = cur.iter().sum();
    let n_all: u64 = all.iter().sum();
    let base_total: f64 = lm.reference_rows.iter().sum();
    if support == 0 || n_all == 0 || base_total <= 0.0 {
        return None;
    }
    let weighted: Vec<f64> = lm.reference_rules[r]
        .iter()
        .zip(&lm.class_weights)
        .map(|(&k, w)| k as f64 * w)
        .collect();
    let scale = n_all as f64 / base_total;
    // Per class, the variance of the rows the baseline predicts (Poisson sample rows).
    let var: Vec<f64> = lm.reference_rules[r]
        .iter()
        .zip(&lm.class_weights)
        .map(|(&k, w)| k as f64 * (w * scale).powi(2))
        .collect();
    let z = crate::stats::Z99;
    let expected_rows = weighted.iter().sum::<f64>() * scale;
    let new_rows = support as f64 - expected_rows;
    if support as f64 - expected_rows - z * var.iter().sum::<f64>().sqrt() < th.support as f64 {
        return None;
    }
    std::iter::once(top_class(cur))
        .chain(cur.len()..targets.len())
        .find_map(|i| {
            let t = &targets[i];
            let hits = t.count(cur) as f64;
            let expected_with_label = t.sum(&weighted) * scale;
            let new_rows_confidence = (hits - expected_with_label) / new_rows;
            let others_expected = expected_rows - expected_with_label;
            let others_sd = (var.iter().sum::<f64>() - t.sum(&var)).max(0.0).sqrt();
            let others_consistent = support as f64 - hits >= others_expected - z * others_sd;
            let confidence = hits / support as f64;
            let prior = t.count(all) as f64 / n_all as f64;
            let lift = confidence / prior;
            (new_rows_confidence >= th.confidence
                && others_consistent
                && lift >= min_lift(prior, th.lift))
            .then_some((
                (i, confidence, lift),
                Diluted {
                    expected_rows,
                    expected_with_label,
                    new_rows,
                    new_rows_confidence,
                },
            ))
        })
}

/// A target's rows in the baseline sample's per-class counts `per_class`, and the sample's rows
/// of the target: for a tail of several classes, sampled at different rates, the weighted share
/// applied to the sample's rows.
fn baseline_rows_of(lm: &LabelModel, per_class: &[u64], target: &Target) -> (u64, u64) {
    let n = target.count(&lm.reference_sample);
    if let [c] = target.classes[..] {
        return (per_class[c], n);
    }
    let w = &lm.class_weights;
    let hits: f64 = target
        .classes
        .iter()
        .map(|&c| per_class[c] as f64 * w[c])
        .sum();
    let rows: f64 = target
        .classes
        .iter()
        .map(|&c| lm.reference_sample[c] as f64 * w[c])
        .sum();
    if rows <= 0.0 {
        return (0, n);
    }
    ((hits / rows * n as f64).round() as u64, n)
}

fn trigger_rules(
    ctx: &Context<'_>,
    rp: &RowPass,
    lm: &LabelModel,
    counts: &LabelCounts,
) -> Vec<Finding> {
    let n_all: u64 = counts.all.iter().sum();
    let th = RuleThresholds::of(ctx);
    let tiers = ctx.tiers("TRG001", &RULE_TIER_PARAMS);
    let new_rule_q = ctx.param("TRG001", &RULE_PARAMS[6]);
    let pure_rule_q = ctx.param("TRG001", &RULE_PARAMS[7]);
    if n_all == 0 {
        return Vec::new();
    }
    let targets = lm.classes.targets();
    let index: std::collections::HashMap<&[Item], usize> = lm
        .rules
        .iter()
        .enumerate()
        .map(|(r, rule)| (&rule.items[..], r))
        .collect();
    let search_size = (lm.itemsets_searched as usize * targets.len()).max(lm.rules.len()) as f64;
    let mut tests: Vec<RuleTest> = Vec::new();
    for r in 0..lm.rules.len() {
        let cur = counts.rule(r);
        let support: u64 = cur.iter().sum();
        // A rule under `min-confidence` may still be a trigger diluted by natural rows of its
        // values: judged by its new rows. A rule that holds a value past the baseline's range
        // is tested on its label purity instead, on any support from `min-support-past-range`:
        // the baseline has no rows of the value, and its rows of the label are no measure of
        // a rule on 10 rows of a label the baseline has 45 of (Fisher's test of 10 of 58
        // against 0 of 45 is p = 0.002, the purity's 0.035^10 = 3e-15).
        let holds_past_range = past_range_value(lm, r);
        let past_range = support >= th.past_range_support && holds_past_range;
        let in_range_pure = support >= MIN_IN_RANGE_PURE_SUPPORT
            && lm.rules[r].items.len() >= 2
            && lm.itemsets_searched > 0
            && !holds_past_range
            && in_range(lm.dim, &lm.rules[r].items);
        let (judged, diluted_by) = if support >= th.support && !past_range {
            match implied(&targets, cur, &counts.all, &th) {
                Some(j) => (Some(j), None),
                None => match diluted(lm, r, &targets, cur, &counts.all, &th) {
                    Some((j, d)) => (Some(j), Some(d)),
                    None => (None, None),
                },
            }
        } else {
            (None, None)
        };
        let (family, (target, confidence, lift)) = match judged {
            Some(j) => (Family::Ratio, j),
            None if past_range || in_range_pure => {
                let relaxed = RuleThresholds {
                    confidence: th.confidence.min(PAST_RANGE_MIN_CONFIDENCE),
                    ..th
                };
                match implied(&targets, cur, &counts.all, &relaxed) {
                    Some(j) if past_range => (Family::PastRange, j),
                    Some(j) => (Family::InRange, j),
                    None => continue,
                }
            }
            None => continue,
        };
        let tg = &targets[target];
        let k = tg.count(cur);
        // In range, a pure rule is a trigger only where the baseline's rows of the label did
        // not hold it: natural values predict labels (a neighbourhood's prices), and a rule the
        // baseline already had is the ratio path's to weigh.
        if family == Family::InRange
            && !new_for_label(lm, r, tg, k as f64 / tg.count(&counts.all).max(1) as f64)
        {
            continue;
        }
        // The rule's share of the target label's rows, now and in the baseline sample (a simple
        // random sample of the baseline's rows of that label).
        let rows_t = tg.count(&counts.all);
        let (b, n_t) = baseline_rows_of(lm, &lm.reference_rules[r], tg);
        let share = k as f64 / rows_t as f64;
        let baseline_bound = crate::stats::wilson_upper(b as f64 / n_t.max(1) as f64, n_t);
        if !weak_in_baseline(lm, r, tg, &th) {
            continue;
        }
        // A trigger sets the label beyond what each of its items says alone: the rule's
        // confidence is tested against each item's other rows too (Fisher, one-sided), current
        // and, for a rule judged by its purity or whose own test stands over the in-range
        // search, in the baseline (`baseline_elsewhere`).
        // The rule stands only if every test does (the largest p-value: an intersection-union
        // test). A drift that moves rows onto a value (hours 40 → 41) makes pockets like
        // "occupation X and hours 41" that only repeat X's usual label.
        let items = &lm.rules[r].items;
        // In range, the rule's rows are weighed as distinct records: its rows and rows of the
        // label scaled by the share of its sample rows that are distinct (copies of one record
        // carry its label by construction, and a random half of a set with duplicates holds
        // all copies of some).
        let (k_judged, support_judged) = match lm.rule_distinct.get(r).copied().flatten() {
            Some((distinct, rows)) if family == Family::InRange && distinct < rows => {
                let f = distinct as f64 / rows as f64;
                let n = ((support as f64 * f).ceil() as u64).max(1);
                (((k as f64 * f).floor() as u64).min(n), n)
            }
            _ => (k, support),
        };
        // Judged by purity: how likely fresh rows are to carry the label (the larger of its
        // baseline share's upper bound and the analogue's share of it).
        let purity_null = (family != Family::Ratio).then(|| {
            label_baseline_share(lm, tg)
                .1
                .max(analogue_confidence(lm, r, tg).unwrap_or(0.0))
        });
        let own = match purity_null {
            Some(p0) => crate::stats::binom_sf_ge(k_judged, support_judged, p0),
            None => crate::stats::fisher_greater(k, rows_t - k, b, n_t.saturating_sub(b)),
        };
        // The item's baseline rows are weighed for a rule judged by its purity, and for one
        // judged by its ratio whose own test stands even times the in-range itemsets counted
        // times the labels (`baseline_elsewhere`).
        let pool = family != Family::Ratio || own * search_size <= ctx.alpha();
        let elsewhere: Vec<Option<Elsewhere>> = if items.len() < 2 {
            Vec::new()
        } else {
            items
                .iter()
                .map(|&it| {
                    let all = item_counts(lm, counts, &index, it)?;
                    let rows = all.iter().sum::<u64>().saturating_sub(support);
                    let hits = tg.count(all).saturating_sub(k);
                    // Pooled only where the item's other rows carry the label as often now as in
                    // the baseline (neither one-sided Fisher test at p <= `POOL_MIN_P`): an item
                    // whose label share rose (flips on it, or drift) would have its old rows make
                    // a pocket of it look beyond it, and one whose share fell would have them
                    // hide a rule its current rows show to be beyond it.
                    let baseline = pool
                        .then(|| baseline_elsewhere(lm, &index, it, r, tg))
                        .flatten()
                        .filter(|&(b_rows, b_hits)| {
                            let (miss, b_miss) = (rows - hits, b_rows - b_hits);
                            crate::stats::fisher_greater(hits, miss, b_hits, b_miss) > POOL_MIN_P
                                && crate::stats::fisher_greater(miss, hits, b_miss, b_hits)
                                    > POOL_MIN_P
                        });
                    let (b_rows, b_hits) = baseline.unwrap_or((0, 0));
                    let (n, h) = (rows + b_rows, hits + b_hits);
                    (n > 0).then(|| Elsewhere {
                        rows,
                        hits,
                        baseline,
                        p: crate::stats::fisher_greater(
                            k_judged,
                            support_judged - k_judged,
                            h,
                            n - h,
                        ),
                    })
                })
                .collect()
        };
        let p = elsewhere.iter().flatten().fold(own, |p, e| p.max(e.p));
        tests.push(RuleTest {
            rule: r,
            target,
            support,
            confidence,
            lift,
            share,
            baseline_bound,
            p,
            own,
            elsewhere,
            purity_null,
            family,
            judged: (support_judged, k_judged),
            diluted: diluted_by,
        });
    }
    // Three families: rules judged by their ratio (Benjamini-Hochberg), rules on a value past
    // the range judged by their purity (Bonferroni over them), and rules in range judged by
    // their purity (Bonferroni over every in-range itemset the miner counted).
    let of =
        |f: Family| -> Vec<usize> { (0..tests.len()).filter(|&i| tests[i].family == f).collect() };
    let (many, past, within) = (
        of(Family::Ratio),
        of(Family::PastRange),
        of(Family::InRange),
    );
    let mut q = vec![1.0; tests.len()];
    for (&i, qi) in many.iter().zip(crate::stats::bh_adjust(
        &many.iter().map(|&i| tests[i].p).collect::<Vec<_>>(),
    )) {
        q[i] = qi;
    }
    // Every itemset could have been pure for any target.
    let searched = (lm.itemsets_searched as usize * targets.len()).max(within.len());
    for (members, size) in [(&past, past.len()), (&within, searched)] {
        for &i in members {
            q[i] = (tests[i].p * size as f64).min(1.0);
        }
    }
    let family = |t: &RuleTest| match t.family {
        Family::Ratio => many.len(),
        Family::PastRange => past.len(),
        Family::InRange => searched,
    };
    // A rule judged by its ratio: how improbable its label purity is for the label's baseline
    // share (its upper 99% bound; Bonferroni over those rules), and whether that makes it a
    // new rule's high (`pure-rule-q`).
    let ratio_purity_q = |t: &RuleTest| {
        let tg = &targets[t.target];
        let (_, base_upper) = label_baseline_share(lm, tg);
        (crate::stats::binom_sf_ge(tg.count(counts.rule(t.rule)), t.support, base_upper)
            * many.len() as f64)
            .min(1.0)
    };
    let pure_new = |t: &RuleTest| {
        t.purity_null.is_none()
            && new_for_label(lm, t.rule, &targets[t.target], t.share)
            && pure_rule_q > 0.0
            && ratio_purity_q(t) <= pure_rule_q
    };
    // A rule reported by its ratio needs a tier, unless it is new for its label and pure beyond
    // `pure-rule-q`: for a label with few baseline rows the share's upper bound that the tiers
    // divide by is wide (one row of 90 bounds it at 7.6%), and 17 of 18 rows of a label 3% of
    // the rows carry, on a pair no more than one baseline row of the label held, are a trigger
    // whatever share of the label they hold.
    let passing: Vec<(usize, f64)> = tests
        .iter()
        .zip(&q)
        .enumerate()
        .filter(|(_, (t, q))| {
            **q <= ctx.alpha()
                && (t.purity_null.is_some()
                    || tier(t.share / t.baseline_bound, tiers.0, tiers.1, tiers.2).is_some()
                    || pure_new(t))
        })
        .map(|(i, (_, &q))| (i, q))
        .collect();
    // Only the most general rules: drop one when a proper subset (a candidate, counted
    // exactly) already implies the same label as firmly, whether or not the subset itself is
    // reported (a pocket of a pattern that is nearly pure anyway is no trigger of its own).
    let general = |i: usize| {
        let t = &tests[i];
        let items = &lm.rules[t.rule].items;
        let k = items.len();
        let subsets: Vec<Vec<Item>> = (1..(1u32 << k) - 1)
            .map(|mask| {
                (0..k)
                    .filter(|b| mask & (1 << b) != 0)
                    .map(|b| items[b])
                    .collect()
            })
            .collect();
        !subsets.iter().any(|sub| {
            index.get(&sub[..]).is_some_and(|&r| {
                let cur = counts.rule(r);
                let n: u64 = cur.iter().sum();
                n > 0 && targets[t.target].count(cur) as f64 / n as f64 >= th.confidence
            })
        })
    };
    let w = &lm.class_weights;
    let mut findings: Vec<(usize, Finding)> = Vec::new();
    // Rules on the same rows (the same counts on both sides, the same columns) are one finding.
    let mut seen: BTreeSet<(Vec<u64>, Vec<u64>, Vec<usize>)> = BTreeSet::new();
    // A diluted rule inside a passing rule of the same label that holds it outright and holds
    // at least half of its new rows of the label (one value of a stamped pair, whose new rows
    // are the pair's) says nothing the larger rule does not.
    let inside_outright = |i: usize| {
        let (t, items) = (&tests[i], &lm.rules[tests[i].rule].items);
        let Some(d) = t.diluted else {
            return false;
        };
        let tg = &targets[t.target];
        let new_with_label = tg.count(counts.rule(t.rule)) as f64 - d.expected_with_label;
        passing.iter().any(|&(j, _)| {
            let o = &tests[j];
            let larger = &lm.rules[o.rule].items;
            j != i
                && o.diluted.is_none()
                && o.target == t.target
                && larger.len() > items.len()
                && items.iter().all(|it| larger.contains(it))
                && tg.count(counts.rule(o.rule)) as f64 >= 0.5 * new_with_label
        })
    };
    for &(i, q) in &passing {
        if !general(i) || inside_outright(i) {
            continue;
        }
        let t = &tests[i];
        let key = (
            counts.rule(t.rule).to_vec(),
            lm.reference_rules[t.rule].clone(),
            lm.rules[t.rule]
                .items
                .iter()
                .map(|it| lm.column_index(it.feature))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>(),
        );
        if !seen.insert(key) {
            continue;
        }
        let ratio = t.share / t.baseline_bound;
        let tg = &targets[t.target];
        let new_for_label = new_for_label(lm, t.rule, tg, t.share);
        let (base_share, base_upper) = label_baseline_share(lm, tg);
        let (severity, purity_q, strength) = if let Some(p0) = t.purity_null {
            // Its purity test is the rule's own test.
            let severity = if new_rule_q > 0.0 && q <= new_rule_q {
                Severity::High
            } else {
                Severity::Medium
            };
            (severity, q, 1.0 - p0 / t.confidence)
        } else {
            let purity_q = ratio_purity_q(t);
            let tiered = tier(ratio, tiers.0, tiers.1, tiers.2);
            // 0 turns either upgrade off, even where a p-value underflows to 0.
            let severity = if new_for_label && pure_rule_q > 0.0 && purity_q <= pure_rule_q {
                Severity::High
            } else {
                let Some(severity) = tiered else {
                    continue;
                };
                if new_for_label && new_rule_q > 0.0 && q <= new_rule_q {
                    match severity {
                        Severity::Low => Severity::Medium,
                        _ => Severity::High,
                    }
                } else {
                    severity
                }
            };
            // Its strength: how far the ratio is past 1, or, for a rule reported by its purity
            // below the lowest tier, how far its confidence is past the label's baseline share
            // (as the purity families' is), so that it does not rank last among the highs.
            let strength = if tiered.is_some() {
                1.0 - 1.0 / ratio.max(1.0)
            } else {
                1.0 - base_upper / t.confidence
            };
            (severity, purity_q, strength)
        };
        let items = &lm.rules[t.rule].items;
        let Some((slice, mut columns, text)) = rule_slice(ctx, rp, lm, items) else {
            continue;
        };
        columns.push(lm.label.clone());
        let label = &tg.name;
        let base = &lm.reference_rules[t.rule];
        let base_weighted: Vec<f64> = base.iter().zip(w).map(|(&k, w)| k as f64 * w).collect();
        let base_rows: f64 = base_weighted.iter().sum();
        let base_conf = (base_rows > 0.0).then(|| tg.sum(&base_weighted) / base_rows);
        let cur = counts.rule(t.rule);
        let hits = tg.count(cur);
        let (base_hits, base_n) = baseline_rows_of(lm, base, tg);
        let new_rows = t.diluted.map_or(String::new(), |d| {
            format!(
                "; of the {} rows beyond the baseline's rate of the rule, {}",
                crate::report::thousands(d.new_rows.round() as u64),
                pct(d.new_rows_confidence.min(1.0))
            )
        });
        let title = format!(
            "Trigger-like rule: {text} → label `{label}` on {} of {} rows ({}{new_rows}), against {} of the baseline's `{label}` rows",
            crate::report::thousands(hits),
            crate::report::thousands(t.support),
            pct(t.confidence),
            if base_hits == 0 {
                "none".to_string()
            } else {
                pct(base_hits as f64 / base_n.max(1) as f64)
            },
        );
        let mut f = Finding::new(
            "TRG001",
            "trigger-rule",
            severity,
            weighted_score(strength, q),
            title,
        );
        let (example_rows, sources) = examples(ctx, &counts.rule_examples[t.rule]);
        f.columns = columns;
        f.slice = slice;
        f.sources = sources;
        f.rows = t.support;
        f.baseline_rows = Some(base_rows.round() as u64);
        f.statistic = Some(NamedValue {
            name: "rows_with_label".into(),
            value: hits as f64,
        });
        f.p_value = Some(t.p);
        f.q_value = Some(q);
        f.effect = Some(NamedValue {
            name: "label_share_ratio".into(),
            value: crate::report::round(ratio),
        });
        f.example_rows = example_rows;
        f.evidence = evidence(vec![
            ("label", serde_json::json!(label)),
            ("confidence", json_num(t.confidence)),
            ("lift", json_num(t.lift)),
            ("support", serde_json::json!(t.support)),
            ("rows_per_label", per_label(lm, cur)),
            ("share_of_label_rows", json_num(t.share)),
            (
                "baseline_share_of_label_rows_upper",
                json_num(t.baseline_bound),
            ),
            ("baseline_sample_rows_per_label", per_label(lm, base)),
            (
                "baseline_confidence",
                base_conf.map_or(serde_json::Value::Null, json_num),
            ),
            ("items", serde_json::json!(items.len())),
            ("label_baseline_share", json_num(base_share)),
            ("label_baseline_share_upper", json_num(base_upper)),
            ("rules_tested", serde_json::json!(family(t))),
            ("rule_p_value", json_num(t.own)),
            ("rules_searched", serde_json::json!(search_size as u64)),
            ("purity_q", json_num(purity_q)),
            (
                "past_range_null_label_share",
                match (t.family, t.purity_null) {
                    (Family::PastRange, Some(p0)) => json_num(p0),
                    _ => serde_json::Value::Null,
                },
            ),
            (
                "purity_null_label_share",
                t.purity_null.map_or(serde_json::Value::Null, json_num),
            ),
            (
                "judged_rows",
                serde_json::json!({"rows": t.judged.0, "rows_with_label": t.judged.1}),
            ),
            (
                "judged_by",
                serde_json::json!(match t.family {
                    Family::Ratio => "ratio",
                    Family::PastRange => "purity past the range",
                    Family::InRange => "purity in range",
                }),
            ),
            (
                "diluted",
                t.diluted.map_or(serde_json::Value::Null, |d| {
                    serde_json::json!({
                        "expected_rows": json_num(d.expected_rows),
                        "expected_rows_with_label": json_num(d.expected_with_label),
                        "new_rows": json_num(d.new_rows),
                        "new_rows_confidence": json_num(d.new_rows_confidence.min(1.0)),
                    })
                }),
            ),
            (
                "baseline_analogue_sample_rows_per_label",
                per_label(lm, &lm.reference_analogues[t.rule]),
            ),
            (
                "items_elsewhere",
                serde_json::Value::Array(
                    t.elsewhere
                        .iter()
                        .map(|e| match e {
                            Some(e) => {
                                let share = |k: u64, n: u64| {
                                    if n == 0 {
                                        serde_json::Value::Null
                                    } else {
                                        json_num(k as f64 / n as f64)
                                    }
                                };
                                let (b_rows, b_share) = match e.baseline {
                                    Some((n, k)) => (serde_json::Value::from(n), share(k, n)),
                                    None => (serde_json::Value::Null, serde_json::Value::Null),
                                };
                                serde_json::json!({
                                    "rows": e.rows,
                                    "label_share": share(e.hits, e.rows),
                                    "baseline_rows": b_rows,
                                    "baseline_label_share": b_share,
                                    "p_value": json_num(e.p),
                                })
                            }
                            None => serde_json::Value::Null,
                        })
                        .collect(),
                ),
            ),
        ]);
        findings.push((t.rule, f));
    }
    rank(findings)
}

/// Strongest first, at most `MAX_FINDINGS`.
fn rank(findings: Vec<(usize, Finding)>) -> Vec<Finding> {
    super::strongest(findings, MAX_FINDINGS, |_| Some(0))
}

pub struct ValueSpike;

impl Detector for ValueSpike {
    fn code(&self) -> &'static str {
        "TRG002"
    }

    fn check(&self) -> &'static str {
        "value-spike"
    }

    fn doc(&self) -> &'static str {
        "What it finds: one exact numeric value whose share of the rows jumped against the \
baseline, with the labels of its rows.\n\n\
Why it matters: constant triggers (a feature set to one value on the poisoned rows) look like \
this; so does a default value a broken pipeline fills in.\n\n\
Example: the value 0.15 of `debt_ratio` on 0.8% of the rows (637), against at most 0.023% in \
the baseline: medium.\n\n\
Defaults: candidates are the values the current profile's frequent items show grown against the \
baseline's (at least 0.1% of the rows and 10 rows), and TRG001's other exact-value items (those \
beside a grown one, those grown within one label's rows); each is then counted exactly in the \
row pass. The baseline's share: exact for low-cardinality columns, else estimated from its \
label-stratified sample; its upper 99% bound is the rate tested against (one-sided binomial \
test, Benjamini-Hochberg, q <= 0.01). Severity by the ratio of the share now to that bound: 3 \
(low), 10 (medium), 30 (high), one level higher when the value's rows carry one label (TRG001's \
thresholds: confidence >= 0.95, lift >= 2, a numeric target's tail counting as a label, and no \
such pattern in the baseline). The rows per label are in the evidence. Needs a baseline and the row pass."
    }

    fn params(&self) -> &'static [Param] {
        &SPIKE_PARAMS
    }

    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding> {
        match (labelled(ctx), ctx.baseline) {
            (Some((_, lm, counts)), Some(base)) => value_spikes(ctx, base, lm, counts),
            _ => Vec::new(),
        }
    }
}

fn value_spikes(
    ctx: &Context<'_>,
    base: &crate::profile::Profile,
    lm: &LabelModel,
    counts: &LabelCounts,
) -> Vec<Finding> {
    let n_all: u64 = counts.all.iter().sum();
    if n_all == 0 {
        return Vec::new();
    }
    let w = &lm.class_weights;
    let th = RuleThresholds::of(ctx);
    let min_share = ctx.param("TRG002", &SPIKE_PARAMS[0]);
    let min_rows = ctx.param("TRG002", &SPIKE_PARAMS[1]).ceil() as u64;
    let tiers = ctx.tiers("TRG002", &SPIKE_TIERS);
    let targets = lm.classes.targets();
    let base_total: f64 = lm.reference_rows.iter().sum();
    struct Spike {
        rule: usize,
        column: String,
        value: f64,
        k: u64,
        bound: f64,
        baseline_share: f64,
        p: f64,
    }
    let mut spikes: Vec<Spike> = Vec::new();
    for (r, rule) in lm.rules.iter().enumerate() {
        let [item] = rule.items[..] else { continue };
        let Some((column, value)) = lm.value_of(item) else {
            continue;
        };
        let k: u64 = counts.rule(r).iter().sum();
        let share = k as f64 / n_all as f64;
        if k < min_rows || share < min_share {
            continue;
        }
        // The baseline's share and its upper 99% bound: exact counts when the profile kept
        // them, else the stratified sample's estimate plus 2.326 standard errors.
        let exact = base.column(column).and_then(|c| {
            let counts = c.value_counts()?;
            let text = crate::profile::column::numeric_text(value);
            Some((counts.get(text.as_str()).copied().unwrap_or(0), c.rows))
        });
        let (baseline_share, bound) = match exact {
            Some((b, rows)) if rows > 0 => {
                let s = b as f64 / rows as f64;
                (s, crate::stats::wilson_upper(s, rows))
            }
            _ => {
                let m = &lm.reference_rules[r];
                let est: f64 =
                    m.iter().zip(w).map(|(&k, w)| k as f64 * w).sum::<f64>() / base_total.max(1.0);
                let var: f64 = m
                    .iter()
                    .zip(w)
                    .zip(&lm.reference_sample)
                    .map(|((&k, w), &nh)| {
                        let pi = (k as f64 + 0.5) / (nh as f64 + 1.0);
                        w * w * nh as f64 * pi * (1.0 - pi)
                    })
                    .sum::<f64>()
                    / (base_total * base_total).max(1.0);
                (est, (est + 2.326_347_874_040_841 * var.sqrt()).min(1.0))
            }
        };
        spikes.push(Spike {
            rule: r,
            column: column.to_string(),
            value,
            k,
            bound,
            baseline_share,
            p: crate::stats::binom_sf_ge(k, n_all, bound),
        });
    }
    let q = crate::stats::bh_adjust(&spikes.iter().map(|s| s.p).collect::<Vec<_>>());
    let mut findings = Vec::new();
    for (s, &q) in spikes.iter().zip(&q) {
        if q > ctx.alpha() {
            continue;
        }
        let share = s.k as f64 / n_all as f64;
        let ratio = share / s.bound.max(f64::MIN_POSITIVE);
        let Some(mut severity) = tier(ratio, tiers.0, tiers.1, tiers.2) else {
            continue;
        };
        let cur = counts.rule(s.rule);
        let label = implied(&targets, cur, &counts.all, &th);
        let (target, confidence, lift) = label.unwrap_or_else(|| {
            let top = top_class(cur);
            let confidence = cur[top] as f64 / s.k as f64;
            (
                top,
                confidence,
                confidence / (counts.all[top] as f64 / n_all as f64),
            )
        });
        let one_label = label.is_some() && weak_in_baseline(lm, s.rule, &targets[target], &th);
        if one_label {
            severity = match severity {
                Severity::Low => Severity::Medium,
                _ => Severity::High,
            };
        } else if lm.analogues[s.rule].is_substituted() {
            // A value past the baseline's range that carries no new label pattern is SCH004's
            // (out of range), not a trigger.
            continue;
        } else {
            // Without a label pattern a spike is a data-quality warning at most.
            severity = severity.min(Severity::Medium);
        }
        let value_text = crate::profile::column::numeric_text(s.value);
        let label_text = if one_label {
            format!("; {} labelled `{}`", pct(confidence), targets[target].name)
        } else {
            String::new()
        };
        let title = format!(
            "Value {value_text} of `{}` on {} of the rows ({}), against at most {} in the baseline{label_text}",
            s.column,
            pct(share),
            crate::report::thousands(s.k),
            pct(s.bound),
        );
        let mut f = Finding::new(
            "TRG002",
            "value-spike",
            severity,
            weighted_score(1.0 - 1.0 / ratio.max(1.0), q),
            title,
        );
        let (example_rows, sources) = examples(ctx, &counts.rule_examples[s.rule]);
        f.columns = vec![s.column.clone()];
        f.slice = vec![Predicate::eq(&s.column, json_num(s.value))];
        f.sources = sources;
        f.rows = s.k;
        f.baseline_rows = Some((s.baseline_share * base_total).round() as u64);
        f.statistic = Some(NamedValue {
            name: "rows".into(),
            value: s.k as f64,
        });
        f.p_value = Some(s.p);
        f.q_value = Some(q);
        f.effect = Some(NamedValue {
            name: "share_ratio".into(),
            value: crate::report::round(ratio),
        });
        f.example_rows = example_rows;
        f.evidence = evidence(vec![
            ("value", json_num(s.value)),
            ("share", json_num(share)),
            ("baseline_share", json_num(s.baseline_share)),
            ("baseline_share_upper", json_num(s.bound)),
            ("rows_per_label", per_label(lm, cur)),
            ("label_confidence", json_num(confidence)),
            ("label_lift", json_num(lift)),
        ]);
        findings.push((s.rule, f));
    }
    rank(findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Equal weights: the sample's own counts. Unequal, by hand. Class 0 on 2 sample rows of
    /// weight 4 and class 1 on 20 of weight 1 stand for 28 rows, 8 of class 0 (p = 2/7):
    /// Var(p) = (32·20² + 20·8²) / 28⁴ = 14,080 / 614,656, and p(1 − p) / Var(p) = 8.92, so 8
    /// rows (Kish's size, 784 / 52 = 15.1, would have said 15), of which 8·2/7 = 2.29 rounded up,
    /// 3, are of class 0. The same rows with class 1 the target: the same 8, 6 of them of it.
    /// Class 0 on 10 rows of weight 4 and class 1 on 5 of weight 1: 33.75 by the delta method,
    /// Kish's 2025 / 165 = 12.3, so 12; 12/9 rounded up, 2, of class 1. Class 1 on 20 rows of
    /// weight 1 and class 0 on 5 of weight 10: the delta method's 19.6 above Kish's
    /// 4900 / 520 = 9.4, so 9, of which 9·2/7 rounded up, 3, of class 1. A side without rows:
    /// one row of its heaviest class is the step (45 / 4 = 11.25, 11 rows), or Kish's size when
    /// smaller (15 rows of weight 3 beside none of the target, of weight 1: 45 by the step,
    /// Kish's 15); a class without a weight leaves Kish's size. No rows: none.
    #[test]
    fn effective_rows_of_a_stratified_sample() {
        assert_eq!(effective_rows(&[7, 3], &[1.0, 1.0], &[1]), (10, 3));
        assert_eq!(effective_rows(&[7, 3], &[2.5, 2.5], &[0]), (10, 7));
        assert_eq!(effective_rows(&[2, 20], &[4.0, 1.0], &[0]), (8, 3));
        assert_eq!(effective_rows(&[2, 20], &[4.0, 1.0], &[1]), (8, 6));
        assert_eq!(effective_rows(&[10, 5], &[4.0, 1.0], &[1]), (12, 2));
        assert_eq!(effective_rows(&[10, 5], &[4.0, 1.0], &[0, 1]), (12, 12));
        assert_eq!(effective_rows(&[5, 20], &[10.0, 1.0], &[1]), (9, 3));
        assert_eq!(effective_rows(&[4, 6], &[0.0, 2.0], &[0]), (6, 0));
        assert_eq!(effective_rows(&[0, 45], &[4.0, 1.0], &[0]), (11, 0));
        assert_eq!(effective_rows(&[45, 0], &[1.0, 4.0], &[0]), (11, 11));
        assert_eq!(effective_rows(&[15, 0], &[3.0, 1.0], &[1]), (15, 0));
        assert_eq!(effective_rows(&[0, 0], &[4.0, 1.0], &[1]), (0, 0));
    }
}
