//! The label column as the profile keys it: per-batch label ids and their text, the class limit,
//! and the pre-pass over the Parquet label columns that bounds which rows the sample keeps.

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimestampMicrosecondType};
use rayon::prelude::*;

use super::{
    LabelType, MAX_CLASSES, NULL_LABEL, NUMERIC_LABEL, ProfileSettings, SharedBounds, column,
    hash_str, mix,
};
use crate::error::{Error, Result};
use crate::ingest::{Dataset, Shard};

/// A pre-pass over the label column of the Parquet files (a small fraction of the decode work)
/// that finds, per class, the key of the last row the sample will keep. The main pass then
/// copies only rows that make the sample instead of every row that might. Rows of CSV files
/// are not seen here; the bounds stay valid (a subset's k-th smallest key is an upper bound)
/// and the main pass tightens them as it goes.
pub(super) fn label_bounds(ds: &Dataset, settings: &ProfileSettings) -> Result<SharedBounds> {
    let bounds = SharedBounds::default();
    let cap = settings.sample_size;
    if cap == 0 {
        return Ok(bounds);
    }
    let label = settings.label.as_deref();
    let numeric = settings.label_type == Some(LabelType::Numeric);
    let per_shard = |shard: &Shard| -> Result<BTreeMap<String, Vec<u64>>> {
        let mut out: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        let source_hash = hash_str(&ds.sources[shard.source].row_key_name());
        let base = mix(settings.seed, source_hash);
        let mut first = shard.first_row;
        let push = |name: &str, key: u64, out: &mut BTreeMap<String, Vec<u64>>| {
            let v = out.entry(name.to_string()).or_default();
            v.push(key);
            if v.len() >= 2 * cap {
                v.select_nth_unstable(cap - 1);
                v.truncate(cap);
            }
        };
        match label {
            None => {
                let Some(rows) = shard.expected_rows else {
                    return Ok(out);
                };
                for r in 0..rows {
                    push("", mix(base, first + r), &mut out);
                }
            }
            Some(l) => {
                let Some(it) = ds.read_parquet_column(shard, l)? else {
                    return Ok(out);
                };
                for a in it {
                    let a = a?;
                    let (ids, names) = label_ids(l, numeric, Some(a.as_ref()), a.len())?;
                    for (i, &id) in ids.iter().enumerate() {
                        push(&names[id as usize], mix(base, first + i as u64), &mut out);
                    }
                    first += a.len() as u64;
                }
            }
        }
        Ok(out)
    };
    let merged = ds
        .shards
        .par_iter()
        .map(per_shard)
        .try_reduce(BTreeMap::new, |mut a, b| {
            for (name, mut keys) in b {
                let v = a.entry(name).or_default();
                v.append(&mut keys);
                if v.len() > cap {
                    v.select_nth_unstable(cap - 1);
                    v.truncate(cap);
                }
            }
            Ok(a)
        })?;
    for (name, mut keys) in merged {
        if keys.len() >= cap {
            let (_, kth, _) = keys.select_nth_unstable(cap - 1);
            bounds.publish(&name, *kth);
        }
    }
    Ok(bounds)
}

/// The label key of each row of a batch, as indices into a batch-local list of names: the
/// class, or for a numeric target (`numeric`) whether it is null (`NUMERIC_LABEL` or
/// `NULL_LABEL`; NaN counts as null).
#[inline(never)]
pub(super) fn label_ids(
    label: &str,
    numeric: bool,
    array: Option<&dyn Array>,
    n: usize,
) -> Result<(Vec<u32>, Vec<String>)> {
    let Some(a) = array else {
        return Ok((vec![0; n], vec![String::new()]));
    };
    if numeric {
        return numeric_ids(label, a);
    }
    let text = |i: usize| label_text(a, i);
    match a.data_type() {
        DataType::Int64 => {
            let v = a.as_primitive::<Int64Type>();
            intern(label, true, n, |i| v.is_valid(i).then(|| v.value(i)), text)
        }
        DataType::Timestamp(..) => {
            let v = a.as_primitive::<TimestampMicrosecondType>();
            intern(label, false, n, |i| v.is_valid(i).then(|| v.value(i)), text)
        }
        DataType::Float64 => {
            let v = a.as_primitive::<Float64Type>();
            intern(
                label,
                true,
                n,
                |i| v.is_valid(i).then(|| column::numeric_key(v.value(i))),
                text,
            )
        }
        DataType::Utf8 => {
            let v = a.as_string::<i32>();
            intern(label, false, n, |i| v.is_valid(i).then(|| v.value(i)), text)
        }
        DataType::Boolean => {
            let v = a.as_boolean();
            intern(label, false, n, |i| v.is_valid(i).then(|| v.value(i)), text)
        }
        _ => Ok((vec![0; n], vec![NULL_LABEL.to_string()])),
    }
}

