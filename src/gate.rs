//! The gate: a policy turns the findings into a verdict and an exit code
//! (0 passed, 1 failed; 2 is for runs that could not complete and never comes from here).

use serde::Serialize;

use crate::config::{Allow, Date};
use crate::detect::{Accepted, Finding, Severity};

/// The lowest severity that fails the gate, or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    High,
    Medium,
    Low,
    Never,
}

impl FailOn {
    pub fn name(self) -> &'static str {
        match self {
            FailOn::High => "high",
            FailOn::Medium => "medium",
            FailOn::Low => "low",
            FailOn::Never => "never",
        }
    }

    pub fn parse(s: &str) -> Option<FailOn> {
        match s {
            "high" => Some(FailOn::High),
            "medium" => Some(FailOn::Medium),
            "low" => Some(FailOn::Low),
            "never" => Some(FailOn::Never),
            _ => None,
        }
    }

    /// Whether a finding of this severity fails the gate.
    pub fn fails(self, s: Severity) -> bool {
        self.threshold().is_some_and(|t| s >= t)
    }

    fn threshold(self) -> Option<Severity> {
        match self {
            FailOn::High => Some(Severity::High),
            FailOn::Medium => Some(Severity::Medium),
            FailOn::Low => Some(Severity::Low),
            FailOn::Never => None,
        }
    }
}

/// The gate's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
        }
    }

    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Pass => 0,
            Verdict::Fail => 1,
        }
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

/// An allowlist entry as the report shows it: what it accepts, why, until when, whether it has
/// expired and how many findings it accepted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AllowStatus {
    pub entry: usize,
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slice: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub reason: String,
    pub expires: String,
    /// `active` or `expired`.
    pub status: &'static str,
    /// Findings this entry accepted (an expired entry accepts none).
    pub matched: u64,
    /// The entry in words, for messages.
    pub description: String,
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

/// The message for an expired entry.
pub fn expired_message(a: &AllowStatus) -> String {
    format!(
        "allowlist entry {} has expired: it accepted findings until {} (reason given: {}); the gate fails until the entry is renewed with a later `expires` or removed",
        a.description, a.expires, a.reason
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
