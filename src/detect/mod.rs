//! Detectors turn profiles into findings. Each is pure (profiles in, findings out: no IO, no
//! printing), has a stable code that is never reused, and a documentation block that
//! `poisonscan explain CODE` prints. The registry lists them in code order.

use serde::Serialize;

use crate::profile::Profile;

/// How bad a finding is. Ordered: `High` > `Medium` > `Low` > `Info`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
        }
    }
}

/// A predicate of a slice (see the report contract for the operators).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Predicate {
    pub column: String,
    pub op: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub low: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub high: Option<f64>,
}

impl Predicate {
    pub fn eq(column: &str, value: impl Into<serde_json::Value>) -> Predicate {
        Predicate {
            column: column.to_string(),
            op: "eq",
            value: Some(value.into()),
            values: None,
            low: None,
            high: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NamedValue {
    pub name: String,
    pub value: f64,
}

/// A row by provenance: its source file and its index within that file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowRef {
    pub source: String,
    pub row: u64,
}

/// One finding, as it appears in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub code: String,
    pub check: String,
    pub severity: Severity,
    pub score: f64,
    pub title: String,
    pub columns: Vec<String>,
    pub slice: Vec<Predicate>,
    pub sources: Vec<String>,
    pub rows: u64,
    pub baseline_rows: Option<u64>,
    pub statistic: Option<NamedValue>,
    pub p_value: Option<f64>,
    pub q_value: Option<f64>,
    pub effect: Option<NamedValue>,
    pub example_rows: Vec<RowRef>,
    pub evidence: serde_json::Map<String, serde_json::Value>,
}

impl Finding {
    /// A finding with the required fields set and everything else empty.
    pub fn new(code: &str, check: &str, severity: Severity, score: f64, title: String) -> Finding {
        Finding {
            code: code.to_string(),
            check: check.to_string(),
            severity,
            score,
            title,
            columns: Vec::new(),
            slice: Vec::new(),
            sources: Vec::new(),
            rows: 0,
            baseline_rows: None,
            statistic: None,
            p_value: None,
            q_value: None,
            effect: None,
            example_rows: Vec::new(),
            evidence: serde_json::Map::new(),
        }
    }
}

/// What a detector sees.
pub struct Context<'a> {
    pub current: &'a Profile,
    pub baseline: Option<&'a Profile>,
}

/// A check with a stable code.
pub trait Detector: Sync {
    /// Stable code, e.g. `DRF001`.
    fn code(&self) -> &'static str;
    /// Short kebab-case name, e.g. `numeric-drift`.
    fn check(&self) -> &'static str;
    /// What it finds, why it matters, an example, its defaults (printed by `explain`).
    fn doc(&self) -> &'static str;
    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding>;
}

/// The detectors that run in every scan, in code order. The checks arrive with the detector
/// issues (INT, SCH, DUP, DRF, LBL, TRG, OUT, SLC); the machinery around them is tested with a
/// test-only detector.
pub fn registry() -> Vec<&'static dyn Detector> {
    Vec::new()
}

/// Look a detector up by code, case-insensitively.
pub fn find(code: &str, extra: &[&'static dyn Detector]) -> Option<&'static dyn Detector> {
    registry()
        .into_iter()
        .chain(extra.iter().copied())
        .find(|d| d.code().eq_ignore_ascii_case(code))
}

/// Run detectors and order their findings: severity (high first), then score (high first),
/// then code and title, so the order is total and stable.
pub fn run(detectors: &[&dyn Detector], ctx: &Context<'_>) -> Vec<Finding> {
    let mut findings: Vec<Finding> = detectors.iter().flat_map(|d| d.detect(ctx)).collect();
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(b.score.total_cmp(&a.score))
            .then_with(|| a.code.cmp(&b.code))
            .then_with(|| a.title.cmp(&b.title))
    });
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_order() {
        assert!(Severity::High > Severity::Medium);
        assert!(Severity::Low > Severity::Info);
        assert_eq!(
            serde_json::to_string(&Severity::Medium).unwrap(),
            "\"medium\""
        );
    }
}
