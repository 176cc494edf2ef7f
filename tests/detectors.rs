//! Each check on a positive and a negative fixture: synthetic CSV data from a seeded generator,
//! with one problem injected, scanned by the real binary. `fixtures` lists both for every code
//! of the registry, and a test fails for a code that lacks either.

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
    write_lines(
        path,
        "x,amount,k,cat,label",
        rows.iter().map(|r| {
            let x = r.x.map(|x| format!("{x:.6}")).unwrap_or_default();
            format!("{x},{:.2},{},{},{}", r.amount, r.k, r.cat, r.label)
        }),
    );
}

/// A CSV file of `header` and `lines` at `path`, its folders created.
fn write_lines(path: &Path, header: &str, lines: impl IntoIterator<Item = String>) {
    let mut s = format!("{header}\n");
    for l in lines {
        s.push_str(&l);
        s.push('\n');
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

/// The TRG001 findings on a rule of two items.
fn pair_rules(findings: &[Value]) -> Vec<&Value> {
    with_code(findings, "TRG001")
        .into_iter()
        .filter(|h| h["slice"].as_array().unwrap().len() == 2)
        .collect()
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
    profile_baseline(&data, &prof);
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

/// A handful of replayed rows in their own file is judged by an exact test: four baseline rows
/// are high (fresh rows of this data never match the baseline: P = r⁴ with r the rest's smoothed
/// match rate), a single one is not.
#[test]
fn int002_a_handful_of_replayed_rows() {
    let t = tempfile::tempdir().unwrap();
    let b = baseline(t.path());
    let c = t.path().join("current");
    dataset(&c, 2, 3000, 2);
    let old = rows(3000, 100); // the baseline's part-0
    write_csv(&c.join("part-2.csv"), &old[..4]);
    write_csv(&c.join("part-3.csv"), &old[10..11]);
    let f = scan(&c, &b, &[]);
    let hit = with_code(&f, "INT002");
    assert_eq!(hit.len(), 1, "{:?}", codes(&f));
    assert!(names(&hit[0]["sources"])[0].ends_with("part-2.csv"));
    assert_eq!(severity(hit[0]), "high");
    assert_eq!(hit[0]["rows"], 4);
    // The rest of the current data: 6,001 rows, 1 of them (part-3's) a baseline row.
    let r: f64 = 2.0 / 6003.0;
    let p = hit[0]["evidence"]["p_value"].as_f64().unwrap();
    assert!((p - r.powi(4)).abs() < 1e-5 * r.powi(4), "{p}");
}

/// `rows` as Parquet with `group` rows a row group (Snappy, the writer's defaults otherwise).
fn write_parquet(path: &Path, rows: &[Row], group: usize) {
    use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
    use std::sync::Arc;
    let batch = arrow::record_batch::RecordBatch::try_from_iter([
        (
            "x",
            Arc::new(rows.iter().map(|r| r.x).collect::<Float64Array>()) as ArrayRef,
        ),
        (
            "amount",
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|r| r.amount),
            )),
        ),
        (
            "k",
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.k))),
        ),
        (
            "cat",
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.cat))),
        ),
        (
            "label",
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| i64::from(r.label)),
            )),
        ),
    ])
    .unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(group))
        .build();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let f = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(f, batch.schema(), Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// xxh3-128 of each row group's bytes (from the first to the last byte of its column chunks),
/// computed here from the file's own metadata, in the hex `xxhsum -H2` prints.
fn row_group_xxh3(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    let reader = parquet::file::serialized_reader::SerializedFileReader::new(
        std::fs::File::open(path).unwrap(),
    )
    .unwrap();
    use parquet::file::reader::FileReader;
    reader
        .metadata()
        .row_groups()
        .iter()
        .map(|rg| {
            let spans: Vec<(u64, u64)> = rg.columns().iter().map(|c| c.byte_range()).collect();
            let start = spans.iter().map(|s| s.0).min().unwrap() as usize;
            let end = spans.iter().map(|s| s.0 + s.1).max().unwrap() as usize;
            format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&bytes[start..end]))
        })
        .collect()
}

/// Row groups are told apart by xxh3-128 of their bytes, the file by BLAKE3: the manifest holds
/// both as computed here; INT001 names the one row group edited in place, INT002 names a row
/// group that is a byte copy of a baseline row group (`match: "xxh3-128"`).
#[test]
fn int001_int002_parquet_row_groups_by_their_hashes() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let old = rows(3000, 100);
    write_parquet(&data.join("part-0.parquet"), &old, 1000);
    write_parquet(&data.join("part-1.parquet"), &rows(3000, 101), 1000);
    let prof = t.path().join("base.psprof");
    profile_baseline(&data, &prof);
    let p = poisonscan::profile::load(&prof).unwrap();
    for m in &p.manifest {
        let path = Path::new(&m.path);
        let got: Vec<String> = m.row_groups.iter().map(|g| g.xxh3.clone()).collect();
        assert_eq!(got, row_group_xxh3(path), "{}", m.path);
        assert_eq!(got.len(), 3);
        let file = blake3::hash(&std::fs::read(path).unwrap());
        assert_eq!(m.blake3, file.to_hex().as_str());
    }

    // One row of part-0's last row group edited in place: INT001 names row group 2 alone.
    let mut edited = old.clone();
    edited[2500].k = 499 - edited[2500].k;
    write_parquet(&data.join("part-0.parquet"), &edited, 1000);
    let f = scan(&data, &prof, &[]);
    let hit = with_code(&f, "INT001");
    assert_eq!(hit.len(), 1, "{:?}", codes(&f));
    assert!(names(&hit[0]["sources"])[0].ends_with("part-0.parquet"));
    assert_eq!(
        hit[0]["evidence"]["changed_row_groups"],
        serde_json::json!([2])
    );

    // A new file whose last row group is the baseline's row group 1, written again.
    let cur = t.path().join("current");
    let mut fresh = rows(3000, 7);
    fresh.extend_from_slice(&old[1000..2000]);
    write_parquet(&cur.join("part-9.parquet"), &fresh, 1000);
    let part0 = p
        .manifest
        .iter()
        .find(|m| m.path.ends_with("part-0.parquet"));
    assert_eq!(
        row_group_xxh3(&cur.join("part-9.parquet"))[3],
        part0.unwrap().row_groups[1].xxh3
    );
    let f = scan(&cur, &prof, &[]);
    let hit = with_code(&f, "INT002");
    assert_eq!(hit.len(), 1, "{:?}", codes(&f));
    let e = &hit[0]["evidence"];
    assert_eq!(e["match"], "xxh3-128");
    assert!(
        e["baseline_source"]
            .as_str()
            .unwrap()
            .ends_with("part-0.parquet")
    );
    assert_eq!(e["baseline_row_group"], 1);
    assert_eq!(hit[0]["rows"], 1000);
    assert_eq!(severity(hit[0]), "high");
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

/// The variance of a slice's baseline share `p_b` of `label`, as LBL001 has it: each class's
/// sample rows in the slice binomial (half a row of smoothing), the sample being the whole
/// baseline (`base_rows`, every row standing for one), `slice` its rows in the slice.
fn baseline_share_var(base_rows: &[Row], slice: &[&Row], label: u8, p_b: f64) -> f64 {
    let wm = slice.len() as f64;
    [0u8, 1]
        .iter()
        .map(|&c| {
            let n_h = base_rows.iter().filter(|x| x.label == c).count() as f64;
            let m_h = slice.iter().filter(|x| x.label == c).count() as f64;
            let pi = (m_h + 0.5) / (n_h + 1.0);
            let z = if c == label { 1.0 } else { 0.0 };
            n_h * pi * (1.0 - pi) * (z - p_b).powi(2)
        })
        .sum::<f64>()
        / (wm * wm)
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
    // current share's: the larger of the share's own (half a row smoothed) and the expected
    // share's.
    let var_b = baseline_share_var(&base_rows, &base_c, label, p_b);
    let denom = 1.0 - p_b + p_b * ratio;
    let slope = ratio / (denom * denom);
    let n = in_c.len() as f64;
    let smoothed = (share(&in_c) * n + 0.5) / (n + 1.0);
    // The median's own variance, a weighted median's: π/2 · Σ wᵢ² / (Σ wᵢ/√vᵢ)², wᵢ = nᵢ/N and
    // vᵢ a slice's log odds ratio variance where it moved as the whole data did (1/k + 1/(n − k)
    // now, k the rows of the label that move predicts: the baseline's share, half a row
    // smoothed, its odds times the whole data's odds ratio; 1/m + 1/(m' − m) in the baseline;
    // half a row of smoothing per cell; every baseline row stands for one). The flipped
    // category's emptied cell does not enter it.
    let cats = ["a", "b", "c", "d"];
    let count = |v: &[Row]| v.iter().filter(|x| x.label == label).count() as f64;
    let whole = odds(count(&r), r.len() as f64) / odds(count(&base_rows), base_rows.len() as f64);
    let total = r.len() as f64;
    let (mut spread, mut density) = (0.0, 0.0);
    for cat in cats {
        let now = r.iter().filter(|x| x.cat == cat).count() as f64;
        let then: Vec<&Row> = base_rows.iter().filter(|x| x.cat == cat).collect();
        let m = then.iter().filter(|x| x.label == label).count() as f64;
        let p = (m + 0.5) / (then.len() as f64 + 1.0);
        let k = now * p * whole / (1.0 - p + p * whole);
        let v = 1.0 / (k + 0.5)
            + 1.0 / (now - k + 0.5)
            + 1.0 / (m + 0.5)
            + 1.0 / (then.len() as f64 - m + 0.5);
        spread += (now / total).powi(2);
        density += now / total / v.sqrt();
    }
    let by_log_r = p_b * (1.0 - p_b) * slope;
    let cur_var = (smoothed * (1.0 - smoothed)).max(expected * (1.0 - expected));
    let var = slope * slope * var_b
        + cur_var / n
        + by_log_r * by_log_r * std::f64::consts::FRAC_PI_2 * spread / (density * density);
    let z = (share(&in_c) - expected) / var.sqrt();
    assert!(close(&h["statistic"]["value"], z), "{h} {z}");
    // The examples are rows of the slice that now carry label 0.
    for e in h["example_rows"].as_array().unwrap() {
        let row = &r[e["row"].as_u64().unwrap() as usize];
        assert_eq!((row.cat.as_str(), row.label), ("c", 0), "{e}");
    }
}

/// LBL001 grades a slice also by the rows whose label moved: 150 of category `c`'s 1,200 rows
/// flipped from 1 to 0 move its mix by Cohen's h of about 0.26 (low on its own), but the 99% lower
/// bound of the rows moved is above 1% of the data: high. The bound is recomputed from the
/// evidence (the test's standard error is the share's move over z).
#[test]
fn lbl001_rows_moved_raise_the_severity() {
    let t = tempfile::tempdir().unwrap();
    let b = baseline(t.path());
    let c = t.path().join("current");
    let mut r = rows(6000, 13);
    for row in r
        .iter_mut()
        .filter(|r| r.cat == "c" && r.label == 1)
        .take(150)
    {
        row.label = 0;
    }
    write_csv(&c.join("part-0.csv"), &r);
    let f = scan(&c, &b, &[]);
    let hit = with_code(&f, "LBL001");
    let h = hit
        .iter()
        .find(|h| h["slice"][0]["column"] == "cat" && h["slice"][0]["value"] == "c")
        .unwrap_or_else(|| panic!("{hit:?}"));
    let ev = &h["evidence"];
    let g = |k: &str| ev[k].as_f64().unwrap();
    let cohens_h = g("cohens_h").abs();
    assert!((0.2..0.35).contains(&cohens_h), "{h}");
    let (share, expected, base) = (
        g("label_share"),
        g("expected_label_share"),
        g("baseline_label_share"),
    );
    assert_eq!((share - expected).signum(), (share - base).signum(), "{h}");
    let z = h["statistic"]["value"].as_f64().unwrap();
    let sd = (share - expected) / z;
    let in_c: Vec<&Row> = r.iter().filter(|r| r.cat == "c").collect();
    let n = in_c.len() as f64;
    assert_eq!(h["rows"].as_f64().unwrap(), n);
    // The move from the baseline's share has its own standard error: the baseline share's
    // (each class's sample rows binomial; the sample is the whole baseline, every row standing
    // for one) and the current share's: the larger of its own (half a row of smoothing) and the
    // baseline share's.
    let label: u8 = ev["label"].as_str().unwrap().parse().unwrap();
    let base_rows = [rows(3000, 100), rows(3000, 101)].concat();
    let base_c: Vec<&Row> = base_rows.iter().filter(|r| r.cat == "c").collect();
    let var_b = baseline_share_var(&base_rows, &base_c, label, base);
    let k = in_c.iter().filter(|x| x.label == label).count() as f64;
    let smoothed = (k + 0.5) / (n + 1.0);
    let sd_b = (var_b + (smoothed * (1.0 - smoothed)).max(base * (1.0 - base)) / n).sqrt();
    let z99 = 2.326_347_874_040_841;
    let moved = ((share - expected).abs() - z99 * sd).min((share - base).abs() - z99 * sd_b) * n;
    assert!(
        (g("moved_rows_lower") - moved).abs() < 1e-3 * moved,
        "{h} {moved}"
    );
    assert!(
        (g("moved_share_lower") - moved / 6000.0).abs() < 1e-6,
        "{h}"
    );
    // A lower bound: under the 150 labels flipped, and above 1% of the rows (high).
    assert!(moved <= 150.0 && moved / 6000.0 >= 0.01, "{h}");
    assert_eq!(severity(h), "high");
}

/// Rows of a column of 3 large groups (`g0`–`g2`, 28% of the rows each) and 20 small ones
/// (`s0`–`s19`, 0.8% each: about 40 rows of 5,000, over LBL001's 30), label 1 on 30% of every
/// group's rows, with a noise column: `n` rows from `seed`.
fn long_tail_rows(n: usize, seed: u64) -> Vec<(String, f64, u8)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let u: f64 = rng.random();
            let group = if u < 0.84 {
                format!("g{}", (u / 0.28) as usize)
            } else {
                format!("s{}", ((u - 0.84) / 0.008) as usize)
            };
            let label = u8::from(rng.random::<f64>() < 0.3);
            (group, normal(&mut rng), label)
        })
        .collect()
}

fn write_group_csv(path: &Path, rows: &[(String, f64, u8)]) {
    let lines = rows.iter().map(|(g, x, l)| format!("{g},{x:.6},{l}"));
    write_lines(path, "grp,x,label", lines);
}

