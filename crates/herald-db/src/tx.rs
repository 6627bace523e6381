//! Named transactions, retried on transient conflicts.

use std::time::{Duration, Instant};

use crate::{DbError, is_transient};

/// Attempts per transaction before a transient conflict is reported.
const MAX_ATTEMPTS: u32 = 10;

/// Why one attempt failed.
#[derive(Debug)]
pub enum AttemptError {
    /// A driver error; retried when [`is_transient`].
    Sql(sqlx::Error),
    /// A decided failure, reported as is.
    Db(DbError),
}

impl From<sqlx::Error> for AttemptError {
    fn from(error: sqlx::Error) -> Self {
        Self::Sql(error)
    }
}

impl From<DbError> for AttemptError {
    fn from(error: DbError) -> Self {
        Self::Db(error)
    }
}

/// The result of one attempt.
pub type Attempt<T> = Result<T, AttemptError>;

/// Runs the named transaction (or query) `attempt`, again while it fails transiently, and
/// records how long it took.
///
/// Each call of `attempt` starts from scratch: it begins its own transaction, and a transaction
/// dropped on an error is rolled back, so a retried attempt never sees its predecessor's writes.
pub async fn run_tx<T, F, Fut>(name: &'static str, mut attempt: F) -> Result<T, DbError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Attempt<T>>,
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
            Err(AttemptError::Db(error)) => return Err(error),
            Err(AttemptError::Sql(error)) => error,
        };
        if !is_transient(&error) || attempts >= MAX_ATTEMPTS {
            tracing::warn!(transaction = name, attempts, error = %error, "transaction failed");
            return Err(DbError::Database { operation: name, source: error });
        }
        tracing::debug!(transaction = name, attempts, error = %error, "transient conflict, retrying");
        tokio::time::sleep(Duration::from_millis(u64::from(attempts) * 5)).await;
    }
}
