//! Bounded memory (issue 21): poisonscan's memory grows with the columns, the sample and a few
//! bytes a row (the row fingerprints), not with the data's size, so a dataset several times
//! larger than a memory limit set on the process is scanned within it; and an allocation the
//! limit refuses is poisonscan's error, exit code 2, naming the limit, not an abort.
//!
//! The limit is a memory cgroup's (cgroup v2 `memory.max`, or v1 `memory.limit_in_bytes`)
//! where the machine lets the test make one (as root), else the process's address-space limit
//! (`RLIMIT_AS`, `ulimit -v`), which also counts address space reserved and never used (the
//! allocator's arenas, thread stacks), so the data is then only twice the limit.
//!
//! Run alone: `cargo test --test memory -- --nocapture` (it prints the limit, the data's size
//! and the peak the cgroup saw); with `POISONSCAN_TEST_NO_CGROUP=1`, under `RLIMIT_AS`.
#![cfg(target_os = "linux")]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

const MIB: u64 = 1 << 20;

/// A memory cgroup made for one run, removed when dropped.
struct Cgroup {
    dir: PathBuf,
    /// The file holding the peak usage, when the kernel keeps one.
    peak: Option<PathBuf>,
}

impl Cgroup {
    /// A cgroup limited to `limit` bytes, if this process may make one (v2, then v1).
    fn new(limit: u64) -> Option<Cgroup> {
        let name = format!("poisonscan-test-{}", std::process::id());
        let v2 = Path::new("/sys/fs/cgroup");
        if std::fs::read_to_string(v2.join("cgroup.controllers"))
            .is_ok_and(|c| c.split_whitespace().any(|x| x == "memory"))
        {
            let dir = v2.join(&name);
            if std::fs::create_dir(&dir).is_ok() {
                if std::fs::write(dir.join("memory.max"), limit.to_string()).is_ok()
                    && std::fs::write(dir.join("memory.swap.max"), "0").is_ok()
                {
                    let peak = Some(dir.join("memory.peak")).filter(|p| p.exists());
                    return Some(Cgroup { dir, peak });
                }
                let _ = std::fs::remove_dir(&dir);
            }
        }
        let v1 = Path::new("/sys/fs/cgroup/memory");
        let dir = v1.join(&name);
        if v1.join("memory.limit_in_bytes").exists() && std::fs::create_dir(&dir).is_ok() {
            let swap = dir.join("memory.memsw.limit_in_bytes");
            let ok = std::fs::write(dir.join("memory.limit_in_bytes"), limit.to_string()).is_ok()
                && (!swap.exists() || std::fs::write(&swap, limit.to_string()).is_ok());
            if ok {
                let peak = Some(dir.join("memory.max_usage_in_bytes"));
                return Some(Cgroup { dir, peak });
            }
            let _ = std::fs::remove_dir(&dir);
        }
        None
    }

