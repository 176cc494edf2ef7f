//! DRF005: a creeping change: a statistic that poisoning moves crept, night after night, over
//! the history of accepted profiles (`scan --history`), by the self-starting CUSUM of
//! `history::cusum`. Each night alone may stay below every threshold against the night before;
//! the sum of the small steps does not.

use serde_json::json;

use crate::detect::{Context, Detector, Finding, NamedValue, Param, evidence, json_num, pct};
use crate::detect::{slice_predicate, tier, tier_params};
use crate::history::{self, History, Key, Obs, Point, cusum};
use crate::report::round;

/// Cohen's h of the total move at each severity. Half LBL001's tiers: a move that kept going
/// for nights, past a sequential test, is stronger evidence than one night's.
const H_TIERS: [Param; 3] = tier_params(
    0.1,
    0.2,
    0.35,
    3.2,
    "Cohen's h of a creeping change's total move (its value tonight against its level before the change) at this severity",
);
/// False alarms a year of nightly runs, over every series tested.
pub const RATE: f64 = 0.1;
/// The CUSUM's reference value, in standard deviations of a night's innovation: half of a
/// one-standard-deviation step (the customary choice for the smallest move worth catching).
pub const K: f64 = 0.5;
const PARAMS: [Param; 5] = [
    H_TIERS[0],
    H_TIERS[1],
    H_TIERS[2],
    Param {
        name: "false-alarms-per-year",
        default: RATE,
        min: 1e-6,
        max: 365.0,
        doc: "false alarms a year of nightly runs over all the series tested (sets the CUSUM's threshold)",
    },
    Param {
        name: "k",
        default: K,
        min: 0.05,
        max: 5.0,
        doc: "the CUSUM's reference value, in standard deviations of a night's innovation",
    },
];
/// Rows moved (|value − level before|·rows) at least this for a finding, as LBL001 needs.
const MIN_MOVED_ROWS: f64 = 10.0;
/// Findings kept, strongest first.
const MAX_FINDINGS: usize = 10;

pub struct CreepingChange;

impl Detector for CreepingChange {
    fn code(&self) -> &'static str {
        "DRF005"
    }
    fn check(&self) -> &'static str {
        "creeping-change"
    }
    fn doc(&self) -> &'static str {
        "What it finds: a statistic that poisoning moves crept, night after night, over the \
history of accepted profiles (`scan --history`): the share of a label within a slice, of the \
label over the whole data, of the rows in a slice of a column, the duplicate rate or the \
outlier rate.

Why it matters: an attacker who poisons a little each night stays below every threshold \
against yesterday's accepted data, and the baseline drifts along with the attack. The sum of \
the small steps is what gives it away.

Example: share of label `1` where `education` = `Masters` crept from 55% to 64% over 9 nights \
(started 2026-11-03), CUSUM 14.2 past its threshold 12.4: medium.

Defaults: each series is the anchor (the scan's baseline), every accepted night (oldest \
first) and tonight, each measured on its profile's label-stratified sample with its variance. \
A self-starting CUSUM (Hawkins 1987): each night against the precision-weighted mean of every \
earlier one, standardised by both variances (multiplied by the dispersion between nights beyond \
sampling of all the series of the kind together, at least 1), so that a still series gives \
independent standard normal innovations; \
reference k = 0.5, and the threshold set by Siegmund's approximation of the run length so \
that all the series together raise at most 0.1 false alarm a year of nightly runs. A slice's \
label share is taken net of the label's typical move that night (the weighted median of the \
slices' odds ratios against the anchor). A finding needs tonight's \
CUSUM past the threshold, at least 10 rows moved, and Cohen's h of the total move (tonight \
against the level before the change began) >= 0.1 (low), 0.2 (medium), 0.35 (high). The \
evidence has the series, the night the change began, the total move and tonight's step from \
the last accepted night."
    }
    fn params(&self) -> &'static [Param] {
        &PARAMS
    }

    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding> {
        ctx.history
            .map_or_else(Vec::new, |h| creeping(self, ctx, h))
    }
}

