//! Profile (pass 1): every shard is profiled in parallel into a partial profile, and the partials
//! are merged in plan order, so the result does not depend on the thread count. A profile is
//! mergeable: `profile(A ∪ B) == merge(profile(A), profile(B))` exactly for counts, integer
//! moments, min/max, fingerprints, the sample and the manifest; float moments agree to rounding;
//! quantiles and distinct counts within their sketches' stated bounds.

pub mod column;
mod io;
pub mod kll;
mod sample;
mod sketch_serde;

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimestampMicrosecondType};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed, xxh3_128};

pub use self::column::{ColumnProfile, FrequentValue, LengthStats, NumericStats};
pub use self::io::{is_profile, load, save};
pub use self::sample::{Sample, SampleRow, SampleValue};
use crate::error::{Error, Result};
use crate::ingest::{ColumnType, Dataset, Shard, ShardKind};

/// Version of the profile file format; bump on any incompatible change.
pub const PROFILE_SCHEMA_VERSION: u32 = 1;
/// Label key used for rows whose label is null.
pub const NULL_LABEL: &str = "<null>";
/// A label column with more classes than this is not a classification label.
pub const MAX_CLASSES: usize = 64;

/// What a profile is computed with.
#[derive(Debug, Clone)]
pub struct ProfileSettings {
    pub seed: u64,
    pub label: Option<String>,
    pub id: Option<String>,
    /// Rows kept per label class in the reservoir sample.
    pub sample_size: usize,
}

impl Default for ProfileSettings {
    fn default() -> Self {
        ProfileSettings {
            seed: 0,
            label: None,
            id: None,
            sample_size: 50_000,
        }
    }
}

/// One source file in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ManifestEntry {
    pub path: String,
    pub format: String,
    pub bytes: u64,
    pub rows: u64,
    pub blake3: String,
    pub row_groups: Vec<RowGroupEntry>,
    pub partitions: Vec<(String, Option<String>)>,
}

/// One Parquet row group: its row count and the BLAKE3 hash of its column-chunk bytes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RowGroupEntry {
    pub index: u32,
    pub rows: u64,
    pub blake3: String,
}

/// Row fingerprints: xxh3-128 of each row's canonical encoding over the feature columns (label,
/// id and partition columns left out), with a 32-bit hash of the row's label. Kept sorted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fingerprints {
    pub rows: Vec<(u128, u32)>,
}

impl Serialize for Fingerprints {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut bytes = Vec::with_capacity(self.rows.len() * 20);
        for (f, l) in &self.rows {
            bytes.extend_from_slice(&f.to_le_bytes());
            bytes.extend_from_slice(&l.to_le_bytes());
        }
        s.serialize_bytes(&bytes)
    }
}

impl<'de> Deserialize<'de> for Fingerprints {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let bytes: &[u8] = serde::Deserialize::deserialize(d)?;
        if !bytes.len().is_multiple_of(20) {
            return Err(serde::de::Error::custom(
                "fingerprint block has a partial row",
            ));
        }
        let rows = bytes
            .chunks_exact(20)
            .map(|c| {
                let f = u128::from_le_bytes(c[..16].try_into().expect("16 bytes"));
                let l = u32::from_le_bytes(c[16..].try_into().expect("4 bytes"));
                (f, l)
            })
            .collect();
        Ok(Fingerprints { rows })
    }
}

/// Duplicate statistics derived from the fingerprints.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Duplicates {
    /// Rows that repeat an earlier row exactly (features and label).
    pub duplicate_rows: u64,
    /// Groups of two or more identical rows.
    pub groups: u64,
    pub largest_group: u64,
    /// Groups of identical feature vectors that carry more than one label.
    pub conflicting_groups: u64,
    pub conflicting_rows: u64,
}

impl Fingerprints {
    fn sort(&mut self) {
        sort_fingerprints(&mut self.rows);
    }

