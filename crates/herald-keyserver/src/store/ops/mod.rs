//! The store's queries and transactions, compiled once per backend (see `store/mod.rs`).
//!
//! Every operation runs through [`run_tx`]. Nothing here logs key fields.

use herald_db::{Attempt, AttemptError, DbError, run_tx};
use herald_model::{CountryCode, TemporaryExposureKey};
use sqlx::{Pool, QueryBuilder};

use super::{BEGIN_WRITE, Db};
use crate::store::{
    ExportBatch, ExportFileRow, KeyRange, KeyRevision, OutboxBatch, PageCursor, PublishOutcome,
    PublishWrite, StoreError, StoredKey, StoredReportType, Which, federation_due, parse_regions,
    regions_column,
};

/// Keys per multi-row `INSERT` (14 parameters each).
const INSERT_CHUNK: usize = 500;

const KEY_COLUMNS: &str = "key_data, transmission_risk, source, regions, traveler, \
     interval_number, interval_count, created_at, local_provenance, origin, report_type, \
     days_since_onset, revised_report_type, revised_at, revised_days_since_onset, \
     revised_transmission_risk";

#[derive(sqlx::FromRow)]
struct KeyColumns {
    key_data: Vec<u8>,
    transmission_risk: i64,
    source: String,
    regions: String,
    traveler: bool,
    interval_number: i64,
    interval_count: i64,
    created_at: i64,
    local_provenance: bool,
    origin: String,
    report_type: String,
    days_since_onset: Option<i64>,
    revised_report_type: Option<String>,
    revised_at: Option<i64>,
    revised_days_since_onset: Option<i64>,
    revised_transmission_risk: Option<i64>,
}

fn corrupt(column: &'static str, reason: &dyn std::fmt::Display) -> DbError {
    DbError::corrupt("exposure", column, reason)
}

impl KeyColumns {
    fn into_key(self) -> Result<StoredKey, DbError> {
        let key = TemporaryExposureKey::from_slice(&self.key_data)
            .map_err(|e| corrupt("key_data", &e))?;
        let small = |v: i64, column: &'static str| u8::try_from(v).map_err(|e| corrupt(column, &e));
        let report = |v: &str, column: &'static str| {
            StoredReportType::parse(v).ok_or_else(|| corrupt(column, &"unknown report type"))
        };
        let dsos = |v: Option<i64>, column: &'static str| {
            v.map(|d| i32::try_from(d).map_err(|e| corrupt(column, &e))).transpose()
        };
        let revision = match (self.revised_at, self.revised_report_type.as_deref()) {
            (Some(revised_at), Some(rt)) => Some(KeyRevision {
                report_type: report(rt, "revised_report_type")?,
                revised_at,
                days_since_onset: dsos(self.revised_days_since_onset, "revised_days_since_onset")?,
                transmission_risk: small(
                    self.revised_transmission_risk.unwrap_or(self.transmission_risk),
                    "revised_transmission_risk",
                )?,
            }),
            _ => None,
        };
        Ok(StoredKey {
            key,
            transmission_risk: small(self.transmission_risk, "transmission_risk")?,
            source: self.source,
            regions: parse_regions(&self.regions),
            traveler: self.traveler,
            interval_number: u32::try_from(self.interval_number)
                .map_err(|e| corrupt("interval_number", &e))?,
            interval_count: u32::try_from(self.interval_count)
                .map_err(|e| corrupt("interval_count", &e))?,
            created_at: self.created_at,
            local_provenance: self.local_provenance,
            origin: self.origin.parse::<CountryCode>().map_err(|e| corrupt("origin", &e))?,
            report_type: report(&self.report_type, "report_type")?,
            days_since_onset: dsos(self.days_since_onset, "days_since_onset")?,
            revision,
        })
    }
}

fn decode_all(rows: Vec<KeyColumns>) -> Result<Vec<StoredKey>, DbError> {
    rows.into_iter().map(KeyColumns::into_key).collect()
}

pub(crate) async fn certificate_used(pool: &Pool<Db>, hash: &[u8; 32]) -> Result<bool, StoreError> {
    run_tx("certificate_used", || async {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM used_certificate WHERE hash = $1")
            .bind(hash.to_vec())
            .fetch_one(pool)
            .await?;
        Ok(n > 0)
    })
    .await
}

