//! The profiling pass: every shard (or run of in-memory batches) is profiled into a partial
//! profile, batch by batch, and the partials are folded in plan order into the whole profile,
//! its per-source summaries and its manifest.

use std::collections::BTreeMap;

use super::file_hash::{hash_source, remote_hashes};
use super::fingerprint::{RowHasher, fingerprint, label_hash};
use super::label::{label_bounds, label_ids, too_many_classes};
use super::ordered::run_ordered;
use super::{
    MAX_CLASSES, ManifestEntry, Profile, ProfileSettings, RowGroupEntry, Sample, Segment,
    SharedBounds, SourceColumn, SourceSummary, UNKNOWN_SEGMENT, column, hash_str, kll, mix,
};
use crate::error::{Error, Result};
use crate::ingest::{Batch, ColumnType, Dataset, Shard};

/// What one shard contributes.
pub(super) struct ShardResult {
    pub(super) profile: Profile,
    pub(super) source: usize,
    pub(super) rows: u64,
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

pub(super) struct Fold {
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
    /// A fold into `profile` (empty, its segments planned) of the parts of `sources` sources.
    pub(super) fn new(profile: Profile, sources: usize) -> Fold {
        Fold {
            profile,
            file_hashes: vec![(String::new(), Vec::new()); sources],
            source_rows: vec![0u64; sources],
            open: None,
            summaries: vec![SourceSummary::default(); sources],
        }
    }

    /// Fold the next part, in plan order. The merged sample's bounds are published to
    /// `bounds`, so parts still being profiled copy fewer rows.
    pub(super) fn shard(&mut self, r: ShardResult, bounds: &SharedBounds) {
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
        self.profile.sample.publish_bounds(bounds);
        match &mut self.open {
            Some((_, acc)) => merge_columns(acc, part),
            None => self.open = Some((r.source, part)),
        }
    }

    /// The whole profile (its manifest still to be written), the file hashes and the rows per
    /// source.
    pub(super) fn finish(mut self) -> (Profile, Vec<FileHashes>, Vec<u64>) {
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
    profile.left_out = ds.left_out.clone();
    if let Some(rows) = ds.expected_rows() {
        // The footers' row counts are data: a reservation that cannot be had is not made (the
        // fingerprints then grow as rows come), rather than aborting the process.
        let _ = crate::oom::fallible(|| profile.fingerprints.rows.try_reserve_exact(rows as usize));
    }
    let seg_ids = plan_segments(ds, &mut profile.segments);
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
    let mut fold = Fold::new(profile, ds.sources.len());
    let bounds = label_bounds(ds, settings)?;
    run_ordered(
        &tasks,
        |t| match t {
            Task::Shard(s) => {
                let r = profile_shard(ds, s, &schema, settings, &bounds, segment_for(s))?;
                on_shard(r.rows);
                Ok(TaskResult::Shard(Box::new(r)))
            }
            // An object in storage is hashed as its shards fetch it (below).
            Task::FileHash(i) if ds.sources[*i].remote.is_some() => {
                Ok(TaskResult::FileHash(*i, String::new(), Vec::new()))
            }
            Task::FileHash(i) => {
                let (file, groups) = hash_source(&ds.sources[*i])?;
                Ok(TaskResult::FileHash(*i, file, groups))
            }
        },
        |r| match r {
            TaskResult::Shard(r) => fold.shard(*r, &bounds),
            TaskResult::FileHash(i, h, groups) => fold.file_hashes[i] = (h, groups),
        },
    )?;
    let (mut profile, mut file_hashes, source_rows) = fold.finish();
    // Objects in storage were hashed as their shards fetched them: finished now.
    for (i, s) in ds.sources.iter().enumerate() {
        if let Some(hashes) = remote_hashes(s)? {
            file_hashes[i] = hashes;
        }
    }
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
            e_tag: s.remote.as_ref().and_then(|o| o.e_tag.clone()),
            version: s.remote.as_ref().and_then(|o| o.version.clone()),
        })
        .collect();
    super::label::check_classes(&profile)?;
    Ok(profile)
}

/// Profile batches a caller holds (see [`crate::ingest::BatchSource`]), parts in parallel,
/// folded in order. Each run of batches of one source and row group is split and profiled as a
/// file's row group of the same rows is (`Conformed::parts`), so the same rows with the same
/// provenance give the same profile from memory as from the file. Sources have no content hash
/// in the manifest (INT001 and INT002's byte comparisons need files; the row-level replay test
/// still works).
pub fn profile_batches(
    data: &crate::ingest::Conformed<'_>,
    settings: &ProfileSettings,
) -> Result<Profile> {
    let schema = crate::ingest::column_types(&data.schema);
    check_columns(&schema, settings)?;
    let sources = data.names.len();
    let mut empty = Profile::empty(&schema, settings, &[]);
    empty.left_out = data.left_out.clone();
    let mut fold = Fold::new(empty, sources);
    let bounds = SharedBounds::default();
    let source_hashes: Vec<u64> = data
        .names
        .iter()
        .map(|n| hash_str(&crate::ingest::row_key_name(std::path::Path::new(n))))
        .collect();
    // One segment per source and row group, in order of first appearance.
    let parts = data.parts()?;
    let mut segments: BTreeMap<(usize, u32), u16> = BTreeMap::new();
    let mut part_meta = Vec::with_capacity(parts.len());
    for p in &parts {
        let start = p.start;
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
        part_meta.push(Part {
            source: start.source,
            source_hash: source_hashes[start.source],
            first_row: start.first_row,
            segment,
        });
    }
    let tasks: Vec<(&crate::ingest::MemoryPart, &Part)> = parts.iter().zip(&part_meta).collect();
    run_ordered(
        &tasks,
        |(p, meta)| {
            profile_part(
                p.batches()?.into_iter().map(Ok),
                meta,
                &schema,
                settings,
                &[],
                &bounds,
            )
        },
        |r| fold.shard(r, &bounds),
    )?;
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
            e_tag: None,
            version: None,
        })
        .collect();
    super::label::check_classes(&profile)?;
    Ok(profile)
}

