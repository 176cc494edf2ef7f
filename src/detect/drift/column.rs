//! The drift test of each column against the baseline, made once per scan: numeric columns by
//! PSI over the baseline's decile bins and KS on the sketches (with Wasserstein as evidence),
//! categorical columns by L∞ and chi-square on the category counts; q-values across columns.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::{POINT_MASS, PSI_FLOOR, TOP_VALUES, linf, shares};
use crate::detect::{features, json_num};
use crate::profile::column::Frequent;
use crate::profile::{ColumnProfile, Profile, Role};
use crate::stats;

/// Baseline-decile bins of a numeric column: below the baseline's minimum, the deciles (and the
/// 95th and 99th percentiles) between its minimum and maximum, a bin of its own for any value
/// holding ≥ 5% of the rows, above its maximum, and missing (null, NaN, ±inf).
#[derive(Debug, Clone)]
pub struct Bins {
    pub lo: f64,
    pub hi: f64,
    /// Inner edges: distinct deciles strictly above `lo` and at most `hi`.
    pub edges: Vec<f64>,
}

impl Bins {
    pub fn of(b: &ColumnProfile) -> Option<Bins> {
        let n = b.numeric.as_ref()?;
        let (lo, hi) = (n.min?, n.max?);
        let k = &n.quantiles;
        let qs = k.quantiles(&[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]);
        // A value holding a point mass (zero-inflated or discrete columns, where deciles
        // coincide) gets a bin of its own: an edge just above it.
        let mut edges: Vec<f64> = Vec::with_capacity(2 * qs.len());
        for &q in &qs {
            edges.push(q);
            let mass = k.rank(q).unwrap_or(0.0) - k.rank_lt(q).unwrap_or(0.0);
            if mass >= POINT_MASS {
                edges.push(crate::detect::next_up(q));
            }
        }
        edges.retain(|&e| e > lo && e <= hi);
        edges.sort_by(f64::total_cmp);
        edges.dedup();
        Some(Bins { lo, hi, edges })
    }

    pub fn labels(&self) -> Vec<String> {
        let mut v = vec![format!("< {}", self.lo)];
        let mut prev = self.lo;
        for &e in &self.edges {
            v.push(format!("[{prev}, {e})"));
            prev = e;
        }
        v.push(format!("[{prev}, {}]", self.hi));
        v.push(format!("> {}", self.hi));
        v.push("missing".into());
        v
    }

    /// Shares of all rows per bin, from a CDF of the finite values (`lt`: share strictly
    /// below, `le`: at or below), the share of rows that are finite, and optionally exact
    /// shares (of all rows) below and above the range.
    pub fn shares(
        &self,
        lt: impl Fn(f64) -> f64,
        le: impl Fn(f64) -> f64,
        finite_share: f64,
        exact_out: Option<(f64, f64)>,
    ) -> Vec<f64> {
        let mut inner = Vec::with_capacity(self.edges.len() + 1);
        let mut prev = lt(self.lo);
        for &e in &self.edges {
            let c = lt(e);
            inner.push((c - prev).max(0.0));
            prev = c;
        }
        inner.push((le(self.hi) - prev).max(0.0));
        let (below, above) = match exact_out {
            Some(x) => x,
            None => (
                lt(self.lo) * finite_share,
                (1.0 - le(self.hi)).max(0.0) * finite_share,
            ),
        };
        let inner_total: f64 = inner.iter().sum();
        let inner_share = (finite_share - below - above).max(0.0);
        let scale = if inner_total > 0.0 {
            inner_share / inner_total
        } else {
            0.0
        };
        let mut out = vec![below];
        out.extend(inner.into_iter().map(|x| x * scale));
        out.push(above);
        out.push((1.0 - finite_share).max(0.0));
        out
    }
}

/// Baseline bin shares of a numeric column.
pub(super) fn baseline_shares(b: &ColumnProfile, bins: &Bins) -> Option<Vec<f64>> {
    let n = b.numeric.as_ref()?;
    let k = &n.quantiles;
    let finite = n.count as f64 / b.rows.max(1) as f64;
    Some(bins.shares(
        |x| k.rank_lt(x).unwrap_or(0.0),
        |x| k.rank(x).unwrap_or(0.0),
        finite,
        Some((0.0, 0.0)),
    ))
}

