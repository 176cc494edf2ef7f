//! Attested verdicts: what `scan --attest FILE --sign-key KEY` writes and `verify` checks, so
//! that data swapped between the gate and the training step is caught.
//!
//! The attestation is an in-toto Statement (v1) in a DSSE envelope signed with Ed25519. Its
//! subjects are the scanned files, each with its SHA-256 (and BLAKE3) digest; its predicate is
//! in-toto's test-result predicate (v0.1): `result` PASSED or FAILED, the checks that passed,
//! warned (findings below the gate's level) and failed, and the policy as its `configuration`;
//! a `poisonscan` field adds the verdict, the policy, the counts and the SHA-256 of the JSON
//! report. The envelope and the statement are a few lines of JSON written here (serde_json,
//! `base64`, `keys`): the formats are small and fixed, and the crates that implement them bring
//! a second signing stack.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::Digest;

use crate::error::{Error, Result};
use crate::keys::{PublicKey, SigningKey, hex};
use crate::report::Report;

pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_TYPE: &str = "https://in-toto.io/attestation/test-result/v0.1";

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// DSSE's pre-authentication encoding of a payload: what is signed.
fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut m = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    m.extend_from_slice(payload);
    m
}

/// The SHA-256 and BLAKE3 of a file, in one read of 1 MiB blocks. An object in storage (a
/// URL) is streamed once more, with the run's storage options.
pub fn hash_file(path: &Path) -> Result<(String, String)> {
    let mut sha = sha2::Sha256::new();
    let mut b3 = blake3::Hasher::new();
    let text = path.to_string_lossy();
    if crate::storage::is_url(&text) {
        crate::storage::stream(&text, &crate::storage::default_options(), &mut |chunk| {
            sha.update(chunk);
            b3.update(chunk);
        })?;
        return Ok((hex(&sha.finalize()), b3.finalize().to_hex().to_string()));
    }
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        b3.update(&buf[..n]);
    }
    Ok((hex(&sha.finalize()), b3.finalize().to_hex().to_string()))
}

/// The in-toto statement of a scan: the report's current sources as subjects (their files read
/// again for SHA-256), `report_json` the JSON report as written, `checks` the codes of the
/// checks that ran.
pub fn statement(
    report: &Report,
    report_json: &[u8],
    policy: Value,
    checks: &[&str],
) -> Result<Value> {
    let mut subjects = Vec::with_capacity(report.dataset.sources.len());
    for s in &report.dataset.sources {
        let path = Path::new(&s.path);
        let (sha, b3) = hash_file(path)?;
        // The SHA-256 is of the bytes read now: they must be the bytes the scan read.
        if s.blake3.is_empty() || b3 != s.blake3 {
            return Err(Error::BadAttestation {
                path: path.to_path_buf(),
                reason: "the file changed while it was scanned (its BLAKE3 is no longer the one the scan read): nothing is attested\nhint: scan data that is no longer being written".into(),
            });
        }
        subjects.push(json!({
            "name": s.path,
            "digest": {"sha256": sha, "blake3": s.blake3},
        }));
    }
    let fail_on = report.fail_on;
    let mut by_code: BTreeMap<&str, &str> = BTreeMap::new();
    for f in &report.findings {
        let level = if f.accepted.is_none() && fail_on.fails(f.severity) {
            "failed"
        } else {
            "warned"
        };
        let e = by_code.entry(f.code.as_str()).or_insert(level);
        if level == "failed" {
            *e = "failed";
        }
    }
    let tests = |level: &str| -> Vec<&str> {
        by_code
            .iter()
            .filter(|(_, l)| **l == level)
            .map(|(c, _)| *c)
            .collect()
    };
    let passed: Vec<&str> = checks
        .iter()
        .copied()
        .filter(|c| !by_code.contains_key(c))
        .collect();
    let policy_bytes = serde_json::to_vec(&policy).expect("JSON serialises");
    let pass = report.verdict == crate::gate::Verdict::Pass;
    Ok(json!({
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "result": if pass { "PASSED" } else { "FAILED" },
            "configuration": [{
                "name": "poisonscan policy",
                "digest": {"sha256": hex(&sha2::Sha256::digest(&policy_bytes))},
                "mediaType": "application/json",
                "content": b64().encode(&policy_bytes),
            }],
            "passedTests": passed,
            "warnedTests": tests("warned"),
            "failedTests": tests("failed"),
            "poisonscan": {
                "tool": format!("poisonscan {}", report.tool.version),
                "verdict": report.verdict.name(),
                "fail_on": fail_on.name(),
                "policy": policy,
                "counts": report.counts,
                "rows": report.dataset.rows,
                "baseline": report.baseline.as_ref().map(|b| json!({"rows": b.rows, "sources": b.sources})),
                "report": {"sha256": hex(&sha2::Sha256::digest(report_json))},
            },
        },
    }))
}

