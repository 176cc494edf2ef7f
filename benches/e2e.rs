//! End-to-end benchmark, measured in the same run, alternating, as medians, with the peak memory
//! of each, per size:
//! - Parquet: profiling against the floor (decoding the same file with the `parquet` crate,
//!   rayon over row groups, touching every value);
//! - CSV (`--csv`): profiling the same rows as CSV against the CSV floor (`arrow-csv` decoding
//!   the file in parallel byte ranges cut at line ends, touching every value);
//! - scan: `poisonscan scan DATA --baseline PROFILE --label label --format json` (load a
//!   baseline profile of another synthetic set of the same size, profile against its ranges, run
//!   the row pass, the label checks and every other check, write the report) against profiling
//!   alone: the whole scan's cost (the row pass and the label checks have sections of their own).
//! - `--rows` (alone): the row pass (encoding, Isolation Forest, ECOD, OUT001's counts; a scan
//!   without `--label`, so without the label checks that `--labels` measures) against the
//!   profile pass, from the phases of one scan; and Isolation Forest scoring against
//!   scikit-learn's on the same rows (reports/bench-rows.md).
//! - `--labels` (alone): the label checks (LBL001/002/003, TRG001/002: the label model's fit and
//!   their share of the row pass, CPU time over the threads) against the profile pass, from the
//!   phases of one scan (reports/labels.md).
//!
//! The synthetic data (30 columns: 20 float, 6 int, 3 string, 1 label; 1M-row row groups) is
//! generated on demand under `bench-data/` and not committed.
//!
//! Run (numbers go to reports/bench-e2e.md):
//!   cargo bench --bench e2e -- 1000000 10000000 [--csv]
//!   POISONSCAN_SKLEARN_PYTHON=/tmp/venv/bin/python cargo bench --bench e2e -- 10000000 --rows
//!   cargo bench --bench e2e -- 1000000 10000000 --labels
//! Each number is a row count; default 1000000. POISONSCAN_BENCH_RUNS sets the repetitions (3).

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

fn generate(path: &Path, rows: usize, seed: u64) {
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
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
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

/// The same rows as CSV (header, comma, no quoting needed), written once.
fn to_csv(parquet: &Path, csv: &Path) {
    if csv.exists() {
        return;
    }
    let tmp = csv.with_extension("tmp");
    let r = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(parquet).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp).unwrap());
    let mut w = arrow_csv::WriterBuilder::new().with_header(true).build(out);
    for b in r {
        w.write(&b.unwrap()).unwrap();
    }
    drop(w);
    std::fs::rename(tmp, csv).unwrap();
}

/// The CSV floor: the file cut into byte ranges at line ends, each decoded by `arrow-csv` with
/// the known schema on the rayon pool, every value touched.
fn floor_csv(path: &Path, schema: Arc<Schema>) -> u64 {
    use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
    let len = std::fs::metadata(path).unwrap().len();
    let parts = 64u64;
    // Range starts: after the header, then the first line start after each cut.
    let mut starts = Vec::new();
    let mut f = BufReader::new(std::fs::File::open(path).unwrap());
    let mut line = Vec::new();
    f.read_until(b'\n', &mut line).unwrap();
    starts.push(line.len() as u64);
    for i in 1..parts {
        let cut = len * i / parts;
        f.seek(SeekFrom::Start(cut)).unwrap();
        line.clear();
        let n = f.read_until(b'\n', &mut line).unwrap() as u64;
        starts.push((cut + n).min(len));
    }
    starts.push(len);
    starts.dedup();
    starts
        .windows(2)
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|w| {
            let mut f = std::fs::File::open(path).unwrap();
            f.seek(SeekFrom::Start(w[0])).unwrap();
            let r = arrow_csv::ReaderBuilder::new(schema.clone())
                .with_batch_size(65_536)
                .build(BufReader::with_capacity(1 << 20, f.take(w[1] - w[0])))
                .unwrap();
            let mut acc = 0u64;
            for b in r {
                for c in b.unwrap().columns() {
                    acc = acc.wrapping_add(touch(c.as_ref()));
                }
            }
            acc
        })
        .reduce(|| 0, u64::wrapping_add)
}

