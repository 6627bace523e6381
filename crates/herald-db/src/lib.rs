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
//! backends accept `$N` placeholders — and dispatches on [`Pools`]: its `store` module declares
//! the store with [`service_store!`] (open with the crate's embedded migrations, backend, close,
//! ping) and mounts its `ops/` twice, as `sqlite::ops` and `postgres::ops`, which
//! [`dispatch!`] calls.

mod error;
mod open;
mod tx;

#[cfg(feature = "testing")]
pub mod testing;

pub use error::DbError;
pub use open::{Pools, is_transient, sqlite_location};
pub use tx::{Attempt, AttemptError, run_tx};

/// Declares a service's store: a struct holding [`Pools`], opened with the calling crate's
/// embedded migrations (`migrations/sqlite` and `migrations/postgres`), with the methods every
/// store has: `open`, `backend`, `close` and `ping`. Cloning is cheap and shares the pool.
///
/// ```ignore
/// herald_db::service_store! {
///     /// The key server's storage.
///     pub struct Store;
/// }
/// ```
#[macro_export]
macro_rules! service_store {
    ($(#[$meta:meta])* $vis:vis struct $name:ident;) => {
        $(#[$meta])*
        #[derive(Clone, Debug)]
        $vis struct $name {
            pools: $crate::Pools,
        }

        static SQLITE_MIGRATIONS: ::sqlx::migrate::Migrator = ::sqlx::migrate!("migrations/sqlite");
        static POSTGRES_MIGRATIONS: ::sqlx::migrate::Migrator =
            ::sqlx::migrate!("migrations/postgres");

        impl $name {
            /// Opens a database (`postgres://…`, or a SQLite path, `sqlite:` URL or `:memory:`)
            /// and applies the migrations.
            pub async fn open(url: &str) -> Result<Self, $crate::DbError> {
                let pools = $crate::Pools::open(url, &SQLITE_MIGRATIONS, &POSTGRES_MIGRATIONS).await?;
                Ok(Self { pools })
            }

            /// `"sqlite"` or `"postgres"`.
            pub fn backend(&self) -> &'static str {
                self.pools.backend()
            }

            /// Closes the pool.
            pub async fn close(&self) {
                self.pools.close().await;
            }

            /// A database round trip, for `/health`.
            pub async fn ping(&self) -> Result<(), $crate::DbError> {
                self.pools.ping().await
            }
        }
    };
}

/// Runs the query function `op` of the store's `ops/` on the backend of `pools`:
/// `sqlite::ops::op(pool, args…)` or `postgres::ops::op(pool, args…)` (the modules of the calling
/// store), awaited.
#[macro_export]
macro_rules! dispatch {
    ($pools:expr, $op:ident $(, $arg:expr)*) => {
        match $pools {
            $crate::Pools::Sqlite(pool) => sqlite::ops::$op(pool, $($arg),*).await,
            $crate::Pools::Postgres(pool) => postgres::ops::$op(pool, $($arg),*).await,
        }
    };
}
