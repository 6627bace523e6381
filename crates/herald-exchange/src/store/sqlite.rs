//! The queries compiled for SQLite.

/// The backend type the shared queries are compiled for.
pub(super) type Db = sqlx::Sqlite;

/// SQLite takes the write lock up front (see `herald_db::Pools::begin_write`).
pub(super) const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

#[allow(clippy::duplicate_mod)]
#[path = "ops/mod.rs"]
pub(super) mod ops;
