//! The EFGS HTTP interface (efgs-gateway.md §1): upload, download, audit, callback administration
//! and `OPTIONS`, with the
//! reference's checks in the reference's order and `{"message": …}` error bodies.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, options, post, put};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use herald_model::{CertThumbprint, Clock, CountryCode, Date, UnixTime};
use herald_runtime::PeerInfo;
use herald_trust::{AnchorCertificate, TrustEntry, TrustKind as EntryKind};
use herald_wire::efgs::{self, EfgsKey};

use crate::identity::{AuthMode, IdentityError};
use crate::media::{self, Format};
use crate::metrics::{Counter, Metrics};
use crate::store::{NewUpload, Store, TrustKind, TrustRow, UploadMode, UploadOutcome};

/// Most keys per upload (§5.1, `maximum-upload-batch-size`).
pub const MAX_UPLOAD_KEYS: usize = 5000;
/// Largest upload body accepted: 5000 keys with 30 visited countries each fit in well under this.
pub const MAX_UPLOAD_BYTES: usize = 4 << 20;
/// Longest wait for a statistics row to be written before the answer goes out without it.
const STATISTICS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Settings of the API that operators choose.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// How callers are identified.
    pub auth: AuthMode,
    /// Dates older than today − this many days are refused with 410 (EFGS production: 2).
    pub max_age_days: i64,
    /// EFGS 207 behaviour (whole upload rolled back) or storing the valid keys.
    pub upload_mode: UploadMode,
    /// Whether callback URLs may name private, loopback or link-local IP addresses (dev and
    /// tests only; production: `false`).
    pub allow_private_callback_hosts: bool,
}

/// Everything a request handler needs.
#[derive(Clone)]
pub struct AppState {
    /// Storage.
    pub store: Store,
    /// The trust anchor's certificate, to check every trust-list row before using it.
    pub anchor: Arc<AnchorCertificate>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Operator settings.
    pub settings: Arc<ApiSettings>,
    /// Woken after every stored upload, so the batching job can run early.
    pub uploaded: Arc<tokio::sync::Notify>,
    /// The process's metrics.
    pub metrics: Arc<Metrics>,
    /// Wakes the callback worker (a subscription was put, or resumed).
    pub wake_callbacks: Arc<tokio::sync::Notify>,
}

/// The public router (`/diagnosiskeys/…`), built from [`routes`] only, with the request-duration
/// and per-status metrics of every route.
pub fn router(state: AppState) -> Router {
    let metrics = state.metrics.clone();
    let mut router = Router::new();
    for (_, path, handler) in routes() {
        // Routes of the same path merge their methods.
        router = router.route(path, handler);
    }
    router
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(metrics, crate::metrics::track_request))
}

/// Every public route as (method, path template): what [`router`] serves, and what the OpenAPI
/// document ([`crate::internal::OPENAPI`]) must describe.
pub fn public_routes() -> Vec<(Method, &'static str)> {
    routes().into_iter().map(|(method, path, _)| (method, path)).collect()
}

/// The routes: method, path template, handler. The one list both [`router`] and
/// [`public_routes`] read.
fn routes() -> Vec<(Method, &'static str, MethodRouter<AppState>)> {
    vec![
        (
            Method::POST,
            "/diagnosiskeys/upload",
            post(upload).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        ),
        (Method::GET, "/diagnosiskeys/download/{date}", get(download)),
        (Method::GET, "/diagnosiskeys/audit/download/{date}/{batchTag}", get(audit)),
        (Method::GET, "/diagnosiskeys/callback", get(list_callbacks)),
        (Method::PUT, "/diagnosiskeys/callback/{id}", put(put_callback)),
        (Method::DELETE, "/diagnosiskeys/callback/{id}", delete(delete_callback)),
        (Method::OPTIONS, "/diagnosiskeys", options(options_handler)),
    ]
}

