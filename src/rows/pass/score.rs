//! Scoring the current rows: one part (a shard, or a run of a caller's batches) at a time into
//! its own counts and rows-file batches, the parts folded in plan order.

use std::collections::HashMap;
use std::path::Path;

use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};

use super::counts::{GroupCount, GroupKey, RowCounts, ScoreHistograms};
use super::joint::{JointModel, JointScratch, TERM_RANK};
use super::model::{RowModel, Scratch};
use super::rows_file::{RowsWriter, rows_schema};
use crate::error::{Error, Result};
use crate::ingest::{Batch, Dataset, Shard};
use crate::profile::ProfileSettings;
use crate::rows::RowModels;
use crate::rows::labels::{LabelModel, LabelScratch};
use crate::rows::shared::{SLOTS, code_of_slot, nth_row};

/// Settings of the pass.
pub struct PassSettings<'a> {
    pub profile: &'a ProfileSettings,
    /// Where each row's scores go, if anywhere: the rows file, or batches in memory.
    pub rows_out: Option<RowsOut<'a>>,
    /// The current data's duplicate groups (`duplicate_groups`), for the rows file.
    pub duplicates: Option<&'a HashMap<u128, u64>>,
    /// Called after each shard (progress).
    pub on_shard: &'a (dyn Fn() + Sync),
}

/// Where the rows file's rows go.
#[derive(Debug, Clone, Copy)]
pub enum RowsOut<'a> {
    /// A Parquet file, written to `NAME.tmp` and renamed when complete.
    File(&'a Path),
    /// Arrow batches returned to the caller, in plan order.
    Memory,
}

/// What a pass returns: the counts, and each row's scores when they were asked for in memory.
#[derive(Debug, Default)]
pub struct PassOutput {
    pub counts: RowCounts,
    pub rows: Vec<RecordBatch>,
}

/// One part's counts and, when the rows file is written, its rows.
struct PartOut {
    counts: RowCounts,
    batches: Vec<RecordBatch>,
}

/// What scoring a part needs besides its batches.
pub(super) struct PassContext<'a> {
    model: &'a RowModel,
    labels: Option<&'a LabelModel>,
    joint: Option<&'a JointModel>,
    /// Per column of the batches, its position among the fingerprint's feature columns.
    pub(super) positions: Vec<Option<usize>>,
    pub(super) id: Option<&'a str>,
    pub(super) out_schema: SchemaRef,
    pub(super) source_names: Vec<String>,
    /// Per source of the batches, its index among the models' sources (the current profile's).
    source_index: Vec<u32>,
    /// Whether OUT001 is on: count outliers per group and mark them in the rows file.
    pub(super) outliers: bool,
    /// Feature hash → duplicate group, when the rows file is written.
    pub(super) dup_groups: Option<&'a HashMap<u128, u64>>,
}

impl<'a> PassContext<'a> {
    fn new(
        schema: &Schema,
        partition_columns: &[String],
        source_names: Vec<String>,
        models: &'a RowModels,
        settings: &'a PassSettings<'_>,
    ) -> Result<PassContext<'a>> {
        if settings.rows_out.is_some() && settings.duplicates.is_none() {
            return Err(Error::Internal(
                "the rows file needs the current data's duplicate groups".into(),
            ));
        }
        let columns = crate::ingest::column_types(schema);
        let source_index = source_names
            .iter()
            .map(|n| {
                models
                    .sources
                    .iter()
                    .position(|m| m == n)
                    .map(|i| i as u32)
                    .ok_or_else(|| Error::BadBatch {
                        source_name: n.clone(),
                        reason: "it is not a source of the profile the row models were fitted on"
                            .into(),
                    })
            })
            .collect::<Result<Vec<u32>>>()?;
        // Every column the models read must be there: a missing one would be scored as nulls.
        for column in models
            .model
            .encoder
            .features
            .iter()
            .map(|f| &f.column)
            .chain(models.label.iter().filter(|_| models.labels.is_some()))
        {
            if schema.field_with_name(column).is_err() {
                return Err(Error::BadBatch {
                    source_name: source_names.first().cloned().unwrap_or_default(),
                    reason: format!("it has no column `{column}`, which the row models read"),
                });
            }
        }
        let id = settings.profile.id.as_deref();
        let id_field = id.and_then(|id| schema.field_with_name(id).ok().cloned());
        Ok(PassContext {
            model: &models.model,
            labels: models.labels.as_ref(),
            joint: models.joint.as_ref(),
            positions: crate::profile::feature_positions(
                &columns,
                settings.profile,
                partition_columns,
            ),
            id,
            out_schema: rows_schema(id_field.as_ref()),
            source_names,
            source_index,
            outliers: models.outliers,
            dup_groups: settings.rows_out.and(settings.duplicates),
        })
    }
}