pub(crate) async fn existing_keys(
    pool: &Pool<Db>,
    keys: &[TemporaryExposureKey],
) -> Result<Vec<StoredKey>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<KeyColumns> = run_tx("existing_keys", || async {
        let mut q = QueryBuilder::<Db>::new(format!(
            "SELECT {KEY_COLUMNS} FROM exposure WHERE key_data IN ("
        ));
        let mut list = q.separated(", ");
        for key in keys {
            list.push_bind(key.as_bytes().to_vec());
        }
        q.push(")");
        Ok(q.build_query_as().fetch_all(pool).await?)
    })
    .await?;
    decode_all(rows)
}

/// Inserts keys (skipping existing ones) and their outbox rows; returns how many were new.
async fn insert_keys_tx(
    tx: &mut sqlx::Transaction<'_, Db>,
    keys: &[StoredKey],
    federate_not_before: Option<i64>,
) -> Attempt<usize> {
    let mut inserted = 0usize;
    for chunk in keys.chunks(INSERT_CHUNK) {
        let mut q = QueryBuilder::<Db>::new(format!("INSERT INTO exposure ({KEY_COLUMNS}) "));
        q.push_values(chunk, |mut row, k| {
            row.push_bind(k.key.as_bytes().to_vec())
                .push_bind(i64::from(k.transmission_risk))
                .push_bind(k.source.clone())
                .push_bind(regions_column(&k.regions))
                .push_bind(k.traveler)
                .push_bind(i64::from(k.interval_number))
                .push_bind(i64::from(k.interval_count))
                .push_bind(k.created_at)
                .push_bind(k.local_provenance)
                .push_bind(k.origin.as_str().to_owned())
                .push_bind(k.report_type.as_str())
                .push_bind(k.days_since_onset.map(i64::from))
                .push_bind(k.revision.as_ref().map(|r| r.report_type.as_str()))
                .push_bind(k.revision.as_ref().map(|r| r.revised_at));
            row.push_bind(k.revision.as_ref().and_then(|r| r.days_since_onset).map(i64::from))
                .push_bind(k.revision.as_ref().map(|r| i64::from(r.transmission_risk)));
        });
        q.push(" ON CONFLICT (key_data) DO NOTHING RETURNING key_data");
        let new: Vec<Vec<u8>> = q.build_query_scalar().fetch_all(&mut **tx).await?;
        inserted += new.len();
        if let Some(earliest) = federate_not_before
            && !new.is_empty()
        {
            // Each new key waits for its own embargo.
            let new: std::collections::HashSet<Vec<u8>> = new.into_iter().collect();
            let queued = chunk.iter().filter(|k| new.contains(k.key.as_bytes().as_slice()));
            let mut q =
                QueryBuilder::<Db>::new("INSERT INTO federation_outbox (key_data, not_before) ");
            q.push_values(queued, |mut row, k| {
                row.push_bind(k.key.as_bytes().to_vec()).push_bind(federation_due(k, earliest));
            });
            q.push(" ON CONFLICT (key_data) DO NOTHING");
            q.build().execute(&mut **tx).await?;
        }
    }
    Ok(inserted)
}

pub(crate) async fn publish(
    pool: &Pool<Db>,
    write: &PublishWrite,
) -> Result<PublishOutcome, StoreError> {
    run_tx("publish", || async {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        if let Some((hash, expires_at)) = &write.certificate {
            let fresh: Option<Vec<u8>> = sqlx::query_scalar(
                "INSERT INTO used_certificate (hash, expires_at) VALUES ($1, $2) \
                 ON CONFLICT (hash) DO NOTHING RETURNING hash",
            )
            .bind(hash.to_vec())
            .bind(*expires_at)
            .fetch_optional(&mut *tx)
            .await?;
            if fresh.is_none() {
                return Ok(PublishOutcome::CertificateReused);
            }
        }
        let inserted = insert_keys_tx(&mut tx, &write.inserts, write.federate_not_before).await?;
        let mut revised = 0usize;
        for (key, expected, revision) in &write.revisions {
            let done = sqlx::query(
                "UPDATE exposure SET revised_report_type = $1, revised_at = $2, \
                 revised_days_since_onset = $3, revised_transmission_risk = $4 \
                 WHERE key_data = $5 AND revised_at IS NULL AND report_type = $6",
            )
            .bind(revision.report_type.as_str())
            .bind(revision.revised_at)
            .bind(revision.days_since_onset.map(i64::from))
            .bind(i64::from(revision.transmission_risk))
            .bind(key.as_bytes().to_vec())
            .bind(expected.as_str())
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() != 1 {
                // Revised concurrently: roll everything back (the caller answers key_already_revised).
                return Err(AttemptError::Fail(DbError::Invariant {
                    operation: "publish",
                    what: "key already revised",
                }));
            }
            revised += 1;
        }
        tx.commit().await?;
        Ok(PublishOutcome::Stored { inserted, revised })
    })
    .await
}

