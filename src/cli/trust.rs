//! The commands of trust: signed profiles (`profile --sign-key`, `show`, `keygen`) and
//! attested verdicts (`scan --attest`, `verify`).

use std::io::Write;
use std::path::Path;

use serde_json::json;

use super::args::{KeygenArgs, ShowArgs, ShowFormat};
use crate::keys::{PublicKey, SigningKey};
use crate::profile::{self, FingerprintScope, Profile};
use crate::report::safe::plain;
use crate::{Result, Settings};

/// The settings a profile was made with, as its signature records them.
pub(super) fn profile_settings(settings: &Settings) -> serde_json::Value {
    let p = settings.profile_settings();
    let i = settings.ingest_options();
    json!({
        "label": p.label,
        "id": p.id,
        "seed": p.seed,
        "sample_size": p.sample_size,
        "columns": i.columns,
        "exclude": i.exclude,
        "config": settings.config_path().map(|c| c.display().to_string()),
    })
}

/// Save `p` to `output`, signed with the key at `key` when one is given. The key is read
/// before the caller profiles anything ([`load_key`]).
pub(super) fn save(
    p: &Profile,
    output: &Path,
    key: Option<&SigningKey>,
    settings: &Settings,
) -> Result<Option<String>> {
    let Some(key) = key else {
        profile::save(p, output)?;
        return Ok(None);
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let signed = profile::save_signed(
        p,
        output,
        key,
        crate::report::rfc3339(now),
        profile_settings(settings),
    )?;
    Ok(Some(signed.key_id))
}

pub(super) fn load_key(path: Option<&Path>) -> Result<Option<SigningKey>> {
    path.map(SigningKey::load).transpose()
}

pub(super) fn keygen(args: &KeygenArgs, out: &mut dyn Write) -> Result<i32> {
    let public = crate::keys::generate_files(&args.output)?;
    super::stdout_result(writeln!(
        out,
        "wrote the private key to `{}` (keep it secret: it signs trusted baselines) and the public key to `{}.pub`; key id {}",
        args.output.display(),
        args.output.display(),
        public.id()
    ))?;
    Ok(0)
}

pub(super) fn show(args: &ShowArgs, out: &mut dyn Write) -> Result<i32> {
    let p = profile::load(&args.profile)?;
    let trusted = match &args.pubkey {
        Some(k) => {
            let key = PublicKey::load(k)?;
            Some(p.signature.as_ref().is_some_and(|s| s.by(&key)))
        }
        None => None,
    };
    let fingerprints = match p.fingerprint_scope {
        FingerprintScope::All => "every row",
        FingerprintScope::Repeated { .. } => "only the duplicated rows' (kept apart by Spark)",
    };
    let text = match args.format {
        ShowFormat::Json => {
            let mut s = serde_json::to_string_pretty(&json!({
                "path": args.profile.display().to_string(),
                "schema_version": p.schema_version,
                "tool_version": p.tool_version,
                "rows": p.rows,
                "columns": p.columns.iter().map(|c| &c.name).collect::<Vec<_>>(),
                "left_out": p.left_out,
                "label": p.label,
                "id": p.id,
                "seed": p.seed,
                "fingerprints": fingerprints,
                "manifest": p.manifest.iter().map(|m| json!({
                    "path": m.path, "rows": m.rows, "bytes": m.bytes, "blake3": m.blake3,
                })).collect::<Vec<_>>(),
                "signature": p.signature,
                "trusted": trusted,
            }))
            .expect("JSON serialises");
            s.push('\n');
            s
        }
        ShowFormat::Text => text(&args.profile, &p, fingerprints, trusted, args),
    };
    super::stdout_result(out.write_all(text.as_bytes()))?;
    Ok(if trusted == Some(false) { 1 } else { 0 })
}

fn text(
    path: &Path,
    p: &Profile,
    fingerprints: &str,
    trusted: Option<bool>,
    args: &ShowArgs,
) -> String {
    use crate::report::thousands;
    let mut s = String::new();
    let name = |v: &Option<String>| match v {
        Some(v) => format!("`{}`", plain(v)),
        None => "none".into(),
    };
    s.push_str(&format!(
        "profile `{}`: made by poisonscan {} (profile format {})\n",
        plain(&path.display().to_string()),
        plain(&p.tool_version),
        p.schema_version
    ));
    s.push_str(&format!(
        "  {} rows × {} columns; label {}; id {}; seed {}\n  fingerprints of {fingerprints}\n",
        thousands(p.rows),
        p.columns.len(),
        name(&p.label),
        name(&p.id),
        p.seed
    ));
    if !p.left_out.is_empty() {
        s.push_str(&format!(
            "  columns left out: {}\n",
            plain(&crate::report::text::left_out_list(&p.left_out))
        ));
    }
    s.push_str(&format!("  inputs ({} files):\n", p.manifest.len()));
    for m in &p.manifest {
        s.push_str(&format!(
            "    {}  {} rows  {} bytes  blake3 {}\n",
            plain(&m.path),
            thousands(m.rows),
            thousands(m.bytes),
            if m.blake3.is_empty() {
                "(held in memory: none)".into()
            } else {
                plain(&m.blake3)
            }
        ));
    }
    match &p.signature {
        None => s.push_str("  signature: none (anyone who can write the file can change it)\n"),
        Some(sig) => s.push_str(&format!(
            "  signature: {} key {}, signed {} by {}, valid for its contents\n    settings: {}\n",
            sig.algorithm,
            sig.key_id,
            plain(&sig.signed_at),
            plain(&sig.tool),
            plain(&sig.settings.to_string())
        )),
    }
    if let (Some(t), Some(k)) = (trusted, &args.pubkey) {
        s.push_str(&format!(
            "  signed by `{}`: {}\n",
            k.display(),
            if t { "yes" } else { "NO" }
        ));
    }
    s
}

/// The policy a scan's verdict was reached under, as its attestation records it.
fn policy(settings: &Settings) -> serde_json::Value {
    json!({
        "fail_on": settings.fail_on().name(),
        "alpha": settings.params().alpha,
        "allow_empty": settings.params().allow_empty,
        "disabled_checks": settings.disabled_checks(),
        "baseline_pubkey": settings
            .baseline_pubkey()
            .map(|k| PublicKey::load(k).map(|k| k.id()).unwrap_or_default()),
        "allowlist": settings
            .allowlist()
            .iter()
            .map(|a| json!({
                "entry": a.describe(),
                "reason": a.reason,
                "expires": a.expires.to_string(),
            }))
            .collect::<Vec<_>>(),
    })
}

/// The attestation of a scan, signed with `key`: the file's bytes.
pub(super) fn attestation(
    report: &crate::Report,
    settings: &Settings,
    key: &SigningKey,
) -> Result<Vec<u8>> {
    let report_json = crate::report::to_json(report);
    let checks: Vec<&str> = crate::detect::registry()
        .iter()
        .map(|d| d.code())
        .filter(|c| settings.check_enabled(c))
        .collect();
    let statement =
        crate::attest::statement(report, report_json.as_bytes(), policy(settings), &checks)?;
    let mut bytes = serde_json::to_vec_pretty(&crate::attest::envelope(&statement, key))
        .expect("JSON serialises");
    bytes.push(b'\n');
    Ok(bytes)
}

pub(super) fn verify(args: &super::args::VerifyArgs, out: &mut dyn Write) -> Result<i32> {
    let key = PublicKey::load(&args.pubkey)?;
    let files = crate::ingest::every_file(&args.data, &args.storage.storage_options)?;
    let v = crate::attest::verify(&args.attestation, &key, &files)?;
    if !args.quiet {
        let mut s = String::new();
        let p = &v.statement["predicate"]["poisonscan"];
        s.push_str(&format!(
            "attestation `{}`: signed by key {}; verdict {} (fail-on {}); {} of {} files match the scan\n",
            args.attestation.display(),
            key.id(),
            plain(p["verdict"].as_str().unwrap_or("?")),
            plain(p["fail_on"].as_str().unwrap_or("?")),
            v.matched,
            files.len()
        ));
        for (f, sha) in &v.not_scanned {
            s.push_str(&format!(
                "  not scanned: `{}` (sha256 {sha})\n",
                plain(&f.display().to_string())
            ));
        }
        for m in &v.missing {
            s.push_str(&format!("  scanned but not in DATA: `{}`\n", plain(m)));
        }
        s.push_str(&format!(
            "verified: {}\n",
            if v.ok() {
                "yes"
            } else if !v.passed {
                "NO (the scan's verdict was a fail)"
            } else {
                "NO (the files are not the ones scanned)"
            }
        ));
        super::stdout_result(out.write_all(s.as_bytes()))?;
    }
    Ok(if v.ok() { 0 } else { 1 })
}
