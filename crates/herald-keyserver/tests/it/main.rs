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

mod client;
mod e2e;
mod export;
mod federation;
mod publish;
mod scale_out;
mod store;
mod support;
mod world;
