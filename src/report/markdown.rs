//! The Markdown report, for a pull-request comment or a CI step summary (GitHub's
//! `$GITHUB_STEP_SUMMARY`, GitLab's merge-request notes): the verdict, what was read, the counts,
//! the top findings as a table and the slices the findings name.

use std::io::Write;

use super::Report;
use super::model::{Finding, Predicate};
use super::text::{files, label_shares, thousands};

/// Findings listed in the table before the rest are counted.
const TOP: usize = 20;

/// A number as people write it: integers without a fraction, others in their shortest form.
pub(super) fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// A predicate in words. "Above x" is `ge` the next float after x in the JSON report (the
/// contract has no `gt`); it reads "> x" here.
pub fn predicate_text(p: &Predicate) -> String {
    let v = |x: &serde_json::Value| match x {
        serde_json::Value::String(s) => format!("`{s}`"),
        serde_json::Value::Number(n) => n.as_f64().map_or(n.to_string(), number),
        other => other.to_string(),
    };
    let c = &p.column;
    let above = |x: f64| {
        let below = x.next_down();
        (number(below).len() < number(x).len()).then(|| number(below))
    };
    match p.op {
        "ge" => match p.value.as_ref().and_then(|x| x.as_f64()).and_then(above) {
            Some(b) => format!("`{c}` > {b}"),
            None => format!("`{c}` ≥ {}", p.value.as_ref().map_or("?".into(), v)),
        },
        "eq" => format!("`{c}` = {}", p.value.as_ref().map_or("?".into(), v)),
        "in" => format!(
            "`{c}` in {{{}}}",
            p.values
                .iter()
                .flatten()
                .map(v)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        "lt" => format!("`{c}` < {}", p.value.as_ref().map_or("?".into(), v)),
        "between" => format!(
            "{} ≤ `{c}` < {}",
            p.low.map_or("?".into(), number),
            p.high.map_or("?".into(), number)
        ),
        "is_null" => format!("`{c}` is null"),
        op => format!("`{c}` {op}"),
    }
}

/// A slice in words: its predicates joined by "and".
pub fn slice_text(f: &Finding) -> String {
    f.slice
        .iter()
        .map(predicate_text)
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Text safe inside a Markdown table cell or a line: see [`super::safe::markdown`].
fn cell(s: &str) -> String {
    super::safe::markdown(s)
}

/// The findings listed under the incidents (a pull-request comment has a size limit).
const DETAILS_MAX: usize = 50;

/// A finding's title, with its allowlist acceptance when it has one.
fn finding_cell(f: &Finding) -> String {
    match &f.accepted {
        Some(a) => format!(
            "{} *(accepted until {}: {})*",
            cell(&f.title),
            a.expires,
            cell(&a.reason)
        ),
        None => cell(&f.title),
    }
}

pub fn write_markdown(r: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let verdict = if r.verdict == super::model::Verdict::Fail {
        "❌ **gate failed**"
    } else {
        "✅ **gate passed**"
    };
    writeln!(
        out,
        "## poisonscan: {verdict} (fail on: {})\n",
        r.fail_on.name()
    )?;
    let d = &r.dataset;
    write!(
        out,
        "Scanned {} rows × {} columns from {}",
        thousands(d.rows),
        d.columns,
        files(d.sources.len())
    )?;
    match &r.baseline {
        Some(b) => writeln!(
            out,
            " against a baseline of {} rows from {}.",
            thousands(b.rows),
            files(b.sources.len())
        )?,
        None => writeln!(
            out,
            " without a baseline (checks that compare with one were skipped)."
        )?,
    }
    for (side, line) in crate::report::text::accounting(r) {
        writeln!(out, "{side}{}.", cell(&line))?;
    }
    if let Some(label) = &d.label {
        let parts: Vec<String> = label_shares(r)
            .into_iter()
            .map(|(k, _, share)| format!("{} {share}", cell(&format!("`{k}`"))))
            .collect();
        writeln!(
            out,
            "Label {}: {}.",
            cell(&format!("`{label}`")),
            parts.join(", ")
        )?;
    }
    let c = &r.counts;
    writeln!(
        out,
        "\n| high | medium | low | info |\n|---:|---:|---:|---:|\n| {} | {} | {} | {} |\n",
        c.high, c.medium, c.low, c.info
    )?;
    for a in r.allowlist.iter().filter(|a| a.status == "expired") {
        writeln!(
            out,
            "> **Gate:** {}\n",
            cell(&super::model::expired_message(a))
        )?;
    }
    if r.findings.is_empty() {
        writeln!(out, "No findings.")?;
        return Ok(());
    }
    let incidents = super::incidents(r);
    writeln!(out, "### Incidents\n")?;
    writeln!(
        out,
        "{} findings in {}: each a cause and the findings it explains.\n",
        r.findings.len(),
        super::text::count(incidents.len(), "incident")
    )?;
    writeln!(out, "| severity | code | cause | explains | rows |")?;
    writeln!(out, "|---|---|---|---|---:|")?;
    for inc in incidents.iter().take(TOP) {
        let f = &r.findings[inc.root];
        writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            inc.severity.name(),
            f.code,
            finding_cell(f),
            if inc.explains.is_empty() {
                "–".to_string()
            } else {
                cell(&super::explained_codes(r, inc))
            },
            thousands(f.rows)
        )?;
    }
    if incidents.len() > TOP {
        writeln!(
            out,
            "\n… and {} more in the JSON report.",
            super::text::count(incidents.len() - TOP, "incident")
        )?;
    }
    writeln!(
        out,
        "\n<details><summary>All {} findings, by incident</summary>\n",
        r.findings.len()
    )?;
    writeln!(
        out,
        "| incident | severity | code | finding | rows | q-value |"
    )?;
    writeln!(out, "|---:|---|---|---|---:|---:|")?;
    let mut listed = 0;
    for (n, inc) in incidents.iter().enumerate() {
        let members = std::iter::once(inc.root).chain(inc.explains.iter().map(|e| e.finding));
        for (k, m) in members.enumerate() {
            if listed == DETAILS_MAX {
                break;
            }
            listed += 1;
            let f = &r.findings[m];
            writeln!(
                out,
                "| {} | {} | {} | {}{} | {} | {} |",
                if k == 0 {
                    format!("{}", n + 1)
                } else {
                    String::new()
                },
                f.severity.name(),
                f.code,
                if k == 0 { "" } else { "↳ " },
                finding_cell(f),
                thousands(f.rows),
                f.q_value.map_or("–".into(), |q| if q == 0.0 {
                    "0".into()
                } else {
                    format!("{q:.1e}")
                })
            )?;
        }
    }
    if listed < r.findings.len() {
        writeln!(
            out,
            "\n… and {} more in the JSON report.",
            super::text::count(r.findings.len() - listed, "finding")
        )?;
    }
    writeln!(out, "\n</details>")?;
    let sliced: Vec<&Finding> = r.findings.iter().filter(|f| !f.slice.is_empty()).collect();
    if !sliced.is_empty() {
        writeln!(out, "\n### Slices\n")?;
        writeln!(
            out,
            "| slice | code | severity | rows now | rows in the baseline | example rows |"
        )?;
        writeln!(out, "|---|---|---|---:|---:|---|")?;
        for f in sliced.iter().take(TOP) {
            let examples: Vec<String> = f
                .example_rows
                .iter()
                .take(3)
                .map(|e| format!("{}:{}", e.source, e.row))
                .collect();
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                cell(&slice_text(f)),
                f.code,
                f.severity.name(),
                thousands(f.rows),
                f.baseline_rows.map_or("–".into(), thousands),
                cell(&examples.join(", "))
            )?;
        }
    }
    writeln!(
        out,
        "\n<sub>poisonscan {} · `poisonscan explain CODE` says what a check finds and how.</sub>",
        r.tool.version
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicates_read_as_people_write_them() {
        assert_eq!(predicate_text(&Predicate::eq("c", "x")), "`c` = `x`");
        assert_eq!(
            predicate_text(&Predicate::lt("income", 6139.0)),
            "`income` < 6139"
        );
        // "Above the maximum": the next float after 0.9631 in the report, "> 0.9631" here.
        assert_eq!(predicate_text(&Predicate::gt("d", 0.9631)), "`d` > 0.9631");
        assert_eq!(predicate_text(&Predicate::gt("n", 12.0)), "`n` > 12");
        let mut ge = Predicate::gt("x", 0.5);
        ge.value = Some(serde_json::json!(0.5));
        assert_eq!(predicate_text(&ge), "`x` ≥ 0.5");
    }
}
