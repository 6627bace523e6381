//! The queries compiled for PostgreSQL.

/// The backend type the shared queries are compiled for.
pub(super) type Db = sqlx::Postgres;

/// READ COMMITTED (see `herald_db::Pools::begin_write`).
pub(super) const BEGIN_WRITE: &str = "BEGIN ISOLATION LEVEL READ COMMITTED";

#[allow(clippy::duplicate_mod)]
#[path = "ops/mod.rs"]
pub(super) mod ops;
