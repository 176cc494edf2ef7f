//! DRF — distribution drift: per column (numeric and categorical), of the label, and drift
//! concentrated in one source file or partition.
//!
//! Every drift finding needs an effect size above its threshold *and* a Benjamini–Hochberg
//! q-value at most `ALPHA` across all the columns tested: at millions of rows every p-value is
//! tiny, so the effect size is what decides, and the test is what keeps small samples quiet.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::{
    Context, Detector, Finding, NamedValue, Param, Predicate, Severity, evidence, features,
    json_num, source_path, tier, tier_params,
};
use crate::profile::column::Frequent;
use crate::profile::source::grid_cdf;
use crate::profile::{ColumnProfile, Profile, Role, SourceColumn, SourceSummary};
use crate::stats;

/// PSI tiers (low, medium, high) for numeric drift. 0.1 and 0.25 are the customary "moderate"
/// and "major" shift of credit-scoring practice; 1.0 means most of the mass moved bins.
pub const PSI_TIERS: (f64, f64, f64) = (0.1, 0.25, 1.0);
const PSI_PARAMS: [Param; 3] = tier_params(
    PSI_TIERS.0,
    PSI_TIERS.1,
    PSI_TIERS.2,
    100.0,
    "PSI of a numeric column (DRF001, and DRF004's numeric tests) at this severity",
);
/// L∞ tiers (largest change of one category's share) for categorical and label drift.
pub const LINF_TIERS: (f64, f64, f64) = (0.05, 0.1, 0.3);
const LINF_PARAMS: [Param; 3] = tier_params(
    LINF_TIERS.0,
    LINF_TIERS.1,
    LINF_TIERS.2,
    1.0,
    "largest change of one category's share (DRF002, and DRF004's categorical tests) at this severity",
);
const LABEL_PARAMS: [Param; 3] = tier_params(
    LINF_TIERS.0,
    LINF_TIERS.1,
    LINF_TIERS.2,
    1.0,
    "largest change of one label's share at this severity",
);
/// Below the low tier, drift that is significant and at least this large is reported as info
/// (it never fails a gate): PSI 0.05, L∞ 0.02.
pub const PSI_INFO: f64 = 0.05;
pub const LINF_INFO: f64 = 0.02;

fn drift_tier(effect: f64, info: f64, tiers: (f64, f64, f64)) -> Option<Severity> {
    tier(effect, tiers.0, tiers.1, tiers.2).or((effect.abs() >= info).then_some(Severity::Info))
}

/// Shares below this count as this in PSI (empty bins stay finite).
pub const PSI_FLOOR: f64 = 1e-4;
/// Categories compared when a column's full value list is not kept.
const TOP_VALUES: usize = 50;
/// A source must stand out: its effect at least this many times the whole data's.
pub const SOURCE_FACTOR: f64 = 2.0;
const SOURCE_PARAMS: [Param; 1] = [Param {
    name: "factor",
    default: SOURCE_FACTOR,
    min: 1.0,
    max: 1000.0,
    doc: "a file's drift must be this many times the whole data's and the column's typical file's",
}];
/// Sources with fewer rows are not tested on their own.
pub const SOURCE_MIN_ROWS: u64 = 100;

