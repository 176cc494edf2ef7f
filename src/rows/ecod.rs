//! ECOD, "Unsupervised Outlier Detection Using Empirical Cumulative Distribution Functions"
//! (Li, Zhao, Hu, Botta, Ionescu & Chen, IEEE TKDE 2022), written here (DESIGN.md).
//!
//! For each feature the reference distribution (the baseline's sample, weighted back to the
//! baseline's label mix) gives a left tail probability F(x) = P(X ≤ x) and a right tail
//! probability P(X ≥ x). A row's outlyingness in a feature is, as in PyOD's `ECOD` (which
//! ADBench ran): with U_l = −ln P(X ≤ x) and U_r = −ln P(X ≥ x), the larger of the two when the
//! feature's skewness is non-zero, and U_l + U_r when it is zero (PyOD combines
//! U_skew = U_l·(−sign(s − 1)) + U_r·sign(s + 1), with s the sign of the skewness, with
//! max(U_l, U_r)). The row's score is the sum over features, and the per-feature terms say which
//! features made a row extreme.
//!
//! Two differences from PyOD, for streaming: PyOD recomputes the ECDF on the training rows and
//! the scored rows together; here the reference is fixed and a scored value counts as one more
//! reference row, F(x) = (W(X ≤ x) + w̄) / (W + w̄) with w̄ the mean weight, which is what PyOD
//! gives a single new row. And a new value past the reference's minimum or maximum gets the
//! extreme's tail probability times exp(−distance / θ), θ the mean excess of the reference's
//! extreme 1% (an exponential tail, as in peaks-over-threshold models), instead of the same
//! "rarest possible" probability however near or far it is: a baseline whose ages stop at 94
//! must not make every 95-year-old as extreme as a value 20 times the maximum. Missing values
//! (NaN) add nothing. `reports/adbench.md` compares the result with PyOD on the ADBench sets.

/// References with at most this many distinct values are looked up exactly.
const EXACT_MAX: usize = 8192;
/// Above it, the weight within this share of either end is kept exactly ...
const TAIL_EXACT: f64 = 0.01;
/// ... and the bulk between at this many evenly spaced levels of the CDF, interpolated.
const BULK_LEVELS: f64 = 1024.0;

/// One feature's reference distribution, as a lookup table of distinct values with the weight
/// at or below each (`le`) and strictly below (`lt`). With more than `EXACT_MAX` distinct values
/// (the tool's 100,000-row baseline samples), the table keeps every value in the extreme 1% of
/// the weight on each side, and in the bulk only the values where the CDF crosses a multiple of
/// 1/1024 (and any value holding that much weight itself); between two kept values that are not
/// neighbours the CDF is interpolated linearly. So the tails, which decide ECOD's scores, are
/// exact, and in the bulk F is off by less than 1/1024: a term −ln F off by less than 0.05 where
/// F ≥ 2% (`bulk_interpolation_is_close` checks it). The table is 3,000 values for 100,000
/// distinct ones: it stays in the L1 cache while a batch is scored feature by feature.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Ecdf {
    vals: Vec<f64>,
    le: Vec<f64>,
    lt: Vec<f64>,
    /// Index of each kept value among all distinct values (adjacent kept values need no
    /// interpolation).
    orig: Vec<u32>,
    /// A uniform grid over `[vals[0], vals[last]]`: `grid[b]` is the number of kept values
    /// below the start of cell b, so a lookup searches one cell, not the whole table.
    grid: Vec<u32>,
    grid_step: f64,
    /// For a new value (one more reference row of the mean weight), per kept value:
    /// −ln P(X ≤ v), −ln P(X < v), −ln P(X ≥ v), −ln P(X > v), so scoring needs no logarithm.
    neg_ln: Vec<[f64; 4]>,
    total: f64,
    mean_weight: f64,
    /// Sign of the weighted sample skewness (−1, 0, 1).
    skew_sign: f64,
    /// Scales of the exponential tails past the reference's minimum and maximum.
    theta_left: f64,
    theta_right: f64,
}