/// A series that alarms tonight, and what is reported of it.
struct Alarm<'a> {
    key: Key,
    points: &'a [Option<Point>],
    run: cusum::Run,
    /// Index of each observation in `points`.
    at: Vec<usize>,
    h: f64,
    /// The dispersion of its kind of series (the variances were multiplied by it).
    dispersion: f64,
}

fn creeping(d: &CreepingChange, ctx: &Context<'_>, hist: &History) -> Vec<Finding> {
    let tiers = ctx.tiers(d.code(), &H_TIERS);
    let rate = ctx.param(d.code(), &PARAMS[3]);
    let k = ctx.param(d.code(), &PARAMS[4]);
    let tonight = hist.names.len() - 1;
    // The series tested: tonight measured and at least one earlier night.
    let tested: Vec<(&Key, &Vec<Option<Point>>)> = hist
        .series
        .iter()
        .filter(|(_, p)| p[tonight].is_some() && p[..tonight].iter().flatten().count() >= 1)
        .collect();
    let threshold = cusum::threshold(k, tested.len(), rate);
    // Each series' measured nights, and the dispersion of each kind of series together.
    let measured: Vec<(Vec<usize>, Vec<Obs>)> = tested
        .iter()
        .map(|(_, points)| {
            let at: Vec<usize> = (0..points.len()).filter(|&t| points[t].is_some()).collect();
            let obs = at
                .iter()
                .filter_map(|&t| points[t])
                .map(|p| Obs {
                    value: p.value,
                    var: p.var,
                })
                .collect();
            (at, obs)
        })
        .collect();
    let mut phi: std::collections::BTreeMap<&str, f64> = Default::default();
    for (key, _) in &tested {
        let kind = key.statistic();
        if !phi.contains_key(kind) {
            let of_kind = tested
                .iter()
                .zip(&measured)
                .filter(|((k, _), _)| k.statistic() == kind)
                .map(|(_, (_, obs))| obs.as_slice());
            phi.insert(kind, cusum::dispersion(of_kind));
        }
    }
    let mut alarms: Vec<Alarm<'_>> = Vec::new();
    for ((key, points), (at, obs)) in tested.iter().zip(measured) {
        let dispersion = phi[key.statistic()];
        let obs: Vec<Obs> = obs
            .into_iter()
            .map(|o| Obs {
                value: o.value,
                var: o.var * dispersion,
            })
            .collect();
        let run = cusum::run(&obs, k);
        let s = *run.cusum.last().unwrap_or(&0.0);
        if s.abs() <= threshold {
            continue;
        }
        let now = points[tonight].expect("tested");
        let h = crate::stats::cohens_h(now.value, run.level_before.clamp(0.0, 1.0));
        if h.signum() != f64::from(run.side)
            || (now.value - run.level_before).abs() * now.rows < MIN_MOVED_ROWS
            || tier(h, tiers.0, tiers.1, tiers.2).is_none()
        {
            continue;
        }
        alarms.push(Alarm {
            key: **key,
            points,
            run,
            at,
            h,
            dispersion,
        });
    }
    let mut findings: Vec<(Key, Finding)> = alarms
        .iter()
        .filter_map(|a| {
            finding(d, ctx, hist, a, threshold, tested.len(), rate, k, tiers).map(|f| (a.key, f))
        })
        .collect();
    findings.sort_by(|a, b| {
        b.1.severity
            .cmp(&a.1.severity)
            .then(b.1.score.total_cmp(&a.1.score))
            .then(a.0.cmp(&b.0))
    });
    findings.truncate(MAX_FINDINGS);
    findings.into_iter().map(|(_, f)| f).collect()
}

