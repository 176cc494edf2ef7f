//! A scan's two passes computed in pieces on other machines (a Spark job's tasks) and folded on
//! one, with the profile a scan of the same files on one machine makes.
//!
//! The driver makes a [`TaskPlan`]: from the files' footers ([`TaskPlan::files`]: the shards,
//! segments, sketch seeds and source names `poisonscan scan` uses on the same files), or, for
//! data that is not a plain Parquet scan, one source per Spark partition
//! ([`TaskPlan::partitions`]). The plan travels to the tasks as bytes. Each task gives its Arrow
//! batches, with each row's source and row index, to a [`ShardCutter`], which hands back the
//! plan's shards as they fill; each shard is profiled ([`TaskPlan::profile_shard`]) into a
//! [`PartProfile`] keyed by (source, first row), or scored by the row models. The driver folds
//! the parts in plan order ([`TaskPlan::fold`]): a part missing, twice, or not the plan's is an
//! error, so a retried or speculative task can neither count rows twice nor drop them.
//!
//! Written here because the plan is poisonscan's own shard plan (`plan_shards`): no scheduler
//! is involved, Spark (or any caller) decides where the tasks run.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray, new_null_array};
use arrow::datatypes::{DataType, Field, Int32Type, Int64Type, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use super::pass::{Fold, Part, ShardResult, check_columns, plan_segments, profile_part};
use super::{
    FingerprintScope, ManifestEntry, Profile, ProfileSettings, RowGroupEntry, Segment,
    SharedBounds, UNKNOWN_SEGMENT, hash_str,
};
use crate::error::{Error, Result};
mod keys;
pub use self::keys::SampleKeys;

use crate::ingest::{
    BATCH_ROWS, Batch, ColumnType, Dataset, Format, IngestOptions, LeftOut, MemoryBatches,
    ShardKind, cast_column, input_type, select_columns, take_rows, unified_field,
};

const PLAN_MAGIC: &[u8; 20] = b"POISONSCAN PLAN\n\0\0\0\0";
const PART_MAGIC: &[u8; 20] = b"POISONSCAN PART\n\0\0\0\0";
const PART_MAGIC_KEYS: &[u8; 20] = b"POISONSCAN KEYS\n\0\0\0\0";
/// The version of the plan's and the parts' bytes; bump on any change of their fields.
pub const PLAN_VERSION: u32 = 3;
const HEADER: usize = 20 + 4 + 32;

/// The name of the column of a task's batches that holds each row's source (an index into
/// [`TaskPlan::sources`], Int32) when the plan reads files.
pub const SOURCE_COLUMN: &str = "__poisonscan_source";
/// The name of the column that holds each row's index within its file (Int64).
pub const ROW_COLUMN: &str = "__poisonscan_row";

/// What the tasks need to know to profile and score their rows as one machine would.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskPlan {
    /// The settings the parts are profiled with (the current side's reference ranges included).
    settings: ProfileSettings,
    shard_rows: u64,
    /// The dataset's columns after `columns`/`exclude`, partition columns last.
    fields: Vec<(String, ColumnType)>,
    partition_columns: Vec<String>,
    sources: Vec<PlanSource>,
    segments: Vec<Segment>,
    /// Every column of the files (before `columns`/`exclude`), partition columns included.
    file_columns: Vec<String>,
    /// The input columns `fields` leaves out, and why.
    left_out: Vec<LeftOut>,
    /// One source per Spark partition (rows keyed by partition and row within it), not files.
    by_partition: bool,
    /// Per label class, the key of the last row the sample keeps (the tasks' pre-pass,
    /// `keys`): parts copy only rows at or under it. Empty: no bound.
    sample_bounds: BTreeMap<String, u64>,
    /// The tasks give their rows' fingerprints apart from the parts (to be grouped by the
    /// cluster); the folded profile holds none of them until
    /// [`Profile::with_repeated`] gives it the duplicated rows'.
    fingerprints_apart: bool,
}

/// One source of the plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanSource {
    /// The name reports and provenance show (the manifest's path).
    pub name: String,
    /// The file to hash for the manifest, when the plan reads local files.
    path: Option<String>,
    row_key_hash: u64,
    format: String,
    bytes: u64,
    partitions: Vec<(String, Option<String>)>,
    /// Each row group's byte range and rows (Parquet).
    ranges: Vec<(u64, u64)>,
    row_groups: Vec<u64>,
    /// The file's shards in row order; by partition, none (rows are cut as they come).
    shards: Vec<PlanShard>,
    /// By partition: the segment of the partition's rows.
    segment: u16,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
struct PlanShard {
    row_group: u32,
    first_row: u64,
    rows: u64,
    segment: u16,
}

impl PlanSource {
    /// The local file the source is read from (a plan of files), as the driver opened it.
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }
}