    fn merge(&mut self, other: &Fingerprints) {
        let mut out = Vec::with_capacity(self.rows.len() + other.rows.len());
        let (mut i, mut j) = (0, 0);
        let (a, b) = (&self.rows, &other.rows);
        while i < a.len() && j < b.len() {
            if a[i] <= b[j] {
                out.push(a[i]);
                i += 1;
            } else {
                out.push(b[j]);
                j += 1;
            }
        }
        out.extend_from_slice(&a[i..]);
        out.extend_from_slice(&b[j..]);
        self.rows = out;
    }

    pub fn duplicates(&self) -> Duplicates {
        let mut d = Duplicates::default();
        let rows = &self.rows;
        let mut i = 0;
        while i < rows.len() {
            let mut j = i + 1;
            while j < rows.len() && rows[j].0 == rows[i].0 {
                j += 1;
            }
            // rows[i..j] share features; count exact (feature+label) runs inside.
            let mut labels = 1;
            let mut k = i;
            while k < j {
                let mut m = k + 1;
                while m < j && rows[m].1 == rows[k].1 {
                    m += 1;
                }
                let size = (m - k) as u64;
                if size > 1 {
                    d.groups += 1;
                    d.duplicate_rows += size - 1;
                    d.largest_group = d.largest_group.max(size);
                }
                if k > i {
                    labels += 1;
                }
                k = m;
            }
            if labels > 1 {
                d.conflicting_groups += 1;
                d.conflicting_rows += (j - i) as u64;
            }
            i = j;
        }
        d
    }
}

/// Sort fingerprints in O(n): bucket by the top 12 bits (hashes are uniform), then sort the
/// small buckets in parallel.
fn sort_fingerprints(v: &mut Vec<(u128, u32)>) {
    if v.len() < 1 << 16 {
        v.sort_unstable();
        return;
    }
    const BITS: u32 = 12;
    let bucket = |f: u128| (f >> (128 - BITS)) as usize;
    let mut counts = vec![0usize; 1 << BITS];
    for (f, _) in v.iter() {
        counts[bucket(*f)] += 1;
    }
    let mut starts = Vec::with_capacity(counts.len());
    let mut acc = 0;
    for c in &counts {
        starts.push(acc);
        acc += c;
    }
    let mut out = vec![(0u128, 0u32); v.len()];
    let mut next = starts.clone();
    for &x in v.iter() {
        let b = bucket(x.0);
        out[next[b]] = x;
        next[b] += 1;
    }
    let mut slices: Vec<&mut [(u128, u32)]> = Vec::with_capacity(counts.len());
    let mut rest: &mut [(u128, u32)] = &mut out;
    for c in &counts {
        let (head, tail) = rest.split_at_mut(*c);
        slices.push(head);
        rest = tail;
    }
    slices.par_iter_mut().for_each(|s| s.sort_unstable());
    *v = out;
}

/// The role poisonscan infers for a column; it decides which checks apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Label,
    Id,
    Partition,
    /// At most one distinct non-null value.
    Constant,
    /// Nearly every value distinct and not a measurement (text or integers).
    Identifier,
    Categorical,
    Numeric,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Label => "label",
            Role::Id => "id",
            Role::Partition => "partition",
            Role::Constant => "constant",
            Role::Identifier => "identifier-like",
            Role::Categorical => "categorical",
            Role::Numeric => "numeric",
        }
    }
}

/// Integer columns with at most this many distinct values are categorical codes.
pub const CATEGORICAL_INT_MAX: u64 = 12;

/// The profile of a dataset.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Profile {
    pub schema_version: u32,
    pub tool_version: String,
    pub seed: u64,
    pub label: Option<String>,
    pub id: Option<String>,
    pub rows: u64,
    pub columns: Vec<ColumnProfile>,
    pub partition_columns: Vec<String>,
    pub label_counts: BTreeMap<String, u64>,
    pub fingerprints: Fingerprints,
    pub sample: Sample,
    pub manifest: Vec<ManifestEntry>,
}

impl Profile {
    fn empty(
        ds_schema: &[(String, ColumnType)],
        settings: &ProfileSettings,
        partitions: &[String],
    ) -> Profile {
        Profile {
            schema_version: PROFILE_SCHEMA_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            seed: settings.seed,
            label: settings.label.clone(),
            id: settings.id.clone(),
            rows: 0,
            columns: ds_schema
                .iter()
                .enumerate()
                .map(|(i, (n, t))| ColumnProfile::new(n, *t, mix(settings.seed, i as u64)))
                .collect(),
            partition_columns: partitions.to_vec(),
            label_counts: BTreeMap::new(),
            fingerprints: Fingerprints::default(),
            sample: Sample::new(settings.sample_size),
            manifest: Vec::new(),
        }
    }

