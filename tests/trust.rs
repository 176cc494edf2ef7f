//! A gate that cannot be fooled or broken (issue 21): "no findings" never means "nothing was
//! compared" (empty sides, a baseline that holds the data under test), values from the data
//! cannot spoof the human-readable outputs, and outputs never destroy anything.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use common::{bin, report, root, with_code};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn json(args: &[&str]) -> (Value, Output) {
    let o = bin(args);
    assert!(
        o.status.code().is_some_and(|c| c < 2),
        "{args:?}: {}",
        stderr(&o)
    );
    (report(&o.stdout), o)
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

/// A CSV of `rows` rows: `x` counting up, `c` cycling over three categories, `label` 0/1.
fn csv(rows: usize) -> String {
    let mut s = String::from("x,c,label\n");
    for i in 0..rows {
        s.push_str(&format!("{i},{},{}\n", ["a", "b", "c"][i % 3], i % 2));
    }
    s
}

#[test]
fn an_empty_or_tiny_side_is_stated_and_fails_the_gate_unless_allowed() {
    let d = tempfile::tempdir().unwrap();
    let empty = d.path().join("empty.csv");
    write(&empty, "x,c,label\n");
    let tiny = d.path().join("tiny.csv");
    write(&tiny, &csv(5));
    let full = d.path().join("full.csv");
    write(&full, &csv(200));
    let (e, f, t) = (
        empty.to_str().unwrap(),
        full.to_str().unwrap(),
        tiny.to_str().unwrap(),
    );

    // An empty current side against a good baseline: nothing was compared.
    let args = [
        "scan",
        e,
        "--baseline",
        f,
        "--label",
        "label",
        "--format",
        "json",
    ];
    let (r, o) = json(&args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let int3 = with_code(&r, "INT003");
    assert_eq!(int3.len(), 1, "{r:#}");
    assert_eq!(int3[0]["severity"], "high");
    assert_eq!(
        int3[0]["title"],
        "the current data has no rows: nothing was compared"
    );
    assert_eq!(int3[0]["evidence"]["side"], "current");
    assert_eq!(int3[0]["evidence"]["rows"], 0);
    assert_eq!(int3[0]["evidence"]["min_rows"], 30);

    // The same with --allow-empty: stated as info, the gate passes.
    let mut allowed = args.to_vec();
    allowed.push("--allow-empty");
    let (r, o) = json(&allowed);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let int3 = with_code(&r, "INT003");
    assert_eq!(int3.len(), 1);
    assert_eq!(int3[0]["severity"], "info");
    assert_eq!(int3[0]["evidence"]["allowed"], true);

    // The config file's key does the same.
    let config = d.path().join("poisonscan.toml");
    write(&config, "allow-empty = true\n");
    let mut configured = args.to_vec();
    configured.extend(["--config", config.to_str().unwrap()]);
    let (r, o) = json(&configured);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(with_code(&r, "INT003")[0]["severity"], "info");

    // A baseline of 5 rows: too few (30 needed), named as the baseline.
    let (r, o) = json(&[
        "scan",
        f,
        "--baseline",
        t,
        "--label",
        "label",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let int3 = with_code(&r, "INT003");
    assert_eq!(int3.len(), 1, "{r:#}");
    assert_eq!(
        int3[0]["title"],
        "the baseline has only 5 rows: too few to compare (30 needed)"
    );
    assert_eq!(int3[0]["baseline_rows"], 5);
    assert_eq!(int3[0]["evidence"]["side"], "baseline");

    // The threshold is a check parameter; at 30 rows exactly the sides are enough.
    let thirty = d.path().join("thirty.csv");
    write(&thirty, &csv(30));
    let (r, _) = json(&[
        "scan",
        thirty.to_str().unwrap(),
        "--baseline",
        f,
        "--format",
        "json",
    ]);
    assert!(with_code(&r, "INT003").is_empty(), "{r:#}");

    // Without a baseline an empty current side is stated too.
    let (r, o) = json(&["scan", e, "--format", "json"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(with_code(&r, "INT003").len(), 1);
}

#[test]
fn a_baseline_built_from_the_data_under_test_is_a_finding() {
    // The same folder on both sides: every current row is compared with itself.
    let (r, o) = json(&[
        "scan",
        "datasets/demo/current",
        "--baseline",
        "datasets/demo/current",
        "--label",
        "label",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let f = with_code(&r, "INT004");
    assert_eq!(f.len(), 1, "{r:#}");
    assert_eq!(f[0]["severity"], "high");
    assert_eq!(f[0]["effect"]["value"], 1.0);
    assert_eq!(f[0]["rows"], r["dataset"]["rows"]);
    assert_eq!(f[0]["evidence"]["files_held_whole"], 4);
    assert_eq!(
        f[0]["title"],
        "the baseline holds 100% of the current rows byte for byte (4 of 4 files): they are compared with themselves"
    );

    // The demo's replayed file (its part-3 is the baseline's part-1) and part-0 added to the
    // baseline: the share of the rows of those two files, high from half the rows.
    let (r, _) = json(&[
        "scan",
        "datasets/demo/current",
        "--baseline",
        "datasets/demo/baseline",
        "datasets/demo/current/part-0.parquet",
        "--label",
        "label",
        "--format",
        "json",
    ]);
    let f = with_code(&r, "INT004");
    assert_eq!(f.len(), 1, "{r:#}");
    let rows_of = |r: &Value, part: &str| {
        r["dataset"]["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["path"].as_str().unwrap().ends_with(part))
            .unwrap()["rows"]
            .as_u64()
            .unwrap()
    };
    let held = rows_of(&r, "part-0.parquet") + rows_of(&r, "part-3.parquet");
    assert_eq!(f[0]["rows"], held);
    assert_eq!(f[0]["evidence"]["files_held_whole"], 2);
    let share = held as f64 / r["dataset"]["rows"].as_f64().unwrap();
    assert_eq!(
        f[0]["severity"],
        if share >= 0.5 { "high" } else { "medium" }
    );
    assert!((f[0]["effect"]["value"].as_f64().unwrap() - share).abs() < 1e-6);

    // The demo as shipped: its replayed file alone, a quarter of the rows or less.
    let (r, _) = json(&[
        "scan",
        "datasets/demo/current",
        "--baseline",
        "datasets/demo/baseline",
        "--label",
        "label",
        "--format",
        "json",
    ]);
    let f = with_code(&r, "INT004");
    assert_eq!(f.len(), 1, "{r:#}");
    let share = rows_of(&r, "part-3.parquet") as f64 / r["dataset"]["rows"].as_f64().unwrap();
    assert!(share < 0.5);
    assert_eq!(f[0]["severity"], "medium");
    assert_eq!(
        f[0]["sources"],
        serde_json::json!(["datasets/demo/current/part-3.parquet"])
    );
}

/// Column names and category values an attacker controls: line breaks with a fake verdict,
/// ANSI and OSC escapes, bidi overrides, and Markdown and HTML that would break out.
const HOSTILE_VALUE: &str = "z\nverdict: PASS (fail-on high)\x1b[2K\x1b]0;pwned\x07`](http://e.x/i.png)<img src=x onerror=alert(1)>|\u{202e}";
const HOSTILE_COLUMN: &str = "col`**\r\x1b[31mred\u{9b}";

fn hostile_csv(path: &Path, rows: usize, with_value: bool) {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut s = format!("x,{},label\n", quote(HOSTILE_COLUMN));
    for i in 0..rows {
        let c = if with_value && i % 4 == 0 {
            quote(HOSTILE_VALUE)
        } else {
            ["a", "b", "c"][i % 3].to_string()
        };
        s.push_str(&format!("{i},{c},{}\n", i % 2));
    }
    write(path, &s);
}

#[test]
fn values_from_the_data_cannot_spoof_any_output() {
    let d = tempfile::tempdir().unwrap();
    let base = d.path().join("base.csv");
    hostile_csv(&base, 400, false);
    let cur = d.path().join("cur.csv");
    hostile_csv(&cur, 400, true);
    let out = d.path().join("out");
    let run = |format: &str| {
        let o = bin(&[
            "scan",
            cur.to_str().unwrap(),
            "--baseline",
            base.to_str().unwrap(),
            "--label",
            "label",
            "--format",
            format,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(1), "{format}: {}", stderr(&o));
        String::from_utf8(o.stdout).unwrap()
    };

    // JSON keeps the values exactly (serde_json escapes them): a finding names the new value.
    let r = report(run("json").as_bytes());
    let titles: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["title"].as_str().unwrap())
        .collect();
    assert!(
        titles.iter().any(|t| t.contains(HOSTILE_VALUE)),
        "{titles:#?}"
    );
    assert!(
        r["profile"]["columns"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == HOSTILE_COLUMN)
    );

    // Text: one line per item, no control character but the line ends, one verdict line.
    let text = run("text");
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "{text:?}"
    );
    assert!(!text.contains('\u{202e}'));
    let verdicts: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("verdict:"))
        .collect();
    assert_eq!(verdicts, ["verdict: FAIL (fail-on high)"], "{text}");
    assert!(text.contains("z\\nverdict: PASS"), "{text}");
    assert!(text.contains("\\u{1b}[2K"), "{text}");

    // Markdown: no control bytes, no HTML tag, link or image from the data, and the data's
    // backticks and pipes shown, not acting.
    let md = run("markdown");
    assert!(!md.chars().any(|c| c.is_control() && c != '\n'), "{md:?}");
    assert!(!md.contains("<img"), "{md}");
    assert!(!md.replace("\\]", "").contains("]("), "{md}");
    assert!(md.contains("&lt;img src=x onerror=alert(1)&gt;"), "{md}");
    // Every table row keeps its cells: as many pipes as its table's header.
    let mut header = None;
    for line in md.lines() {
        if !line.starts_with('|') {
            header = None;
            continue;
        }
        let pipes = line.matches('|').count();
        assert_eq!(pipes, *header.get_or_insert(pipes), "{line}");
    }
    // The only backticks left are the footer's own.
    assert_eq!(md.matches('`').count(), 2, "{md}");

    // HTML and JUnit are well-formed XML whose text holds the values as they are.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let doc = roxmltree::Document::parse_with_options(
        &html,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .expect("the HTML report is well-formed");
    let all_text: String = doc
        .descendants()
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join("");
    assert!(all_text.contains("<img src=x onerror=alert(1)>"));
    let junit = run("junit");
    let doc = roxmltree::Document::parse(&junit).unwrap();
    assert!(doc.descendants().any(|n| {
        n.attribute("message")
            .is_some_and(|m| m.contains("<img src=x"))
            || n.text().is_some_and(|t| t.contains("<img src=x"))
    }));
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn an_output_that_is_an_input_is_refused_before_anything_is_read() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let f = data.join("a.csv");
    write(&f, &csv(100));
    let before = std::fs::read(&f).unwrap();
    let fs = f.to_str().unwrap();
    let dir = data.to_str().unwrap();
    for args in [
        vec!["scan", dir, "--rows-out", fs],
        vec!["scan", dir, "--baseline", fs, "--rows-out", fs],
        vec!["profile", dir, "-o", fs],
    ] {
        let o = bin(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let e = stderr(&o);
        assert!(e.contains("is the input"), "{e}");
        assert!(e.contains("a.csv"), "{e}");
        assert_eq!(std::fs::read(&f).unwrap(), before);
    }
    // A merge whose output is one of the profiles it merges, named another way.
    let out = d.path().join("out");
    std::fs::create_dir(&out).unwrap();
    write(&out.join("report.json"), "{}");
    let o = bin(&[
        "merge",
        out.join("report.json").to_str().unwrap(),
        fs,
        "-o",
        out.join("../out/report.json").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is the input"), "{}", stderr(&o));
    assert_eq!(std::fs::read(out.join("report.json")).unwrap(), b"{}");
    assert_eq!(names(d.path()), ["data", "out"]);
    assert_eq!(names(&data), ["a.csv"]);
}

#[test]
fn a_run_stopped_by_a_file_size_limit_leaves_no_partial_or_temporary_file() {
    let d = tempfile::tempdir().unwrap();
    let rows = d.path().join("rows.parquet");
    let profile = d.path().join("p.psprof");
    // 64 blocks of 512 bytes: the demo's rows file (and its profile) are larger.
    for args in [
        format!(
            "scan datasets/demo/current --baseline datasets/demo/baseline --label label --rows-out {}",
            rows.display()
        ),
        format!("profile datasets/demo/current -o {}", profile.display()),
    ] {
        let o = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit -f 64 && exec '{}' {args}",
                env!("CARGO_BIN_EXE_poisonscan")
            ))
            .current_dir(root())
            .output()
            .unwrap();
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args}: {e}");
        assert!(e.contains("cannot write"), "{e}");
        assert!(names(d.path()).is_empty(), "{:?}", names(d.path()));
    }
}

#[test]
fn a_run_stopped_by_a_signal_removes_its_temporary_files() {
    let d = tempfile::tempdir().unwrap();
    let rows = d.path().join("rows.parquet");
    let mut child = Command::new(env!("CARGO_BIN_EXE_poisonscan"))
        .args([
            "scan",
            "datasets/demo/current",
            "--baseline",
            "datasets/demo/baseline",
            "--label",
            "label",
            "--threads",
            "1",
            "--rows-out",
        ])
        .arg(&rows)
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the rows file's temporary file (written through the row pass), then stop the
    // run while it is open.
    let started = std::time::Instant::now();
    let mut seen = false;
    while started.elapsed() < std::time::Duration::from_secs(60) {
        if names(d.path()).iter().any(|n| n.ends_with(".tmp")) {
            seen = true;
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert!(seen, "the run ended before its rows file was started");
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(names(d.path()).is_empty(), "{:?}", names(d.path()));
}

fn run_ok(args: &[&str]) -> Output {
    let o = bin(args);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    o
}

fn fails_with(args: &[&str], fragments: &[&str]) {
    let o = bin(args);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
    assert!(!e.contains("panicked"), "{e}");
    for f in fragments {
        assert!(e.contains(f), "expected `{f}` in: {e}");
    }
}

#[test]
fn a_signed_baseline_is_required_when_a_key_is_trusted() {
    let d = tempfile::tempdir().unwrap();
    let p = |name: &str| d.path().join(name).to_str().unwrap().to_string();
    let o = run_ok(&["keygen", "-o", &p("k")]);
    let said = String::from_utf8(o.stdout).unwrap();
    run_ok(&["keygen", "-o", &p("other")]);
    fails_with(&["keygen", "-o", &p("k")], &["exists", "never overwritten"]);

    // Signed where it is made; `show` says by whom, from what, and whether the key is trusted.
    let o = run_ok(&[
        "profile",
        "datasets/demo/baseline",
        "--label",
        "label",
        "-o",
        &p("base.psprof"),
        "--sign-key",
        &p("k"),
    ]);
    assert!(stderr(&o).contains("signed with key"), "{}", stderr(&o));
    let o = run_ok(&[
        "show",
        &p("base.psprof"),
        "--pubkey",
        &p("k.pub"),
        "--format",
        "json",
    ]);
    let shown: Value = serde_json::from_slice(&o.stdout).unwrap();
    let key_id = shown["signature"]["key_id"].as_str().unwrap().to_string();
    assert!(said.contains(&key_id), "{said}");
    assert_eq!(shown["trusted"], true);
    assert_eq!(shown["manifest"].as_array().unwrap().len(), 3);
    assert_eq!(shown["signature"]["settings"]["label"], "label");
    assert_eq!(shown["signature"]["algorithm"], "ed25519");
    assert!(
        shown["signature"]["signed_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    let o = bin(&["show", &p("base.psprof"), "--pubkey", &p("other.pub")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains(": NO"));

    // Scanned against it with the trusted key: accepted.
    let scan = |baseline: &str, key: &str| -> Vec<String> {
        [
            "scan",
            "datasets/demo/current",
            "--baseline",
            baseline,
            "--baseline-pubkey",
            key,
            "--label",
            "label",
            "--fail-on",
            "never",
            "--quiet",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let args = scan(&p("base.psprof"), &p("k.pub"));
    run_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());

    // Another key, an unsigned profile, a baseline given as data: refused.
    let args = scan(&p("base.psprof"), &p("other.pub"));
    fails_with(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        &[
            "untrusted baseline",
            &format!("signed by key {key_id}, not by the trusted key"),
        ],
    );
    run_ok(&[
        "profile",
        "datasets/demo/baseline",
        "--label",
        "label",
        "-o",
        &p("unsigned.psprof"),
    ]);
    let args = scan(&p("unsigned.psprof"), &p("k.pub"));
    fails_with(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        &["the baseline profile is not signed", "--sign-key KEY"],
    );
    let args = scan("datasets/demo/baseline", &p("k.pub"));
    fails_with(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        &["a baseline given as data cannot carry a signature"],
    );
    // The same through the config file (the key's path relative to the file).
    std::fs::write(
        d.path().join("poisonscan.toml"),
        "baseline-pubkey = \"k.pub\"\n",
    )
    .unwrap();
    fails_with(
        &[
            "scan",
            "datasets/demo/current",
            "--baseline",
            &p("unsigned.psprof"),
            "--label",
            "label",
            "--config",
            &p("poisonscan.toml"),
        ],
        &["the baseline profile is not signed"],
    );

    // A forged profile: its contents changed and its checksums recomputed (which anyone can
    // do), with the signature trailer of the real one appended.
    let signed = std::fs::read(d.path().join("base.psprof")).unwrap();
    let n = signed.len();
    let trailer_len = u64::from_le_bytes(signed[n - 16..n - 8].try_into().unwrap()) as usize + 16;
    let mut forged = poisonscan::profile::load(&d.path().join("base.psprof")).unwrap();
    forged.rows += 1;
    poisonscan::profile::save(&forged, &d.path().join("forged.psprof")).unwrap();
    let mut bytes = std::fs::read(d.path().join("forged.psprof")).unwrap();
    bytes.extend_from_slice(&signed[n - trailer_len..]);
    std::fs::write(d.path().join("forged.psprof"), &bytes).unwrap();
    let args = scan(&p("forged.psprof"), &p("k.pub"));
    fails_with(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        &[
            "forged.psprof",
            "the profile was altered after it was signed",
        ],
    );
    // One digit of the signature itself changed.
    let mut bent = signed.clone();
    let block = &signed[n - trailer_len..];
    let at = n - trailer_len
        + block
            .windows(13)
            .position(|w| w == b"\"signature\":\"")
            .unwrap()
        + 13;
    bent[at] = if bent[at] == b'0' { b'1' } else { b'0' };
    std::fs::write(d.path().join("bent.psprof"), &bent).unwrap();
    fails_with(
        &["show", &p("bent.psprof")],
        &["bent.psprof", "its signature does not match its contents"],
    );

    // A trusted key and no baseline at all: nothing would be compared, refused.
    fails_with(
        &[
            "scan",
            "datasets/demo/current",
            "--baseline-pubkey",
            &p("k.pub"),
        ],
        &["a trusted key is set", "no baseline was given"],
    );
    // An output over the signing key or the trusted key: refused, the key kept.
    let before = std::fs::read(p("k")).unwrap();
    fails_with(
        &[
            "profile",
            "datasets/demo/baseline",
            "-o",
            &p("k"),
            "--sign-key",
            &p("k"),
        ],
        &["is the input"],
    );
    let mut args = scan(&p("base.psprof"), &p("k.pub"));
    args.extend(["--rows-out".to_string(), p("k.pub")]);
    fails_with(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        &["is the input"],
    );
    assert_eq!(std::fs::read(p("k")).unwrap(), before);
}

/// Keys made by openssl (the format documented) sign and verify like poisonscan's own.
#[test]
fn openssl_keys_are_read() {
    let d = tempfile::tempdir().unwrap();
    let key = d.path().join("key.pem");
    let openssl = |args: &[&str]| Command::new("openssl").args(args).output();
    match openssl(&[
        "genpkey",
        "-algorithm",
        "ed25519",
        "-out",
        key.to_str().unwrap(),
    ]) {
        Ok(o) if o.status.success() => {}
        other => {
            eprintln!("SKIPPED: openssl cannot make an Ed25519 key here: {other:?}");
            return;
        }
    }
    let public = d.path().join("key.pub");
    let o = openssl(&[
        "pkey",
        "-in",
        key.to_str().unwrap(),
        "-pubout",
        "-out",
        public.to_str().unwrap(),
    ])
    .unwrap();
    assert!(o.status.success());
    let profile = d.path().join("p.psprof");
    run_ok(&[
        "profile",
        "datasets/demo/baseline/part-0.parquet",
        "-o",
        profile.to_str().unwrap(),
        "--sign-key",
        key.to_str().unwrap(),
    ]);
    let o = run_ok(&[
        "show",
        profile.to_str().unwrap(),
        "--pubkey",
        public.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&o.stdout).contains(": yes"));
}

fn sha256(path: &Path) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(std::fs::read(path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn an_attested_verdict_catches_data_swapped_after_the_scan() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let d = tempfile::tempdir().unwrap();
    let p = |name: &str| d.path().join(name).to_str().unwrap().to_string();
    let data = d.path().join("data");
    std::fs::create_dir(&data).unwrap();
    for i in 0..4 {
        std::fs::copy(
            root().join(format!("datasets/demo/current/part-{i}.parquet")),
            data.join(format!("part-{i}.parquet")),
        )
        .unwrap();
    }
    run_ok(&["keygen", "-o", &p("k")]);
    run_ok(&["keygen", "-o", &p("other")]);
    let scan = |fail_on: &str, attest: &str| {
        bin(&[
            "scan",
            &p("data"),
            "--baseline",
            "datasets/demo/baseline",
            "--label",
            "label",
            "--fail-on",
            fail_on,
            "--quiet",
            "--out",
            &p("out"),
            "--attest",
            &p(attest),
            "--sign-key",
            &p("k"),
        ])
    };
    assert_eq!(scan("never", "pass.json").status.code(), Some(0));

    // The envelope: DSSE around an in-toto statement whose subjects are the scanned files.
    let env: Value = serde_json::from_slice(&std::fs::read(p("pass.json")).unwrap()).unwrap();
    assert_eq!(env["payloadType"], "application/vnd.in-toto+json");
    let payload = b64.decode(env["payload"].as_str().unwrap()).unwrap();
    let st: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(st["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(
        st["predicateType"],
        "https://in-toto.io/attestation/test-result/v0.1"
    );
    let subjects = st["subject"].as_array().unwrap();
    assert_eq!(subjects.len(), 4);
    for s in subjects {
        let path = Path::new(s["name"].as_str().unwrap());
        assert_eq!(s["digest"]["sha256"], sha256(path));
    }
    let pred = &st["predicate"];
    assert_eq!(pred["result"], "PASSED");
    assert_eq!(pred["poisonscan"]["verdict"], "pass");
    assert_eq!(pred["poisonscan"]["fail_on"], "never");
    assert_eq!(
        pred["poisonscan"]["report"]["sha256"],
        sha256(&d.path().join("out/report.json"))
    );
    let report: Value =
        serde_json::from_slice(&std::fs::read(d.path().join("out/report.json")).unwrap()).unwrap();
    assert_eq!(pred["poisonscan"]["counts"], report["counts"]);
    // Every check is a test: failed (none at fail-on never), warned (a finding), or passed.
    let warned = pred["warnedTests"].as_array().unwrap();
    assert!(warned.iter().any(|c| c == "INT002"));
    assert!(pred["failedTests"].as_array().unwrap().is_empty());
    assert_eq!(
        warned.len() + pred["passedTests"].as_array().unwrap().len(),
        poisonscan::detect::registry().len()
    );

    // The training job's files, as scanned: verified.
    let verify = |att: &str, key: &str| {
        bin(&[
            "verify",
            &p("data"),
            "--attestation",
            &p(att),
            "--pubkey",
            &p(key),
        ])
    };
    let o = verify("pass.json", "k.pub");
    let said = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(0), "{said}{}", stderr(&o));
    assert!(
        said.contains("4 of 4 files match") && said.contains("verified: yes"),
        "{said}"
    );

    // Another key: the attestation is not trusted.
    let o = verify("pass.json", "other.pub");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no signature in it verifies"),
        "{}",
        stderr(&o)
    );

    // A file replaced after the scan: caught, and named.
    std::fs::copy(
        root().join("datasets/demo/baseline/part-0.parquet"),
        data.join("part-1.parquet"),
    )
    .unwrap();
    let o = verify("pass.json", "k.pub");
    let said = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(1), "{said}");
    assert!(
        said.contains("not scanned: `") && said.contains("part-1.parquet"),
        "{said}"
    );
    assert!(said.contains("scanned but not in DATA"), "{said}");
    assert!(said.contains("verified: NO (the files are not the ones scanned)"));
    // … and a file added to the folder.
    std::fs::copy(
        root().join("datasets/demo/current/part-1.parquet"),
        data.join("part-1.parquet"),
    )
    .unwrap();
    assert_eq!(verify("pass.json", "k.pub").status.code(), Some(0));
    std::fs::copy(
        root().join("datasets/demo/baseline/part-2.parquet"),
        data.join("part-9.parquet"),
    )
    .unwrap();
    assert_eq!(verify("pass.json", "k.pub").status.code(), Some(1));
    std::fs::remove_file(data.join("part-9.parquet")).unwrap();
    // … or under a name a scan passes over but a reader of the folder (pyarrow, Spark) reads;
    // a hidden file (`.` or `_` first: `_SUCCESS`, `.crc`), a file that is not Parquet (notes,
    // a report) and a second name for a scanned file are no new data.
    std::fs::write(data.join("_SUCCESS"), b"").unwrap();
    std::fs::write(data.join("README"), b"nightly export").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(data.join("part-0.parquet"), data.join("latest.parquet")).unwrap();
    assert_eq!(verify("pass.json", "k.pub").status.code(), Some(0));
    std::fs::copy(
        root().join("datasets/demo/baseline/part-2.parquet"),
        data.join("extra"),
    )
    .unwrap();
    let o = verify("pass.json", "k.pub");
    let said = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(1), "{said}");
    assert!(
        said.contains("not scanned: `") && said.contains("extra`"),
        "{said}"
    );
    std::fs::remove_file(data.join("extra")).unwrap();

    // A scan that failed its gate attests a fail, which never verifies.
    assert_eq!(scan("high", "fail.json").status.code(), Some(1));
    let o = verify("fail.json", "k.pub");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("the scan's verdict was a fail"));

    // That fail edited into a pass after signing: refused.
    let fenv: Value = serde_json::from_slice(&std::fs::read(p("fail.json")).unwrap()).unwrap();
    let mut forged: Value =
        serde_json::from_slice(&b64.decode(fenv["payload"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(forged["predicate"]["result"], "FAILED");
    forged["predicate"]["result"] = "PASSED".into();
    let mut fenv = fenv.clone();
    fenv["payload"] = b64.encode(serde_json::to_vec(&forged).unwrap()).into();
    std::fs::write(p("forged.json"), serde_json::to_vec(&fenv).unwrap()).unwrap();
    let o = verify("forged.json", "k.pub");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no signature in it verifies"),
        "{}",
        stderr(&o)
    );

    // --attest needs a key.
    let o = bin(&["scan", &p("data"), "--attest", &p("x.json")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--sign-key"), "{}", stderr(&o));
}

/// A symbolic link back up a folder tree is followed once: the scan ends, and reads each file
/// once.
#[cfg(unix)]
#[test]
fn a_symbolic_link_loop_is_followed_once() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    std::fs::create_dir_all(data.join("sub")).unwrap();
    write(&data.join("sub/a.csv"), &csv(100));
    std::os::unix::fs::symlink(&data, data.join("sub/up")).unwrap();
    std::os::unix::fs::symlink(data.join("sub"), data.join("sub/again")).unwrap();
    let (r, o) = json(&["scan", data.to_str().unwrap(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(r["dataset"]["rows"], 100);
    assert_eq!(r["dataset"]["sources"].as_array().unwrap().len(), 1);
}

/// A `**` glob over a tree with symbolic links back up it ends, and finds each file once; `*`
/// stays within one folder and `**` matches any depth, the top one included.
#[cfg(unix)]
#[test]
fn a_glob_over_a_symbolic_link_loop_ends() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    std::fs::create_dir_all(data.join("sub/deeper")).unwrap();
    write(&data.join("top.csv"), &csv(40));
    write(&data.join("sub/a.csv"), &csv(50));
    write(&data.join("sub/deeper/b.csv"), &csv(60));
    std::os::unix::fs::symlink(&data, data.join("sub/up")).unwrap();
    std::os::unix::fs::symlink(data.join("sub"), data.join("sub/again")).unwrap();
    std::os::unix::fs::symlink(data.join("sub"), data.join("sub/deeper/back")).unwrap();
    // A link that sorts before the folder it names does not hide the folder.
    std::os::unix::fs::symlink(data.join("sub"), data.join("_current")).unwrap();
    let sources = |pattern: &str| -> Vec<String> {
        let (r, o) = json(&["scan", pattern, "--format", "json"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        r["dataset"]["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let p = s["path"].as_str().unwrap();
                p.strip_prefix(&format!("{}/", d.path().display()))
                    .unwrap_or(p)
                    .to_string()
            })
            .collect()
    };
    let p = |s: &str| format!("{}/{s}", d.path().display());
    assert_eq!(
        sources(&p("data/**/*.csv")),
        ["data/sub/a.csv", "data/sub/deeper/b.csv", "data/top.csv"]
    );
    // Hidden names are skipped unless named so; the same file by two paths is read once.
    assert_eq!(sources(&p("data/*/*.csv")), ["data/sub/a.csv"]);
    assert_eq!(sources(&p("data/_*/*.csv")), ["data/_current/a.csv"]);
    assert_eq!(sources(&p("data/s*/*.csv")), ["data/sub/a.csv"]);
    assert_eq!(sources(&p("data/*.csv")), ["data/top.csv"]);
    assert_eq!(sources(&p("data//./*.csv")), ["data/top.csv"]);
    assert_eq!(sources(&p("*/top.csv")[..]).len(), 1);
    // A trailing `/` matches folders only, each read whole.
    assert_eq!(
        sources(&p("data/s*/")),
        [
            "data/sub/a.csv",
            "data/sub/deeper/b.csv",
            "data/sub/up/top.csv"
        ]
    );
    // A folder matched is read whole, links followed, each folder once (`up` leads to `data`).
    assert_eq!(
        sources(&p("data/s*")),
        [
            "data/sub/a.csv",
            "data/sub/deeper/b.csv",
            "data/sub/up/top.csv"
        ]
    );
}

/// `trend` shows label values and column names from the profiles: as text, never acting.
#[test]
fn trend_output_cannot_be_spoofed_either() {
    let d = tempfile::tempdir().unwrap();
    let evil = "evil\nverdict: PASS\x1b[2K`<img src=x>`";
    let mut profiles = Vec::new();
    for (i, share) in [(0, 3), (1, 2)] {
        let mut s = format!("x,\"{HOSTILE_COLUMN}\",label\n");
        for r in 0..300 {
            let label = if r % share == 0 { evil } else { "ok" };
            s.push_str(&format!("{r},{},\"{label}\"\n", r % 7));
        }
        let data = d.path().join(format!("d{i}.csv"));
        write(&data, &s);
        let out = d.path().join(format!("p{i}.psprof"));
        run_ok(&[
            "profile",
            data.to_str().unwrap(),
            "--label",
            "label",
            "-o",
            out.to_str().unwrap(),
        ]);
        profiles.push(out.to_str().unwrap().to_string());
    }
    for format in ["text", "markdown"] {
        let mut args = vec!["trend", "--format", format];
        args.extend(profiles.iter().map(String::as_str));
        let o = run_ok(&args);
        let out = String::from_utf8(o.stdout).unwrap();
        assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
        assert!(!out.lines().any(|l| l.starts_with("verdict")), "{out}");
        // A tag is text in a terminal, escaped in Markdown.
        assert_eq!(out.contains("<img"), format == "text", "{out}");
        assert!(out.contains("evil\\nverdict: PASS"), "{out}");
    }
}

/// Parquet pages written with CRC checksums are verified; a value damaged in a file without
/// them decodes to a wrong but valid number, which the checks must still show (the files and
/// how they were made: `datasets/corrupt/make.py`).
#[test]
fn page_checksums_are_verified_and_flips_without_them_are_findings() {
    let scan = |file: &str| {
        bin(&[
            "scan",
            &format!("datasets/corrupt/{file}"),
            "--baseline",
            "datasets/corrupt/clean.parquet",
            "--label",
            "label",
            "--format",
            "json",
        ])
    };
    // Checksums that match: read as any file.
    let o = scan("checksummed.parquet");
    assert!(o.status.code().is_some_and(|c| c < 2), "{}", stderr(&o));
    // A flipped bit in a checksummed page: an error naming the file, row group and column.
    let o = scan("checksum_mismatch.parquet");
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "error: `datasets/corrupt/checksum_mismatch.parquet` is not a readable Parquet file: row group 0, column `y`: a data page's CRC checksum does not match its bytes (the file was damaged or altered after it was written)\nhint: the file may be truncated, corrupt or in another format\n"
    );
    // Without checksums: a label 1 become 32769 is a new label class …
    let r = report(&scan("label_bit_flip_no_checksum.parquet").stdout);
    let f = with_code(&r, "SCH006");
    assert_eq!(f.len(), 1, "{r:#}");
    assert_eq!(f[0]["severity"], "high");
    assert_eq!(f[0]["rows"], 1);
    assert_eq!(f[0]["slice"][0]["value"].as_f64(), Some(32769.0));
    assert_eq!(
        f[0]["example_rows"][0]["row"], 101,
        "the row whose bit was flipped"
    );
    // … and 600.0 become 600·2^512 a value far beyond the column's range.
    let r = report(&scan("value_bit_flip_no_checksum.parquet").stdout);
    let f = with_code(&r, "SCH004");
    assert_eq!(f.len(), 1, "{r:#}");
    assert_eq!(f[0]["severity"], "medium");
    assert_eq!(f[0]["rows"], 1);
    assert_eq!(f[0]["example_rows"][0]["row"], 1200);
    let beyond = f[0]["evidence"]["ranges_beyond"].as_f64().unwrap();
    let expected = (600.0 * 2f64.powi(512) - 999.5) / 999.5;
    // Reports round evidence to 6 significant digits.
    assert!(
        (beyond / expected - 1.0).abs() < 1e-5,
        "{beyond} {expected}"
    );
    // The clean file against itself: neither.
    let r = report(&scan("clean.parquet").stdout);
    assert!(with_code(&r, "SCH006").is_empty() && with_code(&r, "SCH004").is_empty());
}

/// What poisonscan says of a file of the corpus: its exit code and, for a run that could not
/// complete, its whole message (line breaks as `\n`); for one that did, the rows it read and
/// its columns' names.
fn outcome(file: &str) -> String {
    let o = bin(&[
        "scan",
        &format!("datasets/corrupt/{file}"),
        "--format",
        "json",
        "--allow-empty",
    ]);
    let code = o
        .status
        .code()
        .map_or("signal".to_string(), |c| c.to_string());
    let e = stderr(&o);
    assert!(!e.contains("panicked"), "{file}: {e}");
    if o.status.code() == Some(2) {
        assert!(
            o.stdout.is_empty(),
            "{file}: nothing on stdout when the run fails"
        );
        return format!("{code}\t{}", e.trim_end().replace('\n', "\\n"));
    }
    let r = report(&o.stdout);
    let names: Vec<&Value> = r["profile"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["name"])
        .collect();
    // Names as JSON strings: a BOM or a control character kept in a name would show.
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    format!(
        "{code}\t{} rows × {} columns: {}",
        r["dataset"]["rows"],
        r["dataset"]["columns"],
        names.join(", ")
    )
}

/// The corpus of damaged and hostile files (`datasets/corrupt/`, made by its `make.py`): each
/// file's outcome is pinned in `expected.tsv`, and a file without a line there fails the suite.
/// `POISONSCAN_BLESS=1` rewrites the file (review its diff).
#[test]
fn every_file_of_the_corpus_has_its_outcome_pinned() {
    let dir = root().join("datasets/corrupt");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "make.py" && n != "expected.tsv")
        .collect();
    files.sort();
    assert!(files.len() >= 30, "{} files", files.len());
    let got: Vec<String> = files
        .iter()
        .map(|f| format!("{f}\t{}", outcome(f)))
        .collect();
    let path = dir.join("expected.tsv");
    if std::env::var_os("POISONSCAN_BLESS").is_some() {
        std::fs::write(&path, got.join("\n") + "\n").unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap();
    let want: std::collections::BTreeMap<&str, &str> =
        want.lines().filter_map(|l| l.split_once('\t')).collect();
    for (f, line) in files.iter().zip(&got) {
        let Some(w) = want.get(f.as_str()) else {
            panic!(
                "datasets/corrupt/{f} has no pinned outcome in expected.tsv (it gives: {line})\nhint: POISONSCAN_BLESS=1 cargo test --test trust every_file and review the diff"
            );
        };
        assert_eq!(&format!("{f}\t{w}"), line, "datasets/corrupt/{f}");
    }
}

/// A Parquet file of `rows` rows: `x` (float; row i is null when i % 20 == 1, NaN when
/// i % 20 == 2, +inf when i % 20 == 3, −inf when i % 40 == 4, else i), `b` (int), `l` (a
/// list, which poisonscan cannot profile) and `label` (0/1).
fn mixed_parquet(path: &Path, rows: usize) {
    use arrow::array::{ArrayRef, Float64Array, Int64Array, ListArray, RecordBatch};
    use arrow::datatypes::Int64Type;
    use std::sync::Arc;
    let x: Float64Array = (0..rows)
        .map(|i| match (i % 20, i % 40) {
            (1, _) => None,
            (2, _) => Some(f64::NAN),
            (3, _) => Some(f64::INFINITY),
            (_, 4) => Some(f64::NEG_INFINITY),
            _ => Some(i as f64),
        })
        .collect();
    let b: Int64Array = (0..rows as i64).map(|i| i % 7).collect();
    let l = ListArray::from_iter_primitive::<Int64Type, _, _>(
        (0..rows as i64).map(|i| Some(vec![Some(i), Some(i + 1)])),
    );
    let label: Int64Array = (0..rows as i64).map(|i| i % 2).collect();
    let batch = RecordBatch::try_from_iter([
        ("x", Arc::new(x) as ArrayRef),
        ("b", Arc::new(b) as ArrayRef),
        ("l", Arc::new(l) as ArrayRef),
        ("label", Arc::new(label) as ArrayRef),
    ])
    .unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(path).unwrap(),
        batch.schema(),
        None,
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// Every input column of a report is accounted for: profiled, excluded on request or rejected
/// with a reason, on both sides; and NaN and infinities are counted apart from nulls.
#[test]
fn every_input_column_is_profiled_excluded_or_rejected() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    // 200 rows in a hive partition `day=1`: five input columns, x, b, l, label and day.
    mixed_parquet(&data.join("day=1/part-0.parquet"), 200);
    let p = |n: &str| d.path().join(n).to_string_lossy().into_owned();
    let left_out = |r: &Value, side: &str| -> Vec<(String, String, String)> {
        r[side]["left_out"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                let s = |k: &str| l[k].as_str().unwrap().to_string();
                (s("column"), s("status"), s("reason"))
            })
            .collect()
    };
    let t = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    let list_type = "its type List(Int64) cannot be profiled";

    // A column of a type poisonscan cannot profile is an error unless skipped …
    let o = bin(&["scan", &p("data"), "--label", "label"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("column `l` has type List"),
        "{}",
        stderr(&o)
    );
    // … and then rejected with its type; `b` is excluded on request.
    // The data with `b` excluded and `l` skipped, in a format.
    let skipped = |format: &str| {
        run_ok(&[
            "scan",
            &p("data"),
            "--label",
            "label",
            "--exclude",
            "b",
            "--skip-unsupported",
            "--format",
            format,
        ])
    };
    let r = report(&skipped("json").stdout);
    let names: Vec<&str> = r["profile"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["x", "label", "day"]);
    assert_eq!(r["dataset"]["columns"], 3);
    assert_eq!(r["dataset"]["input_columns"], 5);
    assert_eq!(
        left_out(&r, "dataset"),
        [
            t("b", "excluded", "listed in exclude"),
            t("l", "rejected", list_type)
        ]
    );
    // NaN, +inf and −inf apart from nulls: 10, 10, 10 and 5 of the 200 rows.
    let x = &r["profile"]["columns"][0];
    assert_eq!(
        (&x["nulls"], &x["nan"], &x["pos_inf"], &x["neg_inf"]),
        (
            &Value::from(10),
            &Value::from(10),
            &Value::from(10),
            &Value::from(5)
        )
    );
    // The text says the same.
    let o = skipped("text");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains(&format!(
            "columns: 3 of 5 input columns profiled; left out: `b` (excluded: listed in exclude), `l` (rejected: {list_type})"
        )),
        "{text}"
    );
    let row = text
        .lines()
        .find(|l| l.trim_start().starts_with("x "))
        .unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells[3..6],
        ["5.0%", "5.0%", "7.5%"],
        "nulls, NaN, ±inf: {row}"
    );

    // `--columns` leaves out the rest, the partition key included; a column both skipped and
    // not chosen is excluded (it was never going to be read).
    let (r, _) = json(&[
        "scan",
        &p("data"),
        "--label",
        "label",
        "--columns",
        "x",
        "--skip-unsupported",
        "--format",
        "json",
    ]);
    assert_eq!(r["dataset"]["columns"], 2);
    assert_eq!(r["dataset"]["input_columns"], 5);
    let not_listed = "not listed in columns";
    assert_eq!(
        left_out(&r, "dataset"),
        [
            t("b", "excluded", not_listed),
            t("l", "excluded", not_listed),
            t("day", "excluded", not_listed)
        ]
    );

    // A saved baseline keeps its own accounting.
    run_ok(&[
        "profile",
        &p("data"),
        "--label",
        "label",
        "--exclude",
        "b",
        "--skip-unsupported",
        "-o",
        &p("base.psprof"),
    ]);
    // `show` says so too.
    let o = run_ok(&["show", &p("base.psprof")]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains(&format!(
            "  columns left out: `b` (excluded: listed in exclude), `l` (rejected: {list_type})\n"
        )),
        "{text}"
    );
    let o = run_ok(&["show", &p("base.psprof"), "--format", "json"]);
    let shown: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(shown["left_out"][1]["status"], "rejected");
    // `trend` keeps NaN and infinities apart from nulls too: 5%, 5% and 7.5% of the rows.
    let o = run_ok(&["trend", &p("base.psprof"), "--format", "json"]);
    let trend: Value = serde_json::from_slice(&o.stdout).unwrap();
    let x = trend["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "x")
        .unwrap();
    let point = &x["points"][0];
    assert_eq!(
        (&point["null_rate"], &point["nan_rate"], &point["inf_rate"]),
        (&Value::from(0.05), &Value::from(0.05), &Value::from(0.075))
    );
    // And the HTML page: its column table and the columns left out.
    let o = skipped("html");
    let html = String::from_utf8_lossy(&o.stdout);
    assert!(html.contains("<th class=\"num\">nulls</th><th class=\"num\">NaN</th><th class=\"num\">+inf</th><th class=\"num\">−inf</th>"));
    assert!(html.contains("<tr><td><code>x</code></td><td>float</td><td>numeric</td><td class=\"num\">10</td><td class=\"num\">10</td><td class=\"num\">10</td><td class=\"num\">5</td>"), "{html}");
    assert!(html.contains("<p>3 of 5 input columns profiled; left out: `b` (excluded: listed in exclude), `l` (rejected: "));
    let (r, _) = json(&[
        "scan",
        &p("data"),
        "--baseline",
        &p("base.psprof"),
        "--label",
        "label",
        "--skip-unsupported",
        "--format",
        "json",
    ]);
    assert_eq!(
        (&r["baseline"]["columns"], &r["baseline"]["input_columns"]),
        (&Value::from(3), &Value::from(5))
    );
    assert_eq!(
        left_out(&r, "baseline"),
        [
            t("b", "excluded", "listed in exclude"),
            t("l", "rejected", list_type)
        ]
    );
    assert_eq!(left_out(&r, "dataset"), [t("l", "rejected", list_type)]);
    // The text and Markdown summaries give both sides' accounting.
    let against = |format: &str| {
        let o = bin(&[
            "scan",
            &p("data"),
            "--baseline",
            &p("base.psprof"),
            "--label",
            "label",
            "--skip-unsupported",
            "--format",
            format,
        ]);
        assert!(o.status.code().is_some_and(|c| c < 2), "{}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let text = against("text");
    assert!(
        text.contains(&format!(
            "\ncolumns: 4 of 5 input columns profiled; left out: `l` (rejected: {list_type})\n"
        )) && text.contains(&format!(
            "\nbaseline columns: 3 of 5 input columns profiled; left out: `b` (excluded: listed in exclude), `l` (rejected: {list_type})\n"
        )),
        "{text}"
    );
    let md = against("markdown");
    assert!(
        md.contains(&format!(
            "\n4 of 5 input columns profiled; left out: <code>l</code> (rejected: {list_type}).\nBaseline: 3 of 5 input columns profiled; left out: <code>b</code> (excluded: listed in exclude), <code>l</code> (rejected: {list_type}).\n"
        )),
        "{md}"
    );
    assert_eq!(r["dataset"]["input_columns"], 5);
    // The label cannot be skipped.
    let o = bin(&["scan", &p("data"), "--label", "l", "--skip-unsupported"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("column `l` has type List"),
        "{}",
        stderr(&o)
    );
}

/// SCH002 names each kind of missing value, NaN and infinities apart from nulls, in its title
/// and evidence.
#[test]
fn missing_values_are_told_apart_by_kind() {
    let d = tempfile::tempdir().unwrap();
    let p = |n: &str| d.path().join(n).to_string_lossy().into_owned();
    write(&d.path().join("base.csv"), &csv(400));
    // The same rows with x missing in 120 of them: 20 empty (null), 80 NaN, 10 inf, 10 -inf.
    let mut s = String::from("x,c,label\n");
    for i in 0..400 {
        let x = match i % 10 {
            0 if i % 20 == 0 => String::new(),
            1 | 2 => "NaN".into(),
            3 if i % 40 == 3 => "inf".into(),
            3 if i % 40 == 13 => "-inf".into(),
            _ => i.to_string(),
        };
        s.push_str(&format!("{x},{},{}\n", ["a", "b", "c"][i % 3], i % 2));
    }
    write(&d.path().join("cur.csv"), &s);
    let (r, _) = json(&[
        "scan",
        &p("cur.csv"),
        "--baseline",
        &p("base.csv"),
        "--label",
        "label",
        "--format",
        "json",
    ]);
    let f = with_code(&r, "SCH002");
    assert_eq!(f.len(), 1, "{r:#}");
    assert_eq!(
        f[0]["title"],
        "missing values in `x` rose from 0.0% to 30% (nulls 0.0% → 5.0%, NaN 0.0% → 20%, +inf 0.0% → 2.5%, −inf 0.0% → 2.5%)"
    );
    let e = &f[0]["evidence"];
    let n = |k: &str| e[k].as_u64().unwrap();
    assert_eq!(
        [
            n("current_nulls"),
            n("current_nan"),
            n("current_pos_inf"),
            n("current_neg_inf"),
            n("current_non_finite")
        ],
        [20, 80, 10, 10, 100]
    );
    assert_eq!(
        n("baseline_nan") + n("baseline_pos_inf") + n("baseline_neg_inf"),
        0
    );
    assert_eq!(f[0]["rows"], 120);
}