impl TaskPlan {
    /// The plan of a scan of `ds` (Parquet files): its shards, as `poisonscan scan` plans them.
    /// Only Parquet has the row index a task needs to place each row: a CSV source is an error
    /// (scan such data by partition).
    pub fn files(ds: &Dataset, settings: &ProfileSettings, shard_rows: u64) -> Result<TaskPlan> {
        let fields = crate::ingest::column_types(&ds.schema);
        check_columns(&fields, settings)?;
        let mut segments = Vec::new();
        let seg_ids = plan_segments(ds, &mut segments);
        let mut sources: Vec<PlanSource> = Vec::with_capacity(ds.sources.len());
        for s in &ds.sources {
            let Some(p) = s.parquet.as_ref().filter(|_| s.format == Format::Parquet) else {
                return Err(Error::Usage(format!(
                    "`{}` is {}: Spark gives no row index for it, so its rows cannot be placed in the file\nhint: scan it with provenance=\"partition\"",
                    s.display(),
                    s.format.name()
                )));
            };
            sources.push(PlanSource {
                name: s.display(),
                path: Some(s.path.to_string_lossy().into_owned()),
                row_key_hash: hash_str(&s.row_key_name()),
                format: s.format.name().to_string(),
                bytes: s.bytes,
                partitions: s.partitions.clone(),
                ranges: p.row_group_ranges.clone(),
                row_groups: p.row_group_rows.clone(),
                shards: Vec::new(),
                segment: UNKNOWN_SEGMENT,
            });
        }
        for shard in &ds.shards {
            let ShardKind::RowGroup { index, take, .. } = shard.kind else {
                continue;
            };
            let segment = seg_ids
                .get(&(shard.source, Some(index)))
                .copied()
                .unwrap_or(UNKNOWN_SEGMENT);
            sources[shard.source].shards.push(PlanShard {
                row_group: index as u32,
                first_row: shard.first_row,
                rows: take,
                segment,
            });
        }
        Ok(TaskPlan {
            settings: settings.clone(),
            shard_rows: effective_shard_rows(shard_rows),
            fields,
            partition_columns: ds.partition_columns.clone(),
            sources,
            segments,
            file_columns: ds.file_columns(),
            left_out: ds.left_out.clone(),
            by_partition: false,
            sample_bounds: BTreeMap::new(),
            fingerprints_apart: false,
        })
    }

    /// The plan of data that is not a plain file scan: `partitions` sources named
    /// `partition-00000`…, one per Spark partition, rows numbered within their partition and
    /// cut into shards of `shard_rows` as they come. `schema` is the data's; a column of a type
    /// poisonscan cannot profile is an error naming it, before any task runs.
    pub fn partitions(
        partitions: usize,
        schema: &Schema,
        settings: &ProfileSettings,
        ingest: &IngestOptions,
    ) -> Result<TaskPlan> {
        let mut all = Vec::with_capacity(schema.fields().len());
        for f in schema.fields() {
            // Left out by the options: dropped by the selection below, never read.
            let (t, rejected) = input_type(f, ingest, || "in the DataFrame".to_string())?;
            all.push(unified_field(f.name(), t, rejected.as_deref()));
        }
        let (selected, left_out) = select_columns(&Schema::new(all), ingest)?;
        let fields = crate::ingest::column_types(&selected);
        check_columns(&fields, settings)?;
        let mut segments = Vec::new();
        let sources = (0..partitions)
            .map(|i| {
                let name = format!("partition-{i:05}");
                let segment = if segments.len() < UNKNOWN_SEGMENT as usize {
                    segments.push(Segment {
                        source: i as u32,
                        row_group: None,
                    });
                    (segments.len() - 1) as u16
                } else {
                    UNKNOWN_SEGMENT
                };
                PlanSource {
                    row_key_hash: hash_str(&name),
                    name,
                    path: None,
                    format: "spark".to_string(),
                    bytes: 0,
                    partitions: Vec::new(),
                    ranges: Vec::new(),
                    row_groups: Vec::new(),
                    shards: Vec::new(),
                    segment,
                }
            })
            .collect();
        Ok(TaskPlan {
            settings: settings.clone(),
            shard_rows: effective_shard_rows(ingest.shard_rows),
            fields,
            partition_columns: Vec::new(),
            sources,
            segments,
            file_columns: schema.fields().iter().map(|f| f.name().clone()).collect(),
            left_out,
            by_partition: true,
            sample_bounds: BTreeMap::new(),
            fingerprints_apart: false,
        })
    }

    /// The sources, in plan order.
    pub fn sources(&self) -> &[PlanSource] {
        &self.sources
    }

    /// Whether the plan keys rows by Spark partition rather than by file.
    pub fn by_partition(&self) -> bool {
        self.by_partition
    }

    /// Every column of the data before `columns`/`exclude` (of the files, partition columns
    /// included, or of the DataFrame).
    pub fn file_columns(&self) -> &[String] {
        &self.file_columns
    }

    /// Every column the plan profiles, partition columns included.
    pub fn columns(&self) -> Vec<String> {
        self.fields.iter().map(|(n, _)| n.clone()).collect()
    }

