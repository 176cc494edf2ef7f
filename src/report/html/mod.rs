//! The HTML report: one self-contained file (inline CSS and SVG, no script, nothing fetched from
//! the network) for an engineer auditing a dataset in a browser. It shows the verdict and a
//! summary, the findings, the slices, each drifted column's baseline and current distributions,
//! the histograms of the row scores, every finding's evidence, the columns and the sources.
//!
//! It is written from the report alone, so the same report gives the same bytes. The markup is
//! also well-formed XML (every element closed, attributes quoted), which lets the tests read it
//! back and check each chart against the numbers it draws.

mod charts;
mod evidence;
mod inline;
mod sections;

use std::fmt::Write as _;
use std::io::Write;

use self::charts::drift_findings;
use self::evidence::evidence_section;
use self::sections::{
    columns_section, drift_section, findings_table, scores_section, slices_table, sources_section,
    summary,
};
use super::text::thousands;
use super::{Report, esc};

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
details.finding, details.incident { border: 1px solid var(--line); border-radius: 6px; margin: 8px 0; padding: 6px 12px; }
details.finding summary, details.incident summary { cursor: pointer; font-weight: 600; }
details.finding summary .sev, details.incident summary .sev { margin-right: 6px; }
details.incident summary small { font-weight: 400; }
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
