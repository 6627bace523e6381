//! Integration tests of the key server.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    clippy::too_many_lines,
    missing_docs
)]

// Shared with the tests of services together (crates/herald/tests/it/services), which use
// what this suite does not.
#[allow(dead_code)]
mod client;
mod export;
mod fuzz_corpus;
mod padding;
mod publish;
mod store;
mod support;