    /// The columns the tasks read (partition columns are the plan's, not the batches').
    pub fn read_columns(&self) -> Vec<String> {
        self.fields
            .iter()
            .filter(|(n, _)| !self.partition_columns.contains(n))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// The schema of the batches the tasks profile and score.
    pub fn schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.fields
                .iter()
                .map(|(n, t)| Field::new(n, t.arrow_type(), true))
                .collect::<Vec<_>>(),
        ))
    }

    /// The settings the parts are profiled with.
    pub fn settings(&self) -> &ProfileSettings {
        &self.settings
    }

    /// What the row models score a shard's batches with.
    pub fn ingest(&self) -> IngestOptions {
        IngestOptions {
            shard_rows: self.shard_rows,
            ..IngestOptions::default()
        }
    }

    /// The plan as bytes: a header (magic, version, BLAKE3 of the body), then the plan
    /// (postcard).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        encode(PLAN_MAGIC, self, "the task plan")
    }

    /// A plan from [`TaskPlan::to_bytes`], checked.
    pub fn from_bytes(bytes: &[u8]) -> Result<TaskPlan> {
        let plan: TaskPlan = decode(PLAN_MAGIC, bytes, "the task plan")?;
        plan.check().map_err(|reason| Error::BadParts {
            reason: format!("the task plan: {reason}"),
        })?;
        Ok(plan)
    }

    fn check(&self) -> std::result::Result<(), String> {
        if self.shard_rows == 0 || self.segments.len() > UNKNOWN_SEGMENT as usize {
            return Err("its shard size or segments are out of range".into());
        }
        for (i, s) in self.sources.iter().enumerate() {
            let mut next = 0u64;
            for sh in &s.shards {
                let fits = sh.first_row == next
                    && (sh.segment == UNKNOWN_SEGMENT
                        || (sh.segment as usize) < self.segments.len())
                    && (sh.row_group as usize) < s.row_groups.len();
                next = sh.first_row.saturating_add(sh.rows);
                if !fits || next == u64::MAX {
                    return Err(format!("the shards of source {i} do not follow each other"));
                }
            }
            if s.ranges.len() != s.row_groups.len() {
                return Err(format!("source {i} has row groups without byte ranges"));
            }
        }
        Ok(())
    }

    /// The BLAKE3 hash of source `i`'s file and of each of its row groups, for the manifest
    /// (as `poisonscan scan` computes them); `None` when the plan does not read local files.
    pub fn hash_source(&self, i: usize) -> Result<Option<(String, Vec<RowGroupEntry>)>> {
        let Some(s) = self.sources.get(i) else {
            return Err(Error::BadParts {
                reason: format!("there is no source {i}"),
            });
        };
        let Some(path) = &s.path else {
            return Ok(None);
        };
        super::file_hash::hash_file(std::path::Path::new(path), &s.ranges, &s.row_groups).map(Some)
    }

    /// A shard's rows in the plan's schema, in batches of `BATCH_ROWS` from its first row (as a
    /// file's shard is read).
    pub fn batches(&self, shard: &ShardRows) -> Result<Vec<Batch>> {
        let schema = self.schema();
        let source = &self.sources[shard.source];
        let mut conformed = std::collections::VecDeque::with_capacity(shard.pieces.len());
        for p in &shard.pieces {
            conformed.push_back(self.conform(p, source, &schema)?);
        }
        let mut out = Vec::new();
        let mut done = 0u64;
        while done < shard.rows {
            let k = (shard.rows - done).min(BATCH_ROWS as u64) as usize;
            out.push(Batch {
                batch: take_rows(&mut conformed, k, &schema)?,
                source: shard.source,
                row_group: shard.row_group,
                first_row: shard.first_row + done,
            });
            done += k as u64;
        }
        Ok(out)
    }

    /// A shard's rows as batches of its source, for [`crate::rows::RowModels::score`] (with
    /// [`TaskPlan::ingest`]).
    pub fn memory(&self, shard: &ShardRows) -> Result<MemoryBatches> {
        let mut m = MemoryBatches::new(self.schema());
        let name = &self.sources[shard.source].name;
        for b in self.batches(shard)? {
            m.push_at(name, b.row_group, b.first_row, b.batch)?;
        }
        Ok(m)
    }

    /// A piece of a task's batch in the plan's schema: each column cast to its type, the
    /// partition columns from the source's path.
    fn conform(
        &self,
        piece: &RecordBatch,
        source: &PlanSource,
        schema: &SchemaRef,
    ) -> Result<RecordBatch> {
        let n = piece.num_rows();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.fields.len());
        for (name, t) in &self.fields {
            if self.partition_columns.contains(name) {
                let value = source
                    .partitions
                    .iter()
                    .find(|(k, _)| k == name)
                    .and_then(|(_, v)| v.clone());
                columns.push(match value {
                    Some(v) => Arc::new(StringArray::from(vec![v.as_str(); n])),
                    None => new_null_array(&DataType::Utf8, n),
                });
                continue;
            }
            let bad = |reason: String| Error::BadBatch {
                source_name: source.name.clone(),
                reason,
            };
            let col = piece
                .column_by_name(name)
                .ok_or_else(|| bad(format!("it has no column `{name}`")))?;
            columns.push(cast_column(col, &t.arrow_type()).map_err(|reason| {
                bad(format!(
                    "column `{name}` cannot be converted to the dataset's type: {reason}"
                ))
            })?);
        }
        RecordBatch::try_new(schema.clone(), columns).map_err(|e| Error::BadBatch {
            source_name: source.name.clone(),
            reason: e.to_string(),
        })
    }

    /// Profile one shard a task completed.
    pub fn profile_shard(&self, shard: &ShardRows) -> Result<PartProfile> {
        let batches = self.batches(shard)?;
        let part = Part {
            source: shard.source,
            source_hash: self.sources[shard.source].row_key_hash,
            first_row: shard.first_row,
            segment: shard.segment,
        };
        let bounds = SharedBounds::default();
        for (class, &b) in &self.sample_bounds {
            bounds.publish(class, b);
        }
        let r = profile_part(
            batches.into_iter().map(Ok),
            &part,
            &self.fields,
            &self.settings,
            &self.partition_columns,
            &bounds,
        )?;
        let mut profile = r.profile;
        // Sorted as a profile's are (the fold sorts all of them again: the same multiset).
        profile.fingerprints.sort();
        Ok(PartProfile {
            source: shard.source as u32,
            first_row: shard.first_row,
            rows: r.rows,
            profile,
        })
    }

    /// The parts' keys in plan order, with their rows: every shard of a file, or, by
    /// partition, none known in advance.
    fn planned(&self) -> Vec<(u32, u64, u64, u32, u16)> {
        let mut out = Vec::new();
        for (i, s) in self.sources.iter().enumerate() {
            for sh in &s.shards {
                out.push((i as u32, sh.first_row, sh.rows, sh.row_group, sh.segment));
            }
        }
        out
    }

    /// Sort `keys` (source, first row, rows) by plan order and check them: each once, and, for
    /// files, every shard of the plan with its rows; by partition, each partition's parts
    /// following on from its row 0. Shards without rows (empty row groups) never reach a task;
    /// they are listed in the answer as `None` where they belong. The answer gives, in plan
    /// order, the index into `keys` of each part (or `None`).
    pub fn order(&self, keys: &[(u32, u64, u64)]) -> Result<Vec<Option<usize>>> {
        let bad = |reason: String| Err(Error::BadParts { reason });
        let mut idx: Vec<usize> = (0..keys.len()).collect();
        idx.sort_by_key(|&i| (keys[i].0, keys[i].1));
        for w in idx.windows(2) {
            let (a, b) = (keys[w[0]], keys[w[1]]);
            if (a.0, a.1) == (b.0, b.1) {
                return bad(format!(
                    "the part of {} from row {} came twice",
                    self.source_name(a.0),
                    a.1
                ));
            }
        }
        if self.by_partition {
            let mut next: BTreeMap<u32, u64> = BTreeMap::new();
            for &i in &idx {
                let (s, first, rows) = keys[i];
                if s as usize >= self.sources.len() {
                    return bad(format!("a part names source {s} of {}", self.sources.len()));
                }
                let at = next.entry(s).or_insert(0);
                if *at != first || rows > self.shard_rows || (rows == 0 && first > 0) {
                    return bad(format!(
                        "the parts of {} do not follow each other (rows {first}.. after {at} rows)",
                        self.source_name(s)
                    ));
                }
                *at = first.saturating_add(rows);
            }
            // Every partition's task ends with a part, one without rows for an empty partition:
            // a partition without any was never read.
            if let Some(s) = (0..self.sources.len() as u32).find(|s| !next.contains_key(s)) {
                return bad(format!(
                    "no task gave the rows of {} (did Spark run another number of partitions than the plan's {}?)",
                    self.source_name(s),
                    self.sources.len()
                ));
            }
            return Ok(idx.into_iter().map(Some).collect());
        }
        let mut out = Vec::new();
        let mut got = idx.into_iter().peekable();
        for (s, first, rows, _, _) in self.planned() {
            if rows == 0 {
                // An empty row group never reaches a task (and shares its key with the next
                // shard's): the fold makes its part.
                out.push(None);
                continue;
            }
            match got.peek().map(|&i| (i, keys[i])) {
                Some((i, k)) if (k.0, k.1) == (s, first) => {
                    if k.2 != rows {
                        return bad(format!(
                            "the part of {} from row {first} has {} rows, the file {rows} (was the DataFrame filtered or sampled after it was read?)",
                            self.source_name(s),
                            k.2
                        ));
                    }
                    out.push(Some(i));
                    got.next();
                }
                _ => {
                    return bad(format!(
                        "no task profiled rows {first}..{} of {}",
                        first + rows,
                        self.source_name(s)
                    ));
                }
            }
        }
        if let Some(i) = got.next() {
            return bad(format!(
                "a part of {} from row {} is not in the plan",
                self.source_name(keys[i].0),
                keys[i].1
            ));
        }
        Ok(out)
    }

    fn source_name(&self, s: u32) -> String {
        self.sources
            .get(s as usize)
            .map_or_else(|| format!("source {s}"), |x| format!("`{}`", x.name))
    }

    /// The profile of the whole data from the tasks' parts (in any order; [`TaskPlan::order`]
    /// checks them) and, for files, each source's hashes ([`TaskPlan::hash_source`]).
    pub fn fold(
        &self,
        parts: Vec<PartProfile>,
        hashes: Vec<Option<(String, Vec<RowGroupEntry>)>>,
    ) -> Result<Profile> {
        let keys: Vec<(u32, u64, u64)> = parts
            .iter()
            .map(|p| (p.source, p.first_row, p.rows))
            .collect();
        let order = self.order(&keys)?;
        // Files are hashed for the manifest (INT001 and INT002 compare the hashes): one each.
        for (i, s) in self.sources.iter().enumerate() {
            if s.path.is_some() && !matches!(hashes.get(i), Some(Some(_))) {
                return Err(Error::BadParts {
                    reason: format!("no hash was computed for {}", self.source_name(i as u32)),
                });
            }
        }
        let mut profile = Profile::empty(&self.fields, &self.settings, &self.partition_columns);
        profile.segments = self.segments.clone();
        profile.left_out = self.left_out.clone();
        let mut fold = Fold::new(profile, self.sources.len());
        let mut parts: Vec<Option<PartProfile>> = parts.into_iter().map(Some).collect();
        let planned = self.planned();
        let mut segment_rows = vec![0u64; self.segments.len()];
        for (k, slot) in order.into_iter().enumerate() {
            let part = match slot {
                Some(i) => parts[i].take().ok_or_else(|| Error::BadParts {
                    reason: "a part was folded twice".into(),
                })?,
                None => {
                    // An empty row group: its part, as a file's shard without rows is.
                    let (s, first_row, _, row_group, segment) = planned[k];
                    self.profile_shard(&ShardRows {
                        source: s as usize,
                        row_group,
                        first_row,
                        segment,
                        rows: 0,
                        pieces: Vec::new(),
                    })?
                }
            };
            let source = part.source as usize;
            let segment = if self.by_partition {
                self.sources[source].segment
            } else {
                planned[k].4
            };
            if let Some(n) = segment_rows.get_mut(segment as usize) {
                *n += part.rows;
            }
            if self.fingerprints_apart && !part.profile.fingerprints.rows.is_empty() {
                return Err(Error::BadParts {
                    reason: format!(
                        "the part of {} from row {} holds fingerprints the plan keeps apart",
                        self.source_name(part.source),
                        part.first_row
                    ),
                });
            }
            let same_columns = part.profile.columns.len() == self.fields.len()
                && part
                    .profile
                    .columns
                    .iter()
                    .zip(&self.fields)
                    .all(|(c, (n, t))| &c.name == n && c.column_type == *t);
            if !same_columns
                || part.profile.label != self.settings.label
                || part.profile.seed != self.settings.seed
            {
                return Err(Error::BadParts {
                    reason: format!(
                        "the part of {} from row {} was profiled with other settings",
                        self.source_name(part.source),
                        part.first_row
                    ),
                });
            }
            // The parts were profiled elsewhere: nothing left to bound.
            fold.shard(
                ShardResult {
                    profile: part.profile,
                    source,
                    rows: part.rows,
                },
                &SharedBounds::default(),
            );
        }
        let (mut profile, _, source_rows) = fold.finish();
        self.check_sample(&profile)?;
        if self.fingerprints_apart {
            profile.fingerprint_scope = FingerprintScope::Repeated {
                segment_rows,
                joined: false,
            };
        }
        profile.manifest = self
            .sources
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let (blake3, row_groups) = hashes.get(i).cloned().flatten().unwrap_or_default();
                ManifestEntry {
                    path: s.name.clone(),
                    format: s.format.clone(),
                    bytes: s.bytes,
                    rows: source_rows[i],
                    blake3,
                    row_groups,
                    partitions: s.partitions.clone(),
                    e_tag: None,
                    version: None,
                }
            })
            .collect();
        super::label::check_classes(&profile)?;
        Ok(profile)
    }

    /// Every class's sample holds `min(k, rows of the class)` rows: true of any sample made
    /// without bounds, and with bounds exactly when they dropped no row of the true sample.
    fn check_sample(&self, profile: &Profile) -> Result<()> {
        let k = profile.sample.capacity as u64;
        for (class, &rows) in &profile.label_counts {
            let held = profile.sample.strata.get(class).map_or(0, Vec::len) as u64;
            if held != rows.min(k) {
                return Err(Error::BadParts {
                    reason: format!(
                        "the sample holds {held} rows of class `{class}`, not {} (the sample's pre-pass read other rows than the profile job: was the DataFrame's order within partitions not deterministic?)",
                        rows.min(k)
                    ),
                });
            }
        }
        Ok(())
    }

    /// This plan with the fingerprints kept apart from the parts (see [`FingerprintScope`]).
    pub fn with_fingerprints_apart(&self) -> TaskPlan {
        TaskPlan {
            fingerprints_apart: true,
            ..self.clone()
        }
    }

    /// The rows the plan reads, when known before the job (files: from their footers).
    pub fn rows(&self) -> Option<u64> {
        (!self.by_partition).then(|| {
            self.sources
                .iter()
                .flat_map(|s| &s.shards)
                .map(|sh| sh.rows)
                .sum()
        })
    }

    /// Whether the tasks give their rows' fingerprints apart from the parts.
    pub fn fingerprints_apart(&self) -> bool {
        self.fingerprints_apart
    }

    /// A cutter for one task's batches (each of its calls takes this plan).
    pub fn cutter(&self) -> ShardCutter {
        ShardCutter::default()
    }

    /// The id column's field in the tasks' schema (what the rows' scores' `id` has).
    pub fn id_field(&self) -> Option<Field> {
        let schema = self.schema();
        self.settings
            .id
            .as_ref()
            .and_then(|i| schema.field_with_name(i).ok().cloned())
    }
}

