//! Arrow batches a caller already holds (a Spark executor's partition, a Python user's
//! DataFrame), with their provenance, as a second kind of input beside files: nothing is written
//! to disk to profile or score them. A [`BatchSource`] is read once per pass (a scan reads the
//! current data twice), so it must give the same batches each time.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{Field, Schema, SchemaRef};

use super::{Batch, IngestOptions, column_type, schema, select_columns};
use crate::error::{Error, Result};

/// Batches with provenance, readable more than once.
pub trait BatchSource: Sync {
    /// The schema of every batch.
    fn schema(&self) -> SchemaRef;
    /// The sources' names as reports show them (file paths, partition names), by index; a
    /// batch's `source` indexes this list.
    fn sources(&self) -> Vec<String>;
    /// The batches in order: a source's batches together, rows contiguous within a source.
    fn batches(&self) -> Result<Box<dyn Iterator<Item = Result<Batch>> + Send + '_>>;
}

/// Batches held in memory.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{Float64Array, Int64Array, RecordBatch};
/// use arrow::datatypes::{DataType, Field, Schema};
/// use poisonscan::ingest::MemoryBatches;
/// use poisonscan::{Data, Engine, Settings};
///
/// let schema = Arc::new(Schema::new(vec![
///     Field::new("x", DataType::Float64, true),
///     Field::new("label", DataType::Int64, true),
/// ]));
/// let batch = |xs: Vec<f64>, ys: Vec<i64>| {
///     RecordBatch::try_new(
///         schema.clone(),
///         vec![Arc::new(Float64Array::from(xs)), Arc::new(Int64Array::from(ys))],
///     )
///     .unwrap()
/// };
/// let mut data = MemoryBatches::new(schema.clone());
/// data.push("part-0", batch(vec![1.0, 2.0], vec![0, 1]))?;
/// data.push("part-0", batch(vec![3.0], vec![1]))?; // rows 2.. of part-0
/// data.push("part-1", batch(vec![4.0], vec![0]))?;
/// let settings = Settings::builder().label("label").build()?;
/// let profile = Engine::new(&settings).profile(Data::Batches(&data))?;
/// assert_eq!(profile.rows, 4);
/// assert_eq!(profile.manifest[0].path, "part-0");
/// assert_eq!(profile.manifest[0].rows, 3);
/// # Ok::<(), poisonscan::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct MemoryBatches {
    /// The batches' schema so far: where sources disagree on a column's type within one logical
    /// type (Int32 and Int64, Utf8 and Utf8View) or widen (Int and Float), the unified type.
    schema: SchemaRef,
    sources: Vec<String>,
    index: HashMap<String, usize>,
    /// Rows pushed so far per source: the next batch's first row.
    next_row: Vec<u64>,
    batches: Vec<Batch>,
}

impl MemoryBatches {
    pub fn new(schema: SchemaRef) -> MemoryBatches {
        MemoryBatches {
            schema,
            sources: Vec::new(),
            index: HashMap::new(),
            next_row: Vec::new(),
            batches: Vec::new(),
        }
    }

    /// Append a batch of `source`; its rows follow that source's earlier rows.
    pub fn push(&mut self, source: &str, batch: RecordBatch) -> Result<()> {
        let first_row = self.index.get(source).map_or(0, |&i| self.next_row[i]);
        self.push_at(source, 0, first_row, batch)
    }

