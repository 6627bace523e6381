//! `POST /v1/publish`: the ENS compatibility cases, a table of bad inputs (each answered with the
//! documented status and code, and storage unchanged), revisions, and chaff as an observer sees
//! it.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use herald_db::testing::{Backend, TestDb};
use herald_keyserver::config::{AppConfig, IssuerConfig, PublishConfig, StaticKey};
use herald_keyserver::publish::{Issuers, PublishService, RevisionKeys};
use herald_keyserver::store::Store;
use herald_model::{Clock, CountryCode, ManualClock, UnixTime};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

use crate::client::{
    AppKey, body, certificate, es256_header, issuer_key, issuer_public_pem, jwt, past_keys, tekmac,
};
use crate::support::system_now;

const ISS: &str = "herald-verifier-de";
const AUD: &str = "herald-keyserver-de";
const APP: &str = "de.herald.app";
const SIZE: usize = 4096;

struct Harness {
    db: TestDb,
    router: Router,
    clock: Arc<ManualClock>,
    _keys: tempfile::TempDir,
}

async fn harness() -> Harness {
    harness_with(|_| {}).await
}

/// The harness after `tweak` edits the publish configuration.
async fn harness_with(tweak: impl FnOnce(&mut PublishConfig)) -> Harness {
    let db = Backend::Sqlite.fresh().await.unwrap();
    let store = Store::open(&db.url).await.unwrap();
    let keys = tempfile::tempdir().unwrap();
    let pem = keys.path().join("issuer.pub.pem");
    std::fs::write(&pem, issuer_public_pem()).unwrap();
    let other = keys.path().join("other.pub.pem");
    std::fs::write(&other, crate::client::other_public_pem()).unwrap();
    let config = PublishConfig {
        revision_token_keys: vec![],
        response_size: SIZE,
        chaff_max_latency_ms: 50,
        apps: vec![
            AppConfig {
                id: APP.into(),
                regions: vec!["DE".into()],
                issuers: vec![ISS.into()],
                federate: true,
            },
            AppConfig {
                id: "other.app".into(),
                regions: vec!["DE".into()],
                issuers: vec!["other-issuer".into()],
                federate: false,
            },
        ],
        issuers: vec![
            IssuerConfig {
                issuer: ISS.into(),
                audience: AUD.into(),
                jwks_url: None,
                jwks_url_file: None,
                jwks_ca: None,
                public_keys: vec![StaticKey { kid: "test".into(), pem }],
                jwks_refresh_seconds: 300,
                max_certificate_lifetime_seconds: 3600,
                require_low_s: false,
            },
            IssuerConfig {
                issuer: "other-issuer".into(),
                audience: AUD.into(),
                jwks_url: None,
                jwks_url_file: None,
                jwks_ca: None,
                public_keys: vec![StaticKey { kid: "test".into(), pem: other }],
                jwks_refresh_seconds: 300,
                max_certificate_lifetime_seconds: 3600,
                require_low_s: false,
            },
        ],
    };
    let mut config = config;
    tweak(&mut config);
    let clock = Arc::new(ManualClock::new(UnixTime(system_now())));
    let issuers = Arc::new(Issuers::from_config(&config.issuers).unwrap());
    let service = PublishService::new(
        store.clone(),
        &config,
        issuers,
        RevisionKeys::from_keys(&[[9; 32]]),
        clock.clone() as Arc<dyn Clock>,
        "DE".parse::<CountryCode>().unwrap(),
        true,
    );
    let router = herald_keyserver::api::router(service, store, None);
    Harness { db, router, clock, _keys: keys }
}

struct Reply {
    status: u16,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_owned()
    }
}

impl Harness {
    fn now(&self) -> i64 {
        self.clock.now().seconds()
    }

    async fn send(
        &self,
        content_type: Option<&str>,
        extra: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        let mut request = Request::builder().method("POST").uri("/v1/publish");
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        for (k, v) in extra {
            request = request.header(*k, *v);
        }
        let response =
            self.router.clone().oneshot(request.body(Body::from(body)).unwrap()).await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes().to_vec();
        Reply { status, headers, body }
    }

