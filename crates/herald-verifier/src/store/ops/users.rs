//! The portal's users and sessions: credentials, lockout after failed logins, TOTP replay guard,
//! sessions by keyed hash.

use herald_db::{DbError, run_tx};
use sqlx::Pool;

use super::super::{BEGIN_WRITE, Db};
use crate::store::{Hash, NewUser, Role, StoreError, UserRow};

pub(super) const USER_COLUMNS: &str = "id, name, password_hash, totp_secret, role, failed_logins, \
     locked_until, disabled, password_change_required, last_totp_step";

#[derive(sqlx::FromRow)]
pub(super) struct UserColumns {
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

pub(super) async fn user_where(
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
pub(super) enum UserKey<'a> {
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
