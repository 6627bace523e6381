//! Opening a database: SQLite (WAL, foreign keys, busy timeout) or PostgreSQL, migrated.

use std::str::FromStr as _;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::DbError;

/// How long a SQLite connection waits for the write lock before `SQLITE_BUSY`.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections of a SQLite file database (one writer at a time, several readers under WAL).
const SQLITE_MAX_CONNECTIONS: u32 = 8;

/// Connections per process to PostgreSQL.
const POSTGRES_MAX_CONNECTIONS: u32 = 10;

/// A connection pool to one of the two backends. Cloning is cheap and shares the pool.
#[derive(Clone, Debug)]
pub enum Pools {
    /// SQLite (file or `:memory:`).
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Postgres(PgPool),
}

impl Pools {
    /// Opens a database and applies the migrations of its backend.
    ///
    /// `postgres://…` or `postgresql://…` is PostgreSQL; anything else is SQLite: a `sqlite:`
    /// URL, a plain file path (created if missing), or `:memory:`. A database that has a
    /// migration this binary does not know is refused ([`DbError::UnknownSchemaVersion`]).
    /// Concurrent PostgreSQL starts are safe: the migrator holds an advisory lock.
    pub async fn open(url: &str, sqlite: &Migrator, postgres: &Migrator) -> Result<Self, DbError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(POSTGRES_MAX_CONNECTIONS)
                .connect(url)
                .await
                .map_err(|source| DbError::Connect { backend: "postgres", source })?;
            postgres.run(&pool).await.map_err(|e| DbError::from_migrate(postgres, e))?;
            Ok(Self::Postgres(pool))
        } else {
            let pool = open_sqlite(url).await?;
            sqlite.run(&pool).await.map_err(|e| DbError::from_migrate(sqlite, e))?;
            Ok(Self::Sqlite(pool))
        }
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// The statement that begins a write transaction: SQLite takes the write lock up front
    /// (`BEGIN IMMEDIATE` waits under the busy timeout, where a deferred transaction that reads
    /// first could fail with `SQLITE_BUSY` at once); PostgreSQL uses READ COMMITTED.
    pub fn begin_write(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "BEGIN IMMEDIATE",
            Self::Postgres(_) => "BEGIN ISOLATION LEVEL READ COMMITTED",
        }
    }

    /// One database round trip (for `/health`), retried like every transaction.
    pub async fn ping(&self) -> Result<(), DbError> {
        const PING: &str = "SELECT CAST(1 AS BIGINT)";
        crate::run_tx("ping", || async {
            let _: i64 = match self {
                Self::Sqlite(pool) => sqlx::query_scalar(PING).fetch_one(pool).await?,
                Self::Postgres(pool) => sqlx::query_scalar(PING).fetch_one(pool).await?,
            };
            Ok(())
        })
        .await
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

/// Where a SQLite database is: `:memory:` (also `sqlite::memory:`, `sqlite://:memory:`), a
/// `sqlite:` URL, or a plain file path; `true` for an in-memory database, whose every
/// connection would be a database of its own (so its pool keeps exactly one connection).
pub fn sqlite_location(url: &str) -> Result<(SqliteConnectOptions, bool), DbError> {
    let memory = matches!(url, ":memory:" | "sqlite::memory:" | "sqlite://:memory:");
    let options = if memory {
        SqliteConnectOptions::from_str("sqlite::memory:")
    } else if url.starts_with("sqlite:") {
        SqliteConnectOptions::from_str(url)
    } else if url.is_empty() {
        return Err(DbError::InvalidUrl { reason: "empty database path".to_owned() });
    } else {
        Ok(SqliteConnectOptions::new().filename(url))
    }
    .map_err(|e| DbError::InvalidUrl { reason: e.to_string() })?;
    Ok((options.create_if_missing(true), memory))
}

async fn open_sqlite(url: &str) -> Result<SqlitePool, DbError> {
    let (options, memory) = sqlite_location(url)?;
    // NORMAL under WAL: a commit survives a process crash (SIGKILL); only an OS crash or power
    // loss may lose the last transactions, never corrupt the file.
    let options = options
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .synchronous(SqliteSynchronous::Normal);
    if memory {
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
            .max_connections(SQLITE_MAX_CONNECTIONS)
            .connect_with(options.journal_mode(SqliteJournalMode::Wal))
            .await
    }
    .map_err(|source| DbError::Connect { backend: "sqlite", source })
}

/// A transient conflict: the whole transaction can be retried. SQLite: `SQLITE_BUSY` and
/// `SQLITE_LOCKED` (with their extended codes); PostgreSQL: `serialization_failure` (40001)
/// and `deadlock_detected` (40P01).
pub fn is_transient(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = error else {
        return false;
    };
    let Some(code) = db.code() else {
        return false;
    };
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        code.parse::<i32>().is_ok_and(|number| matches!(number & 0xff, 5 | 6))
    } else {
        code == "40001" || code == "40P01"
    }
}
