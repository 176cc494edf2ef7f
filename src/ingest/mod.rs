//! Ingest: turn the user's paths (files, folders, globs, hive-partitioned trees) into a list of
//! sources with one unified schema, and a plan of shards (Parquet row groups, CSV blocks) that are
//! read in parallel as Arrow record batches, each batch tagged with its provenance.

mod csv;
mod memory;
mod parquet;
mod range_hash;
mod remote;
mod span_hash;
mod spill;
pub use self::parquet::in_decoder;
pub(crate) use self::range_hash::RangeHasher;
pub(crate) use self::remote::RemoteObject;
pub use self::remote::fetched;
pub(crate) use self::span_hash::{SpanXxh3, hex128};
pub use self::spill::Spill;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray, new_null_array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

pub use self::csv::CsvOptions;
pub use self::memory::{BatchSource, Conformed, MemoryBatches};
pub(crate) use self::memory::{MemoryPart, take_rows};
pub use self::schema::{ColumnType, column_type, column_types};
pub(crate) use self::schema::{cast_column, input_type, unified_field};
use crate::error::{Error, Result};

/// Rows per record batch. Big enough to amortise per-batch work, small enough that
/// threads × batch stays a few tens of MB.
pub const BATCH_ROWS: usize = 65_536;
/// Parquet row groups above this many rows are read as several shards.
pub const SHARD_ROWS: u64 = 1 << 19;
/// The most rows a Parquet row group may say it has (2^40, a trillion).
pub const MAX_ROW_GROUP_ROWS: u64 = 1 << 40;

/// The file format of one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Parquet,
    Csv,
    CsvGz,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Csv => "csv",
            Format::CsvGz => "csv.gz",
        }
    }
}

/// One input file.
#[derive(Debug, Clone)]
pub struct Source {
    /// The path as shown in reports: the user's argument joined with the path found below it.
    pub path: PathBuf,
    pub format: Format,
    pub bytes: u64,
    /// Hive partition values (`key=value` folders), in path order.
    pub partitions: Vec<(String, Option<String>)>,
    /// Columns of this file (before unification) in file order, with their types.
    pub(crate) file_schema: SchemaRef,
    pub(crate) csv: Option<csv::CsvFile>,
    pub(crate) parquet: Option<parquet::ParquetFile>,
    /// The object, when the source is in object storage (`path` is then its URL).
    pub(crate) remote: Option<Arc<RemoteObject>>,
}

impl Source {
    /// The path as a forward-slash string, used in reports and provenance.
    pub fn display(&self) -> String {
        display_path(&self.path)
    }

    /// The name row keys (the seeded sample, sketch seeds) hash: the hive partition folders and
    /// the file name, not where the data sits, so the same files sampled from another folder,
    /// a CI clone or through a relative path give the same sample and the same report.
    pub fn row_key_name(&self) -> String {
        row_key_name(&self.path)
    }
}

pub(crate) fn row_key_name(path: &Path) -> String {
    let mut parts: Vec<String> = path
        .parent()
        .into_iter()
        .flat_map(|p| p.components())
        .filter_map(|c| c.as_os_str().to_str())
        .filter(|c| c.contains('='))
        .map(str::to_string)
        .collect();
    if let Some(name) = path.file_name() {
        parts.push(name.to_string_lossy().into_owned());
    }
    parts.join("/")
}

pub(crate) fn display_path(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "/")
}

/// What the user asked to read.
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    pub csv: CsvOptions,
    /// Keep only these columns (plus label and id), in the given order.
    pub columns: Vec<String>,
    /// Leave these columns out.
    pub exclude: Vec<String>,
    /// Columns that must be kept whatever `columns` says (label, id).
    pub required: Vec<String>,
    /// Split Parquet row groups (and runs of in-memory batches of one source and row group)
    /// into shards of at most this many rows (0: `SHARD_ROWS`).
    pub shard_rows: u64,
    /// Leave out, as rejected, a column of a type poisonscan cannot profile (a list, a struct,
    /// binary) instead of failing; the report lists it with its type.
    pub skip_unsupported: bool,
    /// Columns the data as read does not carry (a Spark job's projection of the files): left
    /// out as excluded, with that reason.
    pub unavailable: Vec<String>,
    /// Options of the object stores URLs name (`--storage-option KEY=VALUE`).
    pub storage: Vec<(String, String)>,
    /// Parse a scan's CSV blocks twice instead of keeping their decoded batches between its two
    /// passes ([`Spill`]); the report is the same either way.
    pub no_spill: bool,
}

