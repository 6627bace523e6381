//! Export windows, batches and files (key-server.md §5): counting and paging a window's keys,
//! reserving batches, the files of each index and their two-phase deletion.

use herald_db::run_tx;
use sqlx::{Pool, QueryBuilder};

use super::super::{BEGIN_WRITE, Db};
use super::{INSERT_CHUNK, KEY_COLUMNS, KeyColumns, decode_all};
use crate::store::{
    ExportBatch, ExportFileRow, KeyRange, PageCursor, StoreError, StoredKey, Which,
};

/// `created_at` for [`Which::Released`], `revised_at` for [`Which::Revised`].
pub(super) fn time_column(which: Which) -> &'static str {
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

/// The newest own real keys (uploaded here, not padding) released in `[start, end)`.
pub(crate) async fn recent_own_keys(
    pool: &Pool<Db>,
    window: (i64, i64),
    padding_source: &str,
    limit: i64,
) -> Result<Vec<StoredKey>, StoreError> {
    let rows: Vec<KeyColumns> = run_tx("recent_own_keys", || async {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {KEY_COLUMNS} FROM exposure WHERE created_at >= $1 AND created_at < $2 \
             AND local_provenance AND source <> $3 ORDER BY created_at DESC, key_data LIMIT $4"
        )))
        .bind(window.0)
        .bind(window.1)
        .bind(padding_source)
        .bind(limit)
        .fetch_all(pool)
        .await?)
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
