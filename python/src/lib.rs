//! `poisonscan._native`: the Python binding over the library API, as thin as it can be. The
//! Python package (`python/poisonscan/__init__.py`) turns what the user passes into one of
//! three kinds of data (paths, Arrow streams by source name, a profile) and calls these
//! functions; everything else happens in the core crate.
//!
//! - Arrow data comes in through the Arrow PyCapsule stream interface (`__arrow_c_stream__`),
//!   imported over the C data interface by arrow-rs's own binding (`arrow::pyarrow`): no copy of
//!   the columns' buffers.
//! - The GIL is released while the engine works (`Python::detach`), and a panic never crosses
//!   the boundary: it becomes a `ScanError` naming it as a bug.
//! - Errors are `ScanError`s whose message is the command line's (`error: MESSAGE` on its
//!   stderr), with the hint line apart in `.hint`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{RecordBatch, RecordBatchReader};
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::ffi_stream::RecordBatchStreamReader;
use arrow::pyarrow::{FromPyArrow, IntoPyArrow, Table};
use poisonscan::config::Config;
use poisonscan::gate::{FailOn, gate};
use poisonscan::ingest::MemoryBatches;
use poisonscan::settings::Overrides;
use poisonscan::{Baseline, Data, Engine, Error, Settings, detect, profile, report};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

mod spark;

create_exception!(
    poisonscan,
    ScanError,
    PyException,
    "A scan, profile or merge could not complete: the command line's message (exit code 2)."
);

/// The command line the wheel installs reports a failed allocation as an error, exit code 2, as
/// the cargo-built one does (`poisonscan::oom`); the API's calls never arm it.
#[global_allocator]
static ALLOCATOR: poisonscan::oom::Allocator = poisonscan::oom::Allocator;

/// The error as the command line prints it, split into its message and hint.
fn scan_error(py: Python<'_>, e: &Error) -> PyErr {
    let text = e.to_string();
    let err = ScanError::new_err(text.clone());
    let (message, hint) = match text.split_once("\nhint: ") {
        Some((m, h)) => (m.to_string(), Some(h.to_string())),
        None => (text, None),
    };
    let value = err.value(py);
    // Setting attributes on a fresh exception object cannot fail in practice; if it did, the
    // exception still carries the whole text.
    let _ = value.setattr("message", message);
    let _ = value.setattr("hint", hint);
    err
}

