//! The human summary printed on stdout: what was read, the columns and their roles, the label
//! balance, duplicates, the top findings and the verdict.

use std::io::Write;

use super::Report;
use super::safe::plain;

/// Findings listed in full before the rest are counted.
const TOP: usize = 10;

/// `1 incident`, `2 incidents`.
pub(crate) fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A count with thousands separators: 21,700.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// "1 file", "4 files".
pub(super) fn files(n: usize) -> String {
    format!("{n} file{}", if n == 1 { "" } else { "s" })
}

/// Each label's rows and share of the labelled rows, in label order.
pub(super) fn label_shares(r: &Report) -> Vec<(&str, u64, String)> {
    let total: u64 = r.profile.label_counts.values().sum();
    r.profile
        .label_counts
        .iter()
        .map(|(k, &v)| {
            // A numeric target's rows are keyed by whether it has a value.
            let name = if k == crate::profile::NUMERIC_LABEL {
                "(numeric target) a value"
            } else {
                k.as_str()
            };
            (name, v, pct(v, total))
        })
        .collect()
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".into();
    }
    format!("{:.1}%", 100.0 * part as f64 / whole as f64)
}

/// A share of missing values: `0` for none and `<0.1%` for a few, never a `0.0%` that hides
/// them.
fn missing_pct(part: u64, whole: u64) -> String {
    match part {
        0 => "0".into(),
        _ if 1000 * part < whole => "<0.1%".into(),
        _ => pct(part, whole),
    }
}