fn effective_shard_rows(n: u64) -> u64 {
    if n == 0 { crate::ingest::SHARD_ROWS } else { n }
}

/// `value` (postcard) after a header ([`with_header`]); `what` names it in errors.
fn encode<T: Serialize>(magic: &[u8; 20], value: &T, what: &str) -> Result<Vec<u8>> {
    let body =
        postcard::to_stdvec(value).map_err(|e| Error::Internal(format!("encoding {what}: {e}")))?;
    Ok(with_header(magic, &body))
}

/// A value from [`encode`]'s bytes, its header checked.
fn decode<T: serde::de::DeserializeOwned>(magic: &[u8; 20], bytes: &[u8], what: &str) -> Result<T> {
    let bad = |reason: String| Error::BadParts {
        reason: format!("{what}: {reason}"),
    };
    let body = checked_body(magic, bytes).map_err(bad)?;
    postcard::from_bytes(body).map_err(|e| bad(format!("cannot decode: {e}")))
}

fn with_header(magic: &[u8; 20], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + body.len());
    out.extend_from_slice(magic);
    out.extend_from_slice(&PLAN_VERSION.to_le_bytes());
    out.extend_from_slice(blake3::hash(body).as_bytes());
    out.extend_from_slice(body);
    out
}

fn checked_body<'b>(magic: &[u8; 20], bytes: &'b [u8]) -> std::result::Result<&'b [u8], String> {
    if bytes.len() < HEADER || &bytes[..20] != magic {
        return Err("the bytes do not start with its header".into());
    }
    let version = u32::from_le_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
    if version != PLAN_VERSION {
        return Err(format!(
            "they are version {version}; this poisonscan ({}) reads version {PLAN_VERSION} (the driver and the executors must run the same poisonscan)",
            env!("CARGO_PKG_VERSION")
        ));
    }
    let body = &bytes[HEADER..];
    if blake3::hash(body).as_bytes() != &bytes[24..56] {
        return Err("their checksum does not match: they were corrupted or altered".into());
    }
    Ok(body)
}

