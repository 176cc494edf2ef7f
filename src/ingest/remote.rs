//! Sources in object storage: one object a listing found, read by ranged requests (Parquet:
//! the footer, then the byte ranges of the column chunks a shard needs) or as one stream
//! (CSV), through the `object_store` crate on [`crate::storage`]'s runtime.
//!
//! - **Integrity.** Every request carries the listing's ETag (`If-Match`) and version, so an
//!   object replaced while it is read is an error, never a mix of two versions. Every response
//!   must hold exactly the bytes asked for: a short body is an error naming the URL.
//! - **Hashing.** The bytes are hashed as they arrive (BLAKE3 of the object by
//!   [`RangeHasher`], xxh3-128 of each row group by [`SpanXxh3`]): when a scan reads every
//!   column of a Parquet file, the ranges its shards fetch plus the few bytes none needs (the
//!   footer's page indexes) make up the whole object, whose hashes then equal a local copy's. A read that leaves columns out fetches less and has no content hash; the
//!   manifest keeps the ETag and version.
//! - **Retries.** `object_store` retries a failed request with backoff (throttling, server
//!   errors, a dropped connection before the response). A body cut off midway is asked for
//!   again from where it stopped, a few times, before it is an error.
//! - **Bounds.** A shard's column chunks are fetched as ranges merged across gaps under
//!   256 KiB, at most [`IN_FLIGHT`] at once; the shards of one row group that need the same
//!   chunks (no page index) share one fetch; a CSV stream holds one response chunk.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use object_store::path::Path as StorePath;
use object_store::{GetOptions, GetRange, ObjectStore};
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::errors::ParquetError;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};

use super::{RangeHasher, SpanXxh3};
use crate::error::{Error, Result};
use crate::storage;

/// Requests one shard keeps in flight.
pub(crate) const IN_FLIGHT: usize = 4;
/// Ranges closer than this are fetched as one request (`object_store` merges across 1 MiB;
/// less here, so that a read of some columns fetches less of a file with small row groups).
const COALESCE: u64 = 256 << 10;
/// Attempts at a response body cut off midway (beyond `object_store`'s own retries).
const BODY_ATTEMPTS: u32 = 4;

/// Requests made and bytes received from object storage by this process.
static REQUESTS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

/// (requests, bytes) fetched from object storage so far by this process.
pub fn fetched() -> (u64, u64) {
    (
        REQUESTS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    )
}

/// How far an object's content hash has come.
#[derive(Debug)]
enum Hashing {
    /// Not computed (a read that leaves bytes out).
    Off,
    /// Bytes fed as they arrive: the whole object and each Parquet row group's span.
    Ranges {
        file: Box<RangeHasher>,
        groups: Vec<SpanXxh3>,
    },
    /// Done: the object's hash and its row groups'.
    Done { file: String, groups: Vec<String> },
}

/// One object being read.
#[derive(Debug)]
pub(crate) struct RemoteObject {
    pub url: String,
    store: Arc<dyn ObjectStore>,
    path: StorePath,
    pub size: u64,
    pub e_tag: Option<String>,
    pub version: Option<String>,
    hashing: Mutex<Hashing>,
    /// The first storage error a read met, for the caller that sees only the decoder's error.
    error: Mutex<Option<Error>>,
    /// Column chunks being fetched or fetched for one shard of a row group that other shards
    /// of it will ask for again (a file without page indexes: each shard of a split row group
    /// needs its whole chunks), so that they are fetched once. At most [`SHARED`] are kept.
    shared: Mutex<Vec<SharedFetch>>,
}

/// The ranges of one fetch, the fetch (awaited by every shard that asks for them), and how
/// many more shards will ask.
#[derive(Debug)]
struct SharedFetch {
    ranges: Vec<Range<u64>>,
    bytes: futures::future::Shared<BoxFuture<'static, std::result::Result<Vec<Bytes>, String>>>,
    left: usize,
}

/// Shared fetches kept at once: a bound on the memory they hold beyond the readers'.
const SHARED: usize = 4;

impl RemoteObject {
    pub(crate) fn new(location: &storage::Location, object: storage::Object) -> RemoteObject {
        RemoteObject {
            url: object.url,
            store: location.store.clone(),
            path: object.path,
            size: object.size,
            e_tag: object.e_tag,
            version: object.version,
            hashing: Mutex::new(Hashing::Ranges {
                file: Box::new(RangeHasher::new(0, object.size)),
                groups: Vec::new(),
            }),
            error: Mutex::new(None),
            shared: Mutex::new(Vec::new()),
        }
    }

