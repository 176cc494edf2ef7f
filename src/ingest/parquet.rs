//! Parquet sources: the footer is read once when the dataset is opened; each row group is a
//! shard read by its own `ParquetRecordBatchReader` with only the selected columns.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};
use futures::StreamExt;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
    RowSelector,
};
use parquet::arrow::{ParquetRecordBatchStreamBuilder, ProjectionMask};
use parquet::file::metadata::PageIndexPolicy;

use super::remote::{ObjectReader, RemoteObject};
use super::{BATCH_ROWS, Shard, ShardKind, Source};
use crate::error::{Error, Result};
use crate::storage;

#[derive(Debug, Clone)]
pub(crate) struct ParquetFile {
    pub schema: SchemaRef,
    pub row_group_rows: Vec<u64>,
    /// Byte range `[start, end)` of each row group's column chunks, for the manifest hash.
    pub row_group_ranges: Vec<(u64, u64)>,
    meta: ArrowReaderMetadata,
}

pub(crate) fn open(path: &Path, remote: Option<&Arc<RemoteObject>>) -> Result<ParquetFile> {
    // The page index lets a shard that starts inside a row group skip whole pages.
    let options = ArrowReaderOptions::new().with_offset_index_policy(PageIndexPolicy::Optional);
    let (meta, magic) = match remote {
        None => {
            let file = File::open(path).map_err(|e| Error::io(path, e))?;
            let meta =
                ArrowReaderMetadata::load(&file, options).map_err(|e| Error::BadParquet {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                })?;
            let mut magic = [0u8; 4];
            {
                use std::io::{Read, Seek};
                let mut f = &file;
                // A file too short to hold it keeps zeros there: not the magic.
                let _ =
                    f.seek(std::io::SeekFrom::Start(0)).is_ok() && f.read_exact(&mut magic).is_ok();
            }
            (meta, Some(magic.to_vec()))
        }
        Some(obj) => {
            let mut reader = ObjectReader(obj.clone(), 1);
            let meta = storage::block_on(ArrowReaderMetadata::load_async(&mut reader, options))?
                .map_err(|e| {
                    obj.take_error().unwrap_or_else(|| Error::BadParquet {
                        path: path.to_path_buf(),
                        reason: e.to_string(),
                    })
                })?;
            let magic = storage::block_on(obj.fetch(0..4.min(obj.size)))??;
            (meta, Some(magic.to_vec()))
        }
    };
    // The reader trusts the footer; a file must also start as Parquet does.
    if magic.as_deref() != Some(b"PAR1") {
        return Err(Error::BadParquet {
            path: path.to_path_buf(),
            reason: format!(
                "it does not start with Parquet's magic `PAR1` (its first bytes are {:?})",
                String::from_utf8_lossy(magic.as_deref().unwrap_or_default())
            ),
        });
    }
    let md = meta.metadata();
    let mut row_group_rows = Vec::new();
    let mut row_group_ranges = Vec::new();
    for rg in md.row_groups() {
        if rg.num_rows() < 0 {
            return Err(Error::BadParquet {
                path: path.to_path_buf(),
                reason: format!("row group with a negative row count ({})", rg.num_rows()),
            });
        }
        row_group_rows.push(rg.num_rows() as u64);
        let mut start = u64::MAX;
        let mut end = 0u64;
        for c in rg.columns() {
            // `byte_range` panics on a negative offset or size (found by fuzzing): checked
            // here, where a damaged footer is an error naming the file.
            let s = c.dictionary_page_offset().unwrap_or(c.data_page_offset());
            let len = c.compressed_size();
            if s < 0 || len < 0 {
                return Err(Error::BadParquet {
                    path: path.to_path_buf(),
                    reason: format!(
                        "column `{}` of row group {} has a negative offset or size in the footer ({s}, {len})",
                        c.column_path(),
                        row_group_rows.len() - 1
                    ),
                });
            }
            let (s, len) = (s as u64, len as u64);
            start = start.min(s);
            end = end.max(s.saturating_add(len));
        }
        if start == u64::MAX {
            start = 0;
        }
        row_group_ranges.push((start, end.max(start)));
    }
    // Strip Arrow-specific field metadata so that two files written by different tools compare
    // by names and types only.
    let schema = Arc::new(Schema::new(
        meta.schema()
            .fields()
            .iter()
            .map(|f| {
                f.as_ref()
                    .clone()
                    .with_metadata(std::collections::HashMap::<String, String>::new())
            })
            .collect::<Vec<_>>(),
    ));
    if let Some(obj) = remote {
        obj.hash_row_groups(&row_group_ranges);
    }
    Ok(ParquetFile {
        schema,
        row_group_rows,
        row_group_ranges,
        meta,
    })
}