/// Current bin shares of a numeric column (exact out-of-range counts when profiled against the
/// baseline's range).
fn current_shares(c: &ColumnProfile, bins: &Bins) -> Option<Vec<f64>> {
    let n = c.numeric.as_ref()?;
    let k = &n.quantiles;
    let rows = c.rows.max(1) as f64;
    let exact = c
        .outside
        .as_ref()
        .filter(|o| o.low == bins.lo && o.high == bins.hi)
        .map(|o| {
            (
                o.below.values().sum::<u64>() as f64 / rows,
                o.above.values().sum::<u64>() as f64 / rows,
            )
        });
    Some(bins.shares(
        |x| k.rank_lt(x).unwrap_or(0.0),
        |x| k.rank(x).unwrap_or(0.0),
        n.count as f64 / rows,
        exact,
    ))
}

/// Category counts of both sides over the union of their values (non-null rows), and whether
/// they are estimates (frequent items plus an "other" bucket).
fn category_counts(
    c: &ColumnProfile,
    b: &ColumnProfile,
) -> (Vec<String>, Vec<f64>, Vec<f64>, bool) {
    if let (Some(cv), Some(bv)) = (c.value_counts(), b.value_counts()) {
        let keys: BTreeSet<&str> = cv.keys().chain(bv.keys()).copied().collect();
        let cc = keys
            .iter()
            .map(|k| cv.get(k).copied().unwrap_or(0) as f64)
            .collect();
        let bc = keys
            .iter()
            .map(|k| bv.get(k).copied().unwrap_or(0) as f64)
            .collect();
        return (keys.into_iter().map(String::from).collect(), cc, bc, false);
    }
    let top = |p: &ColumnProfile| -> BTreeMap<String, u64> {
        match (&p.value_counts(), &p.frequent) {
            (Some(v), _) => v.iter().map(|(k, c)| (k.to_string(), *c)).collect(),
            (None, Frequent::Text(_) | Frequent::Number(_)) => p
                .frequent_values(1)
                .into_iter()
                .take(TOP_VALUES)
                .map(|f| (f.value, f.estimate))
                .collect(),
        }
    };
    let (tc, tb) = (top(c), top(b));
    let keys: BTreeSet<&String> = tc.keys().chain(tb.keys()).collect();
    let mut names: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    let mut cc: Vec<f64> = keys
        .iter()
        .map(|k| tc.get(*k).copied().unwrap_or(0) as f64)
        .collect();
    let mut bc: Vec<f64> = keys
        .iter()
        .map(|k| tb.get(*k).copied().unwrap_or(0) as f64)
        .collect();
    let other = |n: u64, v: &[f64]| (n as f64 - v.iter().sum::<f64>()).max(0.0);
    let (oc, ob) = (other(c.non_null(), &cc), other(b.non_null(), &bc));
    names.push("<other>".into());
    cc.push(oc);
    bc.push(ob);
    (names, cc, bc, true)
}