    fn peak(&self) -> Option<u64> {
        let p = self.peak.as_ref()?;
        std::fs::read_to_string(p).ok()?.trim().parse().ok()
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// A Parquet file (uncompressed: its size is its values') of `rows` rows, `columns` float
/// columns of pseudo-random values and an int `label`, in row groups of 64Ki rows.
fn write_data(path: &Path, rows: usize, columns: usize) {
    let mut fields: Vec<Field> = (0..columns)
        .map(|i| Field::new(format!("f{i}"), DataType::Float64, false))
        .collect();
    fields.push(Field::new("label", DataType::Int64, false));
    let schema = Arc::new(Schema::new(fields));
    let props = WriterProperties::builder()
        .set_compression(Compression::UNCOMPRESSED)
        .set_dictionary_enabled(false)
        .set_max_row_group_row_count(Some(1 << 16))
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(file, schema.clone(), Some(props)).unwrap();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let batch_rows = 1 << 16;
    let mut done = 0;
    while done < rows {
        let n = batch_rows.min(rows - done);
        let mut cols: Vec<ArrayRef> = (0..columns)
            .map(|_| {
                let v: Float64Array = (0..n)
                    .map(|_| (next() >> 11) as f64 / (1u64 << 53) as f64)
                    .collect();
                Arc::new(v) as ArrayRef
            })
            .collect();
        let label: Int64Array = (0..n).map(|_| (next() >> 63) as i64).collect();
        cols.push(Arc::new(label));
        w.write(&RecordBatch::try_new(schema.clone(), cols).unwrap())
            .unwrap();
        done += n;
    }
    w.close().unwrap();
}

/// `poisonscan ARGS` in a shell that first puts itself in `cgroup` or sets `ulimit -v`.
fn limited(limit: Limit<'_>, args: &[&str]) -> std::process::Output {
    let setup = match limit {
        Limit::Cgroup(c) => format!("echo $$ > '{}/cgroup.procs'", c.dir.display()),
        Limit::AddressSpace(bytes) => format!("ulimit -v {}", bytes / 1024),
    };
    Command::new("sh")
        .arg("-c")
        .arg(format!("{setup} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_poisonscan"))
        .args(args)
        .current_dir(common::root())
        .output()
        .unwrap()
}

#[derive(Clone, Copy)]
enum Limit<'a> {
    Cgroup(&'a Cgroup),
    AddressSpace(u64),
}

#[test]
fn a_dataset_several_times_larger_than_the_memory_limit_is_scanned_within_it() {
    let (rows, columns) = (6_500_000usize, 32usize);
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data.parquet");
    write_data(&data, rows, columns);
    let bytes = std::fs::metadata(&data).unwrap().len();
    let values = (rows * (columns + 1) * 8) as u64;
    assert!(
        bytes >= values,
        "{bytes} bytes for {values} bytes of values"
    );
    let cgroup_limit = 512 * MIB;
    // `POISONSCAN_TEST_NO_CGROUP=1` tries the fallback where a cgroup could be made.
    let cgroup = Cgroup::new(cgroup_limit)
        .filter(|_| std::env::var_os("POISONSCAN_TEST_NO_CGROUP").is_none());
    let (limit, bytes_limit, ratio) = match &cgroup {
        Some(c) => (Limit::Cgroup(c), cgroup_limit, 3),
        None => (Limit::AddressSpace(768 * MIB), 768 * MIB, 2),
    };
    assert!(
        bytes >= ratio * bytes_limit,
        "the data ({bytes} bytes) must be {ratio}x the limit ({bytes_limit})"
    );
    let path = data.to_string_lossy().into_owned();
    let o = limited(
        limit,
        &[
            "scan",
            &path,
            "--label",
            "label",
            "--format",
            "json",
            "--quiet",
            "--threads",
            "2",
        ],
    );
    let peak = cgroup.as_ref().and_then(Cgroup::peak);
    eprintln!(
        "limit: {} MiB ({}); data: {} MiB in the file; exit: {:?}; peak seen by the cgroup: {}",
        bytes_limit / MIB,
        if cgroup.is_some() {
            "cgroup"
        } else {
            "RLIMIT_AS"
        },
        bytes / MIB,
        o.status,
        peak.map_or("-".into(), |p| format!("{} MiB", p / MIB))
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "the scan did not finish within the limit (killed by the OOM killer when no code): {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = common::report(&o.stdout);
    assert_eq!(r["dataset"]["rows"], rows as u64);
    assert_eq!(r["dataset"]["columns"], columns as u64 + 1);
    if let Some(p) = peak {
        assert!(p <= bytes_limit, "peak {p} over the limit {bytes_limit}");
    }
}

/// A limit too low for the data's columns: the allocation it refuses is poisonscan's error,
/// naming the limit, with exit code 2, and no output file is left behind.
#[test]
fn an_allocation_the_limit_refuses_is_an_error_naming_it() {
    let d = tempfile::tempdir().unwrap();
    // 3,000 columns: each column's sketches take memory whatever the rows.
    let n = 3000;
    let mut s = (0..n)
        .map(|i| format!("c{i}"))
        .collect::<Vec<_>>()
        .join(",");
    s.push('\n');
    for r in 0..3 {
        s.push_str(
            &(0..n)
                .map(|i| (r + i).to_string())
                .collect::<Vec<_>>()
                .join(","),
        );
        s.push('\n');
    }
    let data = d.path().join("wide.csv");
    std::fs::write(&data, s).unwrap();
    let out = d.path().join("out");
    let o = limited(
        Limit::AddressSpace(400 * MIB),
        &[
            "scan",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("error: out of memory: an allocation of ")
            && stderr.contains(
                "failed under the process's limit on its address space (RLIMIT_AS, `ulimit -v`) of 400.0 MiB\nhint: raise the limit"
            ),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 2, "{stderr}");
    let left: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, [std::ffi::OsString::from("wide.csv")], "{left:?}");
}
