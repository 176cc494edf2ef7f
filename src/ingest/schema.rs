//! One schema across all files: each file's Arrow types are normalised to a few logical types
//! (int, float, string, bool, timestamp), safe widening (int -> float, narrow -> wide) is
//! reconciled, and anything else is a conflict that names both files and the column.

use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

use super::{IngestOptions, Source};
use crate::error::{Error, Result};

/// The logical type poisonscan profiles a column as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    Int,
    Float,
    Timestamp,
    String,
    Bool,
    /// Every value is null in every file.
    Null,
}

impl ColumnType {
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            ColumnType::Int | ColumnType::Float | ColumnType::Timestamp
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Int => "int",
            ColumnType::Float => "float",
            ColumnType::Timestamp => "timestamp",
            ColumnType::String => "string",
            ColumnType::Bool => "bool",
            ColumnType::Null => "null",
        }
    }

    /// The Arrow type batches carry for this logical type.
    pub fn arrow_type(self) -> DataType {
        match self {
            ColumnType::Int => DataType::Int64,
            ColumnType::Float => DataType::Float64,
            ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            ColumnType::String => DataType::Utf8,
            ColumnType::Bool => DataType::Boolean,
            ColumnType::Null => DataType::Null,
        }
    }
}

/// The logical type of an Arrow type, or `None` if poisonscan cannot profile it.
///
/// A decimal of scale 0 is a whole number (SQL's `NUMBER(38)` and `DECIMAL(20, 0)`, often an ID
/// or a count) and is read as an integer, exactly: as a double, two values past 2^53 that differ
/// would be one (IDs made duplicates, counts merged); a value past 2^63 is refused by name, as
/// an unsigned one is. Other decimals are doubles (their statistics need no more digits).
pub fn column_type(dt: &DataType) -> Option<ColumnType> {
    use DataType::*;
    Some(match dt {
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 => ColumnType::Int,
        Decimal32(_, 0) | Decimal64(_, 0) | Decimal128(_, 0) | Decimal256(_, 0) => ColumnType::Int,
        Float16 | Float32 | Float64 | Decimal32(..) | Decimal64(..) | Decimal128(..)
        | Decimal256(..) => ColumnType::Float,
        Utf8 | LargeUtf8 | Utf8View => ColumnType::String,
        Dictionary(_, v) => match column_type(v)? {
            ColumnType::String => ColumnType::String,
            other => other,
        },
        Boolean => ColumnType::Bool,
        Date32 | Date64 | Timestamp(..) => ColumnType::Timestamp,
        Null => ColumnType::Null,
        _ => return None,
    })
}

/// Each field's name and logical type (`Null` for a type poisonscan does not read).
pub fn column_types(schema: &arrow::datatypes::Schema) -> Vec<(String, ColumnType)> {
    schema
        .fields()
        .iter()
        .map(|f| {
            let t = column_type(f.data_type()).unwrap_or(ColumnType::Null);
            (f.name().clone(), t)
        })
        .collect()
}

/// The wider of two logical types, if they can be reconciled without loss of meaning.
pub(crate) fn widen(a: ColumnType, b: ColumnType) -> Option<ColumnType> {
    use ColumnType::*;
    Some(match (a, b) {
        (x, y) if x == y => x,
        (Null, x) | (x, Null) => x,
        (Int, Float) | (Float, Int) => Float,
        _ => return None,
    })
}

/// The metadata key that marks a field of the unified schema as a column poisonscan cannot
/// profile and leaves out (`skip_unsupported`); its value is the column's type. The selection
/// drops such a column and lists it as rejected.
const REJECTED: &str = "poisonscan.rejected";

/// An input column's type for the unified schema. A type poisonscan cannot profile is null (a
/// column the selection drops and nothing reads) when the options leave the column out, or
/// skip such columns (then with the type it had, to be listed as rejected); otherwise an error
/// naming the column and, in `within`, where it is.
pub(crate) fn input_type(
    f: &Field,
    opts: &IngestOptions,
    within: impl FnOnce() -> String,
) -> Result<(ColumnType, Option<String>)> {
    match column_type(f.data_type()) {
        Some(t) => Ok((t, None)),
        None if opts.leaves_out(f.name()) => Ok((ColumnType::Null, None)),
        None if opts.skip_unsupported => Ok((ColumnType::Null, Some(f.data_type().to_string()))),
        None => Err(Error::UnsupportedType {
            column: f.name().clone(),
            data_type: format!("{} ({})", f.data_type(), within()),
        }
        .for_required(&opts.required)),
    }
}

