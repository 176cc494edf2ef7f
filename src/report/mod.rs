//! The report model (the JSON contract, `schema_version` 1) and its writers. Floats are rounded
//! once, here, so the same inputs give the same bytes. Everything that varies between identical
//! runs (time, duration, threads) lives in `run`.

mod html;
mod junit;
mod markdown;
pub mod model;
pub mod safe;
mod schema;
pub(crate) mod text;

use std::collections::BTreeMap;

use serde::Serialize;

pub use self::html::write_html;
pub use self::junit::write_junit;
pub use self::markdown::{predicate_text, write_markdown};
pub use self::model::round;
use self::model::{AllowStatus, FailOn, Finding, Incident, NamedValue, Severity, Verdict};
pub use self::schema::{REPORT_SCHEMA, ROWS_SCHEMA};
pub use self::text::{thousands, write_text};
use crate::ingest::LeftOut;
use crate::profile::{Duplicates, Profile};

pub const REPORT_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    pub run: Run,
    pub dataset: DatasetInfo,
    pub baseline: Option<BaselineInfo>,
    pub verdict: Verdict,
    pub fail_on: FailOn,
    pub counts: Counts,
    pub findings: Vec<Finding>,
    /// Added field: the findings grouped by the cause that explains them (each finding is in
    /// exactly one incident, as its root or explained by it), in the order of their first
    /// finding.
    pub incidents: Vec<Incident>,
    /// Added field (the contract allows additions): what the profile says of the current data.
    pub profile: ProfileSummary,
    /// Added field: the drift test of every column compared with the baseline (empty without
    /// one), whether or not it made a finding.
    pub drift: Vec<DriftRow>,
    /// Added field: the row scores of every current row binned in 20 equal bins over [0, 1]
    /// (`outlier` from `outlier_score`, `label_issue` from `label_issue_score`, rows without a
    /// score left out), when the row pass ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scores: Option<ScoreBins>,
    /// Added field: the config file's allowlist entries, each active or expired, with the
    /// findings it accepted (absent without entries).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowlist: Vec<AllowStatus>,
}

/// Row counts per score bin (bin i holds scores in [i/20, (i+1)/20), the last also 1).
#[derive(Debug, Clone, Serialize)]
pub struct ScoreBins {
    pub bins: usize,
    pub outlier: Vec<u64>,
    pub label_issue: Vec<u64>,
    /// Added field: a row is an outlier above this `outlier_score` (OUT001's threshold, the
    /// baseline's 99.5th percentile).
    pub outlier_threshold: f64,
    /// Added field: a row's label is an issue at or above this `label_issue_score` (LBL002).
    pub label_issue_threshold: f64,
}

