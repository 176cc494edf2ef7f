//! The statistics the detectors use: tests (p-values), effect sizes and the Benjamini–Hochberg
//! adjustment. Special functions come from `statrs`; everything here is checked against scipy
//! in `tests/stats_reference.rs` (fixture made by `scripts/stats_reference.py`).

use statrs::function::{beta::beta_reg, erf::erfc, gamma::gamma_ur};

use crate::profile::kll::Kll;

/// Benjamini–Hochberg adjusted p-values (q-values), in the input order: the smallest false
/// discovery rate at which each hypothesis would be rejected. NaN p-values count as 1.
pub fn bh_adjust(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    let val = |i: usize| if p[i].is_nan() { 1.0 } else { p[i] };
    order.sort_by(|&a, &b| val(b).total_cmp(&val(a)).then(b.cmp(&a)));
    let mut q = vec![1.0; m];
    let mut running = 1.0f64;
    for (k, &i) in order.iter().enumerate() {
        let rank = (m - k) as f64; // order is descending by p
        running = running.min(val(i) * m as f64 / rank);
        q[i] = running.min(1.0);
    }
    q
}

/// Upper tail of the chi-square distribution with `df` degrees of freedom.
pub fn chi2_sf(x: f64, df: f64) -> f64 {
    if x <= 0.0 || df <= 0.0 {
        return 1.0;
    }
    gamma_ur(df / 2.0, x / 2.0)
}

/// Upper tail of the standard normal distribution.
pub fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// P(S ≥ s) for S the sum of `n` independent uniforms on [0, 1] (the Irwin–Hall
/// distribution), from its CDF `F(t) = Σ_{k ≤ t} (−1)^k C(n, k) (t − k)^n / n!` evaluated at
/// the end nearer 0 (by symmetry), where the alternating sum has few terms. For `n` up to
/// `RANK_SUM_EXACT`; the cancellation grows with `n`.
pub fn irwin_hall_sf(s: f64, n: u32) -> f64 {
    let nf = n as f64;
    if n == 0 {
        return if s <= 0.0 { 1.0 } else { 0.0 };
    }
    if s >= nf {
        return 0.0;
    }
    if s <= 0.0 {
        return 1.0;
    }
    // F at t ≤ n/2.
    let cdf = |t: f64| -> f64 {
        let mut sum = 0.0;
        let mut binom = 1.0;
        let mut k = 0u32;
        while (k as f64) < t && k <= n {
            let term = binom * (t - k as f64).powi(n as i32);
            sum += if k.is_multiple_of(2) { term } else { -term };
            binom *= (n - k) as f64 / (k + 1) as f64;
            k += 1;
        }
        let factorial: f64 = (1..=n).map(|i| i as f64).product();
        (sum / factorial).clamp(0.0, 1.0)
    };
    // P(S ≥ s) = F(n − s); past the middle, 1 − F(s).
    let t = nf - s;
    if t <= nf / 2.0 { cdf(t) } else { 1.0 - cdf(s) }
}

/// Ranks up to this many are tested exactly (`rank_sum_p`).
pub const RANK_SUM_EXACT: u64 = 20;

/// One-sided p-value that `n` rows whose ranks among `m` reference rows (each rank the share
/// of the reference below the row, ties counted half) sum to `sum` or more by chance, when the
/// rows come from the reference's distribution: the Mann–Whitney test written in ranks. Its
/// variance is `n (n + m + 1) / (12 m)`, that of `n` uniforms inflated by the reference's own
/// sampling. Up to `RANK_SUM_EXACT` rows the sum is rescaled to the uniforms' variance and
/// read off the Irwin–Hall distribution (whose tail is lighter than the normal's, so the
/// normal approximation would overstate small p-values many times over); beyond it, normal.
/// Ties left uncorrected make it conservative.
pub fn rank_sum_p(sum: f64, n: u64, m: u64) -> f64 {
    if n == 0 || m == 0 {
        return 1.0;
    }
    let (nf, mf) = (n as f64, m as f64);
    let inflation = ((nf + mf + 1.0) / mf).sqrt();
    let centred = sum - nf / 2.0;
    if n <= RANK_SUM_EXACT {
        irwin_hall_sf(nf / 2.0 + centred / inflation, n as u32)
    } else {
        normal_sf(centred / (nf * (nf + mf + 1.0) / (12.0 * mf)).sqrt())
    }
}

