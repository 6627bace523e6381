//! The store's queries and transactions, compiled once per backend (see `store/mod.rs`).
//!
//! Every operation runs through [`run_tx`]. Nothing here logs a hash.

use herald_db::{DbError, run_tx};
use herald_model::Date;
use herald_wire::verification::TestType;
use sqlx::Pool;

use super::{BEGIN_WRITE, Db};
use crate::store::{
    ApiKeyInfo, ApiKeyKind, ApiKeyRow, AuditRow, ClaimOutcome, CodeRow, DayStats, Hash,
    InsertOutcome, NewCode, NewUser, Role, StoreError, UserRow,
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

const USER_COLUMNS: &str = "id, name, password_hash, totp_secret, role, failed_logins, \
     locked_until, disabled, password_change_required, last_totp_step";

#[derive(sqlx::FromRow)]
struct UserColumns {
    id: i64,
    name: String,
    password_hash: String,
    totp_secret: Vec<u8>,
    role: String,
    failed_logins: i64,
    locked_until: Option<i64>,
    disabled: bool,
    password_change_required: bool,
    last_totp_step: i64,
}

impl UserColumns {
    fn into_row(self) -> Result<UserRow, DbError> {
        let role = Role::parse(&self.role)
            .ok_or_else(|| DbError::corrupt("portal_user", "role", &"unknown role"))?;
        Ok(UserRow {
            id: self.id,
            name: self.name,
            password_hash: self.password_hash,
            totp_secret: self.totp_secret,
            role,
            failed_logins: self.failed_logins,
            locked_until: self.locked_until,
            disabled: self.disabled,
            password_change_required: self.password_change_required,
            last_totp_step: self.last_totp_step,
        })
    }
}

pub(crate) async fn add_user(pool: &Pool<Db>, user: &NewUser) -> Result<bool, StoreError> {
    run_tx("add_user", || async {
        let done = sqlx::query(
            "INSERT INTO portal_user (name, password_hash, totp_secret, role) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(&user.name)
        .bind(&user.password_hash)
        .bind(&user.totp_secret)
        .bind(user.role.as_str())
        .execute(pool)
        .await?;
        Ok(done.rows_affected() == 1)
    })
    .await
}

async fn user_where(
    pool: &Pool<Db>,
    name: &'static str,
    condition: &str,
    key: UserKey<'_>,
) -> Result<Option<UserRow>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM portal_user WHERE {condition}");
    let row: Option<UserColumns> = run_tx(name, || async {
        let query = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()));
        let query = match key {
            UserKey::Name(n) => query.bind(n.to_owned()),
            UserKey::Id(id) => query.bind(id),
        };
        Ok(query.fetch_optional(pool).await?)
    })
    .await?;
    row.map(UserColumns::into_row).transpose()
}

#[derive(Clone, Copy)]
enum UserKey<'a> {
    Name(&'a str),
    Id(i64),
}

pub(crate) async fn user(pool: &Pool<Db>, name: &str) -> Result<Option<UserRow>, StoreError> {
    user_where(pool, "user", "name = $1", UserKey::Name(name)).await
}

pub(crate) async fn users(pool: &Pool<Db>) -> Result<Vec<UserRow>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM portal_user ORDER BY name");
    let rows: Vec<UserColumns> = run_tx("users", || async {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).fetch_all(pool).await?)
    })
    .await?;
    rows.into_iter().map(UserColumns::into_row).collect()
}

pub(crate) async fn login_failed(
    pool: &Pool<Db>,
    id: i64,
    limit: i64,
    lock_until: i64,
) -> Result<Option<UserRow>, StoreError> {
    run_tx("login_failed", || async {
        sqlx::query(
            "UPDATE portal_user SET failed_logins = failed_logins + 1, \
             locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3 ELSE locked_until END \
             WHERE id = $1",
        )
        .bind(id)
        .bind(limit)
        .bind(lock_until)
        .execute(pool)
        .await?;
        Ok(())
    })
    .await?;
    user_where(pool, "login_failed", "id = $1", UserKey::Id(id)).await
}

pub(crate) async fn login_succeeded(
    pool: &Pool<Db>,
    id: i64,
    step: i64,
) -> Result<bool, StoreError> {
    run_tx("login_succeeded", || async {
        let done = sqlx::query(
            "UPDATE portal_user SET failed_logins = 0, last_totp_step = $2 \
             WHERE id = $1 AND last_totp_step < $2",
        )
        .bind(id)
        .bind(step)
        .execute(pool)
        .await?;
        Ok(done.rows_affected() == 1)
    })
    .await
}

