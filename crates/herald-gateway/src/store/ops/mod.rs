//! The store's queries and transactions, compiled once per backend.
//!
//! `sqlite.rs` and `postgres.rs` each mount this module (`#[path = "ops/mod.rs"] mod ops;`, its files one concern each) next to
//! their `Db` type and `BEGIN_WRITE` statement, so both backends
//! run the same SQL text and the same transaction logic, checked by the compiler for each.
//!
//! Every public operation runs through `herald_db::run_tx`: a named attempt that is retried on
//! transient conflicts and whose duration is recorded. Nothing here logs key fields; events carry
//! operation names, tags and counts only.

use herald_model::{BatchTag, UnixTime};
use sqlx::{AssertSqlSafe, Pool, QueryBuilder};

use super::{BEGIN_WRITE, Db};
use crate::store::at_rest::{AtRest, AtRestKeyId};
use crate::store::rows::{self, KeyColumns, STORED_KEY_COLUMNS, StoredKeyRow};
use crate::store::{INSERT_CHUNK_KEYS, NewUpload, StoreError, UploadMode, UploadOutcome, plan};

mod batches;
mod callbacks;
mod retention;
mod statistics;
mod trust;

pub(crate) use batches::{
    audit, download_batch, download_keys, first_download_batch_since, form_download_batches,
};
use callbacks::insert_callback_tasks;
pub(crate) use callbacks::{
    callback_failed, callback_succeeded, callbacks, create_callback_tasks, delete_callback,
    due_callback_tasks, pending_callback_tasks, put_callback,
};
pub(crate) use retention::{purge_keys_created_before, try_lease};
pub(crate) use statistics::{gauges, purge_statistics_before, record_statistics};
pub(crate) use trust::{put_trust_entry, trust_entries, trust_entry};

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

/// `herald_db::write_tx` for this store: the named write transaction, begun with the backend's
/// `BEGIN_WRITE`, committed when `body` succeeds, retried on transient conflicts.
pub(super) async fn write_tx<'a, T, F>(
    name: &'static str,
    pool: &Pool<Db>,
    body: F,
) -> Result<T, StoreError>
where
    F: for<'c> Fn(Tx<'c, 'a>) -> TxFuture<'c, T>,
{
    herald_db::write_tx(name, pool, body).await
}

/// The connection of a [`write_tx`] body.
pub(super) type Tx<'c, 'a> = herald_db::Tx<'c, 'a, Db>;
/// The future of one attempt of a [`write_tx`] body.
pub(super) type TxFuture<'c, T> = herald_db::TxFuture<'c, T, StoreError>;

// --- uploads ------------------------------------------------------------------------------------

pub(crate) async fn upload_tag_exists(pool: &Pool<Db>, tag: &BatchTag) -> Result<bool, StoreError> {
    run_tx("upload_tag_exists", || async {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM upload WHERE tag = $1")
            .bind(tag.as_str())
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
            KeyColumns::new(at_rest, prefix, upload.batch_tag.as_str(), ordinal, key, keys)
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