    async fn publish(&self, body: &serde_json::Value) -> Reply {
        self.send(Some("application/json"), &[], body.to_string().into_bytes()).await
    }

    async fn rows(&self) -> (i64, i64, i64) {
        (
            self.db.count("exposure").await,
            self.db.count("used_certificate").await,
            self.db.count("federation_outbox").await,
        )
    }

    /// A valid publish of `keys` with `report_type`, HMAC key `[0x33; 32]`.
    fn valid(&self, keys: &[AppKey], report_type: &str) -> serde_json::Value {
        let hmac = [0x33u8; 32];
        let claims = certificate(ISS, AUD, self.now(), report_type, &tekmac(&hmac, keys));
        body(APP, keys, &jwt(&es256_header(), &claims, &issuer_key()), &hmac, None)
    }

    /// A publish whose certificate claims are edited by `edit`, signed with `key`.
    fn with_claims(
        &self,
        keys: &[AppKey],
        edit: impl FnOnce(&mut serde_json::Value),
        header: &serde_json::Value,
        key: &p256::ecdsa::SigningKey,
    ) -> serde_json::Value {
        let hmac = [0x33u8; 32];
        let mut claims = certificate(ISS, AUD, self.now(), "confirmed", &tekmac(&hmac, keys));
        edit(&mut claims);
        body(APP, keys, &jwt(header, &claims, key), &hmac, None)
    }
}

fn unsigned(header: &serde_json::Value, claims: &serde_json::Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

#[tokio::test]
async fn a_valid_publish_is_stored_and_answered_like_ens() {
    let h = harness().await;
    let keys = past_keys(1, 3, h.now(), 0);
    let reply = h.publish(&h.valid(&keys, "confirmed")).await;
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.body.len(), SIZE, "padded to the one size");
    assert_eq!(reply.headers["x-api-version"], "v1");
    let json = reply.json();
    assert_eq!(json["insertedExposures"], 3);
    assert!(json.get("code").is_none() && json.get("error").is_none());
    assert!(STANDARD.decode(json["revisionToken"].as_str().unwrap()).is_ok());
    assert_eq!(h.rows().await, (3, 1, 3));
}

/// name, content type, body, status, code.
type Case<'a> = (&'a str, Option<&'a str>, Vec<u8>, u16, &'a str);