/// Run `f` without the GIL, turning its error and any panic into a `ScanError`.
fn detached<T: Send>(
    py: Python<'_>,
    f: impl FnOnce() -> poisonscan::Result<T> + Send,
) -> PyResult<T> {
    let out = py.detach(|| catch_unwind(AssertUnwindSafe(f)));
    match out {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(scan_error(py, &e)),
        Err(panic) => Err(scan_error(py, &Error::Internal(panic_text(panic.as_ref())))),
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic".to_string())
}

/// The settings a call gives, in the command line's order: the arguments over the config file
/// over the defaults. Without `config` no file is read (the command line's `./poisonscan.toml`
/// is a convenience of the shell, not of a library call).
#[derive(Debug, Default, FromPyObject)]
#[pyo3(from_item_all)]
struct Options {
    label: Option<String>,
    label_type: Option<String>,
    id: Option<String>,
    config: Option<PathBuf>,
    columns: Option<Vec<String>>,
    exclude: Option<Vec<String>>,
    seed: Option<u64>,
    sample_size: Option<usize>,
    threads: Option<usize>,
    fail_on: Option<String>,
    allow_empty: Option<bool>,
    baseline_pubkey: Option<PathBuf>,
    skip_unsupported: Option<bool>,
    storage_options: Option<Vec<(String, String)>>,
}

impl Options {
    fn settings(&self) -> poisonscan::Result<Settings> {
        let mut b = Settings::builder();
        if let Some(path) = &self.config {
            b = b.config(Config::load(path, &detect::registry())?);
        }
        let fail_on = match &self.fail_on {
            None => None,
            Some(f) => Some(FailOn::parse(f).ok_or_else(|| {
                Error::Usage(format!(
                    "fail_on: `{f}` is not a level\nhint: the levels are high, medium, low and never"
                ))
            })?),
        };
        let label_type = match &self.label_type {
            None => None,
            Some(t) => Some(
                poisonscan::config::parse_label_type(t)
                    .map_err(|e| Error::Usage(format!("label_type: {e}")))?,
            ),
        };
        b.overrides(Overrides {
            label: self.label.clone(),
            label_type,
            id: self.id.clone(),
            columns: self.columns.clone(),
            exclude: self.exclude.clone(),
            skip_unsupported: self.skip_unsupported,
            storage_options: self.storage_options.clone().unwrap_or_default(),
            seed: self.seed,
            sample_size: self.sample_size,
            threads: self.threads,
            fail_on,
            allow_empty: self.allow_empty,
            baseline_pubkey: self.baseline_pubkey.clone(),
        })
        .build()
    }
}

/// Data as the Python package hands it over.
enum Input {
    Paths(Vec<PathBuf>),
    Batches(MemoryBatches),
    Profile(Box<poisonscan::Profile>),
}

/// `("paths", [str])`, `("arrow", [(name, [stream, …])])` (each source's streams are its row
/// groups, in order) or `("profile", Profile)`. A panic while a stream is imported (arrow-rs
/// asserts on some malformed exports) is a `ScanError`, as in the engine. `required` are the
/// label and the id, whose errors give a fix other than leaving the column out.
fn input(py: Python<'_>, spec: &Bound<'_, PyAny>, required: &[String]) -> PyResult<Input> {
    match catch_unwind(AssertUnwindSafe(|| input_unguarded(py, spec, required))) {
        Ok(r) => r,
        Err(panic) => Err(scan_error(py, &Error::Internal(panic_text(panic.as_ref())))),
    }
}

fn input_unguarded(
    py: Python<'_>,
    spec: &Bound<'_, PyAny>,
    required: &[String],
) -> PyResult<Input> {
    let (kind, value): (String, Bound<'_, PyAny>) = spec.extract()?;
    match kind.as_str() {
        "paths" => Ok(Input::Paths(value.extract()?)),
        "profile" => Ok(Input::Profile(Box::new(
            value.extract::<PyRef<'_, Profile>>()?.0.clone(),
        ))),
        "arrow" => {
            let sources: Vec<(String, Vec<Bound<'_, PyAny>>)> = value.extract()?;
            Ok(Input::Batches(read_streams(py, &sources, required)?))
        }
        other => Err(pyo3::exceptions::PyValueError::new_err(format!(
            "unknown data kind `{other}`"
        ))),
    }
}

/// Read each source's Arrow streams (its row groups) into memory, one source after another,
/// with the GIL held (a stream may call back into Python). The buffers stay the exporter's (no
/// copy); the fields are made nullable and stripped of metadata, so that sources from
/// different libraries with the same columns and types agree.
fn read_streams(
    py: Python<'_>,
    sources: &[(String, Vec<Bound<'_, PyAny>>)],
    required: &[String],
) -> PyResult<MemoryBatches> {
    let mut data: Option<MemoryBatches> = None;
    let mut seen = std::collections::HashSet::new();
    for (name, streams) in sources {
        if !seen.insert(name.as_str()) {
            return Err(scan_error(
                py,
                &Error::BadBatch {
                    source_name: name.clone(),
                    reason: "two sources have this name: rows are keyed and reported by it".into(),
                },
            ));
        }
        let bad = |reason: String| {
            scan_error(
                py,
                &Error::BadBatch {
                    source_name: name.clone(),
                    reason,
                },
            )
        };
        let mut first_row = 0u64;
        for (row_group, stream) in streams.iter().enumerate() {
            let row_group = u32::try_from(row_group)
                .map_err(|_| bad("more than 2^32 row groups".to_string()))?;
            let reader = RecordBatchStreamReader::from_pyarrow_bound(stream).map_err(|e| {
                // An interrupt (or exit) while the exporter works is not bad data: it goes on.
                if !e.is_instance_of::<PyException>(py) {
                    return e;
                }
                let err = bad(format!("cannot read its Arrow stream: {e}"));
                err.set_cause(py, Some(e));
                err
            })?;
            let schema = plain_schema(&reader.schema());
            let data = data.get_or_insert_with(|| MemoryBatches::new(schema.clone()));
            let mut any = false;
            for batch in reader {
                let batch = batch.map_err(|e| bad(format!("cannot read its Arrow stream: {e}")))?;
                // The C stream import trusts the exporter; the engine's loops index the
                // buffers, so offsets, lengths and UTF-8 are checked here, once.
                for (field, column) in schema.fields().iter().zip(batch.columns()) {
                    column.to_data().validate_full().map_err(|e| {
                        bad(format!(
                            "column `{}` is not valid Arrow data: {e}",
                            field.name()
                        ))
                    })?;
                }
                let batch = RecordBatch::try_new(schema.clone(), batch.columns().to_vec())
                    .map_err(|e| bad(e.to_string()))?;
                let rows = batch.num_rows() as u64;
                data.push_at(name, row_group, first_row, batch)
                    .map_err(|e| scan_error(py, &e.for_required(required)))?;
                first_row += rows;
                any = true;
            }
            if !any {
                // An empty table still has a schema, and its source a name the manifest lists.
                data.push_at(name, row_group, first_row, RecordBatch::new_empty(schema))
                    .map_err(|e| scan_error(py, &e.for_required(required)))?;
            }
        }
    }
    data.ok_or_else(|| {
        scan_error(
            py,
            &Error::Usage("no data: give at least one table".to_string()),
        )
    })
}

fn plain_schema(schema: &SchemaRef) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| Field::new(f.name(), f.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ))
}

/// A profile: what one pass over data keeps (sketches, counts, fingerprints, the sample).
#[pyclass(module = "poisonscan._native", name = "Profile", frozen)]
struct Profile(poisonscan::Profile);

#[pymethods]
impl Profile {
    /// The profile file's bytes (versioned, with BLAKE3 hashes).
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let p = &self.0;
        let bytes = detached(py, || p.to_bytes())?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Read a profile from `to_bytes()`'s bytes.
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Profile> {
        detached(py, || poisonscan::Profile::from_bytes(data)).map(Profile)
    }

    /// Write the profile file (as `poisonscan profile -o` does).
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let p = &self.0;
        detached(py, || profile::save(p, &path))
    }

    /// Read a profile file.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Profile> {
        detached(py, || profile::load(&path)).map(Profile)
    }

    #[getter]
    fn rows(&self) -> u64 {
        self.0.rows
    }

    #[getter]
    fn label(&self) -> Option<String> {
        self.0.label.clone()
    }

    #[getter]
    fn id(&self) -> Option<String> {
        self.0.id.clone()
    }

    #[getter]
    fn seed(&self) -> u64 {
        self.0.seed
    }

    /// The sources profiled (file paths, or the names given to in-memory tables), in order.
    #[getter]
    fn sources(&self) -> Vec<String> {
        self.0.manifest.iter().map(|m| m.path.clone()).collect()
    }

    /// The columns, in schema order.
    #[getter]
    fn columns(&self) -> Vec<String> {
        self.0.columns.iter().map(|c| c.name.clone()).collect()
    }

    /// The summary as JSON text: the report's `profile` object plus rows and manifest.
    fn _summary_json(&self) -> PyResult<String> {
        let s = report::summarize(&self.0);
        let v = serde_json::json!({
            "rows": self.0.rows,
            "label": self.0.label,
            "id": self.0.id,
            "manifest": self.0.manifest,
            "columns": s.columns,
            "label_counts": s.label_counts,
            "duplicates": s.duplicates,
        });
        serde_json::to_string(&v)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
    }

    fn __repr__(&self) -> String {
        format!(
            "<poisonscan.Profile: {} rows × {} columns from {} sources>",
            self.0.rows,
            self.0.columns.len(),
            self.0.manifest.len()
        )
    }
}

/// A scan's report, the gate's verdict on it, and (when kept) every row's scores.
#[pyclass(module = "poisonscan._native", name = "Report", frozen)]
struct Report {
    report: poisonscan::Report,
    exit_code: i32,
    fail_on: FailOn,
    disabled: std::collections::BTreeSet<String>,
    /// Every row's scores, or why there are none.
    rows: Result<Vec<RecordBatch>, &'static str>,
}

const NOT_KEPT: &str = "the row scores were not kept: scan with row_scores=True";
const FROM_PROFILE: &str =
    "no row was scored: the data was a saved profile, which has no rows to score";
const SPARK_ROWS: &str =
    "the row scores of a Spark scan are a DataFrame: call poisonscan.spark.row_scores";
const NOT_SCORED: &str = "no row was scored: no column can be scored (every column is the label, the id, a partition, constant or identifier-like) or the reference has no sample";

#[pymethods]
impl Report {
    /// The JSON report, byte for byte as `poisonscan scan --format json` writes it.
    fn to_json(&self) -> String {
        self.report.to_json()
    }

    fn to_markdown(&self) -> String {
        self.report.to_markdown()
    }

    /// The self-contained HTML page (no scripts, styles or images fetched).
    fn to_html(&self) -> String {
        self.report.to_html()
    }

    fn to_text(&self) -> String {
        self.report.to_text()
    }

    fn to_junit(&self) -> String {
        self.report.to_junit(
            &detect::check_names(&detect::registry()),
            &self.disabled,
            self.fail_on,
        )
    }

    /// 0 when the gate passed, 1 when it failed: the command line's exit code.
    #[getter]
    fn exit_code(&self) -> i32 {
        self.exit_code
    }

    /// The rows file's table (`poisonscan scan --rows-out`) as a `pyarrow.Table`.
    fn row_scores<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let rows = match &self.rows {
            Ok(rows) => rows,
            Err(why) => return Err(scan_error(py, &Error::Usage(why.to_string()))),
        };
        let Some(first) = rows.first() else {
            return Err(scan_error(
                py,
                &Error::Usage("no row was scored: the data has no rows".into()),
            ));
        };
        let table = Table::try_new(rows.clone(), first.schema())
            .map_err(|e| scan_error(py, &Error::Internal(e.to_string())))?;
        table.into_pyarrow(py)
    }
}

