//! What every herald service runs on, below the service crates (which never depend on each
//! other) and above the pure crates:
//!
//! - [`server`]: the HTTPS serve loop (or plain HTTP behind a TLS-terminating proxy) with
//!   graceful shutdown; the peer's address and client certificate travel with every request
//!   as [`server::PeerInfo`];
//! - [`tls`]: server and client TLS configurations on rustls (aws-lc-rs), with optional client
//!   certificates pinned by thumbprint;
//! - [`client`]: the HTTPS client (mTLS) that key servers use towards a gateway, the demo and
//!   the tests towards every service;
//! - [`metrics`]: a process's counters, request histograms and job states, in the Prometheus
//!   text format;
//! - [`internal`]: the internal listener (`/health`, `/metrics`, `/openapi.json`);
//! - [`jobs`]: background jobs under a store lease;
//! - [`start`]: why a service could not start ([`start::StartError`], generic over what the
//!   service opens itself; the key server's and the verifier's);
//! - [`padding`]: padded JSON answers of the app-facing APIs (one [`padding::Padding`] per
//!   endpoint);
//! - [`refusal`]: the error boundary: a service's typed errors become responses in one place
//!   (padded like the endpoint's successes where its answers have one size).
//!
//! Layout rule: this crate knows no service's protocol or store; a service plugs in through
//! [`internal::Probe`] and [`jobs::LeaseStore`]. It reads no system clock (a
//! [`herald_model::Clock`] is passed in).

pub mod client;
pub mod internal;
pub mod jobs;
pub mod metrics;
pub mod padding;
pub mod refusal;
pub mod server;
pub mod start;
pub mod tls;

pub use client::{Answer, ClientError, HttpsClient, HttpsConnection};
pub use metrics::{CounterFamily, Registry};
pub use server::{PeerInfo, serve};
