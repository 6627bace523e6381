//! Download batches (§1.3): forming them from whole uploads in order, linked across days, and
//! reading their keys and audit rows.

use herald_model::{BatchTag, CountryCode, UnixTime};
use herald_wire::efgs::EfgsKey;
use sqlx::{Pool, QueryBuilder};

use super::super::{BEGIN_WRITE, Db};
use super::{Attempt, insert_callback_tasks, invariant, run_tx};
use crate::store::at_rest::AtRest;
use crate::store::rows::{self, AuditColumns, BatchColumns, KeyRow};
use crate::store::{AuditRow, DownloadBatch, StoreError, plan};

// --- download batches ---------------------------------------------------------------------------

pub(crate) async fn form_download_batches(
    pool: &Pool<Db>,
    now: UnixTime,
    max_keys: usize,
) -> Result<Vec<BatchTag>, StoreError> {
    let max_keys = u64::try_from(max_keys).unwrap_or(u64::MAX);
    let mut tags = Vec::new();
    // One short transaction per batch: uploads wait for at most one batch's worth of updates.
    while let Some(tag) =
        run_tx("form_download_batch", || attempt_download_batch(pool, now, max_keys)).await?
    {
        tags.push(tag);
    }
    if !tags.is_empty() {
        tracing::info!(batches = tags.len(), "download batches formed");
    }
    Ok(tags)
}

/// Forms the next download batch from the oldest pending uploads, if there are any.
pub(super) async fn attempt_download_batch(
    pool: &Pool<Db>,
    now: UnixTime,
    max_keys: u64,
) -> Attempt<Option<BatchTag>> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    // The lock row: a second batcher (task or process) waits here until this batch commits,
    // then sees it.
    sqlx::query("UPDATE batching_lock SET locked_at = $1 WHERE id = 1")
        .bind(now.seconds())
        .execute(&mut *tx)
        .await?;

    // Every pending upload has at least one key, so at most `max_keys` of them fit.
    let limit = i64::try_from(max_keys.max(1)).unwrap_or(i64::MAX);
    let pending: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT id, key_count FROM upload \
         WHERE download_batch_id IS NULL AND key_count > 0 ORDER BY id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    let counts = pending
        .iter()
        .map(|&(_, count)| rows::key_count("upload", count))
        .collect::<Result<Vec<_>, _>>()?;
    let taken = plan::pack(&counts, max_keys);
    let Some(chosen) = pending.get(..taken).filter(|chosen| !chosen.is_empty()) else {
        tx.rollback().await?;
        return Ok(None);
    };
    let key_count = chosen.iter().map(|&(_, count)| count).sum::<i64>();

    let previous: Option<(i64, i64)> =
        sqlx::query_as("SELECT id, created_at FROM download_batch ORDER BY id DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
    let created_at = previous.map_or(now.seconds(), |(_, last)| last.max(now.seconds()));
    let day = UnixTime(created_at).utc_day();
    let day_seq: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(day_seq), 0) + 1 FROM download_batch WHERE day = $1",
    )
    .bind(day)
    .fetch_one(&mut *tx)
    .await?;
    let tag = plan::download_tag(day, day_seq)?;
    let batch_id: i64 = sqlx::query_scalar(
        "INSERT INTO download_batch (tag, day, day_seq, created_at, key_count) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(tag.as_str())
    .bind(day)
    .bind(day_seq)
    .bind(created_at)
    .bind(key_count)
    .fetch_one(&mut *tx)
    .await?;
    if let Some((previous_id, _)) = previous {
        sqlx::query("UPDATE download_batch SET next_tag = $1 WHERE id = $2")
            .bind(tag.as_str())
            .bind(previous_id)
            .execute(&mut *tx)
            .await?;
    }
    // Callbacks for the batch commit with it (one statement, whatever the subscriber count), so
    // no batch is ever left unannounced.
    insert_callback_tasks(&mut tx, &tag, now).await?;

    let mut assign = QueryBuilder::<Db>::new("UPDATE upload SET download_batch_id = ");
    assign.push_bind(batch_id);
    assign.push(" WHERE download_batch_id IS NULL AND id IN (");
    let mut ids = assign.separated(", ");
    for &(id, _) in chosen {
        ids.push_bind(id);
    }
    assign.push(")");
    let assigned = assign.build().execute(&mut *tx).await?.rows_affected();
    if usize::try_from(assigned).ok() != Some(chosen.len()) {
        return Err(invariant("form_download_batch", "an upload was assigned concurrently"));
    }
    tx.commit().await?;
    tracing::debug!(download_batch = tag.as_str(), uploads = chosen.len(), key_count, "formed");
    Ok(Some(tag))
}