/// LBL001 on a column of a few large groups among many small ones: 250 of `g0`'s label-0 rows
/// (5% of the rows) relabelled 1, its share about 30% → 48% (Cohen's h about 0.35). The
/// typical move of `grp` is the median over its 23 groups, near the large ones', and so is its
/// uncertainty: π/2 · Σ wᵢ² / (Σ wᵢ/√vᵢ)². Taken, as before, as the median of the groups'
/// variances (a small group's, about 0.23) times Σ wᵢ² (the large ones', 0.24), its variance
/// was some 25–30 times too large, the flip's z fell short of its bar, and nothing was
/// reported. Now the flipped group is named, high (the rows moved are over 1% of the data), and
/// no other group is.
#[test]
fn lbl001_a_flip_in_a_large_group_among_many_small_ones_is_named() {
    let t = tempfile::tempdir().unwrap();
    let (b, c) = (t.path().join("baseline"), t.path().join("current"));
    write_group_csv(&b.join("part-0.csv"), &long_tail_rows(5000, 31));
    let mut cur = long_tail_rows(5000, 32);
    let mut flipped = 0;
    for row in cur.iter_mut().filter(|r| r.0 == "g0" && r.2 == 0).take(250) {
        row.2 = 1;
        flipped += 1;
    }
    assert_eq!(flipped, 250);
    write_group_csv(&c.join("part-0.csv"), &cur);
    let f = scan(&c, &b, &[]);
    let hit: Vec<&Value> = with_code(&f, "LBL001")
        .into_iter()
        .filter(|h| h["slice"][0]["column"] == "grp")
        .collect();
    assert_eq!(hit.len(), 1, "{hit:?}");
    let h = hit[0];
    assert_eq!(h["slice"][0]["value"], "g0", "{h}");
    assert_eq!(h["evidence"]["label"], "1", "{h}");
    assert_eq!(severity(h), "high", "{h}");
    let g0: Vec<&(String, f64, u8)> = cur.iter().filter(|r| r.0 == "g0").collect();
    assert_eq!(h["rows"], g0.len());
    let share = g0.iter().filter(|r| r.2 == 1).count() as f64 / g0.len() as f64;
    assert!(close(&h["evidence"]["label_share"], share), "{h}");
}

/// LBL001 leaves a class the baseline never had to SCH006: label 2 on every 10th current row is
/// new in every slice, and a slice-by-slice report of it would repeat one whole-data change.
/// SCH006 names the class once; LBL001 names no slice for it.
#[test]
fn lbl001_leaves_a_class_new_everywhere_to_sch006() {
    let t = tempfile::tempdir().unwrap();
    let b = baseline(t.path());
    let c = t.path().join("current");
    let mut r = rows(6000, 19);
    for row in r.iter_mut().step_by(10) {
        row.label = 2;
    }
    write_csv(&c.join("part-0.csv"), &r);
    let f = scan(&c, &b, &[]);
    let new_class = with_code(&f, "SCH006");
    assert_eq!(new_class.len(), 1, "{:?}", codes(&f));
    assert!(
        new_class[0]["title"].as_str().unwrap().contains('2'),
        "{}",
        new_class[0]
    );
    for h in with_code(&f, "LBL001") {
        assert_ne!(h["evidence"]["label"], "2", "{h}");
    }
}