    fn options(&self, range: Option<GetRange>) -> GetOptions {
        GetOptions {
            range,
            if_match: self.e_tag.clone(),
            version: self.version.clone(),
            ..Default::default()
        }
    }

    /// Keep `e` as the read's first error, and give it back.
    fn remember(&self, e: Error) -> Error {
        if let Error::Storage { url, reason, hint } = &e
            && let Ok(mut slot) = self.error.lock()
            && slot.is_none()
        {
            *slot = Some(Error::Storage {
                url: url.clone(),
                reason: reason.clone(),
                hint: hint.clone(),
            });
        }
        e
    }

    /// The storage error a failed read met, if one did.
    pub(crate) fn take_error(&self) -> Option<Error> {
        self.error.lock().ok().and_then(|mut e| e.take())
    }

    fn short(&self, what: String) -> Error {
        Error::Storage {
            url: self.url.clone(),
            reason: what,
            hint: "the store or the network cut the response short; run the scan again".to_string(),
        }
    }

    /// The bytes of `range`, checked to be exactly that many and fed to the hashers.
    pub(crate) async fn fetch(&self, range: Range<u64>) -> Result<Bytes> {
        // Offsets come from the footer, which is data: a range the object cannot hold is a
        // damaged file, not a network failure to retry.
        if range.start > range.end || range.end > self.size {
            return Err(Error::BadParquet {
                path: std::path::PathBuf::from(&self.url),
                reason: format!(
                    "its footer points at bytes {}..{}, outside the object's {} bytes",
                    range.start, range.end, self.size
                ),
            });
        }
        let want = range.end - range.start;
        let mut got: Vec<Bytes> = Vec::new();
        let mut have = 0u64;
        let mut attempt = 0;
        while have < want {
            let from = range.start + have;
            let opts = self.options(Some(GetRange::Bounded(from..range.end)));
            REQUESTS.fetch_add(1, Ordering::Relaxed);
            let response = self
                .store
                .get_opts(&self.path, opts)
                .await
                .map_err(|e| self.remember(storage::storage_error(&self.url, &e)))?;
            let mut body = response.into_stream();
            let mut cut = None;
            while let Some(part) = body.next().await {
                match part {
                    Ok(b) => {
                        BYTES.fetch_add(b.len() as u64, Ordering::Relaxed);
                        have += b.len() as u64;
                        got.push(b);
                    }
                    Err(e) => {
                        cut = Some(e);
                        break;
                    }
                }
            }
            if have > want {
                return Err(self.remember(self.short(format!(
                    "a request for bytes {}..{} returned {have} bytes",
                    range.start, range.end
                ))));
            }
            if have < want {
                attempt += 1;
                if attempt >= BODY_ATTEMPTS {
                    let why = cut.map_or("the response ended early".to_string(), |e| e.to_string());
                    return Err(self.remember(self.short(format!(
                        "bytes {}..{}: {have} of {want} bytes arrived after {attempt} attempts ({why})",
                        range.start, range.end
                    ))));
                }
                tokio_sleep(100 << attempt).await;
            }
        }
        let bytes = if got.len() == 1 {
            got.pop().unwrap_or_default()
        } else {
            let mut all = Vec::with_capacity(want as usize);
            for b in &got {
                all.extend_from_slice(b);
            }
            Bytes::from(all)
        };
        self.hash(range.start, &bytes);
        Ok(bytes)
    }

    fn hash(&self, offset: u64, bytes: &Bytes) {
        if let Ok(mut h) = self.hashing.lock()
            && let Hashing::Ranges { file, groups } = &mut *h
        {
            file.add(offset, bytes);
            for g in groups {
                g.add(offset, bytes);
            }
        }
    }

    /// Hash each Parquet row group's byte span too (from the footer).
    pub(crate) fn hash_row_groups(&self, ranges: &[(u64, u64)]) {
        if let Ok(mut h) = self.hashing.lock()
            && let Hashing::Ranges { groups, .. } = &mut *h
        {
            // Spans past the end (a damaged footer) are clipped, as the file hash clips them;
            // reading such a row group fails on its own.
            *groups = ranges
                .iter()
                .map(|&(s, e)| {
                    let (s, e) = (s.min(self.size), e.min(self.size));
                    SpanXxh3::new(s, e.saturating_sub(s))
                })
                .collect();
        }
    }

    /// No content hash for this read (it leaves columns out).
    pub(crate) fn hash_off(&self) {
        if let Ok(mut h) = self.hashing.lock() {
            *h = Hashing::Off;
        }
    }

    /// The hash of a stream read start to end.
    pub(crate) fn hash_done(&self, file: String) {
        if let Ok(mut h) = self.hashing.lock() {
            *h = Hashing::Done {
                file,
                groups: Vec::new(),
            };
        }
    }

