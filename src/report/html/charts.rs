//! The SVG charts of the HTML report: the baseline-against-current bar chart of a drift finding's
//! distribution (read back from its evidence) and the histograms of the row scores.

use std::fmt::Write as _;

use serde_json::Value;

use super::inline::{number, share};
use crate::report::model::Finding;
use crate::report::text::thousands;
use crate::report::{Report, esc};

/// Colours: the baseline and the current data in every chart, and the severities.
const BASELINE: &str = "#7f8fa6";
const CURRENT: &str = "#e8590c";

/// A distribution on both sides: one label, baseline share and current share per bar.
pub(super) struct Distribution {
    labels: Vec<String>,
    baseline: Vec<f64>,
    current: Vec<f64>,
    pub(super) note: &'static str,
}

/// The distribution a drift finding's evidence carries: DRF001's bins, DRF002's largest changes
/// (with the other values as one bar), DRF003's label counts.
fn distribution(f: &Finding) -> Option<Distribution> {
    let ev = &f.evidence;
    let nums = |v: &Value| -> Option<Vec<f64>> {
        v.as_array()?
            .iter()
            .map(|x| Some(x.as_f64().unwrap_or(0.0)))
            .collect()
    };
    match f.code.as_str() {
        "DRF001" => {
            let bins = ev.get("bins")?;
            let labels: Vec<String> = bins
                .get("labels")?
                .as_array()?
                .iter()
                .map(|l| l.as_str().unwrap_or("").to_string())
                .collect();
            let baseline = nums(bins.get("baseline")?)?;
            let current = nums(bins.get("current")?)?;
            (labels.len() == baseline.len() && labels.len() == current.len()).then_some(
                Distribution {
                    labels,
                    baseline,
                    current,
                    note: "Share of rows per bin; the bins are the baseline's deciles, with its \
                           tails, the values past its range and the missing values.",
                },
            )
        }
        "DRF002" => {
            let changes = ev.get("largest_changes")?.as_array()?;
            let mut d = Distribution {
                labels: Vec::new(),
                baseline: Vec::new(),
                current: Vec::new(),
                note: "Share of rows per value: the values whose share changed most, and all \
                       the others as one bar.",
            };
            for c in changes {
                d.labels.push(match c.get("value")? {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                });
                d.baseline.push(c.get("baseline")?.as_f64().unwrap_or(0.0));
                d.current.push(c.get("current")?.as_f64().unwrap_or(0.0));
            }
            let (b, c): (f64, f64) = (d.baseline.iter().sum(), d.current.iter().sum());
            if 1.0 - b > 1e-4 || 1.0 - c > 1e-4 {
                d.labels.push("(all other values)".into());
                d.baseline.push((1.0 - b).max(0.0));
                d.current.push((1.0 - c).max(0.0));
            }
            Some(d)
        }
        "DRF003" => {
            let counts = |k: &str| -> Option<Vec<(String, f64)>> {
                Some(
                    ev.get(k)?
                        .as_object()?
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_f64().unwrap_or(0.0)))
                        .collect(),
                )
            };
            let (b, c) = (counts("baseline_counts")?, counts("current_counts")?);
            let mut labels: Vec<String> = b.iter().chain(&c).map(|(k, _)| k.clone()).collect();
            labels.sort();
            labels.dedup();
            let shares = |side: &[(String, f64)]| {
                let total: f64 = side.iter().map(|(_, v)| v).sum();
                labels
                    .iter()
                    .map(|l| {
                        let v = side.iter().find(|(k, _)| k == l).map_or(0.0, |(_, v)| *v);
                        if total > 0.0 { v / total } else { 0.0 }
                    })
                    .collect::<Vec<f64>>()
            };
            Some(Distribution {
                baseline: shares(&b),
                current: shares(&c),
                labels,
                note: "Share of labelled rows per label.",
            })
        }
        _ => None,
    }
}

/// The drift findings that carry a distribution, with their index in the report.
pub(super) fn drift_findings(r: &Report) -> Vec<(usize, Distribution)> {
    r.findings
        .iter()
        .enumerate()
        .filter_map(|(i, f)| distribution(f).map(|d| (i, d)))
        .collect()
}

