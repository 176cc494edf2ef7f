//! The feature encoding every row-level detector shares: one `f64` per feature, read off the
//! reference profile (the baseline's, or the current data's when there is no baseline), so that
//! current rows and the reference sample are encoded alike.
//!
//! - Numeric columns: `(x − median) / IQR` with the median and quartiles from the reference's
//!   quantile sketch (the standard deviation when the IQR is 0, else 1), clamped to ±10⁹ so
//!   that ±inf stays finite and extreme. A missing value (null or NaN) encodes as 0, the median.
//! - A missing-value indicator (1 when null or NaN, else 0) for every column that has missing
//!   values in the reference or in the current data: missingness is explicit, never imputed away.
//! - Categorical columns (text, booleans, integer codes the profile calls categorical):
//!   frequency encoding, the category's share of the reference rows (0 for a category the
//!   reference never had, the null share for null). It is target-free, one feature a column
//!   whatever the cardinality, and puts rare categories at the low end, where the outlier
//!   detectors look. No one-hot encoding: it would add a feature per category and let a
//!   high-cardinality column dominate the forest's feature draws.
//! - Left out: the label, the id, partition columns, identifier-like and constant columns.

use std::collections::HashMap;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimestampMicrosecondType};

use xxhash_rust::xxh3::xxh3_64;

use crate::profile::column::{KeyHash, numeric_key, numeric_text, value_hashes};
use crate::profile::hll::fmix64;
use crate::profile::{ColumnProfile, Profile, Role, SampleValue};

/// Encoded values are kept within ±CLAMP.
pub const CLAMP: f64 = 1e9;

