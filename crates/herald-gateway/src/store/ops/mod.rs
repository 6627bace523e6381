//! The store's queries and transactions, compiled once per backend.
//!
//! `sqlite.rs` and `postgres.rs` each mount this file (`#[path = "ops.rs"] mod ops;`) next to
//! their `Db` type and `BEGIN_WRITE` statement, so both backends
//! run the same SQL text and the same transaction logic, checked by the compiler for each.
//!
//! Every public operation runs through `herald_db::run_tx`: a named attempt that is retried on
//! transient conflicts and whose duration is recorded. Nothing here logs key fields; events carry
//! operation names, tags and counts only.

use herald_model::{CertThumbprint, CountryCode, UnixTime};
use herald_wire::efgs::EfgsKey;
use sqlx::{AssertSqlSafe, Pool, QueryBuilder};

use super::{BEGIN_WRITE, Db};
use crate::store::at_rest::{AtRest, AtRestKeyId};
use crate::store::rows::{
    self, AuditColumns, BatchColumns, KeyColumns, KeyRow, STORED_KEY_COLUMNS, StoredKeyRow,
    SubscriptionColumns, TaskColumns, TrustColumns,
};
use crate::store::{
    AuditRow, CallbackFailure, CallbackSubscription, CallbackTask, DownloadBatch,
    INSERT_CHUNK_KEYS, MAX_CALLBACK_RETRIES, NewUpload, StoreError, TrustRow, UploadMode,
    UploadOutcome, plan,
};

/// Keys deleted per retention transaction, so that a large purge never holds the write lock
/// for long.
const PURGE_CHUNK: i64 = 5000;

/// Why one attempt of a transaction failed.
pub(super) type AttemptError = herald_db::AttemptError<StoreError>;
/// One attempt of a transaction.
pub(super) type Attempt<T> = herald_db::Attempt<T, StoreError>;

/// `herald_db::run_tx` for this store's error type: the named transaction, retried on
/// transient conflicts.
pub(super) async fn run_tx<T, F, Fut>(name: &'static str, attempt: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Attempt<T>>,
{
    herald_db::run_tx(name, attempt).await
}

// --- trust list ---------------------------------------------------------------------------------

pub(crate) async fn put_trust_entry(pool: &Pool<Db>, entry: &TrustRow) -> Result<(), StoreError> {
    run_tx("put_trust_entry", || async {
        sqlx::query(
            "INSERT INTO trust_entry (thumbprint, country, kind, certificate_pem, \
             operator_signature, revoked, host, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (thumbprint) DO UPDATE SET country = excluded.country, \
             kind = excluded.kind, certificate_pem = excluded.certificate_pem, \
             operator_signature = excluded.operator_signature, revoked = excluded.revoked, \
             host = excluded.host, created_at = excluded.created_at",
        )
        .bind(entry.thumbprint.to_hex())
        .bind(entry.country.as_str())
        .bind(entry.kind.as_str())
        .bind(entry.certificate_pem.as_str())
        .bind(entry.operator_signature.as_str())
        .bind(entry.revoked)
        .bind(entry.host.as_deref())
        .bind(entry.created_at.seconds())
        .execute(pool)
        .await?;
        Ok(())
    })
    .await
}

pub(crate) async fn trust_entries(pool: &Pool<Db>) -> Result<Vec<TrustRow>, StoreError> {
    let rows: Vec<TrustColumns> = run_tx("trust_entries", || async {
        Ok(sqlx::query_as(
            "SELECT thumbprint, country, kind, certificate_pem, operator_signature, revoked, \
             host, created_at FROM trust_entry ORDER BY country, kind, thumbprint",
        )
        .fetch_all(pool)
        .await?)
    })
    .await?;
    rows.into_iter().map(rows::trust_from_row).collect()
}

pub(crate) async fn trust_entry(
    pool: &Pool<Db>,
    thumbprint: &CertThumbprint,
) -> Result<Option<TrustRow>, StoreError> {
    let hex = thumbprint.to_hex();
    let row: Option<TrustColumns> = run_tx("trust_entry", || async {
        Ok(sqlx::query_as(
            "SELECT thumbprint, country, kind, certificate_pem, operator_signature, revoked, \
             host, created_at FROM trust_entry WHERE thumbprint = $1",
        )
        .bind(hex.as_str())
        .fetch_optional(pool)
        .await?)
    })
    .await?;
    row.map(rows::trust_from_row).transpose()
}

pub(crate) async fn set_trust_revoked(
    pool: &Pool<Db>,
    thumbprint: &CertThumbprint,
    revoked: bool,
) -> Result<bool, StoreError> {
    let hex = thumbprint.to_hex();
    run_tx("set_trust_revoked", || async {
        let done = sqlx::query("UPDATE trust_entry SET revoked = $1 WHERE thumbprint = $2")
            .bind(revoked)
            .bind(hex.as_str())
            .execute(pool)
            .await?;
        Ok(done.rows_affected() > 0)
    })
    .await
}

// --- uploads ------------------------------------------------------------------------------------

pub(crate) async fn upload_tag_exists(pool: &Pool<Db>, tag: &str) -> Result<bool, StoreError> {
    run_tx("upload_tag_exists", || async {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM upload WHERE tag = $1")
            .bind(tag)
            .fetch_one(pool)
            .await?;
        Ok(count > 0)
    })
    .await
}

/// Everything an upload attempt needs, computed once before the first attempt.
struct PreparedUpload<'a> {
    upload: &'a NewUpload,
    columns: Vec<KeyColumns>,
    /// Positions to insert (first occurrences), by payload hash.
    order: Vec<usize>,
}

