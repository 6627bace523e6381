//! herald-gateway's integration tests.

// Tests may panic (a panic is a failed test) and run long, step by step like a user.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines
)]

mod callback;
mod fuzz_corpus;
mod http;
mod internal;
mod store;
mod trust;
