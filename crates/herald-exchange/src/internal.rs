//! The exchange's side of the internal listener (`herald_runtime::internal`): the store probe
//! behind `/health`, the row gauges of `/metrics`, and the OpenAPI document of the TAXII routes.

use std::sync::Arc;

use axum::http::Method;
use herald_runtime::internal::{BoxFuture, Probe};
use herald_runtime::metrics::{Registry, write_family, write_sample};
use serde_json::{Map, Value};

use crate::api::API_ROOT;
use crate::clocks::{Stage, Status, clocks};
use crate::store::Store;

/// The OpenAPI 3.0 document of the TAXII routes, written by hand. A test checks that it
/// describes every route of [`crate::api::router`] and nothing else.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// A fresh registry (requests by route, method and status; the exchange counts objects from its
/// store instead, see [`ExchangeProbe`]).
pub fn registry() -> Arc<Registry> {
    Arc::new(Registry::new("herald_exchange", &[]))
}

/// The public routes as the router declares them, for the OpenAPI check.
pub fn public_routes() -> Vec<(Method, String)> {
    let c = format!("{API_ROOT}collections/");
    vec![
        (Method::GET, "/taxii2/".to_owned()),
        (Method::GET, API_ROOT.to_owned()),
        (Method::GET, c.clone()),
        (Method::GET, format!("{c}{{id}}/")),
        (Method::GET, format!("{c}{{id}}/manifest/")),
        (Method::GET, format!("{c}{{id}}/objects/")),
        (Method::POST, format!("{c}{{id}}/objects/")),
        (Method::GET, format!("{c}{{id}}/objects/{{object}}/")),
        (Method::DELETE, format!("{c}{{id}}/objects/{{object}}/")),
        (Method::GET, format!("{c}{{id}}/objects/{{object}}/versions/")),
        (Method::GET, format!("{API_ROOT}status/{{status}}/")),
        (Method::GET, format!("{API_ROOT}status/{{status}}")),
        (Method::GET, "/api/v1/incidents".to_owned()),
        (Method::POST, "/api/v1/incidents".to_owned()),
        (Method::GET, "/api/v1/incidents/{id}".to_owned()),
        (Method::POST, "/api/v1/incidents/{id}/stages/{stage}".to_owned()),
    ]
}

/// What `/health` and `/metrics` read: the store, and the clock the incidents' deadlines are
/// read against.
pub struct ExchangeProbe {
    /// Storage.
    pub store: Store,
    /// The exchange's clock.
    pub clock: Arc<dyn crate::api::Clock>,
}

impl Probe for ExchangeProbe {
    fn backend(&self) -> &'static str {
        self.store.backend()
    }

    fn check(&self) -> BoxFuture<'_, Result<Map<String, Value>, String>> {
        Box::pin(async move {
            self.store.ping().await.map_err(|e| e.to_string())?;
            Ok(Map::new())
        })
    }

    /// `herald_exchange_rows{table}`: the rows of each table (objects, statuses, organisations,
    /// tokens, audit entries, …); `herald_exchange_incident_stages{stage,status}`: the reports
    /// due and overdue on the mandatory track.
    fn gauges(&self) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(async move {
            let counts = self.store.counts().await.map_err(|e| e.to_string())?;
            let mut out = String::new();
            let name = "herald_exchange_rows";
            write_family(&mut out, name, "gauge", "Rows in each of the exchange's tables.");
            for (table, n) in counts {
                write_sample(&mut out, name, &[("table", table)], u64::try_from(n).unwrap_or(0));
            }
            let incidents = self.store.incidents(None).await.map_err(|e| e.to_string())?;
            let now = jiff::Timestamp::from_microsecond(self.clock.now_us()).unwrap_or_default();
            let name = "herald_exchange_incident_stages";
            write_family(
                &mut out,
                name,
                "gauge",
                "Reports owed on the mandatory track, by stage: due (deadline ahead) and overdue.",
            );
            let mut owed = std::collections::HashMap::new();
            for incident in &incidents {
                for c in clocks(&crate::api::incident_facts(incident), now) {
                    *owed.entry((c.stage, c.status)).or_insert(0u64) += 1;
                }
            }
            for stage in Stage::ALL {
                for (status, label) in [(Status::Due, "due"), (Status::Overdue, "overdue")] {
                    let n = owed.get(&(stage, status)).copied().unwrap_or(0);
                    write_sample(
                        &mut out,
                        name,
                        &[("stage", stage.as_str()), ("status", label)],
                        n,
                    );
                }
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_openapi_document_describes_every_public_route() {
        let routes = super::public_routes();
        let routes: Vec<_> = routes.iter().map(|(m, p)| (m.clone(), p.as_str())).collect();
        if let Err(problems) = herald_runtime::internal::check_openapi(super::OPENAPI, &routes) {
            panic!("openapi.json:\n{problems}");
        }
    }
}
