//! JUnit XML for CI dashboards: one test case per check, failed when the check found something at
//! or above the gate's level; its findings below the gate go to the test case's output.

use std::io::Write;

use super::model::FailOn;
use super::model::{CheckName, Finding};
use super::{Report, esc};

fn line(f: &Finding) -> String {
    let mut s = format!("[{}] {} {}", f.severity.name(), f.code, f.title);
    if let Some(a) = &f.accepted {
        s.push_str(&format!(
            " (accepted by allowlist entry {} until {}: {})",
            a.entry, a.expires, a.reason
        ));
    }
    s
}

/// `checks`: every check that could have run (the registry, in its order); those in `disabled`
/// were turned off by the config file and are reported as skipped. Expired allowlist entries
/// fail one more test case, `allowlist`.
pub fn write_junit(
    r: &Report,
    checks: &[CheckName],
    disabled: &std::collections::BTreeSet<String>,
    fail_on: FailOn,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let failing = |f: &Finding| f.accepted.is_none() && fail_on.fails(f.severity);
    let expired: Vec<&super::model::AllowStatus> = r
        .allowlist
        .iter()
        .filter(|a| a.status == "expired")
        .collect();
    let failures = checks
        .iter()
        .filter(|d| r.findings.iter().any(|f| f.code == d.code && failing(f)))
        .count()
        + usize::from(!expired.is_empty());
    let skipped = checks.iter().filter(|d| disabled.contains(d.code)).count();
    let tests = checks.len() + usize::from(!r.allowlist.is_empty());
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="poisonscan" tests="{tests}" failures="{failures}" errors="0">"#,
    )?;
    writeln!(
        out,
        r#"  <testsuite name="poisonscan {}" tests="{tests}" failures="{failures}" errors="0" skipped="{skipped}">"#,
        esc(r.tool.version),
    )?;
    writeln!(out, "    <properties>")?;
    for (k, v) in [
        ("verdict", r.verdict.name().to_string()),
        ("fail_on", r.fail_on.name().to_string()),
        ("rows", r.dataset.rows.to_string()),
        (
            "baseline_rows",
            r.baseline
                .as_ref()
                .map_or("none".into(), |b| b.rows.to_string()),
        ),
    ] {
        writeln!(out, r#"      <property name="{k}" value="{}"/>"#, esc(&v))?;
    }
    writeln!(out, "    </properties>")?;
    for d in checks {
        let family: String = d
            .code
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        let mine: Vec<&Finding> = r.findings.iter().filter(|f| f.code == d.code).collect();
        let (fail, below): (Vec<&Finding>, Vec<&Finding>) =
            mine.into_iter().partition(|f| failing(f));
        write!(
            out,
            r#"    <testcase classname="poisonscan.{}" name="{} {}""#,
            esc(&family),
            esc(d.code),
            esc(d.check)
        )?;
        if disabled.contains(d.code) {
            writeln!(out, ">")?;
            writeln!(
                out,
                r#"      <skipped message="turned off in the config file"/>"#
            )?;
            writeln!(out, "    </testcase>")?;
            continue;
        }
        if fail.is_empty() && below.is_empty() {
            writeln!(out, "/>")?;
            continue;
        }
        writeln!(out, ">")?;
        if let Some(top) = fail.first() {
            let body: Vec<String> = fail.iter().map(|f| esc(&line(f))).collect();
            writeln!(
                out,
                r#"      <failure type="{}" message="{}">{}</failure>"#,
                top.severity.name(),
                esc(&top.title),
                body.join("\n")
            )?;
        }
        if !below.is_empty() {
            let body: Vec<String> = below.iter().map(|f| esc(&line(f))).collect();
            writeln!(out, "      <system-out>{}</system-out>", body.join("\n"))?;
        }
        writeln!(out, "    </testcase>")?;
    }
    if !r.allowlist.is_empty() {
        write!(
            out,
            r#"    <testcase classname="poisonscan.allowlist" name="allowlist""#
        )?;
        if expired.is_empty() {
            writeln!(out, "/>")?;
        } else {
            writeln!(out, ">")?;
            let body: Vec<String> = expired
                .iter()
                .map(|a| esc(&super::model::expired_message(a)))
                .collect();
            writeln!(
                out,
                r#"      <failure type="expired" message="{}">{}</failure>"#,
                esc(&format!("{} allowlist entries expired", expired.len())),
                body.join("\n")
            )?;
            writeln!(out, "    </testcase>")?;
        }
    }
    writeln!(out, "  </testsuite>")?;
    writeln!(out, "</testsuites>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(
            esc(r#"a<b & "c" 'd'> e"#),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt; e"
        );
        assert_eq!(esc("x\u{1}y\tz"), "x y\tz");
    }
}
