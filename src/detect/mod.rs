//! Detectors turn profiles into findings. Each is pure (profiles in, findings out: no IO, no
//! printing), has a stable code that is never reused, and a documentation block that
//! `poisonscan explain CODE` prints. The registry lists them in code order.

mod coverage;
pub mod drift;
mod duplicates;
pub mod incidents;
mod integrity;
mod joint;
mod labels;
mod outliers;
mod schema;
mod slices;
mod triggers;

mod params;

pub use self::params::{CheckParams, Param};
use crate::profile::{ColumnProfile, Profile, Role};
pub(crate) use crate::report::model::exact_num;
pub use crate::report::model::{
    Accepted, Finding, NamedValue, Predicate, RowRef, Severity, json_num, next_up,
};
use crate::rows::pass::SliceDesc;

/// The false discovery rate at which statistical findings are reported: a finding's
/// Benjamini–Hochberg q-value (across all the tests of its check) must be at most this.
pub const ALPHA: f64 = 0.01;

/// Build an evidence map from pairs.
pub fn evidence(
    pairs: Vec<(&str, serde_json::Value)>,
) -> serde_json::Map<String, serde_json::Value> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The feature columns of a profile (not the label, id or partition columns), with their role.
pub fn features(p: &Profile) -> impl Iterator<Item = (&ColumnProfile, Role)> {
    p.columns.iter().filter_map(move |c| {
        let r = p.role(c);
        (!matches!(r, Role::Label | Role::Id | Role::Partition)).then_some((c, r))
    })
}

/// The manifest path of a source index.
pub fn source_path(p: &Profile, source: u32) -> String {
    p.manifest
        .get(source as usize)
        .map(|m| m.path.clone())
        .unwrap_or_else(|| format!("<source {source}>"))
}

/// A percentage for titles: one decimal below 10%, none above, two significant digits below
/// 0.1% (a rate of 0.004% is not "0.0%").
pub fn pct(x: f64) -> String {
    let v = 100.0 * x;
    if v != 0.0 && v.abs() < 0.1 {
        let digits = (1 - v.abs().log10().floor() as i32).max(2) as usize;
        format!("{v:.digits$}%")
    } else if v.abs() < 10.0 {
        format!("{v:.1}%")
    } else {
        format!("{v:.0}%")
    }
}

/// A finding's score in [0, 1]: an effect's strength in [0, 1], scaled down to half when the
/// evidence is weak (q-values from 1e-10 down count fully).
pub fn weighted_score(strength: f64, q: f64) -> f64 {
    let certainty = if q > 0.0 {
        (-q.log10() / 10.0).min(1.0)
    } else {
        1.0
    };
    crate::report::round(strength.clamp(0.0, 1.0) * (0.5 + 0.5 * certainty))
}

/// Findings strongest first (severity, then score, then key), keeping at most `max` of each
/// kind of place (`kind(key)`; `None`: never capped, such as the whole data).
pub fn strongest<K: Ord>(
    mut findings: Vec<(K, Finding)>,
    max: usize,
    kind: impl Fn(&K) -> Option<u8>,
) -> Vec<Finding> {
    findings.sort_by(|a, b| {
        b.1.severity
            .cmp(&a.1.severity)
            .then(b.1.score.total_cmp(&a.1.score))
            .then(a.0.cmp(&b.0))
    });
    let mut kept = std::collections::BTreeMap::<u8, usize>::new();
    findings
        .into_iter()
        .filter(|(k, _)| match kind(k) {
            None => true,
            Some(c) => {
                let n = kept.entry(c).or_default();
                *n += 1;
                *n <= max
            }
        })
        .map(|(_, f)| f)
        .collect()
}

/// Rows (source index, row in source) as the report names them.
pub fn row_refs(p: &Profile, rows: &[(u32, u64)]) -> Vec<RowRef> {
    rows.iter()
        .map(|&(s, row)| RowRef {
            source: source_path(p, s),
            row,
        })
        .collect()
}

/// The severity an effect earns against ascending (low, medium, high) thresholds.
pub fn tier(effect: f64, low: f64, medium: f64, high: f64) -> Option<Severity> {
    let e = effect.abs();
    if e >= high {
        Some(Severity::High)
    } else if e >= medium {
        Some(Severity::Medium)
    } else if e >= low {
        Some(Severity::Low)
    } else {
        None
    }
}

