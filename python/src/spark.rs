//! What `poisonscan.spark` calls: on the driver, the plan, the fold of the tasks' parts, the
//! row models and the report; in the executors, a [`Task`] that cuts a partition's Arrow
//! batches into the plan's shards and profiles or scores each. Everything between (which task
//! runs where, retries, collecting the results) is Spark's; see `poisonscan::profile::plan`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;
use arrow::datatypes::Schema;
use arrow::pyarrow::{FromPyArrow, ToPyArrow};
use poisonscan::profile::RowGroupEntry;
use poisonscan::profile::plan::{
    PartProfile, SampleKeys, ShardCutter, ShardRows, TaskPlan as CorePlan,
};
use poisonscan::rows::{DuplicateGroups, RowCounts, RowModels};
use poisonscan::{Engine, Error};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::{Options, Profile, Report, detached, scan_error};

/// A file's hashes as Python gets them: the file's BLAKE3 and (index, rows, BLAKE3) per row
/// group.
type Hashes = (String, Vec<(u32, u64, String)>);

/// A scan's plan, on the driver and in the tasks.
#[pyclass(module = "poisonscan._native", name = "TaskPlan", frozen)]
pub(crate) struct TaskPlan(Arc<CorePlan>);

#[pymethods]
impl TaskPlan {
    /// The plan of a scan of local Parquet files, as `poisonscan scan` plans the same files;
    /// the current side of a scan against `baseline` counts values outside its ranges.
    #[staticmethod]
    #[pyo3(signature = (paths, options, baseline=None, columns=None))]
    fn files(
        py: Python<'_>,
        paths: Vec<PathBuf>,
        options: Options,
        baseline: Option<PyRef<'_, Profile>>,
        columns: Option<Vec<String>>,
    ) -> PyResult<TaskPlan> {
        let baseline = baseline.as_deref();
        detached(py, || {
            let settings = options.settings()?;
            let baseline = baseline.map(|b| &b.0);
            Engine::new(&settings).plan_files(&paths, baseline, columns.as_deref())
        })
        .map(|p| TaskPlan(Arc::new(p)))
    }

    /// The plan of any DataFrame: one source per partition (`partitions` of them), its Arrow
    /// `schema` checked first (a type poisonscan cannot profile is the command line's error).
    #[staticmethod]
    #[pyo3(signature = (partitions, schema, options, baseline=None))]
    fn partitions(
        py: Python<'_>,
        partitions: usize,
        schema: &Bound<'_, PyAny>,
        options: Options,
        baseline: Option<PyRef<'_, Profile>>,
    ) -> PyResult<TaskPlan> {
        let schema = Schema::from_pyarrow_bound(schema)?;
        let baseline = baseline.as_deref();
        detached(py, || {
            let settings = options.settings()?;
            let baseline = baseline.map(|b| &b.0);
            Engine::new(&settings).plan_partitions(partitions, &schema, baseline)
        })
        .map(|p| TaskPlan(Arc::new(p)))
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = detached(py, || self.0.to_bytes())?;
        Ok(PyBytes::new(py, &bytes))
    }

    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<TaskPlan> {
        detached(py, || CorePlan::from_bytes(data)).map(|p| TaskPlan(Arc::new(p)))
    }

    /// The sources' names, in plan order (file paths, or `partition-00000`…).
    fn sources(&self) -> Vec<String> {
        self.0.sources().iter().map(|s| s.name.clone()).collect()
    }

    /// The local files the sources are read from, in plan order (`None` by partition).
    fn source_paths(&self) -> Vec<Option<String>> {
        self.0
            .sources()
            .iter()
            .map(|s| s.path().map(str::to_string))
            .collect()
    }

    /// Every column of the data before `columns`/`exclude`.
    fn file_columns(&self) -> Vec<String> {
        self.0.file_columns().to_vec()
    }