    /// Append a batch of `source` whose first row is row `first_row` of the source, in row
    /// group `row_group` (for data read from a known file: the provenance the reports name).
    ///
    /// Its columns must be the first batch's, by name, in any order; their types may differ
    /// as files' may (an Int32 and an Int64 column are one int column, Int and Float widen to
    /// float), and are unified as files' are.
    pub fn push_at(
        &mut self,
        source: &str,
        row_group: u32,
        first_row: u64,
        batch: RecordBatch,
    ) -> Result<()> {
        // Every check before any change: a refused batch leaves the batches as they were.
        let unified = if batch.schema().fields() != self.schema.fields() {
            Some(self.unify(source, &batch.schema())?)
        } else {
            None
        };
        let known = self.index.get(source).copied();
        if let Some(i) = known
            && self.batches.last().is_some_and(|last| last.source != i)
        {
            return Err(Error::BadBatch {
                source_name: source.to_string(),
                reason: "the batches of one source must come together".into(),
            });
        }
        let next_row = first_row
            .checked_add(batch.num_rows() as u64)
            .ok_or_else(|| Error::BadBatch {
                source_name: source.to_string(),
                reason: format!("its first row {first_row} leaves no room for its rows"),
            })?;
        if let Some(schema) = unified {
            self.schema = schema;
        }
        let i = known.unwrap_or_else(|| {
            self.sources.push(source.to_string());
            self.next_row.push(0);
            self.index
                .insert(source.to_string(), self.sources.len() - 1);
            self.sources.len() - 1
        });
        self.next_row[i] = next_row;
        self.batches.push(Batch {
            batch,
            source: i,
            row_group,
            first_row,
        });
        Ok(())
    }

    /// The schema with `source`'s batch schema `other` unified in: the same column names, each
    /// column's types reconciled as files' are (`ingest::schema`); an error names the column
    /// and the sources that disagree.
    fn unify(&self, source: &str, other: &Schema) -> Result<SchemaRef> {
        let first = || self.sources.first().cloned().unwrap_or_default();
        let bad = |reason: String| Error::BadBatch {
            source_name: source.to_string(),
            reason,
        };
        if other.fields().len() != self.schema.fields().len() {
            let names = |s: &Schema| {
                s.fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(bad(format!(
                "its columns differ from the first batch's\n  expected: {}\n  found:    {}",
                names(&self.schema),
                names(other)
            )));
        }
        let mut fields = Vec::with_capacity(self.schema.fields().len());
        for f in self.schema.fields() {
            let Ok(g) = other.field_with_name(f.name()) else {
                return Err(Error::ColumnMissingInFile {
                    column: f.name().clone(),
                    has: first().into(),
                    lacks: source.into(),
                });
            };
            if f.data_type() == g.data_type() {
                fields.push(Field::new(f.name(), f.data_type().clone(), true));
                continue;
            }
            // A type poisonscan cannot read is reported by name when the batches are read.
            let (Some(a), Some(b)) = (column_type(f.data_type()), column_type(g.data_type()))
            else {
                return Err(bad(format!(
                    "column `{}` has type {} here but {} in the first batch",
                    f.name(),
                    g.data_type(),
                    f.data_type()
                )));
            };
            let Some(t) = schema::widen(a, b) else {
                return Err(Error::SchemaConflict {
                    column: f.name().clone(),
                    left: first().into(),
                    left_type: a.name().to_string(),
                    right: source.into(),
                    right_type: b.name().to_string(),
                });
            };
            fields.push(Field::new(f.name(), t.arrow_type(), true));
        }
        Ok(Arc::new(Schema::new(fields)))
    }

    /// Rows held.
    pub fn rows(&self) -> u64 {
        self.batches.iter().map(|b| b.batch.num_rows() as u64).sum()
    }
}

impl BatchSource for MemoryBatches {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
    fn sources(&self) -> Vec<String> {
        self.sources.clone()
    }
    fn batches(&self) -> Result<Box<dyn Iterator<Item = Result<Batch>> + Send + '_>> {
        Ok(Box::new(self.batches.iter().cloned().map(Ok)))
    }
}

/// A batch source read in the dataset's types: each column cast to its unified type, the
/// columns selected by `columns`/`exclude`.
pub struct Conformed<'a> {
    source: &'a dyn BatchSource,
    /// A run of one source and row group longer than this is split as a file's row group is.
    shard_rows: u64,
    /// The unified schema after the selection.
    pub schema: SchemaRef,
    pub names: Vec<String>,
    /// The input columns the selection leaves out, and why.
    pub left_out: Vec<super::LeftOut>,
}