/// A horizontal grouped bar chart: per label, the baseline's share above the current share.
pub(super) fn pair_chart(d: &Distribution, name: &str) -> String {
    const W: f64 = 560.0;
    const LABEL_W: f64 = 170.0;
    const VALUE_W: f64 = 56.0;
    const ROW: f64 = 26.0;
    const TOP: f64 = 6.0;
    let bar_w = W - LABEL_W - VALUE_W - 8.0;
    let max = d
        .baseline
        .iter()
        .chain(&d.current)
        .copied()
        .filter(|x| x.is_finite())
        .fold(0.0, f64::max);
    let scale = if max > 0.0 { bar_w / max } else { 0.0 };
    let height = TOP + ROW * d.labels.len() as f64 + 4.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"pair\" role=\"img\" aria-label=\"{} baseline and current shares\" \
         width=\"{W}\" height=\"{height}\" viewBox=\"0 0 {W} {height}\">",
        esc(name)
    );
    let x0 = LABEL_W + 4.0;
    let _ = write!(
        s,
        "<line class=\"axis\" x1=\"{x0}\" y1=\"{TOP}\" x2=\"{x0}\" y2=\"{}\" />",
        height - 4.0
    );
    for (i, label) in d.labels.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        let shown: String = if label.chars().count() > 26 {
            format!("{}…", label.chars().take(25).collect::<String>())
        } else {
            label.clone()
        };
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\"><title>{}</title>{}</text>",
            LABEL_W - 2.0,
            y + 16.0,
            esc(label),
            esc(&shown)
        );
        for (k, (side, value, colour)) in [
            ("baseline", d.baseline[i], BASELINE),
            ("current", d.current[i], CURRENT),
        ]
        .into_iter()
        .enumerate()
        {
            let by = y + 3.0 + 10.0 * k as f64;
            let w = if value.is_finite() {
                value * scale
            } else {
                0.0
            };
            let _ = write!(
                s,
                "<rect class=\"bar {side}\" data-share=\"{}\" x=\"{x0}\" y=\"{by}\" width=\"{:.2}\" \
                 height=\"9\" fill=\"{colour}\"><title>{}: {side} {}</title></rect>\
                 <text x=\"{:.2}\" y=\"{}\" font-size=\"10\">{}</text>",
                value,
                w,
                esc(label),
                share(value),
                x0 + w + 3.0,
                by + 8.0,
                share(value)
            );
        }
    }
    s.push_str("</svg>");
    s
}

pub(super) fn legend() -> String {
    format!(
        "<div class=\"legend muted\"><i style=\"background:{BASELINE}\"></i>baseline\
         <i style=\"background:{CURRENT}\"></i>current</div>"
    )
}

/// One profile of a series (DRF005's evidence, or `poisonscan trend`): its name, the value and
/// the CUSUM after it (signed: the larger side).
pub struct SeriesPoint {
    pub name: String,
    pub value: f64,
    pub cusum: f64,
}

/// The points of a DRF005 finding's evidence series.
pub(super) fn series_of(f: &Finding) -> Option<Vec<SeriesPoint>> {
    f.evidence
        .get("series")?
        .as_array()?
        .iter()
        .map(|p| {
            Some(SeriesPoint {
                name: p.get("profile")?.as_str()?.to_string(),
                value: p.get("value")?.as_f64()?,
                cusum: p.get("cusum")?.as_f64()?,
            })
        })
        .collect()
}

