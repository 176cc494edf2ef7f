//! The rows file: one row per scored current row (provenance, id, scores, duplicate group, the
//! codes that flag it), its schema, and a writer that renames the file into place only when it
//! is complete.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Array, ListBuilder, RecordBatch, StringArray, StringBuilder, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::model::Scored;
use super::score::PassContext;
use crate::error::{Error, Result};
use crate::ingest::Batch;
use crate::profile::Profile;
use crate::rows::labels::LabelScratch;

impl PassContext<'_> {
    /// The rows file's batch for these rows and how many of them are in a duplicate group,
    /// when the rows file is written.
    pub(super) fn rows_file(
        &self,
        batch: &Batch,
        scored: &[Scored],
        labels: &LabelScratch,
        joint: &[f64],
        row_hasher: &mut crate::profile::RowHasher,
        hashes: &mut Vec<u64>,
    ) -> Result<Option<(RecordBatch, u64)>> {
        let Some(dup_groups) = self.dup_groups else {
            return Ok(None);
        };
        let b = &batch.batch;
        row_hasher.reset(b.num_rows());
        for (ci, pos) in self.positions.iter().enumerate() {
            if let Some(k) = pos {
                crate::profile::column::value_hashes(b.column(ci).as_ref(), hashes);
                row_hasher.add_column(*k, hashes);
            }
        }
        let groups: Vec<Option<u64>> = row_hasher
            .finish()
            .map(|h| {
                dup_groups
                    .get(&crate::profile::features(crate::profile::fingerprint(
                        h, 0, 0,
                    )))
                    .copied()
            })
            .collect();
        let duplicated = groups.iter().filter(|g| g.is_some()).count() as u64;
        let id = self.id.and_then(|c| b.column_by_name(c));
        let name = self
            .source_names
            .get(batch.source)
            .map(String::as_str)
            .unwrap_or_default();
        let rows = self.rows_batch(
            name,
            batch.first_row,
            id.cloned(),
            scored,
            labels,
            joint,
            groups,
        )?;
        Ok(Some((rows, duplicated)))
    }

    /// The rows file's batch of scored rows (`joint`: each row's joint rank, empty without
    /// OUT002's model).
    #[allow(clippy::too_many_arguments)]
    fn rows_batch(
        &self,
        source: &str,
        first_row: u64,
        id: Option<ArrayRef>,
        scored: &[Scored],
        labels: &LabelScratch,
        joint: &[f64],
        duplicate_group: Vec<Option<u64>>,
    ) -> Result<RecordBatch> {
        let (schema, mark_outliers) = (&self.out_schema, self.outliers);
        let n = scored.len();
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![source; n])),
            Arc::new(UInt64Array::from_iter_values(
                (0..n as u64).map(|i| first_row + i),
            )),
        ];
        if schema.field_with_name("id").is_ok() {
            let field = schema
                .field_with_name("id")
                .map_err(|e| Error::Internal(e.to_string()))?;
            cols.push(match id {
                Some(a) => a,
                None => arrow::array::new_null_array(field.data_type(), n),
            });
        }
        let mut codes = ListBuilder::new(StringBuilder::new());
        for (i, s) in scored.iter().enumerate() {
            if labels.flagged(i) {
                codes.values().append_value("LBL002");
            }
            if labels.issue(i) {
                codes.values().append_value("LBL003");
            }
            if mark_outliers && s.flagged {
                codes.values().append_value("OUT001");
            }
            codes.append(true);
        }
        cols.extend([
            Arc::new(Float64Array::from_iter_values(
                scored.iter().map(|s| s.outlier_score),
            )) as ArrayRef,
            Arc::new(if labels.scores.len() == n {
                Float64Array::from(labels.scores.clone())
            } else {
                Float64Array::from(vec![None::<f64>; n])
            }),
            Arc::new(UInt64Array::from(duplicate_group)),
            Arc::new(codes.finish()),
            Arc::new(if labels.verdicts.len() == n {
                Float64Array::from_iter(
                    labels.verdicts.iter().map(|v| v.map(|v| v.self_confidence)),
                )
            } else {
                Float64Array::from(vec![None::<f64>; n])
            }),
            Arc::new(if joint.len() == n {
                Float64Array::from(joint.to_vec())
            } else {
                Float64Array::from(vec![None::<f64>; n])
            }),
        ]);
        RecordBatch::try_new(schema.clone(), cols).map_err(|e| Error::Internal(e.to_string()))
    }
}

