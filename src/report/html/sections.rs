//! The sections of the HTML report's page: the summary, the findings and slices tables, drift,
//! row scores, the columns and the sources.

use std::fmt::Write as _;

use serde_json::Value;

use super::charts::{Distribution, histogram, legend, pair_chart};
use super::inline::{anchor, examples, number, q_text, rich, severity_badge, title_html};
use crate::report::markdown::slice_text;
use crate::report::text::{files, label_shares, thousands};
use crate::report::{Report, esc};

pub(super) fn summary(r: &Report, h: &mut String) {
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
    for (side, line) in crate::report::text::accounting(r) {
        let _ = writeln!(h, "<p>{side}{}.</p>", esc(&line));
    }
    for a in r.allowlist.iter().filter(|a| a.status == "expired") {
        let _ = writeln!(
            h,
            "<div class=\"gate\"><b>Gate:</b> {}</div>",
            rich(&crate::report::model::expired_message(a))
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

pub(super) fn findings_table(r: &Report, h: &mut String) {
    h.push_str("<section id=\"findings\"><h2>Findings</h2>\n");
    if r.findings.is_empty() {
        h.push_str("<p>No findings.</p></section>\n");
        return;
    }
    let incidents = crate::report::incidents(r);
    let _ = writeln!(
        h,
        "<p class=\"muted\">{} findings in {}, most specific cause first in report order: \
         each incident is a root finding and the findings it explains (their excess over the \
         baseline mostly disappears when the root's rows are set aside, or its column's shift \
         undone), folded under it.</p>",
        r.findings.len(),
        crate::report::text::count(incidents.len(), "incident")
    );
    for (n, inc) in incidents.iter().enumerate() {
        let root = &r.findings[inc.root];
        let explains = if inc.explains.is_empty() {
            String::new()
        } else {
            format!(
                " <small class=\"muted\">explains {}: {}</small>",
                inc.explains.len(),
                esc(&crate::report::explained_codes(r, inc))
            )
        };
        let _ = writeln!(
            h,
            "<details class=\"incident\" id=\"incident-{}\"><summary>{} {} {}{}</summary>",
            n + 1,
            severity_badge(inc.severity.name()),
            esc(&root.code),
            title_html(root),
            explains
        );
        h.push_str(
            "<table class=\"wide\"><tr><th class=\"num\">#</th><th>severity</th><th>code</th>\
             <th>finding</th><th class=\"num\">rows</th><th class=\"num\">baseline rows</th>\
             <th class=\"num\">q-value</th><th class=\"num\">excess rows</th>\
             <th class=\"num\">without the root</th></tr>\n",
        );
        let members = std::iter::once((inc.root, None))
            .chain(inc.explains.iter().map(|e| (e.finding, Some(e))));
        for (i, e) in members {
            let f = &r.findings[i];
            let _ = writeln!(
                h,
                "<tr><td class=\"num\"><a href=\"#{a}\">{n}</a></td><td>{}</td><td>{}</td><td>{}{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                severity_badge(f.severity.name()),
                esc(&f.code),
                if e.is_some() { "↳ " } else { "<b>root</b> " },
                title_html(f),
                thousands(f.rows),
                f.baseline_rows.map_or("–".into(), thousands),
                q_text(f.q_value),
                e.map_or("–".into(), |e| number(e.excess_rows)),
                e.map_or("–".into(), |e| number(e.excess_rows_without_root)),
                a = anchor(i),
                n = i + 1
            );
        }
        h.push_str("</table></details>\n");
    }
    h.push_str("</section>\n");
}

pub(super) fn slices_table(r: &Report, h: &mut String) {
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

pub(super) fn drift_section(r: &Report, drifted: &[(usize, Distribution)], h: &mut String) {
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

pub(super) fn scores_section(s: &crate::report::ScoreBins, h: &mut String) {
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

pub(super) fn columns_section(r: &Report, h: &mut String) {
    h.push_str(
        "<section id=\"columns\"><h2>Columns</h2>\n<table class=\"wide\"><tr><th>column</th>\
         <th>type</th><th>role</th><th class=\"num\">nulls</th><th class=\"num\">NaN</th>\
         <th class=\"num\">+inf</th><th class=\"num\">−inf</th><th class=\"num\">distinct</th>\
         <th class=\"num\">min</th><th class=\"num\">median</th><th class=\"num\">mean</th>\
         <th class=\"num\">std</th><th class=\"num\">max</th></tr>\n",
    );
    let opt = |x: Option<f64>| x.map_or("–".into(), number);
    for c in &r.profile.columns {
        let _ = writeln!(
            h,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&c.name),
            c.column_type,
            c.role,
            thousands(c.nulls),
            thousands(c.nan),
            thousands(c.pos_inf),
            thousands(c.neg_inf),
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

pub(super) fn sources_section(r: &Report, h: &mut String) {
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
