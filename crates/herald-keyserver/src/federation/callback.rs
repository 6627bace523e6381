//! The receiving end of the gateway's callbacks (efgs-gateway.md §1.6): the gateway calls
//! `GET <url>?batchTag=<tag>&date=<yyyy-MM-dd>` over mTLS when it has formed a new download
//! batch. Like cwa-server's callback service, the receiver does not download in the request: it
//! checks who is calling and what was said, answers `200`, and wakes the download job, whose
//! chain walk (with the audit re-verification) fetches the batch. A lost callback costs only
//! latency: the periodic walk still finds every batch.
//!
//! Only a peer that presents the gateway's callback client certificate in the TLS handshake (by
//! SHA-256, pinned in the configuration) is heard; anyone else gets `403`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use herald_model::{BatchTag, CertThumbprint};
use herald_runtime::PeerInfo;
use tokio::sync::Notify;

/// The path the receiver answers on.
pub const CALLBACK_PATH: &str = "/federation/callback";

#[derive(Clone)]
struct ReceiverState {
    pinned: Arc<Vec<CertThumbprint>>,
    wake: Arc<Notify>,
}

/// The callback router: `GET /federation/callback` for peers presenting one of `pinned`;
/// every accepted callback calls `wake.notify_one()`.
pub fn router(pinned: Vec<CertThumbprint>, wake: Arc<Notify>) -> Router {
    Router::new()
        .route(CALLBACK_PATH, get(receive))
        .with_state(ReceiverState { pinned: Arc::new(pinned), wake })
}

fn answer(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "code": status.as_u16(), "message": message })))
        .into_response()
}

/// A download batch tag as gateways form them (`yyyyMMdd-N`, EFGS; herald: the same), allowing
/// other gateways' letters, digits, `-` and `_`: a [`BatchTag`] of those characters only.
fn plausible_tag(text: &str) -> Option<BatchTag> {
    let tag = BatchTag::parse(text).ok()?;
    text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_').then_some(tag)
}

async fn receive(
    State(state): State<ReceiverState>,
    peer: Option<axum::Extension<PeerInfo>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let presented = peer
        .and_then(|axum::Extension(peer)| peer.certificate)
        .map(|der| herald_trust::thumbprint(&der));
    match presented {
        Some(t) if state.pinned.contains(&t) => {}
        Some(_) => {
            tracing::warn!("callback from a certificate that is not the gateway's: refused");
            return answer(StatusCode::FORBIDDEN, "callbacks are accepted from the gateway only");
        }
        None => {
            return answer(
                StatusCode::FORBIDDEN,
                "callbacks need the gateway's client certificate",
            );
        }
    }
    let Some(tag) = query.get("batchTag") else {
        return answer(StatusCode::BAD_REQUEST, "missing query parameter batchTag");
    };
    let Some(tag) = plausible_tag(tag) else {
        return answer(
            StatusCode::BAD_REQUEST,
            "batchTag must be 1 to 64 letters, digits, '-' or '_'",
        );
    };
    let Some(date) = query.get("date") else {
        return answer(StatusCode::BAD_REQUEST, "missing query parameter date");
    };
    if herald_model::Date::parse_iso(date).is_none() {
        return answer(StatusCode::BAD_REQUEST, "date must be a calendar date yyyy-MM-dd");
    }
    tracing::info!(batch_tag = %tag, %date, "gateway callback: new download batch");
    state.wake.notify_one();
    StatusCode::OK.into_response()
}

#[cfg(test)]
mod tests {
    use super::plausible_tag;

    #[test]
    fn tags_are_checked() {
        assert_eq!(plausible_tag("20261128-1").unwrap(), "20261128-1");
        assert_eq!(plausible_tag("a_B-9").unwrap(), "a_B-9");
        for bad in ["", "2026 11", "x/y", "tag?x=1", &"a".repeat(65), "é"] {
            assert!(plausible_tag(bad).is_none(), "{bad:?}");
        }
    }
}