impl PassContext<'_> {
    /// Score one part's batches, in order: the counts, and the rows file's batches when it is
    /// written.
    fn score(&self, batches: impl Iterator<Item = Result<Batch>>) -> Result<PartOut> {
        let (model, labels) = (self.model, self.labels);
        let d = model.encoder.dim();
        let mut out = RowCounts::new(labels);
        let mut rows_out = Vec::new();
        let mut x = Vec::new();
        let mut codes = Vec::new();
        let mut scratch = Scratch::default();
        let mut terms = Vec::new();
        let mut hashes = Vec::new();
        let mut row_hasher = crate::profile::RowHasher::new();
        let mut label_scratch = LabelScratch::default();
        let mut joint_scratch = JointScratch::default();
        let mut joint_terms = vec![0.0; d];
        let mut joint_ranks: Vec<f64> = Vec::new();
        // Dense counters: per feature one slot per tested code (see `slot`), the whole shard,
        // and the current batch's source.
        let mut slices: Vec<Vec<GroupCount>> = vec![vec![GroupCount::default(); SLOTS]; d];
        let mut all = GroupCount::default();
        for batch in batches {
            let batch = batch?;
            let b = &batch.batch;
            let n = b.num_rows();
            let t = std::time::Instant::now();
            model.encoder.encode_batch(b, &mut x, &mut codes);
            scratch.seconds.encode += t.elapsed().as_secs_f64();
            let scored = model.score_batch(&x, &mut scratch, &mut terms);
            let source = *self
                .source_index
                .get(batch.source)
                .ok_or_else(|| Error::Internal(format!("a batch names source {}", batch.source)))?;
            if let (Some(m), Some(c)) = (labels, out.labels.as_mut()) {
                let t = std::time::Instant::now();
                m.count_batch(
                    b,
                    &x,
                    &codes,
                    source,
                    batch.first_row,
                    &mut label_scratch,
                    c,
                );
                out.label_seconds += t.elapsed().as_secs_f64();
            } else {
                label_scratch.scores.clear();
                label_scratch.verdicts.clear();
            }
            for s in &scored {
                out.histograms.outlier[ScoreHistograms::bin(s.outlier_score)] += 1;
            }
            for score in label_scratch.scores.iter().flatten() {
                out.histograms.label_issue[ScoreHistograms::bin(*score)] += 1;
            }
            out.rows += n as u64;
            joint_ranks.clear();
            if let Some(jm) = self.joint {
                joint_ranks.extend((0..n).map(|i| {
                    let (xr, cr) = (nth_row(&x, d, i), nth_row(&codes, d, i));
                    jm.rank(jm.distance(xr, cr, &mut joint_scratch, None))
                }));
            }
            if let Some((rows, duplicated)) = self.rows_file(
                &batch,
                &scored,
                &label_scratch,
                &joint_ranks,
                &mut row_hasher,
                &mut hashes,
            )? {
                out.duplicate_rows += duplicated;
                rows_out.push(rows);
            }
            let mut this_source = GroupCount::default();
            // OUT002: each row's joint rank, in the whole data and its file.
            for (i, &rank) in joint_ranks.iter().enumerate() {
                let terms = if rank > TERM_RANK
                    && let Some(jm) = self.joint
                {
                    let (xr, cr) = (nth_row(&x, d, i), nth_row(&codes, d, i));
                    joint_terms.iter_mut().for_each(|t| *t = 0.0);
                    jm.distance(xr, cr, &mut joint_scratch, Some(&mut joint_terms));
                    Some(&joint_terms[..])
                } else {
                    None
                };
                all.add_joint(rank, terms);
                this_source.add_joint(rank, terms);
            }
            // Per-group outlier counts are OUT001's alone.
            if !self.outliers {
                if !this_source.joint.is_empty() {
                    out.groups
                        .entry(GroupKey::Source(source))
                        .or_default()
                        .merge(this_source);
                }
                continue;
            }
            for (i, s) in scored.iter().enumerate() {
                let row = batch.first_row + i as u64;
                let row_terms = nth_row(&terms, d, i);
                let add = |g: &mut GroupCount| {
                    g.rows += 1;
                    if s.flagged {
                        g.add_flagged(row_terms, (source, row));
                    }
                };
                add(&mut all);
                add(&mut this_source);
                for (j, counters) in slices.iter_mut().enumerate() {
                    if let Some(k) = model.slot(j, codes[i * d + j]) {
                        add(&mut counters[k]);
                    }
                }
            }
            out.groups
                .entry(GroupKey::Source(source))
                .or_default()
                .merge(this_source);
        }
        if all.rows > 0 || !all.joint.is_empty() {
            out.groups.insert(GroupKey::All, all);
        }
        for (j, counters) in slices.into_iter().enumerate() {
            for (k, g) in counters.into_iter().enumerate() {
                if g.rows > 0 {
                    let key = GroupKey::Slice {
                        feature: j as u32,
                        code: code_of_slot(k),
                    };
                    out.groups.insert(key, g);
                }
            }
        }
        out.part_seconds = scratch.seconds;
        Ok(PartOut {
            counts: out,
            batches: rows_out,
        })
    }
}

