//! The gate: a policy turns the findings into a verdict and an exit code
//! (0 passed, 1 failed; 2 is for runs that could not complete and never comes from here).

use crate::report::model::{Accepted, Finding};
pub use crate::report::model::{AllowStatus, Date, FailOn, Verdict, expired_message};

/// One predicate of an allowlisted slice, as the report's `slice` writes it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AllowPredicate {
    pub column: String,
    pub op: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub low: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub high: Option<f64>,
}

/// An accepted finding: it is reported but does not fail the gate until `expires`.
#[derive(Debug, Clone, PartialEq)]
pub struct Allow {
    /// Position in the config file (1-based), for messages.
    pub entry: usize,
    pub code: String,
    /// The finding's first column must be this one.
    pub column: Option<String>,
    /// The finding's slice must be exactly this conjunction (in any order).
    pub slice: Option<Vec<AllowPredicate>>,
    /// One of the finding's sources must be this file (or end with `/` and this path).
    pub source: Option<String>,
    pub reason: String,
    pub expires: Date,
}

impl Allow {
    /// Whether the entry has expired on `today` (an entry is good through its expiry date).
    pub fn expired(&self, today: Date) -> bool {
        today > self.expires
    }

    /// Whether this entry accepts finding `f` (whatever the date).
    pub fn matches(&self, f: &Finding) -> bool {
        if f.code != self.code {
            return false;
        }
        if let Some(c) = &self.column
            && f.columns.first() != Some(c)
        {
            return false;
        }
        if let Some(src) = &self.source
            && !f
                .sources
                .iter()
                .any(|s| s == src || s.ends_with(&format!("/{src}")))
        {
            return false;
        }
        if let Some(slice) = &self.slice {
            if slice.len() != f.slice.len() {
                return false;
            }
            let same = |a: &AllowPredicate, p: &crate::report::model::Predicate| {
                a.column == p.column
                    && a.op == p.op
                    && same_value(a.value.as_deref(), p.value.as_ref())
                    && match (&a.values, &p.values) {
                        (None, None) => true,
                        (Some(a), Some(b)) => {
                            a.len() == b.len()
                                && a.iter().zip(b).all(|(x, y)| same_value(Some(x), Some(y)))
                        }
                        _ => false,
                    }
                    && a.low == p.low
                    && a.high == p.high
            };
            if !slice.iter().all(|a| f.slice.iter().any(|p| same(a, p))) {
                return false;
            }
        }
        true
    }

    /// The entry in words: `DRF002 on `ANC``.
    pub fn describe(&self) -> String {
        let mut s = format!("#{} {}", self.entry, self.code);
        if let Some(c) = &self.column {
            s.push_str(&format!(" on `{c}`"));
        }
        if let Some(sl) = &self.slice {
            let parts: Vec<String> = sl
                .iter()
                .map(|p| {
                    let v = p
                        .value
                        .clone()
                        .or_else(|| p.values.as_ref().map(|v| v.join(", ")))
                        .unwrap_or_default();
                    format!("`{}` {} {}", p.column, p.op, v)
                        .trim_end()
                        .to_string()
                })
                .collect();
            s.push_str(&format!(" where {}", parts.join(" and ")));
        }
        if let Some(src) = &self.source {
            s.push_str(&format!(" in `{src}`"));
        }
        s
    }
}

/// A value written in the config (a string, number or boolean) against a report value: equal
/// as numbers when both are numbers, else as text.
fn same_value(a: Option<&str>, b: Option<&serde_json::Value>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            let text = match b {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            match (a.parse::<f64>(), text.parse::<f64>()) {
                (Ok(x), Ok(y)) => x == y,
                _ => a == text,
            }
        }
        _ => false,
    }
}

/// What the gate decides on: the level that fails it. (The allowlist has already marked the
/// findings it accepts and the entries that expired, in the report.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub fail_on: FailOn,
}

/// The gate, a pure function of a report and a policy: fail when a finding the allowlist did not
/// accept is at or above `policy.fail_on`, or when an allowlist entry has expired.
///
/// ```
/// # fn demo(report: &poisonscan::Report) {
/// use poisonscan::gate::{FailOn, Policy, gate};
/// let verdict = gate(report, &Policy { fail_on: FailOn::Medium });
/// std::process::exit(verdict.exit_code());
/// # }
/// ```
pub fn gate(report: &crate::report::Report, policy: &Policy) -> Verdict {
    verdict(&report.findings, policy.fail_on, &report.allowlist)
}

/// Fail when any finding not accepted by the allowlist is at or above the threshold, or when
/// an allowlist entry has expired (an acceptance nobody renewed is a decision nobody made).
pub fn verdict(findings: &[Finding], fail_on: FailOn, allowlist: &[AllowStatus]) -> Verdict {
    if findings
        .iter()
        .any(|f| f.accepted.is_none() && fail_on.fails(f.severity))
        || allowlist.iter().any(|a| a.status == "expired")
    {
        Verdict::Fail
    } else {
        Verdict::Pass
    }
}

