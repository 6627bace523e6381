//! Callback administration (§1.5): list, subscribe or resume, delete; the caller's country's
//! subscriptions only.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use herald_runtime::PeerInfo;

use super::{ApiError, AppState, authenticate};

/// `GET /diagnosiskeys/callback[?suspended=true|false]` (§1.5): the caller's country's
/// subscriptions, as `{"callbackId", "url"}` like EFGS. A subscription suspended after repeated
/// failures (a herald deviation, see [`crate::callback`]) also carries `"suspended": true` and
/// `"suspendedAt"`; `?suspended=true` lists only those, `?suspended=false` only the active ones.
pub(super) async fn list_callbacks(
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
/// suspended subscription put again is resumed (its pending callbacks are retried at once). A
/// refused URL gets 400 `Callback URL is invalid: <reason>` (EFGS's message with the reason,
/// e.g. `callback host is a localhost name`).
pub(super) async fn put_callback(
    State(state): State<AppState>,
    axum::Extension(peer): axum::Extension<PeerInfo>,
    Path(callback_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (_, country) = authenticate(&state, &peer, &headers).await?;
    let url = query
        .as_deref()
        .and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(name, _)| name == "url")
                .map(|(_, value)| value.into_owned())
        })
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "Callback URL is invalid"))?;
    crate::callback::validate_subscription(
        &callback_id,
        &url,
        state.settings.allow_private_callback_hosts,
    )
    .map_err(|e| {
        tracing::info!(%country, reason = %e, "callback subscription refused");
        // EFGS's message, then why (the reason names no value of the request).
        ApiError::new(StatusCode::BAD_REQUEST, format!("Callback URL is invalid: {e}"))
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
pub(super) async fn delete_callback(
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
