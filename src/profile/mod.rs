//! Profile (pass 1): every shard is profiled in parallel into a partial profile, and the partials
//! are merged in plan order, so the result does not depend on the thread count. A profile is
//! mergeable: `profile(A ∪ B) == merge(profile(A), profile(B))` exactly for counts, integer
//! moments, min/max, fingerprints, the sample and the manifest; float moments agree to rounding;
//! quantiles and distinct counts within their sketches' stated bounds.
//!
//! This module is the profile model (settings, manifest, roles, merge); the pass that builds a
//! profile, the row fingerprints, the label keys and the file hashes live in its submodules.

pub mod column;
mod file_hash;
mod fingerprint;
pub mod hll;
mod io;
pub mod kll;
mod label;
mod ordered;
mod pass;
pub mod plan;
mod sample;
pub mod signature;
mod sketch_serde;
pub mod source;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

pub use self::column::{ColumnProfile, FrequentValue, LengthStats, NumericStats};
pub use self::fingerprint::{
    Duplicates, Fingerprints, RowHasher, UNKNOWN_SEGMENT, features, fingerprint, label_hash,
    label_part, row_key, segment_of,
};
pub use self::io::{is_profile, is_profile_head, load, save, save_signed};
pub use self::label::label_text;
pub(crate) use self::ordered::run_ordered;
pub use self::pass::{feature_positions, profile_batches, profile_dataset};
pub use self::sample::{Sample, SampleRow, SampleValue, SharedBounds};
pub use self::source::{SourceColumn, SourceSummary};
use crate::error::{Error, Result};
use crate::ingest::ColumnType;

/// Version of the profile file format; bump on any incompatible change, including a change in
/// what the same data profiles to (a profile of another version is refused, not compared).
///
/// 10: a whole-number decimal is an integer column, integers past 2^53 key the row
/// fingerprints by their exact value, and zoned millisecond and second timestamps keep their
/// instant (format 9 read their counts as microseconds), so a format-9 baseline compared with
/// a scan of the same data would report a retyped column, drift and changed rows.
pub const PROFILE_SCHEMA_VERSION: u32 = 10;
/// Label key used for rows whose label is null.
pub const NULL_LABEL: &str = "<null>";
/// A label column with more classes than this is not a classification label.
pub const MAX_CLASSES: usize = 64;
/// The label key of every row with a numeric target (the profile keys a numeric target by
/// whether it is null; the label checks bin it on the baseline's quantiles).
pub const NUMERIC_LABEL: &str = "<value>";

/// What the label column holds: classes (at most `MAX_CLASSES` values), or a numeric target
/// (a regression label: a price, a demand, a score).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelType {
    #[default]
    Class,
    Numeric,
}

impl LabelType {
    pub fn name(self) -> &'static str {
        match self {
            LabelType::Class => "class",
            LabelType::Numeric => "numeric",
        }
    }
}

/// What a profile is computed with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProfileSettings {
    pub seed: u64,
    pub label: Option<String>,
    /// The label's type; `None`: decided from the data (auto: classes, unless a numeric
    /// column has more than `MAX_CLASSES` values).
    pub label_type: Option<LabelType>,
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
            label_type: None,
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
    /// An object's ETag, as its store reported it when it was listed (object storage only).
    pub e_tag: Option<String>,
    /// An object's version id, where its store keeps versions (object storage only).
    pub version: Option<String>,
}

/// One Parquet row group: its row count and the xxh3-128 hash of its bytes (the span of its
/// column chunks), in hex.
///
/// The hash only localises: it says which row group of a file changed, or which one replays a
/// baseline row group. It is not a security boundary (xxh3 is not collision resistant): what a
/// verdict on a file's content rests on is the file's BLAKE3 ([`ManifestEntry::blake3`]), and
/// a signed profile carries the trust in both.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RowGroupEntry {
    pub index: u32,
    pub rows: u64,
    pub xxh3: String,
}

/// A run of rows fingerprints point back to: a whole file, or one Parquet row group of it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Segment {
    /// Index into the manifest.
    pub source: u32,
    pub row_group: Option<u32>,
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

