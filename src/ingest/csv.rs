//! CSV sources: the dialect (delimiter, quote, header, null tokens) is sniffed from the start of
//! each file unless given, the schema is inferred from its first records, and a large plain file
//! is cut into blocks at record boundaries (found by `RecordScan`, which follows quotes as the
//! parser does) so that blocks parse in parallel. Gzip files and objects in a store are streamed
//! as one block. Either way a file that ends inside a quoted field is an error.

use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow_csv::reader::Format as CsvFormat;

use super::remote::{RemoteObject, StreamRead};
use super::{BATCH_ROWS, Shard, ShardKind, Source};
use crate::error::{Error, Result};

/// Target size of one CSV block. Blocks are read whole, so this bounds memory per thread.
pub const BLOCK_BYTES: u64 = 32 << 20;
/// How much of a file's start is read to sniff its dialect.
const SNIFF_BYTES: usize = 256 << 10;
/// Tokens read as null by default (pandas reads the same ones as missing).
const DEFAULT_NULLS: &[&str] = &["", "NA", "N/A", "NULL", "null", "None"];
/// Tokens read as null only where they stand in a column that is otherwise numeric.
const NUMERIC_NULLS: &[&str] = &["?", "-", "none", "n/a", "na", "#N/A"];

/// CSV dialect overrides from the command line; `None` means infer.
#[derive(Debug, Clone)]
pub struct CsvOptions {
    pub delimiter: Option<u8>,
    pub quote: Option<u8>,
    pub header: Option<bool>,
    /// Replace the default null tokens.
    pub null_values: Option<Vec<String>>,
    /// Records read to infer column types (0 = the whole file).
    pub infer_rows: usize,
    /// Target size of a block of a large plain file; blocks are parsed in parallel.
    pub block_bytes: u64,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: None,
            quote: None,
            header: None,
            null_values: None,
            infer_rows: 100_000,
            block_bytes: BLOCK_BYTES,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Block {
    pub start: u64,
    pub end: u64,
    /// Data records (not counting the header) before this block.
    pub first_record: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct CsvFile {
    pub file_schema: SchemaRef,
    /// The schema handed to the parser: file column order, unified types.
    pub read_schema: SchemaRef,
    pub blocks: Vec<Block>,
    pub delimiter: u8,
    pub quote: u8,
    pub header: bool,
    pub null_tokens: Vec<String>,
    gzip: bool,
    block_bytes: u64,
}

impl CsvFile {
    fn format(&self) -> CsvFormat {
        let mut f = CsvFormat::default()
            .with_header(self.header)
            .with_delimiter(self.delimiter)
            .with_quote(self.quote);
        if let Some(re) = self.null_regex() {
            f = f.with_null_regex(re);
        }
        f
    }

    /// `None` when only the empty string is null: the parser's fast path.
    fn null_regex(&self) -> Option<regex::Regex> {
        if self.null_tokens.iter().all(|t| t.is_empty()) {
            return None;
        }
        let alts: Vec<String> = self.null_tokens.iter().map(|t| regex::escape(t)).collect();
        regex::Regex::new(&format!("^(?:{})$", alts.join("|"))).ok()
    }
}

fn bad(path: &Path, reason: impl Into<String>) -> Error {
    Error::BadCsv {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// The file's bytes from its start, decompressed; a remote object is streamed (hashed as it
/// passes when `hash`).
fn open_reader(
    path: &Path,
    remote: Option<&Arc<RemoteObject>>,
    gzip: bool,
    hash: bool,
) -> Result<Box<dyn Read + Send>> {
    if let Some(obj) = remote {
        let r = StreamRead::new(obj.clone(), hash);
        return Ok(if gzip {
            Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
                1 << 20,
                r,
            )))
        } else {
            Box::new(BufReader::with_capacity(1 << 20, r))
        });
    }
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    Ok(if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
            1 << 20,
            f,
        )))
    } else {
        Box::new(BufReader::with_capacity(1 << 20, f))
    })
}

