//! The queries compiled for PostgreSQL.

/// The backend type the shared queries are compiled for.
pub(super) type Db = sqlx::Postgres;

/// READ COMMITTED: every statement sees what committed before it, which is what the lock row
/// of batching relies on (after waiting for the lock, the next statements see the other
/// batcher's batch). Uploads need nothing stronger: tags and payload hashes are unique indexes,
/// and `ON CONFLICT DO NOTHING` waits for a concurrent insert of the same value to finish.
pub(super) const BEGIN_WRITE: &str = <Db as herald_db::SqlBackend>::BEGIN_WRITE;

// The same queries for both backends, compiled against this module's `Db` (see `ops/`).
#[allow(clippy::duplicate_mod)]
#[path = "ops/mod.rs"]
pub(super) mod ops;
