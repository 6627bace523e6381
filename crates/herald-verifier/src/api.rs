//! The HTTP edge (key-server.md §3.2, §6.2, §6.3): one error boundary, padding and chaff.
//!
//! Routes:
//! - app API (device key): `POST /api/verify`, `POST /api/certificate`;
//! - admin API (admin key): `POST /api/issue`, `/api/batch-issue`, `/api/checkcodestatus`,
//!   `/api/expirecode`;
//! - `GET /.well-known/jwks.json` (the certificate keys, `{"keys":[…]}`), `GET /health`.
//!
//! Every app-API answer — success, refusal or chaff — is padded to exactly `response_size`
//! bytes (the next KiB above a longer one) and carries the same headers, so that an observer of
//! the encrypted traffic cannot tell outcomes apart by size: successes through the runtime's
//! `Padding::respond`, refusals through `refusal::respond_padded` with the same `Padding`. A request with `X-Chaff` (after the
//! API key check, which real requests pass too) is read, stored nowhere, and answered 200 with a
//! fake of the real answer's shape after a delay drawn from recent real latencies.
//!
//! A body larger than [`MAX_REQUEST_BYTES`] is refused with 413 `unparsable_request`; a body
//! that is not the endpoint's JSON with 400 `unparsable_request`. Nothing here logs a body.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Extension;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use axum::routing::{MethodRouter, get, post};
use herald_runtime::PeerInfo;
use herald_runtime::padding::{Alphabet, Padding};
use herald_runtime::refusal::{PaddedRefusal, respond_padded};
use herald_service::chaff::LatencyTracker;
use herald_wire::verification::{
    BatchIssueRequest, BatchIssueResponse, CertificateRequest, CertificateResponse,
    CodeStatusResponse, ErrorCode, IssueRequest, IssueResponse, MAX_BATCH, MAX_REQUEST_BYTES,
    UuidRequest, VerifyRequest, VerifyResponse, decode, encode,
};
use http_body_util::BodyExt as _;
use serde::Serialize;

use crate::service::{ApiError, Service};
use crate::store::ApiKeyKind;

/// Settings of the HTTP edge.
#[derive(Debug, Clone)]
pub struct EdgeSettings {
    /// Padded size of every app-API answer.
    pub response_size: usize,
    /// Chaff delay cap.
    pub chaff_max_latency: Duration,
    /// The header a proxy in front puts the client's address in (`None`: the TCP peer's).
    pub client_address_header: Option<HeaderName>,
}

struct ApiState {
    service: Arc<Service>,
    /// How every app-API answer is padded.
    padding: Padding,
    verify_latency: LatencyTracker,
    certificate_latency: LatencyTracker,
    client_address_header: Option<HeaderName>,
}

/// The router.
pub fn router(service: Arc<Service>, settings: EdgeSettings) -> Router {
    let state = Arc::new(ApiState {
        service,
        verify_latency: LatencyTracker::new(settings.chaff_max_latency),
        certificate_latency: LatencyTracker::new(settings.chaff_max_latency),
        client_address_header: settings.client_address_header,
        padding: Padding {
            size: settings.response_size,
            alphabet: Alphabet::Base64Url,
            headers: &[],
        },
    });
    let mut router = Router::new();
    for (_, path, handler) in routes() {
        router = router.route(path, handler);
    }
    router.with_state(state)
}

/// Every API route as (method, path template): what [`router`] serves, and what the OpenAPI
/// document ([`crate::internal::OPENAPI`]) must describe (the portal's pages are not an API).
pub fn public_routes() -> Vec<(Method, &'static str)> {
    routes().into_iter().map(|(method, path, _)| (method, path)).collect()
}

