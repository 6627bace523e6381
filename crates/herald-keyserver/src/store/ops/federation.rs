//! The federation outbox (batches reserved before their first attempt, split after a 207, retried)
//! and the download walk's cursor and imports.

use herald_db::{DbError, run_tx};
use herald_model::{BatchTag, TemporaryExposureKey};
use sqlx::{Pool, QueryBuilder};

use super::super::{BEGIN_WRITE, Db};
use super::{KEY_COLUMNS, KeyColumns, decode_all, insert_keys_tx};
use crate::store::{OutboxBatch, StoreError, StoredKey};

/// `… WHERE` conditions of a due outbox row: not reserved, past its embargo and, with
/// `release_with` (export configurations), in a window of one of them that was exported (so
/// padded): own keys leave with their padding (key-server.md §6.4).
fn push_due(q: &mut QueryBuilder<Db>, now: i64, release_with: &[String]) {
    q.push("batch_tag IS NULL AND not_before <= ").push_bind(now);
    if release_with.is_empty() {
        return;
    }
    q.push(
        " AND EXISTS (SELECT 1 FROM exposure e JOIN export_batch b ON e.created_at >= b.start_time \
         AND e.created_at < b.end_time WHERE e.key_data = federation_outbox.key_data \
         AND b.status <> 'open' AND b.config IN (",
    );
    let mut list = q.separated(", ");
    for name in release_with {
        list.push_bind(name.clone());
    }
    q.push("))");
}

