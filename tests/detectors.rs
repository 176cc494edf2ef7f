//! Each INT/SCH/DUP/DRF check on a positive and a negative fixture: synthetic CSV data from a
//! seeded generator, with one problem injected, scanned by the real binary.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

/// One generated row.
#[derive(Clone)]
struct Row {
    x: Option<f64>,
    amount: f64,
    k: i64,
    cat: String,
    label: u8,
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let (u, v): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random());
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

/// Clean rows: x ~ N(0, 1), amount log-normal around 2,000, k uniform 0..500, cat with shares
/// 40/30/20/10%, label from a logistic model of x and cat.
fn rows(n: usize, seed: u64) -> Vec<Row> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let x = normal(&mut rng);
            let amount = (7.6 + 0.5 * normal(&mut rng)).exp();
            let k = rng.random_range(0..500);
            let u: f64 = rng.random();
            let cat = match u {
                u if u < 0.4 => "a",
                u if u < 0.7 => "b",
                u if u < 0.9 => "c",
                _ => "d",
            };
            let z = 1.2 * x + if cat == "a" { 0.8 } else { -0.4 };
            let label = u8::from(rng.random::<f64>() < 1.0 / (1.0 + (-z).exp()));
            Row {
                x: Some(x),
                amount,
                k,
                cat: cat.to_string(),
                label,
            }
        })
        .collect()
}

fn write_csv(path: &Path, rows: &[Row]) {
    let mut s = String::from("x,amount,k,cat,label\n");
    for r in rows {
        let x = r.x.map(|x| format!("{x:.6}")).unwrap_or_default();
        s.push_str(&format!(
            "{x},{:.2},{},{},{}\n",
            r.amount, r.k, r.cat, r.label
        ));
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, s).unwrap();
}

/// A dataset of `parts` files of `n` rows each under `dir`, rows from `seed`.
fn dataset(dir: &Path, parts: usize, n: usize, seed: u64) -> Vec<Vec<Row>> {
    (0..parts)
        .map(|i| {
            let r = rows(n, seed * 100 + i as u64);
            write_csv(&dir.join(format!("part-{i}.csv")), &r);
            r
        })
        .collect()
}

fn scan(current: &Path, baseline: &Path, extra: &[&str]) -> Vec<Value> {
    let mut args: Vec<String> = vec![
        "scan".into(),
        current.display().to_string(),
        "--baseline".into(),
        baseline.display().to_string(),
        "--label".into(),
        "label".into(),
        "--format".into(),
        "json".into(),
        "--fail-on".into(),
        "never".into(),
        "--quiet".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let o = Command::new(env!("CARGO_BIN_EXE_poisonscan"))
        .args(&args)
        .output()
        .expect("run poisonscan");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = common::report(&o.stdout);
    r["findings"].as_array().unwrap().clone()
}

fn codes(findings: &[Value]) -> Vec<String> {
    findings
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

fn with_code<'a>(findings: &'a [Value], code: &str) -> Vec<&'a Value> {
    findings.iter().filter(|f| f["code"] == code).collect()
}

fn severity(f: &Value) -> &str {
    f["severity"].as_str().unwrap()
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

/// A baseline of 2 × 3,000 clean rows in `root/baseline`.
fn baseline(root: &Path) -> PathBuf {
    let b = root.join("baseline");
    dataset(&b, 2, 3000, 1);
    b
}

/// Every check stays silent on a fresh clean sample (the negative fixture of all of them).
#[test]
fn clean_data_raises_nothing() {
    let t = tempfile::tempdir().unwrap();
    let b = baseline(t.path());
    for seed in [2, 3, 4] {
        let c = t.path().join(format!("current-{seed}"));
        dataset(&c, 2, 3000, seed);
        let f = scan(&c, &b, &[]);
        assert!(f.is_empty(), "seed {seed}: {:?}", codes(&f));
    }
}

#[test]
fn int001_file_changed_since_the_baseline() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let parts = dataset(&data, 2, 3000, 1);
    let prof = t.path().join("base.psprof");
    let o = Command::new(env!("CARGO_BIN_EXE_poisonscan"))
        .args([
            "profile",
            data.to_str().unwrap(),
            "-o",
            prof.to_str().unwrap(),
        ])
        .args(["--label", "label", "--quiet"])
        .output()
        .unwrap();
    assert!(o.status.success());
    // Unchanged: only the (medium) note that the files are the baseline's own.
    let f = scan(&data, &prof, &[]);
    assert!(with_code(&f, "INT001").is_empty(), "{:?}", codes(&f));
    // Edit one row of part-1 in place.
    let mut rows = parts[1].clone();
    rows[10].k = 499 - rows[10].k;
    write_csv(&data.join("part-1.csv"), &rows);
    let f = scan(&data, &prof, &[]);
    let hit = with_code(&f, "INT001");
    assert_eq!(hit.len(), 1, "{:?}", codes(&f));
    assert_eq!(severity(hit[0]), "high");
    assert!(names(&hit[0]["sources"])[0].ends_with("part-1.csv"));
}

