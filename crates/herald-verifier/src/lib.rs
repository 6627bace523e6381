//! herald's verification service (key-server.md §3): health authorities issue one-time codes
//! through the admin API; apps exchange a code for a verification token and the token plus the
//! HMAC of their keys for a verification certificate, which the key server accepts through this
//! service's JWKS. The API is field-compatible with Google's Exposure Notifications
//! Verification Server.
//!
//! [`portal`] is the case-worker portal (HTML under `/portal/` on the same listener: users,
//! roles, TOTP, audit log, statistics). What it deliberately is not (yet): SMS sending and
//! self-report (`/api/user-report`).
//!
//! # Layout
//! - [`config`]: the TOML configuration with `HERALD_VERIFIER_*` overrides.
//! - [`store`]: SQLite or PostgreSQL (codes, redeemed token ids, API keys), hashes only.
//! - [`secret`]: the server HMAC secrets keying every stored hash; [`codes`]: code generation.
//! - [`keys`]: token and certificate signing keys with rotation and the JWKS.
//! - [`service`]: the flow (issue, verify, certificate) and its refusals; [`api`]: the HTTP
//!   edge (padding, chaff, error boundary); [`app`]: the service on a listener; [`dev`]: the
//!   dev folder; [`internal`]: the internal listener's probe, metrics families and OpenAPI
//!   document.
//!
//! The JSON codecs are `herald_wire::verification`; the JWT codecs `herald_wire::jwt`.
//!
//! # Invariants
//! - Codes, token ids and signatures draw on the injected `herald_service::random::Randomness`,
//!   times on the injected [`herald_model::Clock`]; portal credentials (passwords, TOTP secrets,
//!   session and CSRF tokens) always come from the operating system (`herald_webkit::auth`).
//! - Only hashes of codes, tokens and API keys are stored.
//! - It depends on the platform (`herald-runtime`, `herald-webkit`, `herald-service`,
//!   `herald-db`), the codecs and `herald-model`, never on another service crate.

pub mod api;
pub mod app;
pub mod codes;
pub mod config;
pub mod dev;
#[doc(hidden)]
pub mod fuzzing;
pub mod internal;
pub mod keys;
pub mod portal;
pub mod secret;
pub mod service;
pub mod store;

pub use app::{StartError, Verifier};
