//! The baseline checks on real data (copied into `datasets/real/`, see datasets/README.md):
//! random halves of one dataset raise nothing at medium or high, a real drift is found, and
//! the demo's injected problems are named at the right column or file.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use arrow::array::{Array, ArrayRef, BooleanArray, Float64Array, RecordBatch};
use arrow::compute::filter_record_batch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use common::root;

fn scan(current: &[&Path], baseline: &Path, extra: &[&str]) -> Value {
    scan_in(&root(), current, baseline, extra)
}

/// Scan from folder `cwd` (relative paths keep the report's source names the same whatever the
/// temporary folder is called; the sample hashes file names only).
fn scan_in(cwd: &Path, current: &[&Path], baseline: &Path, extra: &[&str]) -> Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_poisonscan"));
    cmd.arg("scan")
        .args(current)
        .arg("--baseline")
        .arg(baseline);
    cmd.args(["--format", "json", "--fail-on", "never", "--quiet"]);
    cmd.args(extra);
    let o = cmd.current_dir(cwd).output().expect("run poisonscan");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    common::report(&o.stdout)
}

fn findings(r: &Value) -> &Vec<Value> {
    r["findings"].as_array().unwrap()
}

fn summary(r: &Value) -> Vec<String> {
    findings(r)
        .iter()
        .map(|f| format!("{} {} {}", f["severity"], f["code"], f["title"]))
        .collect()
}

/// Split a Parquet file's rows at random (seeded) into two Parquet files.
fn halves(src: &Path, dir: &Path, seed: u64) -> (PathBuf, PathBuf) {
    halves_with(src, dir, seed, &|_, _| None)
}

/// [`halves`], but a row for which `pin` says `Some(true)` goes to the first file, `Some(false)`
/// to the second.
fn halves_with(
    src: &Path,
    dir: &Path,
    seed: u64,
    pin: &dyn Fn(&arrow::record_batch::RecordBatch, usize) -> Option<bool>,
) -> (PathBuf, PathBuf) {
    let file = std::fs::File::open(src).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let (a, b) = (dir.join("a.parquet"), dir.join("b.parquet"));
    let mut wa: Option<ArrowWriter<std::fs::File>> = None;
    let mut wb: Option<ArrowWriter<std::fs::File>> = None;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for batch in reader {
        let batch = batch.unwrap();
        let mask: Vec<bool> = (0..batch.num_rows())
            .map(|i| {
                let coin: bool = rng.random();
                pin(&batch, i).unwrap_or(coin)
            })
            .collect();
        let keep = BooleanArray::from(mask.clone());
        let drop = BooleanArray::from(mask.iter().map(|m| !m).collect::<Vec<_>>());
        for (w, path, m) in [(&mut wa, &a, &keep), (&mut wb, &b, &drop)] {
            let part = filter_record_batch(&batch, m).unwrap();
            w.get_or_insert_with(|| {
                ArrowWriter::try_new(std::fs::File::create(path).unwrap(), part.schema(), None)
                    .unwrap()
            })
            .write(&part)
            .unwrap();
        }
    }
    wa.unwrap().close().unwrap();
    wb.unwrap().close().unwrap();
    (a, b)
}

fn assert_quiet_halves(file: &str, extra: &[&str]) {
    assert_quiet_splits(file, extra, &[1, 2, 3]);
}

fn assert_quiet_splits(file: &str, extra: &[&str], seeds: &[u64]) {
    for &seed in seeds {
        let dir = tempfile::tempdir().unwrap();
        halves(&root().join(file), dir.path(), seed);
        let r = scan_in(
            dir.path(),
            &[Path::new("a.parquet")],
            Path::new("b.parquet"),
            extra,
        );
        let loud: Vec<String> = findings(&r)
            .iter()
            .filter(|f| f["severity"] == "high" || f["severity"] == "medium")
            .map(|f| format!("{} {}", f["code"], f["title"]))
            .collect();
        assert!(loud.is_empty(), "{file} seed {seed}: {loud:?}");
    }
}

#[test]
fn random_halves_of_adult_raise_nothing_loud() {
    assert_quiet_halves("datasets/real/adult.parquet", &["--label", "label"]);
}

/// Wine quality: 7 classes, the rarest (grade 9) on 5 rows, and many exact duplicate rows, in
/// groups. Twenty random halves raise nothing loud, though a half's duplicate rate varies by
/// points (its duplicates come in groups, so DUP001 and DUP002 count each group as one draw).
#[test]
fn random_halves_of_wine_quality_raise_nothing_loud() {
    let seeds: Vec<u64> = (1..=20).collect();
    assert_quiet_splits(
        "datasets/real/wine_quality.parquet",
        &["--label", "label"],
        &seeds,
    );
}

/// The split that leaves wine's rarest grade out of the baseline (all 5 rows in the current
/// half, as 1 random split in 32 does) is reported as a new label class, at low: the exact
/// test's p-value C(n_cur, 5)/C(N, 5) is about 0.03, computed here by hand.
#[test]
fn a_rare_class_a_split_left_out_of_the_baseline_is_low() {
    let dir = tempfile::tempdir().unwrap();
    let grade_9 = |b: &arrow::record_batch::RecordBatch, i: usize| {
        let labels = b.column_by_name("label").unwrap();
        let labels = arrow::compute::cast(labels, &arrow::datatypes::DataType::Int64).unwrap();
        let labels = labels
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .unwrap();
        (labels.value(i) == 9).then_some(true)
    };
    let (a, b) = halves_with(
        &root().join("datasets/real/wine_quality.parquet"),
        dir.path(),
        7,
        &grade_9,
    );
    let (n_cur, n_base) = (parquet_rows(&a), parquet_rows(&b));
    let r = scan_in(
        dir.path(),
        &[Path::new("a.parquet")],
        Path::new("b.parquet"),
        &["--label", "label"],
    );
    let f: Vec<&Value> = findings(&r)
        .iter()
        .filter(|f| f["code"] == "SCH006")
        .collect();
    assert_eq!(f.len(), 1, "{:?}", summary(&r));
    assert_eq!(f[0]["severity"], "low");
    assert_eq!(f[0]["rows"], 5);
    let n = (n_cur + n_base) as f64;
    let exact: f64 = (0..5)
        .map(|i| (n_cur as f64 - i as f64) / (n - i as f64))
        .product();
    let p = f[0]["p_value"].as_f64().unwrap();
    assert!((p / exact - 1.0).abs() < 1e-4, "{p} against {exact}");
    assert!(exact > 0.01 && exact < 0.05, "{exact}");
}

#[test]
fn random_halves_of_acs_2015_raise_nothing_loud() {
    assert_quiet_halves(
        "datasets/real/acs_ma_2015.parquet",
        &["--label", "label", "--exclude", "year"],
    );
}

/// ACS employment, Massachusetts, 2018 against 2015: the age top-code moved (ages above 94
/// exist only in 2018) and the ancestry mix shifted by 4 points. Both must be reported, at the
/// right column, without a medium or high alarm (neither is a poisoning). The rows aged 95 are
/// no more outlying than the baseline's oldest: OUT001 may note them, at low at most.
#[test]
fn acs_2018_against_2015_finds_the_real_changes() {
    let r = scan(
        &[&root().join("datasets/real/acs_ma_2018.parquet")],
        &root().join("datasets/real/acs_ma_2015.parquet"),
        &["--label", "label", "--exclude", "year"],
    );
    let f = findings(&r);
    let has = |code: &str, col: &str| {
        f.iter()
            .any(|x| x["code"] == code && x["columns"][0] == col)
    };
    assert!(has("SCH004", "AGEP"), "{:?}", summary(&r));
    assert!(has("DRF002", "ANC"), "{:?}", summary(&r));
    let age = f.iter().find(|x| x["code"] == "SCH004").unwrap();
    assert_eq!(age["evidence"]["baseline_max"], 94.0);
    assert!(
        !f.iter().any(|x| x["severity"] == "high"),
        "{:?}",
        summary(&r)
    );
}

fn demo() -> Value {
    scan(
        &[&root().join("datasets/demo/current")],
        &root().join("datasets/demo/baseline"),
        &["--label", "label", "--id", "customer_id"],
    )
}

