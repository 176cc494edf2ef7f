//! A seeded sample of rows, stratified by label: per class, the `capacity` rows with the
//! smallest row keys (a bottom-k sample). Row keys hash (seed, file, row in file), so the sample
//! does not depend on how files are split into shards, and merging two samples is exact.

use std::collections::BTreeMap;
use std::sync::Mutex;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimestampMicrosecondType};
use serde::{Deserialize, Serialize};

/// Per class, the smallest k-th key any shard has reached so far: an upper bound on the key of
/// every row of the final sample, shared by the shards of one profiling run.
#[derive(Debug, Default)]
pub struct SharedBounds(Mutex<BTreeMap<String, u64>>);

impl SharedBounds {
    fn get(&self, label: &str) -> u64 {
        let m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        m.get(label).copied().unwrap_or(u64::MAX)
    }

    pub(crate) fn publish(&self, label: &str, bound: u64) {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let e = m.entry(label.to_string()).or_insert(u64::MAX);
        *e = (*e).min(bound);
    }
}

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

    /// Offer every row of a batch. Only rows that can still make the sample are copied: a row
    /// must beat its class's current threshold here and the best bound any other shard has
    /// published in `shared` (a shard's k-th smallest key of a class bounds the global k-th
    /// smallest from above, so the filter never drops a row of the final sample, and the result
    /// does not depend on which shards ran first).
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    pub fn offer_batch(
        &mut self,
        b: &RecordBatch,
        keys: &[u64],
        ids: &[u32],
        names: &[String],
        source: u32,
        first_row: u64,
        shared: &SharedBounds,
    ) {
        if self.capacity == 0 {
            return;
        }
        let cap = self.capacity;
        let bounds: Vec<u64> = names
            .iter()
            .map(|n| {
                let own = self
                    .strata
                    .get(n)
                    .map_or(u64::MAX, |r| Self::threshold(r, cap));
                own.min(shared.get(n))
            })
            .collect();
        let mut candidates: Vec<Vec<(u64, u32)>> = vec![Vec::new(); names.len()];
        for (i, &key) in keys.iter().enumerate() {
            let id = ids[i] as usize;
            if key <= bounds[id] {
                candidates[id].push((key, i as u32));
            }
        }
        let mut chosen: Vec<(usize, u64, u32)> = Vec::new();
        for (id, mut cand) in candidates.into_iter().enumerate() {
            if cand.is_empty() {
                continue;
            }
            let held = self.strata.get(&names[id]);
            let held_len = held.map_or(0, Vec::len);
            if held_len + cand.len() > cap {
                // The batch's cut: the cap-th smallest key among the rows held and the
                // candidates; only candidates at or below it are copied.
                let mut all: Vec<u64> = held.into_iter().flatten().map(|r| r.key).collect();
                all.extend(cand.iter().map(|c| c.0));
                let (_, cut, _) = all.select_nth_unstable(cap - 1);
                let cut = *cut;
                cand.retain(|c| c.0 <= cut);
            }
            chosen.extend(cand.into_iter().map(|(key, i)| (id, key, i)));
        }
        if chosen.is_empty() {
            return;
        }
        // Copy the chosen rows column by column (one type dispatch per column).
        let rows_idx: Vec<usize> = chosen.iter().map(|c| c.2 as usize).collect();
        let mut values: Vec<Vec<SampleValue>> = (0..chosen.len())
            .map(|_| Vec::with_capacity(b.num_columns()))
            .collect();
        for c in 0..b.num_columns() {
            gather(b.column(c).as_ref(), &rows_idx, &mut values);
        }
        let mut touched = vec![false; names.len()];
        for ((id, key, i), values) in chosen.into_iter().zip(values) {
            touched[id] = true;
            self.strata
                .entry(names[id].clone())
                .or_default()
                .push(SampleRow {
                    key,
                    source,
                    row: first_row + u64::from(i),
                    values,
                });
        }
        for (id, name) in names.iter().enumerate() {
            if !touched[id] {
                continue;
            }
            let rows = self.strata.get_mut(name).expect("just filled");
            Self::trim(rows, cap);
            if rows.len() >= cap {
                shared.publish(name, Self::threshold(rows, cap));
            }
        }
    }

    /// Publish each full class's k-th smallest key to `shared`: the sample of the shards merged
    /// so far bounds the final sample from above as a single shard's does, and more tightly (a
    /// shard of 140,000 CSV rows alone keeps most of its rows under its own bound; the merge of
    /// ten keeps a tenth as many).
    pub(crate) fn publish_bounds(&self, shared: &SharedBounds) {
        for (name, rows) in &self.strata {
            if rows.len() >= self.capacity && self.capacity > 0 {
                shared.publish(name, Self::threshold(rows, self.capacity));
            }
        }
    }

    /// Merge a shard's sample (same manifest indices), taking its rows.
    pub fn merge_owned(&mut self, other: Sample) {
        for (label, rows) in other.strata {
            match self.strata.get_mut(&label) {
                Some(mine) => {
                    let held = std::mem::take(mine);
                    *mine = merge_sorted(held, rows, self.capacity);
                }
                None => {
                    self.strata.insert(label, rows);
                }
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

/// Merge two runs sorted by (key, source, row), keeping the first `cap`.
fn merge_sorted(a: Vec<SampleRow>, b: Vec<SampleRow>, cap: usize) -> Vec<SampleRow> {
    let order = |r: &SampleRow| (r.key, r.source, r.row);
    let mut out = Vec::with_capacity((a.len() + b.len()).min(cap));
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    while out.len() < cap {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => order(x) <= order(y),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        out.push(if take_a { a.next() } else { b.next() }.expect("peeked"));
    }
    out
}

/// Append the value of each row in `rows` to the matching entry of `out`.
fn gather(a: &dyn Array, rows: &[usize], out: &mut [Vec<SampleValue>]) {
    let put = |out: &mut [Vec<SampleValue>], f: &dyn Fn(usize) -> SampleValue| {
        for (o, &i) in out.iter_mut().zip(rows) {
            o.push(if a.is_null(i) {
                SampleValue::Null
            } else {
                f(i)
            });
        }
    };
    match a.data_type() {
        DataType::Int64 => {
            let v = a.as_primitive::<Int64Type>();
            put(out, &|i| SampleValue::Number(v.value(i) as f64));
        }
        DataType::Timestamp(..) => {
            let v = a.as_primitive::<TimestampMicrosecondType>();
            put(out, &|i| SampleValue::Number(v.value(i) as f64));
        }
        DataType::Float64 => {
            let v = a.as_primitive::<Float64Type>();
            put(out, &|i| SampleValue::Number(v.value(i)));
        }
        DataType::Utf8 => {
            let v = a.as_string::<i32>();
            put(out, &|i| SampleValue::Text(v.value(i).to_string()));
        }
        DataType::Boolean => {
            let v = a.as_boolean();
            put(out, &|i| SampleValue::Bool(v.value(i)));
        }
        _ => put(out, &|_| SampleValue::Null),
    }
}
