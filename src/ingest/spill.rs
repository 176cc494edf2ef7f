//! A CSV scan's decoded batches, kept for its second pass.
//!
//! A scan reads its current data twice: once to profile it, once to score every row. Decoding
//! a Parquet file twice costs little; parsing a CSV file twice is most of a CSV scan's reading.
//! So while the profile reads a CSV block, its batches, as the profile read them (in the
//! unified schema), are written to a temporary file in Arrow's IPC stream format, and the row
//! pass reads them back instead of parsing the block again.
//!
//! - **Nothing is left behind.** The temporary files are created already unlinked
//!   (`tempfile::tempfile_in`): they have no name, so the OS frees them however the process
//!   ends (an error, a signal, an abort, a kill), and no other process can open them by name.
//! - **Where, and how much.** In the system's temporary folder (`TMPDIR`), about the decoded
//!   data's size (1 to 1.5 times the CSV's). Never in a folder held in memory (a tmpfs, as
//!   `/tmp` is on many systems and containers): there the blocks are parsed again, so a scan's
//!   memory does not grow with its rows. A block is kept only while that file system keeps
//!   [`RESERVE_BYTES`] free for its other users beyond the block's estimate (checked again
//!   every [`CHECK_EVERY`] bytes written); past that, or on any write
//!   error, the spill stops and the blocks not kept are parsed again. A scan never fails or
//!   changes because of its spill.
//! - **A few descriptors.** Files are pooled: a block takes an idle file (or makes one) and is
//!   written as one segment at its end, so there are as many files as blocks written at once.
//! - **The same batches.** The row pass gets back the profile's batches, boundaries and values,
//!   so the report and the rows file are byte-identical with or without a spill (tested). The
//!   spill is used only by a dataset with the same sources (path, format, size) as the one that
//!   wrote it.
//!
//! Arrow's IPC writer and reader do the encoding; what is written here by hand is the pool and
//! the bookkeeping of segments, which no crate does for this.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use arrow::array::RecordBatch;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;

use crate::error::{Error, Result};

/// Free space a spill always leaves on its file system (to users other than root: the space a
/// file system keeps for root is not counted as free).
pub const RESERVE_BYTES: u64 = 1 << 30;
/// Bytes a segment writes between two checks of the free space.
pub const CHECK_EVERY: u64 = 256 << 20;
/// Buffer of a segment's writer and reader.
const BUFFER: usize = 1 << 20;

/// A CSV block: (source, block index, start byte, end byte).
pub(crate) type BlockKey = (usize, usize, u64, u64);

/// The decoded batches of a scan's CSV blocks, kept between its two passes. Shared by the two
/// datasets a scan opens ([`super::Dataset::with_spill`]); dropped with the scan.
pub struct Spill {
    dir: PathBuf,
    reserve: u64,
    recording: AtomicBool,
    /// Nanoseconds spent writing and reading blocks, over all threads.
    busy: AtomicU64,
    /// Blocks read back.
    reads: AtomicUsize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    files: Vec<Arc<File>>,
    /// Files no segment is being written to.
    idle: Vec<usize>,
    kept: HashMap<BlockKey, Segment>,
    /// The sources (display path, format, bytes) of the dataset that first used the spill.
    sources: Option<Vec<(String, &'static str, u64)>>,
    bytes: u64,
    /// Why the spill stopped keeping blocks, if it did.
    stopped: Option<String>,
}

#[derive(Debug, Clone, Copy)]
struct Segment {
    file: usize,
    offset: u64,
    len: u64,
}

impl std::fmt::Debug for Spill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spill")
            .field("dir", &self.dir)
            .field("summary", &self.summary())
            .finish()
    }
}

impl Spill {
    /// A spill in the system's temporary folder; nothing is created until a block is written.
    pub fn new() -> Arc<Spill> {
        Spill::in_dir(std::env::temp_dir(), RESERVE_BYTES)
    }