pub(crate) async fn insert_upload(
    pool: &Pool<Db>,
    at_rest: &AtRest,
    upload: &NewUpload,
    mode: UploadMode,
    now: UnixTime,
) -> Result<UploadOutcome, StoreError> {
    let keys = upload.keys.len();
    // Hashing, packing and sealing happen here, outside the transaction: the single writer of
    // SQLite (and a PostgreSQL connection) only ever waits for the inserts themselves.
    let prefix = at_rest.nonce_prefix();
    let columns = upload
        .keys
        .iter()
        .enumerate()
        .map(|(ordinal, key)| {
            KeyColumns::new(at_rest, prefix, &upload.batch_tag, ordinal, key, keys)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let hashes: Vec<[u8; 32]> = columns.iter().map(|key| key.payload_hash).collect();
    let order = plan::insertion_order(&hashes, &plan::first_occurrences(&hashes));
    let prepared = PreparedUpload { upload, columns, order };
    let outcome = run_tx("insert_upload", || attempt_upload(pool, &prepared, mode, now)).await?;
    tracing::debug!(
        batch_tag = upload.batch_tag.as_str(),
        country = upload.country.as_str(),
        keys,
        outcome = outcome_name(&outcome),
        "upload processed"
    );
    Ok(outcome)
}

fn outcome_name(outcome: &UploadOutcome) -> &'static str {
    match outcome {
        UploadOutcome::Stored { .. } => "stored",
        UploadOutcome::TagExists => "tag_exists",
        UploadOutcome::Duplicates { .. } => "duplicates",
        UploadOutcome::PartiallyStored { .. } => "partially_stored",
    }
}

/// One attempt of `insert_upload`: register the tag, insert the first occurrences, decide.
async fn attempt_upload(
    pool: &Pool<Db>,
    prepared: &PreparedUpload<'_>,
    mode: UploadMode,
    now: UnixTime,
) -> Attempt<UploadOutcome> {
    let upload = prepared.upload;
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let upload_id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO upload (tag, country, auth_thumbprint, signing_thumbprint, batch_signature, \
         created_at, key_count) VALUES ($1, $2, $3, $4, $5, $6, 0) \
         ON CONFLICT (tag) DO NOTHING RETURNING id",
    )
    .bind(upload.batch_tag.as_str())
    .bind(upload.country.as_str())
    .bind(upload.auth_thumbprint.to_hex())
    .bind(upload.signing_thumbprint.to_hex())
    .bind(upload.batch_signature.as_str())
    .bind(now.seconds())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(upload_id) = upload_id else {
        tx.rollback().await?;
        return Ok(UploadOutcome::TagExists);
    };

    // Duplicates are rare: count the inserted rows, and ask which ones only when some are
    // missing, rather than returning every ordinal.
    let mut affected = 0u64;
    for chunk in prepared.order.chunks(INSERT_CHUNK_KEYS) {
        let mut insert = QueryBuilder::<Db>::new(
            "INSERT INTO diagnosis_key (upload_id, ordinal, payload_hash, created_at, key_id, \
             payload) ",
        );
        insert.push_values(
            chunk.iter().filter_map(|&position| prepared.columns.get(position)),
            |mut row, key| {
                row.push_bind(upload_id)
                    .push_bind(key.ordinal)
                    .push_bind(key.payload_hash.as_slice())
                    .push_bind(now.seconds())
                    .push_bind(key.key_id)
                    .push_bind(key.payload.as_slice());
            },
        );
        insert.push(" ON CONFLICT (payload_hash) DO NOTHING");
        affected += insert.build().execute(&mut *tx).await?.rows_affected();
    }
    let mut inserted = vec![false; prepared.columns.len()];
    if usize::try_from(affected).ok() == Some(prepared.order.len()) {
        for &position in &prepared.order {
            if let Some(slot) = inserted.get_mut(position) {
                *slot = true;
            }
        }
    } else {
        let stored: Vec<i64> =
            sqlx::query_scalar("SELECT ordinal FROM diagnosis_key WHERE upload_id = $1")
                .bind(upload_id)
                .fetch_all(&mut *tx)
                .await?;
        for ordinal in stored {
            let slot = usize::try_from(ordinal).ok().and_then(|i| inserted.get_mut(i));
            let Some(slot) = slot else {
                return Err(invariant("insert_upload", "stored ordinal out of range"));
            };
            *slot = true;
        }
    }

    let (outcome, commit) = plan::upload_outcome(&inserted, mode);
    if !commit {
        tx.rollback().await?;
        return Ok(outcome);
    }
    let stored = i64::try_from(affected)
        .map_err(|_| StoreError::UploadTooLarge { keys: prepared.columns.len() })?;
    sqlx::query("UPDATE upload SET key_count = $1 WHERE id = $2")
        .bind(stored)
        .bind(upload_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(outcome)
}

/// Rows per transaction when stored keys are sealed anew.
const SEAL_CHUNK: i64 = 1000;

pub(crate) async fn apply_at_rest(pool: &Pool<Db>, at_rest: &AtRest) -> Result<u64, StoreError> {
    // Every key id in use must be configured, before anything is changed.
    let ids: Vec<i64> = run_tx("at_rest_key_ids", || async {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT key_id FROM diagnosis_key WHERE key_id IS NOT NULL ORDER BY key_id",
        )
        .fetch_all(pool)
        .await?)
    })
    .await?;
    let known = at_rest.key_ids();
    for id in ids {
        let id = AtRestKeyId::from_stored(id)
            .ok_or_else(|| StoreError::corrupt("diagnosis_key", "key_id", &"out of range"))?;
        if !known.contains(&id) {
            return Err(StoreError::AtRestKeyMissing { key_id: id });
        }
    }
    let current = at_rest.current_key_id();
    let mut total = 0u64;
    let mut after = 0i64;
    while let Some((sealed, last)) =
        run_tx("seal_stored_keys", || seal_stored_keys(pool, at_rest, current, after)).await?
    {
        total += sealed;
        after = last;
    }
    if let (true, Some(key_id)) = (total > 0, current) {
        tracing::info!(keys = total, %key_id, "stored keys sealed with the current at-rest key");
    } else if total > 0 {
        tracing::warn!(keys = total, "stored keys packed unencrypted (at-rest encryption is off)");
    }
    Ok(total)
}