/// A baseline value with at least this share of the rows gets its own PSI bin.
pub const POINT_MASS: f64 = 0.05;

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
                edges.push(super::next_up(q));
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
fn baseline_shares(b: &ColumnProfile, bins: &Bins) -> Option<Vec<f64>> {
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

fn shares(v: &[f64]) -> Vec<f64> {
    let t: f64 = v.iter().sum();
    v.iter()
        .map(|x| if t > 0.0 { x / t } else { 0.0 })
        .collect()
}

/// Largest absolute change of one share, and which.
fn linf(c: &[f64], b: &[f64]) -> (f64, usize) {
    c.iter()
        .zip(b)
        .enumerate()
        .map(|(i, (x, y))| ((x - y).abs(), i))
        .fold((0.0, 0), |a, x| if x.0 > a.0 { x } else { a })
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

fn numeric_drift(c: &ColumnProfile, b: &ColumnProfile) -> Option<ColumnDrift> {
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
            super::pct(bs.get(at).copied().unwrap_or(0.0)),
            super::pct(cs.get(at).copied().unwrap_or(0.0))
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

fn drift_finding(code: &str, check: &str, d: &ColumnDrift, sev: Severity) -> Finding {
    let mut f = Finding::new(code, check, sev, d.effect, d.title.clone());
    f.columns = vec![d.column.clone()];
    f.rows = d.rows;
    f.baseline_rows = Some(d.baseline_rows);
    f.statistic = Some(NamedValue {
        name: d.statistic.0.clone(),
        value: d.statistic.1,
    });
    f.p_value = Some(d.p);
    f.q_value = Some(d.q);
    f.effect = Some(NamedValue {
        name: if d.numeric { "psi" } else { "linf" }.into(),
        value: d.effect,
    });
    f.evidence = evidence(d.evidence.clone());
    f
}

pub struct NumericDrift;

impl Detector for NumericDrift {
    fn code(&self) -> &'static str {
        "DRF001"
    }
    fn check(&self) -> &'static str {
        "numeric-drift"
    }
    fn doc(&self) -> &'static str {
        "What it finds: a numeric column whose distribution moved compared with the baseline.

Why it matters: a model is only as good as the match between its training data and the data \
it learned from before; a drifted feature is either a real change the team must know about \
before retraining, or a manipulation of one feature.

Example: `debt_ratio`: PSI 0.62 on the baseline's deciles, KS 0.31, median 0.31 → 0.46: medium.

Defaults:
- Effect: the population stability index over the baseline's decile bins (plus the 95th and \
99th percentiles, and a bin of its own for any value holding ≥ 5% of the rows, so zero-inflated \
and discrete columns keep their resolution), a bin below its minimum, one above its maximum and \
one for missing values (null, NaN, ±inf); shares floored at 10⁻⁴. Info ≥ 0.05, low ≥ 0.1, medium ≥ 0.25 (the customary \"major shift\"), high ≥ 1.0.
- Test: two-sample Kolmogorov–Smirnov on the quantile sketches. The sketches' own error (the \
KLL all-ranks bound plus the row subsample's) is subtracted from the distance before the \
asymptotic p-value is taken, so sketch noise can never be significant. Benjamini–Hochberg \
across all the columns tested (numeric and categorical together), q ≤ 0.01.
- Both are required: at 10M rows noise is significant, and a gate that fires on noise gets \
switched off. The evidence also gives the Wasserstein distance, raw and divided by the \
baseline's standard deviation, and the bin shares on both sides."
    }
    fn params(&self) -> &'static [Param] {
        &PSI_PARAMS
    }

    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding> {
        // Empty without a baseline.
        ctx.drift
            .iter()
            .filter(|d| d.numeric && d.q <= ctx.alpha())
            .filter_map(|d| {
                let sev = drift_tier(d.effect, PSI_INFO, ctx.tiers(self.code(), &PSI_PARAMS))?;
                Some(drift_finding(self.code(), self.check(), d, sev))
            })
            .collect()
    }
}

pub struct CategoricalDrift;

impl Detector for CategoricalDrift {
    fn code(&self) -> &'static str {
        "DRF002"
    }
    fn check(&self) -> &'static str {
        "categorical-drift"
    }
    fn doc(&self) -> &'static str {
        "What it finds: a categorical column whose category shares moved compared with the \
baseline.

Why it matters: as for numeric drift: the mix of categories the model learns from changed, \
by a real shift or by a manipulated slice.

Example: `channel`: share of `branch` 41% → 28%, chi-square 2,310 (df 4), L∞ 0.13: medium.

Defaults: effect L∞, the largest change of one category's share among non-null rows: info \
≥ 0.02, low ≥ 0.05, medium ≥ 0.1, high ≥ 0.3. Test: Pearson's chi-square test of homogeneity on the counts \
(exact counts when the column has ≤ 1,000 values on both sides; otherwise the 50 most frequent \
values of each side plus an \"other\" bucket), Benjamini–Hochberg across all the columns tested, \
q ≤ 0.01. Values the baseline never had are also reported by SCH003."
    }
    fn params(&self) -> &'static [Param] {
        &LINF_PARAMS
    }

    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding> {
        // Empty without a baseline.
        ctx.drift
            .iter()
            .filter(|d| !d.numeric && d.q <= ctx.alpha())
            .filter_map(|d| {
                let sev = drift_tier(d.effect, LINF_INFO, ctx.tiers(self.code(), &LINF_PARAMS))?;
                Some(drift_finding(self.code(), self.check(), d, sev))
            })
            .collect()
    }
}

