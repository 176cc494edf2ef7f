//! Criterion micro-benchmark of LBL002's neighbour search: one query (projection, best-bin-first
//! search, score) against a tree of 30,000 reference points, on data shaped like the end-to-end
//! benchmark's (independent features: the k-d tree's worst case) and on data with a low-
//! dimensional structure (what real tables look like more often).
//!
//! Run (numbers go to reports/labels.md):
//!   cargo bench --bench knn -- --warm-up-time 1 --measurement-time 5

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use poisonscan::rows::encode::{Encoder, Feature, Kind};
use poisonscan::rows::knn::{KnnModel, Query};
use std::hint::black_box;

const FEATURES: usize = 26;
const REFERENCE: usize = 30_000;
const QUERIES: usize = 20_000;

struct Xorshift(u64);

impl Xorshift {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    /// A standard normal draw (Box-Muller).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(1e-300), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

fn encoder() -> Encoder {
    Encoder {
        features: (0..FEATURES)
            .map(|j| Feature {
                name: format!("f{j}"),
                column: format!("f{j}"),
                reference_index: j,
                kind: Kind::Numeric {
                    median: 0.0,
                    scale: 1.0,
                    edges: Vec::new(),
                    min: -10.0,
                    max: 10.0,
                },
            })
            .collect(),
    }
}

/// `n` rows of `FEATURES` values: independent normals, or three latent factors plus noise; two
/// classes, independent of the features (`independent`) or following the first factor.
fn rows(n: usize, structured: bool, seed: u64) -> (Vec<f64>, Vec<u16>) {
    let mut r = Xorshift(seed);
    let mut x = Vec::with_capacity(n * FEATURES);
    let mut class = Vec::with_capacity(n);
    for _ in 0..n {
        let z = [r.normal(), r.normal(), r.normal()];
        for j in 0..FEATURES {
            let v = if structured {
                z[j % 3] + 0.3 * r.normal()
            } else {
                r.normal()
            };
            x.push(v);
        }
        let p = if structured {
            1.0 / (1.0 + (-2.0 * z[0]).exp())
        } else {
            0.5
        };
        class.push(u16::from(r.uniform() < p));
    }
    (x, class)
}

fn search(c: &mut Criterion) {
    let e = encoder();
    let mut g = c.benchmark_group("knn_score");
    g.throughput(Throughput::Elements(QUERIES as u64));
    for (name, structured) in [("independent", false), ("three_factors", true)] {
        let (x, class) = rows(REFERENCE, structured, 1);
        let codes = vec![0u32; x.len()];
        let prov: Vec<(u32, u64)> = (0..REFERENCE).map(|i| (0, i as u64)).collect();
        let model = KnnModel::fit(&e, &x, &codes, &class, None, &prov, vec![1.0, 1.0], false)
            .expect("a model");
        let (qx, qclass) = rows(QUERIES, structured, 2);
        let qcodes = vec![0u32; FEATURES];
        let all_codes = vec![0u32; qx.len()];
        let sample: Vec<usize> = (0..QUERIES).step_by(10).collect();
        eprintln!(
            "{name}: recall@10 {:.3}",
            model.recall_at_k(&qx, &all_codes, FEATURES, &sample)
        );
        g.bench_function(BenchmarkId::new(name, REFERENCE), |b| {
            let mut q = Query::default();
            b.iter(|| {
                let mut sum = 0.0;
                for (i, &c) in qclass.iter().enumerate() {
                    let xi = &qx[i * FEATURES..(i + 1) * FEATURES];
                    sum += model.score(xi, &qcodes, c, None, &mut q).unwrap_or(0.0);
                }
                black_box(sum)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, search);
criterion_main!(benches);