/// Slice code of a missing value (numeric and categorical features).
pub const NULL_CODE: u32 = u32::MAX;
/// Slice code of a category the reference never had.
pub const UNSEEN_CODE: u32 = u32::MAX - 1;
/// Slice codes of numbers below the reference's minimum and above its maximum.
pub const BELOW_CODE: u32 = u32::MAX - 2;
pub const ABOVE_CODE: u32 = u32::MAX - 3;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum Kind {
    /// `edges`: the reference's deciles (distinct, increasing); a value's slice code is its bin,
    /// the number of edges at or below it, or `BELOW_CODE`/`ABOVE_CODE` outside the reference's
    /// `[min, max]`.
    Numeric {
        median: f64,
        scale: f64,
        edges: Vec<f64>,
        min: f64,
        max: f64,
    },
    Missing,
    /// `shares`: category → (slice code, share of the reference rows); `categories[code]`.
    /// The first `known` categories are the reference's (in value order); after them come the
    /// current data's categories the reference never had (share 0, in value order), so that the
    /// label checks can name them; every other unseen category has `UNSEEN_CODE`.
    Frequency {
        #[serde(serialize_with = "crate::rows::shared::sorted_map")]
        shares: HashMap<String, (u32, f64)>,
        known: u32,
        /// The same, keyed by the value hashes the profile uses (`column::value_hashes`), so a
        /// batch's column is looked up without formatting or re-hashing a cell.
        #[serde(skip)]
        lookup: CategoryLookup,
        categories: Vec<String>,
        null_share: f64,
    },
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Feature {
    /// Shown in evidence: the column, or "`col` is missing".
    pub name: String,
    pub column: String,
    /// Index of the column in the reference profile (and its sample rows).
    pub reference_index: usize,
    pub kind: Kind,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Encoder {
    pub features: Vec<Feature>,
}

#[cfg(test)]
impl Encoder {
    /// The tests' encoder: `d` numeric features `f0`, `f1`, … of median 0 and scale 1, in
    /// [-10, 10], without bins.
    pub(crate) fn numeric(d: usize) -> Encoder {
        Encoder {
            features: (0..d)
                .map(|j| Feature {
                    name: format!("f{j}"),
                    column: format!("f{j}"),
                    reference_index: j,
                    kind: Kind::Numeric {
                        median: 0.0,
                        scale: 1.0,
                        edges: Vec::new(),
                        min: -10.0,
                        max: 10.0,
                    },
                })
                .collect(),
        }
    }
}

type HashKeyed = HashMap<u64, (u32, f64), KeyHash>;

/// A categorical feature's (slice code, share) by the value hash of the category
/// (`column::value_hashes`): numbers by the Murmur3 finaliser of their `numeric_key`, a bijection,
/// so equal hashes are equal values; text by its xxh3-64, so a hit is checked against the
/// category's text.
#[derive(Debug, Clone, Default)]
pub struct CategoryLookup {
    /// Categories that are `numeric_text` of a number, keyed by that number.
    numbers: HashKeyed,
    /// Every category by the hash of its text; `None` if two categories' hashes collide (then
    /// text cells are looked up by text).
    text: Option<HashKeyed>,
}

impl CategoryLookup {
    fn new(shares: &HashMap<String, (u32, f64)>) -> CategoryLookup {
        let mut numbers = HashKeyed::default();
        let mut text = HashKeyed::default();
        let mut unique = true;
        for (v, &e) in shares {
            // A number's category is its `numeric_text`, which reads back as the same number.
            if let Ok(x) = v.parse::<f64>()
                && numeric_text(x) == *v
            {
                numbers.insert(fmix64(numeric_key(x)), e);
            }
            unique &= text.insert(xxh3_64(v.as_bytes()), e).is_none();
        }
        CategoryLookup {
            numbers,
            text: unique.then_some(text),
        }
    }
}

/// A cell, from an Arrow column or a sample row.
enum Cell<'a> {
    Missing,
    Number(f64),
    Text(&'a str),
}

impl Encoder {
    /// Rebuild the category lookups, which are not written with the encoder (they are keyed by
    /// hashes and rebuilt from the categories' shares).
    pub(crate) fn rebuild_lookups(&mut self) {
        for f in &mut self.features {
            if let Kind::Frequency { shares, lookup, .. } = &mut f.kind {
                *lookup = CategoryLookup::new(shares);
            }
        }
    }

    /// The encoding for the columns of `reference` that `current` also has.
    pub fn new(reference: &Profile, current: &Profile) -> Encoder {
        let mut features = Vec::new();
        for (ri, c) in reference.columns.iter().enumerate() {
            let role = reference.role(c);
            let Some(cur) = current.column(&c.name) else {
                continue;
            };
            if cur.column_type != c.column_type && !(c.numeric.is_some() && cur.numeric.is_some()) {
                continue;
            }
            let kind = match role {
                Role::Numeric => numeric_kind(c),
                Role::Categorical => frequency_kind(c, cur),
                _ => continue,
            };
            let Some(kind) = kind else { continue };
            features.push(Feature {
                name: c.name.clone(),
                column: c.name.clone(),
                reference_index: ri,
                kind,
            });
            let missing =
                |p: &ColumnProfile| p.nulls > 0 || p.numeric.as_ref().is_some_and(|n| n.nan > 0);
            if matches!(role, Role::Numeric) && (missing(c) || missing(cur)) {
                features.push(Feature {
                    name: format!("`{}` is missing", c.name),
                    column: c.name.clone(),
                    reference_index: ri,
                    kind: Kind::Missing,
                });
            }
        }
        Encoder { features }
    }

    pub fn dim(&self) -> usize {
        self.features.len()
    }

    /// Encode a batch row-major into `out` and the rows' slice codes into `codes` (both cleared
    /// first; see `Kind` for the codes). Columns are found by name; a feature whose column the
    /// batch lacks encodes as missing.
    pub fn encode_batch(&self, batch: &RecordBatch, out: &mut Vec<f64>, codes: &mut Vec<u32>) {
        let n = batch.num_rows();
        let d = self.dim();
        out.clear();
        out.resize(n * d, 0.0);
        codes.clear();
        codes.resize(n * d, 0);
        let mut hashes = Vec::new();
        for (j, f) in self.features.iter().enumerate() {
            let col = batch.column_by_name(&f.column);
            // Numbers and text: one typed loop per column instead of a dispatch per cell.
            if let Some(a) = col
                && self.encode_column(j, &f.kind, a.as_ref(), &mut hashes, out, codes)
            {
                continue;
            }
            for i in 0..n {
                let cell = match col {
                    Some(a) => cell_of(a.as_ref(), i),
                    None => Cell::Missing,
                };
                let (v, c) = f.kind.encode(&cell);
                out[i * d + j] = v;
                codes[i * d + j] = c;
            }
        }
    }

    /// Encode column `a` as feature `j` (`kind`) into the row-major `out` and `codes`, giving
    /// exactly what `Kind::encode` gives cell by cell; false, writing nothing, for the
    /// combinations it leaves to that (booleans, other types, text without its hash table).
    fn encode_column(
        &self,
        j: usize,
        kind: &Kind,
        a: &dyn Array,
        hashes: &mut Vec<u64>,
        out: &mut [f64],
        codes: &mut [u32],
    ) -> bool {
        let d = self.dim();
        let nulls = a.logical_nulls().filter(|b| b.null_count() > 0);
        let is_null = |i: usize| nulls.as_ref().is_some_and(|b| b.is_null(i));
        let numbers = numbers_of(a);
        match kind {
            Kind::Numeric {
                median,
                scale,
                edges,
                min,
                max,
            } => {
                let Some(numbers) = numbers else {
                    return false;
                };
                let mut put = |i: usize, x: f64| {
                    let (v, c) = if x.is_nan() || is_null(i) {
                        (0.0, NULL_CODE)
                    } else {
                        numeric_cell(x, *median, *scale, edges, *min, *max)
                    };
                    out[i * d + j] = v;
                    codes[i * d + j] = c;
                };
                match numbers {
                    Numbers::F64(v) => v.iter().enumerate().for_each(|(i, &x)| put(i, x)),
                    Numbers::I64(v) => v.iter().enumerate().for_each(|(i, &x)| put(i, x as f64)),
                }
                true
            }
            Kind::Frequency {
                lookup,
                categories,
                null_share,
                ..
            } => {
                let (text, keyed) = match (a.data_type(), &lookup.text) {
                    (DataType::Utf8, Some(m)) => (Some(a.as_string::<i32>()), m),
                    (DataType::Utf8, None) => return false,
                    _ if numbers.is_some() => (None, &lookup.numbers),
                    _ => return false,
                };
                value_hashes(a, hashes);
                for (i, h) in hashes.iter().enumerate() {
                    let missing = is_null(i) || numbers.as_ref().is_some_and(|v| v.get(i).is_nan());
                    let (v, c) = if missing {
                        (*null_share, NULL_CODE)
                    } else {
                        match keyed.get(h) {
                            Some(&(code, share))
                                if text.is_none_or(|t| categories[code as usize] == t.value(i)) =>
                            {
                                (share, code)
                            }
                            _ => (0.0, UNSEEN_CODE),
                        }
                    };
                    out[i * d + j] = v;
                    codes[i * d + j] = c;
                }
                true
            }
            Kind::Missing => {
                let Some(numbers) = numbers else {
                    return false;
                };
                for i in 0..a.len() {
                    let missing = is_null(i) || numbers.get(i).is_nan();
                    out[i * d + j] = if missing { 1.0 } else { 0.0 };
                    codes[i * d + j] = u32::from(missing);
                }
                true
            }
        }
    }

    /// Encode sample rows of the reference profile row-major, with their slice codes.
    pub fn encode_sample<'a>(
        &self,
        rows: impl Iterator<Item = &'a [SampleValue]>,
        out: &mut Vec<f64>,
        codes: &mut Vec<u32>,
    ) {
        let columns: Vec<Option<usize>> = self
            .features
            .iter()
            .map(|f| Some(f.reference_index))
            .collect();
        self.encode_sample_columns(rows, &columns, out, codes)
    }

    /// The same for sample rows of another profile, whose columns `columns[j]` holds feature
    /// `j`'s column (`None`: missing).
    pub fn encode_sample_columns<'a>(
        &self,
        rows: impl Iterator<Item = &'a [SampleValue]>,
        columns: &[Option<usize>],
        out: &mut Vec<f64>,
        codes: &mut Vec<u32>,
    ) {
        out.clear();
        codes.clear();
        for values in rows {
            for (f, ci) in self.features.iter().zip(columns) {
                let cell = match ci.and_then(|ci| values.get(ci)) {
                    None | Some(SampleValue::Null) => Cell::Missing,
                    Some(SampleValue::Number(x)) if x.is_nan() => Cell::Missing,
                    Some(SampleValue::Number(x)) => Cell::Number(*x),
                    Some(SampleValue::Text(s)) => Cell::Text(s),
                    Some(SampleValue::Bool(b)) => Cell::Text(if *b { "true" } else { "false" }),
                };
                let (v, c) = f.kind.encode(&cell);
                out.push(v);
                codes.push(c);
            }
        }
    }
}

