//! Organisations, communities, API tokens, collections and grants.

use herald_db::{DbError, run_tx};
use sqlx::Pool;

use super::super::BEGIN_WRITE;
use super::Db;
use crate::store::{Collection, Grant, NewCollection, NewOrg, NewToken, Org, OrgKind, StoreError};

pub(super) type OrgColumns = (i64, String, String, String, bool);

pub(super) fn org_row((id, name, identity_id, kind, disabled): OrgColumns) -> Result<Org, DbError> {
    let kind =
        OrgKind::parse(&kind).ok_or_else(|| DbError::corrupt("org", "kind", &"unknown kind"))?;
    Ok(Org { id, name, identity_id, kind, disabled })
}

const ORG_COLUMNS: &str = "id, name, identity_id, kind, disabled";

/// The same columns of the organisation rows aliased `o`.
pub(super) const ORG_COLUMNS_O: &str = "o.id, o.name, o.identity_id, o.kind, o.disabled";

pub(crate) async fn add_org(pool: &Pool<Db>, org: &NewOrg) -> Result<Option<i64>, StoreError> {
    run_tx("add_org", || async {
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO org (name, identity_id, kind, disabled) VALUES ($1, $2, $3, FALSE) \
             ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(&org.name)
        .bind(&org.identity_id)
        .bind(org.kind.as_str())
        .fetch_optional(pool)
        .await?;
        Ok(id)
    })
    .await
}

pub(crate) async fn orgs(pool: &Pool<Db>) -> Result<Vec<Org>, StoreError> {
    let rows: Vec<OrgColumns> = run_tx("orgs", || async {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {ORG_COLUMNS} FROM org ORDER BY name"
        )))
        .fetch_all(pool)
        .await?)
    })
    .await?;
    rows.into_iter().map(org_row).collect()
}

pub(crate) async fn org_by_name(pool: &Pool<Db>, name: &str) -> Result<Option<Org>, StoreError> {
    let row: Option<OrgColumns> = run_tx("org_by_name", || async {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {ORG_COLUMNS} FROM org WHERE name = $1"
        )))
        .bind(name)
        .fetch_optional(pool)
        .await?)
    })
    .await?;
    row.map(org_row).transpose()
}

pub(crate) async fn set_org_disabled(
    pool: &Pool<Db>,
    name: &str,
    disabled: bool,
) -> Result<bool, StoreError> {
    run_tx("set_org_disabled", || async {
        let done = sqlx::query("UPDATE org SET disabled = $1 WHERE name = $2")
            .bind(disabled)
            .bind(name)
            .execute(pool)
            .await?;
        Ok(done.rows_affected() == 1)
    })
    .await
}

pub(crate) async fn join_community(
    pool: &Pool<Db>,
    community: &str,
    org: i64,
) -> Result<(), StoreError> {
    run_tx("join_community", || async {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        sqlx::query("INSERT INTO community (name) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(community)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO community_member (community_id, org_id) \
             SELECT id, $2 FROM community WHERE name = $1 ON CONFLICT DO NOTHING",
        )
        .bind(community)
        .bind(org)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    })
    .await
}

pub(crate) async fn add_token(pool: &Pool<Db>, token: &NewToken) -> Result<bool, StoreError> {
    run_tx("add_token", || async {
        let done = sqlx::query(
            "INSERT INTO api_token (hash, org_id, name, created_us, revoked) \
             VALUES ($1, $2, $3, $4, FALSE) ON CONFLICT DO NOTHING",
        )
        .bind(token.hash.to_vec())
        .bind(token.org)
        .bind(&token.name)
        .bind(token.created_us)
        .execute(pool)
        .await?;
        Ok(done.rows_affected() == 1)
    })
    .await
}

pub(crate) async fn org_by_token(
    pool: &Pool<Db>,
    hash: &[u8; 32],
) -> Result<Option<Org>, StoreError> {
    let row: Option<OrgColumns> = run_tx("org_by_token", || async {
        Ok(sqlx::query_as(
            "SELECT o.id, o.name, o.identity_id, o.kind, o.disabled FROM api_token t \
             JOIN org o ON o.id = t.org_id \
             WHERE t.hash = $1 AND t.revoked = FALSE AND o.disabled = FALSE",
        )
        .bind(hash.to_vec())
        .fetch_optional(pool)
        .await?)
    })
    .await?;
    row.map(org_row).transpose()
}