impl Ecdf {
    /// From (value, weight) pairs; non-finite values and non-positive weights are ignored.
    pub fn new(mut pairs: Vec<(f64, f64)>) -> Ecdf {
        pairs.retain(|(v, w)| v.is_finite() && *w > 0.0);
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total: f64 = pairs.iter().map(|p| p.1).sum();
        let mut acc = 0.0;
        let mut values = Vec::with_capacity(pairs.len());
        let mut cum = Vec::with_capacity(pairs.len());
        for (v, w) in &pairs {
            acc += w;
            values.push(*v);
            cum.push(acc);
        }
        let mean_weight = if pairs.is_empty() {
            1.0
        } else {
            total / pairs.len() as f64
        };
        let (theta_left, theta_right) = tail_scales(&values, &cum, total);
        // Distinct values with the weight at or below and strictly below each.
        let (mut dv, mut dle, mut dlt) = (Vec::new(), Vec::new(), Vec::new());
        for (i, &v) in values.iter().enumerate() {
            if dv.last() == Some(&v) {
                *dle.last_mut().unwrap() = cum[i];
            } else {
                dlt.push(if i == 0 { 0.0 } else { cum[i - 1] });
                dv.push(v);
                dle.push(cum[i]);
            }
        }
        let n = dv.len();
        let keep = |i: usize| -> bool {
            if n <= EXACT_MAX || i == 0 || i + 1 == n {
                return true;
            }
            let tail = TAIL_EXACT * total;
            let step = total / BULK_LEVELS;
            dlt[i] <= tail
                || total - dle[i] <= tail
                || (dle[i] / step).floor() != (dlt[i] / step).floor()
        };
        let (mut vals, mut le, mut lt, mut orig) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            if keep(i) {
                vals.push(dv[i]);
                le.push(dle[i]);
                lt.push(dlt[i]);
                orig.push(i as u32);
            }
        }
        let (grid, grid_step) = build_grid(&vals);
        let d = total + mean_weight;
        let nl = |w: f64| -((w + mean_weight) / d).ln();
        let neg_ln = (0..vals.len())
            .map(|k| [nl(le[k]), nl(lt[k]), nl(total - lt[k]), nl(total - le[k])])
            .collect();
        Ecdf {
            neg_ln,
            skew_sign: skew_sign(&pairs, total),
            theta_left,
            theta_right,
            vals,
            le,
            lt,
            orig,
            grid,
            grid_step,
            total,
            mean_weight,
        }
    }

    /// The number of kept values `≤ x`: a search of `x`'s grid cell, checked at its ends (a
    /// rounding at a cell boundary falls back to the whole table).
    #[inline]
    fn count_le(&self, x: f64) -> usize {
        let n = self.vals.len();
        if n == 0 || x < self.vals[0] {
            return 0;
        }
        if x >= self.vals[n - 1] {
            return n;
        }
        let cells = self.grid.len() - 1;
        if self.grid_step > 0.0 {
            let b = (((x - self.vals[0]) / self.grid_step) as usize).min(cells - 1);
            let (a, z) = (self.grid[b] as usize, self.grid[b + 1] as usize);
            let k = a + self.vals[a..z].partition_point(|&v| v <= x);
            let below_ok = a == 0 || self.vals[a - 1] <= x;
            let above_ok = z == n || self.vals[z] > x;
            if below_ok && above_ok {
                return k;
            }
        }
        self.vals.partition_point(|&v| v <= x)
    }

    /// The weighted share of reference values `≤ x` (0 for an empty reference).
    pub fn cdf(&self, x: f64) -> f64 {
        if self.total <= 0.0 || x.is_nan() {
            return 0.0;
        }
        (self.tails(x).0 / self.total).min(1.0)
    }

    pub fn skew_sign(&self) -> f64 {
        self.skew_sign
    }

    /// Weight of reference values `≤ x` and `≥ x` (see the type's documentation).
    #[inline]
    fn tails(&self, x: f64) -> (f64, f64) {
        let j = self.count_le(x);
        if j == 0 {
            return (0.0, self.total);
        }
        let k = j - 1;
        if self.vals[k] == x {
            return (self.le[k], self.total - self.lt[k]);
        }
        if k + 1 == self.vals.len() || self.orig[k + 1] == self.orig[k] + 1 {
            return (self.le[k], self.total - self.le[k]);
        }
        // Between two kept values with others between them: interpolate the CDF.
        let (a, b) = (self.vals[k], self.vals[k + 1]);
        let f = self.le[k] + (self.lt[k + 1] - self.le[k]) * ((x - a) / (b - a));
        (f, self.total - f)
    }

    /// The feature's term of the ECOD score for a new value `x` (0 for NaN or an empty
    /// reference): `x` counts as one more reference row of the mean weight.
    #[inline]
    pub fn outlyingness(&self, x: f64) -> f64 {
        if !self.inside(x) {
            return self.term(x, self.mean_weight);
        }
        self.outlyingness_at(x, self.count_le(x) - 1)
    }

    /// Whether `x` lies within the reference's range (not NaN), where `outlyingness` reads the
    /// table.
    #[inline]
    fn inside(&self, x: f64) -> bool {
        let n = self.vals.len();
        n > 0 && x >= self.vals[0] && x <= self.vals[n - 1]
    }

    /// `outlyingness` of an `x` inside the range, given `k`, the last kept value `≤ x`.
    #[inline]
    fn outlyingness_at(&self, x: f64, k: usize) -> f64 {
        // The precomputed logarithms, interpolated where the table skips values (−ln F moves
        // by under 10% across such a gap, so the chord is within 0.001).
        let a = &self.neg_ln[k];
        let (ul, ur) = if self.vals[k] == x {
            (a[0], a[2])
        } else if self.orig[k + 1] == self.orig[k] + 1 {
            (a[0], a[3])
        } else {
            let b = &self.neg_ln[k + 1];
            let t = (x - self.vals[k]) / (self.vals[k + 1] - self.vals[k]);
            (a[0] + t * (b[1] - a[0]), a[3] + t * (b[2] - a[3]))
        };
        if self.skew_sign == 0.0 {
            ul + ur
        } else {
            ul.max(ur)
        }
    }

    /// `outlyingness` of the values `data[j]`, `data[j + stride]`, ... into the same places of
    /// `out`: the same numbers as one value at a time, but `LANES` values search the table in
    /// step (a branch-free binary search of the same length for all), so their memory reads
    /// overlap instead of each waiting on the one before.
    pub fn outlyingness_strided(&self, data: &[f64], stride: usize, j: usize, out: &mut [f64]) {
        const LANES: usize = 8;
        let rows = data.len() / stride;
        let n = self.vals.len();
        let mut i = 0;
        if n > 0 {
            let vals = &self.vals[..];
            while i + LANES <= rows {
                let xs: [f64; LANES] = std::array::from_fn(|r| data[(i + r) * stride + j]);
                // Lanes outside the range (or NaN) search too, harmlessly: their term does not
                // read the table at the search.
                let mut base = [0usize; LANES];
                let mut size = n;
                while size > 1 {
                    let half = size / 2;
                    for r in 0..LANES {
                        let mid = base[r] + half;
                        base[r] = std::hint::select_unpredictable(vals[mid] <= xs[r], mid, base[r]);
                    }
                    size -= half;
                }
                for r in 0..LANES {
                    let x = xs[r];
                    out[(i + r) * stride + j] = if self.inside(x) {
                        // `base` is the last value ≤ x (x ≥ vals[0] here).
                        self.outlyingness_at(x, base[r])
                    } else {
                        self.term(x, self.mean_weight)
                    };
                }
                i += LANES;
            }
        }
        for i in i..rows {
            out[i * stride + j] = self.outlyingness(data[i * stride + j]);
        }
    }

    /// The term for a value that is already one of the reference rows (PyOD's training scores).
    pub fn outlyingness_in_reference(&self, x: f64) -> f64 {
        self.term(x, 0.0)
    }

    fn term(&self, x: f64, extra: f64) -> f64 {
        if x.is_nan() || self.vals.is_empty() {
            return 0.0;
        }
        let (lo, hi) = (self.vals[0], self.vals[self.vals.len() - 1]);
        // Past the reference's range a new value is not simply "as rare as can be": its tail
        // probability is the extreme value's, decayed exponentially with the distance (in units
        // of the tail's mean excess), so 95 past a maximum of 94 reads like 94, and 10× the
        // maximum reads as far rarer.
        let (x_in, past) = if extra > 0.0 && x > hi {
            (hi, (x - hi) / self.theta_right)
        } else if extra > 0.0 && x < lo {
            (lo, (lo - x) / self.theta_left)
        } else {
            (x, 0.0)
        };
        let (le, ge) = self.tails(x_in);
        let d = self.total + extra;
        let s = self.skew_sign;
        if past == 0.0 {
            // One logarithm: max(U_l, U_r) = −ln min(P_l, P_r); U_l + U_r = −ln(P_l·P_r).
            let (pl, pr) = ((le + extra) / d, (ge + extra) / d);
            return if s == 0.0 {
                -(pl * pr).ln()
            } else {
                -(pl.min(pr)).ln()
            };
        }
        let mut ul = -((le + extra) / d).ln();
        let mut ur = -((ge + extra) / d).ln();
        if x > hi {
            ur += past;
        } else if x < lo {
            ul += past;
        }
        let u_skew = ul * -(s - 1.0).signum_or_zero() + ur * (s + 1.0).signum_or_zero();
        ul.max(ur).max(u_skew)
    }
}