fn read_head(path: &Path, remote: Option<&Arc<RemoteObject>>, gzip: bool) -> Result<Vec<u8>> {
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    open_reader(path, remote, gzip, false)?
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(|e| read_error(path, remote, e))?;
    Ok(head)
}

/// An error reading the file: the store's own error when the read was remote.
fn read_error(path: &Path, remote: Option<&Arc<RemoteObject>>, e: std::io::Error) -> Error {
    remote
        .and_then(|o| o.take_error())
        .unwrap_or_else(|| Error::io(path, e))
}

pub(crate) fn open(
    path: &Path,
    remote: Option<&Arc<RemoteObject>>,
    gzip: bool,
    opts: &CsvOptions,
) -> Result<CsvFile> {
    if let Some(obj) = remote {
        // A CSV object is hashed by the one read that streams it whole.
        obj.hash_off();
    }
    let head = read_head(path, remote, gzip)?;
    if head.is_empty() {
        return Err(bad(path, "the file is empty (no header, no rows)"));
    }
    if head.len() < SNIFF_BYTES && head.iter().all(|b| matches!(b, b'\n' | b'\r')) {
        return Err(bad(
            path,
            "the file holds only blank lines (no header, no rows)",
        ));
    }
    // Only whole lines of the sample are used; a cut multi-byte character at the end is fine.
    let cut = if head.len() == SNIFF_BYTES {
        memchr::memrchr(b'\n', &head)
            .map(|i| i + 1)
            .unwrap_or(head.len())
    } else {
        head.len()
    };
    let sample = &head[..cut];
    if let Err(e) = std::str::from_utf8(sample) {
        let line = 1 + memchr::memchr_iter(b'\n', &sample[..e.valid_up_to()]).count();
        return Err(Error::CsvNotUtf8 {
            path: path.to_path_buf(),
            reason: format!("invalid UTF-8 on line {line}"),
        });
    }
    let is_tsv = path.to_string_lossy().to_ascii_lowercase().contains(".tsv");
    let quote = opts.quote.unwrap_or(b'"');
    let delimiter = match opts.delimiter {
        Some(d) => d,
        None => sniff_delimiter(sample, quote).unwrap_or(if is_tsv { b'\t' } else { b',' }),
    };
    let records = sample_records(sample, delimiter, quote);
    let header = opts.header.unwrap_or_else(|| sniff_header(&records));
    let null_tokens = match &opts.null_values {
        Some(v) => v.clone(),
        None => sniff_nulls(&records, header),
    };
    let mut cf = CsvFile {
        file_schema: Arc::new(Schema::empty()),
        read_schema: Arc::new(Schema::empty()),
        blocks: Vec::new(),
        delimiter,
        quote,
        header,
        null_tokens,
        gzip,
        block_bytes: opts.block_bytes.max(1),
    };
    let infer = (opts.infer_rows > 0).then_some(opts.infer_rows);
    let (schema, _) = cf
        .format()
        .infer_schema(open_reader(path, remote, gzip, false)?, infer)
        .map_err(|e| {
            remote
                .and_then(|o| o.take_error())
                .unwrap_or_else(|| csv_error(path, &e.to_string(), 0))
        })?;
    let mut names = std::collections::BTreeSet::new();
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let name = if f.name().trim().is_empty() {
                format!("column_{}", i + 1)
            } else {
                f.name().clone()
            };
            if !names.insert(name.clone()) {
                return Err(bad(
                    path,
                    format!("column name `{name}` appears twice in the header"),
                ));
            }
            // A column with no value in the sample is read as text.
            let dt = match f.data_type() {
                DataType::Null => DataType::Utf8,
                dt => dt.clone(),
            };
            Ok(Field::new(name, dt, true))
        })
        .collect::<Result<_>>()?;
    cf.file_schema = Arc::new(Schema::new(fields));
    cf.blocks = match remote {
        // An object is streamed as one block.
        Some(obj) => vec![Block {
            start: 0,
            end: obj.size,
            first_record: 0,
        }],
        None => plan_blocks(path, &cf)?,
    };
    Ok(cf)
}

