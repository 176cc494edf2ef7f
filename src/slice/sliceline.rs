//! SliceLine (Sagadeeva & Boehm, SIGMOD 2021): the top-K slices (conjunctions of at most
//! `max_level` items on distinct attributes) by the score
//!
//! `sc = α((se/ss)/ē − 1) − (1−α)(n/ss − 1)`
//!
//! where `ss` is the slice's size, `se` its summed error, `n` the rows and `ē` the mean error.
//! Enumeration is level-wise: a level-L candidate joins two level-(L−1) slices that share L−2
//! items, and is kept only if all its L−1 parents were valid (at least `min_support` rows and
//! some error). Its size, error and largest error are bounded by its parents' minima, which
//! bound its score from above (the score is piecewise monotone in the size, so the bound is the
//! largest of its values at three sizes); a candidate whose bound cannot reach the current K-th
//! score is never evaluated. Rows carry weights (a stratified sample's rows stand for different
//! numbers of rows), so sizes and errors are weighted sums; with unit weights this is the
//! paper's algorithm and matches the `sliceline` Python package.
//!
//! Rows of each item are a bitset, so a candidate costs one AND over the rows per item.

use std::collections::HashMap;

use rayon::prelude::*;

/// The rows of one item (a predicate such as `region = south`), and its attribute: two items
/// on the same attribute never share a slice.
#[derive(Debug, Clone)]
pub struct Item {
    pub attribute: u32,
    pub rows: Vec<u64>,
}

impl Item {
    pub fn new(attribute: u32, n_rows: usize) -> Item {
        Item {
            attribute,
            rows: vec![0; n_rows.div_ceil(64)],
        }
    }

    pub fn set(&mut self, row: usize) {
        self.rows[row / 64] |= 1 << (row % 64);
    }

    pub fn count(&self) -> u64 {
        self.rows.iter().map(|w| u64::from(w.count_ones())).sum()
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Weight of the error term against the size term, in (0, 1].
    pub alpha: f64,
    pub k: usize,
    pub max_level: usize,
    /// Smallest slice, in rows (not weighted).
    pub min_support: u64,
    /// At most this many candidates are evaluated per level (those with the highest upper
    /// bounds); beyond it the search is no longer exact, and `Found::truncated` says so.
    pub max_candidates: usize,
}

/// A slice and its statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct Slice {
    /// Item indices, ascending.
    pub items: Vec<u32>,
    pub rows: u64,
    /// Weighted size and error, largest single error.
    pub size: f64,
    pub error: f64,
    pub max_error: f64,
    pub score: f64,
}

/// What a search found.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// Best first (ties by items).
    pub top: Vec<Slice>,
    /// Slices evaluated, all levels.
    pub evaluated: usize,
    /// Whether a level had more candidates than `max_candidates`.
    pub truncated: bool,
}

struct Problem<'a> {
    items: &'a [Item],
    weight: &'a [f64],
    error: &'a [f64],
    n: f64,
    mean_error: f64,
    alpha: f64,
    /// When rows take few distinct (weight, error) pairs (a stratified sample's weights and a
    /// 0/1 error), the rows of each pair as a bitset: a slice's sums are then popcounts.
    groups: Vec<(f64, f64, Vec<u64>)>,
}

/// The rows of each distinct (weight, error) pair, if there are at most `MAX_GROUPS`.
const MAX_GROUPS: usize = 16;