/// Every bad input: the documented status and code, and nothing stored.
#[tokio::test]
async fn bad_inputs_get_the_documented_answer_and_change_nothing() {
    let h = harness().await;
    let now = h.now();
    let keys = past_keys(2, 2, now, 0);
    let good = h.valid(&keys, "confirmed");
    let other_key = crate::client::other_key();
    let mut cases: Vec<Case<'_>> = Vec::new();
    let json = |v: &serde_json::Value| v.to_string().into_bytes();
    cases.push(("content type text/plain", Some("text/plain"), json(&good), 415, "bad_request"));
    cases.push(("no content type", None, json(&good), 415, "bad_request"));
    cases.push((
        "body over 64,000 bytes",
        Some("application/json"),
        vec![b' '; 64_001],
        413,
        "bad_request",
    ));
    cases.push(("not JSON", Some("application/json"), b"{nope".to_vec(), 400, "bad_request"));
    cases.push((
        "truncated JSON",
        Some("application/json"),
        json(&good)[..50].to_vec(),
        400,
        "bad_request",
    ));
    cases.push((
        "two JSON objects",
        Some("application/json"),
        [json(&good), json(&good)].concat(),
        400,
        "bad_request",
    ));
    cases.push(("a JSON array", Some("application/json"), b"[]".to_vec(), 400, "bad_request"));
    let mut unknown = good.clone();
    unknown["surprise"] = 1.into();
    cases.push(("unknown field", Some("application/json"), json(&unknown), 400, "bad_request"));
    let mut wrong_type = good.clone();
    wrong_type["temporaryExposureKeys"][0]["rollingPeriod"] = "144".into();
    cases.push((
        "rollingPeriod as a string",
        Some("application/json"),
        json(&wrong_type),
        400,
        "bad_request",
    ));
    let mut bad_hmac = good.clone();
    bad_hmac["hmacKey"] = "!!!not base64!!!".into();
    cases.push((
        "hmacKey not base64",
        Some("application/json"),
        json(&bad_hmac),
        400,
        "bad_request",
    ));
    let mut app = good.clone();
    app["healthAuthorityID"] = "nobody.app".into();
    cases.push((
        "unknown healthAuthorityID",
        Some("application/json"),
        json(&app),
        401,
        "unknown_health_authority_id",
    ));
    let mut no_cert = good.clone();
    no_cert["verificationPayload"] = "".into();
    cases.push((
        "no certificate",
        Some("application/json"),
        json(&no_cert),
        401,
        "health_authority_verification_certificate_invalid",
    ));
    let claims = certificate(ISS, AUD, now, "confirmed", &tekmac(&[0x33; 32], &keys));
    let none =
        unsigned(&serde_json::json!({"alg": "none", "kid": "test", "typ": "JWT"}), &claims, b"");
    let mut alg_none = good.clone();
    alg_none["verificationPayload"] = none.into();
    cases.push((
        "JWT alg none",
        Some("application/json"),
        json(&alg_none),
        401,
        "health_authority_verification_certificate_invalid",
    ));
    let hs = unsigned(
        &serde_json::json!({"alg": "HS256", "kid": "test", "typ": "JWT"}),
        &claims,
        &[0u8; 32],
    );
    let mut alg_hs = good.clone();
    alg_hs["verificationPayload"] = hs.into();
    cases.push((
        "JWT alg HS256",
        Some("application/json"),
        json(&alg_hs),
        401,
        "health_authority_verification_certificate_invalid",
    ));
    let certificate_cases: Vec<(&str, serde_json::Value)> = vec![
        ("JWT signed with another key", h.with_claims(&keys, |_| {}, &es256_header(), &other_key)),
        (
            "JWT with an unknown kid",
            h.with_claims(
                &keys,
                |_| {},
                &serde_json::json!({"alg": "ES256", "kid": "v9", "typ": "JWT"}),
                &issuer_key(),
            ),
        ),
        (
            "JWT without kid",
            h.with_claims(
                &keys,
                |_| {},
                &serde_json::json!({"alg": "ES256", "typ": "JWT"}),
                &issuer_key(),
            ),
        ),
        (
            "expired certificate",
            h.with_claims(
                &keys,
                |c| {
                    c["exp"] = (now - 60).into();
                    c["iat"] = (now - 960).into();
                    c["nbf"] = (now - 960).into();
                },
                &es256_header(),
                &issuer_key(),
            ),
        ),
        (
            "certificate not valid yet",
            h.with_claims(
                &keys,
                |c| {
                    c["iat"] = (now + 600).into();
                    c["nbf"] = (now + 600).into();
                },
                &es256_header(),
                &issuer_key(),
            ),
        ),
        (
            "wrong audience",
            h.with_claims(
                &keys,
                |c| c["aud"] = "someone-else".into(),
                &es256_header(),
                &issuer_key(),
            ),
        ),
        (
            "unknown issuer",
            h.with_claims(&keys, |c| c["iss"] = "nobody".into(), &es256_header(), &issuer_key()),
        ),
        (
            "issuer not allowed for the app",
            h.with_claims(&keys, |c| c["iss"] = "other-issuer".into(), &es256_header(), &other_key),
        ),
        (
            "bad reportType",
            h.with_claims(
                &keys,
                |c| c["reportType"] = "positive".into(),
                &es256_header(),
                &issuer_key(),
            ),
        ),
        (
            "tekmac of other keys",
            h.with_claims(
                &keys,
                |c| c["tekmac"] = tekmac(&[0x33; 32], &past_keys(9, 2, now, 0)).into(),
                &es256_header(),
                &issuer_key(),
            ),
        ),
        (
            "tekmac under another hmacKey",
            h.with_claims(
                &keys,
                |c| c["tekmac"] = tekmac(&[0x44; 32], &keys).into(),
                &es256_header(),
                &issuer_key(),
            ),
        ),
    ];
    for (name, body) in &certificate_cases {
        cases.push((
            name,
            Some("application/json"),
            json(body),
            401,
            "health_authority_verification_certificate_invalid",
        ));
    }
    let mut tampered = good.clone();
    tampered["temporaryExposureKeys"][0]["transmissionRisk"] = 5.into();
    cases.push((
        "keys changed after the tekmac",
        Some("application/json"),
        json(&tampered),
        401,
        "health_authority_verification_certificate_invalid",
    ));
    // Key rules (§2.4): each request has a valid certificate over exactly its keys.
    let day = now / 86_400 * 144;
    let key_cases: Vec<(&str, Vec<AppKey>, &str)> = vec![
        ("no keys", vec![], "bad_request"),
        (
            "31 keys",
            (0..31u8)
                .map(|i| AppKey {
                    key: [i; 16],
                    start: day - 144 * (i64::from(i % 14) + 1),
                    period: 144,
                    tr: 0,
                })
                .collect(),
            "bad_request",
        ),
        (
            "rollingPeriod 0",
            vec![AppKey { key: [3; 16], start: day - 144, period: 0, tr: 0 }],
            "bad_request",
        ),
        (
            "rollingPeriod 145",
            vec![AppKey { key: [3; 16], start: day - 144, period: 145, tr: 0 }],
            "bad_request",
        ),
        (
            "a key from the future",
            vec![AppKey { key: [3; 16], start: day + 144, period: 144, tr: 0 }],
            "bad_request",
        ),
        (
            "a key older than 15 days",
            vec![AppKey { key: [3; 16], start: day - 144 * 16, period: 144, tr: 0 }],
            "bad_request",
        ),
        (
            "transmission risk 9",
            vec![AppKey { key: [3; 16], start: day - 144, period: 144, tr: 9 }],
            "bad_request",
        ),
        (
            "overlapping keys",
            vec![
                AppKey { key: [3; 16], start: day - 144, period: 144, tr: 0 },
                AppKey { key: [4; 16], start: day - 100, period: 144, tr: 0 },
            ],
            "bad_request",
        ),
        (
            "four keys on one start",
            (0..4u8)
                .map(|i| AppKey { key: [10 + i; 16], start: day - 144, period: 144, tr: 0 })
                .collect(),
            "bad_request",
        ),
    ];
    for (name, keys, code) in &key_cases {
        cases.push((name, Some("application/json"), json(&h.valid(keys, "confirmed")), 400, code));
    }
    let mut short = h.valid(&keys, "confirmed");
    short["temporaryExposureKeys"][0]["key"] = STANDARD.encode([1u8; 15]).into();
    short["temporaryExposureKeys"][1]["key"] = "%%%".into();
    cases.push((
        "every key undecodable",
        Some("application/json"),
        json(&short),
        401,
        "health_authority_verification_certificate_invalid",
    ));
    assert!(cases.len() >= 30, "{}", cases.len());
    let before = h.rows().await;
    for (name, content_type, body, status, code) in cases {
        let reply = h.send(content_type, &[], body).await;
        assert_eq!(reply.status, status, "{name}: {}", String::from_utf8_lossy(&reply.body));
        assert_eq!(reply.code(), code, "{name}");
        assert!(
            !reply.json()["error"].as_str().unwrap_or_default().is_empty(),
            "{name}: says what was wrong"
        );
        assert_eq!(reply.body.len(), SIZE, "{name}: padded like every answer");
        assert_eq!(h.rows().await, before, "{name}: storage unchanged");
    }
    // Only POST is routed.
    let get = h
        .router
        .clone()
        .oneshot(Request::get("/v1/publish").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(get.status(), 405);
}

#[tokio::test]
async fn a_certificate_is_used_once() {
    let h = harness().await;
    let body = h.valid(&past_keys(3, 2, h.now(), 0), "confirmed");
    assert_eq!(h.publish(&body).await.status, 200);
    let rows = h.rows().await;
    let replay = h.publish(&body).await;
    assert_eq!(
        (replay.status, replay.code().as_str()),
        (401, "health_authority_verification_certificate_invalid")
    );
    assert!(replay.json()["error"].as_str().unwrap().contains("already used"));
    assert_eq!(h.rows().await, rows);
}

/// ES256 is malleable: `(R, S)` and `(R, n − S)` both verify. A certificate re-encoded with the
/// other S is a new text but the same certificate, and is used once all the same.
#[tokio::test]
async fn a_certificate_with_its_signature_re_encoded_is_still_used_once() {
    let h = harness().await;
    let body = h.valid(&past_keys(3, 2, h.now(), 0), "confirmed");
    assert_eq!(h.publish(&body).await.status, 200);
    let rows = h.rows().await;
    let token = body["verificationPayload"].as_str().unwrap();
    let (signing_input, signature) = token.rsplit_once('.').unwrap();
    let signature =
        p256::ecdsa::Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).unwrap();
    let (r, s) = signature.split_scalars();
    let other = p256::ecdsa::Signature::from_scalars(r, -s).unwrap();
    assert_ne!(other, signature);
    let twin = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(other.to_bytes()));
    let mut replay_body = body.clone();
    replay_body["verificationPayload"] = serde_json::Value::String(twin);
    let replay = h.publish(&replay_body).await;
    assert_eq!(
        (replay.status, replay.code().as_str()),
        (401, "health_authority_verification_certificate_invalid")
    );
    assert!(replay.json()["error"].as_str().unwrap().contains("already used"));
    assert_eq!(h.rows().await, rows);
}