fn bench_schema(parquet: &Path) -> Arc<Schema> {
    ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(parquet).unwrap())
        .unwrap()
        .schema()
        .clone()
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
fn child(mode: &str, path: &Path, extra: &[&Path]) -> (f64, f64) {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args(["--child", mode, path.to_str().unwrap()])
        .args(extra)
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

fn threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn run_child(mode: &str, path: &Path, rest: &[String]) {
    match mode {
        "floor" => {
            std::hint::black_box(floor(path));
        }
        "floor-csv" => {
            let schema = bench_schema(Path::new(&rest[0]));
            std::hint::black_box(floor_csv(path, schema));
        }
        "scan" => {
            // The same work as `poisonscan scan DATA --baseline PROFILE --label label --format
            // json`, through the library.
            let settings = poisonscan::Settings::builder()
                .label("label")
                .threads(threads())
                .build()
                .unwrap();
            let baseline = [PathBuf::from(&rest[0])];
            let report = poisonscan::Engine::new(&settings)
                .scan(
                    poisonscan::Data::Paths(&[path.to_path_buf()]),
                    poisonscan::Baseline::from_paths(&baseline).unwrap(),
                    None,
                )
                .unwrap();
            std::hint::black_box(report.to_json());
        }
        _ => {
            let settings = poisonscan::Settings::builder()
                .label("label")
                .threads(threads())
                .build()
                .unwrap();
            let p = poisonscan::Engine::new(&settings)
                .profile(poisonscan::Data::Paths(&[path.to_path_buf()]))
                .unwrap();
            std::hint::black_box(p.rows);
        }
    }
}

/// Isolation Forest scoring alone: the forest fitted (100 trees, ψ = 256) on the baseline
/// profile's sample, every row of `path` encoded as the row pass encodes it, and only the
/// scoring timed (`IsolationForest::score`, rayon over blocks of rows, all cores). Seconds.
fn iforest_scoring(path: &Path, profile: &Path) -> f64 {
    use poisonscan::rows::encode::Encoder;
    use poisonscan::rows::iforest::{ForestSettings, IsolationForest, Rows};
    let base = poisonscan::profile::load(profile).unwrap();
    let encoder = Encoder::new(&base, &base);
    let d = encoder.dim();
    let (mut x, mut codes) = (Vec::new(), Vec::new());
    encoder.encode_sample(
        base.sample.rows().map(|(_, r)| r.values.as_slice()),
        &mut x,
        &mut codes,
    );
    let forest = IsolationForest::fit(Rows::new(&x, d), ForestSettings::default());
    let ds = poisonscan::ingest::Dataset::open(&[path.to_path_buf()], &Default::default()).unwrap();
    let mut scoring = 0.0;
    for shard in &ds.shards {
        for b in ds.read_shard(shard).unwrap() {
            encoder.encode_batch(&b.unwrap().batch, &mut x, &mut codes);
            let t = Instant::now();
            std::hint::black_box(forest.score(Rows::new(&x, d)));
            scoring += t.elapsed().as_secs_f64();
        }
    }
    scoring
}

/// The POISONSCAN_TIMINGS phases of one `poisonscan scan` (with `--label label` when `label`),
/// by name (summed when repeated). The "row pass" phase includes the models' fits.
fn scan_timings(path: &Path, profile: &Path, label: bool) -> impl Fn(&str) -> f64 {
    let o = Command::new(env!("CARGO_BIN_EXE_poisonscan"))
        .args([
            "scan",
            path.to_str().unwrap(),
            "--baseline",
            profile.to_str().unwrap(),
        ])
        .args(if label {
            &["--label", "label"][..]
        } else {
            &[]
        })
        .args(["--fail-on", "never", "--quiet"])
        .env("POISONSCAN_TIMINGS", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    move |name: &str| -> f64 {
        err.lines()
            .filter_map(|l| l.strip_prefix(&format!("timing: {name} ")))
            .filter_map(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .sum()
    }
}

/// `--labels`: the label checks' cost in a scan (their model's fit, plus their CPU time in the
/// row pass divided by the threads) against the profile pass of the same scan.
fn labels_section(dir: &Path, sizes: &[usize], runs: usize, data: &dyn Fn(usize) -> PathBuf) {
    println!(
        "
Label checks against the profile pass (one `poisonscan scan` with a baseline profile, POISONSCAN_TIMINGS, {} threads)\n\n| rows | profile s (median) | label model fit s | label checks in row pass, core-s | label checks s (fit + core-s / threads) | label checks / profile | row pass s | runs |",
        threads()
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &rows in sizes {
        let path = data(rows);
        let prof = base_profile(dir, rows, true);
        let (mut p, mut fit, mut core, mut total, mut pass) =
            (vec![], vec![], vec![], vec![], vec![]);
        for _ in 0..runs {
            let t = scan_timings(&path, &prof, true);
            let (f, c) = (t("label model fit"), t("label checks in the row pass"));
            p.push(t("profile"));
            fit.push(f);
            core.push(c);
            total.push(f + c / threads() as f64);
            pass.push(t("row pass"));
        }
        let (p, t) = (median(p), median(total));
        println!(
            "| {rows} | {p:.3} | {:.3} | {:.3} | {t:.3} | {:.2} | {:.3} | {runs} |",
            median(fit),
            median(core),
            t / p,
            median(pass)
        );
    }
}

/// Time `a` and `b` alternately `runs` times: medians of (seconds, peak MB) for each.
fn pair(runs: usize, a: &dyn Fn() -> (f64, f64), b: &dyn Fn() -> (f64, f64)) -> [(f64, f64); 2] {
    let (mut at, mut am, mut bt, mut bm) = (vec![], vec![], vec![], vec![]);
    for _ in 0..runs {
        let (t, m) = a();
        at.push(t);
        am.push(m);
        let (t, m) = b();
        bt.push(t);
        bm.push(m);
    }
    [(median(at), median(am)), (median(bt), median(bm))]
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.first().map(String::as_str) == Some("--child") && args[1] == "iforest" {
        let s = iforest_scoring(Path::new(&args[2]), Path::new(&args[3]));
        println!("{s} {}", peak_mb());
        return;
    }
    if args.first().map(String::as_str) == Some("--child") {
        let path = PathBuf::from(&args[2]);
        let t = Instant::now();
        run_child(&args[1], &path, &args[3..]);
        println!("{} {}", t.elapsed().as_secs_f64(), peak_mb());
        return;
    }
    let csv = args.iter().any(|a| a == "--csv");
    let rows_mode = args.iter().any(|a| a == "--rows");
    let labels_mode = args.iter().any(|a| a == "--labels");
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
    let header = |what: &str, base: &str| {
        println!(
            "\n{what}\n\n| rows | {base} s (median) | profile s (median) | profile / {base} | {base} peak MB | profile peak MB | runs |"
        );
        println!("|---:|---:|---:|---:|---:|---:|---:|");
    };
    let row = |rows: usize, r: [(f64, f64); 2]| {
        println!(
            "| {rows} | {:.3} | {:.3} | {:.2} | {:.0} | {:.0} | {runs} |",
            r[0].0,
            r[1].0,
            r[1].0 / r[0].0,
            r[0].1,
            r[1].1
        );
    };
    let data = |rows: usize| {
        let path = dir.join(format!("synthetic_{rows}.parquet"));
        generate(&path, rows, 1);
        path
    };
    if rows_mode {
        rows_section(&dir, &sizes, runs, &data);
        return;
    }
    if labels_mode {
        labels_section(&dir, &sizes, runs, &data);
        return;
    }
    header("Parquet: profile against the floor", "floor");
    for &rows in &sizes {
        let path = data(rows);
        row(
            rows,
            pair(runs, &|| child("floor", &path, &[]), &|| {
                child("profile", &path, &[])
            }),
        );
    }
    if csv {
        header("CSV: profile against the CSV floor", "floor");
        for &rows in &sizes {
            let path = data(rows);
            let c = dir.join(format!("synthetic_{rows}.csv"));
            to_csv(&path, &c);
            row(
                rows,
                pair(runs, &|| child("floor-csv", &c, &[&path]), &|| {
                    child("profile", &c, &[])
                }),
            );
        }
    }
    println!(
        "\nScan with a baseline profile against profiling alone\n\n| rows | profile s (median) | scan s (median) | scan / profile | profile peak MB | scan peak MB | runs |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for &rows in &sizes {
        let path = data(rows);
        let prof = base_profile(&dir, rows, true);
        row(
            rows,
            pair(runs, &|| child("profile", &path, &[]), &|| {
                child("scan", &path, &[&prof])
            }),
        );
    }
}

/// The baseline for the scan rows: a second synthetic set (another seed), profiled once, with
/// `--label label` (or without, when `label` is false).
fn base_profile(dir: &Path, rows: usize, label: bool) -> PathBuf {
    let base = dir.join(format!("synthetic_base_{rows}.parquet"));
    generate(&base, rows, 2);
    // Named by profile format, so a format change makes a new one.
    let prof = dir.join(format!(
        "synthetic_base_{rows}.{}v{}.psprof",
        if label { "" } else { "nolabel." },
        poisonscan::profile::PROFILE_SCHEMA_VERSION
    ));
    if !prof.exists() {
        let mut b = poisonscan::Settings::builder();
        if label {
            b = b.label("label");
        }
        let settings = b.build().unwrap();
        let p = poisonscan::Engine::new(&settings)
            .profile(poisonscan::Data::Paths(std::slice::from_ref(&base)))
            .unwrap();
        poisonscan::profile::save(&p, &prof).unwrap();
    }
    prof
}

/// `--rows`: the row pass against the profile pass (phases of one scan), and Isolation Forest
/// scoring throughput against scikit-learn's (when POISONSCAN_SKLEARN_PYTHON names a Python with
/// scikit-learn, running benches/reference/sklearn_iforest.py on the same file in the same run).
fn rows_section(dir: &Path, sizes: &[usize], runs: usize, data: &dyn Fn(usize) -> PathBuf) {
    println!(
        "\nRow pass against profile pass (one `poisonscan scan` with a baseline profile, no --label, POISONSCAN_TIMINGS)\n\n| rows | profile s (median) | row pass s (median, fits included) | row pass / profile | encoding core-s | forest core-s | ECOD core-s | runs |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &rows in sizes {
        let path = data(rows);
        let prof = base_profile(dir, rows, false);
        let (mut p, mut r, mut parts) = (Vec::new(), Vec::new(), [vec![], vec![], vec![]]);
        for _ in 0..runs {
            let t = scan_timings(&path, &prof, false);
            p.push(t("profile"));
            r.push(t("row pass"));
            for (v, name) in parts.iter_mut().zip(["encoding", "forest", "ECOD"]) {
                v.push(t(&format!("{name} in the row pass")));
            }
        }
        let (p, r) = (median(p), median(r));
        let [e, f, c] = parts.map(median);
        println!(
            "| {rows} | {p:.3} | {r:.3} | {:.2} | {e:.3} | {f:.3} | {c:.3} | {runs} |",
            r / p
        );
    }
    println!(
        "\nIsolation Forest scoring (100 trees, ψ = 256, {} threads): poisonscan against scikit-learn\n\n| rows | poisonscan s (median) | poisonscan M rows/s | scikit-learn s (median) | scikit-learn M rows/s | poisonscan / scikit-learn throughput | runs |",
        threads()
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let python = std::env::var("POISONSCAN_SKLEARN_PYTHON").ok();
    for &rows in sizes {
        let path = data(rows);
        let prof = base_profile(dir, rows, true);
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            ours.push(child("iforest", &path, &[&prof]).0);
            if let Some(py) = &python {
                let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("benches/reference/sklearn_iforest.py");
                let o = Command::new(py).arg(script).arg(&path).output().unwrap();
                let text = String::from_utf8_lossy(&o.stdout);
                let secs = text
                    .split_whitespace()
                    .skip_while(|w| *w != "score")
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok());
                match secs {
                    Some(s) => theirs.push(s),
                    None => panic!(
                        "scikit-learn run failed: {text} {}",
                        String::from_utf8_lossy(&o.stderr)
                    ),
                }
            }
        }
        let o = median(ours);
        let mr = |s: f64| rows as f64 / s / 1e6;
        if theirs.is_empty() {
            println!("| {rows} | {o:.3} | {:.3} | - | - | - | {runs} |", mr(o));
        } else {
            let t = median(theirs);
            println!(
                "| {rows} | {o:.3} | {:.3} | {t:.3} | {:.3} | {:.1} | {runs} |",
                mr(o),
                mr(t),
                t / o
            );
        }
    }
}