/// Profile `data` (`("paths", …)` or `("arrow", …)`) with `options`.
#[pyfunction]
#[pyo3(name = "profile")]
fn profile_data(py: Python<'_>, data: &Bound<'_, PyAny>, options: Options) -> PyResult<Profile> {
    let settings = detached(py, || options.settings())?;
    match input(py, data, &settings.ingest_options().required)? {
        Input::Paths(paths) => {
            detached(py, || Engine::new(&settings).profile(Data::Paths(&paths))).map(Profile)
        }
        Input::Batches(b) => {
            detached(py, || Engine::new(&settings).profile(Data::Batches(&b))).map(Profile)
        }
        Input::Profile(p) => Ok(Profile(*p)),
    }
}

/// Scan `data` against `baseline` (`None`: no baseline), keeping the rows' scores if asked.
#[pyfunction]
#[pyo3(signature = (data, baseline, options, keep_rows, history = Vec::new()))]
fn scan(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    baseline: Option<&Bound<'_, PyAny>>,
    options: Options,
    keep_rows: bool,
    history: Vec<PathBuf>,
) -> PyResult<Report> {
    let settings = detached(py, || options.settings())?;
    let required = &settings.ingest_options().required;
    let current = input(py, data, required)?;
    // The accepted nights, oldest first; without a baseline the oldest is the anchor.
    let mut history = detached(py, || poisonscan::history::resolve(&history))?;
    let baseline = match baseline {
        Some(b) => Some(input(py, b, required)?),
        None if !history.is_empty() => Some(Input::Paths(vec![history.remove(0)])),
        None => None,
    };
    type Rows = Result<Vec<RecordBatch>, &'static str>;
    let run = || -> poisonscan::Result<(poisonscan::Report, Rows)> {
        let engine = Engine::new(&settings).with_history(&history);
        // Paths given as the baseline may be one saved profile, as on the command line.
        let baseline = match &baseline {
            None => Baseline::None,
            Some(Input::Paths(p)) => Baseline::from_paths(p)?,
            Some(Input::Batches(b)) => Baseline::Data(Data::Batches(b)),
            Some(Input::Profile(p)) => Baseline::Profile(p.clone()),
        };
        let current = match &current {
            // One saved profile as the data, as `Baseline::from_paths` tells it.
            Input::Paths(p) => match Baseline::from_paths(p)? {
                Baseline::Profile(saved) => Err(saved),
                _ => Ok(Data::Paths(p)),
            },
            Input::Batches(b) => Ok(Data::Batches(b)),
            Input::Profile(p) => Err(p.clone()),
        };
        match current {
            Ok(data) if keep_rows => {
                let (report, rows) = engine.scan_with_rows(data, baseline)?;
                Ok((report, rows.ok_or(NOT_SCORED)))
            }
            Ok(data) => Ok((engine.scan(data, baseline, None)?, Err(NOT_KEPT))),
            // A saved profile as the current side: the checks on profiles only (no row pass).
            Err(current) => {
                let baseline = match baseline {
                    Baseline::None => None,
                    Baseline::Profile(p) => Some(*p),
                    Baseline::Data(d) => Some(engine.profile(d)?),
                };
                Ok((engine.report(*current, baseline, None)?, Err(FROM_PROFILE)))
            }
        }
    };
    let (report, rows) = detached(py, run)?;
    Ok(Report::new(report, &settings, rows))
}

