//! Bad input and abuse, table-driven: each case gets the documented status and `errorCode`,
//! an error message, and leaves the storage unchanged.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use herald_model::UnixTime;
use herald_wire::jwt::{TokenSubject, VerificationTokenClaims};
use p256::pkcs8::DecodePrivateKey as _;
use serde_json::{Value, json};

use crate::support::{Running, dev_world, hmac_b64, start, today};

#[derive(Clone, Copy)]
enum Key {
    Admin,
    Device,
    None,
    Wrong,
}

struct Case {
    name: &'static str,
    path: &'static str,
    key: Key,
    body: Vec<u8>,
    status: u16,
    code: &'static str,
}

fn case(
    name: &'static str,
    path: &'static str,
    key: Key,
    body: &Value,
    status: u16,
    code: &'static str,
) -> Case {
    Case { name, path, key, body: body.to_string().into_bytes(), status, code }
}

fn raw(
    name: &'static str,
    path: &'static str,
    key: Key,
    body: &[u8],
    status: u16,
    code: &'static str,
) -> Case {
    Case { name, path, key, body: body.to_vec(), status, code }
}

/// A token signed with `key` (kid `kid`) over `claims`, or with a raw header.
fn forge(header: &Value, payload: &str, key: &p256::ecdsa::SigningKey) -> String {
    use p256::ecdsa::signature::Signer as _;
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

fn token_claims(v: &Running, issuer: &str, iat: i64, exp: i64) -> String {
    VerificationTokenClaims {
        issuer: issuer.into(),
        audience: issuer.into(),
        jwt_id: VerificationTokenClaims::random_jwt_id(&mut rand::rng()),
        subject: TokenSubject::parse(&format!("confirmed.{}.", today(v.now()))).unwrap(),
        issued_at: UnixTime(iat),
        expires_at: UnixTime(exp),
    }
    .to_json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_and_abuse_are_refused_and_change_nothing() {
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |_| {}).await;
    let now = v.now();
    let date = today(now);
    let verifier_dir = dir.path().join("DE").join("verifier");
    let token_key = p256::ecdsa::SigningKey::from_pkcs8_pem(
        &std::fs::read_to_string(verifier_dir.join("token-signing.key.pem")).unwrap(),
    )
    .unwrap();
    let certificate_key = p256::ecdsa::SigningKey::from_pkcs8_pem(
        &std::fs::read_to_string(verifier_dir.join("certificate-signing.key.pem")).unwrap(),
    )
    .unwrap();
    let stranger = p256::ecdsa::SigningKey::from_slice(&[0x77; 32]).unwrap();
    let issuer = "herald-verifier-de-token";
    let es256 = |kid: &str| json!({"alg": "ES256", "kid": kid, "typ": "JWT"});

    // Fixtures: a used code, an expired code, a negative-test code, a used token.
    let used = v.issue("confirmed").await["code"].as_str().unwrap().to_owned();
    assert_eq!(v.verify(&used).await.0, 200);
    let expired = v.issue("confirmed").await;
    v.call("/api/expirecode", Some(&v.admin), &json!({"uuid": expired["uuid"]})).await;
    let expired = expired["code"].as_str().unwrap().to_owned();
    let negative = v.issue("negative").await["code"].as_str().unwrap().to_owned();
    let used_token = v.token().await;
    assert_eq!(v.certificate(&used_token, &hmac_b64(1)).await.0, 200);
    let good_token = v.token().await;
    let taken = v.issue("confirmed").await["uuid"].as_str().unwrap().to_owned();

    let valid = token_claims(&v, issuer, now, now + 3600);
    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "kid": "t1"}).to_string()),
        URL_SAFE_NO_PAD.encode(&valid)
    );
    let hs256 = forge(&json!({"alg": "HS256", "kid": "t1", "typ": "JWT"}), &valid, &token_key);
    let tampered = {
        let (h, rest) = good_token.split_once('.').unwrap();
        let (p, s) = rest.split_once('.').unwrap();
        let mut payload = URL_SAFE_NO_PAD.decode(p).unwrap();
        let at = payload.len() / 2;
        payload[at] ^= 0x01;
        format!("{h}.{}.{s}", URL_SAFE_NO_PAD.encode(payload))
    };
    let cert_token = |t: &str| json!({"token": t, "ekeyhmac": hmac_b64(1)});
    let big = vec![b' '; 70 * 1024];

    let cases = vec![
        // /api/verify
        case(
            "unknown code",
            "/api/verify",
            Key::Device,
            &json!({"code": "12345678"}),
            400,
            "code_invalid",
        ),
        case(
            "malformed code",
            "/api/verify",
            Key::Device,
            &json!({"code": "12ab!?"}),
            400,
            "code_invalid",
        ),
        case("empty code", "/api/verify", Key::Device, &json!({"code": ""}), 400, "code_invalid"),
        case(
            "reused code",
            "/api/verify",
            Key::Device,
            &json!({"code": used}),
            400,
            "code_invalid",
        ),
        case(
            "code expired by its issuer",
            "/api/verify",
            Key::Device,
            &json!({"code": expired}),
            400,
            "code_expired",
        ),
        case(
            "test type not accepted",
            "/api/verify",
            Key::Device,
            &json!({"code": negative, "accept": ["confirmed"]}),
            412,
            "unsupported_test_type",
        ),
        case(
            "unknown accept value",
            "/api/verify",
            Key::Device,
            &json!({"code": negative, "accept": ["positive"]}),
            400,
            "invalid_test_type",
        ),
        raw("malformed JSON", "/api/verify", Key::Device, b"{\"code\":", 400, "unparsable_request"),
        raw("JSON array", "/api/verify", Key::Device, b"[\"12345678\"]", 400, "unparsable_request"),
        case(
            "code of the wrong type",
            "/api/verify",
            Key::Device,
            &json!({"code": 12_345_678}),
            400,
            "unparsable_request",
        ),
        raw(
            "duplicate field",
            "/api/verify",
            Key::Device,
            br#"{"code":"12345678","code":"87654321"}"#,
            400,
            "unparsable_request",
        ),
        raw("oversized body", "/api/verify", Key::Device, &big, 413, "unparsable_request"),
        case(
            "no API key",
            "/api/verify",
            Key::None,
            &json!({"code": negative}),
            401,
            "unauthorized",
        ),
        case(
            "unknown API key",
            "/api/verify",
            Key::Wrong,
            &json!({"code": negative}),
            401,
            "unauthorized",
        ),
        case(
            "admin key on the app API",
            "/api/verify",
            Key::Admin,
            &json!({"code": negative}),
            401,
            "unauthorized",
        ),
        // /api/certificate
        case(
            "garbage token",
            "/api/certificate",
            Key::Device,
            &cert_token("not.a.jwt"),
            400,
            "token_invalid",
        ),
        case(
            "missing token",
            "/api/certificate",
            Key::Device,
            &json!({"ekeyhmac": hmac_b64(1)}),
            400,
            "token_invalid",
        ),
        case(
            "alg none",
            "/api/certificate",
            Key::Device,
            &cert_token(&alg_none),
            400,
            "token_invalid",
        ),
        case(
            "HS256 with the public key",
            "/api/certificate",
            Key::Device,
            &cert_token(&hs256),
            400,
            "token_invalid",
        ),
        case(
            "token signed by a stranger",
            "/api/certificate",
            Key::Device,
            &cert_token(&forge(&es256("t1"), &valid, &stranger)),
            400,
            "token_invalid",
        ),
        case(
            "token with an unknown kid",
            "/api/certificate",
            Key::Device,
            &cert_token(&forge(&es256("t9"), &valid, &token_key)),
            400,
            "token_invalid",
        ),
        case(
            "token without kid",
            "/api/certificate",
            Key::Device,
            &cert_token(&forge(&json!({"alg": "ES256", "typ": "JWT"}), &valid, &token_key)),
            400,
            "token_invalid",
        ),
        case(
            "certificate key is not a token key",
            "/api/certificate",
            Key::Device,
            &cert_token(&forge(&es256("c1"), &valid, &certificate_key)),
            400,
            "token_invalid",
        ),
        case(
            "token of another issuer",
            "/api/certificate",
            Key::Device,
            &cert_token(&forge(
                &es256("t1"),
                &token_claims(&v, "someone-else", now, now + 60),
                &token_key,
            )),
            400,
            "token_invalid",
        ),
        case(
            "expired token",
            "/api/certificate",
            Key::Device,
            &cert_token(&forge(
                &es256("t1"),
                &token_claims(&v, issuer, now - 90_000, now - 3600),
                &token_key,
            )),
            400,
            "token_expired",
        ),
        case(
            "token from the future",
            "/api/certificate",
            Key::Device,
            &cert_token(&forge(
                &es256("t1"),
                &token_claims(&v, issuer, now + 3600, now + 7200),
                &token_key,
            )),
            400,
            "token_invalid",
        ),
        case(
            "tampered token",
            "/api/certificate",
            Key::Device,
            &cert_token(&tampered),
            400,
            "token_invalid",
        ),
        case(
            "replayed token",
            "/api/certificate",
            Key::Device,
            &cert_token(&used_token),
            400,
            "token_expired",
        ),
        case(
            "ekeyhmac not Base64",
            "/api/certificate",
            Key::Device,
            &json!({"token": good_token, "ekeyhmac": "%%%"}),
            400,
            "hmac_invalid",
        ),
        case(
            "ekeyhmac of 31 bytes",
            "/api/certificate",
            Key::Device,
            &json!({"token": good_token, "ekeyhmac": base64::engine::general_purpose::STANDARD.encode([1u8; 31])}),
            400,
            "hmac_invalid",
        ),
        case(
            "ekeyhmac missing",
            "/api/certificate",
            Key::Device,
            &json!({"token": good_token}),
            400,
            "hmac_invalid",
        ),
        case(
            "admin key for a certificate",
            "/api/certificate",
            Key::Admin,
            &cert_token(&good_token),
            401,
            "unauthorized",
        ),
        // admin API
        case(
            "unknown test type",
            "/api/issue",
            Key::Admin,
            &json!({"testType": "positive", "symptomDate": date}),
            400,
            "invalid_test_type",
        ),
        case(
            "user-report cannot be issued",
            "/api/issue",
            Key::Admin,
            &json!({"testType": "user-report", "symptomDate": date}),
            400,
            "invalid_test_type",
        ),
        case(
            "no date",
            "/api/issue",
            Key::Admin,
            &json!({"testType": "confirmed"}),
            400,
            "missing_date",
        ),
        case(
            "date in the future",
            "/api/issue",
            Key::Admin,
            &json!({"testType": "confirmed", "testDate": herald_model::Date::of(herald_model::UnixTime(now + 2 * 86_400)).to_string()}),
            400,
            "invalid_date",
        ),
        case(
            "date too old",
            "/api/issue",
            Key::Admin,
            &json!({"testType": "confirmed", "symptomDate": "2020-01-01"}),
            400,
            "invalid_date",
        ),
        case(
            "impossible date",
            "/api/issue",
            Key::Admin,
            &json!({"testType": "confirmed", "symptomDate": "2026-02-30"}),
            400,
            "invalid_date",
        ),
        case(
            "duplicate uuid",
            "/api/issue",
            Key::Admin,
            &json!({"testType": "confirmed", "symptomDate": date, "uuid": taken}),
            409,
            "uuid_already_exists",
        ),
        case(
            "malformed uuid",
            "/api/issue",
            Key::Admin,
            &json!({"testType": "confirmed", "symptomDate": date, "uuid": "12"}),
            400,
            "unparsable_request",
        ),
        case(
            "absurd tzOffset",
            "/api/issue",
            Key::Admin,
            &json!({"testType": "confirmed", "symptomDate": date, "tzOffset": 100_000}),
            400,
            "unparsable_request",
        ),
        case(
            "device key on the admin API",
            "/api/issue",
            Key::Device,
            &json!({"testType": "confirmed", "symptomDate": date}),
            401,
            "unauthorized",
        ),
        case(
            "no key on the admin API",
            "/api/issue",
            Key::None,
            &json!({"testType": "confirmed", "symptomDate": date}),
            401,
            "unauthorized",
        ),
        case(
            "batch too large",
            "/api/batch-issue",
            Key::Admin,
            &json!({"codes": vec![json!({"testType": "confirmed", "symptomDate": date}); 11]}),
            400,
            "batch_size_limit_exceeded",
        ),
        case(
            "empty batch",
            "/api/batch-issue",
            Key::Admin,
            &json!({"codes": []}),
            400,
            "batch_size_limit_exceeded",
        ),
        case(
            "status of an unknown uuid",
            "/api/checkcodestatus",
            Key::Admin,
            &json!({"uuid": "0f9b6b9e-3a57-4c5e-9d7f-000000000000"}),
            404,
            "code_not_found",
        ),
        case(
            "expire an unknown uuid",
            "/api/expirecode",
            Key::Admin,
            &json!({"uuid": "0f9b6b9e-3a57-4c5e-9d7f-000000000000"}),
            404,
            "code_not_found",
        ),
        case(
            "device key expires a code",
            "/api/expirecode",
            Key::Device,
            &json!({"uuid": taken}),
            401,
            "unauthorized",
        ),
        raw("oversized admin body", "/api/issue", Key::Admin, &big, 413, "unparsable_request"),
    ];
    assert!(cases.len() >= 30);
    let mut failures = Vec::new();
    for c in &cases {
        let before = v.storage().await;
        let key = match c.key {
            Key::Admin => Some(v.admin.as_str()),
            Key::Device => Some(v.device.as_str()),
            Key::None => None,
            Key::Wrong => Some("hvd_0000000000000000000000000000000000000000000000"),
        };
        let answer = v.raw(c.path, key, &[], c.body.clone()).await;
        let mut json: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        if let Some(object) = json.as_object_mut() {
            object.remove("padding");
        }
        let got = (answer.status.as_u16(), json["errorCode"].as_str().unwrap_or("").to_owned());
        if got != (c.status, c.code.to_owned()) {
            failures.push(format!(
                "{}: expected {} {}, got {} {} ({json})",
                c.name, c.status, c.code, got.0, got.1
            ));
        }
        if json["error"].as_str().is_none_or(str::is_empty) {
            failures.push(format!("{}: no error message", c.name));
        }
        let after = v.storage().await;
        if after != before {
            failures.push(format!("{}: storage changed: {before} -> {after}", c.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    // The fixtures that were refused are still usable where they should be.
    assert_eq!(v.verify(&negative).await.0, 200, "an unaccepted test type does not burn the code");
    assert_eq!(v.certificate(&good_token, &hmac_b64(2)).await.0, 200);
    v.stop().await;
}

/// Guessing short codes locks the device key out for the window, whatever is guessed next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brute_force_is_stopped() {
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |c| {
        c.api.verify_failure_limit = 20;
        c.api.verify_failure_window_seconds = 120;
    })
    .await;
    let real = v.issue("confirmed").await["code"].as_str().unwrap().to_owned();
    // Twenty wrong guesses (skipping the real code, should a guess hit it).
    let guesses = (0..21u32).map(|g| format!("{g:08}")).filter(|c| *c != real).take(20);
    for candidate in guesses {
        let (status, answer) = v.verify(&candidate).await;
        assert_eq!((status, answer["errorCode"].as_str()), (400, Some("code_invalid")));
    }
    let before = v.storage().await;
    let (status, answer) = v.verify(&real).await;
    assert_eq!((status, answer["errorCode"].as_str()), (429, Some("quota_exceeded")), "{answer}");
    assert_eq!(v.storage().await, before, "a locked-out attempt claims nothing");
    // The admin API is not affected; after the window the key works again.
    assert!(v.issue("confirmed").await["code"].is_string());
    v.clock.advance(121);
    let (status, _) = v.verify(&real).await;
    assert_eq!(status, 200);
    v.stop().await;
}
