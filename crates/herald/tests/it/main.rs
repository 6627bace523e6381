//! End-to-end tests of the `herald` binary: what an operator types, what they see.

// Tests may panic (a panic is a failed test) and run long, step by step like a user.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    clippy::cast_possible_truncation,
    missing_docs
)]

mod architecture;
mod bench_cli;
mod cli;
mod crash_cli;
mod demo_cli;
mod efgs_cli;
mod exchange_cli;
mod exchange_tracks_cli;
mod export_cli;
mod gateway_cli;
mod keyserver_cli;
mod pki_cli;
mod services;
mod support;
mod verifier_cli;