impl Kind {
    /// The encoded value and the slice code of a cell.
    fn encode(&self, cell: &Cell<'_>) -> (f64, u32) {
        let category = |shares: &HashMap<String, (u32, f64)>, s: &str| {
            shares
                .get(s)
                .map(|&(code, share)| (share, code))
                .unwrap_or((0.0, UNSEEN_CODE))
        };
        match (self, cell) {
            (Kind::Missing, Cell::Missing) => (1.0, 1),
            (Kind::Missing, _) => (0.0, 0),
            (Kind::Numeric { .. }, Cell::Missing) => (0.0, NULL_CODE),
            (
                Kind::Numeric {
                    median,
                    scale,
                    edges,
                    min,
                    max,
                },
                Cell::Number(x),
            ) => numeric_cell(*x, *median, *scale, edges, *min, *max),
            // Types are checked when the encoder is built; a text cell here counts as missing.
            (Kind::Numeric { .. }, Cell::Text(_)) => (0.0, NULL_CODE),
            (Kind::Frequency { null_share, .. }, Cell::Missing) => (*null_share, NULL_CODE),
            (Kind::Frequency { shares, .. }, Cell::Text(s)) => category(shares, s),
            (Kind::Frequency { shares, .. }, Cell::Number(x)) => {
                category(shares, &numeric_text(*x))
            }
        }
    }
}

