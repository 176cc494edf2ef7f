//! Command-line definitions (clap derive) and help text, and the one place flags become
//! library [`Settings`].

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::gate::FailOn;
use crate::ingest::CsvOptions;
use crate::settings::Overrides;
use crate::{Error, Result, Settings};
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "poisonscan",
    version,
    about = "Audit a tabular training set for poisoning, tampering and drift before retraining",
    long_about = "Audit a tabular training set for poisoning, tampering and drift before retraining.\n\n\
poisonscan reads Parquet and CSV files (files, folders, globs, hive-partitioned trees), profiles them \
in one parallel pass with bounded memory, compares them with a trusted baseline (an earlier dataset or \
its saved profile) and reports which slices look poisoned or drifted.\n\n\
Exit codes: 0 the gate passed, 1 the gate failed, 2 the run could not complete.",
    after_help = "Examples:\n  poisonscan scan data/new/ --baseline data/trusted/ --label label\n  \
poisonscan profile data/trusted/ --label label -o trusted.psprof\n  \
poisonscan scan 'data/2026-*/part-*.parquet' --baseline trusted.psprof --label label --out reports/"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Profile DATA, compare it with a baseline, report findings and gate on them.
    Scan(ScanArgs),
    /// Profile DATA and save the profile, to be used later as a baseline or merged.
    Profile(ProfileArgs),
    /// Merge profiles of parts of one dataset into the profile of the whole.
    Merge(MergeArgs),
    /// Print the documentation of a check code (what it finds, why, an example, its defaults).
    Explain(ExplainArgs),
    /// The main statistics of a history of saved profiles (e.g. one a night), each against the
    /// known-good one: rows, duplicates, label shares, and per column nulls, mean, median,
    /// distinct values and drift.
    Trend(TrendArgs),
    /// Print the JSON Schema (draft 2020-12) of the report or of a row of the rows file.
    Schema(SchemaArgs),
    /// Print what a saved profile holds and who signed it: tool version, settings, rows and
    /// columns, the manifest of its inputs (paths, rows, BLAKE3), and its signature.
    Show(ShowArgs),
    /// Check an attestation (`scan --attest`) against the data a training job is about to read:
    /// exit 0 only if its signature verifies with KEY, its verdict was a pass, and DATA's files
    /// are exactly the scanned files (by SHA-256); 1 if not; 2 if it cannot be checked.
    Verify(VerifyArgs),
    /// Make an Ed25519 key pair for signing profiles: KEY (private, PKCS#8 PEM, mode 0600) and
    /// KEY.pub (public, the one to give `--baseline-pubkey`).
    Keygen(KeygenArgs),
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    /// A saved profile.
    #[arg(value_name = "PROFILE")]
    pub profile: PathBuf,
    /// Also say whether the profile is signed by this public key (exit code 1 if not).
    #[arg(long, value_name = "KEY")]
    pub pubkey: Option<PathBuf>,
    /// `json` prints the same as a JSON object.
    #[arg(long, value_enum, default_value_t = ShowFormat::Text)]
    pub format: ShowFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShowFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    /// The files, folders or globs the training job reads.
    #[arg(required = true, value_name = "DATA")]
    pub data: Vec<PathBuf>,
    /// The attestation `scan --attest` wrote (a DSSE envelope).
    #[arg(long, value_name = "FILE")]
    pub attestation: PathBuf,
    /// The public key of the key that signed it (PEM).
    #[arg(long, value_name = "KEY")]
    pub pubkey: PathBuf,
    /// No summary on stdout.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the private key; the public key goes to KEY.pub. Neither may exist.
    #[arg(short, long, value_name = "KEY")]
    pub output: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TrendFormat {
    Text,
    Markdown,
    Json,
}

#[derive(Debug, Args)]
pub struct TrendArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Saved profiles, oldest first (a glob such as `history/*.psprof` sorts dated names).
    #[arg(required = true, value_name = "PROFILE")]
    pub profiles: Vec<PathBuf>,
    /// The known-good profile every other is compared with (default: the first).
    #[arg(long, value_name = "PROFILE")]
    pub reference: Option<PathBuf>,
    /// Only these columns (comma-separated).
    #[arg(long, value_name = "COLS", value_delimiter = ',')]
    pub columns: Vec<String>,
    #[arg(long, value_enum, default_value_t = TrendFormat::Text)]
    pub format: TrendFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// A short human summary.
    Text,
    /// The JSON report (schema_version 1).
    Json,
    /// Markdown: verdict, counts, the top findings and the slices (a pull-request comment, a CI
    /// step summary).
    Markdown,
    /// A self-contained HTML page (inline CSS and SVG charts, nothing fetched): the summary,
    /// findings, slices, drift charts, row score histograms and every finding's evidence.
    Html,
    /// JUnit XML: one test case per check, failed at or above `--fail-on` (CI dashboards).
    Junit,
}

