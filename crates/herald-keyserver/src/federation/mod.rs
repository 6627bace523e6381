//! The federation client (key-server.md §8; efgs-gateway.md): uploads consented keys from the
//! outbox in signed batches, downloads other countries' keys by walking each day's
//! `nextBatchTag` chain, and re-verifies every origin's batch signature through the audit
//! endpoint before importing anything.
//!
//! Upload guarantees (nothing lost, nothing sent twice, across restarts):
//! - a batch tag is reserved with its keys *before* the first attempt; a retry reuses it;
//! - `201` → done; `409` on a retried tag → the earlier attempt landed, done;
//! - `207` → the keys the gateway could store (`201`) and those that failed (`500`) go back to
//!   the outbox for a new, re-signed batch; the `409`s are already there (cwa-server #1391);
//! - `5xx` or no answer → the same batch again after a backoff (10 s · 2ⁿ, at most an hour);
//! - any other answer is a bug on one side: the batch is set aside (`failed`) and logged, its
//!   keys are not retried in a loop.

mod audit;
pub mod callback;

use std::sync::Arc;

use herald_model::{
    BatchTag, Clock, CountryCode, ReportType, TemporaryExposureKey, TransmissionRiskLevel, UnixTime,
};
use herald_runtime::{Answer, HttpsClient};
use herald_service::random::Randomness;
use herald_trust::AnchorCertificate;
use herald_wire::cms::SigningIdentity;
use herald_wire::efgs::{self, DaysSinceOnset, DsosMeaning, EfgsKey, TransmissionRisk};
use hyper::Method;
use rand::RngExt as _;

pub use self::audit::{AuditError, AuditedUpload, audit_download_batch};
use crate::store::{ReportColumn as _, Store, StoreError, StoredKey, VerificationReportType};

/// The EFGS media type herald sends.
const PROTOBUF: &str = "application/protobuf; version=1.0";

/// Why a federation run failed (the next run retries).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FederationError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The gateway could not be reached.
    #[error("gateway: {0}")]
    Client(#[from] herald_runtime::ClientError),
    /// Signing the batch failed.
    #[error("signing the batch: {0}")]
    Sign(String),
    /// The gateway answered something unexpected.
    #[error("gateway answered {status} to {what}: {message}")]
    Answer {
        /// The request.
        what: &'static str,
        /// HTTP status.
        status: u16,
        /// The gateway's message.
        message: String,
    },
}

/// What an upload run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct UploadReport {
    /// Batches that landed.
    pub batches: usize,
    /// Keys in them.
    pub keys: usize,
    /// Keys sent back to the outbox after a 207.
    pub requeued: usize,
}

/// What a download run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DownloadReport {
    /// Download batches processed.
    pub batches: usize,
    /// Keys received.
    pub received: usize,
    /// Keys imported (new and valid).
    pub imported: usize,
    /// Keys dropped (invalid, too old, unverifiable signature).
    pub dropped: usize,
}

/// The federation client of one key server.
pub struct Federation {
    store: Store,
    client: HttpsClient,
    identity: SigningIdentity,
    country: CountryCode,
    anchor: Option<AnchorCertificate>,
    audit: bool,
    clock: Arc<dyn Clock>,
    batch_min_keys: i64,
    batch_max_keys: i64,
    download_days: i64,
    retention_days: i64,
    release_with: Vec<String>,
    /// Batch tags and the signatures' added entropy.
    random: Randomness,
}

impl std::fmt::Debug for Federation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Federation")
            .field("client", &self.client)
            .field("country", &self.country)
            .finish_non_exhaustive()
    }
}

/// Settings of [`Federation::new`].
#[derive(Debug, Clone)]
pub struct FederationSettings {
    /// Re-verify downloads through the audit endpoint.
    pub audit: bool,
    /// Fewest keys worth a batch.
    pub batch_min_keys: i64,
    /// Most keys per batch.
    pub batch_max_keys: i64,
    /// Days back the walk covers.
    pub download_days: i64,
    /// Key retention, days (older keys are not imported).
    pub retention_days: i64,
    /// Export configurations that pad: own keys go to the gateway only once a window of one of
    /// them holding them was exported, with its padding keys (empty: as soon as they are due).
    pub release_with: Vec<String>,
}

fn message(answer: &Answer) -> String {
    serde_json::from_slice::<serde_json::Value>(&answer.body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&answer.body).chars().take(200).collect())
}

/// Percent-encodes everything but RFC 3986 unreserved characters (for a query or path part).
fn percent_encode(text: &str) -> String {
    use std::fmt::Write as _;
    text.bytes().fold(String::with_capacity(text.len() * 3), |mut out, b| {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
        out
    })
}