pub(crate) async fn revoke_token(
    pool: &Pool<Db>,
    org: i64,
    name: &str,
) -> Result<bool, StoreError> {
    run_tx("revoke_token", || async {
        let done =
            sqlx::query("UPDATE api_token SET revoked = TRUE WHERE org_id = $1 AND name = $2")
                .bind(org)
                .bind(name)
                .execute(pool)
                .await?;
        Ok(done.rows_affected() == 1)
    })
    .await
}

pub(crate) async fn add_collection(
    pool: &Pool<Db>,
    collection: &NewCollection,
) -> Result<bool, StoreError> {
    run_tx("add_collection", || async {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        let position: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(position), 0) + 1 FROM collection")
                .fetch_one(&mut *tx)
                .await?;
        let done = sqlx::query(
            "INSERT INTO collection (id, alias, title, description, position, last_added_us) \
             VALUES ($1, $2, $3, $4, $5, 0) ON CONFLICT DO NOTHING",
        )
        .bind(&collection.id)
        .bind(collection.alias.as_deref())
        .bind(&collection.title)
        .bind(collection.description.as_deref())
        .bind(position)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    })
    .await
}

pub(crate) async fn grant(
    pool: &Pool<Db>,
    collection: &str,
    org: i64,
    grant: Grant,
) -> Result<bool, StoreError> {
    run_tx("grant", || async {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM collection WHERE id = $1")
            .bind(collection)
            .fetch_one(&mut *tx)
            .await?;
        if exists == 0 {
            return Ok(false);
        }
        if grant.can_read || grant.can_write {
            sqlx::query(
                "INSERT INTO collection_grant (collection_id, org_id, can_read, can_write) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (collection_id, org_id) \
                 DO UPDATE SET can_read = excluded.can_read, can_write = excluded.can_write",
            )
            .bind(collection)
            .bind(org)
            .bind(grant.can_read)
            .bind(grant.can_write)
            .execute(&mut *tx)
            .await?;
        } else {
            sqlx::query("DELETE FROM collection_grant WHERE collection_id = $1 AND org_id = $2")
                .bind(collection)
                .bind(org)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    })
    .await
}

type CollectionColumns = (String, Option<String>, String, Option<String>, bool, bool);

fn collection_row(
    (id, alias, title, description, can_read, can_write): CollectionColumns,
) -> (Collection, Grant) {
    (Collection { id, alias, title, description }, Grant { can_read, can_write })
}

const COLLECTION_COLUMNS: &str = "c.id, c.alias, c.title, c.description, g.can_read, g.can_write \
     FROM collection c JOIN collection_grant g ON g.collection_id = c.id";

pub(crate) async fn collections_of(
    pool: &Pool<Db>,
    org: i64,
) -> Result<Vec<(Collection, Grant)>, StoreError> {
    let rows: Vec<CollectionColumns> = run_tx("collections_of", || async {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLLECTION_COLUMNS} WHERE g.org_id = $1 ORDER BY c.position"
        )))
        .bind(org)
        .fetch_all(pool)
        .await?)
    })
    .await?;
    Ok(rows.into_iter().map(collection_row).collect())
}

pub(crate) async fn collection_for(
    pool: &Pool<Db>,
    id_or_alias: &str,
    org: i64,
) -> Result<Option<(Collection, Grant)>, StoreError> {
    let row: Option<CollectionColumns> = run_tx("collection_for", || async {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLLECTION_COLUMNS} WHERE g.org_id = $1 AND (c.id = $2 OR c.alias = $2) \
             ORDER BY CASE WHEN c.id = $2 THEN 0 ELSE 1 END LIMIT 1"
        )))
        .bind(org)
        .bind(id_or_alias)
        .fetch_optional(pool)
        .await?)
    })
    .await?;
    Ok(row.map(collection_row))
}

pub(crate) async fn collection_by_alias(
    pool: &Pool<Db>,
    alias: &str,
) -> Result<Option<String>, StoreError> {
    run_tx("collection_by_alias", || async {
        Ok(sqlx::query_scalar("SELECT id FROM collection WHERE alias = $1")
            .bind(alias)
            .fetch_optional(pool)
            .await?)
    })
    .await
}

pub(crate) async fn org_by_identity(
    pool: &Pool<Db>,
    identity: &str,
) -> Result<Option<String>, StoreError> {
    run_tx("org_by_identity", || async {
        Ok(sqlx::query_scalar("SELECT name FROM org WHERE identity_id = $1")
            .bind(identity)
            .fetch_optional(pool)
            .await?)
    })
    .await
}