fn groups_of(weight: &[f64], error: &[f64]) -> Vec<(f64, f64, Vec<u64>)> {
    let words = weight.len().div_ceil(64);
    let mut out: Vec<(f64, f64, Vec<u64>)> = Vec::new();
    for (r, (&w, &e)) in weight.iter().zip(error).enumerate() {
        let g = match out
            .iter()
            .position(|(a, b, _)| a.to_bits() == w.to_bits() && b.to_bits() == e.to_bits())
        {
            Some(g) => g,
            None => {
                if out.len() == MAX_GROUPS {
                    return Vec::new();
                }
                out.push((w, e, vec![0; words]));
                out.len() - 1
            }
        };
        out[g].2[r / 64] |= 1 << (r % 64);
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    out
}

impl Problem<'_> {
    fn score(&self, size: f64, error: f64) -> f64 {
        if size <= 0.0 {
            return f64::NEG_INFINITY;
        }
        self.alpha * ((error / size) / self.mean_error - 1.0)
            - (1.0 - self.alpha) * (self.n / size - 1.0)
    }

    /// The largest score a slice with size at most `size`, error at most `error` and no row
    /// error above `max_error` can reach, with size at least `min_size`.
    fn upper_bound(&self, size: f64, error: f64, max_error: f64, min_size: f64) -> f64 {
        if size < min_size || error <= 0.0 || max_error <= 0.0 {
            return f64::NEG_INFINITY;
        }
        let knee = (error / max_error).clamp(min_size, size);
        [min_size, knee, size]
            .iter()
            .filter(|&&s| s > 0.0)
            .map(|&s| {
                (self.alpha * ((s * max_error).min(error) / self.mean_error - s)
                    - (1.0 - self.alpha) * (self.n - s))
                    / s
            })
            .fold(f64::NEG_INFINITY, f64::max)
    }

    fn evaluate(&self, items: &[u32]) -> Slice {
        let first = &self.items[items[0] as usize].rows;
        let (mut rows, mut size, mut error, mut max_error) = (0u64, 0.0, 0.0, 0.0f64);
        let mut counts = [0u64; MAX_GROUPS];
        let slice_word = |wi: usize, w0: u64| {
            let mut w = w0;
            for &it in &items[1..] {
                w &= self.items[it as usize].rows[wi];
                if w == 0 {
                    break;
                }
            }
            w
        };
        if !self.groups.is_empty() {
            // The slice's rows as a bitset, then each group's count a popcount over it, one
            // group at a time (its count stays in a register).
            let words: Vec<u64> = first
                .iter()
                .enumerate()
                .map(|(wi, &w0)| slice_word(wi, w0))
                .collect();
            for (count, (_, _, bits)) in counts.iter_mut().zip(&self.groups) {
                *count = words
                    .iter()
                    .zip(bits)
                    .map(|(&w, &b)| u64::from((w & b).count_ones()))
                    .sum();
            }
        } else {
            for (wi, &w0) in first.iter().enumerate() {
                let mut w = slice_word(wi, w0);
                while w != 0 {
                    let r = wi * 64 + w.trailing_zeros() as usize;
                    w &= w - 1;
                    rows += 1;
                    size += self.weight[r];
                    error += self.weight[r] * self.error[r];
                    max_error = max_error.max(self.error[r]);
                }
            }
        }
        for (g, &(wt, e, _)) in self.groups.iter().enumerate() {
            let k = counts[g];
            if k > 0 {
                rows += k;
                size += wt * k as f64;
                error += wt * e * k as f64;
                max_error = max_error.max(e);
            }
        }
        Slice {
            items: items.to_vec(),
            rows,
            size,
            error,
            max_error,
            score: self.score(size, error),
        }
    }
}

/// Keep the `k` best slices with a positive score (ties by items, for determinism).
fn offer(top: &mut Vec<Slice>, k: usize, s: &Slice) {
    if s.score.is_nan() || s.score <= 0.0 {
        return;
    }
    top.push(s.clone());
    top.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.items.cmp(&b.items))
    });
    top.truncate(k);
}

