//! herald-stix against oracles we did not write (stix2, stix2-patterns, the STIX JSON schemas).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]
#![allow(missing_docs, reason = "tests")]

mod sco_ids;