impl IngestOptions {
    /// Whether the selection leaves column `name` out (`exclude`, or not among `columns`; the
    /// label and id are always kept).
    pub fn leaves_out(&self, name: &str) -> bool {
        !self.required.iter().any(|r| r == name)
            && (self.exclude.iter().any(|e| e == name)
                || self.unavailable.iter().any(|e| e == name)
                || (!self.columns.is_empty() && !self.columns.iter().any(|c| c == name)))
    }
}

/// Whether an input column that is not profiled was left out on request or rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LeftOutStatus {
    /// `exclude`, not among `columns`, or not in the data as read.
    Excluded,
    /// poisonscan cannot profile it (`skip_unsupported`).
    Rejected,
}

/// An input column that is not profiled, and why: with the profiled columns, every input
/// column is accounted for (the report's `dataset.left_out`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LeftOut {
    pub column: String,
    pub status: LeftOutStatus,
    pub reason: String,
}

/// A unit of parallel work: one Parquet row group or one CSV block.
#[derive(Debug, Clone)]
pub struct Shard {
    pub source: usize,
    pub kind: ShardKind,
    /// Row index within the source file of the shard's first row.
    pub first_row: u64,
    /// Rows in the shard when known before reading (Parquet metadata).
    pub expected_rows: Option<u64>,
}

#[derive(Debug, Clone)]
pub enum ShardKind {
    /// Rows `[skip, skip + take)` of row group `index` (large row groups are split so that
    /// even a single-row-group file is profiled on every core).
    RowGroup {
        index: usize,
        skip: u64,
        take: u64,
    },
    CsvBlock {
        index: usize,
        start: u64,
        end: u64,
    },
}

impl Shard {
    /// The row group index reported in provenance (CSV blocks report 0).
    pub fn row_group(&self) -> u32 {
        match self.kind {
            ShardKind::RowGroup { index, .. } => index as u32,
            ShardKind::CsvBlock { .. } => 0,
        }
    }
}

/// A record batch in the unified schema and where its rows came from.
#[derive(Debug, Clone)]
pub struct Batch {
    pub batch: RecordBatch,
    pub source: usize,
    pub row_group: u32,
    /// Row index within the source of the batch's first row; rows are contiguous.
    pub first_row: u64,
}

/// Resolved inputs: sources, the unified schema, and the shard plan.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub sources: Vec<Source>,
    /// The unified schema after `--columns`/`--exclude`, with partition columns appended.
    pub schema: SchemaRef,
    pub shards: Vec<Shard>,
    /// Names of the hive partition columns (a suffix of `schema`).
    pub partition_columns: Vec<String>,
    /// The input columns `schema` leaves out, and why.
    pub left_out: Vec<LeftOut>,
    /// Where the CSV blocks' decoded batches are kept between a scan's two passes.
    spill: Option<Arc<Spill>>,
    /// The columns a run must read (label, id): an error about one names no way to leave it out.
    required: Vec<String>,
}

impl Dataset {
    /// Resolve `inputs`, read each file's metadata (Parquet footer, CSV dialect and schema),
    /// unify the schemas and plan the shards.
    pub fn open(inputs: &[PathBuf], opts: &IngestOptions) -> Result<Dataset> {
        Self::open_all(inputs, opts).map_err(|e| e.for_required(&opts.required))
    }