/// Mark the findings the allowlist accepts (the first active entry that matches each) and
/// return every entry's status on `today`.
pub fn apply_allowlist(findings: &mut [Finding], allow: &[Allow], today: Date) -> Vec<AllowStatus> {
    let mut matched = vec![0u64; allow.len()];
    for f in findings.iter_mut() {
        if let Some((i, a)) = allow
            .iter()
            .enumerate()
            .find(|(_, a)| !a.expired(today) && a.matches(f))
        {
            matched[i] += 1;
            f.accepted = Some(Accepted {
                entry: a.entry,
                reason: a.reason.clone(),
                expires: a.expires.to_string(),
            });
        }
    }
    allow
        .iter()
        .zip(matched)
        .map(|(a, matched)| AllowStatus {
            entry: a.entry,
            code: a.code.clone(),
            column: a.column.clone(),
            slice: a
                .slice
                .as_ref()
                .and_then(|sl| serde_json::to_value(sl).ok()),
            source: a.source.clone(),
            reason: a.reason.clone(),
            expires: a.expires.to_string(),
            status: if a.expired(today) {
                "expired"
            } else {
                "active"
            },
            matched,
            description: a.describe(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::Severity;

    fn f(s: Severity) -> Finding {
        Finding::new("TST001", "test", s, 0.5, "t".into())
    }

    #[test]
    fn thresholds() {
        let medium = vec![f(Severity::Info), f(Severity::Medium)];
        assert_eq!(verdict(&medium, FailOn::High, &[]), Verdict::Pass);
        assert_eq!(verdict(&medium, FailOn::Medium, &[]), Verdict::Fail);
        assert_eq!(verdict(&medium, FailOn::Low, &[]), Verdict::Fail);
        assert_eq!(verdict(&medium, FailOn::Never, &[]), Verdict::Pass);
        assert_eq!(verdict(&[], FailOn::Low, &[]), Verdict::Pass);
        assert_eq!(
            verdict(&[f(Severity::Info)], FailOn::Low, &[]),
            Verdict::Pass
        );
        assert_eq!(Verdict::Fail.exit_code(), 1);
    }

    #[test]
    fn accepted_findings_pass_and_expired_entries_fail() {
        let checks: Vec<&dyn crate::detect::Detector> = vec![&Tst];
        let c = crate::config::Config::parse(
            r#"
[[allow]]
code = "TST001"
column = "a"
reason = "accepted on review"
expires = 2026-06-30

[[allow]]
code = "TST001"
column = "b"
reason = "old"
expires = 2026-01-31
"#,
            &checks,
        )
        .unwrap();
        let mut fs = vec![f(Severity::High), f(Severity::High)];
        fs[0].columns = vec!["a".into()];
        fs[1].columns = vec!["c".into()];
        let day = |s: &str| Date::parse(s).unwrap();
        // Before either expiry: the finding on `a` is accepted, the one on `c` still fails.
        let st = apply_allowlist(&mut fs, &c.allow, day("2026-01-31"));
        assert_eq!(fs[0].accepted.as_ref().unwrap().entry, 1);
        assert!(fs[1].accepted.is_none());
        assert_eq!(
            (st[0].matched, st[0].status, st[1].status),
            (1, "active", "active")
        );
        assert_eq!(verdict(&fs, FailOn::High, &st), Verdict::Fail);
        assert_eq!(verdict(&fs[..1], FailOn::High, &st), Verdict::Pass);
        // Entry 2 expired: the gate fails even though it matches nothing.
        let mut one = vec![fs[0].clone()];
        one[0].accepted = None;
        let st = apply_allowlist(&mut one, &c.allow, day("2026-02-01"));
        assert_eq!(st[1].status, "expired");
        assert_eq!(verdict(&one, FailOn::High, &st), Verdict::Fail);
        assert!(expired_message(&st[1]).contains("2026-01-31"));
        // Both expired: nothing is accepted any more.
        one[0].accepted = None;
        let st = apply_allowlist(&mut one, &c.allow, day("2026-07-01"));
        assert!(one[0].accepted.is_none());
        assert_eq!(st[0].matched, 0);
    }

    struct Tst;
    impl crate::detect::Detector for Tst {
        fn code(&self) -> &'static str {
            "TST001"
        }
        fn check(&self) -> &'static str {
            "test"
        }
        fn doc(&self) -> &'static str {
            ""
        }
        fn detect(&self, _: &crate::detect::Context<'_>) -> Vec<Finding> {
            Vec::new()
        }
    }
}
