//! Fuzzing on the stable toolchain: a structured mutation harness over the three readers of
//! untrusted bytes (Parquet, CSV and the profile file). Seeds are the small files of
//! `datasets/corrupt/` (and a profile made from one); each round mutates a seed (bit flips,
//! byte overwrites with boundary values, truncation, insertion, duplicated or dropped runs),
//! feeds it to the library in this process, and fails on a panic, keeping the input in
//! `datasets/fuzz/` with the target's name. An error is the expected outcome for most inputs;
//! only a panic (or a hang, which the caller's timeout shows) is a defect.
//!
//! ```sh
//! # the short pass `cargo test` runs (a few seconds per target):
//! cargo test --test fuzz
//! # a long run, e.g. ten minutes per target, with a seed of your choice:
//! POISONSCAN_FUZZ_SECS=600 POISONSCAN_FUZZ_SEED=7 cargo test --release --test fuzz -- --nocapture
//! ```
//!
//! Written here rather than with cargo-fuzz: libFuzzer needs the nightly toolchain, which this
//! project's machines cannot install; the mutations are the classic ones, aimed at the formats.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use poisonscan::{Data, Engine, Settings};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[derive(Clone, Copy, Debug)]
enum Target {
    Parquet,
    Csv,
    Profile,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Parquet => "parquet",
            Target::Csv => "csv",
            Target::Profile => "profile",
        }
    }
}

/// Read `bytes` as the target's format, as a scan would. Errors are fine; panics are not.
fn run(target: Target, bytes: &[u8], dir: &Path) {
    match target {
        Target::Profile => {
            let _ = poisonscan::Profile::from_bytes(bytes);
        }
        Target::Parquet | Target::Csv => {
            let path = dir.join(format!("input.{}", target.name()));
            std::fs::write(&path, bytes).unwrap();
            let settings = Settings::builder()
                .label("label")
                .threads(1)
                .sample_size(64)
                .build()
                .unwrap();
            let _ = Engine::new(&settings).profile(Data::Paths(&[path]));
        }
    }
}

fn seeds(target: Target) -> Vec<Vec<u8>> {
    let dir = root().join("datasets/corrupt");
    match target {
        Target::Profile => {
            let settings = Settings::builder()
                .label("label")
                .threads(1)
                .build()
                .unwrap();
            let p = Engine::new(&settings)
                .profile(Data::Paths(&[dir.join("clean.parquet")]))
                .unwrap();
            vec![p.to_bytes().unwrap()]
        }
        Target::Parquet => ["clean.parquet", "checksummed.parquet"]
            .iter()
            .map(|f| std::fs::read(dir.join(f)).unwrap())
            .collect(),
        Target::Csv => ["crlf.csv", "nan_and_inf.csv", "bom.csv", "header_only.csv"]
            .iter()
            .map(|f| std::fs::read(dir.join(f)).unwrap())
            .collect(),
    }
}

const BOUNDARY: [&[u8]; 8] = [
    &[0],
    &[0xff],
    &[0x7f],
    &[0x80],
    &[0xff, 0xff, 0xff, 0x7f],
    &[0, 0, 0, 0x80],
    &[0xff; 8],
    b"\"",
];

/// One to four mutations of `seed`.
fn mutate(seed: &[u8], rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        if b.is_empty() {
            b.push(rng.random());
            continue;
        }
        let at = rng.random_range(0..b.len());
        match rng.random_range(0..7) {
            0 => b[at] ^= 1 << rng.random_range(0..8),
            1 => b[at] = rng.random(),
            2 => {
                let v = BOUNDARY[rng.random_range(0..BOUNDARY.len())];
                for (i, x) in v.iter().enumerate() {
                    if let Some(y) = b.get_mut(at + i) {
                        *y = *x;
                    }
                }
            }
            3 => b.truncate(at),
            4 => {
                let n = rng.random_range(1..16);
                let ins: Vec<u8> = (0..n).map(|_| rng.random()).collect();
                b.splice(at..at, ins);
            }
            5 => {
                let end = (at + rng.random_range(1..64)).min(b.len());
                let run = b[at..end].to_vec();
                b.splice(at..at, run);
            }
            _ => {
                let end = (at + rng.random_range(1..64)).min(b.len());
                b.drain(at..end);
            }
        }
    }
    b
}

/// Fuzz `target` for `secs` seconds; panics naming the saved input on the first crash.
fn fuzz(target: Target, secs: u64, seed: u64) -> u64 {
    let seeds = seeds(target);
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let started = Instant::now();
    let mut rounds = 0u64;
    while started.elapsed() < Duration::from_secs(secs) {
        let input = mutate(&seeds[rng.random_range(0..seeds.len())], &mut rng);
        if catch_unwind(AssertUnwindSafe(|| run(target, &input, dir.path()))).is_err() {
            let hash = blake3::hash(&input).to_hex();
            let kept =
                root()
                    .join("datasets/fuzz")
                    .join(format!("{}-{}", target.name(), &hash[..16]));
            std::fs::create_dir_all(kept.parent().unwrap()).unwrap();
            std::fs::write(&kept, &input).unwrap();
            panic!(
                "{} input of round {rounds} (seed {seed}) panicked: kept as {}",
                target.name(),
                kept.display()
            );
        }
        rounds += 1;
    }
    rounds
}

fn settings() -> (u64, u64) {
    let var = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    (
        var("POISONSCAN_FUZZ_SECS", 4),
        var("POISONSCAN_FUZZ_SEED", 0),
    )
}

#[test]
fn fuzz_parquet() {
    let (secs, seed) = settings();
    let n = fuzz(Target::Parquet, secs, seed);
    eprintln!("parquet: {n} inputs in {secs} s, no panic");
    assert!(n > 0);
}

#[test]
fn fuzz_csv() {
    let (secs, seed) = settings();
    let n = fuzz(Target::Csv, secs, seed);
    eprintln!("csv: {n} inputs in {secs} s, no panic");
    assert!(n > 0);
}

#[test]
fn fuzz_profile() {
    let (secs, seed) = settings();
    let n = fuzz(Target::Profile, secs, seed);
    eprintln!("profile: {n} inputs in {secs} s, no panic");
    assert!(n > 0);
}

/// Every input a fuzz run ever crashed on, read again: it must not panic now.
#[test]
fn crashes_found_by_fuzzing_stay_fixed() {
    let dir = root().join("datasets/fuzz");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    for e in entries {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let target = match name.split('-').next() {
            Some("parquet") => Target::Parquet,
            Some("csv") => Target::Csv,
            Some("profile") => Target::Profile,
            _ => continue,
        };
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            catch_unwind(AssertUnwindSafe(|| run(target, &bytes, tmp.path()))).is_ok(),
            "{name} panics again"
        );
    }
}