#[test]
fn int002_replayed_file_by_bytes_and_by_rows() {
    let t = tempfile::tempdir().unwrap();
    let b = baseline(t.path());
    let c = t.path().join("current");
    dataset(&c, 2, 3000, 2);
    // A byte copy of a baseline file, and a file of baseline rows in another order.
    std::fs::copy(b.join("part-0.csv"), c.join("part-2.csv")).unwrap();
    let mut shuffled = rows(3000, 101);
    shuffled.reverse();
    write_csv(&c.join("part-3.csv"), &shuffled);
    let f = scan(&c, &b, &[]);
    let hit = with_code(&f, "INT002");
    let sources: Vec<String> = hit.iter().flat_map(|f| names(&f["sources"])).collect();
    assert_eq!(hit.len(), 2, "{:?}", codes(&f));
    assert!(sources.iter().any(|s| s.ends_with("part-2.csv")));
    assert!(sources.iter().any(|s| s.ends_with("part-3.csv")));
    assert!(hit.iter().all(|f| severity(f) == "high"));
    let by_rows = hit
        .iter()
        .find(|f| names(&f["sources"])[0].ends_with("part-3.csv"))
        .unwrap();
    assert_eq!(by_rows["evidence"]["match"], "row fingerprints");
    assert_eq!(by_rows["evidence"]["share_in_baseline"], 1.0);
}

#[test]
fn sch001_columns_added_removed_retyped() {
    let t = tempfile::tempdir().unwrap();
    let b = baseline(t.path());
    let c = t.path().join("current");
    let r = rows(3000, 7);
    // Drop `amount`, add `extra`, make `k` text.
    let mut s = String::from("x,k,cat,label,extra\n");
    for (i, row) in r.iter().enumerate() {
        s.push_str(&format!(
            "{:.6},k{},{},{},{}\n",
            row.x.unwrap(),
            row.k,
            row.cat,
            row.label,
            i % 7
        ));
    }
    std::fs::create_dir_all(&c).unwrap();
    std::fs::write(c.join("part-0.csv"), s).unwrap();
    let f = scan(&c, &b, &[]);
    let hit = with_code(&f, "SCH001");
    let mut got: Vec<(String, String, String)> = hit
        .iter()
        .map(|f| {
            (
                names(&f["columns"])[0].clone(),
                f["evidence"]["change"].as_str().unwrap().to_string(),
                severity(f).to_string(),
            )
        })
        .collect();
    got.sort();
    let want = [
        ("amount", "removed", "high"),
        ("extra", "added", "medium"),
        ("k", "retyped", "high"),
    ];
    assert_eq!(
        got,
        want.map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    );
}

#[test]
fn sch002_null_rate_jump() {
    let t = tempfile::tempdir().unwrap();
    let b = baseline(t.path());
    let c = t.path().join("current");
    let mut r = rows(6000, 8);
    for row in r.iter_mut().step_by(8) {
        row.x = None; // 12.5% nulls
    }
    write_csv(&c.join("part-0.csv"), &r);
    let f = scan(&c, &b, &[]);
    let hit = with_code(&f, "SCH002");
    assert_eq!(hit.len(), 1, "{:?}", codes(&f));
    assert_eq!(names(&hit[0]["columns"]), ["x"]);
    // Cohen's h of 0 → 12.5%: 2·asin(√0.125) = 0.7227: high.
    let h = hit[0]["effect"]["value"].as_f64().unwrap();
    assert!((h - 0.722734).abs() < 1e-5, "{h}");
    assert_eq!(severity(hit[0]), "high");
}

#[test]
fn sch003_new_category_tied_to_one_label_is_a_trigger() {
    let t = tempfile::tempdir().unwrap();
    let b = baseline(t.path());
    let c = t.path().join("current");
    let mut r = rows(6000, 9);
    for row in r.iter_mut().take(60) {
        row.cat = "zz".into();
        row.label = 1;
    }
    write_csv(&c.join("part-0.csv"), &r);
    let f = scan(&c, &b, &[]);
    let hit = with_code(&f, "SCH003");
    assert_eq!(hit.len(), 1, "{:?}", codes(&f));
    assert_eq!(hit[0]["slice"][0]["value"], "zz");
    assert_eq!(hit[0]["rows"], 60);
    assert_eq!(severity(hit[0]), "high");
    assert_eq!(hit[0]["evidence"]["label_purity"]["share"], 1.0);
    // The same value with mixed labels on few rows: reported, but not as a trigger.
    let mut r = rows(6000, 9);
    for (i, row) in r.iter_mut().take(20).enumerate() {
        row.cat = "zz".into();
        row.label = (i % 2) as u8;
    }
    write_csv(&c.join("part-0.csv"), &r);
    let f = scan(&c, &b, &[]);
    let hit = with_code(&f, "SCH003");
    assert_eq!(hit.len(), 1, "{:?}", codes(&f));
    assert_eq!(severity(hit[0]), "low");
}

