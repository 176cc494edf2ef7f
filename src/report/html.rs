//! The HTML report: one self-contained file (inline CSS and SVG, no script, nothing fetched from
//! the network) for an engineer auditing a dataset in a browser. It shows the verdict and a
//! summary, the findings, the slices, each drifted column's baseline and current distributions,
//! the histograms of the row scores, every finding's evidence, the columns and the sources.
//!
//! It is written from the report alone, so the same report gives the same bytes. The markup is
//! also well-formed XML (every element closed, attributes quoted), which lets the tests read it
//! back and check each chart against the numbers it draws.

use std::fmt::Write as _;
use std::io::Write;

use serde_json::Value;

use super::markdown::slice_text;
use super::model::Finding;
use super::text::{files, label_shares, thousands};
use super::{Report, esc};

/// Rows listed in a table of values before the rest are counted.
const LIST_CAP: usize = 30;

/// Colours: the baseline and the current data in every chart, and the severities.
const BASELINE: &str = "#7f8fa6";
const CURRENT: &str = "#e8590c";

/// A title or predicate as written in the other reports (`name` in backticks), with the quoted
/// names set in `<code>`.
fn rich(s: &str) -> String {
    let parts: Vec<&str> = s.split('`').collect();
    let mut out = String::new();
    for (i, p) in parts.iter().enumerate() {
        // An unmatched last backtick stays a backtick.
        if i % 2 == 1 && i + 1 < parts.len() {
            let _ = write!(out, "<code>{}</code>", esc(p));
        } else if i % 2 == 1 {
            let _ = write!(out, "`{}", esc(p));
        } else {
            out.push_str(&esc(p));
        }
    }
    out
}

/// A number as people read it: integers without a fraction, very small or large numbers in
/// scientific notation, the rest in their shortest form.
pub(crate) fn number(x: f64) -> String {
    let a = x.abs();
    if x != 0.0 && a.is_finite() && !(1e-4..1e15).contains(&a) {
        format!("{x:e}")
    } else {
        super::markdown::number(x)
    }
}