/// The rows of one shard of the plan, gathered from a task's batches (not yet conformed).
#[derive(Debug)]
pub struct ShardRows {
    pub source: usize,
    pub row_group: u32,
    pub first_row: u64,
    segment: u16,
    pub rows: u64,
    pieces: Vec<RecordBatch>,
}

/// A shard being gathered.
#[derive(Debug, Default)]
struct Gathered {
    pieces: Vec<RecordBatch>,
    rows: u64,
}

/// Cuts one task's batches into the plan's shards and gives each back when it is complete.
#[derive(Debug, Default)]
pub struct ShardCutter {
    /// (source, shard index) → the rows gathered so far.
    open: BTreeMap<(usize, usize), Gathered>,
    /// By partition: the partition, its rows so far and the shard being gathered.
    partition: Option<(usize, u64, Gathered)>,
}

impl ShardCutter {
    /// A batch of a file scan: its [`SOURCE_COLUMN`] and [`ROW_COLUMN`] place each row (they
    /// and any column the plan does not read are dropped); the shards it completes.
    pub fn push_files(&mut self, plan: &TaskPlan, batch: &RecordBatch) -> Result<Vec<ShardRows>> {
        let bad = |reason: String| Error::BadParts { reason };
        let (Some(src), Some(row)) = (
            batch.column_by_name(SOURCE_COLUMN),
            batch.column_by_name(ROW_COLUMN),
        ) else {
            return Err(bad(format!(
                "a task's batch has no `{SOURCE_COLUMN}` and `{ROW_COLUMN}` columns"
            )));
        };
        let (Some(src), Some(row)) = (
            src.as_primitive_opt::<Int32Type>(),
            row.as_primitive_opt::<Int64Type>(),
        ) else {
            return Err(bad(
                "a task's source and row columns are not Int32 and Int64".into(),
            ));
        };
        if src.null_count() > 0 || row.null_count() > 0 {
            return Err(bad(
                "a row of a task's batch comes from no file of the plan (the DataFrame reads files the driver did not list)".into(),
            ));
        }
        let (src, row) = (src.values(), row.values());
        let mut done = Vec::new();
        let n = batch.num_rows();
        let mut start = 0;
        while start < n {
            let mut end = start + 1;
            while end < n && src[end] == src[start] && row[end] == row[end - 1].wrapping_add(1) {
                end += 1;
            }
            let (s, r) = (src[start], row[start]);
            if s < 0 || s as usize >= plan.sources.len() || r < 0 {
                return Err(bad(format!("a task's row names source {s} row {r}")));
            }
            self.run(
                plan,
                s as usize,
                r as u64,
                batch.slice(start, end - start),
                &mut done,
            )?;
            start = end;
        }
        Ok(done)
    }