/// The token with its signature's S replaced by `n − S` when `high`, or normalised to low S.
fn with_s(token: &str, high: bool) -> String {
    let (signing_input, signature) = token.rsplit_once('.').unwrap();
    let signature =
        p256::ecdsa::Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).unwrap();
    let low = signature.normalize_s();
    let chosen = if high {
        let (r, s) = low.split_scalars();
        p256::ecdsa::Signature::from_scalars(r, -s).unwrap()
    } else {
        low
    };
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(chosen.to_bytes()))
}

/// Issue 14, finding 1: an issuer known to sign low S (herald's verifier; the dev world sets
/// it) has its high-S twins refused outright; others keep interoperating (Go signs either).
#[tokio::test]
async fn an_issuer_that_signs_low_s_has_high_s_refused() {
    let h = harness_with(|c| c.issuers[0].require_low_s = true).await;
    let mut body = h.valid(&past_keys(3, 2, h.now(), 0), "confirmed");
    let token = body["verificationPayload"].as_str().unwrap().to_owned();
    let rows = h.rows().await;
    body["verificationPayload"] = with_s(&token, true).into();
    let reply = h.publish(&body).await;
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (401, "health_authority_verification_certificate_invalid")
    );
    assert!(reply.json()["error"].as_str().unwrap().contains("high S"), "{}", reply.json());
    assert_eq!(h.rows().await, rows, "nothing stored, the certificate not spent");
    body["verificationPayload"] = with_s(&token, false).into();
    assert_eq!(h.publish(&body).await.status, 200);
    // Without the setting, a high-S certificate is accepted (once).
    let h = harness().await;
    let mut body = h.valid(&past_keys(4, 2, h.now(), 0), "confirmed");
    let token = body["verificationPayload"].as_str().unwrap().to_owned();
    body["verificationPayload"] = with_s(&token, true).into();
    assert_eq!(h.publish(&body).await.status, 200);
}