/// The DSSE envelope of `statement`, signed with `key`.
pub fn envelope(statement: &Value, key: &SigningKey) -> Value {
    let payload = serde_json::to_vec(statement).expect("JSON serialises");
    let sig = key.sign(&pae(PAYLOAD_TYPE, &payload));
    json!({
        "payloadType": PAYLOAD_TYPE,
        "payload": b64().encode(&payload),
        "signatures": [{"keyid": key.public().id(), "sig": b64().encode(sig)}],
    })
}

/// What `verify` found.
#[derive(Debug)]
pub struct Verification {
    /// The attested verdict was a pass.
    pub passed: bool,
    /// Files read now that were not scanned (path, SHA-256).
    pub not_scanned: Vec<(PathBuf, String)>,
    /// Scanned files not among those read now (their names in the attestation).
    pub missing: Vec<String>,
    /// How many files matched.
    pub matched: usize,
    /// The statement, for the caller's output.
    pub statement: Value,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.passed && self.not_scanned.is_empty() && self.missing.is_empty()
    }
}

/// Check an attestation: its envelope's signature by `key` (an error when it does not
/// verify), then the attested verdict and whether `files` (SHA-256) are exactly its subjects.
pub fn verify(attestation: &Path, key: &PublicKey, files: &[PathBuf]) -> Result<Verification> {
    let bad = |reason: String| Error::BadAttestation {
        path: attestation.to_path_buf(),
        reason,
    };
    let text = std::fs::read(attestation).map_err(|e| Error::io(attestation, e))?;
    let env: Value = serde_json::from_slice(&text)
        .map_err(|e| bad(format!("not a DSSE envelope (JSON): {e}")))?;
    if env["payloadType"] != PAYLOAD_TYPE {
        return Err(bad(format!(
            "its payloadType is {}, not {PAYLOAD_TYPE}",
            env["payloadType"]
        )));
    }
    let payload = env["payload"]
        .as_str()
        .and_then(|p| b64().decode(p).ok())
        .ok_or_else(|| bad("its payload is not base64".into()))?;
    let message = pae(PAYLOAD_TYPE, &payload);
    let signed = env["signatures"].as_array().is_some_and(|sigs| {
        sigs.iter().any(|s| {
            s["sig"]
                .as_str()
                .and_then(|x| b64().decode(x).ok())
                .is_some_and(|sig| key.verify(&message, &sig))
        })
    });
    if !signed {
        return Err(bad(format!(
            "no signature in it verifies with the key given (id {}): it was not made with that key, or it was altered",
            key.id()
        )));
    }
    let statement: Value = serde_json::from_slice(&payload)
        .map_err(|e| bad(format!("its statement is not JSON: {e}")))?;
    if statement["_type"] != STATEMENT_TYPE || statement["predicateType"] != PREDICATE_TYPE {
        return Err(bad(format!(
            "it is not a poisonscan attestation (an in-toto {STATEMENT_TYPE} with predicate {PREDICATE_TYPE})"
        )));
    }
    let mut subjects: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in statement["subject"].as_array().into_iter().flatten() {
        let (Some(name), Some(sha)) = (s["name"].as_str(), s["digest"]["sha256"].as_str()) else {
            return Err(bad("a subject has no name or SHA-256 digest".into()));
        };
        subjects
            .entry(sha.to_string())
            .or_default()
            .push(name.to_string());
    }
    let mut not_scanned = Vec::new();
    let mut matched = 0;
    for f in files {
        let (sha, _) = hash_file(f)?;
        match subjects.get_mut(&sha).and_then(|names| names.pop()) {
            Some(_) => matched += 1,
            None => not_scanned.push((f.clone(), sha)),
        }
    }
    let missing = subjects.into_values().flatten().collect();
    Ok(Verification {
        passed: statement["predicate"]["result"] == "PASSED",
        not_scanned,
        missing,
        matched,
        statement,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DSSE's specification example of the pre-authentication encoding.
    #[test]
    fn pae_is_dsse_v1() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }
}