/// The demo's injected problems (datasets/README.md) at the right column or file.
#[test]
fn demo_problems_are_named_where_they_were_injected() {
    let r = demo();
    let f = findings(&r);
    let find = |code: &str, pred: &dyn Fn(&Value) -> bool| -> Option<&Value> {
        f.iter().find(|x| x["code"] == code && pred(x))
    };
    let source_is = |x: &Value, file: &str| {
        x["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_str().unwrap().ends_with(file))
    };
    let column_is = |x: &Value, col: &str| x["columns"][0] == col;
    let show = summary(&r);
    // The drifted column.
    assert!(
        find("DRF001", &|x| column_is(x, "debt_ratio")).is_some(),
        "{show:?}"
    );
    // The replayed part file.
    let replay = find("INT002", &|x| source_is(x, "current/part-3.parquet")).expect("replay");
    assert_eq!(replay["severity"], "high");
    assert!(
        replay["evidence"]["baseline_source"]
            .as_str()
            .unwrap()
            .ends_with("baseline/part-1.parquet")
    );
    // The duplicated rows: in part-2, copies of part-0.
    let dup = find("DUP001", &|_| true).expect("duplicates");
    assert_eq!(dup["rows"], 1500);
    assert!(source_is(dup, "current/part-2.parquet"));
    // Schema problems: the new category, the unit change, the null-rate jump, the trigger.
    assert!(
        find("SCH003", &|x| column_is(x, "channel")
            && x["slice"][0]["value"] == "crypto-app"
            && source_is(x, "current/part-0.parquet"))
        .is_some(),
        "{show:?}"
    );
    let unit = find("SCH005", &|x| column_is(x, "income")).expect("unit change");
    assert!(source_is(unit, "current/part-0.parquet"));
    assert_eq!(unit["effect"]["value"], -3.0);
    assert!(find("SCH002", &|x| column_is(x, "employment")).is_some());
    let trigger = find("SCH003", &|x| column_is(x, "promo_code")).expect("trigger value");
    assert_eq!(trigger["slice"][0]["value"], "ZX-99");
    assert_eq!(trigger["severity"], "high");
    assert!(source_is(trigger, "current/part-2.parquet"));
    // The backdoor trigger as a rule: `promo_code` = `ZX-99` → label 1, on exactly the 300
    // planted rows (part-2, rows 0–299).
    let rule = find("TRG001", &|x| x["slice"][0]["column"] == "promo_code").expect("trigger rule");
    assert_eq!(rule["slice"][0]["value"], "ZX-99");
    assert_eq!(rule["slice"].as_array().unwrap().len(), 1);
    assert_eq!(rule["severity"], "high");
    assert_eq!(rule["rows"], 300);
    assert_eq!(rule["evidence"]["label"], "1");
    assert_eq!(rule["evidence"]["confidence"], 1.0);
    for e in rule["example_rows"].as_array().unwrap() {
        assert!(
            e["source"]
                .as_str()
                .unwrap()
                .ends_with("current/part-2.parquet")
        );
        assert!(e["row"].as_u64().unwrap() < 300, "{e}");
    }
    // The drift of one file (income in thousands) is pinned to it.
    let one = find("DRF004", &|x| source_is(x, "current/part-0.parquet")).expect("source drift");
    assert!(
        one["columns"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "income")
    );
    // The outlier block's num_accounts values are beyond the baseline's range, in part-2.
    let out = find("SCH004", &|x| column_is(x, "num_accounts")).expect("out of range");
    assert_eq!(out["rows"], 200);
    assert!(source_is(out, "current/part-2.parquet"));
    // The row pass flags the outlier block, every row of it, and names it by its rows (part-2,
    // rows 300–499) and by the two columns that make it extreme.
    let block = find("OUT001", &|x| {
        x["slice"][0]["column"] == "num_accounts" && x["slice"][0]["op"] == "ge"
    })
    .expect("outlier block");
    assert_eq!(block["severity"], "high");
    assert_eq!(block["rows"], 200);
    assert_eq!(block["evidence"]["rows_in_group"], 200);
    for e in block["example_rows"].as_array().unwrap() {
        assert!(
            e["source"]
                .as_str()
                .unwrap()
                .ends_with("current/part-2.parquet")
        );
        assert!((300..500).contains(&e["row"].as_u64().unwrap()), "{e}");
    }
    let top: Vec<&str> = block["evidence"]["top_features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["feature"].as_str().unwrap())
        .collect();
    assert!(
        top[..2].contains(&"num_accounts") && top[..2].contains(&"income"),
        "{top:?}"
    );
    // The unit-changed file's rows are outliers too: that file, not the others.
    let file = find("OUT001", &|x| {
        x["slice"].as_array().unwrap().is_empty() && !x["sources"].as_array().unwrap().is_empty()
    })
    .expect("file of outliers");
    assert_eq!(file["sources"].as_array().unwrap().len(), 1);
    assert!(source_is(file, "current/part-0.parquet"));
    // The replayed file's rows are the baseline's own: no OUT001 names it.
    assert!(find("OUT001", &|x| source_is(x, "current/part-3.parquet")).is_none());
}

/// Column `name` of an Int64 column with each value replaced by `f(row, value)`.
fn map_i64(
    b: &arrow::array::RecordBatch,
    name: &str,
    f: impl Fn(usize, i64) -> i64,
) -> arrow::array::ArrayRef {
    use arrow::array::AsArray;
    let v = b
        .column_by_name(name)
        .unwrap()
        .as_primitive::<arrow::datatypes::Int64Type>();
    std::sync::Arc::new(arrow::array::Int64Array::from_iter_values(
        (0..b.num_rows()).map(|i| f(i, v.value(i))),
    ))
}

/// The same for an Int8 column (Adult's label).
fn map_i8(
    b: &arrow::array::RecordBatch,
    name: &str,
    f: impl Fn(usize, i8) -> i8,
) -> arrow::array::ArrayRef {
    use arrow::array::AsArray;
    let v = b
        .column_by_name(name)
        .unwrap()
        .as_primitive::<arrow::datatypes::Int8Type>();
    std::sync::Arc::new(arrow::array::Int8Array::from_iter_values(
        (0..b.num_rows()).map(|i| f(i, v.value(i))),
    ))
}

/// Rewrite a Parquet file into one batch, replacing columns by `edit(name, column)`.
fn rewrite(
    src: &Path,
    dst: &Path,
    edit: impl Fn(&str, &arrow::array::RecordBatch) -> Option<arrow::array::ArrayRef>,
) {
    let file = std::fs::File::open(src).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<_> = reader.map(|b| b.unwrap()).collect();
    let batch = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    let columns: Vec<arrow::array::ArrayRef> = batch
        .schema()
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| edit(f.name(), &batch).unwrap_or_else(|| batch.column(i).clone()))
        .collect();
    // The schema follows the columns (an edit may change a column's type).
    let names: Vec<String> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let out = arrow::array::RecordBatch::try_from_iter(names.into_iter().zip(columns)).unwrap();
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(dst).unwrap(), out.schema(), None).unwrap();
    w.write(&out).unwrap();
    w.close().unwrap();
}

/// Attacks on a random half of Adult, the other half the baseline (scripts/label_attacks.py
/// runs these and more over several seeds; reports/labels.md):
/// - a Tabdoor-style out-of-range trigger: `hours_per_week` = 100 (the maximum is 99) on every
///   1000th row (0.1%), labelled 1: TRG001 names the rule on exactly those rows;
/// - a targeted flip: every second positive of `education` = `Masters` relabelled 0: the top
///   LBL001 finding names that category.
#[test]
fn adult_trigger_and_targeted_flip_are_named() {
    use arrow::array::{Array, AsArray, Int8Array};
    use arrow::datatypes::Int8Type;
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = halves(&root().join("datasets/real/adult.parquet"), dir.path(), 1);
    let planted = |i: usize| i % 1000 == 500;
    rewrite(
        &a,
        &dir.path().join("trigger.parquet"),
        |name, b| match name {
            "hours_per_week" => Some(map_i64(b, name, |i, v| if planted(i) { 100 } else { v })),
            "label" => Some(map_i8(b, name, |i, v| if planted(i) { 1 } else { v })),
            _ => None,
        },
    );
    let r = scan_in(
        dir.path(),
        &[Path::new("trigger.parquet")],
        Path::new("b.parquet"),
        &["--label", "label", "--exclude", "split"],
    );
    let f = findings(&r);
    let rule = f
        .iter()
        .find(|x| x["code"] == "TRG001" && x["slice"][0]["column"] == "hours_per_week")
        .unwrap_or_else(|| panic!("{:?}", summary(&r)));
    assert_eq!(rule["slice"].as_array().unwrap().len(), 1);
    assert_eq!(rule["slice"][0]["op"], "ge");
    assert_eq!(rule["slice"][0]["value"].as_f64(), Some(99f64.next_up()));
    let rows = (0..parquet_rows(&a)).filter(|&i| planted(i)).count();
    assert_eq!(rule["rows"], rows);
    assert_eq!(rule["evidence"]["label"], "1");
    assert_ne!(rule["severity"], "low");
    for e in rule["example_rows"].as_array().unwrap() {
        assert!(planted(e["row"].as_u64().unwrap() as usize), "{e}");
    }

    rewrite(&a, &dir.path().join("flip.parquet"), |name, b| {
        if name != "label" {
            return None;
        }
        let v = b.column_by_name(name).unwrap().as_primitive::<Int8Type>();
        let edu = arrow::compute::cast(
            b.column_by_name("education").unwrap(),
            &arrow::datatypes::DataType::Utf8,
        )
        .unwrap();
        let edu = edu.as_string::<i32>();
        let mut positives = 0;
        let out: Vec<i8> = (0..b.num_rows())
            .map(|i| {
                let masters = !edu.is_null(i) && edu.value(i) == "Masters";
                if masters && v.value(i) == 1 {
                    positives += 1;
                    if positives % 2 == 0 {
                        return 0;
                    }
                }
                v.value(i)
            })
            .collect();
        Some(std::sync::Arc::new(Int8Array::from(out)))
    });
    let r = scan_in(
        dir.path(),
        &[Path::new("flip.parquet")],
        Path::new("b.parquet"),
        &["--label", "label", "--exclude", "split"],
    );
    let top = findings(&r)
        .iter()
        .find(|x| x["code"] == "LBL001")
        .unwrap_or_else(|| panic!("{:?}", summary(&r)));
    assert_eq!(top["slice"][0]["column"], "education", "{:?}", summary(&r));
    assert_eq!(top["slice"][0]["value"], "Masters");
    assert_eq!(top["evidence"]["label"], "1");
    assert!(top["effect"]["value"].as_f64().unwrap() < -0.2, "{top}");
}

