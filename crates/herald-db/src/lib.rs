//! Storage plumbing shared by herald's services (STYLE rules 11, 12).
//!
//! Every service keeps its rows in SQLite (the embedded default) or PostgreSQL through sqlx, with
//! forward-only migrations per backend. What is the same for all of them lives here:
//! - [`Pools`]: opening a database from a URL (`postgres://…` is PostgreSQL, anything else a
//!   SQLite file, `sqlite:` URL or `:memory:`), WAL and a busy timeout for SQLite, the embedded
//!   migrations applied, and a database written by a newer herald refused.
//! - [`run_tx`]: a named transaction retried on transient conflicts (SQLite busy, PostgreSQL
//!   serialization failures and deadlocks), with its duration recorded.
//! - [`DbError`]: the one error type, which never carries a row's secret fields.
//! - `testing` (feature `testing`): fresh databases for tests on both backends, with the
//!   `CI=true` rule (PostgreSQL tests never skip in CI).
//!
//! A service writes its queries once against a generic `sqlx::Database` (`Backend`) — both
//! backends accept `$N` placeholders — and dispatches on [`Pools`].

mod error;
mod open;
mod tx;

#[cfg(feature = "testing")]
pub mod testing;

pub use error::DbError;
pub use open::{Pools, is_transient};
pub use tx::{Attempt, AttemptError, run_tx};
