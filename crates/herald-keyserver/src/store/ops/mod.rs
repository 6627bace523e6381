//! The store's queries and transactions, compiled once per backend (see `store/mod.rs`).
//!
//! Every operation runs through [`run_tx`]. Nothing here logs key fields.

use herald_db::{Attempt, DbError, run_tx};
use herald_model::{CountryCode, TemporaryExposureKey};
use sqlx::{Pool, QueryBuilder};

use super::{BEGIN_WRITE, Db};
use crate::store::{
    KeyRevision, PublishOutcome, PublishWrite, ReportColumn, StoreError, StoredKey,
    StoredReportType, federation_due, parse_regions, regions_column,
};

mod export;
mod federation;
mod retention;

pub(crate) use export::{
    complete_export_batch, count_window, create_export_batches, earliest_release, file_deleted,
    files_to_delete, index_files, last_export_end, mark_expired_files, open_export_batches,
    recent_own_keys, window_page,
};
pub(crate) use federation::{
    download_cursor, download_seen, import_download_batch, next_outbox_batch, outbox_batch_done,
    outbox_batch_failed, outbox_batch_split, outbox_counts,
};
pub(crate) use retention::{purge, release_leases, try_lease};

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
            <StoredReportType as ReportColumn>::from_column(v)
                .ok_or_else(|| corrupt(column, &"unknown report type"))
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
                .push_bind(k.report_type.column())
                .push_bind(k.days_since_onset.map(i64::from))
                .push_bind(k.revision.as_ref().map(|r| r.report_type.column()))
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
            .bind(revision.report_type.column())
            .bind(revision.revised_at)
            .bind(revision.days_since_onset.map(i64::from))
            .bind(i64::from(revision.transmission_risk))
            .bind(key.as_bytes().to_vec())
            .bind(expected.column())
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() != 1 {
                // Revised concurrently: dropping the transaction rolls everything back.
                return Ok(PublishOutcome::KeyAlreadyRevised);
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