    pub fn column(&self, name: &str) -> Option<&ColumnProfile> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The inferred role of a column.
    pub fn role(&self, c: &ColumnProfile) -> Role {
        if self.label.as_deref() == Some(c.name.as_str()) {
            return Role::Label;
        }
        if self.id.as_deref() == Some(c.name.as_str()) {
            return Role::Id;
        }
        if self.partition_columns.contains(&c.name) {
            return Role::Partition;
        }
        let distinct = c.distinct();
        let non_null = c.non_null();
        if distinct <= 1 {
            return Role::Constant;
        }
        let mostly_unique = non_null >= 100 && distinct as f64 >= 0.95 * non_null as f64;
        match c.column_type {
            ColumnType::String if mostly_unique => Role::Identifier,
            ColumnType::Int if mostly_unique => Role::Identifier,
            ColumnType::String | ColumnType::Bool => Role::Categorical,
            ColumnType::Int if distinct <= CATEGORICAL_INT_MAX => Role::Categorical,
            ColumnType::Int | ColumnType::Float | ColumnType::Timestamp => Role::Numeric,
            ColumnType::Null => Role::Constant,
        }
    }

    pub fn duplicates(&self) -> Duplicates {
        self.fingerprints.duplicates()
    }

    /// Merge another profile (of other files of the same dataset) into this one.
    pub fn merge(&mut self, other: &Profile) -> Result<()> {
        let mismatch = |reason: String| Err(Error::ProfileMismatch { reason });
        if self.label != other.label {
            return mismatch(format!(
                "the label column differs ({:?} and {:?})",
                self.label, other.label
            ));
        }
        if self.seed != other.seed {
            return mismatch(format!(
                "they were made with different seeds ({} and {}); profile both with the same --seed",
                self.seed, other.seed
            ));
        }
        let names = |p: &Profile| p.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        if names(self) != names(other) {
            return mismatch(format!(
                "the columns differ: [{}] and [{}]",
                names(self).join(", "),
                names(other).join(", ")
            ));
        }
        for (a, b) in self.columns.iter().zip(&other.columns) {
            let compatible = a.column_type == b.column_type
                || (a.column_type.is_numeric() && b.column_type.is_numeric());
            if !compatible {
                return mismatch(format!(
                    "column `{}` is {} in one profile and {} in the other",
                    a.name,
                    a.column_type.name(),
                    b.column_type.name()
                ));
            }
        }
        for m in &other.manifest {
            if let Some(dup) = self
                .manifest
                .iter()
                .find(|e| e.blake3 == m.blake3 && e.bytes == m.bytes)
            {
                return mismatch(format!(
                    "the file `{}` (in one profile) has the same content as `{}` (in the other): merging would count its rows twice",
                    m.path, dup.path
                ));
            }
        }
        let offset = self.manifest.len() as u32;
        self.rows += other.rows;
        for (a, b) in self.columns.iter_mut().zip(&other.columns) {
            if a.column_type != b.column_type {
                a.column_type = ColumnType::Float;
            }
            a.merge(b);
        }
        for (l, c) in &other.label_counts {
            *self.label_counts.entry(l.clone()).or_default() += c;
        }
        self.fingerprints.merge(&other.fingerprints);
        self.sample.merge(&other.sample, offset);
        self.manifest.extend(other.manifest.iter().cloned());
        Ok(())
    }
}

/// A 64-bit mix of two values (SplitMix64 finaliser): seeds and row keys.
#[inline]
pub fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(31);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(crate) fn hash_str(s: &str) -> u64 {
    xxh3_64(s.as_bytes())
}

/// What one shard contributes.
struct ShardResult {
    profile: Profile,
    source: usize,
    rows: u64,
    row_group: Option<RowGroupEntry>,
}

