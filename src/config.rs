//! `poisonscan.toml`: the scan's settings and the gate's policy in one file. It is read once,
//! merged with the command line (a flag given on the command line wins over the file, the file
//! over the defaults), checked against the checks' declared thresholds, and printed back, with
//! every default, by `--show-settings`.
//!
//! ```toml
//! label = "label"
//! id = "customer_id"
//! exclude = ["split"]
//! fail-on = "medium"
//!
//! [roles]
//! zip_code = "categorical"
//!
//! [checks.LBL003]
//! enabled = false
//!
//! [checks.TRG001]
//! min-support = 20
//!
//! [[allow]]
//! code = "DRF002"
//! column = "ANC"
//! reason = "ancestry coding changed in the 2017 survey; retraining on it is intended"
//! expires = 2027-03-31
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::detect::{Detector, Finding};
use crate::error::{Error, Result};
use crate::gate::FailOn;
use crate::profile::Role;

/// A threshold a check reads, with its default and the range a config file may set it in.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub default: f64,
    pub min: f64,
    pub max: f64,
    pub doc: &'static str,
}

/// The thresholds of one run: the false discovery rate and every value a config file set.
#[derive(Debug, Clone)]
pub struct CheckParams {
    /// Benjamini–Hochberg level of every statistical finding.
    pub alpha: f64,
    overrides: BTreeMap<(String, &'static str), f64>,
}

impl Default for CheckParams {
    fn default() -> CheckParams {
        CheckParams {
            alpha: crate::detect::ALPHA,
            overrides: BTreeMap::new(),
        }
    }
}

impl CheckParams {
    /// The value of threshold `p` of check `code`: the config file's, or the default.
    pub fn get(&self, code: &str, p: &Param) -> f64 {
        self.overrides
            .get(&(code.to_string(), p.name))
            .copied()
            .unwrap_or(p.default)
    }

