//! The sequential test over a history: a self-starting two-sided CUSUM on standardised
//! innovations, with its threshold set from a stated false-alarm rate.
//!
//! Each series is a run of observations `x_0` (the anchored trusted profile), `x_1 … x_T`
//! (the accepted nights, then tonight), each with a known sampling variance `v_t`. Night `t` is
//! compared with the precision-weighted mean `m` of every observation before it, and its
//! innovation `z_t = (x_t − m) / √(v_t + τ² + P)` (`P`: the variance of `m`) is, for a series
//! that does not move, a standard normal draw independent of the earlier ones (the innovations
//! of a constant level are independent: Hawkins 1987, "Self-starting CUSUM charts"). No
//! reference value is guessed: the anchor and the nights estimate it, and its uncertainty is in
//! every innovation.
//!
//! Nights may differ by more than sampling (a weekday effect, a varying mix of sources): the
//! variances are first multiplied by the dispersion `φ ≥ 1` of all the series of one kind
//! together (`dispersion`), which one creeping series does not move.
//!
//! CUSUM: `S⁺_t = max(0, S⁺_{t−1} + z_t − k)` and `S⁻` alike for `−z_t`; an alarm when either
//! exceeds `h`. The threshold comes from the in-control average run length by Siegmund's
//! approximation for normal increments (one side: `ARL₀ ≈ (e^{2kb} − 2kb − 1) / (2k²)`,
//! `b = h + 1.166`: 338 nights at `k = 0.5, h = 4` and 938 at `h = 5`, against the 336 and 930
//! of Montgomery, *Introduction to Statistical Quality Control*, §9.1). Two sides halve it; `n` series tested every night
//! multiply the alarms: for at most `rate` false alarms a year of nightly runs over all of them,
//! each side needs `ARL₀ ≥ 2 · 365 · n / rate`.

/// Nights a year of nightly runs.
pub const NIGHTS_A_YEAR: f64 = 365.0;

/// Night-to-night differences (over all the series of a kind) before their dispersion is
/// estimated.
pub const MIN_DIFFERENCES: usize = 50;

/// Siegmund's approximation of a one-sided CUSUM's in-control average run length (standard
/// normal increments, reference `k`, threshold `h`).
pub fn arl0(k: f64, h: f64) -> f64 {
    let b = h + 1.166;
    let a = 2.0 * k * b;
    (a.exp() - a - 1.0) / (2.0 * k * k)
}

/// The smallest threshold `h` at which each side's in-control run length is at least `arl`
/// (bisection; `arl0` grows with `h`).
pub fn threshold_for(k: f64, arl: f64) -> f64 {
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    while arl0(k, hi) < arl && hi < 1e6 {
        hi *= 2.0;
    }
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if arl0(k, mid) < arl {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// The two-sided threshold for `series` series tested every night with at most `rate` false
/// alarms a year over all of them.
pub fn threshold(k: f64, series: usize, rate: f64) -> f64 {
    threshold_for(k, 2.0 * NIGHTS_A_YEAR * series.max(1) as f64 / rate)
}

/// One observation: a statistic and its sampling variance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Obs {
    pub value: f64,
    pub var: f64,
}

/// A series run through the CUSUM.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Per observation (the first, the anchor, has none): its innovation and the CUSUM after
    /// it, signed (`S⁺`, or `−S⁻` when the lower side is the larger).
    pub z: Vec<Option<f64>>,
    pub cusum: Vec<f64>,
    /// The last value's side: +1 up, −1 down, 0 when both sides are at zero.
    pub side: i8,
    /// Where the last value's run began: the first observation after the last one at which
    /// that side was zero.
    pub start: usize,
    /// The precision-weighted mean of the observations before `start` (the level before the
    /// change).
    pub level_before: f64,
}

