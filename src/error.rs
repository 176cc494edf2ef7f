//! The library's one error type. Each variant is something a user can fix (or, for
//! `Internal`, a bug to report); messages name the file, row or column and may carry a hint.

use std::path::PathBuf;

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can stop a run. Every variant maps to exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "input `{path}` does not exist\nhint: check the path, or quote a glob so the shell does not expand it"
    )]
    MissingPath { path: String },

    #[error(
        "no Parquet or CSV files found under `{path}`\nhint: poisonscan reads *.parquet, *.parq, *.pq, *.csv, *.tsv, *.txt and *.csv.gz files"
    )]
    NoInputFiles { path: String },

    #[error("the glob `{pattern}` is invalid: {reason}")]
    BadGlob { pattern: String, reason: String },

    #[error("`{url}`: {reason}\nhint: {hint}")]
    Storage {
        url: String,
        reason: String,
        hint: String,
    },

    #[error("cannot read `{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot write `{path}`: {source}\nhint: check that the folder exists and is writable")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "`{path}` is not a readable Parquet file: {reason}\nhint: the file may be truncated, corrupt or in another format"
    )]
    BadParquet { path: PathBuf, reason: String },

    /// A readable file whose column holds a value its dataset's type cannot hold (an unsigned
    /// 64-bit integer past 2^63 - 1, a timestamp past the microsecond range).
    #[error(
        "`{path}`: column `{column}` holds a value poisonscan cannot read as {target}: {reason}\nhint: leave the column out with `--exclude {column}`, or store it in a type that holds it (an ID as a string, a measure as a double)"
    )]
    Unconvertible {
        path: PathBuf,
        column: String,
        target: String,
        reason: String,
    },

    #[error("`{path}`: {reason}")]
    BadCsv { path: PathBuf, reason: String },

    /// The baseline is not signed by the trusted key.
    #[error("untrusted baseline: {reason}")]
    UntrustedBaseline { reason: String },

    /// An attestation cannot be read or its signature does not verify.
    #[error("`{path}`: {reason}")]
    BadAttestation { path: PathBuf, reason: String },

    /// A key file cannot be used.
    #[error("`{path}`: {reason}")]
    BadKey { path: PathBuf, reason: String },

    /// A file's column names cannot be read as one column each.
    #[error("`{path}`: {reason}")]
    BadColumnNames { path: PathBuf, reason: String },

    #[error("the row models' bytes are not usable: {reason}")]
    BadModels { reason: String },

    #[error("the row counts are not usable: {reason}")]
    BadCounts { reason: String },

    #[error("the tasks' results do not fit the plan: {reason}")]
    BadParts { reason: String },

    #[error("a batch of `{source_name}`: {reason}")]
    BadBatch { source_name: String, reason: String },

    #[error(
        "cannot write the rows file `{path}`: {reason}\nhint: check that the folder exists and is writable"
    )]
    RowsFile { path: PathBuf, reason: String },

    #[error(
        "`{path}`: {reason}\nhint: poisonscan reads UTF-8 text; convert the file (for example with `iconv -f latin1 -t utf-8`)"
    )]
    CsvNotUtf8 { path: PathBuf, reason: String },

    #[error(
        "column `{column}` has type {left_type} in `{left}` but {right_type} in `{right}`\nhint: fix the files, or leave the column out with `--exclude {column}`"
    )]
    SchemaConflict {
        column: String,
        left: PathBuf,
        left_type: String,
        right: PathBuf,
        right_type: String,
    },

    #[error(
        "column `{column}` is in `{has}` but not in `{lacks}`\nhint: all files of one dataset must have the same columns; leave it out with `--exclude {column}`"
    )]
    ColumnMissingInFile {
        column: String,
        has: PathBuf,
        lacks: PathBuf,
    },

    #[error("column `{column}` given to {flag} does not exist{within}{}", suggest(.available))]
    UnknownColumn {
        flag: String,
        column: String,
        /// Which side of a scan and which inputs (" in the baseline (`b.csv`)"), or empty.
        within: String,
        available: Vec<String>,
    },

    #[error(
        "column `{column}` has type {data_type}, which poisonscan cannot profile\nhint: leave it out with `--exclude {column}`, or every column poisonscan cannot profile with `--skip-unsupported`"
    )]
    UnsupportedType { column: String, data_type: String },

    #[error("`{path}` is not a poisonscan profile: {reason}")]
    BadProfile { path: PathBuf, reason: String },

    #[error(
        "`{path}` is a profile with schema_version {found}; this poisonscan ({tool}) reads schema_version {expected}\nhint: re-create the profile with `poisonscan profile`"
    )]
    ProfileVersion {
        path: PathBuf,
        found: u32,
        expected: u32,
        tool: String,
    },

    #[error(
        "`{path}`: {reason}\nhint: `poisonscan scan DATA --config {path} --show-settings` prints every setting, its default and its range"
    )]
    BadConfig { path: PathBuf, reason: String },

    #[error("profiles cannot be merged: {reason}")]
    ProfileMismatch { reason: String },

    /// The label column has more values than a classification label may; `numeric`: it holds
    /// numbers (auto checks such a column as a numeric target).
    #[error(
        "the label column `{label}` has more than {max} distinct values: too many for classes{}",
        if *numeric { "\nhint: check it as a numeric target with --label-type numeric (auto does when the baseline agrees)" } else { "\nhint: give a class column with --label, or none" }
    )]
    TooManyClasses {
        label: String,
        max: usize,
        numeric: bool,
    },

    /// One of the errors above whose hint is to leave a column out, about the label or the
    /// id, which a run must read and `exclude` refuses (made by `Error::for_required`).
    #[error(
        "{message}\nhint: `{column}` is the label or the id, which every run reads (`--exclude` cannot leave it out): {fix}"
    )]
    RequiredColumn {
        message: String,
        column: String,
        fix: &'static str,
    },

    #[error("{0}")]
    Usage(String),

    #[error("internal error (a bug in poisonscan, please report it): {0}")]
    Internal(String),
}