    /// A spill in `dir` that leaves `reserve` bytes free there.
    pub fn in_dir(dir: PathBuf, reserve: u64) -> Arc<Spill> {
        Arc::new(Spill {
            dir,
            reserve,
            recording: AtomicBool::new(cfg!(unix)),
            busy: AtomicU64::new(0),
            reads: AtomicUsize::new(0),
            state: Mutex::default(),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a dataset of `sources` may use the spill: the first one to ask sets them.
    pub(crate) fn admits(&self, sources: &[super::Source]) -> bool {
        let these: Vec<(String, &'static str, u64)> = sources
            .iter()
            .map(|s| (s.display(), s.format.name(), s.bytes))
            .collect();
        let mut st = self.state();
        match &st.sources {
            Some(first) => *first == these,
            None => {
                st.sources = Some(these);
                true
            }
        }
    }

    /// Keep no more blocks (the first pass is over); the kept ones stay readable.
    pub fn stop_recording(&self) {
        self.recording.store(false, Ordering::SeqCst);
    }

    /// What the spill kept, for the scan's timings.
    pub fn summary(&self) -> String {
        let st = self.state();
        let mut s = format!(
            "{} CSV blocks kept decoded and {} read back, {:.1} MiB in {} temporary files in `{}`",
            st.kept.len(),
            self.reads.load(Ordering::Relaxed),
            st.bytes as f64 / (1u64 << 20) as f64,
            st.files.len(),
            self.dir.display()
        );
        if let Some(why) = &st.stopped {
            s.push_str(&format!("; stopped: {why}"));
        }
        s
    }

    /// CPU seconds spent writing and reading blocks, over all threads.
    pub fn core_seconds(&self) -> f64 {
        self.busy.load(Ordering::Relaxed) as f64 * 1e-9
    }

    fn busy_since(&self, t: Instant) {
        self.busy
            .fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }

    /// Blocks kept so far.
    pub fn blocks(&self) -> usize {
        self.state().kept.len()
    }

    /// Whether the spill kept a block or tried to and stopped.
    pub fn used(&self) -> bool {
        let st = self.state();
        !st.kept.is_empty() || st.stopped.is_some()
    }

    /// Stop keeping blocks, saying why (the first reason is kept).
    fn stop(&self, why: String) {
        self.recording.store(false, Ordering::SeqCst);
        let mut st = self.state();
        if st.stopped.is_none() {
            st.stopped = Some(why);
        }
    }

    /// The batches kept for `key`, read lazily, or `None` when the block was not kept.
    pub(crate) fn read(
        self: &Arc<Self>,
        key: BlockKey,
        what: impl Fn() -> String + Send + 'static,
    ) -> Option<Box<dyn Iterator<Item = Result<RecordBatch>> + Send>> {
        let (file, seg) = {
            let st = self.state();
            let seg = *st.kept.get(&key)?;
            (st.files[seg.file].clone(), seg)
        };
        let bad = move |e: &dyn std::fmt::Display| {
            Error::Internal(format!(
                "reading the scan's temporary copy of {}: {e}",
                what()
            ))
        };
        let segment = SegmentReader {
            file,
            at: seg.offset,
            end: seg.offset + seg.len,
        };
        let this = self.clone();
        self.reads.fetch_add(1, Ordering::Relaxed);
        let reader = match StreamReader::try_new(BufReader::with_capacity(BUFFER, segment), None) {
            Ok(r) => r,
            Err(e) => return Some(Box::new(std::iter::once(Err(bad(&e))))),
        };
        let mut reader = reader;
        Some(Box::new(std::iter::from_fn(move || {
            let t = Instant::now();
            let next = reader.next();
            this.busy_since(t);
            Some(next?.map_err(|e| bad(&e)))
        })))
    }

    /// Start keeping the block `key`, about `estimate` bytes decoded; `None` when the spill is
    /// not recording, already has it, or has no room.
    pub(crate) fn begin(self: &Arc<Self>, key: BlockKey, estimate: u64) -> Option<SegmentWriter> {
        if !self.recording.load(Ordering::SeqCst) || self.state().kept.contains_key(&key) {
            return None;
        }
        if in_memory(&self.dir) {
            self.stop(format!(
                "`{}` is held in memory (tmpfs): blocks kept there would take memory, not disk",
                self.dir.display()
            ));
            return None;
        }
        if let Err(why) = room(&self.dir, estimate, self.reserve) {
            self.stop(why);
            return None;
        }
        let idle = self.state().idle.pop();
        let index = match idle {
            Some(i) => i,
            None => match tempfile::tempfile_in(&self.dir) {
                Ok(f) => {
                    let mut st = self.state();
                    st.files.push(Arc::new(f));
                    st.files.len() - 1
                }
                Err(e) => {
                    self.stop(format!(
                        "cannot create a temporary file in `{}`: {e}",
                        self.dir.display()
                    ));
                    return None;
                }
            },
        };
        let file = self.state().files[index].clone();
        let offset = match (&*file).seek(SeekFrom::End(0)) {
            Ok(o) => o,
            Err(e) => {
                self.stop(format!("temporary file: {e}"));
                self.state().idle.push(index);
                return None;
            }
        };
        Some(SegmentWriter {
            spill: self.clone(),
            key,
            index,
            offset,
            out: Some(Counted {
                file,
                written: 0,
                checked: 0,
            }),
            writer: None,
        })
    }
}

/// Whether `dir` is on a file system held in memory (tmpfs, ramfs, as `/tmp` is on many
/// systems and containers): blocks kept there would take memory, which a memory limit counts,
/// and a scan's memory would grow with its rows.
#[cfg(target_os = "linux")]
fn in_memory(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    const RAMFS_MAGIC: i64 = 0x8584_58f6;
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `path` is a NUL-terminated string and `st` a zeroed statfs the call fills.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(path.as_ptr(), &mut st) } != 0 {
        return false;
    }
    #[allow(clippy::unnecessary_cast)]
    let kind = st.f_type as i64;
    kind == TMPFS_MAGIC || kind == RAMFS_MAGIC
}

#[cfg(not(target_os = "linux"))]
fn in_memory(_dir: &Path) -> bool {
    false
}

/// Whether `dir`'s file system has room for `need` more bytes beyond `reserve`.
#[cfg(unix)]
fn room(dir: &Path, need: u64, reserve: u64) -> std::result::Result<(), String> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| format!("`{}` is not a path the OS takes", dir.display()))?;
    // SAFETY: `path` is a NUL-terminated string and `st` a zeroed statvfs the call fills.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return Err(format!(
            "cannot read the free space of `{}`: {}",
            dir.display(),
            io::Error::last_os_error()
        ));
    }
    let unit = st.f_frsize as u64;
    let free = (st.f_bavail as u64).saturating_mul(unit);
    if free >= need.saturating_add(reserve) {
        Ok(())
    } else {
        Err(format!(
            "`{}` has {:.1} GiB free, and a spill leaves {:.1} GiB free",
            dir.display(),
            free as f64 / (1u64 << 30) as f64,
            reserve as f64 / (1u64 << 30) as f64
        ))
    }
}