/// LBL001 on a source file: 250 of `part-1.csv`'s 2,000 rows flipped from label 1 to 0. A file
/// is tested against the rest of the current data and against the whole baseline, and the
/// weaker of the two counts. With the other file untouched the baseline is the weaker one; with
/// 40 of the other file's rows flipped the same way, the rest is. In both, Cohen's h and the 99%
/// lower bound of the rows moved are recomputed by hand from the counts: h alone is low, the
/// rows moved (over 1% of the data) make it high.
#[test]
fn lbl001_a_flipped_file_is_graded_by_its_rows_moved() {
    let t = tempfile::tempdir().unwrap();
    let b = baseline(t.path());
    let flip = |r: &mut [Row], n: usize| {
        let mut flipped = 0;
        for row in r.iter_mut().filter(|r| r.label == 1).take(n) {
            row.label = 0;
            flipped += 1;
        }
        assert_eq!(flipped, n);
    };
    let mut file = rows(2000, 17);
    flip(&mut file, 250);
    for (rest_flips, rest_weaker) in [(0, false), (40, true)] {
        let c = t.path().join(format!("current-{rest_flips}"));
        let mut rest = rows(4000, 16);
        flip(&mut rest, rest_flips);
        write_csv(&c.join("part-0.csv"), &rest);
        write_csv(&c.join("part-1.csv"), &file);
        let f = scan(&c, &b, &[]);
        let hit = with_code(&f, "LBL001");
        let h = hit
            .iter()
            .find(|h| h["slice"].as_array().unwrap().is_empty())
            .unwrap_or_else(|| panic!("{hit:?}"));
        let sources = names(&h["sources"]);
        assert_eq!(sources.len(), 1, "{h}");
        assert!(sources[0].ends_with("part-1.csv"), "{h}");
        // By hand: the tested label (the baseline's rarer one), its share in the file, in the
        // rest of the current data and in the baseline (whose sample is all of its 6,000 rows).
        let ev = &h["evidence"];
        let label: u8 = ev["label"].as_str().unwrap().parse().unwrap();
        let base_rows = [rows(3000, 100), rows(3000, 101)].concat();
        let count = |v: &[Row]| v.iter().filter(|r| r.label == label).count() as f64;
        let ones = base_rows.iter().filter(|r| r.label == 1).count();
        assert_eq!(label, u8::from(2 * ones <= base_rows.len()));
        let (n, n_rest, n_base) = (2000.0, 4000.0, 6000.0);
        let share = count(&file) / n;
        let rest_share = count(&rest) / n_rest;
        let p_b = count(&base_rows) / n_base;
        assert!(close(&ev["label_share"], share), "{h}");
        assert!(close(&ev["baseline_label_share"], p_b), "{h}");
        let cohen = |a: f64, b: f64| 2.0 * a.sqrt().asin() - 2.0 * b.sqrt().asin();
        let (h_rest, h_base) = (cohen(share, rest_share), cohen(share, p_b));
        assert_eq!(h_rest.signum(), h_base.signum());
        assert_eq!(
            h_rest.abs() < h_base.abs(),
            rest_weaker,
            "{h_rest} {h_base}"
        );
        // The standard errors: the file's share (half a row of smoothing) with the rest's, and
        // with the baseline's.
        let smoothed = (count(&file) + 0.5) / (n + 1.0);
        let var_file = smoothed * (1.0 - smoothed) / n;
        let sd_rest = (var_file + rest_share * (1.0 - rest_share) / n_rest).sqrt();
        let sd_base = (var_file + p_b * (1.0 - p_b) / n_base).sqrt();
        let (weaker_h, expected, sd) = if rest_weaker {
            (h_rest, rest_share, sd_rest)
        } else {
            (h_base, p_b, sd_base)
        };
        assert!(close(&ev["cohens_h"], weaker_h), "{h} {weaker_h}");
        assert!(close(&ev["expected_label_share"], expected), "{h}");
        assert!((0.2..0.35).contains(&weaker_h.abs()), "{h}");
        let z99 = 2.326_347_874_040_841;
        let moved =
            ((share - expected).abs() - z99 * sd).min((share - p_b).abs() - z99 * sd_base) * n;
        assert!(
            (ev["moved_rows_lower"].as_f64().unwrap() - moved).abs() < 1e-3 * moved,
            "{h} {moved}"
        );
        assert!(close(&ev["moved_share_lower"], moved / (n + n_rest)), "{h}");
        assert!(moved <= 250.0 && moved / (n + n_rest) >= 0.01, "{h}");
        assert_eq!(h["rows"], 2000);
        assert_eq!(severity(h), "high");
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

/// TRG001 on a handful of rows: a constant just above the baseline's maximum of `amount` on 6
/// rows, all given label 1, which only about 3% of the rows carry. A rule past the baseline's
/// range is tested by the exact chance that so few fresh rows all carry the label: p0⁶ with p0
/// the larger of the label's baseline share (its upper 99% bound) and the share the baseline's
/// analogue gave it, Bonferroni over the rules of that family; high at <= 10⁻⁴. So is one on 12
/// rows, over `min-support` (10), where the label's baseline rows would otherwise be its measure.
/// Six such rows with mixed labels, six of the common label, two rows, and six rows of label 1
/// with six distinct values past the range (as the most extreme rows of a class often are,
/// naturally) are no trigger.
#[test]
fn trg001_a_handful_of_rows_past_the_range_with_a_rare_label_is_a_trigger() {
    let t = tempfile::tempdir().unwrap();
    // Label 1 only in category `d` where the logistic model says 1: about 3% of the rows.
    let rare = |n: usize, seed: u64| -> Vec<Row> {
        rows(n, seed)
            .into_iter()
            .map(|mut r| {
                r.label = u8::from(r.label == 1 && r.cat == "d");
                r
            })
            .collect()
    };
    let b = t.path().join("baseline");
    let base = rare(6000, 1);
    write_csv(&b.join("part-0.csv"), &base);
    let base_max = base
        .iter()
        .map(|r| format!("{:.2}", r.amount).parse::<f64>().unwrap())
        .fold(f64::MIN, f64::max);
    let stamp = (base_max * 1.01).round();
    let c = t.path().join("current");
    for (planted, labels, distinct, want) in [
        (6, [1u8; 6].to_vec(), false, Some("high")),
        (12, [1u8; 12].to_vec(), false, Some("high")),
        (6, vec![1, 0, 1, 0, 1, 0], false, None),
        (6, [0u8; 6].to_vec(), false, None),
        (2, vec![1, 1], false, None),
        (6, [1u8; 6].to_vec(), true, None),
    ] {
        let mut r = rare(6000, 12);
        let zeros: Vec<usize> = (0..r.len()).filter(|&i| r[i].label == 0).collect();
        let at: Vec<usize> = zeros.iter().step_by(500).take(planted).copied().collect();
        for (j, (&i, &l)) in at.iter().zip(&labels).enumerate() {
            r[i].amount = if distinct {
                stamp + 7.0 * j as f64
            } else {
                stamp
            };
            r[i].label = l;
        }
        write_csv(&c.join("part-0.csv"), &r);
        let f = scan(&c, &b, &[]);
        let rule: Vec<&Value> = with_code(&f, "TRG001")
            .into_iter()
            .filter(|h| h["slice"][0]["column"] == "amount")
            .collect();
        let Some(want) = want else {
            assert!(rule.is_empty(), "{labels:?}: {rule:?}");
            continue;
        };
        let titles: Vec<&Value> = f.iter().map(|h| &h["title"]).collect();
        assert_eq!(rule.len(), 1, "{titles:?}");
        let h = rule[0];
        assert_eq!(severity(h), want, "{h}");
        // The rule is the exact value (natural values past the range are mostly distinct).
        assert_eq!(h["slice"][0]["op"], "eq");
        assert_eq!(h["slice"][0]["value"].as_f64(), Some(stamp));
        assert_eq!(h["rows"], planted);
        assert_eq!(h["evidence"]["label"], "1");
        assert_eq!(h["evidence"]["rows_per_label"]["1"], planted);
        for e in h["example_rows"].as_array().unwrap() {
            assert!(at.contains(&(e["row"].as_u64().unwrap() as usize)), "{e}");
        }
        // The test by hand: p0 is at least the label's baseline share's upper bound, about 3%.
        let e = &h["evidence"];
        let share = base.iter().filter(|x| x.label == 1).count() as f64 / base.len() as f64;
        assert!(close(&e["label_baseline_share"], share), "{e}");
        let p0 = e["past_range_null_label_share"].as_f64().unwrap();
        let upper = e["label_baseline_share_upper"].as_f64().unwrap();
        assert!(p0 >= upper && upper > share && p0 < 0.2, "{e}");
        let family = e["rules_tested"].as_f64().unwrap();
        assert!(family >= 1.0, "{e}");
        let q = (p0.powi(planted as i32) * family).min(1.0);
        let rel = |v: &Value| (v.as_f64().unwrap() / q - 1.0).abs() < 1e-4;
        assert!(rel(&h["q_value"]), "{h}: {q}");
        assert!(rel(&e["purity_q"]), "{e}: {q}");
        assert!(q <= 1e-4, "{q}");
    }
}

/// `rows(n, seed)` with `k` = 0 on every 20th row and on no other (the common value of the
/// clean-label tests).
fn rows_with_zeros(n: usize, seed: u64) -> Vec<Row> {
    let mut r = rows(n, seed);
    for (i, row) in r.iter_mut().enumerate() {
        if i % 20 == 0 {
            row.k = 0;
        } else if row.k == 0 {
            row.k = 1;
        }
    }
    r
}

/// TRG001 on a clean-label trigger of two values, only one of which grew: `k` = 0 is on every
/// 20th row on both sides (its share did not move, so it is no value spike of its own), and
/// `amount` = 1234.5, a value the baseline never had, is stamped on 25 rows of label 1 that hold
/// `k` = 0 (labels untouched) and on 20 rows of label 0 elsewhere. The value alone carries label
/// 1 on 25 of 45 rows, no trigger; with `k` = 0 beside it, 25 of 25. The row pass adds `k` = 0
/// to the value items as the grown value's partner, and the pair is named.
#[test]
fn trg001_a_clean_label_pair_is_found_through_the_value_beside_the_grown_one() {
    let t = tempfile::tempdir().unwrap();
    let b = t.path().join("baseline");
    write_csv(&b.join("part-0.csv"), &rows_with_zeros(6000, 1));
    let c = t.path().join("current");
    let mut r = rows_with_zeros(6000, 14);
    let ones: Vec<usize> = (0..r.len())
        .filter(|&i| r[i].k == 0 && r[i].label == 1)
        .step_by(3)
        .take(25)
        .collect();
    let zeros: Vec<usize> = (0..r.len())
        .filter(|&i| r[i].k != 0 && r[i].label == 0)
        .step_by(97)
        .take(20)
        .collect();
    assert_eq!((ones.len(), zeros.len()), (25, 20));
    for &i in ones.iter().chain(&zeros) {
        r[i].amount = 1234.5;
    }
    write_csv(&c.join("part-0.csv"), &r);
    let f = scan(&c, &b, &[]);
    let rule: Vec<&Value> = pair_rules(&f);
    let titles: Vec<&Value> = f.iter().map(|h| &h["title"]).collect();
    assert_eq!(rule.len(), 1, "{titles:?}");
    let h = rule[0];
    assert_eq!(severity(h), "high", "{h}");
    let preds: Vec<(&Value, &Value, f64)> = h["slice"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (&p["column"], &p["op"], p["value"].as_f64().unwrap()))
        .collect();
    assert_eq!(
        preds,
        vec![
            (&Value::from("amount"), &Value::from("eq"), 1234.5),
            (&Value::from("k"), &Value::from("eq"), 0.0)
        ],
        "{h}"
    );
    assert_eq!(h["rows"], 25);
    assert_eq!(h["evidence"]["label"], "1");
    assert_eq!(h["evidence"]["rows_per_label"]["1"], 25);
    for e in h["example_rows"].as_array().unwrap() {
        assert!(ones.contains(&(e["row"].as_u64().unwrap() as usize)), "{e}");
    }
    // The value alone is no trigger (25 of 45), and `k` = 0 is no spike.
    assert!(
        with_code(&f, "TRG001")
            .iter()
            .all(|h| h["slice"].as_array().unwrap().len() == 2),
        "{titles:?}"
    );
    assert!(
        with_code(&f, "TRG002")
            .iter()
            .all(|h| h["slice"][0]["column"] != "k"),
        "{titles:?}"
    );
}

/// Every `step`-th row (at most `n`) with `k` = 0 (or not) and the given label.
fn pick_rows(r: &[Row], k_zero: bool, label: u8, step: usize, n: usize) -> Vec<usize> {
    (0..r.len())
        .filter(|&i| (r[i].k == 0) == k_zero && r[i].label == label)
        .step_by(step)
        .take(n)
        .collect()
}

/// The columns of a finding's slice predicates, in order.
fn slice_columns(h: &Value) -> Vec<&Value> {
    h["slice"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["column"])
        .collect()
}

/// TRG001 on a clean-label trigger diluted by natural rows of its values: `k` = 0 on every 20th
/// row, `amount` = 1234.5 on 2 baseline rows with `k` = 0 (label 0), and in the current data on
/// 30 rows of label 1 with `k` = 0 (the trigger), 2 rows of label 0 with `k` = 0 (natural ones)
/// and 20 rows of label 0 elsewhere. The pair holds label 1 on 30 of 32 rows (0.94, under the
/// 0.95 a rule needs), but the baseline's rate of the pair predicts 2 of those rows, none of
/// label 1: its 30 new rows all carry label 1. The evidence's `diluted` is checked by hand; with
/// 4 of the stamped rows labelled 0 the pair is no trigger.
#[test]
fn trg001_a_trigger_diluted_by_natural_rows_is_judged_by_its_new_rows() {
    let t = tempfile::tempdir().unwrap();
    let b = t.path().join("baseline");
    let mut base = rows_with_zeros(6000, 1);
    for i in pick_rows(&base, true, 0, 7, 2) {
        base[i].amount = 1234.5;
    }
    write_csv(&b.join("part-0.csv"), &base);
    let c = t.path().join("current");
    let mut r = rows_with_zeros(6000, 15);
    let trigger = pick_rows(&r, true, 1, 3, 30);
    let natural = pick_rows(&r, true, 0, 11, 2);
    let elsewhere = pick_rows(&r, false, 0, 97, 20);
    assert_eq!((trigger.len(), natural.len(), elsewhere.len()), (30, 2, 20));
    for &i in trigger.iter().chain(&natural).chain(&elsewhere) {
        r[i].amount = 1234.5;
    }
    write_csv(&c.join("part-0.csv"), &r);
    let f = scan(&c, &b, &[]);
    let titles: Vec<&Value> = f.iter().map(|h| &h["title"]).collect();
    let rule: Vec<&Value> = pair_rules(&f);
    assert_eq!(rule.len(), 1, "{titles:?}");
    let h = rule[0];
    let cols = slice_columns(h);
    assert_eq!(cols, [&Value::from("amount"), &Value::from("k")], "{h}");
    assert_eq!(h["rows"], 32);
    assert_eq!(h["evidence"]["label"], "1");
    assert_eq!(h["evidence"]["rows_per_label"]["1"], 30);
    assert!(close(&h["evidence"]["confidence"], 30.0 / 32.0), "{h}");
    // The baseline's 2 rows of the pair (label 0) stand for 2 of the current rows: both sides
    // have 6,000 rows and the sample is the whole baseline.
    let d = &h["evidence"]["diluted"];
    assert!(close(&d["expected_rows"], 2.0), "{h}");
    assert!(close(&d["expected_rows_with_label"], 0.0), "{h}");
    assert!(close(&d["new_rows"], 30.0), "{h}");
    assert!(close(&d["new_rows_confidence"], 1.0), "{h}");
    assert_ne!(severity(h), "low", "{h}");
    // The same data with the natural rows labelled 1 too is an ordinary rule: nothing diluted.
    let mut pure = r.clone();
    for &i in &natural {
        pure[i].label = 1;
    }
    let c2 = t.path().join("current-pure");
    write_csv(&c2.join("part-0.csv"), &pure);
    let f2 = scan(&c2, &b, &[]);
    let rule2: Vec<&Value> = pair_rules(&f2);
    assert_eq!(rule2.len(), 1, "{f2:?}");
    assert!(rule2[0]["evidence"]["diluted"].is_null(), "{}", rule2[0]);
    // With 4 of the stamped rows labelled 0, the new rows carry label 1 at 26 of 30 (0.87):
    // no trigger.
    let mut mixed = r.clone();
    for &i in &trigger[..4] {
        mixed[i].label = 0;
    }
    let c3 = t.path().join("current-mixed");
    write_csv(&c3.join("part-0.csv"), &mixed);
    let f3 = scan(&c3, &b, &[]);
    assert!(
        with_code(&f3, "TRG001")
            .iter()
            .all(|h| h["slice"].as_array().unwrap().len() < 2),
        "{f3:?}"
    );
}

/// TRG001 leaves out a diluted rule that says nothing a larger rule does not. `amount` = 1234.5
/// is on 2 rows of label 0 on both sides (natural rows, `k` not 0), and in the current data
/// also on 30 rows of label 1. Stamped on rows whose `k` is not 0, the value alone is a diluted
/// trigger (30 of 32 rows, the 30 beyond the baseline's rate all of label 1) and is reported as
/// one. Stamped on 30 rows with `k` = 0, the pair `amount` = 1234.5, `k` = 0 holds label 1
/// outright on all of those new rows, and is the only rule reported: the value alone is still a
/// diluted rule, but one inside the pair.
#[test]
fn trg001_a_diluted_value_inside_an_outright_pair_is_left_to_the_pair() {
    let t = tempfile::tempdir().unwrap();
    let b = t.path().join("baseline");
    let mut base = rows_with_zeros(6000, 1);
    for i in pick_rows(&base, false, 0, 401, 2) {
        base[i].amount = 1234.5;
    }
    write_csv(&b.join("part-0.csv"), &base);
    let clean = rows_with_zeros(6000, 18);
    let natural = pick_rows(&clean, false, 0, 389, 2);
    for (name, on_zeros) in [("value", false), ("pair", true)] {
        let mut r = clean.clone();
        let stamped = pick_rows(&r, on_zeros, 1, 3, 30);
        assert_eq!((stamped.len(), natural.len()), (30, 2));
        for &i in stamped.iter().chain(&natural) {
            r[i].amount = 1234.5;
        }
        let c = t.path().join(name);
        write_csv(&c.join("part-0.csv"), &r);
        let f = scan(&c, &b, &[]);
        let titles: Vec<&Value> = f.iter().map(|h| &h["title"]).collect();
        let on_amount: Vec<&Value> = with_code(&f, "TRG001")
            .into_iter()
            .filter(|h| slice_columns(h).contains(&&Value::from("amount")))
            .collect();
        assert_eq!(on_amount.len(), 1, "{name}: {titles:?}");
        let h = on_amount[0];
        let cols = slice_columns(h);
        assert_eq!(h["evidence"]["label"], "1", "{h}");
        if on_zeros {
            assert_eq!(cols, [&Value::from("amount"), &Value::from("k")], "{h}");
            assert_eq!(h["rows"], 30);
            assert!(h["evidence"]["diluted"].is_null(), "{h}");
        } else {
            assert_eq!(cols, [&Value::from("amount")], "{h}");
            assert_eq!(h["rows"], 32);
            // The baseline's 2 rows stand for 2 of the current rows (6,000 rows a side).
            let d = &h["evidence"]["diluted"];
            assert!(close(&d["expected_rows"], 2.0), "{h}");
            assert!(close(&d["new_rows"], 30.0), "{h}");
            assert!(close(&d["new_rows_confidence"], 1.0), "{h}");
        }
    }
}

/// A current data of 6,000 clean rows under `root/current`, 25 of whose rows of label 1 carry
/// the category `zz`, which clean rows never have.
fn zz_on_25_ones(root: &Path) -> PathBuf {
    let c = root.join("current");
    let mut r = rows(6000, 13);
    let ones: Vec<usize> = (0..r.len()).filter(|&i| r[i].label == 1).collect();
    for &i in ones.iter().step_by(ones.len() / 25).take(25) {
        r[i].cat = "zz".into();
    }
    write_csv(&c.join("part-0.csv"), &r);
    c
}

/// TRG001: a rule new for its label (no baseline sample row of the label under it) at q <= 1e-4
/// is one severity higher than its ratio tier: a category the baseline never had, stamped on 25
/// rows all labelled 1, has a share of label 1's rows 3 to 5 times the baseline share's upper
/// bound (medium by the ratio) and is high; with `new-rule-q = 0` and `pure-rule-q = 0` it stays
/// medium. With `new-rule-q = 0` alone, its purity decides: 25 of 25 rows of label 1 are high
/// when the label's baseline share (its upper 99% bound) to the 25th power, times the rules
/// tested, is at most 10⁻⁶.
#[test]
fn trg001_a_rule_new_for_its_label_is_one_level_higher() {
    let t = tempfile::tempdir().unwrap();
    let b = baseline(t.path());
    let c = zz_on_25_ones(t.path());
    let off = t.path().join("off.toml");
    std::fs::write(&off, "[checks.TRG001]\nnew-rule-q = 0\npure-rule-q = 0\n").unwrap();
    let purity = t.path().join("purity.toml");
    std::fs::write(&purity, "[checks.TRG001]\nnew-rule-q = 0\n").unwrap();
    for (extra, want) in [
        (vec![], Some("high")),
        (vec!["--config", off.to_str().unwrap()], Some("medium")),
        (vec!["--config", purity.to_str().unwrap()], None),
    ] {
        let f = scan(&c, &b, &extra);
        let rule: Vec<&Value> = with_code(&f, "TRG001")
            .into_iter()
            .filter(|h| h["slice"][0]["column"] == "cat")
            .collect();
        assert_eq!(rule.len(), 1, "{:?}", codes(&f));
        let h = rule[0];
        assert_eq!(h["slice"][0]["value"], "zz", "{h}");
        assert_eq!(h["rows"], 25);
        assert_eq!(h["evidence"]["baseline_sample_rows_per_label"]["1"], 0);
        let ratio = h["evidence"]["share_of_label_rows"].as_f64().unwrap()
            / h["evidence"]["baseline_share_of_label_rows_upper"]
                .as_f64()
                .unwrap();
        assert!((3.0..5.0).contains(&ratio), "{ratio}: {h}");
        assert!(h["q_value"].as_f64().unwrap() <= 1e-4, "{h}");
        // The purity test by hand: P(25 of 25 | p) = p²⁵, Bonferroni over the rules tested.
        let e = &h["evidence"];
        let share = e["label_baseline_share"].as_f64().unwrap();
        let upper = e["label_baseline_share_upper"].as_f64().unwrap();
        assert!(share > 0.3 && upper > share && upper < share + 0.05, "{e}");
        let tested = e["rules_tested"].as_f64().unwrap();
        let purity_q = (upper.powi(25) * tested).min(1.0);
        assert!(close(&e["purity_q"], purity_q), "{e}: {purity_q}");
        let want = want.unwrap_or(if purity_q <= 1e-6 { "high" } else { "medium" });
        assert_eq!(severity(h), want, "{extra:?}");
    }
}

/// TRG001: a rule stays new for its label when the baseline holds a natural row or two of it,
/// as long as its share of the label's rows rose at least tenfold: 25 rows of label 1 stamped
/// with `cat` = `zz`, against one baseline row of label 1 that carries it, are high (before,
/// any baseline row made the rule old, medium by its ratio tier, and an attacker had only to
/// pick a value one baseline row has). With 3 such baseline rows (an eightfold rise; and 6 of
/// label 0, so that the baseline shows no pattern) the rule is judged by its ratio alone and is
/// not high.
#[test]
fn trg001_one_natural_baseline_row_does_not_hide_a_new_rule() {
    let t = tempfile::tempdir().unwrap();
    let c = zz_on_25_ones(t.path());
    for (natural, others, high) in [(1, 0, true), (3, 6, false)] {
        let b = t.path().join(format!("baseline-{natural}"));
        let mut parts = dataset(&b, 2, 3000, 1);
        for (label, take) in [(1, natural), (0, others)] {
            let picked: Vec<usize> = (0..parts[0].len())
                .filter(|&i| parts[0][i].label == label)
                .take(take)
                .collect();
            for i in picked {
                parts[0][i].cat = "zz".into();
            }
        }
        write_csv(&b.join("part-0.csv"), &parts[0]);
        let f = scan(&c, &b, &[]);
        let rule: Vec<&Value> = with_code(&f, "TRG001")
            .into_iter()
            .filter(|h| h["slice"][0]["column"] == "cat")
            .collect();
        assert_eq!(rule.len(), 1, "{natural}: {:?}", codes(&f));
        let h = rule[0];
        let e = &h["evidence"];
        assert_eq!(e["baseline_sample_rows_per_label"]["1"], natural, "{h}");
        assert_eq!(h["rows"], 25);
        // The rise by hand: the rule's share of label 1's rows now against the baseline
        // sample's (every baseline row is in the sample at this size).
        let base_ones = parts.iter().flatten().filter(|r| r.label == 1).count() as f64;
        let rise = e["share_of_label_rows"].as_f64().unwrap() / (natural as f64 / base_ones);
        assert_eq!(rise >= 10.0, high, "{rise}: {h}");
        assert!(h["q_value"].as_f64().unwrap() <= 1e-4, "{h}");
        assert_eq!(severity(h) == "high", high, "{natural}: {h}");
    }
}

/// Rows with two categorical columns of 40 values each (`u`, `v`, each value on 2.5% of the
/// rows: rare items, never `u` = `u7` with `v` = `v3`), a normal `x`, and a rare label (about 4%,
/// from `x`). Row `i` of `stamp` gets the pair on a row of label `stamp[i]`; with `copies`, each
/// such row is then a copy of the first (its `x` too).
fn rare_pair_csv(path: &Path, n: usize, seed: u64, stamp: &[u8], copies: bool) -> Vec<(u8, bool)> {
    let mut rows = rows_without_pair(n, seed, 40, (7, 3), (3.3, 0.8));
    for label in [0u8, 1] {
        let want = stamp.iter().filter(|&&l| l == label).count();
        let of: Vec<usize> = (0..n).filter(|&i| rows[i].3 == label).collect();
        for &i in of.iter().step_by(of.len() / want.max(1)).take(want) {
            (rows[i].0, rows[i].1) = (7, 3);
        }
    }
    if copies && let Some(first) = rows.iter().position(|r| (r.0, r.1) == (7, 3)) {
        let x = rows[first].2;
        for r in rows.iter_mut().filter(|r| (r.0, r.1) == (7, 3)) {
            r.2 = x;
        }
    }
    let out = rows.iter().map(|r| (r.3, (r.0, r.1) == (7, 3))).collect();
    write_uv_csv(path, rows);
    out
}

/// Writes rows of `rows_without_pair` as `u,v,x,label`, `u` and `v` prefixed.
fn write_uv_csv(path: &Path, rows: Vec<(i64, i64, f64, u8)>) {
    let lines = rows
        .into_iter()
        .map(|(u, v, x, l)| format!("u{u},v{v},{x:.6},{l}"));
    write_lines(path, "u,v,x,label", lines);
}

/// TRG001 weighs an item's baseline rows with its other current rows only where those carry the
/// label as often. The 8-row pair of the test below, with both items pooled (each with its
/// baseline rows); then with one in 15 of `u7`'s other current rows relabelled 1 (21 of its 162
/// other rows carry it, against about 4% of its baseline rows): `u7` is weighed on its current
/// rows alone (Fisher's p by hand from the file), `v3` still with its baseline's. And with every
/// one of `u7`'s other current rows relabelled 0 (none carries it, against about 4%: Fisher's
/// one-sided p under 0.05): `u7` is not pooled either, its baseline's rows of the label would
/// hide what its current rows show.
#[test]
fn trg001_an_item_whose_label_share_moved_is_not_pooled_with_its_baseline_rows() {
    let t = tempfile::tempdir().unwrap();
    let b = t.path().join("baseline");
    rare_pair_csv(&b.join("part-0.csv"), 6000, 1, &[], false);
    let c = t.path().join("current");
    let path = c.join("part-0.csv");
    let rows = rare_pair_csv(&path, 6000, 2, &[1; 8], false);
    let pooled = |f: &[Value], when: &str| -> Vec<bool> {
        let rule = pair_rules(f);
        assert_eq!(rule.len(), 1, "{when}: {:?}", codes(f));
        let e = &rule[0]["evidence"]["items_elsewhere"];
        assert_eq!(rule[0]["slice"][0]["value"], "u7", "{}", rule[0]);
        (0..2).map(|k| !e[k]["baseline_rows"].is_null()).collect()
    };
    assert_eq!(pooled(&scan(&c, &b, &[]), "as planted"), [true, true]);
    let text = std::fs::read_to_string(&path).unwrap();
    let planted: Vec<String> = text.lines().skip(1).map(str::to_string).collect();
    let mut lines = planted.clone();
    let (mut other, mut hits, mut seen) = (0u64, 0u64, 0usize);
    for (line, r) in lines.iter_mut().zip(&rows) {
        if line.starts_with("u7,") && !r.1 {
            if seen % 15 == 0 && line.ends_with(",0") {
                line.replace_range(line.len() - 1.., "1");
            }
            seen += 1;
            other += 1;
            hits += u64::from(line.ends_with(",1"));
        }
    }
    assert!(hits * 100 >= other * 10, "{hits} of {other}");
    write_lines(&path, "u,v,x,label", lines);
    let f = scan(&c, &b, &[]);
    assert_eq!(pooled(&f, "relabelled"), [false, true]);
    let rule = pair_rules(&f)[0];
    let e = &rule["evidence"]["items_elsewhere"][0];
    assert_eq!(e["rows"], other, "{e}");
    // 8 of 8 against `hits` of `other`: C(8 + hits, 8) / C(8 + other, 8).
    let choose8 = |n: u64| -> f64 { (0..8).map(|j| (n - j) as f64 / (8 - j) as f64).product() };
    assert!(
        close(&e["p_value"], choose8(8 + hits) / choose8(8 + other)),
        "{e}"
    );
    // `u7`'s other current rows all relabelled 0.
    let mut lines = planted;
    for (line, r) in lines.iter_mut().zip(&rows) {
        if line.starts_with("u7,") && !r.1 && line.ends_with(",1") {
            line.replace_range(line.len() - 1.., "0");
        }
    }
    write_lines(&path, "u,v,x,label", lines);
    let f = scan(&c, &b, &[]);
    assert_eq!(pooled(&f, "relabelled 0"), [false, true]);
    let e = &pair_rules(&f)[0]["evidence"]["items_elsewhere"][0];
    assert_eq!(e["label_share"], 0.0, "{e}");
    assert!(close(&e["p_value"], 1.0 / choose8(8 + other)), "{e}");
}

/// Rows of `rows_without_pair` (40 values of `u` and `v` from 0 to 39, a rare label from `x`)
/// where `v` = `v40` on `natural` rows away from `u7`, half of them of label 1, and
/// `pair.0` rows of label 1 and `pair.1` of label 0 get `u` = `u7` and `v` = `v40`. Returns the
/// rows' labels.
fn rare_item_csv(path: &Path, seed: u64, natural: usize, pair: (usize, usize)) -> Vec<u8> {
    let n = 6000;
    let mut rows = rows_without_pair(n, seed, 40, (7, 40), (3.3, 0.8));
    for (label, want) in [(1u8, natural / 2), (0, natural - natural / 2)] {
        let of: Vec<usize> = (0..n)
            .filter(|&i| rows[i].3 == label && rows[i].0 != 7)
            .collect();
        for &i in of.iter().step_by(of.len() / want.max(1)).take(want) {
            rows[i].1 = 40;
        }
    }
    for (label, want) in [(1u8, pair.0), (0, pair.1)] {
        let of: Vec<usize> = (0..n)
            .filter(|&i| rows[i].3 == label && rows[i].1 != 40)
            .collect();
        for &i in of.iter().rev().step_by(of.len() / want.max(1)).take(want) {
            (rows[i].0, rows[i].1) = (7, 40);
        }
    }
    let labels = rows.iter().map(|r| r.3).collect();
    write_uv_csv(path, rows);
    labels
}

/// TRG001: a rule judged by its ratio weighs an item's baseline rows too when its own test
/// stands even times the in-range itemsets the miner counted times the labels
/// (`rules_searched`). 25 rows of the rare label 1 get `u7` and `v40`; `v40` is rare, on 4 other
/// current rows (2 of label 1) and 16 baseline rows (8). On its 4 current rows alone `v40` keeps
/// the rule out (Fisher's p of 25 of 25 against 2 of 4 is 0.015); with its baseline rows, 25 of
/// 25 against 10 of 20, p = C(35, 25) / C(45, 25) = 5.8·10⁻⁵, and the rule is found. The
/// bench's California pair (`NEAR BAY` and latitude 33.61 on 25 rows of the top quarter of
/// prices) is this case. Against a baseline that holds the pair on 4 rows (1 of label 1) and
/// `v40` on 30 others, 18 stamped rows are a rule whose own test (18 of the label's current rows
/// against 1 of the baseline's, p ≈ 10⁻⁴) does not stand over that search: `v40` is weighed on
/// its current rows (18 of 18 against 2 of 4, p = 0.026) and nothing is reported, where its
/// baseline rows (p ≈ 10⁻⁴) would have reported it: a natural pair that a random split left
/// mostly on one side is no discovery because its items' old rows say less. At alpha 0.2 the
/// gate opens and the same pair is reported with `v40`'s baseline rows.
#[test]
fn trg001_a_ratio_rule_weighs_an_items_baseline_rows_when_its_own_test_stands_over_the_search() {
    let t = tempfile::tempdir().unwrap();
    let b = t.path().join("baseline");
    let base = rare_item_csv(&b.join("part-0.csv"), 1, 16, (0, 0));
    let c = t.path().join("current");
    let cur = rare_item_csv(&c.join("part-0.csv"), 2, 4, (25, 0));
    // Fisher's one-sided p of `k` of `k` rule rows against `hits` of `other`.
    let fisher = |k: u64, hits: u64, other: u64| -> f64 {
        (0..k)
            .map(|j| (k + hits - j) as f64 / (k + other - j) as f64)
            .product()
    };
    // `v40`'s entry in the rule's items_elsewhere: the item with 4 other current rows.
    let rare_item = |e: &Value| -> Value {
        let items = e["items_elsewhere"].as_array().unwrap();
        let rare = items.iter().find(|x| x["rows"] == 4);
        rare.unwrap_or_else(|| panic!("{e}")).clone()
    };
    let f = scan(&c, &b, &[]);
    let rule = pair_rules(&f);
    assert_eq!(rule.len(), 1, "{:?}", codes(&f));
    let (h, e) = (rule[0], &rule[0]["evidence"]);
    assert_eq!(e["judged_by"], "ratio", "{e}");
    assert_eq!(h["rows"], 25, "{h}");
    let rare = rare_item(e);
    assert_eq!(rare["baseline_rows"], 16, "{rare}");
    assert!(close(&rare["baseline_label_share"], 0.5), "{rare}");
    assert!(close(&rare["p_value"], fisher(25, 10, 20)), "{rare}");
    assert!((fisher(25, 10, 20) - 5.8e-5).abs() < 1e-6);
    assert!((fisher(25, 2, 4) - 0.0148).abs() < 1e-4);
    // The rule's own test: 25 of the current rows of label 1 against none of the baseline's,
    // C(n_cur, 25) / C(n_cur + n_base, 25).
    let ones = |l: &[u8]| l.iter().filter(|&&x| x == 1).count() as u64;
    let (n_cur, n_base) = (ones(&cur), ones(&base));
    let own: f64 = (0..25)
        .map(|j| (n_cur - j) as f64 / (n_cur + n_base - j) as f64)
        .product();
    assert!(close(&e["rule_p_value"], own), "{e} {own}");
    let searched = e["rules_searched"].as_f64().unwrap();
    assert!(own * searched <= 0.01, "{e}");
    // The pair on 4 baseline rows, 18 stamped: not weighed with `v40`'s baseline rows.
    let held = t.path().join("baseline-held");
    rare_item_csv(&held.join("part-0.csv"), 1, 30, (1, 3));
    rare_item_csv(&c.join("part-0.csv"), 2, 4, (18, 0));
    assert!(fisher(18, 2, 4) > 0.02 && fisher(18, 17, 34) < 2e-4);
    let f = scan(&c, &held, &[]);
    assert!(pair_rules(&f).is_empty(), "{:?}", pair_rules(&f));
    // It is the gate that keeps it out: at alpha 0.2 the own test times the search passes it,
    // `v40` is weighed with its 30 baseline rows, and the pair is reported.
    let loose = t.path().join("loose.toml");
    std::fs::write(&loose, "alpha = 0.2\n").unwrap();
    let f = scan(&c, &held, &["--config", loose.to_str().unwrap()]);
    let rule = pair_rules(&f);
    assert_eq!(rule.len(), 1, "{:?}", codes(&f));
    let e = &rule[0]["evidence"];
    let own = e["rule_p_value"].as_f64().unwrap();
    let searched = e["rules_searched"].as_f64().unwrap();
    assert!(own * searched > 0.01 && own * searched <= 0.2, "{e}");
    let rare = rare_item(e);
    assert_eq!(rare["baseline_rows"], 30, "{rare}");
    assert!(close(&rare["p_value"], fisher(18, 17, 34)), "{rare}");
}

/// TRG001: a trigger on fewer rows than `min-support` (10), on values within the range: 8 rows
/// of the rare label 1 (about 4%) get `u` = `u7` and `v` = `v3`, a pair no row had. No ratio is
/// tested under 10 rows; the rule is judged on its purity, against every in-range itemset the
/// miner counted (`rules_tested`): 0.05⁸ ≈ 4·10⁻¹¹ by chance, high. Its p-value is the largest
/// of that purity test and each item's test against its other rows (Fisher, by hand here).
/// The same 8 rows split between the labels, the pair on 4 rows, a pair the baseline's rows of
/// label 1 hold as firmly, and 8 copies of one row of label 1 holding the pair (one record, whose
/// copies carry its label by construction: judged as 1 row) are no trigger.
#[test]
fn trg001_a_trigger_on_a_handful_of_rows_within_the_range_is_judged_by_its_purity() {
    let t = tempfile::tempdir().unwrap();
    let b = t.path().join("baseline");
    let base = rare_pair_csv(&b.join("part-0.csv"), 6000, 1, &[], false);
    let share = base.iter().filter(|r| r.0 == 1).count() as f64 / base.len() as f64;
    assert!((0.02..0.07).contains(&share), "{share}");
    let held = t.path().join("baseline-held");
    rare_pair_csv(&held.join("part-0.csv"), 6000, 1, &[1; 8], false);
    let c = t.path().join("current");
    for (stamp, copies, baseline, high) in [
        (vec![1u8; 8], false, &b, true),
        (vec![1, 0, 1, 0, 1, 0, 1, 0], false, &b, false),
        (vec![1; 4], false, &b, false),
        (vec![1; 8], false, &held, false),
        (vec![1; 8], true, &b, false),
    ] {
        let rows = rare_pair_csv(&c.join("part-0.csv"), 6000, 2, &stamp, copies);
        let f = scan(&c, baseline, &[]);
        let rule: Vec<&Value> = pair_rules(&f);
        if !high {
            assert!(rule.is_empty(), "{stamp:?} {copies}: {rule:?}");
            continue;
        }
        assert_eq!(rule.len(), 1, "{:?}", codes(&f));
        let h = rule[0];
        let e = &h["evidence"];
        assert_eq!(severity(h), "high", "{h}");
        assert_eq!(e["judged_by"], "purity in range", "{e}");
        // The in-range family is the search a ratio rule's own test is weighed against.
        assert_eq!(e["rules_searched"], e["rules_tested"], "{e}");
        assert_eq!(h["rows"], 8);
        assert_eq!(e["rows_per_label"]["1"], 8);
        assert_eq!(e["judged_rows"]["rows"], 8, "{e}");
        assert_eq!(e["judged_rows"]["rows_with_label"], 8, "{e}");
        assert!(e["past_range_null_label_share"].is_null(), "{e}");
        // The purity test: p0 is the label's baseline share's upper bound (the pair has no
        // baseline rows), p0⁸ the chance of 8 rows of label 1 out of 8.
        assert!(close(&e["label_baseline_share"], share), "{e}");
        let p0 = e["purity_null_label_share"].as_f64().unwrap();
        assert!(close(&e["label_baseline_share_upper"], p0), "{e}");
        // Each item against its other rows, current and in the baseline (whose sample is every
        // baseline row at this size, none of them holding the pair): all 8 of the rule's rows
        // carry label 1, `hits` of the item's `other` rows do; Fisher's one-sided p is
        // C(8 + hits, 8) / C(8 + other, 8).
        let mut p = p0.powi(8);
        let item_rows = |dir: &Path, of: &[(u8, bool)], pick: usize| -> (u64, u64) {
            let text = std::fs::read_to_string(dir.join("part-0.csv")).unwrap();
            let want = ["u7", "v3"][pick];
            let (mut rows_other, mut hits) = (0, 0);
            for (line, r) in text.lines().skip(1).zip(of) {
                let cells: Vec<&str> = line.split(',').collect();
                if cells[pick] == want && !r.1 {
                    rows_other += 1;
                    hits += u64::from(r.0 == 1);
                }
            }
            (rows_other, hits)
        };
        let choose8 = |n: u64| -> f64 { (0..8).map(|j| (n - j) as f64 / (8 - j) as f64).product() };
        let elsewhere = e["items_elsewhere"].as_array().unwrap();
        assert_eq!(elsewhere.len(), 2, "{e}");
        for pick in 0..2 {
            let (other, hits) = item_rows(&c, &rows, pick);
            let (base_other, base_hits) = item_rows(&b, &base, pick);
            assert!(base_other > 100, "{base_other}");
            // Matched by its rows: the evidence lists the items in the slice's order.
            let fisher = choose8(8 + hits + base_hits) / choose8(8 + other + base_other);
            assert!(
                elsewhere.iter().any(|x| x["rows"] == other
                    && x["baseline_rows"] == base_other
                    && close(
                        &x["baseline_label_share"],
                        base_hits as f64 / base_other as f64
                    )
                    && close(&x["p_value"], fisher)),
                "{pick}: {other} + {base_other} rows, {hits} + {base_hits} hits, {fisher}: {e}"
            );
            p = p.max(fisher);
        }
        let family = e["rules_tested"].as_f64().unwrap();
        assert!(family >= 40.0, "{e}");
        let q = (p * family).min(1.0);
        assert!(
            (h["q_value"].as_f64().unwrap() / q - 1.0).abs() < 1e-4,
            "{h}: {q}"
        );
        assert!(q <= 1e-4, "{q}");
    }
}

/// TRG001: a trigger on a label with few baseline rows is reported by its purity even where its
/// share of the label's rows stays under twice the upper bound of the baseline's (the lowest
/// ratio tier). 16 rows of label 1 (about 4.5% of the rows: 91 of the 2,000 baseline rows, 151
/// of the 3,000 current ones with these seeds) get `u` = `u7` and `v` = `v3`, a pair no baseline
/// row holds: 10.6% of the label's rows, against an upper bound of 5.6% for none of 91, a ratio
/// of 1.89 (asserted under 2, so that another draw cannot move the case onto the tier path
/// unnoticed); but 16 rows out of 16 of a label that rare are p0¹⁶ by chance (`purity_q`,
/// Bonferroni over the rules judged by their ratio), far under `pure-rule-q`: high. A baseline
/// whose rows of label 1 held the pair too is no new trigger.
#[test]
fn trg001_a_pure_new_rule_on_a_rare_label_is_high_below_the_lowest_ratio_tier() {
    let t = tempfile::tempdir().unwrap();
    let b = t.path().join("baseline");
    rare_pair_csv(&b.join("part-0.csv"), 2000, 1, &[], false);
    let held = t.path().join("baseline-held");
    rare_pair_csv(&held.join("part-0.csv"), 2000, 1, &[1, 1, 1], false);
    let c = t.path().join("current");
    let rows = rare_pair_csv(&c.join("part-0.csv"), 3000, 2, &[1; 16], false);
    assert_eq!(rows.iter().filter(|r| r.1 && r.0 == 1).count(), 16);
    for (baseline, reported) in [(&b, true), (&held, false)] {
        let f = scan(&c, baseline, &[]);
        let rule: Vec<&Value> = pair_rules(&f);
        if !reported {
            assert!(rule.is_empty(), "{rule:?}");
            continue;
        }
        assert_eq!(rule.len(), 1, "{:?}", codes(&f));
        let h = rule[0];
        let e = &h["evidence"];
        assert_eq!(severity(h), "high", "{h}");
        assert_eq!(e["judged_by"], "ratio", "{e}");
        assert_eq!(h["rows"], 16);
        assert_eq!(e["rows_per_label"]["1"], 16);
        // Under the lowest tier: the share of label 1's rows against the baseline's bound.
        let ratio = e["share_of_label_rows"].as_f64().unwrap()
            / e["baseline_share_of_label_rows_upper"].as_f64().unwrap();
        assert!(ratio < 2.0, "{ratio}: {e}");
        // The purity: 16 of 16 rows at the label's baseline share's upper bound, times the
        // rules judged by their ratio.
        let p0 = e["label_baseline_share_upper"].as_f64().unwrap();
        let family = e["rules_tested"].as_f64().unwrap();
        let purity_q = (p0.powi(16) * family).min(1.0);
        let got = e["purity_q"].as_f64().unwrap();
        assert!((got / purity_q - 1.0).abs() < 1e-4, "{purity_q}: {e}");
        assert!(purity_q <= 1e-6, "{purity_q}");
        let q = h["q_value"].as_f64().unwrap();
        assert!(q <= 0.01, "{h}");
        // Its score weighs how far its confidence (1) is past the label's share's bound, not
        // the ratio under 2 (which would put it last among the highs): (1 − p0)·(0.5 + 0.5·c),
        // c = min(−log10 q / 10, 1).
        let c = (-q.log10() / 10.0).min(1.0);
        assert!(close(&h["score"], (1.0 - p0) * (0.5 + 0.5 * c)), "{h}");
    }
}

/// Rows with a common category (`color`: `red` on a quarter of the rows, else `white`), an
/// integer `z` uniform over 0..100 (each value on 1% of the rows) that is never 37 on a red row,
/// a normal `x` and a rare label from `x` (about 4%). `stamp` rows get `color` = `red` and
/// `z` = 37, each given the label listed.
fn category_value_csv(path: &Path, n: usize, seed: u64, stamp: &[u8]) {
    let mut rows: Vec<(bool, i64, f64, u8)> = rows_without_pair(n, seed, 100, (-1, -1), (3.3, 0.8))
        .into_iter()
        .map(|(a, z, x, label)| {
            let red = a < 25;
            (red, if red && z == 37 { 38 } else { z }, x, label)
        })
        .collect();
    for label in [0u8, 1] {
        let want = stamp.iter().filter(|&&l| l == label).count();
        let of: Vec<usize> = (0..n).filter(|&i| rows[i].3 == label).collect();
        for &i in of.iter().step_by(of.len() / want.max(1)).take(want) {
            (rows[i].0, rows[i].1) = (true, 37);
        }
    }
    let lines = rows.into_iter().map(|(red, z, x, l)| {
        let color = if red { "red" } else { "white" };
        format!("{color},{z},{x:.6},{l}")
    });
    write_lines(path, "color,z,x,label", lines);
}

/// TRG001: a clean-label pair of a common category and a rare exact value. 25 rows of the rare
/// label 1 get `color` = `red` (a quarter of the rows: too common to enter a rule of rare
/// items) and `z` = 37 (a value on 1% of the rows, now 1.8%: a spike). No row held the pair
/// before, and `z` = 37 alone carries label 1 on 25 of about 55 rows; the pair carries it on all
/// 25 and is reported, high. The same 25 rows with mixed labels, no stamp, or a baseline whose
/// rows of label 1 held the pair as often (a pattern of the label already, no rise) give no rule
/// on `color`.
#[test]
fn trg001_a_common_category_beside_a_rare_value_forms_a_rule() {
    let t = tempfile::tempdir().unwrap();
    let b = t.path().join("baseline/part-0.csv");
    category_value_csv(&b, 3000, 1, &[]);
    let held = t.path().join("baseline-held/part-0.csv");
    category_value_csv(&held, 3000, 1, &[1; 25]);
    let mixed: Vec<u8> = (0..25).map(|i| u8::from(i % 5 == 0)).collect();
    for (stamp, seed, baseline, reported) in [
        (vec![1u8; 25], 2, &b, true),
        (mixed, 3, &b, false),
        (vec![], 4, &b, false),
        (vec![1u8; 25], 2, &held, false),
    ] {
        let c = t.path().join(format!("current-{seed}/part-0.csv"));
        category_value_csv(&c, 3000, seed, &stamp);
        let f = scan(c.parent().unwrap(), baseline.parent().unwrap(), &[]);
        let on_color: Vec<&Value> = with_code(&f, "TRG001")
            .into_iter()
            .filter(|h| slice_columns(h).contains(&&Value::from("color")))
            .collect();
        if !reported {
            assert!(on_color.is_empty(), "{stamp:?}: {on_color:?}");
            continue;
        }
        assert_eq!(on_color.len(), 1, "{:?}", codes(&f));
        let h = on_color[0];
        assert_eq!(severity(h), "high", "{h}");
        assert_eq!(
            slice_columns(h),
            [&Value::from("color"), &Value::from("z")],
            "{h}"
        );
        assert_eq!(h["slice"][0]["value"], "red", "{h}");
        assert_eq!(h["slice"][1]["value"].as_f64(), Some(37.0), "{h}");
        assert_eq!(h["rows"], 25);
        assert_eq!(h["evidence"]["rows_per_label"]["1"], 25);
        assert_eq!(h["baseline_rows"], 0);
    }
}

/// `n` rows of two integer columns uniform over `0..values` that never hold `pair` together, a
/// normal `x`, and a rare label from `x`: P(1) = 1 / (1 + e^(shift − slope·x)).
fn rows_without_pair(
    n: usize,
    seed: u64,
    values: i64,
    pair: (i64, i64),
    (shift, slope): (f64, f64),
) -> Vec<(i64, i64, f64, u8)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let x = normal(&mut rng);
            let label = u8::from(rng.random::<f64>() < 1.0 / (1.0 + (shift - slope * x).exp()));
            let a = rng.random_range(0..values);
            let mut b = rng.random_range(0..values);
            while (a, b) == pair {
                b = rng.random_range(0..values);
            }
            (a, b, x, label)
        })
        .collect()
}

