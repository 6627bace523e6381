//! The queries compiled for SQLite.

/// The backend type the shared queries are compiled for.
pub(super) type Db = sqlx::Sqlite;

/// Write transactions take the write lock up front: a deferred transaction that reads first and
/// then writes can fail with `SQLITE_BUSY` without waiting, while `BEGIN IMMEDIATE` waits under
/// the busy timeout. SQLite has a single writer (and the store one writing connection), so this
/// also serializes batching.
pub(super) const BEGIN_WRITE: &str = <Db as herald_db::SqlBackend>::BEGIN_WRITE;

// The same queries for both backends, compiled against this module's `Db` (see `ops/`).
#[allow(clippy::duplicate_mod)]
#[path = "ops/mod.rs"]
pub(super) mod ops;
