//! kNN label disagreement (LBL002): for every current row, its `K` nearest neighbours among
//! trusted labelled rows (the baseline's sample; the current data's own sample, the row itself
//! left out, without a baseline), and how strongly they disagree with the row's label.
//!
//! - **Space.** The shared encoding made distance-friendly: numbers robust-scaled (median/IQR)
//!   and clipped to ±`CLIP`; categorical features of at most `MAX_ONE_HOT` categories one-hot
//!   (each active level 1/√2, so two categories are 1 apart), wider ones by their frequency;
//!   missing indicators as they are. It is then projected on its first `DIMS` principal
//!   components (of the reference sample, by power iteration): kNN is exact in that reduced
//!   space up to the search below.
//! - **Search.** A k-d tree over the reference points (median splits on the widest dimension,
//!   leaves of `LEAF` points), searched best-bin-first with pruning: exact, except that a query
//!   reads at most `MAX_LEAVES` leaves (a bound on its cost). The recall against the exact kNN
//!   in the reduced space is measured (`recall_at_k`, reports/labels.md); the cost per row does
//!   not grow with the number of rows.
//! - **Score.** Each neighbour votes for its label with the weight of the baseline rows it
//!   stands for (the sample is stratified by label); `label_issue_score` = 1 − the weighted
//!   share of the row's own label among its neighbours. A row is flagged when the score is at
//!   least `FLAG` (a strong majority of its neighbours carries another label). The reference
//!   rows are scored the same way (leaving themselves out), which gives the baseline's own
//!   flagged rate per slice, the rate LBL002 compares with.
//!
//! The k-d tree and its search are in `tree`; the space, the fit and the scores here.

use super::encode::{Encoder, Kind};
use super::shared::{BatchRows, NO_CLASS, nth_row};

mod tree;

pub use tree::Query;
use tree::{Node, Point, distance, key_index};

/// Neighbours per row.
pub const K: usize = 10;
/// A row is flagged when at least this weighted share of its neighbours carries another label.
pub const FLAG: f64 = 0.9;
/// A numeric target is flagged when it lies this many robust spreads from its neighbours'
/// median (its score is then `FLAG`).
pub const R_FLAG: f64 = 4.0;
/// A numeric target's residual is measured in at least this share of the whole reference
/// target's robust spread: neighbours that agree more closely than that (a top-coded value, a
/// discrete rating) do not make a small difference look large.
const SPREAD_FLOOR: f64 = 0.25;
/// Encoded numbers are clipped to ±CLIP before distances.
const CLIP: f64 = 5.0;
/// Categorical features up to this many categories are one-hot encoded.
const MAX_ONE_HOT: usize = 16;
/// Principal components kept.
const DIMS: usize = 6;
/// Points per leaf of the k-d tree.
const LEAF: usize = 16;
/// At most this many leaves read per query (a bound on the cost of a query; the search is
/// exact when it stops earlier, which is measured in `recall_at_k`).
const MAX_LEAVES: usize = 12;
/// A scored search stops after `EARLY_LEAVES` leaves when the neighbours found so far give the
/// row a score below `EARLY_SCORE`: to reach `FLAG` from there, at least 4 of the 10 found
/// would have to be displaced by nearer points the first leaves missed. Most rows stop here;
/// their score is that of the shorter search (the effect is measured in reports/labels.md).
const EARLY_LEAVES: usize = 3;
const EARLY_SCORE: f64 = 0.5;
/// At most this many reference points (every n-th labelled sample row when there are more:
/// a smaller tree, and every class kept in its sample proportion).
const MAX_POINTS: usize = 30_000;

/// One dimension of the distance space, before the projection.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
enum Dim {
    /// Encoder feature `f`'s value, clipped.
    Value(usize),
    /// 1/√2 when encoder feature `f`'s slice code is `code`.
    OneHot(usize, u32),
}

/// How one encoder feature enters the projection: a value times a column of the projection,
/// or a lookup of a category's projected vector.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
enum Term {
    Value {
        feature: usize,
        weights: Point,
    },
    /// `table[code]`; codes past the table (nulls, unseen) add nothing.
    Lookup {
        feature: usize,
        table: Vec<Point>,
    },
}