/// How one label dominates some rows: (label, its share among them, the one-sided binomial
/// p-value of that many rows carrying it given its share in `reference`, add-one smoothed so
/// that no label is ever certain). A value that always carries one label, beyond what the
/// reference explains, is how a backdoor trigger looks.
pub fn label_purity(
    by_label: &std::collections::BTreeMap<String, u64>,
    reference: &std::collections::BTreeMap<String, u64>,
) -> Option<(String, f64, f64)> {
    let total: u64 = by_label.values().sum();
    let (label, &top) = by_label
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))?;
    if total == 0 {
        return None;
    }
    let classes = reference
        .keys()
        .chain(by_label.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .len() as f64;
    let all: u64 = reference.values().sum();
    let base = (reference.get(label).copied().unwrap_or(0) as f64 + 1.0) / (all as f64 + classes);
    let p = crate::stats::binom_sf_ge(top, total, base);
    Some((label.clone(), top as f64 / total as f64, p))
}

/// Up to `max` sample rows of column `col` whose value satisfies `keep`, by source and row.
pub fn example_rows(
    p: &Profile,
    col: &str,
    keep: impl Fn(&crate::profile::SampleValue) -> bool,
    max: usize,
) -> Vec<RowRef> {
    let Some(ci) = p.columns.iter().position(|c| c.name == col) else {
        return Vec::new();
    };
    let mut rows: Vec<(u32, u64)> = p
        .sample
        .rows()
        .filter(|(_, r)| r.values.get(ci).is_some_and(&keep))
        .map(|(_, r)| (r.source, r.row))
        .collect();
    rows.sort_unstable();
    rows.into_iter()
        .take(max)
        .map(|(s, row)| RowRef {
            source: source_path(p, s),
            row,
        })
        .collect()
}

/// A slice's contract predicate, its text and its column.
pub fn slice_predicate(ctx: &Context<'_>, d: &SliceDesc) -> (Predicate, String, String) {
    match d {
        SliceDesc::Null { column } => (
            Predicate::is_null(column),
            format!("`{column}` is null"),
            column.clone(),
        ),
        SliceDesc::Category { column, value } => {
            let numeric = ctx
                .current
                .column(column)
                .is_some_and(|c| c.numeric.is_some());
            let v = match value.parse::<f64>() {
                Ok(x) if numeric => json_num(x),
                _ => serde_json::Value::String(value.clone()),
            };
            (
                Predicate::eq(column, v),
                format!("`{column}` = `{value}`"),
                column.clone(),
            )
        }
        SliceDesc::Value { column, value } => (
            Predicate::eq(column, exact_num(*value)),
            format!(
                "`{column}` = {}",
                crate::profile::column::numeric_text(*value)
            ),
            column.clone(),
        ),
        SliceDesc::Below { column, min } => (
            Predicate::lt(column, *min),
            format!("`{column}` < {min} (below the baseline's minimum)"),
            column.clone(),
        ),
        SliceDesc::Above { column, max } => (
            Predicate::gt(column, *max),
            format!("`{column}` > {max} (above the baseline's maximum)"),
            column.clone(),
        ),
        SliceDesc::Bin { column, low, high } => {
            let text = match (low, high) {
                (Some(l), Some(h)) => format!("{l} ≤ `{column}` < {h}"),
                (None, Some(h)) => format!("`{column}` < {h}"),
                (Some(l), None) => format!("`{column}` ≥ {l}"),
                (None, None) => format!("`{column}` is not null"),
            };
            let pred = match (low, high) {
                (Some(l), Some(h)) => Predicate {
                    low: Some(*l),
                    high: Some(*h),
                    ..Predicate::with_op(column, "between")
                },
                (None, Some(h)) => Predicate::lt(column, *h),
                (Some(l), None) => Predicate {
                    value: Some(exact_num(*l)),
                    ..Predicate::with_op(column, "ge")
                },
                // `slice_of` gives no bin without edges.
                (None, None) => Predicate::with_op(column, "between"),
            };
            (pred, text, column.clone())
        }
    }
}

/// Label purity at or above this (with a significant binomial test) marks a trigger-like slice.
pub const TRIGGER_PURITY: f64 = 0.95;
/// … on at least this many rows.
pub const TRIGGER_MIN_ROWS: u64 = 10;

