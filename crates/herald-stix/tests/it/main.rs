//! herald-stix's integration tests.

// Tests may panic (a panic is a failed test) and print their measurements.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    clippy::print_stdout,
    clippy::cast_precision_loss
)]

mod schema;
