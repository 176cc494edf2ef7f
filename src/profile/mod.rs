//! Profile (pass 1): every shard is profiled in parallel into a partial profile, and the partials
//! are merged in plan order, so the result does not depend on the thread count. A profile is
//! mergeable: `profile(A ∪ B) == merge(profile(A), profile(B))` exactly for counts, integer
//! moments, min/max, fingerprints, the sample and the manifest; float moments agree to rounding;
//! quantiles and distinct counts within their sketches' stated bounds.

pub mod column;
pub mod hll;
mod io;
pub mod kll;
mod sample;
mod sketch_serde;
pub mod source;

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimestampMicrosecondType};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

pub use self::column::{ColumnProfile, FrequentValue, LengthStats, NumericStats};
pub use self::io::{is_profile, load, save};
pub use self::sample::{Sample, SampleRow, SampleValue, SharedBounds};
pub use self::source::{SourceColumn, SourceSummary};
use crate::error::{Error, Result};
use crate::ingest::{Batch, ColumnType, Dataset, Shard};

/// Version of the profile file format; bump on any incompatible change.
pub const PROFILE_SCHEMA_VERSION: u32 = 4;
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
    /// Per numeric column, a reference range (a baseline's min and max): the profile then counts
    /// exactly, per label, the values below and above it (`ColumnProfile::outside`).
    pub reference_ranges: BTreeMap<String, (f64, f64)>,
}

impl Default for ProfileSettings {
    fn default() -> Self {
        ProfileSettings {
            seed: 0,
            label: None,
            id: None,
            sample_size: 50_000,
            reference_ranges: BTreeMap::new(),
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

/// Row fingerprints, one `u128` a row: the top 80 bits of the row's 128-bit feature hash
/// (`RowHasher`, over the feature columns: label, id and partition columns left out), then a 32-bit
/// hash of the row's label, then the 16-bit segment (file or Parquet row group, an index into
/// `Profile::segments`) the row came from. Sorting them groups identical feature vectors, and
/// within those, identical labels. 80 bits keep the chance of any false match below 10⁻⁸ at
/// 10⁸ rows. Kept sorted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fingerprints {
    pub rows: Vec<u128>,
}

/// The segment of rows a profile cannot name (past the first 65,535 segments).
pub const UNKNOWN_SEGMENT: u16 = u16::MAX;

/// The feature part of a fingerprint.
#[inline]
pub fn features(f: u128) -> u128 {
    f >> 48
}

/// The label part of a fingerprint.
#[inline]
pub fn label_part(f: u128) -> u32 {
    (f >> 16) as u32
}

/// Features and label: equal for rows that are exact duplicates.
#[inline]
pub fn row_key(f: u128) -> u128 {
    f >> 16
}

/// The segment a fingerprint's row came from.
#[inline]
pub fn segment_of(f: u128) -> u16 {
    f as u16
}

/// The 32-bit hash of a label as fingerprints hold it.
pub fn label_hash(label: &str) -> u32 {
    xxh3_64_with_seed(label.as_bytes(), 0x006c_6162_656c) as u32
}

/// A fingerprint from its parts.
#[inline]
pub fn fingerprint(row_hash: u128, label: u32, segment: u16) -> u128 {
    ((row_hash >> 48) << 48) | (u128::from(label) << 16) | u128::from(segment)
}

/// A run of rows fingerprints point back to: a whole file, or one Parquet row group of it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Segment {
    /// Index into the manifest.
    pub source: u32,
    pub row_group: Option<u32>,
}

/// Duplicate statistics derived from the fingerprints.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Duplicates {
    /// Rows that repeat an earlier row exactly (features and label).
    pub duplicate_rows: u64,
    /// Groups of two or more identical rows.
    pub groups: u64,
    pub largest_group: u64,
    /// Rows in the largest group of identical feature vectors (whatever their labels).
    pub largest_feature_group: u64,
    /// Groups of identical feature vectors that carry more than one label.
    pub conflicting_groups: u64,
    pub conflicting_rows: u64,
}

impl Fingerprints {
    fn sort(&mut self) {
        sort_fingerprints(&mut self.rows);
    }

    /// Duplicate statistics, computed on the rayon pool: the sorted column is cut into one
    /// piece per thread at boundaries between feature groups, and the pieces' counts added.
    pub fn duplicates(&self) -> Duplicates {
        let rows = &self.rows;
        let pieces = (rayon::current_num_threads() * 4).max(1);
        let mut cuts = vec![0usize];
        for i in 1..pieces {
            let mut c = rows.len() * i / pieces;
            // Move the cut to the start of a feature group.
            while c > 0 && c < rows.len() && features(rows[c]) == features(rows[c - 1]) {
                c += 1;
            }
            if c > *cuts.last().expect("non-empty") && c < rows.len() {
                cuts.push(c);
            }
        }
        cuts.push(rows.len());
        cuts.windows(2)
            .collect::<Vec<_>>()
            .par_iter()
            .map(|w| duplicates_of(&rows[w[0]..w[1]]))
            .reduce(Duplicates::default, |a, b| Duplicates {
                duplicate_rows: a.duplicate_rows + b.duplicate_rows,
                groups: a.groups + b.groups,
                largest_group: a.largest_group.max(b.largest_group),
                largest_feature_group: a.largest_feature_group.max(b.largest_feature_group),
                conflicting_groups: a.conflicting_groups + b.conflicting_groups,
                conflicting_rows: a.conflicting_rows + b.conflicting_rows,
            })
    }
}