/// A refusal: status plus the reference's message, as `{"message": …}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }

    fn internal(context: &str, error: &dyn std::error::Error) -> Self {
        tracing::error!(error = %error, "{context}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "message": self.message }).to_string();
        (self.status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The authentication filter (§1.1): identity, then a trusted, unrevoked AUTHENTICATION row of
/// the caller's country whose operator signature verifies.
async fn authenticate(
    state: &AppState,
    peer: &PeerInfo,
    headers: &HeaderMap,
) -> Result<(CertThumbprint, CountryCode), ApiError> {
    let (thumbprint, country) = state
        .settings
        .auth
        .identify(peer, |name| header_str(headers, name).map(str::to_owned), state.clock.now())
        .map_err(|e| match e {
            IdentityError::Missing => ApiError::new(
                StatusCode::FORBIDDEN,
                "Client is not authorized to access the service",
            ),
            IdentityError::InvalidCertificate => {
                ApiError::new(StatusCode::FORBIDDEN, "Client certificate is not valid")
            }
            IdentityError::Mismatch => {
                ApiError::new(StatusCode::FORBIDDEN, "Client certificate headers do not agree")
            }
            IdentityError::NoCountry => ApiError::new(
                StatusCode::BAD_REQUEST,
                "Client Certificate must contain country property",
            ),
        })?;
    let row = trusted_row(state, &thumbprint, country, TrustKind::Authentication).await?;
    match row {
        Some(row) if row.revoked => {
            Err(ApiError::new(StatusCode::FORBIDDEN, "Client certificate is revoked"))
        }
        Some(_) => Ok((thumbprint, country)),
        None => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Client is not authorized to access the service",
        )),
    }
}

/// The row for (thumbprint, country, kind) if it exists and passes the trust-anchor integrity
/// check (§4.3). A row that fails the check is ignored, and reported in the log.
async fn trusted_row(
    state: &AppState,
    thumbprint: &CertThumbprint,
    country: CountryCode,
    kind: TrustKind,
) -> Result<Option<TrustRow>, ApiError> {
    let Some(row) = state
        .store
        .trust_entry(thumbprint)
        .await
        .map_err(|e| ApiError::internal("trust list lookup failed", &e))?
    else {
        return Ok(None);
    };
    if row.country != country || row.kind != kind {
        return Ok(None);
    }
    if !passes_anchor_check(&state.anchor, &row) {
        return Ok(None);
    }
    Ok(Some(row))
}

/// Whether a trust-list row passes the trust-anchor integrity check (§4.3); a failure is
/// logged.
pub(crate) fn passes_anchor_check(anchor: &AnchorCertificate, row: &TrustRow) -> bool {
    let entry = TrustEntry {
        country: row.country,
        kind: match row.kind {
            TrustKind::Authentication => EntryKind::Authentication,
            TrustKind::Signing => EntryKind::Signing,
            TrustKind::Callback => EntryKind::Callback,
        },
        certificate_pem: row.certificate_pem.clone(),
        thumbprint: row.thumbprint,
        operator_signature: row.operator_signature.clone(),
        revoked: row.revoked,
        host: row.host.clone(),
    };
    if let Err(e) = anchor.verify_entry(&entry) {
        tracing::warn!(thumbprint = %row.thumbprint, country = %row.country, reason = %e, "ignoring a trust-list entry that fails the trust-anchor check");
        return false;
    }
    true
}

/// `GET /diagnosiskeys/callback[?suspended=true|false]` (§1.5): the caller's country's
/// subscriptions, as `{"callbackId", "url"}` like EFGS. A subscription suspended after repeated
/// failures (a herald deviation, see [`crate::callback`]) also carries `"suspended": true` and
/// `"suspendedAt"`; `?suspended=true` lists only those, `?suspended=false` only the active ones.
async fn list_callbacks(
    State(state): State<AppState>,
    axum::Extension(peer): axum::Extension<PeerInfo>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (_, country) = authenticate(&state, &peer, &headers).await?;
    let mut only_suspended = None;
    for (name, value) in url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        match (name.as_ref(), value.as_ref()) {
            ("suspended", "true") => only_suspended = Some(true),
            ("suspended", "false") => only_suspended = Some(false),
            ("suspended", _) => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "Parameter suspended must be true or false",
                ));
            }
            _ => {}
        }
    }
    let subscriptions = state
        .store
        .callbacks(country)
        .await
        .map_err(|e| ApiError::internal("listing callbacks failed", &e))?;
    let body: Vec<serde_json::Value> = subscriptions
        .iter()
        .filter(|s| only_suspended.is_none_or(|only| only == s.suspended_at.is_some()))
        .map(|s| match s.suspended_at {
            None => serde_json::json!({ "callbackId": s.callback_id, "url": s.url }),
            Some(at) => serde_json::json!({
                "callbackId": s.callback_id,
                "url": s.url,
                "suspended": true,
                "suspendedAt": at.iso_millis(),
            }),
        })
        .collect();
    let body = serde_json::Value::Array(body).to_string();
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// `PUT /diagnosiskeys/callback/{id}?url=<url>` (§1.5): creates or replaces a subscription; a
/// suspended subscription put again is resumed (its pending callbacks are retried at once).
async fn put_callback(
    State(state): State<AppState>,
    axum::Extension(peer): axum::Extension<PeerInfo>,
    Path(callback_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (_, country) = authenticate(&state, &peer, &headers).await?;
    let invalid = || ApiError::new(StatusCode::BAD_REQUEST, "Callback URL is invalid");
    let url = query
        .as_deref()
        .and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(name, _)| name == "url")
                .map(|(_, value)| value.into_owned())
        })
        .ok_or_else(invalid)?;
    crate::callback::validate_subscription(
        &callback_id,
        &url,
        state.settings.allow_private_callback_hosts,
    )
    .map_err(|e| {
        tracing::info!(%country, reason = %e, "callback subscription refused");
        invalid()
    })?;
    state
        .store
        .put_callback(country, &callback_id, &url, state.clock.now())
        .await
        .map_err(|e| ApiError::internal("storing a callback failed", &e))?;
    tracing::info!(%country, callback_id = callback_id.as_str(), "callback subscription stored");
    state.wake_callbacks.notify_one();
    Ok(StatusCode::OK.into_response())
}

