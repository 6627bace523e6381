//! Revision tokens (specs/key-server.md §2.5): proof, carried by the device, of which keys it
//! uploaded, so that only that device can later revise them (e.g. likely → confirmed).
//!
//! A token is the protobuf envelope `RevisionToken { kid, data }` ([`crate::proto::revision`]),
//! where `data` = 12-byte random nonce ‖ AES-256-GCM(`RevisionTokenData`) ‖ 16-byte tag, under
//! the revision key named by `kid`, with the configured `REVISION_TOKEN_AAD` as associated
//! data. The JSON API carries the envelope as standard Base64.
//!
//! The plaintext is padded with dummy entries up to [`REVISION_TOKEN_MIN_KEYS`] (28), so that
//! the token's size does not reveal how many keys the device uploaded. **herald deviation:**
//! ENS's dummies are all zero, so proto3 leaves their intervals out and each one encodes 8 bytes
//! shorter than a real key, which leaks the count anyway; herald's dummies keep the all-zero key
//! but carry a start and period that encode to the same size as a real full-day key. Any entry
//! whose key is 16 zero bytes is a dummy and is dropped on opening (a device that uploads the
//! all-zero key cannot revise it; no real device does).

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, Key, KeyInit, Nonce, Payload};
use herald_model::{IntervalNumber, RollingPeriod, TemporaryExposureKey, UnixTime};
use prost::Message as _;
use rand_core::CryptoRng;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::rules::MAX_INTERVAL_AGE_ON_PUBLISH_SECONDS;
use crate::proto::revision as proto;

/// `REVISION_TOKEN_MIN_LENGTH`: tokens hold at least this many entries.
pub const REVISION_TOKEN_MIN_KEYS: usize = 28;

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// A dummy entry's start: the smallest interval number whose varint takes 4 bytes, like every
/// real start from 1970-01-25 to 2475.
const DUMMY_INTERVAL_NUMBER: i32 = 1 << 21;
/// A dummy entry's period: a full day, like most real keys.
const DUMMY_INTERVAL_COUNT: i32 = 144;

/// An AES-256 revision key (ENS: a DEK from the `revisionkeys` table). Zeroized on drop; its
/// `Debug` shows nothing.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct RevisionKey([u8; 32]);

/// A key the device may revise, as the token records it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RevisableKey {
    /// The key bytes.
    pub key: TemporaryExposureKey,
    /// Its rolling start.
    pub rolling_start: IntervalNumber,
    /// Its rolling period.
    pub rolling_period: RollingPeriod,
}

/// Why a token could not be sealed or opened. Every opening failure maps to
/// `invalid_revision_token` once a revision needs the token (§2.4 step 3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RevisionTokenError {
    /// The bytes are not a `RevisionToken` envelope.
    #[error("revision token envelope is malformed")]
    Envelope,
    /// No revision key is known (or still allowed) for the envelope's `kid`.
    #[error("revision token key {kid:?} is unknown")]
    UnknownKid {
        /// The envelope's `kid` (at most 64 characters of it).
        kid: String,
    },
    /// `data` is shorter than a nonce and a tag.
    #[error("revision token data is {len} bytes, shorter than nonce and tag")]
    Truncated {
        /// Its length.
        len: usize,
    },
    /// The ciphertext does not authenticate: another key or AAD, or tampering.
    #[error("revision token does not authenticate")]
    Authentication,
    /// It decrypted, but the plaintext is not a valid key list.
    #[error("revision token contents are invalid")]
    Contents,
    /// A key's start does not fit the token's int32 field.
    #[error("interval {0} does not fit a revision token")]
    IntervalRange(u32),
    /// A revision key that is not 32 bytes.
    #[error("revision key must be 32 bytes, got {0}")]
    KeyLength(usize),
    /// Encryption failed.
    #[error("revision token could not be sealed")]
    Seal,
}

impl RevisionKey {
    /// Wraps 32 key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Parses a 32-byte key (e.g. decoded from configuration).
    pub fn from_slice(bytes: &[u8]) -> Result<Self, RevisionTokenError> {
        <[u8; 32]>::try_from(bytes)
            .map(Self)
            .map_err(|_| RevisionTokenError::KeyLength(bytes.len()))
    }

    /// A fresh random key.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0_u8; 32];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&Key::<Aes256Gcm>::from(self.0))
    }
}

impl std::fmt::Debug for RevisionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RevisionKey(<redacted>)")
    }
}