/// Seals the next rows (by id, after `after`) that are not as `current` would store them: rows
/// from before packing (plaintext columns), and, when `current` is a key, unencrypted packed
/// rows and rows sealed with a previous key. The number sealed and the last id looked at, or
/// `None` when there are no more.
async fn seal_stored_keys(
    pool: &Pool<Db>,
    at_rest: &AtRest,
    current: Option<AtRestKeyId>,
    after: i64,
) -> Attempt<Option<(u64, i64)>> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let outdated = match current {
        Some(_) => "(k.key_id IS NULL OR k.key_id <> $2)",
        None => "(k.payload IS NULL AND $2 < 0)",
    };
    let rows: Vec<StoredKeyRow> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {STORED_KEY_COLUMNS} \
         FROM diagnosis_key k JOIN upload u ON u.id = k.upload_id \
         WHERE k.id > $1 AND {outdated} \
         ORDER BY k.id LIMIT $3"
    )))
    .bind(after)
    .bind(current.map_or(-1, AtRestKeyId::stored))
    .bind(SEAL_CHUNK)
    .fetch_all(&mut *tx)
    .await?;
    let Some(last) = rows.last().map(|row| row.id) else {
        tx.rollback().await?;
        return Ok(None);
    };
    let mut sealed = 0u64;
    for row in rows {
        // Rows of different uploads share ordinals: a prefix of their own for each.
        let prefix = at_rest.nonce_prefix();
        let (id, tag, ordinal, hash) =
            (row.id, row.tag.clone(), row.ordinal, row.payload_hash.clone());
        let key = rows::key_from_stored_row(at_rest, row)?;
        let ordinal = usize::try_from(ordinal)
            .map_err(|_| StoreError::corrupt("diagnosis_key", "ordinal", &"out of range"))?;
        let columns = KeyColumns::new(at_rest, prefix, &tag, ordinal, &key, ordinal)?;
        if columns.payload_hash.as_slice() != hash.as_slice() {
            return Err(
                StoreError::corrupt("diagnosis_key", "payload_hash", &"does not match").into()
            );
        }
        sqlx::query(
            "UPDATE diagnosis_key SET key_id = $1, payload = $2, key_data = NULL, \
             rolling_start_interval_number = NULL, rolling_period = NULL, \
             transmission_risk_level = NULL, visited_countries = NULL, origin = NULL, \
             report_type = NULL, days_since_onset = NULL WHERE id = $3",
        )
        .bind(columns.key_id)
        .bind(columns.payload.as_slice())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sealed += 1;
    }
    tx.commit().await?;
    Ok(Some((sealed, last)))
}

