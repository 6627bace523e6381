//! EC P-256 JSON Web Keys (RFC 7517, RFC 7518 §6.2) and key sets, for distributing the
//! verification service's signing keys to the key server (§3.7).
//!
//! [`parse_jwks`] reads both shapes: a bare JSON array of JWKs (what the verification service
//! serves at `/jwks/<realm>`) and the standard `{"keys":[…]}`. Keys herald cannot use are
//! skipped with a reason rather than failing the set, so that a new key type added upstream
//! never stops key rotation: another `kty` or `crv`, `use` other than `sig`, `alg` other than
//! ES256, no `kid`, coordinates that are not 32-byte Base64url or not on the curve, and keys
//! that carry a private part (`d`: such a key is compromised by being published). Two usable
//! keys with one `kid` fail the whole set, because a verifier could not tell which is meant.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::VerifyingKey;
use serde::Serialize;

use crate::json::{Json, ParseError};

/// One usable ES256 verification key.
#[derive(Clone, PartialEq, Eq)]
pub struct Jwk {
    /// `kid`: the key id a token's header names.
    pub kid: String,
    /// The public key.
    pub key: VerifyingKey,
    /// `alg`, if given (always `ES256`).
    pub algorithm: Option<String>,
    /// `use`, if given (always `sig`).
    pub key_use: Option<String>,
}

/// A parsed key set: the usable keys and what was skipped.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JwkSet {
    /// Usable keys, in document order.
    pub keys: Vec<Jwk>,
    /// Entries that were skipped, with the reason.
    pub skipped: Vec<SkippedJwk>,
}

/// An entry of a key set that herald cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedJwk {
    /// Position in the set, from 0.
    pub index: usize,
    /// Its `kid`, if it had a string one.
    pub kid: Option<String>,
    /// Why it was skipped.
    pub reason: JwkSkipReason,
}

/// Why one JWK was skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwkSkipReason {
    /// Not a JSON object, a member named twice, or a member of the wrong type.
    #[error("malformed key: {0}")]
    Malformed(String),
    /// `kty` is not `EC` (e.g. `RSA`, `OKP`, `oct`).
    #[error("key type {0:?} is not supported")]
    KeyType(String),
    /// `crv` is not `P-256`.
    #[error("curve {0:?} is not supported")]
    Curve(String),
    /// `use` is not `sig`.
    #[error("key use {0:?} is not sig")]
    Use(String),
    /// `alg` is not `ES256`.
    #[error("algorithm {0:?} is not ES256")]
    Algorithm(String),
    /// No `kid`, or an empty one.
    #[error("key has no kid")]
    MissingKid,
    /// The key carries a private part (`d`).
    #[error("key contains private key material")]
    PrivateKey,
    /// `x`/`y` are not 32-byte Base64url, or not a point on P-256.
    #[error("key coordinates are invalid: {0}")]
    Coordinates(&'static str),
}

/// Why a whole key set was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// Not JSON.
    #[error("key set is not valid JSON: {0}")]
    Json(String),
    /// Neither an array nor an object with a `keys` array.
    #[error("key set must be a JSON array or an object with a \"keys\" array")]
    Shape,
    /// Two usable keys share a `kid`.
    #[error("key set has two keys with kid {0:?}")]
    DuplicateKid(String),
}

#[derive(Serialize)]
struct JwkOut<'a> {
    kty: &'static str,
    crv: &'static str,
    x: String,
    y: String,
    kid: &'a str,
    #[serde(rename = "use", skip_serializing_if = "Option::is_none")]
    key_use: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alg: Option<&'a str>,
}

impl Jwk {
    /// An ES256 signing key's JWK, with `use` `sig` and `alg` `ES256`.
    pub fn new(kid: &str, key: VerifyingKey) -> Self {
        Self {
            kid: kid.to_owned(),
            key,
            algorithm: Some(super::ALGORITHM.to_owned()),
            key_use: Some("sig".to_owned()),
        }
    }

    /// The JWK as a JSON object (`kty`, `crv`, `x`, `y`, `kid`, `use`, `alg`).
    pub fn to_json(&self) -> String {
        // Serialising strings cannot fail.
        serde_json::to_string(&self.wire()).unwrap_or_default()
    }

    fn wire(&self) -> JwkOut<'_> {
        let point = self.key.to_sec1_point(false);
        let bytes = point.as_bytes();
        // An uncompressed SEC1 point is 0x04 ‖ x (32 bytes) ‖ y (32 bytes).
        let x = bytes.get(1..33).unwrap_or_default();
        let y = bytes.get(33..65).unwrap_or_default();
        JwkOut {
            kty: "EC",
            crv: "P-256",
            x: URL_SAFE_NO_PAD.encode(x),
            y: URL_SAFE_NO_PAD.encode(y),
            kid: &self.kid,
            key_use: self.key_use.as_deref(),
            alg: self.algorithm.as_deref(),
        }
    }
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwk")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("key_use", &self.key_use)
            .finish_non_exhaustive()
    }
}

