//! The internal listener of every service: plain HTTP for operators and monitoring, never for
//! clients (bind it to loopback or an internal network). It serves
//! - `GET /health`: 200 `{"status":"ok","database":"ok","backend":…,"jobs":{…},…}` after a real
//!   database round trip ([`Probe::check`]) when every background job's loop is alive; 503
//!   `{"status":"unavailable",…,"reason":…}` when the database fails or does not answer within
//!   5 s, or a job's loop has ended;
//! - `GET /metrics`: the Prometheus text exposition of the service's [`Registry`], followed by
//!   the gauges the service reads from its store ([`Probe::gauges`]);
//! - `GET /openapi.json`: the OpenAPI 3.0 description of the service's public endpoints.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value};

use crate::metrics::{self, Registry};

/// A boxed future, for the [`Probe`] trait's methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Longest wait for the database before `/health` answers 503 (and `/metrics` leaves out the
/// store's gauges).
const DATABASE_TIMEOUT: Duration = Duration::from_secs(5);

/// What a service lets its internal listener ask.
pub trait Probe: Send + Sync + 'static {
    /// The storage backend's name (`sqlite`, `postgres`).
    fn backend(&self) -> &'static str;

    /// One real round trip to storage; `Ok` carries extra fields for the health answer, `Err`
    /// says what failed (never a secret).
    fn check(&self) -> BoxFuture<'_, Result<Map<String, Value>, String>>;

    /// The service's gauges in the text format, read from storage (rendered after the
    /// registry's families); an error leaves them out. The default has none.
    fn gauges(&self) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(async { Ok(String::new()) })
    }
}

#[derive(Clone)]
struct InternalState {
    probe: Arc<dyn Probe>,
    registry: Arc<Registry>,
    openapi: &'static str,
}

/// The internal router of a service: `probe` reaches its storage, `registry` holds its
/// metrics and job states, `openapi` is its hand-written OpenAPI document.
pub fn router(probe: Arc<dyn Probe>, registry: Arc<Registry>, openapi: &'static str) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(render_metrics))
        .route("/openapi.json", get(openapi_document))
        .with_state(InternalState { probe, registry, openapi })
}