/// The rows of a Parquet file.
fn parquet_rows(path: &Path) -> usize {
    let file = std::fs::File::open(path).unwrap();
    ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .metadata()
        .file_metadata()
        .num_rows() as usize
}

/// SLC001 on Adult: every positive label flipped to 0 where `education` = Bachelors and `sex` =
/// Female (a conjunction: each predicate alone is a broad slice), and the top SLC finding names
/// exactly that conjunction and the label, with the label shares on both sides and example rows
/// that are flipped rows. (`reports/slices.md` has the seeds and the other attacks.)
#[test]
fn adult_conjunction_flip_is_named_by_slice_finding() {
    use arrow::array::{Array, AsArray, Int8Array};
    use arrow::datatypes::Int8Type;
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = halves(&root().join("datasets/real/adult.parquet"), dir.path(), 2);
    let text = |b: &arrow::array::RecordBatch, c: &str| {
        arrow::compute::cast(
            b.column_by_name(c).unwrap(),
            &arrow::datatypes::DataType::Utf8,
        )
        .unwrap()
    };
    let flipped = std::sync::Mutex::new(Vec::new());
    let first = std::sync::Mutex::new(0usize);
    rewrite(&a, &dir.path().join("flip.parquet"), |name, b| {
        if name != "label" {
            return None;
        }
        let v = b.column_by_name(name).unwrap().as_primitive::<Int8Type>();
        let (edu, sex) = (text(b, "education"), text(b, "sex"));
        let (edu, sex) = (edu.as_string::<i32>(), sex.as_string::<i32>());
        let mut start = first.lock().unwrap();
        let out: Vec<i8> = (0..b.num_rows())
            .map(|i| {
                let inside = !edu.is_null(i)
                    && !sex.is_null(i)
                    && edu.value(i) == "Bachelors"
                    && sex.value(i) == "Female";
                if inside && v.value(i) == 1 {
                    flipped.lock().unwrap().push((*start + i) as u64);
                    return 0;
                }
                v.value(i)
            })
            .collect();
        *start += b.num_rows();
        Some(std::sync::Arc::new(Int8Array::from(out)))
    });
    let flipped = flipped.into_inner().unwrap();
    assert!(flipped.len() > 150, "{}", flipped.len());
    // The slice's rows (all labelled 0 now), counted directly.
    let in_slice = {
        let file = std::fs::File::open(dir.path().join("flip.parquet")).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        let mut n = 0u64;
        for b in reader {
            let b = b.unwrap();
            let (edu, sex) = (text(&b, "education"), text(&b, "sex"));
            let (edu, sex) = (edu.as_string::<i32>(), sex.as_string::<i32>());
            n += (0..b.num_rows())
                .filter(|&i| {
                    !edu.is_null(i)
                        && !sex.is_null(i)
                        && edu.value(i) == "Bachelors"
                        && sex.value(i) == "Female"
                })
                .count() as u64;
        }
        n
    };
    let r = scan_in(
        dir.path(),
        &[Path::new("flip.parquet")],
        Path::new("b.parquet"),
        &["--label", "label", "--exclude", "split"],
    );
    let f = findings(&r);
    let top = f
        .iter()
        .find(|x| x["code"] == "SLC001")
        .unwrap_or_else(|| panic!("{:?}", summary(&r)));
    let mut preds: Vec<(String, String)> = top["slice"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["column"].as_str().unwrap().to_string(),
                p["value"].to_string(),
            )
        })
        .collect();
    preds.sort();
    assert_eq!(
        preds,
        [
            ("education".to_string(), "\"Bachelors\"".to_string()),
            ("label".to_string(), "0".to_string()),
            ("sex".to_string(), "\"Female\"".to_string()),
        ],
        "{:?}",
        summary(&r)
    );
    assert_eq!(top["severity"], "high");
    assert_eq!(top["evidence"]["signal"], "membership");
    // Every positive was flipped: the current side has no label 1 left in the slice.
    assert_eq!(top["evidence"]["label_shares_now"]["0"], 1.0);
    assert!(
        top["evidence"]["label_shares_baseline"]["1"]
            .as_f64()
            .unwrap()
            > 0.1
    );
    // Examples are the slice's rows labelled 0 that the baseline's model would label 1: most
    // are flipped rows (about a fifth of the slice's zeros are).
    let examples = top["example_rows"].as_array().unwrap();
    let hits = examples
        .iter()
        .filter(|e| flipped.contains(&e["row"].as_u64().unwrap()))
        .count();
    assert!(examples.len() == 5 && hits >= 3, "{hits} of {examples:?}");
    assert!(top["baseline_rows"].as_u64().unwrap() > 0);
    // A half of Adult is under the 50,000 rows a class the sample keeps: every row is in it
    // with weight 1, so the slice's rows are exact.
    assert_eq!(top["rows"].as_u64().unwrap(), in_slice);
}

