//! herald's wire formats: pure codecs between bytes and [`herald_model`] types.
//!
//! - [`keys_json`]: the `keys.json` key-list format shared by the CLI tools.
//!
//! **Architecture Invariant:** this crate does no I/O and never depends on tokio, sqlx, axum or
//! hyper. Every decoder validates into model types and reports *which* record failed and why;
//! decoders never panic on any input (property-tested and fuzzed, see `fuzzing`).

pub mod keys_json;

#[doc(hidden)]
pub mod fuzzing;