    /// Every column the plan profiles, partition columns included.
    fn columns(&self) -> Vec<String> {
        self.0.columns()
    }

    #[getter]
    fn by_partition(&self) -> bool {
        self.0.by_partition()
    }

    /// The schema of the rows' scores (`poisonscan schema rows`, the plan's id type).
    fn rows_schema(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let schema = poisonscan::rows::pass::rows_schema(self.0.id_field().as_ref());
        Ok(schema.as_ref().to_pyarrow(py)?.unbind())
    }

    /// The DataFrame columns the tasks need.
    fn read_columns(&self) -> Vec<String> {
        self.0.read_columns()
    }

    /// This plan with the sample's bounds from every partition's `KeysTask` bytes (one each).
    fn with_sample_bounds(&self, py: Python<'_>, keys: Vec<Vec<u8>>) -> PyResult<TaskPlan> {
        detached(py, || {
            let keys = keys
                .iter()
                .map(|b| SampleKeys::from_bytes(b))
                .collect::<poisonscan::Result<Vec<_>>>()?;
            Ok(self.0.with_sample_bounds(&keys))
        })
        .map(|p| TaskPlan(Arc::new(p)))
    }

    /// The data columns the sample-bounds pre-pass reads (the label, if any), or `None` when
    /// the plan keeps no sample.
    fn key_columns(&self) -> Option<Vec<String>> {
        let s = self.0.settings();
        (s.sample_size > 0).then(|| s.label.iter().cloned().collect())
    }

    /// This plan with the tasks' fingerprints given apart from their parts.
    fn with_fingerprints_apart(&self) -> TaskPlan {
        TaskPlan(Arc::new(self.0.with_fingerprints_apart()))
    }

    /// The rows the plan reads, when known before the job (a plan of files).
    fn rows(&self) -> Option<u64> {
        self.0.rows()
    }

    #[getter]
    fn fingerprints_apart(&self) -> bool {
        self.0.fingerprints_apart()
    }

    /// The sample-bounds pre-pass of partition `partition` (a plan of files: reads the label
    /// column and the source and row columns).
    fn keys_task(&self, py: Python<'_>, partition: usize) -> PyResult<KeysTask> {
        if self.0.by_partition() {
            return Err(scan_error(
                py,
                &Error::Internal(format!(
                    "partition {partition}: the sample's bounds are found for plans of files only"
                )),
            ));
        }
        Ok(KeysTask {
            plan: self.0.clone(),
            keys: Mutex::new(Some(SampleKeys::default())),
        })
    }

    /// Source `i`'s hashes for the manifest (`None` when the plan reads no local files).
    fn hash_source(&self, py: Python<'_>, i: usize) -> PyResult<Option<Hashes>> {
        let h = detached(py, || self.0.hash_source(i))?;
        Ok(h.map(|(file, groups)| {
            let groups = groups
                .into_iter()
                .map(|g| (g.index, g.rows, g.xxh3))
                .collect();
            (file, groups)
        }))
    }

    /// The current profile from the tasks' parts (`PartProfile` bytes, any order) and each
    /// source's hashes.
    fn fold(
        &self,
        py: Python<'_>,
        parts: Vec<Vec<u8>>,
        hashes: Vec<Option<Hashes>>,
    ) -> PyResult<Profile> {
        let hashes = hashes
            .into_iter()
            .map(|h| {
                h.map(|(file, groups)| {
                    let groups = groups
                        .into_iter()
                        .map(|(index, rows, xxh3)| RowGroupEntry { index, rows, xxh3 })
                        .collect();
                    (file, groups)
                })
            })
            .collect();
        detached(py, || {
            let parts = parts
                .iter()
                .map(|b| PartProfile::from_bytes(b))
                .collect::<poisonscan::Result<Vec<_>>>()?;
            self.0.fold(parts, hashes)
        })
        .map(Profile)
    }