pub(crate) async fn next_outbox_batch(
    pool: &Pool<Db>,
    tag: &BatchTag,
    now: i64,
    min_keys: i64,
    max_keys: i64,
    release_with: &[String],
) -> Result<Option<OutboxBatch>, StoreError> {
    let found: Option<(String, i64)> = run_tx("next_outbox_batch", || async {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        let pending: Option<(String, i64)> = sqlx::query_as(
            "SELECT tag, attempts FROM federation_upload WHERE state = 'pending' AND next_try <= $1 \
             ORDER BY created_at, tag LIMIT 1",
        )
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if pending.is_some() {
            return Ok(pending);
        }
        let mut count = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM federation_outbox WHERE ");
        push_due(&mut count, now, release_with);
        let due: i64 = count.build_query_scalar().fetch_one(&mut *tx).await?;
        if due == 0 || due < min_keys {
            return Ok(None);
        }
        sqlx::query("INSERT INTO federation_upload (tag, created_at, state, attempts, next_try) VALUES ($1, $2, 'pending', 0, $2)")
            .bind(tag.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let mut reserve = QueryBuilder::<Db>::new("UPDATE federation_outbox SET batch_tag = ");
        reserve.push_bind(tag.as_str());
        reserve.push(" WHERE key_data IN (SELECT key_data FROM federation_outbox WHERE ");
        push_due(&mut reserve, now, release_with);
        reserve.push(" ORDER BY not_before, key_data LIMIT ").push_bind(max_keys).push(")");
        reserve.build().execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(Some((tag.as_str().to_owned(), 0)))
    })
    .await?;
    let Some((tag, attempts)) = found else {
        return Ok(None);
    };
    let tag = stored_tag("federation_upload", &tag)?;
    let rows: Vec<KeyColumns> = run_tx("outbox_batch_keys", || async {
        let mut q = QueryBuilder::<Db>::new("SELECT ");
        q.push(KEY_COLUMNS.split(", ").map(|c| format!("e.{c}")).collect::<Vec<_>>().join(", "));
        q.push(" FROM exposure e JOIN federation_outbox o ON o.key_data = e.key_data WHERE o.batch_tag = ");
        q.push_bind(tag.as_str());
        q.push(" ORDER BY e.key_data");
        Ok(q.build_query_as().fetch_all(pool).await?)
    })
    .await?;
    Ok(Some(OutboxBatch { tag, keys: decode_all(rows)?, attempts }))
}

pub(crate) async fn outbox_batch_done(pool: &Pool<Db>, tag: &BatchTag) -> Result<(), StoreError> {
    close_outbox_batch(pool, "outbox_batch_done", tag, &[]).await
}

pub(crate) async fn outbox_batch_split(
    pool: &Pool<Db>,
    tag: &BatchTag,
    resend: &[TemporaryExposureKey],
) -> Result<(), StoreError> {
    close_outbox_batch(pool, "outbox_batch_split", tag, resend).await
}

/// Closes the outbox batch `tag` in the transaction `name`: its `resend` keys go back to the
/// outbox, the others are uploaded, and the batch is done.
async fn close_outbox_batch(
    pool: &Pool<Db>,
    name: &'static str,
    tag: &BatchTag,
    resend: &[TemporaryExposureKey],
) -> Result<(), StoreError> {
    run_tx(name, || async {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        for key in resend {
            sqlx::query("UPDATE federation_outbox SET batch_tag = NULL WHERE batch_tag = $1 AND key_data = $2")
                .bind(tag.as_str())
                .bind(key.as_bytes().to_vec())
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("UPDATE federation_outbox SET uploaded = TRUE WHERE batch_tag = $1").bind(tag.as_str()).execute(&mut *tx).await?;
        sqlx::query("UPDATE federation_upload SET state = 'done' WHERE tag = $1").bind(tag.as_str()).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    })
    .await
}

pub(crate) async fn outbox_batch_failed(
    pool: &Pool<Db>,
    tag: &BatchTag,
    next_try: i64,
    give_up: bool,
) -> Result<(), StoreError> {
    run_tx("outbox_batch_failed", || async {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        if give_up {
            sqlx::query("UPDATE federation_outbox SET batch_tag = NULL WHERE batch_tag = $1").bind(tag.as_str()).execute(&mut *tx).await?;
            sqlx::query("UPDATE federation_upload SET state = 'failed', attempts = attempts + 1 WHERE tag = $1")
                .bind(tag.as_str())
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query("UPDATE federation_upload SET attempts = attempts + 1, next_try = $1 WHERE tag = $2")
                .bind(next_try)
                .bind(tag.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    })
    .await
}

pub(crate) async fn outbox_counts(pool: &Pool<Db>) -> Result<(i64, i64, i64), StoreError> {
    run_tx("outbox_counts", || async {
        Ok(sqlx::query_as(
            "SELECT \
             COALESCE(SUM(CASE WHEN batch_tag IS NULL THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN batch_tag IS NOT NULL AND NOT uploaded THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN uploaded THEN 1 ELSE 0 END), 0) FROM federation_outbox",
        )
        .fetch_one(pool)
        .await?)
    })
    .await
}

pub(crate) async fn download_cursor(
    pool: &Pool<Db>,
    day: &str,
) -> Result<Option<BatchTag>, StoreError> {
    let last: Option<String> = run_tx("download_cursor", || async {
        Ok(sqlx::query_scalar("SELECT last_tag FROM federation_cursor WHERE day = $1")
            .bind(day)
            .fetch_optional(pool)
            .await?)
    })
    .await?;
    last.map(|tag| stored_tag("federation_cursor", &tag)).transpose()
}

/// A tag read from `table` (every tag stored was a `BatchTag`).
fn stored_tag(table: &'static str, text: &str) -> Result<BatchTag, StoreError> {
    text.parse().map_err(|e| DbError::corrupt(table, "tag", &e))
}

pub(crate) async fn download_seen(pool: &Pool<Db>, tag: &BatchTag) -> Result<bool, StoreError> {
    run_tx("download_seen", || async {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM federation_download WHERE tag = $1")
            .bind(tag.as_str())
            .fetch_one(pool)
            .await?;
        Ok(n > 0)
    })
    .await
}

pub(crate) async fn import_download_batch(
    pool: &Pool<Db>,
    day: &str,
    tag: &BatchTag,
    state: &str,
    received: i64,
    keys: &[StoredKey],
    now: i64,
) -> Result<usize, StoreError> {
    run_tx("import_download_batch", || async {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        let imported = insert_keys_tx(&mut tx, keys, None).await?;
        sqlx::query(
            "INSERT INTO federation_download (tag, day, state, keys, imported, processed_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (tag) DO UPDATE SET state = excluded.state, keys = excluded.keys, \
             imported = excluded.imported, processed_at = excluded.processed_at",
        )
        .bind(tag.as_str())
        .bind(day)
        .bind(state)
        .bind(received)
        .bind(i64::try_from(imported).unwrap_or(i64::MAX))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO federation_cursor (day, last_tag) VALUES ($1, $2) \
             ON CONFLICT (day) DO UPDATE SET last_tag = excluded.last_tag",
        )
        .bind(day)
        .bind(tag.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(imported)
    })
    .await
}
