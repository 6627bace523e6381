//! The TAXII 2.1 API (spec exchange.md §2) as taxii2-client 2.3.0 and stix2 3.0.2 use it, and
//! the reporting tracks' JSON API under `/api/v1/` (spec §5; [`incidents`]).
//!
//! Every answer, refusals included, is `application/taxii+json;version=2.1`. Who calls is the
//! organisation of an API token (HTTP Basic with the organisation's name, or Bearer); what it
//! may see is decided in the store's queries by TLP ([`crate::store::Reader`]). An object that
//! does not exist and one that the caller may not see answer the same 404, byte for byte.

mod auth;
mod error;
mod incidents;
mod ingest;
mod read;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::get;
use herald_stix::json::Limits;
use herald_stix::taxii::cursor::CursorKey;

pub use auth::{Caller, token_hash};
pub use error::TaxiiError;
pub use incidents::{facts as incident_facts, incident_json};

use crate::receipt::ReceiptSigner;
use crate::store::Store;

/// The API root's path.
pub const API_ROOT: &str = "/taxii2/health/";

/// The exchange's clock, in microseconds (TAXII `date_added` has microsecond precision).
pub trait Clock: Send + Sync {
    /// Microseconds since 1970-01-01T00:00:00Z.
    fn now_us(&self) -> i64;
}

/// A clock that always says the same time.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub i64);

impl Clock for FixedClock {
    fn now_us(&self) -> i64 {
        self.0
    }
}

/// Where status ids come from (random UUIDs in production, seeded in tests).
pub type IdSource = Box<dyn FnMut() -> [u8; 16] + Send>;

/// What the handlers share.
pub struct Exchange {
    /// The store.
    pub store: Store,
    /// Authenticates `next` cursors (shared by every instance).
    pub cursor_key: CursorKey,
    /// Keys the API token hashes.
    pub token_key: [u8; 32],
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Limits on what one POST and one object may hold.
    pub limits: Limits,
    /// The largest page (and the page when no `limit` is given).
    pub page_max: u32,
    /// The largest body a POST may send (bytes).
    pub max_content_length: u64,
    /// The title of the discovery resource and the API root.
    pub title: String,
    /// Status ids.
    pub ids: Mutex<IdSource>,
    /// Signs the receipts of the reporting tracks.
    pub receipts: ReceiptSigner,
}

impl std::fmt::Debug for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exchange").field("title", &self.title).finish_non_exhaustive()
    }
}

impl Exchange {
    fn new_status_id(&self) -> String {
        let bytes = match self.ids.lock() {
            Ok(mut ids) => ids(),
            Err(poisoned) => poisoned.into_inner()(),
        };
        uuid::Builder::from_random_bytes(bytes).into_uuid().hyphenated().to_string()
    }
}

/// The TAXII routes.
pub fn router(exchange: Arc<Exchange>) -> Router {
    let root = API_ROOT;
    Router::new()
        .route("/taxii2/", get(read::discovery))
        .route(root, get(read::api_root))
        .route(&format!("{root}collections/"), get(read::collections))
        .route(&format!("{root}collections/{{id}}/"), get(read::collection))
        .route(&format!("{root}collections/{{id}}/manifest/"), get(read::manifest))
        .route(
            &format!("{root}collections/{{id}}/objects/"),
            get(read::objects).post(ingest::post_objects),
        )
        .route(
            &format!("{root}collections/{{id}}/objects/{{object}}/"),
            get(read::object).delete(ingest::delete_object),
        )
        .route(
            &format!("{root}collections/{{id}}/objects/{{object}}/versions/"),
            get(read::versions),
        )
        .route(&format!("{root}status/{{status}}/"), get(read::status))
        .route(&format!("{root}status/{{status}}"), get(read::status))
        .route("/api/v1/incidents", get(incidents::list).post(incidents::open))
        .route("/api/v1/incidents/{id}", get(incidents::one))
        .route("/api/v1/incidents/{id}/stages/{stage}", axum::routing::post(incidents::submit))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(exchange)
}
