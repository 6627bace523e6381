use p256::elliptic_curve::Generate as _;
use proptest::prelude::*;
use rand::SeedableRng as _;
use rand::rngs::StdRng;

use super::*;

/// RFC 7515 Appendix A.3: an ES256 JWS over A.1's payload, with its published P-256 key. Its
/// header has no `kid`.
const RFC_7515_A3: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

fn rfc_key() -> VerifyingKey {
    let set = parse_jwks(
        br#"[{"kty":"EC","crv":"P-256","kid":"a3",
            "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]"#,
    )
    .unwrap();
    set.keys[0].key
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with an arbitrary header and payload and a signature by `key` over them.
fn forge(header: &str, payload: &str, key: &SigningKey) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let sig: Signature = p256::ecdsa::signature::Signer::sign(key, input.as_bytes());
    format!("{input}.{}", b64(&sig.to_bytes()))
}

fn key(seed: u64) -> SigningKey {
    SigningKey::generate_from_rng(&mut StdRng::seed_from_u64(seed))
}

#[test]
fn rfc_7515_a3_verifies() {
    let jwt = Jwt::parse_allowing_missing_kid(RFC_7515_A3).unwrap();
    assert_eq!(jwt.kid(), None);
    let payload = jwt.verify(&rfc_key()).unwrap();
    assert_eq!(
        payload,
        b"{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}"
    );
    // Without the explicit opt-out, §3.5's kid rule applies.
    assert_eq!(Jwt::parse(RFC_7515_A3), Err(JwtError::MissingKid));
}

#[test]
fn rfc_7515_a3_with_any_bit_flipped_is_refused() {
    let sig_start = RFC_7515_A3.rfind('.').unwrap() + 1;
    let raw = URL_SAFE_NO_PAD.decode(&RFC_7515_A3[sig_start..]).unwrap();
    for bit in 0..raw.len() * 8 {
        let mut bad = raw.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        let token = format!("{}{}", &RFC_7515_A3[..sig_start], b64(&bad));
        let refused =
            Jwt::parse_allowing_missing_kid(&token).and_then(|j| j.verify(&rfc_key()).map(|_| ()));
        assert_eq!(refused, Err(JwtError::Signature), "bit {bit}");
    }
    // A flipped bit in the signed part: the payload is different, so the signature fails.
    let mut payload = URL_SAFE_NO_PAD.decode(RFC_7515_A3.split('.').nth(1).unwrap()).unwrap();
    payload[10] ^= 1;
    let parts: Vec<&str> = RFC_7515_A3.split('.').collect();
    let token = format!("{}.{}.{}", parts[0], b64(&payload), parts[2]);
    let jwt = Jwt::parse_allowing_missing_kid(&token).unwrap();
    assert_eq!(jwt.verify(&rfc_key()), Err(JwtError::Signature));
}

