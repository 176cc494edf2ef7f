//! Integration tests: the real binary on shipped data (exit codes, messages, the report contract,
//! determinism) and the library on profiles (merge property, reference statistics).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use poisonscan::detect::{Context, Detector, Finding, Severity};
use poisonscan::ingest::{Dataset, IngestOptions};
use poisonscan::profile::{self, Profile, ProfileSettings};

use common::root;

use common::bin;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// `batch` as a Parquet file at `path`, with the writer's defaults.
fn write_parquet(path: &Path, batch: &arrow::array::RecordBatch) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(f, batch.schema(), None).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

/// Exit code 2, no panic, and a message that contains every fragment.
fn assert_fails(args: &[&str], fragments: &[&str]) {
    let o = bin(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "args {args:?}: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    assert!(o.stdout.is_empty(), "nothing on stdout when the run fails");
    for f in fragments {
        assert!(err.contains(f), "expected `{f}` in: {err}");
    }
}

#[test]
fn bad_inputs_name_the_file_and_exit_2() {
    assert_fails(&["scan", "no/such/dir"], &["`no/such/dir` does not exist"]);
    // Outputs that cannot be written: the message says so and names the path.
    assert_fails(
        &[
            "scan",
            "datasets/demo/current",
            "--out",
            "README.md/reports",
        ],
        &["cannot write `README.md/reports`"],
    );
    assert_fails(
        &[
            "profile",
            "datasets/demo/current",
            "-o",
            "README.md/p.psprof",
        ],
        &["cannot write", "README.md/p.psprof"],
    );
    let empty = tempfile::tempdir().unwrap();
    let e = empty.path().to_str().unwrap();
    assert_fails(&["scan", e], &["no Parquet or CSV files found", e]);
    assert_fails(
        &["scan", "datasets/bad/not_parquet.parquet"],
        &[
            "`datasets/bad/not_parquet.parquet` is not a readable Parquet file",
            "Corrupt footer",
        ],
    );
    assert_fails(
        &["scan", "datasets/bad/truncated.parquet"],
        &["`datasets/bad/truncated.parquet` is not a readable Parquet file"],
    );
    assert_fails(
        &["scan", "datasets/bad/ragged.csv"],
        &[
            "`datasets/bad/ragged.csv`",
            "line 3",
            "hint: a row has more or fewer fields",
        ],
    );
    // Past the inference sample the row is found by the parser, still at file line 3.
    assert_fails(
        &["scan", "datasets/bad/ragged.csv", "--infer-rows", "1"],
        &["`datasets/bad/ragged.csv`", "line 3"],
    );
    assert_fails(
        &["scan", "datasets/bad/latin1.csv"],
        &["`datasets/bad/latin1.csv`", "invalid UTF-8 on line 2"],
    );
    assert_fails(
        &["scan", "datasets/bad/conflict"],
        &[
            "column `x` has type int in `datasets/bad/conflict/a.csv` but string in `datasets/bad/conflict/b.csv`",
        ],
    );
    assert_fails(
        &["scan", "datasets/demo/baseline", "--label", "nolabel"],
        &[
            "column `nolabel` given to --label does not exist in the data (`datasets/demo/baseline`)",
            "`credit_score`",
        ],
    );
    // A readable file with a value its type cannot hold is not called corrupt: an unsigned
    // 64-bit integer past 2^63 - 1 (a hashed ID, say) names the file, the column and a way out.
    let t_u64 = tempfile::tempdir().unwrap();
    let u64_file = t_u64.path().join("ids.parquet");
    {
        use arrow::array::{ArrayRef, UInt64Array};
        let ids: ArrayRef = std::sync::Arc::new(UInt64Array::from(vec![1, 2, (1u64 << 63) + 5]));
        let batch = arrow::array::RecordBatch::try_from_iter([("id", ids)]).unwrap();
        write_parquet(&u64_file, &batch);
    }
    let u64_file = u64_file.to_str().unwrap();
    assert_fails(
        &["scan", u64_file],
        &[
            &format!(
                "`{u64_file}`: column `id` holds a value poisonscan cannot read as a 64-bit integer"
            ),
            "9223372036854775813",
            "--exclude id",
        ],
    );
    let o = bin(&["scan", u64_file]);
    assert!(!stderr(&o).contains("corrupt"), "{}", stderr(&o));
    // Where that column is the id (or the label), which exclude refuses, the hint says so and
    // keeps only the way out that works.
    let o = bin(&["scan", u64_file, "--id", "id"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(
            "hint: `id` is the label or the id, which every run reads (`--exclude` cannot leave it out): store it in a type"
        ) && !stderr(&o).contains("--exclude id"),
        "{}",
        stderr(&o)
    );
    // The side that lacks the column is named: the baseline, or the data.
    let t = tempfile::tempdir().unwrap();
    let (with, without) = (t.path().join("with.csv"), t.path().join("without.csv"));
    std::fs::write(&with, "x,label\n1,0\n2,1\n").unwrap();
    std::fs::write(&without, "x,target\n1,0\n2,1\n").unwrap();
    let (with, without) = (with.to_str().unwrap(), without.to_str().unwrap());
    assert_fails(
        &["scan", with, "--baseline", without, "--label", "label"],
        &[&format!(
            "column `label` given to --label does not exist in the baseline (`{without}`)"
        )],
    );
    assert_fails(
        &["scan", without, "--baseline", with, "--label", "label"],
        &[&format!(
            "column `label` given to --label does not exist in the data (`{without}`)"
        )],
    );
    // A label missing from one file, or of two types: the hints for any other column
    // (`--exclude label`) would be refused.
    let two = t.path().join("two");
    std::fs::create_dir(&two).unwrap();
    std::fs::write(two.join("a.csv"), "x,label\n1,0\n2,1\n").unwrap();
    std::fs::write(two.join("b.csv"), "x,target\n1,0\n2,1\n").unwrap();
    let two = two.to_str().unwrap();
    let o = bin(&["profile", two, "--label", "target", "-o", "-"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("column `target` is in")
            && e.contains("hint: `target` is the label or the id")
            && e.contains("every file must carry it")
            && !e.contains("--exclude target"),
        "{e}"
    );
    // Not the label: leaving it out is the way.
    let o = bin(&["profile", two, "-o", "-"]);
    assert!(stderr(&o).contains("--exclude target"), "{}", stderr(&o));
    let typed = t.path().join("typed");
    std::fs::create_dir(&typed).unwrap();
    std::fs::write(typed.join("a.csv"), "x,label\n1,0\n2,1\n").unwrap();
    std::fs::write(typed.join("b.csv"), "x,label\n1,true\n2,false\n").unwrap();
    let typed = typed.to_str().unwrap();
    let o = bin(&["profile", typed, "--label", "label", "-o", "-"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        e.contains("column `label` has type int in")
            && e.contains("give it one type in every file")
            && !e.contains("--exclude label"),
        "{e}"
    );
    // Any other column keeps the hint to leave it out.
    let o = bin(&["profile", typed, "-o", "-"]);
    assert!(stderr(&o).contains("--exclude label"), "{}", stderr(&o));
    assert_fails(
        &["scan", "datasets/demo/baseline", "--exclude", "nope"],
        &["`nope` given to --exclude"],
    );
    // The label or the id in exclude is refused, from the command line or a config file (it
    // was read anyway, and the exclusion ignored without a word).
    assert_fails(
        &["scan", with, "--label", "label", "--exclude", "label"],
        &["exclude lists `label`, which is the label (--label, the config file"],
    );
    let config = t.path().join("poisonscan.toml");
    std::fs::write(&config, "exclude = [\"x\"]\n").unwrap();
    assert_fails(
        &[
            "scan",
            with,
            "--id",
            "x",
            "--config",
            config.to_str().unwrap(),
        ],
        &["exclude lists `x`, which is the id (--id, the config file"],
    );
}

/// Integers at both ends of i64 in one column (a feature on either side, and a numeric target)
/// are profiled and scanned: the span of their values, 2^64, overflows a u64 and once panicked.
/// Both values lie far past the baseline's range (more than 10 times its width), and SCH004
/// counts them.
#[test]
fn integers_spanning_all_of_i64_are_scanned() {
    let t = tempfile::tempdir().unwrap();
    let cur = t.path().join("cur.csv");
    let base = t.path().join("base.csv");
    let mut c = String::from("x,label\n-9223372036854775808,0\n9223372036854775807,1\n");
    let mut b = String::from("x,label\n");
    // 0, 10, ..., 1000 on both sides, each about three times (a numeric column).
    for i in 0..300 {
        c.push_str(&format!("{},{}\n", (i * 11) % 101 * 10, i % 2));
        b.push_str(&format!("{},{}\n", (i * 7) % 101 * 10, i % 2));
    }
    std::fs::write(&cur, c).unwrap();
    std::fs::write(&base, b).unwrap();
    let (cur, base) = (cur.to_str().unwrap(), base.to_str().unwrap());
    let o = bin(&[
        "profile",
        cur,
        "-o",
        t.path().join("p.psprof").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let scan = |cur: &str, base: &str, extra: &[&str]| {
        let mut args = vec![
            "scan",
            cur,
            "--baseline",
            base,
            "--label",
            "label",
            "--format",
            "json",
            "--fail-on",
            "never",
            "--quiet",
            "--no-config",
        ];
        args.extend_from_slice(extra);
        let o = bin(&args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        common::report(&o.stdout)
    };
    let r = scan(cur, base, &[]);
    let sch004 = common::with_code(&r, "SCH004");
    assert_eq!(sch004.len(), 1, "{r}");
    assert_eq!(sch004[0]["evidence"]["above"], 1, "{}", sch004[0]);
    assert_eq!(sch004[0]["evidence"]["below"], 1, "{}", sch004[0]);
    // The same column on the baseline's side, and the two extremes as a numeric target.
    scan(base, cur, &[]);
    let target = t.path().join("target.csv");
    let swapped: String = std::fs::read_to_string(cur)
        .unwrap()
        .lines()
        .map(|l| {
            let (x, y) = l.split_once(',').unwrap();
            format!("{y},{x}\n")
        })
        .collect();
    std::fs::write(&target, swapped.replacen("label,x", "x,label", 1)).unwrap();
    scan(target.to_str().unwrap(), cur, &["--label-type", "numeric"]);
}

/// A label type that does not fit the data, or the baseline profile's, is a usage error that
/// says what to give instead.
#[test]
fn label_types_that_do_not_fit_the_data_exit_2() {
    let cal = "datasets/real/california_housing.parquet";
    assert_fails(
        &["scan", cal, "--label", "label", "--label-type", "class"],
        &[
            "the label column `label` has more than 64 distinct values: too many for classes",
            "hint: check it as a numeric target with --label-type numeric",
        ],
    );
    assert_fails(
        &[
            "scan",
            cal,
            "--label",
            "ocean_proximity",
            "--label-type",
            "numeric",
        ],
        &[
            "the label column `ocean_proximity`",
            "a numeric target (--label-type numeric) must be numbers",
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cal.psprof");
    let o = bin(&[
        "profile",
        cal,
        "--label",
        "label",
        "-o",
        p.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_fails(
        &[
            "scan",
            cal,
            "--baseline",
            p.to_str().unwrap(),
            "--label",
            "label",
            "--label-type",
            "class",
        ],
        &[
            "the baseline profile checks the label `label` as numeric, this scan asks for class",
            "hint: re-create the profile with --label-type class, or scan with --label-type numeric",
        ],
    );
    // The saved profile carries its type: a scan left to auto takes it.
    let o = bin(&[
        "scan",
        cal,
        "--baseline",
        p.to_str().unwrap(),
        "--label",
        "label",
        "--format",
        "json",
        "--fail-on",
        "never",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        common::report(&o.stdout)["dataset"]["label_type"],
        "numeric"
    );
}

/// A baseline profile made with another --id than the scan's is refused, as one with another
/// --label is: the id is not a feature, so a column that is the id on one side only was left
/// out of every comparison, silently (a shift of `age` passed with no finding against a
/// baseline profiled with `--id age`). `merge` refuses such profiles the same way.
#[test]
fn a_baseline_or_a_part_with_another_id_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let profile = |id: &str, data: &str, name: &str| {
        let out = dir.path().join(name);
        let o = bin(&[
            "profile",
            data,
            "--label",
            "label",
            "--id",
            id,
            "-q",
            "--no-config",
            "-o",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        out.to_str().unwrap().to_string()
    };
    let by_age = profile("age", "datasets/demo/baseline", "age.psprof");
    assert_fails(
        &[
            "scan",
            "datasets/demo/current",
            "--baseline",
            &by_age,
            "--label",
            "label",
            "--id",
            "customer_id",
            "--no-config",
        ],
        &[
            "the baseline profile was made with --id age, this scan uses --id customer_id",
            "hint: re-create the profile with the same --id",
        ],
    );
    assert_fails(
        &[
            "scan",
            "datasets/demo/current",
            "--baseline",
            &by_age,
            "--label",
            "label",
            "--no-config",
        ],
        &["the baseline profile was made with --id age, this scan uses no --id"],
    );
    let by_customer = profile("customer_id", "datasets/demo/current", "cur.psprof");
    assert_fails(
        &[
            "merge",
            &by_age,
            &by_customer,
            "-o",
            dir.path().join("m.psprof").to_str().unwrap(),
        ],
        &[
            "one was made with --id age and the other with --id customer_id; profile both with the same --id",
        ],
    );
    assert!(!dir.path().join("m.psprof").exists());
}

/// `--sample-size 0` is allowed (a profile without a sample is faster to make), but never
/// silent: the checks it turns off are named on stderr, even with `--quiet`.
#[test]
fn a_sample_size_of_0_says_what_it_skips() {
    let mut args = common::DEMO_SCAN.to_vec();
    args.extend([
        "--sample-size",
        "0",
        "--fail-on",
        "never",
        "--quiet",
        "--no-config",
    ]);
    let o = bin(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("note: --sample-size 0 keeps no sample, and the checks that need one are skipped: TRG001, TRG002 and SLC001"),
        "{err}"
    );
}

/// A column of Arrow's null type (what pandas writes for a column of None) is null on every
/// row: its nulls are its rows, by label, though the array has no validity buffer to count.
#[test]
fn a_column_of_the_null_type_counts_every_row_null() {
    use arrow::array::{ArrayRef, Int64Array, NullArray};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("none.parquet");
    let batch = arrow::array::RecordBatch::try_from_iter_with_nullable([
        (
            "empty",
            std::sync::Arc::new(NullArray::new(5)) as ArrayRef,
            true,
        ),
        (
            "label",
            std::sync::Arc::new(Int64Array::from(vec![0, 1, 1, 0, 1])) as ArrayRef,
            false,
        ),
    ])
    .unwrap();
    write_parquet(&path, &batch);
    let p = profile_of(&[path], Some("label"), &IngestOptions::default());
    let c = p.column("empty").unwrap();
    assert_eq!((c.rows, c.nulls), (5, 5));
    assert_eq!(
        c.null_labels
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect::<Vec<_>>(),
        vec![("0", 2), ("1", 3)]
    );
}

/// Two outputs of one run at one path are refused before anything is read: the rows file
/// written as `--out`'s JSON report, or the rows file and the attestation at one name, would
/// leave only the one written last.
#[test]
fn two_outputs_at_one_path_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let report = out.join("report.json");
    let report = report.to_str().unwrap();
    let scan = |extra: &[&str]| {
        let mut args = common::DEMO_SCAN.to_vec();
        args.extend(["--fail-on", "never", "--no-config"]);
        args.extend_from_slice(extra);
        args.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let args = scan(&["--out", out.to_str().unwrap(), "--rows-out", report]);
    assert_fails(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        &["two outputs are the same file", "report.json"],
    );
    assert!(!out.exists(), "nothing is written");
    let same = dir.path().join("same.out");
    let same = same.to_str().unwrap();
    let key = dir.path().join("k");
    let o = bin(&["keygen", "-o", key.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let args = scan(&[
        "--rows-out",
        same,
        "--attest",
        same,
        "--sign-key",
        key.to_str().unwrap(),
    ]);
    assert_fails(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        &[&format!(
            "two outputs are the same file, `{same}` and `{same}`"
        )],
    );
    assert!(!Path::new(same).exists());
}

/// Two of the demo's current files in `dir/data`, which is returned.
fn demo_parts_in(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    std::fs::create_dir(&data).unwrap();
    for f in ["part-0.parquet", "part-1.parquet"] {
        std::fs::copy(root().join("datasets/demo/current").join(f), data.join(f)).unwrap();
    }
    data
}

/// A scan of `input` (a folder or a glob) against the demo's baseline, writing `rows`.
fn scan_with_rows_out(input: &Path, rows: &Path) -> Output {
    bin(&[
        "scan",
        input.to_str().unwrap(),
        "--baseline",
        "datasets/demo/baseline",
        "--label",
        "label",
        "--fail-on",
        "never",
        "--quiet",
        "--no-config",
        "--rows-out",
        rows.to_str().unwrap(),
    ])
}

/// A rows file written into the folder being scanned is refused: the next scan of that folder
/// would read it as data and fail on its columns. A hidden name is never read, so it may.
#[test]
fn a_rows_file_inside_the_scanned_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo_parts_in(dir.path());
    let scan = |rows: &Path| scan_with_rows_out(&data, rows);
    let o = scan(&data.join("rows.parquet"));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("is a data file inside the input folder"),
        "{}",
        stderr(&o)
    );
    assert!(!data.join("rows.parquet").exists());
    let o = scan(&data.join("_rows.parquet"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(data.join("_rows.parquet").exists());
}

/// The same for a glob: a rows file the input pattern matches (itself, or a folder holding it)
/// would be read as data by the next run with that pattern, so it is refused, whatever way the
/// output's path is written; one the pattern does not match, or a hidden name, is written.
#[test]
fn a_rows_file_the_input_glob_matches_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo_parts_in(dir.path());
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let scan = scan_with_rows_out;
    let refused = [
        (data.join("*.parquet"), data.join("rows.parquet")),
        (data.join("*.parquet"), data.join("../data/./rows.parquet")),
        (
            dir.path().join("*/*.parquet"),
            elsewhere.join("rows.parquet"),
        ),
        (dir.path().join("**/part-*"), elsewhere.join("part-9.csv")),
        (dir.path().join("d*/"), data.join("rows.parquet")),
    ];
    for (pattern, rows) in &refused {
        let o = scan(pattern, rows);
        assert_eq!(o.status.code(), Some(2), "{pattern:?} {rows:?}");
        assert!(
            stderr(&o).contains("is a data file the input pattern"),
            "{}",
            stderr(&o)
        );
        assert!(!rows.exists());
    }
    let written = [
        (data.join("part-*.parquet"), data.join("rows.parquet")),
        (data.join("*.parquet"), data.join("rows.csv")),
        (data.join("*.parquet"), data.join("_rows.parquet")),
        (data.join("*.parquet"), elsewhere.join("rows.parquet")),
    ];
    for (pattern, rows) in &written {
        let o = scan(pattern, rows);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{pattern:?} {rows:?}: {}",
            stderr(&o)
        );
        assert!(rows.exists());
        std::fs::remove_file(rows).unwrap();
    }
}

fn make_profile(dir: &Path) -> PathBuf {
    let out = dir.join("base.psprof");
    let o = bin(&[
        "profile",
        "datasets/demo/baseline",
        "--label",
        "label",
        "-q",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    out
}

#[test]
fn corrupt_and_foreign_profiles_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let good = make_profile(dir.path());
    let bytes = std::fs::read(&good).unwrap();

    let corrupt = dir.path().join("corrupt.psprof");
    let mut b = bytes.clone();
    let mid = b.len() / 2;
    b[mid] ^= 0xff;
    std::fs::write(&corrupt, &b).unwrap();
    let c = corrupt.to_str().unwrap();
    assert_fails(
        &[
            "scan",
            "datasets/demo/current",
            "--label",
            "label",
            "--baseline",
            c,
        ],
        &[c, "checksum does not match"],
    );

    let truncated = dir.path().join("truncated.psprof");
    std::fs::write(&truncated, &bytes[..bytes.len() - 10]).unwrap();
    let t = truncated.to_str().unwrap();
    assert_fails(
        &["merge", t, good.to_str().unwrap(), "-o", "/dev/null"],
        &[t, "truncated"],
    );

    let future = dir.path().join("future.psprof");
    let mut b = bytes.clone();
    b[20..24].copy_from_slice(&99u32.to_le_bytes());
    std::fs::write(&future, &b).unwrap();
    let f = future.to_str().unwrap();
    assert_fails(
        &[
            "scan",
            "datasets/demo/current",
            "--label",
            "label",
            "--baseline",
            f,
        ],
        &[
            f,
            "schema_version 99",
            &format!(
                "reads schema_version {}",
                poisonscan::profile::PROFILE_SCHEMA_VERSION
            ),
        ],
    );
}

fn json_scan(extra: &[&str]) -> serde_json::Value {
    let mut args = common::DEMO_SCAN.to_vec();
    args.extend_from_slice(&["--format", "json", "-q"]);
    args.extend_from_slice(extra);
    let o = bin(&args);
    // The demo's injected problems fail the default gate (fail-on high).
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    common::report(&o.stdout)
}

/// The demo's drifted `debt_ratio` (every value up by 0.15) puts 60 rows past the baseline's
/// maximum, 56 of them labelled 0 (0.93, under TRG001's 0.95). High debt ratios carried label
/// 0 in the baseline too (0.86 of its highest), so the rule is no trigger, and the drift is
/// DRF001's; the injected trigger, `promo_code` = `ZX-99`, is the only TRG001 rule. (A rule
/// taken where 0.95 is within the noise of its rows reported it high, and was not kept.)
#[test]
fn a_drift_past_the_range_that_keeps_a_natural_label_pattern_is_no_trigger() {
    let r = json_scan(&["--fail-on", "high"]);
    let rules: Vec<&serde_json::Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "TRG001")
        .collect();
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(rules[0]["slice"][0]["column"], "promo_code");
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "DRF001" && f["columns"][0] == "debt_ratio"),
        "the drift is found"
    );
}

#[test]
fn demo_report_follows_the_contract_and_row_counts_reconcile() {
    let r = json_scan(&[]);
    assert_eq!(r["schema_version"], 1);
    assert_eq!(r["tool"]["name"], "poisonscan");
    for k in [
        "run", "dataset", "baseline", "verdict", "fail_on", "counts", "findings",
    ] {
        assert!(r.get(k).is_some(), "missing `{k}`");
    }
    for k in ["started_at", "duration_ms", "threads", "seed"] {
        assert!(r["run"].get(k).is_some(), "missing run.{k}");
    }
    assert_eq!(r["verdict"], "fail");
    assert_eq!(r["fail_on"], "high");
    assert!(r["counts"]["high"].as_u64().unwrap() >= 1);
    // Counts agree with the findings, and findings are ordered by severity then score.
    let f = r["findings"].as_array().unwrap();
    let rank = |s: &str| {
        ["info", "low", "medium", "high"]
            .iter()
            .position(|x| *x == s)
    };
    let sev: Vec<usize> = f
        .iter()
        .map(|x| rank(x["severity"].as_str().unwrap()).unwrap())
        .collect();
    assert!(sev.windows(2).all(|w| w[0] >= w[1]), "{sev:?}");
    for (name, i) in [("high", 3), ("medium", 2), ("low", 1), ("info", 0)] {
        let n = sev.iter().filter(|&&s| s == i).count() as u64;
        assert_eq!(r["counts"][name], n, "{name}");
    }
    // Every finding carries the contract's fields.
    for x in f {
        for k in [
            "code",
            "check",
            "severity",
            "score",
            "title",
            "columns",
            "slice",
            "sources",
            "rows",
            "baseline_rows",
            "statistic",
            "p_value",
            "q_value",
            "effect",
            "example_rows",
            "evidence",
        ] {
            assert!(x.get(k).is_some(), "finding {} lacks `{k}`", x["code"]);
        }
    }
    // The per-column drift table covers the compared feature columns.
    assert_eq!(r["drift"].as_array().unwrap().len(), 9);
    // Rows reconcile with the Parquet footers: 3 × 20,000 + 21,500 + 20,000 (see datasets/README.md).
    assert_eq!(r["dataset"]["rows"], 81_500);
    let rows: Vec<u64> = r["dataset"]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["rows"].as_u64().unwrap())
        .collect();
    assert_eq!(rows, vec![20_000, 20_000, 21_500, 20_000]);
    assert_eq!(r["baseline"]["rows"], 60_000);
    assert_eq!(r["dataset"]["columns"], 11);
    assert_eq!(r["dataset"]["label"], "label");
    // The replayed part is byte-identical to baseline part-1: same BLAKE3 as b3sum would print.
    let replay = &r["dataset"]["sources"][3];
    let expected =
        blake3::hash(&std::fs::read(root().join("datasets/demo/baseline/part-1.parquet")).unwrap());
    assert_eq!(replay["blake3"], expected.to_hex().as_str());
    // The 1,500 injected duplicates, and nothing else, repeat a row.
    assert_eq!(r["profile"]["duplicates"]["duplicate_rows"], 1_500);
    let roles: Vec<(String, String)> = r["profile"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["role"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(roles.contains(&("customer_id".into(), "id".into())));
    assert!(roles.contains(&("region".into(), "categorical".into())));
    assert!(roles.contains(&("income".into(), "numeric".into())));
    assert!(roles.contains(&("label".into(), "label".into())));
}

#[test]
fn same_report_at_any_thread_count() {
    let strip = |mut v: serde_json::Value| {
        v.as_object_mut().unwrap().remove("run");
        serde_json::to_string(&v).unwrap()
    };
    let one = strip(json_scan(&["--threads", "1"]));
    let two = strip(json_scan(&["--threads", "2"]));
    assert_eq!(one, two);
    let other_seed = strip(json_scan(&["--threads", "2", "--seed", "7"]));
    assert!(!other_seed.is_empty());
}

/// The same files scanned from another folder, by absolute paths, give the same report apart
/// from the source names: the sample is keyed by file names, not by where the data sits (a CI
/// clone in another folder must reach the same verdict as the engineer's checkout).
#[test]
fn same_report_wherever_the_data_sits() {
    let dir = tempfile::tempdir().unwrap();
    let moved = dir.path().join("elsewhere/deeper");
    for side in ["baseline", "current"] {
        let to = moved.join(side);
        std::fs::create_dir_all(&to).unwrap();
        for e in std::fs::read_dir(root().join("datasets/demo").join(side)).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
    let (cur, base) = (moved.join("current"), moved.join("baseline"));
    let o = bin(&[
        "scan",
        cur.to_str().unwrap(),
        "--baseline",
        base.to_str().unwrap(),
        "--label",
        "label",
        "--id",
        "customer_id",
        "--format",
        "json",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let strip = |mut v: serde_json::Value, prefix: &str| {
        v.as_object_mut().unwrap().remove("run");
        serde_json::to_string(&v).unwrap().replace(prefix, "")
    };
    let there = strip(
        common::report(&o.stdout),
        &format!("{}/", moved.to_str().unwrap()),
    );
    let here = strip(json_scan(&[]), "datasets/demo/");
    assert!(there.contains("LBL003") && there.contains("part-3.parquet"));
    assert_eq!(here, there);
}

#[test]
fn text_summary_and_out_dir() {
    let dir = tempfile::tempdir().unwrap();
    let o = bin(&[
        "scan",
        "datasets/demo/current",
        "--baseline",
        "datasets/demo/baseline",
        "--label",
        "label",
        "--out",
        dir.path().to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("81,500 rows × 11 columns from 4 files"),
        "{text}"
    );
    assert!(
        text.contains("baseline: 60,000 rows from 3 files"),
        "{text}"
    );
    assert!(text.contains("verdict: FAIL (fail-on high)"), "{text}");
    assert!(text.contains("[HIGH  ] INT002"), "{text}");
    let report = common::report(&std::fs::read(dir.path().join("report.json")).unwrap());
    assert_eq!(report["dataset"]["rows"], 81_500);
    let findings = report["findings"].as_array().unwrap();

    // The Markdown report: verdict, counts, one table row per finding (up to 20), the slices.
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(
        md.starts_with("## poisonscan: ❌ **gate failed** (fail on: high)"),
        "{md}"
    );
    let c = &report["counts"];
    assert!(
        md.contains(&format!(
            "| {} | {} | {} | {} |",
            c["high"], c["medium"], c["low"], c["info"]
        )),
        "{md}"
    );
    // One line per incident (up to 20), then every finding (up to 50) folded by incident.
    let incidents = report["incidents"].as_array().unwrap();
    let table = md
        .split("### Incidents")
        .nth(1)
        .unwrap()
        .split("<details>")
        .next()
        .unwrap();
    let level = |l: &&str| {
        ["| high |", "| medium |", "| low |"]
            .iter()
            .any(|s| l.starts_with(s))
    };
    assert_eq!(table.lines().filter(level).count(), incidents.len().min(20));
    for i in incidents.iter().take(20) {
        assert!(table.contains(&format!("| {} |", i["code"].as_str().unwrap())));
    }
    let folded = md
        .split("<details>")
        .nth(1)
        .unwrap()
        .split("</details>")
        .next()
        .unwrap();
    let rows = folded
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| incident"))
        .count();
    assert_eq!(rows, findings.len().min(50));
    assert_eq!(
        folded.matches(" ↳ ").count() + incidents.len().min(50),
        rows.max(incidents.len().min(50))
    );
    let slices = md.split("### Slices").nth(1).unwrap();
    assert!(
        slices.contains("| <code>promo\\_code</code> = <code>ZX-99</code> | TRG001 | high | 300 |"),
        "{slices}"
    );
    assert!(
        slices.contains("<code>income</code> &gt; 274705"),
        "{slices}"
    );

    // JUnit: one test case per check; failed exactly for the codes with a high finding.
    let xml = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    let cases = xml.matches("<testcase ").count();
    assert_eq!(cases, poisonscan::detect::registry().len());
    let mut failing: Vec<&str> = findings
        .iter()
        .filter(|f| f["severity"] == "high")
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    failing.sort_unstable();
    failing.dedup();
    assert_eq!(xml.matches("<failure ").count(), failing.len());
    assert!(
        xml.contains(&format!(
            r#"<testsuites name="poisonscan" tests="{cases}" failures="{}""#,
            failing.len()
        )),
        "{xml}"
    );
    for code in &failing {
        let case = xml.split(&format!(r#"name="{code} "#)).nth(1).unwrap();
        let case = case.split("</testcase>").next().unwrap();
        assert!(case.contains("<failure type=\"high\""), "{code}: {case}");
    }

    check_html_report(
        &std::fs::read_to_string(dir.path().join("report.html")).unwrap(),
        &report,
    );
    // In a real browser too, where there is one (and python3 for the script's checks). A
    // browser that does not start here is no failure of the report; a failed check is.
    let works = |cmd: &str| {
        Command::new(cmd)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if ["chromium", "chromium-browser"].iter().any(|b| works(b)) && works("python3") {
        let o = Command::new("bash")
            .arg(root().join("scripts/check_html.sh"))
            .arg(dir.path().join("report.html"))
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(!out.contains("FAIL:"), "{out}{}", stderr(&o));
        if out.contains("check_html: ok") {
            assert!(o.status.success());
        } else {
            eprintln!("chromium did not render the page here: {}", stderr(&o));
        }
    } else {
        eprintln!("no chromium on PATH: the HTML report was checked as markup only");
    }
}

/// The HTML report is one well-formed file that fetches nothing and runs nothing, shows every
/// finding, and draws exactly the report's numbers: each drift chart's bars are the finding's
/// bin shares, each histogram's bars the report's score counts, its line the threshold.
fn check_html_report(html: &str, report: &serde_json::Value) {
    for banned in [
        "<script", "<link", "<iframe", "<img", "src=", "url(", "@import", "http",
    ] {
        assert!(
            !html.contains(banned),
            "the HTML report contains `{banned}`"
        );
    }
    let doc = roxmltree::Document::parse_with_options(
        html,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .expect("the HTML report is well-formed");
    let class_is = |n: &roxmltree::Node, class: &str| {
        n.attribute("class")
            .is_some_and(|c| c.split(' ').any(|c| c == class))
    };
    let findings = report["findings"].as_array().unwrap();
    let details: Vec<roxmltree::Node> = doc
        .descendants()
        .filter(|n| n.has_tag_name("details") && class_is(n, "finding"))
        .collect();
    assert_eq!(details.len(), findings.len());
    for (d, f) in details.iter().zip(findings) {
        let summary: String = d
            .descendants()
            .find(|n| n.has_tag_name("summary"))
            .unwrap()
            .descendants()
            .filter_map(|n| n.text())
            .collect();
        assert!(
            summary.contains(f["code"].as_str().unwrap())
                && summary.contains(f["severity"].as_str().unwrap()),
            "{summary}"
        );
        assert_eq!(d.attribute("open").is_some(), f["severity"] == "high");
    }
    // The findings tables, one per incident: one row per finding, the root first and then
    // what it explains, with its number, code, rows and baseline rows as the report has them.
    let table = doc
        .descendants()
        .find(|n| n.attribute("id") == Some("findings"))
        .unwrap();
    let cells = |tr: roxmltree::Node| -> Vec<String> {
        tr.children()
            .filter(|n| n.has_tag_name("td"))
            .map(|td| {
                td.descendants()
                    .filter(|t| t.is_text())
                    .filter_map(|t| t.text())
                    .collect()
            })
            .collect()
    };
    let rows: Vec<Vec<String>> = table
        .descendants()
        .filter(|n| n.has_tag_name("tr"))
        .map(cells)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(rows.len(), findings.len());
    let order: Vec<usize> = report["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(common::incident_members)
        .collect();
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..findings.len()).collect::<Vec<_>>());
    use poisonscan::report::thousands;
    for (row, &i) in rows.iter().zip(&order) {
        let f = &findings[i];
        assert_eq!(row[0], (i + 1).to_string());
        assert_eq!(row[1], f["severity"].as_str().unwrap());
        assert_eq!(row[2], f["code"].as_str().unwrap());
        assert_eq!(row[4], thousands(f["rows"].as_u64().unwrap()), "{row:?}");
        assert_eq!(
            row[5],
            f["baseline_rows"].as_u64().map_or("–".into(), thousands),
            "{row:?}"
        );
    }
    let shares = |svg: roxmltree::Node, side: &str| -> Vec<f64> {
        svg.descendants()
            .filter(|n| n.has_tag_name("rect") && class_is(n, side))
            .map(|n| n.attribute("data-share").unwrap().parse().unwrap())
            .collect()
    };
    let nums = |v: &serde_json::Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let figures: Vec<roxmltree::Node> = doc
        .descendants()
        .filter(|n| {
            n.has_tag_name("figure") && n.attribute("id").is_some_and(|i| i.starts_with("drift-"))
        })
        .collect();
    let drift_findings: Vec<&serde_json::Value> = findings
        .iter()
        .filter(|f| ["DRF001", "DRF002", "DRF003"].contains(&f["code"].as_str().unwrap()))
        .collect();
    assert_eq!(figures.len(), drift_findings.len());
    assert!(figures.len() >= 2, "the demo has drifted columns");
    for (fig, f) in figures.iter().zip(&drift_findings) {
        let svg = fig.descendants().find(|n| n.has_tag_name("svg")).unwrap();
        let (b, c) = (shares(svg, "baseline"), shares(svg, "current"));
        let ev = &f["evidence"];
        match f["code"].as_str().unwrap() {
            "DRF001" => {
                assert_eq!(b, nums(&ev["bins"]["baseline"]));
                assert_eq!(c, nums(&ev["bins"]["current"]));
                let labels: Vec<String> = svg
                    .descendants()
                    .filter(|n| n.has_tag_name("text") && n.attribute("text-anchor") == Some("end"))
                    .map(|n| {
                        // The full label is the tooltip; the text shown may be shortened.
                        n.children()
                            .find(|t| t.has_tag_name("title"))
                            .and_then(|t| t.text())
                            .unwrap()
                            .to_string()
                    })
                    .collect();
                let want: Vec<&str> = ev["bins"]["labels"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l.as_str().unwrap())
                    .collect();
                assert_eq!(labels, want);
            }
            "DRF003" => {
                let counts = |k: &str| -> Vec<f64> {
                    let m = ev[k].as_object().unwrap();
                    let t: f64 = m.values().map(|v| v.as_f64().unwrap()).sum();
                    m.values().map(|v| v.as_f64().unwrap() / t).collect()
                };
                assert_eq!(b, counts("baseline_counts"));
                assert_eq!(c, counts("current_counts"));
            }
            _ => {
                let ch = ev["largest_changes"].as_array().unwrap();
                for (i, x) in ch.iter().enumerate() {
                    assert_eq!(b[i], x["baseline"].as_f64().unwrap());
                    assert_eq!(c[i], x["current"].as_f64().unwrap());
                }
            }
        }
        // Bar lengths are proportional to the shares.
        let widths: Vec<(f64, f64)> = svg
            .descendants()
            .filter(|n| n.has_tag_name("rect"))
            .map(|n| {
                (
                    n.attribute("data-share").unwrap().parse().unwrap(),
                    n.attribute("width").unwrap().parse().unwrap(),
                )
            })
            .collect();
        let (max_s, max_w) = widths
            .iter()
            .copied()
            .fold((0.0f64, 0.0f64), |(s, w), (a, b)| (s.max(a), w.max(b)));
        for (s, w) in widths {
            assert!((w - s / max_s * max_w).abs() < 0.01, "{s} drawn {w}");
        }
    }
    let scores = &report["scores"];
    for (id, key, threshold) in [
        ("scores-outlier", "outlier", "outlier_threshold"),
        ("scores-label-issue", "label_issue", "label_issue_threshold"),
    ] {
        let fig = doc
            .descendants()
            .find(|n| n.attribute("id") == Some(id))
            .unwrap();
        let drawn: Vec<u64> = fig
            .descendants()
            .filter(|n| n.has_tag_name("rect") && class_is(n, "bin"))
            .map(|n| n.attribute("data-rows").unwrap().parse().unwrap())
            .collect();
        let want: Vec<u64> = scores[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect();
        assert_eq!(drawn, want, "{key}");
        let line: f64 = fig
            .descendants()
            .find(|n| class_is(n, "threshold"))
            .unwrap()
            .attribute("data-threshold")
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(line, scores[threshold].as_f64().unwrap());
    }
    assert_eq!(scores["outlier_threshold"], 0.995);
    assert_eq!(scores["label_issue_threshold"], 0.9);
    // The drift table has one row per compared column, and every slice finding is in the slice
    // table.
    let table_rows = |section: &str| {
        doc.descendants()
            .find(|n| n.attribute("id") == Some(section))
            .unwrap()
            .descendants()
            .filter(|n| n.has_tag_name("tr"))
            .count()
    };
    // Header rows: one in the drift table, one in the slice table.
    let drift_rows = doc
        .descendants()
        .find(|n| n.attribute("id") == Some("drift"))
        .unwrap()
        .children()
        .filter(|n| n.has_tag_name("table"))
        .flat_map(|t| t.descendants().filter(|n| n.has_tag_name("tr")))
        .count();
    assert_eq!(drift_rows, report["drift"].as_array().unwrap().len() + 1);
    let sliced = findings
        .iter()
        .filter(|f| !f["slice"].as_array().unwrap().is_empty())
        .count();
    assert_eq!(table_rows("slices"), sliced + 1);
}

/// A detector for tests only: one finding of a fixed severity.
struct Fixed(Severity);

impl Detector for Fixed {
    fn code(&self) -> &'static str {
        "TST001"
    }
    fn check(&self) -> &'static str {
        "test-finding"
    }
    fn doc(&self) -> &'static str {
        "Emits one finding of a fixed severity (tests only)."
    }
    fn detect(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let mut f = Finding::new(
            "TST001",
            "test-finding",
            self.0,
            0.5,
            "a test finding".into(),
        );
        f.rows = ctx.current.rows;
        f.columns = vec!["x".into()];
        vec![f]
    }
}

static HIGH: Fixed = Fixed(Severity::High);
static MEDIUM: Fixed = Fixed(Severity::Medium);

fn gate_as(detector: &'static Fixed, fail_on: &str, format: &str) -> (i32, Vec<u8>) {
    gate_with(detector, &["--format", format, "--fail-on", fail_on])
}

/// The test-only check on a tiny file through the library, as the command line would run it
/// with `extra` arguments (`--format`, `--fail-on`, `--config`).
fn gate_with(detector: &'static Fixed, extra: &[&str]) -> (i32, Vec<u8>) {
    use poisonscan::gate::{FailOn, gate};
    use poisonscan::{Baseline, Data, Engine, Settings};
    let (mut format, mut fail_on, mut config) = ("text", None, None);
    for pair in extra.chunks(2) {
        match pair {
            ["--format", f] => format = *f,
            ["--fail-on", f] => fail_on = FailOn::parse(f),
            ["--config", c] => config = Some(PathBuf::from(c)),
            other => panic!("gate_with does not take {other:?}"),
        }
    }
    let mut checks = poisonscan::detect::registry();
    checks.push(detector);
    // The file has two rows: INT003 (too few to compare) is not what these tests are about.
    let mut b = Settings::builder().threads(2).disable_check("INT003");
    if let Some(c) = config {
        let dyn_checks: Vec<&dyn Detector> = checks.clone();
        b = b.config(poisonscan::config::Config::load(&c, &dyn_checks).unwrap());
    }
    if let Some(f) = fail_on {
        b = b.fail_on(f);
    }
    let settings = b.build().unwrap();
    let cwd = root();
    std::env::set_current_dir(&cwd).unwrap();
    let report = Engine::new(&settings)
        .with_checks(&[detector])
        .scan(
            Data::Paths(&[PathBuf::from("datasets/bad/conflict/a.csv")]),
            Baseline::None,
            None,
        )
        .unwrap();
    let code = gate(&report, &settings.policy()).exit_code();
    let out = match format {
        "json" => report.to_json(),
        "markdown" => report.to_markdown(),
        "junit" => {
            let dyn_checks: Vec<&dyn Detector> = checks.clone();
            let names = poisonscan::detect::check_names(&dyn_checks);
            report.to_junit(&names, settings.disabled_checks(), settings.fail_on())
        }
        _ => report.to_text(),
    };
    (code, out.into_bytes())
}

fn gate(detector: &'static Fixed, fail_on: &str) -> (i32, serde_json::Value) {
    let (code, out) = gate_as(detector, fail_on, "json");
    (code, common::report(&out))
}

/// JUnit: the test-only check is a failed test case at or above the gate's level, and a passed
/// one with its finding in the output below it; Markdown states the verdict.
#[test]
fn junit_and_markdown_follow_the_gate() {
    let (code, out) = gate_as(&MEDIUM, "medium", "junit");
    assert_eq!(code, 1);
    let xml = String::from_utf8(out).unwrap();
    let case = xml.split(r#"name="TST001 test-finding">"#).nth(1).unwrap();
    assert!(
        case.trim_start()
            .starts_with(r#"<failure type="medium" message="a test finding">"#),
        "{xml}"
    );
    assert!(xml.contains(r#"failures="1""#), "{xml}");
    let (code, out) = gate_as(&MEDIUM, "high", "junit");
    assert_eq!(code, 0);
    let xml = String::from_utf8(out).unwrap();
    assert!(!xml.contains("<failure"), "{xml}");
    assert!(
        xml.contains("<system-out>[medium] TST001 a test finding</system-out>"),
        "{xml}"
    );
    assert!(xml.contains(r#"failures="0""#), "{xml}");
    let (_, out) = gate_as(&HIGH, "high", "markdown");
    let md = String::from_utf8(out).unwrap();
    assert!(
        md.starts_with("## poisonscan: ❌ **gate failed** (fail on: high)"),
        "{md}"
    );
    assert!(
        md.contains("| high | TST001 | a test finding | 2 | – |"),
        "{md}"
    );
    let (_, out) = gate_as(&MEDIUM, "high", "markdown");
    assert!(
        String::from_utf8(out)
            .unwrap()
            .starts_with("## poisonscan: ✅ **gate passed**")
    );
}

#[test]
fn gate_maps_findings_to_exit_codes() {
    let (code, r) = gate(&HIGH, "high");
    assert_eq!(code, 1);
    assert_eq!(r["verdict"], "fail");
    assert_eq!(r["counts"]["high"], 1);
    assert_eq!(r["findings"][0]["code"], "TST001");
    assert_eq!(r["findings"][0]["rows"], 2);
    assert_eq!(gate(&HIGH, "never").0, 0);
    assert_eq!(gate(&MEDIUM, "high").0, 0);
    let (code, r) = gate(&MEDIUM, "medium");
    assert_eq!(code, 1);
    assert_eq!(r["counts"]["medium"], 1);
    assert_eq!(gate(&MEDIUM, "low").0, 1);
}

/// A config file in a temporary folder.
fn config_file(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("poisonscan.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// An allowlisted finding is reported, marked accepted, and does not fail the gate until its
/// entry expires; an expired entry fails the gate whether or not it matches anything, with a
/// message in every format.
#[test]
fn allowlist_accepts_findings_until_the_entry_expires() {
    let dir = tempfile::tempdir().unwrap();
    let entry = |column: &str, expires: &str| {
        format!(
            "[[allow]]\ncode = \"TST001\"\ncolumn = \"{column}\"\nreason = \"reviewed: known test finding\"\nexpires = {expires}\n"
        )
    };
    let active = config_file(dir.path(), &entry("x", "2999-12-31"));
    let (code, out) = gate_with(
        &HIGH,
        &["--format", "json", "--config", active.to_str().unwrap()],
    );
    let r = common::report(&out);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["verdict"], "pass");
    assert_eq!(
        r["counts"]["high"], 1,
        "an accepted finding is still reported"
    );
    assert_eq!(r["findings"][0]["accepted"]["entry"], 1);
    assert_eq!(r["findings"][0]["accepted"]["expires"], "2999-12-31");
    assert_eq!(r["allowlist"][0]["status"], "active");
    assert_eq!(r["allowlist"][0]["matched"], 1);
    let (_, out) = gate_with(&HIGH, &["--config", active.to_str().unwrap()]);
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("accepted by allowlist entry 1 until 2999-12-31"),
        "{text}"
    );
    let (_, out) = gate_with(
        &HIGH,
        &["--format", "junit", "--config", active.to_str().unwrap()],
    );
    let xml = String::from_utf8(out).unwrap();
    assert!(!xml.contains("<failure"), "{xml}");

    // Expired: the finding fails again, and so does the entry itself.
    let dir2 = tempfile::tempdir().unwrap();
    let expired = config_file(dir2.path(), &entry("x", "2001-01-31"));
    let (code, out) = gate_with(
        &HIGH,
        &["--format", "json", "--config", expired.to_str().unwrap()],
    );
    let r = common::report(&out);
    assert_eq!(code, 1);
    assert!(r["findings"][0].get("accepted").is_none());
    assert_eq!(r["allowlist"][0]["status"], "expired");
    // An expired entry that matches nothing still fails a gate the findings pass.
    let dir3 = tempfile::tempdir().unwrap();
    let stale = config_file(dir3.path(), &entry("y", "2001-01-31"));
    let (code, out) = gate_with(&MEDIUM, &["--config", stale.to_str().unwrap()]);
    let text = String::from_utf8(out).unwrap();
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("GATE: allowlist entry #1 TST001 on `y` has expired: it accepted findings until 2001-01-31"),
        "{text}"
    );
    let (_, out) = gate_with(
        &MEDIUM,
        &["--format", "junit", "--config", stale.to_str().unwrap()],
    );
    let xml = String::from_utf8(out).unwrap();
    assert!(
        xml.contains(r#"name="allowlist">"#) && xml.contains(r#"<failure type="expired""#),
        "{xml}"
    );
    let (_, out) = gate_with(
        &MEDIUM,
        &["--format", "markdown", "--config", stale.to_str().unwrap()],
    );
    let md = String::from_utf8(out).unwrap();
    assert!(
        md.contains("❌ **gate failed**") && md.contains("> **Gate:** allowlist entry #1"),
        "{md}"
    );
}

/// Without `--config`, ./poisonscan.toml is used when the current folder has one (said on
/// stderr); `--no-config` ignores it.
#[test]
fn config_file_in_the_current_folder_is_found() {
    let dir = tempfile::tempdir().unwrap();
    config_file(dir.path(), "label = \"label\"\nfail-on = \"never\"\n");
    let run = |extra: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_poisonscan"));
        c.arg("scan")
            .arg(root().join("datasets/demo/current"))
            .arg("--baseline")
            .arg(root().join("datasets/demo/baseline"))
            .args(extra)
            .current_dir(dir.path());
        c.output().unwrap()
    };
    // The demo has high findings: it fails the default gate, and passes `fail-on = "never"`.
    let found = run(&[]);
    assert_eq!(found.status.code(), Some(0), "{}", stderr(&found));
    assert!(
        stderr(&found).contains("using the settings in ./poisonscan.toml"),
        "{}",
        stderr(&found)
    );
    assert!(String::from_utf8_lossy(&found.stdout).contains("label `label`"));
    let ignored = run(&["--no-config"]);
    assert_eq!(ignored.status.code(), Some(1), "{}", stderr(&ignored));
    assert!(!stderr(&ignored).contains("poisonscan.toml"));
    let shown = run(&["--show-settings"]);
    let text = String::from_utf8(shown.stdout).unwrap();
    assert!(
        text.contains("resolved from poisonscan.toml and the command line"),
        "{text}"
    );
    assert!(text.contains("fail-on = \"never\""), "{text}");
    // Both at once is a usage error.
    let both = run(&["--config", "poisonscan.toml", "--no-config"]);
    assert_eq!(both.status.code(), Some(2));
}

/// The config file sets the label, id, fail-on, roles, checks and thresholds; a flag on the
/// command line wins over it; `--show-settings` prints the result without reading data.
#[test]
fn config_file_sets_the_scan_and_flags_win() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_file(
        dir.path(),
        r#"
label = "label"
id = "customer_id"
fail-on = "never"

[roles]
age = "categorical"

[checks.TRG001]
enabled = false

[checks.DRF001]
low = 50
medium = 60
high = 100
"#,
    );
    let cfg = cfg.to_str().unwrap();
    let o = bin(&[
        "scan",
        "datasets/demo/current",
        "--baseline",
        "datasets/demo/baseline",
        "--config",
        cfg,
        "--format",
        "json",
        "-q",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "fail-on never from the file: {}",
        stderr(&o)
    );
    let r = common::report(&o.stdout);
    assert_eq!(r["dataset"]["label"], "label");
    assert_eq!(r["fail_on"], "never");
    let codes: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(!codes.contains(&"TRG001"), "TRG001 is off: {codes:?}");
    assert!(
        codes.contains(&"TRG002") && codes.contains(&"INT002"),
        "{codes:?}"
    );
    // `income` drifts with PSI 2.18 (high by default): under a low tier of 50 it is info.
    let income = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "DRF001" && f["columns"][0] == "income")
        .unwrap();
    assert_eq!(income["severity"], "info");
    let age = r["profile"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "age")
        .unwrap();
    assert_eq!(age["role"], "categorical");
    let id = r["profile"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "customer_id")
        .unwrap();
    assert_eq!(id["role"], "id");
    // The flag wins over the file.
    let o = bin(&[
        "scan",
        "datasets/demo/current",
        "--baseline",
        "datasets/demo/baseline",
        "--config",
        cfg,
        "--fail-on",
        "high",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // The settings as resolved, with every default, without DATA.
    let o = bin(&[
        "scan",
        "--config",
        cfg,
        "--fail-on",
        "medium",
        "--show-settings",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let shown = String::from_utf8(o.stdout).unwrap();
    for line in [
        "label = \"label\"",
        "fail-on = \"medium\"",
        "age = \"categorical\"",
        "[checks.TRG001]  # trigger-rule\nenabled = false",
        "min-support = 10",
        "[checks.DRF001]  # numeric-drift\nenabled = true\nlow = 50",
    ] {
        assert!(shown.contains(line), "`{line}` in:\n{shown}");
    }
}

/// A config file that cannot be applied is exit code 2 with the file and the key named.
#[test]
fn bad_config_files_name_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[&str]); 7] = [
        ("labl = \"label\"", &["poisonscan.toml", "labl"]),
        (
            "[checks.ZZZ001]\nenabled = false",
            &["[checks.ZZZ001]", "no such check"],
        ),
        (
            "[checks.TRG001]\nmin-confidence = 0.5",
            &["min-confidence = 0.5", "from 0.8 to 1"],
        ),
        (
            "[checks.TRG001]\nenabled = \"no\"",
            &["enabled", "true or false"],
        ),
        (
            "[roles]\nregion = \"numeric\"",
            &["[roles] region", "string values"],
        ),
        (
            "[roles]\nnope = \"numeric\"",
            &["[roles] nope", "no column `nope`"],
        ),
        (
            "[[allow]]\ncode = \"DRF001\"\ncolumn = \"income\"\nexpires = 2030-01-01",
            &["[[allow]] entry 1", "reason"],
        ),
    ];
    for (text, fragments) in cases {
        let cfg = config_file(dir.path(), text);
        let mut expected = fragments.to_vec();
        let shown = cfg.display().to_string();
        expected.push(&shown);
        assert_fails(
            &[
                "scan",
                "datasets/demo/current",
                "--baseline",
                "datasets/demo/baseline",
                "--label",
                "label",
                "--config",
                cfg.to_str().unwrap(),
            ],
            &expected,
        );
    }
    assert_fails(
        &[
            "scan",
            "datasets/demo/current",
            "--config",
            "no/such/poisonscan.toml",
        ],
        &["no/such/poisonscan.toml"],
    );
}

/// `trend` over dated profiles: each profile's rows and label shares, and each column's drift
/// against the first equal to what `scan` reports for the same pair.
#[test]
fn trend_of_dated_profiles_matches_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = |name: &str| d.join(name).to_str().unwrap().to_string();
    let (a, b, c) = (
        p("2026-11-20.psprof"),
        p("2026-11-21.psprof"),
        p("2026-11-22.psprof"),
    );
    for (out, data) in [
        (&a, vec!["datasets/demo/baseline"]),
        (&b, vec!["datasets/demo/baseline/part-0.parquet"]),
        (&c, vec!["datasets/demo/current"]),
    ] {
        let mut args = vec!["profile"];
        args.extend(data);
        args.extend(["--label", "label", "--id", "customer_id", "-q", "-o", out]);
        let o = bin(&args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let o = bin(&["trend", &a, &b, &c, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let t: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(t["reference"], "2026-11-20");
    let names: Vec<&str> = t["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["2026-11-20", "2026-11-21", "2026-11-22"]);
    assert_eq!(t["profiles"][0]["rows"], 60000);
    assert_eq!(t["profiles"][2]["rows"], 81500);
    let r = json_scan(&[]);
    let shares = &t["profiles"][2]["labels"];
    let total: f64 = r["profile"]["label_counts"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_f64().unwrap())
        .sum();
    let ones = r["profile"]["label_counts"]["1"].as_f64().unwrap() / total;
    assert!((shares["1"].as_f64().unwrap() - ones).abs() < 1e-5);
    let columns = t["columns"].as_array().unwrap();
    assert!(
        columns
            .iter()
            .all(|c| c["name"] != "label" && c["name"] != "customer_id")
    );
    // Columns with values past the baseline's range: the scan's current profile counts those
    // exactly as their own bin (a saved profile cannot know the range), so their PSI differs.
    let past_range: Vec<&serde_json::Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "SCH004")
        .map(|f| &f["columns"][0])
        .collect();
    for row in r["drift"].as_array().unwrap() {
        let col = columns.iter().find(|c| c["name"] == row["column"]).unwrap();
        if past_range.contains(&&row["column"]) {
            assert!(col["points"][2]["drift"]["value"].as_f64().unwrap() > 0.0);
            continue;
        }
        assert!(
            col["points"][0]["drift"].is_null(),
            "the reference has no drift"
        );
        let (x, y) = (
            col["points"][2]["drift"]["value"].as_f64().unwrap(),
            row["effect"]["value"].as_f64().unwrap(),
        );
        assert_eq!(col["points"][2]["drift"]["name"], row["effect"]["name"]);
        assert!(
            (x - y).abs() <= 1e-4 * y.abs().max(1e-3),
            "{}: {x} {y}",
            row["column"]
        );
    }
    let income = columns.iter().find(|c| c["name"] == "income").unwrap();
    assert_eq!(income["points"][2]["drifted"], true);
    // Mean and median are the profile's, as the scan reports them for the current data.
    let scanned = r["profile"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "income")
        .unwrap();
    assert_eq!(income["points"][2]["mean"], scanned["mean"]);
    assert_eq!(income["points"][2]["distinct"], scanned["distinct"]);
    assert_eq!(income["points"][1]["drifted"], false);
    let o = bin(&[
        "trend",
        &a,
        &b,
        &c,
        "--columns",
        "income",
        "--format",
        "markdown",
    ]);
    let md = String::from_utf8(o.stdout).unwrap();
    assert!(
        md.contains("### <code>income</code> (numeric)") && md.contains("| 2026-11-22 |"),
        "{md}"
    );
    assert_fails(
        &["trend", &a, "--columns", "nope"],
        &["no profile has a column `nope`"],
    );
    assert_fails(&["trend", &a, "missing.psprof"], &["missing.psprof"]);
}

/// The documented nightly scan (docs/nightly.sh) on the demo: the first night becomes the
/// anchor, the second (the poisoned data) fails the gate, keeps its profile and reports, is not
/// accepted into the history, and the trend covers both nights against the anchor.
#[test]
fn nightly_example_keeps_a_history_and_a_trend() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history");
    let cfg = config_file(dir.path(), "label = \"label\"\nid = \"customer_id\"\n");
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_poisonscan"));
    let path = format!(
        "{}:{}",
        exe.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let night = |day: &str, data: &str| {
        Command::new("bash")
            .arg(root().join("docs/nightly.sh"))
            .args([data, history.to_str().unwrap(), cfg.to_str().unwrap()])
            .env("PATH", &path)
            .env("POISONSCAN_DAY", day)
            .current_dir(root())
            .output()
            .expect("run bash")
    };
    let o = night("2026-11-20", "datasets/demo/baseline");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let anchor = std::fs::read(history.join("anchor.psprof")).unwrap();
    assert_eq!(
        anchor,
        std::fs::read(history.join("nights/2026-11-20.psprof")).unwrap()
    );
    let o = night("2026-11-21", "datasets/demo/current");
    assert_eq!(
        o.status.code(),
        Some(1),
        "the poisoned night fails: {}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read(history.join("anchor.psprof")).unwrap(),
        anchor
    );
    assert!(history.join("nights/2026-11-21.psprof").is_file());
    assert!(!history.join("accepted/2026-11-21.psprof").exists());
    for f in [
        "report.json",
        "report.md",
        "report.html",
        "junit.xml",
        "trend.md",
        "summary.txt",
    ] {
        assert!(history.join("reports/2026-11-21").join(f).is_file(), "{f}");
    }
    let report =
        common::report(&std::fs::read(history.join("reports/2026-11-21/report.json")).unwrap());
    assert_eq!(report["verdict"], "fail");
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.contains("verdict: FAIL") && out.contains("trend of 2 profiles"),
        "{out}"
    );
    let trend = std::fs::read_to_string(history.join("reports/2026-11-21/trend.md")).unwrap();
    assert!(
        trend.contains("| 2026-11-20 |")
            && trend.contains("| 2026-11-21 |")
            && trend.contains("### Creeping changes (DRF005)"),
        "{trend}"
    );
}

#[test]
fn explain_unknown_code_is_a_usage_error() {
    assert_fails(&["explain", "XYZ999"], &["unknown check code `XYZ999`"]);
}

#[test]
fn help_lists_every_command() {
    let o = bin(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let h = String::from_utf8(o.stdout).unwrap();
    for c in [
        "scan",
        "profile",
        "merge",
        "explain",
        "Exit codes: 0 the gate passed, 1 the gate failed, 2",
    ] {
        assert!(h.contains(c), "--help lacks `{c}`");
    }
    let o = bin(&["scan", "--help"]);
    let h = String::from_utf8(o.stdout).unwrap();
    for c in [
        "--baseline",
        "--label",
        "--fail-on",
        "--threads",
        "--seed",
        "--delimiter",
        "--null-values",
    ] {
        assert!(h.contains(c), "scan --help lacks `{c}`");
    }
}

fn profile_of(paths: &[PathBuf], label: Option<&str>, opts: &IngestOptions) -> Profile {
    let ds = Dataset::open(paths, opts).unwrap();
    let settings = ProfileSettings {
        label: label.map(str::to_string),
        sample_size: 300,
        ..ProfileSettings::default()
    };
    profile::profile_dataset(&ds, &settings, &|_| {}).unwrap()
}

#[test]
fn adult_sample_matches_pandas() {
    let reference: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root().join("tests/fixtures/adult_sample_reference.json")).unwrap(),
    )
    .unwrap();
    let p = profile_of(
        &[root().join("datasets/real/adult_sample.csv")],
        Some("label"),
        &IngestOptions::default(),
    );
    assert_eq!(p.rows, reference["rows"].as_u64().unwrap());
    for (name, r) in reference["columns"].as_object().unwrap() {
        let c = p.column(name).unwrap_or_else(|| panic!("column {name}"));
        assert_eq!(c.nulls, r["nulls"].as_u64().unwrap(), "{name} nulls");
        let truth = r["distinct"].as_u64().unwrap();
        if c.exact.is_some() {
            assert_eq!(c.distinct(), truth, "{name} distinct (exact table)");
        } else {
            // Past the exact table: HLL lg k 12, 1.6% standard error; allow three.
            let err = (c.distinct() as f64 - truth as f64).abs() / truth as f64;
            assert!(
                truth > 1000 && err <= 0.048,
                "{name} distinct {} vs {truth}",
                c.distinct()
            );
        }
        if let Some(mean) = r.get("mean") {
            let n = c.numeric.as_ref().unwrap();
            assert_eq!(n.min, Some(r["min"].as_f64().unwrap()), "{name} min");
            assert_eq!(n.max, Some(r["max"].as_f64().unwrap()), "{name} max");
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);
            assert!(
                close(n.mean().unwrap(), mean.as_f64().unwrap()),
                "{name} mean"
            );
            assert!(
                close(n.std().unwrap(), r["std"].as_f64().unwrap()),
                "{name} std"
            );
        }
    }
    let labels: Vec<(String, u64)> = p
        .label_counts
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    assert_eq!(labels, vec![("0".into(), 1501), ("1".into(), 499)]);
    let d = p.duplicates();
    assert_eq!(
        d.duplicate_rows,
        reference["duplicate_rows"].as_u64().unwrap()
    );
    assert_eq!(
        d.conflicting_groups,
        reference["conflicting_groups"].as_u64().unwrap()
    );
}

/// The exact parts of two profiles agree; sketches agree within their bounds.
fn assert_same_profile(a: &Profile, b: &Profile) {
    assert_eq!(a.rows, b.rows);
    assert_eq!(a.label_counts, b.label_counts);
    assert_eq!(a.fingerprints, b.fingerprints);
    assert!(
        a.sample == b.sample,
        "samples differ ({} and {} rows)",
        a.sample.len(),
        b.sample.len()
    );
    assert_eq!(a.manifest, b.manifest);
    assert_eq!(a.segments, b.segments);
    // Per-source summaries: the exact parts (grids and float moments follow the shard plan).
    assert_eq!(a.sources.len(), b.sources.len());
    for (s, t) in a.sources.iter().zip(&b.sources) {
        assert_eq!((s.rows, &s.label_counts), (t.rows, &t.label_counts));
        for (x, y) in s.columns.iter().zip(&t.columns) {
            assert_eq!(
                (x.nulls, x.finite, &x.values, x.below, x.above),
                (y.nulls, y.finite, &y.values, y.below, y.above)
            );
        }
    }
    for (x, y) in a.columns.iter().zip(&b.columns) {
        assert_eq!(x.name, y.name);
        assert_eq!((x.rows, x.nulls), (y.rows, y.nulls), "{}", x.name);
        assert_eq!(x.exact, y.exact, "{}", x.name);
        assert_eq!(x.null_labels, y.null_labels, "{}", x.name);
        assert_eq!(x.lengths, y.lengths, "{}", x.name);
        let (dx, dy) = (x.distinct() as f64, y.distinct() as f64);
        assert!(
            (dx - dy).abs() <= 0.05 * dx.max(1.0),
            "{} distinct {dx} vs {dy}",
            x.name
        );
        if let (Some(n), Some(m)) = (&x.numeric, &y.numeric) {
            assert_eq!(
                (n.count, n.nan, n.pos_inf, n.neg_inf, n.zeros),
                (m.count, m.nan, m.pos_inf, m.neg_inf, m.zeros)
            );
            assert_eq!((n.min, n.max), (m.min, m.max), "{}", x.name);
            assert_eq!(
                (n.int_sum, n.int_sumsq),
                (m.int_sum, m.int_sumsq),
                "{}",
                x.name
            );
            if n.int_sum.is_some() {
                assert_eq!(n.mean(), m.mean());
                assert_eq!(n.variance(), m.variance());
            } else if let (Some(u), Some(v)) = (n.mean(), m.mean()) {
                assert!(
                    (u - v).abs() <= 1e-9 * u.abs().max(1.0),
                    "{} mean {u} vs {v}",
                    x.name
                );
            }
            // Each sketch is within its bound of the true ranks, so the q-quantile of one lies
            // within the sum of the bounds in the other (a tied value spans [rank_lt, rank]).
            for q in [0.1, 0.5, 0.9] {
                let Some(qa) = n.quantiles.quantile(q) else {
                    continue;
                };
                let tol = n.rank_error() + m.rank_error() + 1e-9;
                let (lo, hi) = (
                    m.quantiles.rank_lt(qa).unwrap(),
                    m.quantiles.rank(qa).unwrap(),
                );
                assert!(
                    lo - tol <= q && q <= hi + tol,
                    "{} q{q}: [{lo}, {hi}] ± {tol}",
                    x.name
                );
            }
        }
    }
}

#[test]
fn merged_profiles_equal_the_profile_of_the_union() {
    let parts: Vec<PathBuf> = (0..3)
        .map(|i| root().join(format!("datasets/demo/baseline/part-{i}.parquet")))
        .collect();
    let whole = profile_of(&parts, Some("label"), &IngestOptions::default());
    for split in 1..3 {
        let mut a = profile_of(&parts[..split], Some("label"), &IngestOptions::default());
        let b = profile_of(&parts[split..], Some("label"), &IngestOptions::default());
        a.merge(&b).unwrap();
        assert_same_profile(&whole, &a);
    }
    // Merging a profile with itself would count rows twice: refused.
    let mut a = profile_of(&parts[..1], Some("label"), &IngestOptions::default());
    let again = a.clone();
    assert!(a.merge(&again).is_err());
}

#[test]
fn csv_blocks_split_at_record_boundaries_read_like_one_block() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quoted.csv");
    // Quoted fields with delimiters, doubled quotes and newlines inside, so a naive split breaks.
    let mut s = String::from("id,note,x,label\n");
    for i in 0..3000 {
        s.push_str(&format!(
            "{i},\"a, \"\"b\"\"\nline {}\",{},{}\n",
            i % 7,
            i as f64 * 0.5,
            i % 2
        ));
    }
    std::fs::write(&path, s).unwrap();
    let split = split_like_whole(&path);
    assert_eq!(split.rows, 3000);
    assert_eq!(split.column("note").unwrap().distinct(), 7);
}

/// The profile of a CSV file cut into blocks of 4 KiB (more than 10 of them), checked to be
/// the profile of the file read as one block.
fn split_like_whole(path: &Path) -> Profile {
    let mut small = IngestOptions::default();
    small.csv.block_bytes = 4096;
    let ds = Dataset::open(&[path.to_path_buf()], &small).unwrap();
    assert!(ds.shards.len() > 10, "{} shards", ds.shards.len());
    let split = profile_of(&[path.to_path_buf()], Some("label"), &small);
    let whole = profile_of(
        &[path.to_path_buf()],
        Some("label"),
        &IngestOptions::default(),
    );
    assert_same_profile(&whole, &split);
    split
}

/// A quote inside an unquoted field is an ordinary character to the parser (a height of
/// `5'10"`): the cuts between blocks follow the parser, not the parity of the quotes. Counting
/// parity, each row's three quotes turned every other row inside out, and the newline inside
/// the next row's quoted note was taken for a record's end.
#[test]
fn csv_blocks_are_cut_where_the_parser_ends_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("heights.csv");
    let mut s = String::from("id,height,note,label\n");
    for i in 0..3000 {
        s.push_str(&format!(
            "{i},5'{}\",\"a\nb {}\",{}\n",
            i % 12,
            i % 5,
            i % 2
        ));
    }
    std::fs::write(&path, s).unwrap();
    let split = split_like_whole(&path);
    assert_eq!(split.rows, 3000);
    assert_eq!(split.column("height").unwrap().distinct(), 12);
    assert_eq!(split.column("note").unwrap().distinct(), 5);
}

/// A quoted field that is never closed would make the rest of the file one value, silently
/// (the parser ends the field at the end of the file, and the row still has its fields when
/// the quote is in the last column). It is an error naming the file and the quote's line,
/// whether the file is read whole, cut into blocks or streamed from gzip.
#[test]
fn a_quoted_field_never_closed_is_an_error() {
    use std::io::Write;
    let t = tempfile::tempdir().unwrap();
    let mut text = String::from("x,label,note\n1,0,a\n2,1,\"b\n");
    for i in 0..400 {
        text.push_str(&format!("{i},{},c\n", i % 2));
    }
    let plain = t.path().join("open.csv");
    std::fs::write(&plain, &text).unwrap();
    let gz = t.path().join("open.csv.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(text.as_bytes()).unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    for f in [&plain, &gz] {
        let f = f.to_str().unwrap();
        assert_fails(
            &[
                "profile",
                f,
                "-o",
                t.path().join("p.psprof").to_str().unwrap(),
            ],
            &[
                &format!("`{f}`"),
                "a quoted field opened on line 3 is never closed",
                "--quote",
            ],
        );
        assert!(!t.path().join("p.psprof").exists(), "no profile is written");
    }
    let mut small = IngestOptions::default();
    small.csv.block_bytes = 256;
    let Err(err) = Dataset::open(std::slice::from_ref(&plain), &small) else {
        panic!("an open quote is an error");
    };
    let err = err.to_string();
    assert!(err.contains("opened on line 3"), "{err}");
    // Closed, the same file reads all its rows.
    std::fs::write(&plain, text.replacen("\"b\n", "\"b\"\n", 1)).unwrap();
    let p = profile_of(&[plain], Some("label"), &IngestOptions::default());
    assert_eq!(p.rows, 402);
}

#[test]
fn csv_dialects_gzip_globs_and_hive_partitions() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("day=1")).unwrap();
    std::fs::create_dir_all(d.join("day=2")).unwrap();
    std::fs::write(d.join("day=1/a.csv"), "x;y;label\n1;NA;0\n2;b;1\n").unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"x;y;label\n3.5;c;0\n?;d;1\n").unwrap();
    std::fs::write(d.join("day=2/b.csv.gz"), gz.finish().unwrap()).unwrap();
    let glob = format!("{}/day=*/*", d.display());
    let p = profile_of(
        &[PathBuf::from(glob)],
        Some("label"),
        &IngestOptions::default(),
    );
    assert_eq!(p.rows, 4);
    assert_eq!(p.partition_columns, vec!["day".to_string()]);
    let x = p.column("x").unwrap();
    assert_eq!(
        x.column_type,
        poisonscan::ingest::ColumnType::Float,
        "int widened to float"
    );
    assert_eq!(x.nulls, 1, "`?` in a numeric column is null");
    assert_eq!(x.numeric.as_ref().unwrap().max, Some(3.5));
    // `NA` in a text column is a value (it may be Namibia); only the file's numeric columns
    // make it a null marker.
    assert_eq!(p.column("y").unwrap().nulls, 0);
    assert!(
        p.column("y")
            .unwrap()
            .value_counts()
            .unwrap()
            .contains_key("NA")
    );
    assert_eq!(
        p.column("day")
            .unwrap()
            .value_counts()
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        vec![("1", 2), ("2", 2)]
    );
}

/// Write the rows of `datasets/real/adult_sample.csv` to a Parquet file through arrow.
fn adult_sample_as_parquet(pq: &Path, props: Option<parquet::file::properties::WriterProperties>) {
    let ds = Dataset::open(
        &[root().join("datasets/real/adult_sample.csv")],
        &IngestOptions::default(),
    )
    .unwrap();
    let file = std::fs::File::create(pq).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, ds.schema.clone(), props).unwrap();
    for s in &ds.shards {
        for b in ds.read_shard(s).unwrap() {
            w.write(&b.unwrap().batch).unwrap();
        }
    }
    w.close().unwrap();
}

#[test]
fn parquet_and_csv_of_the_same_rows_agree() {
    let csv = profile_of(
        &[root().join("datasets/real/adult_sample.csv")],
        Some("label"),
        &IngestOptions::default(),
    );
    // Write the same rows to Parquet through arrow.
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("adult_sample.parquet");
    adult_sample_as_parquet(&pq, None);
    let p = profile_of(&[pq], Some("label"), &IngestOptions::default());
    assert_eq!(p.rows, csv.rows);
    assert_eq!(p.fingerprints, csv.fingerprints);
    for (a, b) in p.columns.iter().zip(&csv.columns) {
        assert_eq!(
            (a.nulls, a.distinct(), &a.exact),
            (b.nulls, b.distinct(), &b.exact),
            "{}",
            a.name
        );
    }
}

/// Splitting row groups into parts (shards that start inside a row group) changes nothing
/// exact: counts, moments, extremes, exact tables, fingerprints, the sample and the manifest.
#[test]
fn split_row_groups_give_the_same_exact_profile() {
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("adult_sample.parquet");
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(700))
        .set_data_page_row_count_limit(64)
        .set_write_batch_size(64)
        .build();
    adult_sample_as_parquet(&pq, Some(props));
    let whole = profile_of(
        std::slice::from_ref(&pq),
        Some("label"),
        &IngestOptions::default(),
    );
    let split_opts = IngestOptions {
        shard_rows: 97,
        ..IngestOptions::default()
    };
    let ds = Dataset::open(std::slice::from_ref(&pq), &split_opts).unwrap();
    assert!(ds.shards.len() >= 21, "{} shards", ds.shards.len());
    let split = profile_of(&[pq], Some("label"), &split_opts);
    assert_eq!(split.rows, 2000);
    assert_eq!(split.rows, whole.rows);
    assert_eq!(split.fingerprints, whole.fingerprints);
    assert_eq!(split.sample, whole.sample);
    // The label pre-pass bounds must never cut the sample short: each class holds
    // min(capacity, rows of the class).
    for (label, rows) in &split.sample.strata {
        let n = whole.label_counts[label] as usize;
        assert_eq!(rows.len(), n.min(split.sample.capacity), "class {label}");
    }
    assert_eq!(split.manifest, whole.manifest);
    assert_eq!(split.label_counts, whole.label_counts);
    for (a, b) in split.columns.iter().zip(&whole.columns) {
        assert_eq!(
            (a.rows, a.nulls, &a.exact, &a.null_labels),
            (b.rows, b.nulls, &b.exact, &b.null_labels),
            "{}",
            a.name
        );
        if let (Some(x), Some(y)) = (&a.numeric, &b.numeric) {
            assert_eq!(
                (x.count, x.min, x.max, x.int_sum, x.int_sumsq, x.zeros),
                (y.count, y.min, y.max, y.int_sum, y.int_sumsq, y.zeros),
                "{}",
                a.name
            );
            let (mx, my) = (x.mean().unwrap(), y.mean().unwrap());
            assert!((mx - my).abs() <= 1e-12 * my.abs().max(1.0), "{}", a.name);
        }
    }
}

mod merge_property {
    use super::*;
    use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use proptest::prelude::*;
    use std::sync::Arc;

    type Row = (Option<i64>, f64, Option<String>, i64);

    fn write(path: &Path, rows: &[Row], row_group: usize) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, true),
            Field::new("f", DataType::Float64, true),
            Field::new("s", DataType::Utf8, true),
            Field::new("label", DataType::Int64, true),
        ]));
        let cols: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            )),
            Arc::new(Float64Array::from(
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.2.clone()).collect::<Vec<_>>(),
            )),
            Arc::new(Int64Array::from(
                rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            )),
        ];
        let props = parquet::file::properties::WriterProperties::builder()
            .set_max_row_group_row_count(Some(row_group.max(1)))
            .build();
        let mut w = parquet::arrow::ArrowWriter::try_new(
            std::fs::File::create(path).unwrap(),
            schema.clone(),
            Some(props),
        )
        .unwrap();
        w.write(&RecordBatch::try_new(schema, cols).unwrap())
            .unwrap();
        w.close().unwrap();
    }

    fn row() -> impl Strategy<Value = Row> {
        (
            proptest::option::weighted(0.9, -50i64..50),
            prop_oneof![8 => -1e3f64..1e3, 1 => Just(f64::NAN), 1 => Just(f64::INFINITY)],
            proptest::option::weighted(0.8, "[a-e]{1,2}"),
            0i64..3,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// profile(A ∪ B) == merge(profile(A), profile(B)) for any split and row-group size.
        #[test]
        fn profile_of_union_is_merge_of_profiles(
            rows in proptest::collection::vec(row(), 2..2500),
            split in 0.0f64..1.0,
            row_group in 1usize..700,
        ) {
            let k = ((rows.len() as f64 * split) as usize).clamp(1, rows.len() - 1);
            let dir = tempfile::tempdir().unwrap();
            let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
            write(&a, &rows[..k], row_group);
            write(&b, &rows[k..], row_group);
            let whole = profile_of(&[a.clone(), b.clone()], Some("label"), &IngestOptions::default());
            let mut merged = profile_of(&[a], Some("label"), &IngestOptions::default());
            merged.merge(&profile_of(&[b], Some("label"), &IngestOptions::default())).unwrap();
            assert_same_profile(&whole, &merged);
            prop_assert_eq!(whole.rows, rows.len() as u64);
        }
    }
}

/// The rows file (`--rows-out`) follows the contract: one row per current row, in file order,
/// with its provenance and id; scores in [0, 1]; `OUT001` in `codes` exactly for the rows above
/// the 0.995 threshold, `LBL002` exactly for label issue scores of at least 0.9; the 1,500 planted duplicates and the rows they copy in duplicate groups;
/// byte for byte the same at any thread count.
#[test]
fn rows_file_follows_the_contract() {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Float64Type, UInt64Type};
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for threads in ["1", "2"] {
        let path = dir.path().join(format!("rows-{threads}.parquet"));
        json_scan(&["--rows-out", path.to_str().unwrap(), "--threads", threads]);
        files.push(std::fs::read(&path).unwrap());
    }
    assert_eq!(
        files[0], files[1],
        "rows file differs with the thread count"
    );
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(dir.path().join("rows-1.parquet")).unwrap(),
    )
    .unwrap()
    .build()
    .unwrap();
    let schema = arrow::array::RecordBatchReader::schema(&reader);
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        names,
        [
            "source",
            "row",
            "id",
            "outlier_score",
            "label_issue_score",
            "duplicate_group",
            "codes",
            "label_confidence",
            "joint_score"
        ]
    );
    let mut per_source: std::collections::BTreeMap<String, u64> = Default::default();
    let (mut rows, mut dup_rows, mut flagged) = (0u64, 0u64, 0u64);
    let mut groups: std::collections::BTreeMap<u64, u64> = Default::default();
    // The report's score histograms, rebuilt from the rows file.
    let bin = |s: f64| ((s * 20.0) as usize).min(19);
    let (mut out_bins, mut li_bins) = (vec![0u64; 20], vec![0u64; 20]);
    for b in reader {
        let b = b.unwrap();
        let source = b.column(0).as_string::<i32>();
        let row = b.column(1).as_primitive::<UInt64Type>();
        let id = b.column(2).as_string::<i32>();
        let score = b.column(3).as_primitive::<Float64Type>();
        let label_issue = b.column(4);
        let dup = b.column(5).as_primitive::<UInt64Type>();
        let codes = b.column(6).as_list::<i32>();
        for i in 0..b.num_rows() {
            let next = per_source.entry(source.value(i).to_string()).or_default();
            assert_eq!(row.value(i), *next, "rows in file order");
            *next += 1;
            assert!(id.value(i).starts_with('C'), "{}", id.value(i));
            let s = score.value(i);
            assert!((0.0..=1.0).contains(&s));
            out_bins[bin(s)] += 1;
            // Every row has a label here, so every row has a label issue score.
            let li = label_issue.as_primitive::<Float64Type>();
            assert!(li.is_valid(i));
            assert!((0.0..=1.0).contains(&li.value(i)));
            li_bins[bin(li.value(i))] += 1;
            let c = codes.value(i);
            let c = c.as_string::<i32>();
            let has_lbl = (0..c.len()).any(|k| c.value(k) == "LBL002");
            assert_eq!(has_lbl, li.value(i) >= 0.9, "row {i}: {}", li.value(i));
            let has_out = (0..c.len()).any(|k| c.value(k) == "OUT001");
            assert_eq!(has_out, s > 0.995, "row {i}: score {s}");
            flagged += u64::from(has_out);
            if dup.is_valid(i) {
                dup_rows += 1;
                *groups.entry(dup.value(i)).or_default() += 1;
            }
        }
        rows += b.num_rows() as u64;
    }
    assert_eq!(rows, 81_500);
    assert_eq!(per_source.len(), 4);
    assert!(per_source.values().all(|&n| n > 0));
    // part-2's 1,500 copies of part-0 rows: 1,500 groups of two.
    assert_eq!(dup_rows, 3_000);
    assert_eq!(groups.len(), 1_500);
    assert!(groups.values().all(|&n| n == 2));
    // The report's whole-data OUT001 finding counts the same flagged rows.
    let r = json_scan(&[]);
    let all = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["code"] == "OUT001"
                && f["slice"].as_array().unwrap().is_empty()
                && f["sources"].as_array().unwrap().is_empty()
        })
        .expect("whole-data OUT001");
    assert_eq!(all["rows"], flagged);
    assert_eq!(r["scores"]["bins"], 20);
    assert_eq!(r["scores"]["outlier"], serde_json::json!(out_bins));
    assert_eq!(r["scores"]["label_issue"], serde_json::json!(li_bins));
}

/// A rows file that cannot be written is an error that names it (exit 2), and no partial file
/// is left behind.
#[test]
fn unwritable_rows_file_is_an_error_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-folder").join("rows.parquet");
    assert_fails(
        &[
            "scan",
            "datasets/demo/current",
            "--baseline",
            "datasets/demo/baseline",
            "--label",
            "label",
            "--rows-out",
            path.to_str().unwrap(),
        ],
        &["rows.parquet"],
    );
    assert!(!path.exists());
    assert!(!dir.path().join("missing-folder").exists());
}

/// A check turned off in poisonscan.toml marks no row in the rows file: with OUT001, LBL002
/// and LBL003 off, no row carries their codes and the scores only they compute are null,
/// while the outlier score (a column of the contract) is still there.
#[test]
fn checks_turned_off_mark_no_rows() {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Float64Type;
    let dir = tempfile::tempdir().unwrap();
    let read = |path: &Path| {
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(path).unwrap(),
        )
        .unwrap()
        .build()
        .unwrap();
        let (mut codes, mut issue_scores, mut confidences, mut outlier_scores) = (
            std::collections::BTreeMap::<String, u64>::new(),
            0u64,
            0u64,
            0u64,
        );
        for b in reader {
            let b = b.unwrap();
            let list = b.column_by_name("codes").unwrap().as_list::<i32>();
            for i in 0..b.num_rows() {
                let v = list.value(i);
                for c in v.as_string::<i32>().iter().flatten() {
                    *codes.entry(c.to_string()).or_default() += 1;
                }
            }
            let valid = |name: &str| {
                let a = b
                    .column_by_name(name)
                    .unwrap()
                    .as_primitive::<Float64Type>();
                (a.len() - a.null_count()) as u64
            };
            issue_scores += valid("label_issue_score");
            confidences += valid("label_confidence");
            outlier_scores += valid("outlier_score");
        }
        (codes, issue_scores, confidences, outlier_scores)
    };
    let on = dir.path().join("on.parquet");
    json_scan(&["--rows-out", on.to_str().unwrap()]);
    let (codes, issues, confidences, outliers) = read(&on);
    for c in ["OUT001", "LBL002", "LBL003"] {
        assert!(codes.get(c).copied().unwrap_or(0) > 0, "{c}: {codes:?}");
    }
    assert!(issues > 0 && confidences > 0 && outliers == 81_500);
    let config = config_file(
        dir.path(),
        "[checks.OUT001]\nenabled = false\n[checks.LBL002]\nenabled = false\n[checks.LBL003]\nenabled = false\n",
    );
    let off = dir.path().join("off.parquet");
    let r = json_scan(&[
        "--rows-out",
        off.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    let (codes, issues, confidences, outliers) = read(&off);
    assert!(codes.is_empty(), "{codes:?}");
    assert_eq!((issues, confidences, outliers), (0, 0, 81_500));
    let found: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(
        !found
            .iter()
            .any(|c| ["OUT001", "LBL002", "LBL003"].contains(c))
    );
}

/// A Parquet file with one column name twice (Parquet allows it), and a file whose column is
/// also a `key=value` folder of its path: errors that name the file and the column, never a
/// column silently dropped or ignored.
#[test]
fn a_column_name_twice_or_also_a_partition_folder_is_an_error() {
    use arrow::array::{ArrayRef, Int64Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &Path, names: &[&str]| {
        let fields: Vec<Field> = names
            .iter()
            .map(|n| Field::new(*n, DataType::Int64, true))
            .collect();
        let columns: Vec<ArrayRef> = names
            .iter()
            .enumerate()
            .map(|(i, _)| Arc::new(Int64Array::from(vec![i as i64, 1, 0])) as ArrayRef)
            .collect();
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        write_parquet(path, &batch);
    };
    let twice = dir.path().join("twice.parquet");
    write(&twice, &["x", "x", "label"]);
    let twice = twice.to_str().unwrap();
    assert_fails(
        &["scan", twice, "--label", "label"],
        &[twice, "the column name `x` appears twice"],
    );
    // Names that differ in case are two columns.
    let cased = dir.path().join("cased.parquet");
    write(&cased, &["x", "X", "label"]);
    let o = bin(&[
        "scan",
        cased.to_str().unwrap(),
        "--label",
        "label",
        "--quiet",
        "--allow-empty",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let hive = dir.path().join("hive");
    write(&hive.join("year=2020/a.parquet"), &["x", "year", "label"]);
    assert_fails(
        &["scan", hive.to_str().unwrap(), "--label", "label"],
        &[
            "year=2020/a.parquet`: column `year` is also the partition folder `year=2020`",
            "hint: rename the column or the folder",
        ],
    );
}

/// `--threads` above the cores the process may use is capped, with a note on stderr (even
/// with `--quiet`), and the report is the one any thread count gives.
#[test]
fn threads_above_the_core_count_are_capped_with_a_note() {
    let cores = std::thread::available_parallelism().unwrap().get();
    let asked = (cores * 64).to_string();
    let args = |threads: &str| {
        bin(&[
            "scan",
            "datasets/demo/current",
            "--label",
            "label",
            "--quiet",
            "--format",
            "json",
            "--threads",
            threads,
        ])
    };
    let o = args(&asked);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        format!(
            "note: --threads {asked} is more than the {cores} cores this process may use: using {cores}\n"
        )
    );
    let capped: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(capped["run"]["threads"], cores);
    let one = args("1");
    assert!(stderr(&one).is_empty(), "{}", stderr(&one));
    let mut one: serde_json::Value = serde_json::from_slice(&one.stdout).unwrap();
    let mut capped = capped;
    for r in [&mut one, &mut capped] {
        r.as_object_mut().unwrap().remove("run");
    }
    assert_eq!(one, capped);
}

/// A whole-number decimal (scale 0, as SQL's `NUMBER(38)` arrives) is read as an integer,
/// exactly: 200 account numbers from 2^60 on, one apart, are about 200 values (the sketch's
/// count), identifier-like, and no duplicate rows (as doubles, spaced 256 apart there, they were
/// two values and 198 duplicates),
/// and as the id they are the rows' keys. A value past 2^63 is refused by name, as an unsigned
/// one is; a decimal with a fraction stays a double.
#[test]
fn whole_number_decimals_are_read_exactly() {
    use arrow::array::{ArrayRef, Decimal128Array, Float64Array};
    let t = tempfile::tempdir().unwrap();
    let write = |name: &str, accounts: Vec<i128>, scale: i8| -> String {
        let n = accounts.len();
        let a: ArrayRef = std::sync::Arc::new(
            Decimal128Array::from(accounts)
                .with_precision_and_scale(38, scale)
                .unwrap(),
        );
        let x: ArrayRef = std::sync::Arc::new(Float64Array::from(vec![1.5; n]));
        let batch = arrow::array::RecordBatch::try_from_iter([("account", a), ("x", x)]).unwrap();
        let path = t.path().join(name);
        write_parquet(&path, &batch);
        path.to_str().unwrap().to_string()
    };
    let base = 1i128 << 60;
    let ids = write("ids.parquet", (0..200).map(|i| base + i).collect(), 0);
    // As the id the column is left out of the rows' fingerprints: the rows, equal in `x`, are
    // then 199 duplicates of the first.
    for (args, role, duplicates) in [
        (vec!["scan", &ids], "identifier-like", 0),
        (vec!["scan", &ids, "--id", "account"], "id", 199),
    ] {
        let o = bin(&[&args[..], &["--format", "json", "--fail-on", "never"]].concat());
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let r = common::report(&o.stdout);
        let col = &r["profile"]["columns"][0];
        assert_eq!(col["name"], "account");
        assert_eq!(col["type"], "int", "{col}");
        // The distinct-count sketch's estimate (no exact table past 2^53): about 200, not 2.
        let distinct = col["distinct"].as_u64().unwrap();
        assert!((194..=206).contains(&distinct), "{col}");
        assert_eq!(col["role"], role, "{col}");
        assert_eq!(
            r["profile"]["duplicates"]["duplicate_rows"], duplicates,
            "{r}"
        );
    }
    let past = write("past.parquet", vec![1, 2, (1i128 << 63) + 5], 0);
    assert_fails(
        &["scan", &past],
        &[
            &format!(
                "`{past}`: column `account` holds a value poisonscan cannot read as a 64-bit integer"
            ),
            "--exclude account",
        ],
    );
    let cents = write("cents.parquet", vec![150, 275, 300], 2);
    let o = bin(&["scan", &cents, "--format", "json", "--fail-on", "never"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = common::report(&o.stdout);
    let col = &r["profile"]["columns"][0];
    assert_eq!(col["type"], "float", "{col}");
    assert_eq!(col["min"].as_f64(), Some(1.5), "{col}");
    assert_eq!(col["max"].as_f64(), Some(3.0), "{col}");
}
