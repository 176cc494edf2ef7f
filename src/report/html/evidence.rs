//! The evidence section of the HTML report: every finding with all the JSON report gives for it,
//! its evidence drawn as nested tables, and its distribution chart when it has one.

use std::fmt::Write as _;

use serde_json::Value;

use super::charts::{Distribution, legend, pair_chart, series_chart, series_of};
use super::inline::{
    anchor, code_list, examples, number, q_text, rich, severity_badge, title_html,
};
use crate::report::markdown::slice_text;
use crate::report::text::thousands;
use crate::report::{Report, esc};

/// Rows listed in a table of values before the rest are counted.
const LIST_CAP: usize = 30;

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

fn more(n: usize, out: &mut String) {
    if n > LIST_CAP {
        let _ = write!(
            out,
            " <span class=\"muted\">… and {} more in the JSON report</span>",
            n - LIST_CAP
        );
    }
}

pub(super) fn evidence_section(r: &Report, drifted: &[(usize, Distribution)], h: &mut String) {
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
        let series = (f.code == "DRF005").then(|| series_of(f)).flatten();
        if let Some(points) = &series {
            let threshold = f
                .evidence
                .get("threshold")
                .and_then(Value::as_f64)
                .unwrap_or(0.0);
            row(h, "series", series_chart(&f.code, points, threshold));
        }
        let mut ev = String::new();
        let shown: serde_json::Map<String, Value> = f
            .evidence
            .iter()
            // The charts above draw the bins and the series.
            .filter(|(k, _)| !(charted.is_some() && f.code == "DRF001" && k.as_str() == "bins"))
            .filter(|(k, _)| !(series.is_some() && k.as_str() == "series"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        value_html(&Value::Object(shown), &mut ev);
        row(h, "evidence", ev);
        h.push_str("</table></details>\n");
    }
    h.push_str("</section>\n");
}