enum Task<'a> {
    Shard(&'a Shard),
    FileHash(usize),
}

enum TaskResult {
    Shard(Box<ShardResult>),
    FileHash(usize, String),
}

/// Profile a dataset. `on_shard` is called after each shard (for progress).
pub fn profile_dataset(
    ds: &Dataset,
    settings: &ProfileSettings,
    on_shard: &(dyn Fn(u64) + Sync),
) -> Result<Profile> {
    let schema: Vec<(String, ColumnType)> = ds
        .schema
        .fields()
        .iter()
        .map(|f| {
            let t = crate::ingest::column_type(f.data_type()).unwrap_or(ColumnType::Null);
            (f.name().clone(), t)
        })
        .collect();
    for (flag, col) in [("--label", &settings.label), ("--id", &settings.id)] {
        if let Some(c) = col
            && !schema.iter().any(|(n, _)| n == c)
        {
            return Err(Error::UnknownColumn {
                flag: flag.to_string(),
                column: c.clone(),
                available: schema.iter().map(|(n, _)| n.clone()).collect(),
            });
        }
    }
    let mut tasks: Vec<Task<'_>> = ds.shards.iter().map(Task::Shard).collect();
    tasks.extend((0..ds.sources.len()).map(Task::FileHash));
    let mut profile = Profile::empty(&schema, settings, &ds.partition_columns);
    let mut file_hashes = vec![String::new(); ds.sources.len()];
    let mut source_rows = vec![0u64; ds.sources.len()];
    let mut row_groups: Vec<Vec<RowGroupEntry>> = vec![Vec::new(); ds.sources.len()];
    // Bounded memory: profile a window of tasks in parallel, then fold it in plan order.
    let window = (rayon::current_num_threads() * 2).max(2);
    for chunk in tasks.chunks(window) {
        let results: Vec<Result<TaskResult>> = chunk
            .par_iter()
            .map(|t| match t {
                Task::Shard(s) => {
                    let r = profile_shard(ds, s, &schema, settings)?;
                    on_shard(r.rows);
                    Ok(TaskResult::Shard(Box::new(r)))
                }
                Task::FileHash(i) => Ok(TaskResult::FileHash(*i, hash_file(&ds.sources[*i].path)?)),
            })
            .collect();
        for r in results {
            match r? {
                TaskResult::Shard(r) => {
                    source_rows[r.source] += r.rows;
                    if let Some(rg) = r.row_group {
                        row_groups[r.source].push(rg);
                    }
                    merge_shard(&mut profile, r.profile);
                }
                TaskResult::FileHash(i, h) => file_hashes[i] = h,
            }
        }
    }
    profile.fingerprints.sort();
    profile.manifest = ds
        .sources
        .iter()
        .enumerate()
        .map(|(i, s)| ManifestEntry {
            path: s.display(),
            format: s.format.name().to_string(),
            bytes: s.bytes,
            rows: source_rows[i],
            blake3: file_hashes[i].clone(),
            row_groups: row_groups[i].clone(),
            partitions: s.partitions.clone(),
        })
        .collect();
    Ok(profile)
}

fn merge_shard(into: &mut Profile, shard: Profile) {
    into.rows += shard.rows;
    for (a, b) in into.columns.iter_mut().zip(&shard.columns) {
        a.merge(b);
    }
    for (l, c) in shard.label_counts {
        *into.label_counts.entry(l).or_default() += c;
    }
    // Shard fingerprints are appended and sorted once at the end.
    into.fingerprints.rows.extend(shard.fingerprints.rows);
    into.sample.merge(&shard.sample, 0);
}

fn hash_file(path: &std::path::Path) -> Result<String> {
    let mut h = blake3::Hasher::new();
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    h.update_reader(f).map_err(|e| Error::io(path, e))?;
    Ok(h.finalize().to_hex().to_string())
}

fn hash_range(path: &std::path::Path, start: u64, end: u64) -> Result<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    f.seek(SeekFrom::Start(start))
        .map_err(|e| Error::io(path, e))?;
    let mut h = blake3::Hasher::new();
    h.update_reader(f.take(end.saturating_sub(start)))
        .map_err(|e| Error::io(path, e))?;
    Ok(h.finalize().to_hex().to_string())
}

