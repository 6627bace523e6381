//! herald-exchange's integration tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    reason = "tests: a panic is a failed test"
)]
#![allow(missing_docs, reason = "tests")]

mod api;
mod bad_input;
mod incidents;
mod instances;
mod receipts;
mod store;
mod support;
mod tlp_matrix;
