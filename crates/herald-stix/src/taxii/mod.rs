//! TAXII 2.1 codecs for the exchange's HTTP service (spec exchange.md §2): media types, query
//! filters, stateless `next` cursors and the response bodies. No I/O: the service reads
//! headers and query strings and writes what these functions return.
//!
//! - [`media`]: `Accept` (406) and POST `Content-Type` (415) rules.
//! - [`query`]: `added_after`, `limit`, `next`, `match[...]` per endpoint (400 on refusal).
//! - [`cursor`]: `next` cursors, MAC'd and bound to caller and request (400 on refusal).
//! - [`shapes`]: discovery, API root, collections, manifest, versions, status and error
//!   bodies, and the envelope writer that splices stored objects byte for byte.

pub mod cursor;
pub mod media;
pub mod query;
pub mod shapes;