/// What a detector sees.
pub struct Context<'a> {
    pub current: &'a Profile,
    pub baseline: Option<&'a Profile>,
    /// The row pass over the current data (row-level checks), when it ran.
    pub rows: Option<&'a crate::rows::pass::RowPass>,
    /// Both samples with per-row signals, for slice finding (SLC001), with a baseline and the
    /// row pass.
    pub slices: Option<&'a crate::slice::SliceData>,
    /// The false discovery rate and the thresholds a config file set.
    pub params: &'a CheckParams,
    /// Every compared column's drift test against the baseline (`drift::column_drift`),
    /// computed once for DRF001, DRF002, DRF004 and the report (empty without a baseline).
    pub drift: &'a [drift::ColumnDrift],
    /// The series of the accepted nights' profiles (`scan --history`), for DRF005.
    pub history: Option<&'a crate::history::History>,
}

impl Context<'_> {
    /// The Benjamini–Hochberg level of statistical findings (`alpha`, default `ALPHA`).
    pub fn alpha(&self) -> f64 {
        self.params.alpha
    }

    /// Threshold `p` of check `code`.
    pub fn param(&self, code: &str, p: &Param) -> f64 {
        self.params.get(code, p)
    }

    /// The severity tiers (low, medium, high) of check `code`.
    pub fn tiers(&self, code: &str, t: &[Param; 3]) -> (f64, f64, f64) {
        (
            self.param(code, &t[0]),
            self.param(code, &t[1]),
            self.param(code, &t[2]),
        )
    }
}

/// The three severity thresholds of a check whose severity follows one effect size: the effect
/// at which a finding becomes low, medium and high.
pub const fn tier_params(
    low: f64,
    medium: f64,
    high: f64,
    max: f64,
    doc: &'static str,
) -> [Param; 3] {
    named_tier_params(["low", "medium", "high"], low, medium, high, max, doc)
}

/// The same for a check's second set of tiers, named `<prefix>low`, `<prefix>medium` and
/// `<prefix>high` (the config checks each such set is ordered).
pub const fn named_tier_params(
    names: [&'static str; 3],
    low: f64,
    medium: f64,
    high: f64,
    max: f64,
    doc: &'static str,
) -> [Param; 3] {
    [
        Param {
            name: names[0],
            default: low,
            min: 0.0,
            max,
            doc,
        },
        Param {
            name: names[1],
            default: medium,
            min: 0.0,
            max,
            doc,
        },
        Param {
            name: names[2],
            default: high,
            min: 0.0,
            max,
            doc,
        },
    ]
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
    /// The thresholds a config file may set (`[checks.CODE]`), with defaults and ranges.
    fn params(&self) -> &'static [Param] {
        &[]
    }
}

/// The detectors that run in every scan, in code order. The checks arrive with the detector
/// issues (INT, SCH, DUP, DRF, LBL, TRG, OUT, SLC); the machinery around them is tested with a
/// test-only detector.
pub fn registry() -> Vec<&'static dyn Detector> {
    vec![
        &integrity::Tampered,
        &integrity::Replayed,
        &coverage::TooFewRows,
        &coverage::BaselineHoldsCurrent,
        &schema::SchemaChange,
        &schema::NullRate,
        &schema::NewCategories,
        &schema::OutOfRange,
        &schema::UnitChange,
        &schema::NewLabelClass,
        &duplicates::DuplicateRate,
        &duplicates::ConflictingLabels,
        &duplicates::NewGroups,
        &drift::NumericDrift,
        &drift::CategoricalDrift,
        &drift::LabelDrift,
        &drift::SourceDrift,
        &drift::CreepingChange,
        &labels::LabelShift,
        &labels::LabelDisagreement,
        &labels::ConfidentLearning,
        &triggers::TriggerRule,
        &triggers::ValueSpike,
        &outliers::OutlierRate,
        &joint::JointOutliers,
        &slices::SliceFinder,
    ]
}

/// The checks' codes and names, as reports list them.
pub fn check_names(checks: &[&dyn Detector]) -> Vec<crate::report::model::CheckName> {
    checks
        .iter()
        .map(|d| crate::report::model::CheckName {
            code: d.code(),
            check: d.check(),
        })
        .collect()
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
    order(&mut findings);
    findings
}