/// Duplicate statistics of sorted fingerprints that do not split a feature group.
fn duplicates_of(rows: &[u128]) -> Duplicates {
    let mut d = Duplicates::default();
    let mut i = 0;
    while i < rows.len() {
        let mut j = i + 1;
        while j < rows.len() && features(rows[j]) == features(rows[i]) {
            j += 1;
        }
        d.largest_feature_group = d.largest_feature_group.max((j - i) as u64);
        // rows[i..j] share features; count exact (feature+label) runs inside.
        let mut labels = 1;
        let mut k = i;
        while k < j {
            let mut m = k + 1;
            while m < j && label_part(rows[m]) == label_part(rows[k]) {
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

/// Sort fingerprints in place in O(n): an American-flag pass on the top 8 bits (hashes are
/// uniform, so the buckets are even; 256 write heads stay in cache), then, in parallel, a second
/// pass on the next 8 bits inside each bucket (which fits in cache) and a sort of the small
/// sub-buckets. No second copy of the column is made.
fn sort_fingerprints(v: &mut [u128]) {
    if v.len() < 1 << 16 {
        v.sort_unstable();
        return;
    }
    flag_pass(v, 120)
        .into_par_iter()
        .for_each(|part| match part.len() {
            0..=64 => part.sort_unstable(),
            _ => flag_pass(part, 112)
                .into_iter()
                .for_each(|p| p.sort_unstable()),
        });
}

/// Distribute `v` in place into 256 buckets by the 8 bits at `shift` and return them.
fn flag_pass(v: &mut [u128], shift: u32) -> Vec<&mut [u128]> {
    let bucket = |f: u128| ((f >> shift) & 0xff) as usize;
    let mut counts = [0usize; 256];
    for &f in v.iter() {
        counts[bucket(f)] += 1;
    }
    let mut next = [0usize; 256];
    let mut ends = [0usize; 256];
    let mut acc = 0;
    for b in 0..256 {
        next[b] = acc;
        acc += counts[b];
        ends[b] = acc;
    }
    for b in 0..256 {
        while next[b] < ends[b] {
            let mut x = v[next[b]];
            let mut t = bucket(x);
            // Follow the cycle until an element of bucket b comes back.
            while t != b {
                std::mem::swap(&mut x, &mut v[next[t]]);
                next[t] += 1;
                t = bucket(x);
            }
            v[next[b]] = x;
            next[b] += 1;
        }
    }
    let mut parts: Vec<&mut [u128]> = Vec::with_capacity(256);
    let mut rest: &mut [u128] = v;
    for c in counts {
        let (head, tail) = rest.split_at_mut(c);
        parts.push(head);
        rest = tail;
    }
    parts
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
    /// Written apart from the rest of the profile, raw (see `io`).
    #[serde(skip)]
    pub fingerprints: Fingerprints,
    pub sample: Sample,
    pub manifest: Vec<ManifestEntry>,
    /// Per source file (parallel to `manifest`): its summary.
    pub sources: Vec<SourceSummary>,
    /// The segments fingerprints point to (at most `UNKNOWN_SEGMENT` of them).
    pub segments: Vec<Segment>,
    /// `duplicates()`, computed once (several checks and the report need it).
    #[serde(skip)]
    duplicates_cache: std::sync::OnceLock<Duplicates>,
    /// Column roles set by the config file (`[roles]`), over the inferred ones. A scan setting,
    /// not saved with the profile.
    #[serde(skip)]
    pub role_overrides: BTreeMap<String, Role>,
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
                .map(|(i, (n, t))| {
                    let mut c = ColumnProfile::new(n, *t, mix(settings.seed, i as u64));
                    if t.is_numeric()
                        && let Some(&(lo, hi)) = settings.reference_ranges.get(n)
                    {
                        c.outside = Some(column::Outside::new(lo, hi));
                    }
                    c
                })
                .collect(),
            partition_columns: partitions.to_vec(),
            label_counts: BTreeMap::new(),
            fingerprints: Fingerprints::default(),
            sample: Sample::new(settings.sample_size),
            manifest: Vec::new(),
            sources: Vec::new(),
            segments: Vec::new(),
            duplicates_cache: std::sync::OnceLock::new(),
            role_overrides: BTreeMap::new(),
        }
    }

    pub fn column(&self, name: &str) -> Option<&ColumnProfile> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The rows each sample row stands for (its label's rows over the label's sample rows), in
    /// `Sample::rows` order.
    pub fn sample_weights(&self) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.sample.len());
        for (label, rows) in &self.sample.strata {
            let total = if self.label.is_some() {
                self.label_counts.get(label).copied().unwrap_or(0) as f64
            } else {
                self.rows as f64
            };
            let w = total / rows.len().max(1) as f64;
            out.extend(std::iter::repeat_n(w, rows.len()));
        }
        out
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
        if let Some(&r) = self.role_overrides.get(&c.name) {
            return r;
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

    /// Duplicate statistics of the fingerprints (computed once, then cached).
    pub fn duplicates(&self) -> Duplicates {
        self.duplicates_cache
            .get_or_init(|| self.fingerprints.duplicates())
            .clone()
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
            // Batches held in memory have no content hash: their sources are told apart by
            // name, and a part's sources must not be in another part (no source is split).
            if m.blake3.is_empty() {
                if self.manifest.iter().any(|e| e.path == m.path) {
                    return mismatch(format!(
                        "the source `{}` is in both profiles: parts must hold disjoint sources",
                        m.path
                    ));
                }
                continue;
            }
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
        self.duplicates_cache = std::sync::OnceLock::new();
        self.rows += other.rows;
        for (a, b) in self.columns.iter_mut().zip(&other.columns) {
            if a.column_type != b.column_type {
                a.column_type = ColumnType::Float;
            }
            a.merge_offset(b, offset);
        }
        for (l, c) in &other.label_counts {
            *self.label_counts.entry(l.clone()).or_default() += c;
        }
        // The other profile's segments follow ours; fingerprints are re-pointed to them.
        let seg_offset = self.segments.len();
        let remap = |seg: u16| -> u16 {
            let s = seg_offset + seg as usize;
            if seg == UNKNOWN_SEGMENT || s >= UNKNOWN_SEGMENT as usize {
                UNKNOWN_SEGMENT
            } else {
                s as u16
            }
        };
        for s in &other.segments {
            if self.segments.len() >= UNKNOWN_SEGMENT as usize {
                break;
            }
            self.segments.push(Segment {
                source: s.source + offset,
                row_group: s.row_group,
            });
        }
        self.fingerprints.rows.extend(
            other
                .fingerprints
                .rows
                .iter()
                .map(|&f| (f & !u128::from(u16::MAX)) | u128::from(remap(segment_of(f)))),
        );
        self.fingerprints.sort();
        self.sample.merge(&other.sample, offset);
        self.manifest.extend(other.manifest.iter().cloned());
        self.sources.extend(other.sources.iter().cloned());
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
}

enum Task<'a> {
    Shard(&'a Shard),
    FileHash(usize),
}

enum TaskResult {
    Shard(Box<ShardResult>),
    FileHash(usize, String, Vec<RowGroupEntry>),
}

/// A file's hash and its row groups' hashes.
type FileHashes = (String, Vec<RowGroupEntry>);

struct Fold {
    profile: Profile,
    /// Per source: the file's hash and its row groups' hashes.
    file_hashes: Vec<FileHashes>,
    source_rows: Vec<u64>,
    /// The source whose shards are being folded, with their merged columns. A source's shards
    /// come together in plan order, so one is open at a time.
    open: Option<(usize, Profile)>,
    summaries: Vec<SourceSummary>,
}

impl Fold {
    fn shard(&mut self, r: ShardResult) {
        self.source_rows[r.source] += r.rows;
        if self.open.as_ref().map(|o| o.0) != Some(r.source) {
            self.close();
        }
        let mut part = r.profile;
        // Fingerprints and the sample go straight to the whole profile (in plan order); the
        // shard's fingerprints already point to their segment.
        self.profile
            .fingerprints
            .rows
            .append(&mut part.fingerprints.rows);
        let sample = std::mem::replace(&mut part.sample, Sample::new(0));
        self.profile.sample.merge_owned(sample);
        match &mut self.open {
            Some((_, acc)) => merge_columns(acc, part),
            None => self.open = Some((r.source, part)),
        }
    }

    /// The whole profile (its manifest still to be written), the file hashes and the rows per
    /// source.
    fn finish(mut self) -> (Profile, Vec<FileHashes>, Vec<u64>) {
        self.close();
        let Fold {
            mut profile,
            file_hashes,
            source_rows,
            summaries,
            ..
        } = self;
        // Files without rows still get a summary of the right shape.
        profile.sources = summaries
            .into_iter()
            .map(|mut s| {
                if s.columns.is_empty() {
                    s.columns = vec![SourceColumn::default(); profile.columns.len()];
                }
                s
            })
            .collect();
        profile.fingerprints.sort();
        (profile, file_hashes, source_rows)
    }

    /// Summarise the open source and merge it into the whole profile.
    fn close(&mut self) {
        if let Some((s, part)) = self.open.take() {
            self.summaries[s] = SourceSummary::of(part.rows, &part.label_counts, &part.columns);
            merge_columns(&mut self.profile, part);
        }
    }
}

/// Run `tasks` on the current pool's thread count and fold their results strictly in task
/// order, so the result does not depend on the thread count or on timing. Workers take tasks in
/// order; a finished result waits in a reorder buffer until every earlier one is folded, and
/// whichever worker finds the next result ready folds it while the others keep working. A
/// worker does not start a new task while `2 × threads` results wait, which bounds memory.
/// On failure the error of the earliest failing task is returned.
pub(crate) fn run_ordered<T: Sync, R: Send>(
    tasks: &[T],
    work: impl Fn(&T) -> Result<R> + Sync,
    fold: impl FnMut(R) + Send,
) -> Result<()> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Condvar, Mutex};
    struct Queue<R> {
        ready: BTreeMap<usize, Result<R>>,
        next_fold: usize,
        error: Option<Error>,
    }
    fn lock<Q>(m: &Mutex<Q>) -> std::sync::MutexGuard<'_, Q> {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }
    let threads = rayon::current_num_threads().max(1);
    let window = 2 * threads;
    let next_task = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let queue = Mutex::new(Queue {
        ready: BTreeMap::new(),
        next_fold: 0,
        error: None,
    });
    let space = Condvar::new();
    let folder = Mutex::new(fold);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    {
                        let mut q = lock(&queue);
                        while q.ready.len() >= window && !failed.load(Ordering::Relaxed) {
                            q = space.wait(q).unwrap_or_else(|e| e.into_inner());
                        }
                    }
                    if failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let i = next_task.fetch_add(1, Ordering::Relaxed);
                    if i >= tasks.len() {
                        break;
                    }
                    let r = work(&tasks[i]);
                    lock(&queue).ready.insert(i, r);
                    // Fold whatever is ready in order; if another worker is folding, it will
                    // see our result when it looks again.
                    while let Ok(mut f) = folder.try_lock() {
                        loop {
                            let item = {
                                let mut q = lock(&queue);
                                let n = q.next_fold;
                                let item = q.ready.remove(&n);
                                if item.is_some() {
                                    q.next_fold += 1;
                                    space.notify_all();
                                }
                                item
                            };
                            match item {
                                Some(Ok(r)) => (*f)(r),
                                Some(Err(e)) => {
                                    let mut q = lock(&queue);
                                    q.error.get_or_insert(e);
                                    failed.store(true, Ordering::Relaxed);
                                    space.notify_all();
                                    break;
                                }
                                None => break,
                            }
                        }
                        drop(f);
                        // A result may have arrived after we looked and before we let go.
                        let q = lock(&queue);
                        if failed.load(Ordering::Relaxed) || !q.ready.contains_key(&q.next_fold) {
                            break;
                        }
                    }
                }
            });
        }
    });
    let q = queue.into_inner().unwrap_or_else(|e| e.into_inner());
    if let Some(e) = q.error {
        return Err(e);
    }
    if q.next_fold != tasks.len() {
        return Err(Error::Internal(format!(
            "{} of {} profiling tasks were folded",
            q.next_fold,
            tasks.len()
        )));
    }
    Ok(())
}