/// A numeric feature's encoded value and slice code for a number (not NaN).
#[inline]
fn numeric_cell(x: f64, median: f64, scale: f64, edges: &[f64], min: f64, max: f64) -> (f64, u32) {
    (
        ((x - median) / scale).clamp(-CLAMP, CLAMP),
        if x < min {
            BELOW_CODE
        } else if x > max {
            ABOVE_CODE
        } else {
            edges.partition_point(|e| *e <= x) as u32
        },
    )
}

/// A numeric column's values as f64, typed once per batch.
pub(crate) enum Numbers<'a> {
    F64(&'a [f64]),
    I64(&'a [i64]),
}

impl Numbers<'_> {
    #[inline]
    pub(crate) fn get(&self, i: usize) -> f64 {
        match self {
            Numbers::F64(v) => v[i],
            Numbers::I64(v) => v[i] as f64,
        }
    }
}

pub(crate) fn numbers_of(a: &dyn Array) -> Option<Numbers<'_>> {
    match a.data_type() {
        DataType::Float64 => Some(Numbers::F64(a.as_primitive::<Float64Type>().values())),
        DataType::Int64 => Some(Numbers::I64(a.as_primitive::<Int64Type>().values())),
        DataType::Timestamp(..) => Some(Numbers::I64(
            a.as_primitive::<TimestampMicrosecondType>().values(),
        )),
        _ => None,
    }
}

fn cell_of(a: &dyn Array, i: usize) -> Cell<'_> {
    if a.is_null(i) {
        return Cell::Missing;
    }
    let x = match a.data_type() {
        DataType::Float64 => a.as_primitive::<Float64Type>().value(i),
        DataType::Int64 => a.as_primitive::<Int64Type>().value(i) as f64,
        DataType::Timestamp(..) => a.as_primitive::<TimestampMicrosecondType>().value(i) as f64,
        DataType::Utf8 => return Cell::Text(a.as_string::<i32>().value(i)),
        DataType::Boolean => {
            return Cell::Text(if a.as_boolean().value(i) {
                "true"
            } else {
                "false"
            });
        }
        _ => return Cell::Missing,
    };
    if x.is_nan() {
        Cell::Missing
    } else {
        Cell::Number(x)
    }
}