/// The order of `run`: severity (high first), then score (high first), then code and title.
pub fn order(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(b.score.total_cmp(&a.score))
            .then_with(|| a.code.cmp(&b.code))
            .then_with(|| a.title.cmp(&b.title))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_keep_two_significant_digits_when_small() {
        assert_eq!(pct(0.0), "0.0%");
        assert_eq!(pct(0.00004567), "0.0046%");
        assert_eq!(pct(0.0004567), "0.046%");
        assert_eq!(pct(0.004567), "0.5%");
        assert_eq!(pct(0.4567), "46%");
    }

    /// The recipe for a check's documentation: these sections, in this order, each once.
    const DOC_SECTIONS: [&str; 4] = ["What it finds:", "Why it matters:", "Example:", "Defaults:"];

    /// A doc's sections: a paragraph (text between blank lines) that opens with a header of the
    /// recipe starts a section, any other paragraph continues the one before it.
    fn doc_sections(doc: &str) -> Result<Vec<(&'static str, String)>, String> {
        let mut sections: Vec<(&'static str, String)> = Vec::new();
        for paragraph in doc.trim().split("\n\n") {
            let paragraph = paragraph.trim();
            // A header anywhere but at the start of a paragraph is a section run into another.
            for line in paragraph.lines().skip(1) {
                if let Some(h) = DOC_SECTIONS.iter().find(|h| line.starts_with(**h)) {
                    return Err(format!("`{h}` does not start a paragraph"));
                }
            }
            match DOC_SECTIONS.iter().find(|h| paragraph.starts_with(**h)) {
                Some(h) => sections.push((h, paragraph[h.len()..].trim().to_string())),
                None => match sections.last_mut() {
                    Some((_, body)) => {
                        body.push_str("\n\n");
                        body.push_str(paragraph);
                    }
                    None => return Err(format!("text before `{}`", DOC_SECTIONS[0])),
                },
            }
        }
        Ok(sections)
    }

    /// Every check in the registry documents itself by the recipe, and codes are stable-looking,
    /// unique and in code order.
    #[test]
    fn every_check_follows_the_recipe() {
        let checks = registry();
        assert!(!checks.is_empty());
        for d in &checks {
            let code = d.code();
            let b = code.as_bytes();
            assert!(
                b.len() == 6
                    && b[..3].iter().all(u8::is_ascii_uppercase)
                    && b[3..].iter().all(u8::is_ascii_digit),
                "`{code}` is not three capital letters and three digits"
            );
            let check = d.check();
            assert!(
                !check.is_empty()
                    && check.split('-').all(|w| {
                        !w.is_empty()
                            && w.bytes()
                                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                    }),
                "{code}: check name `{check}` is not kebab-case"
            );
            let sections = doc_sections(d.doc()).unwrap_or_else(|e| panic!("{code}: {e}"));
            let headers: Vec<&str> = sections.iter().map(|s| s.0).collect();
            assert_eq!(headers, DOC_SECTIONS, "{code}: sections");
            for (header, body) in &sections {
                assert!(!body.is_empty(), "{code}: `{header}` is empty");
            }
        }
        // Code order is the families' order in DESIGN.md's table (the data flow), then the
        // number: strictly increasing, so no code appears twice.
        const FAMILIES: [&str; 8] = ["INT", "SCH", "DUP", "DRF", "LBL", "TRG", "OUT", "SLC"];
        let keys: Vec<(usize, &str)> = checks
            .iter()
            .map(|d| {
                let code = d.code();
                let family = FAMILIES.iter().position(|f| code.starts_with(f));
                let family = family.unwrap_or_else(|| panic!("{code}: unknown family"));
                (family, &code[3..])
            })
            .collect();
        let codes: Vec<&str> = checks.iter().map(|d| d.code()).collect();
        assert!(
            keys.windows(2).all(|w| w[0] < w[1]),
            "codes not unique and in code order: {codes:?}"
        );
        let mut names: Vec<&str> = checks.iter().map(|d| d.check()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), checks.len(), "check names are not unique");
    }

    #[test]
    fn doc_sections_are_parsed_strictly() {
        let good = "What it finds: a.\n\nWhy it matters: b.\n\nMore of b.\n\nExample: c.\n\nDefaults:\n- d";
        let s = doc_sections(good).unwrap();
        assert_eq!(s.iter().map(|x| x.0).collect::<Vec<_>>(), DOC_SECTIONS);
        assert_eq!(s[1].1, "b.\n\nMore of b.");
        assert_eq!(s[3].1, "- d");
        assert!(doc_sections("Intro.\n\nWhat it finds: a.").is_err());
        assert!(doc_sections("What it finds: a.\nExample: run in.").is_err());
    }

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