/// `DELETE /diagnosiskeys/callback/{id}` (§1.5): 404 when the country has no such subscription.
async fn delete_callback(
    State(state): State<AppState>,
    axum::Extension(peer): axum::Extension<PeerInfo>,
    Path(callback_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (_, country) = authenticate(&state, &peer, &headers).await?;
    let deleted = state
        .store
        .delete_callback(country, &callback_id)
        .await
        .map_err(|e| ApiError::internal("deleting a callback failed", &e))?;
    if !deleted {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "Could not find callback"));
    }
    tracing::info!(%country, callback_id = callback_id.as_str(), "callback subscription deleted");
    Ok(StatusCode::OK.into_response())
}

/// `OPTIONS /diagnosiskeys` (§1.7), unauthenticated.
async fn options_handler() -> Response {
    (
        StatusCode::OK,
        [
            (header::ALLOW, "POST,GET,OPTIONS"),
            (header::ACCEPT, "application/json; version=1.0, application/protobuf; version=1.0"),
        ],
    )
        .into_response()
}

/// `POST /diagnosiskeys/upload` (§1.2), checks in the reference's order.
async fn upload(
    State(state): State<AppState>,
    axum::Extension(peer): axum::Extension<PeerInfo>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    // 0. Who is calling.
    let (auth_thumbprint, country) = authenticate(&state, &peer, &headers).await?;
    // 1. Required headers.
    let batch_tag = header_str(&headers, "batchTag")
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "Missing request header 'batchTag'"))?
        .to_owned();
    let signature_b64 = header_str(&headers, "batchSignature")
        .ok_or_else(|| {
            ApiError::new(StatusCode::BAD_REQUEST, "Missing request header 'batchSignature'")
        })?
        .to_owned();
    if batch_tag.is_empty()
        || batch_tag.len() > 64
        || !batch_tag.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "batchTag must be 1 to 64 visible ASCII characters",
        ));
    }
    // 2. Media type and version.
    let format = media::request_format(header_str(&headers, "content-type"))
        .map_err(|e| ApiError::new(e.status, e.message))?;
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large")
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "The request body could not be read")
        }
    })?;
    // 3. Parse (the key count is checked before decoding, so a hostile body stays cheap), and
    // 4. every key valid (one bad key rejects the batch), including the time window.
    let keys = match format {
        Format::Protobuf => {
            let raw = efgs::decode_protobuf_raw(&body).map_err(body_error)?;
            efgs::validate_all(&raw.keys).map_err(body_error)?
        }
        Format::Json => efgs::decode_json(&body).map_err(body_error)?,
    };
    let now = state.clock.now();
    check_time_window(&keys, now)?;
    // 5. Size.
    if keys.len() > MAX_UPLOAD_KEYS {
        return Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "Too many diagnosis keys"));
    }
    // 6. Tag never used before (permanent registry).
    if state
        .store
        .upload_tag_exists(&batch_tag)
        .await
        .map_err(|e| ApiError::internal("tag lookup failed", &e))?
    {
        return Err(ApiError::new(StatusCode::CONFLICT, "BatchTag already exists."));
    }
    // 7. Batch signature by a trusted signing certificate of the caller's country (unspecific
    // on purpose).
    let signing_thumbprint = verify_signature(&state, &keys, &signature_b64, country, now).await?;
    // 8. Every key from the caller's country.
    if keys.iter().any(|k| k.origin != country) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "One or more keys are not originated from uploader country",
        ));
    }
    // 9. Store atomically.
    let upload = NewUpload {
        batch_tag: batch_tag.clone(),
        country,
        auth_thumbprint,
        signing_thumbprint,
        batch_signature: signature_b64,
        keys,
    };
    let outcome = state
        .store
        .insert_upload(&upload, state.settings.upload_mode, now)
        .await
        .map_err(|e| ApiError::internal("storing an upload failed", &e))?;
    match outcome {
        UploadOutcome::Stored { keys } => {
            tracing::info!(%country, keys, "upload stored");
            record_upload(&state, &batch_tag, country, keys, now).await;
            state.uploaded.notify_one();
            let mut response = StatusCode::CREATED.into_response();
            if let Ok(value) = HeaderValue::from_str(&batch_tag) {
                response.headers_mut().insert("batchTag", value);
            }
            Ok(response)
        }
        UploadOutcome::TagExists => {
            Err(ApiError::new(StatusCode::CONFLICT, "BatchTag already exists."))
        }
        UploadOutcome::Duplicates { insertable, duplicate } => {
            Ok(multi_status(&insertable, &duplicate))
        }
        UploadOutcome::PartiallyStored { stored, duplicate } => {
            record_upload(&state, &batch_tag, country, stored.len(), now).await;
            state.uploaded.notify_one();
            Ok(multi_status(&stored, &duplicate))
        }
    }
}

