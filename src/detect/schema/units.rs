//! SCH005: unit changes: a numeric column whose median and spread both moved by the same power
//! of ten, in the whole data or in one source.

use super::num;
use crate::detect::{
    Context, Detector, Finding, NamedValue, Predicate, Severity, evidence, features, json_num,
    source_path,
};
use crate::profile::Role;

pub struct UnitChange;

/// How close (in log10) both ratios must be to the same power of ten.
const UNIT_TOLERANCE: f64 = 0.15;
/// Rows needed on each side.
const UNIT_MIN_ROWS: u64 = 30;

/// (median, spread) of a distribution given by quantiles at 25%, 50%, 75%; the spread is the
/// IQR, or the standard deviation when the IQR is zero.
fn location_spread(q25: f64, q50: f64, q75: f64, std: Option<f64>) -> (f64, f64) {
    let iqr = q75 - q25;
    (q50, if iqr > 0.0 { iqr } else { std.unwrap_or(0.0) })
}

/// The power of ten both ratios agree on, if any (|k| ≥ 1).
fn power_of_ten(cur: (f64, f64), base: (f64, f64)) -> Option<i32> {
    let (rm, rs) = (cur.0 / base.0, cur.1 / base.1);
    if !(rm.is_finite() && rs.is_finite()) || rm <= 0.0 || rs <= 0.0 {
        return None;
    }
    let (lm, ls) = (rm.log10(), rs.log10());
    let k = lm.round();
    (k != 0.0 && (lm - k).abs() <= UNIT_TOLERANCE && (ls - k).abs() <= UNIT_TOLERANCE)
        .then_some(k as i32)
}

impl Detector for UnitChange {
    fn code(&self) -> &'static str {
        "SCH005"
    }
    fn check(&self) -> &'static str {
        "unit-change"
    }
    fn doc(&self) -> &'static str {
        "What it finds: a numeric column whose median and spread both moved by the same power of \
ten compared with the baseline, in the whole data or in one source file: a unit or scale change \
(grams and kilograms, cents and dollars, a value reported in thousands).

Why it matters: the model reads the new numbers on the old scale; its inputs are wrong by a \
factor of ten or more and nothing fails.

Example: `income` in `current/part-0.parquet` has median 52 and IQR 31 where the baseline has \
51,800 and 30,900: ÷1000, high.

Defaults: both median ratio and spread ratio (IQR, or standard deviation when the IQR is 0) \
within 0.15 in log10 of the same power of ten 10^k, k ≠ 0, with at least 30 values on each side. \
Always high."
    }
    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let Some(base) = ctx.baseline else {
            return Vec::new();
        };
        let cur = ctx.current;
        let mut out = Vec::new();
        for (c, _) in features(cur) {
            let Some(ci) = cur.columns.iter().position(|x| x.name == c.name) else {
                continue;
            };
            let Some(b) = base.column(&c.name) else {
                continue;
            };
            if base.role(b) != Role::Numeric {
                continue;
            }
            let Some(bn) = b.numeric.as_ref().filter(|n| n.count >= UNIT_MIN_ROWS) else {
                continue;
            };
            let bq = bn.quantiles.quantiles(&[0.25, 0.5, 0.75]);
            let bls = location_spread(bq[0], bq[1], bq[2], bn.std());
            let mut report = |ls: (f64, f64), k: i32, source: Option<String>, rows: u64| {
                let factor = 10f64.powi(k.abs());
                let how = if k > 0 {
                    format!("×{}", num(factor))
                } else {
                    format!("÷{}", num(factor))
                };
                let whre = source
                    .as_ref()
                    .map(|s| format!(" in `{s}`"))
                    .unwrap_or_default();
                let mut f = Finding::new(
                    self.code(),
                    self.check(),
                    Severity::High,
                    1.0,
                    format!(
                        "`{}`{whre} looks rescaled {how}: median {} and spread {} against {} and {} in the baseline",
                        c.name,
                        num(crate::report::round(ls.0)),
                        num(crate::report::round(ls.1)),
                        num(crate::report::round(bls.0)),
                        num(crate::report::round(bls.1))
                    ),
                );
                f.columns = vec![c.name.clone()];
                if let Some(s) = &source {
                    f.slice = vec![Predicate::eq("__source", s.clone())];
                    f.sources = vec![s.clone()];
                }
                f.rows = rows;
                f.baseline_rows = Some(bn.count);
                f.effect = Some(NamedValue {
                    name: "log10_scale".into(),
                    value: k as f64,
                });
                f.evidence = evidence(vec![
                    ("median", json_num(ls.0)),
                    ("spread", json_num(ls.1)),
                    ("baseline_median", json_num(bls.0)),
                    ("baseline_spread", json_num(bls.1)),
                    ("factor", json_num(10f64.powi(k))),
                ]);
                out.push(f);
            };
            if let Some(cn) = c.numeric.as_ref().filter(|n| n.count >= UNIT_MIN_ROWS) {
                let q = cn.quantiles.quantiles(&[0.25, 0.5, 0.75]);
                let ls = location_spread(q[0], q[1], q[2], cn.std());
                if let Some(k) = power_of_ten(ls, bls) {
                    report(ls, k, None, cn.count);
                    continue;
                }
            }
            if cur.sources.len() < 2 {
                continue;
            }
            for (si, s) in cur.sources.iter().enumerate() {
                let Some(sc) = s.columns.get(ci) else {
                    continue;
                };
                if sc.finite < UNIT_MIN_ROWS || sc.grid.len() != crate::profile::source::GRID_POINTS
                {
                    continue;
                }
                let ls = location_spread(sc.grid[25], sc.grid[50], sc.grid[75], sc.std);
                if let Some(k) = power_of_ten(ls, bls) {
                    report(ls, k, Some(source_path(cur, si as u32)), sc.finite);
                }
            }
        }
        out
    }
}