/// P(X ≥ k) for X ~ Binomial(n, p): the one-sided binomial test.
pub fn binom_sf_ge(k: u64, n: u64, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    if p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    beta_reg(k as f64, (n - k + 1) as f64, p)
}

/// Fisher's exact test, one-sided: for the 2×2 table `[[a, b], [c, d]]`, the probability of a
/// top-left cell of at least `a` given the margins (scipy's `fisher_exact(…,
/// alternative="greater")`): is the first row's share of the first column larger?
pub fn fisher_greater(a: u64, b: u64, c: u64, d: u64) -> f64 {
    use statrs::function::factorial::ln_binomial;
    let (row, col, n) = (a + b, a + c, a + b + c + d);
    let hi = row.min(col);
    let lo_support = (row + col).saturating_sub(n);
    if a <= lo_support {
        return 1.0;
    }
    let ln_total = ln_binomial(n, row);
    let ln_pmf = |x: u64| ln_binomial(col, x) + ln_binomial(n - col, row - x) - ln_total;
    // Sum the tail from its largest term (the pmf is unimodal and decreasing past the mode
    // when a is above it; summing from `a` upwards in log space is stable either way).
    let first = ln_pmf(a);
    let mut sum = 0.0;
    for x in a..=hi {
        let t = (ln_pmf(x) - first).exp();
        sum += t;
        if t < 1e-17 * sum && x > a {
            break;
        }
    }
    (first.exp() * sum).min(1.0)
}

/// The normal quantile of a one-sided 99% bound.
pub const Z99: f64 = 2.326_347_874_040_841;

/// The one-sided 99% upper bound of a rate observed on `n` rows (Wilson's score interval); 1
/// without rows.
pub fn wilson_upper(p: f64, n: u64) -> f64 {
    wilson_bounds(p, n as f64).1
}

/// The one-sided 99% lower and upper bounds of a rate observed on `n` rows, which may be an
/// effective (fractional) count (Wilson's score interval); (0, 1) without rows.
pub fn wilson_bounds(p: f64, n: f64) -> (f64, f64) {
    wilson_bounds_at(p, n, Z99)
}

/// [`wilson_bounds`] at the normal quantile `z` of another one-sided level.
fn wilson_bounds_at(p: f64, n: f64, z: f64) -> (f64, f64) {
    if n <= 0.0 {
        return (0.0, 1.0);
    }
    let z2 = z * z;
    let centre = p + z2 / (2.0 * n);
    let spread = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    let scale = 1.0 + z2 / n;
    (
        ((centre - spread) / scale).max(0.0),
        ((centre + spread) / scale).min(1.0),
    )
}

/// Is a rate `p1` observed on `n1` rows above a rate `p2` observed on `n2` (effective) rows?
/// The one-sided two-proportion z-test with the pooled rate, `(z, p-value)`
/// (statsmodels' `proportions_ztest(…, alternative="larger")`), and the one-sided 99% lower
/// bound of `p1 − p2` by Newcombe's hybrid score interval (his method 10, statsmodels'
/// `confint_proportions_2indep(…, method="newcomb")` at `alpha=0.02`): the difference less the
/// root of the squared distances from each rate to its own Wilson bound on the side that
/// narrows it.
pub fn rate_rise(p1: f64, n1: f64, p2: f64, n2: f64) -> (f64, f64, f64) {
    if n1 <= 0.0 || n2 <= 0.0 {
        return (0.0, 1.0, -1.0);
    }
    let pooled = (p1 * n1 + p2 * n2) / (n1 + n2);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    let (z, p) = if se > 0.0 {
        let z = (p1 - p2) / se;
        (z, normal_sf(z))
    } else {
        (0.0, 1.0)
    };
    let lower1 = wilson_bounds(p1, n1).0;
    let upper2 = wilson_bounds(p2, n2).1;
    let lower = (p1 - p2) - ((p1 - lower1).powi(2) + (upper2 - p2).powi(2)).sqrt();
    (z, p, lower)
}