/// TRG001 on Adult when a drift moves rows onto values: `hours_per_week` + (0..7) on a random
/// half (so 41, 46, 47… become common), and a 2-value Tabdoor trigger, `occupation` =
/// Priv-house-serv and `race` = Other labelled 1, on every 100th row. Every rule of 2 or 3 items
/// is tested against each item's other rows too: the planted rule passes, with those rows
/// counted here by hand, and every reported rule's p-value is the largest of its tests (pockets
/// such as "Handlers-cleaners and hours 41 → 0", which only repeat their occupation's usual
/// label, no longer pass; reports/labels.md).
#[test]
fn adult_trigger_rule_is_tested_against_each_item_elsewhere() {
    use arrow::array::{Array, AsArray, LargeStringArray};
    use arrow::datatypes::Int8Type;
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = halves(&root().join("datasets/real/adult.parquet"), dir.path(), 3);
    let planted = |i: usize| i % 100 == 7;
    // A shift unrelated to the planted rows (a multiplicative hash of the row).
    let shift = |i: usize| ((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 61) as i64;
    rewrite(&a, &dir.path().join("cur.parquet"), |name, b| {
        let n = b.num_rows();
        let text = |value: &str| -> Option<arrow::array::ArrayRef> {
            let v = b.column_by_name(name).unwrap().as_string::<i64>();
            Some(std::sync::Arc::new(LargeStringArray::from_iter(
                (0..n).map(|i| {
                    if planted(i) {
                        Some(value.to_string())
                    } else {
                        v.is_valid(i).then(|| v.value(i).to_string())
                    }
                }),
            )))
        };
        match name {
            "hours_per_week" => Some(map_i64(b, name, |i, v| v + shift(i))),
            "occupation" => text("Priv-house-serv"),
            "race" => text("Other"),
            "label" => Some(map_i8(b, name, |i, v| if planted(i) { 1 } else { v })),
            _ => None,
        }
    });
    let r = scan_in(
        dir.path(),
        &[Path::new("cur.parquet")],
        Path::new("b.parquet"),
        &["--label", "label", "--exclude", "split"],
    );
    let f = findings(&r);
    let rules: Vec<&Value> = f.iter().filter(|x| x["code"] == "TRG001").collect();
    for x in &rules {
        let cols: Vec<&str> = x["slice"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["column"].as_str().unwrap())
            .collect();
        let elsewhere = x["evidence"]["items_elsewhere"].as_array().unwrap();
        assert_eq!(elsewhere.len(), if cols.len() > 1 { cols.len() } else { 0 });
        for e in elsewhere.iter().filter(|e| !e.is_null()) {
            let p = e["p_value"].as_f64().unwrap();
            assert!(p <= x["p_value"].as_f64().unwrap(), "{x}");
            // The item's share elsewhere (its current rows, pooled with its baseline's where
            // those were weighed) is below the rule's confidence.
            let confidence = x["evidence"]["confidence"].as_f64().unwrap();
            let side = |rows: &str, share: &str| {
                let n = e[rows].as_f64().unwrap_or(0.0);
                (
                    n,
                    if n > 0.0 {
                        n * e[share].as_f64().unwrap()
                    } else {
                        0.0
                    },
                )
            };
            let ((n, k), (bn, bk)) = (
                side("rows", "label_share"),
                side("baseline_rows", "baseline_label_share"),
            );
            assert!(n + bn > 0.0 && (k + bk) / (n + bn) < confidence, "{x}");
        }
    }
    let rule = rules
        .iter()
        .find(|x| x["slice"].as_array().unwrap().len() == 2)
        .unwrap_or_else(|| panic!("{:?}", summary(&r)));
    assert_eq!(rule["slice"][0]["column"], "occupation");
    assert_eq!(rule["slice"][1]["column"], "race");
    assert_eq!(rule["evidence"]["label"], "1");
    // Each item's other rows, by hand from the file.
    let file = std::fs::File::open(dir.path().join("cur.parquet")).unwrap();
    let batches: Vec<_> = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect();
    let b = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    let occ = b.column_by_name("occupation").unwrap().as_string::<i64>();
    let race = b.column_by_name("race").unwrap().as_string::<i64>();
    let label = b
        .column_by_name("label")
        .unwrap()
        .as_primitive::<Int8Type>();
    let is = |c: &LargeStringArray, i: usize, v: &str| c.is_valid(i) && c.value(i) == v;
    let n = b.num_rows();
    let both = |i: usize| is(occ, i, "Priv-house-serv") && is(race, i, "Other");
    assert_eq!(rule["rows"], (0..n).filter(|&i| both(i)).count());
    for (k, column, value) in [(0, occ, "Priv-house-serv"), (1, race, "Other")] {
        let rest: Vec<usize> = (0..n)
            .filter(|&i| is(column, i, value) && !both(i))
            .collect();
        let ones = rest.iter().filter(|&&i| label.value(i) == 1).count();
        let e = &rule["evidence"]["items_elsewhere"][k];
        assert_eq!(e["rows"], rest.len(), "{e}");
        let share = ones as f64 / rest.len() as f64;
        assert!(
            (e["label_share"].as_f64().unwrap() - share).abs() < 1e-5,
            "{e} {share}"
        );
        assert!(e["p_value"].as_f64().unwrap() < 1e-10, "{e}");
    }
}

// ---- Numeric targets (regression): California housing, and wine's grade as a number ----

/// A report's incidents as (root, members in report order, the incident's JSON).
fn incidents(r: &Value) -> Vec<(usize, Vec<usize>, &Value)> {
    r["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let mut members = common::incident_members(i);
            let root = members[0];
            members.sort_unstable();
            (root, members, i)
        })
        .collect()
}

/// The incidents as lines, each root then what it explains (for failure messages).
fn show_incidents(r: &Value) -> Vec<String> {
    let f = findings(r);
    let mut out = Vec::new();
    for (root, members, _) in incidents(r) {
        out.push(format!("{} {}", f[root]["code"], f[root]["title"]));
        for m in members.into_iter().filter(|m| *m != root) {
            out.push(format!("    {} {}", f[m]["code"], f[m]["title"]));
        }
    }
    out
}

/// The incidents partition the findings: each finding is in exactly one, its `incident` is
/// that one, the incidents are in the order of their first finding, each carries its findings'
/// highest severity, and every explained finding kept at most half its excess without the root.
fn assert_incidents_partition(r: &Value) {
    let f = findings(r);
    let inc = incidents(r);
    let mut seen = vec![None; f.len()];
    for (k, (_, members, i)) in inc.iter().enumerate() {
        for &m in members {
            assert!(seen[m].is_none(), "finding {m} in two incidents");
            seen[m] = Some(k);
            assert_eq!(f[m]["incident"], k, "finding {m}");
        }
        let rank = |s: &Value| {
            ["info", "low", "medium", "high"]
                .iter()
                .position(|x| s == x)
        };
        let highest = members
            .iter()
            .filter_map(|&m| rank(&f[m]["severity"]))
            .max();
        assert_eq!(rank(&i["severity"]), highest, "{i}");
        for e in i["explains"].as_array().unwrap() {
            let (with, without) = (
                e["excess_rows"].as_f64().unwrap(),
                e["excess_rows_without_root"].as_f64().unwrap(),
            );
            assert!(with >= 1.0 && without <= 0.5 * with + 1e-9, "{e}");
        }
    }
    assert!(seen.iter().all(Option::is_some), "{seen:?}");
    let firsts: Vec<usize> = inc.iter().map(|(_, m, _)| m[0]).collect();
    assert!(firsts.windows(2).all(|w| w[0] < w[1]), "{firsts:?}");
}