/// `--label-type`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LabelTypeArg {
    Auto,
    Class,
    Numeric,
}

impl LabelTypeArg {
    fn resolve(self) -> Option<crate::profile::LabelType> {
        match self {
            LabelTypeArg::Auto => None,
            LabelTypeArg::Class => Some(crate::profile::LabelType::Class),
            LabelTypeArg::Numeric => Some(crate::profile::LabelType::Numeric),
        }
    }
}

/// Options for reading data, shared by `scan` and `profile`.
#[derive(Debug, Args, Clone)]
pub struct DataArgs {
    /// The label column: classes, or a numeric target (see --label-type).
    #[arg(long, value_name = "COL")]
    pub label: Option<String>,
    /// What the label holds: `class`, `numeric` (a regression target, checked on the
    /// baseline's quantiles), or `auto` (the default: classes, unless a numeric column has
    /// more than 64 values). The report states the type used.
    #[arg(long, value_name = "TYPE", value_enum)]
    pub label_type: Option<LabelTypeArg>,
    /// A row identifier column: reported with rows, left out of statistics and fingerprints.
    #[arg(long, value_name = "COL")]
    pub id: Option<String>,
    /// Only these columns (comma-separated; label and id are always kept).
    #[arg(long, value_name = "COLS", value_delimiter = ',')]
    pub columns: Vec<String>,
    /// Leave these columns out (comma-separated; not the label or the id, which are always
    /// read).
    #[arg(long, value_name = "COLS", value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// Leave out columns of types poisonscan cannot profile (lists, structs, binary) instead of
    /// failing; the report lists each as rejected, with its type. [config: skip-unsupported]
    #[arg(long)]
    pub skip_unsupported: bool,
    /// An option of the object store a URL names, as KEY=VALUE (repeatable): `aws_endpoint`,
    /// `aws_region`, `aws_allow_http`, `azure_storage_account_name`, … (object_store's keys).
    /// Credentials are best left to each cloud's environment variables; no value is ever
    /// printed. [config: [storage-options]]
    #[arg(long = "storage-option", value_name = "KEY=VALUE", value_parser = key_value)]
    pub storage_options: Vec<(String, String)>,
    /// Seed for every random choice (sketch compaction, samples): same seed, same report.
    /// [default: 0]
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Rows kept per label class in the stratified sample used by row-level checks.
    /// [default: 50000]
    #[arg(long, value_name = "N")]
    pub sample_size: Option<usize>,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// No progress bars or log lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// Settings and gate policy (poisonscan.toml): label, id, columns, fail-on, column roles,
    /// checks on/off and their thresholds, the allowlist. Flags given here win over the file.
    /// [default: ./poisonscan.toml when the current folder has one]
    #[arg(long, value_name = "FILE", conflicts_with = "no_config")]
    pub config: Option<PathBuf>,
    /// Ignore ./poisonscan.toml: only the flags and the defaults.
    #[arg(long)]
    pub no_config: bool,
    /// Print the resolved settings (the config file, the flags and every default) as a
    /// poisonscan.toml, and exit without reading data.
    #[arg(long)]
    pub show_settings: bool,
    #[command(flatten)]
    pub csv: CsvArgs,
}