/// The top-K slices of rows with `weight` and non-negative `error` (one each), over `items`.
pub fn top_k(items: &[Item], weight: &[f64], error: &[f64], s: &Settings) -> Found {
    let n: f64 = weight.iter().sum();
    let total_error: f64 = weight.iter().zip(error).map(|(w, e)| w * e).sum();
    let mut found = Found::default();
    if n <= 0.0 || total_error <= 0.0 || s.k == 0 || s.max_level == 0 {
        return found;
    }
    let p = Problem {
        items,
        weight,
        error,
        n,
        mean_error: total_error / n,
        alpha: s.alpha,
        groups: groups_of(weight, error),
    };
    // A slice of `min_support` rows weighs at least this.
    let w_min = weight
        .iter()
        .copied()
        .filter(|&w| w > 0.0)
        .fold(f64::INFINITY, f64::min);
    let min_size = s.min_support as f64 * w_min;
    let valid = |x: &Slice| x.rows >= s.min_support && x.error > 0.0;

    let mut level: Vec<Slice> = (0..items.len() as u32)
        .into_par_iter()
        .map(|i| p.evaluate(&[i]))
        .collect();
    found.evaluated += level.len();
    level.retain(valid);
    for x in &level {
        offer(&mut found.top, s.k, x);
    }
    for l in 2..=s.max_level {
        level = carry(&p, level, &found.top, s, min_size, &mut found.truncated);
        if level.len() < 2 {
            break;
        }
        level.sort_by(|a, b| a.items.cmp(&b.items));
        let index: HashMap<&[u32], usize> = level
            .iter()
            .enumerate()
            .map(|(i, x)| (&x.items[..], i))
            .collect();
        let threshold = if found.top.len() == s.k {
            found.top[s.k - 1].score
        } else {
            0.0
        };
        // Join slices sharing their first l-2 items (they are adjacent once sorted).
        let mut candidates: Vec<(f64, Vec<u32>)> = Vec::new();
        let mut start = 0;
        while start < level.len() {
            let prefix = &level[start].items[..l - 2];
            let mut end = start + 1;
            while end < level.len() && &level[end].items[..l - 2] == prefix {
                end += 1;
            }
            for a in start..end {
                for b in a + 1..end {
                    let (x, y) = (&level[a], &level[b]);
                    let (ix, iy) = (x.items[l - 2], y.items[l - 2]);
                    if items[ix as usize].attribute == items[iy as usize].attribute {
                        continue;
                    }
                    let mut cand = x.items.clone();
                    cand.push(iy);
                    // Every parent (the candidate without one item) must be valid; the bounds
                    // are the parents' minima.
                    let mut sub = Vec::with_capacity(l - 1);
                    let (mut size, mut error, mut max_error, mut rows) =
                        (f64::INFINITY, f64::INFINITY, f64::INFINITY, u64::MAX);
                    let mut all = true;
                    for skip in 0..l {
                        sub.clear();
                        sub.extend(
                            cand.iter()
                                .enumerate()
                                .filter(|&(j, _)| j != skip)
                                .map(|(_, &v)| v),
                        );
                        match index.get(&sub[..]) {
                            Some(&pi) => {
                                let q = &level[pi];
                                size = size.min(q.size);
                                error = error.min(q.error);
                                max_error = max_error.min(q.max_error);
                                rows = rows.min(q.rows);
                            }
                            None => {
                                all = false;
                                break;
                            }
                        }
                    }
                    if !all || rows < s.min_support {
                        continue;
                    }
                    let ub = p.upper_bound(size, error, max_error, min_size);
                    if ub > 0.0 && ub >= threshold {
                        candidates.push((ub, cand));
                    }
                }
            }
            start = end;
        }
        if candidates.len() > s.max_candidates {
            found.truncated = true;
            candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
            candidates.truncate(s.max_candidates);
        }
        let evaluated: Vec<Slice> = candidates.par_iter().map(|(_, c)| p.evaluate(c)).collect();
        found.evaluated += evaluated.len();
        level = evaluated.into_iter().filter(valid).collect();
        for x in &level {
            offer(&mut found.top, s.k, x);
        }
    }
    found
}