/// The demo's findings grouped by cause: the first five incidents are five of the distinct
/// problems of datasets/README.md (the unit change, the replay, the null-rate jump, the
/// trigger, the outlier block), each with its symptoms under it; and a symptom on the same
/// rows but another column (the new `channel` category inside the unit-changed file) stays an
/// incident of its own.
#[test]
fn demo_incidents_are_its_distinct_problems() {
    let r = demo();
    assert_incidents_partition(&r);
    let f = findings(&r);
    let inc = incidents(&r);
    let first_column = |i: usize| f[i]["columns"][0].as_str().unwrap_or("").to_string();
    let roots: Vec<(String, String)> = inc
        .iter()
        .take(5)
        .map(|(root, _, _)| {
            (
                f[*root]["code"].as_str().unwrap().to_string(),
                first_column(*root),
            )
        })
        .collect();
    let want = [
        ("SCH005", "income"),
        ("INT002", ""),
        ("SCH002", "employment"),
        ("TRG001", "promo_code"),
        ("SCH004", "num_accounts"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(c, col)| (c.to_string(), col.to_string()))
        .collect();
    assert_eq!(roots, want, "{:?}", summary(&r));
    let incident_of = |code: &str, pred: &dyn Fn(&Value) -> bool| -> usize {
        let x = f
            .iter()
            .find(|x| x["code"] == code && pred(x))
            .unwrap_or_else(|| panic!("{code}: {:?}", summary(&r)));
        x["incident"].as_u64().unwrap() as usize
    };
    let on = |col: &'static str| move |x: &Value| x["columns"][0] == col;
    // The unit change explains the drift of `income` in the data and in its file, and the
    // outliers of its file; the replay explains the share of replayed rows.
    assert_eq!(incident_of("DRF001", &on("income")), 0);
    assert_eq!(incident_of("DRF004", &on("income")), 0);
    assert_eq!(
        incident_of("OUT001", &|x| x["slice"].as_array().unwrap().is_empty()
            && x["sources"].as_array().unwrap().len() == 1),
        0
    );
    assert_eq!(incident_of("INT004", &|_| true), 1);
    // The trigger's new category is the trigger, measured: its 300 rows are all excess (the
    // baseline has none), and none is left without the trigger's rows.
    let sch003 = f
        .iter()
        .position(|x| x["code"] == "SCH003" && x["columns"][0] == "promo_code")
        .unwrap();
    assert_eq!(f[sch003]["incident"], 3);
    let e = inc[3].2["explains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["finding"] == sch003)
        .unwrap();
    assert!(
        (e["excess_rows"].as_f64().unwrap() - 300.0).abs() <= 15.0,
        "{e}"
    );
    assert_eq!(e["excess_rows_without_root"].as_f64().unwrap(), 0.0);
    // The outlier block: its values out of range on both columns are one incident.
    let block = incident_of("SCH004", &on("num_accounts"));
    assert_eq!(
        incident_of("OUT001", &|x| x["slice"][0]["column"] == "income"
            && x["slice"][0]["op"] == "ge"),
        block
    );
    // The shifted `debt_ratio`: the drift explains the new maximum and the value spike (its
    // shift undone, neither is left).
    let drift = incident_of("DRF001", &on("debt_ratio"));
    assert_eq!(inc[drift].2["shift_undone"], "debt_ratio");
    assert_eq!(inc[drift].2["rows_set_aside"], Value::Null);
    assert_eq!(incident_of("SCH004", &on("debt_ratio")), drift);
    assert_eq!(incident_of("TRG002", &on("debt_ratio")), drift);
    // The new `channel` category lies inside the unit-changed file, on another column: its own.
    let crypto = incident_of("SCH003", &on("channel"));
    assert_eq!(
        inc[crypto].0,
        f.iter()
            .position(|x| x["code"] == "SCH003" && x["columns"][0] == "channel")
            .unwrap()
    );
    assert_ne!(crypto, 0);
    // The duplicates name no rows a sample can locate: their own incident.
    let dup = incident_of("DUP001", &|_| true);
    assert!(inc[dup].1.len() == 1);
}

/// The human summary lists one line per incident, each root with what it explains under it.
#[test]
fn the_summary_names_one_cause_a_line() {
    let o = common::bin(&[&common::DEMO_SCAN[..], &["--fail-on", "never"]].concat());
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("findings: "))
        .collect();
    assert!(
        lines[0].ends_with("in 9 incidents (a cause and what it explains)"),
        "{}",
        lines[0]
    );
    let heads: Vec<&str> = lines[1..]
        .iter()
        .filter(|l| l.starts_with("  ["))
        .map(|l| l[11..17].trim())
        .take(5)
        .collect();
    assert_eq!(
        heads,
        ["SCH005", "INT002", "SCH002", "TRG001", "SCH004"],
        "{text}"
    );
    assert!(
        lines[2]
            .trim_start()
            .starts_with("explains 12: DRF004, DRF001, OUT001 ×3"),
        "{}",
        lines[2]
    );
}

/// Two different attacks planted in one current set of Adult are two incidents: a backdoor
/// trigger (`hours_per_week` = 100, out of range, labelled 1 on every 200th row of one file)
/// and a unit change (`fnlwgt` in thousands in the other file). Neither incident holds a
/// finding about the other's column, and the unit change's drift findings are under it.
#[test]
fn two_attacks_in_one_current_set_are_two_incidents() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = halves(&root().join("datasets/real/adult.parquet"), dir.path(), 1);
    let split = dir.path().join("split");
    std::fs::create_dir(&split).unwrap();
    let (a1, a2) = halves(&a, &split, 7);
    let planted = |i: usize| i % 200 == 100;
    rewrite(
        &a1,
        &dir.path().join("trigger.parquet"),
        |name, b| match name {
            "hours_per_week" => Some(map_i64(b, name, |i, v| if planted(i) { 100 } else { v })),
            "label" => Some(map_i8(b, name, |i, v| if planted(i) { 1 } else { v })),
            _ => None,
        },
    );
    rewrite(&a2, &dir.path().join("thousands.parquet"), |name, b| {
        use arrow::array::AsArray;
        (name == "fnlwgt").then(|| {
            let v = b
                .column_by_name(name)
                .unwrap()
                .as_primitive::<arrow::datatypes::Int64Type>();
            std::sync::Arc::new(Float64Array::from_iter_values(
                (0..b.num_rows()).map(|i| v.value(i) as f64 / 1000.0),
            )) as ArrayRef
        })
    });
    let r = scan_in(
        dir.path(),
        &[Path::new("trigger.parquet"), Path::new("thousands.parquet")],
        Path::new("b.parquet"),
        &["--label", "label", "--exclude", "split"],
    );
    assert_incidents_partition(&r);
    let f = findings(&r);
    let index = |code: &str, col: &str| {
        f.iter()
            .position(|x| {
                x["code"] == code && (x["columns"][0] == col || x["slice"][0]["column"] == col)
            })
            .unwrap_or_else(|| panic!("{code} {col}: {:?}", summary(&r)))
    };
    let trigger = f[index("TRG001", "hours_per_week")]["incident"]
        .as_u64()
        .unwrap() as usize;
    let unit = f[index("SCH005", "fnlwgt")]["incident"].as_u64().unwrap() as usize;
    assert_ne!(trigger, unit, "{:?}", summary(&r));
    let inc = incidents(&r);
    assert_eq!(f[inc[unit].0]["code"], "SCH005", "{:?}", summary(&r));
    // Nothing under the trigger is about `fnlwgt` (a finding is about its first column and its
    // slice's; an outlier finding lists the features that make its rows outlying after them),
    // and nothing under the unit change is about the trigger's rows (`hours_per_week` > 99).
    let slice = |m: usize| f[m]["slice"].as_array().unwrap().clone();
    for &m in &inc[trigger].1 {
        assert!(
            f[m]["columns"][0] != "fnlwgt" && !slice(m).iter().any(|p| p["column"] == "fnlwgt"),
            "{}: {:#?}",
            f[m]["title"],
            show_incidents(&r)
        );
    }
    for &m in &inc[unit].1 {
        let on_trigger = slice(m).iter().any(|p| {
            p["column"] == "hours_per_week" && p["op"] == "ge" && p["value"].as_f64() > Some(99.0)
        });
        assert!(
            !on_trigger && !f[m]["code"].as_str().unwrap().starts_with("TRG"),
            "{}: {:#?}",
            f[m]["title"],
            show_incidents(&r)
        );
    }
    for x in f
        .iter()
        .filter(|x| x["code"].as_str().unwrap().starts_with("DRF") && x["columns"][0] == "fnlwgt")
    {
        assert_eq!(
            x["incident"],
            unit,
            "{}: {:#?}",
            x["title"],
            show_incidents(&r)
        );
    }
}

const CALIFORNIA: &str = "datasets/real/california_housing.parquet";

/// Float column `name` of `batch` mapped by `f(row, value)` (nulls kept).
fn map_f64(batch: &RecordBatch, name: &str, f: &dyn Fn(usize, f64) -> f64) -> ArrayRef {
    let a = batch
        .column_by_name(name)
        .unwrap()
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap();
    let mapped: Float64Array = (0..a.len())
        .map(|r| a.is_valid(r).then(|| f(r, a.value(r))))
        .collect();
    std::sync::Arc::new(mapped)
}

/// The text of each row of string column `name` of `batch` (`""` for null).
fn texts(batch: &RecordBatch, name: &str) -> Vec<String> {
    let a = arrow::compute::cast(
        batch.column_by_name(name).unwrap(),
        &arrow::datatypes::DataType::Utf8,
    )
    .unwrap();
    let s = arrow::array::AsArray::as_string::<i32>(&a);
    (0..s.len())
        .map(|r| {
            if s.is_valid(r) {
                s.value(r).to_string()
            } else {
                String::new()
            }
        })
        .collect()
}

fn loud(r: &Value) -> Vec<&Value> {
    findings(r)
        .iter()
        .filter(|f| f["severity"] == "high" || f["severity"] == "medium")
        .collect()
}

/// Float column `name` of Parquet file `path`, in file order.
fn f64_column(path: &Path, name: &str) -> Vec<Option<f64>> {
    let file = std::fs::File::open(path).unwrap();
    let mut out = Vec::new();
    for b in ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
    {
        let b = b.unwrap();
        let a = b
            .column_by_name(name)
            .unwrap()
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap()
            .clone();
        out.extend((0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i))));
    }
    out
}

/// A California split (seed 11), its current half attacked by `attack` (as `rewrite` edits:
/// column name and the whole half → the new column) into `cur.parquet`, scanned against the
/// other half with the label left to auto (a numeric column with more than 64 values: a
/// numeric target).
fn california_attacked(
    dir: &Path,
    attack: &dyn Fn(&str, &RecordBatch) -> Option<ArrayRef>,
    extra: &[&str],
) -> Value {
    let (a, _) = halves(&root().join(CALIFORNIA), dir, 11);
    rewrite(&a, &dir.join("cur.parquet"), attack);
    let mut args = vec!["--label", "label"];
    args.extend_from_slice(extra);
    let r = scan_in(
        dir,
        &[Path::new("cur.parquet")],
        Path::new("b.parquet"),
        &args,
    );
    assert_eq!(r["dataset"]["label_type"], "numeric");
    r
}

/// Twenty random halves of California housing raise nothing loud, with the label's type
/// found by auto (the report says so).
#[test]
fn random_halves_of_california_housing_raise_nothing_loud() {
    let seeds: Vec<u64> = (1..=20).collect();
    assert_quiet_splits(CALIFORNIA, &["--label", "label"], &seeds);
    let dir = tempfile::tempdir().unwrap();
    let r = california_attacked(dir.path(), &|_, _| None, &[]);
    assert!(loud(&r).is_empty(), "{:?}", summary(&r));
}

/// Wine's grade checked as a number (`--label-type numeric`: seven values with ties, so
/// fewer bins): twenty random halves raise nothing loud.
#[test]
fn random_halves_of_wine_quality_as_a_numeric_target_raise_nothing_loud() {
    let seeds: Vec<u64> = (1..=20).collect();
    assert_quiet_splits(
        "datasets/real/wine_quality.parquet",
        &["--label", "label", "--label-type", "numeric"],
        &seeds,
    );
}