/// Rows with two common integer columns (`a`, `b`, each uniform over 0..50: every value on 2%
/// of the rows, but never `a` = 40 with `b` = 7), a normal `x`, and a rare label (about 5%, from
/// `x`). `stamp` rows of label 1 get `a` = 40 and `b` = 7.
fn common_values_csv(path: &Path, n: usize, seed: u64, stamp: usize) {
    let mut rows = rows_without_pair(n, seed, 50, (40, 7), (3.5, 1.2));
    let ones: Vec<usize> = (0..n).filter(|&i| rows[i].3 == 1).collect();
    if let Some(step) = ones.len().checked_div(stamp) {
        for &i in ones.iter().step_by(step).take(stamp) {
            rows[i].0 = 40;
            rows[i].1 = 7;
        }
    }
    let lines = rows
        .into_iter()
        .map(|(a, b, x, l)| format!("{a},{b},{x:.6},{l}"));
    write_lines(path, "a,b,x,label", lines);
}

/// TRG001: a clean-label trigger on two common values. 25 rows of the rare label 1 get `a` = 40
/// and `b` = 7, each a value on 2% of the rows: neither value's share of all the rows grows by
/// half (about 120 rows before, 145 now), so neither is a value item by its overall growth, but
/// each grows about fivefold among label 1's rows, which makes both items (`class_grown_values`)
/// and the pair a rule: no natural row of the pair on either side, 25 now, all of label 1.
/// Without the stamp, no rule on `a` or `b` is reported.
#[test]
fn trg001_clean_label_pair_of_common_values() {
    let t = tempfile::tempdir().unwrap();
    let b = t.path().join("baseline/part-0.csv");
    common_values_csv(&b, 6000, 1, 0);
    for (stamp, seed) in [(25, 2), (0, 3)] {
        let c = t.path().join(format!("current-{stamp}/part-0.csv"));
        common_values_csv(&c, 6000, seed, stamp);
        let f = scan(c.parent().unwrap(), b.parent().unwrap(), &[]);
        let rules: Vec<&Value> = with_code(&f, "TRG001");
        if stamp == 0 {
            assert!(rules.is_empty(), "{:?}", codes(&f));
            continue;
        }
        let h = rules.first().unwrap_or_else(|| panic!("{:?}", codes(&f)));
        let mut cols: Vec<&str> = h["slice"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["column"].as_str().unwrap())
            .collect();
        cols.sort_unstable();
        assert_eq!(cols, ["a", "b"], "{h}");
        for p in h["slice"].as_array().unwrap() {
            let want = if p["column"] == "a" { 40.0 } else { 7.0 };
            assert_eq!(p["value"].as_f64(), Some(want), "{h}");
        }
        assert_eq!(h["evidence"]["label"], "1", "{h}");
        assert!(h["rows"].as_u64().unwrap() >= 25, "{h}");
        assert_eq!(severity(h), "high", "{h}");
    }
}