/// `label_ids` of a numeric target: 0 for a value, 1 for null or NaN.
fn numeric_ids(label: &str, a: &dyn Array) -> Result<(Vec<u32>, Vec<String>)> {
    let names = vec![NUMERIC_LABEL.to_string(), NULL_LABEL.to_string()];
    let ids = match a.data_type() {
        DataType::Int64 => {
            let v = a.as_primitive::<Int64Type>();
            (0..a.len()).map(|i| u32::from(v.is_null(i))).collect()
        }
        DataType::Float64 => {
            let v = a.as_primitive::<Float64Type>();
            (0..a.len())
                .map(|i| u32::from(v.is_null(i) || v.value(i).is_nan()))
                .collect()
        }
        other => {
            return Err(Error::Usage(format!(
                "the label column `{label}` holds {other} values; a numeric target (--label-type numeric) must be numbers\nhint: give --label-type class, or a numeric column"
            )));
        }
    };
    Ok((ids, names))
}

/// Give each distinct key an index in order of first appearance. Label sets are small (at most
/// `MAX_CLASSES`, checked here), so a scan of the keys seen so far, starting from the last hit,
/// beats hashing.
fn intern<K: PartialEq + Copy>(
    label: &str,
    numeric_type: bool,
    n: usize,
    key: impl Fn(usize) -> Option<K>,
    text: impl Fn(usize) -> String,
) -> Result<(Vec<u32>, Vec<String>)> {
    let mut keys: Vec<Option<K>> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut ids = Vec::with_capacity(n);
    let mut last = 0usize;
    for i in 0..n {
        let k = key(i);
        let id = if keys.get(last) == Some(&k) {
            last
        } else if let Some(p) = keys.iter().position(|x| *x == k) {
            p
        } else {
            if keys.len() > MAX_CLASSES {
                return Err(too_many_classes(label, numeric_type));
            }
            keys.push(k);
            names.push(text(i));
            keys.len() - 1
        };
        last = id;
        ids.push(id as u32);
    }
    Ok((ids, names))
}

/// A whole profile's label: at most `MAX_CLASSES` classes (each shard, batch or Spark partition
/// checks its own; together they may hold more).
pub(super) fn check_classes(p: &super::Profile) -> Result<()> {
    let Some(label) = p.label.as_deref() else {
        return Ok(());
    };
    if p.label_type == LabelType::Class && p.label_counts.len() > MAX_CLASSES {
        let numeric = p.column(label).is_some_and(|c| {
            matches!(
                c.column_type,
                crate::ingest::ColumnType::Int | crate::ingest::ColumnType::Float
            )
        });
        return Err(too_many_classes(label, numeric));
    }
    Ok(())
}

/// The error of a label with more than `MAX_CLASSES` classes; `numeric`: the column holds
/// numbers (auto then checks it as a numeric target).
pub(super) fn too_many_classes(label: &str, numeric: bool) -> Error {
    Error::TooManyClasses {
        label: label.to_string(),
        max: MAX_CLASSES,
        numeric,
    }
}

/// The text of a label value: integers without a decimal point, null as `<null>`.
pub fn label_text(a: &dyn Array, i: usize) -> String {
    if a.is_null(i) {
        return NULL_LABEL.to_string();
    }
    match a.data_type() {
        DataType::Int64 => a.as_primitive::<Int64Type>().value(i).to_string(),
        DataType::Timestamp(..) => a
            .as_primitive::<TimestampMicrosecondType>()
            .value(i)
            .to_string(),
        DataType::Float64 => column::numeric_text(a.as_primitive::<Float64Type>().value(i)),
        DataType::Utf8 => a.as_string::<i32>().value(i).to_string(),
        DataType::Boolean => a.as_boolean().value(i).to_string(),
        _ => NULL_LABEL.to_string(),
    }
}