/// The label key of each row of a batch, as indices into a batch-local list of names.
fn label_ids(array: Option<&dyn Array>, n: usize) -> Result<(Vec<u32>, Vec<String>)> {
    let Some(a) = array else {
        return Ok((vec![0; n], vec![String::new()]));
    };
    let mut names: Vec<String> = Vec::new();
    let mut index: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let key = label_text(a, i);
        let id = match index.get(&key) {
            Some(&id) => id,
            None => {
                let id = names.len() as u32;
                names.push(key.clone());
                index.insert(key, id);
                id
            }
        };
        ids.push(id);
    }
    Ok((ids, names))
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

fn profile_shard(
    ds: &Dataset,
    shard: &Shard,
    schema: &[(String, ColumnType)],
    settings: &ProfileSettings,
) -> Result<ShardResult> {
    let source = &ds.sources[shard.source];
    let source_hash = hash_str(&source.display());
    let mut p = Profile::empty(schema, settings, &ds.partition_columns);
    // Each shard's sketches get their own seed, derived from the run seed and the shard.
    let shard_seed = mix(mix(settings.seed, source_hash), shard.first_row);
    for (i, c) in p.columns.iter_mut().enumerate() {
        if let Some(n) = c.numeric.as_mut() {
            n.quantiles = kll::Kll::new(kll::DEFAULT_K, mix(shard_seed, i as u64));
        }
    }
    let label_idx = settings
        .label
        .as_ref()
        .and_then(|l| schema.iter().position(|(n, _)| n == l));
    let feature_cols: Vec<usize> = schema
        .iter()
        .enumerate()
        .filter(|(_, (n, _))| {
            settings.label.as_deref() != Some(n.as_str())
                && settings.id.as_deref() != Some(n.as_str())
                && !ds.partition_columns.contains(n)
        })
        .map(|(i, _)| i)
        .collect();
    let mut fp_buf: Vec<u8> = Vec::new();
    let mut rows = 0u64;
    for batch in ds.read_shard(shard)? {
        let batch = batch?;
        let b = &batch.batch;
        let n = b.num_rows();
        let (ids, names) = label_ids(label_idx.map(|i| b.column(i).as_ref()), n)?;
        for (id, name) in names.iter().enumerate() {
            let count = ids.iter().filter(|&&x| x as usize == id).count() as u64;
            *p.label_counts.entry(name.clone()).or_default() += count;
        }
        if p.label_counts.len() > MAX_CLASSES && label_idx.is_some() {
            return Err(Error::Usage(format!(
                "the label column `{}` has more than {MAX_CLASSES} distinct values; poisonscan checks classification labels\nhint: give a class column with --label, or none",
                settings.label.as_deref().unwrap_or_default()
            )));
        }
        // Row keys: a seeded hash of (file, row in file), independent of how files are split.
        let keys: Vec<u64> = (0..n as u64)
            .map(|i| mix(mix(settings.seed, source_hash), batch.first_row + i))
            .collect();
        let local0 = batch.first_row - shard.first_row;
        let sampled: Vec<(u32, u32)> = (0..n)
            .filter_map(|i| {
                let level = column::sample_level(local0 + i as u64);
                let mask = (1u64 << level) - 1;
                (keys[i].rotate_right(32) & mask == 0).then_some((i as u32, level))
            })
            .collect();
        let ctx = column::BatchContext {
            label_ids: &ids,
            label_names: &names,
            sampled: &sampled,
            seed: shard_seed,
        };
        for (ci, c) in p.columns.iter_mut().enumerate() {
            column::update(c, b.column(ci).as_ref(), &ctx);
        }
        fingerprint_batch(
            b,
            &feature_cols,
            &ids,
            &names,
            &mut fp_buf,
            &mut p.fingerprints.rows,
        );
        p.sample
            .offer_batch(b, &keys, &ids, &names, shard.source as u32, batch.first_row);
        rows += n as u64;
    }
    p.rows = rows;
    let row_group = match shard.kind {
        ShardKind::RowGroup { index } => {
            let pf = source
                .parquet
                .as_ref()
                .ok_or_else(|| Error::Internal("row group without metadata".into()))?;
            let (start, end) = pf.row_group_ranges[index];
            Some(RowGroupEntry {
                index: index as u32,
                rows,
                blake3: hash_range(&source.path, start, end)?,
            })
        }
        ShardKind::CsvBlock { .. } => None,
    };
    Ok(ShardResult {
        profile: p,
        source: shard.source,
        rows,
        row_group,
    })
}