/// Issue 14, finding 4: a certificate's lifetime is capped (ten years was accepted).
#[tokio::test]
async fn a_long_lived_certificate_is_refused() {
    let h = harness().await;
    let now = h.now();
    let ten_years = 10 * 365 * 86_400;
    for (name, edit) in [
        (
            "exp - iat of ten years",
            Box::new(move |c: &mut serde_json::Value| c["exp"] = (now + ten_years).into())
                as Box<dyn FnOnce(&mut serde_json::Value)>,
        ),
        (
            "no iat, exp in ten years",
            Box::new(move |c: &mut serde_json::Value| {
                c.as_object_mut().unwrap().remove("iat");
                c["exp"] = (now + ten_years).into();
            }),
        ),
        (
            "one second over the cap",
            Box::new(move |c: &mut serde_json::Value| c["exp"] = (now - 5 + 3601).into()),
        ),
    ] {
        let rows = h.rows().await;
        let body = h.with_claims(&past_keys(5, 1, now, 0), edit, &es256_header(), &issuer_key());
        let reply = h.publish(&body).await;
        assert_eq!(
            (reply.status, reply.code().as_str()),
            (401, "health_authority_verification_certificate_invalid"),
            "{name}"
        );
        let error = reply.json()["error"].as_str().unwrap().to_owned();
        assert!(error.contains("longer than the 3600 s"), "{name}: {error}");
        assert_eq!(h.rows().await, rows, "{name}");
    }
    let at_cap = h.with_claims(
        &past_keys(6, 1, now, 0),
        |c| c["exp"] = (now - 5 + 3600).into(),
        &es256_header(),
        &issuer_key(),
    );
    assert_eq!(h.publish(&at_cap).await.status, 200, "exactly the cap is allowed");
}

