//! The EFGS HTTP interface (efgs-gateway.md §1): upload, download, audit, callback administration
//! and `OPTIONS`, with the
//! reference's checks in the reference's order and `{"message": …}` error bodies.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, options, post, put};
use herald_model::{BatchTag, CertThumbprint, Clock, CountryCode, UnixTime};
use herald_runtime::{PeerInfo, Registry};
use herald_trust::{AnchorCertificate, TrustError};

use crate::identity::{AuthMode, IdentityError};
use crate::store::{Store, Traffic, TrustKind, TrustRow, UploadMode};

mod callbacks;
mod download;
mod upload;

use callbacks::{delete_callback, list_callbacks, put_callback};
use download::{audit, download};
use upload::upload;

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
    /// Whether callback URLs may name `localhost` or private, loopback, link-local and other
    /// internal IP addresses (dev and tests only; production: `false`).
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
    /// The process's metrics ([`crate::metrics::registry`]).
    pub registry: Arc<Registry>,
    /// Wakes the callback worker (a subscription was put, or resumed).
    pub wake_callbacks: Arc<tokio::sync::Notify>,
}

/// The public router (`/diagnosiskeys/…`), built from [`routes`] only, with the request-duration
/// and per-status metrics of every route.
pub fn router(state: AppState) -> Router {
    let registry = state.registry.clone();
    let mut router = Router::new();
    for (_, path, handler) in routes() {
        // Routes of the same path merge their methods.
        router = router.route(path, handler);
    }
    router
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(registry, crate::metrics::track_request))
}

/// Counts the keys of a stored upload or an answered download, and writes its statistics row.
/// Best effort: the upload has committed or the download is answered, so a failure here is
/// logged and the client never hears of it.
pub(super) async fn record_traffic(
    state: &AppState,
    traffic: Traffic,
    tag: &BatchTag,
    country: CountryCode,
    keys: usize,
    now: UnixTime,
) {
    let keys = u64::try_from(keys).unwrap_or(u64::MAX);
    let (family, what) = match traffic {
        Traffic::Upload => (&crate::metrics::UPLOAD_KEYS_ACCEPTED, "upload"),
        Traffic::Download => (&crate::metrics::DOWNLOAD_KEYS_SERVED, "download"),
    };
    state.registry.add(family, country.as_str(), keys);
    let recorded = tokio::time::timeout(
        STATISTICS_TIMEOUT,
        state.store.record_statistics(traffic, tag, country, keys, now),
    )
    .await;
    match recorded {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "{what} statistics not recorded"),
        Err(_) => tracing::warn!("{what} statistics not recorded: timed out"),
    }
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

impl herald_runtime::refusal::Refusal for ApiError {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn body(&self) -> String {
        serde_json::json!({ "message": self.message }).to_string()
    }
}

herald_runtime::into_response!(ApiError);

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
/// check, both signatures (§4.3 and herald's entry signature). A row that fails the check is
/// ignored, counted and reported in the log.
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
    if !passes_anchor_check(&state.anchor, &row, Some(&state.registry)) {
        return Ok(None);
    }
    Ok(Some(row))
}

/// Whether a trust-list row passes the trust-anchor integrity check: EFGS's over the
/// certificate (§4.3) and herald's entry signature over its country, kind, thumbprint,
/// revocation and host. A failure is logged and, with a `registry`, counted in
/// `herald_gateway_trust_integrity_failures_total{reason}`; a row without an entry signature
/// (stored before herald signed whole entries) is logged with the command that fixes it.
pub(crate) fn passes_anchor_check(
    anchor: &AnchorCertificate,
    row: &TrustRow,
    registry: Option<&Registry>,
) -> bool {
    let Err(e) = anchor.verify_entry(&row.entry()) else { return true };
    let reason = match e {
        TrustError::EntrySignatureMissing => {
            tracing::warn!(thumbprint = %row.thumbprint, country = %row.country, kind = %row.kind, "ignoring a trust-list entry without an entry signature (stored before herald signed whole entries): the operator signs it with `herald gateway trust resign --anchor-key <KEY>`");
            "entry_signature_missing"
        }
        TrustError::BadEntrySignature => {
            tracing::warn!(thumbprint = %row.thumbprint, country = %row.country, kind = %row.kind, reason = %e, "ignoring a trust-list entry whose entry signature fails the trust-anchor check (changed without the operator's key)");
            "entry_signature_bad"
        }
        _ => {
            tracing::warn!(thumbprint = %row.thumbprint, country = %row.country, reason = %e, "ignoring a trust-list entry that fails the trust-anchor check");
            "certificate"
        }
    };
    if let Some(registry) = registry {
        registry.increment(&crate::metrics::TRUST_INTEGRITY_FAILURES, reason);
    }
    false
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
