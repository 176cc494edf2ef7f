//! The gate: a policy turns the findings into a verdict and an exit code
//! (0 passed, 1 failed; 2 is for runs that could not complete and never comes from here).

use crate::detect::{Finding, Severity};

/// The lowest severity that fails the gate, or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// Fail when any finding is at or above the threshold.
pub fn verdict(findings: &[Finding], fail_on: FailOn) -> Verdict {
    if findings.iter().any(|f| fail_on.fails(f.severity)) {
        Verdict::Fail
    } else {
        Verdict::Pass
    }
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
        assert_eq!(verdict(&medium, FailOn::High), Verdict::Pass);
        assert_eq!(verdict(&medium, FailOn::Medium), Verdict::Fail);
        assert_eq!(verdict(&medium, FailOn::Low), Verdict::Fail);
        assert_eq!(verdict(&medium, FailOn::Never), Verdict::Pass);
        assert_eq!(verdict(&[], FailOn::Low), Verdict::Pass);
        assert_eq!(verdict(&[f(Severity::Info)], FailOn::Low), Verdict::Pass);
        assert_eq!(Verdict::Fail.exit_code(), 1);
    }
}
