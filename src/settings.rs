//! Options as the user wrote them, resolved once into checked, immutable [`Settings`]: the only
//! input of a run besides the data. A config file ([`Config`]), code ([`SettingsBuilder`]) and
//! the command line's flags all end here; a value set on the builder wins over the file's, and
//! the file's over the defaults.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::config::{Allow, Config};
use crate::detect::CheckParams;
use crate::detect::Detector;
use crate::error::{Error, Result};
use crate::gate::FailOn;
use crate::ingest::{CsvOptions, IngestOptions};
use crate::profile::{LabelType, ProfileSettings, Role};

/// Rows kept per label class in the stratified sample, unless set.
pub const DEFAULT_SAMPLE_SIZE: usize = 50_000;

/// The config file a command uses without `--config`, when the current folder has one.
pub const DEFAULT_CONFIG: &str = "poisonscan.toml";

/// Checked, immutable settings of a run.
///
/// ```
/// use poisonscan::{FailOn, Settings};
///
/// let s = Settings::builder()
///     .label("label")
///     .seed(7)
///     .threads(1)
///     .fail_on(FailOn::Medium)
///     .disable_check("SLC001")
///     .build()?;
/// assert_eq!(s.label(), Some("label"));
/// assert_eq!(s.seed(), 7);
/// assert!(!s.check_enabled("SLC001"));
/// # Ok::<(), poisonscan::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Settings {
    pub(crate) ingest: IngestOptions,
    pub(crate) profile: ProfileSettings,
    pub(crate) threads: usize,
    pub(crate) fail_on: FailOn,
    pub(crate) roles: BTreeMap<String, Role>,
    pub(crate) disabled: BTreeSet<String>,
    pub(crate) params: CheckParams,
    pub(crate) allow: Vec<Allow>,
    pub(crate) config_path: Option<PathBuf>,
    baseline_pubkey: Option<PathBuf>,
    /// What the settings changed from what was asked, to tell the user.
    notes: Vec<String>,
}

impl Settings {
    /// A builder starting from the defaults.
    pub fn builder() -> SettingsBuilder {
        SettingsBuilder::default()
    }

    /// The settings of a `poisonscan.toml` file (checked against the registry's checks).
    pub fn from_config_file(path: &Path) -> Result<Settings> {
        Settings::builder()
            .config(Config::load(path, &crate::detect::registry())?)
            .build()
    }

    pub fn label(&self) -> Option<&str> {
        self.profile.label.as_deref()
    }
    pub fn id(&self) -> Option<&str> {
        self.profile.id.as_deref()
    }
    pub fn seed(&self) -> u64 {
        self.profile.seed
    }
    pub fn sample_size(&self) -> usize {
        self.profile.sample_size
    }
    /// Worker threads: as asked, at most the cores this process may use (see [`Settings::notes`]).
    pub fn threads(&self) -> usize {
        self.threads
    }
    /// What building the settings changed from what was asked (`--threads` above the core
    /// count is capped), one sentence each.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }
    pub fn fail_on(&self) -> FailOn {
        self.fail_on
    }
    pub fn columns(&self) -> &[String] {
        &self.ingest.columns
    }
    pub fn exclude(&self) -> &[String] {
        &self.ingest.exclude
    }
    pub fn csv(&self) -> &CsvOptions {
        &self.ingest.csv
    }
    /// Column roles set by hand, over the inferred ones.
    pub fn roles(&self) -> &BTreeMap<String, Role> {
        &self.roles
    }
    /// Whether check `code` runs (every check does unless turned off).
    pub fn check_enabled(&self, code: &str) -> bool {
        !self.disabled.contains(code)
    }
    /// The codes of the checks turned off.
    pub fn disabled_checks(&self) -> &BTreeSet<String> {
        &self.disabled
    }
    /// The false discovery rate and the thresholds set for the checks.
    pub fn params(&self) -> &CheckParams {
        &self.params
    }
    /// The allowlist of accepted findings.
    pub fn allowlist(&self) -> &[Allow] {
        &self.allow
    }
    /// The public key a baseline profile must be signed with, if any: a baseline that is not a
    /// profile signed with it is refused.
    pub fn baseline_pubkey(&self) -> Option<&Path> {
        self.baseline_pubkey.as_deref()
    }
    /// The config file the settings were read from, if any.
    pub fn config_path(&self) -> Option<&Path> {
        self.config_path.as_deref()
    }
    /// What a profile is computed with.
    pub fn profile_settings(&self) -> &ProfileSettings {
        &self.profile
    }
    /// What is read, and how.
    pub fn ingest_options(&self) -> &IngestOptions {
        &self.ingest
    }