impl JwkSet {
    /// The key with this `kid`.
    pub fn find(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// The usable keys as a bare JSON array (the verification service's `/jwks/<realm>` form).
    pub fn to_json_array(&self) -> String {
        let keys: Vec<JwkOut<'_>> = self.keys.iter().map(Jwk::wire).collect();
        serde_json::to_string(&keys).unwrap_or_default()
    }

    /// The usable keys as `{"keys":[…]}` (RFC 7517 §5).
    pub fn to_json_object(&self) -> String {
        #[derive(Serialize)]
        struct Set<'a> {
            keys: Vec<JwkOut<'a>>,
        }
        let set = Set { keys: self.keys.iter().map(Jwk::wire).collect() };
        serde_json::to_string(&set).unwrap_or_default()
    }
}

/// Parses a key set: a bare array of JWKs or `{"keys":[…]}`.
pub fn parse_jwks(bytes: &[u8]) -> Result<JwkSet, JwksError> {
    let json = Json::parse(bytes).map_err(|e| match e {
        ParseError::Syntax(m) => JwksError::Json(m),
        ParseError::TrailingData => JwksError::Json("trailing data after the key set".to_owned()),
    })?;
    let entries = match json {
        Json::Array(items) => items,
        Json::Object(members) => {
            if Json::duplicate_member(&members).is_some() {
                return Err(JwksError::Shape);
            }
            match members.into_iter().find(|(n, _)| n == "keys") {
                Some((_, Json::Array(items))) => items,
                _ => return Err(JwksError::Shape),
            }
        }
        _ => return Err(JwksError::Shape),
    };
    let mut set = JwkSet::default();
    for (index, entry) in entries.iter().enumerate() {
        match parse_jwk(entry) {
            Ok(jwk) => {
                if set.find(&jwk.kid).is_some() {
                    return Err(JwksError::DuplicateKid(jwk.kid));
                }
                set.keys.push(jwk);
            }
            Err(reason) => {
                let kid = match entry.member("kid") {
                    Some(Json::String(k)) => Some(k.clone()),
                    _ => None,
                };
                set.skipped.push(SkippedJwk { index, kid, reason });
            }
        }
    }
    Ok(set)
}