    /// The object's content hash and its row groups' (empty when the read left bytes out):
    /// the bytes no read needed (footer indexes, gaps) are fetched first.
    pub(crate) fn finish_hash(&self) -> Result<(String, Vec<String>)> {
        let missing: Vec<Range<u64>> = match self.hashing.lock().as_deref() {
            Ok(Hashing::Ranges { file, groups }) => {
                let mut m = file.missing();
                for g in groups {
                    m.extend(g.missing());
                }
                m.sort_by_key(|r| r.start);
                m
            }
            _ => Vec::new(),
        };
        if !missing.is_empty() {
            storage::block_on(async {
                futures::stream::iter(missing)
                    .map(|r| self.fetch(r))
                    .buffer_unordered(IN_FLIGHT)
                    .collect::<Vec<_>>()
                    .await
                    .into_iter()
                    .collect::<Result<Vec<_>>>()
            })??;
        }
        let mut h = self
            .hashing
            .lock()
            .map_err(|_| Error::Internal("the hash of a remote object was poisoned".into()))?;
        if let Hashing::Ranges { file, groups } = &*h {
            let file = file
                .finish()
                .ok_or_else(|| Error::Internal(format!("`{}` was not hashed whole", self.url)))?;
            let groups = groups
                .iter()
                .map(|g| g.finish().unwrap_or_default())
                .collect();
            *h = Hashing::Done { file, groups };
        }
        Ok(match &*h {
            Hashing::Done { file, groups } => (file.clone(), groups.clone()),
            _ => (String::new(), Vec::new()),
        })
    }
}

async fn tokio_sleep(ms: u64) {
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
}

/// The parquet crate's async reader over one object, for a read that `users` shards make of
/// the same column chunks (1: its own).
pub(crate) struct ObjectReader(pub Arc<RemoteObject>, pub usize);

/// Fetch `ranges`, merged across small gaps, at most `IN_FLIGHT` at a time.
async fn fetch_ranges(obj: Arc<RemoteObject>, ranges: Vec<Range<u64>>) -> Result<Vec<Bytes>> {
    let mut order: Vec<usize> = (0..ranges.len()).collect();
    order.sort_by_key(|&i| ranges[i].start);
    let mut merged: Vec<Range<u64>> = Vec::new();
    for &i in &order {
        let r = &ranges[i];
        match merged.last_mut() {
            Some(m) if r.start <= m.end.saturating_add(COALESCE) => m.end = m.end.max(r.end),
            _ => merged.push(r.clone()),
        }
    }
    let fetched: Vec<Bytes> = futures::stream::iter(merged.clone())
        .map(|r| obj.fetch(r))
        .buffered(IN_FLIGHT)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_>>()?;
    Ok(ranges
        .iter()
        .map(|r| {
            // The merged range that holds `r`: the last that starts at or before it.
            let k = merged
                .partition_point(|m| m.start <= r.start)
                .saturating_sub(1);
            let m = &merged[k];
            fetched[k].slice((r.start - m.start) as usize..(r.end - m.start) as usize)
        })
        .collect())
}

fn external(e: Error) -> ParquetError {
    ParquetError::External(Box::new(e))
}

impl AsyncFileReader for ObjectReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        let obj = self.0.clone();
        Box::pin(async move { obj.fetch(range).await.map_err(external) })
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        let obj = self.0.clone();
        let users = self.1;
        Box::pin(async move {
            if users <= 1 {
                return fetch_ranges(obj, ranges).await.map_err(external);
            }
            let shared = {
                let mut cache = obj
                    .shared
                    .lock()
                    .map_err(|_| external(Error::Internal("a shared fetch was poisoned".into())))?;
                if let Some(at) = cache.iter().position(|e| e.ranges == ranges) {
                    let e = &mut cache[at];
                    e.left = e.left.saturating_sub(1);
                    let bytes = e.bytes.clone();
                    if e.left == 0 {
                        cache.remove(at);
                    }
                    bytes
                } else {
                    let fetch: BoxFuture<'static, std::result::Result<Vec<Bytes>, String>> =
                        Box::pin({
                            let (obj, ranges) = (obj.clone(), ranges.clone());
                            async move { fetch_ranges(obj, ranges).await.map_err(|e| e.to_string()) }
                        });
                    let bytes = fetch.shared();
                    cache.push(SharedFetch {
                        ranges,
                        bytes: bytes.clone(),
                        left: users - 1,
                    });
                    if cache.len() > SHARED {
                        cache.remove(0);
                    }
                    bytes
                }
            };
            shared.await.map_err(|e| ParquetError::External(e.into()))
        })
    }

    fn get_metadata<'a>(
        &'a mut self,
        _options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        let size = self.0.size;
        Box::pin(async move {
            let meta = ParquetMetaDataReader::new()
                .with_offset_index_policy(PageIndexPolicy::Optional)
                .with_prefetch_hint(Some(64 << 10))
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(meta))
        })
    }
}

