//! Criterion micro-benchmarks of the per-value sketch updates on the profile's hot path, each
//! next to the `datasketches` implementation it replaces, measured in the same run (the ratio is
//! what counts: the machine is shared and noisy).
//!
//! Run (numbers go to reports/bench-sketches.md):
//!   cargo bench --bench sketches -- --warm-up-time 1 --measurement-time 3

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use poisonscan::profile::column::numeric_key;
use poisonscan::profile::hll::Hll;
use poisonscan::profile::kll::Kll;
use std::hint::black_box;

const N: usize = 1 << 20;

fn data() -> Vec<f64> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..N)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64 * 1000.0
        })
        .collect()
}

fn distinct(c: &mut Criterion) {
    let v = data();
    let mut g = c.benchmark_group("distinct_count_update");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function(BenchmarkId::new("poisonscan_hll", N), |b| {
        b.iter(|| {
            let mut h = Hll::new();
            for &x in &v {
                h.update(numeric_key(x));
            }
            black_box(h.estimate())
        })
    });
    g.bench_function(BenchmarkId::new("datasketches_hll8", N), |b| {
        b.iter(|| {
            let mut h = datasketches::hll::HllSketch::new(12, datasketches::hll::HllType::Hll8)
                .expect("lg k");
            for &x in &v {
                h.update(numeric_key(x));
            }
            black_box(h.estimate())
        })
    });
    // The floor: one pass that only sums the keys.
    g.bench_function(BenchmarkId::new("floor_sum_of_keys", N), |b| {
        b.iter(|| {
            let mut s = 0u64;
            for &x in &v {
                s = s.wrapping_add(numeric_key(x));
            }
            black_box(s)
        })
    });
    g.finish();
}

fn quantiles(c: &mut Criterion) {
    let v = data();
    let mut g = c.benchmark_group("quantile_sketch_update");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function(BenchmarkId::new("poisonscan_kll", N), |b| {
        b.iter(|| {
            let mut k = Kll::new(200, 1);
            for &x in &v {
                k.update(x);
            }
            black_box(k.quantile(0.5))
        })
    });
    g.bench_function(BenchmarkId::new("datasketches_kll", N), |b| {
        b.iter(|| {
            use datasketches::kll::{KllFloat, KllSketch};
            let mut k = KllSketch::<KllFloat<f64>>::new(200).expect("k");
            for &x in &v {
                k.update(KllFloat::<f64>::new(x).expect("not NaN"));
            }
            black_box(
                k.quantile(0.5, datasketches::common::SearchCriteria::Inclusive)
                    .ok(),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, distinct, quantiles);
criterion_main!(benches);