/// Counts a stored upload's keys and writes its statistics row. Best effort: the upload has
/// committed, so a failure here is logged and the client still hears of its success.
async fn record_upload(
    state: &AppState,
    tag: &str,
    country: CountryCode,
    keys: usize,
    now: UnixTime,
) {
    let keys = u64::try_from(keys).unwrap_or(u64::MAX);
    state.metrics.add_for(Counter::UploadKeysAccepted, country, keys);
    let recorded = tokio::time::timeout(
        STATISTICS_TIMEOUT,
        state.store.record_upload_statistics(tag, country, keys, now),
    )
    .await;
    match recorded {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "upload statistics not recorded"),
        Err(_) => tracing::warn!("upload statistics not recorded: timed out"),
    }
}

/// Counts a download's keys and writes its statistics row. Best effort: a download never fails
/// because of its statistics.
async fn record_download(state: &AppState, tag: &str, country: CountryCode, keys: usize) {
    let keys = u64::try_from(keys).unwrap_or(u64::MAX);
    state.metrics.add_for(Counter::DownloadKeysServed, country, keys);
    let recorded = tokio::time::timeout(
        STATISTICS_TIMEOUT,
        state.store.record_download_statistics(tag, country, keys, state.clock.now()),
    )
    .await;
    match recorded {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "download statistics not recorded"),
        Err(_) => tracing::warn!("download statistics not recorded: timed out"),
    }
}

