//! The report model: what a finding is (code, severity, predicates, evidence), how numbers are
//! rounded for it, the gate's levels and verdict, and dates. Detectors produce these values,
//! writers and the gate read them; this module depends on none of them.

use std::fmt;

use serde::Serialize;

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
    pub(crate) fn with_op(column: &str, op: &'static str) -> Predicate {
        Predicate {
            column: column.to_string(),
            op,
            value: None,
            values: None,
            low: None,
            high: None,
        }
    }

    pub fn eq(column: &str, value: impl Into<serde_json::Value>) -> Predicate {
        Predicate {
            value: Some(value.into()),
            ..Predicate::with_op(column, "eq")
        }
    }

    pub fn is_in(column: &str, values: Vec<serde_json::Value>) -> Predicate {
        Predicate {
            values: Some(values),
            ..Predicate::with_op(column, "in")
        }
    }

    pub fn lt(column: &str, value: f64) -> Predicate {
        Predicate {
            value: Some(exact_num(value)),
            ..Predicate::with_op(column, "lt")
        }
    }

    pub fn gt(column: &str, value: f64) -> Predicate {
        // `gt` is not an operator of the contract: "greater than x" is "not below the next
        // float up", written as `ge` of the next representable value.
        Predicate {
            value: Some(exact_num(next_up(value))),
            ..Predicate::with_op(column, "ge")
        }
    }

    /// `low ≤ column < high`.
    pub fn between(column: &str, low: f64, high: f64) -> Predicate {
        Predicate {
            low: Some(low),
            high: Some(high),
            ..Predicate::with_op(column, "between")
        }
    }

    /// `column ≥ value`.
    pub fn ge(column: &str, value: f64) -> Predicate {
        Predicate {
            value: Some(exact_num(value)),
            ..Predicate::with_op(column, "ge")
        }
    }

    pub fn is_null(column: &str) -> Predicate {
        Predicate::with_op(column, "is_null")
    }
}

/// The smallest float above `x`.
pub fn next_up(x: f64) -> f64 {
    if x.is_nan() || x == f64::INFINITY {
        return x;
    }
    if x == 0.0 {
        return f64::from_bits(1);
    }
    let b = x.to_bits();
    f64::from_bits(if x > 0.0 { b + 1 } else { b - 1 })
}

/// A float as a JSON number, unrounded (slice bounds must select exactly the rows they name).
pub(crate) fn exact_num(x: f64) -> serde_json::Value {
    serde_json::Number::from_f64(x)
        .map(serde_json::Value::Number)
        .unwrap_or_else(|| serde_json::Value::String(format!("{x}")))
}

/// A float as a JSON number, rounded once for the report (non-finite values as strings).
pub fn json_num(x: f64) -> serde_json::Value {
    serde_json::Number::from_f64(round(x))
        .map(serde_json::Value::Number)
        .unwrap_or_else(|| serde_json::Value::String(format!("{x}")))
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
    /// Added field: the allowlist entry that accepted the finding (reported, does not fail the
    /// gate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted: Option<Accepted>,
    /// Added field: the index of the incident (in the report's `incidents`) the finding belongs
    /// to, as its root or explained by it. Set by the engine once every check has run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident: Option<usize>,
    /// Added field: the profile the finding compares the current data with when it is not the
    /// baseline: the last accepted night of a history (`scan --history`), by its name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub against: Option<String>,
}

/// Findings one cause explains (see `detect::incidents` for the rule): the root finding, the
/// findings it explains, and what they involve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    /// The highest severity among the incident's findings.
    pub severity: Severity,
    /// The root finding's index in `findings`, its code and title.
    pub root: usize,
    pub code: String,
    pub title: String,
    /// The root finding's rows.
    pub rows: u64,
    /// The current rows set aside to measure what the root explains (estimated from the
    /// sample), or null when the root's rows could not be located.
    pub rows_set_aside: Option<f64>,
    /// For a root that is a whole-data drift of a numeric column: the column whose shift was
    /// undone (current values mapped to the baseline's quantiles) to measure what it explains.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shift_undone: Option<String>,
    /// The findings the root explains, in report order.
    pub explains: Vec<Explained>,
    /// Every column and source the incident's findings name.
    pub columns: Vec<String>,
    pub sources: Vec<String>,
}

/// A finding an incident's root explains, with the measurement: its excess rows over the
/// baseline (estimated from the samples), with and without the root's rows (or, for a shift
/// root, with the column's shift undone).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explained {
    pub finding: usize,
    pub excess_rows: f64,
    pub excess_rows_without_root: f64,
}

/// Why a finding does not fail the gate: the allowlist entry (1-based), its reason and expiry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Accepted {
    pub entry: usize,
    pub reason: String,
    pub expires: String,
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
            accepted: None,
            incident: None,
            against: None,
        }
    }
}

/// Round to 6 significant digits: stable across platforms and plenty for a report.
pub fn round(x: f64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    // Through decimal text, so the result is the double nearest to the 6-digit decimal and
    // prints as that decimal.
    format!("{x:.5e}").parse().unwrap_or(x)
}

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

/// The message for an expired entry.
pub fn expired_message(a: &AllowStatus) -> String {
    format!(
        "allowlist entry {} has expired: it accepted findings until {} (reason given: {}); the gate fails until the entry is renewed with a later `expires` or removed",
        a.description, a.expires, a.reason
    )
}

/// A calendar date (UTC), as allowlist expiry dates are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Date {
    /// Parse `YYYY-MM-DD` (a TOML date literal or a string).
    pub fn parse(s: &str) -> Option<Date> {
        let mut it = s.trim().splitn(3, '-');
        let year: i32 = it.next()?.parse().ok()?;
        let month: u32 = it.next()?.parse().ok()?;
        let day: u32 = it.next()?.parse().ok()?;
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        (1..=days)
            .contains(&day)
            .then_some(Date { year, month, day })
    }

    /// The date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
    pub fn from_days(z: i64) -> Date {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }

    /// Today, in UTC.
    pub fn today() -> Date {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Date::from_days(secs.div_euclid(86_400))
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// A check as reports name it: its code and its name (JUnit lists every check that could run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckName {
    pub code: &'static str,
    pub check: &'static str,
}