/// The file's columns in file order, with the unified type for the columns the dataset keeps.
pub(crate) fn read_schema(file_schema: &Schema, unified: &Schema) -> Schema {
    Schema::new(
        file_schema
            .fields()
            .iter()
            .map(|f| match unified.field_with_name(f.name()) {
                Ok(u) => Field::new(f.name(), u.data_type().clone(), true),
                Err(_) => Field::new(f.name(), DataType::Utf8, true),
            })
            .collect::<Vec<_>>(),
    )
}

/// Split sample text into records with the csv crate (quote-aware), at most 500.
fn sample_records(sample: &[u8], delimiter: u8, quote: u8) -> Vec<Vec<String>> {
    let mut r = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .quote(quote)
        .from_reader(sample);
    r.records()
        .take(500)
        .filter_map(|rec| rec.ok())
        .map(|rec| rec.iter().map(str::to_string).collect())
        .collect()
}

/// Pick the candidate delimiter that splits the first lines into the same number (> 1) of
/// fields most consistently.
fn sniff_delimiter(sample: &[u8], quote: u8) -> Option<u8> {
    let mut best: Option<(usize, usize, u8)> = None;
    for &d in b",\t;|" {
        let records = sample_records(sample, d, quote);
        let records = &records[..records.len().min(100)];
        if records.is_empty() {
            continue;
        }
        let mut counts = std::collections::BTreeMap::<usize, usize>::new();
        for r in records {
            *counts.entry(r.len()).or_default() += 1;
        }
        let (&fields, &agree) = counts.iter().max_by_key(|(f, c)| (**c, **f))?;
        if fields < 2 {
            continue;
        }
        if best.is_none_or(|(a, f, _)| (agree, fields) > (a, f)) {
            best = Some((agree, fields, d));
        }
    }
    best.map(|(_, _, d)| d)
}

fn is_number(s: &str) -> bool {
    let t = s.trim();
    !t.is_empty() && t.parse::<f64>().is_ok()
}

/// A header is assumed unless the first record looks like data: the first record is data when
/// every column that is numeric below it is numeric in the first record as well.
fn sniff_header(records: &[Vec<String>]) -> bool {
    let Some((first, rest)) = records.split_first() else {
        return true;
    };
    if rest.is_empty() {
        return true;
    }
    let mut numeric_columns = 0;
    for (i, v) in first.iter().enumerate() {
        let vals: Vec<&str> = rest
            .iter()
            .filter_map(|r| r.get(i).map(String::as_str))
            .filter(|s| !s.is_empty() && !DEFAULT_NULLS.contains(s))
            .collect();
        if !vals.is_empty() && vals.iter().all(|s| is_number(s)) {
            numeric_columns += 1;
            if !is_number(v) {
                return true;
            }
        }
    }
    numeric_columns == 0
}

/// The default null tokens that occur in the sample, plus the rarer tokens that stand in an
/// otherwise numeric column. Only the empty string keeps the parser on its fast path.
fn sniff_nulls(records: &[Vec<String>], header: bool) -> Vec<String> {
    let rows = if header && !records.is_empty() {
        &records[1..]
    } else {
        records
    };
    let mut tokens: Vec<String> = vec![String::new()];
    let ncols = rows.iter().map(Vec::len).max().unwrap_or(0);
    for i in 0..ncols {
        let vals: Vec<&str> = rows
            .iter()
            .filter_map(|r| r.get(i).map(String::as_str))
            .collect();
        let numeric_rest = vals
            .iter()
            .filter(|v| !v.is_empty() && !DEFAULT_NULLS.contains(v) && !NUMERIC_NULLS.contains(v))
            .all(|v| is_number(v));
        for v in &vals {
            let known = DEFAULT_NULLS.contains(v) || (numeric_rest && NUMERIC_NULLS.contains(v));
            // A default token in a text column is only a null when the column is otherwise
            // numeric or the token is spelled as a null marker (NULL/null/None/N/A).
            let text_ok = DEFAULT_NULLS.contains(v) && (numeric_rest || *v != "NA");
            if known && (numeric_rest || text_ok) && !tokens.iter().any(|t| t == v) {
                tokens.push(v.to_string());
            }
        }
    }
    tokens.sort();
    tokens
}