/// Maps a decoding or validation failure to the reference's status.
fn body_error(e: efgs::EfgsError) -> ApiError {
    match e {
        efgs::EfgsError::TooManyKeys { .. } => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "Too many diagnosis keys")
        }
        efgs::EfgsError::TooLarge { .. } => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large")
        }
        e @ efgs::EfgsError::Key { .. } => ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("Validation of diagnosis key failed: {e}"),
        ),
        other => ApiError::new(StatusCode::BAD_REQUEST, format!("Invalid request body: {other}")),
    }
}

fn multi_status(ok: &[usize], duplicate: &[usize]) -> Response {
    let body = serde_json::json!({ "201": ok, "409": duplicate, "500": [] }).to_string();
    (StatusCode::MULTI_STATUS, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `rollingStartIntervalNumber` in [(midnight today − 15 days) / 600, now / 600 + 1] (§5.1).
fn check_time_window(keys: &[EfgsKey], now: UnixTime) -> Result<(), ApiError> {
    let earliest = (now.utc_day() - 15) * 86_400 / 600;
    let latest = now.seconds() / 600 + 1;
    for (index, key) in keys.iter().enumerate() {
        let start = i64::from(key.rolling_start.get());
        if start < earliest || start > latest {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "Validation of diagnosis key failed: key {index}: rollingStartIntervalNumber {start} is outside {earliest}..={latest}"
                ),
            ));
        }
    }
    Ok(())
}

async fn verify_signature(
    state: &AppState,
    keys: &[EfgsKey],
    signature_b64: &str,
    country: CountryCode,
    now: UnixTime,
) -> Result<CertThumbprint, ApiError> {
    let invalid = || ApiError::new(StatusCode::BAD_REQUEST, "Invalid signature");
    let der = STANDARD.decode(signature_b64).map_err(|_| invalid())?;
    if der.is_empty() {
        return Err(invalid());
    }
    let content = efgs::batch_signed_bytes(keys);
    let signer = herald_wire::cms::verify_detached(&der, &content, None).map_err(|e| {
        tracing::info!(%country, reason = %e, "upload refused: batch signature");
        invalid()
    })?;
    if signer.not_before > now || signer.not_after < now {
        return Err(invalid());
    }
    if signer.subject_country != Some(country) {
        return Err(invalid());
    }
    match trusted_row(state, &signer.thumbprint, country, TrustKind::Signing).await? {
        Some(row) if !row.revoked => Ok(signer.thumbprint),
        _ => Err(invalid()),
    }
}

/// `yyyy-MM-dd` → start of that UTC day.
fn parse_date(date: &str) -> Result<UnixTime, ApiError> {
    Date::parse_iso(date).map(Date::start).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("Invalid date {date:?}: expected yyyy-MM-dd"),
        )
    })
}

fn check_age(state: &AppState, date: UnixTime) -> Result<(), ApiError> {
    let today = state.clock.now().utc_day();
    if date.utc_day() < today - state.settings.max_age_days {
        return Err(ApiError::new(StatusCode::GONE, "Requested date is too old!"));
    }
    Ok(())
}