/// The Kolmogorov distribution's upper tail, P(K > λ) (scipy's `kstwobign.sf`).
pub fn kolmogorov_sf(lambda: f64) -> f64 {
    if lambda <= 0.0 {
        return 1.0;
    }
    if lambda < 1.0 {
        // The alternating series converges slowly here; use the dual (theta-function) form.
        let y = std::f64::consts::PI * std::f64::consts::PI / (8.0 * lambda * lambda);
        let mut s = 0.0;
        for k in 0..50 {
            let j = (2 * k + 1) as f64;
            s += (-j * j * y).exp();
        }
        let cdf = (2.0 * std::f64::consts::PI).sqrt() / lambda * s;
        return (1.0 - cdf).clamp(0.0, 1.0);
    }
    let mut s = 0.0;
    for k in 1..=100 {
        let kf = k as f64;
        let term = (-2.0 * kf * kf * lambda * lambda).exp();
        s += if k % 2 == 1 { term } else { -term };
        if term < 1e-300 {
            break;
        }
    }
    (2.0 * s).clamp(0.0, 1.0)
}

/// Two-sample Kolmogorov–Smirnov p-value of statistic `d` for sample sizes `n` and `m`, from the
/// asymptotic distribution with the effective size `n·m/(n+m)` (scipy's `ks_2samp(mode="asymp")`
/// for large samples, where it and the exact distribution agree).
pub fn ks_2samp_p(d: f64, n: u64, m: u64) -> f64 {
    if n == 0 || m == 0 {
        return 1.0;
    }
    let en = (n as f64 * m as f64) / (n as f64 + m as f64);
    kolmogorov_sf(en.sqrt() * d)
}

/// The KS statistic between two quantile sketches: the largest gap between their CDFs, checked
/// at every retained value of either sketch (exact when both sketches hold all their values).
pub fn ks_statistic(a: &Kll, b: &Kll) -> f64 {
    let va = a.sorted_view();
    let vb = b.sorted_view();
    let (na, nb) = (a.n() as f64, b.n() as f64);
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    let (mut i, mut j) = (0, 0);
    let (mut ca, mut cb) = (0u64, 0u64);
    let mut d = 0.0f64;
    while i < va.len() || j < vb.len() {
        let x = match (va.get(i), vb.get(j)) {
            (Some(p), Some(q)) => p.0.min(q.0),
            (Some(p), None) => p.0,
            (None, Some(q)) => q.0,
            (None, None) => break,
        };
        let before = (i, j);
        while i < va.len() && va[i].0 <= x {
            ca += va[i].1;
            i += 1;
        }
        while j < vb.len() && vb[j].0 <= x {
            cb += vb[j].1;
            j += 1;
        }
        if (i, j) == before {
            // A NaN compares with nothing, so no step passes it: skipped (profiles are refused
            // with one when read; this walk must end whatever it is given).
            i += usize::from(i < va.len());
            j += usize::from(j < vb.len());
            continue;
        }
        d = d.max((ca as f64 / na - cb as f64 / nb).abs());
    }
    d
}

/// Wasserstein-1 distance between two quantile sketches: ∫₀¹ |Q_a(u) − Q_b(u)| du, integrated
/// exactly over the two step-function quantile curves.
pub fn wasserstein(a: &Kll, b: &Kll) -> f64 {
    let va = a.sorted_view();
    let vb = b.sorted_view();
    let (na, nb) = (a.n() as f64, b.n() as f64);
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    // Walk both quantile functions; between consecutive rank breakpoints both are constant.
    let (mut i, mut j) = (0, 0);
    let (mut ua, mut ub) = (va[0].1 as f64 / na, vb[0].1 as f64 / nb);
    let mut u = 0.0;
    let mut w = 0.0;
    loop {
        let next = ua.min(ub);
        w += (next - u) * (va[i].0 - vb[j].0).abs();
        u = next;
        if u >= 1.0 - 1e-15 {
            break;
        }
        if ua <= next && i + 1 < va.len() {
            i += 1;
            ua += va[i].1 as f64 / na;
        } else if ua <= next {
            ua = 1.0;
        }
        if ub <= next && j + 1 < vb.len() {
            j += 1;
            ub += vb[j].1 as f64 / nb;
        } else if ub <= next {
            ub = 1.0;
        }
    }
    w
}