/// Canonical row encoding: per feature column a tag byte and 8 value bytes (numbers as their
/// canonical f64 bits, so int and float columns with equal values agree; text as xxh3-64 of its
/// bytes; bools as 0/1; null as tag 0), in schema order.
fn fingerprint_batch(
    b: &arrow::array::RecordBatch,
    cols: &[usize],
    ids: &[u32],
    names: &[String],
    buf: &mut Vec<u8>,
    out: &mut Vec<(u128, u32)>,
) {
    let n = b.num_rows();
    let stride = cols.len() * 9;
    buf.clear();
    buf.resize(n * stride, 0);
    for (k, &ci) in cols.iter().enumerate() {
        let a = b.column(ci);
        let off = k * 9;
        let mut put = |i: usize, tag: u8, v: u64| {
            let p = i * stride + off;
            buf[p] = tag;
            buf[p + 1..p + 9].copy_from_slice(&v.to_le_bytes());
        };
        match a.data_type() {
            DataType::Int64 => {
                let v = a.as_primitive::<Int64Type>();
                for i in 0..n {
                    if v.is_valid(i) {
                        put(i, 1, column::numeric_key(v.value(i) as f64));
                    }
                }
            }
            DataType::Timestamp(..) => {
                let v = a.as_primitive::<TimestampMicrosecondType>();
                for i in 0..n {
                    if v.is_valid(i) {
                        put(i, 1, column::numeric_key(v.value(i) as f64));
                    }
                }
            }
            DataType::Float64 => {
                let v = a.as_primitive::<Float64Type>();
                for i in 0..n {
                    if v.is_valid(i) {
                        put(i, 1, column::numeric_key(v.value(i)));
                    }
                }
            }
            DataType::Utf8 => {
                let v = a.as_string::<i32>();
                for i in 0..n {
                    if v.is_valid(i) {
                        put(i, 3, xxh3_64(v.value(i).as_bytes()));
                    }
                }
            }
            DataType::Boolean => {
                let v = a.as_boolean();
                for i in 0..n {
                    if v.is_valid(i) {
                        put(i, 2, u64::from(v.value(i)));
                    }
                }
            }
            _ => {}
        }
    }
    let label_hashes: Vec<u32> = names
        .iter()
        .map(|s| xxh3_64_with_seed(s.as_bytes(), 0x006c_6162_656c) as u32)
        .collect();
    out.reserve(n);
    for i in 0..n {
        let row = &buf[i * stride..(i + 1) * stride];
        out.push((xxh3_128(row), label_hashes[ids[i] as usize]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_stats_by_hand() {
        let mut f = Fingerprints {
            rows: vec![
                (1, 7),
                (1, 7),
                (1, 7),
                (2, 7),
                (2, 8),
                (3, 1),
                (4, 1),
                (4, 1),
            ],
        };
        f.sort();
        let d = f.duplicates();
        assert_eq!(d.groups, 2); // (1,7)x3 and (4,1)x2
        assert_eq!(d.duplicate_rows, 3);
        assert_eq!(d.largest_group, 3);
        assert_eq!(d.conflicting_groups, 1); // features 2 with labels 7 and 8
        assert_eq!(d.conflicting_rows, 2);
    }

    #[test]
    fn bucket_sort_matches_std_sort() {
        let mut v: Vec<(u128, u32)> = (0..200_000u64)
            .map(|i| {
                (
                    ((mix(i, 1) as u128) << 64) | mix(i, 2) as u128,
                    (i % 3) as u32,
                )
            })
            .collect();
        let mut w = v.clone();
        w.sort_unstable();
        sort_fingerprints(&mut v);
        assert_eq!(v, w);
    }
}