/// `yyyy-MM-dd` of a UTC day number.
pub fn civil_date(day: i64) -> String {
    herald_model::Date::of(UnixTime(day.saturating_mul(86_400))).to_string()
}

impl Federation {
    /// A client for `client`'s gateway, signing with `identity` as `country`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Store,
        client: HttpsClient,
        identity: SigningIdentity,
        country: CountryCode,
        anchor: Option<AnchorCertificate>,
        clock: Arc<dyn Clock>,
        settings: FederationSettings,
    ) -> Self {
        Self {
            store,
            client,
            identity,
            country,
            anchor,
            audit: settings.audit,
            clock,
            batch_min_keys: settings.batch_min_keys,
            batch_max_keys: settings.batch_max_keys,
            download_days: settings.download_days,
            retention_days: settings.retention_days,
            release_with: settings.release_with,
            random: Randomness::os(),
        }
    }

    /// The same client drawing batch tags and signature entropy from `random` (the operating
    /// system's generator otherwise).
    #[must_use]
    pub fn with_randomness(mut self, random: Randomness) -> Self {
        self.random = random;
        self
    }

    fn new_tag(&self, now: i64) -> BatchTag {
        let suffix: u64 = self.random.with(|rng| rng.random());
        BatchTag::upload(self.country, now, suffix)
    }

    /// Uploads every due outbox batch.
    pub async fn upload_once(&self) -> Result<UploadReport, FederationError> {
        let mut report = UploadReport::default();
        // Bounded: a run never loops forever even if the gateway keeps answering 207.
        for _ in 0..100 {
            let now = self.clock.now().seconds();
            let Some(batch) = self
                .store
                .next_outbox_batch_released(
                    &self.new_tag(now),
                    now,
                    self.batch_min_keys,
                    self.batch_max_keys,
                    &self.release_with,
                )
                .await?
            else {
                break;
            };
            let keys: Vec<EfgsKey> = batch.keys.iter().map(|k| self.to_efgs(k)).collect();
            let signature = self
                .random
                .with(|rng| efgs::sign_batch(&keys, &self.identity, UnixTime(now), rng))
                .map_err(|e| FederationError::Sign(e.to_string()))?;
            let body = efgs::encode_protobuf(&keys);
            let sent = self
                .client
                .request(
                    Method::POST,
                    "/diagnosiskeys/upload",
                    &[
                        ("content-type", PROTOBUF),
                        ("batchTag", batch.tag.as_str()),
                        ("batchSignature", signature.as_str()),
                    ],
                    body,
                )
                .await;
            let answer = match sent {
                Ok(answer) => answer,
                Err(error) => {
                    tracing::warn!(tag = %batch.tag, %error, "federation upload failed; will retry");
                    self.retry_later(&batch.tag, batch.attempts, now).await?;
                    return Err(error.into());
                }
            };
            match answer.status.as_u16() {
                201 | 409 => {
                    // 409 for our own reserved tag: an earlier attempt of this batch landed.
                    self.store.outbox_batch_done(&batch.tag).await?;
                    tracing::info!(tag = %batch.tag, keys = keys.len(), status = answer.status.as_u16(), "federation batch uploaded");
                    report.batches += 1;
                    report.keys += keys.len();
                }
                207 => {
                    let lists: serde_json::Value =
                        serde_json::from_slice(&answer.body).unwrap_or_default();
                    let indexes = |code: &str| -> Vec<usize> {
                        lists
                            .get(code)
                            .and_then(serde_json::Value::as_array)
                            .map(|a| {
                                a.iter()
                                    .filter_map(serde_json::Value::as_u64)
                                    .filter_map(|v| usize::try_from(v).ok())
                                    .collect()
                            })
                            .unwrap_or_default()
                    };
                    let resend: Vec<TemporaryExposureKey> = indexes("201")
                        .into_iter()
                        .chain(indexes("500"))
                        .filter_map(|i| keys.get(i).map(|k| k.key.clone()))
                        .collect();
                    self.store.outbox_batch_split(&batch.tag, &resend).await?;
                    tracing::info!(tag = %batch.tag, requeued = resend.len(), duplicates = indexes("409").len(), "federation batch partly refused (207); re-sending the rest");
                    report.requeued += resend.len();
                }
                status if status >= 500 => {
                    tracing::warn!(tag = %batch.tag, status, "gateway error; will retry");
                    self.retry_later(&batch.tag, batch.attempts, now).await?;
                    return Err(FederationError::Answer {
                        what: "upload",
                        status,
                        message: message(&answer),
                    });
                }
                status => {
                    self.store.outbox_batch_failed(&batch.tag, now, true).await?;
                    tracing::error!(tag = %batch.tag, status, message = %message(&answer), "gateway refused the batch; set aside");
                    return Err(FederationError::Answer {
                        what: "upload",
                        status,
                        message: message(&answer),
                    });
                }
            }
        }
        Ok(report)
    }

    async fn retry_later(&self, tag: &BatchTag, attempts: i64, now: i64) -> Result<(), StoreError> {
        let shift = u32::try_from(attempts.clamp(0, 9)).unwrap_or(9);
        let wait = (10i64 << shift).min(3600);
        self.store.outbox_batch_failed(tag, now + wait, false).await
    }

    fn to_efgs(&self, key: &StoredKey) -> EfgsKey {
        let key_day = i64::from(key.interval_number) * 600 / 86_400;
        let dsos = match key.days_since_onset {
            Some(d) => d,
            // Symptom status unknown: 3000 + days since submission (efgs-gateway.md §2).
            None => {
                3000 + i32::try_from((key_day - key.created_at.div_euclid(86_400)).clamp(-14, 14))
                    .unwrap_or(0)
            }
        };
        EfgsKey {
            key: key.key.clone(),
            rolling_start: herald_model::IntervalNumber(key.interval_number),
            rolling_period: herald_model::RollingPeriod::new(key.interval_count)
                .unwrap_or(herald_model::RollingPeriod::FULL_DAY),
            transmission_risk: TransmissionRiskLevel::new(i32::from(key.transmission_risk))
                .map_or(TransmissionRisk::NotProvided, TransmissionRisk::Level),
            visited_countries: Vec::new(),
            origin: self.country,
            report_type: match key.report_type.export() {
                ReportType::Unknown => ReportType::ConfirmedTest,
                other => other,
            },
            days_since_onset: DaysSinceOnset::new(dsos).unwrap_or_default(),
        }
    }

    /// Subscribes `url` as `callback_id` with the gateway (`PUT /diagnosiskeys/callback/{id}`, an
    /// upsert: safe to repeat at every start).
    pub async fn subscribe_callback(
        &self,
        callback_id: &str,
        url: &str,
    ) -> Result<(), FederationError> {
        let path = format!(
            "/diagnosiskeys/callback/{}?url={}",
            percent_encode(callback_id),
            percent_encode(url)
        );
        let answer = self.client.request(Method::PUT, &path, &[], Vec::new()).await?;
        if answer.status.is_success() {
            Ok(())
        } else {
            Err(FederationError::Answer {
                what: "callback subscription",
                status: answer.status.as_u16(),
                message: message(&answer),
            })
        }
    }

    /// Walks each day's batch chain from where the last run stopped and imports new batches.
    pub async fn download_once(&self) -> Result<DownloadReport, FederationError> {
        let mut report = DownloadReport::default();
        let today = self.clock.now().seconds().div_euclid(86_400);
        for day in (today - self.download_days)..=today {
            self.download_day(&civil_date(day), &mut report).await?;
        }
        Ok(report)
    }

    /// Downloads one batch (`tag`) or the day's first; `None` when the day has none (404) or is
    /// past the gateway's window (410).
    async fn fetch(
        &self,
        date: &str,
        tag: Option<&BatchTag>,
    ) -> Result<Option<Answer>, FederationError> {
        let mut headers = vec![("accept", PROTOBUF)];
        if let Some(tag) = tag {
            headers.push(("batchTag", tag.as_str()));
        }
        let answer = self
            .client
            .request(Method::GET, &format!("/diagnosiskeys/download/{date}"), &headers, Vec::new())
            .await?;
        match answer.status.as_u16() {
            200 => Ok(Some(answer)),
            404 | 410 => Ok(None),
            status => {
                Err(FederationError::Answer { what: "download", status, message: message(&answer) })
            }
        }
    }

    async fn download_day(
        &self,
        date: &str,
        report: &mut DownloadReport,
    ) -> Result<(), FederationError> {
        let cursor = self.store.download_cursor(date).await?;
        let Some(mut answer) = self.fetch(date, cursor.as_ref()).await? else {
            return Ok(());
        };
        // Bounded walk (a day has at most a few thousand batches).
        for _ in 0..10_000 {
            let Some(tag) = answer.header("batchTag") else {
                return Err(FederationError::Answer {
                    what: "download",
                    status: 200,
                    message: "no batchTag header".into(),
                });
            };
            let tag = BatchTag::parse(tag).map_err(|e| FederationError::Answer {
                what: "download",
                status: 200,
                message: format!("batchTag header: {e}"),
            })?;
            // A gateway may answer a day without batches with the next day's first batch: that
            // day's walk takes it (the audit is asked with the batch's own date).
            if !tag.as_str().starts_with(&date.replace('-', "")) {
                break;
            }
            if !self.store.download_seen(&tag).await? {
                self.import(date, &tag, &answer, report).await?;
            }
            let next = answer.header("nextBatchTag").filter(|n| *n != "null");
            let Some(next) = next else { break };
            // A next tag no gateway could have formed ends the walk, as an unknown one would.
            let Ok(next) = BatchTag::parse(next) else {
                tracing::warn!(%tag, "nextBatchTag header is not a batch tag; walk ends");
                break;
            };
            // The chain continues into the next day (EFGS #285): that day's walk takes it up.
            if !next.as_str().starts_with(&date.replace('-', "")) {
                break;
            }
            answer = match self.fetch(date, Some(&next)).await? {
                Some(answer) => answer,
                None => break,
            };
        }
        Ok(())
    }

    async fn import(
        &self,
        date: &str,
        tag: &BatchTag,
        answer: &Answer,
        report: &mut DownloadReport,
    ) -> Result<(), FederationError> {
        let now = self.clock.now().seconds();
        let keys = match efgs::decode_protobuf(&answer.body) {
            Ok(keys) => keys,
            Err(error) => {
                tracing::warn!(%tag, %error, "downloaded batch does not decode; skipped");
                self.store
                    .import_download_batch(date, tag, "error_wont_retry", 0, &[], now)
                    .await?;
                return Ok(());
            }
        };
        report.batches += 1;
        report.received += keys.len();
        let (verified, state) = if self.audit && !keys.is_empty() {
            match audit_download_batch(
                &self.client,
                date,
                tag,
                &keys,
                Some(self.country),
                self.anchor.as_ref(),
            )
            .await
            {
                Ok((verified, _)) => {
                    let state = if verified.len() == keys.len() {
                        "processed"
                    } else {
                        "processed_with_error"
                    };
                    (verified, state)
                }
                Err(error) => {
                    tracing::warn!(%tag, %error, "audit of a downloaded batch failed; will retry");
                    return Err(FederationError::Answer {
                        what: "audit",
                        status: 0,
                        message: error.to_string(),
                    });
                }
            }
        } else {
            (keys.iter().collect(), "processed")
        };
        let oldest = now - self.retention_days * 86_400;
        report.dropped += keys.len().saturating_sub(verified.len());
        let mut stored = Vec::new();
        for key in verified {
            match self.import_key(key, now, oldest) {
                Some(k) => stored.push(k),
                None => report.dropped += 1,
            }
        }
        let received = i64::try_from(keys.len()).unwrap_or(i64::MAX);
        let imported =
            self.store.import_download_batch(date, tag, state, received, &stored, now).await?;
        report.imported += imported;
        tracing::info!(%tag, received, imported, state, "federation batch imported");
        Ok(())
    }

    /// A foreign key as stored, or `None` when it must be dropped (key-server.md §8 item 4).
    fn import_key(&self, key: &EfgsKey, now: i64, oldest: i64) -> Option<StoredKey> {
        if key.origin == self.country {
            return None;
        }
        let report_type = match key.report_type {
            ReportType::ConfirmedTest => Some(VerificationReportType::Confirmed),
            ReportType::ConfirmedClinicalDiagnosis => Some(VerificationReportType::Likely),
            _ => return None,
        };
        let start = i64::from(key.rolling_start.get());
        let count = i64::from(key.rolling_period.get());
        let valid_until = (start + count) * 600;
        if valid_until < oldest {
            return None;
        }
        let dsos = match key.days_since_onset.meaning() {
            DsosMeaning::OnsetKnown { days } => Some(days),
            _ => None,
        };
        // An invalid TRL is derived from the DSOS and vice versa; both invalid: dropped.
        let transmission_risk = herald_wire::trl_dsos::normalize(
            key.transmission_risk.wire(),
            key.days_since_onset.get(),
        )
        .ok()?
        .transmission_risk
        .get();
        let mut regions = vec![key.origin.as_str().to_owned()];
        regions.extend(key.visited_countries.iter().map(|c| c.as_str().to_owned()));
        let hour = |t: i64| t.div_euclid(3600) * 3600;
        Some(StoredKey {
            key: key.key.clone(),
            transmission_risk,
            source: "federation".to_owned(),
            regions,
            traveler: !key.visited_countries.is_empty(),
            interval_number: key.rolling_start.get(),
            interval_count: u32::from(key.rolling_period.get()),
            // The embargo holds for foreign keys too: never before validity end + 1 h.
            created_at: hour(now).max(hour(valid_until + 3600)),
            local_provenance: false,
            origin: key.origin,
            report_type,
            days_since_onset: dsos,
            revision: None,
        })
    }
}