fn parse_jwk(entry: &Json) -> Result<Jwk, JwkSkipReason> {
    let Json::Object(members) = entry else {
        return Err(JwkSkipReason::Malformed(format!(
            "a JWK must be an object, got {}",
            entry.kind()
        )));
    };
    if let Some(name) = Json::duplicate_member(members) {
        return Err(JwkSkipReason::Malformed(format!("member {name:?} appears twice")));
    }
    let text = |name: &str| -> Result<Option<&str>, JwkSkipReason> {
        match entry.member(name) {
            None => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(JwkSkipReason::Malformed(format!("{name} is a {}", other.kind()))),
        }
    };
    let kty = text("kty")?.unwrap_or_default();
    if kty != "EC" {
        return Err(JwkSkipReason::KeyType(kty.to_owned()));
    }
    let crv = text("crv")?.unwrap_or_default();
    if crv != "P-256" {
        return Err(JwkSkipReason::Curve(crv.to_owned()));
    }
    if entry.member("d").is_some() {
        return Err(JwkSkipReason::PrivateKey);
    }
    let key_use = text("use")?;
    if let Some(u) = key_use.filter(|u| *u != "sig") {
        return Err(JwkSkipReason::Use(u.to_owned()));
    }
    let algorithm = text("alg")?;
    if let Some(a) = algorithm.filter(|a| *a != super::ALGORITHM) {
        return Err(JwkSkipReason::Algorithm(a.to_owned()));
    }
    let kid = text("kid")?.filter(|k| !k.is_empty()).ok_or(JwkSkipReason::MissingKid)?;
    let coordinate = |name: &str| -> Result<[u8; 32], JwkSkipReason> {
        let b64 = text(name)?.ok_or(JwkSkipReason::Coordinates("x or y is missing"))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(b64)
            .map_err(|_| JwkSkipReason::Coordinates("x or y is not unpadded base64url"))?;
        bytes.try_into().map_err(|_| JwkSkipReason::Coordinates("x or y is not 32 bytes"))
    };
    let mut sec1 = Vec::with_capacity(65);
    sec1.push(0x04);
    sec1.extend_from_slice(&coordinate("x")?);
    sec1.extend_from_slice(&coordinate("y")?);
    let key = VerifyingKey::from_sec1_bytes(&sec1)
        .map_err(|_| JwkSkipReason::Coordinates("not a point on P-256"))?;
    Ok(Jwk {
        kid: kid.to_owned(),
        key,
        algorithm: algorithm.map(str::to_owned),
        key_use: key_use.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use p256::ecdsa::SigningKey;
    use p256::elliptic_curve::Generate as _;
    use rand::SeedableRng as _;
    use rand::rngs::StdRng;

    use super::*;

    /// RFC 7515 Appendix A.3's public key.
    const RFC_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const RFC_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

    fn ec(kid: &str) -> serde_json::Value {
        serde_json::json!({"kty": "EC", "crv": "P-256", "x": RFC_X, "y": RFC_Y, "kid": kid})
    }

    #[test]
    fn both_shapes_parse() {
        let array = serde_json::json!([ec("r1v1")]).to_string();
        let object = serde_json::json!({"keys": [ec("r1v1")]}).to_string();
        let a = parse_jwks(array.as_bytes()).unwrap();
        let o = parse_jwks(object.as_bytes()).unwrap();
        assert_eq!(a, o);
        assert_eq!(a.keys.len(), 1);
        assert!(a.skipped.is_empty());
        assert_eq!(a.find("r1v1").map(|k| k.kid.as_str()), Some("r1v1"));
        assert!(a.find("r1v2").is_none());
        assert_eq!(parse_jwks(b"[]"), Ok(JwkSet::default()));
        assert_eq!(parse_jwks(br#"{"keys":[]}"#), Ok(JwkSet::default()));
    }

    #[test]
    fn unusable_keys_are_skipped_with_a_reason() {
        let with = |k: &str, v: serde_json::Value| {
            let mut j = ec("k");
            j[k] = v;
            j
        };
        let mut without_kid = ec("k");
        without_kid.as_object_mut().unwrap().remove("kid");
        let entries = serde_json::json!([
            {"kty": "RSA", "kid": "rsa", "n": "AQAB", "e": "AQAB"},
            with("crv", "P-384".into()),
            with("use", "enc".into()),
            with("alg", "ES384".into()),
            with("d", "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI".into()),
            without_kid,
            with("kid", "".into()),
            with("x", "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU=".into()),
            with("x", "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVA".into()),
            with("y", "y_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0".into()),
            with("kid", 7.into()),
            "not an object",
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            ec("good"),
        ]);
        let set = parse_jwks(entries.to_string().as_bytes()).unwrap();
        assert_eq!(set.keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(), ["good"]);
        let reasons: Vec<String> = set.skipped.iter().map(|s| s.reason.to_string()).collect();
        assert_eq!(
            reasons,
            [
                r#"key type "RSA" is not supported"#,
                r#"curve "P-384" is not supported"#,
                r#"key use "enc" is not sig"#,
                r#"algorithm "ES384" is not ES256"#,
                "key contains private key material",
                "key has no kid",
                "key has no kid",
                "key coordinates are invalid: x or y is not unpadded base64url",
                "key coordinates are invalid: x or y is not 32 bytes",
                "key coordinates are invalid: not a point on P-256",
                "malformed key: kid is a number",
                "malformed key: a JWK must be an object, got string",
                r#"key type "OKP" is not supported"#,
            ]
        );
        assert_eq!(set.skipped[0].kid.as_deref(), Some("rsa"));
        assert_eq!(set.skipped[0].index, 0);
    }

    #[test]
    fn whole_set_refusals() {
        assert!(matches!(parse_jwks(b"{"), Err(JwksError::Json(_))));
        assert!(matches!(parse_jwks(b"[] []"), Err(JwksError::Json(_))));
        for shape in [&b"{}"[..], br#"{"keys":{}}"#, b"7", br#"{"keys":[],"keys":[]}"#] {
            assert_eq!(parse_jwks(shape), Err(JwksError::Shape));
        }
        let twice = serde_json::json!([ec("same"), ec("same")]).to_string();
        assert_eq!(parse_jwks(twice.as_bytes()), Err(JwksError::DuplicateKid("same".to_owned())));
    }

    #[test]
    fn serialisation_round_trips() {
        let mut rng = StdRng::seed_from_u64(3);
        let keys: Vec<Jwk> = (0..3)
            .map(|i| {
                Jwk::new(
                    &format!("r1v{i}"),
                    *SigningKey::generate_from_rng(&mut rng).verifying_key(),
                )
            })
            .collect();
        let set = JwkSet { keys, skipped: vec![] };
        assert_eq!(parse_jwks(set.to_json_array().as_bytes()), Ok(set.clone()));
        assert_eq!(parse_jwks(set.to_json_object().as_bytes()), Ok(set.clone()));
        let rfc = parse_jwks(serde_json::json!([ec("a3")]).to_string().as_bytes()).unwrap();
        assert_eq!(
            rfc.keys[0].to_json(),
            format!(r#"{{"kty":"EC","crv":"P-256","x":"{RFC_X}","y":"{RFC_Y}","kid":"a3"}}"#)
        );
        assert!(!format!("{:?}", set.keys[0]).contains("VerifyingKey"));
    }
}