pub(crate) async fn insert_keys(
    pool: &Pool<Db>,
    keys: &[StoredKey],
    federate_not_before: Option<i64>,
) -> Result<usize, StoreError> {
    run_tx("insert_keys", || async {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        let n = insert_keys_tx(&mut tx, keys, federate_not_before).await?;
        tx.commit().await?;
        Ok(n)
    })
    .await
}

/// `created_at` for [`Which::Released`], `revised_at` for [`Which::Revised`].
fn time_column(which: Which) -> &'static str {
    match which {
        Which::Released => "created_at",
        Which::Revised => "revised_at",
    }
}

pub(crate) async fn count_window(
    pool: &Pool<Db>,
    which: Which,
    start: i64,
    end: i64,
) -> Result<i64, StoreError> {
    let column = time_column(which);
    run_tx("count_window", || async {
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM exposure WHERE {column} >= $1 AND {column} < $2"
        )))
        .bind(start)
        .bind(end)
        .fetch_one(pool)
        .await?)
    })
    .await
}

/// A page of [`Store::window_page`](super::Store::window_page): keyset pagination on the
/// (time, key) index, one index range scan per page.
pub(crate) async fn window_page(
    pool: &Pool<Db>,
    which: Which,
    window: (i64, i64),
    keys: &KeyRange,
    after: Option<&PageCursor>,
    limit: i64,
) -> Result<Vec<StoredKey>, StoreError> {
    let column = time_column(which);
    let rows: Vec<KeyColumns> = run_tx("window_page", || async {
        let mut q = QueryBuilder::<Db>::new(format!("SELECT {KEY_COLUMNS} FROM exposure WHERE "));
        q.push(column).push(" >= ").push_bind(window.0);
        q.push(" AND ").push(column).push(" < ").push_bind(window.1);
        if let Some(from) = &keys.from {
            q.push(" AND key_data >= ").push_bind(from.to_vec());
        }
        if let Some(until) = &keys.until {
            q.push(" AND key_data < ").push_bind(until.to_vec());
        }
        if let Some(after) = after {
            q.push(" AND (").push(column).push(", key_data) > (").push_bind(after.at);
            q.push(", ").push_bind(after.key.as_bytes().to_vec()).push(")");
        }
        q.push(" ORDER BY ").push(column).push(", key_data LIMIT ").push_bind(limit);
        Ok(q.build_query_as().fetch_all(pool).await?)
    })
    .await?;
    decode_all(rows)
}

pub(crate) async fn earliest_release(pool: &Pool<Db>) -> Result<Option<i64>, StoreError> {
    run_tx("earliest_release", || async {
        Ok(sqlx::query_scalar("SELECT MIN(created_at) FROM exposure").fetch_one(pool).await?)
    })
    .await
}

