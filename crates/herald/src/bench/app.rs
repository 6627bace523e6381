//! The app's side of the upload path, shared by `herald bench publish` (which times it) and
//! `herald bench crash` (which counts what was acknowledged while services die): the requests a
//! simulated app sends, one step at a time, and the codes case workers issue beforehand.

use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use herald_model::{Clock as _, DiagnosisKey, IntervalNumber, RollingPeriod, TemporaryExposureKey};
use herald_phone::Upload;
use herald_runtime::{Answer, HttpsClient};
use rand::rngs::StdRng;
use serde_json::Value;

use crate::demo::world::post;

/// One simulated app: where it sends its requests, as what, and which keys it uploads.
#[derive(Clone)]
pub(super) struct Flow {
    /// The app's address (sent in `X-Forwarded-For`).
    pub(super) address: String,
    pub(super) verifier: HttpsClient,
    pub(super) keyserver: HttpsClient,
    pub(super) device_key: String,
    pub(super) app_id: String,
    /// Keys per upload.
    pub(super) keys: usize,
    /// The UTC day number of today.
    pub(super) today: i64,
    /// How many days back the newest uploaded key is (1: yesterday's key).
    pub(super) newest_day_back: i64,
}

impl Flow {
    /// Fresh random full-day keys, one per day from `newest_day_back` days ago backwards.
    pub(super) fn new_keys(&self, rng: &mut StdRng) -> Vec<DiagnosisKey> {
        (0..self.keys)
            .map(|i| {
                let mut bytes = [0u8; 16];
                rand::Rng::fill_bytes(rng, &mut bytes);
                let day = self.today - self.newest_day_back - i64::try_from(i).unwrap_or(0);
                DiagnosisKey::new(
                    TemporaryExposureKey::from_bytes(bytes),
                    IntervalNumber(u32::try_from(day * 144).unwrap_or(0)),
                    RollingPeriod::FULL_DAY,
                )
            })
            .collect()
    }

    /// `/api/verify` from this app's address, with `code` (a real request) or as chaff.
    pub(super) async fn verify(&self, code: Option<&str>, rng: &mut StdRng) -> Result<Answer> {
        let body = Upload::verify_body(code.unwrap_or("00000000"), rng);
        let mut headers = vec![
            ("content-type", "application/json"),
            ("x-api-key", self.device_key.as_str()),
            ("x-forwarded-for", self.address.as_str()),
        ];
        if code.is_none() {
            headers.push(("x-chaff", "1"));
        }
        Ok(self
            .verifier
            .request(hyper::Method::POST, "/api/verify", &headers, body.into_bytes())
            .await?)
    }

    /// `/api/certificate`: the token and the HMAC of the upload's keys.
    pub(super) async fn certificate(
        &self,
        token: &str,
        upload: &Upload,
        rng: &mut StdRng,
    ) -> Result<Answer> {
        let body = upload.certificate_body(token, rng);
        post(&self.verifier, "/api/certificate", Some(&self.device_key), false, body).await
    }

    /// `/v1/publish`: the upload's keys with the certificate, onset two days before the newest
    /// key.
    pub(super) async fn publish(
        &self,
        certificate: &str,
        upload: &Upload,
        rng: &mut StdRng,
    ) -> Result<Answer> {
        let onset = u32::try_from((self.today - self.newest_day_back - 1) * 144).ok();
        let body = upload.publish_body(certificate, &self.app_id, onset, rng);
        post(&self.keyserver, "/v1/publish", None, false, body).await
    }

    /// A chaff `/v1/publish` (the app's chaff `/api/verify` is [`Flow::verify`] without a
    /// code).
    pub(super) async fn chaff_publish(&self, rng: &mut StdRng) -> Result<Answer> {
        post(&self.keyserver, "/v1/publish", None, true, Upload::chaff_body(rng)).await
    }
}

/// `n` codes from `/api/issue`, as case workers issue them (16 at a time).
pub(super) async fn issue_codes(
    verifier: &HttpsClient,
    admin_key: &str,
    n: usize,
) -> Result<Vec<String>> {
    let onset = herald_model::Date::of(crate::SystemClock.now()).to_string();
    let body = serde_json::json!({"testType": "confirmed", "symptomDate": onset, "tzOffset": 0})
        .to_string();
    let mut tasks = tokio::task::JoinSet::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(16));
    for _ in 0..n {
        let (client, key, body, slots) =
            (verifier.clone(), admin_key.to_owned(), body.clone(), slots.clone());
        tasks.spawn(async move {
            let _slot = slots.acquire_owned().await;
            let issued = call(&client, "/api/issue", Some(&key), body).await?;
            field(&issued, "code")
        });
    }
    let mut codes = Vec::new();
    while let Some(done) = tasks.join_next().await {
        codes.push(done.context("an issue task failed")??);
    }
    Ok(codes)
}

/// A POST that must answer 200 with JSON.
pub(super) async fn call(
    client: &HttpsClient,
    path: &str,
    key: Option<&str>,
    body: String,
) -> Result<Value> {
    json_of(path, &post(client, path, key, false, body).await?)
}

/// The JSON of a 200 answer, or an error naming `path`.
pub(super) fn json_of(path: &str, answer: &Answer) -> Result<Value> {
    let json: Value = serde_json::from_slice(&answer.body)
        .with_context(|| format!("{path}: the answer is not JSON"))?;
    if answer.status.as_u16() != 200 {
        bail!("{path}: HTTP {}: {json}", answer.status);
    }
    Ok(json)
}

/// A string field of a JSON answer.
pub(super) fn field(answer: &Value, name: &str) -> Result<String> {
    answer
        .get(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("the answer has no {name}: {answer}"))
}
