//! STIX 2.1 for the health-sector exchange (spec exchange.md §3–§4): what a STIX object is, when
//! it is valid, and who may read it.
//!
//! - [`envelope`]: TAXII POST bodies (envelope or bundle) split into each object's exact text.
//! - [`object`]: one STIX object validated as stix2 and the schemas would, for the store.
//! - [`json`]: strict JSON (no duplicate keys) under the documented [`json::Limits`].
//! - [`id`]: STIX identifiers (`<type>--<uuid>`), type names, deterministic SCO ids (UUIDv5).
//! - [`jcs`]: JSON canonicalisation (RFC 8785) for the SCO ids.
//! - [`timestamp`]: STIX timestamps (RFC 3339, UTC, `Z`), as microsecond instants.
//! - [`pattern`]: STIX 2.1 Patterning: the parser (as strict as the reference validator), the
//!   syntax tree and its canonical text.
//! - [`schema`]: objects checked against the official STIX 2.1 JSON schemas (vendored, offline).
//! - [`taxii`]: TAXII 2.1 codecs: media types, query filters, `next` cursors, response bodies.
//! - [`tlp`]: TLP 2.0 (and 1.0) markings, the reader rules of spec §4, the reference rule.
//!
//! **Architecture Invariant:** this crate does no I/O and never depends on tokio, sqlx, axum or
//! hyper; "now" and randomness are parameters. Every parser reports what was wrong and never
//! panics on any input (property-tested and fuzzed, see `fuzzing`).

pub mod envelope;
pub mod id;
pub mod jcs;
pub mod json;
pub mod object;
pub mod pattern;
pub mod schema;
pub mod taxii;
pub mod timestamp;
pub mod tlp;

mod error;
mod rules;

#[doc(hidden)]
pub mod fuzzing;

pub use error::StixError;
