//! `POST /v1/publish` (key-server.md §2, §3.5, §6.2–6.3): the ENS v1 publish API.
//!
//! The rules themselves are pure functions in `herald_wire::publish`; this module runs them in
//! ENS's order against the configuration, the verification certificate and the store, and
//! shapes every answer so that an observer cannot tell outcomes apart by size:
//! - every answer (success, refusal, chaff) is padded to exactly `response_size` bytes, with the
//!   same headers (`content-type`, `x-api-version: v1`, `cache-control: no-store`): successes
//!   through the endpoint's `herald_runtime::padding::Padding`, refusals (a `PublishRefusal`:
//!   code, message, and a status when it is not the code's) through the runtime's error
//!   boundary, `herald_runtime::refusal::respond_padded`, with the same padding;
//! - a request with `X-Chaff` is read, not processed, stored nowhere, and answered 200 after a
//!   delay drawn around the recent latency of real answers (an async sleep, never busy-waiting).
//!
//! Deliberate differences from ENS, each tested: a database failure is 500 `internal_error`
//! (ENS: 400); the body cap counts bytes read, not `Content-Length`; only POST is routed.

mod certificate;
/// Chaff timing lives in `herald-service` (the verifier uses it too).
pub use herald_service::chaff;
mod revision;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use herald_model::{Clock, CountryCode, TemporaryExposureKey};
use herald_runtime::padding::{Alphabet, Padding};
use herald_runtime::refusal::{self, PaddedRefusal, Refusal};
use herald_wire::publish::response::{ErrorCode, PublishResponse};
use herald_wire::publish::revision::RevisableKey;
use herald_wire::publish::rules::{self, AcceptedKey};
use herald_wire::publish::{PublishRequest, VerificationReportType, decode_request};
use http_body_util::BodyExt as _;

pub use self::certificate::{CertificateError, Issuers, VerifiedCertificate};
use self::chaff::LatencyTracker;
pub use self::revision::RevisionKeys;
use crate::config::{AppConfig, PublishConfig};
use crate::store::{
    KeyRevision, PublishOutcome, PublishWrite, ReportColumn as _, Store, StoredKey,
};

/// Largest body read (ENS: 64,000 bytes).
pub const MAX_BODY_BYTES: usize = 64_000;

/// A refused publish: the `code` and `error` of the answer (ENS's `PublishResponse` with no
/// other field but its padding).
#[derive(Debug)]
struct PublishRefusal {
    code: ErrorCode,
    message: String,
    /// A status other than the code's (ENS answers 413 and 415 with a `bad_request` body).
    status: Option<StatusCode>,
}

impl PublishRefusal {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), status: None }
    }

    fn with_status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    /// The answer, before padding.
    fn answer(&self) -> PublishResponse {
        PublishResponse::error(self.code, &self.message)
    }
}

impl Refusal for PublishRefusal {
    fn status(&self) -> StatusCode {
        self.status.unwrap_or_else(|| status_of(&self.answer()))
    }

    fn body(&self) -> String {
        self.answer().to_json()
    }
}

impl PaddedRefusal for PublishRefusal {
    fn padded_body(&self, padding: String) -> String {
        PublishResponse { padding, ..self.answer() }.to_json()
    }
}

/// The status of an answer: its code's, or 200 without one.
fn status_of(response: &PublishResponse) -> StatusCode {
    StatusCode::from_u16(response.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The publish handler's state.
pub struct PublishService {
    store: Store,
    apps: HashMap<String, AppConfig>,
    issuers: Arc<Issuers>,
    revision: RevisionKeys,
    clock: Arc<dyn Clock>,
    country: CountryCode,
    federation: bool,
    padding: Padding,
    latency: LatencyTracker,
}

impl std::fmt::Debug for PublishService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishService").field("apps", &self.apps.len()).finish_non_exhaustive()
    }
}