    fn open_all(inputs: &[PathBuf], opts: &IngestOptions) -> Result<Dataset> {
        let files = resolve_with(inputs, &opts.storage)?;
        let mut sources: Vec<Source> = files
            .into_iter()
            .map(|r| open_source(r, &opts.csv))
            .collect::<Result<_>>()?;
        let unified = schema::unify(&sources, opts)?;
        let partition_columns = schema::partition_columns(&sources, &unified)?;
        let mut fields: Vec<Field> = unified
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        for p in &partition_columns {
            fields.push(Field::new(p, DataType::Utf8, true));
        }
        let all = Schema::new(fields);
        let (selected, left_out) = select_columns(&all, opts)?;
        for s in &mut sources {
            if let Some(c) = s.csv.as_mut() {
                c.read_schema = Arc::new(csv::read_schema(&s.file_schema, &selected));
            }
            // An object read without some of its columns on request (`columns`, `exclude`) is
            // not fetched whole: no content hash. Columns left out otherwise (rejected types,
            // a projection of the data as read) are fetched for the hash at the end.
            let asked_out = |name: &String| {
                !opts.required.contains(name)
                    && (opts.exclude.contains(name)
                        || (!opts.columns.is_empty() && !opts.columns.contains(name)))
            };
            if let Some(obj) = &s.remote
                && s.parquet.is_some()
                && s.file_schema.fields().iter().any(|f| asked_out(f.name()))
            {
                obj.hash_off();
            }
        }
        let shard_rows = if opts.shard_rows == 0 {
            SHARD_ROWS
        } else {
            opts.shard_rows
        };
        let shards = plan_shards(&sources, shard_rows)?;
        Ok(Dataset {
            sources,
            schema: Arc::new(selected),
            shards,
            partition_columns,
            left_out,
            spill: None,
            required: opts.required.clone(),
        })
    }

    /// Keep the CSV blocks' decoded batches in `spill` as they are read, and read the blocks
    /// it holds from it (see [`Spill`]). A dataset without a CSV source, or with other sources
    /// than the one that first used `spill`, does not use it.
    pub fn with_spill(mut self, spill: &Arc<Spill>) -> Dataset {
        let csv = self
            .sources
            .iter()
            .any(|s| matches!(s.format, Format::Csv | Format::CsvGz));
        if csv && spill.admits(&self.sources) {
            self.spill = Some(spill.clone());
        }
        self
    }

    /// Every column of the files (in the first file's order, then the others' new ones) and
    /// the partition columns, before `columns`/`exclude`.
    pub fn file_columns(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in &self.sources {
            for f in s.file_schema.fields() {
                if !out.contains(f.name()) {
                    out.push(f.name().clone());
                }
            }
        }
        out.extend(self.partition_columns.iter().cloned());
        out
    }

    /// Read one shard as a sequence of batches in the unified schema. Batches are produced
    /// lazily, so memory stays at one batch per reading thread.
    pub fn read_shard<'a>(
        &'a self,
        shard: &'a Shard,
    ) -> Result<Box<dyn Iterator<Item = Result<Batch>> + Send + 'a>> {
        let source = &self.sources[shard.source];
        let mut next_row = shard.first_row;
        let source_index = shard.source;
        let row_group = shard.row_group();
        let mut tag = move |batch: RecordBatch| {
            let first_row = next_row;
            next_row += batch.num_rows() as u64;
            Batch {
                batch,
                source: source_index,
                row_group,
                first_row,
            }
        };
        let mut keep = None;
        if let (Some(spill), &ShardKind::CsvBlock { index, start, end }) =
            (&self.spill, &shard.kind)
        {
            let key = (shard.source, index, start, end);
            let name = source.display();
            let what = move || format!("`{name}` bytes {start}..{end}");
            if let Some(kept) = spill.read(key, what) {
                return Ok(Box::new(kept.map(move |b| Ok(tag(b?)))));
            }
            // Decoded text is about as large as the text; twice that leaves a margin.
            keep = spill.begin(key, end.saturating_sub(start).saturating_mul(2));
        }
        let raw: Box<dyn Iterator<Item = Result<RecordBatch>> + Send> = match source.format {
            Format::Parquet => parquet::read_row_group(source, shard, &self.schema)?,
            Format::Csv | Format::CsvGz => csv::read_block(source, shard)?,
        };
        let conformed = raw.map(move |b| Ok(tag(self.conform(source, b?)?)));
        Ok(match keep {
            Some(writer) => Box::new(Keep {
                inner: conformed,
                writer: Some(writer),
            }),
            None => Box::new(conformed),
        })
    }

    /// Read one column of a Parquet shard in the unified type (`None` for CSV shards and
    /// partition columns). Used for cheap pre-passes that need one column only.
    pub fn read_parquet_column<'a>(
        &'a self,
        shard: &'a Shard,
        name: &str,
    ) -> Result<Option<Box<dyn Iterator<Item = Result<ArrayRef>> + Send + 'a>>> {
        let source = &self.sources[shard.source];
        if source.format != Format::Parquet || self.partition_columns.iter().any(|p| p == name) {
            return Ok(None);
        }
        let Ok(field) = self.schema.field_with_name(name) else {
            return Ok(None);
        };
        let field = field.clone();
        let one = Schema::new(vec![field.clone()]);
        let raw = parquet::read_row_group(source, shard, &one)?;
        Ok(Some(Box::new(raw.map(move |b| {
            unified_column(&b?, &field, source).map_err(|e| e.for_required(&self.required))
        }))))
    }

    /// Cast a batch read from `source` to the unified schema and append partition columns.
    fn conform(&self, source: &Source, batch: RecordBatch) -> Result<RecordBatch> {
        let n = batch.num_rows();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        for field in self.schema.fields() {
            if self.partition_columns.contains(field.name()) {
                let value = source
                    .partitions
                    .iter()
                    .find(|(k, _)| k == field.name())
                    .and_then(|(_, v)| v.clone());
                let arr: ArrayRef = match value {
                    Some(v) => Arc::new(StringArray::from(vec![v.as_str(); n])),
                    None => new_null_array(&DataType::Utf8, n),
                };
                columns.push(arr);
                continue;
            }
            columns.push(
                unified_column(&batch, field, source)
                    .map_err(|e| e.for_required(&self.required))?,
            );
        }
        RecordBatch::try_new(self.schema.clone(), columns).map_err(|e| {
            Error::Internal(format!("building a batch of `{}`: {e}", source.display()))
        })
    }

    /// Total rows known from metadata before reading (Parquet only), for progress bars.
    /// The rows the Parquet footers announce (`None` with a CSV source, or a sum past u64).
    pub fn expected_rows(&self) -> Option<u64> {
        self.shards
            .iter()
            .try_fold(0u64, |sum, s| sum.checked_add(s.expected_rows?))
    }

    pub fn total_bytes(&self) -> u64 {
        self.sources.iter().map(|s| s.bytes).sum()
    }
}