pub(crate) fn read_row_group(
    source: &Source,
    shard: &Shard,
    unified: &Schema,
) -> Result<Box<dyn Iterator<Item = Result<RecordBatch>> + Send>> {
    let pf = source
        .parquet
        .as_ref()
        .ok_or_else(|| Error::Internal("parquet shard without parquet metadata".into()))?;
    let ShardKind::RowGroup { index, skip, take } = shard.kind else {
        return Err(Error::Internal("parquet source with a CSV shard".into()));
    };
    let path = source.path.clone();
    let bad = move |reason: String| Error::BadParquet {
        path: path.clone(),
        reason: format!("row group {index}: {reason}"),
    };
    // Project to the columns the dataset keeps (partition columns are not in the file).
    let wanted: Vec<usize> = pf
        .schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| unified.field_with_name(f.name()).is_ok())
        .map(|(i, _)| i)
        .collect();
    let selection = (skip > 0 || take < pf.row_group_rows[index]).then(|| {
        let mut sel = Vec::new();
        if skip > 0 {
            sel.push(RowSelector::skip(skip as usize));
        }
        sel.push(RowSelector::select(take as usize));
        RowSelection::from(sel)
    });
    // The shards this row group is split into (equal parts): without a page index each of
    // them needs the whole column chunks, which a remote read then fetches once for all (with
    // one, each fetches only its pages).
    let rows = pf.row_group_rows[index];
    let paged = pf
        .meta
        .metadata()
        .row_group(index)
        .columns()
        .iter()
        .all(|c| c.offset_index_offset().is_some());
    let users = if paged || take == 0 || take >= rows {
        1
    } else {
        ((rows + take / 2) / take) as usize
    };
    let reader = batches(source, pf, index, &wanted, selection, users).map_err(|e| {
        source
            .remote
            .as_ref()
            .and_then(|o| o.take_error())
            .unwrap_or_else(|| bad(e))
    })?;
    Ok(Box::new(RowGroupIter {
        reader,
        source: source.clone(),
        columns: wanted,
        path: source.path.clone(),
        index,
        expected: take,
        skip,
        seen: 0,
        done: false,
    }))
}

/// Batches of row group `index` of a source, `columns` (root indices) only, the rows in
/// `selection` only: from the file, or from the object through the async reader (the footer
/// is already read; only the column chunks, or their pages in `selection`, are fetched).
fn batches(
    source: &Source,
    pf: &ParquetFile,
    index: usize,
    columns: &[usize],
    selection: Option<RowSelection>,
    users: usize,
) -> std::result::Result<Batches, String> {
    let mask = ProjectionMask::roots(pf.meta.parquet_schema(), columns.iter().copied());
    match &source.remote {
        None => {
            let file = File::open(&source.path).map_err(|e| e.to_string())?;
            let mut builder =
                ParquetRecordBatchReaderBuilder::new_with_metadata(file, pf.meta.clone())
                    .with_row_groups(vec![index])
                    .with_projection(mask)
                    .with_batch_size(BATCH_ROWS);
            if let Some(sel) = selection {
                builder = builder.with_row_selection(sel);
            }
            let reader = builder.build().map_err(|e| e.to_string())?;
            Ok(Box::new(reader.map(|b| b.map_err(|e| e.to_string()))))
        }
        Some(obj) => {
            let mut builder = ParquetRecordBatchStreamBuilder::new_with_metadata(
                ObjectReader(obj.clone(), users),
                pf.meta.clone(),
            )
            .with_row_groups(vec![index])
            .with_projection(mask)
            .with_batch_size(BATCH_ROWS);
            if let Some(sel) = selection {
                builder = builder.with_row_selection(sel);
            }
            let mut stream = builder.build().map_err(|e| e.to_string())?;
            Ok(Box::new(std::iter::from_fn(
                move || match storage::block_on(stream.next()) {
                    Ok(next) => next.map(|b| b.map_err(|e| e.to_string())),
                    Err(e) => Some(Err(e.to_string())),
                },
            )))
        }
    }
}

