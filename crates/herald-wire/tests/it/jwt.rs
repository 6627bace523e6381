//! ES256 JWTs against an independent implementation, Python's `cryptography`, in both
//! directions: Python verifies our tokens (converting R ‖ S to DER with
//! `utils.encode_dss_signature`), and we verify tokens Python signed, with keys it publishes as a
//! JWK set. Python's signatures are not normalised, so about half of them are high-S.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use herald_model::UnixTime;
use herald_wire::jwt::{self, Audience, Jwk, JwkSet, Jwt, JwtError, VerificationCertificateClaims};
use herald_wire::publish::VerificationReportType;
use p256::ecdsa::SigningKey;
use p256::elliptic_curve::Generate as _;
use rand::SeedableRng as _;
use rand::rngs::StdRng;

const PYTHON_VERIFY: &str = r#"
import base64, json, sys
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

results = []
for case in json.load(sys.stdin):
    jwk = case["jwk"]
    assert jwk["kty"] == "EC" and jwk["crv"] == "P-256", jwk
    key = ec.EllipticCurvePublicNumbers(
        int.from_bytes(b64d(jwk["x"]), "big"), int.from_bytes(b64d(jwk["y"]), "big"),
        ec.SECP256R1()).public_key()
    header, payload, signature = case["token"].split(".")
    h = json.loads(b64d(header))
    assert h == {"alg": "ES256", "kid": jwk["kid"], "typ": "JWT"}, h
    raw = b64d(signature)
    assert len(raw) == 64
    der = utils.encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        key.verify(der, (header + "." + payload).encode(), ec.ECDSA(hashes.SHA256()))
        results.append(json.loads(b64d(payload)))
    except InvalidSignature:
        results.append(None)
print(json.dumps(results))
"#;

const PYTHON_SIGN: &str = r#"
import base64, json, sys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

def b64e(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

request = json.load(sys.stdin)
keys, tokens = [], []
for i in range(request["keys"]):
    private = ec.generate_private_key(ec.SECP256R1())
    numbers = private.public_key().public_numbers()
    kid = "py%d" % i
    keys.append({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
                 "x": b64e(numbers.x.to_bytes(32, "big")), "y": b64e(numbers.y.to_bytes(32, "big"))})
    for payload in request["payloads"]:
        header = b64e(json.dumps({"alg": "ES256", "kid": kid, "typ": "JWT"}).encode())
        body = b64e(payload.encode())
        der = private.sign((header + "." + body).encode(), ec.ECDSA(hashes.SHA256()))
        r, s = utils.decode_dss_signature(der)
        tokens.append(header + "." + body + "." + b64e(r.to_bytes(32, "big") + s.to_bytes(32, "big")))
print(json.dumps({"jwks": keys, "tokens": tokens}))
"#;

fn certificate(i: i64) -> VerificationCertificateClaims {
    VerificationCertificateClaims {
        issuer: "diagnosis-verification-example".to_owned(),
        audience: Audience::One("exposure-notifications-server".to_owned()),
        issued_at: Some(UnixTime(1_795_869_291 + i)),
        not_before: Some(UnixTime(1_795_869_291 + i)),
        expires_at: UnixTime(1_795_870_191 + i),
        report_type: VerificationReportType::ALL[usize::try_from(i).unwrap() % 4],
        symptom_onset_interval: Some(2_992_896),
        tekmac: "2u1nHt5WWurJytFLF3xitNzM99oNrad2y4YGOL53AeY=".to_owned(),
        jwt_id: None,
    }
}

#[test]
fn python_verifies_our_tokens() {
    let mut rng = StdRng::seed_from_u64(0x1a7);
    let mut cases = Vec::new();
    let mut expected = Vec::new();
    for i in 0..40 {
        let key = SigningKey::generate_from_rng(&mut rng);
        let kid = format!("r1v{i}");
        let claims = certificate(i);
        let token = jwt::sign(&claims.to_json(), &kid, &key, &mut rng).unwrap();
        let jwk: serde_json::Value =
            serde_json::from_str(&Jwk::new(&kid, *key.verifying_key()).to_json()).unwrap();
        let claims_json: serde_json::Value = serde_json::from_str(&claims.to_json()).unwrap();
        // Every fourth case is tampered with (one signature bit): Python must refuse it too.
        if i % 4 == 3 {
            let (input, sig) = token.rsplit_once('.').unwrap();
            let mut raw = URL_SAFE_NO_PAD.decode(sig).unwrap();
            raw[5] ^= 0x10;
            let bad = format!("{input}.{}", URL_SAFE_NO_PAD.encode(raw));
            assert_eq!(
                Jwt::parse(&bad).and_then(|j| j.verify(key.verifying_key()).map(|_| ())),
                Err(JwtError::Signature)
            );
            cases.push(serde_json::json!({"token": bad, "jwk": jwk}));
            expected.push(serde_json::Value::Null);
        } else {
            cases.push(serde_json::json!({"token": token, "jwk": jwk}));
            expected.push(claims_json);
        }
    }
    let input = serde_json::to_vec(&cases).unwrap();
    let Some(out) = herald_testkit::run_python(&["cryptography"], PYTHON_VERIFY, &input) else {
        return;
    };
    let results: Vec<serde_json::Value> = serde_json::from_slice(&out).unwrap();
    assert_eq!(results, expected);
}

#[test]
fn we_verify_python_tokens() {
    let payloads: Vec<String> = (0..6).map(|i| certificate(i).to_json()).collect();
    let request = serde_json::json!({"keys": 5, "payloads": payloads});
    let Some(out) = herald_testkit::run_python(
        &["cryptography"],
        PYTHON_SIGN,
        &serde_json::to_vec(&request).unwrap(),
    ) else {
        return;
    };
    let out: serde_json::Value = serde_json::from_slice(&out).unwrap();
    // The key set as the verification service serves it: a bare array.
    let set: JwkSet = jwt::parse_jwks(out["jwks"].to_string().as_bytes()).unwrap();
    assert_eq!(set.keys.len(), 5);
    assert!(set.skipped.is_empty());
    let tokens: Vec<String> = serde_json::from_value(out["tokens"].clone()).unwrap();
    assert_eq!(tokens.len(), 30);
    let mut high_s = 0;
    for (n, token) in tokens.iter().enumerate() {
        let parsed = Jwt::parse(token).unwrap();
        let key = set.find(parsed.kid().unwrap()).unwrap().key;
        let claims = jwt::verify_certificate(token, &key).unwrap();
        assert_eq!(claims, certificate(i64::try_from(n % 6).unwrap()));
        claims
            .validate(
                UnixTime(1_795_869_300),
                "diagnosis-verification-example",
                "exposure-notifications-server",
                5,
            )
            .unwrap();
        // A different key of the set does not verify it.
        let other = &set.keys[(n / 6 + 1) % 5].key;
        assert_eq!(jwt::verify_certificate(token, other), Err(JwtError::Signature));
        // One flipped bit in the signed input or the signature is refused.
        let mut bytes = token.clone().into_bytes();
        let at = bytes.len() - 3;
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(bytes).unwrap();
        assert!(jwt::verify_certificate(&flipped, &key).is_err());
        let s = URL_SAFE_NO_PAD.decode(token.rsplit('.').next().unwrap()).unwrap();
        let sig = p256::ecdsa::Signature::from_slice(&s).unwrap();
        if sig.normalize_s() != sig {
            high_s += 1;
        }
    }
    // Python does not normalise S: the high-S half is accepted, as documented.
    assert!(high_s > 0, "expected some high-S signatures from Python among 30");
}