/// Where a CSV file's records end, read as arrow-csv's parser (csv-core, no escape character)
/// reads them: a quote opens a quoted field only at the start of a field; inside one, a doubled
/// quote is a quote and a single quote closes it; a quote anywhere else is an ordinary
/// character. Fed the file's bytes in order, it finds the newlines that end records (the only
/// safe places to cut a file into blocks) and whether the file ends inside a quoted field: the
/// parser would take the rest of the file for one value, silently, so that is an error.
///
/// Written by hand because csv-core does not expose its state between records and the csv
/// crate would decode every field; this follows only quotes and newlines (found with `memchr`),
/// plus the byte before a quote.
#[derive(Debug, Clone)]
struct RecordScan {
    quote: u8,
    delimiter: u8,
    in_quote: bool,
    /// Where the last quoted field closed (a quote right after it is an escaped quote).
    closed_at: Option<u64>,
    /// The byte before the next one fed (a newline before the file's first byte).
    prev: u8,
    /// Bytes fed so far.
    pos: u64,
    /// Newlines seen, inside quoted fields or not (so line numbers match an editor's).
    lines: u64,
    /// The line where the open quoted field began.
    opened_line: u64,
}

impl RecordScan {
    fn new(quote: u8, delimiter: u8) -> Self {
        RecordScan {
            quote,
            delimiter,
            in_quote: false,
            closed_at: None,
            prev: b'\n',
            pos: 0,
            lines: 0,
            opened_line: 0,
        }
    }

    /// Feed the next bytes; `record_end` is called with the offset just past every newline
    /// that ends a record.
    fn feed(&mut self, buf: &[u8], mut record_end: impl FnMut(u64)) {
        for i in memchr::memchr2_iter(self.quote, b'\n', buf) {
            let at = self.pos + i as u64;
            if buf[i] == b'\n' {
                self.lines += 1;
                if !self.in_quote {
                    record_end(at + 1);
                }
                continue;
            }
            if self.in_quote {
                self.in_quote = false;
                self.closed_at = Some(at);
            } else if self.closed_at.is_some_and(|c| c + 1 == at) {
                // The second quote of a doubled one: still inside the field.
                self.in_quote = true;
                self.closed_at = None;
            } else {
                let before = if i > 0 { buf[i - 1] } else { self.prev };
                if before == self.delimiter || before == b'\n' || before == b'\r' {
                    self.in_quote = true;
                    self.opened_line = self.lines + 1;
                }
            }
        }
        if let Some(&last) = buf.last() {
            self.prev = last;
        }
        self.pos += buf.len() as u64;
    }

    /// At the end of the file: the line of a quoted field that never closed, if one is open.
    fn unclosed(&self) -> Option<u64> {
        self.in_quote.then_some(self.opened_line)
    }
}

/// The error for a file that ends inside a quoted field.
fn unclosed_quote(line: u64, quote: u8) -> String {
    format!(
        "a quoted field opened on line {line} is never closed: the rest of the file would be \
         read as one value\nhint: a stray `{}` at the start of a field opens a quoted field; \
         fix the quoting, or give another quote character with `--quote`",
        quote as char
    )
}