/// A block's batches passed on as they are read, and kept in the spill when the last one is
/// read (a block read only in part, or with an error, is not kept).
struct Keep<I> {
    inner: I,
    writer: Option<spill::SegmentWriter>,
}

impl<I: Iterator<Item = Result<Batch>>> Iterator for Keep<I> {
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Result<Batch>> {
        let next = self.inner.next();
        match &next {
            Some(Ok(b)) => {
                if let Some(w) = self.writer.as_mut()
                    && !w.write(&b.batch)
                {
                    self.writer = None;
                }
            }
            Some(Err(_)) => self.writer = None,
            None => {
                if let Some(w) = self.writer.take() {
                    w.finish();
                }
            }
        }
        next
    }
}

/// The columns of `all` the options keep (`--columns`, `--exclude`; the label and id always;
/// a column `schema::input_type` marked as rejected never), and the others with the reason
/// each is left out. A `--columns` or `--exclude` name that is not a column is an error.
pub(crate) fn select_columns(all: &Schema, opts: &IngestOptions) -> Result<(Schema, Vec<LeftOut>)> {
    let names: Vec<String> = all.fields().iter().map(|f| f.name().clone()).collect();
    let check = |flag: &str, c: &String| -> Result<()> {
        if names.contains(c) {
            Ok(())
        } else {
            Err(Error::UnknownColumn {
                flag: flag.to_string(),
                column: c.clone(),
                within: String::new(),
                available: names.clone(),
            })
        }
    };
    for c in &opts.columns {
        check("--columns", c)?;
    }
    for c in &opts.exclude {
        check("--exclude", c)?;
    }
    let mut keep: Vec<Field> = Vec::with_capacity(all.fields().len());
    let mut left_out = Vec::new();
    for f in all.fields() {
        let name = f.name();
        let rejected = schema::rejected_type(f);
        if let Some(t) = rejected {
            if opts.required.contains(name) {
                return Err(Error::UnsupportedType {
                    column: name.clone(),
                    data_type: t.to_string(),
                }
                .for_required(&opts.required));
            }
            if !opts.leaves_out(name) {
                left_out.push(LeftOut {
                    column: name.clone(),
                    status: LeftOutStatus::Rejected,
                    reason: format!("its type {t} cannot be profiled"),
                });
                continue;
            }
        }
        if !opts.leaves_out(name) {
            keep.push(f.as_ref().clone());
            continue;
        }
        let reason = if opts.unavailable.contains(name) {
            "not among the columns of the data as read"
        } else if opts.exclude.contains(name) {
            "listed in exclude"
        } else {
            "not listed in columns"
        };
        left_out.push(LeftOut {
            column: name.clone(),
            status: LeftOutStatus::Excluded,
            reason: reason.to_string(),
        });
    }
    Ok((Schema::new(keep), left_out))
}