/// Cells of the lookup grid: about one kept value per cell when the values are spread evenly.
fn build_grid(vals: &[f64]) -> (Vec<u32>, f64) {
    let n = vals.len();
    if n < 2 {
        return (vec![0, n as u32], 0.0);
    }
    let (lo, hi) = (vals[0], vals[n - 1]);
    let cells = n.next_power_of_two().clamp(16, 4096);
    let step = (hi - lo) / cells as f64;
    if !(step > 0.0 && step.is_finite()) {
        return (vec![0, n as u32], 0.0);
    }
    let mut grid = Vec::with_capacity(cells + 1);
    for b in 0..cells {
        let start = lo + b as f64 * step;
        grid.push(vals.partition_point(|&v| v < start) as u32);
    }
    grid.push(n as u32);
    (grid, step)
}

/// The mean excess of the values past the 99th (else the 90th) percentile on each side: the
/// scale of an exponential tail fitted to the reference's extremes (peaks over a threshold).
/// Falls back to a tenth of the range, and to the smallest positive number for a constant.
fn tail_scales(values: &[f64], cum: &[f64], total: f64) -> (f64, f64) {
    if values.is_empty() || total <= 0.0 {
        return (f64::MIN_POSITIVE, f64::MIN_POSITIVE);
    }
    // The upper threshold leaves the top q of the weight above it; the lower one the bottom q
    // below it.
    let upper = |q: f64| {
        values[cum
            .partition_point(|&c| c < (1.0 - q) * total)
            .min(values.len() - 1)]
    };
    let lower = |q: f64| {
        values[cum
            .partition_point(|&c| c <= q * total)
            .min(values.len() - 1)]
    };
    let excess = |pick: &dyn Fn(f64) -> Option<f64>| {
        let (mut s, mut w) = (0.0, 0.0);
        for (i, &v) in values.iter().enumerate() {
            if let Some(e) = pick(v) {
                let wi = cum[i] - if i == 0 { 0.0 } else { cum[i - 1] };
                s += wi * e;
                w += wi;
            }
        }
        if w > 0.0 { s / w } else { 0.0 }
    };
    let range = values[values.len() - 1] - values[0];
    let side = |upper_side: bool| {
        for q in [0.01, 0.1] {
            let t = if upper_side { upper(q) } else { lower(q) };
            let e = if upper_side {
                excess(&|v| (v > t).then_some(v - t))
            } else {
                excess(&|v| (v < t).then_some(t - v))
            };
            if e > 0.0 && e.is_finite() {
                return e;
            }
        }
        if range > 0.0 && range.is_finite() {
            range / 10.0
        } else {
            f64::MIN_POSITIVE
        }
    };
    (side(false), side(true))
}