pub(crate) async fn create_export_batches(
    pool: &Pool<Db>,
    config: &str,
    starts: &[i64],
    period: i64,
) -> Result<(), StoreError> {
    if starts.is_empty() {
        return Ok(());
    }
    run_tx("create_export_batches", || async {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        for chunk in starts.chunks(INSERT_CHUNK) {
            let mut q = QueryBuilder::<Db>::new(
                "INSERT INTO export_batch (config, start_time, end_time, status) ",
            );
            q.push_values(chunk, |mut row, s| {
                row.push_bind(config.to_owned())
                    .push_bind(*s)
                    .push_bind(s.saturating_add(period))
                    .push_bind("open");
            });
            q.push(" ON CONFLICT (config, start_time) DO NOTHING");
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    })
    .await
}

pub(crate) async fn last_export_end(
    pool: &Pool<Db>,
    config: &str,
) -> Result<Option<i64>, StoreError> {
    run_tx("last_export_end", || async {
        Ok(sqlx::query_scalar("SELECT MAX(end_time) FROM export_batch WHERE config = $1")
            .bind(config)
            .fetch_one(pool)
            .await?)
    })
    .await
}

pub(crate) async fn open_export_batches(
    pool: &Pool<Db>,
    config: &str,
) -> Result<Vec<ExportBatch>, StoreError> {
    let rows: Vec<(i64, String, i64, i64, String)> = run_tx("open_export_batches", || async {
        Ok(sqlx::query_as(
            "SELECT id, config, start_time, end_time, status FROM export_batch \
             WHERE config = $1 AND status = 'open' ORDER BY start_time",
        )
        .bind(config)
        .fetch_all(pool)
        .await?)
    })
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, config, start_time, end_time, status)| ExportBatch {
            id,
            config,
            start_time,
            end_time,
            status,
        })
        .collect())
}

pub(crate) async fn complete_export_batch(
    pool: &Pool<Db>,
    batch_id: i64,
    files: &[ExportFileRow],
) -> Result<(), StoreError> {
    run_tx("complete_export_batch", || async {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        let mut keys = 0i64;
        for f in files {
            sqlx::query(
                "INSERT INTO export_file (name, batch_id, keys, revised, status) VALUES ($1, $2, $3, $4, 'complete') \
                 ON CONFLICT (name) DO UPDATE SET keys = excluded.keys, revised = excluded.revised, status = 'complete'",
            )
            .bind(f.name.as_str())
            .bind(batch_id)
            .bind(f.keys)
            .bind(f.revised)
            .execute(&mut *tx)
            .await?;
            keys += f.keys + f.revised;
        }
        sqlx::query("UPDATE export_batch SET status = 'complete', files = $1, keys = $2 WHERE id = $3")
            .bind(i64::try_from(files.len()).unwrap_or(i64::MAX))
            .bind(keys)
            .bind(batch_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    })
    .await
}

pub(crate) async fn index_files(pool: &Pool<Db>, config: &str) -> Result<Vec<String>, StoreError> {
    run_tx("index_files", || async {
        Ok(sqlx::query_scalar(
            "SELECT f.name FROM export_file f JOIN export_batch b ON b.id = f.batch_id \
             WHERE b.config = $1 AND f.status = 'complete' ORDER BY f.name",
        )
        .bind(config)
        .fetch_all(pool)
        .await?)
    })
    .await
}

pub(crate) async fn mark_expired_files(
    pool: &Pool<Db>,
    config: &str,
    cutoff: i64,
) -> Result<u64, StoreError> {
    run_tx("mark_expired_files", || async {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        let files = sqlx::query(
            "UPDATE export_file SET status = 'del_pend' WHERE status = 'complete' AND batch_id IN \
             (SELECT id FROM export_batch WHERE config = $1 AND end_time < $2)",
        )
        .bind(config)
        .bind(cutoff)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(
            "UPDATE export_batch SET status = 'del_pend' WHERE config = $1 AND end_time < $2 AND status = 'complete'",
        )
        .bind(config)
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(files)
    })
    .await
}

pub(crate) async fn files_to_delete(
    pool: &Pool<Db>,
    config: &str,
) -> Result<Vec<String>, StoreError> {
    run_tx("files_to_delete", || async {
        Ok(sqlx::query_scalar(
            "SELECT f.name FROM export_file f JOIN export_batch b ON b.id = f.batch_id \
             WHERE b.config = $1 AND f.status = 'del_pend' ORDER BY f.name",
        )
        .bind(config)
        .fetch_all(pool)
        .await?)
    })
    .await
}

pub(crate) async fn file_deleted(pool: &Pool<Db>, name: &str) -> Result<(), StoreError> {
    run_tx("file_deleted", || async {
        sqlx::query("DELETE FROM export_file WHERE name = $1 AND status = 'del_pend'")
            .bind(name)
            .execute(pool)
            .await?;
        Ok(())
    })
    .await
}

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

pub(crate) async fn next_outbox_batch(
    pool: &Pool<Db>,
    tag: &str,
    now: i64,
    min_keys: i64,
    max_keys: i64,
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
        let due: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM federation_outbox WHERE batch_tag IS NULL AND not_before <= $1",
        )
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        if due == 0 || due < min_keys {
            return Ok(None);
        }
        sqlx::query("INSERT INTO federation_upload (tag, created_at, state, attempts, next_try) VALUES ($1, $2, 'pending', 0, $2)")
            .bind(tag)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE federation_outbox SET batch_tag = $1 WHERE key_data IN (SELECT key_data FROM federation_outbox \
             WHERE batch_tag IS NULL AND not_before <= $2 ORDER BY not_before, key_data LIMIT $3)",
        )
        .bind(tag)
        .bind(now)
        .bind(max_keys)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some((tag.to_owned(), 0)))
    })
    .await?;
    let Some((tag, attempts)) = found else {
        return Ok(None);
    };
    let rows: Vec<KeyColumns> = run_tx("outbox_batch_keys", || async {
        let mut q = QueryBuilder::<Db>::new("SELECT ");
        q.push(KEY_COLUMNS.split(", ").map(|c| format!("e.{c}")).collect::<Vec<_>>().join(", "));
        q.push(" FROM exposure e JOIN federation_outbox o ON o.key_data = e.key_data WHERE o.batch_tag = ");
        q.push_bind(tag.clone());
        q.push(" ORDER BY e.key_data");
        Ok(q.build_query_as().fetch_all(pool).await?)
    })
    .await?;
    Ok(Some(OutboxBatch { tag, keys: decode_all(rows)?, attempts }))
}

