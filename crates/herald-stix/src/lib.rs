//! STIX 2.1 for the health-sector exchange (spec exchange.md §3–§4): what a STIX object is, when
//! it is valid, and who may read it.
//!
//! - [`envelope`]: TAXII POST bodies (envelope or bundle) split into each object's exact text.
//! - [`json`]: strict JSON (no duplicate keys) under the documented [`json::Limits`].
//! - [`id`]: STIX identifiers (`<type>--<uuid>`), type names, deterministic SCO ids (UUIDv5).
//! - [`jcs`]: JSON canonicalisation (RFC 8785) for the SCO ids.
//! - [`timestamp`]: STIX timestamps (RFC 3339, UTC, `Z`), as microsecond instants.
//! - [`tlp`]: TLP 2.0 (and 1.0) markings, the reader rules of spec §4, the reference rule.
//!
//! **Architecture Invariant:** this crate does no I/O and never depends on tokio, sqlx, axum or
//! hyper; "now" and randomness are parameters. Every parser reports what was wrong and never
//! panics on any input (property-tested and fuzzed, see `fuzzing`).

pub mod envelope;
pub mod id;
pub mod jcs;
pub mod json;
pub mod timestamp;
pub mod tlp;

mod error;
/// STIX objects checked against the official STIX 2.1 JSON schemas (vendored, offline).
pub mod schema;

pub use error::StixError;
