//! Receipts (spec §5): every submission on every track is answered with a signed statement of
//! what was received and when, so that a reporter can later prove a timely report.
//!
//! The signed message is `herald-receipt-v1` ‖ 0x00 ‖ SHA-256(body) (32 raw bytes) ‖
//! `received_at` (ASCII) ‖ 0x00 ‖ track (ASCII), signed with Ed25519 (RFC 8032). `received_at`
//! is RFC 3339 UTC to the second with `Z`; on the anonymous track it is rounded down to the hour
//! and the receipt names nobody. The public key is an SPKI PEM (`receipt-signing.pub.pem`), so
//! `openssl pkeyutl -verify -pubin -inkey receipt-signing.pub.pem -rawin -in msg -sigfile sig`
//! checks a receipt as `herald exchange receipt verify` does.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use base64::Engine as _;
use der::pem::LineEnding;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

/// The domain separator that starts every signed message.
pub const DOMAIN: &[u8] = b"herald-receipt-v1";

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410 §4): the 32-byte key follows.
const SPKI_PREFIX: [u8; 12] =
    [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

/// The track a submission came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    /// Identified, to the operator as CSIRT (NIS2, GDPR).
    Mandatory,
    /// Pseudonymous to peers: proposed, sanitised, reviewed, republished.
    Sharing,
    /// Unlinkable, with a Privacy Pass token.
    Anonymous,
}

impl Track {
    /// Its name in a receipt.
    pub fn as_str(self) -> &'static str {
        match self {
            Track::Mandatory => "mandatory",
            Track::Sharing => "sharing",
            Track::Anonymous => "anonymous",
        }
    }

    /// The track named `name`.
    pub fn parse(name: &str) -> Option<Track> {
        [Track::Mandatory, Track::Sharing, Track::Anonymous]
            .into_iter()
            .find(|t| t.as_str() == name)
    }
}

/// A receipt, as it appears under `"receipt"` in an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// `mandatory`, `sharing` or `anonymous`.
    pub track: String,
    /// RFC 3339 UTC, seconds, `Z` (anonymous: rounded down to the hour).
    pub received_at: String,
    /// Hex of SHA-256 of the exact request body.
    pub sha256: String,
    /// Standard Base64 (with padding) of the Ed25519 signature.
    pub signature: String,
}

/// Why a receipt or a key was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReceiptError {
    /// The key is not what it should be.
    #[error("key: {0}")]
    Key(String),
    /// The receipt is malformed.
    #[error("receipt: {0}")]
    Malformed(String),
    /// The body given is not the one the receipt names.
    #[error("the body's SHA-256 is not the receipt's sha256")]
    BodyMismatch,
    /// The signature does not verify under the key.
    #[error("the signature does not verify under this key")]
    BadSignature,
}

/// The message a receipt signs.
pub fn message(body_sha256: &[u8; 32], received_at: &str, track: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(DOMAIN.len() + 34 + received_at.len() + track.len());
    out.extend_from_slice(DOMAIN);
    out.push(0);
    out.extend_from_slice(body_sha256);
    out.extend_from_slice(received_at.as_bytes());
    out.push(0);
    out.extend_from_slice(track.as_bytes());
    out
}

/// `received_at` of a receipt for a submission received at `at_us` (µs since the epoch).
pub fn received_at(track: Track, at_us: i64) -> String {
    let seconds = at_us.div_euclid(1_000_000);
    let seconds = match track {
        Track::Anonymous => seconds - seconds.rem_euclid(3600),
        Track::Mandatory | Track::Sharing => seconds,
    };
    jiff::Timestamp::from_second(seconds).map_or_else(
        |_| "1970-01-01T00:00:00Z".to_owned(),
        |t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    )
}

/// The exchange's receipt signing key.
pub struct ReceiptSigner {
    key: Ed25519KeyPair,
}

impl std::fmt::Debug for ReceiptSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiptSigner")
            .field("public_key", &hex::encode(self.public_key()))
            .finish()
    }
}

impl ReceiptSigner {
    /// A new key, with its PKCS#8 PEM (to be written with mode 0600).
    pub fn generate() -> Result<(Self, Zeroizing<String>), ReceiptError> {
        let document = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| ReceiptError::Key("cannot generate an Ed25519 key".into()))?;
        let pem = der::pem::encode_string("PRIVATE KEY", LineEnding::LF, document.as_ref())
            .map_err(|e| ReceiptError::Key(e.to_string()))?;
        Ok((Self::from_pkcs8_der(document.as_ref())?, Zeroizing::new(pem)))
    }

    /// The key of a PKCS#8 PEM (`PRIVATE KEY`).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, ReceiptError> {
        let (label, der) = der::pem::decode_vec(pem.as_bytes())
            .map_err(|e| ReceiptError::Key(format!("not a PEM file: {e}")))?;
        if label != "PRIVATE KEY" {
            return Err(ReceiptError::Key(format!(
                "a PRIVATE KEY (PKCS#8) is needed, not {label}"
            )));
        }
        let der = Zeroizing::new(der);
        Self::from_pkcs8_der(&der)
    }

    fn from_pkcs8_der(der: &[u8]) -> Result<Self, ReceiptError> {
        Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map(|key| Self { key })
            .map_err(|_| ReceiptError::Key("not an Ed25519 PKCS#8 private key".into()))
    }

    /// The raw 32-byte public key.
    pub fn public_key(&self) -> &[u8] {
        self.key.public_key().as_ref()
    }

    /// The public key as an SPKI PEM (`PUBLIC KEY`), what `receipt-signing.pub.pem` holds.
    pub fn public_key_pem(&self) -> String {
        let mut spki = SPKI_PREFIX.to_vec();
        spki.extend_from_slice(self.public_key());
        der::pem::encode_string("PUBLIC KEY", LineEnding::LF, &spki).unwrap_or_default()
    }

    /// The receipt of `body`, received at `at_us` on `track`.
    pub fn sign(&self, track: Track, body: &[u8], at_us: i64) -> Receipt {
        let digest: [u8; 32] = Sha256::digest(body).into();
        let received_at = received_at(track, at_us);
        let signature = self.key.sign(&message(&digest, &received_at, track.as_str()));
        Receipt {
            track: track.as_str().to_owned(),
            received_at,
            sha256: hex::encode(digest),
            signature: base64::engine::general_purpose::STANDARD.encode(signature.as_ref()),
        }
    }
}