/// The pass's results so far: parts are folded in plan order.
struct Totals {
    counts: RowCounts,
    writer: Option<RowsWriter>,
    /// The rows, when they are returned in memory.
    kept: Option<Vec<RecordBatch>>,
    write_error: Option<Error>,
}

impl Totals {
    /// Nothing counted yet; the rows file created when one is asked for.
    fn new(
        labels: Option<&LabelModel>,
        rows_out: Option<RowsOut<'_>>,
        schema: &SchemaRef,
    ) -> Result<Totals> {
        let writer = match rows_out {
            Some(RowsOut::File(path)) => Some(RowsWriter::create(path, schema.clone())?),
            _ => None,
        };
        Ok(Totals {
            counts: RowCounts::new(labels),
            writer,
            kept: matches!(rows_out, Some(RowsOut::Memory)).then(Vec::new),
            write_error: None,
        })
    }

    fn fold(&mut self, r: PartOut) {
        self.counts.merge_part(r.counts);
        if let Some(kept) = self.kept.as_mut() {
            kept.extend(r.batches);
            return;
        }
        if let Some(w) = self.writer.as_mut()
            && self.write_error.is_none()
        {
            for b in &r.batches {
                if let Err(e) = w.write(b) {
                    self.write_error = Some(e);
                    break;
                }
            }
        }
    }

    fn finish(self) -> Result<PassOutput> {
        if let Some(e) = self.write_error {
            return Err(e);
        }
        if let Some(w) = self.writer {
            w.finish()?;
        }
        Ok(PassOutput {
            counts: self.counts,
            rows: self.kept.unwrap_or_default(),
        })
    }
}

/// Score every row of `ds` and count outliers per group, shards in parallel, folded in plan
/// order.
pub fn run(ds: &Dataset, models: &RowModels, settings: &PassSettings<'_>) -> Result<PassOutput> {
    let names = ds.sources.iter().map(|s| s.display()).collect();
    let ctx = PassContext::new(&ds.schema, &ds.partition_columns, names, models, settings)?;
    let mut totals = Totals::new(models.labels.as_ref(), settings.rows_out, &ctx.out_schema)?;
    let tasks: Vec<&Shard> = ds.shards.iter().collect();
    crate::profile::run_ordered(
        &tasks,
        |s| {
            let out = ctx.score(ds.read_shard(s)?)?;
            (settings.on_shard)();
            Ok(out)
        },
        |r: PartOut| totals.fold(r),
    )?;
    totals.finish()
}

/// The same for batches a caller holds: one part per run of one source and row group (a long
/// one split as a file's row group is: `Conformed::parts`), in parallel, folded in order.
pub fn run_batches(
    data: &crate::ingest::Conformed<'_>,
    models: &RowModels,
    settings: &PassSettings<'_>,
) -> Result<PassOutput> {
    let ctx = PassContext::new(&data.schema, &[], data.names.clone(), models, settings)?;
    let mut totals = Totals::new(models.labels.as_ref(), settings.rows_out, &ctx.out_schema)?;
    let parts = data.parts()?;
    crate::profile::run_ordered(
        &parts,
        |p| {
            let out = ctx.score(p.batches()?.into_iter().map(Ok))?;
            (settings.on_shard)();
            Ok(out)
        },
        |r: PartOut| totals.fold(r),
    )?;
    totals.finish()
}
