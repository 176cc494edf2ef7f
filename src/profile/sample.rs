//! A seeded sample of rows, stratified by label: per class, the `capacity` rows with the
//! smallest row keys (a bottom-k sample). Row keys hash (seed, file, row in file), so the sample
//! does not depend on how files are split into shards, and merging two samples is exact.

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimestampMicrosecondType};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum SampleValue {
    Null,
    Number(f64),
    Text(String),
    Bool(bool),
}

/// Values are equal when they are the same value: numbers compare by bit pattern, so a NaN
/// equals itself (a sample that holds a NaN is still equal to its own copy).
impl PartialEq for SampleValue {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (SampleValue::Number(a), SampleValue::Number(b)) => a.to_bits() == b.to_bits(),
            (SampleValue::Text(a), SampleValue::Text(b)) => a == b,
            (SampleValue::Bool(a), SampleValue::Bool(b)) => a == b,
            (SampleValue::Null, SampleValue::Null) => true,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleRow {
    pub key: u64,
    /// Index into the profile's manifest.
    pub source: u32,
    /// Row index within the source file.
    pub row: u64,
    /// One value per profile column, in column order.
    pub values: Vec<SampleValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub capacity: usize,
    /// Label → rows sorted by key (at most `capacity` each after `trim`).
    pub strata: BTreeMap<String, Vec<SampleRow>>,
}

impl Sample {
    pub fn new(capacity: usize) -> Sample {
        Sample {
            capacity,
            strata: BTreeMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.strata.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All rows, strata in label order, rows by key.
    pub fn rows(&self) -> impl Iterator<Item = (&str, &SampleRow)> {
        self.strata
            .iter()
            .flat_map(|(l, rows)| rows.iter().map(move |r| (l.as_str(), r)))
    }

    fn threshold(rows: &[SampleRow], capacity: usize) -> u64 {
        if rows.len() >= capacity && capacity > 0 {
            rows[capacity - 1].key
        } else {
            u64::MAX
        }
    }

    fn trim(rows: &mut Vec<SampleRow>, capacity: usize) {
        rows.sort_unstable_by_key(|r| (r.key, r.source, r.row));
        rows.truncate(capacity);
    }

    /// Offer every row of a batch; only rows whose key beats the current threshold are copied.
    pub fn offer_batch(
        &mut self,
        b: &RecordBatch,
        keys: &[u64],
        ids: &[u32],
        names: &[String],
        source: u32,
        first_row: u64,
    ) {
        if self.capacity == 0 {
            return;
        }
        let mut thresholds: Vec<u64> = names
            .iter()
            .map(|n| {
                self.strata
                    .get(n)
                    .map_or(u64::MAX, |r| Self::threshold(r, self.capacity))
            })
            .collect();
        for (i, &key) in keys.iter().enumerate() {
            let id = ids[i] as usize;
            if key >= thresholds[id] {
                continue;
            }
            let rows = self.strata.entry(names[id].clone()).or_default();
            rows.push(SampleRow {
                key,
                source,
                row: first_row + i as u64,
                values: (0..b.num_columns())
                    .map(|c| value_at(b.column(c).as_ref(), i))
                    .collect(),
            });
            if rows.len() >= 2 * self.capacity {
                Self::trim(rows, self.capacity);
                thresholds[id] = Self::threshold(rows, self.capacity);
            }
        }
        for rows in self.strata.values_mut() {
            if rows.len() > self.capacity || !rows.is_sorted_by_key(|r| (r.key, r.source, r.row)) {
                Self::trim(rows, self.capacity);
            }
        }
    }

    /// Merge another sample; `source_offset` shifts its manifest indices.
    pub fn merge(&mut self, other: &Sample, source_offset: u32) {
        for (label, rows) in &other.strata {
            let mine = self.strata.entry(label.clone()).or_default();
            mine.extend(rows.iter().map(|r| SampleRow {
                source: r.source + source_offset,
                ..r.clone()
            }));
            Self::trim(mine, self.capacity);
        }
    }
}

fn value_at(a: &dyn Array, i: usize) -> SampleValue {
    if a.is_null(i) {
        return SampleValue::Null;
    }
    match a.data_type() {
        DataType::Int64 => SampleValue::Number(a.as_primitive::<Int64Type>().value(i) as f64),
        DataType::Timestamp(..) => {
            SampleValue::Number(a.as_primitive::<TimestampMicrosecondType>().value(i) as f64)
        }
        DataType::Float64 => SampleValue::Number(a.as_primitive::<Float64Type>().value(i)),
        DataType::Utf8 => SampleValue::Text(a.as_string::<i32>().value(i).to_string()),
        DataType::Boolean => SampleValue::Bool(a.as_boolean().value(i)),
        _ => SampleValue::Null,
    }
}