/// A row group's batches, or the decoder's error as text.
type Batches = Box<dyn Iterator<Item = std::result::Result<RecordBatch, String>> + Send>;

/// Yields a row group's batches and checks, at the end, that the rows read match the footer:
/// a row group that decodes to fewer rows than its metadata says is an error, not a short read.
struct RowGroupIter {
    reader: Batches,
    /// The source (its footer; the object read, whose storage error explains a failed read)
    /// and the columns read, to name the column of a page that fails its checksum.
    source: Source,
    columns: Vec<usize>,
    path: std::path::PathBuf,
    index: usize,
    expected: u64,
    skip: u64,
    seen: u64,
    done: bool,
}

thread_local! {
    static IN_DECODER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this thread is inside the Parquet decoder: a panic there is damaged data (the
/// decoder asserts on some malformed pages, found by fuzzing), caught and reported as an
/// error naming the file; a panic hook can stay quiet about it.
pub fn in_decoder() -> bool {
    // `try_with`: also asked by the allocator, during a thread's teardown too.
    IN_DECODER.try_with(|d| d.get()).unwrap_or(false)
}

/// Run the decoder, a panic in it an `Err` with its message.
fn decode<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    IN_DECODER.with(|d| d.set(true));
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    IN_DECODER.with(|d| d.set(false));
    out.map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic".into())
    })
}

impl RowGroupIter {
    /// The first column whose pages in this row group fail to decode, read one at a time (only
    /// after a checksum error: the reader's error does not name the column).
    fn failing_column(&self) -> Option<String> {
        let pf = self.source.parquet.as_ref()?;
        let fields = pf.meta.schema().fields();
        self.columns.iter().copied().find_map(|c| {
            let mut batches = batches(&self.source, pf, self.index, &[c], None, 1).ok()?;
            decode(|| batches.any(|b| b.is_err()))
                .unwrap_or(true)
                .then(|| fields.get(c).map(|f| f.name().clone()))
                .flatten()
        })
    }
}

impl Iterator for RowGroupIter {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = match decode(|| self.reader.next()) {
            Ok(next) => next,
            Err(panic) => {
                self.done = true;
                return Some(Err(Error::BadParquet {
                    path: self.path.clone(),
                    reason: format!(
                        "row group {}: the Parquet decoder failed on its data ({panic}): a damaged page",
                        self.index
                    ),
                }));
            }
        };
        match next {
            Some(Ok(b)) => {
                self.seen += b.num_rows() as u64;
                Some(Ok(b))
            }
            Some(Err(text)) => {
                self.done = true;
                // A request that failed is the store's error, naming the URL.
                if let Some(e) = self.source.remote.as_ref().and_then(|o| o.take_error()) {
                    return Some(Err(e));
                }
                let reason = if text.contains("CRC checksum mismatch") {
                    let column = self
                        .failing_column()
                        .map_or(String::new(), |c| format!(", column `{c}`"));
                    format!(
                        "row group {}{column}: a data page's CRC checksum does not match its bytes (the file was damaged or altered after it was written)",
                        self.index
                    )
                } else {
                    format!("row group {}: {text}", self.index)
                };
                Some(Err(Error::BadParquet {
                    path: self.path.clone(),
                    reason,
                }))
            }
            None => {
                self.done = true;
                (self.seen != self.expected).then(|| {
                    Err(Error::BadParquet {
                        path: self.path.clone(),
                        reason: format!(
                            "row group {} has {} rows from row {} on in its metadata but {} could be read",
                            self.index, self.expected, self.skip, self.seen
                        ),
                    })
                })
            }
        }
    }
}