/// Population stability index Σ (c − b)·ln(c / b) over bins given as shares, each share
/// floored at `floor` so that empty bins stay finite.
pub fn psi(baseline: &[f64], current: &[f64], floor: f64) -> f64 {
    baseline
        .iter()
        .zip(current)
        .map(|(&b, &c)| {
            let (b, c) = (b.max(floor), c.max(floor));
            (c - b) * (c / b).ln()
        })
        .sum()
}

/// Pearson's chi-square test of homogeneity on a 2 × k table of counts (no continuity
/// correction, as scipy's `chi2_contingency(correction=False)` for k > 2). Columns empty on
/// both sides are dropped. Returns (statistic, degrees of freedom, p-value).
pub fn chi2_homogeneity(a: &[f64], b: &[f64]) -> (f64, f64, f64) {
    let (na, nb): (f64, f64) = (a.iter().sum(), b.iter().sum());
    let n = na + nb;
    if na == 0.0 || nb == 0.0 {
        return (0.0, 0.0, 1.0);
    }
    let mut stat = 0.0;
    let mut k = 0;
    for (&x, &y) in a.iter().zip(b) {
        let col = x + y;
        if col == 0.0 {
            continue;
        }
        k += 1;
        let ea = na * col / n;
        let eb = nb * col / n;
        stat += (x - ea).powi(2) / ea + (y - eb).powi(2) / eb;
    }
    let df = (k as f64 - 1.0).max(0.0);
    if df == 0.0 {
        return (0.0, 0.0, 1.0);
    }
    (stat, df, chi2_sf(stat, df))
}

/// Past this many rows on both sides of a binomial count (successes and failures), its tail and
/// bounds come from the normal approximation (the score test and Wilson's interval): statrs's
/// incomplete beta function sums at most 140 terms of its continued fraction, which needs about
/// √(count) of them, and its inverse can fail to end on counts in the millions.
pub const EXACT_UP_TO: u64 = 50;