/// Which rows' fingerprints a profile holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub enum FingerprintScope {
    /// Every row's.
    #[default]
    All,
    /// Only the rows whose feature vector occurs more than once: in this profile, or, when
    /// `joined`, in this profile and the other side of the scan it was made for taken together.
    /// A cluster finds them (`poisonscan.spark` groups the fingerprints by feature hash), so
    /// that the driver holds the duplicated rows' fingerprints, not every row's. They give the
    /// same duplicate statistics, duplicate groups and replay counts as every row's:
    /// every row of a group of two or more is here, and `segment_rows` counts the rest.
    Repeated {
        /// Rows per segment (parallel to `Profile::segments`).
        segment_rows: Vec<u64>,
        /// The rows the other side shares are here too (made for one scan).
        joined: bool,
    },
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
    /// How the label is keyed: by class, or (numeric) by whether it is null.
    pub label_type: LabelType,
    pub id: Option<String>,
    pub rows: u64,
    pub columns: Vec<ColumnProfile>,
    pub partition_columns: Vec<String>,
    /// The input columns not profiled (excluded on request, or rejected), and why: with
    /// `columns`, every input column.
    pub left_out: Vec<crate::ingest::LeftOut>,
    pub label_counts: BTreeMap<String, u64>,
    /// Written apart from the rest of the profile, raw (see `io`).
    #[serde(skip)]
    pub fingerprints: Fingerprints,
    /// Which rows' fingerprints `fingerprints` holds.
    pub fingerprint_scope: FingerprintScope,
    pub sample: Sample,
    pub manifest: Vec<ManifestEntry>,
    /// Per source file (parallel to `manifest`): its summary.
    pub sources: Vec<SourceSummary>,
    /// The segments fingerprints point to (at most `UNKNOWN_SEGMENT` of them).
    pub segments: Vec<Segment>,
    /// `duplicates()`, computed once (several checks and the report need it).
    #[serde(skip)]
    duplicates_cache: std::sync::OnceLock<Duplicates>,
    /// The signature the profile file carried, verified against the key it names when the
    /// file was read (whether that key is trusted is the reader's question). Not part of the
    /// profile's own bytes: a trailer of the file (see `signature`).
    #[serde(skip)]
    pub(crate) signature: Option<signature::Signed>,
    /// Column roles set by the config file (`[roles]`), over the inferred ones. A scan setting,
    /// not saved with the profile.
    #[serde(skip)]
    pub role_overrides: BTreeMap<String, Role>,
}