/// Profile a dataset. `on_shard` is called after each shard (for progress).
pub fn profile_dataset(
    ds: &Dataset,
    settings: &ProfileSettings,
    on_shard: &(dyn Fn(u64) + Sync),
) -> Result<Profile> {
    let schema = crate::ingest::column_types(&ds.schema);
    check_columns(&schema, settings)?;
    // Each file's hash task comes right before its shards, so hashing overlaps with profiling.
    let mut tasks: Vec<Task<'_>> = Vec::with_capacity(ds.shards.len() + ds.sources.len());
    for (i, _) in ds.sources.iter().enumerate() {
        tasks.push(Task::FileHash(i));
        tasks.extend(ds.shards.iter().filter(|s| s.source == i).map(Task::Shard));
    }
    let mut profile = Profile::empty(&schema, settings, &ds.partition_columns);
    if let Some(rows) = ds.expected_rows() {
        profile.fingerprints.rows.reserve_exact(rows as usize);
    }
    // One segment per Parquet row group or CSV file, in plan order.
    let mut seg_ids: BTreeMap<(usize, Option<usize>), u16> = BTreeMap::new();
    for (i, src) in ds.sources.iter().enumerate() {
        let groups: Vec<Option<usize>> = match &src.parquet {
            Some(p) => (0..p.row_group_rows.len()).map(Some).collect(),
            None => vec![None],
        };
        for g in groups {
            if profile.segments.len() >= UNKNOWN_SEGMENT as usize {
                break;
            }
            seg_ids.insert((i, g), profile.segments.len() as u16);
            profile.segments.push(Segment {
                source: i as u32,
                row_group: g.map(|g| g as u32),
            });
        }
    }
    let segment_for = |shard: &Shard| -> u16 {
        let group = match shard.kind {
            crate::ingest::ShardKind::RowGroup { index, .. } => Some(index),
            _ => None,
        };
        seg_ids
            .get(&(shard.source, group))
            .copied()
            .unwrap_or(UNKNOWN_SEGMENT)
    };
    let mut fold = Fold {
        profile,
        file_hashes: vec![(String::new(), Vec::new()); ds.sources.len()],
        source_rows: vec![0u64; ds.sources.len()],
        open: None,
        summaries: vec![SourceSummary::default(); ds.sources.len()],
    };
    let bounds = label_bounds(ds, settings)?;
    run_ordered(
        &tasks,
        |t| match t {
            Task::Shard(s) => {
                let r = profile_shard(ds, s, &schema, settings, &bounds, segment_for(s))?;
                on_shard(r.rows);
                Ok(TaskResult::Shard(Box::new(r)))
            }
            Task::FileHash(i) => {
                let (file, groups) = hash_source(&ds.sources[*i])?;
                Ok(TaskResult::FileHash(*i, file, groups))
            }
        },
        |r| match r {
            TaskResult::Shard(r) => fold.shard(*r),
            TaskResult::FileHash(i, h, groups) => fold.file_hashes[i] = (h, groups),
        },
    )?;
    let (mut profile, file_hashes, source_rows) = fold.finish();
    profile.manifest = ds
        .sources
        .iter()
        .enumerate()
        .map(|(i, s)| ManifestEntry {
            path: s.display(),
            format: s.format.name().to_string(),
            bytes: s.bytes,
            rows: source_rows[i],
            blake3: file_hashes[i].0.clone(),
            row_groups: file_hashes[i].1.clone(),
            partitions: s.partitions.clone(),
        })
        .collect();
    Ok(profile)
}