    /// The gate's policy: the level that fails it and the allowlist.
    pub fn policy(&self) -> crate::gate::Policy {
        crate::gate::Policy {
            fail_on: self.fail_on,
        }
    }

    /// The profile settings with the reference ranges of a baseline (see `profile_against`).
    pub(crate) fn with_reference_ranges(
        &self,
        ranges: BTreeMap<String, (f64, f64)>,
    ) -> ProfileSettings {
        ProfileSettings {
            reference_ranges: ranges,
            ..self.profile.clone()
        }
    }

    /// The resolved settings as a valid `poisonscan.toml` (every check's thresholds, defaults and
    /// ranges), as `--show-settings` prints them.
    pub fn to_toml(&self, checks: &[&dyn Detector]) -> String {
        show(self, checks)
    }
}

/// Builds [`Settings`]: each value set here wins over the config file's ([`SettingsBuilder::config`]),
/// which wins over the defaults. [`SettingsBuilder::build`] checks them.
#[derive(Debug, Clone, Default)]
pub struct SettingsBuilder {
    config: Config,
    label: Option<String>,
    label_type: Option<Option<LabelType>>,
    id: Option<String>,
    columns: Option<Vec<String>>,
    exclude: Option<Vec<String>>,
    skip_unsupported: Option<bool>,
    storage_options: Vec<(String, String)>,
    seed: Option<u64>,
    sample_size: Option<usize>,
    threads: Option<usize>,
    fail_on: Option<FailOn>,
    csv: CsvOptions,
    alpha: Option<f64>,
    allow_empty: Option<bool>,
    baseline_pubkey: Option<PathBuf>,
    disable: BTreeSet<String>,
    enable: BTreeSet<String>,
    params: Vec<(String, String, f64)>,
    roles: BTreeMap<String, Role>,
    shard_rows: u64,
    no_spill: bool,
}

/// The run's own values a front door may or may not give (a flag left out, a keyword argument
/// left `None`): each one given wins over the config file's, as the builder's setters do.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub label: Option<String>,
    /// `--label-type`: `Some(None)` for auto.
    pub label_type: Option<Option<LabelType>>,
    pub id: Option<String>,
    pub columns: Option<Vec<String>>,
    pub exclude: Option<Vec<String>>,
    pub skip_unsupported: Option<bool>,
    /// Options of the object stores URLs name, each over the config file's of the same key.
    pub storage_options: Vec<(String, String)>,
    pub seed: Option<u64>,
    pub sample_size: Option<usize>,
    pub threads: Option<usize>,
    pub fail_on: Option<FailOn>,
    pub allow_empty: Option<bool>,
    pub baseline_pubkey: Option<PathBuf>,
}

impl SettingsBuilder {
    /// Set each value `o` gives (the command line's flags, the Python API's arguments).
    pub fn overrides(mut self, o: Overrides) -> Self {
        self.label = o.label.or(self.label);
        self.label_type = o.label_type.or(self.label_type);
        self.id = o.id.or(self.id);
        self.columns = o.columns.or(self.columns);
        self.exclude = o.exclude.or(self.exclude);
        self.skip_unsupported = o.skip_unsupported.or(self.skip_unsupported);
        self.storage_options.extend(o.storage_options);
        self.seed = o.seed.or(self.seed);
        self.sample_size = o.sample_size.or(self.sample_size);
        self.threads = o.threads.or(self.threads);
        self.fail_on = o.fail_on.or(self.fail_on);
        self.allow_empty = o.allow_empty.or(self.allow_empty);
        self.baseline_pubkey = o.baseline_pubkey.or(self.baseline_pubkey);
        self
    }