/// Feature hash (as `profile::features` gives it) → duplicate group number, for every feature
/// vector that occurs more than once; groups are numbered in fingerprint order.
pub fn duplicate_groups(p: &Profile) -> HashMap<u128, u64> {
    let mut out = HashMap::new();
    let rows = &p.fingerprints.rows;
    let mut i = 0;
    while i < rows.len() {
        let f = crate::profile::features(rows[i]);
        let mut j = i + 1;
        while j < rows.len() && crate::profile::features(rows[j]) == f {
            j += 1;
        }
        if j - i > 1 {
            let g = out.len() as u64;
            out.insert(f, g);
        }
        i = j;
    }
    out
}

/// The rows file's schema (DESIGN.md, "Rows file").
pub fn rows_schema(id: Option<&Field>) -> SchemaRef {
    let mut fields = vec![
        Field::new("source", DataType::Utf8, false),
        Field::new("row", DataType::UInt64, false),
    ];
    if let Some(f) = id {
        fields.push(Field::new("id", f.data_type().clone(), true));
    }
    fields.extend([
        Field::new("outlier_score", DataType::Float64, false),
        Field::new("label_issue_score", DataType::Float64, true),
        Field::new("duplicate_group", DataType::UInt64, true),
        Field::new(
            "codes",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            false,
        ),
        // Added after the contract's fields: the out-of-sample probability of the row's own
        // label by confident learning (LBL003; null without a verdict). Lowest first ranks the
        // label issues.
        Field::new("label_confidence", DataType::Float64, true),
        // Added after it: the row's joint rank (OUT002): the weighted share of baseline rows
        // whose Mahalanobis distance from the baseline's joint distribution is at most the
        // row's. Null when OUT002 is off.
        Field::new("joint_score", DataType::Float64, true),
    ]);
    Arc::new(Schema::new(fields))
}

/// Writes the rows file to a temporary file beside it and renames it into place when complete
/// ([`crate::output::Staged`]), so a failed run never leaves a half-written file under the
/// requested name, nor a temporary one.
pub(super) struct RowsWriter {
    path: PathBuf,
    staged: Option<crate::output::Staged>,
    writer: Option<parquet::arrow::ArrowWriter<std::fs::File>>,
}

impl RowsWriter {
    pub(super) fn create(path: &Path, schema: SchemaRef) -> Result<RowsWriter> {
        let staged = crate::output::Staged::new(path)?;
        let file = staged.handle()?;
        let props = parquet::file::properties::WriterProperties::builder()
            .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
            .build();
        let writer =
            parquet::arrow::ArrowWriter::try_new(file, schema, Some(props)).map_err(|e| {
                Error::RowsFile {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                }
            })?;
        Ok(RowsWriter {
            path: path.to_path_buf(),
            staged: Some(staged),
            writer: Some(writer),
        })
    }

    fn fail(&self, e: impl std::fmt::Display) -> Error {
        Error::RowsFile {
            path: self.path.clone(),
            reason: e.to_string(),
        }
    }

    pub(super) fn write(&mut self, b: &RecordBatch) -> Result<()> {
        let r = match self.writer.as_mut() {
            Some(w) => w.write(b),
            None => return Err(self.fail("written after it was closed")),
        };
        r.map_err(|e| self.fail(e))
    }

    pub(super) fn finish(mut self) -> Result<()> {
        if let Some(w) = self.writer.take() {
            w.close().map_err(|e| self.fail(e))?;
        }
        match self.staged.take() {
            Some(s) => s.commit(),
            None => Err(self.fail("finished twice")),
        }
    }
}
