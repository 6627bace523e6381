//! Callback subscriptions and their tasks (§1.5, §1.6): one task per subscription and new batch,
//! chained per subscription, retried and suspended.

use herald_model::{BatchTag, CountryCode, UnixTime};
use sqlx::Pool;

use super::super::Db;
use super::{run_tx, write_tx};
use crate::store::rows::{self, SubscriptionColumns, TaskColumns};
use crate::store::{
    CallbackFailure, CallbackSubscription, CallbackTask, MAX_CALLBACK_RETRIES, StoreError,
};

// --- callbacks ----------------------------------------------------------------------------------

/// Inserts one task per active subscription for the download batch `tag`, each chained after
/// its subscription's latest task.
pub(super) async fn insert_callback_tasks(
    conn: &mut <Db as sqlx::Database>::Connection,
    tag: &BatchTag,
    now: UnixTime,
) -> Result<u64, sqlx::Error> {
    // SQLite needs the WHERE clause to parse an upsert after a SELECT.
    let done = sqlx::query(
        "INSERT INTO callback_task (subscription_id, batch_tag, batch_created_at, created_at, \
         retries, not_before_id) \
         SELECT s.id, b.tag, b.created_at, $2, 0, \
         (SELECT MAX(t.id) FROM callback_task t WHERE t.subscription_id = s.id) \
         FROM callback_subscription s JOIN download_batch b ON b.tag = $1 \
         WHERE s.suspended_at IS NULL \
         ORDER BY s.id \
         ON CONFLICT (subscription_id, batch_tag) DO NOTHING",
    )
    .bind(tag.as_str())
    .bind(now.seconds())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

pub(crate) async fn put_callback(
    pool: &Pool<Db>,
    country: CountryCode,
    callback_id: &str,
    url: &str,
    now: UnixTime,
) -> Result<(), StoreError> {
    write_tx("put_callback", pool, |mut tx| {
        Box::pin(async move {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO callback_subscription (country, callback_id, url, created_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (country, callback_id) DO UPDATE SET url = excluded.url, \
             suspended_at = NULL RETURNING id",
            )
            .bind(country.as_str())
            .bind(callback_id)
            .bind(url)
            .bind(now.seconds())
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE callback_task SET retries = 0, last_try = NULL WHERE subscription_id = $1",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            Ok(())
        })
    })
    .await
}

pub(crate) async fn callbacks(
    pool: &Pool<Db>,
    country: CountryCode,
) -> Result<Vec<CallbackSubscription>, StoreError> {
    let rows: Vec<SubscriptionColumns> = run_tx("callbacks", || async {
        Ok(sqlx::query_as(
            "SELECT country, callback_id, url, created_at, suspended_at \
             FROM callback_subscription WHERE country = $1 ORDER BY callback_id",
        )
        .bind(country.as_str())
        .fetch_all(pool)
        .await?)
    })
    .await?;
    rows.into_iter().map(rows::subscription_from_row).collect()
}

pub(crate) async fn delete_callback(
    pool: &Pool<Db>,
    country: CountryCode,
    callback_id: &str,
) -> Result<bool, StoreError> {
    // Nothing is written before the lookup: an unknown id commits an empty transaction.
    write_tx("delete_callback", pool, |mut tx| {
        Box::pin(async move {
            let id: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM callback_subscription WHERE country = $1 AND callback_id = $2",
            )
            .bind(country.as_str())
            .bind(callback_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(id) = id else {
                return Ok(false);
            };
            sqlx::query("DELETE FROM callback_task WHERE subscription_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM callback_subscription WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            Ok(true)
        })
    })
    .await
}

pub(crate) async fn create_callback_tasks(
    pool: &Pool<Db>,
    tag: &BatchTag,
    now: UnixTime,
) -> Result<u64, StoreError> {
    write_tx("create_callback_tasks", pool, |mut tx| {
        Box::pin(async move { Ok(insert_callback_tasks(&mut tx, tag, now).await?) })
    })
    .await
}

pub(crate) async fn due_callback_tasks(
    pool: &Pool<Db>,
    now: UnixTime,
    retry_wait_seconds: i64,
    limit: u32,
) -> Result<Vec<CallbackTask>, StoreError> {
    let tried_before = now.seconds().saturating_sub(retry_wait_seconds);
    let rows: Vec<TaskColumns> = run_tx("due_callback_tasks", || async {
        Ok(sqlx::query_as(
            "SELECT t.id, t.batch_tag, t.batch_created_at, t.retries, s.country, \
             s.callback_id, s.url \
             FROM callback_task t JOIN callback_subscription s ON s.id = t.subscription_id \
             WHERE s.suspended_at IS NULL AND t.not_before_id IS NULL \
             AND t.id = (SELECT MIN(o.id) FROM callback_task o \
                         WHERE o.subscription_id = t.subscription_id) \
             AND (t.last_try IS NULL OR t.last_try <= $1) \
             ORDER BY t.id LIMIT $2",
        )
        .bind(tried_before)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?)
    })
    .await?;
    rows.into_iter().map(rows::task_from_row).collect()
}

pub(crate) async fn callback_succeeded(pool: &Pool<Db>, task_id: i64) -> Result<(), StoreError> {
    run_tx("callback_succeeded", || async {
        // The successor's not_before_id is cleared by the foreign key (ON DELETE SET NULL).
        sqlx::query("DELETE FROM callback_task WHERE id = $1").bind(task_id).execute(pool).await?;
        Ok(())
    })
    .await
}

pub(crate) async fn callback_failed(
    pool: &Pool<Db>,
    task_id: i64,
    now: UnixTime,
) -> Result<CallbackFailure, StoreError> {
    // An unknown task updates nothing: that commits an empty transaction.
    write_tx("callback_failed", pool, |mut tx| {
        Box::pin(async move {
            let row: Option<(i64, i64)> = sqlx::query_as(
                "UPDATE callback_task SET retries = retries + 1, last_try = $2 WHERE id = $1 \
             RETURNING retries, subscription_id",
            )
            .bind(task_id)
            .bind(now.seconds())
            .fetch_optional(&mut *tx)
            .await?;
            let Some((retries, subscription_id)) = row else {
                return Ok(CallbackFailure::Gone);
            };
            let retries = u32::try_from(retries)
                .map_err(|_| StoreError::corrupt("callback_task", "retries", &"out of range"))?;
            if retries <= MAX_CALLBACK_RETRIES {
                return Ok(CallbackFailure::WillRetry { retries });
            }
            sqlx::query("UPDATE callback_subscription SET suspended_at = $1 WHERE id = $2")
                .bind(now.seconds())
                .bind(subscription_id)
                .execute(&mut *tx)
                .await?;
            Ok(CallbackFailure::Suspended)
        })
    })
    .await
}

pub(crate) async fn pending_callback_tasks(
    pool: &Pool<Db>,
) -> Result<Vec<(CountryCode, String, BatchTag)>, StoreError> {
    let rows: Vec<(String, String, String)> = run_tx("pending_callback_tasks", || async {
        Ok(sqlx::query_as(
            "SELECT s.country, s.callback_id, t.batch_tag \
             FROM callback_task t JOIN callback_subscription s ON s.id = t.subscription_id \
             ORDER BY t.id",
        )
        .fetch_all(pool)
        .await?)
    })
    .await?;
    rows.into_iter()
        .map(|(country, callback_id, tag)| {
            let country = country
                .parse()
                .map_err(|e| StoreError::corrupt("callback_subscription", "country", &e))?;
            let tag =
                tag.parse().map_err(|e| StoreError::corrupt("callback_task", "batch_tag", &e))?;
            Ok((country, callback_id, tag))
        })
        .collect()
}