impl<'a> Conformed<'a> {
    pub fn new(source: &'a dyn BatchSource, opts: &IngestOptions) -> Result<Conformed<'a>> {
        let names = source.sources();
        let what = names.first().cloned().unwrap_or_else(|| "<batches>".into());
        for (i, n) in names.iter().enumerate() {
            if names[..i].contains(n) {
                return Err(Error::BadBatch {
                    source_name: n.clone(),
                    reason: "two sources have this name: rows are keyed and reported by it".into(),
                });
            }
        }
        let raw = source.schema();
        let mut fields = Vec::with_capacity(raw.fields().len());
        for f in raw.fields() {
            if fields.iter().any(|g: &Field| g.name() == f.name()) {
                return Err(Error::BadBatch {
                    source_name: what,
                    reason: format!("the column name `{}` appears twice", f.name()),
                });
            }
            let (t, rejected) =
                schema::input_type(f, opts, || format!("in the batches of `{what}`"))?;
            fields.push(schema::unified_field(f.name(), t, rejected.as_deref()));
        }
        let (selected, left_out) = select_columns(&Schema::new(fields), opts)?;
        Ok(Conformed {
            source,
            shard_rows: match opts.shard_rows {
                0 => super::SHARD_ROWS,
                n => n,
            },
            schema: Arc::new(selected),
            names,
            left_out,
        })
    }

    fn conformed(&self) -> Result<impl Iterator<Item = Result<Batch>> + Send + '_> {
        let it = self.source.batches()?;
        // A source's batches come together and its rows follow on: a source that comes back
        // after another would be profiled and summarised as two.
        let mut seen = vec![false; self.names.len()];
        let mut open: Option<usize> = None;
        Ok(it.map(move |b| {
            let b = b?;
            let name = || {
                self.names
                    .get(b.source)
                    .cloned()
                    .unwrap_or_else(|| format!("<source {}>", b.source))
            };
            if b.source >= self.names.len() {
                return Err(Error::BadBatch {
                    source_name: name(),
                    reason: format!("it names source {} of {}", b.source, self.names.len()),
                });
            }
            if open != Some(b.source) {
                if seen[b.source] {
                    return Err(Error::BadBatch {
                        source_name: name(),
                        reason: "the batches of one source must come together".into(),
                    });
                }
                seen[b.source] = true;
                open = Some(b.source);
            }
            let mut columns = Vec::with_capacity(self.schema.fields().len());
            for field in self.schema.fields() {
                let col = b
                    .batch
                    .column_by_name(field.name())
                    .ok_or_else(|| Error::BadBatch {
                        source_name: name(),
                        reason: format!("it has no column `{}`", field.name()),
                    })?;
                columns.push(
                    schema::cast_column(col, field.data_type()).map_err(|reason| {
                        Error::BadBatch {
                            source_name: name(),
                            reason: format!(
                                "column `{}` cannot be converted to the dataset's type: {reason}",
                                field.name()
                            ),
                        }
                    })?,
                );
            }
            let batch = RecordBatch::try_new(self.schema.clone(), columns).map_err(|e| {
                Error::BadBatch {
                    source_name: name(),
                    reason: e.to_string(),
                }
            })?;
            Ok(Batch { batch, ..b })
        }))
    }
}

/// The rows of one source and row group, or an equal share of a longer one: what a file's
/// shard of the same rows is. It holds slices of the caller's batches (no copy); `batches`
/// cuts them into `BATCH_ROWS`-row batches from its first row, as a shard is read, when the
/// part is worked on. Parts are profiled and scored apart, in parallel, and folded in order.
#[derive(Debug)]
pub(crate) struct MemoryPart {
    pub start: RunStart,
    rows: u64,
    pieces: Vec<RecordBatch>,
    schema: SchemaRef,
}

impl MemoryPart {
    /// The part's rows in `BATCH_ROWS`-row batches (slices, or batches joined where the
    /// caller's do not line up).
    pub(crate) fn batches(&self) -> Result<Vec<Batch>> {
        let mut queue: std::collections::VecDeque<RecordBatch> =
            self.pieces.iter().cloned().collect();
        let mut out = Vec::new();
        let mut done = 0u64;
        while done < self.rows {
            let k = (self.rows - done).min(super::BATCH_ROWS as u64) as usize;
            out.push(Batch {
                batch: take_rows(&mut queue, k, &self.schema)?,
                source: self.start.source,
                row_group: self.start.row_group,
                first_row: self.start.first_row + done,
            });
            done += k as u64;
        }
        Ok(out)
    }
}