/// The routes: method, path template, handler. The one list both [`router`] and
/// [`public_routes`] read.
fn routes() -> Vec<(Method, &'static str, MethodRouter<Arc<ApiState>>)> {
    vec![
        (Method::POST, "/api/verify", post(verify)),
        (Method::POST, "/api/certificate", post(certificate)),
        (Method::POST, "/api/issue", post(issue)),
        (Method::POST, "/api/batch-issue", post(batch_issue)),
        (Method::POST, "/api/checkcodestatus", post(check_code_status)),
        (Method::POST, "/api/expirecode", post(expire_code)),
        (Method::GET, "/.well-known/jwks.json", get(jwks)),
        (Method::GET, "/health", get(health)),
    ]
}

/// An answer body of the API: every one carries `error` and `errorCode` (ENVS), set from a
/// refusal here and nowhere else.
trait Refusal: Serialize + Default {
    fn set_error(&mut self, e: &ApiError);

    /// The body of a refusal.
    fn refused(e: &ApiError) -> Self {
        let mut answer = Self::default();
        answer.set_error(e);
        answer
    }
}

macro_rules! refusals {
    ($($answer:ty),*) => {
        $(impl Refusal for $answer {
            fn set_error(&mut self, e: &ApiError) {
                self.error.clone_from(&e.message);
                e.code.as_str().clone_into(&mut self.error_code);
            }
        })*
    };
}

refusals!(
    VerifyResponse,
    CertificateResponse,
    IssueResponse,
    BatchIssueResponse,
    CodeStatusResponse
);

/// An app-API answer body: its padding can be set, and it has a chaff form.
trait AppAnswer: Refusal {
    fn set_padding(&mut self, padding: String);
    fn chaff() -> Self;
}

impl AppAnswer for VerifyResponse {
    fn set_padding(&mut self, padding: String) {
        self.padding = padding;
    }
    fn chaff() -> Self {
        Self {
            test_type: "confirmed".into(),
            symptom_date: Some("2026-01-01".into()),
            token: random_text(560),
            ..Self::default()
        }
    }
}

impl AppAnswer for CertificateResponse {
    fn set_padding(&mut self, padding: String) {
        self.padding = padding;
    }
    fn chaff() -> Self {
        Self { certificate: random_text(520), ..Self::default() }
    }
}

async fn verify(
    State(state): State<Arc<ApiState>>,
    peer: Option<Extension<PeerInfo>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let client = peer.and_then(|Extension(peer)| {
        peer.client_address(&headers, state.client_address_header.as_ref())
    });
    app_call::<VerifyRequest, VerifyResponse, _, _>(
        &state,
        &headers,
        body,
        &state.verify_latency,
        |service, request, key| async move { service.verify(&request, &key, client).await },
    )
    .await
}

async fn certificate(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    app_call::<CertificateRequest, CertificateResponse, _, _>(
        &state,
        &headers,
        body,
        &state.certificate_latency,
        |service, request, key| async move { service.certificate(&request, &key).await },
    )
    .await
}

/// One app call: [`app_answer`], its latency recorded (real successes only, for the chaff
/// delays), padded to the configured size (a refusal too, in the endpoint's answer type).
async fn app_call<Req, Resp, F, Fut>(
    state: &ApiState,
    headers: &HeaderMap,
    body: Body,
    latency: &LatencyTracker,
    call: F,
) -> Response
where
    Req: serde::de::DeserializeOwned,
    Resp: AppAnswer,
    F: FnOnce(Arc<Service>, Req, String) -> Fut,
    Fut: Future<Output = Result<Resp, ApiError>>,
{
    let started = Instant::now();
    match app_answer::<Req, Resp, F, Fut>(state, headers, body, latency, call).await {
        Ok(mut answer) => {
            if !headers.contains_key("x-chaff") {
                latency.record(started.elapsed());
            }
            state.padding.respond(StatusCode::OK, |padding| {
                answer.set_padding(padding);
                encode(&answer)
            })
        }
        Err(e) => respond_padded(&Refused::<Resp>(e, PhantomData), &state.padding),
    }
}