/// Label shares of both sides over the union of labels: (names, current, baseline) counts.
fn label_table(
    c: &BTreeMap<String, u64>,
    b: &BTreeMap<String, u64>,
) -> (Vec<String>, Vec<f64>, Vec<f64>) {
    let keys: BTreeSet<&String> = c.keys().chain(b.keys()).collect();
    (
        keys.iter().map(|k| k.to_string()).collect(),
        keys.iter()
            .map(|k| c.get(*k).copied().unwrap_or(0) as f64)
            .collect(),
        keys.iter()
            .map(|k| b.get(*k).copied().unwrap_or(0) as f64)
            .collect(),
    )
}

pub struct LabelDrift;

impl Detector for LabelDrift {
    fn code(&self) -> &'static str {
        "DRF003"
    }
    fn check(&self) -> &'static str {
        "label-drift"
    }
    fn doc(&self) -> &'static str {
        "What it finds: the label distribution moved compared with the baseline.

Why it matters: a shifted class balance changes the model's prior; mass label flipping shows \
here first, and so does a pipeline that started dropping one class.

Example: share of label `1` 38% → 29%, chi-square 1,120 (df 1): L∞ 0.09, low.

Defaults: chi-square test of homogeneity on the label counts (p ≤ 0.01) and L∞, the largest \
change of one label's share: info ≥ 0.02, low ≥ 0.05, medium ≥ 0.1, high ≥ 0.3."
    }
    fn params(&self) -> &'static [Param] {
        &LABEL_PARAMS
    }

    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let (Some(base), Some(label)) = (ctx.baseline, ctx.current.label.as_ref()) else {
            return Vec::new();
        };
        let cur = ctx.current;
        let (names, cc, bc) = label_table(&cur.label_counts, &base.label_counts);
        let (stat, df, p) = stats::chi2_homogeneity(&cc, &bc);
        let (cs, bs) = (shares(&cc), shares(&bc));
        let (l, at) = linf(&cs, &bs);
        if p > ctx.alpha() {
            return Vec::new();
        }
        let Some(sev) = drift_tier(l, LINF_INFO, ctx.tiers(self.code(), &LABEL_PARAMS)) else {
            return Vec::new();
        };
        let mut f = Finding::new(
            self.code(),
            self.check(),
            sev,
            l,
            format!(
                "label drift: share of `{}` {} → {}",
                names[at],
                super::pct(bs[at]),
                super::pct(cs[at])
            ),
        );
        f.columns = vec![label.clone()];
        f.rows = cur.rows;
        f.baseline_rows = Some(base.rows);
        f.statistic = Some(NamedValue {
            name: "chi2".into(),
            value: stat,
        });
        f.p_value = Some(p);
        f.q_value = Some(p);
        f.effect = Some(NamedValue {
            name: "linf".into(),
            value: l,
        });
        f.evidence = evidence(vec![
            ("df", json_num(df)),
            ("baseline_counts", json!(base.label_counts)),
            ("current_counts", json!(cur.label_counts)),
        ]);
        vec![f]
    }
}

/// A part of the current data tested on its own: one source file, or one partition value (the
/// mixture of its files).
struct Part<'a> {
    /// Parts of one family (the sources, or the values of one partition column) cover the data.
    family: usize,
    name: String,
    slice: Vec<Predicate>,
    sources: Vec<String>,
    members: Vec<&'a SourceSummary>,
}

