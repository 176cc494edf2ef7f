//! Ed25519 keys for signed profiles and attested verdicts, through `ed25519-dalek` (the
//! dalek-cryptography implementation) with its PKCS#8 support: private keys are PKCS#8 PEM
//! and public keys SubjectPublicKeyInfo PEM, the files `openssl genpkey -algorithm ed25519` and
//! `openssl pkey -pubout` write, so keys can be made, stored and rotated with standard tools
//! (or `poisonscan keygen`). A key is named by its id: the first 16 hex digits of the SHA-256
//! of its 32 raw public key bytes.

use std::path::Path;

use ed25519_dalek::Signer;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use sha2::Digest;

use crate::error::{Error, Result};

/// Bytes as lowercase hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Hex as bytes (`None` if it is not an even number of hex digits).
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// A private key, to sign with.
pub struct SigningKey {
    key: ed25519_dalek::SigningKey,
}

/// A public key, to verify with.
#[derive(Clone)]
pub struct PublicKey {
    key: ed25519_dalek::VerifyingKey,
}

fn bad_key(path: &Path, reason: impl std::fmt::Display) -> Error {
    Error::BadKey {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn read_pem(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    String::from_utf8(bytes).map_err(|_| bad_key(path, "it is not a PEM file (not UTF-8 text)"))
}

impl SigningKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> Result<SigningKey> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|e| Error::Internal(format!("the system's random source failed: {e}")))?;
        Ok(SigningKey {
            key: ed25519_dalek::SigningKey::from_bytes(&seed),
        })
    }

    /// Read a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`).
    pub fn load(path: &Path) -> Result<SigningKey> {
        let pem = read_pem(path)?;
        if pem.contains("PUBLIC KEY-----") {
            return Err(bad_key(
                path,
                "it is a public key; signing needs the private key",
            ));
        }
        let key = ed25519_dalek::SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
            bad_key(
                path,
                format!(
                    "not an Ed25519 private key in PKCS#8 PEM ({e})\nhint: make one with `poisonscan keygen -o KEY` or `openssl genpkey -algorithm ed25519 -out KEY`"
                ),
            )
        })?;
        Ok(SigningKey { key })
    }

    /// The key as PKCS#8 PEM.
    pub fn to_pem(&self) -> Result<String> {
        self.key
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .map(|s| s.to_string())
            .map_err(|e| Error::Internal(format!("encoding a key: {e}")))
    }

    pub fn public(&self) -> PublicKey {
        PublicKey {
            key: self.key.verifying_key(),
        }
    }

    /// The 64-byte signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}

impl PublicKey {
    /// Read a public key: SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn load(path: &Path) -> Result<PublicKey> {
        let pem = read_pem(path)?;
        if pem.contains("PRIVATE KEY-----") {
            return Err(bad_key(
                path,
                "it is a private key: give the public key (keep the private one where only the signer can read it)",
            ));
        }
        let key = ed25519_dalek::VerifyingKey::from_public_key_pem(&pem).map_err(|e| {
            bad_key(
                path,
                format!(
                    "not an Ed25519 public key in PEM ({e})\nhint: `poisonscan keygen` writes KEY.pub beside KEY; with openssl: `openssl pkey -in KEY -pubout -out KEY.pub`"
                ),
            )
        })?;
        Ok(PublicKey { key })
    }

    /// A public key from its 32 raw bytes (as a signature block carries it).
    pub fn from_raw(bytes: &[u8]) -> Option<PublicKey> {
        let b: [u8; 32] = bytes.try_into().ok()?;
        ed25519_dalek::VerifyingKey::from_bytes(&b)
            .ok()
            .map(|key| PublicKey { key })
    }

    pub fn raw(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The key as SubjectPublicKeyInfo PEM.
    pub fn to_pem(&self) -> Result<String> {
        self.key
            .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .map_err(|e| Error::Internal(format!("encoding a key: {e}")))
    }

    /// The key's id: the first 16 hex digits of the SHA-256 of its raw bytes.
    pub fn id(&self) -> String {
        hex(&sha2::Sha256::digest(self.key.as_bytes())[..8])
    }

    /// Whether `signature` is this key's signature of `message` (strict verification: no
    /// malleable or small-order encodings).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(sig) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        self.key.verify_strict(message, &sig).is_ok()
    }
}

/// Write a new key pair: the private key to `path` (readable by its owner only) and the public
/// key to `path.pub`, neither over an existing file.
pub fn generate_files(path: &Path) -> Result<PublicKey> {
    let key = SigningKey::generate()?;
    let public = key.public();
    let mut pub_path = path.as_os_str().to_owned();
    pub_path.push(".pub");
    let pub_path = std::path::PathBuf::from(pub_path);
    for p in [path, pub_path.as_path()] {
        if p.exists() {
            return Err(Error::Usage(format!(
                "`{}` exists: a key is never overwritten\nhint: choose another path, or remove the old key once nothing needs it",
                p.display()
            )));
        }
    }
    write_new(path, key.to_pem()?.as_bytes(), 0o600)?;
    write_new(&pub_path, public.to_pem()?.as_bytes(), 0o644)?;
    Ok(public)
}

/// Create `path` (it must not exist) with `mode` on Unix, and write `bytes` to it.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = o.open(path).map_err(|e| Error::write(path, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::write(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_pem_and_sign() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("k");
        let public = generate_files(&path).unwrap();
        let key = SigningKey::load(&path).unwrap();
        let loaded = PublicKey::load(&d.path().join("k.pub")).unwrap();
        assert_eq!(loaded.raw(), public.raw());
        assert_eq!(loaded.id().len(), 16);
        let sig = key.sign(b"message");
        assert!(loaded.verify(b"message", &sig));
        assert!(!loaded.verify(b"messagE", &sig));
        let mut flipped = sig;
        flipped[3] ^= 1;
        assert!(!loaded.verify(b"message", &flipped));
        // Never over an existing key; the wrong kind of key is named.
        assert!(generate_files(&path).is_err());
        let e = PublicKey::load(&path).err().unwrap().to_string();
        assert!(e.contains("it is a private key"), "{e}");
        let e = SigningKey::load(&d.path().join("k.pub"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("it is a public key"), "{e}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    /// RFC 8032's test vector 1 (an empty message), read through PEM as openssl writes it.
    #[test]
    fn rfc8032_test_vector_1() {
        let seed =
            unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60").unwrap();
        let key = SigningKey {
            key: ed25519_dalek::SigningKey::from_bytes(&seed.try_into().unwrap()),
        };
        assert_eq!(
            hex(&key.public().raw()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        assert_eq!(
            hex(&key.sign(b"")),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
    }
}
