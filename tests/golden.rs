//! Golden files: the `--help` of every command and the demo's `report.json` (without its `run`
//! block, the only part that varies between identical runs) and `report.md`. A change to any of
//! them fails here until the golden files are refreshed on purpose, with one command:
//!
//! ```sh
//! POISONSCAN_BLESS=1 cargo test --test golden
//! ```
//!
//! then review `git diff tests/golden/` like any other change of behaviour.

mod common;

use std::path::Path;

use common::root;

fn run(args: &[&str]) -> Vec<u8> {
    let o = common::bin(args);
    assert!(
        o.status.code() == Some(0),
        "poisonscan {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

/// Compare `got` with the golden file `name`, or rewrite it under `POISONSCAN_BLESS=1`.
fn check(name: &str, got: &[u8]) {
    let path = root().join("tests/golden").join(name);
    if std::env::var_os("POISONSCAN_BLESS").is_some() {
        std::fs::write(&path, got).unwrap();
        return;
    }
    if let Err(e) = compare(&path, got) {
        panic!(
            "{e}\nhint: if the change is intended, POISONSCAN_BLESS=1 cargo test --test golden and review the diff"
        );
    }
}

/// `Err` naming the file and the first differing line when `got` is not the golden file.
fn compare(path: &Path, got: &[u8]) -> Result<(), String> {
    let want = std::fs::read(path)
        .map_err(|e| format!("golden file {} is missing ({e})", path.display()))?;
    if want == got {
        return Ok(());
    }
    let (w, g) = (String::from_utf8_lossy(&want), String::from_utf8_lossy(got));
    let line = w
        .lines()
        .zip(g.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| w.lines().count().min(g.lines().count()));
    Err(format!(
        "{} is stale: first difference at line {}\n  golden: {:?}\n  now:    {:?}",
        path.display(),
        line + 1,
        w.lines().nth(line).unwrap_or("<end>"),
        g.lines().nth(line).unwrap_or("<end>")
    ))
}

/// The report without its `run` block (start time, duration, threads, seed: see the contract).
fn without_run(json: &str) -> String {
    let start = json.find("\n  \"run\": {").expect("a run block");
    let end = start
        + json[start..]
            .find("\n  },")
            .expect("the end of the run block")
        + 5;
    format!("{}{}", &json[..start], &json[end..])
}

#[test]
fn help_of_every_command_is_golden() {
    for command in ["", "scan", "profile", "merge", "trend", "explain", "schema"] {
        let mut args: Vec<&str> = Vec::new();
        if !command.is_empty() {
            args.push(command);
        }
        args.push("--help");
        let name = format!(
            "help-{}.txt",
            if command.is_empty() { "main" } else { command }
        );
        check(&name, &run(&args));
    }
}

#[test]
fn demo_report_is_golden() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run(&[
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
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap();
    let json = read("report.json");
    common::report(json.as_bytes());
    let trimmed = without_run(&json);
    assert!(!trimmed.contains("\"started_at\""), "{trimmed}");
    serde_json::from_str::<serde_json::Value>(&trimmed).expect("still JSON without run");
    check("demo-report.json", trimmed.as_bytes());
    check("demo-report.md", read("report.md").as_bytes());
}

#[test]
fn a_stale_golden_file_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("g.txt");
    std::fs::write(&p, "a\nb\n").unwrap();
    assert_eq!(compare(&p, b"a\nb\n"), Ok(()));
    let e = compare(&p, b"a\nc\n").unwrap_err();
    assert!(e.contains("first difference at line 2"), "{e}");
    assert!(e.contains("\"b\"") && e.contains("\"c\""), "{e}");
    let e = compare(&p, b"a\n").unwrap_err();
    assert!(e.contains("line 2") && e.contains("<end>"), "{e}");
    let e = compare(&dir.path().join("none.txt"), b"").unwrap_err();
    assert!(e.contains("is missing"), "{e}");
}