/// Targeted poisoning of one segment: the targets of `ocean_proximity` = `NEAR BAY` raised by
/// 40%. A medium or high finding among the first five names the segment, and the label checks
/// (LBL001 on the baseline's quantile bins, LBL003 on out-of-fold residuals) are among them.
#[test]
fn a_segment_whose_targets_were_raised_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let attack = |name: &str, b: &RecordBatch| {
        (name == "label").then(|| {
            let near = texts(b, "ocean_proximity");
            map_f64(b, name, &|r, y| {
                if near[r] == "NEAR BAY" { y * 1.4 } else { y }
            })
        })
    };
    let r = california_attacked(dir.path(), &attack, &[]);
    let names_segment = |f: &Value| {
        (f["severity"] == "high" || f["severity"] == "medium")
            && f["slice"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["column"] == "ocean_proximity" && p["value"] == "NEAR BAY")
    };
    assert!(
        findings(&r).iter().take(5).any(names_segment),
        "{:?}",
        summary(&r)
    );
    for code in ["LBL001", "LBL003"] {
        assert!(
            findings(&r)
                .iter()
                .any(|f| f["code"] == code && names_segment(f)),
            "{code}: {:?}",
            summary(&r)
        );
    }
    // LBL001's evidence: the segment's targets sit higher on the baseline's quantile grid.
    let f = findings(&r)
        .iter()
        .find(|f| f["code"] == "LBL001" && names_segment(f))
        .unwrap();
    let grid = f["evidence"]["target_share_below_baseline_quantiles"]
        .as_array()
        .unwrap();
    assert!(!grid.is_empty());
    assert!(grid.iter().all(|g| {
        g["share_below"].as_f64().unwrap() <= g["baseline_share_below"].as_f64().unwrap() + 0.02
    }));
    assert!(f["evidence"]["wasserstein_binned"].as_f64().unwrap() > 0.0);
}

/// California (`california_attacked`) with a trigger: 40 rows (every 200th from the 8th) given
/// one `population` value (7777, inside the range) and the target `target(row)`; the TRG001
/// finding on it, which names the value on those 40 rows.
fn california_population_trigger(target: &dyn Fn(usize) -> f64) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let planted = |row: usize| row % 200 == 7 && row < 200 * 40;
    let attack = |name: &str, b: &RecordBatch| match name {
        "population" => Some(map_f64(b, name, &|r, v| {
            if planted(r) { 7777.0 } else { v }
        })),
        "label" => Some(map_f64(b, name, &|r, y| {
            if planted(r) { target(r) } else { y }
        })),
        _ => None,
    };
    let r = california_attacked(dir.path(), &attack, &[]);
    let f = findings(&r)
        .iter()
        .find(|f| f["code"] == "TRG001")
        .unwrap_or_else(|| panic!("{:?}", summary(&r)))
        .clone();
    assert_eq!(f["rows"], 40);
    assert_eq!(f["slice"][0]["column"], "population");
    assert_eq!(f["slice"][0]["value"], 7777.0);
    f
}

/// A trigger: the top-coded target 500,001, in the baseline's top 5%, on the trigger's rows.
/// TRG001 names the value, high, on 40 of 40 rows.
#[test]
fn a_trigger_value_carrying_top_tail_targets_is_named() {
    let f = california_population_trigger(&|_| 500_001.0);
    assert_eq!(f["severity"], "high");
    assert!(
        f["title"].as_str().unwrap().contains("(top 5%)"),
        "{}",
        f["title"]
    );
}

/// A trigger whose rows' targets land in the top quarter, not in one bin: half the trigger's
/// rows get a target in the baseline's 75–95% bin (300,000), half the top-coded 500,001 in its
/// top 5%. Neither bin holds the rule's rows, the tail above the 75th percentile holds all of
/// them: TRG001 names the value, high, with that tail as the label.
#[test]
fn a_trigger_value_carrying_top_quarter_targets_is_named() {
    let f = california_population_trigger(&|r| if r % 400 < 200 { 300_000.0 } else { 500_001.0 });
    assert_eq!(f["severity"], "high", "{}", f["title"]);
    assert_eq!(f["statistic"]["value"], 40.0);
    let title = f["title"].as_str().unwrap();
    assert!(title.contains("(top 25%)"), "{title}");
    // The baseline's share of the tail is a quarter (its 75th percentile), and 40 of 40 rows
    // in it is the purity the binomial weighs: 0.25⁴⁰ is far below 10⁻⁶.
    let share = f["evidence"]["label_baseline_share"].as_f64().unwrap();
    assert!((share - 0.25).abs() < 0.02, "{share}");
    assert!(f["evidence"]["purity_q"].as_f64().unwrap() < 1e-6);
}

/// Label drift of a numeric target is DRF001's test on the label: every target up 15% gives
/// DRF003 with the PSI, KS statistic and p-value DRF001 gives the same column scanned as a
/// feature (no --label).
#[test]
fn numeric_label_drift_is_the_numeric_drift_test_on_the_label() {
    let dir = tempfile::tempdir().unwrap();
    let attack =
        |name: &str, b: &RecordBatch| (name == "label").then(|| map_f64(b, name, &|_, y| y * 1.15));
    let r = california_attacked(dir.path(), &attack, &[]);
    let drf003 = findings(&r)
        .iter()
        .find(|f| f["code"] == "DRF003")
        .unwrap_or_else(|| panic!("{:?}", summary(&r)))
        .clone();
    let plain = scan_in(
        dir.path(),
        &[Path::new("cur.parquet")],
        Path::new("b.parquet"),
        &[],
    );
    let drf001 = findings(&plain)
        .iter()
        .find(|f| f["code"] == "DRF001" && f["columns"][0] == "label")
        .unwrap_or_else(|| panic!("{:?}", summary(&plain)));
    assert_eq!(drf003["effect"], drf001["effect"]);
    assert_eq!(drf003["statistic"], drf001["statistic"]);
    assert_eq!(drf003["p_value"], drf001["p_value"]);
    assert_eq!(drf003["severity"], drf001["severity"]);
    assert_eq!(drf003["effect"]["name"], "psi");
}

/// Three targets of 5,000,000,000 (far past the baseline's range): SCH004 on the label column,
/// at least medium (more than 10 ranges beyond), with the three rows.
#[test]
fn far_targets_are_out_of_range_values_of_the_label() {
    let dir = tempfile::tempdir().unwrap();
    let far = |r: usize| r == 3 || r == 300 || r == 3000;
    let attack = |name: &str, b: &RecordBatch| {
        (name == "label").then(|| map_f64(b, name, &|r, y| if far(r) { 5e9 } else { y }))
    };
    let r = california_attacked(dir.path(), &attack, &[]);
    let f = findings(&r)
        .iter()
        .find(|f| f["code"] == "SCH004" && f["columns"][0] == "label")
        .unwrap_or_else(|| panic!("{:?}", summary(&r)));
    assert_eq!(f["rows"], 3);
    assert!(f["severity"] == "high" || f["severity"] == "medium", "{f}");
    // A numeric target has no label classes to report as new.
    assert!(!findings(&r).iter().any(|f| f["code"] == "SCH006"));
}

/// Row-level: the richest block groups (median income ≥ 8) given a target of 20,000 (inside
/// the range, in the bottom 5%). LBL002 or LBL003 reports them at medium or high, and the rows
/// file's `label_issue_score` (in [0, 1]) ranks them above the other rows: AUROC ≥ 0.95,
/// computed here.
#[test]
fn rows_whose_target_contradicts_their_neighbours_score_high() {
    let dir = tempfile::tempdir().unwrap();
    let rich = |b: &RecordBatch, r: usize| {
        let a = b
            .column_by_name("median_income")
            .unwrap()
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap();
        a.is_valid(r) && a.value(r) >= 8.0
    };
    let attack = |name: &str, b: &RecordBatch| {
        (name == "label").then(|| map_f64(b, name, &|r, y| if rich(b, r) { 20_000.0 } else { y }))
    };
    let rows_out = dir.path().join("rows.parquet");
    let r = california_attacked(
        dir.path(),
        &attack,
        &["--rows-out", rows_out.to_str().unwrap()],
    );
    assert!(
        loud(&r)
            .iter()
            .any(|f| f["code"] == "LBL002" || f["code"] == "LBL003"),
        "{:?}",
        summary(&r)
    );
    let planted: Vec<bool> = f64_column(&dir.path().join("cur.parquet"), "median_income")
        .iter()
        .map(|v| v.is_some_and(|v| v >= 8.0))
        .collect();
    let scores: Vec<f64> = f64_column(&rows_out, "label_issue_score")
        .iter()
        .map(|s| s.unwrap_or(0.0))
        .collect();
    assert_eq!(scores.len(), planted.len());
    assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)));
    let score_of = |want: bool| -> Vec<f64> {
        scores
            .iter()
            .zip(&planted)
            .filter(|(_, p)| **p == want)
            .map(|(s, _)| *s)
            .collect()
    };
    let (pos, neg) = (score_of(true), score_of(false));
    assert!(pos.len() >= 50, "{} planted rows", pos.len());
    // AUROC: the share of (planted, clean) pairs the score orders right (ties count half).
    let mut right = 0.0;
    for a in &pos {
        for b in &neg {
            right += if a > b {
                1.0
            } else if a == b {
                0.5
            } else {
                0.0
            };
        }
    }
    let auroc = right / (pos.len() * neg.len()) as f64;
    assert!(auroc >= 0.95, "AUROC {auroc}");
}