/// Cut a plain file into blocks of about `BLOCK_BYTES` at record boundaries, counting the
/// records before each block. The whole file is scanned (even one that makes a single block),
/// so a quoted field left open at its end is an error, not a silently swallowed tail.
fn plan_blocks(path: &Path, cf: &CsvFile) -> Result<Vec<Block>> {
    let size = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    if cf.gzip {
        // Streamed as one block; the stream is checked as it is parsed (`QuoteCheck`).
        return Ok(vec![Block {
            start: 0,
            end: size,
            first_record: 0,
        }]);
    }
    let mut f =
        BufReader::with_capacity(8 << 20, File::open(path).map_err(|e| Error::io(path, e))?);
    let mut buf = vec![0u8; (8 << 20).min(size as usize).max(1)];
    let mut scan = RecordScan::new(cf.quote, cf.delimiter);
    let mut records = 0u64; // newline-terminated records seen so far
    let mut blocks = Vec::new();
    let mut block_start = 0u64;
    let mut block_first = 0u64;
    let mut next_cut = cf.block_bytes;
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        scan.feed(&buf[..n], |at| {
            records += 1;
            if at >= next_cut && at < size {
                blocks.push(Block {
                    start: block_start,
                    end: at,
                    first_record: block_first,
                });
                block_start = at;
                block_first = records - u64::from(cf.header);
                next_cut = at + cf.block_bytes;
            }
        });
    }
    if let Some(line) = scan.unclosed() {
        return Err(bad(path, unclosed_quote(line, cf.quote)));
    }
    blocks.push(Block {
        start: block_start,
        end: size,
        first_record: block_first,
    });
    Ok(blocks)
}

/// A streamed file (gzip, or an object in a store) checked for a quoted field left open at its
/// end as it is parsed: at the end of the stream it fails instead of ending, and `batches`
/// turns that failure into the file's error.
struct QuoteCheck<R> {
    inner: R,
    scan: RecordScan,
}

/// The marker `batches` finds in an arrow-csv error raised by `QuoteCheck`.
const UNCLOSED_MARK: &str = "poisonscan: unclosed quote: ";

impl<R: Read> Read for QuoteCheck<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(out)?;
        if n == 0
            && !out.is_empty()
            && let Some(line) = self.scan.unclosed()
        {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{UNCLOSED_MARK}{}", unclosed_quote(line, self.scan.quote)),
            ));
        }
        self.scan.feed(&out[..n], |_| {});
        Ok(n)
    }
}