#[cfg(not(unix))]
fn room(_dir: &Path, _need: u64, _reserve: u64) -> std::result::Result<(), String> {
    Err("kept only on Unix".into())
}

/// Writes to a pooled file at its cursor, counting the bytes.
struct Counted {
    file: Arc<File>,
    written: u64,
    /// `written` at the last check of the free space.
    checked: u64,
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = (&*self.file).write(buf)?;
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        (&*self.file).flush()
    }
}

/// One block's batches being written; [`SegmentWriter::finish`] keeps them. Dropped before,
/// the segment is cut off its file and the file goes back to the pool.
pub(crate) struct SegmentWriter {
    spill: Arc<Spill>,
    key: BlockKey,
    index: usize,
    offset: u64,
    /// The file before the IPC writer is made (at the first batch, which gives the schema).
    out: Option<Counted>,
    writer: Option<StreamWriter<BufWriter<Counted>>>,
}

impl SegmentWriter {
    /// Write one batch; `false` when the block is given up (a write error, no room), after
    /// which the spill keeps no more blocks.
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> bool {
        let t = Instant::now();
        let kept = self.write_timed(batch);
        self.spill.busy_since(t);
        kept
    }

    fn write_timed(&mut self, batch: &RecordBatch) -> bool {
        if self.writer.is_none() {
            let Some(out) = self.out.take() else {
                return false;
            };
            match StreamWriter::try_new(BufWriter::with_capacity(BUFFER, out), &batch.schema()) {
                Ok(w) => self.writer = Some(w),
                Err(e) => return self.give_up(format!("writing a temporary file: {e}")),
            }
        }
        let Some(w) = self.writer.as_mut() else {
            return false;
        };
        if let Err(e) = w.write(batch) {
            return self.give_up(format!("writing a temporary file: {e}"));
        }
        let counted = w.get_mut().get_mut();
        if counted.written - counted.checked >= CHECK_EVERY {
            counted.checked = counted.written;
            if let Err(why) = room(&self.spill.dir, 0, self.spill.reserve) {
                return self.give_up(why);
            }
        }
        true
    }