/// One column's drift test (see DRF001 and DRF002).
#[derive(Debug, Clone, Serialize)]
pub struct DriftRow {
    pub column: String,
    pub kind: &'static str,
    pub effect: NamedValue,
    pub statistic: NamedValue,
    pub p_value: f64,
    pub q_value: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub started_at: String,
    pub duration_ms: u64,
    pub threads: usize,
    pub seed: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceInfo {
    pub path: String,
    pub rows: u64,
    pub blake3: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DatasetInfo {
    pub rows: u64,
    pub columns: usize,
    pub label: Option<String>,
    /// Added field: what the label holds, `class` or `numeric` (a regression target); null
    /// without a label.
    pub label_type: Option<&'static str>,
    pub sources: Vec<SourceInfo>,
    /// Added field: the columns of the input (the files' and the partition keys', or the
    /// batches'): `columns` profiled plus `left_out`.
    pub input_columns: usize,
    /// Added field: each input column not profiled, excluded on request or rejected, and why.
    pub left_out: Vec<LeftOut>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BaselineInfo {
    pub rows: u64,
    pub sources: Vec<String>,
    /// Added field: the baseline's profiled columns.
    pub columns: usize,
    /// Added field: its input columns, `columns` plus `left_out`.
    pub input_columns: usize,
    /// Added field: each input column of the baseline not profiled, and why.
    pub left_out: Vec<LeftOut>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub high: u64,
    pub medium: u64,
    pub low: u64,
    pub info: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ColumnSummary {
    pub name: String,
    #[serde(rename = "type")]
    pub column_type: &'static str,
    pub role: &'static str,
    pub nulls: u64,
    /// Added field: NaN values (numeric columns; 0 otherwise). Not nulls.
    pub nan: u64,
    /// Added field: +infinity values.
    pub pos_inf: u64,
    /// Added field: −infinity values.
    pub neg_inf: u64,
    pub distinct: u64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    pub median: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProfileSummary {
    pub columns: Vec<ColumnSummary>,
    pub label_counts: BTreeMap<String, u64>,
    pub duplicates: Duplicates,
}

/// Text escaped for XML and HTML attributes and content (the JUnit and HTML reports).
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn round_opt(x: Option<f64>) -> Option<f64> {
    x.map(round)
}

/// A finding with its numbers rounded as the report writes them (`round`). The allowlist is
/// matched on findings so rounded, the form a user copies.
pub fn round_finding(mut f: Finding) -> Finding {
    f.score = round(f.score);
    f.p_value = round_opt(f.p_value);
    f.q_value = round_opt(f.q_value);
    if let Some(s) = f.statistic.as_mut() {
        s.value = round(s.value);
    }
    if let Some(e) = f.effect.as_mut() {
        e.value = round(e.value);
    }
    for p in &mut f.slice {
        p.low = round_opt(p.low);
        p.high = round_opt(p.high);
    }
    f
}

pub fn summarize(p: &Profile) -> ProfileSummary {
    let columns = p
        .columns
        .iter()
        .map(|c| {
            let n = c.numeric.as_ref();
            ColumnSummary {
                name: c.name.clone(),
                column_type: c.column_type.name(),
                role: p.role(c).name(),
                nulls: c.nulls,
                nan: n.map_or(0, |n| n.nan),
                pos_inf: n.map_or(0, |n| n.pos_inf),
                neg_inf: n.map_or(0, |n| n.neg_inf),
                distinct: c.distinct(),
                min: round_opt(n.and_then(|n| n.min)),
                max: round_opt(n.and_then(|n| n.max)),
                mean: round_opt(n.and_then(|n| n.mean())),
                std: round_opt(n.and_then(|n| n.std())),
                median: round_opt(n.and_then(|n| n.quantiles.quantile(0.5))),
            }
        })
        .collect();
    ProfileSummary {
        columns,
        label_counts: p.label_counts.clone(),
        duplicates: p.duplicates(),
    }
}

/// Everything a report is built from.
pub struct ReportInput<'a> {
    pub current: &'a Profile,
    pub baseline: Option<&'a Profile>,
    pub findings: Vec<Finding>,
    /// The findings grouped by cause (`detect::incidents::group`, which set each finding's
    /// `incident`).
    pub incidents: Vec<Incident>,
    pub fail_on: FailOn,
    /// Accepted findings (the config file's allowlist) and the day their expiry is judged on.
    /// Rounded (`round_finding`). The allowlist's entries with their status, the findings marked
    /// (`gate::apply_allowlist`), and the gate's verdict on them.
    pub allowlist: Vec<AllowStatus>,
    pub verdict: Verdict,
    pub run: Run,
    pub histograms: Option<&'a crate::rows::pass::ScoreHistograms>,
    /// Every compared column's drift test (the checks' context has the same).
    pub drift: Vec<DriftRow>,
}

pub fn build(input: ReportInput<'_>) -> Report {
    let (findings, allowlist, verdict) = (input.findings, input.allowlist, input.verdict);
    let mut counts = Counts::default();
    for f in &findings {
        match f.severity {
            Severity::High => counts.high += 1,
            Severity::Medium => counts.medium += 1,
            Severity::Low => counts.low += 1,
            Severity::Info => counts.info += 1,
        }
    }
    let cur = input.current;
    Report {
        schema_version: REPORT_SCHEMA_VERSION,
        tool: Tool {
            name: "poisonscan",
            version: env!("CARGO_PKG_VERSION"),
        },
        run: input.run,
        dataset: DatasetInfo {
            rows: cur.rows,
            columns: cur.columns.len(),
            label: cur.label.clone(),
            label_type: cur.label.as_ref().map(|_| cur.label_type.name()),
            sources: cur
                .manifest
                .iter()
                .map(|m| SourceInfo {
                    path: m.path.clone(),
                    rows: m.rows,
                    blake3: m.blake3.clone(),
                })
                .collect(),
            input_columns: cur.columns.len() + cur.left_out.len(),
            left_out: cur.left_out.clone(),
        },
        baseline: input.baseline.map(|b| BaselineInfo {
            rows: b.rows,
            sources: b.manifest.iter().map(|m| m.path.clone()).collect(),
            columns: b.columns.len(),
            input_columns: b.columns.len() + b.left_out.len(),
            left_out: b.left_out.clone(),
        }),
        verdict,
        fail_on: input.fail_on,
        counts,
        findings,
        incidents: input.incidents,
        profile: summarize(cur),
        drift: input.drift,
        scores: input.histograms.map(|h| ScoreBins {
            bins: crate::rows::pass::HIST_BINS,
            outlier: h.outlier.clone(),
            label_issue: h.label_issue.clone(),
            outlier_threshold: round(1.0 - crate::rows::pass::TAIL),
            label_issue_threshold: round(crate::rows::knn::FLAG),
        }),
        allowlist,
    }
}

impl Report {
    /// The JSON report (the contract), as `--format json` prints it.
    pub fn to_json(&self) -> String {
        to_json(self)
    }

    /// The Markdown summary (verdict, counts, top findings, slices).
    pub fn to_markdown(&self) -> String {
        in_memory(|w| write_markdown(self, w))
    }

    /// The self-contained HTML page.
    pub fn to_html(&self) -> String {
        in_memory(|w| write_html(self, w))
    }

    /// The short human summary.
    pub fn to_text(&self) -> String {
        in_memory(|w| write_text(self, w))
    }

    /// JUnit XML, one test case per check of `checks` (those in `disabled` are skipped cases),
    /// failed at or above `fail_on`.
    pub fn to_junit(
        &self,
        checks: &[model::CheckName],
        disabled: &std::collections::BTreeSet<String>,
        fail_on: FailOn,
    ) -> String {
        in_memory(|w| write_junit(self, checks, disabled, fail_on, w))
    }
}

/// What a writer writes into memory (which cannot fail).
fn in_memory(write: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
    let mut bytes = Vec::new();
    // Writes into a Vec<u8> do not fail; the writers return no other error.
    let _ = write(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A report's incidents as the human outputs list them: the report's own, or one a finding
/// when it has none (a report built without grouping).
pub(crate) fn incidents(r: &Report) -> Vec<Incident> {
    if !r.incidents.is_empty() || r.findings.is_empty() {
        return r.incidents.clone();
    }
    r.findings
        .iter()
        .enumerate()
        .map(|(i, f)| Incident {
            severity: f.severity,
            root: i,
            code: f.code.clone(),
            title: f.title.clone(),
            rows: f.rows,
            rows_set_aside: None,
            shift_undone: None,
            explains: Vec::new(),
            columns: f.columns.clone(),
            sources: f.sources.clone(),
        })
        .collect()
}

/// The codes of the findings an incident explains, in report order, a repeated code once with
/// its count: `DRF004, OUT001 ×3, LBL002`.
pub(crate) fn explained_codes(r: &Report, inc: &Incident) -> String {
    let mut codes: Vec<(&str, usize)> = Vec::new();
    for e in &inc.explains {
        let Some(f) = r.findings.get(e.finding) else {
            continue;
        };
        match codes.iter_mut().find(|(c, _)| *c == f.code) {
            Some((_, n)) => *n += 1,
            None => codes.push((&f.code, 1)),
        }
    }
    codes
        .iter()
        .map(|(c, n)| {
            if *n > 1 {
                format!("{c} ×{n}")
            } else {
                c.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The JSON report, pretty-printed, with a final newline.
pub fn to_json(r: &Report) -> String {
    let mut s = serde_json::to_string_pretty(r).expect("report serialises");
    s.push('\n');
    s
}

/// Seconds since the Unix epoch as an RFC 3339 UTC timestamp.
pub fn rfc3339(secs: u64) -> String {
    let rem = secs % 86_400;
    let d = model::Date::from_days((secs / 86_400) as i64);
    format!(
        "{d}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding() {
        assert_eq!(round(0.123456789), 0.123457);
        assert_eq!(round(123456789.0), 123457000.0);
        assert_eq!(round(1e-12), 1e-12);
        assert_eq!(round(0.0), 0.0);
    }

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_798_761_599), "2026-12-31T23:59:59Z");
    }
}
