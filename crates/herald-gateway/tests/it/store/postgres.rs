//! The store contract on PostgreSQL (a fresh database per test; see `Backend::fresh`).

use super::Backend;

const BACKEND: Backend = Backend::Postgres;

// The one contract suite, mounted once per backend (STYLE rule 20).
#[allow(clippy::duplicate_mod)]
#[path = "contract.rs"]
mod contract;

// The at-rest suite, mounted the same way.
#[allow(clippy::duplicate_mod)]
#[path = "at_rest.rs"]
mod at_rest;
