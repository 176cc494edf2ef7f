//! The sample's bounds, found before the profile job: the sample keeps, per label class, the
//! `sample_size` rows with the smallest row keys (`mix(seed, file, row in file)`), so the k-th
//! smallest key of each class can be found from the label column alone. Each task keeps its k
//! smallest keys per class ([`SampleKeys`]), the driver merges them into the exact k-th key
//! ([`TaskPlan::with_sample_bounds`]), and the profile tasks then copy only rows at or under it:
//! the parts carry about k sample rows per class in all instead of k per shard, which is what
//! keeps the driver's memory flat in rows. The command line's label pre-pass
//! (`label::label_bounds`) does the same on one machine.
//!
//! Plans of files only: a row's key is its file and row index, whatever query reads it. By
//! partition a row's key is its place in its partition, which a second query (one that reads
//! only the label) may order otherwise after a shuffle.
//!
//! The bounds only filter: the fold checks that every class's sample holds `min(k, rows of the
//! class)` rows, which holds exactly when no row of the true sample was filtered out (a bound
//! computed from other rows than the profile job read fails the check instead of giving
//! another sample).

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Int32Type, Int64Type};

use super::super::label::label_ids;
use super::super::mix;
use super::{PART_MAGIC_KEYS, ROW_COLUMN, SOURCE_COLUMN, TaskPlan, decode, encode};
use crate::error::{Error, Result};
use crate::ingest::cast_column;

/// One task's smallest row keys per label class (at most `sample_size` each once trimmed).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SampleKeys {
    keys: BTreeMap<String, Vec<u64>>,
}

impl SampleKeys {
    /// A batch of a file scan (with the plan's [`SOURCE_COLUMN`] and [`ROW_COLUMN`]).
    pub fn push_files(&mut self, plan: &TaskPlan, batch: &RecordBatch) -> Result<()> {
        let bad = |reason: String| Error::BadParts { reason };
        let (Some(src), Some(row)) = (
            batch
                .column_by_name(SOURCE_COLUMN)
                .and_then(|c| c.as_primitive_opt::<Int32Type>()),
            batch
                .column_by_name(ROW_COLUMN)
                .and_then(|c| c.as_primitive_opt::<Int64Type>()),
        ) else {
            return Err(bad(format!(
                "a task's batch has no Int32 `{SOURCE_COLUMN}` and Int64 `{ROW_COLUMN}` columns"
            )));
        };
        if src.null_count() > 0 || row.null_count() > 0 {
            return Err(bad(
                "a row of a task's batch comes from no file of the plan (the DataFrame reads files the driver did not list)".into(),
            ));
        }
        let (ids, names) = self.labels(plan, batch)?;
        let seed = plan.settings.seed;
        let (src, row) = (src.values(), row.values());
        for (i, &id) in ids.iter().enumerate() {
            let (s, r) = (src[i], row[i]);
            let Some(source) = usize::try_from(s).ok().and_then(|s| plan.sources.get(s)) else {
                return Err(bad(format!("a task's row names source {s}")));
            };
            let key = mix(mix(seed, source.row_key_hash), r as u64);
            self.push(plan, &names[id as usize], key);
        }
        Ok(())
    }

    /// Each row's label as the profile keys it (after the column is cast to the plan's type).
    fn labels(&self, plan: &TaskPlan, batch: &RecordBatch) -> Result<(Vec<u32>, Vec<String>)> {
        let n = batch.num_rows();
        let Some(label) = plan.settings.label.as_deref() else {
            return label_ids("", false, None, n);
        };
        let t = plan
            .fields
            .iter()
            .find(|(name, _)| name == label)
            .map(|(_, t)| *t)
            .ok_or_else(|| Error::Internal(format!("the plan has no label column `{label}`")))?;
        let col = batch.column_by_name(label).ok_or_else(|| Error::BadParts {
            reason: format!("a task's batch has no label column `{label}`"),
        })?;
        let col = cast_column(col, &t.arrow_type()).map_err(|reason| Error::BadParts {
            reason: format!(
                "the label column `{label}` cannot be read as the plan's type: {reason}"
            ),
        })?;
        let numeric = plan.settings.label_type == Some(super::super::LabelType::Numeric);
        label_ids(label, numeric, Some(col.as_ref()), n)
    }

    fn push(&mut self, plan: &TaskPlan, class: &str, key: u64) {
        let cap = plan.settings.sample_size;
        if cap == 0 {
            return;
        }
        let v = match self.keys.get_mut(class) {
            Some(v) => v,
            None => self.keys.entry(class.to_string()).or_default(),
        };
        v.push(key);
        if v.len() >= 2 * cap {
            v.select_nth_unstable(cap - 1);
            v.truncate(cap);
        }
    }

    /// The task's keys as bytes (each class's smallest `sample_size`, sorted).
    pub fn to_bytes(mut self, plan: &TaskPlan) -> Result<Vec<u8>> {
        let cap = plan.settings.sample_size;
        for v in self.keys.values_mut() {
            v.sort_unstable();
            v.truncate(cap);
        }
        encode(PART_MAGIC_KEYS, &self.keys, "a task's sample keys")
    }

    /// A task's keys from [`SampleKeys::to_bytes`], checked.
    pub fn from_bytes(bytes: &[u8]) -> Result<SampleKeys> {
        let keys = decode(PART_MAGIC_KEYS, bytes, "a task's sample keys")?;
        Ok(SampleKeys { keys })
    }
}

impl TaskPlan {
    /// This plan with the sample's bounds from every task's [`SampleKeys`] (one per Spark
    /// partition: a retried task's keys must not be given twice, which would lower a bound
    /// below the true k-th key; the fold's check would then refuse the profile).
    pub fn with_sample_bounds(&self, tasks: &[SampleKeys]) -> TaskPlan {
        let cap = self.settings.sample_size;
        let mut all: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
        for t in tasks {
            for (class, keys) in &t.keys {
                all.entry(class).or_default().extend_from_slice(keys);
            }
        }
        let mut plan = self.clone();
        plan.sample_bounds = all
            .into_iter()
            .filter(|(_, keys)| cap > 0 && keys.len() >= cap)
            .map(|(class, mut keys)| {
                let (_, kth, _) = keys.select_nth_unstable(cap - 1);
                (class.to_string(), *kth)
            })
            .collect();
        plan
    }

    /// The bounds [`TaskPlan::with_sample_bounds`] set, per class.
    pub fn sample_bounds(&self) -> &BTreeMap<String, u64> {
        &self.sample_bounds
    }
}