/// Authenticates a device key, handles chaff, decodes the body and runs `call`: the answer
/// (200), or the refusal.
async fn app_answer<Req, Resp, F, Fut>(
    state: &ApiState,
    headers: &HeaderMap,
    body: Body,
    latency: &LatencyTracker,
    call: F,
) -> Result<Resp, ApiError>
where
    Req: serde::de::DeserializeOwned,
    Resp: AppAnswer,
    F: FnOnce(Arc<Service>, Req, String) -> Fut,
    Fut: Future<Output = Result<Resp, ApiError>>,
{
    let key = state.service.authenticate(api_key(headers), ApiKeyKind::Device).await?;
    let bytes = read_capped(body).await?;
    if headers.contains_key("x-chaff") {
        drop(bytes);
        tokio::time::sleep(latency.chaff_delay()).await;
        return Ok(Resp::chaff());
    }
    let request: Req =
        decode(&bytes).map_err(|e| ApiError::new(ErrorCode::UnparsableRequest, e.to_string()))?;
    call(state.service.clone(), request, key).await
}

fn json_response(status: StatusCode, body: String) -> Response {
    herald_runtime::padding::json_response(status, body, &[])
}

/// `n` random Base64url characters (fake tokens and certificates look like real ones).
fn random_text(n: usize) -> String {
    herald_runtime::padding::random_text(n, Alphabet::Base64Url)
}

fn status_of(code: ErrorCode) -> StatusCode {
    StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn api_key(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim)
}

/// Reads at most [`MAX_REQUEST_BYTES`], counting bytes actually read.
async fn read_capped(body: Body) -> Result<Vec<u8>, ApiError> {
    let mut body = body;
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| {
            ApiError::new(ErrorCode::UnparsableRequest, "request body could not be read")
        })?;
        if let Some(data) = frame.data_ref() {
            if out.len() + data.len() > MAX_REQUEST_BYTES {
                return Err(ApiError::new(
                    ErrorCode::UnparsableRequest,
                    format!("request body is larger than {MAX_REQUEST_BYTES} bytes"),
                ));
            }
            out.extend_from_slice(data);
        }
    }
    Ok(out)
}

/// An admin call: authenticate, read, decode, run; errors in `Resp`'s fields.
async fn admin_call<Req, F, Fut>(
    state: &ApiState,
    headers: &HeaderMap,
    body: Body,
    call: F,
) -> Result<(StatusCode, String), ApiError>
where
    Req: serde::de::DeserializeOwned,
    F: FnOnce(Arc<Service>, Req, String) -> Fut,
    Fut: Future<Output = Result<(StatusCode, String), ApiError>>,
{
    let key = state.service.authenticate(api_key(headers), ApiKeyKind::Admin).await?;
    let bytes = read_capped(body).await?;
    let request: Req =
        decode(&bytes).map_err(|e| ApiError::new(ErrorCode::UnparsableRequest, e.to_string()))?;
    call(state.service.clone(), request, key).await
}

fn admin_answer<T: Refusal>(result: Result<(StatusCode, String), ApiError>) -> Response {
    match result {
        Ok((status, body)) => json_response(status, body),
        Err(e) => herald_runtime::refusal::respond(&Refused::<T>(e, PhantomData)),
    }
}

/// A refusal in the endpoint's answer type `T` (ENVS answers a refusal with the endpoint's own
/// body, its `error` and `errorCode` set); padded on the app API.
struct Refused<T>(ApiError, PhantomData<T>);

impl<T: Refusal> herald_runtime::refusal::Refusal for Refused<T> {
    fn status(&self) -> StatusCode {
        status_for(&self.0)
    }

    fn body(&self) -> String {
        encode(&T::refused(&self.0))
    }
}

impl<T: AppAnswer> PaddedRefusal for Refused<T> {
    fn padded_body(&self, padding: String) -> String {
        let mut answer = T::refused(&self.0);
        answer.set_padding(padding);
        encode(&answer)
    }
}