/// The normal quantile with upper tail `p` (0 < p < 1/2), by bisection on [`normal_sf`].
fn normal_quantile_upper(p: f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 40.0f64);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if normal_sf(mid) > p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// One-sided bounds, each at confidence `1 − alpha`, on the success probability of a binomial
/// that gave `k` successes in `t` trials: Clopper–Pearson's (by bisection on the incomplete beta
/// function, which is monotone in π) while either count is at most [`EXACT_UP_TO`], Wilson's
/// score interval past it. (0, 1) without trials or with `alpha` outside (0, 1/2).
pub fn binomial_bounds(k: u64, t: u64, alpha: f64) -> (f64, f64) {
    if t == 0 || !(alpha > 0.0 && alpha < 0.5) {
        return (0.0, 1.0);
    }
    let k = k.min(t);
    if k.min(t - k) > EXACT_UP_TO {
        let (n, p) = (t as f64, k as f64 / t as f64);
        return wilson_bounds_at(p, n, normal_quantile_upper(alpha));
    }
    // P(X ≥ k | π) = I_π(k, t − k + 1) rises with π: the lower bound is where it reaches alpha;
    // P(X ≤ k | π) = 1 − I_π(k + 1, t − k) falls with π: the upper bound is where it falls to it.
    let solve = |a: f64, b: f64, target: f64| {
        let (mut lo, mut hi) = (0.0f64, 1.0f64);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if mid <= lo || mid >= hi {
                break;
            }
            if beta_reg(a, b, mid) < target {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    };
    let (kf, tf) = (k as f64, t as f64);
    let lower = if k == 0 {
        0.0
    } else {
        solve(kf, tf - kf + 1.0, alpha)
    };
    let upper = if k == t {
        1.0
    } else {
        solve(kf + 1.0, tf - kf, 1.0 - alpha)
    };
    (lower, upper)
}

/// One-sided bounds, each at confidence `1 − alpha`, on the ratio of a class's share of the
/// rows now to its share in the baseline, from exact counts: `k` of the `n` current rows and `j`
/// of the `m` baseline rows. Given the `k + j` rows of the class, `k` is binomial with the
/// probability `π = n·ρ / (n·ρ + m)` of a row being current, ρ the ratio of the shares (exact for
/// Poisson counts; for binomial counts the conditional law is Fisher's noncentral
/// hypergeometric, which is narrower, so the exact bounds are conservative). [`binomial_bounds`]
/// on π (Clopper–Pearson, scipy's `binomtest(…).proportion_ci(method="exact")` on each side,
/// while a count is small) map to ρ through `ρ = π·m / ((1 − π)·n)`: `(0, ∞)` where a side has
/// no rows, and `(lower, +∞)` when no baseline row has the class.
pub fn share_ratio_bounds(k: u64, n: u64, j: u64, m: u64, alpha: f64) -> (f64, f64) {
    if n == 0 || m == 0 || k + j == 0 {
        return (0.0, f64::INFINITY);
    }
    let (lower, upper) = binomial_bounds(k, k + j, alpha);
    let ratio = |pi: f64| {
        if pi >= 1.0 {
            f64::INFINITY
        } else {
            pi * m as f64 / ((1.0 - pi) * n as f64)
        }
    };
    (ratio(lower), ratio(upper))
}

/// The one-sided p-value of a class's share having risen (`rose`) or fallen, now against the
/// baseline, on the counts of [`share_ratio_bounds`]: the binomial tail of `k` current rows among
/// the class's `k + j` at the probability `n / (n + m)` they would have if the share had not
/// moved (exact while a count is at most [`EXACT_UP_TO`], else the score test's normal tail, so
/// that it rejects exactly when the bound on that side excludes 1).
pub fn share_shift_p(k: u64, n: u64, j: u64, m: u64, rose: bool) -> f64 {
    let t = k + j;
    if n == 0 || m == 0 || t == 0 {
        return 1.0;
    }
    let now = n as f64 / (n + m) as f64;
    if k.min(j) > EXACT_UP_TO {
        let z = (k as f64 - t as f64 * now) / (t as f64 * now * (1.0 - now)).sqrt();
        return normal_sf(if rose { z } else { -z });
    }
    if rose {
        binom_sf_ge(k, t, now)
    } else {
        binom_sf_ge(j, t, 1.0 - now)
    }
}

/// Two-proportion z-test (pooled), two-sided: (z, p-value).
pub fn two_proportion_z(x1: u64, n1: u64, x2: u64, n2: u64) -> (f64, f64) {
    if n1 == 0 || n2 == 0 {
        return (0.0, 1.0);
    }
    let (p1, p2) = (x1 as f64 / n1 as f64, x2 as f64 / n2 as f64);
    let p = (x1 + x2) as f64 / (n1 + n2) as f64;
    let se = (p * (1.0 - p) * (1.0 / n1 as f64 + 1.0 / n2 as f64)).sqrt();
    if se == 0.0 {
        return (0.0, 1.0);
    }
    let z = (p1 - p2) / se;
    (z, (2.0 * normal_sf(z.abs())).min(1.0))
}

/// The weighted median of (value, weight) pairs: the smallest value whose cumulative weight
/// reaches half the total (sorted in place).
pub fn weighted_median(v: &mut [(f64, f64)]) -> f64 {
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = v.iter().map(|e| e.1).sum();
    let mut acc = 0.0;
    for &(x, w) in v.iter() {
        acc += w;
        if acc >= total / 2.0 {
            return x;
        }
    }
    v.last().map_or(0.0, |e| e.0)
}

/// Cohen's h between two proportions: 2·asin√p1 − 2·asin√p2.
pub fn cohens_h(p1: f64, p2: f64) -> f64 {
    2.0 * p1.clamp(0.0, 1.0).sqrt().asin() - 2.0 * p2.clamp(0.0, 1.0).sqrt().asin()
}

/// Exact conditional test for "values the baseline never had": if the baseline (`n_base` rows)
/// and the current data (`n_cur` rows) were one exchangeable sample, the `k` rows holding such
/// values would be a random `k` of the pooled rows, and all of them falling in the current data
/// has the hypergeometric probability C(n_cur, k) / C(n_base + n_cur, k).
pub fn absent_in_baseline_p(k: u64, n_base: u64, n_cur: u64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n_cur {
        return 0.0;
    }
    let total = (n_base + n_cur) as f64;
    let mut log_p = 0.0;
    for i in 0..k {
        log_p += ((n_cur - i) as f64 / (total - i as f64)).ln();
        if log_p < -745.0 {
            return 0.0;
        }
    }
    log_p.exp()
}

/// Area under the ROC curve of `scores` (higher = more positive) against `positive`, by the
/// Mann–Whitney statistic with average ranks for ties (scikit-learn's `roc_auc_score`). `None`
/// when one class is empty or a score is NaN.
pub fn auroc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    assert_eq!(scores.len(), positive.len());
    if scores.iter().any(|s| s.is_nan()) {
        return None;
    }
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share their average.
        let avg = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += avg * idx[i..=j].iter().filter(|&&k| positive[k]).count() as f64;
        i = j + 1;
    }
    let (p, q) = (n_pos as f64, n_neg as f64);
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * q))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Irwin–Hall tail against scipy 1.17 (`stats.irwinhall(n).sf(s)`), and the rank-sum
    /// test: exact up to `RANK_SUM_EXACT` rows, normal beyond, the reference's size widening
    /// both.
    #[test]
    fn irwin_hall_tail_matches_scipy() {
        for (n, s, want) in [
            (2, 1.5, 0.125),
            (5, 4.0, 0.008_333_333_333_333_333),
            (5, 4.5, 0.000_260_416_666_666_666_66),
            (4, 3.96, 1.066_666_666_666_670_5e-7),
            (20, 14.0, 0.000_803_052_139_411_995_8),
            (20, 12.0, 0.060_956_226_379_768_94),
            (10, 5.0, 0.5),
            (3, 2.97, 4.499_999_999_999_912e-6),
        ] {
            let got = irwin_hall_sf(s, n);
            assert!(
                (got - want).abs() <= 1e-9 * want.max(1e-3),
                "n={n} s={s}: {got} vs {want}"
            );
        }
        assert_eq!(irwin_hall_sf(5.0, 5), 0.0);
        assert_eq!(irwin_hall_sf(0.0, 5), 1.0);
        // A reference far larger than the group: the exact tail itself.
        let p = rank_sum_p(4.5, 5, 1_000_000_000);
        assert!((p - 0.000_260_416_666_666_666_66).abs() < 1e-9, "{p}");
        // A reference as large as the group: the sum's spread is √2 times larger.
        let wider = rank_sum_p(4.5, 5, 5);
        assert!((wider - irwin_hall_sf(2.5 + 2.0 / (11.0f64 / 5.0).sqrt(), 5)).abs() < 1e-12);
        // Beyond 20 rows, the normal tail with the Mann–Whitney variance: 100 rows of mean
        // rank 0.6 against 900 reference rows, z = 10 / √(100 · 1001 / 10800).
        let z = 10.0 / (100.0 * 1001.0 / 10_800.0f64).sqrt();
        assert!((rank_sum_p(60.0, 100, 900) - normal_sf(z)).abs() < 1e-15);
    }

    #[test]
    fn bh_by_hand() {
        // p sorted: 0.01, 0.02, 0.03, 0.5 with m = 4: 0.04, 0.04, 0.04, 0.5.
        let q = bh_adjust(&[0.03, 0.01, 0.5, 0.02]);
        let want = [0.04, 0.04, 0.5, 0.04];
        for (a, b) in q.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{q:?}");
        }
    }

    #[test]
    fn psi_by_hand() {
        // (0.6-0.5)ln(1.2) + (0.4-0.5)ln(0.8)
        let want = 0.1 * 1.2f64.ln() - 0.1 * 0.8f64.ln();
        assert!((psi(&[0.5, 0.5], &[0.6, 0.4], 1e-4) - want).abs() < 1e-12);
        assert_eq!(psi(&[0.5, 0.5], &[0.5, 0.5], 1e-4), 0.0);
    }

    /// Against scipy 1.17.1 `fisher_exact([[a, b], [c, d]], alternative="greater")`.
    #[test]
    fn fisher_greater_matches_scipy() {
        let cases: [((u64, u64, u64, u64), f64); 7] = [
            ((24, 5800, 0, 5850), 5.5170365866714774e-08),
            ((10, 2, 3, 40), 5.687670026091412e-07),
            ((175, 30000, 3, 25000), 9.486298090649068e-42),
            ((5, 5, 5, 5), 0.6718591006516703),
            ((0, 10, 3, 7), 1.0),
            ((300, 30116, 0, 27693), 2.243281108497773e-85),
            ((2, 1_000_000, 0, 50_000), 0.9070296080267268),
        ];
        for ((a, b, c, d), want) in cases {
            let got = fisher_greater(a, b, c, d);
            assert!(
                ((got - want) / want).abs() < 1e-9,
                "{a} {b} {c} {d}: {got} against {want}"
            );
        }
    }

    /// Against statsmodels 0.14 `proportions_ztest([k1, k2], [n1, n2], alternative="larger")`
    /// and `confint_proportions_2indep(k1, n1, k2, n2, method="newcomb", alpha=0.02)[0]`.
    #[test]
    fn rate_rise_matches_statsmodels() {
        // (k1, n1, k2, n2) and (z, one-sided p, lower bound).
        type Case = ((f64, f64, f64, f64), (f64, f64, f64));
        let cases: [Case; 3] = [
            (
                (350.0, 5011.0, 254.0, 4989.0),
                (
                    3.974010037057014,
                    3.533629141092345e-05,
                    0.007860523549699029,
                ),
            ),
            (
                (86.0, 2071.0, 44.0, 2136.0),
                (3.9213282414693134, 4.4031103980266e-05, 0.00853475836814801),
            ),
            (
                (12.0, 100.0, 3.0, 120.0),
                (
                    2.7835755213262727,
                    0.002688167223824204,
                    0.013295246275865355,
                ),
            ),
        ];
        for ((k1, n1, k2, n2), (z, p, lower)) in cases {
            let got = rate_rise(k1 / n1, n1, k2 / n2, n2);
            for (g, w) in [(got.0, z), (got.1, p), (got.2, lower)] {
                assert!(
                    ((g - w) / w).abs() < 1e-6,
                    "{k1}/{n1} {k2}/{n2}: {g} against {w}"
                );
            }
        }
        // Without rows on either side nothing rises.
        assert_eq!(rate_rise(0.5, 0.0, 0.1, 10.0).1, 1.0);
    }

    #[test]
    fn absent_test_by_hand() {
        assert!((absent_in_baseline_p(1, 100, 100) - 0.5).abs() < 1e-12);
        // 100/200 · 99/199 · 98/198
        let want = 100.0 / 200.0 * 99.0 / 199.0 * 98.0 / 198.0;
        assert!((absent_in_baseline_p(3, 100, 100) - want).abs() < 1e-12);
    }

    #[test]
    fn auroc_by_hand() {
        // Positives 0.9, 0.4; negatives 0.5, 0.1, 0.4 (a tie with a positive).
        // Pairs (pos > neg): 0.9 beats all 3; 0.4 beats 0.1, ties 0.4 (½), loses to 0.5 → 4.5/6.
        let s = [0.9, 0.4, 0.5, 0.1, 0.4];
        let y = [true, true, false, false, false];
        assert!((auroc(&s, &y).unwrap() - 0.75).abs() < 1e-12);
        assert_eq!(auroc(&s, &[true; 5]), None);
        assert_eq!(auroc(&[1.0, 0.0], &[true, false]), Some(1.0));
    }
}
