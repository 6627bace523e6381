//! The internal listener: plain HTTP for operators and monitoring, never for national backends
//! (bind it to loopback or an internal network). It serves
//! - `GET /health`: 200 `{"status":"ok","database":"ok",…}` after a real database round trip
//!   (the trust list is read and every entry checked against the trust anchor), 503 with a
//!   reason when the database does not answer;
//! - `GET /metrics`: the Prometheus text exposition ([`crate::metrics`]);
//! - `GET /openapi.json`: the OpenAPI 3.0 description of the public endpoints ([`OPENAPI`]).

use std::collections::BTreeSet;
use std::sync::Arc;

use herald_runtime::internal::{BoxFuture, Probe};
use herald_trust::AnchorCertificate;
use serde_json::{Map, Value};

use crate::metrics;
use crate::store::{Store, TrustKind};

/// The OpenAPI 3.0 document of the public endpoints, written by hand. A test checks that it
/// describes every route of [`crate::api::router`] and nothing else.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// What the internal endpoints read.
#[derive(Clone)]
pub struct InternalState {
    /// Storage.
    pub store: Store,
    /// The trust anchor, to count only the countries whose entries verify.
    pub anchor: Arc<AnchorCertificate>,
}

impl Probe for InternalState {
    fn backend(&self) -> &'static str {
        self.store.backend()
    }

    /// The trust list is read and every entry checked against the trust anchor:
    /// `trustedCountries` counts the countries with a valid authentication entry.
    fn check(&self) -> BoxFuture<'_, Result<Map<String, Value>, String>> {
        Box::pin(async move {
            let rows =
                self.store.trust_entries().await.map_err(|e| {
                    match std::error::Error::source(&e) {
                        Some(source) => format!("{e}: {source}"),
                        None => e.to_string(),
                    }
                })?;
            let countries: BTreeSet<_> = rows
                .iter()
                .filter(|row| row.kind == TrustKind::Authentication && !row.revoked)
                .filter(|row| crate::api::passes_anchor_check(&self.anchor, row, None))
                .map(|row| row.country)
                .collect();
            let mut extra = Map::new();
            extra.insert("trustedCountries".into(), countries.len().into());
            Ok(extra)
        })
    }

    fn gauges(&self) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(async move {
            let gauges = self.store.gauges().await.map_err(|e| e.to_string())?;
            Ok(metrics::render_gauges(&gauges))
        })
    }
}