/// One segment per Parquet row group or CSV file, in plan order (pushed to `segments`), and
/// the segment of each (source, row group); at most `UNKNOWN_SEGMENT` of them.
pub(super) fn plan_segments(
    ds: &Dataset,
    segments: &mut Vec<Segment>,
) -> BTreeMap<(usize, Option<usize>), u16> {
    let mut seg_ids = BTreeMap::new();
    for (i, src) in ds.sources.iter().enumerate() {
        let groups: Vec<Option<usize>> = match &src.parquet {
            Some(p) => (0..p.row_group_rows.len()).map(Some).collect(),
            None => vec![None],
        };
        for g in groups {
            if segments.len() >= UNKNOWN_SEGMENT as usize {
                break;
            }
            seg_ids.insert((i, g), segments.len() as u16);
            segments.push(Segment {
                source: i as u32,
                row_group: g.map(|g| g as u32),
            });
        }
    }
    seg_ids
}

/// The label and id columns must be in the data.
pub(super) fn check_columns(
    schema: &[(String, ColumnType)],
    settings: &ProfileSettings,
) -> Result<()> {
    for (flag, col) in [("--label", &settings.label), ("--id", &settings.id)] {
        if let Some(c) = col
            && !schema.iter().any(|(n, _)| n == c)
        {
            return Err(Error::UnknownColumn {
                flag: flag.to_string(),
                column: c.clone(),
                within: String::new(),
                available: schema.iter().map(|(n, _)| n.clone()).collect(),
            });
        }
    }
    Ok(())
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
pub(super) struct Part {
    pub(super) source: usize,
    /// `hash_str` of the source's row key name: rows are keyed by (source, row in source).
    pub(super) source_hash: u64,
    /// Row index within the source of the part's first row.
    pub(super) first_row: u64,
    pub(super) segment: u16,
}

/// Profile one part: its batches, in order.
pub(super) fn profile_part(
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
    let numeric_label = settings.label_type == Some(super::LabelType::Numeric);
    let mut hashes: Vec<u64> = Vec::new();
    let mut rows_hash = RowHasher::new();
    let mut rows = 0u64;
    for batch in batches {
        let batch = batch?;
        let b = &batch.batch;
        let n = b.num_rows();
        let (ids, names) = label_ids(
            settings.label.as_deref().unwrap_or_default(),
            numeric_label,
            label_idx.map(|i| b.column(i).as_ref()),
            n,
        )?;
        for (id, name) in names.iter().enumerate() {
            let count = ids.iter().filter(|&&x| x as usize == id).count() as u64;
            *p.label_counts.entry(name.clone()).or_default() += count;
        }
        if p.label_counts.len() > MAX_CLASSES && label_idx.is_some() {
            let numeric_type = label_idx.is_some_and(|i| {
                matches!(
                    schema[i].1,
                    crate::ingest::ColumnType::Int | crate::ingest::ColumnType::Float
                )
            });
            return Err(too_many_classes(
                settings.label.as_deref().unwrap_or_default(),
                numeric_type,
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
        // A numeric target's rows are keyed by whether it is null; their fingerprints carry
        // the value itself (identical features with different targets conflict, as classes do).
        let target = label_idx
            .filter(|_| numeric_label)
            .map(|i| b.column(i).as_ref());
        p.fingerprints
            .rows
            .extend(
                rows_hash
                    .finish()
                    .zip(&ids)
                    .enumerate()
                    .map(|(i, (h, &id))| {
                        // (Null and NaN targets share the null key's hash.)
                        let l = match target {
                            Some(a) if names[id as usize] != super::NULL_LABEL => {
                                label_hash(&super::label_text(a, i))
                            }
                            _ => label_hashes[id as usize],
                        };
                        fingerprint(h, l, segment)
                    }),
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
    // In the form a part sent as bytes is read back in, so that parts merge alike wherever
    // they were made (`Frequent::canonicalize`).
    for c in &mut p.columns {
        c.frequent.canonicalize()?;
    }
    Ok(ShardResult {
        profile: p,
        source: part.source,
        rows,
    })
}
