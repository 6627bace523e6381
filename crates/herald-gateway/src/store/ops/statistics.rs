//! Statistics and what the internal listener reads.
//!
//! Statistics rows (§1.3 step 7, §6.1) carry times coarsened to the hour, a tag, a country code
//! and a key count; nothing about the keys themselves.

use herald_model::{BatchTag, CountryCode, UnixTime};
use sqlx::Pool;

use super::super::Db;
use super::{run_tx, write_tx};
use crate::store::{CountryStatistics, StoreError, StoreGauges, Traffic};

/// Seconds in the unit statistics times are coarsened to.
const HOUR: i64 = 3600;

/// The start of the UTC hour of `t`.
fn hour(t: UnixTime) -> i64 {
    t.seconds() - t.seconds().rem_euclid(HOUR)
}

/// Inserts a statistics row: the hour of `now`, the tag, the country and the number of keys.
pub(crate) async fn record_statistics(
    pool: &Pool<Db>,
    traffic: Traffic,
    tag: &BatchTag,
    country: CountryCode,
    keys: u64,
    now: UnixTime,
) -> Result<(), StoreError> {
    let keys = i64::try_from(keys).unwrap_or(i64::MAX);
    let (name, insert) = match traffic {
        Traffic::Upload => (
            "record_upload_statistics",
            "INSERT INTO upload_stats (created_at, upload_tag, country, number_of_keys) \
             VALUES ($1, $2, $3, $4)",
        ),
        Traffic::Download => (
            "record_download_statistics",
            "INSERT INTO download_stats (requested_at, download_batch_tag, country, \
             number_of_keys) VALUES ($1, $2, $3, $4)",
        ),
    };
    run_tx(name, || async {
        sqlx::query(insert)
            .bind(hour(now))
            .bind(tag.as_str())
            .bind(country.as_str())
            .bind(keys)
            .execute(pool)
            .await?;
        Ok(())
    })
    .await
}

pub(crate) async fn purge_statistics_before(
    pool: &Pool<Db>,
    cutoff: UnixTime,
) -> Result<u64, StoreError> {
    write_tx("purge_statistics", pool, |mut tx| {
        Box::pin(async move {
            let uploads = sqlx::query("DELETE FROM upload_stats WHERE created_at < $1")
                .bind(cutoff.seconds())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let downloads = sqlx::query("DELETE FROM download_stats WHERE requested_at < $1")
                .bind(cutoff.seconds())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            Ok(uploads.saturating_add(downloads))
        })
    })
    .await
}

/// Per-country (rows, keys) sums of a statistics table, as read.
type CountryColumns = (String, i64, i64);

/// Rows and keys per country of a statistics table (`table` is one of the two names above,
/// never input).
async fn country_totals(
    pool: &Pool<Db>,
    table: &'static str,
) -> Result<Vec<CountryColumns>, sqlx::Error> {
    let sql = format!(
        "SELECT country, COUNT(*), CAST(COALESCE(SUM(number_of_keys), 0) AS BIGINT) \
         FROM {table} GROUP BY country ORDER BY country"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await
}

pub(crate) async fn gauges(pool: &Pool<Db>) -> Result<StoreGauges, StoreError> {
    let (keys, batches, uploads, downloads) = run_tx("gauges", || async {
        let keys: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM diagnosis_key").fetch_one(pool).await?;
        let batches: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM download_batch").fetch_one(pool).await?;
        let uploads = country_totals(pool, "upload_stats").await?;
        let downloads = country_totals(pool, "download_stats").await?;
        Ok((keys, batches, uploads, downloads))
    })
    .await?;
    Ok(StoreGauges {
        keys: count("diagnosis_key", "id", keys)?,
        download_batches: count("download_batch", "id", batches)?,
        upload_stats: per_country("upload_stats", uploads)?,
        download_stats: per_country("download_stats", downloads)?,
    })
}

fn count(table: &'static str, column: &'static str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::corrupt(table, column, &"negative count"))
}

fn per_country(
    table: &'static str,
    rows: Vec<CountryColumns>,
) -> Result<Vec<CountryStatistics>, StoreError> {
    rows.into_iter()
        .map(|(country, rows, keys)| {
            Ok(CountryStatistics {
                country: country.parse().map_err(|e| StoreError::corrupt(table, "country", &e))?,
                rows: count(table, "id", rows)?,
                keys: count(table, "number_of_keys", keys)?,
            })
        })
        .collect()
}