/// Profile batches a caller holds (see [`crate::ingest::BatchSource`]), in their order, on
/// the calling thread. Each run of batches of one source and row group is profiled like a shard
/// of a file with the same provenance, so the same rows give the same statistics whether they
/// come from the file or from memory. Sources have no content hash in the manifest (INT001 and
/// INT002's byte comparisons need files; the row-level replay test still works).
pub fn profile_batches(
    data: &crate::ingest::Conformed<'_>,
    settings: &ProfileSettings,
) -> Result<Profile> {
    let schema = crate::ingest::column_types(&data.schema);
    check_columns(&schema, settings)?;
    let sources = data.names.len();
    let mut fold = Fold {
        profile: Profile::empty(&schema, settings, &[]),
        file_hashes: vec![(String::new(), Vec::new()); sources],
        source_rows: vec![0u64; sources],
        open: None,
        summaries: vec![SourceSummary::default(); sources],
    };
    let bounds = SharedBounds::default();
    let source_hashes: Vec<u64> = data
        .names
        .iter()
        .map(|n| hash_str(&crate::ingest::row_key_name(std::path::Path::new(n))))
        .collect();
    let mut segments: BTreeMap<(usize, u32), u16> = BTreeMap::new();
    crate::ingest::for_each_run(data.batches()?, |start, run| {
        let next_id = fold.profile.segments.len();
        let segment = *segments
            .entry((start.source, start.row_group))
            .or_insert_with(|| {
                if next_id < UNKNOWN_SEGMENT as usize {
                    fold.profile.segments.push(Segment {
                        source: start.source as u32,
                        row_group: Some(start.row_group),
                    });
                    next_id as u16
                } else {
                    UNKNOWN_SEGMENT
                }
            });
        let part = Part {
            source: start.source,
            source_hash: source_hashes[start.source],
            first_row: start.first_row,
            segment,
        };
        let r = profile_part(run, &part, &schema, settings, &[], &bounds)?;
        fold.shard(r);
        Ok(())
    })?;
    let (mut profile, _, source_rows) = fold.finish();
    profile.manifest = data
        .names
        .iter()
        .enumerate()
        .map(|(i, name)| ManifestEntry {
            path: name.clone(),
            format: "arrow".to_string(),
            bytes: 0,
            rows: source_rows[i],
            blake3: String::new(),
            row_groups: Vec::new(),
            partitions: Vec::new(),
        })
        .collect();
    Ok(profile)
}