#[test]
fn sch004_out_of_range_counted_exactly_with_label_purity() {
    let t = tempfile::tempdir().unwrap();
    let b = baseline(t.path());
    let c = t.path().join("current");
    let mut r = rows(6000, 10);
    for row in r.iter_mut().skip(100).take(40) {
        row.x = Some(99.0);
        row.label = 0;
    }
    write_csv(&c.join("part-0.csv"), &r);
    // The exact count, by hand: the 40 planted values plus the clean rows that fall outside the
    // baseline's range (values as written, to 6 decimals).
    let written = |x: f64| format!("{x:.6}").parse::<f64>().unwrap();
    let base: Vec<f64> = [rows(3000, 100), rows(3000, 101)]
        .concat()
        .iter()
        .map(|r| written(r.x.unwrap()))
        .collect();
    let (lo, hi) = base
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    let xs: Vec<f64> = r.iter().map(|r| written(r.x.unwrap())).collect();
    let above = xs.iter().filter(|&&x| x > hi).count();
    let below = xs.iter().filter(|&&x| x < lo).count();
    assert!(above >= 40);
    let f = scan(&c, &b, &[]);
    let hit = with_code(&f, "SCH004");
    assert_eq!(hit.len(), 1, "{:?}", codes(&f));
    let h = hit[0];
    assert_eq!(names(&h["columns"]), ["x"]);
    assert_eq!(h["rows"], above + below);
    assert_eq!(h["evidence"]["above"], above);
    assert_eq!(h["evidence"]["below"], below);
    assert_eq!(h["evidence"]["counts_estimated"], false);
    assert_eq!(severity(h), "high");
    assert_eq!(h["slice"][0]["op"], "ge");
    let first = xs.iter().position(|&x| x > hi || x < lo).unwrap();
    assert_eq!(h["example_rows"][0]["row"], first);
}

/// Shares as the report rounds them (6 significant digits).
fn close(got: &Value, want: f64) -> bool {
    (got.as_f64().unwrap() - want).abs() <= 1e-5 * want.abs().max(1e-3)
}

