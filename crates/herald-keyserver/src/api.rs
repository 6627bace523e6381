//! The key server's HTTP routes: `POST /v1/publish` (key-server.md §2), `GET /health`, and in
//! development the export files under `/exports/`.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};

use crate::publish::PublishService;
use crate::store::Store;

#[derive(Clone)]
struct ApiState {
    publish: Arc<PublishService>,
    store: Store,
    exports: Option<Arc<PathBuf>>,
}

/// The router. `exports` is the directory served under `/exports/`, if any.
pub fn router(publish: PublishService, store: Store, exports: Option<PathBuf>) -> Router {
    let state = ApiState { publish: Arc::new(publish), store, exports: exports.map(Arc::new) };
    let mut router = Router::new();
    for (_, path, handler) in routes() {
        router = router.route(path, handler);
    }
    router.with_state(state)
}

/// Every public route as (method, path template in OpenAPI's spelling): what [`router`] serves,
/// and what the OpenAPI document ([`crate::internal::OPENAPI`]) must describe.
pub fn public_routes() -> Vec<(Method, &'static str)> {
    routes()
        .into_iter()
        .map(|(method, path, _)| (method, if path == EXPORTS { "/exports/{path}" } else { path }))
        .collect()
}

/// The export files' route (a wildcard: names have folders).
const EXPORTS: &str = "/exports/{*path}";

/// The routes: method, path template, handler. The one list both [`router`] and
/// [`public_routes`] read.
fn routes() -> Vec<(Method, &'static str, MethodRouter<ApiState>)> {
    vec![
        (Method::POST, "/v1/publish", post(publish_route)),
        (Method::GET, "/health", get(health)),
        (Method::GET, EXPORTS, get(export_file)),
    ]
}

async fn publish_route(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    state.publish.handle(&headers, body).await
}

async fn health(State(state): State<ApiState>) -> Response {
    match state.store.ping().await {
        Ok(()) => {
            (StatusCode::OK, axum::Json(serde_json::json!({ "status": "ok", "database": "ok" })))
                .into_response()
        }
        Err(error) => {
            tracing::warn!(%error, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(
                    serde_json::json!({ "status": "unavailable", "database": "unreachable" }),
                ),
            )
                .into_response()
        }
    }
}

/// A file of the export directory (development only). Names are checked: relative, no `..`.
async fn export_file(State(state): State<ApiState>, UrlPath(path): UrlPath<String>) -> Response {
    let Some(dir) = state.exports else {
        return (StatusCode::NOT_FOUND, "exports are not served here").into_response();
    };
    let safe = !path.is_empty()
        && path.split('/').all(|p| !p.is_empty() && p != "." && p != ".." && !p.contains('\\'));
    if !safe {
        return (StatusCode::BAD_REQUEST, "invalid export path").into_response();
    }
    match tokio::fs::read(dir.join(&path)).await {
        Ok(bytes) => {
            let (content_type, cache) = if path.to_ascii_lowercase().ends_with(".zip") {
                ("application/zip", "public, max-age=86400")
            } else {
                ("text/plain", "no-cache, max-age=0")
            };
            (
                [(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, cache)],
                Bytes::from(bytes),
            )
                .into_response()
        }
        Err(_) => (StatusCode::NOT_FOUND, "no such export file").into_response(),
    }
}