/// The dispersion of nights beyond sampling, for series of one kind together: every night-to-
/// night difference of every series (the anchor left out: it is often a larger, older set),
/// over its sampling standard deviation, has variance 1 when nights differ by sampling alone.
/// Their robust variance (1.4826 × the median absolute deviation from their median, squared)
/// over all the series at once is the factor `φ ≥ 1` the variances are multiplied by: a weekday
/// effect or a varying mix of sources moves every series alike, while one creeping series is
/// one among many and does not move the median; the differences of a steady creep are all
/// alike besides. 1 with fewer than `MIN_DIFFERENCES` differences.
pub fn dispersion<'a>(series: impl Iterator<Item = &'a [Obs]>) -> f64 {
    let mut u: Vec<f64> = Vec::new();
    for obs in series {
        let nights = &obs[1.min(obs.len())..];
        u.extend(nights.windows(2).filter_map(|w| {
            let v = w[1].var + w[0].var;
            (v > 0.0).then(|| (w[1].value - w[0].value) / v.sqrt())
        }));
    }
    if u.len() < MIN_DIFFERENCES {
        return 1.0;
    }
    let med = median(&mut u);
    let mut dev: Vec<f64> = u.iter().map(|x| (x - med).abs()).collect();
    (1.4826 * median(&mut dev)).powi(2).max(1.0)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => v[n / 2],
        _ => 0.5 * (v[n / 2 - 1] + v[n / 2]),
    }
}

