//! A seeded KLL quantile sketch for `f64`.
//!
//! Why not `datasketches::kll`: in datasketches 0.6 the compaction coin comes from a thread-local
//! generator seeded from `RandomState` (`src/common/random.rs`), so profiling the same file twice
//! gives different quantiles, and poisonscan promises byte-identical reports for the same seed.
//! This sketch follows the same algorithm and capacity schedule (Karnin, Lang & Liberty 2016, as
//! laid out in the DataSketches library: k = 200, minimum level width 8, capacities shrinking by
//! 2/3 per level below the top, compaction of the lowest full level with a random offset), so the
//! published rank-error bound applies; the coin is a SplitMix64 stream that the sketch carries.
//!
//! Items can also enter at a higher level with weight 2^level: that is how a shard's
//! deterministic subsample of rows is fed without bias (see `profile::column`).

use serde::{Deserialize, Serialize};

/// Default accuracy parameter, as in DataSketches.
pub const DEFAULT_K: u16 = 200;
const MIN_WIDTH: usize = 8;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Kll {
    k: u16,
    /// Total weight fed (sum of 2^level over inserted items).
    n: u64,
    min: Option<f64>,
    max: Option<f64>,
    /// `levels[h]` holds items of weight 2^h, unsorted.
    levels: Vec<Vec<f64>>,
    rng: u64,
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Capacity of level `height` in a sketch with `num_levels` levels: k·(2/3)^depth, at least 8.
#[inline]
fn level_capacity(k: u16, num_levels: usize, height: usize) -> usize {
    let depth = num_levels - height - 1;
    if k == DEFAULT_K && depth < 64 {
        // The hot path: a table computed once with the same formula.
        static TABLE: std::sync::OnceLock<[usize; 64]> = std::sync::OnceLock::new();
        return TABLE.get_or_init(|| std::array::from_fn(|d| capacity_formula(DEFAULT_K, d)))
            [depth];
    }
    capacity_formula(k, depth)
}

fn capacity_formula(k: u16, depth: usize) -> usize {
    let cap = (f64::from(k) * (2.0f64 / 3.0).powi(depth as i32)).round() as usize;
    cap.max(MIN_WIDTH)
}

impl Kll {
    pub fn new(k: u16, seed: u64) -> Kll {
        Kll {
            k: k.max(MIN_WIDTH as u16),
            n: 0,
            min: None,
            max: None,
            levels: vec![Vec::new()],
            rng: seed,
        }
    }

    /// Why a sketch read from a file cannot be one this code made: a value that is not finite
    /// (the sketches hold finite values only; a NaN would stall every walk over sorted values),
    /// more levels than weights fit in a u64, a width under the minimum, a min or max that is
    /// not finite or not the retained values' bounds, or retained weight that is not `n`.
    pub fn check(&self) -> std::result::Result<(), String> {
        if usize::from(self.k) < MIN_WIDTH || self.levels.len() > 63 {
            return Err(format!(
                "a quantile sketch has width {} and {} levels",
                self.k,
                self.levels.len()
            ));
        }
        let values = self.levels.iter().flatten();
        if let Some(x) = values.clone().find(|x| !x.is_finite()) {
            return Err(format!("a quantile sketch holds the value {x}"));
        }
        let weight: u128 = self
            .levels
            .iter()
            .enumerate()
            .map(|(h, l)| l.len() as u128 * (1u128 << h))
            .sum();
        if weight != u128::from(self.n) {
            return Err(format!(
                "a quantile sketch holds weight {weight} but says {}",
                self.n
            ));
        }
        let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        });
        let bound_ok = |b: Option<f64>, inside: bool| match b {
            None => self.n == 0,
            Some(b) => b.is_finite() && inside,
        };
        if !bound_ok(self.min, self.min.is_some_and(|m| m <= lo))
            || !bound_ok(self.max, self.max.is_some_and(|m| m >= hi))
        {
            return Err(format!(
                "a quantile sketch's min {:?} and max {:?} do not bound its values",
                self.min, self.max
            ));
        }
        Ok(())
    }

    /// Total weight represented (rows fed, counting each sampled row at its weight).
    pub fn n(&self) -> u64 {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    pub fn min(&self) -> Option<f64> {
        self.min
    }

    pub fn max(&self) -> Option<f64> {
        self.max
    }

    pub fn k(&self) -> u16 {
        self.k
    }

    pub fn num_retained(&self) -> usize {
        self.levels.iter().map(Vec::len).sum()
    }

    /// The DataSketches bound on the normalised rank error of a single rank query at 99%
    /// confidence, for this k: 2.296 / k^0.9723 (1.33% at k = 200).
    pub fn rank_error(&self) -> f64 {
        if self.is_exact() {
            return 0.0;
        }
        2.296 / f64::from(self.k).powf(0.9723)
    }

    /// The DataSketches bound on the largest normalised rank error over all queries at once
    /// (what a Kolmogorov–Smirnov distance needs), 99% confidence: 2.446 / k^0.9433 (1.65% at
    /// k = 200). Zero while the sketch holds every value it was given.
    pub fn rank_error_all(&self) -> f64 {
        if self.is_exact() {
            return 0.0;
        }
        2.446 / f64::from(self.k).powf(0.9433)
    }

    /// Whether every value given is retained with weight 1 (no compaction, no sampling).
    pub fn is_exact(&self) -> bool {
        self.n as usize == self.num_retained() && self.levels.iter().skip(1).all(Vec::is_empty)
    }

    /// Add one finite value with weight 1.
    #[inline]
    pub fn update(&mut self, x: f64) {
        self.update_at(x, 0);
    }

    /// Add one finite value with weight 2^level.
    #[inline]
    pub fn update_at(&mut self, x: f64, level: usize) {
        debug_assert!(x.is_finite());
        self.min = Some(self.min.map_or(x, |m| m.min(x)));
        self.max = Some(self.max.map_or(x, |m| m.max(x)));
        self.n += 1u64 << level;
        while self.levels.len() <= level {
            self.levels.push(Vec::new());
        }
        self.levels[level].push(x);
        if self.levels[level].len() >= level_capacity(self.k, self.levels.len(), level) {
            self.compress();
        }
    }

    fn total_capacity(&self) -> usize {
        (0..self.levels.len())
            .map(|h| level_capacity(self.k, self.levels.len(), h))
            .sum()
    }

    /// Compact full levels, lowest first, until every level is within its capacity and the
    /// total is within the total capacity.
    fn compress(&mut self) {
        loop {
            let nl = self.levels.len();
            let Some(h) = (0..nl).find(|&h| self.levels[h].len() >= level_capacity(self.k, nl, h))
            else {
                if self.num_retained() > self.total_capacity() {
                    // Cannot happen with per-level capacities respected; keep the loop finite.
                    break;
                }
                return;
            };
            if h + 1 == nl {
                self.levels.push(Vec::new());
            }
            let (low, high) = self.levels.split_at_mut(h + 1);
            let items = &mut low[h];
            items.sort_unstable_by(f64::total_cmp);
            // An odd item stays behind so that the weight promoted is exactly preserved.
            let keep = if items.len() % 2 == 1 {
                items.pop()
            } else {
                None
            };
            let offset = (splitmix(&mut self.rng) & 1) as usize;
            high[0].extend(items.iter().skip(offset).step_by(2).copied());
            items.clear();
            if let Some(x) = keep {
                items.push(x);
            }
        }
    }

    /// Merge another sketch into this one. Deterministic for a given merge order.
    pub fn merge(&mut self, other: &Kll) {
        if other.n == 0 {
            return;
        }
        self.n += other.n;
        self.min = match (self.min, other.min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max = match (self.max, other.max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        while self.levels.len() < other.levels.len() {
            self.levels.push(Vec::new());
        }
        for (h, l) in other.levels.iter().enumerate() {
            self.levels[h].extend_from_slice(l);
        }
        self.rng ^= other.rng.rotate_left(17);
        splitmix(&mut self.rng);
        self.compress();
    }

    /// Retained items with weights, sorted by value.
    pub fn sorted_view(&self) -> Vec<(f64, u64)> {
        let mut v: Vec<(f64, u64)> = self
            .levels
            .iter()
            .enumerate()
            .flat_map(|(h, l)| l.iter().map(move |&x| (x, 1u64 << h)))
            .collect();
        v.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        v
    }

    /// Weight of the retained items that satisfy `keep`.
    fn weight_where(&self, keep: impl Fn(f64) -> bool) -> u64 {
        self.levels
            .iter()
            .enumerate()
            .map(|(h, l)| l.iter().filter(|&&v| keep(v)).count() as u64 * (1u64 << h))
            .sum()
    }

    /// Fraction of the weight at or below `x` (inclusive rank).
    pub fn rank(&self, x: f64) -> Option<f64> {
        (self.n > 0).then(|| self.weight_where(|v| v <= x) as f64 / self.n as f64)
    }

    /// Fraction of the weight strictly below `x` (exclusive rank).
    pub fn rank_lt(&self, x: f64) -> Option<f64> {
        (self.n > 0).then(|| self.weight_where(|v| v < x) as f64 / self.n as f64)
    }

    /// The smallest retained value whose inclusive rank is at least `q`; exact min and max at
    /// q = 0 and q = 1.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.n == 0 {
            return None;
        }
        if q <= 0.0 {
            return self.min;
        }
        if q >= 1.0 {
            return self.max;
        }
        self.quantiles(&[q]).into_iter().next()
    }

    /// Quantiles at sorted or unsorted ranks, from one sorted view.
    pub fn quantiles(&self, qs: &[f64]) -> Vec<f64> {
        if self.n == 0 {
            return Vec::new();
        }
        let view = self.sorted_view();
        qs.iter()
            .map(|&q| {
                if q <= 0.0 {
                    return self.min.unwrap_or(f64::NAN);
                }
                if q >= 1.0 {
                    return self.max.unwrap_or(f64::NAN);
                }
                let target = q * self.n as f64;
                let mut cum = 0u64;
                for &(x, w) in &view {
                    cum += w;
                    if cum as f64 >= target {
                        return x;
                    }
                }
                self.max.unwrap_or(f64::NAN)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every way `check` refuses a sketch no run makes, and a sketch that went through
    /// compactions and a merge passes (its retained weight is its n).
    #[test]
    fn check_refuses_what_no_run_makes() {
        let mut good = Kll::new(DEFAULT_K, 3);
        for i in 0..100_000 {
            good.update(f64::from(i % 977));
        }
        let mut other = Kll::new(DEFAULT_K, 4);
        for i in 0..5_000 {
            other.update(f64::from(i) * 0.5);
        }
        good.merge(&other);
        assert!(good.levels.len() > 1);
        good.check().unwrap();
        Kll::new(DEFAULT_K, 1).check().unwrap();
        let refused = |f: &dyn Fn(&mut Kll)| {
            let mut k = good.clone();
            f(&mut k);
            k.check().unwrap_err()
        };
        assert!(refused(&|k| k.n += 1).contains("holds weight"));
        assert!(refused(&|k| k.levels[0].push(f64::INFINITY)).contains("holds the value inf"));
        assert!(refused(&|k| k.min = Some(1e9)).contains("do not bound"));
        assert!(refused(&|k| k.max = None).contains("do not bound"));
        assert!(refused(&|k| k.k = 2).contains("width 2"));
        assert!(refused(&|k| k.levels.resize(64, Vec::new())).contains("64 levels"));
    }

    fn true_rank(sorted: &[f64], x: f64) -> f64 {
        sorted.partition_point(|&v| v <= x) as f64 / sorted.len() as f64
    }

    #[test]
    fn exact_while_small() {
        let mut s = Kll::new(200, 1);
        for i in 0..100 {
            s.update(f64::from(i));
        }
        assert_eq!(s.quantile(0.5), Some(49.0));
        assert_eq!(s.rank(9.0), Some(0.1));
        assert_eq!(s.min(), Some(0.0));
        assert_eq!(s.max(), Some(99.0));
    }

    #[test]
    fn rank_error_within_bound_and_weight_preserved() {
        let mut s = Kll::new(200, 7);
        let mut vals: Vec<f64> = (0..200_000u64)
            .map(|i| ((i.wrapping_mul(2654435761) % 1_000_003) as f64).sqrt())
            .collect();
        for &v in &vals {
            s.update(v);
        }
        vals.sort_by(f64::total_cmp);
        assert_eq!(s.n(), 200_000);
        let total: u64 = s.sorted_view().iter().map(|p| p.1).sum();
        assert_eq!(total, 200_000);
        for q in [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99] {
            let x = s.quantile(q).unwrap();
            let r = true_rank(&vals, x);
            assert!((r - q).abs() <= s.rank_error(), "q={q} r={r}");
        }
        assert!(s.num_retained() < 1000);
    }

    #[test]
    fn same_seed_same_sketch_and_merge_bound() {
        let mk = |seed, lo: u64, hi: u64| {
            let mut s = Kll::new(200, seed);
            for i in lo..hi {
                s.update((i * 7919 % 100_000) as f64);
            }
            s
        };
        assert_eq!(mk(3, 0, 50_000), mk(3, 0, 50_000));
        let mut a = mk(1, 0, 60_000);
        a.merge(&mk(2, 60_000, 100_000));
        let mut all: Vec<f64> = (0..100_000u64)
            .map(|i| (i * 7919 % 100_000) as f64)
            .collect();
        all.sort_by(f64::total_cmp);
        assert_eq!(a.n(), 100_000);
        for q in [0.05, 0.5, 0.95] {
            let r = true_rank(&all, a.quantile(q).unwrap());
            assert!((r - q).abs() <= a.rank_error(), "q={q} r={r}");
        }
    }

    #[test]
    fn weighted_items() {
        let mut s = Kll::new(200, 0);
        s.update_at(1.0, 3);
        s.update(2.0);
        assert_eq!(s.n(), 9);
        assert_eq!(s.rank(1.0), Some(8.0 / 9.0));
    }
}