/// LBL001: every label-1 row of one category (`cat` = `c`, a fifth of the rows) relabelled 0.
/// The finding names that category, with the label shares counted by hand on both sides (the
/// baseline's sample holds all its rows here); the untouched categories are not reported.
#[test]
fn lbl001_flipped_category_is_named_with_its_shares() {
    let t = tempfile::tempdir().unwrap();
    let b = baseline(t.path());
    let c = t.path().join("current");
    let mut r = rows(6000, 11);
    for row in r.iter_mut().filter(|r| r.cat == "c") {
        row.label = 0;
    }
    write_csv(&c.join("part-0.csv"), &r);
    let f = scan(&c, &b, &[]);
    let hit = with_code(&f, "LBL001");
    let titles: Vec<String> = hit.iter().map(|h| h["title"].to_string()).collect();
    // The flipped category comes first. The label depends on `x`, and the flipped rows' labels
    // were mostly 1 at high `x`: those bins' label mix moved too (what a single-predicate check
    // sees of the attack elsewhere; SLC explains it away). No other category is reported.
    let h = hit[0];
    for other in &hit[1..] {
        assert_eq!(other["slice"][0]["column"], "x", "{titles:?}");
        assert!(other["score"].as_f64() < h["score"].as_f64(), "{titles:?}");
    }
    assert_eq!(h["slice"][0]["column"], "cat");
    assert_eq!(h["slice"][0]["op"], "eq");
    assert_eq!(h["slice"][0]["value"], "c");
    assert_eq!(severity(h), "high");
    let in_c: Vec<&Row> = r.iter().filter(|r| r.cat == "c").collect();
    assert_eq!(h["rows"], in_c.len());
    let label: u8 = h["evidence"]["label"].as_str().unwrap().parse().unwrap();
    let share =
        |rows: &[&Row]| rows.iter().filter(|r| r.label == label).count() as f64 / rows.len() as f64;
    let base_rows = [rows(3000, 100), rows(3000, 101)].concat();
    let base_c: Vec<&Row> = base_rows.iter().filter(|r| r.cat == "c").collect();
    assert!(close(&h["evidence"]["label_share"], share(&in_c)), "{h}");
    assert!(
        close(&h["evidence"]["baseline_label_share"], share(&base_c)),
        "{h}"
    );
    assert_eq!(h["baseline_rows"], base_c.len());
    // The share expected now, by hand: the baseline's, its odds moved by the column's typical
    // move, the median (weighted by current rows) over the categories of the log odds ratio of
    // the label, now against the baseline (half a row of smoothing either side).
    let odds = |k: f64, n: f64| (k + 0.5) / (n - k + 0.5);
    let mut moves: Vec<(f64, f64)> = ["a", "b", "c", "d"]
        .iter()
        .map(|cat| {
            let now: Vec<&Row> = r.iter().filter(|x| x.cat == *cat).collect();
            let then: Vec<&Row> = base_rows.iter().filter(|x| x.cat == *cat).collect();
            let k = |v: &[&Row]| v.iter().filter(|x| x.label == label).count() as f64;
            let lor = (odds(k(&now), now.len() as f64) / odds(k(&then), then.len() as f64)).ln();
            (lor, now.len() as f64)
        })
        .collect();
    moves.sort_by(|a, b| a.0.total_cmp(&b.0));
    let half = moves.iter().map(|m| m.1).sum::<f64>() / 2.0;
    let mut acc = 0.0;
    let median = moves
        .iter()
        .find(|m| {
            acc += m.1;
            acc >= half
        })
        .unwrap()
        .0;
    let (p_b, ratio) = (share(&base_c), median.exp());
    let expected = p_b * ratio / (1.0 - p_b + p_b * ratio);
    assert!(
        close(&h["evidence"]["expected_label_share"], expected),
        "{h} {expected}"
    );
    // The z statistic: the baseline's variance (each class's sample rows binomial; here the
    // sample is the whole baseline, every row standing for one) through the odds move, plus the
    // current share's.
    let wm = base_c.len() as f64;
    let var_b: f64 = [0u8, 1]
        .iter()
        .map(|&h| {
            let n_h = base_rows.iter().filter(|x| x.label == h).count() as f64;
            let m_h = base_c.iter().filter(|x| x.label == h).count() as f64;
            let pi = (m_h + 0.5) / (n_h + 1.0);
            let z = if h == label { 1.0 } else { 0.0 };
            n_h * pi * (1.0 - pi) * (z - p_b).powi(2)
        })
        .sum::<f64>()
        / (wm * wm);
    let denom = 1.0 - p_b + p_b * ratio;
    let slope = ratio / (denom * denom);
    let n = in_c.len() as f64;
    let smoothed = (share(&in_c) * n + 0.5) / (n + 1.0);
    let var = slope * slope * var_b + smoothed * (1.0 - smoothed) / n;
    let z = (share(&in_c) - expected) / var.sqrt();
    assert!(close(&h["statistic"]["value"], z), "{h} {z}");
    // The examples are rows of the slice that now carry label 0.
    for e in h["example_rows"].as_array().unwrap() {
        let row = &r[e["row"].as_u64().unwrap() as usize];
        assert_eq!((row.cat.as_str(), row.label), ("c", 0), "{e}");
    }
}