impl Conformed<'_> {
    /// The batches as parts, in order: each run of contiguous rows of one source and row group
    /// split into `ceil(rows / shard_rows)` equal parts at the rows a Parquet file's row group
    /// of the same size is split at (`plan_shards`), so that the same rows with the same
    /// provenance give the same shards, sketches' seeds and batches from memory as from the
    /// file. A row group without rows is a part without rows, as in a file (its segment counts).
    /// A source's rows must come in order: a run that starts before the previous one ends is an
    /// error naming the source.
    pub(crate) fn parts(&self) -> Result<Vec<MemoryPart>> {
        let mut runs: Vec<(RunStart, Vec<RecordBatch>, u64)> = Vec::new();
        for b in self.conformed()? {
            let b = b?;
            let n = b.batch.num_rows() as u64;
            let name = || self.names.get(b.source).cloned().unwrap_or_default();
            let end = b.first_row.checked_add(n).ok_or_else(|| Error::BadBatch {
                source_name: name(),
                reason: format!("its first row {} leaves no room for its rows", b.first_row),
            })?;
            if let Some((s, batches, rows)) = runs.last_mut()
                && s.source == b.source
            {
                let last_end = s.first_row + *rows;
                if s.row_group == b.row_group && last_end == b.first_row {
                    if n > 0 {
                        batches.push(b.batch);
                        *rows += n;
                    }
                    continue;
                }
                if b.first_row < last_end {
                    return Err(Error::BadBatch {
                        source_name: name(),
                        reason: format!(
                            "its rows must come in order: rows {}..{end} come after row {last_end}",
                            b.first_row
                        ),
                    });
                }
            }
            let start = RunStart {
                source: b.source,
                row_group: b.row_group,
                first_row: b.first_row,
            };
            let batches = if n > 0 { vec![b.batch] } else { Vec::new() };
            runs.push((start, batches, n));
        }
        let mut parts = Vec::new();
        for (start, batches, rows) in runs {
            let mut queue: std::collections::VecDeque<RecordBatch> = batches.into();
            let count = rows.div_ceil(self.shard_rows).max(1);
            let at = |p: u64| (rows as u128 * p as u128 / count as u128) as u64;
            for p in 0..count {
                let (skip, take) = (at(p), at(p + 1) - at(p));
                parts.push(MemoryPart {
                    start: RunStart {
                        first_row: start.first_row + skip,
                        ..start
                    },
                    rows: take,
                    pieces: take_slices(&mut queue, take as usize),
                    schema: self.schema.clone(),
                });
            }
        }
        Ok(parts)
    }
}

/// The first `rows` rows of `queue` as slices of its batches (no copy).
fn take_slices(
    queue: &mut std::collections::VecDeque<RecordBatch>,
    rows: usize,
) -> Vec<RecordBatch> {
    let mut pieces = Vec::new();
    let mut left = rows;
    while left > 0 {
        let Some(head) = queue.front_mut() else {
            break;
        };
        let n = head.num_rows();
        if n <= left {
            pieces.extend(queue.pop_front());
            left -= n;
        } else {
            pieces.push(head.slice(0, left));
            *head = head.slice(left, n - left);
            left = 0;
        }
    }
    pieces
}

/// The first `rows` rows of `queue` as one batch (slices of its batches, joined if need be).
pub(crate) fn take_rows(
    queue: &mut std::collections::VecDeque<RecordBatch>,
    rows: usize,
    schema: &SchemaRef,
) -> Result<RecordBatch> {
    let mut pieces = take_slices(queue, rows);
    if pieces.iter().map(|b| b.num_rows()).sum::<usize>() != rows {
        return Err(Error::Internal("a part ran out of rows".into()));
    }
    match pieces.len() {
        1 => Ok(pieces.swap_remove(0)),
        _ => arrow::compute::concat_batches(schema, &pieces)
            .map_err(|e| Error::Internal(format!("joining batches: {e}"))),
    }
}

/// Where a run of batches starts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunStart {
    pub source: usize,
    pub row_group: u32,
    pub first_row: u64,
}
