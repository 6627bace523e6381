//! The store's queries and transactions, compiled once per backend (see `store/mod.rs`).
//!
//! Every operation runs through [`run_tx`]. Nothing here logs a hash.

use herald_db::{DbError, run_tx};
use herald_model::Date;
use herald_wire::verification::TestType;
use sqlx::Pool;

use super::{BEGIN_WRITE, Db};
use crate::store::{
    ApiKeyInfo, ApiKeyKind, ApiKeyRow, ClaimOutcome, CodeRow, Hash, InsertOutcome, NewCode,
    StoreError,
};

mod audit;
mod users;

pub(crate) use audit::{
    STATS_SHARDS, STATS_UPSERT, add_stats, audit, audit_count, audit_events, stats,
};
pub(crate) use users::{
    add_session, add_user, delete_session, login_failed, login_succeeded, session_user,
    set_password, set_user_disabled, unlock_user, user, users,
};

const CODE_COLUMNS: &str = "uuid, test_type, symptom_day, test_day, short_expires_at, \
     long_expires_at, claimed";

#[derive(sqlx::FromRow)]
struct CodeColumns {
    uuid: String,
    test_type: String,
    symptom_day: Option<i64>,
    test_day: Option<i64>,
    short_expires_at: i64,
    long_expires_at: i64,
    claimed: bool,
}

/// A stored day number (days since 1970-01-01) as a date.
fn stored_day(column: &'static str, day: Option<i64>) -> Result<Option<Date>, DbError> {
    day.map(|day| {
        Date::from_utc_day(day)
            .ok_or_else(|| DbError::corrupt("verification_code", column, &"day out of range"))
    })
    .transpose()
}

impl CodeColumns {
    fn into_row(self) -> Result<CodeRow, DbError> {
        let test_type = TestType::parse(&self.test_type).ok_or_else(|| {
            DbError::corrupt("verification_code", "test_type", &"unknown test type")
        })?;
        Ok(CodeRow {
            uuid: self.uuid,
            test_type,
            symptom_day: stored_day("symptom_day", self.symptom_day)?,
            test_day: stored_day("test_day", self.test_day)?,
            short_expires_at: self.short_expires_at,
            long_expires_at: self.long_expires_at,
            claimed: self.claimed,
        })
    }
}

pub(crate) async fn add_api_key(
    pool: &Pool<Db>,
    hash: &Hash,
    name: &str,
    kind: ApiKeyKind,
    created_at: i64,
) -> Result<bool, StoreError> {
    run_tx("add_api_key", || async {
        let done = sqlx::query(
            "INSERT INTO api_key (hash, name, kind, created_at, revoked) \
             VALUES ($1, $2, $3, $4, FALSE) ON CONFLICT DO NOTHING",
        )
        .bind(hash.to_vec())
        .bind(name)
        .bind(kind.as_str())
        .bind(created_at)
        .execute(pool)
        .await?;
        Ok(done.rows_affected() == 1)
    })
    .await
}

pub(crate) async fn api_key(pool: &Pool<Db>, hash: &Hash) -> Result<Option<ApiKeyRow>, StoreError> {
    let row: Option<(Vec<u8>, String, String, bool)> = run_tx("api_key", || async {
        Ok(sqlx::query_as("SELECT hash, name, kind, revoked FROM api_key WHERE hash = $1")
            .bind(hash.to_vec())
            .fetch_optional(pool)
            .await?)
    })
    .await?;
    row.map(|(stored, name, kind, revoked)| {
        let kind = ApiKeyKind::parse(&kind)
            .ok_or_else(|| DbError::corrupt("api_key", "kind", &"unknown kind"))?;
        let hash = Hash::try_from(stored.as_slice())
            .map_err(|_| DbError::corrupt("api_key", "hash", &"not 32 bytes"))?;
        Ok(ApiKeyRow { hash, name, kind, revoked })
    })
    .transpose()
}

pub(crate) async fn revoke_api_key(pool: &Pool<Db>, name: &str) -> Result<bool, StoreError> {
    run_tx("revoke_api_key", || async {
        let done = sqlx::query("UPDATE api_key SET revoked = TRUE WHERE name = $1")
            .bind(name)
            .execute(pool)
            .await?;
        Ok(done.rows_affected() > 0)
    })
    .await
}

pub(crate) async fn insert_code(
    pool: &Pool<Db>,
    code: &NewCode,
) -> Result<InsertOutcome, StoreError> {
    run_tx("insert_code", || async {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        let uuid_taken: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM verification_code WHERE uuid = $1")
                .bind(&code.uuid)
                .fetch_one(&mut *tx)
                .await?;
        if uuid_taken > 0 {
            return Ok(InsertOutcome::UuidExists);
        }
        let collisions: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM verification_code WHERE short_hash = $1 OR long_hash = $2 \
             OR short_hash = $2 OR long_hash = $1",
        )
        .bind(code.short_hash.to_vec())
        .bind(code.long_hash.to_vec())
        .fetch_one(&mut *tx)
        .await?;
        if collisions > 0 {
            return Ok(InsertOutcome::Collision);
        }
        sqlx::query(
            "INSERT INTO verification_code (uuid, short_hash, long_hash, test_type, symptom_day, \
             test_day, issuer, external_issuer_id, short_expires_at, long_expires_at, claimed) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, FALSE)",
        )
        .bind(&code.uuid)
        .bind(code.short_hash.to_vec())
        .bind(code.long_hash.to_vec())
        .bind(code.test_type.as_str())
        .bind(code.symptom_day.map(Date::utc_day))
        .bind(code.test_day.map(Date::utc_day))
        .bind(&code.issuer)
        .bind(code.external_issuer_id.as_deref())
        .bind(code.short_expires_at)
        .bind(code.long_expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(InsertOutcome::Inserted)
    })
    .await
}

