//! The profile file: a header (a magic line, the schema version, the length of the compressed
//! part, the number of fingerprints, and the BLAKE3 hashes of the two parts), then the profile
//! without its fingerprints (postcard, zstd-compressed), then the fingerprints as raw 16-byte
//! little-endian words. Fingerprints are hashes and do not compress; kept raw they load at
//! memory speed, while the compressed part is decoded on another thread. Each part's hash is
//! checked before the part is used (the compressed part before it is decompressed); the version
//! is checked before anything else is trusted.

use std::io::Write;
use std::path::Path;

use super::signature::Signed;
use super::{PROFILE_SCHEMA_VERSION, Profile};
use crate::error::{Error, Result};

const MAGIC: &[u8; 20] = b"POISONSCAN PROFILE\n\0";
const HEADER: usize = 20 + 4 + 8 + 8 + 32 + 32;
/// Fingerprints are written and read in chunks of this many rows.
const FP_CHUNK: usize = 1 << 18;

/// Whether `head` (a file's first bytes) starts like a profile file.
pub fn is_profile_head(head: &[u8]) -> bool {
    head.starts_with(MAGIC)
}

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
    save_with(profile, path, None)
}

/// [`save`], signed with `key` (see [`super::signature`]): `signed_at` (RFC 3339) and
/// `settings` (what the profile was made with) are recorded in the signature block.
pub fn save_signed(
    profile: &Profile,
    path: &Path,
    key: &crate::keys::SigningKey,
    signed_at: String,
    settings: serde_json::Value,
) -> Result<Signed> {
    let mut signed = None;
    save_with(
        profile,
        path,
        Some(&mut |header: &[u8]| {
            let s = Signed::new(header, key, signed_at.clone(), settings.clone());
            let t = s.trailer();
            signed = Some(s);
            t
        }),
    )?;
    Ok(signed.expect("a signed profile was signed"))
}

/// What follows a profile's parts in its file, made from its header (a signature).
type Trailer<'a> = &'a mut dyn FnMut(&[u8]) -> Vec<u8>;

/// Write the profile, then what `trailer` makes of its header.
fn save_with(profile: &Profile, path: &Path, trailer: Option<Trailer<'_>>) -> Result<()> {
    let mut staged = crate::output::Staged::new(path)?;
    let result = (|| -> std::io::Result<()> {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, staged.file());
        let header = write_to(profile, &mut out)?;
        if let Some(t) = trailer {
            out.write_all(&t(&header))?;
        }
        out.flush()
    })();
    result.map_err(|e| Error::write(path, e))?;
    staged.commit()
}

/// The profile file's bytes, written to `out` from its start: the header is filled in last.
fn write_to<W: Write + std::io::Seek>(profile: &Profile, out: &mut W) -> std::io::Result<Vec<u8>> {
    use std::io::SeekFrom;
    out.write_all(&[0u8; HEADER])?;
    let mut body = HashingWriter {
        inner: &mut *out,
        hasher: blake3::Hasher::new(),
        len: 0,
    };
    let mut z = zstd::Encoder::new(&mut body, 1)?;
    postcard::to_io(profile, &mut z).map_err(|e| std::io::Error::other(e.to_string()))?;
    z.finish()?;
    let main_len = body.len;
    let main_hash = std::mem::take(&mut body.hasher).finalize();
    let mut buf = Vec::with_capacity(FP_CHUNK * 16);
    for chunk in profile.fingerprints.rows.chunks(FP_CHUNK) {
        buf.clear();
        for f in chunk {
            buf.extend_from_slice(&f.to_le_bytes());
        }
        body.write_all(&buf)?;
    }
    let fp_hash = body.hasher.finalize();
    out.seek(SeekFrom::Start(0))?;
    let mut header = Vec::with_capacity(HEADER);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&PROFILE_SCHEMA_VERSION.to_le_bytes());
    header.extend_from_slice(&main_len.to_le_bytes());
    header.extend_from_slice(&(profile.fingerprints.rows.len() as u64).to_le_bytes());
    header.extend_from_slice(main_hash.as_bytes());
    header.extend_from_slice(fp_hash.as_bytes());
    out.write_all(&header)?;
    out.seek(SeekFrom::End(0))?;
    out.flush()?;
    Ok(header)
}

