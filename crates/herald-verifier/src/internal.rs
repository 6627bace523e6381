//! The verifier's side of the internal listener (`herald_runtime::internal`): its counter
//! families, the store probe behind `/health` and `/metrics`, and the OpenAPI document of its
//! API.

use std::sync::Arc;

use herald_runtime::internal::{BoxFuture, Probe};
use herald_runtime::metrics::Registry;
use serde_json::{Map, Value};

use crate::store::Store;

/// The OpenAPI 3.0 document of the API (the portal's HTML pages are not an API), written by
/// hand. A test checks that it describes every API route and nothing else.
pub const OPENAPI: &str = include_str!("../openapi.json");

herald_runtime::counter_families! {
    /// `herald_verifier_codes_total{event}`: issued, claimed, verify_failed.
    pub static CODES = ("herald_verifier_codes_total", "event", "Verification codes issued and claimed, and failed verify attempts.");
    /// `herald_verifier_limit_trips_total{limit}`: verify_client, verify_app_budget,
    /// verify_clients_full, portal_login_rate, portal_login_client, portal_login_busy,
    /// portal_account_locked, portal_issue_limit.
    pub static TRIPS = ("herald_verifier_limit_trips_total", "limit", "Requests refused by a rate limit or lockout: verify_client (a client's budget of failed /api/verify attempts), verify_app_budget (the device API key's, shared by every install: alert on it), verify_clients_full (too many clients to track; allowed, the app budget still applies), portal_login_rate (per user name), portal_login_client (failed logins per client address), portal_login_busy (every argon2 slot and queue place taken), portal_account_locked, portal_issue_limit (hourly).");
}

/// A fresh registry with the verifier's families.
pub fn registry() -> Arc<Registry> {
    Arc::new(Registry::new("herald_verifier", &[&CODES, &TRIPS]))
}

/// What `/health` reads: the store.
pub struct VerifierProbe {
    /// Storage.
    pub store: Store,
}

impl Probe for VerifierProbe {
    fn backend(&self) -> &'static str {
        self.store.backend()
    }

    fn check(&self) -> BoxFuture<'_, Result<Map<String, Value>, String>> {
        Box::pin(async move {
            self.store.ping().await.map_err(|e| e.to_string())?;
            Ok(Map::new())
        })
    }
}

#[cfg(test)]
mod tests {
    herald_runtime::openapi_test!(super::OPENAPI, crate::api::public_routes());
}
