//! Opening a database: SQLite (WAL, foreign keys, busy timeout; readers and one writing
//! connection) or PostgreSQL, migrated.

use std::str::FromStr as _;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::{DbError, SqlBackend};

/// How long a SQLite connection waits for the write lock before `SQLITE_BUSY`.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Reading connections of a SQLite file database (several readers under WAL, next to the
/// writer).
const SQLITE_MAX_READERS: u32 = 8;

/// The SQLite writer's page cache: 16 MiB (negative: KiB), so that a large write (a 5000-key
/// gateway upload) never spills pages to the WAL before its commit, and the indexes it updates
/// stay in memory.
const SQLITE_WRITER_CACHE_SIZE: &str = "-16384";

/// Connections per process to PostgreSQL.
const POSTGRES_MAX_CONNECTIONS: u32 = 10;

/// A connection pool to one of the two backends. Cloning is cheap and shares the pool.
#[derive(Clone, Debug)]
pub enum Pools {
    /// SQLite (file or `:memory:`): readers and the one writing connection.
    Sqlite(SqlitePools),
    /// PostgreSQL: one pool for reads and writes.
    Postgres(PgPool),
}

/// The connections of a SQLite database: readers, and the one connection that writes.
///
/// SQLite has a single writer whatever the number of connections. Writing through one
/// dedicated connection makes writers queue in the pool, woken as soon as it is free, instead of
/// polling the file lock under the busy timeout (which sleeps up to 100 ms between tries); and
/// its page cache stays valid from one transaction to the next, because no other connection
/// changes the database, where a connection that sees another's commit drops its whole cache.
/// A store sends its writes to [`SqlitePools::write`] (`dispatch!(write, …)`) and its queries to
/// [`SqlitePools::read`]. An in-memory database has one connection, which is both.
#[derive(Clone, Debug)]
pub struct SqlitePools {
    read: SqlitePool,
    write: SqlitePool,
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
            let pools = SqlitePools::open(url).await?;
            sqlite.run(&pools.write).await.map_err(|e| DbError::from_migrate(sqlite, e))?;
            Ok(Self::Sqlite(pools))
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
            Self::Sqlite(_) => <sqlx::Sqlite as SqlBackend>::BEGIN_WRITE,
            Self::Postgres(_) => <sqlx::Postgres as SqlBackend>::BEGIN_WRITE,
        }
    }

    /// One database round trip (for `/health`), retried like every transaction.
    pub async fn ping(&self) -> Result<(), DbError> {
        const PING: &str = "SELECT CAST(1 AS BIGINT)";
        crate::run_tx("ping", || async {
            let _: i64 = match self {
                Self::Sqlite(pools) => sqlx::query_scalar(PING).fetch_one(pools.read()).await?,
                Self::Postgres(pool) => sqlx::query_scalar(PING).fetch_one(pool).await?,
            };
            Ok(())
        })
        .await
    }

    /// Closes the pools, waiting for connections in use to be returned.
    pub async fn close(&self) {
        match self {
            Self::Sqlite(pools) => {
                pools.read.close().await;
                pools.write.close().await;
            }
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

impl SqlitePools {
    /// Opens (creating if missing) a SQLite database with [`sqlite_connect_options`]: WAL, up to
    /// `SQLITE_MAX_READERS` readers and one writer with [`sqlite_writer_options`]; an
    /// in-memory database is one connection, kept forever.
    async fn open(url: &str) -> Result<Self, DbError> {
        let (options, memory) = sqlite_location(url)?;
        let connect_error = |source| DbError::Connect { backend: "sqlite", source };
        let one_forever = || {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        };
        if memory {
            // Every connection to `:memory:` would be its own database: keep exactly one.
            let pool = one_forever()
                .connect_with(sqlite_connect_options(options))
                .await
                .map_err(connect_error)?;
            return Ok(Self { read: pool.clone(), write: pool });
        }
        let options = options.journal_mode(SqliteJournalMode::Wal);
        let write = one_forever()
            .connect_with(sqlite_writer_options(options.clone()))
            .await
            .map_err(connect_error)?;
        let read = SqlitePoolOptions::new()
            .max_connections(SQLITE_MAX_READERS)
            .connect_with(sqlite_connect_options(options))
            .await
            .map_err(connect_error)?;
        Ok(Self { read, write })
    }

    /// The reading connections: queries, up to `SQLITE_MAX_READERS` at once.
    pub fn read(&self) -> &SqlitePool {
        &self.read
    }

    /// The writing connection: every write transaction, one at a time.
    pub fn write(&self) -> &SqlitePool {
        &self.write
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

/// The settings of every SQLite connection, on top of where the database is: foreign keys, the
/// busy timeout, and, for speed without giving up durability after a crash of the process:
/// - `synchronous = NORMAL`: in WAL mode a commit appends to the WAL without `fsync` (the WAL is
///   synced at checkpoints). A committed transaction survives the process being killed
///   (`SIGKILL`, a panic, an OOM kill): it is in the WAL in the operating system's cache. Only
///   a power loss or kernel crash can lose the last transactions, never corrupt the database.
/// - `temp_store = MEMORY`: statement journals (a multi-row `INSERT` keeps one, to undo just
///   that statement) stay in memory instead of a temporary file.
/// - `wal_autocheckpoint = 10000` pages (about 40 MB): fewer, larger checkpoints, each with its
///   `fsync`.
///
/// The writing connection also gets a bigger page cache ([`sqlite_writer_options`]).
pub fn sqlite_connect_options(options: SqliteConnectOptions) -> SqliteConnectOptions {
    options
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .synchronous(SqliteSynchronous::Normal)
        .pragma("temp_store", "MEMORY")
        .pragma("wal_autocheckpoint", "10000")
}

/// The settings of the writing connection: those of every connection
/// ([`sqlite_connect_options`]) and a page cache of 16 MiB. `herald bench gateway` opens its
/// baseline database with these.
pub fn sqlite_writer_options(options: SqliteConnectOptions) -> SqliteConnectOptions {
    sqlite_connect_options(options).pragma("cache_size", SQLITE_WRITER_CACHE_SIZE)
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