impl Profile {
    /// The profile as bytes, in the profile file's format (versioned, each part hashed): to
    /// send a partial profile from a worker to the one that merges.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = std::io::Cursor::new(Vec::new());
        write_to(self, &mut out)
            .map_err(|e| Error::Internal(format!("writing a profile to memory: {e}")))?;
        Ok(out.into_inner())
    }

    /// A profile from [`Profile::to_bytes`]'s bytes (or a profile file's, signed or not),
    /// checked like a file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Profile> {
        Profile::from_bytes_of(bytes, Path::new("<profile bytes>"))
    }

    /// [`Profile::from_bytes`], errors naming `path`, where the bytes came from.
    pub(crate) fn from_bytes_of(bytes: &[u8], path: &Path) -> Result<Profile> {
        let mut cursor = std::io::Cursor::new(bytes);
        let (len, signed) = signature_of(&mut cursor, bytes.len() as u64, path)?;
        let header = signed.as_ref().map(|(h, _)| h);
        let mut p = read_from(
            std::io::Cursor::new(&bytes[..len as usize]),
            len,
            path,
            header,
        )?;
        p.signature = signed.map(|(_, s)| s);
        Ok(p)
    }
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

/// Read a profile file, checking its version and both parts' hashes before use.
///
/// A URL (`s3://…`) is downloaded with the run's storage options
/// ([`crate::storage::set_default_options`]) and checked the same way.
pub fn load(path: &Path) -> Result<Profile> {
    use std::io::Seek;
    let text = path.to_string_lossy();
    if crate::storage::is_url(&text) {
        let bytes = crate::storage::download(&text, &crate::storage::default_options())?;
        return Profile::from_bytes_of(&bytes, path);
    }
    let io = |e| Error::io(path, e);
    let mut file = std::fs::File::open(path).map_err(io)?;
    let file_len = file.metadata().map_err(io)?.len();
    let (len, signed) = signature_of(&mut file, file_len, path)?;
    file.seek(std::io::SeekFrom::Start(0)).map_err(io)?;
    let mut p = read_from(file, len, path, signed.as_ref().map(|(h, _)| h))?;
    p.signature = signed.map(|(_, s)| s);
    Ok(p)
}

/// A verified signature and the header it was verified against.
type SignedHeader = ([u8; HEADER], Signed);

/// The length of the profile's parts and its verified signature, when the file of `file_len`
/// bytes ends with a signature trailer; else the whole length and `None`. A signature that
/// does not verify is an error.
fn signature_of<R: std::io::Read + std::io::Seek>(
    file: &mut R,
    file_len: u64,
    path: &Path,
) -> Result<(u64, Option<SignedHeader>)> {
    use std::io::SeekFrom;
    let io = |e| Error::io(path, e);
    if file_len < (HEADER + 16) as u64 {
        return Ok((file_len, None));
    }
    let mut tail = [0u8; 16];
    file.seek(SeekFrom::Start(file_len - 16)).map_err(io)?;
    file.read_exact(&mut tail).map_err(io)?;
    let t = Signed::trailer_len(&tail, file_len - HEADER as u64);
    if t == 0 {
        return Ok((file_len, None));
    }
    let mut header = [0u8; HEADER];
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    file.read_exact(&mut header).map_err(io)?;
    if &header[..20] != MAGIC {
        // Not a profile: reading it says so.
        return Ok((file_len, None));
    }
    let mut block = vec![0u8; (t - 16) as usize];
    file.seek(SeekFrom::Start(file_len - t)).map_err(io)?;
    file.read_exact(&mut block).map_err(io)?;
    let bad = |reason: String| Error::BadProfile {
        path: path.to_path_buf(),
        reason,
    };
    let signed = Signed::read(&block, &header, bad)?;
    Ok((file_len - t, Some((header, signed))))
}

