//! SCH006: label classes the baseline never had.

use serde_json::json;

use crate::detect::{Context, Detector, Finding, Predicate, Severity, evidence, pct};
use crate::profile::LabelType;
use crate::stats;

/// The exact test's p-value at or below which new classes are high.
const HIGH_P: f64 = 1e-3;

/// A baseline label with more classes than this is a continuous target (regression), whose
/// values are not a closed set of classes.
pub const MAX_CLASSES: usize = 100;

pub struct NewLabelClass;

impl Detector for NewLabelClass {
    fn code(&self) -> &'static str {
        "SCH006"
    }
    fn check(&self) -> &'static str {
        "new-label-class"
    }
    fn doc(&self) -> &'static str {
        "What it finds: rows whose label is a class the baseline never had, however few: the \
classes, their rows and example rows.

Why it matters: a classifier's classes are a closed set. A new one is a new output the model \
will learn (a pipeline that started writing a new code, a mislabelled batch), or a corrupted \
value: a bit flipped in a Parquet page written without checksums decodes to a wrong but valid \
label (1 becoming 32769), which no statistical test sees on a handful of rows.

Example: the baseline's labels are 0 and 1; 3 rows of `part-7.parquet` carry 32769: high. \
A rare grade (5 rows of quality 9 in 6,497 wines) that a random split left out of the baseline: \
low.

Defaults: always reported. Severity by the exact conditional test SCH003 uses: if both sides \
were one sample, all k rows of new classes would land in the current data with hypergeometric \
probability C(n_cur, k)/C(n_base + n_cur, k); high when that is ≤ 0.001, medium when ≤ the \
run's alpha (0.01), low otherwise (a class rare in both sides can miss the baseline by chance). \
A numeric class more than 10 times the width of the baseline's classes beyond them (SCH004's \
default `far`; no encoding of classes grows so, a flipped bit does) is high at any count. Not run when \
the baseline's label has more than 100 classes, or on a numeric target (`--label-type numeric`), \
whose values past the baseline's range SCH004 reports. Null labels are not a class."
    }

    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let Some(base) = ctx.baseline else {
            return Vec::new();
        };
        let cur = ctx.current;
        let Some(label) = cur.label.as_deref() else {
            return Vec::new();
        };
        // A numeric target has no classes: its values past the baseline's range are SCH004's.
        if base.label_type == LabelType::Numeric || cur.label_type == LabelType::Numeric {
            return Vec::new();
        }
        // Null labels are counted under the empty key by some readers: not a class.
        let known = &base.label_counts;
        if known.is_empty() || known.len() > MAX_CLASSES {
            return Vec::new();
        }
        let new: Vec<(&String, u64)> = cur
            .label_counts
            .iter()
            .filter(|(k, n)| !k.is_empty() && **n > 0 && !known.contains_key(*k))
            .map(|(k, n)| (k, *n))
            .collect();
        let Some(&(first, _)) = new.first() else {
            return Vec::new();
        };
        let rows: u64 = new.iter().map(|(_, n)| n).sum();
        let share = rows as f64 / cur.rows.max(1) as f64;
        // Rows with a label, on each side: the pool the new classes' rows were drawn from.
        let labelled = |counts: &std::collections::BTreeMap<String, u64>| -> u64 {
            counts
                .iter()
                .filter(|(k, _)| !k.is_empty())
                .map(|(_, n)| n)
                .sum()
        };
        let p = stats::absent_in_baseline_p(rows, labelled(known), labelled(&cur.label_counts));
        // How far the farthest numeric new class lies beyond the baseline's classes, in widths
        // of their range.
        let classes: Vec<&String> = known.keys().filter(|k| !k.is_empty()).collect();
        let numbers: Vec<f64> = classes
            .iter()
            .filter_map(|k| k.parse::<f64>().ok())
            .collect();
        let far = if !numbers.is_empty() && numbers.len() == classes.len() {
            let lo = numbers.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            new.iter()
                .filter_map(|(k, _)| k.parse::<f64>().ok())
                .map(|v| super::range::beyond(v, lo, hi))
                .fold(0.0, f64::max)
        } else {
            0.0
        };
        let severity = if far > super::range::FAR || p <= HIGH_P {
            Severity::High
        } else if p <= ctx.alpha() {
            Severity::Medium
        } else {
            Severity::Low
        };
        let names: Vec<String> = new.iter().map(|(k, _)| format!("`{k}`")).collect();
        let mut examples: Vec<(u32, u64)> = cur
            .sample
            .rows()
            .filter(|(l, _)| new.iter().any(|(k, _)| k.as_str() == *l))
            .map(|(_, r)| (r.source, r.row))
            .collect();
        examples.sort_unstable();
        examples.truncate(10);
        let mut f = Finding::new(
            self.code(),
            self.check(),
            severity,
            1.0,
            format!(
                "label `{label}` has {} the baseline never had ({}) on {} row{} ({})",
                if new.len() == 1 {
                    "a class".to_string()
                } else {
                    format!("{} classes", new.len())
                },
                names.join(", "),
                crate::report::thousands(rows),
                if rows == 1 { "" } else { "s" },
                pct(share)
            ),
        );
        f.columns = vec![label.to_string()];
        f.slice = if new.len() == 1 {
            let numeric = cur.column(label).is_some_and(|c| c.numeric.is_some());
            let value = match first.parse::<f64>() {
                Ok(x) if numeric => crate::detect::exact_num(x),
                _ => serde_json::Value::String(first.clone()),
            };
            vec![Predicate::eq(label, value)]
        } else {
            Vec::new()
        };
        f.rows = rows;
        f.baseline_rows = Some(0);
        f.p_value = Some(p);
        f.example_rows = crate::detect::row_refs(cur, &examples);
        let mut sources: Vec<String> = f.example_rows.iter().map(|r| r.source.clone()).collect();
        sources.dedup();
        f.sources = sources;
        f.evidence = evidence(vec![
            (
                "new_classes",
                json!(
                    new.iter()
                        .map(|(k, n)| json!({"class": k, "rows": n}))
                        .collect::<Vec<_>>()
                ),
            ),
            ("baseline_classes", json!(known.keys().collect::<Vec<_>>())),
            ("ranges_beyond", crate::detect::json_num(far)),
        ]);
        vec![f]
    }
}