/// `f64::signum` gives ±1 for ±0; numpy's `sign` gives 0.
trait SignumOrZero {
    fn signum_or_zero(self) -> f64;
}

impl SignumOrZero for f64 {
    fn signum_or_zero(self) -> f64 {
        if self == 0.0 { 0.0 } else { self.signum() }
    }
}

/// Sign of the weighted (biased, as scipy's default) skewness m3 / m2^1.5; 0 when the values
/// are constant.
fn skew_sign(pairs: &[(f64, f64)], total: f64) -> f64 {
    if total <= 0.0 {
        return 0.0;
    }
    let mean = pairs.iter().map(|(v, w)| v * w).sum::<f64>() / total;
    let (mut m2, mut m3) = (0.0, 0.0);
    for (v, w) in pairs {
        let d = v - mean;
        m2 += w * d * d;
        m3 += w * d * d * d;
    }
    m2 /= total;
    m3 /= total;
    // Relative to the spread, so that rounding in a symmetric or constant column reads as 0.
    if m2 <= f64::EPSILON * mean.abs().max(1.0).powi(2) {
        return 0.0;
    }
    let g = m3 / m2.powf(1.5);
    if g.abs() < 1e-12 { 0.0 } else { g.signum() }
}

/// A fitted ECOD: one reference distribution per feature.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Ecod {
    pub features: Vec<Ecdf>,
}

