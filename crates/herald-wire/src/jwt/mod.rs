//! JSON Web Tokens signed with ES256, as the verification service issues them and the key
//! server checks them (specs/key-server.md §3.4, §3.5, §3.7).
//!
//! - This module: the compact JWS itself. [`sign`] writes `{"alg":"ES256","kid":…,"typ":"JWT"}`
//!   and a JOSE signature (raw `R ‖ S`, 64 bytes, Base64url without padding); [`Jwt::parse`]
//!   and [`Jwt::verify`] check it with the algorithm pinned to ES256.
//! - [`claims`]: the verification certificate and verification token claims, with their time,
//!   issuer and audience checks.
//! - [`jwk`]: EC P-256 JWKs and JWK sets (a bare array, as the verification service serves it,
//!   or `{"keys":[…]}`).
//!
//! # What the verifier refuses, each with its own [`JwtError`] variant
//!
//! - a token over [`MAX_TOKEN_LEN`] (8 KiB), checked before anything else;
//! - anything but three `.`-separated segments;
//! - segments that are not canonical unpadded Base64url (no `=`, no `+/`, zero trailing bits);
//! - a header that is not a JSON object, or names a parameter twice;
//! - `alg` other than `ES256`: `none`, the HMAC family (the classic public-key-as-HMAC-secret
//!   confusion) and everything else (RS256, ES384, PS256, …) are told apart;
//! - a missing or empty `kid` (§3.5 check 2), unless the caller explicitly pins the key by other
//!   means ([`Jwt::parse_allowing_missing_kid`]);
//! - a `typ` other than `JWT` (absent is fine), and any `crit` header;
//! - a signature that is not exactly 64 bytes, or whose `R` or `S` is 0 or not below the group
//!   order, or that does not verify.
//!
//! **High S is accepted.** ECDSA signatures are malleable: `(R, S)` and `(R, n − S)` both
//! verify. Go's `crypto/ecdsa` (the reference servers), Python's `cryptography` and cloud KMS
//! all produce and accept either, so refusing high S would refuse valid certificates. So nothing
//! may key on the token's text: one token has two valid texts. What identifies a token is its
//! [`Jwt::signing_input`] (header and payload as sent, which the signature covers); the key
//! server's one-time check of verification certificates keys on it. Our own signatures are
//! always low S.

pub mod claims;
pub mod jwk;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::{RandomizedSigner as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use rand_core::CryptoRng;
use serde::Serialize;

pub use claims::{
    Audience, ClaimsError, TokenSubject, VerificationCertificateClaims, VerificationTokenClaims,
};
pub use jwk::{Jwk, JwkSet, JwkSkipReason, JwksError, SkippedJwk, parse_jwks};

use crate::json::Json;

/// The largest token accepted, in bytes (the certificates herald issues are about 600).
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The one signature algorithm.
pub const ALGORITHM: &str = "ES256";

/// A segment of a compact JWS, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    /// The protected header.
    Header,
    /// The payload (the claims).
    Payload,
    /// The signature.
    Signature,
}

