//! DRF001, DRF002 and DRF003: drift of the whole current data against the baseline, per numeric
//! column, per categorical column (both from the scan's column tests) and of the label.

use serde_json::json;

use super::{
    ColumnDrift, LABEL_LINF, LABEL_PARAMS, LABEL_RATIO, LINF_INFO, LINF_PARAMS, PSI_INFO,
    PSI_PARAMS, RATIO_INFO, drift_tier, label_table, linf, shares,
};
use crate::detect::{Context, Detector, Finding, NamedValue, Param, Severity, evidence, json_num};
use crate::profile::LabelType;
use crate::stats;

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

Example: share of label `1` 38% → 29%, chi-square 1,120 (df 1): L∞ 0.09, low. Share of \
label `1` 2.4% → 0.0%, at most 1/20 of the baseline's: high.

Defaults: chi-square test of homogeneity on the label counts (p ≤ 0.01) and L∞, the largest \
change of one label's share: info ≥ 0.02, low ≥ 0.05, medium ≥ 0.1, high ≥ 0.3. L∞ cannot see \
a rare label vanish, so each label the baseline has is also graded by the factor its share \
moved by: the ratio of its share now to the baseline's, bounded by a test of the label's rows \
that are current (Clopper–Pearson while a count is at most 50, Wilson's score interval past \
it), each side at 0.01 / (2 × the labels tested), the bound nearer 1 as a factor: info ≥ 1.2, \
low ≥ 1.5, medium ≥ 3, high ≥ 5. A null label is a null rate (SCH002), not graded. The \
higher of the two grades counts; when the factor decides, the title names that label, the \
effect is its share's ratio (`share_ratio`: the lower bound of a rise, the upper bound of a \
fall) and the p-value is its test's (times both sides of the labels). A fraud label on 2% of \
the rows that lost every row is high once about 30 of its rows were due (the bound is near \
ln(2 × labels / 0.01) / the rows due); one that lost a fifth of them is at most info. A \
numeric target (`--label-type numeric`) is tested as DRF001 tests a numeric column, \
with DRF001's thresholds: PSI on the baseline's deciles and the sketches' Kolmogorov–Smirnov \
test, the Wasserstein distance and the medians in the evidence."
    }
    fn params(&self) -> &'static [Param] {
        &LABEL_PARAMS
    }

    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let (Some(base), Some(label)) = (ctx.baseline, ctx.current.label.as_ref()) else {
            return Vec::new();
        };
        let cur = ctx.current;
        if cur.label_type == LabelType::Numeric || base.label_type == LabelType::Numeric {
            return numeric_label_drift(self, ctx, base, label)
                .into_iter()
                .collect();
        }
        let (names, cc, bc) = label_table(&cur.label_counts, &base.label_counts);
        let (stat, df, p) = stats::chi2_homogeneity(&cc, &bc);
        let (cs, bs) = (shares(&cc), shares(&bc));
        let (l, at) = linf(&cs, &bs);
        let by_linf = if p > ctx.alpha() {
            None
        } else {
            drift_tier(l, LINF_INFO, ctx.tiers(self.code(), &LABEL_LINF))
        };
        let moved = share_factor(&names, &cc, &bc, ctx.alpha());
        let by_ratio = moved.as_ref().and_then(|m| {
            let t = ctx.tiers(self.code(), &LABEL_RATIO);
            drift_tier(m.factor, RATIO_INFO, t)
        });
        // The ratio names the label when it grades the finding higher than L∞ does.
        let (sev, ratio_decides) = match (by_linf, by_ratio) {
            (Some(a), Some(b)) if b > a => (b, true),
            (Some(a), _) => (a, false),
            (None, Some(b)) => (b, true),
            (None, None) => return Vec::new(),
        };
        let decider = moved.as_ref().filter(|_| ratio_decides);
        let shown = decider.map_or(at, |m| m.label);
        let mut title = format!(
            "label drift: share of `{}` {} → {}",
            names[shown],
            crate::detect::pct(bs[shown]),
            crate::detect::pct(cs[shown])
        );
        let mut score = l;
        if let Some(m) = decider {
            title.push_str(&format!(", {}", bound_text(m)));
            score = score.max(1.0 - 1.0 / m.factor);
        }
        let mut f = Finding::new(self.code(), self.check(), sev, score, title);
        f.columns = vec![label.clone()];
        f.rows = cur.rows;
        f.baseline_rows = Some(base.rows);
        f.statistic = Some(NamedValue {
            name: "chi2".into(),
            value: stat,
        });
        // The test that graded it: the chi-square's, or the factor's.
        let p = decider.map_or(p, |m| m.p);
        f.p_value = Some(p);
        f.q_value = Some(p);
        f.effect = Some(match decider {
            Some(m) => NamedValue {
                name: "share_ratio".into(),
                value: m.ratio(),
            },
            None => NamedValue {
                name: "linf".into(),
                value: l,
            },
        });
        let mut ev = vec![
            ("df", json_num(df)),
            ("baseline_counts", json!(base.label_counts)),
            ("current_counts", json!(cur.label_counts)),
            ("linf", json_num(l)),
        ];
        if let Some(m) = &moved {
            ev.push(("share_ratio", m.evidence(&names[m.label])));
        }
        f.evidence = evidence(ev);
        vec![f]
    }
}