/// TRG001 and TRG002: a constant just above the baseline's maximum of `amount` stamped on 30
/// rows, all labelled 1 (Tabdoor's out-of-range trigger). TRG001 names the rule with its exact
/// rows; TRG002 the value. The same stamp with mixed labels is no trigger: SCH004 still reports
/// the values out of range, TRG001 does not, and TRG002 leaves values out of range to SCH004.
#[test]
fn trg_out_of_range_trigger_is_named_as_a_rule_and_a_spike() {
    let t = tempfile::tempdir().unwrap();
    let b = baseline(t.path());
    let c = t.path().join("current");
    let base_max = [rows(3000, 100), rows(3000, 101)]
        .concat()
        .iter()
        .map(|r| format!("{:.2}", r.amount).parse::<f64>().unwrap())
        .fold(f64::MIN, f64::max);
    let stamp = (base_max * 1.01).round();
    for mixed in [false, true] {
        let mut r = rows(6000, 12);
        let planted: Vec<usize> = (0..30).map(|i| 150 + 97 * i).collect();
        for (k, &i) in planted.iter().enumerate() {
            r[i].amount = stamp;
            r[i].label = if mixed { (k % 2) as u8 } else { 1 };
        }
        write_csv(&c.join("part-0.csv"), &r);
        let f = scan(&c, &b, &[]);
        let rule = with_code(&f, "TRG001");
        let spike = with_code(&f, "TRG002");
        assert!(!with_code(&f, "SCH004").is_empty(), "{:?}", codes(&f));
        if mixed {
            assert!(rule.is_empty() && spike.is_empty(), "{:?}", codes(&f));
            continue;
        }
        assert_eq!(rule.len(), 1, "{:?}", codes(&f));
        let h = rule[0];
        assert_eq!(severity(h), "high");
        assert_eq!(h["slice"].as_array().unwrap().len(), 1, "{h}");
        assert_eq!(h["slice"][0]["column"], "amount");
        // "Above the maximum" in the contract's terms: `ge` the next number after it.
        assert_eq!(h["slice"][0]["op"], "ge");
        assert_eq!(h["slice"][0]["value"].as_f64(), Some(base_max.next_up()));
        // Exactly the planted rows (no clean row exceeds the baseline's maximum by 1%).
        let above = r.iter().filter(|x| x.amount > base_max).count();
        assert_eq!(h["rows"], above);
        assert_eq!(h["evidence"]["label"], "1");
        assert_eq!(h["evidence"]["confidence"], 1.0);
        assert_eq!(h["evidence"]["rows_per_label"]["1"], above);
        // Lift: the confidence over label 1's share of the current rows.
        let prior = r.iter().filter(|x| x.label == 1).count() as f64 / r.len() as f64;
        assert!(close(&h["evidence"]["lift"], 1.0 / prior), "{h}");
        // The rule's share of label 1's rows.
        let ones = r.iter().filter(|x| x.label == 1).count() as f64;
        assert!(
            close(&h["evidence"]["share_of_label_rows"], above as f64 / ones),
            "{h}"
        );
        for e in h["example_rows"].as_array().unwrap() {
            assert!(
                planted.contains(&(e["row"].as_u64().unwrap() as usize)),
                "{e}"
            );
        }
        // The baseline never had the value: no baseline sample row of either label matches.
        assert_eq!(h["evidence"]["baseline_sample_rows_per_label"]["0"], 0);
        assert_eq!(h["evidence"]["baseline_sample_rows_per_label"]["1"], 0);
        assert_eq!(h["statistic"]["value"], above as f64);
        assert_eq!(spike.len(), 1, "{:?}", codes(&f));
        let s = spike[0];
        assert_eq!(s["slice"][0]["value"], stamp);
        assert_eq!(s["rows"], 30);
        assert!(close(&s["evidence"]["share"], 30.0 / 6000.0), "{s}");
        assert_eq!(s["evidence"]["baseline_share"], 0.0);
        assert!(close(&s["evidence"]["label_lift"], 1.0 / prior), "{s}");
        assert_eq!(s["evidence"]["rows_per_label"]["1"], 30);
        assert_eq!(severity(s), "high");
    }
}