/// A remote object read start to end as a `Read` (CSV), hashed as it passes when asked to.
/// A body cut off midway is asked for again from where it stopped.
pub(crate) struct StreamRead {
    obj: Arc<RemoteObject>,
    body: Option<futures::stream::BoxStream<'static, object_store::Result<Bytes>>>,
    chunk: Bytes,
    pos: u64,
    attempts: u32,
    hasher: Option<blake3::Hasher>,
}

impl StreamRead {
    pub(crate) fn new(obj: Arc<RemoteObject>, hash: bool) -> StreamRead {
        StreamRead {
            obj,
            body: None,
            chunk: Bytes::new(),
            pos: 0,
            attempts: 0,
            hasher: hash.then(blake3::Hasher::new),
        }
    }

    fn io_error(&self, e: Error) -> std::io::Error {
        std::io::Error::other(self.obj.remember(e))
    }

    /// The next piece of the body, reopening it where it stopped if it fails.
    fn next_chunk(&mut self) -> std::io::Result<Option<Bytes>> {
        loop {
            if self.pos >= self.obj.size {
                return Ok(None);
            }
            if self.body.is_none() {
                let opts = self.obj.options(Some(GetRange::Offset(self.pos)));
                REQUESTS.fetch_add(1, Ordering::Relaxed);
                let store = self.obj.store.clone();
                let path = self.obj.path.clone();
                let got = storage::block_on(async move { store.get_opts(&path, opts).await })
                    .map_err(|e| self.io_error(e))?;
                let response =
                    got.map_err(|e| self.io_error(storage::storage_error(&self.obj.url, &e)))?;
                self.body = Some(response.into_stream());
            }
            let Some(body) = self.body.as_mut() else {
                continue;
            };
            let next = storage::block_on(body.next()).map_err(|e| self.io_error(e))?;
            match next {
                // An empty piece is no end of the object: the next one is read.
                Some(Ok(b)) if b.is_empty() => continue,
                Some(Ok(b)) => {
                    BYTES.fetch_add(b.len() as u64, Ordering::Relaxed);
                    return Ok(Some(b));
                }
                Some(Err(_)) if self.attempts + 1 < BODY_ATTEMPTS => {
                    self.attempts += 1;
                    self.body = None;
                    std::thread::sleep(std::time::Duration::from_millis(100 << self.attempts));
                }
                Some(Err(e)) => {
                    let err = self.obj.short(format!(
                        "the response stopped at byte {} of {} ({e})",
                        self.pos, self.obj.size
                    ));
                    return Err(self.io_error(err));
                }
                None => {
                    let err = self.obj.short(format!(
                        "the object ended at byte {} of the {} its listing gave",
                        self.pos, self.obj.size
                    ));
                    return Err(self.io_error(err));
                }
            }
        }
    }
}

impl std::io::Read for StreamRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.chunk.is_empty() {
            match self.next_chunk()? {
                Some(b) => {
                    let room = self.obj.size - self.pos;
                    if b.len() as u64 > room {
                        let err = self.obj.short(format!(
                            "the object holds more than the {} bytes its listing gave",
                            self.obj.size
                        ));
                        return Err(self.io_error(err));
                    }
                    self.chunk = b;
                }
                None => {
                    if let Some(h) = self.hasher.take() {
                        self.obj.hash_done(h.finalize().to_hex().to_string());
                    }
                    return Ok(0);
                }
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        if let Some(h) = self.hasher.as_mut() {
            h.update(&self.chunk[..n]);
        }
        self.chunk = self.chunk.slice(n..);
        self.pos += n as u64;
        Ok(n)
    }
}

/// The format of an object whose name says none: Parquet if it starts with the magic bytes,
/// gzip-compressed CSV with gzip's, else CSV.
pub(crate) fn sniff_format(obj: &Arc<RemoteObject>) -> Result<super::Format> {
    let head = storage::block_on(obj.fetch(0..4.min(obj.size)))??;
    Ok(if head.as_ref() == b"PAR1" {
        super::Format::Parquet
    } else if head.len() >= 2 && head[..2] == [0x1f, 0x8b] {
        super::Format::CsvGz
    } else {
        super::Format::Csv
    })
}
