//! Named transactions, retried on transient conflicts.

use std::time::{Duration, Instant};

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