/// The label and id columns must be in the data.
fn check_columns(schema: &[(String, ColumnType)], settings: &ProfileSettings) -> Result<()> {
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
    Ok(())
}

/// A pre-pass over the label column of the Parquet files (a small fraction of the decode work)
/// that finds, per class, the key of the last row the sample will keep. The main pass then
/// copies only rows that make the sample instead of every row that might. Rows of CSV files
/// are not seen here; the bounds stay valid (a subset's k-th smallest key is an upper bound)
/// and the main pass tightens them as it goes.
fn label_bounds(ds: &Dataset, settings: &ProfileSettings) -> Result<SharedBounds> {
    let bounds = SharedBounds::default();
    let cap = settings.sample_size;
    if cap == 0 {
        return Ok(bounds);
    }
    let label = settings.label.as_deref();
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
                    let (ids, names) = label_ids(l, Some(a.as_ref()), a.len())?;
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

/// Merge a partial profile's rows, columns and label counts (not its fingerprints or sample).
fn merge_columns(into: &mut Profile, part: Profile) {
    into.rows += part.rows;
    for (a, b) in into.columns.iter_mut().zip(&part.columns) {
        a.merge(b);
    }
    for (l, c) in part.label_counts {
        *into.label_counts.entry(l).or_default() += c;
    }
}

/// BLAKE3 of the whole file and of each Parquet row group's byte range, in one pass through
/// read-only memory maps of 64 MiB windows: the pages come straight from the page cache the
/// decoder fills (no copy through a read buffer: 0.2–0.3 s less system time at 10M rows), and
/// each window is unmapped once hashed, so at most one window of the file is mapped.
fn hash_source(source: &crate::ingest::Source) -> Result<(String, Vec<RowGroupEntry>)> {
    const WINDOW: u64 = 64 << 20;
    const BLOCK: usize = 1 << 20;
    let path = &source.path;
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    let ranges: Vec<(u64, u64)> = source
        .parquet
        .as_ref()
        .map(|p| p.row_group_ranges.clone())
        .unwrap_or_default();
    let mut file = blake3::Hasher::new();
    let mut groups: Vec<blake3::Hasher> = ranges.iter().map(|_| blake3::Hasher::new()).collect();
    let mut at = 0u64;
    while at < len {
        let window_len = WINDOW.min(len - at);
        // SAFETY: a read-only, private map of a file opened for reading, dropped before the
        // next one. Like every tool that maps its inputs, a file truncated by another process
        // while it is hashed ends the run with SIGBUS (the README asks not to scan files that
        // are still being written).
        let window = unsafe {
            memmap2::MmapOptions::new()
                .offset(at)
                .len(window_len as usize)
                .map(&f)
        }
        .map_err(|e| Error::io(path, e))?;
        // A megabyte at a time, so the file and row-group hashers read it while it is in cache.
        for (k, chunk) in window.chunks(BLOCK).enumerate() {
            let pos = at + (k * BLOCK) as u64;
            let hi = pos + chunk.len() as u64;
            file.update(chunk);
            for (g, &(start, end)) in groups.iter_mut().zip(&ranges) {
                let (a, b) = (start.max(pos), end.min(hi));
                if a < b {
                    g.update(&chunk[(a - pos) as usize..(b - pos) as usize]);
                }
            }
        }
        at += window_len;
    }
    if ranges.iter().any(|&(_, end)| end > len) {
        return Err(Error::BadParquet {
            path: path.clone(),
            reason: format!("a row group ends past the end of the file ({len} bytes)"),
        });
    }
    let rows = source
        .parquet
        .as_ref()
        .map(|p| p.row_group_rows.clone())
        .unwrap_or_default();
    let entries = groups
        .into_iter()
        .enumerate()
        .map(|(i, g)| RowGroupEntry {
            index: i as u32,
            rows: rows[i],
            blake3: g.finalize().to_hex().to_string(),
        })
        .collect();
    Ok((file.finalize().to_hex().to_string(), entries))
}

/// The label key of each row of a batch, as indices into a batch-local list of names.
#[inline(never)]
fn label_ids(label: &str, array: Option<&dyn Array>, n: usize) -> Result<(Vec<u32>, Vec<String>)> {
    let Some(a) = array else {
        return Ok((vec![0; n], vec![String::new()]));
    };
    let text = |i: usize| label_text(a, i);
    match a.data_type() {
        DataType::Int64 => {
            let v = a.as_primitive::<Int64Type>();
            intern(label, n, |i| v.is_valid(i).then(|| v.value(i)), text)
        }
        DataType::Timestamp(..) => {
            let v = a.as_primitive::<TimestampMicrosecondType>();
            intern(label, n, |i| v.is_valid(i).then(|| v.value(i)), text)
        }
        DataType::Float64 => {
            let v = a.as_primitive::<Float64Type>();
            intern(
                label,
                n,
                |i| v.is_valid(i).then(|| column::numeric_key(v.value(i))),
                text,
            )
        }
        DataType::Utf8 => {
            let v = a.as_string::<i32>();
            intern(label, n, |i| v.is_valid(i).then(|| v.value(i)), text)
        }
        DataType::Boolean => {
            let v = a.as_boolean();
            intern(label, n, |i| v.is_valid(i).then(|| v.value(i)), text)
        }
        _ => Ok((vec![0; n], vec![NULL_LABEL.to_string()])),
    }
}

/// Give each distinct key an index in order of first appearance. Label sets are small (at most
/// `MAX_CLASSES`, checked here), so a scan of the keys seen so far, starting from the last hit,
/// beats hashing.
fn intern<K: PartialEq + Copy>(
    label: &str,
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
                return Err(too_many_classes(label));
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

fn too_many_classes(label: &str) -> Error {
    Error::Usage(format!(
        "the label column `{label}` has more than {MAX_CLASSES} distinct values; poisonscan checks classification labels\nhint: give a class column with --label, or none"
    ))
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

/// For each column, its position among the feature columns that row fingerprints cover (all
/// but the label, the id and partition columns), or `None`.
pub fn feature_positions(
    schema: &[(String, ColumnType)],
    settings: &ProfileSettings,
    partition_columns: &[String],
) -> Vec<Option<usize>> {
    let mut k = 0;
    schema
        .iter()
        .map(|(n, _)| {
            let feature = settings.label.as_deref() != Some(n.as_str())
                && settings.id.as_deref() != Some(n.as_str())
                && !partition_columns.contains(n);
            feature.then(|| {
                k += 1;
                k - 1
            })
        })
        .collect()
}

fn profile_shard(
    ds: &Dataset,
    shard: &Shard,
    schema: &[(String, ColumnType)],
    settings: &ProfileSettings,
    bounds: &SharedBounds,
    segment: u16,
) -> Result<ShardResult> {
    let part = Part {
        source: shard.source,
        source_hash: hash_str(&ds.sources[shard.source].row_key_name()),
        first_row: shard.first_row,
        segment,
    };
    profile_part(
        ds.read_shard(shard)?,
        &part,
        schema,
        settings,
        &ds.partition_columns,
        bounds,
    )
}

/// Where a run of batches (a shard, or a source's batches from a stream) comes from.
struct Part {
    source: usize,
    /// `hash_str` of the source's row key name: rows are keyed by (source, row in source).
    source_hash: u64,
    /// Row index within the source of the part's first row.
    first_row: u64,
    segment: u16,
}

/// Profile one part: its batches, in order.
fn profile_part(
    batches: impl Iterator<Item = Result<Batch>>,
    part: &Part,
    schema: &[(String, ColumnType)],
    settings: &ProfileSettings,
    partition_columns: &[String],
    bounds: &SharedBounds,
) -> Result<ShardResult> {
    let (source_hash, segment) = (part.source_hash, part.segment);
    let mut p = Profile::empty(schema, settings, partition_columns);
    // Each shard's sketches get their own seed, derived from the run seed and the shard.
    let shard_seed = mix(mix(settings.seed, source_hash), part.first_row);
    for (i, c) in p.columns.iter_mut().enumerate() {
        if let Some(n) = c.numeric.as_mut() {
            n.quantiles = kll::Kll::new(kll::DEFAULT_K, mix(shard_seed, i as u64));
        }
    }
    let label_idx = settings
        .label
        .as_ref()
        .and_then(|l| schema.iter().position(|(n, _)| n == l));
    let feature_position = feature_positions(schema, settings, partition_columns);
    let mut hashes: Vec<u64> = Vec::new();
    let mut rows_hash = RowHasher::new();
    let mut rows = 0u64;
    for batch in batches {
        let batch = batch?;
        let b = &batch.batch;
        let n = b.num_rows();
        let (ids, names) = label_ids(
            settings.label.as_deref().unwrap_or_default(),
            label_idx.map(|i| b.column(i).as_ref()),
            n,
        )?;
        for (id, name) in names.iter().enumerate() {
            let count = ids.iter().filter(|&&x| x as usize == id).count() as u64;
            *p.label_counts.entry(name.clone()).or_default() += count;
        }
        if p.label_counts.len() > MAX_CLASSES && label_idx.is_some() {
            return Err(too_many_classes(
                settings.label.as_deref().unwrap_or_default(),
            ));
        }
        // Row keys: a seeded hash of (file, row in file), independent of how files are split.
        let keys: Vec<u64> = (0..n as u64)
            .map(|i| mix(mix(settings.seed, source_hash), batch.first_row + i))
            .collect();
        // Sampling levels follow the row's index in its file, so they do not depend on the shard plan.
        let local0 = batch.first_row;
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
            source: part.source as u32,
            first_row: batch.first_row,
        };
        rows_hash.reset(n);
        for (ci, c) in p.columns.iter_mut().enumerate() {
            let a = b.column(ci).as_ref();
            column::value_hashes(a, &mut hashes);
            column::update(c, a, &ctx, &hashes);
            if let Some(k) = feature_position[ci] {
                rows_hash.add_column(k, &hashes);
            }
        }
        let label_hashes: Vec<u32> = names.iter().map(|s| label_hash(s)).collect();
        p.fingerprints.rows.extend(
            rows_hash
                .finish()
                .zip(&ids)
                .map(|(h, &id)| fingerprint(h, label_hashes[id as usize], segment)),
        );
        p.sample.offer_batch(
            b,
            &keys,
            &ids,
            &names,
            part.source as u32,
            batch.first_row,
            bounds,
        );
        rows += n as u64;
    }
    p.rows = rows;
    Ok(ShardResult {
        profile: p,
        source: part.source,
        rows,
    })
}

/// The feature hash of row fingerprints, built a column at a time from the columns'
/// `column::value_hashes` (which the distinct-count sketches and text maps use too, so each value
/// is hashed once). Two 64-bit lanes take a multilinear combination of the value hashes: for the
/// feature column at position `k` (schema order, label, id and partition columns left out),
/// `a += h·A_k` and `b += rotl(h, 32)·B_k` with fixed odd multipliers; a row's 128-bit hash is the
/// Murmur3 finaliser of both lanes. The value hash is a bijection of a number's canonical key, so
/// rows that differ in one numeric column never share lane `a`; rows that differ in several
/// collide with probability about 2⁻⁶⁴ per lane. Rows with no feature columns all hash alike.
pub struct RowHasher {
    lanes: Vec<(u64, u64)>,
}

impl RowHasher {
    const SEED: (u64, u64) = (0x7073_6361_6e2d_726f, 0x772d_6861_7368_2d31);

    pub fn new() -> RowHasher {
        RowHasher { lanes: Vec::new() }
    }

    /// Start a batch of `n` rows.
    pub fn reset(&mut self, n: usize) {
        self.lanes.clear();
        self.lanes.resize(n, Self::SEED);
    }

    fn multipliers(position: usize) -> (u64, u64) {
        let k = position as u64;
        (
            hll::fmix64(0x1000_0000 + k) | 1,
            hll::fmix64(0x2000_0000 + k) | 1,
        )
    }

    /// Fold in the value hashes of the feature column at `position`.
    #[inline(never)]
    pub fn add_column(&mut self, position: usize, hashes: &[u64]) {
        let (ka, kb) = Self::multipliers(position);
        for (l, &h) in self.lanes.iter_mut().zip(hashes) {
            l.0 = l.0.wrapping_add(h.wrapping_mul(ka));
            l.1 = l.1.wrapping_add(h.rotate_left(32).wrapping_mul(kb));
        }
    }

    /// The 128-bit feature hash of each row of the batch.
    pub fn finish(&self) -> impl Iterator<Item = u128> + '_ {
        self.lanes.iter().map(|&(a, b)| {
            let hi = hll::fmix64(a ^ hll::fmix64(b ^ 0x5bd1_e995));
            let lo = hll::fmix64(b.wrapping_add(a.rotate_left(29)));
            (u128::from(hi) << 64) | u128::from(lo)
        })
    }
}

impl Default for RowHasher {
    fn default() -> Self {
        RowHasher::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_stats_by_hand() {
        let mut f = Fingerprints {
            rows: [
                (1, 7),
                (1, 7),
                (1, 7),
                (2, 7),
                (2, 8),
                (3, 1),
                (4, 1),
                (4, 1),
            ]
            .iter()
            .map(|&(f, l): &(u128, u32)| fingerprint(f << 48, l, 3))
            .collect(),
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
    fn row_hashes_follow_values_and_positions() {
        use arrow::array::{Float64Array, Int64Array, StringArray};
        let ints = Int64Array::from(vec![Some(3), Some(0), None, Some(7)]);
        let floats = Float64Array::from(vec![Some(3.0), Some(-0.0), None, Some(7.5)]);
        let text = StringArray::from(vec![Some("a"), Some(""), None, Some("b")]);
        let mut hi = Vec::new();
        let mut hf = Vec::new();
        let mut ht = Vec::new();
        column::value_hashes(&ints, &mut hi);
        column::value_hashes(&floats, &mut hf);
        column::value_hashes(&text, &mut ht);
        // Equal numbers hash alike across types (and -0 like 0); nulls alike across types.
        assert_eq!(&hi[..3], &hf[..3]);
        assert_ne!(hi[3], hf[3]);
        assert_eq!(ht[2], column::NULL_HASH);
        // A null is neither 0 nor the empty string.
        assert_ne!(hi[1], hi[2]);
        assert_ne!(ht[1], ht[2]);
        let rows = |cols: &[&[u64]]| -> Vec<u128> {
            let mut h = RowHasher::new();
            h.reset(cols[0].len());
            for (k, c) in cols.iter().enumerate() {
                h.add_column(k, c);
            }
            h.finish().collect()
        };
        let ab = rows(&[&hi, &ht]);
        let ba = rows(&[&ht, &hi]);
        let same = rows(&[&hf, &ht]);
        // Rows 0-2 have equal values in both tables; row 3 differs in one column.
        assert_eq!(&ab[..3], &same[..3]);
        assert_ne!(ab[3], same[3]);
        // The same values in other columns make another row (row 2 is null in both columns).
        for r in [0, 1, 3] {
            assert_ne!(ab[r], ba[r]);
        }
        assert_eq!(ab[2], ba[2]);
        // Every row of a table differs from the others.
        let mut u = ab.clone();
        u.sort_unstable();
        u.dedup();
        assert_eq!(u.len(), 4);
    }

    #[test]
    fn bucket_sort_matches_std_sort() {
        let mut v: Vec<u128> = (0..200_000u64)
            .map(|i| ((mix(i, 1) as u128) << 64) | mix(i, 2) as u128)
            .collect();
        let mut w = v.clone();
        w.sort_unstable();
        sort_fingerprints(&mut v);
        assert_eq!(v, w);
        // Skewed: one top byte, a few second bytes, many exact duplicates.
        let mut v: Vec<u128> = (0..100_000u64)
            .map(|i| (0xabu128 << 120) | (u128::from(i % 3) << 112) | u128::from(mix(i % 977, 5)))
            .collect();
        let mut w = v.clone();
        w.sort_unstable();
        sort_fingerprints(&mut v);
        assert_eq!(v, w);
    }
}
