//! The report contract as JSON Schema (`schema/`): `poisonscan schema` prints the files, the
//! schemas are valid draft 2020-12, they reject reports that drift from the contract, and the
//! rows file has exactly the columns, Arrow types and nullability the rows schema records.

mod common;

use std::path::Path;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type, UInt64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Value, json};

use common::root;

use common::bin;

fn schema_file(name: &str) -> String {
    std::fs::read_to_string(root().join("schema").join(name)).expect("schema file")
}

#[test]
fn schema_command_prints_the_schema_files() {
    let report = schema_file("report.schema.json");
    let rows = schema_file("rows.schema.json");
    assert_eq!(poisonscan::report::REPORT_SCHEMA, report);
    assert_eq!(poisonscan::report::ROWS_SCHEMA, rows);
    for (args, want) in [
        (&["schema"][..], &report),
        (&["schema", "report"][..], &report),
        (&["schema", "rows"][..], &rows),
    ] {
        let o = bin(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        assert_eq!(String::from_utf8(o.stdout).unwrap(), *want, "{args:?}");
    }
    // Both are valid JSON Schema documents of draft 2020-12.
    for text in [&report, &rows] {
        let schema: Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        if let Err(e) = jsonschema::meta::validate(&schema) {
            panic!("not a valid schema: {e}");
        }
    }
    let o = bin(&["schema", "profile"]);
    assert_eq!(o.status.code(), Some(2));
    let help = String::from_utf8(bin(&["--help"]).stdout).unwrap();
    assert!(
        help.contains("schema") && help.contains("Print the JSON Schema"),
        "{help}"
    );
}

/// The demo's report (it has findings of every family, slices, nulls and the score bins).
fn demo_report() -> Value {
    let o = bin(&[
        "scan",
        "datasets/demo/current",
        "--baseline",
        "datasets/demo/baseline",
        "--label",
        "label",
        "--id",
        "customer_id",
        "--fail-on",
        "never",
        "--format",
        "json",
        "-q",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    common::report(&o.stdout)
}

/// A change that breaks the contract: what it is, the change, a place the errors must name.
type Case = (&'static str, fn(&mut Value), &'static str);

/// The schema bites: a report that drifts from the contract is rejected, with the place named.
#[test]
fn schema_rejects_reports_that_drift_from_the_contract() {
    let good = demo_report();
    assert!(common::report_errors(&good).is_empty());
    let broken = |change: fn(&mut Value)| {
        let mut r = good.clone();
        change(&mut r);
        common::report_errors(&r)
    };
    let cases: [Case; 8] = [
        (
            "unknown top-level field",
            |r| {
                r["verdict_reason"] = json!("x");
            },
            "verdict_reason",
        ),
        (
            "finding without `code`",
            |r| {
                r["findings"][0].as_object_mut().unwrap().remove("code");
            },
            "/findings/0",
        ),
        (
            "wrong severity",
            |r| r["findings"][1]["severity"] = json!("critical"),
            "/findings/1/severity",
        ),
        (
            "schema_version 2",
            |r| r["schema_version"] = json!(2),
            "/schema_version",
        ),
        (
            "unknown field in a finding",
            |r| r["findings"][0]["confidence"] = json!(0.5),
            "/findings/0",
        ),
        (
            "`between` without bounds",
            |r| r["findings"][0]["slice"] = json!([{"column": "age", "op": "between"}]),
            "/findings/0/slice/0",
        ),
        (
            "a count that is not an integer",
            |r| r["counts"]["high"] = json!(1.5),
            "/counts/high",
        ),
        (
            "`run` without its seed",
            |r| {
                r["run"].as_object_mut().unwrap().remove("seed");
            },
            "/run",
        ),
    ];
    for (what, change, at) in cases {
        let errors = broken(change);
        assert!(!errors.is_empty(), "{what}: accepted");
        assert!(
            errors.iter().any(|e| e.contains(at)),
            "{what}: no error names `{at}`: {errors:?}"
        );
    }
    // Fields written as null where the contract allows it, and absent where the report leaves
    // them out, are both fine.
    let mut r = good.clone();
    r["baseline"] = Value::Null;
    r["findings"][0]["p_value"] = Value::Null;
    r.as_object_mut().unwrap().remove("scores");
    assert_eq!(common::report_errors(&r), Vec::<String>::new());
}

/// The rows schema's `x-arrow` type of an Arrow data type (`input` stands for the id column's
/// own type, compared separately).
fn arrow_type(t: &DataType) -> Value {
    match t {
        DataType::List(item) => json!({
            "type": "List",
            "item": {"type": arrow_type(item.data_type())["type"], "nullable": item.is_nullable()},
        }),
        t => json!({"type": format!("{t:?}")}),
    }
}

/// One cell as the rows schema's JSON (null where the column is null).
fn cell(col: &ArrayRef, i: usize) -> Value {
    if col.is_null(i) {
        return Value::Null;
    }
    match col.data_type() {
        DataType::Utf8 => json!(col.as_string::<i32>().value(i)),
        DataType::UInt64 => json!(col.as_primitive::<UInt64Type>().value(i)),
        DataType::Int64 => json!(col.as_primitive::<Int64Type>().value(i)),
        // A NaN becomes null, which the schema rejects for a column that is never null.
        DataType::Float64 => {
            serde_json::Number::from_f64(col.as_primitive::<Float64Type>().value(i))
                .map_or(Value::Null, Value::Number)
        }
        DataType::List(_) => {
            let items = col.as_list::<i32>().value(i);
            Value::Array((0..items.len()).map(|k| cell(&items, k)).collect())
        }
        t => panic!("no JSON for Arrow type {t:?} in the rows file"),
    }
}

/// Scan with `--rows-out`, then check the file's Arrow schema against the rows schema's
/// `x-arrow` annotations and every row against the rows schema. Returns the rows read.
fn check_rows_file(args: &[&str], id_type: Option<&DataType>, dir: &Path) -> Vec<Value> {
    let path = dir.join("rows.parquet");
    let mut all = args.to_vec();
    all.extend(["--fail-on", "never", "--format", "json", "-q"]);
    all.extend(["--rows-out", path.to_str().unwrap()]);
    let o = bin(&all);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    common::report(&o.stdout);

    let schema: Value = serde_json::from_str(poisonscan::report::ROWS_SCHEMA).unwrap();
    let validator = jsonschema::draft202012::new(&schema).expect("the rows schema compiles");
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let file_schema = arrow::array::RecordBatchReader::schema(&reader);
    // The columns, in the schema's order; `id` only with `--id`.
    let want: Vec<&str> = schema["x-arrow-columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .filter(|c| *c != "id" || id_type.is_some())
        .collect();
    let names: Vec<&str> = file_schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(names, want);
    let props = schema["properties"].as_object().unwrap();
    let mut columns: Vec<&str> = schema["x-arrow-columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    columns.sort_unstable();
    let mut properties: Vec<&str> = props.keys().map(String::as_str).collect();
    properties.sort_unstable();
    assert_eq!(properties, columns, "one property per column");
    for field in file_schema.fields() {
        let declared = &props[field.name()]["x-arrow"];
        assert_eq!(
            declared["nullable"],
            field.is_nullable(),
            "nullability of `{}`",
            field.name()
        );
        let mut got = arrow_type(field.data_type());
        if declared["type"] == "input" {
            assert_eq!(
                Some(field.data_type()),
                id_type,
                "`id` keeps the id column's type"
            );
            got["type"] = json!("input");
        }
        got["nullable"] = json!(field.is_nullable());
        assert_eq!(&got, declared, "Arrow type of `{}`", field.name());
    }
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        for i in 0..batch.num_rows() {
            let row: serde_json::Map<String, Value> = file_schema
                .fields()
                .iter()
                .zip(batch.columns())
                .map(|(f, c)| (f.name().clone(), cell(c, i)))
                .collect();
            let row = Value::Object(row);
            if let Some(e) = validator.iter_errors(&row).next() {
                panic!(
                    "row {} breaks the rows schema at `{}`: {e}\n{row}",
                    rows.len(),
                    e.instance_path()
                );
            }
            rows.push(row);
        }
    }
    rows
}

/// The demo with `--label` and `--id`: every column present, each row valid, and the flags and
/// nulls the demo's problems put there.
#[test]
fn rows_file_has_the_columns_and_types_of_the_rows_schema() {
    let dir = tempfile::tempdir().unwrap();
    let id_type = ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(root().join("datasets/demo/current/part-0.parquet")).unwrap(),
    )
    .unwrap()
    .schema()
    .field_with_name("customer_id")
    .unwrap()
    .data_type()
    .clone();
    let rows = check_rows_file(
        &[
            "scan",
            "datasets/demo/current",
            "--baseline",
            "datasets/demo/baseline",
            "--label",
            "label",
            "--id",
            "customer_id",
        ],
        Some(&id_type),
        dir.path(),
    );
    assert_eq!(rows.len(), 81_500);
    let count = |p: &dyn Fn(&Value) -> bool| rows.iter().filter(|r| p(r)).count();
    // The 1,500 planted copies and the rows they copy share duplicate groups; the rest are null.
    assert_eq!(count(&|r| !r["duplicate_group"].is_null()), 3_000);
    assert_eq!(count(&|r| r["label_issue_score"].is_null()), 0);
    for code in ["OUT001", "LBL002", "LBL003"] {
        assert!(
            count(&|r| r["codes"].as_array().unwrap().contains(&json!(code))) > 0,
            "no row flagged {code}"
        );
    }
}

/// Without `--label` and `--id`: no `id` column, and the label columns null in every row.
#[test]
fn rows_file_without_label_or_id_follows_the_rows_schema() {
    let dir = tempfile::tempdir().unwrap();
    let rows = check_rows_file(
        &[
            "scan",
            "datasets/demo/current/part-0.parquet",
            "--baseline",
            "datasets/demo/baseline/part-0.parquet",
        ],
        None,
        dir.path(),
    );
    assert_eq!(rows.len(), 20_000);
    assert!(rows.iter().all(|r| r["label_issue_score"].is_null()
        && r["label_confidence"].is_null()
        && r.get("id").is_none()));
}
