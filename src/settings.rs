//! Options as the user wrote them, resolved once into checked, immutable settings.

use std::path::{Path, PathBuf};

use crate::cli::{CsvArgs, DataArgs};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::ingest::{CsvOptions, IngestOptions};
use crate::profile::ProfileSettings;

/// Settings for reading and profiling one side (current or baseline).
#[derive(Debug, Clone)]
pub struct DataSettings {
    pub ingest: IngestOptions,
    pub profile: ProfileSettings,
    pub threads: usize,
    pub quiet: bool,
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

fn csv_options(a: &CsvArgs) -> Result<CsvOptions> {
    Ok(CsvOptions {
        delimiter: one_char("--delimiter", &a.delimiter)?,
        quote: one_char("--quote", &a.quote)?,
        header: if a.header {
            Some(true)
        } else if a.no_header {
            Some(false)
        } else {
            None
        },
        null_values: a.null_values.clone(),
        infer_rows: a.infer_rows,
        ..CsvOptions::default()
    })
}

impl DataSettings {
    /// The flags given on the command line, else the config file's values, else the defaults.
    pub fn resolve(a: &DataArgs, config: &Config) -> Result<DataSettings> {
        let label = a.label.clone().or_else(|| config.label.clone());
        let id = a.id.clone().or_else(|| config.id.clone());
        if label.is_some() && label == id {
            return Err(Error::Usage(
                "the label and the id name the same column (--label, --id or the config file)"
                    .into(),
            ));
        }
        let mut required = Vec::new();
        required.extend(label.iter().cloned());
        required.extend(id.iter().cloned());
        let threads = match a.threads.or(config.threads) {
            Some(0) => return Err(Error::Usage("--threads must be at least 1".into())),
            Some(n) => n,
            None => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        };
        let pick = |flag: &Vec<String>, file: &Option<Vec<String>>| {
            if flag.is_empty() {
                file.clone().unwrap_or_default()
            } else {
                flag.clone()
            }
        };
        Ok(DataSettings {
            ingest: IngestOptions {
                csv: csv_options(&a.csv)?,
                columns: pick(&a.columns, &config.columns),
                exclude: pick(&a.exclude, &config.exclude),
                required,
                shard_rows: 0,
            },
            profile: ProfileSettings {
                seed: a.seed.or(config.seed).unwrap_or(0),
                label,
                id,
                sample_size: a.sample_size.or(config.sample_size).unwrap_or(50_000),
                reference_ranges: Default::default(),
            },
            threads,
            quiet: a.quiet,
        })
    }
}

/// The config file named by `--config` (checked against `checks`), or no settings.
pub fn load_config(a: &DataArgs, checks: &[&dyn crate::detect::Detector]) -> Result<Config> {
    match &a.config {
        Some(p) => Config::load(p, checks),
        None if a.no_config => Ok(Config::default()),
        None => {
            // Found in the current folder, as linters find theirs; said on stderr, since the
            // folder a command runs in is then one of its inputs.
            let found = Path::new(DEFAULT_CONFIG);
            if found.is_file() {
                if !a.quiet {
                    eprintln!(
                        "poisonscan: using the settings in ./{DEFAULT_CONFIG} (--no-config ignores it)"
                    );
                }
                Config::load(found, checks)
            } else {
                Ok(Config::default())
            }
        }
    }
}

/// The config file a command uses without `--config`, when the current folder has one.
pub const DEFAULT_CONFIG: &str = "poisonscan.toml";

/// Where a baseline comes from.
#[derive(Debug, Clone)]
pub enum BaselineSource {
    None,
    Profile(PathBuf),
    Data(Vec<PathBuf>),
}

impl BaselineSource {
    pub fn resolve(paths: &[PathBuf]) -> Result<BaselineSource> {
        match paths {
            [] => Ok(BaselineSource::None),
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