impl PublishService {
    /// A handler for `config`'s apps, checking certificates against `issuers`.
    pub fn new(
        store: Store,
        config: &PublishConfig,
        issuers: Arc<Issuers>,
        revision: RevisionKeys,
        clock: Arc<dyn Clock>,
        country: CountryCode,
        federation: bool,
    ) -> Self {
        let apps = config.apps.iter().map(|a| (a.id.to_ascii_lowercase(), a.clone())).collect();
        Self {
            store,
            apps,
            issuers,
            revision,
            clock,
            country,
            federation,
            padding: Padding {
                size: config.response_size,
                alphabet: Alphabet::Base64,
                headers: &[("x-api-version", "v1")],
            },
            latency: LatencyTracker::new(std::time::Duration::from_millis(
                config.chaff_max_latency_ms,
            )),
        }
    }

    /// Answers one request.
    pub async fn handle(&self, headers: &HeaderMap, body: Body) -> Response {
        let started = Instant::now();
        if headers.contains_key("x-chaff") {
            // Read (and drop) the body like a real request, store nothing, wait like a real one.
            let _ = read_capped(body).await;
            tokio::time::sleep(self.latency.chaff_delay()).await;
            return self.answer(StatusCode::OK, PublishResponse::default());
        }
        match self.process(headers, body).await {
            Ok(response) => {
                let status = status_of(&response);
                if status == StatusCode::OK {
                    self.latency.record(started.elapsed());
                }
                self.answer(status, response)
            }
            Err(refused) => refusal::respond_padded(&refused, &self.padding),
        }
    }

    /// A success (or chaff), padded like every answer of the endpoint.
    fn answer(&self, status: StatusCode, mut response: PublishResponse) -> Response {
        self.padding.respond(status, |padding| {
            response.padding = padding;
            response.to_json()
        })
    }

