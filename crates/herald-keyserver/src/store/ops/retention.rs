//! Retention of keys and the job leases (several key servers on one database).

use herald_db::run_tx;
use sqlx::Pool;

use super::super::{BEGIN_WRITE, Db};
use crate::store::StoreError;

pub(crate) async fn purge(pool: &Pool<Db>, cutoff: i64, now: i64) -> Result<u64, StoreError> {
    run_tx("purge", || async {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        sqlx::query("DELETE FROM federation_outbox WHERE key_data IN (SELECT key_data FROM exposure WHERE created_at < $1)")
            .bind(cutoff)
            .execute(&mut *tx)
            .await?;
        let keys = sqlx::query("DELETE FROM exposure WHERE created_at < $1")
            .bind(cutoff)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM used_certificate WHERE expires_at < $1").bind(now).execute(&mut *tx).await?;
        sqlx::query("UPDATE export_batch SET status = 'deleted' WHERE status = 'del_pend' AND id NOT IN (SELECT batch_id FROM export_file)")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(keys)
    })
    .await
}

pub(crate) async fn try_lease(
    pool: &Pool<Db>,
    name: &str,
    holder: &str,
    now: i64,
    ttl: i64,
) -> Result<bool, StoreError> {
    run_tx("try_lease", || async {
        let got: Option<String> = sqlx::query_scalar(
            "INSERT INTO job_lease (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE job_lease.holder = excluded.holder OR job_lease.expires_at < $4 RETURNING holder",
        )
        .bind(name)
        .bind(holder)
        .bind(now.saturating_add(ttl))
        .bind(now)
        .fetch_optional(pool)
        .await?;
        Ok(got.is_some())
    })
    .await
}

pub(crate) async fn release_leases(pool: &Pool<Db>, holder: &str) -> Result<(), StoreError> {
    run_tx("release_leases", || async {
        sqlx::query("UPDATE job_lease SET expires_at = 0 WHERE holder = $1")
            .bind(holder)
            .execute(pool)
            .await?;
        Ok(())
    })
    .await
}