    /// Rows `[first, first + len)` of file `s`, in order: to the shards they belong to.
    fn run(
        &mut self,
        plan: &TaskPlan,
        s: usize,
        mut first: u64,
        mut rows: RecordBatch,
        done: &mut Vec<ShardRows>,
    ) -> Result<()> {
        let source = &plan.sources[s];
        while rows.num_rows() > 0 {
            let k = source
                .shards
                .partition_point(|sh| sh.first_row + sh.rows <= first);
            let Some(sh) = source.shards.get(k).filter(|sh| sh.first_row <= first) else {
                return Err(Error::BadParts {
                    reason: format!(
                        "`{}` has no row {first} (its footer lists {} rows): the file changed after the driver read it",
                        source.name,
                        source.row_groups.iter().sum::<u64>()
                    ),
                });
            };
            let g = self.open.entry((s, k)).or_default();
            if sh.first_row + g.rows != first {
                return Err(Error::BadParts {
                    reason: format!(
                        "the rows of `{}` came out of order or twice: row {first} after rows {}..{}",
                        source.name,
                        sh.first_row,
                        sh.first_row + g.rows
                    ),
                });
            }
            let take = ((sh.first_row + sh.rows - first) as usize).min(rows.num_rows());
            g.pieces.push(rows.slice(0, take));
            g.rows += take as u64;
            first += take as u64;
            rows = rows.slice(take, rows.num_rows() - take);
            if g.rows == sh.rows {
                let g = self.open.remove(&(s, k)).unwrap_or_default();
                done.push(ShardRows {
                    source: s,
                    row_group: sh.row_group,
                    first_row: sh.first_row,
                    segment: sh.segment,
                    rows: g.rows,
                    pieces: g.pieces,
                });
            }
        }
        Ok(())
    }

    /// A batch of Spark partition `partition`'s rows (by partition); the shards it completes.
    pub fn push_partition(
        &mut self,
        plan: &TaskPlan,
        partition: usize,
        batch: &RecordBatch,
    ) -> Result<Vec<ShardRows>> {
        if partition >= plan.sources.len() {
            return Err(Error::BadParts {
                reason: format!(
                    "a task's partition {partition} is not in the plan ({} partitions): was the DataFrame repartitioned after the plan was made?",
                    plan.sources.len()
                ),
            });
        }
        let (p, _, _) = self
            .partition
            .get_or_insert_with(|| (partition, 0, Gathered::default()));
        if *p != partition {
            return Err(Error::BadParts {
                reason: "a task gave the rows of two partitions".into(),
            });
        }
        let shard_rows = plan.shard_rows;
        let mut done = Vec::new();
        let mut rows = batch.clone();
        while rows.num_rows() > 0 {
            let Some((_, seen, g)) = self.partition.as_mut() else {
                break;
            };
            let take = ((shard_rows - g.rows) as usize).min(rows.num_rows());
            g.pieces.push(rows.slice(0, take));
            g.rows += take as u64;
            *seen += take as u64;
            rows = rows.slice(take, rows.num_rows() - take);
            if g.rows == shard_rows {
                done.extend(self.close_partition_shard(plan));
            }
        }
        Ok(done)
    }

    fn close_partition_shard(&mut self, plan: &TaskPlan) -> Option<ShardRows> {
        let (p, seen, g) = self.partition.as_mut()?;
        if g.rows == 0 && *seen > 0 {
            return None;
        }
        let g = std::mem::take(g);
        Some(ShardRows {
            source: *p,
            row_group: 0,
            first_row: *seen - g.rows,
            segment: plan.sources[*p].segment,
            rows: g.rows,
            pieces: g.pieces,
        })
    }