/// Run the self-starting CUSUM with reference `k` over `obs` (the anchor first).
pub fn run(obs: &[Obs], k: f64) -> Run {
    let mut z = vec![None; obs.len()];
    let mut cusum = vec![0.0; obs.len()];
    let (mut up, mut down) = (0.0_f64, 0.0_f64);
    // Where each side last stood at zero, and the level before each observation.
    let (mut up_zero, mut down_zero) = (0usize, 0usize);
    let mut levels = Vec::with_capacity(obs.len());
    let (mut sw, mut swx) = (0.0_f64, 0.0_f64);
    for (t, o) in obs.iter().enumerate() {
        let level = if sw > 0.0 { swx / sw } else { o.value };
        levels.push(level);
        if t > 0 {
            let var = o.var + 1.0 / sw;
            let zt = if var > 0.0 {
                (o.value - level) / var.sqrt()
            } else {
                0.0
            };
            z[t] = Some(zt);
            up = (up + zt - k).max(0.0);
            down = (down - zt - k).max(0.0);
            if up == 0.0 {
                up_zero = t;
            }
            if down == 0.0 {
                down_zero = t;
            }
            cusum[t] = if up >= down { up } else { -down };
        }
        let w = 1.0 / o.var.max(f64::MIN_POSITIVE);
        sw += w;
        swx += w * o.value;
    }
    let side = match (up > 0.0, down > 0.0) {
        (false, false) => 0,
        _ if up >= down => 1,
        _ => -1,
    };
    let start = match side {
        1 => up_zero + 1,
        -1 => down_zero + 1,
        _ => obs.len(),
    };
    let level_before = levels.get(start).copied().unwrap_or_else(|| {
        // No run: the level before tonight.
        levels.last().copied().unwrap_or(0.0)
    });
    Run {
        z,
        cusum,
        side,
        start,
        level_before,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// A standard normal draw (Box–Muller).
    fn normal(rng: &mut impl Rng) -> f64 {
        let u: f64 = 1.0 - rng.random::<f64>();
        let v: f64 = rng.random();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// Montgomery's table (k = 0.5): 336 nights at h = 4, 930 at h = 5; Siegmund's
    /// approximation is within 1% of both (338.1 and 938.2 by hand: (e^5.166 − 6.166) / 0.5).
    #[test]
    fn siegmund_matches_the_published_run_lengths() {
        let (a4, a5) = (arl0(0.5, 4.0), arl0(0.5, 5.0));
        assert!(
            (a4 - 338.1).abs() < 0.1 && (a4 / 336.0 - 1.0).abs() < 0.01,
            "{a4}"
        );
        assert!(
            (a5 - 938.2).abs() < 0.1 && (a5 / 930.0 - 1.0).abs() < 0.01,
            "{a5}"
        );
        let h = threshold_for(0.5, a4);
        assert!((h - 4.0).abs() < 0.01, "{h}");
        // More series or fewer alarms a year: a higher threshold.
        assert!(threshold(0.5, 100, 0.1) > threshold(0.5, 10, 0.1));
        assert!(threshold(0.5, 10, 0.01) > threshold(0.5, 10, 0.1));
    }

    /// The innovations of a series that does not move are independent standard normal draws,
    /// whatever the variances: mean 0, variance 1, no correlation from one to the next. The
    /// dispersion of 2,000 still series together is 1 within 5%.
    #[test]
    fn innovations_of_a_still_series_are_standard_normal() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let (mut s, mut s2, mut lag, mut n) = (0.0, 0.0, 0.0, 0.0);
        let mut all: Vec<Vec<Obs>> = Vec::new();
        for _ in 0..2000 {
            let obs: Vec<Obs> = (0..30)
                .map(|t| {
                    let var = if t == 0 { 0.2 } else { 0.5 + (t % 3) as f64 };
                    let x = 3.0 + var.sqrt() * normal(&mut rng);
                    Obs { value: x, var }
                })
                .collect();
            let r = run(&obs, 0.5);
            all.push(obs);
            let z: Vec<f64> = r.z.iter().flatten().copied().collect();
            for w in z.windows(2) {
                lag += w[0] * w[1];
            }
            for &x in &z {
                s += x;
                s2 += x * x;
                n += 1.0;
            }
        }
        let mean = s / n;
        let var = s2 / n - mean * mean;
        assert!(mean.abs() < 0.03, "{mean}");
        assert!((var - 1.0).abs() < 0.04, "{var}");
        assert!((lag / n).abs() < 0.03, "{}", lag / n);
        let phi = dispersion(all.iter().map(Vec::as_slice));
        assert!(phi < 1.05, "{phi}");
    }

    /// By hand: anchor 0 (variance 1), then 0, 3, 3 (variance 1). Innovations: (0 − 0)/√2 = 0;
    /// mean of 0, 0 is 0 with variance ½: (3 − 0)/√1.5 = 2.449; mean of 0, 0, 3 is 1 with
    /// variance ⅓: (3 − 1)/√(4/3) = 1.732. S⁺ with k = 0.5: 0, 1.949, 3.181. The run began at
    /// the second night, after a level of 0.
    #[test]
    fn a_short_run_by_hand() {
        let obs: Vec<Obs> = [0.0, 0.0, 3.0, 3.0]
            .iter()
            .map(|&value| Obs { value, var: 1.0 })
            .collect();
        let r = run(&obs, 0.5);
        let z: Vec<f64> = r.z.iter().flatten().copied().collect();
        assert!((z[0] - 0.0).abs() < 1e-12);
        assert!((z[1] - 3.0 / 1.5_f64.sqrt()).abs() < 1e-12);
        assert!((z[2] - 2.0 / (4.0_f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((r.cusum[3] - (z[1] - 0.5 + z[2] - 0.5)).abs() < 1e-12);
        assert_eq!((r.side, r.start), (1, 2));
        assert_eq!(r.level_before, 0.0);
    }

    /// Nights that scatter beyond sampling in every series give a dispersion above 1 (here
    /// twice the variance: 2); one creeping series among still ones does not move it.
    #[test]
    fn dispersion_is_of_all_the_series_and_ignores_one_creep() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let series = |rng: &mut rand_chacha::ChaCha8Rng, sd: f64, creep: f64| -> Vec<Obs> {
            (0..30)
                .map(|t| Obs {
                    value: creep * t as f64 + sd * normal(rng),
                    var: 1.0,
                })
                .collect()
        };
        let scattered: Vec<Vec<Obs>> = (0..200)
            .map(|_| series(&mut rng, 2f64.sqrt(), 0.0))
            .collect();
        let phi = dispersion(scattered.iter().map(Vec::as_slice));
        assert!((phi - 2.0).abs() < 0.15, "{phi}");
        let mut still: Vec<Vec<Obs>> = (0..200).map(|_| series(&mut rng, 1.0, 0.0)).collect();
        let before = dispersion(still.iter().map(Vec::as_slice));
        still.push(series(&mut rng, 1.0, 0.5));
        let after = dispersion(still.iter().map(Vec::as_slice));
        assert!(
            before < 1.05 && (after - before).abs() < 0.02,
            "{before} {after}"
        );
        // Too few differences: 1.
        assert_eq!(dispersion(scattered[..1].iter().map(Vec::as_slice)), 1.0);
    }
}
