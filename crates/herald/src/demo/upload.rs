//! The upload flow of an app, as each positive's phone goes through it over HTTPS: the case
//! worker's code, the token, the certificate with the tekmac, the publish (padded), and chaff.

use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use herald_model::Clock as _;
use herald_phone::Upload;
use herald_sim::{Health, PersonId};
use rand::SeedableRng as _;
use rand::rngs::StdRng;
use serde_json::Value;

use super::Run;
use super::truth::Uploaded;
use super::world::{Country, post};

impl Run {
    /// The upload flow for every positive who agreed, plus chaff; returns (uploads, keys).
    pub(super) async fn upload_all(&mut self, positives: &[PersonId]) -> Result<(usize, usize)> {
        let now = self.world.clock.now();
        let mut tasks = tokio::task::JoinSet::new();
        let mut chaff = tokio::task::JoinSet::new();
        // Phones upload at the same time, but not thousands at once.
        let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
        let mut per_country = vec![0usize; self.tally.len()];
        for &who in positives {
            let Some(person) = self.sim.people().get(who as usize) else { continue };
            let Some(tally) = self.tally.get_mut(person.country) else { continue };
            tally.row.funnel.positives += 1;
            if !person.uploads {
                continue;
            }
            let onset_day = match person.health {
                Health::Infectious { since, .. } => self.sim.midnight(since).utc_day(),
                _ => now.utc_day() - 1,
            };
            let keys = person.phone.keys_to_upload(now);
            let upload = Upload::new(&keys, &mut self.rng);
            let Some(country) = self.world.countries.get(person.country) else { continue };
            if let Some(n) = per_country.get_mut(person.country) {
                *n += 1;
            }
            let flow = Flow::of(country);
            let seed = rand::Rng::next_u64(&mut self.rng);
            let country_index = person.country;
            let slots = slots.clone();
            tasks.spawn(async move {
                let _slot = slots.acquire_owned().await;
                let accepted = flow.upload(upload, &keys, onset_day, seed).await;
                (who, country_index, onset_day, accepted)
            });
        }
        // Chaff: as many fake uploads as real ones (at least one) per country, so that traffic
        // does not tell how many people uploaded.
        for (i, country) in self.world.countries.iter().enumerate() {
            let n = per_country.get(i).copied().unwrap_or(0).max(1);
            for _ in 0..n {
                let flow = Flow::of(country);
                let seed = rand::Rng::next_u64(&mut self.rng);
                self.chaff += 2;
                let slots = slots.clone();
                chaff.spawn(async move {
                    let _slot = slots.acquire_owned().await;
                    flow.chaff(seed).await;
                });
            }
        }
        let (mut uploads, mut key_count) = (0, 0);
        while let Some(done) = tasks.join_next().await {
            let (who, country, onset_day, accepted) = done.context("an upload task failed")?;
            let accepted = accepted.with_context(|| format!("upload of person {who}"))?;
            uploads += 1;
            key_count += accepted.len();
            if let Some(t) = self.tally.get_mut(country) {
                t.row.funnel.uploads += 1;
                t.row.funnel.keys_uploaded += accepted.len();
            }
            self.uploaded_keys.extend(accepted.iter().map(|k| *k.key.as_bytes()));
            self.uploaded_from.extend(accepted.iter().map(|_| country));
            self.uploads.insert(
                who,
                Uploaded {
                    country,
                    onset_day,
                    key_days: accepted.iter().map(|k| k.rolling_start.start().utc_day()).collect(),
                    at: now,
                },
            );
        }
        // Chaff answers are not looked at (they say nothing); only that they were sent counts.
        while chaff.join_next().await.is_some() {}
        Ok((uploads, key_count))
    }
}

/// One country's endpoints, as an upload task needs them.
#[derive(Clone)]
pub(super) struct Flow {
    verifier: herald_runtime::HttpsClient,
    keyserver: herald_runtime::HttpsClient,
    admin_key: String,
    device_key: String,
    app_id: String,
}

pub(super) fn field<'a>(answer: &'a Value, name: &str) -> Result<&'a str> {
    answer
        .get(name)
        .and_then(Value::as_str)
        .with_context(|| format!("the answer has no {name}: {answer}"))
}

pub(super) async fn call(
    client: &herald_runtime::HttpsClient,
    path: &str,
    key: Option<&str>,
    body: String,
) -> Result<Value> {
    let answer = post(client, path, key, false, body).await?;
    let json: Value = serde_json::from_slice(&answer.body)
        .with_context(|| format!("{path}: the answer is not JSON"))?;
    if answer.status.as_u16() != 200 {
        bail!("{path}: HTTP {}: {json}", answer.status);
    }
    Ok(json)
}

impl Flow {
    fn of(country: &Country) -> Self {
        Self {
            verifier: country.verifier.clone(),
            keyserver: country.keyserver.clone(),
            admin_key: country.admin_key.clone(),
            device_key: country.device_key.clone(),
            app_id: country.app_id.clone(),
        }
    }

    /// The case worker issues a code; the app trades it for a token, the token for a
    /// certificate over its keys, and publishes. Returns the keys the key server accepted.
    async fn upload(
        &self,
        upload: Upload,
        keys: &[herald_model::DiagnosisKey],
        onset_day: i64,
        seed: u64,
    ) -> Result<Vec<herald_model::DiagnosisKey>> {
        let mut rng = StdRng::seed_from_u64(seed);
        let onset = herald_model::Date::of(herald_model::UnixTime(onset_day * 86_400)).to_string();
        let issue =
            serde_json::json!({"testType": "confirmed", "symptomDate": onset, "tzOffset": 0})
                .to_string();
        let issued = call(&self.verifier, "/api/issue", Some(&self.admin_key), issue).await?;
        let code = field(&issued, "code")?;
        let verified = call(
            &self.verifier,
            "/api/verify",
            Some(&self.device_key),
            Upload::verify_body(code, &mut rng),
        )
        .await?;
        let token = field(&verified, "token")?;
        let certified = call(
            &self.verifier,
            "/api/certificate",
            Some(&self.device_key),
            upload.certificate_body(token, &mut rng),
        )
        .await?;
        let certificate = field(&certified, "certificate")?;
        let onset_interval = u32::try_from(onset_day * 144).ok();
        let body = upload.publish_body(certificate, &self.app_id, onset_interval, &mut rng);
        // The key server reads the verifier's signing keys (JWKS) at start: right after start
        // they may not be there yet.
        let mut last = Value::Null;
        for _ in 0..40 {
            let answer = post(&self.keyserver, "/v1/publish", None, false, body.clone()).await?;
            last = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
            if answer.status.as_u16() == 200 {
                let inserted = last.get("insertedExposures").and_then(Value::as_u64).unwrap_or(0);
                if usize::try_from(inserted).ok() != Some(keys.len()) {
                    bail!("the key server accepted {inserted} of {} keys: {last}", keys.len());
                }
                return Ok(keys.to_vec());
            }
            if answer.status.as_u16() != 401 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        bail!("/v1/publish refused the upload: {last}")
    }

    /// A chaff verify and a chaff publish, as apps send them on a schedule.
    async fn chaff(&self, seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        let _ = post(
            &self.verifier,
            "/api/verify",
            Some(&self.device_key),
            true,
            Upload::verify_body("000000", &mut rng),
        )
        .await;
        let _ =
            post(&self.keyserver, "/v1/publish", None, true, Upload::chaff_body(&mut rng)).await;
    }
}