/// Why a JWT was refused (or could not be signed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// Longer than [`MAX_TOKEN_LEN`].
    #[error("token is {len} bytes, more than {max}")]
    TooLarge {
        /// The token's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not three `.`-separated segments.
    #[error("token has {count} segments, expected 3")]
    Segments {
        /// How many there were.
        count: usize,
    },
    /// A segment is not canonical unpadded Base64url.
    #[error("token {0:?} segment is not canonical unpadded base64url")]
    Base64(Segment),
    /// The header is not a JSON object with string parameters, or names one twice.
    #[error("token header is malformed: {0}")]
    Header(String),
    /// `alg` is `none`: an unsigned token.
    #[error("unsigned tokens (alg none) are refused")]
    AlgorithmNone,
    /// `alg` is HS256/384/512: a symmetric algorithm, the key-confusion attack.
    #[error("symmetric algorithm {alg} is refused, only ES256 is allowed")]
    AlgorithmHmac {
        /// The header's `alg`.
        alg: String,
    },
    /// Any other `alg` but ES256.
    #[error("algorithm {alg} is refused, only ES256 is allowed")]
    AlgorithmNotAllowed {
        /// The header's `alg`.
        alg: String,
    },
    /// No `kid` header, or an empty one.
    #[error("token header has no kid")]
    MissingKid,
    /// A `typ` other than `JWT`.
    #[error("token type {typ:?} is refused, expected JWT")]
    Type {
        /// The header's `typ`.
        typ: String,
    },
    /// A `crit` header: extensions herald does not understand.
    #[error("token header has critical extensions, which are refused")]
    Critical,
    /// The signature is not 64 bytes.
    #[error("signature is {len} bytes, expected 64 (R || S)")]
    SignatureLength {
        /// The decoded length.
        len: usize,
    },
    /// The signature does not verify with the key (or `R`/`S` are out of range).
    #[error("signature does not verify")]
    Signature,
    /// The claims are malformed or fail a check.
    #[error(transparent)]
    Claims(#[from] ClaimsError),
    /// Signing failed (the RNG failed).
    #[error("signing failed: {0}")]
    Sign(String),
}

/// The protected header of a token that passed [`Jwt::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtHeader {
    /// `kid`: which key signed it (`None` only through [`Jwt::parse_allowing_missing_kid`]).
    pub kid: Option<String>,
    /// `typ`, if present (always `JWT`, any case).
    pub typ: Option<String>,
}

/// A structurally valid ES256 token whose signature is not checked yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwt {
    header: JwtHeader,
    signing_input: String,
    payload: Vec<u8>,
    signature: Signature,
}

#[derive(Serialize)]
struct HeaderOut<'a> {
    alg: &'static str,
    kid: &'a str,
    typ: &'static str,
}

impl Jwt {
    /// Parses a compact JWS and checks everything but the signature and the claims. `kid` is
    /// required (§3.5).
    pub fn parse(token: &str) -> Result<Self, JwtError> {
        let jwt = Self::parse_allowing_missing_kid(token)?;
        if jwt.header.kid.is_none() {
            return Err(JwtError::MissingKid);
        }
        Ok(jwt)
    }

    /// [`Self::parse`] for tokens whose key is pinned by other means, so that no `kid` is
    /// needed (e.g. RFC 7515's examples). Every other check still applies.
    pub fn parse_allowing_missing_kid(token: &str) -> Result<Self, JwtError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(JwtError::TooLarge { len: token.len(), max: MAX_TOKEN_LEN });
        }
        let parts: Vec<&str> = token.split('.').collect();
        let [header_b64, payload_b64, signature_b64] = parts.as_slice() else {
            return Err(JwtError::Segments { count: parts.len() });
        };
        let header_bytes = decode_segment(header_b64, Segment::Header)?;
        let header = parse_header(&header_bytes)?;
        let payload = decode_segment(payload_b64, Segment::Payload)?;
        let signature_bytes = decode_segment(signature_b64, Segment::Signature)?;
        if signature_bytes.len() != 64 {
            return Err(JwtError::SignatureLength { len: signature_bytes.len() });
        }
        let signature = Signature::from_slice(&signature_bytes).map_err(|_| JwtError::Signature)?;
        let signing_input = format!("{header_b64}.{payload_b64}");
        Ok(Self { header, signing_input, payload, signature })
    }

    /// `header.payload` as sent: what the signature covers, the same for both encodings of
    /// one signature (high and low S). Key single use on this, never on the token's text.
    pub fn signing_input(&self) -> &str {
        &self.signing_input
    }

    /// Whether the signature's S is in the lower half of the group order (the form herald
    /// signs; see the module documentation on why high S is not refused by default).
    pub fn is_low_s(&self) -> bool {
        self.signature.normalize_s() == self.signature
    }

    /// The header.
    pub fn header(&self) -> &JwtHeader {
        &self.header
    }

    /// The `kid`, to choose the verifying key.
    pub fn kid(&self) -> Option<&str> {
        self.header.kid.as_deref()
    }

    /// The payload bytes **before** the signature is checked: only for choosing the key (ENS
    /// reads the unverified `iss` to find the health authority). Never trust them.
    pub fn unverified_payload(&self) -> &[u8] {
        &self.payload
    }

    /// Checks the signature with `key` and returns the payload (the claims' JSON).
    pub fn verify(&self, key: &VerifyingKey) -> Result<&[u8], JwtError> {
        key.verify(self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| JwtError::Signature)?;
        Ok(&self.payload)
    }
}

