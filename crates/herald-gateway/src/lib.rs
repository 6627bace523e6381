//! herald's EFGS-compatible federation gateway (specs/efgs-gateway.md): national backends upload
//! signed key batches over mTLS and download the other countries' keys by date.
//!
//! # Layout
//! - [`app`]: [`Gateway`] puts everything together from a [`GatewayConfig`].
//! - [`api`]: the EFGS HTTP interface (upload, download, audit, `OPTIONS`).
//! - [`callback`]: callback subscriptions' URL checks and the worker that calls subscribers.
//! - [`config`]: the TOML configuration with environment overrides.
//! - [`identity`]: who is calling (mTLS certificate or trusted-proxy headers).
//! - [`internal`]: the internal listener (`/health`, `/metrics`, `/openapi.json`).
//! - [`jobs`]: download batching and retention, once across processes (leases).
//! - [`media`]: the versioned media types and their status codes.
//! - [`metrics`]: counters and histograms, rendered in the Prometheus text format.
//! - [`store`]: storage on SQLite (default) or PostgreSQL behind one contract.
//!
//! # Invariants
//! - It does not read the system clock (a [`herald_model::Clock`] is passed in) and does not
//!   decide where files live (the `herald` binary does).
//! - It depends on the platform (`herald-runtime`, `herald-service`, `herald-db`), the codecs
//!   (`herald-wire`, `herald-trust`) and `herald-model`, never on another service crate (the
//!   architecture test enforces it).
//! - Key payloads are sealed at rest with nonces from the operating system's generator, never
//!   from an injected (possibly seeded) one: a nonce must not repeat under a long-lived key.

pub mod api;
pub mod app;
pub mod callback;
pub mod config;
#[doc(hidden)]
pub mod fuzzing;
pub mod identity;
pub mod internal;
pub mod jobs;
pub mod media;
pub mod metrics;
pub mod store;

pub use app::{Gateway, StartError};
pub use config::GatewayConfig;