/// CSV dialect: everything is inferred from the start of each file unless given here.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "CSV options")]
pub struct CsvArgs {
    /// Field delimiter (one character; `\t` for tab). Default: inferred.
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<String>,
    /// Quote character. Default: `"`.
    #[arg(long, value_name = "CHAR")]
    pub quote: Option<String>,
    /// The first line is a header. Default: inferred.
    #[arg(long, conflicts_with = "no_header")]
    pub header: bool,
    /// The first line is data; columns are named column_1, column_2, …
    #[arg(long)]
    pub no_header: bool,
    /// Tokens read as null (comma-separated), replacing the inferred ones. The empty field is
    /// always null.
    #[arg(long, value_name = "TOKENS", value_delimiter = ',')]
    pub null_values: Option<Vec<String>>,
    /// Records read to infer column types; 0 reads the whole file.
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    pub infer_rows: usize,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Parquet/CSV files, folders or globs to scan, or URLs of objects, prefixes or globs in
    /// object storage (s3://, gs://, az://, https://).
    #[arg(required_unless_present = "show_settings", value_name = "DATA")]
    pub data: Vec<PathBuf>,
    /// The trusted baseline: data (files, folders, globs, URLs) or one saved profile (a path or
    /// a URL).
    #[arg(long, num_args = 1.., value_name = "DATA|PROFILE")]
    pub baseline: Vec<PathBuf>,
    /// The saved profiles of the nights accepted before this one, oldest first: folders (their
    /// *.psprof files, by name) or profiles. Tonight is also compared with the last of them,
    /// and a sequential test over all of them finds a change that creeps (DRF005). The baseline
    /// is the anchored trusted profile; without --baseline, the first profile of the history.
    #[arg(long, num_args = 1.., value_name = "DIR|PROFILE")]
    pub history: Vec<PathBuf>,
    #[command(flatten)]
    pub data_args: DataArgs,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Also write report.json, report.md, report.html and junit.xml into this folder (created if
    /// missing), or under this URL prefix in object storage (uploaded when complete).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write one row per current row (source, row, id, outlier_score, label_issue_score,
    /// duplicate_group, codes) to this Parquet file (a path or a URL), for quarantine.
    #[arg(long, value_name = "FILE.parquet")]
    pub rows_out: Option<PathBuf>,
    /// The lowest severity that fails the gate (exit code 1). [default: high]
    #[arg(long, value_enum)]
    pub fail_on: Option<FailOnArg>,
    /// Let a side with no rows, or too few to compare (INT003), pass: the finding stays in the
    /// report as info. [config: allow-empty]
    #[arg(long)]
    pub allow_empty: bool,
    /// Parse CSV data twice instead of keeping the first pass's decoded rows for the second in
    /// an unlinked temporary file in TMPDIR (about the decoded data's size; a scan keeps none
    /// when TMPDIR is held in memory (tmpfs) or would be left with under 1 GiB free). The
    /// report is the same.
    #[arg(long)]
    pub no_spill: bool,
    /// Refuse a baseline that is not a profile signed with this Ed25519 public key (PEM).
    /// [config: baseline-pubkey]
    #[arg(long, value_name = "KEY")]
    pub baseline_pubkey: Option<PathBuf>,
    /// Write a signed attestation of this scan (an in-toto Statement in a DSSE envelope: the
    /// scanned files' SHA-256, the verdict, the policy, the counts, the report's digest) for
    /// `poisonscan verify`. Needs --sign-key.
    #[arg(long, value_name = "FILE", requires = "sign_key")]
    pub attest: Option<PathBuf>,
    /// The Ed25519 private key (PKCS#8 PEM) that signs the attestation.
    #[arg(long, value_name = "KEY", requires = "attest")]
    pub sign_key: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// Parquet/CSV files, folders or globs to profile, or URLs in object storage (s3://, gs://,
    /// az://, https://).
    #[arg(required_unless_present = "show_settings", value_name = "DATA")]
    pub data: Vec<PathBuf>,
    /// Where to write the profile (a path, or a URL in object storage).
    #[arg(
        short,
        long,
        value_name = "PROFILE",
        required_unless_present = "show_settings"
    )]
    pub output: Option<PathBuf>,
    /// Sign the profile with this Ed25519 private key (PKCS#8 PEM; `poisonscan keygen`).
    #[arg(long, value_name = "KEY")]
    pub sign_key: Option<PathBuf>,
    #[command(flatten)]
    pub data_args: DataArgs,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Profiles to merge (of disjoint parts of one dataset, made with the same settings).
    #[arg(required = true, num_args = 2.., value_name = "PROFILE")]
    pub profiles: Vec<PathBuf>,
    /// Where to write the merged profile.
    #[arg(short, long, value_name = "PROFILE")]
    pub output: PathBuf,
    /// No log lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A check code, e.g. DRF001.
    #[arg(value_name = "CODE")]
    pub code: String,
}