pub(crate) async fn download_batch(
    pool: &Pool<Db>,
    tag: &BatchTag,
) -> Result<Option<DownloadBatch>, StoreError> {
    let row: Option<BatchColumns> = run_tx("download_batch", || async {
        Ok(sqlx::query_as(
            "SELECT tag, created_at, next_tag, key_count FROM download_batch WHERE tag = $1",
        )
        .bind(tag.as_str())
        .fetch_optional(pool)
        .await?)
    })
    .await?;
    row.map(rows::batch_from_row).transpose()
}

pub(crate) async fn first_download_batch_since(
    pool: &Pool<Db>,
    since: UnixTime,
) -> Result<Option<DownloadBatch>, StoreError> {
    let row: Option<BatchColumns> = run_tx("first_download_batch_since", || async {
        Ok(sqlx::query_as(
            "SELECT tag, created_at, next_tag, key_count FROM download_batch \
             WHERE created_at >= $1 ORDER BY created_at, id LIMIT 1",
        )
        .bind(since.seconds())
        .fetch_optional(pool)
        .await?)
    })
    .await?;
    row.map(rows::batch_from_row).transpose()
}

pub(crate) async fn download_keys(
    pool: &Pool<Db>,
    at_rest: &AtRest,
    tag: &BatchTag,
    exclude: Option<CountryCode>,
) -> Result<Vec<EfgsKey>, StoreError> {
    // No stored country is empty, so "" excludes nothing.
    let exclude = exclude.as_ref().map_or("", CountryCode::as_str);
    // The uploads' tags once (payloads are bound to them), then five columns per key.
    let (uploads, rows): (Vec<(i64, String)>, Vec<KeyRow>) = run_tx("download_keys", || async {
        let uploads = sqlx::query_as(
            "SELECT u.id, u.tag FROM download_batch b \
                 JOIN upload u ON u.download_batch_id = b.id \
                 WHERE b.tag = $1 AND u.country <> $2 ORDER BY u.id",
        )
        .bind(tag.as_str())
        .bind(exclude)
        .fetch_all(pool)
        .await?;
        let rows = sqlx::query_as(
            "SELECT k.upload_id, k.ordinal, k.payload_hash, k.key_id, k.payload \
                 FROM download_batch b \
                 JOIN upload u ON u.download_batch_id = b.id \
                 JOIN diagnosis_key k ON k.upload_id = u.id \
                 WHERE b.tag = $1 AND u.country <> $2 \
                 ORDER BY u.id, k.ordinal",
        )
        .bind(tag.as_str())
        .bind(exclude)
        .fetch_all(pool)
        .await?;
        Ok((uploads, rows))
    })
    .await?;
    // Both lists are ordered by upload id: walk them together.
    let mut uploads = uploads.iter().peekable();
    rows.into_iter()
        .map(|row| {
            while uploads.next_if(|(id, _)| *id < row.upload_id).is_some() {}
            let Some((_, upload_tag)) = uploads.peek().filter(|(id, _)| *id == row.upload_id)
            else {
                return Err(StoreError::corrupt("diagnosis_key", "upload_id", &"no such upload"));
            };
            rows::key_from_row(at_rest, upload_tag, row)
        })
        .collect()
}

pub(crate) async fn audit(pool: &Pool<Db>, tag: &BatchTag) -> Result<Vec<AuditRow>, StoreError> {
    let rows: Vec<AuditColumns> = run_tx("audit", || async {
        Ok(sqlx::query_as(
            "SELECT u.country, MIN(k.created_at), u.auth_thumbprint, u.signing_thumbprint, \
             u.batch_signature, COUNT(k.id) \
             FROM download_batch b \
             JOIN upload u ON u.download_batch_id = b.id \
             JOIN diagnosis_key k ON k.upload_id = u.id \
             WHERE b.tag = $1 \
             GROUP BY u.id, u.country, u.auth_thumbprint, u.signing_thumbprint, \
             u.batch_signature \
             ORDER BY u.id",
        )
        .bind(tag.as_str())
        .fetch_all(pool)
        .await?)
    })
    .await?;
    rows.into_iter().map(rows::audit_from_row).collect()
}
