//! Revision tokens (key-server.md §2.5): the keys one device uploaded, sealed with the
//! server's revision-token keys (`herald_wire::publish::revision`).

use std::path::PathBuf;

use base64::Engine as _;
use herald_model::UnixTime;
use herald_wire::publish::revision::{self, RevisableKey, RevisionKey};
use sha2::Digest as _;

use crate::app::{StartError, invalid, read};

/// The AAD every token is sealed with (a constant: the keys are the secret).
const AAD: &[u8] = b"herald revision token v1";

/// The revision-token keys: the first seals, all open. A key's id is the first 8 bytes of its
/// SHA-256 in hex, so ids stay stable across restarts and rotations.
pub struct RevisionKeys {
    keys: Vec<(String, RevisionKey)>,
}

impl std::fmt::Debug for RevisionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RevisionKeys({} keys)", self.keys.len())
    }
}

impl RevisionKeys {
    /// Loads key files: 32 bytes as hex or Base64 text.
    pub fn from_files(paths: &[PathBuf]) -> Result<Self, StartError> {
        let mut keys: Vec<[u8; 32]> = Vec::new();
        for path in paths {
            let text = read(path)?;
            let text = text.trim();
            let mut bytes = [0u8; 32];
            let parsed =
                if text.len() == 64 && herald_model::key::hex_into(text, &mut bytes).is_some() {
                    Some(bytes.to_vec())
                } else {
                    base64::engine::general_purpose::STANDARD.decode(text).ok()
                };
            let bytes: [u8; 32] = parsed.and_then(|b| b.try_into().ok()).ok_or_else(|| {
                invalid(
                    "publish.revision_token_keys",
                    format!("{}: not 32 bytes of hex or Base64", path.display()),
                )
            })?;
            keys.push(bytes);
        }
        if keys.is_empty() {
            return Err(invalid("publish.revision_token_keys", "needs at least one key"));
        }
        Ok(Self::from_keys(&keys))
    }

    /// From key bytes in memory, newest first.
    pub fn from_keys(keys: &[[u8; 32]]) -> Self {
        let keys = keys
            .iter()
            .map(|k| {
                let id =
                    herald_model::key::to_hex(sha2::Sha256::digest(k).get(..8).unwrap_or_default());
                (id, RevisionKey::from_bytes(*k))
            })
            .collect();
        Self { keys }
    }

    /// The keys of a token, or `None` when it does not open (ENS: treated as no token).
    pub fn open(&self, token: &[u8]) -> Option<Vec<RevisableKey>> {
        revision::open(token, AAD, |kid| {
            self.keys.iter().find(|(id, _)| id == kid).map(|(_, k)| k.clone())
        })
        .inspect_err(
            |e| tracing::info!(error = %e, "revision token does not open; treated as none"),
        )
        .ok()
    }

    /// A new token: the still-revisable keys of the old token, then `new`.
    pub fn seal(
        &self,
        old: &[RevisableKey],
        new: &[RevisableKey],
        now: UnixTime,
    ) -> Result<Vec<u8>, String> {
        let (kid, key) = self.keys.first().ok_or("no revision token key")?;
        let keys = revision::next_token_keys(old, new, now);
        revision::seal(&keys, kid, key, AAD, &mut rand::rng()).map_err(|e| e.to_string())
    }
}