/// The drift test of one column.
#[derive(Debug, Clone)]
pub struct ColumnDrift {
    pub column: String,
    pub numeric: bool,
    /// PSI (numeric) or L∞ (categorical).
    pub effect: f64,
    pub statistic: (String, f64),
    pub p: f64,
    pub q: f64,
    pub rows: u64,
    pub baseline_rows: u64,
    pub evidence: Vec<(&'static str, Value)>,
    pub title: String,
}

/// Test every feature column present on both sides; q-values are adjusted across all of them.
pub fn column_drift(cur: &Profile, base: &Profile) -> Vec<ColumnDrift> {
    let mut out = Vec::new();
    for (c, _) in features(cur) {
        let Some(b) = base.column(&c.name) else {
            continue;
        };
        match base.role(b) {
            Role::Numeric => {
                if let Some(d) = numeric_drift(c, b) {
                    out.push(d);
                }
            }
            Role::Categorical => {
                if let Some(d) = categorical_drift(c, b) {
                    out.push(d);
                }
            }
            _ => {}
        }
    }
    let q = stats::bh_adjust(&out.iter().map(|d| d.p).collect::<Vec<_>>());
    for (d, q) in out.iter_mut().zip(q) {
        d.q = q;
    }
    out
}

pub(super) fn numeric_drift(c: &ColumnProfile, b: &ColumnProfile) -> Option<ColumnDrift> {
    let (cn, bn) = (c.numeric.as_ref()?, b.numeric.as_ref()?);
    if cn.count == 0 || bn.count == 0 {
        return None;
    }
    let bins = Bins::of(b)?;
    let (bs, cs) = (baseline_shares(b, &bins)?, current_shares(c, &bins)?);
    let psi = stats::psi(&bs, &cs, PSI_FLOOR);
    let d = stats::ks_statistic(&cn.quantiles, &bn.quantiles);
    let err = cn.rank_error_all() + bn.rank_error_all();
    let d_adj = (d - err).max(0.0);
    let p = stats::ks_2samp_p(d_adj, cn.count, bn.count);
    let w = stats::wasserstein(&cn.quantiles, &bn.quantiles);
    let spread = bn.std().filter(|s| *s > 0.0);
    let w_norm = spread.map(|s| w / s);
    let (cm, bm) = (cn.quantiles.quantile(0.5), bn.quantiles.quantile(0.5));
    Some(ColumnDrift {
        column: c.name.clone(),
        numeric: true,
        effect: psi,
        statistic: ("ks".into(), d),
        p,
        q: 1.0,
        rows: c.rows,
        baseline_rows: b.rows,
        title: format!(
            "`{}` drifted: PSI {:.2}, median {} → {}",
            c.name,
            psi,
            fmt(bm.unwrap_or(f64::NAN)),
            fmt(cm.unwrap_or(f64::NAN))
        ),
        evidence: vec![
            ("psi", json_num(psi)),
            ("ks", json_num(d)),
            ("ks_sketch_error", json_num(err)),
            ("ks_adjusted", json_num(d_adj)),
            ("wasserstein", json_num(w)),
            (
                "wasserstein_normalized",
                w_norm.map(json_num).unwrap_or(Value::Null),
            ),
            ("baseline_mean", json_num(bn.mean().unwrap_or(f64::NAN))),
            ("current_mean", json_num(cn.mean().unwrap_or(f64::NAN))),
            ("baseline_median", json_num(bm.unwrap_or(f64::NAN))),
            ("current_median", json_num(cm.unwrap_or(f64::NAN))),
            (
                "bins",
                json!({
                    "labels": bins.labels(),
                    "baseline": bs.iter().map(|&x| json_num(x)).collect::<Vec<_>>(),
                    "current": cs.iter().map(|&x| json_num(x)).collect::<Vec<_>>(),
                }),
            ),
        ],
    })
}

fn categorical_drift(c: &ColumnProfile, b: &ColumnProfile) -> Option<ColumnDrift> {
    if c.non_null() == 0 || b.non_null() == 0 {
        return None;
    }
    let (names, cc, bc, estimated) = category_counts(c, b);
    let (stat, df, p) = stats::chi2_homogeneity(&cc, &bc);
    let (cs, bs) = (shares(&cc), shares(&bc));
    let (l, at) = linf(&cs, &bs);
    let psi = stats::psi(&bs, &cs, PSI_FLOOR);
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|&i, &j| {
        (cs[j] - bs[j])
            .abs()
            .total_cmp(&(cs[i] - bs[i]).abs())
            .then(i.cmp(&j))
    });
    let changes: Vec<Value> = order
        .iter()
        .take(10)
        .map(|&i| json!({"value": names[i], "baseline": json_num(bs[i]), "current": json_num(cs[i])}))
        .collect();
    Some(ColumnDrift {
        column: c.name.clone(),
        numeric: false,
        effect: l,
        statistic: ("chi2".into(), stat),
        p,
        q: 1.0,
        rows: c.non_null(),
        baseline_rows: b.non_null(),
        title: format!(
            "`{}` drifted: share of `{}` {} → {}",
            c.name,
            names.get(at).cloned().unwrap_or_default(),
            crate::detect::pct(bs.get(at).copied().unwrap_or(0.0)),
            crate::detect::pct(cs.get(at).copied().unwrap_or(0.0))
        ),
        evidence: vec![
            ("linf", json_num(l)),
            ("chi2", json_num(stat)),
            ("df", json_num(df)),
            ("psi", json_num(psi)),
            ("counts_estimated", json!(estimated)),
            ("largest_changes", json!(changes)),
        ],
    })
}

fn fmt(x: f64) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    let r = crate::report::round(x);
    if r.fract() == 0.0 && r.abs() < 1e15 {
        format!("{}", r as i64)
    } else {
        format!("{r}")
    }
}

