//! The audit log (minute-coarsened events) and the daily code statistics.

use herald_db::run_tx;
use sqlx::Pool;

use super::super::Db;
use crate::store::{AuditEvent, DayStats, StoreError};

pub(crate) async fn audit(pool: &Pool<Db>, event: &AuditEvent) -> Result<(), StoreError> {
    run_tx("audit", || async {
        sqlx::query(
            "INSERT INTO audit_event (at_minute, actor, action, subject) VALUES ($1, $2, $3, $4)",
        )
        .bind(event.at_minute)
        .bind(&event.actor)
        .bind(&event.action)
        .bind(&event.subject)
        .execute(pool)
        .await?;
        Ok(())
    })
    .await
}

pub(crate) async fn audit_events(
    pool: &Pool<Db>,
    limit: i64,
) -> Result<Vec<AuditEvent>, StoreError> {
    let rows: Vec<(i64, String, String, String)> = run_tx("audit_events", || async {
        Ok(sqlx::query_as(
            "SELECT at_minute, actor, action, subject FROM audit_event ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(pool)
        .await?)
    })
    .await?;
    Ok(rows
        .into_iter()
        .map(|(at_minute, actor, action, subject)| AuditEvent { at_minute, actor, action, subject })
        .collect())
}

pub(crate) async fn audit_count(
    pool: &Pool<Db>,
    action: &str,
    actor: Option<&str>,
    since: i64,
) -> Result<i64, StoreError> {
    run_tx("audit_count", || async {
        let n: i64 = match actor {
            Some(actor) => {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM audit_event \
                     WHERE action = $1 AND at_minute >= $2 AND actor = $3",
                )
                .bind(action)
                .bind(since)
                .bind(actor)
                .fetch_one(pool)
                .await?
            }
            None => {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM audit_event WHERE action = $1 AND at_minute >= $2",
                )
                .bind(action)
                .bind(since)
                .fetch_one(pool)
                .await?
            }
        };
        Ok(n)
    })
    .await
}

/// Rows per day of the statistics (`code_stats_shard`): writers spread over them.
pub(crate) const STATS_SHARDS: i64 = 16;

/// Adds `$3` issued and `$4` claimed codes to shard `$2` of day `$1`'s statistics.
pub(crate) const STATS_UPSERT: &str = "INSERT INTO code_stats_shard (day, shard, issued, claimed) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (day, shard) DO UPDATE SET \
     issued = code_stats_shard.issued + excluded.issued, \
     claimed = code_stats_shard.claimed + excluded.claimed";

pub(crate) async fn add_stats(
    pool: &Pool<Db>,
    day: i64,
    issued: i64,
    claimed: i64,
) -> Result<(), StoreError> {
    let shard = rand::random_range(0..STATS_SHARDS);
    run_tx("add_stats", || async {
        sqlx::query(STATS_UPSERT)
            .bind(day)
            .bind(shard)
            .bind(issued)
            .bind(claimed)
            .execute(pool)
            .await?;
        Ok(())
    })
    .await
}

pub(crate) async fn stats(pool: &Pool<Db>, first: i64) -> Result<Vec<DayStats>, StoreError> {
    let rows: Vec<(i64, i64, i64)> = run_tx("stats", || async {
        Ok(sqlx::query_as(
            "SELECT day, CAST(SUM(issued) AS BIGINT), CAST(SUM(claimed) AS BIGINT) \
             FROM code_stats_shard WHERE day >= $1 GROUP BY day ORDER BY day",
        )
        .bind(first)
        .fetch_all(pool)
        .await?)
    })
    .await?;
    Ok(rows.into_iter().map(|(day, issued, claimed)| DayStats { day, issued, claimed }).collect())
}