pub(crate) fn read_block(
    source: &Source,
    shard: &Shard,
) -> Result<Box<dyn Iterator<Item = Result<RecordBatch>> + Send>> {
    let cf = source
        .csv
        .as_ref()
        .ok_or_else(|| Error::Internal("CSV shard without CSV metadata".into()))?;
    let ShardKind::CsvBlock { index, start, end } = shard.kind else {
        return Err(Error::Internal("CSV source with a row-group shard".into()));
    };
    let path = &source.path;
    let remote = source.remote.clone();
    let projection: Vec<usize> = cf
        .read_schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| source.file_schema.field_with_name(f.name()).is_ok())
        .map(|(i, _)| i)
        .collect();
    let mut b = arrow_csv::ReaderBuilder::new(cf.read_schema.clone())
        .with_header(index == 0 && cf.header)
        .with_delimiter(cf.delimiter)
        .with_quote(cf.quote)
        .with_batch_size(BATCH_ROWS)
        .with_projection(projection);
    if let Some(re) = cf.null_regex() {
        b = b.with_null_regex(re);
    }
    // arrow-csv counts lines from the start of what it was given, header included.
    let line_offset = shard.first_row + u64::from(cf.header && index > 0);
    let built = |e: arrow::error::ArrowError| csv_error(path, &e.to_string(), 0);
    if remote.is_none() && !cf.gzip && end > start {
        let f = File::open(path).map_err(|e| Error::io(path, e))?;
        // A plain local file's block is parsed from a read-only map of its bytes: no copy
        // into a fresh 32 MiB buffer (whose pages the kernel would zero first) per block.
        // SAFETY: a private read-only map of a file opened for reading, as the file hash maps
        // it (a file truncated by another process while it is read ends the run with SIGBUS;
        // the README asks not to scan files still being written).
        let mapped = unsafe {
            memmap2::MmapOptions::new()
                .offset(start)
                .len((end - start) as usize)
                .map(&f)
        };
        match mapped {
            Ok(map) => {
                let reader = b.build_buffered(Cursor::new(map)).map_err(built)?;
                return Ok(batches(reader, path.clone(), None, line_offset));
            }
            // No address space for the map (a process limit): the block is read instead.
            Err(e) if e.kind() == std::io::ErrorKind::OutOfMemory => {
                let mut f = f;
                f.seek(SeekFrom::Start(start))
                    .map_err(|e| Error::io(path, e))?;
                let mut bytes = Vec::with_capacity((end - start) as usize);
                f.take(end - start)
                    .read_to_end(&mut bytes)
                    .map_err(|e| Error::io(path, e))?;
                let reader = b.build(Cursor::new(bytes)).map_err(built)?;
                return Ok(batches(reader, path.clone(), None, line_offset));
            }
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    let input = QuoteCheck {
        inner: open_reader(path, remote.as_ref(), cf.gzip, remote.is_some())?,
        scan: RecordScan::new(cf.quote, cf.delimiter),
    };
    let reader = b.build(input).map_err(built)?;
    Ok(batches(reader, path.clone(), remote, line_offset))
}

/// A block's batches, ending at the first error: the error names the file and the line within
/// the whole file (the store's own error for an object whose read failed).
fn batches(
    reader: impl Iterator<Item = std::result::Result<RecordBatch, arrow::error::ArrowError>>
    + Send
    + 'static,
    path: PathBuf,
    remote: Option<Arc<RemoteObject>>,
    line_offset: u64,
) -> Box<dyn Iterator<Item = Result<RecordBatch>> + Send> {
    let mut failed = false;
    Box::new(reader.map_while(move |r| {
        if failed {
            return None;
        }
        Some(r.map_err(|e| {
            failed = true;
            remote
                .as_ref()
                .and_then(|o| o.take_error())
                .unwrap_or_else(|| csv_error(&path, &e.to_string(), line_offset))
        }))
    }))
}

/// Turn an arrow-csv error into one that names the file and the line within the whole file.
fn csv_error(path: &Path, message: &str, line_offset: u64) -> Error {
    if let Some(at) = message.find(UNCLOSED_MARK) {
        // Raised by `QuoteCheck` on a whole streamed file: its line is already the file's.
        return bad(path, &message[at + UNCLOSED_MARK.len()..]);
    }
    let msg = shift_line_numbers(message, line_offset);
    let msg = msg
        .trim_start_matches("Csv error: ")
        .trim_start_matches("Parser error: ")
        .to_string();
    if msg.contains("UTF-8") || msg.contains("utf-8") {
        return Error::CsvNotUtf8 {
            path: path.to_path_buf(),
            reason: msg,
        };
    }
    let hint = if msg.contains("incorrect number of fields") || msg.contains("unequal lengths") {
        "\nhint: a row has more or fewer fields than the header; check quoting and the delimiter (`--delimiter`)"
    } else if msg.contains("Error while parsing value") {
        "\nhint: the column's type was inferred from the first records (`--infer-rows`, 0 reads the whole file); a null marker can be declared with `--null-values`"
    } else {
        ""
    };
    Error::BadCsv {
        path: PathBuf::from(path),
        reason: format!("{msg}{hint}"),
    }
}

/// Add `offset` to every "line N" in an arrow-csv message, so block-relative line numbers
/// become file line numbers.
fn shift_line_numbers(message: &str, offset: u64) -> String {
    if offset == 0 {
        return message.to_string();
    }
    let re = regex::Regex::new(r"line (\d+)").expect("static regex");
    re.replace_all(message, |c: &regex::Captures<'_>| {
        let n: u64 = c[1].parse().unwrap_or(0);
        format!("line {}", n + offset)
    })
    .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_delimiters() {
        assert_eq!(sniff_delimiter(b"a;b;c\n1;2;3\n4;5;6\n", b'"'), Some(b';'));
        assert_eq!(sniff_delimiter(b"a\tb\n1\t2\n", b'"'), Some(b'\t'));
        assert_eq!(sniff_delimiter(b"a,b\n\"x;y\",2\n", b'"'), Some(b','));
    }

    #[test]
    fn sniffs_headers() {
        let recs = |s: &str| sample_records(s.as_bytes(), b',', b'"');
        assert!(sniff_header(&recs("age,name\n1,a\n2,b\n")));
        assert!(!sniff_header(&recs("3,x\n1,a\n2,b\n")));
        assert!(sniff_header(&recs("city,name\nx,a\ny,b\n")));
    }

    #[test]
    fn sniffs_null_tokens() {
        let recs = sample_records(b"a,b\n1,x\n?,NA\n,NULL\n", b',', b'"');
        let t = sniff_nulls(&recs, true);
        assert_eq!(t, vec!["", "?", "NULL"]);
    }

    /// The records the csv crate (csv-core, as arrow-csv parses) reads from `bytes`.
    fn reference_records(bytes: &[u8]) -> Vec<Vec<Vec<u8>>> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes)
            .byte_records()
            .map(|r| r.unwrap().iter().map(<[u8]>::to_vec).collect())
            .collect()
    }

    /// Record ends and the unclosed quote's line, feeding `bytes` in pieces cut at `cuts`.
    fn scan_in_pieces(bytes: &[u8], cuts: &[usize]) -> (Vec<u64>, Option<u64>) {
        let mut scan = RecordScan::new(b'"', b',');
        let mut ends = Vec::new();
        let mut at = 0;
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        for c in cuts.into_iter().chain([bytes.len()]) {
            scan.feed(&bytes[at..c.max(at)], |e| ends.push(e));
            at = c.max(at);
        }
        (ends, scan.unclosed())
    }

    proptest::proptest! {
        /// Against csv-core itself: every record end found is a place where the file can be
        /// cut in two and parsed as two files with the same records, and a quoted field is
        /// left open exactly when csv-core would swallow the rest of the file (text appended
        /// after a newline stays inside the last field instead of making a record).
        #[test]
        fn record_scan_reads_as_csv_core(
            text in proptest::collection::vec(
                proptest::sample::select(vec![b'a', b',', b'"', b'\n', b'\r']), 0..48),
            cuts in proptest::collection::vec(0usize..64, 0..4),
        ) {
            let (ends, unclosed) = scan_in_pieces(&text, &cuts);
            let whole = reference_records(&text);
            for &e in &ends {
                let e = e as usize;
                let mut parts = reference_records(&text[..e]);
                parts.extend(reference_records(&text[e..]));
                proptest::prop_assert_eq!(&parts, &whole, "cut at {}", e);
            }
            let mut probe = text.clone();
            probe.extend_from_slice(b"\nZ");
            let ends_apart = reference_records(&probe).last() == Some(&vec![b"Z".to_vec()]);
            proptest::prop_assert_eq!(unclosed.is_none(), ends_apart);
        }
    }

    #[test]
    fn record_scan_by_hand() {
        // A doubled quote stays inside the field; a quote inside an unquoted field is a
        // character (`5'10"`), so the newline after it ends the record.
        let text = b"h,w\n\"a \"\"b\"\"\nc\",5'10\"\n\"x\",1\n";
        for cuts in [&[][..], &[9, 10], &[8], &[11], &[8, 11, 21]] {
            // Cut between the quotes of each doubled pair (bytes 7-8 and 10-11) too.
            let (ends, unclosed) = scan_in_pieces(text, cuts);
            assert_eq!(ends, vec![4, 22, 28], "cut at {cuts:?}");
            assert_eq!(unclosed, None);
        }
        // Opened on the third line and never closed.
        let (ends, unclosed) = scan_in_pieces(b"a,b\n1,x\n2,\"y\n3,z\n", &[]);
        assert_eq!(ends, vec![4, 8]);
        assert_eq!(unclosed, Some(3));
    }

    #[test]
    fn shifts_lines() {
        assert_eq!(
            shift_line_numbers("bad at line 3, line 10", 100),
            "bad at line 103, line 110"
        );
    }
}