/// The fitted kNN model.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct KnnModel {
    dims: usize,
    /// Projection of an encoded row: `offset + Σ terms`.
    offset: Point,
    terms: Vec<Term>,
    /// Reference points in leaf order; their classes and provenance.
    points: Vec<Point>,
    class: Vec<u16>,
    provenance: Vec<(u32, u64)>,
    nodes: Vec<Node>,
    /// Weight of a vote of each class (baseline rows per sample row).
    vote: Vec<f64>,
    /// A numeric target's value at each reference point (leaf order; NaN for null); empty
    /// for classes.
    targets: Vec<f64>,
    /// The least spread a residual is measured in (`SPREAD_FLOOR` of the reference targets').
    spread_floor: f64,
    /// Whether the reference is the current data itself (a row never counts as its own
    /// neighbour then).
    pub self_reference: bool,
}

impl KnnModel {
    /// Fit on reference rows: their encoding `x` and slice codes (row-major, `encoder.dim()`
    /// wide), classes, provenance, and the vote weight of each class. `None` when there are
    /// fewer than `K + 1` labelled rows or nothing to encode.
    #[allow(clippy::too_many_arguments)]
    pub fn fit(
        encoder: &Encoder,
        x: &[f64],
        codes: &[u32],
        class: &[u16],
        targets: Option<&[f64]>,
        provenance: &[(u32, u64)],
        vote: Vec<f64>,
        self_reference: bool,
    ) -> Option<KnnModel> {
        let d = encoder.dim();
        if d == 0 {
            return None;
        }
        // The dimensions before projection.
        let mut spec = Vec::new();
        for (f, feat) in encoder.features.iter().enumerate() {
            match &feat.kind {
                Kind::Frequency { categories, .. } if categories.len() <= MAX_ONE_HOT => {
                    for c in 0..categories.len() as u32 {
                        spec.push(Dim::OneHot(f, c));
                    }
                }
                _ => spec.push(Dim::Value(f)),
            }
        }
        let big = spec.len();
        // The labelled rows, at most MAX_POINTS (every `step`-th, in sample order).
        // The labelled rows (for a numeric target, those with a value).
        let rows: Vec<usize> = (0..class.len())
            .filter(|&i| class[i] != NO_CLASS && targets.is_none_or(|t| t[i].is_finite()))
            .collect();
        if rows.len() <= K {
            return None;
        }
        let step = rows.len().div_ceil(MAX_POINTS);
        let rows: Vec<usize> = rows.into_iter().step_by(step).collect();
        let embed = |i: usize, out: &mut Vec<f64>| {
            out.clear();
            for s in &spec {
                out.push(match *s {
                    Dim::Value(f) => x[i * d + f].clamp(-CLIP, CLIP),
                    Dim::OneHot(f, c) => {
                        if codes[i * d + f] == c {
                            std::f64::consts::FRAC_1_SQRT_2
                        } else {
                            0.0
                        }
                    }
                });
            }
        };
        // Mean and covariance of the embedded reference rows.
        let n = rows.len() as f64;
        let mut mean = vec![0.0; big];
        let mut e = Vec::with_capacity(big);
        for &i in &rows {
            embed(i, &mut e);
            for (m, v) in mean.iter_mut().zip(&e) {
                *m += v / n;
            }
        }
        let mut cov = vec![0.0; big * big];
        for &i in &rows {
            embed(i, &mut e);
            for a in 0..big {
                let da = e[a] - mean[a];
                if da == 0.0 {
                    continue;
                }
                for b in a..big {
                    cov[a * big + b] += da * (e[b] - mean[b]);
                }
            }
        }
        for a in 0..big {
            for b in a..big {
                let v = cov[a * big + b] / n;
                cov[a * big + b] = v;
                cov[b * big + a] = v;
            }
        }
        let components = principal_components(&mut cov, big, DIMS.min(big));
        let dims = components.len();
        if dims == 0 {
            return None;
        }
        // The projection as per-feature terms: y = Σ_j comp_j · (e_j − mean_j).
        let mut offset = [0f32; 8];
        for (k, comp) in components.iter().enumerate() {
            offset[k] = -comp.iter().zip(&mean).map(|(c, m)| c * m).sum::<f64>() as f32;
        }
        let mut terms = Vec::new();
        for (f, feat) in encoder.features.iter().enumerate() {
            match &feat.kind {
                Kind::Frequency { categories, .. } if categories.len() <= MAX_ONE_HOT => {
                    let mut table = vec![[0f32; 8]; categories.len()];
                    for (j, s) in spec.iter().enumerate() {
                        if let Dim::OneHot(g, c) = *s
                            && g == f
                        {
                            for (k, comp) in components.iter().enumerate() {
                                table[c as usize][k] =
                                    (comp[j] * std::f64::consts::FRAC_1_SQRT_2) as f32;
                            }
                        }
                    }
                    terms.push(Term::Lookup { feature: f, table });
                }
                _ => {
                    let j = spec
                        .iter()
                        .position(|s| matches!(*s, Dim::Value(g) if g == f))
                        .expect("a value dimension per feature");
                    let mut weights = [0f32; 8];
                    for (k, comp) in components.iter().enumerate() {
                        weights[k] = comp[j] as f32;
                    }
                    terms.push(Term::Value {
                        feature: f,
                        weights,
                    });
                }
            }
        }
        let mut model = KnnModel {
            dims,
            offset,
            terms,
            points: Vec::new(),
            class: Vec::new(),
            provenance: Vec::new(),
            nodes: Vec::new(),
            vote,
            targets: Vec::new(),
            spread_floor: 0.0,
            self_reference,
        };
        let mut pts: Vec<(Point, u16, (u32, u64))> = rows
            .iter()
            .map(|&i| {
                let mut y = [0f32; 8];
                model.project(nth_row(x, d, i), nth_row(codes, d, i), &mut y);
                (y, class[i], provenance[i])
            })
            .collect();
        model.build(&mut pts);
        if let Some(t) = targets {
            let by_row: std::collections::HashMap<(u32, u64), f64> =
                rows.iter().map(|&i| (provenance[i], t[i])).collect();
            model.targets = model
                .provenance
                .iter()
                .map(|p| by_row.get(p).copied().unwrap_or(f64::NAN))
                .collect();
            let mut all: Vec<f64> = rows
                .iter()
                .map(|&i| t[i])
                .filter(|v| v.is_finite())
                .collect();
            model.spread_floor = SPREAD_FLOOR * target_scale(&mut all);
        }
        Some(model)
    }

