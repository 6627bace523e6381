//! herald's national key server (key-server.md): the ENS-compatible publish API, signed GAEN
//! export files for apps, and the federation client to an EFGS-compatible gateway.
//!
//! # Layout
//! - [`config`]: the TOML configuration with `HERALD_KEYSERVER_*` overrides.
//! - [`store`]: SQLite or PostgreSQL (keys, used certificates, export batches and files, the
//!   federation outbox and download cursor, job leases).
//! - [`publish`]: `POST /v1/publish`: validation in ENS order, verification certificates (ES256
//!   JWTs from verifiers found through their JWKS), revision tokens, padding and chaff.
//! - [`export`]: windows → signed export files and index in an object store; padding with fake
//!   keys; retention.
//! - [`federation`]: outbox uploads in signed batches, the download walk with audit
//!   verification.
//! - [`api`], [`app`]: the router and the service with its jobs; [`dev`]: the dev folder.
//! - [`internal`]: the internal listener's probe, metrics families and OpenAPI document.
//!
//! # Invariants
//! - The clock and the randomness of export padding, fake keys and federation batches are
//!   passed in ([`herald_model::Clock`], `herald_service::random::Randomness`); revision tokens
//!   are sealed with nonces from the operating system.
//! - It depends on the platform (`herald-runtime`, `herald-service`, `herald-db`), the codecs
//!   and `herald-model`, never on another service crate (the architecture test enforces it).

pub mod api;
pub mod app;
pub mod config;
pub mod dev;
pub mod export;
pub mod federation;
#[doc(hidden)]
pub mod fuzzing;
pub mod internal;
pub mod publish;
pub mod store;

pub use app::{Keyserver, StartError};