    fn give_up(&mut self, why: String) -> bool {
        self.spill.stop(why);
        self.writer = None;
        self.out = None;
        false
    }

    /// Keep the block (every batch of it was written).
    pub(crate) fn finish(mut self) {
        let t = Instant::now();
        let done = match self.writer.take() {
            Some(mut w) => w
                .finish()
                .map_err(|e| e.to_string())
                .and_then(|()| w.into_inner().map_err(|e| e.to_string()))
                .and_then(|b| b.into_inner().map_err(|e| e.error().to_string())),
            // A block without a batch (an empty CSV block): nothing to keep.
            None => return,
        };
        match done {
            Ok(counted) => {
                let len = counted.written;
                let mut st = self.spill.state();
                st.kept.insert(
                    self.key,
                    Segment {
                        file: self.index,
                        offset: self.offset,
                        len,
                    },
                );
                st.bytes += len;
                // The segment is kept: `drop` only gives the file back.
                self.offset += len;
                drop(st);
                self.spill.busy_since(t);
            }
            Err(e) => {
                self.spill.stop(format!("writing a temporary file: {e}"));
            }
        }
    }
}

impl Drop for SegmentWriter {
    fn drop(&mut self) {
        self.writer = None;
        self.out = None;
        // Cut whatever a block not kept wrote, so the file's end is where the next one starts.
        let file = self.spill.state().files[self.index].clone();
        let cut = file
            .set_len(self.offset)
            .and_then(|()| (&*file).seek(SeekFrom::Start(self.offset)).map(|_| ()));
        if let Err(e) = cut {
            // The file cannot be reused: leave it out of the pool.
            self.spill.stop(format!("temporary file: {e}"));
            return;
        }
        self.spill.state().idle.push(self.index);
    }
}

/// Reads the bytes `[at, end)` of a pooled file without moving its cursor (other segments of
/// it may be written meanwhile).
struct SegmentReader {
    file: Arc<File>,
    at: u64,
    end: u64,
}

impl Read for SegmentReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = (self.end - self.at).min(buf.len() as u64) as usize;
        if left == 0 {
            return Ok(0);
        }
        let n = read_at(&self.file, &mut buf[..left], self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, at)
}

