//! Named transactions, retried on transient conflicts.

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::time::{Duration, Instant};

use sqlx::Pool;

use crate::{DbError, is_transient};

/// Attempts per transaction before a transient conflict is reported.
const MAX_ATTEMPTS: u32 = 10;

/// Why one attempt failed. `E` is the store's own error type (default [`DbError`]); a store
/// whose errors wrap [`DbError`] implements `From<ItsError> for AttemptError<ItsError>` to use
/// `?` on them inside an attempt.
#[derive(Debug)]
pub enum AttemptError<E = DbError> {
    /// A driver error; retried when [`is_transient`].
    Sql(sqlx::Error),
    /// A decided failure, reported as is.
    Fail(E),
}

impl<E> From<sqlx::Error> for AttemptError<E> {
    fn from(error: sqlx::Error) -> Self {
        Self::Sql(error)
    }
}

impl From<DbError> for AttemptError<DbError> {
    fn from(error: DbError) -> Self {
        Self::Fail(error)
    }
}

/// The result of one attempt.
pub type Attempt<T, E = DbError> = Result<T, AttemptError<E>>;

/// A backend herald runs on, and how it begins a write transaction (see [`crate::Pools::begin_write`]).
pub trait SqlBackend: sqlx::Database {
    /// The statement that begins a write transaction.
    const BEGIN_WRITE: &'static str;
}

impl SqlBackend for sqlx::Sqlite {
    /// The write lock up front: a deferred transaction that reads first and then writes can fail
    /// with `SQLITE_BUSY` without waiting, while `BEGIN IMMEDIATE` waits under the busy timeout.
    /// SQLite has a single writer, so this also serializes the writers of one database.
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
}

impl SqlBackend for sqlx::Postgres {
    /// READ COMMITTED: every statement sees what committed before it.
    const BEGIN_WRITE: &'static str = "BEGIN ISOLATION LEVEL READ COMMITTED";
}

/// Runs the named transaction (or query) `attempt`, again while it fails transiently, and
/// records how long it took. A driver error that is not transient (or still transient after
/// the last attempt) becomes [`DbError::Database`], converted into the store's error type.
///
/// Each call of `attempt` starts from scratch: it begins its own transaction, and a transaction
/// dropped on an error is rolled back, so a retried attempt never sees its predecessor's writes.
pub async fn run_tx<T, E, F, Fut>(name: &'static str, mut attempt: F) -> Result<T, E>
where
    E: From<DbError>,
    F: FnMut() -> Fut,
    Fut: Future<Output = Attempt<T, E>>,
{
    let started = Instant::now();
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let error = match attempt().await {
            Ok(value) => {
                tracing::debug!(
                    transaction = name,
                    attempts,
                    elapsed_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
                    "transaction done"
                );
                return Ok(value);
            }
            Err(AttemptError::Fail(error)) => return Err(error),
            Err(AttemptError::Sql(error)) => error,
        };
        if !is_transient(&error) || attempts >= MAX_ATTEMPTS {
            tracing::warn!(transaction = name, attempts, error = %error, "transaction failed");
            return Err(E::from(DbError::Database { operation: name, source: error }));
        }
        tracing::debug!(transaction = name, attempts, error = %error, "transient conflict, retrying");
        tokio::time::sleep(Duration::from_millis(u64::from(attempts) * 5)).await;
    }
}

/// What the body of a [`write_tx`] returns: its attempt's future, boxed so that it is `Send`
/// whatever the lifetime of the connection it borrows (`|mut tx| Box::pin(async move { … })`).
pub type TxFuture<'c, T, E = DbError> = Pin<Box<dyn Future<Output = Attempt<T, E>> + Send + 'c>>;

/// The connection of a [`write_tx`] in its body (`&mut *tx` is the connection), borrowed for
/// `'c`, no longer than the data `'a` the body borrows from its caller.
pub struct Tx<'c, 'a, DB: sqlx::Database> {
    connection: &'c mut DB::Connection,
    /// `'a: 'c`, which lets the body's future hold both borrows.
    scope: PhantomData<&'c &'a ()>,
}

impl<DB: sqlx::Database> Deref for Tx<'_, '_, DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &Self::Target {
        self.connection
    }
}

impl<DB: sqlx::Database> DerefMut for Tx<'_, '_, DB> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.connection
    }
}

/// [`run_tx`] of one write transaction on `pool`: each attempt begins a transaction with the
/// backend's [`SqlBackend::BEGIN_WRITE`], runs `body` on its connection, and commits when `body`
/// returns `Ok`; on an error the transaction is dropped, so rolled back, and a transient error
/// retries the whole attempt. For a transaction whose every successful outcome commits; one that
/// decides to undo what it wrote and still succeed (the gateway's EFGS 207 upload) begins and
/// rolls back its own.
pub async fn write_tx<'a, DB, T, E, F>(name: &'static str, pool: &Pool<DB>, body: F) -> Result<T, E>
where
    DB: SqlBackend,
    E: From<DbError>,
    F: for<'c> Fn(Tx<'c, 'a, DB>) -> TxFuture<'c, T, E>,
{
    run_tx(name, || async {
        let mut tx = pool.begin_with(DB::BEGIN_WRITE).await?;
        let value = body(Tx { connection: &mut *tx, scope: PhantomData }).await?;
        tx.commit().await?;
        Ok(value)
    })
    .await
}