    /// Whether a model read from bytes holds together: a numeric target's value for every
    /// reference point.
    pub fn check(&self) -> Result<(), String> {
        if !self.targets.is_empty() && self.targets.len() != self.points.len() {
            return Err(format!(
                "the kNN model has {} points and {} targets",
                self.points.len(),
                self.targets.len()
            ));
        }
        Ok(())
    }

    /// Whether the model scores a numeric target (robust residuals) rather than classes.
    pub fn is_numeric(&self) -> bool {
        !self.targets.is_empty()
    }

    /// The label issue score of a row whose numeric target is `y` (NaN: none): its robust
    /// residual against its neighbours' targets, `r = |y − median| / max(1.4826·MAD,
    /// floor)`, as `1 − 10^(−r/R_FLAG)` (a residual of `R_FLAG` spreads scores `FLAG`).
    pub fn score_numeric(
        &self,
        x: &[f64],
        codes: &[u32],
        y: f64,
        skip: Option<(u32, u64)>,
        q: &mut Query,
    ) -> Option<f64> {
        if !y.is_finite() {
            return None;
        }
        self.neighbours(x, codes, skip, None, q);
        let mut t: Vec<f64> = q.best[..q.found]
            .iter()
            .map(|&k| self.targets[key_index(k) as usize])
            .filter(|v| v.is_finite())
            .collect();
        if t.len() < 3 {
            return None;
        }
        let m = median(&mut t);
        let s = robust_spread(&mut t).max(self.spread_floor);
        let r = if s > 0.0 {
            (y - m).abs() / s
        } else if y == m {
            0.0
        } else {
            f64::INFINITY
        };
        Some(residual_score(r))
    }

    /// Project one encoded row.
    fn project(&self, x: &[f64], codes: &[u32], y: &mut Point) {
        *y = self.offset;
        for t in &self.terms {
            match t {
                Term::Value { feature, weights } => {
                    let v = x[*feature].clamp(-CLIP, CLIP) as f32;
                    for (a, w) in y.iter_mut().zip(weights) {
                        *a += w * v;
                    }
                }
                Term::Lookup { feature, table } => {
                    if let Some(w) = table.get(codes[*feature] as usize) {
                        for (a, w) in y.iter_mut().zip(w) {
                            *a += w;
                        }
                    }
                }
            }
        }
    }

