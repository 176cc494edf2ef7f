//! A profile's signature: who made it (the key's id and public key), when, with which tool and
//! settings, and an Ed25519 signature over all of that and the profile file's header (which
//! holds the BLAKE3 hashes and lengths of both parts, so it commits to every byte of the
//! profile). It is a trailer after the profile's parts: its JSON, then its length (u64, little
//! endian), then an 8-byte magic, so unsigned profiles are read as before and a signed one is
//! still one file. Reading a profile verifies a signature it carries against the public key it
//! names; whether that key is trusted is the caller's question ([`Signed::by`]).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::keys::{PublicKey, SigningKey, hex, unhex};

const MAGIC: &[u8; 8] = b"PSSIG1\n\0";
/// What is signed starts with this, so a profile signature is never valid as anything else.
const DOMAIN: &[u8] = b"poisonscan profile signature v1\n";
/// A signature block larger than this is not one (settings are small).
const MAX_BLOCK: u64 = 1 << 20;

/// The signature block of a signed profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signed {
    /// Always `ed25519`.
    pub algorithm: String,
    /// The signing key's id ([`PublicKey::id`]).
    pub key_id: String,
    /// The signing key's 32 raw bytes, hex.
    pub public_key: String,
    /// When the profile was signed (RFC 3339, UTC).
    pub signed_at: String,
    /// The tool that made and signed it (`poisonscan 0.1.0`).
    pub tool: String,
    /// The settings the profile was made with (label, id, seed, sample size, columns).
    pub settings: serde_json::Value,
    /// The signature, hex (empty while it is computed).
    #[serde(default)]
    pub signature: String,
}

impl Signed {
    fn message(&self, header: &[u8]) -> Vec<u8> {
        let unsigned = Signed {
            signature: String::new(),
            ..self.clone()
        };
        let mut m = DOMAIN.to_vec();
        m.extend_from_slice(header);
        m.extend_from_slice(&serde_json::to_vec(&unsigned).expect("a signature block serialises"));
        m
    }

    /// Sign a profile whose file header is `header`.
    pub fn new(
        header: &[u8],
        key: &SigningKey,
        signed_at: String,
        settings: serde_json::Value,
    ) -> Signed {
        let public = key.public();
        let mut s = Signed {
            algorithm: "ed25519".into(),
            key_id: public.id(),
            public_key: hex(&public.raw()),
            signed_at,
            tool: format!("poisonscan {}", env!("CARGO_PKG_VERSION")),
            settings,
            signature: String::new(),
        };
        s.signature = hex(&key.sign(&s.message(header)));
        s
    }

    /// The trailer's bytes.
    pub fn trailer(&self) -> Vec<u8> {
        let mut t = serde_json::to_vec(self).expect("a signature block serialises");
        let len = t.len() as u64;
        t.extend_from_slice(&len.to_le_bytes());
        t.extend_from_slice(MAGIC);
        t
    }

    /// The length of the signature trailer that ends a file whose last 16 bytes are `tail`
    /// (0 when it has none); `file_len` bounds it.
    pub fn trailer_len(tail: &[u8], file_len: u64) -> u64 {
        if tail.len() < 16 || &tail[tail.len() - 8..] != MAGIC {
            return 0;
        }
        let n = tail.len();
        let len = u64::from_le_bytes(tail[n - 16..n - 8].try_into().expect("8 bytes"));
        if len > MAX_BLOCK || len + 16 > file_len {
            return 0;
        }
        len + 16
    }

    /// Read a trailer's block (the trailer without its length and magic) and verify it against
    /// the profile file's `header`, with the key the block names.
    pub fn read(block: &[u8], header: &[u8], bad: impl Fn(String) -> Error) -> Result<Signed> {
        let s: Signed = serde_json::from_slice(block)
            .map_err(|e| bad(format!("its signature block cannot be read: {e}")))?;
        if s.algorithm != "ed25519" {
            return Err(bad(format!(
                "its signature uses `{}`, not ed25519",
                s.algorithm
            )));
        }
        let key = unhex(&s.public_key)
            .and_then(|b| PublicKey::from_raw(&b))
            .ok_or_else(|| bad("its signature block has no valid public key".into()))?;
        let sig = unhex(&s.signature).unwrap_or_default();
        if key.id() != s.key_id || !key.verify(&s.message(header), &sig) {
            return Err(bad(
                "its signature does not match its contents: the profile was altered after it was signed".into(),
            ));
        }
        Ok(s)
    }

    /// The signing key.
    pub fn key(&self) -> Option<PublicKey> {
        unhex(&self.public_key).and_then(|b| PublicKey::from_raw(&b))
    }

    /// Whether the profile was signed by `trusted`.
    pub fn by(&self, trusted: &PublicKey) -> bool {
        self.key().is_some_and(|k| k.raw() == trusted.raw())
    }
}
