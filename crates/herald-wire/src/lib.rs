//! herald's wire formats: pure codecs between bytes and [`herald_model`] types.
//!
//! - [`keys_json`]: the `keys.json` key-list format shared by the CLI tools.
//! - [`proto`]: the protobuf messages (GAEN export, EFGS), derived by hand with prost.
//! - [`export`]: GAEN export files (`export.bin` + `export.sig` in a zip), writer, reader, signer.
//! - [`efgs`]: EFGS batches: canonical signed bytes, JSON codec, conversions.
//! - [`cms`]: detached CMS `SignedData`: signing and a verifier for OpenSSL and BouncyCastle output.
//! - [`jwt`]: ES256 JWTs (verification tokens and certificates), their claims, JWKs and JWK sets.
//! - [`trl_dsos`]: TRL ↔ DSOS derivation for federated keys, with cwa-server's tables.
//! - [`publish`]: the key server's publish API v1 (request, §2.4 rules, response), the tekmac
//!   and revision tokens.
//! - [`verification`]: the verification service's JSON API (verify, certificate, issue, …),
//!   its error codes, test types and calendar dates.
//!
//! **Architecture Invariant:** this crate does no I/O and never depends on tokio, sqlx, axum or
//! hyper. Every decoder validates into model types and reports *which* record failed and why;
//! decoders never panic on any input (property-tested and fuzzed, see `fuzzing`).

pub mod cms;
pub mod efgs;
pub mod export;
pub mod jwt;
pub mod keys_json;
pub mod proto;
pub mod publish;
pub mod trl_dsos;
pub mod verification;

mod json;

#[doc(hidden)]
pub mod fuzzing;
