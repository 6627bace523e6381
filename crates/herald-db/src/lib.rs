//! Storage plumbing shared by herald's services (STYLE rules 11, 12).
//!
//! Every service keeps its rows in SQLite (the embedded default) or PostgreSQL through sqlx, with
//! forward-only migrations per backend. What is the same for all of them lives here:
//! - [`Pools`]: opening a database from a URL (`postgres://…` is PostgreSQL, anything else a
//!   SQLite file, `sqlite:` URL or `:memory:`), the embedded migrations applied, and a database
//!   written by a newer herald refused. SQLite ([`SqlitePools`]) runs in WAL mode with a busy
//!   timeout ([`sqlite_connect_options`]), with reading connections and one writing connection
//!   that every write goes through ([`sqlite_writer_options`]).
//! - [`run_tx`]: a named transaction retried on transient conflicts (SQLite busy, PostgreSQL
//!   serialization failures and deadlocks), with its duration recorded; [`write_tx`]: the same
//!   for a write transaction that commits whenever its body succeeds (begun with the backend's
//!   [`SqlBackend::BEGIN_WRITE`]), so a store writes no begin and commit of its own.
//! - [`DbError`]: the one error type, which never carries a row's secret fields.
//! - `testing` (feature `testing`): fresh databases for tests on both backends, with the
//!   `CI=true` rule (PostgreSQL tests never skip in CI).
//!
//! A service writes its queries once against a generic `sqlx::Database` (`Backend`) — both
//! backends accept `$N` placeholders — and dispatches on [`Pools`]: its `store` module declares
//! the store with [`service_store!`] (open with the crate's embedded migrations, backend, close,
//! ping; fields of its own next to the pools) and mounts its `ops/` twice, as `sqlite::ops` and
//! `postgres::ops`, which [`dispatch!`] calls: on the reading connections, or with
//! `dispatch!(write, …)` on the writing one.
//!
//! # Layout
//! - `open`: [`Pools`], [`SqlitePools`], the SQLite connection settings, [`is_transient`].
//! - `tx`: [`run_tx`], [`write_tx`], [`SqlBackend`] and what an attempt returns.
//! - `error`: [`DbError`].
//! - `testing`: test databases (feature `testing`).
//! - this module: the macros.

mod error;
mod open;
mod tx;

#[cfg(feature = "testing")]
pub mod testing;

pub use error::DbError;
pub use open::{
    Pools, SqlitePools, is_transient, sqlite_connect_options, sqlite_location,
    sqlite_writer_options,
};
pub use tx::{Attempt, AttemptError, SqlBackend, Tx, TxFuture, run_tx, write_tx};

/// Declares a service's store: a struct holding [`Pools`], opened with the calling crate's
/// embedded migrations (`migrations/sqlite` and `migrations/postgres`), with the methods every
/// store has: `open`, `backend`, `close` and `ping`. Cloning is cheap and shares the pool.
///
/// A store may have fields of its own after the pools (each `Default` when opened, set by the
/// store's own methods), and `open` may return the store's own error type (`error E;`, which
/// must implement `From<DbError>`; [`DbError`] when left out):
///
/// ```ignore
/// herald_db::service_store! {
///     /// The key server's storage.
///     pub struct Store;
/// }
///
/// herald_db::service_store! {
///     /// The gateway's storage.
///     pub struct Store {
///         /// `None` until the keys are set.
///         at_rest: Option<Arc<AtRest>>,
///     }
///     error StoreError;
/// }
/// ```
#[macro_export]
macro_rules! service_store {
    ($(#[$meta:meta])* $vis:vis struct $name:ident;) => {
        $crate::service_store! { $(#[$meta])* $vis struct $name {} error $crate::DbError; }
    };
    (
        $(#[$meta:meta])* $vis:vis struct $name:ident {
            $($(#[$field_meta:meta])* $field:ident : $field_type:ty),* $(,)?
        }
        error $error:ty;
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug)]
        $vis struct $name {
            pools: $crate::Pools,
            $($(#[$field_meta])* $field: $field_type,)*
        }

        static SQLITE_MIGRATIONS: ::sqlx::migrate::Migrator = ::sqlx::migrate!("migrations/sqlite");
        static POSTGRES_MIGRATIONS: ::sqlx::migrate::Migrator =
            ::sqlx::migrate!("migrations/postgres");

        impl $name {
            /// Opens a database (`postgres://…`, or a SQLite path, `sqlite:` URL or `:memory:`)
            /// and applies the migrations. A database that has a migration this binary does not
            /// know is refused (`herald_db::DbError::UnknownSchemaVersion`).
            pub async fn open(url: &str) -> Result<Self, $error> {
                let pools = $crate::Pools::open(url, &SQLITE_MIGRATIONS, &POSTGRES_MIGRATIONS).await?;
                Ok(Self { pools, $($field: ::core::default::Default::default(),)* })
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
    (
        $(#[$meta:meta])* $vis:vis struct $name:ident {
            $($(#[$field_meta:meta])* $field:ident : $field_type:ty),* $(,)?
        }
    ) => {
        $crate::service_store! {
            $(#[$meta])* $vis struct $name { $($(#[$field_meta])* $field: $field_type),* }
            error $crate::DbError;
        }
    };
}

/// Runs the query function `op` of the store's `ops/` on the backend of `pools`:
/// `sqlite::ops::op(pool, args…)` or `postgres::ops::op(pool, args…)` (the modules of the calling
/// store), awaited. `dispatch!(pools, op, args…)` is for queries: on SQLite it gets the reading
/// connections. `dispatch!(write, pools, op, args…)` is for writes: on SQLite it gets the one
/// writing connection ([`SqlitePools::write`]). PostgreSQL has one pool for both.
#[macro_export]
macro_rules! dispatch {
    (write, $pools:expr, $op:ident $(, $arg:expr)* $(,)?) => {
        match $pools {
            $crate::Pools::Sqlite(pools) => sqlite::ops::$op(pools.write(), $($arg),*).await,
            $crate::Pools::Postgres(pool) => postgres::ops::$op(pool, $($arg),*).await,
        }
    };
    ($pools:expr, $op:ident $(, $arg:expr)* $(,)?) => {
        match $pools {
            $crate::Pools::Sqlite(pools) => sqlite::ops::$op(pools.read(), $($arg),*).await,
            $crate::Pools::Postgres(pool) => postgres::ops::$op(pool, $($arg),*).await,
        }
    };
}