/// The label whose share moved by the largest factor that chance rules out.
pub(super) struct ShareFactor {
    pub label: usize,
    /// The bound of the share's ratio (now to the baseline's) nearer 1, as a factor ≥ 1.
    pub factor: f64,
    pub rose: bool,
    /// Both one-sided bounds of the ratio, and the level each is at.
    pub bounds: (f64, f64),
    pub level: f64,
    /// The test's p-value for this label (the one-sided binomial tail of its current rows among
    /// its rows, on the side it moved: `stats::share_shift_p`), times both sides of the labels
    /// tested.
    pub p: f64,
}

impl ShareFactor {
    /// The bound as a ratio of the shares: the factor of a rise, its inverse for a fall.
    pub fn ratio(&self) -> f64 {
        if self.rose {
            self.factor
        } else {
            1.0 / self.factor
        }
    }

    /// The evidence of the label's bounds (an upper bound of +∞ is null).
    pub fn evidence(&self, label: &str) -> serde_json::Value {
        let upper = self.bounds.1;
        json!({
            "label": label,
            "lower": json_num(self.bounds.0),
            "upper": if upper.is_finite() { json_num(upper) } else { json!(null) },
            "confidence": json_num(1.0 - self.level),
        })
    }
}

/// The factor a share's ratio bounds rule out: the lower bound of a rise, the upper bound of a
/// fall inverted, else 1.
pub(super) fn factor_of(bounds: (f64, f64)) -> f64 {
    if bounds.0 > 1.0 {
        bounds.0
    } else if bounds.1 < 1.0 {
        1.0 / bounds.1.max(f64::MIN_POSITIVE)
    } else {
        1.0
    }
}

/// "at least 5.2× the baseline's" or "at most 1/24 of the baseline's".
fn bound_text(m: &ShareFactor) -> String {
    if m.rose {
        format!("at least {}× the baseline's", factor_text(m.factor))
    } else {
        format!("at most 1/{} of the baseline's", factor_text(m.factor))
    }
}

/// "share of `1` at most 1/24 of the baseline's", for DRF004's title.
pub(super) fn moved_text(label: &str, m: &ShareFactor) -> String {
    format!("share of `{label}` {}", bound_text(m))
}

/// Over the labels the baseline has (a label new to the data is SCH006's, and a null label is
/// a null rate, SCH002's), the ratio of each one's share now to the baseline's, bounded
/// one-sided at `alpha` over both directions of the labels tested (Bonferroni: each bound at
/// alpha / (2 × labels)) by `stats::share_ratio_bounds`: the label whose bound nearer 1 is
/// farthest from it, when one bound excludes 1, with the exact test's p-value on that side
/// (times 2 × labels, at most 1).
pub(super) fn share_factor(
    names: &[String],
    cur: &[f64],
    base: &[f64],
    alpha: f64,
) -> Option<ShareFactor> {
    let (n, m) = (
        cur.iter().sum::<f64>() as u64,
        base.iter().sum::<f64>() as u64,
    );
    let graded = |i: usize| base[i] > 0.0 && names[i] != crate::profile::NULL_LABEL;
    let tested = (0..base.len()).filter(|&i| graded(i)).count();
    if tested == 0 {
        return None;
    }
    let tests = 2.0 * tested as f64;
    let level = alpha / tests;
    let mut best: Option<ShareFactor> = None;
    for (i, (&c, &b)) in cur.iter().zip(base).enumerate() {
        if !graded(i) {
            continue;
        }
        let (c, b) = (c as u64, b as u64);
        // A bound excludes 1 exactly when its side's test rejects at the same level: the tests
        // (one incomplete beta function each) spare the bounds' bisections for the labels that
        // did not move, most of them in a scan of many files.
        let (rise, fall) = (
            stats::share_shift_p(c, n, b, m, true),
            stats::share_shift_p(c, n, b, m, false),
        );
        if rise.min(fall) > level {
            continue;
        }
        let bounds = stats::share_ratio_bounds(c, n, b, m, level);
        let factor = factor_of(bounds);
        if factor <= 1.0 || best.as_ref().is_some_and(|x| factor <= x.factor) {
            continue;
        }
        let rose = bounds.0 > 1.0;
        best = Some(ShareFactor {
            label: i,
            factor,
            rose,
            bounds,
            level,
            p: (if rose { rise } else { fall } * tests).min(1.0),
        });
    }
    best
}

