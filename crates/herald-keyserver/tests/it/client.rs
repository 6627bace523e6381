//! What an app does to publish: keys, tekmac, a verification certificate (signed here with the
//! test issuer's key, as a verification service would), and the JSON body.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use herald_wire::publish::PublishKey;
use herald_wire::publish::tekmac::{CleartextForm, compute};
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{EncodePublicKey as _, LineEnding};

/// The test verification service's signing key.
pub(crate) fn issuer_key() -> SigningKey {
    SigningKey::from_slice(&[0x17; 32]).unwrap()
}

pub(crate) fn issuer_public_pem() -> String {
    issuer_key().verifying_key().to_public_key_pem(LineEnding::LF).unwrap()
}

/// A key as an app sends it.
#[derive(Clone, Debug)]
pub(crate) struct AppKey {
    pub(crate) key: [u8; 16],
    pub(crate) start: i64,
    pub(crate) period: i64,
    pub(crate) tr: i64,
}

impl AppKey {
    pub(crate) fn text(&self) -> String {
        STANDARD.encode(self.key)
    }

    fn publish_key(&self) -> PublishKey {
        PublishKey {
            key_text: self.text(),
            key: Some(self.key),
            rolling_start_number: self.start,
            rolling_period: self.period,
            transmission_risk: self.tr,
        }
    }
}

/// `n` keys for the `n` days before `now`'s day, full days, TR `tr`.
pub(crate) fn past_keys(seed: u8, n: usize, now: i64, tr: i64) -> Vec<AppKey> {
    let today = now / 86_400 * 144;
    (1..=n)
        .map(|d| {
            let mut key = [seed; 16];
            key[15] = u8::try_from(d).unwrap();
            AppKey { key, start: today - 144 * i64::try_from(d).unwrap(), period: 144, tr }
        })
        .collect()
}

/// The tekmac of `keys` under `hmac_key`.
pub(crate) fn tekmac(hmac_key: &[u8], keys: &[AppKey]) -> String {
    let keys: Vec<PublishKey> = keys.iter().map(AppKey::publish_key).collect();
    STANDARD.encode(compute(hmac_key, &keys, CleartextForm::WithTransmissionRisk))
}

/// An ES256 JWT with `claims`, header `header` (alg, kid, typ as given).
pub(crate) fn jwt(
    header: &serde_json::Value,
    claims: &serde_json::Value,
    key: &SigningKey,
) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    // Low S, as herald's verifier signs (the dev world's issuers require it).
    let signature: Signature = key.sign(input.as_bytes());
    let signature = signature.normalize_s();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

/// A valid certificate for `keys` from `issuer` to `audience`.
pub(crate) fn certificate(
    issuer: &str,
    audience: &str,
    now: i64,
    report_type: &str,
    tekmac: &str,
) -> serde_json::Value {
    serde_json::json!({
        "iss": issuer,
        "aud": audience,
        "iat": now - 5,
        "nbf": now - 5,
        "exp": now + 900,
        "reportType": report_type,
        "symptomOnsetInterval": (now / 86_400 - 2) * 144,
        "tekmac": tekmac,
    })
}

pub(crate) fn es256_header() -> serde_json::Value {
    serde_json::json!({ "alg": "ES256", "kid": "test", "typ": "JWT" })
}

/// The publish body.
pub(crate) fn body(
    app: &str,
    keys: &[AppKey],
    certificate: &str,
    hmac_key: &[u8],
    revision_token: Option<&str>,
) -> serde_json::Value {
    let mut body = serde_json::json!({
        "temporaryExposureKeys": keys.iter().map(|k| serde_json::json!({
            "key": k.text(), "rollingStartNumber": k.start, "rollingPeriod": k.period, "transmissionRisk": k.tr,
        })).collect::<Vec<_>>(),
        "healthAuthorityID": app,
        "verificationPayload": certificate,
        "hmacKey": STANDARD.encode(hmac_key),
        "padding": STANDARD.encode([0u8; 1024]),
    });
    if let Some(token) = revision_token {
        body["revisionToken"] = serde_json::Value::String(token.to_owned());
    }
    body
}

/// A complete valid publish of `keys` for `country`'s dev app at `now`.
pub(crate) fn valid_publish(
    country: &str,
    keys: &[AppKey],
    now: i64,
    report_type: &str,
) -> serde_json::Value {
    let cc: herald_model::CountryCode = country.parse().unwrap();
    let hmac_key = [0x33u8; 32];
    let claims = certificate(
        &herald_keyserver::dev::dev_issuer(cc),
        &herald_keyserver::dev::dev_audience(cc),
        now,
        report_type,
        &tekmac(&hmac_key, keys),
    );
    let cert = jwt(&es256_header(), &claims, &issuer_key());
    body(&herald_keyserver::dev::dev_app_id(cc), keys, &cert, &hmac_key, None)
}

/// A key no configured issuer trusts for ISS (and that "other-issuer" uses).
pub(crate) fn other_key() -> SigningKey {
    SigningKey::from_slice(&[0x29; 32]).unwrap()
}

pub(crate) fn other_public_pem() -> String {
    other_key().verifying_key().to_public_key_pem(LineEnding::LF).unwrap()
}

/// `POST /v1/publish` over HTTPS (trusting `ca`): the status and the JSON answer.
pub(crate) async fn publish(
    url: &str,
    ca: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let client = herald_runtime::HttpsClient::new(url, ca, None).unwrap();
    let answer = client
        .request(
            hyper::Method::POST,
            "/v1/publish",
            &[("content-type", "application/json")],
            body.to_string().into_bytes(),
        )
        .await
        .unwrap();
    (answer.status.as_u16(), serde_json::from_slice(&answer.body).unwrap())
}