/// Seals `keys` into a token (the envelope's protobuf bytes) under `key`, named `kid`, with
/// `aad`. Fewer than 28 keys are padded to 28.
pub fn seal<R: CryptoRng + ?Sized>(
    keys: &[RevisableKey],
    kid: &str,
    key: &RevisionKey,
    aad: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, RevisionTokenError> {
    let mut entries = keys
        .iter()
        .map(|k| {
            let start = i32::try_from(k.rolling_start.get())
                .map_err(|_| RevisionTokenError::IntervalRange(k.rolling_start.get()))?;
            Ok(proto::RevisableKey {
                temporary_exposure_key: k.key.as_bytes().to_vec(),
                interval_number: start,
                interval_count: i32::from(k.rolling_period.get()),
            })
        })
        .collect::<Result<Vec<_>, RevisionTokenError>>()?;
    while entries.len() < REVISION_TOKEN_MIN_KEYS {
        entries.push(proto::RevisableKey {
            temporary_exposure_key: vec![0; TemporaryExposureKey::LEN],
            interval_number: DUMMY_INTERVAL_NUMBER,
            interval_count: DUMMY_INTERVAL_COUNT,
        });
    }
    let plaintext = proto::RevisionTokenData { revisable_keys: entries }.encode_to_vec();
    let mut nonce = [0_u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let sealed = key
        .cipher()
        .encrypt(&Nonce::<Aes256Gcm>::from(nonce), Payload { msg: &plaintext, aad })
        .map_err(|_| RevisionTokenError::Seal)?;
    let mut data = Vec::with_capacity(NONCE_LEN + sealed.len());
    data.extend_from_slice(&nonce);
    data.extend_from_slice(&sealed);
    Ok(proto::RevisionToken { kid: kid.to_owned(), data }.encode_to_vec())
}

/// Opens a token: decodes the envelope, asks `lookup` for the key of its `kid` (`None` for
/// unknown or no longer allowed kids), decrypts with `aad`, and returns the keys without the
/// padding, in sealing order.
pub fn open(
    token: &[u8],
    aad: &[u8],
    lookup: impl FnOnce(&str) -> Option<RevisionKey>,
) -> Result<Vec<RevisableKey>, RevisionTokenError> {
    let envelope = proto::RevisionToken::decode(token).map_err(|_| RevisionTokenError::Envelope)?;
    let key = lookup(&envelope.kid).ok_or_else(|| RevisionTokenError::UnknownKid {
        kid: envelope.kid.chars().take(64).collect(),
    })?;
    if envelope.data.len() < NONCE_LEN + TAG_LEN {
        return Err(RevisionTokenError::Truncated { len: envelope.data.len() });
    }
    let (nonce, sealed) = envelope.data.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| RevisionTokenError::Envelope)?;
    let plaintext = key
        .cipher()
        .decrypt(&Nonce::<Aes256Gcm>::from(nonce), Payload { msg: sealed, aad })
        .map_err(|_| RevisionTokenError::Authentication)?;
    let data = proto::RevisionTokenData::decode(plaintext.as_slice())
        .map_err(|_| RevisionTokenError::Contents)?;
    data.revisable_keys
        .into_iter()
        .filter(|e| !is_padding(e))
        .map(|e| {
            let key = TemporaryExposureKey::from_slice(&e.temporary_exposure_key)
                .map_err(|_| RevisionTokenError::Contents)?;
            let rolling_start = u32::try_from(e.interval_number)
                .map(IntervalNumber)
                .map_err(|_| RevisionTokenError::Contents)?;
            let rolling_period = u32::try_from(e.interval_count)
                .ok()
                .and_then(|c| RollingPeriod::new(c).ok())
                .ok_or(RevisionTokenError::Contents)?;
            Ok(RevisableKey { key, rolling_start, rolling_period })
        })
        .collect()
}

/// The keys of the next token (§2.5): the old token's keys still within the publish window
/// (`start + period > interval(now − 360 h)`, the rule that accepts a key), then the keys this
/// request inserted or revised, without duplicates (the first entry for a key wins). Old
/// entries come first, so a partial upload still returns a token covering earlier keys.
pub fn next_token_keys(
    old: &[RevisableKey],
    new: &[RevisableKey],
    now: UnixTime,
) -> Vec<RevisableKey> {
    let min_valid_until = now
        .seconds()
        .saturating_sub(MAX_INTERVAL_AGE_ON_PUBLISH_SECONDS)
        .div_euclid(herald_model::time::INTERVAL_SECONDS);
    let mut out: Vec<RevisableKey> = Vec::with_capacity(old.len() + new.len());
    let still_valid = |k: &&RevisableKey| {
        i64::from(k.rolling_start.get()) + i64::from(k.rolling_period.get()) > min_valid_until
    };
    for key in old.iter().filter(still_valid).chain(new) {
        if !out.iter().any(|k| k.key == key.key) {
            out.push(key.clone());
        }
    }
    out
}

/// Whether an entry is padding: its key is 16 zero bytes.
fn is_padding(entry: &proto::RevisableKey) -> bool {
    entry.temporary_exposure_key.len() == TemporaryExposureKey::LEN
        && entry.temporary_exposure_key.iter().all(|b| *b == 0)
}

#[cfg(test)]
mod tests;