fn invariant(operation: &'static str, what: &'static str) -> AttemptError {
    AttemptError::Fail(StoreError::invariant(operation, what))
}

// --- download batches ---------------------------------------------------------------------------

pub(crate) async fn form_download_batches(
    pool: &Pool<Db>,
    now: UnixTime,
    max_keys: usize,
) -> Result<Vec<String>, StoreError> {
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
async fn attempt_download_batch(
    pool: &Pool<Db>,
    now: UnixTime,
    max_keys: u64,
) -> Attempt<Option<String>> {
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
    let tag = plan::download_tag(day, day_seq);
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
    tag: &str,
) -> Result<Option<DownloadBatch>, StoreError> {
    let row: Option<BatchColumns> = run_tx("download_batch", || async {
        Ok(sqlx::query_as(
            "SELECT tag, created_at, next_tag, key_count FROM download_batch WHERE tag = $1",
        )
        .bind(tag)
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
    tag: &str,
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
        .bind(tag)
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
        .bind(tag)
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

pub(crate) async fn audit(pool: &Pool<Db>, tag: &str) -> Result<Vec<AuditRow>, StoreError> {
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
        .bind(tag)
        .fetch_all(pool)
        .await?)
    })
    .await?;
    rows.into_iter().map(rows::audit_from_row).collect()
}

// --- callbacks ----------------------------------------------------------------------------------

/// Inserts one task per active subscription for the download batch `tag`, each chained after
/// its subscription's latest task.
async fn insert_callback_tasks(
    conn: &mut <Db as sqlx::Database>::Connection,
    tag: &str,
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
    .bind(tag)
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
    run_tx("put_callback", || async {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
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
        tx.commit().await?;
        Ok(())
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
    run_tx("delete_callback", || async {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        let id: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM callback_subscription WHERE country = $1 AND callback_id = $2",
        )
        .bind(country.as_str())
        .bind(callback_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else {
            tx.rollback().await?;
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
        tx.commit().await?;
        Ok(true)
    })
    .await
}

pub(crate) async fn create_callback_tasks(
    pool: &Pool<Db>,
    tag: &str,
    now: UnixTime,
) -> Result<u64, StoreError> {
    run_tx("create_callback_tasks", || async {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        let created = insert_callback_tasks(&mut tx, tag, now).await?;
        tx.commit().await?;
        Ok(created)
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
    run_tx("callback_failed", || async {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        let row: Option<(i64, i64)> = sqlx::query_as(
            "UPDATE callback_task SET retries = retries + 1, last_try = $2 WHERE id = $1 \
             RETURNING retries, subscription_id",
        )
        .bind(task_id)
        .bind(now.seconds())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((retries, subscription_id)) = row else {
            tx.rollback().await?;
            return Ok(CallbackFailure::Gone);
        };
        let retries = u32::try_from(retries)
            .map_err(|_| StoreError::corrupt("callback_task", "retries", &"out of range"))?;
        if retries <= MAX_CALLBACK_RETRIES {
            tx.commit().await?;
            return Ok(CallbackFailure::WillRetry { retries });
        }
        sqlx::query("UPDATE callback_subscription SET suspended_at = $1 WHERE id = $2")
            .bind(now.seconds())
            .bind(subscription_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(CallbackFailure::Suspended)
    })
    .await
}

pub(crate) async fn pending_callback_tasks(
    pool: &Pool<Db>,
) -> Result<Vec<(CountryCode, String, String)>, StoreError> {
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
            Ok((country, callback_id, tag))
        })
        .collect()
}

// --- retention and leases -----------------------------------------------------------------------

pub(crate) async fn purge_keys_created_before(
    pool: &Pool<Db>,
    cutoff: UnixTime,
) -> Result<u64, StoreError> {
    let mut total = 0u64;
    loop {
        let deleted = run_tx("purge_keys", || async {
            let mut tx = pool.begin_with(BEGIN_WRITE).await?;
            let done = sqlx::query(
                "DELETE FROM diagnosis_key WHERE id IN \
                 (SELECT id FROM diagnosis_key WHERE created_at < $1 LIMIT $2)",
            )
            .bind(cutoff.seconds())
            .bind(PURGE_CHUNK)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(done.rows_affected())
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