pub(crate) async fn unlock_user(pool: &Pool<Db>, name: &str) -> Result<bool, StoreError> {
    run_tx("unlock_user", || async {
        let done = sqlx::query(
            "UPDATE portal_user SET failed_logins = 0, locked_until = NULL WHERE name = $1",
        )
        .bind(name)
        .execute(pool)
        .await?;
        Ok(done.rows_affected() > 0)
    })
    .await
}

pub(crate) async fn set_user_disabled(
    pool: &Pool<Db>,
    name: &str,
    disabled: bool,
) -> Result<bool, StoreError> {
    run_tx("set_user_disabled", || async {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        let done = sqlx::query("UPDATE portal_user SET disabled = $2 WHERE name = $1")
            .bind(name)
            .bind(disabled)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "DELETE FROM portal_session WHERE user_id IN \
             (SELECT id FROM portal_user WHERE name = $1 AND disabled)",
        )
        .bind(name)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    })
    .await
}

pub(crate) async fn set_password(
    pool: &Pool<Db>,
    id: i64,
    password_hash: &str,
    change_required: bool,
) -> Result<(), StoreError> {
    run_tx("set_password", || async {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        sqlx::query(
            "UPDATE portal_user SET password_hash = $2, password_change_required = $3 \
             WHERE id = $1",
        )
        .bind(id)
        .bind(password_hash)
        .bind(change_required)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM portal_session WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    })
    .await
}

pub(crate) async fn add_session(
    pool: &Pool<Db>,
    hash: &Hash,
    user_id: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    run_tx("add_session", || async {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        sqlx::query("DELETE FROM portal_session WHERE expires_at <= $1")
            .bind(expires_at - 86_400 * 7)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO portal_session (hash, user_id, expires_at) VALUES ($1, $2, $3)")
            .bind(hash.to_vec())
            .bind(user_id)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    })
    .await
}

pub(crate) async fn session_user(
    pool: &Pool<Db>,
    hash: &Hash,
    now: i64,
) -> Result<Option<UserRow>, StoreError> {
    let sql = format!(
        "SELECT {} FROM portal_user u JOIN portal_session s ON s.user_id = u.id \
         WHERE s.hash = $1 AND s.expires_at > $2 AND NOT u.disabled",
        USER_COLUMNS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ")
    );
    let row: Option<UserColumns> = run_tx("session_user", || async {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(hash.to_vec())
            .bind(now)
            .fetch_optional(pool)
            .await?)
    })
    .await?;
    row.map(UserColumns::into_row).transpose()
}

pub(crate) async fn delete_session(pool: &Pool<Db>, hash: &Hash) -> Result<(), StoreError> {
    run_tx("delete_session", || async {
        sqlx::query("DELETE FROM portal_session WHERE hash = $1")
            .bind(hash.to_vec())
            .execute(pool)
            .await?;
        Ok(())
    })
    .await
}

pub(crate) async fn audit(pool: &Pool<Db>, event: &AuditRow) -> Result<(), StoreError> {
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

pub(crate) async fn audit_events(pool: &Pool<Db>, limit: i64) -> Result<Vec<AuditRow>, StoreError> {
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
        .map(|(at_minute, actor, action, subject)| AuditRow { at_minute, actor, action, subject })
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

pub(crate) async fn add_stats(
    pool: &Pool<Db>,
    day: i64,
    issued: i64,
    claimed: i64,
) -> Result<(), StoreError> {
    run_tx("add_stats", || async {
        sqlx::query(
            "INSERT INTO code_stats (day, issued, claimed) VALUES ($1, $2, $3) \
             ON CONFLICT (day) DO UPDATE SET issued = code_stats.issued + excluded.issued, \
             claimed = code_stats.claimed + excluded.claimed",
        )
        .bind(day)
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
            "SELECT day, issued, claimed FROM code_stats WHERE day >= $1 ORDER BY day",
        )
        .bind(first)
        .fetch_all(pool)
        .await?)
    })
    .await?;
    Ok(rows.into_iter().map(|(day, issued, claimed)| DayStats { day, issued, claimed }).collect())
}