fn json(status: StatusCode, body: &Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// Serves the internal router (plain HTTP) on `listener` until `stop` turns true.
pub async fn serve(
    listener: tokio::net::TcpListener,
    probe: Arc<dyn Probe>,
    registry: Arc<Registry>,
    openapi: &'static str,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let app = router(probe, registry, openapi);
    crate::server::serve(listener, None, app, async move {
        let _ = stop.wait_for(|stop| *stop).await;
    })
    .await;
}

/// `GET /health`.
async fn health(State(state): State<InternalState>) -> Response {
    let backend = state.probe.backend();
    let unavailable = |database: &str, reason: &str| {
        json(
            StatusCode::SERVICE_UNAVAILABLE,
            &serde_json::json!({
                "status": "unavailable",
                "database": database,
                "backend": backend,
                "reason": reason,
            }),
        )
    };
    let extra = match tokio::time::timeout(DATABASE_TIMEOUT, state.probe.check()).await {
        Ok(Ok(extra)) => extra,
        Ok(Err(reason)) => {
            tracing::warn!(error = %reason, "health check: database failed");
            return unavailable("error", &reason);
        }
        Err(_) => {
            tracing::warn!("health check: database did not answer");
            return unavailable("timeout", "the database did not answer within 5 s");
        }
    };
    let jobs = state.registry.jobs();
    if let Some((job, _)) = jobs.iter().find(|(_, s)| !s.alive) {
        return unavailable("ok", &format!("the background job {job} has stopped"));
    }
    let mut body = Map::new();
    body.insert("status".into(), "ok".into());
    body.insert("database".into(), "ok".into());
    body.insert("backend".into(), backend.into());
    if !jobs.is_empty() {
        let jobs: Map<String, Value> = jobs
            .iter()
            .map(|(job, s)| {
                let state = serde_json::json!({
                    "alive": s.alive,
                    "leaseHeld": s.lease_held,
                    "ok": s.ok,
                    "failed": s.failed,
                });
                ((*job).to_owned(), state)
            })
            .collect();
        body.insert("jobs".into(), Value::Object(jobs));
    }
    body.extend(extra);
    body.insert("version".into(), env!("CARGO_PKG_VERSION").into());
    json(StatusCode::OK, &Value::Object(body))
}

/// `GET /metrics`.
async fn render_metrics(State(state): State<InternalState>) -> Response {
    let mut text = state.registry.render();
    let prefix = state.registry.prefix();
    let gauges = match tokio::time::timeout(DATABASE_TIMEOUT, state.probe.gauges()).await {
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
    let up = format!("{prefix}_database_up");
    metrics::write_family(
        &mut text,
        &up,
        "gauge",
        "1 if the database answered this scrape, else 0 (and the row gauges are missing).",
    );
    metrics::write_sample(&mut text, &up, &[], u64::from(gauges.is_some()));
    if let Some(gauges) = gauges {
        text.push_str(&gauges);
    }
    (StatusCode::OK, [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response()
}

/// `GET /openapi.json`.
async fn openapi_document(State(state): State<InternalState>) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], state.openapi).into_response()
}

/// Declares the test every service runs on its OpenAPI document, `the_openapi_document_describes_every_public_route`:
/// [`check_openapi`] of `$document` against the `(Method, path)` list `$routes`.
#[macro_export]
macro_rules! openapi_test {
    ($document:expr, $routes:expr) => {
        /// The document describes exactly the routes the router serves, each fully.
        #[test]
        fn the_openapi_document_describes_every_public_route() {
            let routes = $routes;
            if let Err(problems) = $crate::internal::check_openapi($document, &routes) {
                panic!("openapi.json:\n{problems}");
            }
        }
    };
}

/// Checks a service's OpenAPI document against the routes its router serves: an OpenAPI 3.0.3
/// document that describes exactly the `served` (method, path template) pairs, each operation
/// with an `operationId`, a summary, a success answer, every answer described, and every path
/// parameter of its template declared. The error lists what is wrong. Services call it from
/// their tests.
#[allow(clippy::indexing_slicing)] // `Value`'s index answers Null for what is missing, never panics
pub fn check_openapi(openapi: &str, served: &[(axum::http::Method, &str)]) -> Result<(), String> {
    use std::collections::BTreeSet;
    let doc: Value = serde_json::from_str(openapi).map_err(|e| format!("not JSON: {e}"))?;
    if doc["openapi"] != "3.0.3" {
        return Err(format!("openapi is {}, not 3.0.3", doc["openapi"]));
    }
    let resolve = |value: &Value| -> Value {
        let mut value = value.clone();
        for _ in 0..8 {
            let Some(pointer) = value["$ref"].as_str().and_then(|r| r.strip_prefix('#')) else {
                break;
            };
            value = doc.pointer(pointer).cloned().unwrap_or(Value::Null);
        }
        value
    };
    let paths = doc["paths"].as_object().ok_or("no paths")?;
    let described: BTreeSet<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .into_iter()
                .flat_map(|ops| ops.keys())
                .filter(|k| *k != "parameters")
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let served: BTreeSet<(String, String)> =
        served.iter().map(|(m, p)| (m.to_string(), (*p).to_owned())).collect();
    let mut problems = Vec::new();
    for missing in served.difference(&described) {
        problems.push(format!("{} {} is served but not described", missing.0, missing.1));
    }
    for extra in described.difference(&served) {
        problems.push(format!("{} {} is described but not served", extra.0, extra.1));
    }
    for (method, path) in served.intersection(&described) {
        let operation = &doc["paths"][path][method.to_lowercase()];
        let at = format!("{method} {path}");
        if !operation["operationId"].is_string() || !operation["summary"].is_string() {
            problems.push(format!("{at}: operationId or summary missing"));
        }
        let responses = operation["responses"].as_object().cloned().unwrap_or_default();
        if !responses.keys().any(|s| s.starts_with('2')) {
            problems.push(format!("{at}: no success answer"));
        }
        for (status, response) in &responses {
            if !resolve(response)["description"].is_string() {
                problems.push(format!("{at} {status}: no description"));
            }
        }
        let mut declared: BTreeSet<String> = BTreeSet::new();
        for holder in [&doc["paths"][path], operation] {
            for p in holder["parameters"].as_array().into_iter().flatten() {
                let p = resolve(p);
                if p["in"] == "path"
                    && let Some(name) = p["name"].as_str()
                {
                    declared.insert(name.to_owned());
                }
            }
        }
        let in_template: BTreeSet<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .map(str::to_owned)
            .collect();
        if declared != in_template {
            problems.push(format!("{at}: path parameters {declared:?}, template {in_template:?}"));
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("\n")) }
}

#[cfg(test)]
mod tests {
    use axum::http::Method;

    use super::*;

    #[test]
    fn the_openapi_check_finds_what_is_wrong() {
        let doc = r##"{"openapi":"3.0.3","paths":{
            "/a/{id}":{"get":{"operationId":"a","summary":"A","parameters":[{"in":"path","name":"id"}],
                "responses":{"200":{"description":"ok"},"404":{"$ref":"#/components/responses/NotFound"}}}},
            "/b":{"post":{"operationId":"b","responses":{"400":{"description":"bad"}}}}},
            "components":{"responses":{"NotFound":{"description":"none"}}}}"##;
        assert_eq!(
            check_openapi(doc, &[(Method::GET, "/a/{id}")]).unwrap_err(),
            "POST /b is described but not served"
        );
        let err = check_openapi(
            doc,
            &[(Method::GET, "/a/{id}"), (Method::POST, "/b"), (Method::GET, "/c")],
        )
        .unwrap_err();
        assert!(err.contains("GET /c is served but not described"), "{err}");
        assert!(err.contains("POST /b: operationId or summary missing"), "{err}");
        assert!(err.contains("POST /b: no success answer"), "{err}");
        assert!(check_openapi("{}", &[]).is_err());
    }
}