    /// The end of the task's batches: by partition, the last shard (a partition without rows
    /// gives one part without rows, so that it is counted); for files, every shard begun must
    /// be complete.
    pub fn finish(mut self, plan: &TaskPlan, partition: Option<usize>) -> Result<Vec<ShardRows>> {
        if plan.by_partition {
            if self.partition.is_none()
                && let Some(p) = partition
            {
                self.push_partition(plan, p, &RecordBatch::new_empty(plan.schema()))?;
            }
            return Ok(self.close_partition_shard(plan).into_iter().collect());
        }
        if let Some(((s, k), g)) = self.open.iter().next() {
            let source = &plan.sources[*s];
            let sh = source.shards[*k];
            return Err(Error::BadParts {
                reason: format!(
                    "a task read rows {}..{} of `{}` but not rows {}..{} of the same row group (was the DataFrame filtered or sampled after it was read?)\nhint: scan it with provenance=\"partition\"",
                    sh.first_row,
                    sh.first_row + g.rows,
                    source.name,
                    sh.first_row + g.rows,
                    sh.first_row + sh.rows
                ),
            });
        }
        Ok(Vec::new())
    }
}

/// One shard's partial profile, keyed by its place in the plan.
#[derive(Debug)]
pub struct PartProfile {
    pub source: u32,
    pub first_row: u64,
    pub rows: u64,
    profile: Profile,
}