impl Report {
    /// A report with the gate's verdict under `settings`.
    fn new(
        report: poisonscan::Report,
        settings: &Settings,
        rows: Result<Vec<RecordBatch>, &'static str>,
    ) -> Report {
        let exit_code = gate(&report, &settings.policy()).exit_code();
        Report {
            report,
            exit_code,
            fail_on: settings.fail_on(),
            disabled: settings.disabled_checks().clone(),
            rows,
        }
    }
}

/// Merge profiles of disjoint parts, in order, into the profile of the whole.
#[pyfunction]
fn merge(py: Python<'_>, profiles: &Bound<'_, PyList>) -> PyResult<Profile> {
    let parts: Vec<poisonscan::Profile> = profiles
        .iter()
        .map(|p| Ok(p.extract::<PyRef<'_, Profile>>()?.0.clone()))
        .collect::<PyResult<_>>()?;
    detached(py, || poisonscan::merge(parts)).map(Profile)
}

/// The command line with `args` (the first is the program's name); returns the exit code.
#[pyfunction]
fn cli_main(py: Python<'_>, args: Vec<std::ffi::OsString>) -> PyResult<i32> {
    detached(py, || Ok(poisonscan::cli::main(args)))
}

/// The checks' codes and names, as `poisonscan explain` knows them.
#[pyfunction]
fn checks() -> Vec<(String, String)> {
    detect::registry()
        .iter()
        .map(|d| (d.code().to_string(), d.check().to_string()))
        .collect()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("ScanError", m.py().get_type::<ScanError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<Profile>()?;
    m.add_class::<Report>()?;
    m.add_class::<spark::TaskPlan>()?;
    m.add_class::<spark::Task>()?;
    m.add_class::<spark::KeysTask>()?;
    m.add_function(wrap_pyfunction!(spark::spark_fit, m)?)?;
    m.add_function(wrap_pyfunction!(spark::spark_duplicates, m)?)?;
    m.add_function(wrap_pyfunction!(spark::spark_fingerprints, m)?)?;
    m.add_function(wrap_pyfunction!(spark::spark_apart, m)?)?;
    m.add_function(wrap_pyfunction!(spark::spark_repeated, m)?)?;
    m.add_function(wrap_pyfunction!(spark::spark_check_fingerprints, m)?)?;
    m.add_function(wrap_pyfunction!(spark::spark_report, m)?)?;
    m.add_function(wrap_pyfunction!(profile_data, m)?)?;
    m.add_function(wrap_pyfunction!(scan, m)?)?;
    m.add_function(wrap_pyfunction!(merge, m)?)?;
    m.add_function(wrap_pyfunction!(cli_main, m)?)?;
    m.add_function(wrap_pyfunction!(checks, m)?)?;
    Ok(())
}
