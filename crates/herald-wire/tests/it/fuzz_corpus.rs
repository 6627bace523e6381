//! Replays the committed fuzz corpus on stable, in every test run.

#[test]
fn keys_json_corpus() {
    for (_, bytes) in herald_testkit::fuzz_corpus("keys_json") {
        herald_wire::fuzzing::fuzz_keys_json(&bytes);
    }
}

#[test]
fn publish_json_corpus() {
    for (_, bytes) in herald_testkit::fuzz_corpus("publish_json") {
        herald_wire::fuzzing::fuzz_publish_json(&bytes);
    }
}

#[test]
fn jwt_verify_corpus() {
    for (_, bytes) in herald_testkit::fuzz_corpus("jwt_verify") {
        herald_wire::fuzzing::fuzz_jwt_verify(&bytes);
    }
}

#[test]
fn jwks_corpus() {
    for (_, bytes) in herald_testkit::fuzz_corpus("jwks") {
        herald_wire::fuzzing::fuzz_jwks(&bytes);
    }
}

#[test]
fn verification_json_corpus() {
    for (_, bytes) in herald_testkit::fuzz_corpus("verification_json") {
        herald_wire::fuzzing::fuzz_verification_json(&bytes);
    }
}

#[test]
fn revision_token_corpus() {
    for (_, bytes) in herald_testkit::fuzz_corpus("revision_token") {
        herald_wire::fuzzing::fuzz_revision_token(&bytes);
        herald_wire::fuzzing::fuzz_verification_json(&bytes);
    }
}

/// The seeds reach past the first checks: a corpus of inputs that all fail early would fuzz
/// nothing.
#[test]
fn seeds_reach_the_deep_paths() {
    use herald_wire::jwt::{self, Jwt};
    use herald_wire::publish::{decode_request, revision};
    let corpus = |target: &str, name: &str| {
        herald_testkit::fuzz_corpus(target)
            .into_iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{target}/{name} is missing"))
            .1
    };
    let request = decode_request(&corpus("publish_json", "ens_example.json")).unwrap();
    assert_eq!(request.keys.len(), 3);
    let rfc = String::from_utf8(corpus("jwt_verify", "rfc7515_a3.jwt")).unwrap();
    assert!(Jwt::parse_allowing_missing_kid(&rfc).is_ok());
    let cert = String::from_utf8(corpus("jwt_verify", "certificate.jwt")).unwrap();
    let claims = Jwt::parse(&cert).unwrap().unverified_payload().to_vec();
    assert!(jwt::VerificationCertificateClaims::from_json(&claims).is_ok());
    let set = jwt::parse_jwks(&corpus("jwks", "keys_object_mixed.json")).unwrap();
    assert_eq!((set.keys.len(), set.skipped.len()), (1, 3));
    // Sealed by Python's `cryptography` AESGCM with key 07…07 and AAD "fuzz aad".
    let keys =
        revision::open(&corpus("revision_token", "three_keys_padded.bin"), b"fuzz aad", |kid| {
            (kid == "1").then(|| revision::RevisionKey::from_bytes([7; 32]))
        })
        .unwrap();
    let starts: Vec<u32> = keys.iter().map(|k| k.rolling_start.get()).collect();
    assert_eq!(starts, [2_993_040, 2_992_896, 2_992_752]);
}

proptest::proptest! {
    /// The fuzz entry points (decoders plus their round-trip assertions) never panic, on bytes
    /// and on JSON-shaped text.
    #[test]
    fn fuzz_entry_points_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
        herald_wire::fuzzing::fuzz_publish_json(&bytes);
        herald_wire::fuzzing::fuzz_jwt_verify(&bytes);
        herald_wire::fuzzing::fuzz_jwks(&bytes);
        herald_wire::fuzzing::fuzz_revision_token(&bytes);
    }

    #[test]
    fn json_decoders_never_panic_on_json_like_text(text in r#"[\[\]{}:,"a-zA-Z0-9_\-=+/. ]{0,200}"#) {
        herald_wire::fuzzing::fuzz_publish_json(text.as_bytes());
        herald_wire::fuzzing::fuzz_jwks(text.as_bytes());
        herald_wire::fuzzing::fuzz_jwt_verify(text.as_bytes());
        herald_wire::fuzzing::fuzz_verification_json(text.as_bytes());
    }
}

proptest::proptest! {
    /// Calendar dates: every day from 1970 to 9999 formats and parses back to itself.
    #[test]
    fn verification_dates_round_trip(day in 0i64..2_932_896) {
        let text = herald_model::Date::from_utc_day(day).unwrap().to_string();
        proptest::prop_assert_eq!(
            herald_wire::verification::parse_date(&text).map(herald_model::Date::utc_day),
            Some(day)
        );
    }
}
