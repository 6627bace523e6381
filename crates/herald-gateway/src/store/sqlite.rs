//! SQLite: opening (WAL, foreign keys and a busy timeout set on every connection), the embedded
//! migrations, and what is SQLite-specific in the shared queries.

use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use herald_db::DbError;

use super::StoreError;

/// The backend type the shared queries are compiled for.
pub(super) type Db = sqlx::Sqlite;

/// Write transactions take the write lock up front: a deferred transaction that reads first and
/// then writes can fail with `SQLITE_BUSY` without waiting, while `BEGIN IMMEDIATE` waits under
/// the busy timeout. SQLite has a single writer, so this also serializes batching.
pub(super) const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

/// How long a connection waits for the write lock before `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Reading connections of a file database (several readers under WAL, next to the writer).
const MAX_CONNECTIONS: u32 = 8;

/// The writer's page cache: 16 MiB (negative: KiB), so that a 5000-key upload never spills
/// pages to the WAL before its commit, and the indexes it updates stay in memory.
const WRITER_CACHE_SIZE: &str = "-16384";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

// The same queries for both backends, compiled against this module's `Db` (see `ops/`).
#[allow(clippy::duplicate_mod)]
#[path = "ops/mod.rs"]
pub(super) mod ops;
#[allow(clippy::duplicate_mod)]
#[path = "statistics.rs"]
pub(super) mod statistics;

/// The connections of a SQLite store: readers, and the one connection that writes.
///
/// SQLite has a single writer whatever the number of connections. Writing through one
/// dedicated connection makes writers queue in the pool, woken as soon as it is free, instead of
/// polling the file lock under the busy timeout (which sleeps up to 100 ms between tries); and
/// its page cache stays valid from one transaction to the next, because no other connection
/// changes the database, where a connection that sees another's commit drops its whole cache.
#[derive(Clone)]
pub(super) struct Pools {
    /// Queries, up to [`MAX_CONNECTIONS`] at once.
    pub(super) read: SqlitePool,
    /// Write transactions: one connection, kept open.
    pub(super) write: SqlitePool,
}

/// Opens (creating if missing) and migrates a SQLite database: `:memory:`, a `sqlite:` URL or a
/// plain path.
pub(super) async fn open(url: &str) -> Result<Pools, StoreError> {
    let (options, memory) = herald_db::sqlite_location(url)?;
    let options = connect_options(options);
    let connect_error = |source| DbError::Connect { backend: "sqlite", source };
    let one_forever = || {
        SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    };
    let pools = if memory {
        // Every connection to `:memory:` would be its own database: keep exactly one, forever.
        let pool = one_forever().connect_with(options).await.map_err(connect_error)?;
        Pools { read: pool.clone(), write: pool }
    } else {
        let options = options.journal_mode(SqliteJournalMode::Wal);
        let write = one_forever()
            .connect_with(writer_options(options.clone()))
            .await
            .map_err(connect_error)?;
        let read = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(connect_error)?;
        Pools { read, write }
    };
    MIGRATOR.run(&pools.write).await.map_err(|e| DbError::from_migrate(&MIGRATOR, e))?;
    Ok(pools)
}

/// The settings of every connection, on top of where the database is: foreign keys, the busy
/// timeout, and, for speed without giving up durability after a crash of the process:
/// - `synchronous = NORMAL`: in WAL mode a commit appends to the WAL without `fsync` (the WAL is
///   synced at checkpoints). A committed transaction survives the process being killed
///   (`SIGKILL`, a panic, an OOM kill): it is in the WAL in the operating system's cache. Only
///   a power loss or kernel crash can lose the last transactions, never corrupt the database.
/// - `temp_store = MEMORY`: statement journals (a multi-row `INSERT` keeps one, to undo just
///   that statement) stay in memory instead of a temporary file.
/// - `wal_autocheckpoint = 10000` pages (about 40 MB): fewer, larger checkpoints, each with its
///   `fsync`.
///
/// The writing connection also gets a bigger page cache ([`writer_options`]).
pub(super) fn connect_options(options: SqliteConnectOptions) -> SqliteConnectOptions {
    options
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT)
        .synchronous(SqliteSynchronous::Normal)
        .pragma("temp_store", "MEMORY")
        .pragma("wal_autocheckpoint", "10000")
}

/// The settings of the writing connection: those of every connection ([`connect_options`]) and
/// a page cache of [`WRITER_CACHE_SIZE`]. `herald bench gateway` opens its baseline database with
/// these.
pub fn writer_options(options: SqliteConnectOptions) -> SqliteConnectOptions {
    connect_options(options).pragma("cache_size", WRITER_CACHE_SIZE)
}