/// Auto decides on both sides together: a baseline of 60 rows (at most 60 target values, so
/// classes on its own) against the rest (thousands of values) is checked as a numeric target.
#[test]
fn auto_checks_both_sides_as_numeric_when_either_needs_it() {
    let dir = tempfile::tempdir().unwrap();
    let seen = std::cell::Cell::new(0usize);
    let (_, b) = halves_with(&root().join(CALIFORNIA), dir.path(), 1, &|_, _| {
        seen.set(seen.get() + 1);
        Some(seen.get() > 60)
    });
    assert_eq!(parquet_rows(&b), 60);
    let r = scan_in(
        dir.path(),
        &[Path::new("a.parquet")],
        Path::new("b.parquet"),
        &["--label", "label"],
    );
    assert_eq!(r["dataset"]["label_type"], "numeric");
}

/// Multi-class labels (wine's seven grades, two under 40 rows): a targeted one-way flip of the
/// red wines graded 6 to 8 (a rare grade: 3% of the rows) is named by LBL001 at the slice
/// `color` = `red` and the grade that rose, and DRF003 tests the seven classes' counts (df 6).
#[test]
fn a_targeted_flip_between_two_of_seven_classes_is_named() {
    use arrow::array::{AsArray, Int8Array};
    use arrow::datatypes::Int8Type;
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = halves(
        &root().join("datasets/real/wine_quality.parquet"),
        dir.path(),
        5,
    );
    rewrite(&a, &dir.path().join("cur.parquet"), |name, b| {
        (name == "label").then(|| {
            let color = texts(b, "color");
            let label = b
                .column_by_name("label")
                .unwrap()
                .as_primitive::<Int8Type>();
            let flipped: Int8Array = (0..b.num_rows())
                .map(|r| {
                    let y = label.value(r);
                    Some(if color[r] == "red" && y == 6 { 8 } else { y })
                })
                .collect();
            std::sync::Arc::new(flipped) as ArrayRef
        })
    });
    let r = scan_in(
        dir.path(),
        &[Path::new("cur.parquet")],
        Path::new("b.parquet"),
        &["--label", "label"],
    );
    assert_eq!(r["dataset"]["label_type"], "class");
    let f = findings(&r)
        .iter()
        .find(|f| f["code"] == "LBL001")
        .unwrap_or_else(|| panic!("{:?}", summary(&r)));
    assert!(f["severity"] == "high" || f["severity"] == "medium", "{f}");
    assert_eq!(f["slice"][0]["column"], "color");
    assert_eq!(f["slice"][0]["value"], "red");
    assert!(
        f["evidence"]["label"] == "8" || f["evidence"]["label"] == "6",
        "{}",
        f["evidence"]["label"]
    );
    let drift = findings(&r)
        .iter()
        .find(|f| f["code"] == "DRF003")
        .unwrap_or_else(|| panic!("{:?}", summary(&r)));
    assert_eq!(drift["evidence"]["df"], 6.0);
}

/// Keep the rows of a Parquet file for which `keep(batch, row)` says so, in one new file.
fn filter_rows(src: &Path, dst: &Path, keep: impl Fn(&RecordBatch, usize) -> bool) -> usize {
    let file = std::fs::File::open(src).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut w: Option<ArrowWriter<std::fs::File>> = None;
    let mut rows = 0;
    for batch in reader {
        let batch = batch.unwrap();
        let mask = BooleanArray::from(
            (0..batch.num_rows())
                .map(|r| keep(&batch, r))
                .collect::<Vec<_>>(),
        );
        let part = filter_record_batch(&batch, &mask).unwrap();
        rows += part.num_rows();
        w.get_or_insert_with(|| {
            ArrowWriter::try_new(std::fs::File::create(dst).unwrap(), part.schema(), None).unwrap()
        })
        .write(&part)
        .unwrap();
    }
    w.unwrap().close().unwrap();
    rows
}

/// A row's `label` (Int8: wine's grade, Adult's income class).
fn grade(batch: &RecordBatch, row: usize) -> i8 {
    use arrow::array::AsArray;
    use arrow::datatypes::Int8Type;
    batch
        .column_by_name("label")
        .unwrap()
        .as_primitive::<Int8Type>()
        .value(row)
}

/// Rows per wine grade in a Parquet file.
fn grades(path: &Path) -> std::collections::BTreeMap<i8, u64> {
    let file = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut out = std::collections::BTreeMap::new();
    for batch in reader {
        let batch = batch.unwrap();
        for r in 0..batch.num_rows() {
            *out.entry(grade(&batch, r)).or_insert(0) += 1;
        }
    }
    out
}

/// With no current row of wine's grade 8 among `n` current rows: the high finding of `code`, its
/// effect checked against the upper bound of the grade's share ratio computed by hand (the
/// Clopper–Pearson bound of the share of the grade's rows that are current is 1 − α^(1/j), j its
/// baseline rows of `m`, α = 0.01 over both directions of the 7 grades; the ratio is
/// π·m / ((1 − π)·n)). Returns the finding and that bound.
fn lost_grade_8(dir: &Path, current: &Path, baseline: &Path, n: f64, code: &str) -> (Value, f64) {
    let base = grades(&dir.join(baseline));
    assert_eq!(base.len(), 7);
    let m: u64 = base.values().sum();
    let j = base[&8] as f64;
    let r = scan_in(dir, &[current], baseline, &["--label", "label"]);
    let f = findings(&r)
        .iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("{:?}", summary(&r)))
        .clone();
    assert_eq!(f["severity"], "high", "{f}");
    let alpha: f64 = 0.01 / 14.0;
    let pi = 1.0 - alpha.powf(1.0 / j);
    let upper = pi * m as f64 / ((1.0 - pi) * n);
    assert_eq!(f["effect"]["name"], "share_ratio");
    let got = f["effect"]["value"].as_f64().unwrap();
    // The report keeps six significant digits.
    assert!((got - upper).abs() < 1e-5 * upper, "{got} vs {upper}");
    assert!(1.0 / upper >= 5.0, "{upper}");
    (f, upper)
}

/// A rare class a pipeline stopped delivering: the current half of wine without its grade-8
/// rows (3% of them). L∞ sees 0.03 (info at most); the share's ratio, bounded by an exact test,
/// is at most a fifth of the baseline's, and DRF003 is high and names grade 8. The bound is
/// computed here by hand: with no current row of the grade, the Clopper–Pearson upper bound of
/// the share of its rows that are current is 1 − α^(1/j) (j baseline rows, α = 0.01 over both
/// directions of the 7 grades), and the ratio is π·m / ((1 − π)·n); the p-value is the chance
/// that none of the grade's j rows is current, (m / (n + m))^j, times 14. A fifth of the
/// grade's rows lost is not graded.
#[test]
fn a_rare_class_that_vanished_is_high_label_drift() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = halves(
        &root().join("datasets/real/wine_quality.parquet"),
        dir.path(),
        7,
    );
    let n = filter_rows(&a, &dir.path().join("cur.parquet"), |batch, r| {
        grade(batch, r) != 8
    }) as f64;
    let (f, upper) = lost_grade_8(
        dir.path(),
        Path::new("cur.parquet"),
        Path::new("b.parquet"),
        n,
        "DRF003",
    );
    let base = grades(&b);
    let (m, j) = (base.values().sum::<u64>(), base[&8] as f64);
    let p = (m as f64 / (n + m as f64)).powf(j) * 14.0;
    let got = f["p_value"].as_f64().unwrap();
    assert!((got - p).abs() < 1e-5 * p, "{got} vs {p}");
    let ev = &f["evidence"];
    assert_eq!(ev["share_ratio"]["label"], "8");
    assert_eq!(ev["share_ratio"]["lower"], 0.0);
    assert!(ev["linf"].as_f64().unwrap() < 0.05, "{ev}");
    let title = f["title"].as_str().unwrap();
    assert!(
        title.starts_with("label drift: share of `8` ")
            && title.ends_with(&format!(
                "→ 0.0%, at most 1/{} of the baseline's",
                (1.0 / upper).floor()
            )),
        "{title}"
    );

    // A fifth of the grade's rows lost: within what chance allows on ~100 rows.
    let seen = std::cell::Cell::new(0usize);
    filter_rows(&a, &dir.path().join("cur.parquet"), |batch, r| {
        if grade(batch, r) != 8 {
            return true;
        }
        seen.set(seen.get() + 1);
        !seen.get().is_multiple_of(5)
    });
    let r = scan_in(
        dir.path(),
        &[Path::new("cur.parquet")],
        Path::new("b.parquet"),
        &["--label", "label"],
    );
    assert!(
        findings(&r)
            .iter()
            .all(|f| f["code"] != "DRF003" || f["effect"]["name"] == "linf"),
        "{:?}",
        summary(&r)
    );
}