pub(crate) async fn outbox_batch_done(pool: &Pool<Db>, tag: &str) -> Result<(), StoreError> {
    run_tx("outbox_batch_done", || async {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        sqlx::query("UPDATE federation_outbox SET uploaded = TRUE WHERE batch_tag = $1")
            .bind(tag)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE federation_upload SET state = 'done' WHERE tag = $1")
            .bind(tag)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    })
    .await
}

pub(crate) async fn outbox_batch_split(
    pool: &Pool<Db>,
    tag: &str,
    resend: &[TemporaryExposureKey],
) -> Result<(), StoreError> {
    run_tx("outbox_batch_split", || async {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        for key in resend {
            sqlx::query("UPDATE federation_outbox SET batch_tag = NULL WHERE batch_tag = $1 AND key_data = $2")
                .bind(tag)
                .bind(key.as_bytes().to_vec())
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("UPDATE federation_outbox SET uploaded = TRUE WHERE batch_tag = $1").bind(tag).execute(&mut *tx).await?;
        sqlx::query("UPDATE federation_upload SET state = 'done' WHERE tag = $1").bind(tag).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    })
    .await
}

pub(crate) async fn outbox_batch_failed(
    pool: &Pool<Db>,
    tag: &str,
    next_try: i64,
    give_up: bool,
) -> Result<(), StoreError> {
    run_tx("outbox_batch_failed", || async {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        if give_up {
            sqlx::query("UPDATE federation_outbox SET batch_tag = NULL WHERE batch_tag = $1").bind(tag).execute(&mut *tx).await?;
            sqlx::query("UPDATE federation_upload SET state = 'failed', attempts = attempts + 1 WHERE tag = $1")
                .bind(tag)
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query("UPDATE federation_upload SET attempts = attempts + 1, next_try = $1 WHERE tag = $2")
                .bind(next_try)
                .bind(tag)
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
) -> Result<Option<String>, StoreError> {
    run_tx("download_cursor", || async {
        Ok(sqlx::query_scalar("SELECT last_tag FROM federation_cursor WHERE day = $1")
            .bind(day)
            .fetch_optional(pool)
            .await?)
    })
    .await
}

pub(crate) async fn download_seen(pool: &Pool<Db>, tag: &str) -> Result<bool, StoreError> {
    run_tx("download_seen", || async {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM federation_download WHERE tag = $1")
            .bind(tag)
            .fetch_one(pool)
            .await?;
        Ok(n > 0)
    })
    .await
}

pub(crate) async fn import_download_batch(
    pool: &Pool<Db>,
    day: &str,
    tag: &str,
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
        .bind(tag)
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
        .bind(tag)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(imported)
    })
    .await
}
