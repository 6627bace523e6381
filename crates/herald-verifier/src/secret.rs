//! The server secrets that key every stored hash (key-server.md §3.3, §6.10).
//!
//! Codes, API keys, token ids and rate-limit identities are stored (or remembered) only as
//! HMAC-SHA256 under a server secret, with a distinct label per purpose so that a hash of one
//! kind can never be replayed as another. Several secrets may be configured for rotation: the
//! first one hashes new values; lookups try every one (a code issued before a rotation still
//! verifies until it expires).

use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::store::Hash;

/// What a hash is of (its domain-separation label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A verification code (short or long).
    Code,
    /// An API key.
    ApiKey,
    /// A redeemed verification token's `jti`.
    Token,
    /// A portal session id.
    Session,
    /// A portal CSRF token (of a session id or a login cookie).
    Csrf,
    /// A portal user name, as the key of the login rate limit.
    LoginLimit,
    /// The key sealing TOTP secrets (the hash of nothing under this label).
    TotpSeal,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Self::Code => b"herald-verifier code\0",
            Self::ApiKey => b"herald-verifier api-key\0",
            Self::Token => b"herald-verifier token-id\0",
            Self::Session => b"herald-verifier portal-session\0",
            Self::Csrf => b"herald-verifier portal-csrf\0",
            Self::LoginLimit => b"herald-verifier portal-login\0",
            Self::TotpSeal => b"herald-verifier totp-seal\0",
        }
    }
}

/// Why the secrets could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("hmac key {index}: {reason}")]
pub struct SecretError {
    /// Which key (from 0).
    pub index: usize,
    /// What is wrong (never the key).
    pub reason: String,
}

/// The server's HMAC secrets, newest first.
pub struct Secrets {
    keys: Vec<Zeroizing<[u8; 32]>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} keys, redacted)", self.keys.len())
    }
}

impl Secrets {
    /// From hex texts (64 hex digits each, surrounding whitespace ignored), newest first.
    pub fn from_hex(texts: &[String]) -> Result<Self, SecretError> {
        if texts.is_empty() {
            return Err(SecretError { index: 0, reason: "at least one key is needed".into() });
        }
        let mut keys = Vec::new();
        for (index, text) in texts.iter().enumerate() {
            let mut key = Zeroizing::new([0u8; 32]);
            herald_model::key::hex_into(text.trim(), key.as_mut_slice()).ok_or_else(|| {
                SecretError { index, reason: "must be 64 hex digits (32 bytes)".into() }
            })?;
            keys.push(key);
        }
        Ok(Self { keys })
    }

    /// The hash of `value` under the newest secret.
    pub fn hash(&self, purpose: Purpose, value: &[u8]) -> Hash {
        self.keys.first().map_or([0; 32], |k| mac(k, purpose, value))
    }

    /// The hashes of `value` under every secret, newest first (for lookups).
    pub fn hashes(&self, purpose: Purpose, value: &[u8]) -> Vec<Hash> {
        self.keys.iter().map(|k| mac(k, purpose, value)).collect()
    }
}

fn mac(key: &[u8; 32], purpose: Purpose, value: &[u8]) -> Hash {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        // HMAC takes keys of any length; a 32-byte key cannot be refused.
        return [0; 32];
    };
    mac.update(purpose.label());
    mac.update(value);
    mac.finalize().into_bytes().into()
}

/// The portal's keyed hashes (sessions, CSRF tokens, the login limit, TOTP sealing) under the
/// same server secrets, each purpose with its own label.
impl herald_webkit::Keyring for Secrets {
    fn macs(&self, purpose: herald_webkit::Purpose, data: &[u8]) -> Vec<[u8; 32]> {
        self.hashes(Purpose::of(purpose), data)
    }

    fn mac(&self, purpose: herald_webkit::Purpose, data: &[u8]) -> [u8; 32] {
        self.hash(Purpose::of(purpose), data)
    }
}

impl Purpose {
    /// The label of a web-kit purpose.
    fn of(purpose: herald_webkit::Purpose) -> Self {
        match purpose {
            herald_webkit::Purpose::Session => Self::Session,
            herald_webkit::Purpose::Csrf => Self::Csrf,
            herald_webkit::Purpose::LoginLimit => Self::LoginLimit,
            herald_webkit::Purpose::TotpSeal => Self::TotpSeal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_keyed_and_separated() {
        let a = Secrets::from_hex(&["11".repeat(32), "22".repeat(32)]).unwrap();
        let b = Secrets::from_hex(&["22".repeat(32)]).unwrap();
        let h = a.hash(Purpose::Code, b"12345678");
        assert_ne!(h, a.hash(Purpose::ApiKey, b"12345678"));
        assert_ne!(h, b.hash(Purpose::Code, b"12345678"));
        assert_eq!(a.hashes(Purpose::Code, b"12345678")[1], b.hash(Purpose::Code, b"12345678"));
        assert!(Secrets::from_hex(&["zz".repeat(32)]).is_err());
        assert!(Secrets::from_hex(&[]).is_err());
        assert!(!format!("{a:?}").contains("11"));
    }
}