    /// A task's work on this plan: `"profile"`, `"score"` (with `models`) or `"rows"` (with
    /// `models` and `duplicates`).
    #[pyo3(signature = (kind, partition, models=None, duplicates=None))]
    fn task(
        &self,
        py: Python<'_>,
        kind: &str,
        partition: usize,
        models: Option<Vec<u8>>,
        duplicates: Option<Vec<u8>>,
    ) -> PyResult<Task> {
        let work = match (kind, models) {
            ("profile", _) => Work::Profile,
            ("score", Some(m)) => {
                Work::Score(Box::new(detached(py, || RowModels::from_bytes(&m))?))
            }
            ("rows", Some(m)) => {
                let models = detached(py, || RowModels::from_bytes(&m))?;
                let dups = match duplicates {
                    Some(d) => detached(py, || DuplicateGroups::from_bytes(&d))?,
                    None => DuplicateGroups::default(),
                };
                Work::Rows(Box::new(models), Box::new(dups))
            }
            _ => {
                return Err(scan_error(
                    py,
                    &Error::Internal(format!("no task `{kind}` (or its models are missing)")),
                ));
            }
        };
        Ok(Task {
            plan: self.0.clone(),
            partition,
            work,
            cutter: Mutex::new(Some(self.0.cutter())),
        })
    }
}

enum Work {
    Profile,
    Score(Box<RowModels>),
    Rows(Box<RowModels>, Box<DuplicateGroups>),
}

/// What a task gives back per shard: the key and the part's bytes (profile or counts), or the
/// shard's rows' scores.
enum Out {
    Part(u32, u64, u64, Vec<u8>),
    Rows(Vec<RecordBatch>),
    /// A part and, apart, its rows' fingerprints (the job's rows without a payload).
    Apart(Box<Out>, RecordBatch),
}

/// Fingerprints as a batch of `hi` and `lo` (the high and low 64 bits, as Int64), after the
/// null `source`, `first_row`, `rows` and `payload` of a part's row when `with_part_columns`.
fn fingerprint_batch(rows: &[u128], with_part_columns: bool) -> poisonscan::Result<RecordBatch> {
    use arrow::array::{ArrayRef, BinaryArray, Int64Array, new_null_array};
    use arrow::datatypes::{DataType, Field};
    let n = rows.len();
    let hi = Int64Array::from_iter_values(rows.iter().map(|&f| (f >> 64) as u64 as i64));
    let lo = Int64Array::from_iter_values(rows.iter().map(|&f| f as u64 as i64));
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    if with_part_columns {
        for name in ["source", "first_row", "rows"] {
            fields.push(Field::new(name, DataType::Int64, true));
            columns.push(new_null_array(&DataType::Int64, n));
        }
        fields.push(Field::new("payload", DataType::Binary, true));
        columns.push(Arc::new(BinaryArray::new_null(n)));
    }
    fields.push(Field::new("hi", DataType::Int64, true));
    fields.push(Field::new("lo", DataType::Int64, true));
    columns.push(Arc::new(hi));
    columns.push(Arc::new(lo));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .map_err(|e| Error::Internal(format!("the fingerprints' batch: {e}")))
}

/// One task's cutter and work.
#[pyclass(module = "poisonscan._native", name = "Task", frozen)]
pub(crate) struct Task {
    plan: Arc<CorePlan>,
    partition: usize,
    work: Work,
    cutter: Mutex<Option<ShardCutter>>,
}

