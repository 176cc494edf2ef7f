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
/// failed run never leaves a half-written profile. The body is streamed (postcard into zstd into
/// the file, hashed on the way), so writing needs no second copy of the profile in memory; the
/// header's length and hash are filled in at the end.
pub fn save(profile: &Profile, path: &Path) -> Result<()> {
    use std::io::{Seek, SeekFrom};
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let (tmp_path, file) = tempfile_in(dir, path)?;
    let result = (|| -> std::io::Result<()> {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        out.write_all(&[0u8; HEADER])?;
        let mut body = HashingWriter {
            inner: out,
            hasher: blake3::Hasher::new(),
            len: 0,
        };
        // Level 1: the bulk of a large profile is fingerprints, which do not compress.
        let mut z = zstd::Encoder::new(&mut body, 1)?;
        postcard::to_io(profile, &mut z).map_err(|e| std::io::Error::other(e.to_string()))?;
        z.finish()?;
        let HashingWriter {
            inner, hasher, len, ..
        } = body;
        let mut file = inner.into_inner().map_err(|e| e.into_error())?;
        file.seek(SeekFrom::Start(0))?;
        let mut header = Vec::with_capacity(HEADER);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&PROFILE_SCHEMA_VERSION.to_le_bytes());
        header.extend_from_slice(&len.to_le_bytes());
        header.extend_from_slice(hasher.finalize().as_bytes());
        file.write_all(&header)?;
        file.sync_all()
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp_path);
        return Err(Error::io(path, e));
    }
    std::fs::rename(&tmp_path, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp_path);
        Error::io(path, e)
    })
}

/// Counts and hashes the bytes on their way to the file.
struct HashingWriter<W: Write> {
    inner: W,
    hasher: blake3::Hasher,
    len: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
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