    async fn process(
        &self,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<PublishResponse, PublishRefusal> {
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/json"));
        if !json {
            return Err(PublishRefusal::new(
                ErrorCode::BadRequest,
                "content-type is not application/json",
            )
            .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        }
        let bytes = read_capped(body).await.map_err(|e| match e {
            ReadError::TooLarge => PublishRefusal::new(
                ErrorCode::BadRequest,
                format!("request body too large: more than {MAX_BODY_BYTES} bytes"),
            )
            .with_status(StatusCode::PAYLOAD_TOO_LARGE),
            ReadError::Io => {
                PublishRefusal::new(ErrorCode::BadRequest, "request body could not be read")
            }
        })?;
        let request = decode_request(&bytes).map_err(|error| {
            PublishRefusal::new(ErrorCode::BadRequest, format!("bad request: {error}"))
        })?;
        self.publish(&request).await
    }

    #[allow(clippy::too_many_lines)] // §2.4 steps 1–11 in order, as ENS runs them
    async fn publish(&self, request: &PublishRequest) -> Result<PublishResponse, PublishRefusal> {
        let now = self.clock.now();
        // §2.4 step 1: the app.
        let app =
            self.apps.get(&request.health_authority_id.to_ascii_lowercase()).ok_or_else(|| {
                PublishRefusal::new(
                    ErrorCode::UnknownHealthAuthorityId,
                    "unknown health authority ID",
                )
            })?;
        // Step 2: the verification certificate (ES256 only, issuer of this app, key, times,
        // report type, tekmac).
        let certificate = self
            .issuers
            .verify(
                &request.verification_payload,
                &app.issuers,
                &request.hmac_key,
                &request.keys,
                now,
            )
            .map_err(|e| match e {
                CertificateError::KeysNotLoaded(issuer) => {
                    tracing::warn!(%issuer, "publish before the issuer's JWKS was read; the app is told to try again");
                    PublishRefusal::new(
                        ErrorCode::UnableToLoadHealthAuthority,
                        "unable to validate diagnosis verification: the verification service's \
                         keys are not loaded yet; try again later",
                    )
                }
                e => PublishRefusal::new(
                    ErrorCode::HealthAuthorityVerificationCertificateInvalid,
                    format!("unable to validate diagnosis verification: {e}"),
                ),
            })?;
        // One-time use (checked again inside the publish transaction).
        if self.store.certificate_used(&certificate.hash).await.map_err(|e| internal(&e))? {
            return Err(PublishRefusal::new(
                ErrorCode::HealthAuthorityVerificationCertificateInvalid,
                "unable to validate diagnosis verification: the certificate was already used",
            ));
        }
        // Step 3: the revision token (undecryptable = none).
        let token_keys = request.revision_token.as_deref().and_then(|t| self.revision.open(t));
        // Step 4: the key count.
        rules::check_key_count(request.keys.len())
            .map_err(|e| PublishRefusal::new(ErrorCode::BadRequest, e.to_string()))?;
        // Step 5: the symptom onset.
        let onset = rules::symptom_onset(
            request.symptom_onset_interval,
            certificate.symptom_onset_interval,
            now,
        );
        // Step 6: per-key checks (a bad key is dropped, not the request).
        let (mut accepted, rejections) = rules::validate_keys(&request.keys, now);
        if accepted.is_empty() {
            return Err(PublishRefusal::new(
                ErrorCode::BadRequest,
                rules::partial_failure_message(&rejections),
            ));
        }
        // Step 9 (DSOS), then step 10 (layout).
        let warnings = rules::apply_symptom_onset(&mut accepted, &onset);
        if accepted.is_empty() {
            return Err(PublishRefusal::new(ErrorCode::BadRequest, warnings.join("; ")));
        }
        rules::check_key_layout(&mut accepted)
            .map_err(|e| PublishRefusal::new(ErrorCode::BadRequest, e.to_string()))?;
        // Steps 7, 8 and 11: build the rows, decide revisions.
        let report_type = Some(certificate.report_type);
        let keys: Vec<TemporaryExposureKey> = accepted.iter().map(|k| k.key.clone()).collect();
        let existing = self.store.existing_keys(&keys).await.map_err(|e| internal(&e))?;
        let existing: HashMap<[u8; 16], StoredKey> =
            existing.into_iter().map(|k| (*k.key.as_bytes(), k)).collect();
        let mut inserts = Vec::new();
        let mut revisions = Vec::new();
        let mut touched = Vec::new();
        let hour = rules::truncate_to_window(now).seconds();
        for key in &accepted {
            let tr = rules::backfill_transmission_risk(
                Some(certificate.report_type),
                key.transmission_risk,
            )
            .get();
            let dsos = key.days_since_onset.map(|d| i32::from(d.get()));
            if let Some(old) = existing.get(key.key.as_bytes()) {
                let Some(token) = &token_keys else {
                    return Err(PublishRefusal::new(
                        ErrorCode::MissingRevisionToken,
                        "revision token required: some keys were already published",
                    ));
                };
                check_revision(old, key, token, certificate.report_type)?;
                if old.report_type == report_type
                    || (old.report_type.is_none()
                        && report_type == Some(VerificationReportType::Likely))
                {
                    touched.push(key.clone());
                    continue; // unchanged: a silent no-op
                }
                let revision = KeyRevision {
                    report_type,
                    revised_at: hour,
                    days_since_onset: dsos,
                    transmission_risk: tr,
                };
                revisions.push((old.key.clone(), old.report_type, revision));
                touched.push(key.clone());
            } else {
                if report_type == Some(VerificationReportType::Negative) {
                    continue; // initial negative keys are not stored (ENS)
                }
                inserts.push(StoredKey {
                    key: key.key.clone(),
                    transmission_risk: tr,
                    source: app.id.to_ascii_lowercase(),
                    regions: app.regions.iter().map(|r| r.to_ascii_uppercase()).collect(),
                    traveler: request.traveler,
                    interval_number: key.rolling_start.get(),
                    interval_count: u32::from(key.rolling_period.get()),
                    created_at: rules::created_at(key.rolling_start, key.rolling_period, now)
                        .seconds(),
                    local_provenance: true,
                    origin: self.country,
                    report_type,
                    days_since_onset: dsos,
                    revision: None,
                });
                touched.push(key.clone());
            }
        }
        // Each key is queued with its own embargo (the store adds validity end + 2 h).
        let federate = (self.federation && app.federate).then_some(now.seconds());
        let write = PublishWrite {
            certificate: Some((certificate.hash, certificate.expires_at)),
            inserts,
            revisions,
            federate_not_before: federate,
        };
        let inserted = match self.store.publish(&write).await {
            Ok(PublishOutcome::Stored { inserted, .. }) => inserted,
            Ok(PublishOutcome::CertificateReused) => {
                return Err(PublishRefusal::new(
                    ErrorCode::HealthAuthorityVerificationCertificateInvalid,
                    "unable to validate diagnosis verification: the certificate was already used",
                ));
            }
            Ok(PublishOutcome::KeyAlreadyRevised) => {
                return Err(PublishRefusal::new(
                    ErrorCode::KeyAlreadyRevised,
                    "a key was already revised",
                ));
            }
            Err(e) => return Err(internal(&e)),
        };
        // The new token: earlier keys still revisable, then this request's keys.
        let new: Vec<RevisableKey> = touched
            .iter()
            .map(|k| RevisableKey {
                key: k.key.clone(),
                rolling_start: k.rolling_start,
                rolling_period: k.rolling_period,
            })
            .collect();
        let revision_token =
            self.revision.seal(&token_keys.unwrap_or_default(), &new, now).map_err(|e| {
                tracing::error!(error = %e, "revision token could not be sealed");
                PublishRefusal::new(ErrorCode::InternalError, "internal error")
            })?;
        let mut response = PublishResponse {
            revision_token: Some(revision_token),
            inserted_exposures: u32::try_from(inserted).unwrap_or(u32::MAX),
            warnings,
            ..PublishResponse::default()
        };
        if !rejections.is_empty() {
            response.code = Some(ErrorCode::PartialFailure);
            response.error = Some(rules::partial_failure_message(&rejections));
        }
        tracing::info!(
            inserted,
            keys = accepted.len(),
            dropped = rejections.len(),
            "publish accepted"
        );
        Ok(response)
    }
}

fn internal(error: &dyn std::fmt::Display) -> PublishRefusal {
    tracing::error!(%error, "publish failed in the database");
    PublishRefusal::new(ErrorCode::InternalError, "internal error; try again later")
}

/// §2.5: an uploaded key that already exists may only be revised by the device that uploaded
/// it (its token), with matching metadata, once, along an allowed transition.
fn check_revision(
    old: &StoredKey,
    key: &AcceptedKey,
    token: &[RevisableKey],
    new: VerificationReportType,
) -> Result<(), PublishRefusal> {
    let invalid = |m: &str| Err(PublishRefusal::new(ErrorCode::InvalidRevisionToken, m));
    let Some(entry) = token.iter().find(|t| t.key == key.key) else {
        return invalid("revision token is invalid: it does not hold a key that already exists");
    };
    if !old.local_provenance {
        return invalid("revision token is invalid: the key came from elsewhere");
    }
    let meta = (old.interval_number, old.interval_count);
    if meta != (entry.rolling_start.get(), u32::from(entry.rolling_period.get()))
        || meta != (key.rolling_start.get(), u32::from(key.rolling_period.get()))
    {
        return invalid("revision token is invalid: key metadata does not match");
    }
    if old.revision.is_some() {
        return Err(PublishRefusal::new(
            ErrorCode::KeyAlreadyRevised,
            "a key can be revised only once",
        ));
    }
    let from = old.report_type.unwrap_or(VerificationReportType::Likely);
    let allowed = from == new
        || matches!(
            (from, new),
            (
                VerificationReportType::Likely,
                VerificationReportType::Confirmed | VerificationReportType::Negative
            ) | (
                VerificationReportType::UserReport,
                VerificationReportType::Confirmed
                    | VerificationReportType::Likely
                    | VerificationReportType::Negative
            )
        );
    if !allowed {
        return Err(PublishRefusal::new(
            ErrorCode::InvalidReportTypeTransition,
            format!(
                "invalid report type transition: {} to {}",
                old.report_type.column(),
                new.as_str()
            ),
        ));
    }
    Ok(())
}

enum ReadError {
    TooLarge,
    Io,
}

/// Reads at most [`MAX_BODY_BYTES`], counting bytes actually read (a chunked body has no
/// `Content-Length` to trust).
async fn read_capped(body: Body) -> Result<Vec<u8>, ReadError> {
    let mut body = body;
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ReadError::Io)?;
        if let Some(data) = frame.data_ref() {
            if out.len() + data.len() > MAX_BODY_BYTES {
                return Err(ReadError::TooLarge);
            }
            out.extend_from_slice(data);
        }
    }
    Ok(out)
}