/// A share as a percentage with the digits that matter: 46%, 9.4%, 0.023%.
pub(crate) fn share(x: f64) -> String {
    let p = 100.0 * x;
    if !p.is_finite() {
        "–".into()
    } else if p == 0.0 {
        "0%".into()
    } else if p.abs() >= 10.0 {
        format!("{p:.0}%")
    } else if p.abs() >= 1.0 {
        format!("{p:.1}%")
    } else {
        // Two significant digits.
        let digits = (1 - p.abs().log10().floor() as i32).clamp(2, 12) as usize;
        let s = format!("{p:.digits$}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        format!("{s}%")
    }
}

fn q_text(q: Option<f64>) -> String {
    match q {
        None => "–".into(),
        Some(0.0) => "0".into(),
        Some(q) if q >= 0.001 => format!("{q:.3}"),
        Some(q) => format!("{q:.1e}"),
    }
}

fn severity_badge(name: &str) -> String {
    format!("<span class=\"sev sev-{name}\">{name}</span>")
}

/// The anchor of the i-th finding.
fn anchor(i: usize) -> String {
    format!("f{}", i + 1)
}

const STYLE: &str = r#"
:root { color-scheme: light; --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #fff; }
main { max-width: 1180px; margin: 0 auto; padding: 0 24px 48px; }
header.verdict { padding: 18px 24px; color: #fff; }
header.verdict h1 { margin: 0 auto; max-width: 1132px; font-size: 22px; }
header.verdict p { margin: 4px auto 0; max-width: 1132px; opacity: .92; }
header.pass { background: #1a7f37; }
header.fail { background: #cf222e; }
nav { position: sticky; top: 0; background: #fff; border-bottom: 1px solid var(--line); padding: 8px 0; z-index: 1; }
nav a { margin-right: 14px; color: #0969da; text-decoration: none; }
h2 { font-size: 18px; margin: 32px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 6px; }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--bg); padding: 0 3px; border-radius: 3px; overflow-wrap: anywhere; }
table { border-collapse: collapse; margin: 6px 0 12px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--bg); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.wide { width: 100%; }
table.kv th { width: 1%; white-space: nowrap; }
table.kv table { margin: 0; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 14px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; min-width: 150px; }
.card b { display: block; font-size: 20px; }
.card span { color: var(--muted); }
.sev { display: inline-block; min-width: 58px; padding: 1px 6px; border-radius: 10px; color: #fff; font-size: 12px; text-align: center; }
.sev-high { background: #cf222e; }
.sev-medium { background: #bc4c00; }
.sev-low { background: #0969da; }
.sev-info { background: #6e7781; }
.gate { border-left: 4px solid #cf222e; background: #ffebe9; padding: 8px 12px; margin: 10px 0; }
.accepted { color: var(--muted); font-style: italic; }
.muted { color: var(--muted); }
.charts { display: flex; flex-wrap: wrap; gap: 18px; }
figure { margin: 8px 0; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; background: #fff; }
figcaption { margin-bottom: 6px; }
figcaption small { display: block; color: var(--muted); }
svg { display: block; max-width: 100%; height: auto; font-family: system-ui, sans-serif; }
svg text { fill: #1f2328; font-size: 11px; }
svg .axis { stroke: #8c959f; stroke-width: 1; }
svg .grid { stroke: #eaeef2; stroke-width: 1; }
svg .threshold { stroke: #cf222e; stroke-width: 1.5; stroke-dasharray: 4 3; }
.legend i { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 10px; border-radius: 2px; }
details.finding { border: 1px solid var(--line); border-radius: 6px; margin: 8px 0; padding: 6px 12px; }
details.finding summary { cursor: pointer; font-weight: 600; }
details.finding summary .sev { margin-right: 6px; }
footer { color: var(--muted); margin-top: 36px; font-size: 12px; }
"#;

/// Write the HTML report.
pub fn write_html(r: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let mut h = String::with_capacity(64 * 1024);
    let failed = r.verdict == super::model::Verdict::Fail;
    let verdict = if failed { "gate failed" } else { "gate passed" };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\" />\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" />\n\
         <title>poisonscan: {verdict}, {} rows</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        thousands(r.dataset.rows)
    );
    let c = &r.counts;
    let _ = writeln!(
        h,
        "<header class=\"verdict {}\"><h1>poisonscan: {verdict}</h1>\
         <p>fail on: {} · {} high · {} medium · {} low · {} info</p></header>",
        if failed { "fail" } else { "pass" },
        esc(r.fail_on.name()),
        c.high,
        c.medium,
        c.low,
        c.info
    );
    let drifted = drift_findings(r);
    let sliced = r.findings.iter().any(|f| !f.slice.is_empty());
    h.push_str("<main>\n<nav><a href=\"#summary\">Summary</a><a href=\"#findings\">Findings</a>");
    if sliced {
        h.push_str("<a href=\"#slices\">Slices</a>");
    }
    if !r.drift.is_empty() {
        h.push_str("<a href=\"#drift\">Drift</a>");
    }
    if r.scores.is_some() {
        h.push_str("<a href=\"#scores\">Row scores</a>");
    }
    if !r.findings.is_empty() {
        h.push_str("<a href=\"#evidence\">Evidence</a>");
    }
    h.push_str("<a href=\"#columns\">Columns</a><a href=\"#sources\">Sources</a></nav>\n");

    summary(r, &mut h);
    findings_table(r, &mut h);
    if sliced {
        slices_table(r, &mut h);
    }
    if !r.drift.is_empty() {
        drift_section(r, &drifted, &mut h);
    }
    if let Some(s) = &r.scores {
        scores_section(s, &mut h);
    }
    if !r.findings.is_empty() {
        evidence_section(r, &drifted, &mut h);
    }
    columns_section(r, &mut h);
    sources_section(r, &mut h);
    let run = &r.run;
    let _ = write!(
        h,
        "<footer>poisonscan {} · report schema {} · started {} · {} ms · {} threads · seed {} · \
         <code>poisonscan explain CODE</code> says what a check finds and how.</footer>\n\
         </main>\n</body>\n</html>\n",
        esc(r.tool.version),
        r.schema_version,
        esc(&run.started_at),
        run.duration_ms,
        run.threads,
        run.seed
    );
    out.write_all(h.as_bytes())
}

fn summary(r: &Report, h: &mut String) {
    let d = &r.dataset;
    h.push_str("<section id=\"summary\"><h2>Summary</h2>\n");
    let _ = write!(
        h,
        "<p>Scanned {} rows × {} columns from {}",
        thousands(d.rows),
        d.columns,
        files(d.sources.len())
    );
    match &r.baseline {
        Some(b) => {
            let _ = writeln!(
                h,
                " against a trusted baseline of {} rows from {}.</p>",
                thousands(b.rows),
                files(b.sources.len())
            );
        }
        None => {
            h.push_str(" without a baseline: the checks that compare with one were skipped.</p>\n")
        }
    }
    for a in r.allowlist.iter().filter(|a| a.status == "expired") {
        let _ = writeln!(
            h,
            "<div class=\"gate\"><b>Gate:</b> {}</div>",
            rich(&super::model::expired_message(a))
        );
    }
    h.push_str("<div class=\"cards\">");
    let card = |h: &mut String, value: String, what: &str| {
        let _ = write!(
            h,
            "<div class=\"card\"><b>{value}</b><span>{what}</span></div>"
        );
    };
    card(h, thousands(d.rows), "rows");
    card(h, d.columns.to_string(), "columns");
    card(h, d.sources.len().to_string(), "files");
    if let Some(b) = &r.baseline {
        card(h, thousands(b.rows), "baseline rows");
    }
    let dup = &r.profile.duplicates;
    card(h, thousands(dup.duplicate_rows), "duplicate rows");
    let c = &r.counts;
    for (name, n) in [
        ("high", c.high),
        ("medium", c.medium),
        ("low", c.low),
        ("info", c.info),
    ] {
        card(h, n.to_string(), &format!("{name} findings"));
    }
    h.push_str("</div>\n");
    if let Some(label) = &d.label {
        let _ = write!(
            h,
            "<table><tr><th>label <code>{}</code></th><th class=\"num\">rows</th><th class=\"num\">share</th></tr>",
            esc(label)
        );
        for (k, v, s) in label_shares(r) {
            let _ = write!(
                h,
                "<tr><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                esc(k),
                thousands(v),
                esc(&s)
            );
        }
        h.push_str("</table>\n");
    }
    let accepted = r.findings.iter().filter(|f| f.accepted.is_some()).count();
    if !r.allowlist.is_empty() {
        let _ = write!(
            h,
            "<h3>Allowlist</h3><p>Findings accepted: {accepted} (reported, not failing the gate).</p>\
             <table><tr><th class=\"num\">entry</th><th>code</th><th>matches</th><th>reason</th>\
             <th>expires</th><th>status</th><th class=\"num\">findings accepted</th></tr>"
        );
        for a in &r.allowlist {
            let _ = write!(
                h,
                "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
                a.entry,
                esc(&a.code),
                rich(&a.description),
                esc(&a.reason),
                esc(&a.expires),
                esc(a.status),
                a.matched
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str("</section>\n");
}

fn title_html(f: &Finding) -> String {
    match &f.accepted {
        Some(a) => format!(
            "{} <span class=\"accepted\">(accepted until {}: {})</span>",
            rich(&f.title),
            esc(&a.expires),
            esc(&a.reason)
        ),
        None => rich(&f.title),
    }
}

fn findings_table(r: &Report, h: &mut String) {
    h.push_str("<section id=\"findings\"><h2>Findings</h2>\n");
    if r.findings.is_empty() {
        h.push_str("<p>No findings.</p></section>\n");
        return;
    }
    h.push_str(
        "<table class=\"wide\"><tr><th class=\"num\">#</th><th>severity</th><th>code</th>\
         <th>finding</th><th class=\"num\">rows</th><th class=\"num\">baseline rows</th>\
         <th class=\"num\">q-value</th></tr>\n",
    );
    for (i, f) in r.findings.iter().enumerate() {
        let _ = writeln!(
            h,
            "<tr><td class=\"num\"><a href=\"#{a}\">{n}</a></td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            severity_badge(f.severity.name()),
            esc(&f.code),
            title_html(f),
            thousands(f.rows),
            f.baseline_rows.map_or("–".into(), thousands),
            q_text(f.q_value),
            a = anchor(i),
            n = i + 1
        );
    }
    h.push_str("</table></section>\n");
}

fn examples(f: &Finding, n: usize) -> String {
    f.example_rows
        .iter()
        .take(n)
        .map(|e| format!("<code>{}</code>:{}", esc(&e.source), e.row))
        .collect::<Vec<_>>()
        .join(", ")
}

fn slices_table(r: &Report, h: &mut String) {
    h.push_str(
        "<section id=\"slices\"><h2>Slices</h2>\n<p class=\"muted\">Every finding that names a \
         slice of the rows, in report order.</p>\n<table class=\"wide\"><tr><th>slice</th>\
         <th>code</th><th>severity</th><th class=\"num\">rows now</th>\
         <th class=\"num\">rows in the baseline</th><th>signal</th><th>example rows</th></tr>\n",
    );
    for (i, f) in r
        .findings
        .iter()
        .enumerate()
        .filter(|(_, f)| !f.slice.is_empty())
    {
        let signal = f
            .evidence
            .get("signal")
            .and_then(Value::as_str)
            .unwrap_or(f.check.as_str());
        let _ = writeln!(
            h,
            "<tr><td><a href=\"#{}\">{}</a></td><td>{}</td><td>{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
            anchor(i),
            rich(&slice_text(f)),
            esc(&f.code),
            severity_badge(f.severity.name()),
            thousands(f.rows),
            f.baseline_rows.map_or("–".into(), thousands),
            esc(signal),
            examples(f, 3)
        );
    }
    h.push_str("</table></section>\n");
}

/// A distribution on both sides: one label, baseline share and current share per bar.
struct Distribution {
    labels: Vec<String>,
    baseline: Vec<f64>,
    current: Vec<f64>,
    note: &'static str,
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
fn drift_findings(r: &Report) -> Vec<(usize, Distribution)> {
    r.findings
        .iter()
        .enumerate()
        .filter_map(|(i, f)| distribution(f).map(|d| (i, d)))
        .collect()
}

/// A horizontal grouped bar chart: per label, the baseline's share above the current share.
fn pair_chart(d: &Distribution, name: &str) -> String {
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

fn legend() -> String {
    format!(
        "<div class=\"legend muted\"><i style=\"background:{BASELINE}\"></i>baseline\
         <i style=\"background:{CURRENT}\"></i>current</div>"
    )
}

fn drift_section(r: &Report, drifted: &[(usize, Distribution)], h: &mut String) {
    h.push_str("<section id=\"drift\"><h2>Drift</h2>\n");
    if drifted.is_empty() {
        h.push_str("<p>No column drifted enough to make a finding.</p>\n");
    } else {
        h.push_str(&legend());
        h.push_str("<div class=\"charts\">\n");
        for (i, d) in drifted {
            let f = &r.findings[*i];
            let name = f.columns.first().map_or("label", String::as_str);
            let _ = writeln!(
                h,
                "<figure id=\"drift-{}\" data-finding=\"{}\"><figcaption>{} {} \
                 <a href=\"#{}\">{}</a><small>{}</small></figcaption>{}</figure>",
                esc(name),
                anchor(*i),
                severity_badge(f.severity.name()),
                rich(&f.title),
                anchor(*i),
                esc(&f.code),
                esc(d.note),
                pair_chart(d, name)
            );
        }
        h.push_str("</div>\n");
    }
    h.push_str(
        "<h3>Every column against the baseline</h3>\n<table><tr><th>column</th><th>kind</th>\
         <th class=\"num\">effect</th><th class=\"num\">statistic</th><th class=\"num\">p-value</th>\
         <th class=\"num\">q-value</th><th>finding</th></tr>\n",
    );
    for d in &r.drift {
        let finding = r.findings.iter().position(|f| {
            matches!(f.code.as_str(), "DRF001" | "DRF002") && f.columns.first() == Some(&d.column)
        });
        let _ = writeln!(
            h,
            "<tr><td><code>{}</code></td><td>{}</td><td class=\"num\">{} {}</td>\
             <td class=\"num\">{} {}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&d.column),
            d.kind,
            esc(&d.effect.name),
            number(d.effect.value),
            esc(&d.statistic.name),
            number(d.statistic.value),
            q_text(Some(d.p_value)),
            q_text(Some(d.q_value)),
            finding.map_or(String::new(), |i| format!(
                "<a href=\"#{}\">{} {}</a>",
                anchor(i),
                esc(&r.findings[i].code),
                r.findings[i].severity.name()
            ))
        );
    }
    h.push_str("</table></section>\n");
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
fn histogram(name: &str, counts: &[u64], threshold: f64) -> String {
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

fn scores_section(s: &super::ScoreBins, h: &mut String) {
    h.push_str(
        "<section id=\"scores\"><h2>Row scores</h2>\n<p class=\"muted\">Every current row's \
         scores from the row pass, in equal bins over [0, 1] (the rows file has each row's \
         score). The dashed line is the flagging threshold.</p>\n<div class=\"charts\">\n",
    );
    for (name, counts, threshold, what) in [
        (
            "outlier",
            &s.outlier,
            s.outlier_threshold,
            "Outlier score: the share of the baseline's rows less outlying than the row \
             (Isolation Forest and ECOD); above the line a row counts as an outlier (OUT001).",
        ),
        (
            "label issue",
            &s.label_issue,
            s.label_issue_threshold,
            "Label issue score: the weighted share of the row's nearest baseline neighbours \
             that carry another label; from the line on, its label counts as an issue (LBL002).",
        ),
    ] {
        let total: u64 = counts.iter().sum();
        let _ = writeln!(
            h,
            "<figure id=\"scores-{}\"><figcaption>{} <small>{} rows scored</small></figcaption>{}</figure>",
            name.replace(' ', "-"),
            esc(what),
            thousands(total),
            histogram(name, counts, threshold)
        );
    }
    h.push_str("</div></section>\n");
}

/// A JSON value from the evidence as HTML: objects as key/value tables, lists of objects as
/// tables, lists of scalars inline.
fn value_html(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push('–'),
        Value::Bool(b) => out.push_str(if *b { "yes" } else { "no" }),
        Value::Number(n) => out.push_str(&match n.as_u64() {
            Some(u) => thousands(u),
            None => n.as_f64().map_or(n.to_string(), number),
        }),
        Value::String(s) => out.push_str(&rich(s)),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("none");
            } else if items.iter().all(Value::is_object) {
                let mut keys: Vec<&String> = Vec::new();
                for item in items {
                    for k in item.as_object().into_iter().flat_map(|o| o.keys()) {
                        if !keys.contains(&k) {
                            keys.push(k);
                        }
                    }
                }
                out.push_str("<table><tr>");
                for k in &keys {
                    let _ = write!(out, "<th>{}</th>", esc(k));
                }
                out.push_str("</tr>");
                for item in items.iter().take(LIST_CAP) {
                    out.push_str("<tr>");
                    for k in &keys {
                        out.push_str("<td>");
                        value_html(item.get(k.as_str()).unwrap_or(&Value::Null), out);
                        out.push_str("</td>");
                    }
                    out.push_str("</tr>");
                }
                out.push_str("</table>");
                more(items.len(), out);
            } else {
                for (i, item) in items.iter().take(LIST_CAP).enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    value_html(item, out);
                }
                more(items.len(), out);
            }
        }
        Value::Object(map) => {
            if map.is_empty() {
                out.push_str("none");
                return;
            }
            out.push_str("<table class=\"kv\">");
            for (k, v) in map {
                let _ = write!(out, "<tr><th>{}</th><td>", esc(k));
                value_html(v, out);
                out.push_str("</td></tr>");
            }
            out.push_str("</table>");
        }
    }
}

/// Names set in `<code>`, joined by `sep`.
fn code_list(names: &[String], sep: &str) -> String {
    names
        .iter()
        .map(|n| format!("<code>{}</code>", esc(n)))
        .collect::<Vec<_>>()
        .join(sep)
}

fn more(n: usize, out: &mut String) {
    if n > LIST_CAP {
        let _ = write!(
            out,
            " <span class=\"muted\">… and {} more in the JSON report</span>",
            n - LIST_CAP
        );
    }
}

fn evidence_section(r: &Report, drifted: &[(usize, Distribution)], h: &mut String) {
    h.push_str(
        "<section id=\"evidence\"><h2>Evidence</h2>\n<p class=\"muted\">Each finding with \
         everything the JSON report gives for it; high-severity findings are open.</p>\n",
    );
    for (i, f) in r.findings.iter().enumerate() {
        let _ = write!(
            h,
            "<details class=\"finding\" id=\"{}\"{}><summary>{}{} {}</summary>\n<table class=\"kv\">",
            anchor(i),
            if f.severity.name() == "high" {
                " open=\"open\""
            } else {
                ""
            },
            severity_badge(f.severity.name()),
            esc(&f.code),
            title_html(f)
        );
        let row = |h: &mut String, k: &str, v: String| {
            let _ = write!(h, "<tr><th>{k}</th><td>{v}</td></tr>");
        };
        row(
            h,
            "check",
            format!("{} <code>{}</code>", esc(&f.code), esc(&f.check)),
        );
        row(h, "score", number(f.score));
        if !f.columns.is_empty() {
            row(h, "columns", code_list(&f.columns, ", "));
        }
        if !f.slice.is_empty() {
            row(h, "slice", rich(&slice_text(f)));
        }
        if !f.sources.is_empty() {
            row(h, "sources", code_list(&f.sources, "<br />"));
        }
        row(h, "rows", thousands(f.rows));
        if let Some(b) = f.baseline_rows {
            row(h, "baseline rows", thousands(b));
        }
        for (k, nv) in [("statistic", &f.statistic), ("effect", &f.effect)] {
            if let Some(nv) = nv {
                row(h, k, format!("{} = {}", esc(&nv.name), number(nv.value)));
            }
        }
        if let Some(p) = f.p_value {
            row(h, "p-value", q_text(Some(p)));
        }
        if let Some(q) = f.q_value {
            row(h, "q-value", q_text(Some(q)));
        }
        if let Some(a) = &f.accepted {
            row(
                h,
                "accepted",
                format!(
                    "by allowlist entry {} until {}: {}",
                    a.entry,
                    esc(&a.expires),
                    esc(&a.reason)
                ),
            );
        }
        if !f.example_rows.is_empty() {
            row(h, "example rows", examples(f, LIST_CAP));
        }
        let charted = drifted.iter().find(|(j, _)| *j == i);
        if let Some((_, d)) = charted {
            let name = f.columns.first().map_or("label", String::as_str);
            row(
                h,
                "distribution",
                format!("{}{}", legend(), pair_chart(d, name)),
            );
        }
        let mut ev = String::new();
        let shown: serde_json::Map<String, Value> = f
            .evidence
            .iter()
            // The chart above draws the bins.
            .filter(|(k, _)| !(charted.is_some() && f.code == "DRF001" && k.as_str() == "bins"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        value_html(&Value::Object(shown), &mut ev);
        row(h, "evidence", ev);
        h.push_str("</table></details>\n");
    }
    h.push_str("</section>\n");
}

fn columns_section(r: &Report, h: &mut String) {
    h.push_str(
        "<section id=\"columns\"><h2>Columns</h2>\n<table class=\"wide\"><tr><th>column</th>\
         <th>type</th><th>role</th><th class=\"num\">nulls</th><th class=\"num\">distinct</th>\
         <th class=\"num\">min</th><th class=\"num\">median</th><th class=\"num\">mean</th>\
         <th class=\"num\">std</th><th class=\"num\">max</th></tr>\n",
    );
    let opt = |x: Option<f64>| x.map_or("–".into(), number);
    for c in &r.profile.columns {
        let _ = writeln!(
            h,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&c.name),
            c.column_type,
            c.role,
            thousands(c.nulls),
            thousands(c.distinct),
            opt(c.min),
            opt(c.median),
            opt(c.mean),
            opt(c.std),
            opt(c.max)
        );
    }
    let dup = &r.profile.duplicates;
    let _ = writeln!(
        h,
        "</table>\n<p>Duplicates: {} rows repeat an earlier row, in {} groups (largest {}); {} \
         groups of identical features carry conflicting labels.</p></section>",
        thousands(dup.duplicate_rows),
        thousands(dup.groups),
        thousands(dup.largest_group),
        thousands(dup.conflicting_groups)
    );
}

fn sources_section(r: &Report, h: &mut String) {
    h.push_str(
        "<section id=\"sources\"><h2>Sources</h2>\n<table class=\"wide\"><tr><th>file</th>\
         <th class=\"num\">rows</th><th>BLAKE3</th></tr>\n",
    );
    for s in &r.dataset.sources {
        let _ = writeln!(
            h,
            "<tr><td><code>{}</code></td><td class=\"num\">{}</td><td><code>{}</code></td></tr>",
            esc(&s.path),
            thousands(s.rows),
            esc(&s.blake3)
        );
    }
    h.push_str("</table>\n");
    if let Some(b) = &r.baseline {
        let _ = write!(
            h,
            "<h3>Baseline</h3><p>{} rows from:</p><ul>",
            thousands(b.rows)
        );
        for s in &b.sources {
            let _ = write!(h, "<li><code>{}</code></li>", esc(s));
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::Severity;

    #[test]
    fn escapes_and_code() {
        assert_eq!(
            esc("<a href=\"x\">&'\u{1}"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos; "
        );
        assert_eq!(
            rich("`income` < 6139 & `x`"),
            "<code>income</code> &lt; 6139 &amp; <code>x</code>"
        );
        assert_eq!(rich("a `b"), "a `b");
    }

    #[test]
    fn shares_keep_the_digits_that_matter() {
        assert_eq!(share(0.46), "46%");
        assert_eq!(share(0.0938667), "9.4%");
        assert_eq!(share(0.000226322), "0.023%");
        assert_eq!(share(0.0), "0%");
        assert_eq!(share(0.001), "0.1%");
    }

    #[test]
    fn numbers_stay_short() {
        assert_eq!(number(4.8874e-319), "4.8874e-319");
        assert_eq!(number(0.266258), "0.266258");
        assert_eq!(number(274705.0), "274705");
        assert_eq!(number(2.5e17), "2.5e17");
        assert_eq!(number(0.0), "0");
    }

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