/// The slices that go on to the next level: a slice's bound (from its own size, error and
/// largest error) bounds every slice it is part of, so one below the K-th score has no
/// descendant in the top K (exact). At most `max` of them go on, those with the highest bounds
/// (beyond it the search is no longer exact: `truncated`).
fn carry(
    p: &Problem<'_>,
    mut level: Vec<Slice>,
    top: &[Slice],
    s: &Settings,
    min_size: f64,
    truncated: &mut bool,
) -> Vec<Slice> {
    let threshold = if top.len() == s.k {
        top[s.k - 1].score
    } else {
        0.0
    };
    let mut bounded: Vec<(f64, Slice)> = level
        .drain(..)
        .map(|x| (p.upper_bound(x.size, x.error, x.max_error, min_size), x))
        .filter(|(ub, _)| *ub > 0.0 && *ub >= threshold)
        .collect();
    if bounded.len() > s.max_candidates / 10 {
        *truncated = true;
        bounded.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.items.cmp(&b.1.items)));
        bounded.truncate(s.max_candidates / 10);
    }
    bounded.into_iter().map(|(_, x)| x).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Items from a table of categorical codes (one attribute per column).
    fn items_of(table: &[Vec<u32>]) -> (Vec<Item>, Vec<(usize, u32)>) {
        let n = table.len();
        let mut keys: Vec<(usize, u32)> = table
            .iter()
            .flat_map(|r| r.iter().enumerate().map(|(j, &v)| (j, v)))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let items = keys
            .iter()
            .map(|&(j, v)| {
                let mut it = Item::new(j as u32, n);
                for (i, r) in table.iter().enumerate() {
                    if r[j] == v {
                        it.set(i);
                    }
                }
                it
            })
            .collect();
        (items, keys)
    }

    /// Every conjunction up to `max_level`, scored directly: what the pruned search must match.
    fn brute_force(items: &[Item], w: &[f64], e: &[f64], s: &Settings) -> Vec<Slice> {
        let n: f64 = w.iter().sum();
        let te: f64 = w.iter().zip(e).map(|(a, b)| a * b).sum();
        let p = Problem {
            items,
            weight: w,
            error: e,
            n,
            mean_error: te / n,
            alpha: s.alpha,
            groups: Vec::new(),
        };
        let mut top = Vec::new();
        let m = items.len() as u32;
        let mut stack: Vec<Vec<u32>> = (0..m).map(|i| vec![i]).collect();
        while let Some(c) = stack.pop() {
            let x = p.evaluate(&c);
            if x.rows >= s.min_support && x.error > 0.0 {
                offer(&mut top, s.k, &x);
            }
            if c.len() < s.max_level {
                for j in c[c.len() - 1] + 1..m {
                    if c.iter()
                        .all(|&i| items[i as usize].attribute != items[j as usize].attribute)
                    {
                        let mut d = c.clone();
                        d.push(j);
                        stack.push(d);
                    }
                }
            }
        }
        top
    }

    fn fixture(seed: u64, n: usize) -> (Vec<Vec<u32>>, Vec<f64>, Vec<f64>) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut table = Vec::new();
        let mut w = Vec::new();
        let mut e = Vec::new();
        for _ in 0..n {
            let r: Vec<u32> = (0..4).map(|j| rng.random_range(0..3 + j as u32)).collect();
            // Errors concentrate where attribute 0 is 1 and attribute 2 is 0.
            let p = if r[0] == 1 && r[2] == 0 { 0.7 } else { 0.1 };
            e.push(if rng.random_bool(p) { 1.0 } else { 0.0 });
            w.push(if rng.random_bool(0.5) { 1.0 } else { 2.5 });
            table.push(r);
        }
        (table, w, e)
    }

    #[test]
    fn pruned_search_finds_the_exhaustive_top_k() {
        for seed in 0..4 {
            let (table, w, e) = fixture(seed, 600);
            let (items, _) = items_of(&table);
            for alpha in [0.5, 0.95] {
                let s = Settings {
                    alpha,
                    k: 5,
                    max_level: 3,
                    min_support: 8,
                    max_candidates: usize::MAX,
                };
                let got = top_k(&items, &w, &e, &s);
                let want = brute_force(&items, &w, &e, &s);
                assert_eq!(
                    got.top
                        .iter()
                        .map(|x| (x.items.clone(), x.score))
                        .collect::<Vec<_>>(),
                    want.iter()
                        .map(|x| (x.items.clone(), x.score))
                        .collect::<Vec<_>>(),
                    "seed {seed} alpha {alpha}"
                );
                for (g, x) in got.top.iter().zip(&want) {
                    assert_eq!(g.items, x.items, "seed {seed} alpha {alpha}");
                    assert!((g.score - x.score).abs() < 1e-12);
                }
                assert!(!got.truncated);
            }
        }
    }

    /// The `sliceline` Python package's top slices on the same fixture
    /// (`scripts/sliceline_reference.py`): same slices, sizes, errors and scores.
    #[test]
    fn matches_the_sliceline_package() {
        let csv = include_str!("../../datasets/sliceline/fixture.csv");
        let mut table = Vec::new();
        let mut e = Vec::new();
        for line in csv.lines().skip(1) {
            let v: Vec<f64> = line.split(',').map(|x| x.parse().unwrap()).collect();
            table.push(v[..4].iter().map(|&x| x as u32).collect::<Vec<u32>>());
            e.push(v[4]);
        }
        let w = vec![1.0; e.len()];
        let (items, keys) = items_of(&table);
        let expected: serde_json::Value =
            serde_json::from_str(include_str!("../../datasets/sliceline/expected.json")).unwrap();
        for (alpha, want) in expected.as_object().unwrap() {
            let s = Settings {
                alpha: alpha.parse().unwrap(),
                k: 4,
                max_level: 3,
                min_support: 10,
                max_candidates: usize::MAX,
            };
            let got = top_k(&items, &w, &e, &s).top;
            let want = want.as_array().unwrap();
            assert_eq!(got.len(), want.len(), "alpha {alpha}");
            for (g, x) in got.iter().zip(want) {
                let mut named: Vec<(String, u64)> = g
                    .items
                    .iter()
                    .map(|&i| {
                        let (j, v) = keys[i as usize];
                        (format!("c{j}"), u64::from(v))
                    })
                    .collect();
                named.sort();
                let mut theirs: Vec<(String, u64)> = x["slice"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
                    .collect();
                theirs.sort();
                assert_eq!(named, theirs, "alpha {alpha}");
                assert_eq!(g.size, x["size"].as_f64().unwrap());
                assert_eq!(g.error, x["error"].as_f64().unwrap());
                assert!(
                    (g.score - x["score"].as_f64().unwrap()).abs() < 1e-9,
                    "alpha {alpha}"
                );
            }
        }
    }

    #[test]
    fn the_planted_slice_ranks_first() {
        let (table, _, e) = fixture(7, 2000);
        let w = vec![1.0; e.len()];
        let (items, keys) = items_of(&table);
        let s = Settings {
            alpha: 0.95,
            k: 3,
            max_level: 3,
            min_support: 10,
            max_candidates: usize::MAX,
        };
        let top = top_k(&items, &w, &e, &s).top;
        let named: Vec<(usize, u32)> = top[0].items.iter().map(|&i| keys[i as usize]).collect();
        assert_eq!(named, vec![(0, 1), (2, 0)]);
        // The score by hand: alpha ((se/ss)/ebar - 1) - (1 - alpha)(n/ss - 1).
        let n = e.len() as f64;
        let ebar = e.iter().sum::<f64>() / n;
        let x = &top[0];
        let want = 0.95 * ((x.error / x.size) / ebar - 1.0) - 0.05 * (n / x.size - 1.0);
        assert!((x.score - want).abs() < 1e-12);
    }
}
