//! SCH006: label classes the baseline never had.

use serde_json::json;

use crate::detect::{Context, Detector, Finding, Predicate, Severity, evidence, pct};

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

Example: the baseline's labels are 0 and 1; 3 rows of `part-7.parquet` carry 32769: high.

Defaults: high at any count. Not run when the baseline's label has more than 100 classes (a \
continuous target). Null labels are not a class."
    }

    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let Some(base) = ctx.baseline else {
            return Vec::new();
        };
        let cur = ctx.current;
        let Some(label) = cur.label.as_deref() else {
            return Vec::new();
        };
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
            Severity::High,
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
        ]);
        vec![f]
    }
}
