//! PostgreSQL: opening, the embedded migrations, and what is PostgreSQL-specific in the shared
//! queries.

use sqlx::postgres::{PgPool, PgPoolOptions};

use herald_db::DbError;

use super::StoreError;

/// The backend type the shared queries are compiled for.
pub(super) type Db = sqlx::Postgres;

/// READ COMMITTED: every statement sees what committed before it, which is what the lock row
/// of batching relies on (after waiting for the lock, the next statements see the other
/// batcher's batch). Uploads need nothing stronger: tags and payload hashes are unique indexes,
/// and `ON CONFLICT DO NOTHING` waits for a concurrent insert of the same value to finish.
pub(super) const BEGIN_WRITE: &str = "BEGIN ISOLATION LEVEL READ COMMITTED";

/// Connections per process.
const MAX_CONNECTIONS: u32 = 10;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

// The same queries for both backends, compiled against this module's `Db` (see `ops/`).
#[allow(clippy::duplicate_mod)]
#[path = "ops/mod.rs"]
pub(super) mod ops;
#[allow(clippy::duplicate_mod)]
#[path = "statistics.rs"]
pub(super) mod statistics;

/// Connects to and migrates a PostgreSQL database. Concurrent starts are safe: the migrator
/// holds an advisory lock.
pub(super) async fn open(url: &str) -> Result<PgPool, StoreError> {
    let pool = PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .connect(url)
        .await
        .map_err(|source| DbError::Connect { backend: "postgres", source })?;
    MIGRATOR.run(&pool).await.map_err(|e| DbError::from_migrate(&MIGRATOR, e))?;
    Ok(pool)
}