fn open_source(r: Resolved, csv_opts: &CsvOptions) -> Result<Source> {
    let Resolved {
        path,
        format,
        partitions,
        remote,
    } = r;
    let bytes = match &remote {
        Some(obj) => obj.size,
        None => std::fs::metadata(&path)
            .map_err(|e| Error::io(&path, e))?
            .len(),
    };
    match format {
        Format::Parquet => {
            let pf = parquet::open(&path, remote.as_ref())?;
            Ok(Source {
                file_schema: pf.schema.clone(),
                path,
                format,
                bytes,
                partitions,
                csv: None,
                parquet: Some(pf),
                remote,
            })
        }
        Format::Csv | Format::CsvGz => {
            let cf = csv::open(&path, remote.as_ref(), format == Format::CsvGz, csv_opts)?;
            Ok(Source {
                file_schema: cf.file_schema.clone(),
                path,
                format,
                bytes,
                partitions,
                csv: Some(cf),
                parquet: None,
                remote,
            })
        }
    }
}

/// Column `field` of a batch read from `source`, cast to the unified type.
fn unified_column(batch: &RecordBatch, field: &Field, source: &Source) -> Result<ArrayRef> {
    let col = batch.column_by_name(field.name()).ok_or_else(|| {
        Error::Internal(format!(
            "column `{}` missing from a batch of `{}`",
            field.name(),
            source.display()
        ))
    })?;
    schema::cast_to(col, field.data_type(), field.name(), source)
}

fn plan_shards(sources: &[Source], shard_rows: u64) -> Result<Vec<Shard>> {
    let mut shards = Vec::new();
    for (i, s) in sources.iter().enumerate() {
        if let Some(pf) = &s.parquet {
            let mut first = 0u64;
            for (rg, &rows) in pf.row_group_rows.iter().enumerate() {
                // A footer is data: a row count no file holds would plan millions of shards.
                if rows > MAX_ROW_GROUP_ROWS {
                    return Err(Error::BadParquet {
                        path: s.path.clone(),
                        reason: format!(
                            "its footer says row group {rg} has {rows} rows (at most {MAX_ROW_GROUP_ROWS} are read)"
                        ),
                    });
                }
                // Split into equal parts of at most `shard_rows` rows; the plan depends on the
                // file only, never on the thread count.
                let parts = rows.div_ceil(shard_rows).max(1);
                let at = |p: u64| (rows as u128 * p as u128 / parts as u128) as u64;
                for part in 0..parts {
                    let skip = at(part);
                    let take = at(part + 1) - skip;
                    shards.push(Shard {
                        source: i,
                        kind: ShardKind::RowGroup {
                            index: rg,
                            skip,
                            take,
                        },
                        first_row: first + skip,
                        expected_rows: Some(take),
                    });
                }
                first = first.checked_add(rows).ok_or_else(|| Error::BadParquet {
                    path: s.path.clone(),
                    reason: "its footer's row counts add up to more than 2^64 rows".into(),
                })?;
            }
        } else if let Some(cf) = &s.csv {
            for (b, block) in cf.blocks.iter().enumerate() {
                shards.push(Shard {
                    source: i,
                    kind: ShardKind::CsvBlock {
                        index: b,
                        start: block.start,
                        end: block.end,
                    },
                    first_row: block.first_record,
                    expected_rows: None,
                });
            }
        }
    }
    Ok(shards)
}

const PARQUET_EXT: &[&str] = &["parquet", "parq", "pq"];
const CSV_EXT: &[&str] = &["csv", "tsv", "txt", "psv"];

/// The format a file name suggests, if any.
pub(crate) fn format_of(path: &Path) -> Option<Format> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    if let Some(stem) = name.strip_suffix(".gz") {
        let ext = stem.rsplit('.').next()?;
        return CSV_EXT.contains(&ext).then_some(Format::CsvGz);
    }
    let ext = name.rsplit_once('.')?.1;
    if PARQUET_EXT.contains(&ext) {
        Some(Format::Parquet)
    } else if CSV_EXT.contains(&ext) {
        Some(Format::Csv)
    } else {
        None
    }
}

