//! The health-sector security information exchange (spec exchange.md): a TAXII 2.1 server over
//! STIX 2.1 objects, with TLP 2.0 enforced on every read.
//!
//! - [`api`]: the TAXII 2.1 routes, TAXII errors, API-token callers.
//! - [`app`]: [`app::ExchangeServer`], the service from its [`config::ExchangeConfig`].
//! - [`clocks`]: the NIS2 and GDPR deadlines of the mandatory track (spec §5).
//! - [`dev`]: the dev world of spec §1 (`herald exchange serve --dev DIR`).
//! - [`internal`]: `/health`, `/metrics` and `/openapi.json` on the internal listener.
//! - [`receipt`]: the Ed25519 receipts of every submission (spec §5).
//! - [`store`]: organisations, communities, API tokens, collections and grants; objects kept
//!   byte for byte with their TLP; status resources; the hash-chained audit log. SQLite or
//!   PostgreSQL behind one contract.
//!
//! The STIX model, validation, patterning and the TLP rules are in the pure crate
//! `herald-stix`; this crate owns the protocol's HTTP side and its store.

pub mod api;
pub mod app;
pub mod clocks;
pub mod config;
pub mod dev;
pub mod internal;
pub mod receipt;
pub mod store;