    /// The neighbours of one encoded row (indices into the reference points, nearest first,
    /// ties by index), skipping the point with provenance `skip`.
    fn neighbours(
        &self,
        x: &[f64],
        codes: &[u32],
        skip: Option<(u32, u64)>,
        early: Option<u16>,
        q: &mut Query,
    ) {
        self.project(x, codes, &mut q.y);
        self.search(skip, early, q);
    }

    /// The label issue score of a row of class `class`: the weighted share of its neighbours
    /// carrying another label, leaving out the reference point with provenance `skip` (the
    /// row itself). `None` for an unknown class.
    pub fn score(
        &self,
        x: &[f64],
        codes: &[u32],
        class: u16,
        skip: Option<(u32, u64)>,
        q: &mut Query,
    ) -> Option<f64> {
        if class == NO_CLASS {
            return None;
        }
        self.neighbours(x, codes, skip, Some(class), q);
        Some(self.disagreement(&q.best[..q.found], class))
    }

    /// `score` for every row of a batch, into `out`.
    pub fn score_batch(&self, rows: &BatchRows<'_>, q: &mut Query, out: &mut Vec<Option<f64>>) {
        out.clear();
        for (i, &c) in rows.class.iter().enumerate() {
            let skip = self.self_reference.then(|| rows.provenance(i));
            let (xi, ci) = rows.row(i);
            out.push(if self.is_numeric() {
                let y = rows.target.get(i).copied().unwrap_or(f64::NAN);
                self.score_numeric(xi, ci, y, skip, q)
            } else {
                self.score(xi, ci, c, skip, q)
            });
        }
    }

    /// The weighted share of `best` carrying another class than `class`.
    fn disagreement(&self, best: &[u64], class: u16) -> f64 {
        let (mut own, mut all) = (0.0, 0.0);
        for &k in best {
            let c = self.class[key_index(k) as usize];
            let w = self.vote.get(c as usize).copied().unwrap_or(0.0);
            all += w;
            if c == class {
                own += w;
            }
        }
        if all > 0.0 { 1.0 - own / all } else { 0.0 }
    }

    /// The share of a row's exact `K` nearest neighbours (in the projected space, by brute
    /// force) that the search finds, averaged over `rows` (for the report on the search).
    pub fn recall_at_k(&self, x: &[f64], codes: &[u32], d: usize, rows: &[usize]) -> f64 {
        let mut q = Query::default();
        let mut found = 0usize;
        for &i in rows {
            let (xi, ci) = (nth_row(x, d, i), nth_row(codes, d, i));
            self.neighbours(xi, ci, None, None, &mut q);
            let mut all: Vec<f32> = self.points.iter().map(|p| distance(p, &q.y)).collect();
            all.sort_by(f32::total_cmp);
            let kth = all[K.min(all.len()) - 1];
            // Ties at the K-th distance count as found.
            found += q.neighbours().filter(|&(dist, _)| dist <= kth).count();
        }
        found as f64 / (rows.len() * K).max(1) as f64
    }
}

/// The first `k` principal components (unit vectors, by decreasing variance) of a `n × n`
/// covariance matrix, by power iteration with deflation (deterministic start). Components with
/// no variance left are dropped. `cov` is deflated in place.
fn principal_components(cov: &mut [f64], n: usize, k: usize) -> Vec<Vec<f64>> {
    let mut out = Vec::new();
    let trace: f64 = (0..n).map(|i| cov[i * n + i]).sum();
    for c in 0..k {
        let mut v: Vec<f64> = (0..n)
            .map(|i| 1.0 + ((i * 7 + c * 13) % 11) as f64 / 11.0)
            .collect();
        let mut lambda = 0.0;
        for _ in 0..500 {
            let mut w = vec![0.0; n];
            for i in 0..n {
                let row = &cov[i * n..(i + 1) * n];
                w[i] = row.iter().zip(&v).map(|(a, b)| a * b).sum();
            }
            let norm = w.iter().map(|a| a * a).sum::<f64>().sqrt();
            if norm <= 1e-12 * trace.max(1e-300) {
                lambda = 0.0;
                break;
            }
            for a in w.iter_mut() {
                *a /= norm;
            }
            let delta: f64 = w.iter().zip(&v).map(|(a, b)| (a - b).abs()).sum();
            v = w;
            lambda = norm;
            if delta < 1e-10 {
                break;
            }
        }
        if lambda <= 1e-9 * trace {
            break;
        }
        for i in 0..n {
            for j in 0..n {
                cov[i * n + j] -= lambda * v[i] * v[j];
            }
        }
        out.push(v);
    }
    out
}

