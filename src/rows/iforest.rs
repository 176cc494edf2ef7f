//! Isolation Forest (Liu, Ting & Zhou, "Isolation Forest", ICDM 2008), written here: the crates
//! on crates.io either cannot be seeded or normalise the score differently (DESIGN.md).
//!
//! It follows scikit-learn's `IsolationForest` so that its published benchmark numbers apply:
//! each tree is grown on ψ = min(256, n) rows drawn without replacement, to depth ⌈log₂ ψ⌉; a node
//! splits on a feature drawn uniformly among those not constant on its rows (a feature whose
//! range is at most 1e-7 counts as constant, as in scikit-learn's splitter), at a threshold
//! drawn uniformly in the range, rows `≤` the threshold going left. A row's path length in a tree
//! is the depth of the leaf it reaches plus c(size of that leaf), with
//! c(n) = 2(ln(n − 1) + γ) − 2(n − 1)/n, c(2) = 1, c(1) = 0, and its score is
//! `2^(−E[h(x)] / c(ψ))` over the trees: near 1 for rows isolated quickly, about 0.5 or less
//! for ordinary rows. `tests/iforest_sklearn.rs` checks the scoring against scikit-learn's own
//! trees, loaded through `from_sklearn`.
//!
//! Trees are seeded by (seed, tree index), so fitting is the same at any thread count. Children
//! are stored side by side and leaves point to themselves, so scoring walks every row exactly
//! the tree's depth without a branch, sixteen rows at a time (copied column by column into a
//! tile, so a level's reads are at fixed offsets, and read without bounds checks; see
//! `Tree::new`); rows are scored in blocks, tree by tree, so each tree (≤ 511 nodes, 8 KB)
//! stays in the L1 cache.

use rand::Rng;
use rayon::prelude::*;

use crate::rng::rng;

/// Euler–Mascheroni constant.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;
/// scikit-learn's `FEATURE_THRESHOLD`: a feature whose range on a node is at most this is constant.
const FEATURE_THRESHOLD: f64 = 1e-7;
const LEAF: u32 = u32::MAX;
/// Rows scored together, tree by tree.
const BLOCK: usize = 512;

/// Average path length of an unsuccessful search in a binary search tree of `n` nodes: the
/// normalisation c(n) of the Isolation Forest paper (scikit-learn's `_average_path_length`).
pub fn average_path_length(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + EULER_GAMMA) - 2.0 * (n - 1.0) / n
        }
    }
}

/// A node: a split (`feature`, `threshold`, children at `left` and `left + 1`) or a leaf
/// (`feature == LEAF`, `threshold` holding the leaf's path length, depth + c(size)).
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
struct Node {
    threshold: f64,
    feature: u32,
    left: u32,
}

#[derive(Debug, Clone)]
struct Tree {
    /// The tree as scored (built from nodes where a leaf is `feature == LEAF` with its path
    /// length as `threshold`): a leaf points to itself (`left` = its index, feature 0,
    /// threshold +∞, so no value moves on), and its path length is in `leaf_value`, so every
    /// row takes exactly `depth` steps with no branch.
    walk: Vec<Node>,
    leaf_value: Vec<f64>,
    depth: usize,
}

