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

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::detect::{CheckParams, Detector};
use crate::error::{Error, Result};
pub use crate::gate::{Allow, AllowPredicate, Date, FailOn};
use crate::profile::{LabelType, Role};

/// `auto`, `class` or `numeric` (`--label-type`, `label-type`): `None` for auto.
pub fn parse_label_type(s: &str) -> std::result::Result<Option<LabelType>, String> {
    match s {
        "auto" => Ok(None),
        "class" => Ok(Some(LabelType::Class)),
        "numeric" => Ok(Some(LabelType::Numeric)),
        other => Err(format!(
            "label type `{other}`: expected auto, class or numeric"
        )),
    }
}

/// Everything a config file can set, resolved and checked. Fields left `None` were not set.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub path: Option<PathBuf>,
    pub label: Option<String>,
    /// `label-type`: `Some(None)` for auto, `None` when not set.
    pub label_type: Option<Option<LabelType>>,
    pub id: Option<String>,
    pub columns: Option<Vec<String>>,
    pub exclude: Option<Vec<String>>,
    /// Leave out, as rejected, columns of types poisonscan cannot profile.
    pub skip_unsupported: Option<bool>,
    /// Options of the object stores URLs name (`[storage-options]`: key → value).
    pub storage_options: BTreeMap<String, String>,
    pub fail_on: Option<FailOn>,
    pub seed: Option<u64>,
    pub sample_size: Option<usize>,
    pub threads: Option<usize>,
    /// The public key a baseline profile must be signed with (relative to the config file's
    /// folder when read from a file).
    pub baseline_pubkey: Option<PathBuf>,
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
    label_type: Option<String>,
    id: Option<String>,
    columns: Option<Vec<String>>,
    exclude: Option<Vec<String>>,
    skip_unsupported: Option<bool>,
    #[serde(default)]
    storage_options: BTreeMap<String, String>,
    fail_on: Option<String>,
    seed: Option<u64>,
    sample_size: Option<usize>,
    threads: Option<usize>,
    alpha: Option<f64>,
    allow_empty: Option<bool>,
    baseline_pubkey: Option<PathBuf>,
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
                let dir = path.parent().unwrap_or(Path::new(""));
                c.baseline_pubkey = c.baseline_pubkey.map(|k| dir.join(k));
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
        if let Some(b) = f.allow_empty {
            params.allow_empty = b;
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
            // A check may have more than one set (LBL002's `excess-low` … `excess-high`).
            for prefix in d.params().iter().filter_map(|p| p.name.strip_suffix("low")) {
                let name = |tier: &str| format!("{prefix}{tier}");
                if let (Some(l), Some(m), Some(h)) =
                    (get(&name("low")), get(&name("medium")), get(&name("high")))
                    && !(l <= m && m <= h)
                {
                    return Err(format!(
                        "[checks.{code}]: the severity tiers must be ordered, {} <= {} <= {} (now {l}, {m}, {h})",
                        name("low"),
                        name("medium"),
                        name("high")
                    ));
                }
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
        let label_type = f.label_type.as_deref().map(parse_label_type).transpose()?;
        Ok(Config {
            path: None,
            label: f.label,
            label_type,
            id: f.id,
            columns: f.columns,
            exclude: f.exclude,
            skip_unsupported: f.skip_unsupported,
            storage_options: f.storage_options,
            fail_on,
            seed: f.seed,
            sample_size: f.sample_size,
            threads: f.threads,
            baseline_pubkey: f.baseline_pubkey,
            roles,
            disabled,
            params,
            allow,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{Finding, Predicate, Severity, registry};

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
        // A second set of tiers is held to the same order.
        let e = parse("[checks.LBL002]\nexcess-high = 0.001").unwrap_err();
        assert!(
            e.contains("excess-low <= excess-medium <= excess-high"),
            "{e}"
        );
        assert!(parse("[checks.LBL002]\nexcess-high = 0.02\nhigh = 5").is_ok());
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
        let shown = settings.to_toml(&registry());
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