impl Part<'_> {
    fn rows(&self) -> u64 {
        self.members.iter().map(|m| m.rows).sum()
    }

    fn labels(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        for s in &self.members {
            for (l, c) in &s.label_counts {
                *m.entry(l.clone()).or_insert(0) += c;
            }
        }
        m
    }

    fn cols(&self, ci: usize) -> Vec<&SourceColumn> {
        self.members
            .iter()
            .filter_map(|m| m.columns.get(ci))
            .collect()
    }

    /// Bin shares of a numeric column: the members' grids mixed by their finite counts.
    fn numeric_shares(&self, ci: usize, bins: &Bins) -> Option<Vec<f64>> {
        let cols = self.cols(ci);
        let finite: u64 = cols.iter().map(|c| c.finite).sum();
        let rows = self.rows();
        if finite == 0 || rows == 0 {
            return None;
        }
        let cdf = |x: f64| {
            cols.iter()
                .filter(|c| c.finite > 0)
                .map(|c| grid_cdf(&c.grid, x).unwrap_or(0.0) * c.finite as f64)
                .sum::<f64>()
                / finite as f64
        };
        // Below/above: exact when the scan counted them against this baseline's range.
        let below: u64 = cols.iter().map(|c| c.below).sum();
        let above: u64 = cols.iter().map(|c| c.above).sum();
        let exact =
            (below + above > 0).then(|| (below as f64 / rows as f64, above as f64 / rows as f64));
        // The grid cannot tell < from ≤; the tiny shift keeps a point mass at an edge inside.
        let lt = |x: f64| cdf(x - x.abs() * 1e-12 - f64::MIN_POSITIVE);
        Some(bins.shares(lt, cdf, finite as f64 / rows as f64, exact))
    }

    fn values(&self, ci: usize) -> Option<BTreeMap<String, u64>> {
        let mut m = BTreeMap::new();
        for c in self.cols(ci) {
            for (v, n) in c.values.as_ref()? {
                *m.entry(v.clone()).or_insert(0) += n;
            }
        }
        Some(m)
    }
}

/// The parts to test: every value of every partition column (when it has at least two), and
/// every source (when there are at least two) that is not alone in a partition.
fn parts(cur: &Profile) -> Vec<Part<'_>> {
    let mut out = Vec::new();
    // A file alone in its partition is tested as that partition (its name says more).
    let mut alone = BTreeSet::new();
    for (fi, key) in cur.partition_columns.iter().enumerate() {
        let mut groups: BTreeMap<Option<String>, Vec<usize>> = BTreeMap::new();
        for (i, m) in cur.manifest.iter().enumerate() {
            if let Some((_, v)) = m.partitions.iter().find(|(k, _)| k == key) {
                groups.entry(v.clone()).or_default().push(i);
            }
        }
        if groups.len() < 2 {
            continue;
        }
        for (v, idx) in groups {
            if let [only] = idx.as_slice() {
                alone.insert(*only);
            }
            let value = v.clone().unwrap_or_else(|| "<null>".into());
            out.push(Part {
                family: fi + 1,
                name: format!("partition `{key}={value}`"),
                slice: vec![match v {
                    Some(v) => Predicate::eq(key, v),
                    None => Predicate::is_null(key),
                }],
                sources: idx.iter().map(|&i| source_path(cur, i as u32)).collect(),
                members: idx.iter().filter_map(|&i| cur.sources.get(i)).collect(),
            });
        }
    }
    if cur.sources.len() >= 2 {
        for (i, s) in cur.sources.iter().enumerate() {
            if alone.contains(&i) {
                continue;
            }
            let path = source_path(cur, i as u32);
            out.push(Part {
                family: 0,
                name: format!("`{path}`"),
                slice: vec![Predicate::eq("__source", path.clone())],
                sources: vec![path],
                members: vec![s],
            });
        }
    }
    out
}

pub struct SourceDrift;

impl Detector for SourceDrift {
    fn code(&self) -> &'static str {
        "DRF004"
    }
    fn check(&self) -> &'static str {
        "drift-in-one-source"
    }
    fn doc(&self) -> &'static str {
        "What it finds: drift concentrated in one source file or one hive partition: the part \
differs from the baseline much more than the current data as a whole does.