impl Task {
    fn work(&self, shard: &ShardRows) -> poisonscan::Result<Out> {
        let plan = &self.plan;
        let key = (shard.source as u32, shard.first_row, shard.rows);
        match &self.work {
            Work::Profile => {
                let mut p = plan.profile_shard(shard)?;
                let fingerprints = if plan.fingerprints_apart() {
                    p.take_fingerprints()
                } else {
                    Vec::new()
                };
                let part = Out::Part(key.0, key.1, key.2, p.to_bytes()?);
                if fingerprints.is_empty() {
                    return Ok(part);
                }
                Ok(Out::Apart(
                    Box::new(part),
                    fingerprint_batch(&fingerprints, true)?,
                ))
            }
            Work::Score(models) => {
                let counts = models.score(&plan.memory(shard)?, &plan.ingest())?;
                Ok(Out::Part(key.0, key.1, key.2, counts.to_bytes()?))
            }
            Work::Rows(models, dups) => {
                let (_, rows) =
                    models.score_with_rows(&plan.memory(shard)?, &plan.ingest(), dups)?;
                Ok(Out::Rows(rows))
            }
        }
    }

    fn run(
        &self,
        py: Python<'_>,
        step: impl FnOnce(&mut ShardCutter) -> poisonscan::Result<Vec<ShardRows>> + Send,
    ) -> PyResult<Vec<Out>> {
        detached(py, || {
            let mut guard = self
                .cutter
                .lock()
                .map_err(|_| Error::Internal("a task's cutter was poisoned".into()))?;
            let cutter = guard
                .as_mut()
                .ok_or_else(|| Error::Internal("the task was finished".into()))?;
            let shards = step(cutter)?;
            shards.iter().map(|s| self.work(s)).collect()
        })
    }
}

fn to_python(py: Python<'_>, out: Vec<Out>) -> PyResult<Vec<Py<PyAny>>> {
    let mut list = Vec::new();
    for o in out {
        match o {
            Out::Part(s, f, r, b) => list.push(
                (s, f, r, PyBytes::new(py, &b))
                    .into_pyobject(py)?
                    .into_any()
                    .unbind(),
            ),
            Out::Rows(batches) => {
                for b in batches {
                    list.push(b.to_pyarrow(py)?.unbind());
                }
            }
            Out::Apart(part, fingerprints) => {
                list.extend(to_python(py, vec![*part])?);
                list.push(fingerprints.to_pyarrow(py)?.unbind());
            }
        }
    }
    Ok(list)
}

/// A profile's fingerprints as a batch of `hi` and `lo` (Int64), to group them on the cluster
/// with fingerprints kept apart.
#[pyfunction]
pub(crate) fn spark_fingerprints(
    py: Python<'_>,
    profile: PyRef<'_, Profile>,
) -> PyResult<Py<PyAny>> {
    let p = &profile.0;
    let b = detached(py, || fingerprint_batch(&p.fingerprints.rows, false))?;
    Ok(b.to_pyarrow(py)?.unbind())
}

/// Check a profile's fingerprints kept apart before they are used: `total` of them, and
/// `per_segment` (segment → count) as Spark counted them.
#[pyfunction]
pub(crate) fn spark_check_fingerprints(
    py: Python<'_>,
    profile: PyRef<'_, Profile>,
    total: u64,
    per_segment: std::collections::BTreeMap<u16, u64>,
) -> PyResult<()> {
    let p = &profile.0;
    let mut counts = vec![0u64; p.segments.len()];
    for (s, n) in per_segment {
        if let Some(c) = counts.get_mut(s as usize) {
            *c = n;
        }
    }
    detached(py, || p.check_fingerprint_counts(total, &counts))
}

/// Whether a profile's fingerprints were kept apart (it holds only the duplicated rows').
#[pyfunction]
pub(crate) fn spark_apart(profile: PyRef<'_, Profile>) -> bool {
    profile.0.fingerprint_scope != poisonscan::profile::FingerprintScope::All
}

