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

/// One feature's reference distribution: sorted values with cumulative weights.
#[derive(Debug, Clone)]
pub struct Ecdf {
    values: Vec<f64>,
    /// `cum[i]` = total weight of `values[..=i]`.
    cum: Vec<f64>,
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
        Ecdf {
            skew_sign: skew_sign(&pairs, total),
            theta_left,
            theta_right,
            values,
            cum,
            total,
            mean_weight,
        }
    }

    pub fn skew_sign(&self) -> f64 {
        self.skew_sign
    }

    /// Weight of reference values `≤ x` and `≥ x`.
    fn tails(&self, x: f64) -> (f64, f64) {
        let le = self.values.partition_point(|&v| v <= x);
        let lt = self.values.partition_point(|&v| v < x);
        let w_le = if le == 0 { 0.0 } else { self.cum[le - 1] };
        let w_lt = if lt == 0 { 0.0 } else { self.cum[lt - 1] };
        (w_le, self.total - w_lt)
    }

    /// The feature's term of the ECOD score for a new value `x` (0 for NaN or an empty
    /// reference): `x` counts as one more reference row of the mean weight.
    pub fn outlyingness(&self, x: f64) -> f64 {
        self.term(x, self.mean_weight)
    }

    /// The term for a value that is already one of the reference rows (PyOD's training scores).
    pub fn outlyingness_in_reference(&self, x: f64) -> f64 {
        self.term(x, 0.0)
    }

    fn term(&self, x: f64, extra: f64) -> f64 {
        if x.is_nan() || self.values.is_empty() {
            return 0.0;
        }
        let (lo, hi) = (self.values[0], self.values[self.values.len() - 1]);
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
        let mut ul = -((le + extra) / d).ln();
        let mut ur = -((ge + extra) / d).ln();
        if x > hi {
            ur += past;
        } else if x < lo {
            ul += past;
        }
        let s = self.skew_sign;
        let u_skew = ul * -(s - 1.0).signum_or_zero() + ur * (s + 1.0).signum_or_zero();
        ul.max(ur).max(u_skew)
    }
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
#[derive(Debug, Clone)]
pub struct Ecod {
    pub features: Vec<Ecdf>,
}

impl Ecod {
    /// From a row-major reference matrix and one weight per row.
    pub fn fit(data: &[f64], dim: usize, weights: &[f64]) -> Ecod {
        let n = weights.len();
        assert_eq!(data.len(), n * dim, "matrix shape");
        let features = (0..dim)
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
}
