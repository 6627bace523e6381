//! Fuzz entry points for JWTs and JWK sets.

use p256::ecdsa::VerifyingKey;

use crate::jwt::{self, Jwt, VerificationCertificateClaims, VerificationTokenClaims};

/// RFC 7515 Appendix A.3's P-256 public key, uncompressed SEC1.
const RFC_7515_A3_KEY: [u8; 65] = [
    0x04, 0x7f, 0xcd, 0xce, 0x27, 0x70, 0xf6, 0xc4, 0x5d, 0x41, 0x83, 0xcb, 0xee, 0x6f, 0xdb, 0x4b,
    0x7b, 0x58, 0x07, 0x33, 0x35, 0x7b, 0xe9, 0xef, 0x13, 0xba, 0xcf, 0x6e, 0x3c, 0x7b, 0xd1, 0x54,
    0x45, 0xc7, 0xf1, 0x44, 0xcd, 0x1b, 0xbd, 0x9b, 0x7e, 0x87, 0x2c, 0xdf, 0xed, 0xb9, 0xee, 0xb9,
    0xf4, 0xb3, 0x69, 0x5d, 0x6e, 0xa9, 0x0b, 0x24, 0xad, 0x8a, 0x46, 0x23, 0x28, 0x85, 0x88, 0xe5,
    0xad,
];

/// A token: parsing and verifying never panic, nor does decoding either kind of claims from the
/// (unverified) payload; decoded claims re-encode to the same claims.
pub fn fuzz_jwt_verify(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else { return };
    let Ok(key) = VerifyingKey::from_sec1_bytes(&RFC_7515_A3_KEY) else { return };
    let _ = jwt::verify_certificate(token, &key);
    let _ = jwt::verify_token(token, &key);
    let Ok(parsed) = Jwt::parse_allowing_missing_kid(token) else { return };
    let _ = parsed.verify(&key);
    let payload = parsed.unverified_payload();
    if let Ok(claims) = VerificationCertificateClaims::from_json(payload) {
        let again = VerificationCertificateClaims::from_json(claims.to_json().as_bytes());
        assert_eq!(again, Ok(claims), "certificate claims round trip");
    }
    if let Ok(claims) = VerificationTokenClaims::from_json(payload) {
        let again = VerificationTokenClaims::from_json(claims.to_json().as_bytes());
        assert_eq!(again, Ok(claims), "token claims round trip");
    }
}

/// A JWK set: parsing never panics; the usable keys serialise in both shapes and parse back to
/// the same keys.
pub fn fuzz_jwks(data: &[u8]) {
    let Ok(set) = jwt::parse_jwks(data) else { return };
    for text in [set.to_json_array(), set.to_json_object()] {
        let again = jwt::parse_jwks(text.as_bytes()).map(|s| s.keys);
        assert_eq!(again.as_ref(), Ok(&set.keys), "jwks round trip");
    }
}