fn suggest(available: &[String]) -> String {
    if available.is_empty() {
        return String::new();
    }
    let shown: Vec<_> = available
        .iter()
        .take(12)
        .map(|c| format!("`{c}`"))
        .collect();
    let more = if available.len() > 12 {
        format!(" and {} more", available.len() - 12)
    } else {
        String::new()
    };
    format!("\nhint: the columns are {}{}", shown.join(", "), more)
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// This error with another hint where it names one of the `required` columns (the label,
    /// the id) and its hint is to leave the column out, which `exclude` refuses for them: for a
    /// caller that reads data itself, as `MemoryBatches::push_at`'s errors are not told which
    /// columns a run requires.
    pub fn for_required(self, required: &[String]) -> Self {
        let (column, fix) = match &self {
            Error::Unconvertible { column, .. } => (
                column,
                "store it in a type that holds every value (an ID as a string, a measure as a double)",
            ),
            Error::SchemaConflict { column, .. } => (column, "give it one type in every file"),
            Error::ColumnMissingInFile { column, .. } => {
                (column, "every file must carry it, or name another column")
            }
            Error::UnsupportedType { column, .. } => (
                column,
                "store it as numbers, strings, booleans or timestamps",
            ),
            _ => return self,
        };
        if !required.contains(column) {
            return self;
        }
        let column = column.clone();
        let text = self.to_string();
        let message = text.split("\nhint: ").next().unwrap_or(&text).to_string();
        Error::RequiredColumn {
            message,
            column,
            fix,
        }
    }

    /// An error writing or creating `path` (an output: a report, a profile, a folder).
    pub fn write(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Write {
            path: path.into(),
            source,
        }
    }
}