#[test]
fn sign_and_verify_round_trip() {
    let mut rng = StdRng::seed_from_u64(9);
    let signing = key(1);
    let token = sign(r#"{"iss":"x"}"#, "r1v2", &signing, &mut rng).unwrap();
    let header = URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap();
    assert_eq!(header, br#"{"alg":"ES256","kid":"r1v2","typ":"JWT"}"#);
    let jwt = Jwt::parse(&token).unwrap();
    assert_eq!(jwt.kid(), Some("r1v2"));
    assert_eq!(jwt.header().typ.as_deref(), Some("JWT"));
    assert_eq!(jwt.unverified_payload(), br#"{"iss":"x"}"#);
    assert_eq!(jwt.verify(signing.verifying_key()), Ok(&br#"{"iss":"x"}"#[..]));
    assert_eq!(jwt.verify(key(2).verifying_key()), Err(JwtError::Signature));
    // Our signatures are low S; the high-S twin verifies too (documented in the module).
    let sig =
        Signature::from_slice(&URL_SAFE_NO_PAD.decode(token.rsplit('.').next().unwrap()).unwrap())
            .unwrap();
    assert_eq!(sig.normalize_s(), sig, "signatures are emitted low-S");
    let (r, s) = sig.split_scalars();
    let high = Signature::from_scalars(r.to_bytes(), (-*s).to_bytes()).unwrap();
    assert_ne!(high, sig);
    let input = token.rsplit_once('.').unwrap().0;
    let high_token = format!("{input}.{}", b64(&high.to_bytes()));
    assert!(Jwt::parse(&high_token).unwrap().verify(signing.verifying_key()).is_ok());
    // Kids are JSON-escaped in the header.
    let odd = sign("{}", "a\"b\\c", &signing, &mut rng).unwrap();
    assert_eq!(Jwt::parse(&odd).unwrap().kid(), Some("a\"b\\c"));
}

#[test]
fn refusals_each_have_their_own_variant() {
    let k = key(4);
    let ok_payload = "{}";
    let cases: Vec<(String, JwtError)> = vec![
        (forge(r#"{"alg":"none","kid":"k"}"#, ok_payload, &k), JwtError::AlgorithmNone),
        (
            format!("{}.{}.", b64(br#"{"alg":"none","kid":"k"}"#), b64(b"{}")),
            JwtError::AlgorithmNone,
        ),
        (
            forge(r#"{"alg":"HS256","kid":"k"}"#, ok_payload, &k),
            JwtError::AlgorithmHmac { alg: "HS256".to_owned() },
        ),
        (
            forge(r#"{"alg":"RS256","kid":"k"}"#, ok_payload, &k),
            JwtError::AlgorithmNotAllowed { alg: "RS256".to_owned() },
        ),
        (
            forge(r#"{"alg":"ES384","kid":"k"}"#, ok_payload, &k),
            JwtError::AlgorithmNotAllowed { alg: "ES384".to_owned() },
        ),
        (
            forge(r#"{"alg":"es256","kid":"k"}"#, ok_payload, &k),
            JwtError::AlgorithmNotAllowed { alg: "es256".to_owned() },
        ),
        (forge(r#"{"alg":"ES256"}"#, ok_payload, &k), JwtError::MissingKid),
        (forge(r#"{"alg":"ES256","kid":""}"#, ok_payload, &k), JwtError::MissingKid),
        (
            forge(r#"{"alg":"ES256","kid":"k","typ":"at+jwt"}"#, ok_payload, &k),
            JwtError::Type { typ: "at+jwt".to_owned() },
        ),
        (forge(r#"{"alg":"ES256","kid":"k","crit":["b64"]}"#, ok_payload, &k), JwtError::Critical),
        (
            forge(r#"{"alg":"ES256","kid":"k","alg":"none"}"#, ok_payload, &k),
            JwtError::Header(r#"parameter "alg" appears twice"#.to_owned()),
        ),
        (forge(r#"{"kid":"k"}"#, ok_payload, &k), JwtError::Header("no alg".to_owned())),
        (
            forge(r#"{"alg":"ES256","kid":7}"#, ok_payload, &k),
            JwtError::Header("kid is a number, not a string".to_owned()),
        ),
        (
            forge(r#"["ES256","k"]"#, ok_payload, &k),
            JwtError::Header("not a JSON object".to_owned()),
        ),
        ("a.b".to_owned(), JwtError::Segments { count: 2 }),
        ("a.b.c.d".to_owned(), JwtError::Segments { count: 4 }),
        (String::new(), JwtError::Segments { count: 1 }),
        (
            "x".repeat(MAX_TOKEN_LEN + 1),
            JwtError::TooLarge { len: MAX_TOKEN_LEN + 1, max: MAX_TOKEN_LEN },
        ),
    ];
    for (token, expected) in cases {
        assert_eq!(Jwt::parse(&token), Err(expected), "{token}");
    }
}

#[test]
fn only_canonical_base64url_is_accepted() {
    let mut rng = StdRng::seed_from_u64(5);
    let k = key(6);
    let token = sign(r#"{"a":1}"#, "k", &k, &mut rng).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let join = |h: &str, p: &str, s: &str| format!("{h}.{p}.{s}");
    // Padding, the standard alphabet, whitespace and non-zero trailing bits are all refused.
    let padded_header = URL_SAFE_NO_PAD
        .decode(parts[0])
        .map(|h| base64::engine::general_purpose::URL_SAFE.encode(h))
        .unwrap();
    let with_plus = "eyJhbGciOiJFUzI1NiIsImtpZCI6IisvIn0+"; // not even valid; '+' is not url-safe
    let cases = [
        (join(&format!("{}=", parts[0]), parts[1], parts[2]), Segment::Header),
        (join(&padded_header, parts[1], parts[2]), Segment::Header),
        (join(with_plus, parts[1], parts[2]), Segment::Header),
        (join(parts[0], &format!(" {}", parts[1]), parts[2]), Segment::Payload),
        (join(parts[0], parts[1], &format!("{}=", parts[2])), Segment::Signature),
        (
            join(parts[0], parts[1], &parts[2].replace('-', "+").replace('_', "/")),
            Segment::Signature,
        ),
    ];
    for (token, segment) in cases {
        if token == join(parts[0], parts[1], parts[2]) {
            continue; // The replacement found nothing to replace.
        }
        assert_eq!(Jwt::parse(&token), Err(JwtError::Base64(segment)), "{token}");
    }
    // "e30" is {} canonically; "e31" decodes to the same bytes with a non-zero trailing bit.
    let canonical = forge(r#"{"alg":"ES256","kid":"k"}"#, "{}", &k);
    assert!(canonical.contains(".e30."));
    assert_eq!(
        Jwt::parse(&canonical.replace(".e30.", ".e31.")),
        Err(JwtError::Base64(Segment::Payload))
    );
}

#[test]
fn signature_length_and_range() {
    let k = key(7);
    let good = forge(r#"{"alg":"ES256","kid":"k"}"#, "{}", &k);
    let input = good.rsplit_once('.').unwrap().0;
    for len in [0, 63, 65, 72] {
        let token = format!("{input}.{}", b64(&vec![1; len]));
        assert_eq!(Jwt::parse(&token), Err(JwtError::SignatureLength { len }));
    }
    // DER (what a KMS returns before conversion) is refused by length.
    let sig =
        Signature::from_slice(&URL_SAFE_NO_PAD.decode(good.rsplit('.').next().unwrap()).unwrap())
            .unwrap();
    let der = sig.to_der();
    let token = format!("{input}.{}", b64(der.as_bytes()));
    assert!(matches!(Jwt::parse(&token), Err(JwtError::SignatureLength { .. })));
    // R or S zero, or not below the group order.
    for raw in [[0_u8; 64], [0xff; 64]] {
        let token = format!("{input}.{}", b64(&raw));
        assert_eq!(Jwt::parse(&token), Err(JwtError::Signature));
    }
}

#[test]
fn certificates_end_to_end() {
    let mut rng = StdRng::seed_from_u64(8);
    let k = key(9);
    let claims = VerificationCertificateClaims {
        issuer: "iss".to_owned(),
        audience: Audience::One("aud".to_owned()),
        issued_at: Some(herald_model::UnixTime(100)),
        not_before: Some(herald_model::UnixTime(100)),
        expires_at: herald_model::UnixTime(1000),
        report_type: crate::publish::VerificationReportType::UserReport,
        symptom_onset_interval: None,
        tekmac: "mac".to_owned(),
        jwt_id: Some("j".to_owned()),
    };
    let token = sign(&claims.to_json(), "r1v1", &k, &mut rng).unwrap();
    assert_eq!(verify_certificate(&token, k.verifying_key()), Ok(claims));
    assert_eq!(verify_certificate(&token, key(10).verifying_key()), Err(JwtError::Signature));
    let bad_claims = sign(r#"{"iss":"iss"}"#, "r1v1", &k, &mut rng).unwrap();
    assert_eq!(
        verify_certificate(&bad_claims, k.verifying_key()),
        Err(JwtError::Claims(ClaimsError::Missing("aud")))
    );
    let token_claims = VerificationTokenClaims {
        issuer: "t".to_owned(),
        audience: "t".to_owned(),
        jwt_id: VerificationTokenClaims::random_jwt_id(&mut rng),
        subject: TokenSubject::parse("likely.2026-11-01.2026-11-02").unwrap(),
        issued_at: herald_model::UnixTime(5),
        expires_at: herald_model::UnixTime(86_405),
    };
    let token = sign(&token_claims.to_json(), "uuid", &k, &mut rng).unwrap();
    assert_eq!(verify_token(&token, k.verifying_key()), Ok(token_claims));
}

proptest! {
    #[test]
    fn parse_never_panics(text in "[A-Za-z0-9_\\-.=+/ ]{0,300}") {
        if let Ok(jwt) = Jwt::parse(&text) {
            let _ = jwt.verify(&rfc_key());
        }
    }

    #[test]
    fn parse_never_panics_on_structured_garbage(
        header in proptest::collection::vec(any::<u8>(), 0..80),
        payload in proptest::collection::vec(any::<u8>(), 0..80),
        signature in proptest::collection::vec(any::<u8>(), 0..80),
    ) {
        let token = format!("{}.{}.{}", b64(&header), b64(&payload), b64(&signature));
        if let Ok(jwt) = Jwt::parse_allowing_missing_kid(&token) {
            prop_assert!(jwt.verify(&rfc_key()).is_err());
        }
    }

    #[test]
    fn any_payload_round_trips(payload in "\\PC{0,200}", kid in "[a-z0-9]{1,20}", seed in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let k = key(seed);
        let token = sign(&payload, &kid, &k, &mut rng).unwrap();
        let jwt = Jwt::parse(&token).unwrap();
        prop_assert_eq!(jwt.kid(), Some(kid.as_str()));
        prop_assert_eq!(jwt.verify(k.verifying_key()).unwrap(), payload.as_bytes());
    }
}
