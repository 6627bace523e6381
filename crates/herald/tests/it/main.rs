//! End-to-end tests of the `herald` binary: what an operator types, what they see.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod architecture;
mod cli;
mod efgs_cli;
mod export_cli;
mod pki_cli;