/// A field of the unified schema: nullable, of `t`'s Arrow type, marked when rejected.
pub(crate) fn unified_field(name: &str, t: ColumnType, rejected: Option<&str>) -> Field {
    let f = Field::new(name, t.arrow_type(), true);
    match rejected {
        Some(r) => f.with_metadata(std::collections::HashMap::from([(
            REJECTED.to_string(),
            r.to_string(),
        )])),
        None => f,
    }
}

/// The type a rejected field had (`unified_field`), or `None`.
pub(crate) fn rejected_type(f: &Field) -> Option<&str> {
    f.metadata().get(REJECTED).map(String::as_str)
}

/// Unify the files' schemas: columns in the first file's order, each with one logical type. A
/// column of a type poisonscan cannot profile is an error unless the options leave it out
/// (`--exclude`, or not among `--columns`) or skip such columns ([`input_type`]): then it
/// stands as a null column that the selection drops, and it is never read. A column rejected
/// in one file is rejected in all.
pub(crate) fn unify(sources: &[Source], opts: &IngestOptions) -> Result<Schema> {
    let mut columns: Vec<(String, ColumnType, usize)> = Vec::new();
    let mut rejected: Vec<(String, String)> = Vec::new();
    for (si, s) in sources.iter().enumerate() {
        check_names(s)?;
        for f in s.file_schema.fields() {
            let (t, reject) = input_type(f, opts, || format!("in `{}`", s.display()))?;
            if let Some(r) = reject
                && !rejected.iter().any(|(n, _)| n == f.name())
            {
                rejected.push((f.name().clone(), r));
            }
            let is_rejected = rejected.iter().any(|(n, _)| n == f.name());
            match columns.iter_mut().find(|(n, _, _)| n == f.name()) {
                None => {
                    if si > 0 {
                        return Err(Error::ColumnMissingInFile {
                            column: f.name().clone(),
                            has: s.path.clone(),
                            lacks: sources[0].path.clone(),
                        });
                    }
                    columns.push((f.name().clone(), t, si));
                }
                Some(_) if is_rejected => {}
                Some((name, existing, from)) => match widen(*existing, t) {
                    Some(w) => *existing = w,
                    None => {
                        return Err(Error::SchemaConflict {
                            column: name.clone(),
                            left: sources[*from].path.clone(),
                            left_type: existing.name().to_string(),
                            right: s.path.clone(),
                            right_type: t.name().to_string(),
                        });
                    }
                },
            }
        }
        for (name, _, _) in &columns {
            if s.file_schema.field_with_name(name).is_err() {
                return Err(Error::ColumnMissingInFile {
                    column: name.clone(),
                    has: sources[0].path.clone(),
                    lacks: s.path.clone(),
                });
            }
        }
    }
    Ok(Schema::new(
        columns
            .into_iter()
            .map(|(n, t, _)| {
                let r = rejected
                    .iter()
                    .find(|(m, _)| *m == n)
                    .map(|(_, r)| r.as_str());
                let t = if r.is_some() { ColumnType::Null } else { t };
                unified_field(&n, t, r)
            })
            .collect::<Vec<_>>(),
    ))
}

/// A file's column names are its own: a name twice (Parquet allows it; one of the two would be
/// dropped) or a name that is also a `key=value` folder of the file's path (the two could
/// disagree, and one would be ignored) is an error naming the file and the column.
fn check_names(s: &Source) -> Result<()> {
    let bad = |reason: String| Error::BadColumnNames {
        path: s.path.clone(),
        reason,
    };
    let mut seen = std::collections::HashSet::new();
    for f in s.file_schema.fields() {
        if !seen.insert(f.name().as_str()) {
            return Err(bad(format!("the column name `{}` appears twice", f.name())));
        }
        if let Some((k, v)) = s.partitions.iter().find(|(k, _)| k == f.name()) {
            return Err(bad(format!(
                "column `{k}` is also the partition folder `{k}={}` in the file's path: the two could disagree\nhint: rename the column or the folder",
                v.as_deref().unwrap_or("")
            )));
        }
    }
    Ok(())
}