/// Read a profile of `file_len` bytes from `file`; errors name `path`.
/// With `signed`, the header must be the one its signature was verified against (read once for
/// the signature, once here: a file rewritten in between is refused).
fn read_from<R: std::io::Read + Send>(
    mut file: R,
    file_len: u64,
    path: &Path,
    signed: Option<&[u8; HEADER]>,
) -> Result<Profile> {
    let bad = |reason: &str| Error::BadProfile {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let io = |e| Error::io(path, e);
    let mut header = [0u8; HEADER];
    let got = read_full(&mut file, &mut header).map_err(io)?;
    if got < 20 || &header[..20] != MAGIC {
        return Err(bad(
            "it does not start with the profile header\nhint: create one with `poisonscan profile DATA -o FILE`",
        ));
    }
    if got < 24 {
        return Err(bad("the file is truncated (shorter than its header)"));
    }
    let version = u32::from_le_bytes(header[20..24].try_into().expect("4 bytes"));
    if version != PROFILE_SCHEMA_VERSION {
        return Err(Error::ProfileVersion {
            path: path.to_path_buf(),
            found: version,
            expected: PROFILE_SCHEMA_VERSION,
            tool: env!("CARGO_PKG_VERSION").to_string(),
        });
    }
    if got < HEADER {
        return Err(bad("the file is truncated (shorter than its header)"));
    }
    if signed.is_some_and(|h| h != &header) {
        return Err(bad(
            "it changed while it was read (its header is not the one its signature covers)",
        ));
    }
    let main_len = u64::from_le_bytes(header[24..32].try_into().expect("8 bytes"));
    let fp_rows = u64::from_le_bytes(header[32..40].try_into().expect("8 bytes"));
    let body_len = file_len - HEADER as u64;
    let expected = fp_rows
        .checked_mul(16)
        .and_then(|f| f.checked_add(main_len));
    if expected != Some(body_len) {
        return Err(bad(&format!(
            "the file is truncated or has trailing bytes (body of {body_len} bytes, header says {} + {fp_rows} fingerprints)",
            main_len
        )));
    }
    let mismatch = || bad("its checksum does not match: the file was corrupted or altered");
    let mut main = vec![0u8; main_len as usize];
    file.read_exact(&mut main).map_err(io)?;
    let mut h = blake3::Hasher::new();
    h.update_rayon(&main);
    if h.finalize().as_bytes() != &header[40..72] {
        return Err(mismatch());
    }
    // Decode the verified compressed part while the fingerprints are read and hashed.
    let (decoded, rows) = rayon::join(
        || -> Result<Profile> {
            let raw =
                zstd::decode_all(&main[..]).map_err(|e| bad(&format!("cannot decompress: {e}")))?;
            postcard::from_bytes(&raw).map_err(|e| bad(&format!("cannot decode: {e}")))
        },
        || -> Result<Vec<u128>> {
            let mut hasher = blake3::Hasher::new();
            let mut rows: Vec<u128> = Vec::with_capacity(fp_rows as usize);
            let mut buf = vec![0u8; FP_CHUNK * 16];
            let mut left = fp_rows as usize;
            while left > 0 {
                let n = left.min(FP_CHUNK);
                let chunk = &mut buf[..n * 16];
                file.read_exact(chunk).map_err(io)?;
                hasher.update_rayon(chunk);
                rows.extend(
                    chunk
                        .chunks_exact(16)
                        .map(|c| u128::from_le_bytes(c.try_into().expect("16 bytes"))),
                );
                left -= n;
            }
            if hasher.finalize().as_bytes() != &header[72..104] {
                return Err(mismatch());
            }
            if !rows.is_sorted() {
                return Err(bad("its fingerprints are not sorted"));
            }
            Ok(rows)
        },
    );
    let rows = rows?;
    let mut p = decoded?;
    p.fingerprints.rows = rows;
    check_consistent(&p).map_err(|reason| bad(&format!("{reason}: it was altered")))?;
    Ok(p)
}

/// Counts every profile this code makes satisfies. One read from a file that breaks them was
/// altered after it was written (the checksum only detects damage; a signature, tampering) and
/// is refused rather than compared with: rows its sources do not add up to, more nulls than
/// rows, or a quantile sketch that is not one (a NaN in it would stall the KS walk).
fn check_consistent(p: &Profile) -> std::result::Result<(), String> {
    let wide = u128::from;
    if !p.sources.is_empty() {
        let sum: u128 = p.sources.iter().map(|s| wide(s.rows)).sum();
        if sum != wide(p.rows) {
            return Err(format!(
                "it says {} rows but its sources hold {sum}",
                p.rows
            ));
        }
    }
    let labelled: u128 = p.label_counts.values().map(|&c| wide(c)).sum();
    if labelled > wide(p.rows) {
        return Err(format!(
            "its label counts add up to {labelled}, more than its {} rows",
            p.rows
        ));
    }
    for c in &p.columns {
        let at = |e: String| format!("column `{}`: {e}", c.name);
        let values = c.numeric.as_ref().map_or(0, |n| {
            wide(n.count) + wide(n.nan) + wide(n.pos_inf) + wide(n.neg_inf)
        });
        if c.rows > p.rows || wide(c.nulls) + values > wide(c.rows) {
            return Err(at(format!(
                "{} nulls and {values} values in {} rows, of {} in the profile",
                c.nulls, c.rows, p.rows
            )));
        }
        if let Some(n) = &c.numeric {
            n.quantiles.check().map_err(at)?;
        }
        for k in c.class_quantiles.values() {
            k.check().map_err(at)?;
        }
    }
    Ok(())
}

/// Read until `buf` is full or the file ends; the number of bytes read.
fn read_full(f: &mut impl std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::ColumnType;
    use crate::profile::{ProfileSettings, kll::Kll};

    /// A profile of one float column `x` with two values, 1.5 and 12345.678, labelled `a`.
    fn two_rows() -> Profile {
        let mut p = Profile::empty(
            &[("x".to_string(), ColumnType::Float)],
            &ProfileSettings::default(),
            &[],
        );
        p.rows = 2;
        p.label_counts.insert("a".to_string(), 2);
        let c = &mut p.columns[0];
        c.rows = 2;
        let n = c.numeric.as_mut().expect("a float column");
        n.count = 2;
        n.quantiles.update(1.5);
        n.quantiles.update(12345.678);
        p
    }

    fn refusal(p: &Profile) -> String {
        match Profile::from_bytes(&p.to_bytes().unwrap()) {
            Ok(_) => panic!("an altered profile was read"),
            Err(e) => e.to_string(),
        }
    }

    /// Counts no profile can have, written with valid hashes (as anyone who can write an
    /// unsigned baseline can), are refused when read, naming what is wrong.
    #[test]
    fn altered_counts_are_refused_when_read() {
        let p = two_rows();
        Profile::from_bytes(&p.to_bytes().unwrap()).expect("the profile as made reads back");

        // A NaN among the sketch's values (bytes of 12345.678 as its last f64 replaced).
        let good = p.columns[0].numeric.as_ref().unwrap().quantiles.clone();
        let mut raw = postcard::to_allocvec(&good).unwrap();
        let value = 12345.678f64.to_le_bytes();
        let at = raw.windows(8).rposition(|w| w == value).unwrap();
        raw[at..at + 8].copy_from_slice(&f64::NAN.to_le_bytes());
        let nan: Kll = postcard::from_bytes(&raw).unwrap();
        assert!(nan.check().unwrap_err().contains("holds the value NaN"));
        // The KS walk ends on it anyway, and counts the other values.
        assert_eq!(crate::stats::ks_statistic(&nan, &nan), 0.0);
        let mut q = p.clone();
        q.columns[0].numeric.as_mut().unwrap().quantiles = nan;
        let e = refusal(&q);
        assert!(
            e.contains("column `x`: a quantile sketch holds the value NaN: it was altered"),
            "{e}"
        );

        let mut q = p.clone();
        q.columns[0].nulls = 1;
        let e = refusal(&q);
        assert!(
            e.contains("column `x`: 1 nulls and 2 values in 2 rows"),
            "{e}"
        );

        let mut q = p.clone();
        q.label_counts.insert("b".to_string(), 1);
        assert!(refusal(&q).contains("label counts add up to 3, more than its 2 rows"));

        let mut q = p.clone();
        q.sources.push(crate::profile::source::SourceSummary {
            rows: 5,
            ..Default::default()
        });
        assert!(refusal(&q).contains("it says 2 rows but its sources hold 5"));
    }
}
