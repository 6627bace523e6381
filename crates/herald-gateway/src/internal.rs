//! The internal listener: plain HTTP for operators and monitoring, never for national backends
//! (bind it to loopback or an internal network). It serves
//! - `GET /health`: 200 `{"status":"ok","database":"ok",…}` after a real database round trip
//!   (the trust list is read and every entry checked against the trust anchor), 503 with a
//!   reason when the database does not answer;
//! - `GET /metrics`: the Prometheus text exposition ([`crate::metrics`]);
//! - `GET /openapi.json`: the OpenAPI 3.0 description of the public endpoints ([`OPENAPI`]).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use herald_trust::AnchorCertificate;

use crate::metrics::{self, Metrics};
use crate::store::{Store, TrustKind};

/// The OpenAPI 3.0 document of the public endpoints, written by hand. A test checks that it
/// describes every route of [`crate::api::router`] and nothing else.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Longest wait for the database before `/health` answers 503 (and `/metrics` leaves out the
/// row gauges).
const DATABASE_TIMEOUT: Duration = Duration::from_secs(5);

/// What the internal endpoints read.
#[derive(Clone)]
pub struct InternalState {
    /// Storage.
    pub store: Store,
    /// The trust anchor, to count only the countries whose entries verify.
    pub anchor: Arc<AnchorCertificate>,
    /// The process's metrics.
    pub metrics: Arc<Metrics>,
}

/// The internal router.
pub fn router(state: InternalState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(render_metrics))
        .route("/openapi.json", get(openapi))
        .with_state(state)
}

/// `GET /health`.
async fn health(State(state): State<InternalState>) -> Response {
    let backend = state.store.backend();
    let rows = match tokio::time::timeout(DATABASE_TIMEOUT, state.store.trust_entries()).await {
        Ok(Ok(rows)) => rows,
        Ok(Err(e)) => {
            let reason = match std::error::Error::source(&e) {
                Some(source) => format!("{e}: {source}"),
                None => e.to_string(),
            };
            tracing::warn!(error = %reason, "health check: database failed");
            return unavailable(backend, "error", &reason);
        }
        Err(_) => {
            tracing::warn!("health check: database did not answer");
            return unavailable(backend, "timeout", "the database did not answer within 5 s");
        }
    };
    let countries: BTreeSet<_> = rows
        .iter()
        .filter(|row| row.kind == TrustKind::Authentication && !row.revoked)
        .filter(|row| crate::api::passes_anchor_check(&state.anchor, row))
        .map(|row| row.country)
        .collect();
    let body = serde_json::json!({
        "status": "ok",
        "database": "ok",
        "backend": backend,
        "trustedCountries": countries.len(),
        "version": env!("CARGO_PKG_VERSION"),
    });
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn unavailable(backend: &str, database: &str, reason: &str) -> Response {
    let body = serde_json::json!({
        "status": "unavailable",
        "database": database,
        "backend": backend,
        "reason": reason,
    });
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// `GET /metrics`.
async fn render_metrics(State(state): State<InternalState>) -> Response {
    let gauges = match tokio::time::timeout(DATABASE_TIMEOUT, state.store.gauges()).await {
        Ok(Ok(gauges)) => Some(gauges),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "metrics: reading the gauges failed");
            None
        }
        Err(_) => {
            tracing::warn!("metrics: the database did not answer");
            None
        }
    };
    let text = state.metrics.render(gauges.as_ref());
    (StatusCode::OK, [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response()
}

/// `GET /openapi.json`.
async fn openapi() -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}