/// `profile` (its fingerprints kept apart) with the duplicated rows' fingerprints, given as
/// `hi` and `lo` Int64 arrays (`joined`: found together with the other side of a scan;
/// `same_duplicates`: they must give the duplicate statistics the profile already has).
#[pyfunction]
pub(crate) fn spark_repeated(
    py: Python<'_>,
    profile: PyRef<'_, Profile>,
    hi: &Bound<'_, PyAny>,
    lo: &Bound<'_, PyAny>,
    joined: bool,
    same_duplicates: bool,
) -> PyResult<Profile> {
    use arrow::array::{Array, ArrayData, AsArray, make_array};
    use arrow::datatypes::Int64Type;
    let p = &profile.0;
    let bad = |reason: &str| scan_error(py, &Error::Internal(reason.to_string()));
    let read = |a: &Bound<'_, PyAny>| -> PyResult<Vec<u64>> {
        let a = make_array(ArrayData::from_pyarrow_bound(a)?);
        let a = a
            .as_primitive_opt::<Int64Type>()
            .filter(|a| a.null_count() == 0)
            .ok_or_else(|| bad("fingerprints are two Int64 arrays without nulls"))?;
        Ok(a.values().iter().map(|&v| v as u64).collect())
    };
    let (hi, lo) = (read(hi)?, read(lo)?);
    if hi.len() != lo.len() {
        return Err(bad("the fingerprints' two arrays differ in length"));
    }
    detached(py, || {
        let rows = hi
            .iter()
            .zip(&lo)
            .map(|(&h, &l)| (u128::from(h) << 64) | u128::from(l))
            .collect();
        let q = p.with_repeated(rows, joined)?;
        // The baseline's own groups are in both sets: the statistics must not move.
        if same_duplicates && q.duplicates() != p.duplicates() {
            return Err(Error::Usage(
                "the fingerprints given for the baseline profile are not its rows': they give other duplicate statistics than the profile holds\nhint: give the fingerprints_out= the profile was made with".into(),
            ));
        }
        Ok(q)
    })
    .map(Profile)
}

#[pymethods]
impl Task {
    /// A batch of the task's rows (a file scan's with the plan's source and row columns); what
    /// the shards it completes give: `(source, first_row, rows, bytes)` per shard, or the rows'
    /// scores as `pyarrow.RecordBatch`es.
    fn push(&self, py: Python<'_>, batch: &Bound<'_, PyAny>) -> PyResult<Vec<Py<PyAny>>> {
        let batch = RecordBatch::from_pyarrow_bound(batch)?;
        let (plan, partition) = (&self.plan, self.partition);
        let out = if plan.by_partition() {
            self.run(py, |c| c.push_partition(plan, partition, &batch))?
        } else {
            self.run(py, |c| c.push_files(plan, &batch))?
        };
        to_python(py, out)
    }

    /// The end of the task's rows: what the last shards give.
    fn finish(&self, py: Python<'_>) -> PyResult<Vec<Py<PyAny>>> {
        let (plan, partition) = (&self.plan, self.partition);
        let out = self.run(py, |c| std::mem::take(c).finish(plan, Some(partition)))?;
        if let Ok(mut g) = self.cutter.lock() {
            *g = None;
        }
        to_python(py, out)
    }
}

/// One task of the sample-bounds pre-pass: its partition's smallest row keys per class.
#[pyclass(module = "poisonscan._native", name = "KeysTask", frozen)]
pub(crate) struct KeysTask {
    plan: Arc<CorePlan>,
    keys: Mutex<Option<SampleKeys>>,
}

#[pymethods]
impl KeysTask {
    /// A batch of the task's rows (a file scan's with the plan's source and row columns).
    fn push(&self, py: Python<'_>, batch: &Bound<'_, PyAny>) -> PyResult<()> {
        let batch = RecordBatch::from_pyarrow_bound(batch)?;
        let plan = &self.plan;
        detached(py, || {
            let mut guard = self
                .keys
                .lock()
                .map_err(|_| Error::Internal("a task's keys were poisoned".into()))?;
            let keys = guard
                .as_mut()
                .ok_or_else(|| Error::Internal("the task was finished".into()))?;
            keys.push_files(plan, &batch)
        })
    }