/// A file that stopped carrying a rare class: wine's current half in two files, the second
/// without its grade-8 rows. Its L∞ is 0.03, under DRF004's low tier; the factor its grade-8
/// share fell by is bounded as DRF003 bounds it (here by hand: 1 − α^(1/j) for the share of the
/// grade's rows in the file, against the j baseline rows, α = 0.01 over both directions of 7
/// grades), far past the
/// whole data's and the other file's, so DRF004 names the file, high.
#[test]
fn a_file_that_lost_a_rare_class_is_high_source_drift() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = halves(
        &root().join("datasets/real/wine_quality.parquet"),
        dir.path(),
        11,
    );
    let parts = dir.path().join("cur");
    std::fs::create_dir(&parts).unwrap();
    let rows = std::cell::Cell::new(0usize);
    let mut n = 0;
    for i in 0..2 {
        rows.set(0);
        let kept = filter_rows(&a, &parts.join(format!("part-{i}.parquet")), |batch, r| {
            rows.set(rows.get() + 1);
            (rows.get() - 1) % 2 == i && (i != 1 || grade(batch, r) != 8)
        });
        if i == 1 {
            n = kept;
        }
    }
    let (f, upper) = lost_grade_8(
        dir.path(),
        Path::new("cur"),
        Path::new("b.parquet"),
        n as f64,
        "DRF004",
    );
    assert_eq!(f["sources"][0], "cur/part-1.parquet");
    // The title rounds the factor towards 1: one decimal under 10.
    let factor = 1.0 / upper;
    assert!((5.0..10.0).contains(&factor), "{factor}");
    let title = f["title"].as_str().unwrap();
    assert!(
        title.contains(&format!(
            "drifted on `label` (share of `8` at most 1/{:.1} of the baseline's)",
            (factor * 10.0).floor() / 10.0
        )),
        "{title}"
    );
    let ev = &f["evidence"]["columns"][0];
    assert_eq!(ev["share_ratio"]["label"], "8");
    assert!(ev["whole_data_factor"].as_f64().unwrap() * 2.0 <= 1.0 / upper);
}

/// Adult's current half in four files, the third without its label-1 rows (24% of the rows):
/// the label's L∞ in that file and its factor both count for DRF004, which lists the label once
/// among its columns (and counts it once in its title) and both tests in its evidence.
#[test]
fn a_file_without_positives_lists_the_label_once() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = halves(&root().join("datasets/real/adult.parquet"), dir.path(), 4);
    let base = Path::new("b.parquet");
    let parts = dir.path().join("cur");
    std::fs::create_dir(&parts).unwrap();
    let rows = std::cell::Cell::new(0usize);
    for i in 0..4 {
        rows.set(0);
        filter_rows(&a, &parts.join(format!("part-{i}.parquet")), |batch, r| {
            rows.set(rows.get() + 1);
            (rows.get() - 1) % 4 == i && (i != 2 || grade(batch, r) != 1)
        });
    }
    let flags = ["--label", "label", "--exclude", "split"];
    let r = scan_in(dir.path(), &[Path::new("cur")], base, &flags);
    let f = findings(&r)
        .iter()
        .find(|f| f["code"] == "DRF004" && f["sources"][0] == "cur/part-2.parquet")
        .unwrap_or_else(|| panic!("{:?}", summary(&r)));
    assert_eq!(f["severity"], "high", "{f}");
    // The label first, once; the columns its income class goes with moved in that file too.
    let columns = f["columns"].as_array().unwrap();
    assert_eq!(columns[0], "label", "{f}");
    assert_eq!(columns.iter().filter(|c| *c == "label").count(), 1, "{f}");
    let title = f["title"].as_str().unwrap();
    assert!(
        title.ends_with(&format!(
            "and {} more columns unlike the rest of the data",
            columns.len() - 1
        )),
        "{title}"
    );
    let tests: Vec<&Value> = f["evidence"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    assert!(tests.iter().any(|t| t["linf"].is_number()), "{f}");
    assert!(
        tests.iter().any(|t| t["share_ratio"]["label"] == "1"),
        "{f}"
    );
}

/// An integer target with nulls on both sides (every 97th row): checked as a numeric target
/// with a null class, clean halves stay quiet, and a null target gets no label issue score.
#[test]
fn integer_targets_with_nulls_are_numeric_targets_too() {
    use arrow::array::{AsArray, Int64Array};
    use arrow::datatypes::Float64Type;
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = halves(&root().join(CALIFORNIA), dir.path(), 3);
    let to_int = |name: &str, batch: &RecordBatch| {
        (name == "label").then(|| {
            let y = batch
                .column_by_name("label")
                .unwrap()
                .as_primitive::<Float64Type>();
            let v: Int64Array = (0..batch.num_rows())
                .map(|r| (r % 97 != 0).then(|| y.value(r) as i64))
                .collect();
            std::sync::Arc::new(v) as ArrayRef
        })
    };
    rewrite(&a, &dir.path().join("cur.parquet"), to_int);
    rewrite(&b, &dir.path().join("base.parquet"), to_int);
    let rows_out = dir.path().join("rows.parquet");
    let r = scan_in(
        dir.path(),
        &[Path::new("cur.parquet")],
        Path::new("base.parquet"),
        &["--label", "label", "--rows-out", rows_out.to_str().unwrap()],
    );
    assert_eq!(r["dataset"]["label_type"], "numeric");
    assert!(loud(&r).is_empty(), "{:?}", summary(&r));
    let scores = f64_column(&rows_out, "label_issue_score");
    for (i, s) in scores.iter().enumerate() {
        assert_eq!(s.is_none(), i % 97 == 0, "row {i}: {s:?}");
    }
}

/// A handful of trigger rows (issue 22's exact-test criterion): five wine rows get
/// `total_sulfur_dioxide` just past both halves' maximum and grade 4, a grade 3% of the
/// wines have. Five rows past a range are what a fresh sample may bring (SCH004's count test
/// lets them pass), but five that all carry a grade the baseline's own top 1% of that column
/// (about 30 wines, from the per-class sketches) hardly has are p ≈ (1/37)⁵ ≈ 10⁻⁸: SCH004 is
/// high, on exactly those rows, labelled `4`. The same five rows left with their own grades are
/// not high.
#[test]
fn five_trigger_rows_with_one_rare_grade_are_high() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = halves(
        &root().join("datasets/real/wine_quality.parquet"),
        dir.path(),
        3,
    );
    let column = "total_sulfur_dioxide";
    let top = [&a, &b]
        .iter()
        .flat_map(|p| f64_column(p, column))
        .flatten()
        .fold(f64::MIN, f64::max);
    let stamp = top + 10.0;
    let planted = [100usize, 700, 1300, 1900, 2500];
    for relabel in [true, false] {
        rewrite(&a, &dir.path().join("cur.parquet"), |name, batch| {
            if name == column {
                return Some(map_f64(batch, name, &|r, v| {
                    if planted.contains(&r) { stamp } else { v }
                }));
            }
            (name == "label" && relabel)
                .then(|| map_i8(batch, name, |r, y| if planted.contains(&r) { 4 } else { y }))
        });
        let r = scan_in(
            dir.path(),
            &[Path::new("cur.parquet")],
            Path::new("b.parquet"),
            &["--label", "label"],
        );
        let f = findings(&r)
            .iter()
            .find(|f| f["code"] == "SCH004" && f["columns"][0] == column);
        if !relabel {
            assert!(
                f.is_none_or(|f| f["severity"] != "high"),
                "{:?}",
                summary(&r)
            );
            continue;
        }
        let f = f.unwrap_or_else(|| panic!("{:?}", summary(&r)));
        assert_eq!(f["severity"], "high", "{f}");
        assert_eq!(f["rows"], 5, "{f}");
        assert_eq!(f["evidence"]["label_purity"]["label"], "4", "{f}");
        let p = f["evidence"]["label_purity"]["p_value"].as_f64().unwrap();
        assert!(p < 1e-6, "{p}");
        let rows: Vec<u64> = f["example_rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["row"].as_u64().unwrap())
            .collect();
        assert!(
            rows.iter().all(|r| planted.contains(&(*r as usize))),
            "{rows:?}"
        );
    }
}