/// Signs `payload` (the claims' JSON) as an ES256 JWT with header
/// `{"alg":"ES256","kid":<kid>,"typ":"JWT"}`. The signature is randomized (hedged RFC 6979
/// with `rng`) and normalized to low S.
pub fn sign<R: CryptoRng + ?Sized>(
    payload: &str,
    kid: &str,
    key: &SigningKey,
    rng: &mut R,
) -> Result<String, JwtError> {
    let header = HeaderOut { alg: ALGORITHM, kid, typ: "JWT" };
    // Serialising three strings cannot fail.
    let header = serde_json::to_string(&header).map_err(|e| JwtError::Sign(e.to_string()))?;
    let signing_input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(payload));
    let signature: Signature = key
        .try_sign_with_rng(rng, signing_input.as_bytes())
        .map_err(|e| JwtError::Sign(e.to_string()))?;
    let signature = signature.normalize_s();
    Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes())))
}

/// Parses, verifies with `key` and decodes a verification certificate (§3.5). The claims'
/// time, issuer and audience checks are [`VerificationCertificateClaims::validate`].
pub fn verify_certificate(
    token: &str,
    key: &VerifyingKey,
) -> Result<VerificationCertificateClaims, JwtError> {
    let jwt = Jwt::parse(token)?;
    let payload = jwt.verify(key)?;
    Ok(VerificationCertificateClaims::from_json(payload)?)
}

/// Parses, verifies with `key` and decodes a verification token (§3.4).
pub fn verify_token(token: &str, key: &VerifyingKey) -> Result<VerificationTokenClaims, JwtError> {
    let jwt = Jwt::parse(token)?;
    let payload = jwt.verify(key)?;
    Ok(VerificationTokenClaims::from_json(payload)?)
}

/// Strict unpadded Base64url: the `-_` alphabet, no `=`, zero trailing bits (the base64
/// crate's default), so every byte string has exactly one accepted encoding.
fn decode_segment(text: &str, segment: Segment) -> Result<Vec<u8>, JwtError> {
    URL_SAFE_NO_PAD.decode(text).map_err(|_| JwtError::Base64(segment))
}

fn parse_header(bytes: &[u8]) -> Result<JwtHeader, JwtError> {
    let malformed = |why: &str| JwtError::Header(why.to_owned());
    let Ok(Json::Object(members)) = Json::parse(bytes) else {
        return Err(malformed("not a JSON object"));
    };
    if let Some(name) = Json::duplicate_member(&members) {
        return Err(JwtError::Header(format!("parameter {name:?} appears twice")));
    }
    let text = |name: &str| -> Result<Option<&str>, JwtError> {
        match members.iter().find(|(n, _)| n == name).map(|(_, v)| v) {
            None => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.as_str())),
            Some(other) => {
                Err(JwtError::Header(format!("{name} is a {}, not a string", other.kind())))
            }
        }
    };
    let alg = text("alg")?.ok_or_else(|| malformed("no alg"))?;
    match alg {
        ALGORITHM => {}
        "none" => return Err(JwtError::AlgorithmNone),
        a if a.starts_with("HS") => return Err(JwtError::AlgorithmHmac { alg: a.to_owned() }),
        a => return Err(JwtError::AlgorithmNotAllowed { alg: a.to_owned() }),
    }
    if members.iter().any(|(n, _)| n == "crit") {
        return Err(JwtError::Critical);
    }
    let typ = text("typ")?;
    if let Some(t) = typ.filter(|t| !t.eq_ignore_ascii_case("JWT")) {
        return Err(JwtError::Type { typ: t.to_owned() });
    }
    let kid = text("kid")?.filter(|k| !k.is_empty());
    Ok(JwtHeader { kid: kid.map(str::to_owned), typ: typ.map(str::to_owned) })
}

#[cfg(test)]
mod tests;