    /// The end of the task's rows: its keys as bytes.
    fn finish<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = detached(py, || {
            let keys = self
                .keys
                .lock()
                .map_err(|_| Error::Internal("a task's keys were poisoned".into()))?
                .take()
                .ok_or_else(|| Error::Internal("the task was finished".into()))?;
            keys.to_bytes(&self.plan)
        })?;
        Ok(PyBytes::new(py, &bytes))
    }
}

/// Fit the row models on the driver (`None` when no column can be scored); their bytes.
#[pyfunction]
#[pyo3(signature = (options, current, baseline=None))]
pub(crate) fn spark_fit<'py>(
    py: Python<'py>,
    options: Options,
    current: PyRef<'py, Profile>,
    baseline: Option<PyRef<'py, Profile>>,
) -> PyResult<Option<Bound<'py, PyBytes>>> {
    let (current, baseline) = (&current.0, baseline.as_deref().map(|b| &b.0));
    let bytes = detached(py, || {
        let settings = options.settings()?;
        let mut current = current.clone();
        let mut baseline = baseline.cloned();
        Engine::new(&settings).prepare(&mut current, baseline.as_mut())?;
        let models = Engine::new(&settings).fit_row_models(baseline.as_ref(), &current);
        models.map(|m| m.to_bytes()).transpose()
    })?;
    Ok(bytes.map(|b| PyBytes::new(py, &b)))
}

/// The current profile's duplicate groups as bytes (what the rows' scores number).
#[pyfunction]
pub(crate) fn spark_duplicates<'py>(
    py: Python<'py>,
    current: PyRef<'py, Profile>,
) -> PyResult<Bound<'py, PyBytes>> {
    let current = &current.0;
    let bytes = detached(py, || DuplicateGroups::of(current).to_bytes())?;
    Ok(PyBytes::new(py, &bytes))
}

/// The report from the driver's profiles, the models and the tasks' counts (keyed by shard,
/// any order; `plan` checks the keys).
#[pyfunction]
#[pyo3(signature = (options, plan, current, baseline, models, counts, profiled))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn spark_report(
    py: Python<'_>,
    options: Options,
    plan: PyRef<'_, TaskPlan>,
    current: PyRef<'_, Profile>,
    baseline: Option<PyRef<'_, Profile>>,
    models: Option<Vec<u8>>,
    counts: Vec<(u32, u64, u64, Vec<u8>)>,
    profiled: Vec<(u32, u64, u64)>,
) -> PyResult<Report> {
    let plan = plan.0.clone();
    let (current, baseline) = (current.0.clone(), baseline.map(|b| b.0.clone()));
    let settings = detached(py, || options.settings())?;
    let report = detached(py, || {
        let rows = match models {
            None => None,
            Some(m) => {
                let models = RowModels::from_bytes(&m)?;
                let mut keys: Vec<(u32, u64, u64)> =
                    counts.iter().map(|c| (c.0, c.1, c.2)).collect();
                let order = plan.order(&keys)?;
                // The scoring job read the rows the profile job read, part for part.
                let mut profiled = profiled;
                keys.sort_unstable();
                profiled.sort_unstable();
                if keys != profiled {
                    return Err(Error::BadParts {
                        reason: "the scoring job read other rows than the profile job (did the DataFrame change between the two jobs?)\nhint: scan a snapshot: files that are not being written, or a cached DataFrame".into(),
                    });
                }
                let mut total = RowCounts::default();
                for slot in order.into_iter().flatten() {
                    let part = RowCounts::from_bytes(&counts[slot].3)?;
                    if part.rows != counts[slot].2 {
                        return Err(Error::BadParts {
                            reason: "a task's counts do not cover the rows of their key".into(),
                        });
                    }
                    total.merge(part)?;
                }
                if total.models.is_none() {
                    total.models = Some(models.id()?);
                }
                Some((models, total))
            }
        };
        Engine::new(&settings).report(current, baseline, rows)
    })?;
    Ok(Report::new(report, &settings, Err(crate::SPARK_ROWS)))
}