impl Ecod {
    /// From a row-major reference matrix and one weight per row.
    pub fn fit(data: &[f64], dim: usize, weights: &[f64]) -> Ecod {
        let n = weights.len();
        assert_eq!(data.len(), n * dim, "matrix shape");
        use rayon::prelude::*;
        let features = (0..dim)
            .into_par_iter()
            .map(|j| Ecdf::new((0..n).map(|i| (data[i * dim + j], weights[i])).collect()))
            .collect();
        Ecod { features }
    }

    /// A row's score, writing each feature's term into `terms`.
    pub fn score_row(&self, row: &[f64], terms: &mut [f64]) -> f64 {
        let mut s = 0.0;
        for ((f, &x), t) in self.features.iter().zip(row).zip(terms.iter_mut()) {
            *t = f.outlyingness(x);
            s += *t;
        }
        s
    }

    /// Scores of the reference rows themselves (what PyOD's `decision_scores_` holds).
    pub fn reference_scores(&self, data: &[f64]) -> Vec<f64> {
        let dim = self.features.len().max(1);
        data.chunks(dim)
            .map(|row| {
                self.features
                    .iter()
                    .zip(row)
                    .map(|(f, &x)| f.outlyingness_in_reference(x))
                    .sum()
            })
            .collect()
    }

    /// Scores of a batch (row-major, `dim` columns) into `scores`, each row's per-feature terms
    /// into `terms` (row-major too). Feature by feature, so one feature's table stays in cache.
    pub fn score_batch(&self, data: &[f64], scores: &mut Vec<f64>, terms: &mut Vec<f64>) {
        let d = self.features.len().max(1);
        terms.clear();
        terms.resize(data.len(), 0.0);
        for (j, f) in self.features.iter().enumerate() {
            f.outlyingness_strided(data, d, j, terms);
        }
        scores.clear();
        scores.extend(terms.chunks(d).map(|t| t.iter().sum::<f64>()));
    }