#[allow(clippy::too_many_arguments)]
fn finding(
    d: &CreepingChange,
    ctx: &Context<'_>,
    hist: &History,
    a: &Alarm<'_>,
    threshold: f64,
    series: usize,
    rate: f64,
    k: f64,
    tiers: (f64, f64, f64),
) -> Option<Finding> {
    let severity = tier(a.h, tiers.0, tiers.1, tiers.2)?;
    let tonight = hist.names.len() - 1;
    let now = a.points[tonight]?;
    let start = a.at.get(a.run.start).copied().unwrap_or(tonight);
    let started = &hist.names[start];
    let nights = tonight + 1 - start;
    let level = a.run.level_before;
    let s = a.run.cusum.last().copied().unwrap_or(0.0);
    let verb = if a.run.side > 0 { "rose" } else { "fell" };
    let (what, place, slice, columns) = match a.key {
        Key::Label { class } => (
            format!("Share of label `{}`", history::class_name(hist, class)),
            "over the whole data".to_string(),
            Vec::new(),
            ctx.current.label.iter().cloned().collect(),
        ),
        Key::SliceLabel {
            feature,
            slot,
            class,
        } => {
            let desc = hist.slices.get(&(feature, slot))?;
            let (pred, text, column) = slice_predicate(ctx, desc);
            let mut columns = vec![column];
            columns.extend(ctx.current.label.iter().cloned());
            (
                format!("Share of label `{}`", history::class_name(hist, class)),
                format!("where {text}"),
                vec![pred],
                columns,
            )
        }
        Key::SliceRows { feature, slot } => {
            let desc = hist.slices.get(&(feature, slot))?;
            let (pred, text, column) = slice_predicate(ctx, desc);
            (
                format!("Share of rows where {text}"),
                String::new(),
                vec![pred],
                vec![column],
            )
        }
        Key::Duplicates => (
            "Duplicate rate".to_string(),
            String::new(),
            Vec::new(),
            Vec::new(),
        ),
        Key::Outliers => (
            "Outlier rate".to_string(),
            String::new(),
            Vec::new(),
            Vec::new(),
        ),
    };
    let place = if place.is_empty() {
        String::new()
    } else {
        format!(" {place}")
    };
    let title = format!(
        "{what}{place} crept: it {verb} from {} to {} over {nights} night{} (since {started})",
        pct(level),
        pct(now.value),
        if nights == 1 { "" } else { "s" },
    );
    let strength =
        (a.h.abs() / 0.5).min(1.0) * (0.5 + 0.5 * (s.abs() / (2.0 * threshold)).min(1.0));
    let mut f = Finding::new(d.code(), d.check(), severity, round(strength), title);
    f.columns = columns;
    f.slice = slice;
    f.rows = now.rows.round() as u64;
    f.baseline_rows = a.points[0].map(|p| p.rows.round() as u64);
    f.statistic = Some(NamedValue {
        name: "cusum".into(),
        value: round(s),
    });
    f.effect = Some(NamedValue {
        name: "cohens_h".into(),
        value: round(a.h),
    });
    let last = (0..tonight).rev().find(|&t| a.points[t].is_some());
    let series_json: Vec<serde_json::Value> = a
        .points
        .iter()
        .enumerate()
        .filter_map(|(t, p)| {
            let p = (*p)?;
            let i = a.at.iter().position(|&x| x == t)?;
            Some(json!({
                "profile": hist.names[t],
                "value": json_num(p.value),
                "std": json_num(p.var.sqrt()),
                "cusum": json_num(a.run.cusum[i]),
            }))
        })
        .collect();
    let mut ev = vec![
        ("statistic", json!(a.key.statistic())),
        ("value", json_num(now.value)),
        ("level_before", json_num(level)),
        ("total_move", json_num(now.value - level)),
        ("started", json!(started)),
        ("nights_moving", json!(nights)),
        ("cusum", json_num(s)),
        ("threshold", json_num(threshold)),
        ("k", json_num(k)),
        ("false_alarms_per_year", json_num(rate)),
        ("series_tested", json!(series)),
        ("dispersion", json_num(a.dispersion)),
    ];
    if let Some(t) = last {
        let before = a.points[t]?;
        ev.push(("last_accepted", json!(hist.names[t])));
        ev.push((
            "step_since_last_accepted",
            json_num(now.value - before.value),
        ));
    }
    if let Some(anchor) = a.points[0] {
        ev.push(("anchor_value", json_num(anchor.value)));
    }
    if let Key::Label { class } | Key::SliceLabel { class, .. } = a.key {
        ev.push(("label", json!(history::class_name(hist, class))));
    }
    ev.push(("series", serde_json::Value::Array(series_json)));
    f.evidence = evidence(ev);
    Some(f)
}