impl ColumnDrift {
    /// The test as the report's `drift` lists it.
    pub fn row(&self) -> crate::report::DriftRow {
        use crate::report::model::NamedValue;
        use crate::report::round;
        let d = self;
        crate::report::DriftRow {
            kind: if d.numeric { "numeric" } else { "categorical" },
            effect: NamedValue {
                name: if d.numeric { "psi" } else { "linf" }.into(),
                value: round(d.effect),
            },
            statistic: NamedValue {
                name: d.statistic.0.clone(),
                value: round(d.statistic.1),
            },
            p_value: round(d.p),
            q_value: round(d.q),
            column: d.column.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::ColumnType;
    use crate::profile::kll::Kll;

    /// A float column holding exactly `values` (a sketch that keeps every value).
    fn column(values: &[f64]) -> ColumnProfile {
        let mut c = ColumnProfile::new("x", ColumnType::Float, 1);
        let n = c.numeric.as_mut().unwrap();
        let mut k = Kll::new(200, 1);
        for &v in values {
            k.update(v);
        }
        n.quantiles = k;
        n.count = values.len() as u64;
        n.min = values.iter().copied().reduce(f64::min);
        n.max = values.iter().copied().reduce(f64::max);
        n.mean = values.iter().sum::<f64>() / values.len() as f64;
        n.m2 = values.iter().map(|v| (v - n.mean).powi(2)).sum();
        n.int_sum = None;
        n.int_sumsq = None;
        c.rows = values.len() as u64;
        c
    }

    /// Baseline 1..=100; current the same with 81..=100 replaced by 200. By hand: deciles 10,
    /// 20, …, 90 and the 95th/99th percentiles 95, 99 cut the baseline into shares 0.09, 0.1 × 8,
    /// 0.05, 0.04, 0.02 (plus empty below/above/missing bins); the current data has 0.09,
    /// 0.1 × 7, 0.01 (only 80 is left in [80, 90)), 0, 0, 0 and 0.2 above the maximum.
    #[test]
    fn numeric_drift_by_hand() {
        let base: Vec<f64> = (1..=100).map(f64::from).collect();
        let cur: Vec<f64> = (1..=100)
            .map(|v| if v > 80 { 200.0 } else { f64::from(v) })
            .collect();
        let (b, c) = (column(&base), column(&cur));
        let bins = Bins::of(&b).unwrap();
        assert_eq!(
            bins.edges,
            vec![
                10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 95.0, 99.0
            ]
        );
        let bs = baseline_shares(&b, &bins).unwrap();
        let want_b = [
            0.0, 0.09, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.05, 0.04, 0.02, 0.0, 0.0,
        ];
        let cs = current_shares(&c, &bins).unwrap();
        let want_c = [
            0.0, 0.09, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.01, 0.0, 0.0, 0.0, 0.2, 0.0,
        ];
        for (got, want) in [(&bs, &want_b), (&cs, &want_c)] {
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(want.iter()) {
                assert!((g - w).abs() < 1e-12, "{got:?}");
            }
        }
        // PSI = Σ (c − b)·ln(c / b) with shares floored at 1e-4.
        let f = |x: f64| x.max(PSI_FLOOR);
        let psi: f64 = want_b
            .iter()
            .zip(want_c)
            .map(|(&b, c)| (f(c) - f(b)) * (f(c) / f(b)).ln())
            .sum();
        let d = numeric_drift(&c, &b).unwrap();
        assert!((d.effect - psi).abs() < 1e-12, "{} vs {psi}", d.effect);
        // KS: the CDFs differ most just below 200: 1.0 against 0.8.
        assert!((d.statistic.1 - 0.2).abs() < 1e-12);
        // Wasserstein: mean |Q_c − Q_b| = Σ_{v=81}^{100} (200 − v) / 100 = 21.9, and divided by
        // the baseline's standard deviation (n − 1 denominator) √(100·101/12) = 29.011…
        let ev: BTreeMap<&str, Value> = d.evidence.iter().cloned().collect();
        assert_eq!(ev["wasserstein"], json_num(21.9));
        let sd = (100.0f64 * 101.0 / 12.0).sqrt();
        assert_eq!(ev["wasserstein_normalized"], json_num(21.9 / sd));
        // Every value is in the sketch: no sketch error is subtracted from KS.
        assert_eq!(ev["ks_sketch_error"], json_num(0.0));
    }
}
