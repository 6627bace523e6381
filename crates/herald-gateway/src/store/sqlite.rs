//! SQLite: opening (WAL, foreign keys and a busy timeout set on every connection), the embedded
//! migrations, and what is SQLite-specific in the shared queries.

use std::str::FromStr as _;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::StoreError;

/// The backend type the shared queries are compiled for.
pub(super) type Db = sqlx::Sqlite;

/// Write transactions take the write lock up front: a deferred transaction that reads first and
/// then writes can fail with `SQLITE_BUSY` without waiting, while `BEGIN IMMEDIATE` waits under
/// the busy timeout. SQLite has a single writer, so this also serializes batching.
pub(super) const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

/// How long a connection waits for the write lock before `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections of a file database (one writer at a time, several readers under WAL).
const MAX_CONNECTIONS: u32 = 8;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

// The same queries for both backends, compiled against this module's `Db` (see `ops.rs`).
#[allow(clippy::duplicate_mod)]
#[path = "ops.rs"]
pub(super) mod ops;
#[allow(clippy::duplicate_mod)]
#[path = "statistics.rs"]
pub(super) mod statistics;

/// Opens (creating if missing) and migrates a SQLite database: `:memory:`, a `sqlite:` URL or a
/// plain path.
pub(super) async fn open(url: &str) -> Result<SqlitePool, StoreError> {
    let memory = matches!(url, ":memory:" | "sqlite::memory:" | "sqlite://:memory:");
    let options = if memory {
        SqliteConnectOptions::from_str("sqlite::memory:")
    } else if url.starts_with("sqlite:") {
        SqliteConnectOptions::from_str(url)
    } else if url.is_empty() {
        return Err(StoreError::InvalidUrl { reason: "empty database path".to_owned() });
    } else {
        Ok(SqliteConnectOptions::new().filename(url))
    }
    .map_err(|e| StoreError::InvalidUrl { reason: e.to_string() })?;
    let options = options
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT)
        .synchronous(SqliteSynchronous::Normal);
    let pool = if memory {
        // Every connection to `:memory:` would be its own database: keep exactly one, forever.
        SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
    } else {
        SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options.journal_mode(SqliteJournalMode::Wal))
            .await
    }
    .map_err(|source| StoreError::Connect { backend: "sqlite", source })?;
    MIGRATOR.run(&pool).await.map_err(|e| super::migrate_error(&MIGRATOR, e))?;
    Ok(pool)
}

/// `SQLITE_BUSY` and `SQLITE_LOCKED` (with their extended codes): another connection holds a
/// lock; the whole transaction can be retried.
pub(super) fn is_transient(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = error else {
        return false;
    };
    db.code()
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| matches!(code & 0xff, 5 | 6))
}
