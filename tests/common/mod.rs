//! Shared by the integration tests: every JSON report a test reads is parsed here and validated
//! against `schema/report.schema.json` (the schema `poisonscan schema` prints), so a field that
//! drifts from the contract fails the test that produced the report.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

fn report_validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let schema: Value =
            serde_json::from_str(poisonscan::report::REPORT_SCHEMA).expect("the schema is JSON");
        jsonschema::draft202012::new(&schema).expect("the report schema compiles")
    })
}

/// Every way `report` breaks the report schema, one line each (empty when it is valid).
pub fn report_errors(report: &Value) -> Vec<String> {
    report_validator()
        .iter_errors(report)
        .map(|e| format!("at `{}`: {e}", e.instance_path()))
        .collect()
}

/// A JSON report parsed and checked against the report schema: panics naming every violation.
#[track_caller]
pub fn report(bytes: &[u8]) -> Value {
    let r: Value = serde_json::from_slice(bytes).expect("the report is valid JSON");
    let errors = report_errors(&r);
    assert!(
        errors.is_empty(),
        "the report breaks schema/report.schema.json:\n{}",
        errors.join("\n")
    );
    r
}

/// The repository's root: the folder the tests run the binary in.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The real binary with `args`, in the repository's root, with a stripped environment.
// Not every test binary that shares this module runs the command line.
#[allow(dead_code)]
pub fn bin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_poisonscan"))
        .args(args)
        .current_dir(root())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("run poisonscan")
}

/// The command line that scans the demo against its baseline, with its label and id.
#[allow(dead_code)]
pub const DEMO_SCAN: [&str; 8] = [
    "scan",
    "datasets/demo/current",
    "--baseline",
    "datasets/demo/baseline",
    "--label",
    "label",
    "--id",
    "customer_id",
];

/// An incident's findings (indices into `findings`): its root, then what it explains.
#[allow(dead_code)]
pub fn incident_members(incident: &Value) -> Vec<usize> {
    std::iter::once(&incident["root"])
        .chain(
            incident["explains"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| &e["finding"]),
        )
        .map(|i| i.as_u64().unwrap() as usize)
        .collect()
}

/// The findings of a report with one code, in report order.
#[allow(dead_code)]
pub fn with_code<'a>(r: &'a Value, code: &str) -> Vec<&'a Value> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == code)
        .collect()
}