fn numeric_kind(c: &ColumnProfile) -> Option<Kind> {
    let n = c.numeric.as_ref()?;
    let q = n.quantiles.quantiles(&[0.25, 0.5, 0.75]);
    if q.len() != 3 || q.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let iqr = q[2] - q[0];
    let std = n.std().unwrap_or(0.0);
    let scale = if iqr > 0.0 {
        iqr
    } else if std > 0.0 && std.is_finite() {
        std
    } else {
        1.0
    };
    let mut edges = n
        .quantiles
        .quantiles(&[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
    edges.retain(|e| e.is_finite());
    edges.dedup();
    Some(Kind::Numeric {
        median: q[1],
        scale,
        edges,
        min: n.min.unwrap_or(f64::NEG_INFINITY),
        max: n.max.unwrap_or(f64::INFINITY),
    })
}

/// Categories with their row counts: exact for low-cardinality columns, else the frequent
/// items' estimates; sorted by value, so codes do not depend on the sketch's order.
fn category_counts(c: &ColumnProfile) -> Vec<(String, u64)> {
    c.rows_per_value(false)
}

/// At most this many current-only categories get a code of their own ...
const MAX_NEW_CATEGORIES: usize = 64;
/// ... each with at least this many current rows (fewer cannot make a trigger finding).
const MIN_NEW_CATEGORY_ROWS: u64 = 10;

fn frequency_kind(c: &ColumnProfile, cur: &ColumnProfile) -> Option<Kind> {
    let rows = c.rows.max(1) as f64;
    let counts = category_counts(c);
    let known = counts.len() as u32;
    let mut shares: HashMap<String, (u32, f64)> = HashMap::with_capacity(counts.len());
    let mut categories: Vec<String> = Vec::with_capacity(counts.len());
    for (i, (v, k)) in counts.into_iter().enumerate() {
        categories.push(v.clone());
        shares.insert(v, (i as u32, k as f64 / rows));
    }
    // The largest current-only categories, then in value order.
    let mut new: Vec<(String, u64)> = category_counts(cur)
        .into_iter()
        .filter(|(v, k)| *k >= MIN_NEW_CATEGORY_ROWS && !shares.contains_key(v))
        .collect();
    new.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    new.truncate(MAX_NEW_CATEGORIES);
    new.sort_unstable();
    for (v, _) in new {
        shares.insert(v.clone(), (categories.len() as u32, 0.0));
        categories.push(v);
    }
    let lookup = CategoryLookup::new(&shares);
    Some(Kind::Frequency {
        shares,
        known,
        lookup,
        categories,
        null_share: c.nulls as f64 / rows,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};

    use super::*;

    fn frequency(values: &[&str], text_lookup: bool) -> Kind {
        let shares: HashMap<String, (u32, f64)> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (v.to_string(), (i as u32, 0.1 * (i + 1) as f64)))
            .collect();
        let mut lookup = CategoryLookup::new(&shares);
        if !text_lookup {
            lookup.text = None;
        }
        Kind::Frequency {
            shares,
            known: values.len() as u32,
            lookup,
            categories: values.iter().map(|v| v.to_string()).collect(),
            null_share: 0.05,
        }
    }

    /// The typed column loops give exactly what `Kind::encode` gives cell by cell: numbers,
    /// text and numeric categories, nulls, NaN, −0, unseen categories, out-of-range numbers,
    /// and text looked up without the hash table.
    #[test]
    fn column_loops_encode_like_cell_by_cell() {
        let feature = |column: &str, kind: Kind| Feature {
            name: column.into(),
            column: column.into(),
            reference_index: 0,
            kind,
        };
        let numeric = Kind::Numeric {
            median: 2.0,
            scale: 0.5,
            edges: vec![1.0, 2.0, 3.0],
            min: 0.0,
            max: 4.0,
        };
        let enc = Encoder {
            features: vec![
                feature("n", numeric.clone()),
                feature("ni", numeric),
                feature("n", Kind::Missing),
                feature("t", frequency(&["a", "b", "é", "1"], true)),
                feature("t2", frequency(&["a", "b", "é", "1"], false)),
                feature("k", frequency(&["-3", "0", "1", "2.5", "x"], true)),
                feature("kf", frequency(&["-3", "0", "1", "2.5", "x"], true)),
                feature("absent", frequency(&["a"], true)),
            ],
        };
        let t = || {
            Arc::new(StringArray::from(vec![
                Some("a"),
                None,
                Some("z"),
                Some("é"),
                Some("1"),
                Some("b"),
                Some(""),
            ])) as ArrayRef
        };
        let cols: Vec<(&str, ArrayRef)> = vec![
            (
                "n",
                Arc::new(Float64Array::from(vec![
                    Some(1.5),
                    None,
                    Some(f64::NAN),
                    Some(-1.0),
                    Some(9.0),
                    Some(2.0),
                    Some(f64::INFINITY),
                ])),
            ),
            (
                "ni",
                Arc::new(Int64Array::from(vec![
                    Some(0),
                    Some(3),
                    None,
                    Some(-5),
                    Some(4),
                    Some(2),
                    Some(1 << 40),
                ])),
            ),
            ("t", t()),
            ("t2", t()),
            (
                "k",
                Arc::new(Int64Array::from(vec![
                    Some(-3),
                    Some(0),
                    None,
                    Some(1),
                    Some(2),
                    Some(7),
                    Some(1),
                ])),
            ),
            (
                "kf",
                Arc::new(Float64Array::from(vec![
                    Some(2.5),
                    Some(-0.0),
                    Some(f64::NAN),
                    None,
                    Some(1.0),
                    Some(2.4999),
                    Some(-3.0),
                ])),
            ),
        ];
        let schema = Schema::new(
            cols.iter()
                .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
                .collect::<Vec<_>>(),
        );
        let batch = RecordBatch::try_new(Arc::new(schema), cols.into_iter().map(|c| c.1).collect())
            .unwrap();
        let (mut out, mut codes) = (Vec::new(), Vec::new());
        enc.encode_batch(&batch, &mut out, &mut codes);
        let d = enc.dim();
        for i in 0..batch.num_rows() {
            for (j, f) in enc.features.iter().enumerate() {
                let cell = match batch.column_by_name(&f.column) {
                    Some(a) => cell_of(a.as_ref(), i),
                    None => Cell::Missing,
                };
                let (v, c) = f.kind.encode(&cell);
                assert_eq!(
                    out[i * d + j].to_bits(),
                    v.to_bits(),
                    "row {i} `{}`",
                    f.column
                );
                assert_eq!(codes[i * d + j], c, "row {i} `{}`", f.column);
            }
        }
        // The typed loops did the work, except where they leave it to `Kind::encode`: text
        // without its hash table, and the absent column.
        let mut hashes = Vec::new();
        let (mut o, mut c) = (vec![0.0; out.len()], vec![0; codes.len()]);
        let typed: Vec<bool> = enc
            .features
            .iter()
            .enumerate()
            .map(|(j, f)| {
                batch.column_by_name(&f.column).is_some_and(|a| {
                    enc.encode_column(j, &f.kind, a.as_ref(), &mut hashes, &mut o, &mut c)
                })
            })
            .collect();
        assert_eq!(typed, [true, true, true, true, false, true, true, false]);
        // And the values are the ones meant: "é" has code 2 and share 0.3; "z" and 7 are unseen;
        // −0 is the category "0"; null text has the null share.
        let at = |i: usize, j: usize| (out[i * d + j], codes[i * d + j]);
        assert_eq!(at(3, 3), (0.30000000000000004, 2));
        assert_eq!(at(2, 3), (0.0, UNSEEN_CODE));
        assert_eq!(at(1, 3), (0.05, NULL_CODE));
        assert_eq!(at(5, 5), (0.0, UNSEEN_CODE));
        assert_eq!(at(1, 6), (0.2, 1));
        assert_eq!(at(0, 0), (-1.0, 1));
        assert_eq!(at(4, 0).1, ABOVE_CODE);
        // The missing-value indicator: null and NaN are missing, numbers are not.
        assert_eq!(
            [at(0, 2), at(1, 2), at(2, 2)],
            [(0.0, 0), (1.0, 1), (1.0, 1)]
        );
    }
}