    /// Start from a config file's values (see [`Config::load`] and [`Config::parse`]).
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }
    /// The label (class) column.
    pub fn label(mut self, column: impl Into<String>) -> Self {
        self.label = Some(column.into());
        self
    }
    /// What the label holds: classes or a numeric target (`None`: auto, the default: classes,
    /// unless a numeric column has more than 64 values).
    pub fn label_type(mut self, t: Option<LabelType>) -> Self {
        self.label_type = Some(t);
        self
    }
    /// A row identifier column: reported with rows, left out of statistics and fingerprints.
    pub fn id(mut self, column: impl Into<String>) -> Self {
        self.id = Some(column.into());
        self
    }
    /// Only these columns (label and id are always kept).
    pub fn columns(mut self, columns: Vec<String>) -> Self {
        self.columns = Some(columns);
        self
    }
    /// Leave these columns out.
    pub fn exclude(mut self, columns: Vec<String>) -> Self {
        self.exclude = Some(columns);
        self
    }
    /// Leave out, as rejected, columns of types poisonscan cannot profile (default: an error).
    pub fn skip_unsupported(mut self, skip: bool) -> Self {
        self.skip_unsupported = Some(skip);
        self
    }
    /// An option of the object stores URLs name (`aws_endpoint`, `aws_region`, …: the keys
    /// of `object_store`'s builders), over the config file's of the same key.
    pub fn storage_option(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.storage_options.push((key.into(), value.into()));
        self
    }
    /// Seed for every random choice (default 0): same seed, same report.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }
    /// Rows kept per label class in the stratified sample (default 50,000).
    pub fn sample_size(mut self, rows: usize) -> Self {
        self.sample_size = Some(rows);
        self
    }
    /// Worker threads (default: every core). Results do not depend on it.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }
    /// The lowest severity that fails the gate (default high).
    pub fn fail_on(mut self, level: FailOn) -> Self {
        self.fail_on = Some(level);
        self
    }
    /// Allow a side with no rows, or too few to compare: INT003 is then info and does not fail
    /// the gate (default: it is high).
    pub fn allow_empty(mut self, allow: bool) -> Self {
        self.allow_empty = Some(allow);
        self
    }
    /// Require the baseline to be a profile signed with the Ed25519 public key in this PEM file.
    pub fn baseline_pubkey(mut self, path: impl Into<PathBuf>) -> Self {
        self.baseline_pubkey = Some(path.into());
        self
    }
    /// The CSV dialect (default: inferred per file).
    pub fn csv(mut self, csv: CsvOptions) -> Self {
        self.csv = csv;
        self
    }
    /// The false discovery rate of every statistical finding, in (0, 0.5] (default 0.01).
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = Some(alpha);
        self
    }
    /// Turn check `code` off.
    pub fn disable_check(mut self, code: &str) -> Self {
        self.enable.remove(code);
        self.disable.insert(code.to_string());
        self
    }
    /// Turn check `code` on (over a config file that turned it off).
    pub fn enable_check(mut self, code: &str) -> Self {
        self.disable.remove(code);
        self.enable.insert(code.to_string());
        self
    }
    /// Set threshold `name` of check `code` (checked against its range by `build`).
    pub fn check_param(mut self, code: &str, name: &str, value: f64) -> Self {
        self.params
            .push((code.to_string(), name.to_string(), value));
        self
    }
    /// Give a column a role by hand (numeric, categorical or identifier-like).
    pub fn role(mut self, column: &str, role: Role) -> Self {
        self.roles.insert(column.to_string(), role);
        self
    }
    /// Split Parquet row groups into shards of at most this many rows (tests; 0: the default).
    pub fn shard_rows(mut self, rows: u64) -> Self {
        self.shard_rows = rows;
        self
    }
    /// Whether a scan keeps its CSV blocks' decoded batches for its second pass in a temporary
    /// file instead of parsing them again (default: yes; see [`crate::ingest::Spill`]). The
    /// report is the same either way.
    pub fn spill(mut self, on: bool) -> Self {
        self.no_spill = !on;
        self
    }

    /// Resolve and check: the builder's values, else the config file's, else the defaults.
    pub fn build(self) -> Result<Settings> {
        let c = self.config;
        let label = self.label.or(c.label);
        let id = self.id.or(c.id);
        if label.is_some() && label == id {
            return Err(Error::Usage(
                "the label and the id name the same column (--label, --id or the config file)"
                    .into(),
            ));
        }
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let mut notes = Vec::new();
        let threads = match self.threads.or(c.threads) {
            Some(0) => return Err(Error::Usage("--threads must be at least 1".into())),
            // More workers than cores only add memory (each holds a shard) and switching.
            Some(n) if n > cores => {
                notes.push(format!(
                    "--threads {n} is more than the {cores} cores this process may use: using {cores}"
                ));
                cores
            }
            Some(n) => n,
            None => cores,
        };
        let sample_size = self
            .sample_size
            .or(c.sample_size)
            .unwrap_or(DEFAULT_SAMPLE_SIZE);
        if sample_size == 0 {
            notes.push(
                "--sample-size 0 keeps no sample, and the checks that need one are skipped: TRG001, TRG002 and SLC001 (they need the data's sample), and OUT001, OUT002, LBL002, LBL003 and the rows file wherever their reference is profiled so (the baseline, given as data here or as a profile made with it; with no baseline, the data)"
                    .to_string(),
            );
        }
        let mut required = Vec::new();
        required.extend(label.iter().cloned());
        required.extend(id.iter().cloned());
        let exclude = self.exclude.or(c.exclude).unwrap_or_default();
        // The label and the id are always read; excluding one would otherwise be ignored
        // without a word, and the scan would not be the one asked for.
        for (role, name) in [("label", &label), ("id", &id)] {
            if let Some(n) = name.as_ref().filter(|n| exclude.contains(n)) {
                return Err(Error::Usage(format!(
                    "exclude lists `{n}`, which is the {role} (--{role}, the config file or the API's {role}=): the label and the id are always read; take `{n}` out of exclude, or name another {role}"
                )));
            }
        }
        let mut params = c.params;
        if let Some(a) = self.alpha {
            if !(a > 0.0 && a <= 0.5) {
                return Err(Error::Usage(format!(
                    "alpha = {a}: expected a rate in (0, 0.5]"
                )));
            }
            params.alpha = a;
        }
        if let Some(b) = self.allow_empty {
            params.allow_empty = b;
        }
        let checks = crate::detect::registry();
        let find = |code: &str| {
            checks
                .iter()
                .find(|d| d.code() == code)
                .copied()
                .ok_or_else(|| Error::Usage(format!("no check `{code}`")))
        };
        for (code, name, value) in &self.params {
            let d = find(code)?;
            let Some(p) = d.params().iter().find(|p| p.name == name) else {
                return Err(Error::Usage(format!(
                    "check {code} has no threshold `{name}`"
                )));
            };
            if !(*value >= p.min && *value <= p.max) {
                return Err(Error::Usage(format!(
                    "{code} {name} = {value}: expected a value from {} to {}",
                    p.min, p.max
                )));
            }
            params.set(code, p, *value);
        }
        let mut disabled = c.disabled;
        for code in &self.disable {
            find(code)?;
            disabled.insert(code.clone());
        }
        for code in &self.enable {
            find(code)?;
            disabled.remove(code);
        }
        let mut roles = c.roles;
        roles.extend(self.roles);
        Ok(Settings {
            ingest: IngestOptions {
                csv: self.csv,
                columns: self.columns.or(c.columns).unwrap_or_default(),
                exclude,
                required,
                shard_rows: self.shard_rows,
                skip_unsupported: self
                    .skip_unsupported
                    .or(c.skip_unsupported)
                    .unwrap_or(false),
                unavailable: Vec::new(),
                storage: {
                    let mut all = c.storage_options;
                    for (k, v) in self.storage_options {
                        all.insert(k, v);
                    }
                    all.into_iter().collect()
                },
                no_spill: self.no_spill,
            },
            profile: ProfileSettings {
                seed: self.seed.or(c.seed).unwrap_or(0),
                label,
                label_type: self.label_type.or(c.label_type).flatten(),
                id,
                sample_size,
                reference_ranges: Default::default(),
            },
            threads,
            fail_on: self.fail_on.or(c.fail_on).unwrap_or(FailOn::High),
            roles,
            disabled,
            params,
            allow: c.allow,
            config_path: c.path,
            baseline_pubkey: self.baseline_pubkey.or(c.baseline_pubkey),
            notes,
        })
    }
}