    /// Set threshold `p` of check `code` (checked against its range by the caller).
    pub fn set(&mut self, code: &str, p: &Param, value: f64) {
        self.overrides.insert((code.to_string(), p.name), value);
    }
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
            let same = |a: &AllowPredicate, p: &crate::detect::Predicate| {
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

/// Everything a config file can set, resolved and checked. Fields left `None` were not set.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub path: Option<PathBuf>,
    pub label: Option<String>,
    pub id: Option<String>,
    pub columns: Option<Vec<String>>,
    pub exclude: Option<Vec<String>>,
    pub fail_on: Option<FailOn>,
    pub seed: Option<u64>,
    pub sample_size: Option<usize>,
    pub threads: Option<usize>,
    /// Column roles set by hand (numeric, categorical or identifier-like).
    pub roles: BTreeMap<String, Role>,
    /// Codes of the checks turned off.
    pub disabled: BTreeSet<String>,
    pub params: CheckParams,
    pub allow: Vec<Allow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileSettings {
    label: Option<String>,
    id: Option<String>,
    columns: Option<Vec<String>>,
    exclude: Option<Vec<String>>,
    fail_on: Option<String>,
    seed: Option<u64>,
    sample_size: Option<usize>,
    threads: Option<usize>,
    alpha: Option<f64>,
    #[serde(default)]
    roles: BTreeMap<String, String>,
    #[serde(default)]
    checks: BTreeMap<String, BTreeMap<String, toml::Value>>,
    #[serde(default)]
    allow: Vec<AllowFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowFile {
    code: String,
    column: Option<String>,
    slice: Option<Vec<PredicateFile>>,
    source: Option<String>,
    reason: Option<String>,
    expires: Option<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PredicateFile {
    column: String,
    op: String,
    value: Option<toml::Value>,
    values: Option<Vec<toml::Value>>,
    low: Option<f64>,
    high: Option<f64>,
}

fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

const OPS: [&str; 7] = ["eq", "ne", "in", "between", "lt", "ge", "is_null"];

impl Config {
    /// Read and check a config file against the checks that exist.
    pub fn load(path: &Path, checks: &[&dyn Detector]) -> Result<Config> {
        let bad = |reason: String| Error::BadConfig {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let file: FileSettings =
            toml::from_str(&text).map_err(|e| bad(e.to_string().trim().to_string()))?;
        Config::from_file(file, checks)
            .map(|mut c| {
                c.path = Some(path.to_path_buf());
                c
            })
            .map_err(bad)
    }

    /// Parse config text (tests and `load`).
    pub fn parse(text: &str, checks: &[&dyn Detector]) -> std::result::Result<Config, String> {
        let file: FileSettings = toml::from_str(text).map_err(|e| e.to_string())?;
        Config::from_file(file, checks)
    }

    fn from_file(f: FileSettings, checks: &[&dyn Detector]) -> std::result::Result<Config, String> {
        let known = || {
            checks
                .iter()
                .map(|d| d.code())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let find = |code: &str| checks.iter().find(|d| d.code() == code).copied();
        let fail_on = match f.fail_on.as_deref() {
            None => None,
            Some(s) => Some(FailOn::parse(s).ok_or_else(|| {
                format!("fail-on = \"{s}\": expected one of high, medium, low, never")
            })?),
        };
        if f.threads == Some(0) {
            return Err("threads must be at least 1".into());
        }
        let mut params = CheckParams::default();
        if let Some(a) = f.alpha {
            if !(a > 0.0 && a <= 0.5) {
                return Err(format!("alpha = {a}: expected a rate in (0, 0.5]"));
            }
            params.alpha = a;
        }
        let mut roles = BTreeMap::new();
        for (col, r) in &f.roles {
            let role = match r.as_str() {
                "numeric" => Role::Numeric,
                "categorical" => Role::Categorical,
                "identifier" | "identifier-like" => Role::Identifier,
                other => {
                    return Err(format!(
                        "[roles] {col} = \"{other}\": expected numeric, categorical or identifier (use `exclude` to leave a column out)"
                    ));
                }
            };
            roles.insert(col.clone(), role);
        }
        let mut disabled = BTreeSet::new();
        for (code, table) in &f.checks {
            let Some(d) = find(code) else {
                return Err(format!(
                    "[checks.{code}]: no such check; the codes are {}",
                    known()
                ));
            };
            for (key, v) in table {
                if key == "enabled" {
                    match v {
                        toml::Value::Boolean(false) => {
                            disabled.insert(code.clone());
                        }
                        toml::Value::Boolean(true) => {}
                        _ => {
                            return Err(format!("[checks.{code}] enabled: expected true or false"));
                        }
                    }
                    continue;
                }
                let Some(p) = d.params().iter().find(|p| p.name == key) else {
                    let names: Vec<&str> = d.params().iter().map(|p| p.name).collect();
                    return Err(format!(
                        "[checks.{code}] {key}: {code} has no such threshold; {}",
                        if names.is_empty() {
                            "it has none (only `enabled`)".to_string()
                        } else {
                            format!("its thresholds are {}", names.join(", "))
                        }
                    ));
                };
                let x = match v {
                    toml::Value::Float(x) => *x,
                    toml::Value::Integer(i) => *i as f64,
                    _ => return Err(format!("[checks.{code}] {key}: expected a number")),
                };
                if !(x >= p.min && x <= p.max) {
                    return Err(format!(
                        "[checks.{code}] {key} = {x}: expected a value from {} to {}",
                        p.min, p.max
                    ));
                }
                params.set(code, p, x);
            }
            // Severity tiers must stay ordered.
            let get = |n: &str| {
                d.params()
                    .iter()
                    .find(|p| p.name == n)
                    .map(|p| params.get(code, p))
            };
            if let (Some(l), Some(m), Some(h)) = (get("low"), get("medium"), get("high"))
                && !(l <= m && m <= h)
            {
                return Err(format!(
                    "[checks.{code}]: the severity tiers must be ordered, low <= medium <= high (now {l}, {m}, {h})"
                ));
            }
        }
        let mut allow = Vec::new();
        for (i, a) in f.allow.into_iter().enumerate() {
            let entry = i + 1;
            let at = format!("[[allow]] entry {entry} ({})", a.code);
            if find(&a.code).is_none() {
                return Err(format!("{at}: no such check; the codes are {}", known()));
            }
            let reason = a.reason.unwrap_or_default();
            if reason.trim().is_empty() {
                return Err(format!(
                    "{at}: `reason` is required: say why the finding is accepted"
                ));
            }
            let Some(exp) = a.expires else {
                return Err(format!(
                    "{at}: `expires` is required (a date, e.g. expires = 2027-03-31): an acceptance is reviewed when it expires"
                ));
            };
            let expires = Date::parse(&value_text(&exp)).ok_or_else(|| {
                format!(
                    "{at}: expires = {exp}: expected a date YYYY-MM-DD, e.g. expires = 2027-03-31"
                )
            })?;
            if a.column.is_none() && a.slice.is_none() && a.source.is_none() {
                return Err(format!(
                    "{at}: name what is accepted with `column`, `slice` or `source` (an entry for every finding of a check is `[checks.{}] enabled = false`)",
                    a.code
                ));
            }
            let slice = match a.slice {
                None => None,
                Some(ps) => Some(
                    ps.into_iter()
                        .map(|p| {
                            if !OPS.contains(&p.op.as_str()) {
                                return Err(format!(
                                    "{at}: slice op `{}`: expected one of {}",
                                    p.op,
                                    OPS.join(", ")
                                ));
                            }
                            Ok(AllowPredicate {
                                column: p.column,
                                op: p.op,
                                value: p.value.as_ref().map(value_text),
                                values: p.values.map(|v| v.iter().map(value_text).collect()),
                                low: p.low,
                                high: p.high,
                            })
                        })
                        .collect::<std::result::Result<Vec<_>, String>>()?,
                ),
            };
            allow.push(Allow {
                entry,
                code: a.code,
                column: a.column,
                slice,
                source: a.source,
                reason,
                expires,
            });
        }
        Ok(Config {
            path: None,
            label: f.label,
            id: f.id,
            columns: f.columns,
            exclude: f.exclude,
            fail_on,
            seed: f.seed,
            sample_size: f.sample_size,
            threads: f.threads,
            roles,
            disabled,
            params,
            allow,
        })
    }
}

/// A TOML string literal.
fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A TOML key: bare when it can be, else quoted.
fn key(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        s.to_string()
    } else {
        quoted(s)
    }
}

fn list(v: &[String]) -> String {
    format!(
        "[{}]",
        v.iter().map(|s| quoted(s)).collect::<Vec<_>>().join(", ")
    )
}

/// The resolved settings as a config file (every default written out, each threshold with its
/// meaning and range): what `--show-settings` prints. Reading it back gives the same settings.
#[allow(clippy::too_many_arguments)]
pub fn show(settings: &crate::Settings, checks: &[&dyn Detector]) -> String {
    let (data, config) = (settings, settings);
    let fail_on = settings.fail_on;
    let mut s = String::new();
    let from = match &config.config_path {
        Some(p) => format!("{} and the command line", p.display()),
        None => "the command line and the defaults (no config file)".to_string(),
    };
    s.push_str(&format!(
        "# poisonscan {} settings, resolved from {from}.\n# This is a valid poisonscan.toml.\n\n",
        env!("CARGO_PKG_VERSION")
    ));
    let opt = |k: &str, v: &Option<String>| match v {
        Some(v) => format!("{k} = {}\n", quoted(v)),
        None => format!("# {k} = (not set)\n"),
    };
    s.push_str(&opt("label", &data.profile.label));
    s.push_str(&opt("id", &data.profile.id));
    s.push_str(&format!("columns = {}\n", list(&data.ingest.columns)));
    s.push_str(&format!("exclude = {}\n", list(&data.ingest.exclude)));
    s.push_str(&format!("fail-on = {}\n", quoted(fail_on.name())));
    s.push_str(&format!("seed = {}\n", data.profile.seed));
    s.push_str(&format!("sample-size = {}\n", data.profile.sample_size));
    s.push_str(&format!("threads = {}\n", data.threads));
    s.push_str(&format!(
        "alpha = {}  # Benjamini-Hochberg level of every statistical finding\n",
        config.params.alpha
    ));
    s.push_str("\n[roles]  # columns not listed get the role inferred from the data\n");
    for (c, r) in &config.roles {
        let name = match r {
            Role::Identifier => "identifier",
            other => other.name(),
        };
        s.push_str(&format!("{} = {}\n", key(c), quoted(name)));
    }
    for d in checks {
        s.push_str(&format!("\n[checks.{}]  # {}\n", d.code(), d.check()));
        s.push_str(&format!(
            "enabled = {}\n",
            !config.disabled.contains(d.code())
        ));
        for p in d.params() {
            s.push_str(&format!(
                "{} = {}  # {} (from {} to {}; default {})\n",
                p.name,
                config.params.get(d.code(), p),
                p.doc,
                p.min,
                p.max,
                p.default
            ));
        }
    }
    for a in &config.allow {
        s.push_str("\n[[allow]]\n");
        s.push_str(&format!("code = {}\n", quoted(&a.code)));
        if let Some(c) = &a.column {
            s.push_str(&format!("column = {}\n", quoted(c)));
        }
        if let Some(sl) = &a.slice {
            let preds: Vec<String> = sl
                .iter()
                .map(|p| {
                    let mut parts = vec![
                        format!("column = {}", quoted(&p.column)),
                        format!("op = {}", quoted(&p.op)),
                    ];
                    if let Some(v) = &p.value {
                        parts.push(format!("value = {}", quoted(v)));
                    }
                    if let Some(v) = &p.values {
                        parts.push(format!("values = {}", list(v)));
                    }
                    if let Some(x) = p.low {
                        parts.push(format!("low = {x:?}"));
                    }
                    if let Some(x) = p.high {
                        parts.push(format!("high = {x:?}"));
                    }
                    format!("{{ {} }}", parts.join(", "))
                })
                .collect();
            s.push_str(&format!("slice = [{}]\n", preds.join(", ")));
        }
        if let Some(src) = &a.source {
            s.push_str(&format!("source = {}\n", quoted(src)));
        }
        s.push_str(&format!("reason = {}\n", quoted(&a.reason)));
        s.push_str(&format!("expires = {}\n", a.expires));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{Predicate, Severity, registry};

    fn parse(text: &str) -> std::result::Result<Config, String> {
        Config::parse(text, &registry())
    }

    #[test]
    fn the_documented_example_is_a_valid_config() {
        let c = parse(include_str!("../docs/poisonscan.toml")).unwrap();
        assert_eq!(c.allow.len(), 3);
        assert_eq!(c.roles.get("zip_code"), Some(&Role::Categorical));
    }

    #[test]
    fn dates_parse_and_count_from_the_epoch() {
        assert_eq!(Date::from_days(0).to_string(), "1970-01-01");
        assert_eq!(Date::from_days(19_723).to_string(), "2024-01-01");
        // 2000-02-29 is day 11,016; 2100 is not a leap year.
        assert_eq!(Date::from_days(11_016).to_string(), "2000-02-29");
        assert!(Date::parse("2024-02-29").is_some());
        assert!(Date::parse("2100-02-29").is_none());
        assert!(Date::parse("2027-13-01").is_none());
        assert!(Date::parse("tomorrow").is_none());
        assert!(Date::parse("2026-11-22") < Date::parse("2026-11-23"));
    }

    #[test]
    fn thresholds_are_checked_by_name_range_and_order() {
        let c = parse("[checks.TRG001]\nmin-support = 20\nenabled = true").unwrap();
        let trg = registry()
            .into_iter()
            .find(|d| d.code() == "TRG001")
            .unwrap();
        let p = trg
            .params()
            .iter()
            .find(|p| p.name == "min-support")
            .unwrap();
        assert_eq!(c.params.get("TRG001", p), 20.0);
        let e = parse("[checks.TRG001]\nmin-suport = 20").unwrap_err();
        assert!(
            e.contains("no such threshold") && e.contains("min-support"),
            "{e}"
        );
        let e = parse("[checks.TRG001]\nmin-confidence = 1.5").unwrap_err();
        assert!(e.contains("expected a value from"), "{e}");
        let e = parse("[checks.DRF001]\nlow = 0.5\nmedium = 0.3").unwrap_err();
        assert!(e.contains("ordered"), "{e}");
        let e = parse("[checks.XYZ001]\nenabled = false").unwrap_err();
        assert!(e.contains("no such check") && e.contains("DRF001"), "{e}");
        let c = parse("[checks.LBL003]\nenabled = false").unwrap();
        assert!(c.disabled.contains("LBL003"));
        let e = parse("fail-on = \"sometimes\"").unwrap_err();
        assert!(e.contains("high, medium, low, never"), "{e}");
        let e = parse("labl = \"x\"").unwrap_err();
        assert!(e.contains("labl"), "{e}");
    }

    #[test]
    fn allowlist_entries_need_a_reason_an_expiry_and_a_target() {
        let ok =
            "[[allow]]\ncode = \"DRF002\"\ncolumn = \"ANC\"\nreason = \"r\"\nexpires = 2027-03-31";
        let c = parse(ok).unwrap();
        assert_eq!(c.allow[0].expires.to_string(), "2027-03-31");
        let c = parse(&ok.replace("2027-03-31", "\"2027-03-31\"")).unwrap();
        assert_eq!(c.allow[0].expires, Date::parse("2027-03-31").unwrap());
        assert!(
            parse(&ok.replace("reason = \"r\"\n", ""))
                .unwrap_err()
                .contains("reason")
        );
        assert!(
            parse(&ok.replace("expires = 2027-03-31", ""))
                .unwrap_err()
                .contains("expires")
        );
        assert!(
            parse(&ok.replace("2027-03-31", "2027-02-30"))
                .unwrap_err()
                .contains("date")
        );
        assert!(
            parse(&ok.replace("column = \"ANC\"\n", ""))
                .unwrap_err()
                .contains("column")
        );
    }

    #[test]
    fn allowlist_matches_code_column_slice_and_source() {
        let c = parse(
            r#"
[[allow]]
code = "LBL001"
slice = [{ column = "age", op = "ge", value = 94.00000000000001 }, { column = "MIL", op = "eq", value = "1" }]
reason = "known"
expires = 2027-01-01

[[allow]]
code = "INT002"
source = "part-3.parquet"
reason = "replay is the nightly backfill"
expires = 2020-01-01
"#,
        )
        .unwrap();
        let mut f = Finding::new("LBL001", "x", Severity::High, 0.9, "t".into());
        f.columns = vec!["MIL".into()];
        f.slice = vec![Predicate::eq("MIL", "1"), Predicate::gt("age", 94.0)];
        assert!(c.allow[0].matches(&f));
        f.slice.pop();
        assert!(!c.allow[0].matches(&f), "a sub-slice is another slice");
        let mut g = Finding::new("INT002", "x", Severity::High, 0.9, "t".into());
        g.sources = vec!["data/current/part-3.parquet".into()];
        assert!(c.allow[1].matches(&g));
        g.sources = vec!["data/current/xpart-3.parquet".into()];
        assert!(!c.allow[1].matches(&g));
        assert!(c.allow[1].expired(Date::parse("2020-01-02").unwrap()));
        assert!(!c.allow[1].expired(Date::parse("2020-01-01").unwrap()));
    }

    #[test]
    fn show_settings_reads_back_as_the_same_settings() {
        let text = r#"
label = "label"
exclude = ["split"]
fail-on = "medium"
alpha = 0.05
[roles]
zip = "categorical"
[checks.TRG001]
min-support = 20
[checks.LBL003]
enabled = false
[[allow]]
code = "DRF002"
column = "ANC"
reason = "coding "changed""
expires = 2027-03-31
"#
        .replace("\"changed\"", "'changed'");
        let c = parse(&text).unwrap();
        let settings = crate::Settings::builder()
            .config(c.clone())
            .threads(1)
            .build()
            .unwrap();
        let shown = show(&settings, &registry());
        let back = parse(&shown).unwrap_or_else(|e| panic!("{e}\n{shown}"));
        assert_eq!(back.label.as_deref(), Some("label"));
        assert_eq!(back.exclude, Some(vec!["split".to_string()]));
        assert_eq!(back.fail_on, Some(FailOn::Medium));
        assert_eq!(back.params.alpha, 0.05);
        assert_eq!(back.roles, c.roles);
        assert_eq!(back.disabled, c.disabled);
        assert_eq!(back.allow, c.allow);
        for d in registry() {
            for p in d.params() {
                assert_eq!(back.params.get(d.code(), p), c.params.get(d.code(), p));
            }
        }
    }
}