/// Partition keys shared by every file, in path order (a key that is also a column of a file
/// is an error, `check_names`).
pub(crate) fn partition_columns(sources: &[Source], unified: &Schema) -> Result<Vec<String>> {
    let mut keys: Vec<String> = Vec::new();
    for s in sources {
        for (k, _) in &s.partitions {
            if unified.field_with_name(k).is_err() && !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    for k in &keys {
        if let Some(s) = sources
            .iter()
            .find(|s| !s.partitions.iter().any(|(pk, _)| pk == k))
        {
            let has = sources
                .iter()
                .find(|s| s.partitions.iter().any(|(pk, _)| pk == k))
                .map(|s| s.path.clone())
                .unwrap_or_default();
            return Err(Error::ColumnMissingInFile {
                column: format!("{k} (a `{k}=…` partition folder)"),
                has,
                lacks: s.path.clone(),
            });
        }
    }
    Ok(keys)
}

/// Cast one column read from `source` to the unified type. Casts are strict: a value that does
/// not fit is an error, never a silent null.
pub(crate) fn cast_to(
    col: &ArrayRef,
    target: &DataType,
    name: &str,
    source: &Source,
) -> Result<ArrayRef> {
    cast_column(col, target).map_err(|e| cast_error(name, target, source, &e))
}

/// Cast a column to a unified type, strictly (the reason as text on failure).
pub(crate) fn cast_column(
    col: &ArrayRef,
    target: &DataType,
) -> std::result::Result<ArrayRef, String> {
    if col.data_type() == target {
        return Ok(col.clone());
    }
    let opts = CastOptions {
        safe: false,
        ..Default::default()
    };
    // A zoned timestamp is first relabelled as a plain one of its own unit (the instants, in
    // UTC, are the same numbers), then converted to the target's unit.
    let col = match (col.data_type(), target) {
        (DataType::Timestamp(unit, Some(_)), DataType::Timestamp(_, None)) => {
            let plain = DataType::Timestamp(*unit, None);
            let c = col.to_data().into_builder().data_type(plain.clone());
            let data = c.build().map_err(|e| e.to_string())?;
            let c = arrow::array::make_array(data);
            cast_with_options(&c, target, &opts)
        }
        _ => cast_with_options(col, target, &opts),
    };
    col.map(|c| -> ArrayRef { Arc::clone(&c) })
        .map_err(|e| e.to_string())
}

fn cast_error(name: &str, target: &DataType, source: &Source, reason: &str) -> Error {
    Error::Unconvertible {
        path: source.path.clone(),
        column: name.to_string(),
        target: match column_type(target) {
            Some(ColumnType::Int) => "a 64-bit integer".to_string(),
            Some(ColumnType::Float) => "a double".to_string(),
            Some(ColumnType::Timestamp) => "a timestamp in microseconds".to_string(),
            _ => format!("{target}"),
        },
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A zoned timestamp keeps its instant whatever its unit: 2020-01-01T00:00:00Z in
    /// milliseconds and in seconds (zone +02:00: the numbers are UTC either way) is
    /// 1,577,836,800,000,000 microseconds, as the plain timestamps of every unit are.
    #[test]
    fn zoned_timestamps_convert_their_own_unit() {
        use arrow::array::{
            Array, TimestampMicrosecondArray, TimestampMillisecondArray, TimestampSecondArray,
        };
        let target = ColumnType::Timestamp.arrow_type();
        let us = 1_577_836_800_000_000i64;
        let cols: Vec<ArrayRef> = vec![
            Arc::new(TimestampMillisecondArray::from(vec![us / 1000]).with_timezone("UTC")),
            Arc::new(TimestampSecondArray::from(vec![us / 1_000_000]).with_timezone("+02:00")),
            Arc::new(TimestampMillisecondArray::from(vec![us / 1000])),
            Arc::new(TimestampMicrosecondArray::from(vec![us]).with_timezone("UTC")),
        ];
        for col in cols {
            let out = cast_column(&col, &target).unwrap();
            let out = out
                .as_any()
                .downcast_ref::<TimestampMicrosecondArray>()
                .unwrap();
            assert_eq!(out.value(0), us, "{:?}", col.data_type());
            assert_eq!(out.data_type(), &target);
        }
    }

    #[test]
    fn widening_rules() {
        use ColumnType::*;
        assert_eq!(widen(Int, Float), Some(Float));
        assert_eq!(widen(Null, String), Some(String));
        assert_eq!(widen(Int, Int), Some(Int));
        assert_eq!(widen(Int, String), None);
        assert_eq!(widen(Bool, Int), None);
        assert_eq!(column_type(&DataType::Int32), Some(Int));
        assert_eq!(column_type(&DataType::Decimal128(10, 2)), Some(Float));
        assert_eq!(column_type(&DataType::Decimal128(38, 0)), Some(Int));
        assert_eq!(column_type(&DataType::Decimal256(76, 0)), Some(Int));
        assert_eq!(column_type(&DataType::Binary), None);
    }
}
