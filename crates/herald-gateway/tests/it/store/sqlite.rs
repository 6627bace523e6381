//! The store contract on SQLite (a temporary file per test).

use super::Backend;

const BACKEND: Backend = Backend::Sqlite;

// The one contract suite, mounted once per backend (STYLE rule 20).
#[allow(clippy::duplicate_mod)]
#[path = "contract.rs"]
mod contract;

// The at-rest suite, mounted the same way.
#[allow(clippy::duplicate_mod)]
#[path = "at_rest.rs"]
mod at_rest;
