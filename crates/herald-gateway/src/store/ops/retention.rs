//! Retention (keys purged in chunks) and job leases.

use herald_model::UnixTime;
use sqlx::Pool;

use super::super::Db;
use super::{PURGE_CHUNK, run_tx, write_tx};
use crate::store::StoreError;

// --- retention and leases -----------------------------------------------------------------------

pub(crate) async fn purge_keys_created_before(
    pool: &Pool<Db>,
    cutoff: UnixTime,
) -> Result<u64, StoreError> {
    let mut total = 0u64;
    loop {
        let deleted = write_tx("purge_keys", pool, |mut tx| {
            Box::pin(async move {
                let done = sqlx::query(
                    "DELETE FROM diagnosis_key WHERE id IN \
                 (SELECT id FROM diagnosis_key WHERE created_at < $1 LIMIT $2)",
                )
                .bind(cutoff.seconds())
                .bind(PURGE_CHUNK)
                .execute(&mut *tx)
                .await?;
                Ok(done.rows_affected())
            })
        })
        .await?;
        total = total.saturating_add(deleted);
        if deleted < PURGE_CHUNK.unsigned_abs() {
            break;
        }
    }
    tracing::info!(keys = total, cutoff = cutoff.seconds(), "retention purge done");
    Ok(total)
}

pub(crate) async fn try_lease(
    pool: &Pool<Db>,
    job: &str,
    holder: &str,
    now: UnixTime,
    ttl_seconds: i64,
) -> Result<bool, StoreError> {
    let until = now.seconds().saturating_add(ttl_seconds);
    run_tx("try_lease", || async {
        let taken: Option<String> = sqlx::query_scalar(
            "INSERT INTO job_lease (job, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, \
             expires_at = excluded.expires_at \
             WHERE job_lease.holder = excluded.holder OR job_lease.expires_at <= $4 \
             RETURNING job",
        )
        .bind(job)
        .bind(holder)
        .bind(until)
        .bind(now.seconds())
        .fetch_optional(pool)
        .await?;
        Ok(taken.is_some())
    })
    .await
}