impl Tree {
    /// The tree of `nodes` over `dim` features. Panics unless every split's feature is below
    /// `dim` and its children are nodes of the tree: `add_path_lengths` reads without bounds
    /// checks and relies on it.
    fn new(nodes: Vec<Node>, dim: usize) -> Tree {
        Tree::checked(nodes, dim).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The tree of `nodes` over `dim` features, if they form one: every split's feature below
    /// `dim`, its two children (`left`, `left + 1`) nodes after it, and every node but the root
    /// the child of exactly one split (so the walk ends, and `depth` is the longest path).
    fn checked(nodes: Vec<Node>, dim: usize) -> Result<Tree, String> {
        let mut has_parent = vec![false; nodes.len()];
        for (i, n) in nodes.iter().enumerate() {
            if n.feature != LEAF {
                let (l, len) = (n.left as usize, nodes.len());
                if (n.feature as usize) >= dim || l <= i || l + 1 >= len {
                    return Err(format!(
                        "a split names feature {} of {dim} or a child past the tree's {len} nodes",
                        n.feature
                    ));
                }
                for child in [l, l + 1] {
                    if std::mem::replace(&mut has_parent[child], true) {
                        return Err(format!("node {child} is the child of two splits"));
                    }
                }
            }
        }
        if nodes.is_empty() || has_parent[0] || has_parent[1..].iter().any(|&p| !p) {
            return Err("the nodes do not form a tree".into());
        }
        let mut walk = nodes.clone();
        let mut leaf_value = vec![0.0; nodes.len()];
        for (i, n) in nodes.iter().enumerate() {
            if n.feature == LEAF {
                leaf_value[i] = n.threshold;
                walk[i] = Node {
                    threshold: f64::INFINITY,
                    feature: 0,
                    left: i as u32,
                };
            }
        }
        // Depth: the longest root-to-leaf path.
        let mut depth = 0;
        let mut stack = vec![(0usize, 0usize)];
        while let Some((i, d)) = stack.pop() {
            let n = nodes[i];
            if n.feature == LEAF {
                depth = depth.max(d);
            } else {
                stack.push((n.left as usize, d + 1));
                stack.push((n.left as usize + 1, d + 1));
            }
        }
        Ok(Tree {
            walk,
            leaf_value,
            depth,
        })
    }

    /// The nodes `Tree::checked` takes back (a leaf: `LEAF` with its path length).
    fn nodes(&self) -> Vec<Node> {
        self.walk
            .iter()
            .enumerate()
            .map(|(i, n)| {
                if n.left as usize == i {
                    Node {
                        threshold: self.leaf_value[i],
                        feature: LEAF,
                        left: 0,
                    }
                } else {
                    *n
                }
            })
            .collect()
    }

    /// One row's path length: the same fixed-depth walk as `add_path_lengths`.
    #[inline]
    fn path_length(&self, row: &[f64]) -> f64 {
        let mut i = 0usize;
        for _ in 0..self.depth {
            let n = self.walk[i];
            i = n.left as usize + usize::from(row[n.feature as usize] > n.threshold);
        }
        self.leaf_value[i]
    }

    /// Add the path lengths of the rows in `tiles` to `acc`: `tiles` holds groups of `LANES`
    /// rows column by column (`Tiles`), and a group's rows walk level by level together, so
    /// their walks overlap in the CPU instead of waiting on each other.
    fn add_path_lengths(&self, tiles: &Tiles, acc: &mut [f64]) {
        let walk = &self.walk[..];
        let stride = tiles.dim * LANES;
        for (g, acc) in acc.chunks_exact_mut(LANES).enumerate() {
            let tile = &tiles.data[g * stride..(g + 1) * stride];
            let mut idx = [0usize; LANES];
            for _ in 0..self.depth {
                let at = idx;
                idx = std::array::from_fn(|r| {
                    // SAFETY: `Tree::new` checked that every split's children are nodes of the
                    // tree and its feature is below the forest's `dim` (a leaf points to itself,
                    // feature 0), so the walk starts at the root and stays on nodes; `score` and
                    // `score_sequential` check that the rows have that `dim`, so
                    // `feature * LANES + r` is below `dim * LANES`, the tile's length. Unchecked, the walk's reads
                    // take a third less time (the bounds checks block the lanes' overlap).
                    let n = unsafe { *walk.get_unchecked(at[r]) };
                    let x = unsafe { *tile.get_unchecked(n.feature as usize * LANES + r) };
                    n.left as usize + usize::from(x > n.threshold)
                });
            }
            for (a, &i) in acc.iter_mut().zip(&idx) {
                *a += self.leaf_value[i];
            }
        }
    }
}

/// Rows walked together through a tree.
const LANES: usize = 16;

/// A block's whole groups of `LANES` rows, each group column by column (`data[g·dim·LANES +
/// f·LANES + r]` is feature f of the group's row r), so a level's reads for the group are
/// at fixed offsets from one base.
struct Tiles {
    data: Vec<f64>,
    dim: usize,
}

impl Tiles {
    /// The first `rows` (a multiple of `LANES`) rows of `x` from row `start`.
    fn new(x: Rows<'_>, start: usize, rows: usize) -> Tiles {
        let d = x.dim;
        let mut data = vec![0.0; rows * d];
        for (g, tile) in data.chunks_exact_mut(d * LANES).enumerate() {
            for r in 0..LANES {
                for (f, &v) in x.row(start + g * LANES + r).iter().enumerate() {
                    tile[f * LANES + r] = v;
                }
            }
        }
        Tiles { data, dim: d }
    }
}

/// Rows as a row-major matrix of `dim` columns.
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a> {
    pub data: &'a [f64],
    pub dim: usize,
}

impl<'a> Rows<'a> {
    pub fn new(data: &'a [f64], dim: usize) -> Rows<'a> {
        assert!(dim > 0 && data.len().is_multiple_of(dim), "matrix shape");
        Rows { data, dim }
    }

    pub fn len(&self) -> usize {
        self.data.len() / self.dim
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    #[inline]
    pub fn row(&self, i: usize) -> &'a [f64] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
}

/// A fitted forest.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(into = "ForestData", try_from = "ForestData")]
pub struct IsolationForest {
    trees: Vec<Tree>,
    /// Rows each tree was grown on (ψ).
    pub max_samples: usize,
    pub dim: usize,
}

/// A forest as bytes carry it: each tree's nodes, checked (`Tree::checked`) when read back,
/// since the walk reads them without bounds checks.
#[derive(serde::Serialize, serde::Deserialize)]
struct ForestData {
    trees: Vec<Vec<Node>>,
    max_samples: usize,
    dim: usize,
}

impl From<IsolationForest> for ForestData {
    fn from(f: IsolationForest) -> ForestData {
        ForestData {
            trees: f.trees.iter().map(Tree::nodes).collect(),
            max_samples: f.max_samples,
            dim: f.dim,
        }
    }
}

impl TryFrom<ForestData> for IsolationForest {
    type Error = String;
    fn try_from(d: ForestData) -> Result<IsolationForest, String> {
        let trees = d
            .trees
            .into_iter()
            .map(|nodes| Tree::checked(nodes, d.dim))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(IsolationForest {
            trees,
            max_samples: d.max_samples,
            dim: d.dim,
        })
    }
}

/// Settings of the forest; the defaults are the paper's and scikit-learn's.
#[derive(Debug, Clone, Copy)]
pub struct ForestSettings {
    pub trees: usize,
    pub max_samples: usize,
    pub seed: u64,
}

impl Default for ForestSettings {
    fn default() -> Self {
        ForestSettings {
            trees: 100,
            max_samples: 256,
            seed: 0,
        }
    }
}

impl IsolationForest {
    /// Grow the forest on `x` (at least one row).
    pub fn fit(x: Rows<'_>, settings: ForestSettings) -> IsolationForest {
        Self::fit_weighted(x, None, settings)
    }

    /// Grow the forest on `x`, each tree's rows drawn without replacement with probability
    /// proportional to `weights` (Efraimidis & Spirakis' keys −ln(u)/w, the ψ smallest), so a
    /// stratified sample stands for the population it was drawn from. Without weights the draw
    /// is uniform, as in scikit-learn.
    pub fn fit_weighted(
        x: Rows<'_>,
        weights: Option<&[f64]>,
        settings: ForestSettings,
    ) -> IsolationForest {
        let n = x.len();
        let psi = settings.max_samples.min(n).max(1);
        let max_depth = (psi as f64).log2().ceil().max(0.0) as usize;
        let trees = (0..settings.trees)
            .into_par_iter()
            .map(|t| {
                let mut r = rng(settings.seed, "iforest", t as u64);
                let mut rows = match weights {
                    None => subsample(n, psi, &mut r),
                    Some(w) => weighted_subsample(w, psi, &mut r),
                };
                let mut nodes = vec![Node {
                    threshold: 0.0,
                    feature: LEAF,
                    left: 0,
                }];
                grow(x, &mut rows, 0, 0, max_depth, &mut r, &mut nodes);
                Tree::new(nodes, x.dim)
            })
            .collect();
        IsolationForest {
            trees,
            max_samples: psi,
            dim: x.dim,
        }
    }

    /// Build a forest from scikit-learn's fitted trees (`estimators_[i].tree_`): per tree the
    /// arrays `children_left`, `children_right`, `feature`, `threshold`, `n_node_samples`.
    /// Used to test the scoring against scikit-learn with the very same trees.
    pub fn from_sklearn(trees: &[SklearnTree], max_samples: usize, dim: usize) -> IsolationForest {
        let trees = trees
            .iter()
            .map(|t| {
                let mut nodes = vec![Node {
                    threshold: 0.0,
                    feature: LEAF,
                    left: 0,
                }];
                // (sklearn node, our slot, depth)
                let mut stack = vec![(0usize, 0usize, 0usize)];
                while let Some((s, slot, depth)) = stack.pop() {
                    if t.children_left[s] < 0 {
                        nodes[slot] = Node {
                            threshold: depth as f64
                                + average_path_length(t.n_node_samples[s] as usize),
                            feature: LEAF,
                            left: 0,
                        };
                    } else {
                        let left = nodes.len();
                        nodes.push(nodes[slot]);
                        nodes.push(nodes[slot]);
                        nodes[slot] = Node {
                            threshold: t.threshold[s],
                            feature: t.feature[s] as u32,
                            left: left as u32,
                        };
                        stack.push((t.children_left[s] as usize, left, depth + 1));
                        stack.push((t.children_right[s] as usize, left + 1, depth + 1));
                    }
                }
                Tree::new(nodes, dim)
            })
            .collect();
        IsolationForest {
            trees,
            max_samples,
            dim,
        }
    }

    /// The anomaly score `2^(−E[h(x)] / c(ψ))` of each row, in parallel over blocks of rows.
    pub fn score(&self, x: Rows<'_>) -> Vec<f64> {
        assert_eq!(
            x.dim, self.dim,
            "rows have another dimension than the forest"
        );
        let mut out = vec![0.0; x.len()];
        out.par_chunks_mut(BLOCK)
            .enumerate()
            .for_each(|(b, chunk)| self.score_block(x, b * BLOCK, chunk));
        out
    }

    /// `score` on the calling thread (for callers that are already parallel).
    pub fn score_sequential(&self, x: Rows<'_>, out: &mut Vec<f64>) {
        assert_eq!(
            x.dim, self.dim,
            "rows have another dimension than the forest"
        );
        out.clear();
        out.resize(x.len(), 0.0);
        for (b, chunk) in out.chunks_mut(BLOCK).enumerate() {
            self.score_block(x, b * BLOCK, chunk);
        }
    }

    /// Scores of rows `start..start + out.len()`, tree by tree so each tree stays in cache.
    fn score_block(&self, x: Rows<'_>, start: usize, out: &mut [f64]) {
        let c = average_path_length(self.max_samples);
        let t = self.trees.len().max(1) as f64;
        out.fill(0.0);
        let whole = out.len() / LANES * LANES;
        let tiles = Tiles::new(x, start, whole);
        for tree in &self.trees {
            let (grouped, rest) = out.split_at_mut(whole);
            tree.add_path_lengths(&tiles, grouped);
            for (r, a) in rest.iter_mut().enumerate() {
                *a += tree.path_length(x.row(start + whole + r));
            }
        }
        for acc in out.iter_mut() {
            let mean = *acc / t;
            // With one training row c(ψ) = 0 and the score is undefined: call every row ordinary.
            *acc = if c > 0.0 { (-mean / c).exp2() } else { 0.5 };
        }
    }
}

/// One of scikit-learn's trees as arrays (see `IsolationForest::from_sklearn`).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct SklearnTree {
    pub children_left: Vec<i64>,
    pub children_right: Vec<i64>,
    pub feature: Vec<i64>,
    pub threshold: Vec<f64>,
    pub n_node_samples: Vec<i64>,
}

/// `k` distinct indices drawn with probability proportional to their weight (weights ≤ 0 are
/// never drawn unless nothing else is left).
fn weighted_subsample(w: &[f64], k: usize, r: &mut impl Rng) -> Vec<u32> {
    let mut keys: Vec<(f64, u32)> = w
        .iter()
        .enumerate()
        .map(|(i, &wi)| {
            let u: f64 = r.random::<f64>();
            // −ln(1 − u) is Exp(1) and finite for u in [0, 1).
            let e = -(1.0 - u).ln();
            (if wi > 0.0 { e / wi } else { f64::INFINITY }, i as u32)
        })
        .collect();
    let k = k.min(keys.len());
    if k < keys.len() {
        keys.select_nth_unstable_by(k, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        keys.truncate(k);
    }
    keys.into_iter().map(|(_, i)| i).collect()
}

/// `k` distinct indices of `0..n`, by a partial Fisher–Yates shuffle.
fn subsample(n: usize, k: usize, r: &mut impl Rng) -> Vec<u32> {
    let mut idx: Vec<u32> = (0..n as u32).collect();
    for i in 0..k {
        let j = r.random_range(i..n);
        idx.swap(i, j);
    }
    idx.truncate(k);
    idx
}

fn grow(
    x: Rows<'_>,
    rows: &mut [u32],
    slot: usize,
    depth: usize,
    max_depth: usize,
    r: &mut impl Rng,
    nodes: &mut Vec<Node>,
) {
    let leaf = |nodes: &mut Vec<Node>, size: usize| {
        nodes[slot] = Node {
            threshold: depth as f64 + average_path_length(size),
            feature: LEAF,
            left: 0,
        };
    };
    if depth >= max_depth || rows.len() <= 1 {
        return leaf(nodes, rows.len());
    }
    // Draw features without replacement until one is not constant on these rows.
    let mut candidates: Vec<u32> = (0..x.dim as u32).collect();
    let mut remaining = candidates.len();
    while remaining > 0 {
        let j = r.random_range(0..remaining);
        let f = candidates[j];
        candidates.swap(j, remaining - 1);
        remaining -= 1;
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for &i in rows.iter() {
            let v = x.row(i as usize)[f as usize];
            lo = lo.min(v);
            hi = hi.max(v);
        }
        // Constant here, or not finite (the encoder keeps values finite; NaN is never split on).
        let range = hi - lo;
        if !range.is_finite() || range <= FEATURE_THRESHOLD {
            continue;
        }
        let mut threshold = r.random_range(lo..hi);
        if threshold >= hi {
            threshold = lo;
        }
        // Partition: rows ≤ threshold first.
        let mut split = 0;
        for k in 0..rows.len() {
            if x.row(rows[k] as usize)[f as usize] <= threshold {
                rows.swap(k, split);
                split += 1;
            }
        }
        let left = nodes.len();
        nodes.push(nodes[slot]);
        nodes.push(nodes[slot]);
        nodes[slot] = Node {
            threshold,
            feature: f,
            left: left as u32,
        };
        let (a, b) = rows.split_at_mut(split);
        grow(x, a, left, depth + 1, max_depth, r, nodes);
        grow(x, b, left + 1, depth + 1, max_depth, r, nodes);
        return;
    }
    leaf(nodes, rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_path_length_by_hand() {
        assert_eq!(average_path_length(1), 0.0);
        assert_eq!(average_path_length(2), 1.0);
        // c(256) = 2(ln 255 + γ) − 2·255/256
        let want = 2.0 * (255f64.ln() + 0.5772156649015329) - 2.0 * 255.0 / 256.0;
        assert!((average_path_length(256) - want).abs() < 1e-12);
        assert!((average_path_length(256) - 10.244_770_920_116_851).abs() < 1e-9);
    }

    #[test]
    fn isolated_point_scores_highest_and_fit_is_deterministic() {
        // A 2-D cloud on a grid and one far point.
        let mut data = Vec::new();
        for i in 0..30 {
            for j in 0..30 {
                data.push(i as f64 / 30.0);
                data.push(j as f64 / 30.0);
            }
        }
        data.extend([5.0, 5.0]);
        let x = Rows::new(&data, 2);
        let s = ForestSettings {
            seed: 7,
            ..Default::default()
        };
        let f = IsolationForest::fit(x, s);
        let scores = f.score(x);
        let far = scores[scores.len() - 1];
        assert!(scores[..scores.len() - 1].iter().all(|&v| v < far));
        assert!(far > 0.6, "{far}");
        let again = IsolationForest::fit(x, s).score(x);
        assert_eq!(scores, again);
        // Scores are probabilities-like: in (0, 1].
        assert!(scores.iter().all(|&v| v > 0.0 && v <= 1.0));
    }

    #[test]
    fn constant_data_gives_leaves_at_the_root() {
        let data = vec![1.0; 40];
        let x = Rows::new(&data, 2);
        let f = IsolationForest::fit(x, ForestSettings::default());
        // Every tree is one leaf of 20 rows: E[h] = c(20), score 2^(-c(20)/c(20)) = 0.5.
        for v in f.score(x) {
            assert!((v - 0.5).abs() < 1e-12);
        }
    }

    #[test]
    fn grouped_walks_score_like_one_row_at_a_time() {
        use rand::SeedableRng;
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        // 5 features, some rows with NaN and ±inf; 1,000 + 9 rows: whole blocks, a last
        // partial block, and rows after the last whole group of sixteen.
        let dim = 5;
        let data: Vec<f64> = (0..1_009 * dim)
            .map(|i| match i % 97 {
                0 => f64::NAN,
                1 => f64::INFINITY,
                2 => f64::NEG_INFINITY,
                _ => r.random::<f64>() * (1 + i % dim) as f64,
            })
            .collect();
        let x = Rows::new(&data, dim);
        let f = IsolationForest::fit(
            x,
            ForestSettings {
                seed: 11,
                ..Default::default()
            },
        );
        let c = average_path_length(f.max_samples);
        let t = f.trees.len() as f64;
        let scores = f.score(x);
        for (i, &got) in scores.iter().enumerate() {
            let sum: f64 = f.trees.iter().map(|tr| tr.path_length(x.row(i))).sum();
            let want = (-(sum / t) / c).exp2();
            assert_eq!(got.to_bits(), want.to_bits(), "row {i}");
        }
        let mut seq = Vec::new();
        f.score_sequential(x, &mut seq);
        assert_eq!(scores, seq);
    }
}