    /// Scores of the rows of a row-major matrix, in parallel.
    pub fn score(&self, data: &[f64]) -> Vec<f64> {
        use rayon::prelude::*;
        let dim = self.features.len().max(1);
        data.par_chunks(dim)
            .map_init(|| vec![0.0; dim], |terms, row| self.score_row(row, terms))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_and_terms_by_hand() {
        // Reference 1, 2, 2, 3, 10 (weight 1 each): right-skewed.
        let e = Ecdf::new(
            [1.0, 2.0, 2.0, 3.0, 10.0]
                .iter()
                .map(|&v| (v, 1.0))
                .collect(),
        );
        assert_eq!(e.skew_sign(), 1.0);
        assert_eq!(e.tails(2.0), (3.0, 4.0));
        assert_eq!(e.tails(0.0), (0.0, 5.0));
        // x = 10: P(≤) = (5 + 1)/6, P(≥) = (1 + 1)/6; the term is max(U_l, U_r) = ln 3.
        assert!((e.outlyingness(10.0) - 3f64.ln()).abs() < 1e-12);
        // x = 0 is 1 below the minimum. No value lies past the 1% or 10% quantiles, so the tail
        // scale falls back to a tenth of the range, 0.9: U_l = −ln((1 + 1)/6) + 1/0.9 (the left
        // tail counts even for a right-skewed feature).
        assert!((e.outlyingness(0.0) - (3f64.ln() + 1.0 / 0.9)).abs() < 1e-12);
        // x = 12, 2 above the maximum: U_r = −ln((1 + 1)/6) + 2/0.9.
        assert!((e.outlyingness(12.0) - (3f64.ln() + 2.0 / 0.9)).abs() < 1e-12);
        // In the reference's own scores nothing is extrapolated.
        assert!((e.outlyingness_in_reference(1.0) - 5f64.ln()).abs() < 1e-12);
        assert_eq!(e.outlyingness(f64::NAN), 0.0);
    }

    #[test]
    fn tail_scale_is_the_mean_excess_of_the_extreme_percent() {
        // 0..=999: the top 1% (values > 989, the 99th percentile) are 990..=999, mean excess
        // over 989 of (1 + … + 10)/10 = 5.5; the same below 10 on the left.
        let e = Ecdf::new((0..1000).map(|v| (v as f64, 1.0)).collect());
        assert!((e.theta_right - 5.5).abs() < 1e-12, "{}", e.theta_right);
        assert!((e.theta_left - 5.5).abs() < 1e-12, "{}", e.theta_left);
        // One step past the maximum costs 1/5.5 more than the maximum itself.
        let at_max = e.outlyingness(999.0);
        assert!((e.outlyingness(1000.0) - at_max - 1.0 / 5.5).abs() < 1e-12);
    }

    #[test]
    fn bulk_interpolation_is_close() {
        // 100,000 distinct values, skewed (a log-normal by inverse transform of a fixed grid,
        // shuffled by a stride), with an atom: 5% of the weight on 0.
        let mut pairs: Vec<(f64, f64)> = (0..100_000u64)
            .map(|i| {
                let u = ((i * 7919) % 100_000) as f64 / 100_000.0 + 0.5e-5;
                // A rough normal quantile (logit scaled) is enough for a skewed shape.
                ((u / (1.0 - u)).ln() * 0.6).exp()
            })
            .map(|v| (v, 1.0))
            .collect();
        pairs.extend((0..5_000).map(|_| (0.0, 1.0)));
        let e = Ecdf::new(pairs.clone());
        assert!(e.vals.len() < 4_000, "{}", e.vals.len());
        let mut sorted: Vec<f64> = pairs.iter().map(|p| p.0).collect();
        sorted.sort_by(f64::total_cmp);
        let total = sorted.len() as f64;
        let exact = |x: f64| {
            let le = sorted.partition_point(|&v| v <= x) as f64;
            let lt = sorted.partition_point(|&v| v < x) as f64;
            (le, total - lt)
        };
        let mut worst: f64 = 0.0;
        for k in 0..20_000 {
            let x =
                sorted[(k * 5) % sorted.len()] * 1.000_000_1 + if k % 2 == 0 { 0.0 } else { 1e-9 };
            let (le, ge) = e.tails(x);
            let (le0, ge0) = exact(x);
            assert_eq!(
                e.count_le(x),
                e.vals.partition_point(|&v| v <= x),
                "x = {x}"
            );
            // The precomputed logarithms agree with computing them.
            let slow = e.term(x, e.mean_weight);
            assert!((e.outlyingness(x) - slow).abs() < 2e-3, "x = {x}");
            let f = le0 / total;
            if f <= 0.01 || ge0 / total <= 0.01 {
                // The tails are exact.
                assert_eq!((le, ge), (le0, ge0), "x = {x}");
            }
            // F off by less than 1/1024 everywhere, so −ln F by < 0.05 where F ≥ 2%.
            assert!((le - le0).abs() / total < 1.0 / 1024.0 + 1e-12, "x = {x}");
            if f >= 0.02 && ge0 / total >= 0.02 {
                worst = worst
                    .max(((le / le0).ln()).abs())
                    .max(((ge / ge0).ln()).abs());
            }
        }
        assert!(worst < 0.05, "{worst}");
        // The atom is exact.
        assert_eq!(e.tails(0.0), exact(0.0));
    }

    #[test]
    fn symmetric_feature_adds_both_tails() {
        let e = Ecdf::new([1.0, 2.0, 3.0].iter().map(|&v| (v, 1.0)).collect());
        assert_eq!(e.skew_sign(), 0.0);
        // x = 2: P(≤) = 3/4, P(≥) = 3/4 → U_l + U_r = 2 ln(4/3).
        assert!((e.outlyingness(2.0) - 2.0 * (4.0f64 / 3.0).ln()).abs() < 1e-12);
    }

    #[test]
    fn weights_count_like_repeated_rows() {
        let a = Ecdf::new(vec![(1.0, 2.0), (5.0, 1.0), (9.0, 1.0)]);
        let b = Ecdf::new(vec![(1.0, 1.0), (1.0, 1.0), (5.0, 1.0), (9.0, 1.0)]);
        assert_eq!(a.tails(5.0), b.tails(5.0));
        assert_eq!(a.skew_sign(), b.skew_sign());
    }

    #[test]
    fn strided_scoring_equals_one_value_at_a_time() {
        use rand::{Rng, SeedableRng};
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        // Three features: a continuous one (table with tails and an interpolated bulk), a
        // heavy-tailed one, and one with few distinct values (exact table), weighted unevenly.
        let n = 20_000;
        let cont: Vec<(f64, f64)> = (0..n)
            .map(|_| (r.random::<f64>() * 10.0 - 5.0, 0.5 + r.random::<f64>()))
            .collect();
        let heavy: Vec<(f64, f64)> = (0..n)
            .map(|_| ((1.0 / (1.0 - r.random::<f64>())).powi(2), 1.0))
            .collect();
        let few: Vec<(f64, f64)> = (0..n).map(|_| (r.random_range(0..7) as f64, 1.0)).collect();
        let ecod = Ecod {
            features: vec![Ecdf::new(cont), Ecdf::new(heavy), Ecdf::new(few)],
        };
        // Rows of new values: inside and outside each range, exact reference values, NaN; a
        // row count that leaves a remainder after the groups of lanes.
        let rows = 1_003;
        let mut data = Vec::with_capacity(rows * 3);
        for i in 0..rows {
            data.push(match i % 5 {
                0 => f64::NAN,
                1 => r.random::<f64>() * 14.0 - 7.0,
                _ => r.random::<f64>() * 10.0 - 5.0,
            });
            data.push(match i % 4 {
                0 => -1.0,
                1 => 1e9,
                _ => (1.0 / (1.0 - r.random::<f64>())).powi(2),
            });
            data.push(r.random_range(-1..9) as f64);
        }
        let (mut scores, mut terms) = (Vec::new(), Vec::new());
        ecod.score_batch(&data, &mut scores, &mut terms);
        for i in 0..rows {
            let mut sum = 0.0;
            for j in 0..3 {
                let want = ecod.features[j].outlyingness(data[i * 3 + j]);
                assert_eq!(
                    terms[i * 3 + j].to_bits(),
                    want.to_bits(),
                    "row {i} feature {j}"
                );
                sum += want;
            }
            assert_eq!(scores[i].to_bits(), sum.to_bits());
        }
    }
}
