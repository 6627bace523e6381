//! The ES256 signing keys of verification tokens and certificates, with rotation (key-server.md
//! §3.4, §3.5, §3.7, §6.10).
//!
//! A [`KeyRing`] is the configured list of keys in order. The **last** key whose `signing_from`
//! has come (absent: always) and that is not retired signs; every key whose `published_until`
//! has not passed (absent: forever) verifies and, for certificates, is served in the JWKS. To
//! rotate: add a new key (optionally with `signing_from` a little in the future, so key servers
//! fetch it before it signs) and give the old one a `published_until` at least one certificate
//! lifetime after the switch. Private keys live in files (or a KMS later), never in the DB.

use herald_wire::jwt::{Jwk, JwkSet};
use p256::ecdsa::{SigningKey, VerifyingKey};

/// One key of a ring.
pub struct RingKey {
    /// Its `kid`.
    pub kid: String,
    /// The private key.
    pub key: SigningKey,
    /// Signs from this Unix time on (`None`: always).
    pub signing_from: Option<i64>,
    /// Verifies and is published until this Unix time (`None`: forever).
    pub published_until: Option<i64>,
}

impl std::fmt::Debug for RingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingKey")
            .field("kid", &self.kid)
            .field("signing_from", &self.signing_from)
            .field("published_until", &self.published_until)
            .finish_non_exhaustive()
    }
}

/// An ordered list of signing keys.
#[derive(Debug)]
pub struct KeyRing {
    keys: Vec<RingKey>,
}

impl RingKey {
    fn published(&self, now: i64) -> bool {
        self.published_until.is_none_or(|until| now < until)
    }
}

impl KeyRing {
    /// A ring; `kid`s must be unique and non-empty, and there must be a key.
    pub fn new(keys: Vec<RingKey>) -> Result<Self, String> {
        if keys.is_empty() {
            return Err("at least one signing key is needed".into());
        }
        for (i, k) in keys.iter().enumerate() {
            if k.kid.is_empty() || k.kid.len() > 64 {
                return Err(format!("key {i}: kid must be 1 to 64 characters"));
            }
            if keys.iter().skip(i + 1).any(|other| other.kid == k.kid) {
                return Err(format!("kid {:?} appears twice", k.kid));
            }
        }
        Ok(Self { keys })
    }

    /// The key that signs at `now`.
    pub fn signer(&self, now: i64) -> Option<&RingKey> {
        self.keys
            .iter()
            .rev()
            .find(|k| k.signing_from.is_none_or(|from| from <= now) && k.published(now))
    }

    /// The public key `kid` if it verifies at `now`.
    pub fn verifying(&self, kid: &str, now: i64) -> Option<VerifyingKey> {
        self.keys.iter().find(|k| k.kid == kid && k.published(now)).map(|k| *k.key.verifying_key())
    }

    /// Every published public key at `now`, as a JWK set.
    pub fn jwks(&self, now: i64) -> JwkSet {
        JwkSet {
            keys: self
                .keys
                .iter()
                .filter(|k| k.published(now))
                .map(|k| Jwk::new(&k.kid, *k.key.verifying_key()))
                .collect(),
            skipped: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: &str, seed: u8, from: Option<i64>, until: Option<i64>) -> RingKey {
        RingKey {
            kid: kid.into(),
            key: SigningKey::from_slice(&[seed; 32]).unwrap(),
            signing_from: from,
            published_until: until,
        }
    }

    #[test]
    fn rotation() {
        let ring =
            KeyRing::new(vec![key("v1", 1, None, Some(2000)), key("v2", 2, Some(1000), None)])
                .unwrap();
        assert_eq!(ring.signer(999).unwrap().kid, "v1");
        assert_eq!(ring.signer(1000).unwrap().kid, "v2");
        let kids = |now| ring.jwks(now).keys.iter().map(|k| k.kid.clone()).collect::<Vec<_>>();
        assert_eq!(kids(1500), ["v1", "v2"], "the old key stays published after the switch");
        assert_eq!(kids(2000), ["v2"]);
        assert!(ring.verifying("v1", 1999).is_some());
        assert!(ring.verifying("v1", 2000).is_none());
        assert!(ring.verifying("v3", 0).is_none());
        assert!(KeyRing::new(vec![]).is_err());
        assert!(KeyRing::new(vec![key("a", 1, None, None), key("a", 2, None, None)]).is_err());
    }
}