/// How a profile's label or id setting reads on the command line: `--id customer_id`, or
/// `no --id`.
pub(crate) fn flag_value(flag: &str, value: &Option<String>) -> String {
    match value {
        Some(v) => format!("{flag} {v}"),
        None => format!("no {flag}"),
    }
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
            label_type: settings.label_type.unwrap_or_default(),
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
            left_out: Vec::new(),
            label_counts: BTreeMap::new(),
            fingerprints: Fingerprints::default(),
            fingerprint_scope: FingerprintScope::All,
            sample: Sample::new(settings.sample_size),
            manifest: Vec::new(),
            sources: Vec::new(),
            segments: Vec::new(),
            duplicates_cache: std::sync::OnceLock::new(),
            signature: None,
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
            .get_or_init(|| {
                let mut d = self.fingerprints.duplicates();
                // Of the rows left out, each is a group of one feature vector.
                if self.rows > 0 {
                    d.largest_feature_group = d.largest_feature_group.max(1);
                }
                d
            })
            .clone()
    }

    /// Rows per segment (parallel to `segments`).
    pub fn segment_rows(&self) -> Vec<u64> {
        if let FingerprintScope::Repeated { segment_rows, .. } = &self.fingerprint_scope {
            return segment_rows.clone();
        }
        let mut out = vec![0u64; self.segments.len()];
        for &f in &self.fingerprints.rows {
            if let Some(n) = out.get_mut(fingerprint::segment_of(f) as usize) {
                *n += 1;
            }
        }
        out
    }

    /// Check fingerprints kept apart against this profile (one with
    /// [`FingerprintScope::Repeated`]): `total` of them, `per_segment[i]` in segment `i`, must
    /// be this profile's rows, segment for segment: another dataset's (or a stale copy's) are
    /// refused instead of answering for these rows.
    pub fn check_fingerprint_counts(&self, total: u64, per_segment: &[u64]) -> Result<()> {
        let FingerprintScope::Repeated { segment_rows, .. } = &self.fingerprint_scope else {
            return Ok(());
        };
        let differ = |what: String| {
            Err(Error::Usage(format!(
                "the fingerprints given for the profile are not its rows': {what}\nhint: give the fingerprints_out= the profile was made with"
            )))
        };
        if total != self.rows {
            return differ(format!("{total} fingerprints for {} rows", self.rows));
        }
        for (i, &rows) in segment_rows.iter().enumerate() {
            let got = per_segment.get(i).copied().unwrap_or(0);
            if got != rows {
                return differ(format!("{got} fingerprints in segment {i} of {rows} rows"));
            }
        }
        Ok(())
    }

    /// This profile with `rows` as its fingerprints, of the rows whose feature vector occurs
    /// more than once (in it, or with `joined`, in it and the other side of a scan): a profile
    /// whose fingerprints were kept apart ([`FingerprintScope::Repeated`]).
    pub fn with_repeated(&self, mut rows: Vec<u128>, joined: bool) -> Result<Profile> {
        let FingerprintScope::Repeated { segment_rows, .. } = &self.fingerprint_scope else {
            return Err(Error::Internal(
                "the profile holds every row's fingerprints".into(),
            ));
        };
        let segments = self.segments.len();
        let mut per_segment = vec![0u64; segments];
        for &f in &rows {
            let s = fingerprint::segment_of(f);
            if s == UNKNOWN_SEGMENT {
                continue;
            }
            match per_segment.get_mut(s as usize) {
                Some(n) => *n += 1,
                None => {
                    return Err(Error::BadParts {
                        reason: format!(
                            "a fingerprint names segment {s}; the profile has {segments}"
                        ),
                    });
                }
            }
        }
        if rows.len() as u64 > self.rows || per_segment.iter().zip(segment_rows).any(|(a, b)| a > b)
        {
            return Err(Error::BadParts {
                reason: "there are more fingerprints than rows (were they counted twice?)".into(),
            });
        }
        let mut fingerprints = Fingerprints::default();
        std::mem::swap(&mut fingerprints.rows, &mut rows);
        fingerprints.sort();
        let mut p = self.clone();
        p.fingerprints = fingerprints;
        p.duplicates_cache = std::sync::OnceLock::new();
        p.fingerprint_scope = FingerprintScope::Repeated {
            segment_rows: segment_rows.clone(),
            joined,
        };
        Ok(p)
    }

    /// Merge another profile (of other files of the same dataset) into this one.
    /// The signature the profile's file carried, verified against the key it names when the
    /// file was read (`None` for a profile not read from a signed file).
    pub fn signature(&self) -> Option<&signature::Signed> {
        self.signature.as_ref()
    }

    pub fn merge(&mut self, other: &Profile) -> Result<()> {
        // The merged profile is a new one: nobody signed it.
        self.signature = None;
        let mismatch = |reason: String| Err(Error::ProfileMismatch { reason });
        if self.fingerprint_scope != FingerprintScope::All
            || other.fingerprint_scope != FingerprintScope::All
        {
            return mismatch(
                "one of them holds only its duplicated rows' fingerprints (made by poisonscan.spark with fingerprints=\"spark\"), and rows that repeat across them would be missed: profile the data together instead".to_string(),
            );
        }
        for (flag, a, b) in [
            ("--label", &self.label, &other.label),
            ("--id", &self.id, &other.id),
        ] {
            if a != b {
                return mismatch(format!(
                    "one was made with {} and the other with {}; profile both with the same {flag}",
                    flag_value(flag, a),
                    flag_value(flag, b)
                ));
            }
        }
        if self.label_type != other.label_type {
            return mismatch(format!(
                "the label `{}` is {} in one and {} in the other; profile both with the same --label-type",
                self.label.as_deref().unwrap_or_default(),
                self.label_type.name(),
                other.label_type.name()
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
        // A column left out of either part is listed once, with the first part's reason.
        for l in &other.left_out {
            if !self.left_out.iter().any(|m| m.column == l.column) {
                self.left_out.push(l.clone());
            }
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