impl PartProfile {
    /// The part as bytes, to send from a task to the driver: a header (magic, version, BLAKE3
    /// of the body), the key, then the partial profile in the profile format.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        body.extend_from_slice(&self.source.to_le_bytes());
        body.extend_from_slice(&self.first_row.to_le_bytes());
        body.extend_from_slice(&self.rows.to_le_bytes());
        body.extend_from_slice(&self.profile.to_bytes()?);
        Ok(with_header(PART_MAGIC, &body))
    }

    /// The part's rows' fingerprints, taken out of it (to send apart, see
    /// [`TaskPlan::with_fingerprints_apart`]).
    pub fn take_fingerprints(&mut self) -> Vec<u128> {
        std::mem::take(&mut self.profile.fingerprints.rows)
    }

    /// A part from [`PartProfile::to_bytes`], checked.
    pub fn from_bytes(bytes: &[u8]) -> Result<PartProfile> {
        let bad = |reason: String| Error::BadParts {
            reason: format!("a task's part: {reason}"),
        };
        let body = checked_body(PART_MAGIC, bytes).map_err(bad)?;
        if body.len() < 20 {
            return Err(bad("it is too short".into()));
        }
        let u64_at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&body[i..i + 8]);
            u64::from_le_bytes(b)
        };
        let source = u32::from_le_bytes([body[0], body[1], body[2], body[3]]);
        let (first_row, rows) = (u64_at(4), u64_at(12));
        let profile = Profile::from_bytes(&body[20..])?;
        if profile.rows != rows {
            return Err(bad(format!(
                "its key says {rows} rows, its profile {}",
                profile.rows
            )));
        }
        Ok(PartProfile {
            source,
            first_row,
            rows,
            profile,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A file's rows from its first, with the source and row columns a task's batches have.
    fn tagged(rows: &RecordBatch, source: i32) -> RecordBatch {
        let n = rows.num_rows();
        let mut cols = rows.columns().to_vec();
        cols.push(Arc::new(arrow::array::Int32Array::from(vec![source; n])));
        cols.push(Arc::new(arrow::array::Int64Array::from_iter_values(
            0..n as i64,
        )));
        let mut fields: Vec<Field> = rows
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.push(Field::new(SOURCE_COLUMN, DataType::Int32, false));
        fields.push(Field::new(ROW_COLUMN, DataType::Int64, false));
        RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
    }

    /// The plan of the demo files, profiled in tasks that each see a few row groups' rows in
    /// odd batch sizes (and in any task order), folds into the profile `poisonscan profile`
    /// makes of the same files, byte for byte; with the sample's bounds from the tasks'
    /// pre-pass too, whose parts carry only the rows the sample keeps.
    #[test]
    fn parts_fold_into_the_files_profile() {
        fold_demo(false);
        fold_demo(true);
    }

    fn fold_demo(bounded: bool) {
        let files = [PathBuf::from("datasets/demo/current")];
        let ingest = IngestOptions {
            shard_rows: 3_000,
            ..IngestOptions::default()
        };
        let settings = ProfileSettings {
            label: Some("label".into()),
            id: Some("customer_id".into()),
            sample_size: 700,
            ..ProfileSettings::default()
        };
        let ds = Dataset::open(&files, &ingest).unwrap();
        let whole = super::super::profile_dataset(&ds, &settings, &|_| {}).unwrap();
        let plan = TaskPlan::files(&ds, &settings, ingest.shard_rows).unwrap();
        let plan = TaskPlan::from_bytes(&plan.to_bytes().unwrap()).unwrap();
        // Read every file whole, tag its rows, and hand them to two "tasks" in 7,777-row
        // batches, the second task's sources first.
        let mut tasks: Vec<Vec<RecordBatch>> = vec![Vec::new(), Vec::new()];
        for (i, s) in ds.sources.iter().enumerate() {
            let mut rows = Vec::new();
            for shard in ds.shards.iter().filter(|sh| sh.source == i) {
                for b in ds.read_shard(shard).unwrap() {
                    rows.push(b.unwrap().batch);
                }
            }
            let all = arrow::compute::concat_batches(&ds.schema, &rows).unwrap();
            let n = all.num_rows();
            let b = tagged(&all, i as i32);
            let mut at = 0;
            while at < n {
                let k = 7_777.min(n - at);
                tasks[i % 2].push(b.slice(at, k));
                at += k;
            }
            assert_eq!(s.display(), plan.sources()[i].name);
        }
        let plan = if bounded {
            let keys: Vec<SampleKeys> = tasks
                .iter()
                .map(|task| {
                    let mut k = SampleKeys::default();
                    for b in task {
                        k.push_files(&plan, b).unwrap();
                    }
                    SampleKeys::from_bytes(&k.to_bytes(&plan).unwrap()).unwrap()
                })
                .collect();
            let bounded = plan.with_sample_bounds(&keys);
            // Each class's bound is its 700th smallest key over all rows.
            assert_eq!(
                bounded.sample_bounds().keys().collect::<Vec<_>>(),
                whole.sample.strata.keys().collect::<Vec<_>>()
            );
            for (class, rows) in &whole.sample.strata {
                assert_eq!(bounded.sample_bounds()[class], rows[699].key, "{class}");
            }
            // A bound one key too tight drops a sample row: the fold refuses the parts.
            let mut low = bounded.clone();
            for b in low.sample_bounds.values_mut() {
                *b -= 1;
            }
            let e = profile_tasks(&low, &tasks, |_| {});
            let hashes = (0..low.sources().len())
                .map(|i| low.hash_source(i).unwrap())
                .collect();
            let e = low.fold(e, hashes).unwrap_err().to_string();
            assert!(e.contains("the sample holds 699 rows of class"), "{e}");
            bounded
        } else {
            plan
        };
        let mut sampled = 0;
        let parts = profile_tasks(&plan, &tasks, |p| sampled += p.profile.sample.len());
        // Bounded, the parts hold the final sample's rows (ties aside) and no more.
        let classes = whole.sample.strata.len();
        if bounded {
            assert_eq!(sampled, 700 * classes);
        } else {
            assert!(sampled > 700 * classes, "{sampled}");
        }
        let hashes = (0..plan.sources().len())
            .map(|i| plan.hash_source(i).unwrap())
            .collect();
        let folded = plan.fold(parts, hashes).unwrap();
        assert_eq!(folded.manifest, whole.manifest);
        assert_eq!(folded.segments, whole.segments);
        assert_eq!(folded.rows, whole.rows);
        assert_eq!(folded.label_counts, whole.label_counts);
        assert!(
            folded.fingerprints.rows == whole.fingerprints.rows,
            "fingerprints"
        );
        assert_eq!(
            format!("{:?}", folded.sample),
            format!("{:?}", whole.sample)
        );
        assert_eq!(
            format!("{:?}", folded.sources),
            format!("{:?}", whole.sources)
        );
        assert!(
            folded.to_bytes().unwrap() == whole.to_bytes().unwrap(),
            "bytes"
        );
    }

    /// Each task's batches cut and profiled, its parts sent as bytes (last task first).
    fn profile_tasks(
        plan: &TaskPlan,
        tasks: &[Vec<RecordBatch>],
        mut seen: impl FnMut(&PartProfile),
    ) -> Vec<PartProfile> {
        let mut parts = Vec::new();
        for task in tasks.iter().rev() {
            let mut cut = plan.cutter();
            for b in task {
                for shard in cut.push_files(plan, b).unwrap() {
                    let p = plan.profile_shard(&shard).unwrap();
                    let p = PartProfile::from_bytes(&p.to_bytes().unwrap()).unwrap();
                    seen(&p);
                    parts.push(p);
                }
            }
            assert!(cut.finish(plan, None).unwrap().is_empty());
        }
        parts
    }

    /// A part lost, a part twice, or a task that stops within a row group: errors that say
    /// which rows, never a profile.
    #[test]
    fn missing_doubled_and_partial_parts_are_errors() {
        let files = [PathBuf::from("datasets/demo/current/part-0.parquet")];
        let ingest = IngestOptions {
            shard_rows: 5_000,
            ..IngestOptions::default()
        };
        let settings = ProfileSettings::default();
        let ds = Dataset::open(&files, &ingest).unwrap();
        let plan = TaskPlan::files(&ds, &settings, ingest.shard_rows).unwrap();
        let planned: Vec<(u32, u64, u64)> =
            plan.planned().iter().map(|p| (p.0, p.1, p.2)).collect();
        assert!(planned.len() >= 2);
        assert_eq!(plan.order(&planned).unwrap().len(), planned.len());
        let e = plan.order(&planned[1..]).unwrap_err().to_string();
        assert!(e.contains("no task profiled rows 0..5000"), "{e}");
        let mut twice = planned.clone();
        twice.push(planned[0]);
        let e = plan.order(&twice).unwrap_err().to_string();
        assert!(e.contains("came twice"), "{e}");
        let mut short = planned.clone();
        short[0].2 -= 1;
        let e = plan.order(&short).unwrap_err().to_string();
        assert!(e.contains("filtered or sampled"), "{e}");

        let b = ds
            .read_shard(&ds.shards[0])
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .batch;
        let n = 100;
        let b = tagged(&b.slice(0, n), 0);
        let mut cut = plan.cutter();
        assert!(cut.push_files(&plan, &b).unwrap().is_empty());
        let e = cut.push_files(&plan, &b).unwrap_err().to_string();
        assert!(e.contains("out of order or twice"), "{e}");
        let mut cut = plan.cutter();
        cut.push_files(&plan, &b).unwrap();
        let e = cut.finish(&plan, None).unwrap_err().to_string();
        assert!(
            e.contains(
                "rows 0..100 of `datasets/demo/current/part-0.parquet` but not rows 100..5000"
            ),
            "{e}"
        );
    }
}