/// The input columns left out, each with its status and reason: `` `a` (excluded: listed in
/// exclude)``.
pub(crate) fn left_out_list(left_out: &[crate::ingest::LeftOut]) -> String {
    left_out
        .iter()
        .map(|l| {
            let status = match l.status {
                crate::ingest::LeftOutStatus::Excluded => "excluded",
                crate::ingest::LeftOutStatus::Rejected => "rejected",
            };
            format!("`{}` ({status}: {})", l.column, l.reason)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Per side that left input columns out (the data, then the baseline, whose label is
/// `Baseline: `): `N of M input columns profiled; left out: …`, the list as
/// [`left_out_list`] writes it, for the caller to escape.
pub(crate) fn accounting(r: &Report) -> Vec<(&'static str, String)> {
    let d = &r.dataset;
    std::iter::once(("", d.columns, d.input_columns, &d.left_out))
        .chain(
            r.baseline
                .iter()
                .map(|b| ("Baseline: ", b.columns, b.input_columns, &b.left_out)),
        )
        .filter(|s| !s.3.is_empty())
        .map(|(side, columns, input, left_out)| {
            (
                side,
                format!(
                    "{columns} of {input} input columns profiled; left out: {}",
                    left_out_list(left_out)
                ),
            )
        })
        .collect()
}

fn num(x: Option<f64>) -> String {
    match x {
        None => "-".into(),
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", v as i64),
        Some(v) => format!("{v}"),
    }
}

pub fn write_text(r: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let d = &r.dataset;
    writeln!(
        out,
        "poisonscan {}: {} rows × {} columns from {}",
        r.tool.version,
        thousands(d.rows),
        d.columns,
        files(d.sources.len())
    )?;
    if !d.left_out.is_empty() {
        writeln!(
            out,
            "columns: {} of {} input columns profiled; left out: {}",
            d.columns,
            d.input_columns,
            plain(&left_out_list(&d.left_out))
        )?;
    }
    match &r.baseline {
        Some(b) => {
            writeln!(
                out,
                "baseline: {} rows from {}",
                thousands(b.rows),
                files(b.sources.len())
            )?;
            if !b.left_out.is_empty() {
                writeln!(
                    out,
                    "baseline columns: {} of {} input columns profiled; left out: {}",
                    b.columns,
                    b.input_columns,
                    plain(&left_out_list(&b.left_out))
                )?;
            }
        }
        None => writeln!(
            out,
            "baseline: none (checks that compare with a baseline are skipped)"
        )?,
    }
    if let Some(label) = &d.label {
        let parts: Vec<String> = label_shares(r)
            .into_iter()
            .map(|(k, v, share)| format!("{} {share} ({})", plain(k), thousands(v)))
            .collect();
        writeln!(out, "label `{}`: {}", plain(label), parts.join(" · "))?;
    }
    writeln!(out)?;
    let w = r
        .profile
        .columns
        .iter()
        .map(|c| plain(&c.name).chars().count())
        .max()
        .unwrap_or(4)
        .clamp(6, 32);
    writeln!(
        out,
        "  {:<w$}  {:<9}  {:<15}  {:>7}  {:>6}  {:>6}  {:>9}  {:>12}  {:>12}  {:>12}",
        "column", "type", "role", "nulls", "NaN", "±inf", "distinct", "min", "median", "max"
    )?;
    for c in &r.profile.columns {
        let name: String = plain(&c.name).chars().take(w).collect();
        writeln!(
            out,
            "  {:<w$}  {:<9}  {:<15}  {:>7}  {:>6}  {:>6}  {:>9}  {:>12}  {:>12}  {:>12}",
            name,
            c.column_type,
            c.role,
            missing_pct(c.nulls, d.rows),
            missing_pct(c.nan, d.rows),
            missing_pct(c.pos_inf + c.neg_inf, d.rows),
            thousands(c.distinct),
            num(c.min),
            num(c.median),
            num(c.max)
        )?;
    }
    let dup = &r.profile.duplicates;
    writeln!(out)?;
    writeln!(
        out,
        "duplicates: {} rows repeat an earlier row ({}), in {} groups (largest {}); {} groups of identical features carry conflicting labels",
        thousands(dup.duplicate_rows),
        pct(dup.duplicate_rows, d.rows),
        thousands(dup.groups),
        thousands(dup.largest_group),
        thousands(dup.conflicting_groups)
    )?;
    writeln!(out)?;
    let c = &r.counts;
    if r.findings.is_empty() {
        writeln!(out, "findings: none")?;
    } else {
        writeln!(
            out,
            "findings: {} high · {} medium · {} low · {} info, in {} (a cause and what it explains)",
            c.high,
            c.medium,
            c.low,
            c.info,
            count(super::incidents(r).len(), "incident")
        )?;
        let incidents = super::incidents(r);
        for inc in incidents.iter().take(TOP) {
            let f = &r.findings[inc.root];
            writeln!(
                out,
                "  [{:<6}] {}  {}",
                inc.severity.name().to_uppercase(),
                f.code,
                plain(&f.title)
            )?;
            if !inc.explains.is_empty() {
                writeln!(
                    out,
                    "            explains {}: {}",
                    inc.explains.len(),
                    super::explained_codes(r, inc)
                )?;
            }
            if let Some(a) = &f.accepted {
                writeln!(
                    out,
                    "            accepted by allowlist entry {} until {}: {}",
                    a.entry,
                    a.expires,
                    plain(&a.reason)
                )?;
            }
        }
        if incidents.len() > TOP {
            let rest: usize = incidents[TOP..].iter().map(|i| 1 + i.explains.len()).sum();
            writeln!(
                out,
                "  … and {} more ({}) in the JSON report (--format json or --out DIR)",
                count(incidents.len() - TOP, "incident"),
                count(rest, "finding")
            )?;
        }
    }
    let accepted = r.findings.iter().filter(|f| f.accepted.is_some()).count();
    if accepted > 0 {
        writeln!(
            out,
            "allowlist: {accepted} findings accepted (reported, not failing the gate)"
        )?;
    }
    for a in r.allowlist.iter().filter(|a| a.status == "expired") {
        writeln!(out, "GATE: {}", plain(&super::model::expired_message(a)))?;
    }
    writeln!(
        out,
        "verdict: {} (fail-on {})",
        r.verdict.name().to_uppercase(),
        r.fail_on.name()
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(12), "12");
        assert_eq!(pct(1, 3), "33.3%");
        assert_eq!(num(Some(3.0)), "3");
        assert_eq!(num(Some(2.5)), "2.5");
    }
}