/// A file named explicitly with no known extension: Parquet if it has the magic bytes.
fn sniff_format(path: &Path) -> Result<Format> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut head = [0u8; 4];
    let n = f.read(&mut head).map_err(|e| Error::io(path, e))?;
    if n == 4 && &head == b"PAR1" {
        Ok(Format::Parquet)
    } else if n >= 2 && head[..2] == [0x1f, 0x8b] {
        Ok(Format::CsvGz)
    } else {
        Ok(Format::Csv)
    }
}

pub(crate) use crate::storage::is_hidden;

/// One input file found: where, its format and hive partitions, and the object when it is in
/// object storage.
pub struct Resolved {
    pub path: PathBuf,
    pub format: Format,
    pub partitions: Vec<(String, Option<String>)>,
    pub(crate) remote: Option<Arc<RemoteObject>>,
}

/// Expand inputs into files, in a deterministic order: inputs in the order given, the files
/// under a folder or matched by a glob sorted by path. A file reached twice is read once.
/// URLs are listed on their store (with no storage options: see [`resolve_with`]).
pub fn resolve(inputs: &[PathBuf]) -> Result<Vec<Resolved>> {
    resolve_with(inputs, &[])
}

/// [`resolve`], with the options of the object stores URLs name. A prefix or a glob on a
/// store is listed as a folder or a glob on disk is walked.
pub fn resolve_with(inputs: &[PathBuf], storage: &[(String, String)]) -> Result<Vec<Resolved>> {
    if inputs.is_empty() {
        return Err(Error::Usage("no input files given".into()));
    }
    let mut out: Vec<Resolved> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for input in inputs {
        let text = input.to_string_lossy();
        if crate::storage::is_url(&text) {
            let location = crate::storage::open(&text, storage)?;
            for object in location.list(&|key| format_of(Path::new(key)).is_some())? {
                if !seen.insert(PathBuf::from(&object.url)) {
                    continue;
                }
                let path = PathBuf::from(&object.url);
                let obj = Arc::new(RemoteObject::new(&location, object));
                let format = match format_of(&path) {
                    Some(f) => f,
                    None => remote::sniff_format(&obj)?,
                };
                let partitions = hive_partitions(&path);
                out.push(Resolved {
                    path,
                    format,
                    partitions,
                    remote: Some(obj),
                });
            }
            continue;
        }
        let mut found: Vec<PathBuf> = Vec::new();
        if input.is_dir() {
            walk(input, &mut found, &mut Visited::default(), false)?;
            if found.is_empty() {
                return Err(Error::NoInputFiles {
                    path: display_path(input),
                });
            }
        } else if input.is_file() {
            found.push(input.clone());
        } else if text.contains(['*', '?', '[']) {
            for p in glob_paths(&text)? {
                if p.is_dir() {
                    walk(&p, &mut found, &mut Visited::default(), false)?;
                } else if format_of(&p).is_some() {
                    found.push(p);
                }
            }
            if found.is_empty() {
                return Err(Error::NoInputFiles {
                    path: text.to_string(),
                });
            }
            found.sort();
        } else {
            return Err(Error::MissingPath {
                path: text.to_string(),
            });
        }
        for path in found {
            let key = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            if !seen.insert(key) {
                continue;
            }
            let format = match format_of(&path) {
                Some(f) => f,
                None => sniff_format(&path)?,
            };
            let partitions = hive_partitions(&path);
            out.push(Resolved {
                path,
                format,
                partitions,
                remote: None,
            });
        }
    }
    Ok(out)
}

/// The folders a walk has entered, by device and inode (elsewhere than Unix, by canonical
/// path), so that a symbolic link back up the tree is followed once, not until the system's
/// link limit.
#[derive(Default)]
struct Visited(std::collections::HashSet<DirId>);

/// A folder's identity: its device and inode (elsewhere than Unix, its canonical path).
type DirId = (u64, u64, PathBuf);

fn dir_id(dir: &Path) -> Result<DirId> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(dir).map_err(|e| Error::io(dir, e))?;
        Ok((meta.dev(), meta.ino(), PathBuf::new()))
    }
    #[cfg(not(unix))]
    Ok((0, 0, dir.canonicalize().map_err(|e| Error::io(dir, e))?))
}