/// A series over the profiles: its value per profile (a share, drawn in percent, the first
/// profile's value dashed across), and below it the CUSUM's magnitude against its threshold.
/// Every point carries its numbers (`data-value`, `data-cusum`) for the tests to read back.
pub fn series_chart(name: &str, points: &[SeriesPoint], threshold: f64) -> String {
    const W: f64 = 560.0;
    const L: f64 = 58.0;
    const R: f64 = 12.0;
    const T: f64 = 14.0;
    const PH: f64 = 120.0;
    const GAP: f64 = 34.0;
    const CH: f64 = 80.0;
    const B: f64 = 30.0;
    let h = T + PH + GAP + CH + B;
    let pw = W - L - R;
    let n = points.len().max(2) as f64 - 1.0;
    let x = |i: usize| L + pw * i as f64 / n;
    let (mut lo, mut hi) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.value), b.max(p.value))
        });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.1).max(1e-3);
    let (lo, hi) = (lo - pad, hi + pad);
    let y = |v: f64| T + PH - PH * (v - lo) / (hi - lo);
    let top = points
        .iter()
        .map(|p| p.cusum.abs())
        .fold(threshold * 1.2, f64::max)
        .max(1e-9);
    let yc = |v: f64| T + PH + GAP + CH - CH * v.abs() / top;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"series\" role=\"img\" aria-label=\"{} over the profiles\" width=\"{W}\" \
         height=\"{h}\" viewBox=\"0 0 {W} {h}\">",
        esc(name)
    );
    for k in 0..=4 {
        let v = lo + (hi - lo) * k as f64 / 4.0;
        let _ = write!(
            s,
            "<line class=\"grid\" x1=\"{L}\" y1=\"{0:.2}\" x2=\"{1}\" y2=\"{0:.2}\" />\
             <text x=\"{2}\" y=\"{3:.2}\" text-anchor=\"end\">{4}</text>",
            y(v),
            W - R,
            L - 4.0,
            y(v) + 4.0,
            share(v)
        );
    }
    if let Some(first) = points.first() {
        let _ = write!(
            s,
            "<line class=\"threshold\" style=\"stroke:{BASELINE}\" x1=\"{L}\" y1=\"{0:.2}\" \
             x2=\"{1}\" y2=\"{0:.2}\"><title>{2}: {3}</title></line>",
            y(first.value),
            W - R,
            esc(&first.name),
            share(first.value)
        );
    }
    let path: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{:.2},{:.2}", x(i), y(p.value)))
        .collect();
    let _ = write!(
        s,
        "<polyline fill=\"none\" stroke=\"{CURRENT}\" stroke-width=\"1.5\" points=\"{}\" />",
        path.join(" ")
    );
    for (i, p) in points.iter().enumerate() {
        let _ = write!(
            s,
            "<circle class=\"point\" data-value=\"{}\" data-cusum=\"{}\" cx=\"{:.2}\" \
             cy=\"{:.2}\" r=\"2.5\" fill=\"{CURRENT}\"><title>{}: {}, CUSUM {}</title></circle>",
            p.value,
            p.cusum,
            x(i),
            y(p.value),
            esc(&p.name),
            share(p.value),
            number(p.cusum)
        );
    }
    // The CUSUM panel.
    let base = T + PH + GAP + CH;
    for (i, p) in points.iter().enumerate() {
        let bh = base - yc(p.cusum);
        let _ = write!(
            s,
            "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{bh:.2}\" fill=\"{}\" />",
            x(i) - 2.0,
            yc(p.cusum),
            4.0,
            if p.cusum.abs() > threshold {
                "#cf222e"
            } else {
                BASELINE
            }
        );
    }
    let _ = write!(
        s,
        "<line class=\"axis\" x1=\"{L}\" y1=\"{base:.2}\" x2=\"{0}\" y2=\"{base:.2}\" />\
         <line class=\"threshold\" data-threshold=\"{threshold}\" x1=\"{L}\" y1=\"{1:.2}\" \
         x2=\"{0}\" y2=\"{1:.2}\"><title>CUSUM threshold {2}</title></line>\
         <text x=\"{3}\" y=\"{4:.2}\" text-anchor=\"end\">CUSUM</text>\
         <text x=\"{0}\" y=\"{5:.2}\" text-anchor=\"end\" fill=\"#cf222e\">threshold {2}</text>",
        W - R,
        yc(threshold),
        number(threshold),
        L - 4.0,
        base,
        yc(threshold) - 3.0
    );
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        let _ = write!(
            s,
            "<text x=\"{L}\" y=\"{0:.2}\" text-anchor=\"start\">{1}</text>\
             <text x=\"{2}\" y=\"{0:.2}\" text-anchor=\"end\">{3}</text>",
            h - 8.0,
            esc(&first.name),
            W - R,
            esc(&last.name)
        );
    }
    s.push_str("</svg>");
    s
}

/// A round step for about `n` ticks up to `max`.
fn tick_step(max: f64, n: f64) -> f64 {
    let raw = (max / n).max(1.0);
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    mag * if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    }
}