/// The rows file's codes and label confidence, row by row (every row has a confidence).
fn rows_file_codes(path: &Path) -> (Vec<Vec<String>>, Vec<f64>) {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Float64Type;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(path).unwrap(),
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
    (row_codes, confidence)
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
    let (row_codes, confidence) = rows_file_codes(&rows_out);
    assert_eq!(row_codes.len(), r.len());
    let n_flipped = flipped.iter().filter(|&&x| x).count();
    for (code, min_precision, min_recall) in [("LBL002", 0.9, 0.7), ("LBL003", 0.9, 0.7)] {
        let all = with_code(&f, code)
            .into_iter()
            .find(|x| {
                x["slice"].as_array().unwrap().is_empty()
                    && x["sources"].as_array().unwrap().is_empty()
                    && x["evidence"].get("label_class").is_none()
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
        // The whole data is tested against the baseline's rate alone.
        let base = all["evidence"]["baseline_flagged_rate"].as_f64().unwrap();
        assert!(close(
            &all["evidence"]["expected_flagged_rows"],
            base * r.len() as f64
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

/// The one-sided 99% Wilson bounds of a rate, written out (the score interval's textbook form).
fn wilson(p: f64, n: f64) -> (f64, f64) {
    let z: f64 = 2.326_347_874_040_841;
    let a = p + z * z / (2.0 * n);
    let b = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    let d = 1.0 + z * z / n;
    ((a - b) / d, (a + b) / d)
}

/// `rows(n, seed)` with label 1 exactly when `x` > `cut`, a share `flip` of the labels flipped
/// at random, then, with `one_way`, that share of the `1` rows relabelled `0` (one more draw a
/// `1` row).
fn threshold_labels(n: usize, seed: u64, cut: f64, flip: f64, one_way: Option<f64>) -> Vec<Row> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed + 100);
    rows(n, seed)
        .into_iter()
        .map(|mut r| {
            r.label = u8::from(r.x.unwrap() > cut);
            if rng.random::<f64>() < flip {
                r.label = 1 - r.label;
            }
            if let Some(share) = one_way
                && r.label == 1
                && rng.random::<f64>() < share
            {
                r.label = 0;
            }
            r
        })
        .collect()
}

/// A rate of `k` in `n` rows against a baseline rate `p2` on `n2` rows, written out: the pooled
/// two-proportion z-test's one-sided p-value and Newcombe's lower 99% bound of the difference.
fn rise_by_hand(k: f64, n: f64, p2: f64, n2: f64) -> (f64, f64) {
    let p1 = k / n;
    let pooled = (k + p2 * n2) / (n + n2);
    let z = (p1 - p2) / (pooled * (1.0 - pooled) * (1.0 / n + 1.0 / n2)).sqrt();
    let p = 0.5 * statrs::function::erf::erfc(z / std::f64::consts::SQRT_2);
    let lower =
        (p1 - p2) - ((p1 - wilson(p1, n).0).powi(2) + (wilson(p2, n2).1 - p2).powi(2)).sqrt();
    (p, lower)
}

/// LBL003 on a noisy label: the baseline's labels follow `x` with 15% of them flipped at random,
/// the current data's with 15% plus 4% more. The ratio of the flagged rates stays below 1.25 (the
/// baseline's own issues hide the new ones), but the excess is there: the whole-data finding's
/// p-value is the pooled two-proportion z-test of its rate against the baseline's, its
/// `excess_rate_lower` is Newcombe's lower 99% bound of the difference (computed here from the
/// evidence), and its severity is that bound's tier (0.25%, 0.5%, 1% of the rows): high here,
/// where the ratio alone would not make it low. With no extra flips, no whole-data finding.
#[test]
fn lbl003_excess_of_label_issues_counts_on_a_noisy_label() {
    let t = tempfile::tempdir().unwrap();
    let noisy = |n: usize, seed: u64, flip: f64| threshold_labels(n, seed, 0.0, flip, None);
    let b = t.path().join("baseline");
    write_csv(&b.join("part-0.csv"), &noisy(8000, 1, 0.15));
    let whole = |f: &[Value]| -> Option<Value> {
        with_code(f, "LBL003")
            .into_iter()
            .find(|x| {
                x["slice"].as_array().unwrap().is_empty()
                    && x["sources"].as_array().unwrap().is_empty()
                    && x["evidence"].get("label_class").is_none()
            })
            .cloned()
    };
    let quiet = t.path().join("quiet");
    write_csv(&quiet.join("part-0.csv"), &noisy(8000, 2, 0.15));
    let f = scan(&quiet, &b, &[]);
    assert!(whole(&f).is_none(), "{:?}", whole(&f));

    let c = t.path().join("current");
    write_csv(&c.join("part-0.csv"), &noisy(8000, 2, 0.19));
    let f = scan(&c, &b, &[]);
    let all = whole(&f).unwrap_or_else(|| panic!("{:?}", codes(&f)));
    let e = &all["evidence"];
    let num = |k: &str| e[k].as_f64().unwrap_or_else(|| panic!("{k}: {e}"));
    let (n, k) = (num("rows_in_group"), num("flagged_rows"));
    let (p2, n2) = (num("baseline_flagged_rate"), num("baseline_sample_rows"));
    assert_eq!(n, 8000.0);
    // Equal class weights (no sampling): the sample's effective size is its size.
    assert_eq!(n2, 8000.0);
    assert_eq!(all["effect"]["name"], "flagged_rate_ratio");
    assert!(all["effect"]["value"].as_f64().unwrap() < 1.25, "{all}");
    let (p, lower) = rise_by_hand(k, n, p2, n2);
    assert!(close(&all["p_value"], p), "{all}: {p}");
    assert!(close(&e["excess_rate_lower"], lower), "{e}: {lower}");
    // 4% more flipped rows, most of them caught: at least 1% of the rows beyond the baseline.
    assert!(lower >= 0.01, "{lower}");
    // The whole data is adjusted with the two classes only (Benjamini-Hochberg over three
    // tests), not with the slices.
    let (p_all, q_all) = (
        all["p_value"].as_f64().unwrap(),
        all["q_value"].as_f64().unwrap(),
    );
    assert!(
        q_all >= p_all && q_all <= 3.0 * p_all * (1.0 + 1e-5),
        "{all}"
    );
    let want = if lower >= 0.01 {
        "high"
    } else if lower >= 0.005 {
        "medium"
    } else {
        "low"
    };
    assert_eq!(severity(&all), want, "{all}");
    assert!(
        all["title"].as_str().unwrap().contains("of the rows more)"),
        "{all}"
    );
}

/// LBL003 per class: an imbalanced label (1 when `x` > 1, about 16% of the rows, 3% of all
/// labels flipped at random on both sides), and in the current data a fifth of the `1` rows
/// relabelled `0`, one way. The rows labelled `0` are tested against the baseline's rows
/// labelled `0`: the finding counts them and their issues as the rows file does, its p-value is
/// the pooled two-proportion z-test and its `excess_rate_lower` Newcombe's lower 99% bound
/// (both computed here from the counts), its severity the higher of that bound's tier and the
/// ratio's. The `1` rows, whose labels were not touched, raise no class finding, and a current
/// half without the flip none at all.
#[test]
fn lbl003_one_way_flip_shows_in_the_class_it_went_to() {
    let t = tempfile::tempdir().unwrap();
    let labelled =
        |n: usize, seed: u64, one_way: f64| threshold_labels(n, seed, 1.0, 0.03, Some(one_way));
    let b = t.path().join("baseline");
    write_csv(&b.join("part-0.csv"), &labelled(8000, 1, 0.0));
    let classes = |f: &[Value]| -> Vec<Value> {
        with_code(f, "LBL003")
            .into_iter()
            .filter(|x| x["evidence"].get("label_class").is_some())
            .cloned()
            .collect()
    };
    let quiet = t.path().join("quiet");
    write_csv(&quiet.join("part-0.csv"), &labelled(8000, 2, 0.0));
    let f = scan(&quiet, &b, &[]);
    assert!(classes(&f).is_empty(), "{:?}", classes(&f));
    // kNN's flags are not tested per class.
    assert!(
        with_code(&f, "LBL002")
            .iter()
            .all(|x| x["evidence"].get("label_class").is_none())
    );

    let c = t.path().join("current");
    let r = labelled(8000, 2, 0.2);
    write_csv(&c.join("part-0.csv"), &r);
    let rows_out = t.path().join("rows.parquet");
    let f = scan(&c, &b, &["--rows-out", rows_out.to_str().unwrap()]);
    let found = classes(&f);
    assert_eq!(found.len(), 1, "{found:?}");
    let g = &found[0];
    let e = &g["evidence"];
    assert_eq!(e["label_class"], "0", "{g}");
    assert_eq!(g["columns"], serde_json::json!(["label"]));
    // Counted by hand: the rows labelled 0, and those the rows file marks LBL003.
    let (row_codes, _) = rows_file_codes(&rows_out);
    let zeros: Vec<usize> = (0..r.len()).filter(|&i| r[i].label == 0).collect();
    let issues = zeros
        .iter()
        .filter(|&&i| row_codes[i].iter().any(|x| x == "LBL003"))
        .count();
    assert_eq!(e["rows_in_group"], zeros.len());
    // The baseline's rows of the class (its sample holds all 8,000 rows, each standing for one).
    let base_zeros = threshold_labels(8000, 1, 1.0, 0.03, Some(0.0))
        .iter()
        .filter(|r| r.label == 0)
        .count();
    assert_eq!(g["baseline_rows"], base_zeros);
    assert_eq!(e["baseline_sample_rows"], base_zeros);
    assert_eq!(e["flagged_rows"], issues);
    assert_eq!(g["rows"], issues);
    let num = |k: &str| e[k].as_f64().unwrap_or_else(|| panic!("{k}: {e}"));
    let (n, k) = (zeros.len() as f64, issues as f64);
    let (p2, n2) = (num("baseline_flagged_rate"), num("baseline_sample_rows"));
    let (p, lower) = rise_by_hand(k, n, p2, n2);
    assert!(close(&g["p_value"], p), "{g}: {p}");
    assert!(close(&e["excess_rate_lower"], lower), "{e}: {lower}");
    let tier = |x: f64, t: [f64; 3]| t.iter().filter(|&&v| x >= v).count();
    let ratio = num("flagged_rate") / num("baseline_flagged_rate_upper");
    let want = tier(lower, [0.0025, 0.005, 0.01]).max(tier(ratio, [1.25, 2.0, 4.0]));
    assert_eq!(severity(g), ["none", "low", "medium", "high"][want], "{g}");
    assert!(
        g["title"]
            .as_str()
            .unwrap()
            .contains("labelled `0` are label issues"),
        "{g}"
    );
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

/// Five outlying rows in their own file: under the ten rows a slice needs, but a file of
/// injected rows is judged from three.
#[test]
fn out001_a_handful_of_outliers_in_their_own_file() {
    let t = tempfile::tempdir().unwrap();
    let b = baseline(t.path());
    let c = t.path().join("current");
    dataset(&c, 2, 3000, 16);
    let mut r = rows(5, 17);
    for row in &mut r {
        row.x = Some(6.0 + row.x.unwrap().abs());
        row.amount *= 40.0;
    }
    write_csv(&c.join("part-2.csv"), &r);
    let f = scan(&c, &b, &[]);
    let file = with_code(&f, "OUT001")
        .into_iter()
        .find(|o| o["slice"].as_array().unwrap().is_empty() && o["sources"][0].is_string())
        .unwrap_or_else(|| panic!("{:?}", codes(&f)));
    assert!(names(&file["sources"])[0].ends_with("part-2.csv"));
    assert_eq!(file["rows"], 5);
    assert_eq!(severity(file), "high");
    // P(5 of 5) at the tested rate.
    let e = &file["evidence"];
    let rate = e["baseline_outlier_rate"]
        .as_f64()
        .unwrap()
        .max(e["current_outlier_rate_elsewhere"].as_f64().unwrap());
    let p = file["p_value"].as_f64().unwrap();
    assert!((p - rate.powi(5)).abs() < 1e-4 * p, "{p} {rate}");
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

/// Five copies of one row delivered as their own file: too few to move the duplicate rate by a
/// point, but a file made of copies where fresh rows are never repeated: high.
#[test]
fn dup001_a_small_file_of_copies_is_high() {
    let t = tempfile::tempdir().unwrap();
    let b = baseline(t.path());
    let c = t.path().join("current");
    let parts = dataset(&c, 2, 3000, 15);
    write_csv(&c.join("part-2.csv"), &vec![parts[0][7].clone(); 5]);
    let f = scan(&c, &b, &[]);
    let hit = with_code(&f, "DUP001");
    assert_eq!(hit.len(), 1, "{:?}", codes(&f));
    assert_eq!(severity(hit[0]), "high");
    assert!(names(&hit[0]["sources"])[0].ends_with("part-2.csv"));
    let copies = &hit[0]["evidence"]["files_of_copies"][0];
    assert!(copies["source"].as_str().unwrap().ends_with("part-2.csv"));
    assert_eq!(copies["rows"], 5);
    assert_eq!(copies["rows_repeated"], 5);
    // The rest: 6,000 rows of which one (the original) has a twin; one file in three.
    let r: f64 = 2.0 / 6002.0;
    let p = copies["p_value"].as_f64().unwrap();
    assert!((p - 3.0 * r.powi(5)).abs() < 1e-5 * p, "{p}");
    // The 300 copies appended to a file of 3,000 in the test above are not a file of copies.
    assert_eq!(hit[0]["rows"], 5);
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

// The fixture table: every check in the registry has a positive fixture (data on which it must
// fire, with the severity, and the rows where they follow from the construction) and a negative
// one (a near miss, or clean data, on which it must stay silent). The test walks the registry,
// so a new check without both fails the suite, naming its code. The detailed tests above check
// the numbers of each finding; the table makes the coverage explicit and enforced.

/// The data of one scan, written under a fresh folder.
struct Setup {
    current: PathBuf,
    baseline: PathBuf,
}

/// A named way to make the data of one scan. The name is the key its findings are kept under,
/// so two scenarios must never share one.
#[derive(Clone, Copy)]
struct Scenario {
    name: &'static str,
    make: fn(&Path) -> Setup,
}

/// What a check must report on its positive scenario, and that it must be silent on its
/// negative one.
struct Fixture {
    positive: Scenario,
    /// The severity of the check's strongest finding there.
    severity: &'static str,
    /// A column that finding names (in `columns` or its slice; `__source` for a file).
    column: Option<&'static str>,
    /// Its rows, where the construction fixes them.
    rows: Option<u64>,
    negative: Scenario,
}

/// `rows` as CSV with these columns, in this order (a subset or a reordering of the usual).
fn write_csv_columns(path: &Path, rows: &[Row], columns: &[&str]) {
    let mut s = columns.join(",");
    s.push('\n');
    for r in rows {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| match *c {
                "x" => r.x.map(|x| format!("{x:.6}")).unwrap_or_default(),
                "amount" => format!("{:.2}", r.amount),
                "k" => r.k.to_string(),
                "cat" => r.cat.clone(),
                "label" => r.label.to_string(),
                other => panic!("no generated column `{other}`"),
            })
            .collect();
        s.push_str(&cells.join(","));
        s.push('\n');
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, s).unwrap();
}

/// Write each part as `dir/part-i.csv`.
fn write_parts(dir: &Path, parts: &[Vec<Row>]) -> PathBuf {
    for (i, p) in parts.iter().enumerate() {
        write_csv(&dir.join(format!("part-{i}.csv")), p);
    }
    dir.to_path_buf()
}

/// The clean current data of `clean_data_raises_nothing` (seed 2), before any change.
fn clean_parts() -> Vec<Vec<Row>> {
    (0..2).map(|i| rows(3000, 200 + i)).collect()
}

/// The baseline's rows as `baseline()` writes them.
fn baseline_parts() -> Vec<Vec<Row>> {
    (0..2).map(|i| rows(3000, 100 + i)).collect()
}

/// The clean current data against the usual baseline, after `change`.
fn changed(d: &Path, change: impl FnOnce(&mut Vec<Vec<Row>>)) -> Setup {
    let mut parts = clean_parts();
    change(&mut parts);
    Setup {
        baseline: baseline(d),
        current: write_parts(&d.join("current"), &parts),
    }
}

/// SCH006 judges a new label class by the exact conditional test (a class rare on both sides
/// can miss the baseline by chance), except a numeric class far beyond the baseline's, as a
/// flipped bit makes: high on one row. The p-value is C(n_cur, k)/C(n_base + n_cur, k), here
/// computed by hand for 6,000 rows on each side.
#[test]
fn new_label_classes_are_judged_by_their_count_unless_far() {
    let t = tempfile::tempdir().unwrap();
    let exact = |k: usize| {
        (0..k)
            .map(|i| (6000 - i) as f64 / (12000 - i) as f64)
            .product::<f64>()
    };
    for (label, k, expected) in [
        (7u8, 1usize, "low"),
        (7, 8, "medium"),
        (7, 12, "high"),
        (200, 1, "high"),
    ] {
        let d = t.path().join(format!("{label}-{k}"));
        let s = changed(&d, |p| {
            for r in &mut p[0][40..40 + k] {
                r.label = label;
            }
        });
        let all = scan(&s.current, &s.baseline, &[]);
        let f = with_code(&all, "SCH006");
        assert_eq!(f.len(), 1, "{label} on {k} rows: {:?}", codes(&all));
        assert_eq!(severity(f[0]), expected, "{label} on {k} rows");
        assert_eq!(f[0]["rows"], k as u64);
        let p = f[0]["p_value"].as_f64().unwrap();
        assert!(
            (p / exact(k) - 1.0).abs() < 1e-4,
            "{p} against {}",
            exact(k)
        );
    }
}

/// `x` as written to the file (6 decimals).
fn written_x(r: &Row) -> f64 {
    format!("{:.6}", r.x.unwrap()).parse().unwrap()
}

/// The largest value of `x` in the baseline, as written.
fn baseline_max_x() -> f64 {
    baseline_parts()
        .concat()
        .iter()
        .map(written_x)
        .fold(f64::MIN, f64::max)
}

/// `x` = 99 on 80 rows of the first file, all labelled 0: with the few clean values past the
/// range, still a label purity of at least 95% (a trigger: high).
fn out_of_range(p: &mut [Vec<Row>]) {
    for r in p[0].iter_mut().skip(100).take(80) {
        r.x = Some(99.0);
        r.label = 0;
    }
}

/// The largest `amount` of the baseline, as written (2 decimals).
fn baseline_max_amount() -> f64 {
    baseline_parts()
        .concat()
        .iter()
        .map(|r| format!("{:.2}", r.amount).parse::<f64>().unwrap())
        .fold(f64::MIN, f64::max)
}

/// Labels without noise: 1 when `x` > 0, except in category `d`.
fn noise_free(mut r: Row) -> Row {
    r.label = u8::from(r.x.unwrap() > 0.0 && r.cat != "d");
    r
}

/// 120 copies of one new row (label 1) added to `part`.
fn add_group(part: &mut Vec<Row>) {
    let mut poison = rows(1, 999)[0].clone();
    poison.label = 1;
    part.extend(std::iter::repeat_n(poison, 120));
}

const CLEAN: Scenario = Scenario {
    name: "clean: a fresh sample of the baseline's distribution",
    make: |d| changed(d, |_| {}),
};

/// The profile of `data` (a saved baseline: the manifest INT001 compares files with).
fn profile_baseline(data: &Path, out: &Path) {
    let o = Command::new(env!("CARGO_BIN_EXE_poisonscan"))
        .args([
            "profile",
            data.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .args(["--label", "label", "--quiet"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// The fixtures of check `code` (`None`: it has none, and the coverage test names it).
fn fixtures(code: &str) -> Option<Fixture> {
    let f = |positive, severity, column, rows, negative| Fixture {
        positive,
        severity,
        column,
        rows,
        negative,
    };
    Some(match code {
        "INT001" => f(
            Scenario {
                name: "int001: one row of a baseline file edited in place",
                make: |d| {
                    let data = write_parts(&d.join("data"), &clean_parts());
                    let prof = d.join("base.psprof");
                    profile_baseline(&data, &prof);
                    let mut part = clean_parts().remove(1);
                    part[10].k = 499 - part[10].k;
                    write_csv(&data.join("part-1.csv"), &part);
                    Setup {
                        current: data,
                        baseline: prof,
                    }
                },
            },
            "high",
            Some("__source"),
            None,
            Scenario {
                name: "int001: the baseline's files unchanged",
                make: |d| {
                    let data = write_parts(&d.join("data"), &clean_parts());
                    let prof = d.join("base.psprof");
                    profile_baseline(&data, &prof);
                    Setup {
                        current: data,
                        baseline: prof,
                    }
                },
            },
        ),
        "INT002" => f(
            Scenario {
                name: "int002: a byte copy of a baseline file",
                make: |d| changed(d, |p| p.push(rows(3000, 100))),
            },
            "high",
            Some("__source"),
            Some(3000),
            Scenario {
                name: "int002: a file of 85% baseline rows (under the 90% bar)",
                make: |d| {
                    changed(d, |p| {
                        let mut replay: Vec<Row> = rows(3000, 101).into_iter().take(2550).collect();
                        replay.reverse();
                        replay.extend(rows(450, 300));
                        p.push(replay);
                    })
                },
            },
        ),
        "INT003" => f(
            Scenario {
                name: "int003: a current side of 12 rows",
                make: |d| {
                    changed(d, |p| {
                        p.truncate(1);
                        p[0].truncate(12);
                    })
                },
            },
            "high",
            None,
            Some(12),
            CLEAN,
        ),
        "INT004" => f(
            Scenario {
                name: "int004: the baseline's own files scanned against it",
                make: |d| {
                    let b = baseline(d);
                    Setup {
                        current: b.clone(),
                        baseline: b,
                    }
                },
            },
            "high",
            None,
            Some(6000),
            CLEAN,
        ),
        "SCH006" => f(
            Scenario {
                name: "sch006: 12 rows labelled 7, a class the baseline never had",
                make: |d| {
                    changed(d, |p| {
                        for r in &mut p[0][40..52] {
                            r.label = 7;
                        }
                    })
                },
            },
            "high",
            Some("label"),
            Some(12),
            CLEAN,
        ),
        "SCH001" => f(
            Scenario {
                name: "sch001: column `amount` removed",
                make: |d| {
                    let s = changed(d, |_| {});
                    for (i, p) in clean_parts().iter().enumerate() {
                        let path = s.current.join(format!("part-{i}.csv"));
                        write_csv_columns(&path, p, &["x", "k", "cat", "label"]);
                    }
                    s
                },
            },
            "high",
            Some("amount"),
            None,
            Scenario {
                name: "sch001: the same columns in another order",
                make: |d| {
                    let s = changed(d, |_| {});
                    for (i, p) in clean_parts().iter().enumerate() {
                        let path = s.current.join(format!("part-{i}.csv"));
                        write_csv_columns(&path, p, &["label", "cat", "k", "amount", "x"]);
                    }
                    s
                },
            },
        ),
        "SCH002" => f(
            Scenario {
                name: "sch002: 12.5% of `x` null",
                make: |d| {
                    changed(d, |p| {
                        for r in p.iter_mut().flatten().step_by(8) {
                            r.x = None;
                        }
                    })
                },
            },
            "high",
            Some("x"),
            Some(750),
            Scenario {
                name: "sch002: 5% of `x` null, as in the baseline",
                make: |d| {
                    let nulls = |p: &mut Vec<Vec<Row>>| {
                        for r in p.iter_mut().flatten().step_by(20) {
                            r.x = None;
                        }
                    };
                    let mut base = baseline_parts();
                    nulls(&mut base);
                    let mut cur = clean_parts();
                    nulls(&mut cur);
                    Setup {
                        baseline: write_parts(&d.join("baseline"), &base),
                        current: write_parts(&d.join("current"), &cur),
                    }
                },
            },
        ),
        "SCH003" => f(
            Scenario {
                name: "sch003: new category `zz` on 60 rows, all label 1",
                make: |d| {
                    changed(d, |p| {
                        for r in p[0].iter_mut().take(60) {
                            r.cat = "zz".into();
                            r.label = 1;
                        }
                    })
                },
            },
            "high",
            Some("cat"),
            Some(60),
            Scenario {
                name: "sch003: new category `zz` on 3 rows (as likely as chance)",
                make: |d| {
                    changed(d, |p| {
                        for (i, r) in p[0].iter_mut().take(3).enumerate() {
                            r.cat = "zz".into();
                            r.label = (i % 2) as u8;
                        }
                    })
                },
            },
        ),
        "SCH004" => f(
            Scenario {
                name: "sch004: `x` = 99 on 80 rows, all label 0",
                make: |d| changed(d, |p| out_of_range(p)),
            },
            "high",
            Some("x"),
            // The 80 planted values and the clean values past the baseline's range, as written.
            Some({
                let mut p = clean_parts();
                out_of_range(&mut p);
                let base: Vec<f64> = baseline_parts().concat().iter().map(written_x).collect();
                let (lo, hi) = base
                    .iter()
                    .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
                let past = p
                    .concat()
                    .iter()
                    .map(written_x)
                    .filter(|&x| x < lo || x > hi)
                    .count();
                past as u64
            }),
            Scenario {
                name: "sch004: `x` exactly at the baseline's maximum on 40 rows",
                make: |d| {
                    let max = baseline_max_x();
                    changed(d, |p| {
                        for r in p[0].iter_mut().skip(100).take(40) {
                            r.x = Some(max);
                        }
                    })
                },
            },
        ),
        "SCH005" => f(
            Scenario {
                name: "sch005: `amount` in hundreds in one file",
                make: |d| {
                    changed(d, |p| {
                        for r in &mut p[1] {
                            r.amount /= 100.0;
                        }
                    })
                },
            },
            "high",
            Some("amount"),
            None,
            Scenario {
                name: "sch005: `amount` halved in one file (not a power of ten)",
                make: |d| {
                    changed(d, |p| {
                        for r in &mut p[1] {
                            r.amount /= 2.0;
                        }
                    })
                },
            },
        ),
        "DUP001" => f(
            Scenario {
                name: "dup001: 300 copies of rows of another file",
                make: |d| {
                    changed(d, |p| {
                        let copies: Vec<Row> = p[0].iter().step_by(10).cloned().collect();
                        p[1].extend(copies);
                    })
                },
            },
            "medium",
            None,
            Some(300),
            Scenario {
                name: "dup001: 5% duplicate rows, as in the baseline",
                make: |d| {
                    let dup = |p: &mut Vec<Vec<Row>>| {
                        let copies: Vec<Row> = p[0].iter().step_by(10).cloned().collect();
                        p[1].extend(copies);
                    };
                    let mut base = baseline_parts();
                    dup(&mut base);
                    let mut cur = clean_parts();
                    dup(&mut cur);
                    Setup {
                        baseline: write_parts(&d.join("baseline"), &base),
                        current: write_parts(&d.join("current"), &cur),
                    }
                },
            },
        ),
        "DUP002" => f(
            Scenario {
                name: "dup002: 150 rows copied with the other label",
                make: |d| {
                    changed(d, |p| {
                        let flipped: Vec<Row> = p[0]
                            .iter()
                            .take(150)
                            .map(|r| Row {
                                label: 1 - r.label,
                                ..r.clone()
                            })
                            .collect();
                        p[0].extend(flipped);
                    })
                },
            },
            "medium",
            Some("label"),
            Some(300),
            Scenario {
                name: "dup002: 150 rows copied with the same label",
                make: |d| {
                    changed(d, |p| {
                        let copies: Vec<Row> = p[0].iter().take(150).cloned().collect();
                        p[0].extend(copies);
                    })
                },
            },
        ),
        "DUP003" => f(
            Scenario {
                name: "dup003: a new group of 121 identical rows",
                make: |d| changed(d, |p| add_group(&mut p[0])),
            },
            "high",
            Some("label"),
            Some(120),
            Scenario {
                name: "dup003: the same group, which the baseline has too",
                make: |d| {
                    let mut base = baseline_parts();
                    add_group(&mut base[0]);
                    let mut cur = clean_parts();
                    add_group(&mut cur[0]);
                    Setup {
                        baseline: write_parts(&d.join("baseline"), &base),
                        current: write_parts(&d.join("current"), &cur),
                    }
                },
            },
        ),
        "DRF001" => f(DRIFT, "high", Some("amount"), None, SLIGHT_DRIFT),
        "DRF002" => f(DRIFT, "medium", Some("cat"), None, SLIGHT_DRIFT),
        "DRF003" => f(DRIFT, "medium", Some("label"), None, SLIGHT_DRIFT),
        "DRF004" => f(
            Scenario {
                name: "drf004: `x` shifted by one in one file",
                make: |d| {
                    changed(d, |p| {
                        for r in &mut p[1] {
                            r.x = r.x.map(|x| x + 1.0);
                        }
                    })
                },
            },
            "medium",
            Some("x"),
            Some(3000),
            Scenario {
                name: "drf004: `x` shifted by one in every file",
                make: |d| {
                    changed(d, |p| {
                        for r in p.iter_mut().flatten() {
                            r.x = r.x.map(|x| x + 1.0);
                        }
                    })
                },
            },
        ),
        "LBL001" => f(
            Scenario {
                name: "lbl001: every label of category `c` set to 0",
                make: |d| {
                    changed(d, |p| {
                        for r in p.iter_mut().flatten().filter(|r| r.cat == "c") {
                            r.label = 0;
                        }
                    })
                },
            },
            "high",
            Some("cat"),
            Some(
                clean_parts()
                    .concat()
                    .iter()
                    .filter(|r| r.cat == "c")
                    .count() as u64,
            ),
            Scenario {
                name: "lbl001: 5% of category `c`'s label-1 rows set to 0",
                make: |d| {
                    changed(d, |p| {
                        let ones = p
                            .iter_mut()
                            .flatten()
                            .filter(|r| r.cat == "c" && r.label == 1);
                        for r in ones.step_by(20) {
                            r.label = 0;
                        }
                    })
                },
            },
        ),
        "LBL002" => f(FLIPS, "high", Some("label"), None, NO_FLIPS),
        "LBL003" => f(FLIPS, "high", Some("label"), None, NO_FLIPS),
        "TRG001" => f(TRIGGER, "high", Some("amount"), Some(30), MIXED_STAMP),
        "TRG002" => f(TRIGGER, "high", Some("amount"), Some(30), MIXED_STAMP),
        "OUT001" => f(
            Scenario {
                name: "out001: 60 rows far out in `x` and `amount` in one file",
                make: |d| changed(d, |p| outliers(&mut p[1], 60)),
            },
            "high",
            Some("x"),
            None,
            Scenario {
                name: "out001: 5 such rows (too few for a block)",
                make: |d| changed(d, |p| outliers(&mut p[1], 5)),
            },
        ),
        "OUT002" => f(
            Scenario {
                name: "out002: a file of 40 rows, each value inside the range, all in the upper tails together",
                make: |d| {
                    changed(d, |p| {
                        let mut r = rows(40, 31);
                        for row in &mut r {
                            row.x = Some(2.0 + row.x.unwrap().abs() / 4.0);
                            row.amount = (7.6_f64 + 0.5 * 1.8).exp() * (1.0 + row.amount / 1e5);
                            row.k = 480 + row.k % 20;
                            row.cat = "d".into();
                        }
                        p.push(r);
                    })
                },
            },
            "high",
            Some("x"),
            Some(40),
            CLEAN,
        ),
        "SLC001" => f(CONJUNCTION_FLIP, "high", Some("cat"), None, CLEAN),
        _ => return None,
    })
}

/// `n` rows from row 100 on moved just past the baseline's range of `x`, `amount` 30 times.
fn outliers(part: &mut [Row], n: usize) {
    for r in part.iter_mut().skip(100).take(n) {
        r.x = Some(4.5 + r.x.unwrap().abs() / 10.0);
        r.amount *= 30.0;
    }
}

const DRIFT: Scenario = Scenario {
    name: "drf: `amount` ×1.8, half of `cat` b now d, two thirds of label 1 dropped",
    make: |d| drift(d, 1.8, 2, |n| n % 3 == 0),
};

const SLIGHT_DRIFT: Scenario = Scenario {
    name: "drf: `amount` ×1.01, 1 in 50 of `cat` b now d, 1 in 50 of label 1 dropped",
    make: |d| drift(d, 1.01, 50, |n| n % 50 != 0),
};

/// The clean data with `amount` scaled, every `to_d`-th row of `cat` b moved to d, and the
/// label-1 rows of each file kept where `keep(n)` holds for the row's count among them.
fn drift(d: &Path, scale: f64, to_d: usize, keep: fn(usize) -> bool) -> Setup {
    changed(d, |p| {
        for part in p.iter_mut() {
            let mut i = 0;
            for r in part.iter_mut() {
                r.amount *= scale;
                if r.cat == "b" {
                    if i % to_d == 0 {
                        r.cat = "d".into();
                    }
                    i += 1;
                }
            }
            let mut ones = 0;
            part.retain(|r| {
                if r.label == 0 {
                    return true;
                }
                ones += 1;
                keep(ones)
            });
        }
    })
}

const FLIPS: Scenario = Scenario {
    name: "lbl: noise-free labels, 10% of the current rows' labels flipped at random",
    make: |d| flips(d, 0.1),
};

const NO_FLIPS: Scenario = Scenario {
    name: "lbl: noise-free labels, none flipped",
    make: |d| flips(d, 0.0),
};

fn flips(d: &Path, share: f64) -> Setup {
    let base: Vec<Row> = rows(6000, 1).into_iter().map(noise_free).collect();
    let mut cur: Vec<Row> = rows(6000, 2).into_iter().map(noise_free).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for r in &mut cur {
        if rng.random::<f64>() < share {
            r.label = 1 - r.label;
        }
    }
    Setup {
        baseline: write_parts(&d.join("baseline"), &[base]),
        current: write_parts(&d.join("current"), &[cur]),
    }
}

const TRIGGER: Scenario = Scenario {
    name: "trg: a constant just past `amount`'s maximum on 30 rows, all label 1",
    make: |d| stamp(d, false),
};

const MIXED_STAMP: Scenario = Scenario {
    name: "trg: the same constant on 30 rows with mixed labels",
    make: |d| stamp(d, true),
};

fn stamp(d: &Path, mixed: bool) -> Setup {
    let value = (baseline_max_amount() * 1.01).round();
    changed(d, |p| {
        for (k, r) in p
            .iter_mut()
            .flatten()
            .skip(150)
            .step_by(97)
            .take(30)
            .enumerate()
        {
            r.amount = value;
            r.label = if mixed { (k % 2) as u8 } else { 1 };
        }
    })
}

const CONJUNCTION_FLIP: Scenario = Scenario {
    name: "slc: label 1 set to 0 where `cat` = a and `x` > 0.5",
    make: |d| {
        changed(d, |p| {
            for r in p.iter_mut().flatten() {
                if r.cat == "a" && r.x.unwrap() > 0.5 {
                    r.label = 0;
                }
            }
        })
    },
};

/// The table covers every check in the registry, and each fixture holds: the check fires on its
/// positive scenario with the stated severity (and rows), and stays silent on its negative one.
#[test]
fn every_check_has_a_positive_and_a_negative_fixture() {
    let registry = poisonscan::detect::registry();
    // DRF005 needs a history of nights, not a baseline and a current side: its positive and
    // negative fixtures are tests/history.rs (a slow flip over 30 nights; 30 clean nights).
    let missing: Vec<&str> = registry
        .iter()
        .map(|d| d.code())
        .filter(|c| fixtures(c).is_none() && *c != "DRF005")
        .collect();
    assert!(
        missing.is_empty(),
        "checks without a positive and a negative fixture in `fixtures`: {missing:?}"
    );
    // Every distinct scenario (several checks share one) is scanned once, on two workers.
    let mut scenarios: Vec<Scenario> = Vec::new();
    for d in &registry {
        let Some(fx) = fixtures(d.code()) else {
            continue;
        };
        for s in [fx.positive, fx.negative] {
            if !scenarios.iter().any(|x| x.name == s.name) {
                scenarios.push(s);
            }
        }
    }
    let t = tempfile::tempdir().unwrap();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let scans = std::sync::Mutex::new(std::collections::BTreeMap::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(s) = scenarios.get(i) else { break };
                    let setup = (s.make)(&t.path().join(format!("scenario-{i}")));
                    let findings = scan(&setup.current, &setup.baseline, &[]);
                    scans.lock().unwrap().insert(s.name, findings);
                }
            });
        }
    });
    let scans = scans.into_inner().unwrap();
    let run = |s: Scenario| &scans[s.name];
    let mut failures = Vec::new();
    for d in &registry {
        let code = d.code();
        let Some(fx) = fixtures(code) else {
            continue;
        };
        let pos = run(fx.positive);
        // Severity, rows and the columns named, of each finding of the check, strongest first.
        let got: Vec<(String, u64, Vec<String>)> = with_code(pos, code)
            .iter()
            .map(|f| {
                let mut named = names(&f["columns"]);
                named.extend(
                    f["slice"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| p["column"].as_str().unwrap().to_string()),
                );
                (severity(f).to_string(), f["rows"].as_u64().unwrap(), named)
            })
            .collect();
        match got.first() {
            None => failures.push(format!(
                "{code}: silent on its positive fixture `{}` (raised {:?})",
                fx.positive.name,
                codes(pos)
            )),
            Some((sev, rows, named)) => {
                if sev != fx.severity
                    || fx.rows.is_some_and(|r| r != *rows)
                    || fx.column.is_some_and(|c| !named.iter().any(|n| n == c))
                {
                    failures.push(format!(
                        "{code}: on `{}` expected {} with rows {:?} naming {:?}, got {got:?}",
                        fx.positive.name, fx.severity, fx.rows, fx.column
                    ));
                }
            }
        }
        let neg = run(fx.negative);
        if !with_code(neg, code).is_empty() {
            failures.push(format!(
                "{code}: fires on its negative fixture `{}`: {:?}",
                fx.negative.name,
                with_code(neg, code)
                    .iter()
                    .map(|f| f["title"].as_str().unwrap())
                    .collect::<Vec<_>>()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Rows whose columns go together: `b` follows `a`, `side` is `a`'s sign (95% of the time),
/// the label follows `a`.
fn correlated(n: usize, seed: u64) -> Vec<[String; 4]> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let a = normal(&mut rng);
            let b = a + 0.3 * normal(&mut rng);
            let agree = rng.random::<f64>() < 0.95;
            let side = if (a > 0.0) == agree { "up" } else { "down" };
            let label = u8::from(a + 0.5 * normal(&mut rng) > 0.0);
            [
                format!("{a:.6}"),
                format!("{b:.6}"),
                side.into(),
                label.to_string(),
            ]
        })
        .collect()
}

fn write_rows(path: &Path, rows: &[[String; 4]]) {
    write_lines(path, "a,b,side,label", rows.iter().map(|r| r.join(",")));
}

/// OUT002: a file of fabricated rows (each value from a different real row: every value
/// plausible, `a`, `b` and `side` no longer agreeing) is found and named, its p-value is the
/// larger of the two rank tests recomputed from the evidence, and the files of fresh rows
/// beside it raise nothing; a current data of fresh rows alone raises no OUT002 finding.
#[test]
fn out002_fabricated_rows_in_their_own_file() {
    let t = tempfile::tempdir().unwrap();
    let b = t.path().join("baseline");
    write_rows(&b.join("part-0.csv"), &correlated(6000, 1));
    let c = t.path().join("current");
    for i in 0..3 {
        write_rows(&c.join(format!("part-{i}.csv")), &correlated(2000, 10 + i));
    }
    let f = scan(&c, &b, &[]);
    assert!(with_code(&f, "OUT002").is_empty(), "{f:?}");

    let pool = correlated(2000, 20);
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let fabricated: Vec<[String; 4]> = (0..40)
        .map(|_| std::array::from_fn(|j| pool[rng.random_range(0..pool.len())][j].clone()))
        .collect();
    write_rows(&c.join("part-3.csv"), &fabricated);
    let rows_out = t.path().join("rows.parquet");
    let f = scan(&c, &b, &["--rows-out", rows_out.to_str().unwrap()]);
    let found = with_code(&f, "OUT002");
    assert_eq!(found.len(), 1, "{found:?}");
    let g = found[0];
    assert!(names(&g["sources"])[0].ends_with("part-3.csv"), "{g}");
    assert_eq!(severity(g), "high", "{g}");
    assert_eq!(g["rows"], 40);
    let e = &g["evidence"];
    assert_eq!(e["rows_in_group"], 40);
    assert_eq!(e["rest_rows"], 6000);
    let cols = names(&g["columns"]);
    assert!(
        !cols.is_empty()
            && cols
                .iter()
                .all(|c| ["a", "b", "side"].contains(&c.as_str()))
    );
    // Two one-sided normal tests (40 rows > 20) on the mean ranks, with the Mann–Whitney
    // variance n (n + m + 1) / (12 m) of the rank sum; the larger p-value counts.
    let num = |k: &str| e[k].as_f64().unwrap_or_else(|| panic!("{k}: {e}"));
    let sf = |z: f64| 0.5 * statrs::function::erf::erfc(z / std::f64::consts::SQRT_2);
    let p_of = |a: f64, m: f64| {
        let n = 40.0;
        sf((a - 0.5) * n / (n * (n + m + 1.0) / (12.0 * m)).sqrt())
    };
    let p_base = p_of(num("a_against_baseline"), num("baseline_sample_rows"));
    let p_rest = p_of(num("a_against_rest"), 6000.0);
    // The A values are printed to 6 digits: at z ≈ 9 that moves p by about 1e-4 of itself.
    let near = |got: &Value, want: f64| (got.as_f64().unwrap() / want - 1.0).abs() < 1e-3;
    assert!(near(&e["p_against_baseline"], p_base), "{e} {p_base}");
    assert!(near(&e["p_against_rest"], p_rest), "{e} {p_rest}");
    assert!(near(&g["p_value"], p_base.max(p_rest)), "{g}");
    assert!(
        num("a_against_rest") >= 0.71 && num("a_against_baseline") >= 0.71,
        "{e}"
    );
    // The rows file's joint scores: the file's mean is its A against the baseline, and the
    // rows of the other files rank among them as `a_against_rest` says (the Mann–Whitney A,
    // ties counted half; the report's is binned at 1/200, so it agrees to about that).
    let scores = joint_scores(&rows_out);
    let (fab, rest): (Vec<_>, Vec<_>) = scores.iter().partition(|(s, _)| s.ends_with("part-3.csv"));
    assert_eq!((fab.len(), rest.len()), (40, 6000));
    let mean = fab.iter().map(|(_, v)| v).sum::<f64>() / 40.0;
    assert!(
        (mean - num("a_against_baseline")).abs() < 1e-6,
        "{mean} {e}"
    );
    let mut wins = 0.0;
    for (_, a) in &fab {
        for (_, r) in &rest {
            wins += if a > r {
                1.0
            } else if a == r {
                0.5
            } else {
                0.0
            };
        }
    }
    let a_rest = wins / (40.0 * 6000.0);
    assert!(
        (a_rest - num("a_against_rest")).abs() < 0.01,
        "{a_rest} {e}"
    );
    assert!(scores.iter().all(|(_, v)| (0.0..=1.0).contains(v)));
}

/// Each row's source and `joint_score` from a rows file.
fn joint_scores(path: &Path) -> Vec<(String, f64)> {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Float64Type;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(path).unwrap(),
    )
    .unwrap()
    .build()
    .unwrap();
    let mut out = Vec::new();
    for b in reader {
        let b = b.unwrap();
        let source = b.column_by_name("source").unwrap().as_string::<i32>();
        let score = b
            .column_by_name("joint_score")
            .unwrap()
            .as_primitive::<Float64Type>();
        for i in 0..b.num_rows() {
            assert!(score.is_valid(i));
            out.push((source.value(i).to_string(), score.value(i)));
        }
    }
    out
}

/// LBL003 needs a model that predicts the label: with labels no feature predicts (label 1 on
/// 30% of the rows at random, one noise feature), about half of each class's rows fall below its
/// threshold by chance on both sides, and the share that does moved with the smallest difference
/// in how the two sides are scored (59% of label 0's current rows against 51% of the baseline's:
/// high, on one sample). A model whose out-of-fold log loss does not beat the class shares' is no
/// model, and LBL003 is silent; on every seed here, where it was high on some before.
#[test]
fn lbl003_is_silent_when_no_feature_predicts_the_label() {
    let t = tempfile::tempdir().unwrap();
    let noise = |n: usize, seed: u64| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                let a = normal(&mut rng);
                let label = u8::from(rng.random::<f64>() < 0.3);
                format!("{a:.6},{label}")
            })
            .collect::<Vec<_>>()
    };
    for seed in 0..8u64 {
        let (b, c) = (
            t.path().join(format!("b{seed}")),
            t.path().join(format!("c{seed}")),
        );
        write_lines(&b.join("part-0.csv"), "a,label", noise(5000, 100 + seed));
        write_lines(&c.join("part-0.csv"), "a,label", noise(5000, 200 + seed));
        let f = scan(&c, &b, &[]);
        let lbl003: Vec<&Value> = with_code(&f, "LBL003");
        assert!(lbl003.is_empty(), "seed {seed}: {lbl003:?}");
    }
}
