//! The baseline checks on real data (copied into `datasets/real/`, see datasets/README.md):
//! random halves of one dataset raise nothing at medium or high, a real drift is found, and
//! the demo's injected problems are named at the right column or file.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use arrow::array::BooleanArray;
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
    let out = arrow::array::RecordBatch::try_new(batch.schema(), columns).unwrap();
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
            assert!(e["p_value"].as_f64() <= x["p_value"].as_f64(), "{x}");
            assert!(
                e["label_share"].as_f64() < x["evidence"]["confidence"].as_f64(),
                "{x}"
            );
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