/// A histogram of row counts in equal bins over [0, 1], with a threshold line.
pub(super) fn histogram(name: &str, counts: &[u64], threshold: f64) -> String {
    const W: f64 = 520.0;
    const H: f64 = 220.0;
    const L: f64 = 58.0;
    const R: f64 = 12.0;
    const T: f64 = 12.0;
    const B: f64 = 34.0;
    let (pw, ph) = (W - L - R, H - T - B);
    let max = counts.iter().copied().max().unwrap_or(0) as f64;
    let step = tick_step(max, 4.0);
    let top = if max > 0.0 {
        (max / step).ceil() * step
    } else {
        1.0
    };
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"histogram\" role=\"img\" aria-label=\"{} histogram\" width=\"{W}\" \
         height=\"{H}\" viewBox=\"0 0 {W} {H}\">",
        esc(name)
    );
    let mut v = 0.0;
    while v <= top + 0.5 {
        let y = T + ph - ph * v / top;
        let _ = write!(
            s,
            "<line class=\"grid\" x1=\"{L}\" y1=\"{y:.2}\" x2=\"{}\" y2=\"{y:.2}\" />\
             <text x=\"{}\" y=\"{:.2}\" text-anchor=\"end\">{}</text>",
            W - R,
            L - 4.0,
            y + 4.0,
            thousands(v as u64)
        );
        v += step;
    }
    let n = counts.len().max(1) as f64;
    let bw = pw / n;
    for (i, &c) in counts.iter().enumerate() {
        let bh = ph * c as f64 / top;
        let (lo, hi) = (i as f64 / n, (i + 1) as f64 / n);
        let _ = write!(
            s,
            "<rect class=\"bin\" data-rows=\"{c}\" x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" \
             height=\"{bh:.2}\" fill=\"{CURRENT}\"><title>{} {lo:.2}–{hi:.2}: {} rows</title></rect>",
            L + bw * i as f64 + 0.5,
            T + ph - bh,
            (bw - 1.0).max(0.5),
            esc(name),
            thousands(c)
        );
    }
    let _ = write!(
        s,
        "<line class=\"axis\" x1=\"{L}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" />\
         <line class=\"axis\" x1=\"{L}\" y1=\"{T}\" x2=\"{L}\" y2=\"{0}\" />",
        T + ph,
        W - R
    );
    for k in 0..=4 {
        let x = L + pw * k as f64 / 4.0;
        let _ = write!(
            s,
            "<text x=\"{x:.2}\" y=\"{:.2}\" text-anchor=\"middle\">{}</text>",
            T + ph + 14.0,
            number(k as f64 / 4.0)
        );
    }
    let _ = write!(
        s,
        "<text x=\"{:.2}\" y=\"{}\" text-anchor=\"middle\">{} score</text>",
        L + pw / 2.0,
        H - 3.0,
        esc(name)
    );
    if (0.0..=1.0).contains(&threshold) {
        let t = threshold;
        let x = L + pw * t;
        let _ = write!(
            s,
            "<line class=\"threshold\" data-threshold=\"{t}\" x1=\"{x:.2}\" y1=\"{T}\" x2=\"{x:.2}\" \
             y2=\"{:.2}\"><title>flag threshold {t}</title></line>\
             <text x=\"{:.2}\" y=\"{}\" text-anchor=\"end\" fill=\"#cf222e\">threshold {t}</text>",
            T + ph,
            x - 3.0,
            T + 10.0
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::Severity;

    #[test]
    fn categorical_drift_draws_the_other_values_as_one_bar() {
        let mut f = Finding::new(
            "DRF002",
            "categorical-drift",
            Severity::Low,
            0.2,
            "t".into(),
        );
        f.evidence.insert(
            "largest_changes".into(),
            serde_json::json!([
                {"value": "a", "baseline": 0.5, "current": 0.25},
                {"value": 7, "baseline": 0.25, "current": 0.5},
            ]),
        );
        let d = distribution(&f).unwrap();
        assert_eq!(d.labels, ["a", "7", "(all other values)"]);
        assert_eq!(d.baseline, [0.5, 0.25, 0.25]);
        assert_eq!(d.current, [0.25, 0.5, 0.25]);
        // Every value shown: no extra bar.
        f.evidence.insert(
            "largest_changes".into(),
            serde_json::json!([
                {"value": "a", "baseline": 0.75, "current": 0.5},
                {"value": "b", "baseline": 0.25, "current": 0.5},
            ]),
        );
        assert_eq!(distribution(&f).unwrap().labels, ["a", "b"]);
        let svg = pair_chart(&distribution(&f).unwrap(), "c");
        assert_eq!(svg.matches("<rect ").count(), 4);
        // The longest bar fills the bar area; the others are in proportion.
        assert!(svg.contains("data-share=\"0.75\" x=\"174\" y=\"9\" width=\"326.00\""));
        assert!(svg.contains("data-share=\"0.25\" x=\"174\" y=\"35\" width=\"108.67\""));
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(tick_step(28832.0, 4.0), 10000.0);
        assert_eq!(tick_step(14609.0, 4.0), 5000.0);
        assert_eq!(tick_step(3.0, 4.0), 1.0);
    }
}