/// The raw Ed25519 key of an SPKI PEM (`PUBLIC KEY`).
pub fn public_key_from_pem(pem: &str) -> Result<[u8; 32], ReceiptError> {
    let (label, der) = der::pem::decode_vec(pem.as_bytes())
        .map_err(|e| ReceiptError::Key(format!("not a PEM file: {e}")))?;
    if label != "PUBLIC KEY" {
        return Err(ReceiptError::Key(format!("a PUBLIC KEY (SPKI) is needed, not {label}")));
    }
    der.strip_prefix(&SPKI_PREFIX[..])
        .and_then(|key| <[u8; 32]>::try_from(key).ok())
        .ok_or_else(|| ReceiptError::Key("not an Ed25519 public key (RFC 8410)".into()))
}

/// Checks `receipt` under `public_key`: its fields are well formed, its signature verifies over
/// its message, and, when `body` is given, its `sha256` is that body's.
pub fn verify(
    public_key: &[u8; 32],
    receipt: &Receipt,
    body: Option<&[u8]>,
) -> Result<(), ReceiptError> {
    let malformed = |what: &str| ReceiptError::Malformed(what.to_owned());
    if Track::parse(&receipt.track).is_none() {
        return Err(malformed("track is not mandatory, sharing or anonymous"));
    }
    let time = receipt
        .received_at
        .strip_suffix('Z')
        .filter(|t| t.len() == 19)
        .and_then(|t| jiff::civil::DateTime::strptime("%Y-%m-%dT%H:%M:%S", t).ok());
    if time.is_none() {
        return Err(malformed("received_at is not RFC 3339 UTC to the second (…Z)"));
    }
    let digest = hex::decode(&receipt.sha256)
        .ok()
        .and_then(|d| <[u8; 32]>::try_from(d).ok())
        .ok_or_else(|| malformed("sha256 is not 64 hex digits"))?;
    if let Some(body) = body
        && <[u8; 32]>::from(Sha256::digest(body)) != digest
    {
        return Err(ReceiptError::BodyMismatch);
    }
    let signature = base64::engine::general_purpose::STANDARD
        .decode(&receipt.signature)
        .ok()
        .filter(|s| s.len() == 64)
        .ok_or_else(|| malformed("signature is not 64 bytes in standard Base64"))?;
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(&message(&digest, &receipt.received_at, &receipt.track), &signature)
        .map_err(|_| ReceiptError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_has_the_spec_layout() {
        let digest = [0xab; 32];
        let m = message(&digest, "2026-12-07T10:00:00Z", "sharing");
        let mut expected = b"herald-receipt-v1\0".to_vec();
        expected.extend_from_slice(&digest);
        expected.extend_from_slice(b"2026-12-07T10:00:00Z\0sharing");
        assert_eq!(m, expected);
    }

    #[test]
    fn received_at_is_seconds_and_the_anonymous_track_the_hour() {
        let at = 1_796_640_967_123_456; // 2026-12-07T10:56:07.123456Z
        assert_eq!(received_at(Track::Mandatory, at), "2026-12-07T10:56:07Z");
        assert_eq!(received_at(Track::Sharing, at), "2026-12-07T10:56:07Z");
        assert_eq!(received_at(Track::Anonymous, at), "2026-12-07T10:00:00Z");
    }

    #[test]
    fn a_receipt_verifies_and_any_change_fails() {
        let (signer, pem) = ReceiptSigner::generate().unwrap();
        let again = ReceiptSigner::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(again.public_key(), signer.public_key());
        let key = public_key_from_pem(&signer.public_key_pem()).unwrap();
        let body = br#"{"title":"ransomware"}"#;
        let receipt = signer.sign(Track::Mandatory, body, 1_796_640_967_000_000);
        assert_eq!(verify(&key, &receipt, Some(body)), Ok(()));
        assert_eq!(verify(&key, &receipt, Some(b"{}")), Err(ReceiptError::BodyMismatch));
        let mut later = receipt.clone();
        later.received_at = "2026-12-07T10:56:08Z".into();
        assert_eq!(verify(&key, &later, None), Err(ReceiptError::BadSignature));
        let mut other = receipt.clone();
        other.track = "sharing".into();
        assert_eq!(verify(&key, &other, None), Err(ReceiptError::BadSignature));
        let mut junk = receipt;
        junk.signature = "AAAA".into();
        assert!(matches!(verify(&key, &junk, None), Err(ReceiptError::Malformed(_))));
    }

    #[test]
    fn keys_of_the_wrong_kind_are_refused() {
        assert!(public_key_from_pem("not pem").is_err());
        let (signer, pem) = ReceiptSigner::generate().unwrap();
        assert!(public_key_from_pem(&pem).is_err());
        assert!(ReceiptSigner::from_pkcs8_pem(&signer.public_key_pem()).is_err());
    }
}