#[cfg(not(unix))]
fn read_at(_file: &File, _buf: &mut [u8], _at: u64) -> io::Result<usize> {
    // Never reached: off Unix the spill does not record.
    Err(io::Error::other("kept only on Unix"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    fn batch(n: usize, at: usize) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("x", DataType::Float64, true),
            Field::new("c", DataType::Utf8, true),
        ]));
        let x: Float64Array = (0..n).map(|i| Some((at + i) as f64 * 0.5)).collect();
        let c: StringArray = (0..n)
            .map(|i| (i % 3 != 0).then(|| format!("v{}", (at + i) % 7)))
            .collect();
        RecordBatch::try_new(schema, vec![Arc::new(x), Arc::new(c)]).unwrap()
    }

    fn keep(spill: &Arc<Spill>, key: BlockKey, batches: &[RecordBatch]) {
        let mut w = spill.begin(key, 0).expect("room in the temporary folder");
        for b in batches {
            assert!(w.write(b));
        }
        w.finish();
    }

    fn back(spill: &Arc<Spill>, key: BlockKey) -> Vec<RecordBatch> {
        spill
            .read(key, || "a test block".into())
            .expect("kept")
            .collect::<Result<Vec<_>>>()
            .unwrap()
    }

    /// A spill that leaves nothing free (the tests do not depend on the free space of the
    /// machine they run on), in a folder on disk: the temporary folder, or the crate's when
    /// that one is a tmpfs. Its files are unlinked: nothing is left in either.
    fn spill() -> Arc<Spill> {
        let tmp = std::env::temp_dir();
        let dir = if in_memory(&tmp) {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        } else {
            tmp
        };
        Spill::in_dir(dir, 0)
    }

    #[test]
    fn blocks_come_back_as_they_were_written() {
        let spill = spill();
        let a = vec![batch(100, 0), batch(37, 100)];
        let b = vec![batch(5, 1000)];
        keep(&spill, (0, 0, 0, 10), &a);
        keep(&spill, (0, 1, 10, 20), &b);
        assert_eq!(back(&spill, (0, 0, 0, 10)), a);
        assert_eq!(back(&spill, (0, 1, 10, 20)), b);
        assert!(spill.read((0, 2, 20, 30), String::new).is_none());
        // Written one after the other, the two blocks share one file.
        assert_eq!(spill.state().files.len(), 1);
        assert_eq!(spill.blocks(), 2);
    }

    #[test]
    fn a_block_given_up_leaves_nothing_and_the_next_one_reuses_its_file() {
        let spill = spill();
        let mut w = spill.begin((0, 0, 0, 10), 0).unwrap();
        assert!(w.write(&batch(50, 0)));
        drop(w);
        assert!(spill.read((0, 0, 0, 10), String::new).is_none());
        assert_eq!(spill.state().files[0].metadata().unwrap().len(), 0);
        let b = vec![batch(9, 3)];
        keep(&spill, (0, 1, 10, 20), &b);
        assert_eq!(back(&spill, (0, 1, 10, 20)), b);
        assert_eq!(spill.state().files.len(), 1);
    }

    #[test]
    fn blocks_written_at_once_take_files_of_their_own() {
        let spill = spill();
        let mut w1 = spill.begin((0, 0, 0, 10), 0).unwrap();
        let mut w2 = spill.begin((0, 1, 10, 20), 0).unwrap();
        let (a, b) = (batch(20, 0), batch(30, 20));
        assert!(w2.write(&b));
        assert!(w1.write(&a));
        w1.finish();
        w2.finish();
        assert_eq!(spill.state().files.len(), 2);
        assert_eq!(back(&spill, (0, 0, 0, 10)), vec![a]);
        assert_eq!(back(&spill, (0, 1, 10, 20)), vec![b]);
    }

    #[test]
    fn no_room_or_no_folder_stops_the_spill_and_says_why() {
        let spill = spill();
        assert!(spill.begin((0, 0, 0, 10), u64::MAX / 2).is_none());
        assert!(spill.summary().contains("stopped:"), "{}", spill.summary());
        // Stopped, it keeps no block, however small.
        assert!(spill.begin((0, 1, 10, 20), 0).is_none());
        let gone = Spill::in_dir(PathBuf::from("/nonexistent/poisonscan-spill"), 0);
        assert!(gone.begin((0, 0, 0, 10), 0).is_none());
        assert!(gone.summary().contains("stopped:"), "{}", gone.summary());
    }

    #[test]
    fn a_folder_held_in_memory_keeps_nothing() {
        let shm = PathBuf::from("/dev/shm");
        if !in_memory(&shm) {
            eprintln!("no tmpfs at /dev/shm here: nothing to check");
            return;
        }
        let spill = Spill::in_dir(shm, 0);
        assert!(spill.begin((0, 0, 0, 10), 0).is_none());
        assert!(spill.summary().contains("tmpfs"), "{}", spill.summary());
    }

    #[test]
    fn stopped_recording_keeps_what_it_has() {
        let spill = spill();
        let a = vec![batch(10, 0)];
        keep(&spill, (0, 0, 0, 10), &a);
        spill.stop_recording();
        assert!(spill.begin((0, 1, 10, 20), 0).is_none());
        assert_eq!(back(&spill, (0, 0, 0, 10)), a);
        // Not a failure: the summary gives no reason.
        assert!(!spill.summary().contains("stopped"));
    }
}