impl Visited {
    /// Whether `dir` is entered for the first time (and mark it entered).
    fn first(&mut self, dir: &Path) -> Result<bool> {
        Ok(self.0.insert(dir_id(dir)?))
    }
}

/// The paths a glob matches (files and folders; folders only with a trailing `/`). The folders
/// under the pattern's literal prefix are walked with symbolic links followed, entering only
/// those whose name matches the pattern's component at their depth (any below a `**`), and
/// never a folder that is already one of the folders above it (by device and inode): a link
/// back up the tree ends there. Hidden names (`.`, `_`) are skipped, as in a folder's walk,
/// unless the pattern's component starts so too. Each path is matched against the pattern (`glob::Pattern`, a
/// `*` not crossing a `/`). Not the `glob` crate's own walk: for every `**` it follows a link
/// back up the tree again, until the system's limits, which with two such links is years. A
/// pattern with `..` after a wildcard is left to the `glob` crate.
fn glob_paths(text: &str) -> Result<Vec<PathBuf>> {
    use std::path::Component;
    let bad = |reason: String| Error::BadGlob {
        pattern: text.to_string(),
        reason,
    };
    let components: Vec<Component<'_>> = Path::new(text).components().collect();
    let wild = |c: &Component<'_>| c.as_os_str().to_string_lossy().contains(['*', '?', '[']);
    let first = components.iter().position(wild).unwrap_or(components.len());
    let rest = &components[first..];
    if rest.iter().any(|c| matches!(c, Component::ParentDir)) {
        let mut out = Vec::new();
        for p in glob::glob(text).map_err(|e| bad(e.to_string()))? {
            out.push(p.map_err(|e| {
                let path = e.path().to_path_buf();
                Error::io(path, e.into())
            })?);
        }
        return Ok(out);
    }
    let base: PathBuf = components[..first].iter().collect();
    // The pattern as the walk shows paths: `a//b`, `a/./b` and a trailing `/` normalised.
    let whole: PathBuf = components.iter().collect();
    let pattern = glob::Pattern::new(&whole.to_string_lossy()).map_err(|e| bad(e.to_string()))?;
    let parts: Vec<glob::Pattern> = rest
        .iter()
        .map(|c| glob::Pattern::new(&c.as_os_str().to_string_lossy()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| bad(e.to_string()))?;
    let dirs_only = text.ends_with('/');
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    let start = if base.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        base.clone()
    };
    let mut out = Vec::new();
    if !start.is_dir() {
        return Ok(out);
    }
    // (the folder as read, the path it is shown as, its depth below the base, the folders
    // above it and itself, whether a `**` is above it)
    let mut stack = vec![(start.clone(), base, 0usize, vec![dir_id(&start)?], false)];
    while let Some((dir, shown, depth, above, any_depth)) = stack.pop() {
        let mut names: Vec<std::ffi::OsString> = std::fs::read_dir(&dir)
            .map_err(|e| Error::io(&dir, e))?
            .map(|e| e.map(|e| e.file_name()).map_err(|e| Error::io(&dir, e)))
            .collect::<Result<_>>()?;
        // Folders are entered in name order (the stack pops the last first).
        names.sort();
        // The component that the entries of this folder stand for, and whether `**` allows
        // them to be any folder on the way.
        let part = parts.get(depth);
        let doublestar = any_depth || part.is_some_and(|p| p.as_str() == "**");
        for name in names.into_iter().rev() {
            // Hidden files and folders (`.`, `_`: Spark's `_temporary`, `_SUCCESS`) are skipped
            // as a folder's walk skips them, unless the pattern's component names them so.
            if is_hidden(&name.to_string_lossy()) && !part.is_some_and(|p| is_hidden(p.as_str())) {
                continue;
            }
            let path = dir.join(&name);
            let shown = shown.join(&name);
            let is_dir = path.is_dir();
            if pattern.matches_path_with(&shown, options) && (is_dir || !dirs_only) {
                out.push(shown.clone());
            }
            let fits = part.is_some_and(|p| {
                p.as_str() == "**" || p.matches_with(&name.to_string_lossy(), options)
            });
            if is_dir && (doublestar || (fits && depth + 1 < parts.len())) {
                let me = dir_id(&path)?;
                if above.contains(&me) {
                    continue;
                }
                let mut chain = above.clone();
                chain.push(me);
                stack.push((path, shown, depth + 1, chain, doublestar));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The data files under `dir`, sorted by path; hidden files skipped, symbolic links followed,
/// each folder entered once.
fn walk(dir: &Path, out: &mut Vec<PathBuf>, visited: &mut Visited, every: bool) -> Result<()> {
    if !visited.first(dir)? {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .map(|e| e.map(|e| e.path()).map_err(|e| Error::io(dir, e)))
        .collect::<Result<_>>()?;
    entries.sort();
    for p in entries {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if is_hidden(&name) {
            continue;
        }
        if p.is_dir() {
            walk(&p, out, visited, every)?;
        } else if every || format_of(&p).is_some() {
            out.push(p);
        }
    }
    Ok(())
}

/// Every file a reader of the local folders among `inputs` may read as data: the files a
/// scan reads ([`resolve_with`]) and, under a local folder given directly, every other regular
/// file that is not hidden (`.` or `_` first, as Spark and pyarrow skip them) and is Parquet by
/// its first bytes, whatever its name. A training job reading the folder reads a Parquet file
/// named `extra` that a scan passed over, so `verify` counts it; a report, an attestation or a
/// README beside the data is no data and is not counted. Files reached twice (a link, a folder
/// given twice) count once, by their real path, as a scan reads them once.
pub fn every_file(inputs: &[PathBuf], options: &[(String, String)]) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = resolve_with(inputs, options)?
        .into_iter()
        .map(|r| r.path)
        .collect();
    let mut seen: std::collections::BTreeSet<PathBuf> = files
        .iter()
        .map(|f| f.canonicalize().unwrap_or_else(|_| f.clone()))
        .collect();
    for input in inputs {
        if crate::storage::is_url(&input.to_string_lossy()) || !input.is_dir() {
            continue;
        }
        let mut found = Vec::new();
        walk(input, &mut found, &mut Visited::default(), true)?;
        for f in found {
            let Ok(real) = f.canonicalize() else { continue };
            if seen.contains(&real) || !real.is_file() || !is_parquet_by_bytes(&real) {
                continue;
            }
            seen.insert(real);
            files.push(f);
        }
    }
    Ok(files)
}

/// Whether a file starts with Parquet's magic bytes.
fn is_parquet_by_bytes(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| &head == b"PAR1")
}

/// `key=value` folder names along the path become partition columns. Hive writes a null
/// partition value as `__HIVE_DEFAULT_PARTITION__`.
fn hive_partitions(path: &Path) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    if let Some(parent) = path.parent() {
        for comp in parent.components() {
            let c = comp.as_os_str().to_string_lossy();
            if let Some((k, v)) = c.split_once('=')
                && !k.is_empty()
                && !out.iter().any(|(ek, _): &(String, Option<String>)| ek == k)
            {
                let v = (v != "__HIVE_DEFAULT_PARTITION__").then(|| v.to_string());
                out.push((k.to_string(), v));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_from_names() {
        assert_eq!(format_of(Path::new("a/b.parquet")), Some(Format::Parquet));
        assert_eq!(format_of(Path::new("b.CSV")), Some(Format::Csv));
        assert_eq!(format_of(Path::new("b.csv.gz")), Some(Format::CsvGz));
        assert_eq!(format_of(Path::new("b.json")), None);
        assert_eq!(format_of(Path::new("b.tar.gz")), None);
    }

    #[test]
    fn row_key_names_leave_out_where_the_data_sits() {
        let k = |p: &str| row_key_name(Path::new(p));
        assert_eq!(k("/mnt/ci/clone/data/part-0.parquet"), "part-0.parquet");
        assert_eq!(k("data/part-0.parquet"), "part-0.parquet");
        assert_eq!(
            k("/a/b/year=2024/region=eu/part-0.parquet"),
            "year=2024/region=eu/part-0.parquet"
        );
        assert_ne!(
            k("t/year=2024/part-0.parquet"),
            k("t/year=2025/part-0.parquet")
        );
    }

    #[test]
    fn hive_keys_from_folders() {
        let p = hive_partitions(Path::new(
            "data/year=2024/region=__HIVE_DEFAULT_PARTITION__/x.parquet",
        ));
        assert_eq!(
            p,
            vec![
                ("year".to_string(), Some("2024".to_string())),
                ("region".to_string(), None)
            ]
        );
        assert!(hive_partitions(Path::new("data/x.parquet")).is_empty());
    }
}
