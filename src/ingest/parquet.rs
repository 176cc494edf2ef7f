//! Parquet sources: the footer is read once when the dataset is opened; each row group is a
//! shard read by its own `ParquetRecordBatchReader` with only the selected columns.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
    RowSelector,
};
use parquet::file::metadata::PageIndexPolicy;

use super::{BATCH_ROWS, Shard, ShardKind, Source};
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub(crate) struct ParquetFile {
    pub schema: SchemaRef,
    pub row_group_rows: Vec<u64>,
    /// Byte range `[start, end)` of each row group's column chunks, for the manifest hash.
    pub row_group_ranges: Vec<(u64, u64)>,
    meta: ArrowReaderMetadata,
}

pub(crate) fn open(path: &Path) -> Result<ParquetFile> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    // The page index lets a shard that starts inside a row group skip whole pages.
    let meta = ArrowReaderMetadata::load(
        &file,
        ArrowReaderOptions::new().with_offset_index_policy(PageIndexPolicy::Optional),
    )
    .map_err(|e| Error::BadParquet {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    // The reader trusts the footer; a file must also start as Parquet does.
    let mut magic = [0u8; 4];
    let starts = {
        use std::io::{Read, Seek};
        let mut f = &file;
        f.seek(std::io::SeekFrom::Start(0)).is_ok() && f.read_exact(&mut magic).is_ok()
    } && &magic == b"PAR1";
    if !starts {
        return Err(Error::BadParquet {
            path: path.to_path_buf(),
            reason: format!(
                "it does not start with Parquet's magic `PAR1` (its first bytes are {:?})",
                String::from_utf8_lossy(&magic)
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
    let file = File::open(&source.path).map_err(|e| Error::io(&source.path, e))?;
    // Project to the columns the dataset keeps (partition columns are not in the file).
    let wanted: Vec<usize> = pf
        .schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| unified.field_with_name(f.name()).is_ok())
        .map(|(i, _)| i)
        .collect();
    let mask = ProjectionMask::roots(pf.meta.parquet_schema(), wanted.clone());
    let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, pf.meta.clone())
        .with_row_groups(vec![index])
        .with_projection(mask);
    if skip > 0 || take < pf.row_group_rows[index] {
        let mut sel = Vec::new();
        if skip > 0 {
            sel.push(RowSelector::skip(skip as usize));
        }
        sel.push(RowSelector::select(take as usize));
        builder = builder.with_row_selection(RowSelection::from(sel));
    }
    let reader = builder
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| bad(e.to_string()))?;
    Ok(Box::new(RowGroupIter {
        reader,
        meta: pf.meta.clone(),
        columns: wanted,
        path: source.path.clone(),
        index,
        expected: take,
        skip,
        seen: 0,
        done: false,
    }))
}

/// Yields a row group's batches and checks, at the end, that the rows read match the footer:
/// a row group that decodes to fewer rows than its metadata says is an error, not a short read.
struct RowGroupIter {
    reader: parquet::arrow::arrow_reader::ParquetRecordBatchReader,
    /// The footer and the columns read, to name the column of a page that fails its checksum.
    meta: ArrowReaderMetadata,
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
        let fields = self.meta.schema().fields();
        self.columns.iter().copied().find_map(|c| {
            let file = File::open(&self.path).ok()?;
            let mask = ProjectionMask::roots(self.meta.parquet_schema(), [c]);
            let reader =
                ParquetRecordBatchReaderBuilder::new_with_metadata(file, self.meta.clone())
                    .with_row_groups(vec![self.index])
                    .with_projection(mask)
                    .with_batch_size(BATCH_ROWS)
                    .build()
                    .ok()?;
            let mut batches = reader;
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
            Some(Err(e)) => {
                self.done = true;
                let text = e.to_string();
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