/// A factor for a title: two significant digits, a whole number from 10.
fn factor_text(x: f64) -> String {
    if x >= 10.0 {
        format!("{}", x.floor())
    } else {
        format!("{:.1}", (x * 10.0).floor() / 10.0)
    }
}

/// DRF003 on a numeric target: DRF001's test and thresholds on the label column (one test: its
/// q-value is its p-value).
fn numeric_label_drift(
    d: &LabelDrift,
    ctx: &Context<'_>,
    base: &crate::profile::Profile,
    label: &str,
) -> Option<Finding> {
    let (c, b) = (ctx.current.column(label)?, base.column(label)?);
    let mut drift = super::column::numeric_drift(c, b)?;
    drift.q = drift.p;
    if drift.p > ctx.alpha() {
        return None;
    }
    let sev = drift_tier(drift.effect, PSI_INFO, ctx.tiers("DRF001", &PSI_PARAMS))?;
    let mut f = drift_finding(d.code(), d.check(), &drift, sev);
    f.title = format!("label drift: {}", drift.title);
    Some(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rare label whose share rose tenfold: its lower bound, at 0.01 over the two labels the
    /// baseline has, is the factor; a label the baseline never had is not tested (SCH006's).
    #[test]
    fn share_factor_takes_the_bound_nearer_one_over_the_baseline_labels() {
        let names: Vec<String> = ["0", "1", "2"].map(String::from).to_vec();
        let (cur, base) = ([900.0, 100.0, 40.0], [990.0, 10.0, 0.0]);
        let m = share_factor(&names, &cur, &base, 0.01).unwrap();
        assert_eq!((m.label, m.rose), (1, true));
        assert_eq!(m.level, 0.01 / 4.0);
        let bounds = stats::share_ratio_bounds(100, 1040, 10, 1000, 0.0025);
        assert_eq!(m.bounds, bounds);
        assert_eq!(m.factor, bounds.0);
        assert!(m.factor > 3.0 && m.factor < 10.0, "{}", m.factor);
        // The exact tail: 100 or more of the label's 110 rows current, at 1040/2040 each.
        let now: f64 = 1040.0 / 2040.0;
        let tail: f64 = (100..=110u64)
            .map(|k| {
                let ln_choose = (1..=110u64).map(|x| (x as f64).ln()).sum::<f64>()
                    - (1..=k).map(|x| (x as f64).ln()).sum::<f64>()
                    - (1..=110 - k).map(|x| (x as f64).ln()).sum::<f64>();
                (ln_choose + k as f64 * now.ln() + (110 - k) as f64 * (1.0 - now).ln()).exp()
            })
            .sum();
        assert!(
            (m.p - 4.0 * tail).abs() < 1e-9 * m.p,
            "{} vs {}",
            m.p,
            4.0 * tail
        );
        // A fall is the upper bound inverted.
        let m = share_factor(&names[..2], &base[..2], &cur[..2], 0.01).unwrap();
        assert_eq!((m.label, m.rose), (1, false));
        assert_eq!(m.factor, 1.0 / m.bounds.1);
        // Shares that chance explains give none; a null label is a null rate, not graded.
        assert!(share_factor(&names[..2], &[95.0, 5.0], &[97.0, 3.0], 0.01).is_none());
        let with_null = vec!["0".to_string(), crate::profile::NULL_LABEL.to_string()];
        assert!(share_factor(&with_null, &cur[..2], &base[..2], 0.01).is_none());
    }

    #[test]
    fn factors_are_written_rounded_towards_one() {
        assert_eq!(factor_text(24.9), "24");
        assert_eq!(factor_text(4.87), "4.8");
        assert_eq!(factor_text(1.5), "1.5");
        let names: Vec<String> = ["0", "1"].map(String::from).to_vec();
        for (current, baseline, text) in [
            ([900.0, 100.0], [990.0, 10.0], "at least {}× the baseline's"),
            (
                [990.0, 10.0],
                [900.0, 100.0],
                "at most 1/{} of the baseline's",
            ),
        ] {
            let m = share_factor(&names, &current, &baseline, 0.01).unwrap();
            let want = text.replace("{}", &factor_text(m.factor));
            assert_eq!(moved_text("1", &m), format!("share of `1` {want}"));
        }
    }
}
