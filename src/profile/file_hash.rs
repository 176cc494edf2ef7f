//! File hashing for the manifest: BLAKE3 of each source file (the tamper evidence, the hash
//! `b3sum` prints) and xxh3-128 of each Parquet row group's bytes (which only localises a
//! change or a replay to a row group: see [`RowGroupEntry`]), read through memory maps in one
//! pass; for an object in storage, the hashes its reads computed on the bytes as they arrived
//! (`crate::ingest::remote`).
//!
//! Why two hashes: BLAKE3's tree depends on each byte's offset in its message, so a row
//! group's BLAKE3 (the row group starts at an arbitrary offset of the file) cannot share work
//! with the file's, so every byte went through BLAKE3 twice. xxh3-128 is a fraction of BLAKE3's
//! cost, and a row-group identifier needs no collision resistance: a forged row-group match can
//! raise a finding or misplace which row group changed, never hide a changed file. Measured at
//! 10M rows (1.38 GB): 0.1 s of wall time and 0.1–0.2 core-seconds a profile
//! (reports/bench-e2e.md, 2026-12-03).

use xxhash_rust::xxh3::Xxh3;

use super::RowGroupEntry;
use crate::error::{Error, Result};
use crate::ingest::hex128;

/// BLAKE3 of the whole file and xxh3-128 of each Parquet row group's byte range, in one pass through
/// read-only memory maps of 64 MiB windows: the pages come straight from the page cache the
/// decoder fills (no copy through a read buffer: 0.2–0.3 s less system time at 10M rows), and
/// each window is unmapped once hashed, so at most one window of the file is mapped.
pub(super) fn hash_source(source: &crate::ingest::Source) -> Result<(String, Vec<RowGroupEntry>)> {
    let (ranges, rows) = source
        .parquet
        .as_ref()
        .map(|p| (p.row_group_ranges.clone(), p.row_group_rows.clone()))
        .unwrap_or_default();
    hash_file(&source.path, &ranges, &rows)
}

/// [`hash_source`] of the file at `path`, whose row groups (Parquet) span the byte `ranges` and
/// hold `rows` rows each.
pub(super) fn hash_file(
    path: &std::path::Path,
    ranges: &[(u64, u64)],
    rows: &[u64],
) -> Result<(String, Vec<RowGroupEntry>)> {
    const WINDOW: u64 = 64 << 20;
    const BLOCK: usize = 1 << 20;
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut file = blake3::Hasher::new();
    let mut groups: Vec<Xxh3> = ranges.iter().map(|_| Xxh3::new()).collect();
    let mut at = 0u64;
    // A megabyte at a time, so the file and row-group hashers read it while it is in cache.
    let mut hash_block = |pos: u64, chunk: &[u8]| {
        let hi = pos + chunk.len() as u64;
        file.update(chunk);
        for (g, &(start, end)) in groups.iter_mut().zip(ranges) {
            let (a, b) = (start.max(pos), end.min(hi));
            if a < b {
                g.update(&chunk[(a - pos) as usize..(b - pos) as usize]);
            }
        }
    };
    let mut buffer: Vec<u8> = Vec::new();
    while at < len {
        let window_len = WINDOW.min(len - at);
        // SAFETY: a read-only, private map of a file opened for reading, dropped before the
        // next one. Like every tool that maps its inputs, a file truncated by another process
        // while it is hashed ends the run with SIGBUS (the README asks not to scan files that
        // are still being written).
        let mapped = unsafe {
            memmap2::MmapOptions::new()
                .offset(at)
                .len(window_len as usize)
                .map(&f)
        };
        match mapped {
            Ok(window) => {
                for (k, chunk) in window.chunks(BLOCK).enumerate() {
                    hash_block(at + (k * BLOCK) as u64, chunk);
                }
            }
            // No address space for the window (a process limit, `ulimit -v`): the window is
            // read a block at a time instead.
            Err(e) if e.kind() == std::io::ErrorKind::OutOfMemory => {
                use std::io::{Read, Seek, SeekFrom};
                buffer.resize(BLOCK, 0);
                let mut r = &f;
                r.seek(SeekFrom::Start(at))
                    .map_err(|e| Error::io(path, e))?;
                let mut pos = at;
                while pos < at + window_len {
                    let want = BLOCK.min((at + window_len - pos) as usize);
                    r.read_exact(&mut buffer[..want])
                        .map_err(|e| Error::io(path, e))?;
                    hash_block(pos, &buffer[..want]);
                    pos += want as u64;
                }
            }
            Err(e) => return Err(Error::io(path, e)),
        }
        at += window_len;
    }
    if ranges.iter().any(|&(_, end)| end > len) {
        return Err(Error::BadParquet {
            path: path.to_path_buf(),
            reason: format!("a row group ends past the end of the file ({len} bytes)"),
        });
    }
    let hexes = groups.into_iter().map(|g| hex128(g.digest128()));
    Ok((file.finalize().to_hex().to_string(), entries(hexes, rows)))
}

/// The hashes of an object in storage, computed on the bytes its shards fetched (the bytes no
/// shard read are fetched now): `None` for a local file, an empty hash for an object read
/// without some of its columns.
pub(super) fn remote_hashes(
    source: &crate::ingest::Source,
) -> Result<Option<(String, Vec<RowGroupEntry>)>> {
    let Some(obj) = &source.remote else {
        return Ok(None);
    };
    let (file, groups) = obj.finish_hash()?;
    if file.is_empty() {
        return Ok(Some((file, Vec::new())));
    }
    let rows = source
        .parquet
        .as_ref()
        .map(|p| p.row_group_rows.as_slice())
        .unwrap_or_default();
    Ok(Some((file, entries(groups.into_iter(), rows))))
}

/// Manifest entries of row groups with these hashes and row counts, in order.
fn entries(hexes: impl Iterator<Item = String>, rows: &[u64]) -> Vec<RowGroupEntry> {
    hexes
        .enumerate()
        .map(|(i, xxh3)| RowGroupEntry {
            index: i as u32,
            rows: rows.get(i).copied().unwrap_or(0),
            xxh3,
        })
        .collect()
}