/// LBL002 and LBL003: labels that follow `x` and `cat` without noise (label 1 when `x` > 0,
/// except in category `d`, where it is 0), and 10% of the current rows' labels flipped at random.
/// Each check's whole-data finding counts its flagged rows of the rows file; nearly every flagged
/// row is a flipped one and most flipped rows are flagged. LBL003's rows follow the confident
/// joint's rule on the rows file's `label_confidence` and the finding's class thresholds.
#[test]
fn lbl002_lbl003_random_flips_are_flagged_row_by_row() {
    let t = tempfile::tempdir().unwrap();
    let clean = |n: usize, seed: u64| -> Vec<Row> {
        rows(n, seed)
            .into_iter()
            .map(|mut r| {
                r.label = u8::from(r.x.unwrap() > 0.0 && r.cat != "d");
                r
            })
            .collect()
    };
    let b = t.path().join("baseline");
    write_csv(&b.join("part-0.csv"), &clean(6000, 1));
    let c = t.path().join("current");
    let mut r = clean(6000, 2);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut flipped = vec![false; r.len()];
    for (i, row) in r.iter_mut().enumerate() {
        if rng.random::<f64>() < 0.1 {
            row.label = 1 - row.label;
            flipped[i] = true;
        }
    }
    write_csv(&c.join("part-0.csv"), &r);
    let rows_out = t.path().join("rows.parquet");
    let f = scan(&c, &b, &["--rows-out", rows_out.to_str().unwrap()]);
    // The rows file's codes and label confidence.
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Float64Type;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(&rows_out).unwrap(),
    )
    .unwrap()
    .build()
    .unwrap();
    let (mut row_codes, mut confidence) = (Vec::new(), Vec::new());
    for b in reader {
        let b = b.unwrap();
        let codes = b.column_by_name("codes").unwrap().as_list::<i32>();
        let conf = b
            .column_by_name("label_confidence")
            .unwrap()
            .as_primitive::<Float64Type>();
        for i in 0..b.num_rows() {
            let c = codes.value(i);
            let c = c.as_string::<i32>();
            row_codes.push(
                (0..c.len())
                    .map(|k| c.value(k).to_string())
                    .collect::<Vec<_>>(),
            );
            assert!(conf.is_valid(i));
            confidence.push(conf.value(i));
        }
    }
    assert_eq!(row_codes.len(), r.len());
    let n_flipped = flipped.iter().filter(|&&x| x).count();
    for (code, min_precision, min_recall) in [("LBL002", 0.9, 0.7), ("LBL003", 0.9, 0.7)] {
        let all = with_code(&f, code)
            .into_iter()
            .find(|x| {
                x["slice"].as_array().unwrap().is_empty()
                    && x["sources"].as_array().unwrap().is_empty()
            })
            .unwrap_or_else(|| panic!("{code}: {:?}", codes(&f)));
        assert_eq!(severity(all), "high", "{all}");
        let flagged: Vec<bool> = row_codes
            .iter()
            .map(|c| c.iter().any(|x| x == code))
            .collect();
        let n_flagged = flagged.iter().filter(|&&x| x).count();
        assert_eq!(all["rows"], n_flagged, "{code}");
        assert_eq!(all["evidence"]["rows_in_group"], r.len());
        assert!(close(
            &all["evidence"]["flagged_rate"],
            n_flagged as f64 / r.len() as f64
        ));
        // The whole data is tested against the baseline's bound alone.
        let upper = all["evidence"]["baseline_flagged_rate_upper"]
            .as_f64()
            .unwrap();
        assert!(close(
            &all["evidence"]["expected_flagged_rows"],
            upper * r.len() as f64
        ));
        let hits = flagged
            .iter()
            .zip(&flipped)
            .filter(|(a, b)| **a && **b)
            .count();
        let (precision, recall) = (
            hits as f64 / n_flagged as f64,
            hits as f64 / n_flipped as f64,
        );
        assert!(
            precision >= min_precision && recall >= min_recall,
            "{code}: {precision} {recall}"
        );
        for e in all["example_rows"].as_array().unwrap() {
            assert!(flagged[e["row"].as_u64().unwrap() as usize], "{e}");
        }
        if code == "LBL003" {
            // Two classes: a row labelled i is an issue exactly when the other class j is at or
            // above its threshold (p_j = 1 - p_i >= t_j) and either i is below its own or j is
            // the more probable.
            let t = &all["evidence"]["class_thresholds"];
            let th = [t["0"].as_f64().unwrap(), t["1"].as_f64().unwrap()];
            assert!(th.iter().all(|&v| v > 0.5 && v < 1.0), "{t}");
            for (i, row) in r.iter().enumerate() {
                let (own, other) = (row.label as usize, 1 - row.label as usize);
                let p = confidence[i];
                let expect = 1.0 - p >= th[other] && (p < th[own] || 1.0 - p > p);
                // Rows on a threshold to rounding are left out.
                if (1.0 - p - th[other]).abs() > 1e-9 && (p - th[own]).abs() > 1e-9 {
                    assert_eq!(flagged[i], expect, "row {i}: p {p}, thresholds {th:?}");
                }
            }
        }
    }
}