#[tokio::test]
async fn partial_failures_keep_the_good_keys() {
    let h = harness().await;
    let now = h.now();
    let mut keys = past_keys(4, 3, now, 0);
    keys[1].period = 0;
    let reply = h.publish(&h.valid(&keys, "confirmed")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.code(), "partial_failure");
    assert_eq!(reply.json()["insertedExposures"], 2);
    assert!(reply.json()["error"].as_str().unwrap().contains("key 1"));
}

#[tokio::test]
async fn revisions_need_the_devices_token_and_an_allowed_transition() {
    let h = harness().await;
    let now = h.now();
    let keys = past_keys(5, 2, now, 0);
    let first = h.publish(&h.valid(&keys, "likely")).await;
    assert_eq!(first.status, 200);
    let token = first.json()["revisionToken"].as_str().unwrap().to_owned();
    // Without the token: missing_revision_token.
    let again = h.publish(&h.valid(&keys, "confirmed")).await;
    assert_eq!((again.status, again.code().as_str()), (400, "missing_revision_token"));
    // With another device's token: invalid_revision_token.
    let other = h.publish(&h.valid(&past_keys(6, 1, now, 0), "likely")).await;
    let other_token = other.json()["revisionToken"].as_str().unwrap().to_owned();
    let mut body = h.valid(&keys, "confirmed");
    body["revisionToken"] = other_token.into();
    let reply = h.publish(&body).await;
    assert_eq!((reply.status, reply.code().as_str()), (400, "invalid_revision_token"));
    // likely → confirmed with the right token: revised, not inserted.
    let rows = h.rows().await;
    let mut body = h.valid(&keys, "confirmed");
    body["revisionToken"] = token.clone().into();
    let reply = h.publish(&body).await;
    assert_eq!(reply.status, 200, "{}", reply.json());
    assert!(reply.json().get("insertedExposures").is_none(), "0 is left out (omitempty)");
    assert_eq!(h.rows().await.0, rows.0);
    // confirmed → likely: not an allowed transition; and a key is revised once only.
    let mut body = h.valid(&keys, "negative");
    body["revisionToken"] = token.into();
    let reply = h.publish(&body).await;
    assert_eq!((reply.status, reply.code().as_str()), (400, "key_already_revised"));
}

/// An observer on the wire sees the same status, headers and size for chaff as for a real
/// publish; chaff stores nothing.
#[tokio::test]
async fn chaff_looks_like_a_real_publish() {
    let h = harness().await;
    let real = h.publish(&h.valid(&past_keys(7, 3, h.now(), 0), "confirmed")).await;
    let rows = h.rows().await;
    let chaff_body = h.valid(&past_keys(8, 3, h.now(), 0), "confirmed").to_string().into_bytes();
    let chaff = h.send(Some("application/json"), &[("x-chaff", "1")], chaff_body).await;
    assert_eq!(chaff.status, real.status);
    assert_eq!(chaff.body.len(), real.body.len());
    let names = |r: &Reply| {
        let mut v: Vec<(String, String)> = r
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    if k == "content-length" {
                        String::new()
                    } else {
                        v.to_str().unwrap().to_owned()
                    },
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(&chaff), names(&real));
    assert!(chaff.json().get("padding").is_some());
    assert_eq!(h.rows().await, rows, "chaff is stored nowhere");
}
