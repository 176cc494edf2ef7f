//! The profile file: a magic line, the schema version, the body's length and BLAKE3 hash, then
//! the body (postcard, zstd-compressed). The hash catches truncation and corruption before
//! decoding; the version is checked before anything else is trusted.

use std::io::Write;
use std::path::Path;

use super::{PROFILE_SCHEMA_VERSION, Profile};
use crate::error::{Error, Result};

const MAGIC: &[u8; 20] = b"POISONSCAN PROFILE\n\0";
const HEADER: usize = 20 + 4 + 8 + 32;

/// Whether `path` starts like a profile file.
pub fn is_profile(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 20];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map(|_| &head == MAGIC)
        .unwrap_or(false)
}

/// Write a profile atomically: to a temporary file beside it, then renamed into place, so a
/// failed run never leaves a half-written profile.
pub fn save(profile: &Profile, path: &Path) -> Result<()> {
    let raw = postcard::to_stdvec(profile)
        .map_err(|e| Error::Internal(format!("encoding the profile: {e}")))?;
    let body = zstd::encode_all(&raw[..], 3).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::with_capacity(HEADER + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&PROFILE_SCHEMA_VERSION.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(blake3::hash(&body).as_bytes());
    out.extend_from_slice(&body);
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile_in(dir, path)?;
    tmp.1.write_all(&out).map_err(|e| Error::io(path, e))?;
    tmp.1.sync_all().map_err(|e| Error::io(path, e))?;
    std::fs::rename(&tmp.0, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp.0);
        Error::io(path, e)
    })
}

fn tempfile_in(dir: &Path, target: &Path) -> Result<(std::path::PathBuf, std::fs::File)> {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    Ok((tmp, f))
}

pub fn load(path: &Path) -> Result<Profile> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |reason: &str| Error::BadProfile {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    if bytes.len() < 20 || &bytes[..20] != MAGIC {
        return Err(bad(
            "it does not start with the profile header\nhint: create one with `poisonscan profile DATA -o FILE`",
        ));
    }
    if bytes.len() < HEADER {
        return Err(bad("the file is truncated (shorter than its header)"));
    }
    let version = u32::from_le_bytes(bytes[20..24].try_into().expect("4 bytes"));
    if version != PROFILE_SCHEMA_VERSION {
        return Err(Error::ProfileVersion {
            path: path.to_path_buf(),
            found: version,
            expected: PROFILE_SCHEMA_VERSION,
            tool: env!("CARGO_PKG_VERSION").to_string(),
        });
    }
    let len = u64::from_le_bytes(bytes[24..32].try_into().expect("8 bytes")) as usize;
    let body = &bytes[HEADER..];
    if body.len() != len {
        return Err(bad(&format!(
            "the file is truncated or has trailing bytes (body of {} bytes, header says {len})",
            body.len()
        )));
    }
    if blake3::hash(body).as_bytes() != &bytes[32..64] {
        return Err(bad(
            "its checksum does not match: the file was corrupted or altered",
        ));
    }
    let raw = zstd::decode_all(body).map_err(|e| bad(&format!("cannot decompress: {e}")))?;
    let p: Profile = postcard::from_bytes(&raw).map_err(|e| bad(&format!("cannot decode: {e}")))?;
    Ok(p)
}