/// An outlier block in one file: 60 rows with `x` just past the baseline's range and
/// `amount` 30 times its usual size. OUT001 names the slices past the baseline's maximum (high;
/// their examples are planted rows) and the file (2% of its rows: low), and says which columns
/// made the rows extreme.
#[test]
fn out001_outlier_block_is_found_where_it_was_planted() {
    let t = tempfile::tempdir().unwrap();
    let b = baseline(t.path());
    let c = t.path().join("current");
    write_csv(&c.join("part-0.csv"), &rows(3000, 20));
    let mut r = rows(3000, 21);
    for row in r.iter_mut().skip(100).take(60) {
        row.x = Some(4.5 + row.x.unwrap().abs() / 10.0);
        row.amount *= 30.0;
    }
    write_csv(&c.join("part-1.csv"), &r);
    let f = scan(&c, &b, &[]);
    let out = with_code(&f, "OUT001");
    assert!(!out.is_empty(), "{:?}", codes(&f));

    let planted = |e: &Value| {
        e["source"].as_str().unwrap().ends_with("part-1.csv")
            && (100..160).contains(&e["row"].as_u64().unwrap())
    };
    // The file, and a slice past the baseline's maximum of `amount` or `x`, each high.
    let file = out
        .iter()
        .find(|o| o["slice"].as_array().unwrap().is_empty() && o["sources"][0].is_string())
        .expect("a finding for the file");
    assert!(names(&file["sources"])[0].ends_with("part-1.csv"));
    // Every planted row is flagged, and at most the baseline's 0.5% more (99% bound: 30).
    let flagged = file["rows"].as_u64().unwrap();
    assert!((60..=90).contains(&flagged), "{file}");
    let past_max = out
        .iter()
        .find(|o| {
            o["slice"][0]["op"] == "ge"
                && ["x", "amount"].contains(&o["slice"][0]["column"].as_str().unwrap())
        })
        .expect("a slice past the maximum");
    assert_eq!(severity(past_max), "high");
    // Its examples are planted rows (a clean row can lie past the maximum too: at most one).
    let ex = past_max["example_rows"].as_array().unwrap();
    assert!(
        ex.len() == 5 && ex.iter().filter(|e| planted(e)).count() >= 4,
        "{past_max}"
    );
    for o in [file, past_max] {
        // The evidence agrees with itself: the rate is flagged / rows, the expected count is
        // the tested rate (the larger of the baseline's and the rest of the data's) × rows.
        let e = &o["evidence"];
        let (n, k) = (
            e["rows_in_group"].as_f64().unwrap(),
            e["flagged_rows"].as_f64().unwrap(),
        );
        assert_eq!(o["rows"].as_f64().unwrap(), k);
        assert!(
            (e["outlier_rate"].as_f64().unwrap() - k / n).abs() < 1e-5,
            "{e}"
        );
        let tested = e["baseline_outlier_rate"]
            .as_f64()
            .unwrap()
            .max(e["current_outlier_rate_elsewhere"].as_f64().unwrap());
        let expected = e["expected_flagged_rows"].as_f64().unwrap();
        assert!(
            (expected - tested * n).abs() <= 1e-4 * expected.max(1.0),
            "{e}"
        );
        assert!(
            (o["effect"]["value"].as_f64().unwrap()
                - (k / n) / e["baseline_outlier_rate"].as_f64().unwrap())
            .abs()
                < 1e-3 * o["effect"]["value"].as_f64().unwrap(),
            "{o}"
        );
        let top: Vec<&str> = o["evidence"]["top_features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["feature"].as_str().unwrap())
            .collect();
        assert!(
            top[..2].contains(&"amount") && top[..2].contains(&"x"),
            "{top:?}"
        );
    }
    // Nothing points at the clean file.
    assert!(out.iter().all(|o| {
        !o["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_str().unwrap().ends_with("part-0.csv"))
    }));
}

#[test]
fn sch005_unit_change_in_one_file() {
    let t = tempfile::tempdir().unwrap();
    let b = baseline(t.path());
    let c = t.path().join("current");
    let parts = dataset(&c, 4, 3000, 11);
    let mut r = parts[2].clone();
    for row in &mut r {
        row.amount /= 100.0;
    }
    write_csv(&c.join("part-2.csv"), &r);
    let f = scan(&c, &b, &[]);
    let hit = with_code(&f, "SCH005");
    assert_eq!(hit.len(), 1, "{:?}", codes(&f));
    assert_eq!(names(&hit[0]["columns"]), ["amount"]);
    assert!(names(&hit[0]["sources"])[0].ends_with("part-2.csv"));
    assert_eq!(hit[0]["effect"]["value"], -2.0);
}

#[test]
fn dup001_duplicate_rate_up_names_the_file() {
    let t = tempfile::tempdir().unwrap();
    let b = baseline(t.path());
    let c = t.path().join("current");
    let parts = dataset(&c, 2, 3000, 12);
    let mut r = parts[1].clone();
    r.extend(parts[0].iter().step_by(10).cloned()); // 300 copies
    write_csv(&c.join("part-1.csv"), &r);
    let f = scan(&c, &b, &[]);
    let hit = with_code(&f, "DUP001");
    assert_eq!(hit.len(), 1, "{:?}", codes(&f));
    assert_eq!(hit[0]["rows"], 300);
    assert!(names(&hit[0]["sources"])[0].ends_with("part-1.csv"));
    // 300 / 6,300 = 4.8% against 0: medium (≥ 1 point, < 5 points).
    assert_eq!(severity(hit[0]), "medium");
}

#[test]
fn dup002_identical_features_with_conflicting_labels() {
    let t = tempfile::tempdir().unwrap();
    let b = baseline(t.path());
    let c = t.path().join("current");
    let mut r = rows(6000, 13);
    let flipped: Vec<Row> = r
        .iter()
        .take(150)
        .map(|row| Row {
            label: 1 - row.label,
            ..row.clone()
        })
        .collect();
    r.extend(flipped);
    write_csv(&c.join("part-0.csv"), &r);
    let f = scan(&c, &b, &[]);
    let hit = with_code(&f, "DUP002");
    assert_eq!(hit.len(), 1, "{:?}", codes(&f));
    assert_eq!(hit[0]["rows"], 300);
    assert_eq!(hit[0]["evidence"]["conflicting_groups"], 150);
}

#[test]
fn dup003_new_large_group_of_one_row() {
    let t = tempfile::tempdir().unwrap();
    let b = baseline(t.path());
    let c = t.path().join("current");
    let mut r = rows(6000, 14);
    let mut poison = r[0].clone();
    poison.label = 1;
    r.extend(std::iter::repeat_n(poison, 120));
    write_csv(&c.join("part-0.csv"), &r);
    let f = scan(&c, &b, &[]);
    let hit = with_code(&f, "DUP003");
    assert_eq!(hit.len(), 1, "{:?}", codes(&f));
    // The group: the original row and its 120 copies, one label.
    assert_eq!(hit[0]["evidence"]["groups"][0]["rows"], 121);
    assert_eq!(hit[0]["evidence"]["groups"][0]["label"], "1");
    assert_eq!(severity(hit[0]), "high"); // 121 / 6,120 ≥ 1%
}

#[test]
fn drf001_to_drf003_drifted_columns_and_label() {
    let t = tempfile::tempdir().unwrap();
    let b = baseline(t.path());
    let c = t.path().join("current");
    let mut r = rows(6000, 15);
    for (i, row) in r.iter_mut().enumerate() {
        row.amount *= 1.8;
        if row.cat == "b" && i % 2 == 0 {
            row.cat = "d".into();
        }
    }
    // Label drift: drop two thirds of the positive rows.
    let r: Vec<Row> = r
        .into_iter()
        .enumerate()
        .filter(|(i, row)| row.label == 0 || i % 3 == 0)
        .map(|(_, row)| row)
        .collect();
    write_csv(&c.join("part-0.csv"), &r);
    let f = scan(&c, &b, &[]);
    let num = with_code(&f, "DRF001");
    assert!(
        num.iter().any(|f| names(&f["columns"]) == ["amount"]),
        "{:?}",
        codes(&f)
    );
    let cat = with_code(&f, "DRF002");
    assert!(cat.iter().any(|f| names(&f["columns"]) == ["cat"]));
    assert_eq!(with_code(&f, "DRF003").len(), 1);
    // `x` and `k` did not drift (they move only through the label filter on x: x may show).
    assert!(
        !cat.iter()
            .chain(num.iter())
            .any(|f| names(&f["columns"]) == ["k"])
    );
}

#[test]
fn drf004_drift_in_one_file_is_named() {
    let t = tempfile::tempdir().unwrap();
    let b = baseline(t.path());
    let c = t.path().join("current");
    let parts = dataset(&c, 4, 3000, 16);
    let mut r = parts[3].clone();
    for row in &mut r {
        row.x = row.x.map(|x| x + 1.0);
    }
    write_csv(&c.join("part-3.csv"), &r);
    let f = scan(&c, &b, &[]);
    let hit = with_code(&f, "DRF004");
    assert_eq!(hit.len(), 1, "{:?}", codes(&f));
    assert!(names(&hit[0]["sources"])[0].ends_with("part-3.csv"));
    assert_eq!(hit[0]["slice"][0]["column"], "__source");
    assert!(names(&hit[0]["columns"]).contains(&"x".to_string()));
    // The same shift in every file is the data's drift, not one file's.
    for (i, p) in parts.iter().enumerate() {
        let mut r = p.clone();
        for row in &mut r {
            row.x = row.x.map(|x| x + 1.0);
        }
        write_csv(&c.join(format!("part-{i}.csv")), &r);
    }
    let f = scan(&c, &b, &[]);
    assert!(with_code(&f, "DRF004").is_empty(), "{:?}", codes(&f));
    assert!(!with_code(&f, "DRF001").is_empty());
}

#[test]
fn drf004_names_the_hive_partition() {
    let t = tempfile::tempdir().unwrap();
    let b = baseline(t.path());
    let c = t.path().join("current");
    for day in 1..=4 {
        let mut r = rows(2500, 20 + day);
        if day == 3 {
            for row in &mut r {
                row.cat = if row.cat == "a" {
                    "c".into()
                } else {
                    row.cat.clone()
                };
            }
        }
        write_csv(&c.join(format!("day={day}/part-0.csv")), &r);
    }
    let f = scan(&c, &b, &[]);
    let hit = with_code(&f, "DRF004");
    assert_eq!(hit.len(), 1, "{:?}", codes(&f));
    assert_eq!(hit[0]["slice"][0]["column"], "day");
    assert_eq!(hit[0]["slice"][0]["value"], "3");
    assert!(names(&hit[0]["sources"])[0].ends_with("day=3/part-0.csv"));
    assert_eq!(names(&hit[0]["columns"]), ["cat"]);
}

/// `explain` prints every check of the registry: its code, name and documentation (whose
/// sections the registry's unit test checks).
#[test]
fn explain_prints_every_check() {
    for d in poisonscan::detect::registry() {
        let code = d.code();
        let o = Command::new(env!("CARGO_BIN_EXE_poisonscan"))
            .args(["explain", &code.to_lowercase()])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{code}");
        let head = format!("{code} ({})\n\n", d.check());
        assert!(text.starts_with(&head), "{code}: {text}");
        assert_eq!(text[head.len()..].trim_end(), d.doc().trim(), "{code}");
        for part in [
            "What it finds: ",
            "Why it matters: ",
            "Example: ",
            "Defaults:",
        ] {
            assert!(text.contains(part), "{code}: missing {part:?} in {text}");
        }
    }
}