/// The resolved settings as a config file (every default written out, each threshold with its
/// meaning and range): what `--show-settings` prints. Reading it back gives the same settings.
fn show(settings: &Settings, checks: &[&dyn Detector]) -> String {
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
    s.push_str(&format!(
        "label-type = {}\n",
        quoted(data.profile.label_type.map_or("auto", |t| t.name()))
    ));
    s.push_str(&opt("id", &data.profile.id));
    s.push_str(&format!("columns = {}\n", list(&data.ingest.columns)));
    s.push_str(&format!("exclude = {}\n", list(&data.ingest.exclude)));
    s.push_str(&format!(
        "skip-unsupported = {}  # leave out columns of types poisonscan cannot profile, listed as rejected\n",
        data.ingest.skip_unsupported
    ));
    s.push_str(&format!("fail-on = {}\n", quoted(fail_on.name())));
    s.push_str(&format!("seed = {}\n", data.profile.seed));
    s.push_str(&format!("sample-size = {}\n", data.profile.sample_size));
    s.push_str(&format!("threads = {}\n", data.threads));
    s.push_str(&format!(
        "alpha = {}  # Benjamini-Hochberg level of every statistical finding\n",
        config.params.alpha
    ));
    s.push_str(&format!(
        "allow-empty = {}  # a side with no rows, or too few to compare (INT003), does not fail the gate\n",
        config.params.allow_empty
    ));
    s.push_str(&opt(
        "baseline-pubkey",
        &data
            .baseline_pubkey
            .as_ref()
            .map(|k| k.display().to_string()),
    ));
    // Storage options may hold credentials: their keys are shown, never their values.
    if !data.ingest.storage.is_empty() {
        let keys: Vec<&str> = data
            .ingest
            .storage
            .iter()
            .map(|(k, _)| k.as_str())
            .collect();
        s.push_str(&format!(
            "# [storage-options] sets {} (values not shown)\n",
            keys.join(", ")
        ));
    }
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

/// Where a baseline comes from, as paths: one saved profile, or data files.
#[derive(Debug, Clone)]
pub enum BaselineSource {
    None,
    Profile(PathBuf),
    Data(Vec<PathBuf>),
}

impl BaselineSource {
    /// One path that is a profile file is a profile; anything else is data.
    /// A URL is a profile when its object starts as a profile file does (read with the run's
    /// storage options, [`crate::storage::set_default_options`]).
    pub fn resolve(paths: &[PathBuf]) -> Result<BaselineSource> {
        let remote_profile = |p: &PathBuf| -> Result<bool> {
            let text = p.to_string_lossy();
            if !crate::storage::is_url(&text) {
                return Ok(false);
            }
            let head = crate::storage::head_bytes(&text, &crate::storage::default_options(), 20)?;
            Ok(head.is_some_and(|h| crate::profile::is_profile_head(&h)))
        };
        match paths {
            [] => Ok(BaselineSource::None),
            [one] if remote_profile(one)? => Ok(BaselineSource::Profile(one.clone())),
            [one] if one.is_file() && crate::profile::is_profile(one) => {
                Ok(BaselineSource::Profile(one.clone()))
            }
            many => {
                if let Some(p) = many
                    .iter()
                    .find(|p| p.is_file() && crate::profile::is_profile(p))
                {
                    return Err(Error::Usage(format!(
                        "`{}` is a profile: give one profile or data files as --baseline, not both",
                        p.display()
                    )));
                }
                Ok(BaselineSource::Data(many.to_vec()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_values_win_over_the_file_and_the_file_over_defaults() {
        let file = Config::parse(
            "label = \"y\"\nseed = 3\nsample-size = 10\nfail-on = \"low\"\n[checks.DRF001]\nenabled = false\nlow = 0.2\n",
            &crate::detect::registry(),
        )
        .unwrap();
        let s = Settings::builder()
            .config(file.clone())
            .seed(9)
            .threads(1)
            .build()
            .unwrap();
        assert_eq!(s.label(), Some("y"));
        assert_eq!(s.seed(), 9);
        assert_eq!(s.sample_size(), 10);
        assert_eq!(s.fail_on(), FailOn::Low);
        assert!(!s.check_enabled("DRF001"));
        let s = Settings::builder()
            .config(file)
            .enable_check("DRF001")
            .check_param("DRF001", "low", 0.3)
            .build()
            .unwrap();
        assert!(s.check_enabled("DRF001"));
        let d = crate::detect::find("DRF001", &[]).unwrap();
        let low = d.params().iter().find(|p| p.name == "low").unwrap();
        assert_eq!(s.params().get("DRF001", low), 0.3);
        let d = Settings::builder().build().unwrap();
        assert_eq!((d.seed(), d.sample_size()), (0, DEFAULT_SAMPLE_SIZE));
        assert_eq!(d.fail_on(), FailOn::High);
    }

    #[test]
    fn bad_values_are_errors_that_name_them() {
        let e = |b: SettingsBuilder| b.build().unwrap_err().to_string();
        assert!(e(Settings::builder().threads(0)).contains("--threads must be at least 1"));
        assert!(e(Settings::builder().label("a").id("a")).contains("the same column"));
        assert!(e(Settings::builder().alpha(0.9)).contains("alpha = 0.9"));
        assert!(e(Settings::builder().disable_check("XYZ999")).contains("no check `XYZ999`"));
        assert!(e(Settings::builder().check_param("DRF001", "nope", 1.0)).contains("`nope`"));
        assert!(e(Settings::builder().check_param("DRF001", "low", -5.0)).contains("DRF001 low"));
    }
}