Why it matters: poisoned or broken data usually arrives through one channel (one producer, one \
day's partition, one upload). Whole-dataset statistics dilute it; naming the file or partition \
is what lets an engineer quarantine it.

Example: `current/part-0.parquet` drifted on `income` (PSI 9.3, against 1.9 for all the data) \
and `channel` (L∞ 0.03): high, slice `__source = current/part-0.parquet`.

Defaults: every source is tested when there are at least two, and every value of every \
partition column when it has at least two; parts under 100 rows are skipped. Per part and \
column: PSI on the baseline's decile bins (numeric, from the part's 101-point quantile grid, \
parts of a partition mixed by their counts) or L∞ and chi-square on the category counts, and the \
label shares. A column counts when its effect reaches the low tier of DRF001/DRF002/DRF003, is at \
least 2× the whole data's effect on the same column and 2× a typical part's (the row-weighted \
median over the sources, or over the values of the same partition column: drift that most of \
the data shares is the data's drift, reported by DRF001–DRF003), and its chi-square test (on the bin or \
category counts) survives Benjamini–Hochberg across all parts and columns at q ≤ 0.01. One \
finding per part, with every column that counts; severity from the largest effect."
    }
    fn params(&self) -> &'static [Param] {
        &SOURCE_PARAMS
    }

    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let Some(base) = ctx.baseline else {
            return Vec::new();
        };
        let cur = ctx.current;
        let parts = parts(cur);
        if parts.is_empty() {
            return Vec::new();
        }
        // A file's drift is graded as a column's (DRF001's and DRF002's tiers).
        let psi_tiers = ctx.tiers("DRF001", &PSI_PARAMS);
        let linf_tiers = ctx.tiers("DRF002", &LINF_PARAMS);
        let factor = ctx.param(self.code(), &SOURCE_PARAMS[0]);
        let whole: BTreeMap<&str, f64> = ctx
            .drift
            .iter()
            .map(|d| (d.column.as_str(), d.effect))
            .collect();
        struct Test {
            part: usize,
            column: String,
            effect: f64,
            name: &'static str,
            sev: Severity,
            p: f64,
            /// The whole current data's effect on the same column.
            whole: f64,
            ev: Value,
        }
        let mut tests: Vec<Test> = Vec::new();
        // (family, column) → every tested part's (effect, rows).
        let mut effects: BTreeMap<(usize, String), Vec<(f64, u64)>> = BTreeMap::new();
        for (pi, part) in parts.iter().enumerate() {
            let rows = part.rows();
            if rows < SOURCE_MIN_ROWS {
                continue;
            }
            for (ci, c) in cur.columns.iter().enumerate() {
                let Some(b) = base.column(&c.name) else {
                    continue;
                };
                let role = cur.role(c);
                if matches!(role, Role::Label | Role::Id | Role::Partition) {
                    continue;
                }
                match base.role(b) {
                    Role::Numeric => {
                        let Some(bins) = Bins::of(b) else { continue };
                        let (Some(bs), Some(ps)) =
                            (baseline_shares(b, &bins), part.numeric_shares(ci, &bins))
                        else {
                            continue;
                        };
                        let psi = stats::psi(&bs, &ps, PSI_FLOOR);
                        effects
                            .entry((part.family, c.name.clone()))
                            .or_default()
                            .push((psi, rows));
                        let Some(sev) = tier(psi, psi_tiers.0, psi_tiers.1, psi_tiers.2) else {
                            continue;
                        };
                        let w = whole.get(c.name.as_str()).copied().unwrap_or(0.0);
                        let pc: Vec<f64> = ps.iter().map(|s| s * rows as f64).collect();
                        let bc: Vec<f64> = bs.iter().map(|s| s * b.rows as f64).collect();
                        let (_, _, p) = stats::chi2_homogeneity(&pc, &bc);
                        tests.push(Test {
                            part: pi,
                            column: c.name.clone(),
                            effect: psi,
                            name: "psi",
                            sev,
                            p,
                            whole: w,
                            ev: json!({"column": c.name, "psi": json_num(psi), "whole_data_psi": json_num(w)}),
                        });
                    }
                    Role::Categorical => {
                        let (Some(pv), Some(bv)) = (part.values(ci), b.value_counts()) else {
                            continue;
                        };
                        let keys: BTreeSet<&str> = pv
                            .keys()
                            .map(String::as_str)
                            .chain(bv.keys().copied())
                            .collect();
                        let pc: Vec<f64> = keys
                            .iter()
                            .map(|k| pv.get(*k).copied().unwrap_or(0) as f64)
                            .collect();
                        let bc: Vec<f64> = keys
                            .iter()
                            .map(|k| bv.get(k).copied().unwrap_or(0) as f64)
                            .collect();
                        let (l, _) = linf(&shares(&pc), &shares(&bc));
                        effects
                            .entry((part.family, c.name.clone()))
                            .or_default()
                            .push((l, rows));
                        let Some(sev) = tier(l, linf_tiers.0, linf_tiers.1, linf_tiers.2) else {
                            continue;
                        };
                        let w = whole.get(c.name.as_str()).copied().unwrap_or(0.0);
                        let (_, _, p) = stats::chi2_homogeneity(&pc, &bc);
                        tests.push(Test {
                            part: pi,
                            column: c.name.clone(),
                            effect: l,
                            name: "linf",
                            sev,
                            p,
                            whole: w,
                            ev: json!({"column": c.name, "linf": json_num(l), "whole_data_linf": json_num(w)}),
                        });
                    }
                    _ => {}
                }
            }
            if let Some(label) = &cur.label {
                let (_, pc, bc) = label_table(&part.labels(), &base.label_counts);
                let (_, wc, wb) = label_table(&cur.label_counts, &base.label_counts);
                let (l, _) = linf(&shares(&pc), &shares(&bc));
                let (w, _) = linf(&shares(&wc), &shares(&wb));
                effects
                    .entry((part.family, label.clone()))
                    .or_default()
                    .push((l, rows));
                if let Some(sev) = tier(l, linf_tiers.0, linf_tiers.1, linf_tiers.2) {
                    let (_, _, p) = stats::chi2_homogeneity(&pc, &bc);
                    tests.push(Test {
                        part: pi,
                        column: label.clone(),
                        effect: l,
                        name: "linf",
                        sev,
                        p,
                        whole: w,
                        ev: json!({"column": label, "linf": json_num(l), "whole_data_linf": json_num(w), "label": true}),
                    });
                }
            }
        }
        // Concentrated: the part stands out against the whole data and against a typical part of
        // its family (the row-weighted median effect of the sources, or of the values of the
        // same partition column).
        let typical: BTreeMap<(usize, String), f64> = effects
            .into_iter()
            .map(|(k, mut v)| {
                v.sort_by(|a, b| a.0.total_cmp(&b.0));
                let half = v.iter().map(|x| x.1).sum::<u64>() as f64 / 2.0;
                let mut acc = 0.0;
                let median = v
                    .iter()
                    .find(|x| {
                        acc += x.1 as f64;
                        acc >= half
                    })
                    .map_or(0.0, |x| x.0);
                (k, median)
            })
            .collect();
        let concentrated: Vec<bool> = tests
            .iter()
            .map(|t| {
                let m = typical
                    .get(&(parts[t.part].family, t.column.clone()))
                    .copied()
                    .unwrap_or(0.0);
                t.effect >= factor * t.whole && t.effect >= factor * m
            })
            .collect();
        let tests: Vec<Test> = tests
            .into_iter()
            .zip(concentrated)
            .filter_map(|(t, c)| c.then_some(t))
            .collect();
        let q = stats::bh_adjust(&tests.iter().map(|t| t.p).collect::<Vec<_>>());
        let mut by_part: BTreeMap<usize, Vec<(usize, &Test)>> = BTreeMap::new();
        for (i, t) in tests.iter().enumerate() {
            if q[i] <= ctx.alpha() {
                by_part.entry(t.part).or_default().push((i, t));
            }
        }
        let mut out = Vec::new();
        for (pi, mut ts) in by_part {
            let part = &parts[pi];
            ts.sort_by(|a, b| {
                b.1.sev
                    .cmp(&a.1.sev)
                    .then(b.1.effect.total_cmp(&a.1.effect))
                    .then_with(|| a.1.column.cmp(&b.1.column))
            });
            let (ti, top) = ts[0];
            let more = ts.len() - 1;
            let mut f = Finding::new(
                self.code(),
                self.check(),
                top.sev,
                top.effect,
                format!(
                    "{} drifted on `{}` ({} {:.2}){} unlike the rest of the data",
                    part.name,
                    top.column,
                    if top.name == "psi" { "PSI" } else { "L∞" },
                    top.effect,
                    if more > 0 {
                        format!(
                            " and {more} more column{}",
                            if more == 1 { "" } else { "s" }
                        )
                    } else {
                        String::new()
                    }
                ),
            );
            f.columns = ts.iter().map(|(_, t)| t.column.clone()).collect();
            f.slice = part.slice.clone();
            f.sources = part.sources.clone();
            f.rows = part.rows();
            f.baseline_rows = Some(base.rows);
            f.p_value = Some(top.p);
            f.q_value = Some(q[ti]);
            f.effect = Some(NamedValue {
                name: top.name.into(),
                value: top.effect,
            });
            f.evidence = evidence(vec![(
                "columns",
                json!(
                    ts.iter()
                        .map(|(i, t)| {
                            let mut e = t.ev.clone();
                            e["q_value"] = json_num(q[*i]);
                            e
                        })
                        .collect::<Vec<_>>()
                ),
            )]);
            out.push(f);
        }
        out
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