/// `GET /diagnosiskeys/download/{date}` (§1.3).
async fn download(
    State(state): State<AppState>,
    axum::Extension(peer): axum::Extension<PeerInfo>,
    Path(date): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (_, country) = authenticate(&state, &peer, &headers).await?;
    let format = media::response_format(header_str(&headers, "accept"))
        .map_err(|e| ApiError::new(e.status, e.message))?;
    let day = parse_date(&date)?;
    check_age(&state, day)?;
    let store_err = |e: crate::store::StoreError| ApiError::internal("download lookup failed", &e);
    let batch = match header_str(&headers, "batchTag") {
        None => state.store.first_download_batch_since(day).await.map_err(store_err)?.ok_or_else(
            || ApiError::new(StatusCode::NOT_FOUND, "Could not find any batches for given date"),
        )?,
        Some(tag) => {
            state.store.download_batch(tag).await.map_err(store_err)?.ok_or_else(|| {
                ApiError::new(StatusCode::NOT_FOUND, "Could not find batch with given BatchTag")
            })?
        }
    };
    if batch.created_at.utc_day() < day.utc_day() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "The batch was created before the requested date",
        ));
    }
    let keys = state.store.download_keys(&batch.tag, Some(country)).await.map_err(store_err)?;
    record_download(&state, &batch.tag, country, keys.len()).await;
    let body = match format {
        Format::Protobuf => efgs::encode_protobuf(&keys),
        Format::Json => efgs::encode_json(&keys).into_bytes(),
    };
    let mut response = Response::new(Body::from(body));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    h.insert("X-Protobuf-Schema", HeaderValue::from_static("Efgs.proto"));
    h.insert("X-Protobuf-Message", HeaderValue::from_static("eu.interop.DiagnosisKeyBatch"));
    if let Ok(v) = HeaderValue::from_str(&batch.tag) {
        h.insert("batchTag", v);
    }
    let next = batch.next_tag.as_deref().unwrap_or("null");
    if let Ok(v) = HeaderValue::from_str(next) {
        h.insert("nextBatchTag", v);
    }
    Ok(response)
}

/// `GET /diagnosiskeys/audit/download/{date}/{batchTag}` (§1.4).
async fn audit(
    State(state): State<AppState>,
    axum::Extension(peer): axum::Extension<PeerInfo>,
    Path((date, batch_tag)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authenticate(&state, &peer, &headers).await?;
    let day = parse_date(&date)?;
    check_age(&state, day)?;
    let store_err = |e: crate::store::StoreError| ApiError::internal("audit lookup failed", &e);
    let batch =
        state.store.download_batch(&batch_tag).await.map_err(store_err)?.ok_or_else(|| {
            ApiError::new(StatusCode::NOT_FOUND, "Could not find batch with given BatchTag")
        })?;
    if batch.created_at.utc_day() != day.utc_day() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "Given date does not match the requested batch",
        ));
    }
    let rows = state.store.audit(&batch_tag).await.map_err(store_err)?;
    if rows.is_empty() {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "No audit data for this batch"));
    }
    let mut entries = Vec::with_capacity(rows.len());
    for row in rows {
        let auth = state.store.trust_entry(&row.auth_thumbprint).await.map_err(store_err)?;
        let signing = state.store.trust_entry(&row.signing_thumbprint).await.map_err(store_err)?;
        entries.push(serde_json::json!({
            "country": row.country.as_str(),
            "uploadedTime": row.uploaded_at.iso_millis(),
            "uploaderThumbprint": row.auth_thumbprint.to_hex(),
            "uploaderCertificate": auth.as_ref().map(|r| r.certificate_pem.clone()),
            "uploaderOperatorSignature": auth.as_ref().map(|r| r.operator_signature.clone()),
            "uploaderSigningThumbprint": row.signing_thumbprint.to_hex(),
            "signingCertificate": signing.as_ref().map(|r| r.certificate_pem.clone()),
            "signingCertificateOperatorSignature": signing.as_ref().map(|r| r.operator_signature.clone()),
            "amount": row.amount,
            "batchSignature": row.batch_signature,
        }));
    }
    let body = serde_json::Value::Array(entries).to_string();
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(parse_date("1970-01-01").unwrap(), UnixTime(0));
        assert_eq!(parse_date("2020-07-31").unwrap().utc_day(), 18474);
        for day in [-1000, 0, 18474, 20000, 60000] {
            let date = Date::from_utc_day(day).unwrap();
            assert_eq!(parse_date(&date.to_string()).unwrap().utc_day(), day);
        }
        for bad in [
            "2020-7-31",
            "2020-02-30",
            "2021-02-29",
            "2020-13-01",
            "20200731",
            "2020-07-31-1",
            "abcd-ef-gh",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
        assert!(parse_date("2020-02-29").is_ok());
        assert_eq!(UnixTime(1_596_194_683).iso_millis(), "2020-07-31T11:24:43.000Z");
    }
}
