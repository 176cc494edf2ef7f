//! The row-level detectors against their reference implementations, on fixtures written by
//! `scripts/rows_reference.py` (scikit-learn's IsolationForest, PyOD's ECOD).

use poisonscan::rows::ecod::Ecod;
use poisonscan::rows::iforest::{IsolationForest, Rows, SklearnTree};
use serde::Deserialize;

#[derive(Deserialize)]
struct ForestFixture {
    dim: usize,
    max_samples: usize,
    x: Vec<f64>,
    trees: Vec<SklearnTree>,
    scores: Vec<f64>,
}

#[derive(Deserialize)]
struct EcodFixture {
    dim: usize,
    x: Vec<f64>,
    scores: Vec<f64>,
}

fn fixture<T: for<'de> Deserialize<'de>>(name: &str) -> T {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("fixture json")
}

/// Same trees, same scores: the path lengths (leaf depth + c(leaf size)), their mean over the
/// trees and the normalisation 2^(−E[h]/c(ψ)) match scikit-learn's `score_samples`.
#[test]
fn iforest_scores_match_scikit_learn_on_its_own_trees() {
    let f: ForestFixture = fixture("iforest_sklearn.json");
    assert_eq!(f.trees.len(), 25);
    let forest = IsolationForest::from_sklearn(&f.trees, f.max_samples, f.dim);
    let ours = forest.score(Rows::new(&f.x, f.dim));
    assert_eq!(ours.len(), f.scores.len());
    for (i, (a, b)) in ours.iter().zip(&f.scores).enumerate() {
        assert!((a - b).abs() < 1e-12, "row {i}: ours {a}, scikit-learn {b}");
    }
}

/// Our own forest on the same data ranks rows like scikit-learn's (different random trees, so
/// not equal scores): the six shifted rows are the top six in both.
#[test]
fn iforest_fit_finds_the_rows_scikit_learn_finds() {
    let f: ForestFixture = fixture("iforest_sklearn.json");
    let x = Rows::new(&f.x, f.dim);
    let forest = IsolationForest::fit(
        x,
        poisonscan::rows::iforest::ForestSettings {
            trees: 100,
            max_samples: 256,
            seed: 1,
        },
    );
    let ours = forest.score(x);
    let top = |s: &[f64]| {
        let mut idx: Vec<usize> = (0..s.len()).collect();
        idx.sort_by(|&a, &b| s[b].total_cmp(&s[a]));
        let mut t = idx[..6].to_vec();
        t.sort_unstable();
        t
    };
    assert_eq!(top(&ours), vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(top(&f.scores), vec![0, 1, 2, 3, 4, 5]);
}

#[test]
fn ecod_training_scores_match_pyod() {
    let f: EcodFixture = fixture("ecod_pyod.json");
    let n = f.x.len() / f.dim;
    let ecod = Ecod::fit(&f.x, f.dim, &vec![1.0; n]);
    let ours = ecod.reference_scores(&f.x);
    for (i, (a, b)) in ours.iter().zip(&f.scores).enumerate() {
        assert!((a - b).abs() < 1e-9, "row {i}: ours {a}, PyOD {b}");
    }
}