/// `--fail-on`'s values (the library's [`FailOn`] knows nothing of clap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOnArg {
    High,
    Medium,
    Low,
    Never,
}

impl From<FailOnArg> for FailOn {
    fn from(a: FailOnArg) -> FailOn {
        match a {
            FailOnArg::High => FailOn::High,
            FailOnArg::Medium => FailOn::Medium,
            FailOnArg::Low => FailOn::Low,
            FailOnArg::Never => FailOn::Never,
        }
    }
}

fn one_char(flag: &str, v: &Option<String>) -> Result<Option<u8>> {
    let Some(s) = v else { return Ok(None) };
    let s = match s.as_str() {
        "\\t" | "tab" => "\t",
        other => other,
    };
    match s.as_bytes() {
        [b] if b.is_ascii() => Ok(Some(*b)),
        _ => Err(Error::Usage(format!(
            "{flag} takes one ASCII character, not `{s}`"
        ))),
    }
}

impl CsvArgs {
    fn options(&self) -> Result<CsvOptions> {
        Ok(CsvOptions {
            delimiter: one_char("--delimiter", &self.delimiter)?,
            quote: one_char("--quote", &self.quote)?,
            header: if self.header {
                Some(true)
            } else if self.no_header {
                Some(false)
            } else {
                None
            },
            null_values: self.null_values.clone(),
            infer_rows: self.infer_rows,
            ..CsvOptions::default()
        })
    }
}

impl DataArgs {
    /// The config file: `--config`, else `./poisonscan.toml` when the folder has one (said on
    /// stderr, since the folder a command runs in is then one of its inputs), else none.
    pub fn config(&self) -> Result<Config> {
        let checks = crate::detect::registry();
        match &self.config {
            Some(p) => Config::load(p, &checks),
            None if self.no_config => Ok(Config::default()),
            None => {
                let found = Path::new(crate::settings::DEFAULT_CONFIG);
                if found.is_file() {
                    if !self.quiet {
                        eprintln!(
                            "poisonscan: using the settings in ./{} (--no-config ignores it)",
                            crate::settings::DEFAULT_CONFIG
                        );
                    }
                    Config::load(found, &checks)
                } else {
                    Ok(Config::default())
                }
            }
        }
    }

    /// The flags over the config file over the defaults.
    pub fn settings(&self, scan: Option<&ScanArgs>) -> Result<Settings> {
        let nonempty = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        Settings::builder()
            .config(self.config()?)
            .csv(self.csv.options()?)
            .overrides(Overrides {
                label: self.label.clone(),
                label_type: self.label_type.map(LabelTypeArg::resolve),
                id: self.id.clone(),
                columns: nonempty(&self.columns),
                exclude: nonempty(&self.exclude),
                skip_unsupported: self.skip_unsupported.then_some(true),
                storage_options: self.storage_options.clone(),
                seed: self.seed,
                sample_size: self.sample_size,
                threads: self.threads,
                fail_on: scan.and_then(|s| s.fail_on).map(Into::into),
                allow_empty: scan.is_some_and(|s| s.allow_empty).then_some(true),
                baseline_pubkey: scan.and_then(|s| s.baseline_pubkey.clone()),
            })
            .spill(!scan.is_some_and(|s| s.no_spill))
            .build()
    }
}

/// Which schema `poisonscan schema` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaKind {
    /// The JSON report (`scan --format json`, `report.json`).
    Report,
    /// One row of the rows file (`scan --rows-out`), with each column's Arrow type.
    Rows,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    #[arg(value_enum, default_value_t = SchemaKind::Report)]
    pub kind: SchemaKind,
}

/// Options of the object stores that URLs name, for the commands that read or write profiles.
#[derive(Debug, Args, Clone, Default)]
pub struct StorageArgs {
    /// An option of the object store a URL names, as KEY=VALUE (repeatable), as `scan` takes
    /// it; no value is ever printed.
    #[arg(long = "storage-option", value_name = "KEY=VALUE", value_parser = key_value)]
    pub storage_options: Vec<(String, String)>,
}

impl StorageArgs {
    /// Use these options for the URLs this command reads and writes.
    pub fn apply(&self) {
        crate::storage::set_default_options(&self.storage_options);
    }
}

/// `KEY=VALUE`, the value shown in no message.
fn key_value(text: &str) -> std::result::Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err("expected KEY=VALUE".to_string()),
    }
}