/// The status of a refusal: the code's, except 413 for a body over the limit (same
/// `unparsable_request` code).
fn status_for(e: &ApiError) -> StatusCode {
    if e.code == ErrorCode::UnparsableRequest && e.message.starts_with("request body is larger") {
        return StatusCode::PAYLOAD_TOO_LARGE;
    }
    status_of(e.code)
}

async fn issue(State(state): State<Arc<ApiState>>, headers: HeaderMap, body: Body) -> Response {
    let result = admin_call::<IssueRequest, _, _>(&state, &headers, body, |s, r, key| async move {
        let answer = s.issue(&r, &key).await?;
        audit(&s, &key, "code.issue", &answer.uuid).await;
        Ok((StatusCode::OK, encode(&answer)))
    })
    .await;
    admin_answer::<IssueResponse>(result)
}

async fn batch_issue(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result =
        admin_call::<BatchIssueRequest, _, _>(&state, &headers, body, |s, r, key| async move {
            if r.codes.is_empty() || r.codes.len() > MAX_BATCH {
                return Err(ApiError::new(
                    ErrorCode::BatchSize,
                    format!("a batch holds 1 to {MAX_BATCH} codes, got {}", r.codes.len()),
                ));
            }
            let mut answers = Vec::new();
            let mut first_error = None;
            let mut any_ok = false;
            for request in &r.codes {
                match s.issue(request, &key).await {
                    Ok(a) => {
                        any_ok = true;
                        audit(&s, &key, "code.issue", &a.uuid).await;
                        answers.push(a);
                    }
                    Err(e) => {
                        answers.push(IssueResponse::refused(&e));
                        first_error.get_or_insert(e);
                    }
                }
            }
            // Not atomic (ENVS): 200 when any code was issued, else the first error's status.
            let mut answer = BatchIssueResponse { codes: answers, ..BatchIssueResponse::default() };
            let status = match (any_ok, first_error) {
                (false, Some(e)) => {
                    answer.set_error(&e);
                    status_of(e.code)
                }
                _ => StatusCode::OK,
            };
            Ok((status, encode(&answer)))
        })
        .await;
    admin_answer::<BatchIssueResponse>(result)
}

async fn check_code_status(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = admin_call::<UuidRequest, _, _>(&state, &headers, body, |s, r, key| async move {
        let answer = s.check_status(&r.uuid).await?;
        audit(&s, &key, "code.status", &r.uuid.to_ascii_lowercase()).await;
        Ok((StatusCode::OK, encode(&answer)))
    })
    .await;
    admin_answer::<CodeStatusResponse>(result)
}

async fn expire_code(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = admin_call::<UuidRequest, _, _>(&state, &headers, body, |s, r, key| async move {
        let answer = s.expire(&r.uuid, &key).await?;
        audit(&s, &key, "code.expire", &r.uuid.to_ascii_lowercase()).await;
        Ok((StatusCode::OK, encode(&answer)))
    })
    .await;
    admin_answer::<CodeStatusResponse>(result)
}

/// The admin API's actions go to the portal's audit log too, by API key name (`api:<name>`).
async fn audit(service: &Service, key: &str, action: &str, uuid: &str) {
    crate::portal::record(service, &format!("api:{key}"), action, uuid).await;
}

async fn jwks(State(state): State<Arc<ApiState>>) -> Response {
    let mut out = json_response(StatusCode::OK, state.service.jwks());
    out.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    out
}

async fn health(State(state): State<Arc<ApiState>>) -> Response {
    match state.service.store().ping().await {
        Ok(()) => json_response(StatusCode::OK, r#"{"status":"ok","database":"ok"}"#.into()),
        Err(error) => {
            tracing::warn!(%error, "health check: database unreachable");
            json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"status":"unavailable","database":"unreachable"}"#.into(),
            )
        }
    }
}