/// The median of `v` (reordered; NaN-free, non-empty).
fn median(v: &mut [f64]) -> f64 {
    v.sort_unstable_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// 1.4826 × the median absolute deviation of `v` (0 when empty): the standard deviation of a
/// normal sample, robust to outliers.
pub(crate) fn robust_spread(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let m = median(v);
    let mut dev: Vec<f64> = v.iter().map(|x| (x - m).abs()).collect();
    1.4826 * median(&mut dev)
}

/// The scale of a target's values: 1.4826 × MAD, or, when more than half of them are equal
/// (a zero-heavy demand, a top-coded price), the spread of its 5th to 95th percentile as a
/// normal's (÷ 3.29), else its range ÷ 6 (0 only for a constant).
fn target_scale(v: &mut [f64]) -> f64 {
    let mad = robust_spread(v);
    if mad > 0.0 || v.is_empty() {
        return mad;
    }
    v.sort_unstable_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    let inner = (at(0.95) - at(0.05)) / 3.29;
    if inner > 0.0 {
        inner
    } else {
        (v[v.len() - 1] - v[0]) / 6.0
    }
}

/// The label issue score of a robust residual `r` (in [0, 1], `FLAG` at `R_FLAG`).
pub fn residual_score(r: f64) -> f64 {
    1.0 - 10f64.powf(-r / R_FLAG)
}

#[cfg(test)]
mod tests {
    use super::tree::{key, key_dist};
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Few points (fewer than the leaves a query may read hold): the search is exact. Many
    /// points in three dimensions: still (nearly) exact.
    #[test]
    fn search_is_exact_on_few_points_and_nearly_so_on_many() {
        let e = Encoder::numeric(3);
        for (n, min_recall) in [(150, 1.0), (5000, 0.99)] {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(n as u64);
            let x: Vec<f64> = (0..n * 3)
                .map(|_| rng.random::<f64>() * 4.0 - 2.0)
                .collect();
            let codes = vec![0u32; n * 3];
            let class: Vec<u16> = (0..n).map(|i| (i % 2) as u16).collect();
            let prov: Vec<(u32, u64)> = (0..n).map(|i| (0, i as u64)).collect();
            let m =
                KnnModel::fit(&e, &x, &codes, &class, None, &prov, vec![1.0, 1.0], false).unwrap();
            let rows: Vec<usize> = (0..n).step_by(7).collect();
            let recall = m.recall_at_k(&x, &codes, 3, &rows);
            assert!(recall >= min_recall, "{n}: {recall}");
        }
    }

    /// Twenty points in two dimensions: ten at the origin, spread 0.01 apart along the first
    /// axis, and ten likewise around (4, 4).
    fn two_clusters() -> Vec<f64> {
        (0..20)
            .flat_map(|i| {
                let base = if i < 10 { 0.0 } else { 4.0 };
                [base + 0.01 * i as f64, base]
            })
            .collect()
    }

    /// The score by hand: ten reference points of class 0 at one place and ten of class 1 far
    /// away; class 1 votes three times as much (a sample that holds a third of its class).
    #[test]
    fn score_is_the_weighted_share_of_other_labels() {
        let e = Encoder::numeric(2);
        let x = two_clusters();
        let class: Vec<u16> = (0..20).map(|i| u16::from(i >= 10)).collect();
        let codes = vec![0u32; 40];
        let prov: Vec<(u32, u64)> = (0..20).map(|i| (0, i as u64)).collect();
        let m = KnnModel::fit(&e, &x, &codes, &class, None, &prov, vec![1.0, 3.0], false).unwrap();
        let mut q = Query::default();
        // At the class-0 cluster: all 10 neighbours are class 0.
        assert_eq!(m.score(&[0.05, 0.0], &[0, 0], 1, None, &mut q), Some(1.0));
        assert_eq!(m.score(&[0.05, 0.0], &[0, 0], 0, None, &mut q), Some(0.0));
        // Leaving one class-0 point out brings in the nearest class-1 point: 1 of weight 3
        // against 9 of weight 1.
        let s = m
            .score(&[0.05, 0.0], &[0, 0], 0, Some((0, 0)), &mut q)
            .unwrap();
        assert!((s - 3.0 / 12.0).abs() < 1e-12, "{s}");
        assert_eq!(m.score(&[0.05, 0.0], &[0, 0], NO_CLASS, None, &mut q), None);
    }

    /// A numeric target's score by hand: a cluster of ten points with targets 1..=10 (median
    /// 5.5, MAD 2.5: 1.4826 × 2.5 = 3.7065) and ten far away with targets near 110. The floor,
    /// a quarter of the twenty targets' own 1.4826 × MAD (54.5), is 20.2 and wins: a row at
    /// the cluster with target 20.5 lies r = 15 / 20.2 spreads away, score 1 − 10^(−r/4); with
    /// target 5.5, score 0.
    #[test]
    fn numeric_score_is_the_robust_residual_by_hand() {
        let e = Encoder::numeric(2);
        let x = two_clusters();
        let targets: Vec<f64> = (0..20)
            .map(|i| {
                if i < 10 {
                    (i + 1) as f64
                } else {
                    100.0 + i as f64
                }
            })
            .collect();
        let class = vec![0u16; 20];
        let codes = vec![0u32; 40];
        let prov: Vec<(u32, u64)> = (0..20).map(|i| (0, i as u64)).collect();
        let m = KnnModel::fit(
            &e,
            &x,
            &codes,
            &class,
            Some(&targets),
            &prov,
            vec![1.0],
            false,
        )
        .unwrap();
        assert!(m.is_numeric() && m.check().is_ok());
        // All twenty: median 60.5; absolute deviations 50.5..59.5 and 49.5..58.5, median 54.5.
        assert!(
            (m.spread_floor - 0.25 * 1.4826 * 54.5).abs() < 1e-9,
            "{}",
            m.spread_floor
        );
        let mut q = Query::default();
        let spread = (1.4826 * 2.5f64).max(m.spread_floor);
        let s = m
            .score_numeric(&[0.05, 0.0], &[0, 0], 20.5, None, &mut q)
            .unwrap();
        let want = 1.0 - 10f64.powf(-(15.0 / spread) / R_FLAG);
        assert!((s - want).abs() < 1e-12, "{s} against {want}");
        let s = m
            .score_numeric(&[0.05, 0.0], &[0, 0], 5.5, None, &mut q)
            .unwrap();
        assert_eq!(s, 0.0);
        assert_eq!(
            m.score_numeric(&[0.05, 0.0], &[0, 0], f64::NAN, None, &mut q),
            None
        );
        // A residual of R_FLAG spreads scores FLAG.
        assert!((residual_score(R_FLAG) - FLAG).abs() < 1e-12);
    }

    /// Packed keys order like `(distance, index)` pairs for every non-negative distance: zero,
    /// subnormals, ties, large values and infinity.
    #[test]
    fn keys_order_like_distance_index_pairs() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let special = [
            0.0f32,
            f32::MIN_POSITIVE / 4.0,
            f32::MIN_POSITIVE,
            1.0,
            1e30,
            f32::INFINITY,
        ];
        let mut pairs: Vec<(f32, u32)> = Vec::new();
        for &d in &special {
            pairs.extend([(d, 0), (d, 1), (d, u32::MAX)]);
        }
        for _ in 0..500 {
            let d = rng.random::<f32>() * 10f32.powi(rng.random_range(-40..38));
            pairs.push((d, rng.random()));
        }
        for a in &pairs {
            assert_eq!((key_dist(key(a.0, a.1)), key_index(key(a.0, a.1))), *a);
            for b in &pairs {
                assert_eq!(
                    key(a.0, a.1).cmp(&key(b.0, b.1)),
                    a.partial_cmp(b).unwrap(),
                    "{a:?} {b:?}"
                );
            }
        }
    }

    /// A diagonal covariance: the components are the axes by decreasing variance.
    #[test]
    fn principal_components_of_a_diagonal_matrix() {
        let mut cov = vec![1.0, 0.0, 0.0, 0.0, 9.0, 0.0, 0.0, 0.0, 4.0];
        let pcs = principal_components(&mut cov, 3, 3);
        assert_eq!(pcs.len(), 3);
        let axis = |v: &[f64]| {
            v.iter()
                .enumerate()
                .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
                .unwrap()
                .0
        };
        assert_eq!([axis(&pcs[0]), axis(&pcs[1]), axis(&pcs[2])], [1, 2, 0]);
        for v in &pcs {
            assert!((v.iter().map(|a| a * a).sum::<f64>() - 1.0).abs() < 1e-9);
        }
    }
}
