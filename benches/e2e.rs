//! End-to-end benchmark: `poisonscan profile` against the floor (decoding the same Parquet file
//! with the `parquet` crate, rayon over row groups, touching every value), measured in the same
//! run, alternating, as medians; plus the peak memory of each, at two sizes.
//!
//! The synthetic data (30 columns: 20 float, 6 int, 3 string, 1 label; 1M-row row groups) is
//! generated on demand under `bench-data/` and not committed.
//!
//! Run (numbers go to reports/bench-e2e.md):
//!   cargo bench --bench e2e -- 1000000 10000000
//! Each argument is a row count; default 1000000. POISONSCAN_BENCH_RUNS sets the repetitions (3).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::properties::WriterProperties;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

const ROW_GROUP: usize = 1_000_000;

fn generate(path: &Path, rows: usize) {
    if path.exists() {
        return;
    }
    let mut fields = Vec::new();
    for i in 0..20 {
        fields.push(Field::new(format!("f{i:02}"), DataType::Float64, true));
    }
    for i in 0..6 {
        fields.push(Field::new(format!("i{i}"), DataType::Int64, true));
    }
    for i in 0..3 {
        fields.push(Field::new(format!("s{i}"), DataType::Utf8, true));
    }
    fields.push(Field::new("label", DataType::Int64, false));
    let schema = Arc::new(Schema::new(fields));
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(ROW_GROUP))
        .build();
    let tmp = path.with_extension("tmp");
    let mut w = ArrowWriter::try_new(
        std::fs::File::create(&tmp).unwrap(),
        schema.clone(),
        Some(props),
    )
    .unwrap();
    let cats: Vec<String> = (0..50).map(|i| format!("cat_{i}")).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let batch = 100_000;
    let mut done = 0;
    while done < rows {
        let n = batch.min(rows - done);
        let mut cols: Vec<ArrayRef> = Vec::new();
        for c in 0..20 {
            let scale = (c + 1) as f64;
            cols.push(Arc::new(Float64Array::from_iter_values(
                (0..n).map(|_| rng.random::<f64>() * scale),
            )));
        }
        for c in 0..6 {
            let hi = [10, 100, 1000, 100_000, 1 << 30, 5][c];
            cols.push(Arc::new(Int64Array::from_iter_values(
                (0..n).map(|_| rng.random_range(0..hi)),
            )));
        }
        for c in 0..3 {
            let k = [5, 20, 50][c];
            cols.push(Arc::new(StringArray::from_iter_values(
                (0..n).map(|_| cats[rng.random_range(0..k)].as_str()),
            )));
        }
        cols.push(Arc::new(Int64Array::from_iter_values(
            (0..n).map(|_| rng.random_range(0..2)),
        )));
        w.write(&RecordBatch::try_new(schema.clone(), cols).unwrap())
            .unwrap();
        done += n;
    }
    w.close().unwrap();
    std::fs::rename(tmp, path).unwrap();
}

/// The floor: decode every row group in parallel and touch every value.
fn floor(path: &Path) -> u64 {
    let file = std::fs::File::open(path).unwrap();
    let meta = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .metadata()
        .clone();
    (0..meta.num_row_groups())
        .into_par_iter()
        .map(|rg| {
            let f = std::fs::File::open(path).unwrap();
            let r = ParquetRecordBatchReaderBuilder::try_new(f)
                .unwrap()
                .with_row_groups(vec![rg])
                .with_batch_size(65_536)
                .build()
                .unwrap();
            let mut acc = 0u64;
            for b in r {
                let b = b.unwrap();
                for c in b.columns() {
                    acc = acc.wrapping_add(touch(c.as_ref()));
                }
            }
            acc
        })
        .reduce(|| 0, u64::wrapping_add)
}

fn touch(a: &dyn Array) -> u64 {
    match a.data_type() {
        DataType::Float64 => a
            .as_primitive::<Float64Type>()
            .values()
            .iter()
            .fold(0u64, |s, v| s.wrapping_add(v.to_bits())),
        DataType::Int64 => a
            .as_primitive::<Int64Type>()
            .values()
            .iter()
            .fold(0u64, |s, v| s.wrapping_add(*v as u64)),
        DataType::Utf8 => {
            let s = a.as_string::<i32>();
            (0..s.len()).fold(0u64, |acc, i| acc.wrapping_add(s.value(i).len() as u64))
        }
        _ => 0,
    }
}

/// Peak resident memory of this process so far (VmHWM), in MB.
fn peak_mb() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Run one measurement in a child process so that each peak-memory reading is its own.
fn child(mode: &str, path: &Path) -> (f64, f64) {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args(["--child", mode, path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace().map(|x| x.parse::<f64>().unwrap());
    (it.next().unwrap(), it.next().unwrap())
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.first().map(String::as_str) == Some("--child") {
        let path = PathBuf::from(&args[2]);
        let t = Instant::now();
        match args[1].as_str() {
            "floor" => {
                std::hint::black_box(floor(&path));
            }
            _ => {
                let settings = poisonscan::settings::DataSettings {
                    ingest: Default::default(),
                    profile: poisonscan::profile::ProfileSettings {
                        label: Some("label".into()),
                        ..Default::default()
                    },
                    threads: std::thread::available_parallelism()
                        .map(|n| n.get())
                        .unwrap_or(1),
                    quiet: true,
                };
                let p = poisonscan::app::profile_inputs(&[path], &settings, "bench").unwrap();
                std::hint::black_box(p.rows);
            }
        }
        println!("{} {}", t.elapsed().as_secs_f64(), peak_mb());
        return;
    }
    let sizes: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() {
        vec![1_000_000]
    } else {
        sizes
    };
    let runs: usize = std::env::var("POISONSCAN_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    println!(
        "| rows | floor s (median) | profile s (median) | profile / floor | floor peak MB | profile peak MB | runs |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for rows in sizes {
        let path = dir.join(format!("synthetic_{rows}.parquet"));
        generate(&path, rows);
        let (mut ft, mut pt, mut fm, mut pm) = (vec![], vec![], vec![], vec![]);
        for _ in 0..runs {
            let (t, m) = child("floor", &path);
            ft.push(t);
            fm.push(m);
            let (t, m) = child("profile", &path);
            pt.push(t);
            pm.push(m);
        }
        let (f, p) = (median(ft), median(pt));
        println!(
            "| {rows} | {f:.3} | {p:.3} | {:.2} | {:.0} | {:.0} | {runs} |",
            p / f,
            median(fm),
            median(pm)
        );
    }
}
