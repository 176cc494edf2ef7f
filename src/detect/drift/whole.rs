//! DRF001, DRF002 and DRF003: drift of the whole current data against the baseline, per numeric
//! column, per categorical column (both from the scan's column tests) and of the label.

use serde_json::json;

use super::{
    ColumnDrift, LABEL_PARAMS, LINF_INFO, LINF_PARAMS, PSI_INFO, PSI_PARAMS, drift_tier,
    label_table, linf, shares,
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

Example: share of label `1` 38% → 29%, chi-square 1,120 (df 1): L∞ 0.09, low.

Defaults: chi-square test of homogeneity on the label counts (p ≤ 0.01) and L∞, the largest \
change of one label's share: info ≥ 0.02, low ≥ 0.05, medium ≥ 0.1, high ≥ 0.3. A numeric \
target (`--label-type numeric`) is tested as DRF001 tests a numeric column, with DRF001's \
thresholds: PSI on the baseline's deciles and the sketches' Kolmogorov–Smirnov test, the \
Wasserstein distance and the medians in the evidence."
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
                crate::detect::pct(bs[at]),
                crate::detect::pct(cs[at])
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