pub(crate) async fn claim_code(
    pool: &Pool<Db>,
    hashes: &[Hash],
    accept: &[TestType],
    now: i64,
) -> Result<ClaimOutcome, StoreError> {
    run_tx("claim_code", || async {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        for hash in hashes {
            let found: Option<(i64, Vec<u8>)> = sqlx::query_as(
                "SELECT id, short_hash FROM verification_code \
                 WHERE short_hash = $1 OR long_hash = $1",
            )
            .bind(hash.to_vec())
            .fetch_optional(&mut *tx)
            .await?;
            let Some((id, short_hash)) = found else { continue };
            let row: CodeColumns = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {CODE_COLUMNS} FROM verification_code WHERE id = $1"
            )))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            let row = row.into_row()?;
            if row.claimed {
                return Ok(ClaimOutcome::AlreadyClaimed);
            }
            let expires_at = if short_hash == hash.as_slice() {
                row.short_expires_at
            } else {
                row.long_expires_at
            };
            if now >= expires_at {
                return Ok(ClaimOutcome::Expired);
            }
            if !accept.contains(&row.test_type) {
                return Ok(ClaimOutcome::Unsupported(row.test_type));
            }
            let done = sqlx::query(
                "UPDATE verification_code SET claimed = TRUE WHERE id = $1 AND claimed = FALSE",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() != 1 {
                return Ok(ClaimOutcome::AlreadyClaimed);
            }
            // The day's statistics count the claim in the same commit (one commit per
            // verification instead of two: on PostgreSQL each is a WAL flush).
            sqlx::query(STATS_UPSERT)
                .bind(now.div_euclid(86_400))
                .bind(id.rem_euclid(STATS_SHARDS))
                .bind(0_i64)
                .bind(1_i64)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(ClaimOutcome::Claimed(CodeRow { claimed: true, ..row }));
        }
        Ok(ClaimOutcome::NotFound)
    })
    .await
}

pub(crate) async fn code_status(
    pool: &Pool<Db>,
    uuid: &str,
) -> Result<Option<CodeRow>, StoreError> {
    let row: Option<CodeColumns> = run_tx("code_status", || async {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {CODE_COLUMNS} FROM verification_code WHERE uuid = $1"
        )))
        .bind(uuid)
        .fetch_optional(pool)
        .await?)
    })
    .await?;
    row.map(CodeColumns::into_row).transpose()
}

pub(crate) async fn expire_code(
    pool: &Pool<Db>,
    uuid: &str,
    now: i64,
) -> Result<Option<CodeRow>, StoreError> {
    let row: Option<CodeColumns> = run_tx("expire_code", || async {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        sqlx::query(
            "UPDATE verification_code SET \
             short_expires_at = CASE WHEN short_expires_at > $2 THEN $2 ELSE short_expires_at END, \
             long_expires_at = CASE WHEN long_expires_at > $2 THEN $2 ELSE long_expires_at END \
             WHERE uuid = $1",
        )
        .bind(uuid)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {CODE_COLUMNS} FROM verification_code WHERE uuid = $1"
        )))
        .bind(uuid)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(row)
    })
    .await?;
    row.map(CodeColumns::into_row).transpose()
}

pub(crate) async fn use_token(
    pool: &Pool<Db>,
    hash: &Hash,
    expires_at: i64,
) -> Result<bool, StoreError> {
    run_tx("use_token", || async {
        let done = sqlx::query(
            "INSERT INTO used_token (hash, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(hash.to_vec())
        .bind(expires_at)
        .execute(pool)
        .await?;
        Ok(done.rows_affected() == 1)
    })
    .await
}

pub(crate) async fn purge(
    pool: &Pool<Db>,
    cutoff: i64,
    now: i64,
) -> Result<(u64, u64), StoreError> {
    run_tx("purge", || async {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        let codes = sqlx::query(
            "DELETE FROM verification_code WHERE long_expires_at < $1 AND short_expires_at < $1",
        )
        .bind(cutoff)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let tokens = sqlx::query("DELETE FROM used_token WHERE expires_at < $1")
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok((codes, tokens))
    })
    .await
}

pub(crate) async fn list_api_keys(pool: &Pool<Db>) -> Result<Vec<ApiKeyInfo>, StoreError> {
    let rows: Vec<(String, String, bool)> = run_tx("list_api_keys", || async {
        Ok(sqlx::query_as("SELECT name, kind, revoked FROM api_key ORDER BY name")
            .fetch_all(pool)
            .await?)
    })
    .await?;
    rows.into_iter()
        .map(|(name, kind, revoked)| {
            let kind = ApiKeyKind::parse(&kind)
                .ok_or_else(|| DbError::corrupt("api_key", "kind", &"unknown kind"))?;
            Ok(ApiKeyInfo { name, kind, revoked })
        })
        .collect()
}
