//! mTLS client certificates registered to organisations, and the listing of API tokens.

use herald_db::run_tx;
use sqlx::Pool;

use super::Db;
use super::orgs::{ORG_COLUMNS_O, OrgColumns, org_row};
use crate::store::{ClientCert, NewClientCert, Org, StoreError, TokenInfo};

pub(crate) async fn add_client_cert(
    pool: &Pool<Db>,
    cert: &NewClientCert,
) -> Result<bool, StoreError> {
    run_tx("add_client_cert", || async {
        let done = sqlx::query(
            "INSERT INTO client_cert (thumbprint, org_id, subject, created_us) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(cert.thumbprint.to_vec())
        .bind(cert.org)
        .bind(&cert.subject)
        .bind(cert.created_us)
        .execute(pool)
        .await?;
        Ok(done.rows_affected() == 1)
    })
    .await
}

pub(crate) async fn remove_client_cert(
    pool: &Pool<Db>,
    org: i64,
    thumbprint: &[u8; 32],
) -> Result<bool, StoreError> {
    run_tx("remove_client_cert", || async {
        let done = sqlx::query("DELETE FROM client_cert WHERE org_id = $1 AND thumbprint = $2")
            .bind(org)
            .bind(thumbprint.to_vec())
            .execute(pool)
            .await?;
        Ok(done.rows_affected() == 1)
    })
    .await
}

pub(crate) async fn client_certs(pool: &Pool<Db>, org: i64) -> Result<Vec<ClientCert>, StoreError> {
    let rows: Vec<(Vec<u8>, String, i64)> = run_tx("client_certs", || async {
        Ok(sqlx::query_as(
            "SELECT thumbprint, subject, created_us FROM client_cert WHERE org_id = $1 \
             ORDER BY created_us, thumbprint",
        )
        .bind(org)
        .fetch_all(pool)
        .await?)
    })
    .await?;
    rows.into_iter()
        .map(|(thumbprint, subject, created_us)| {
            let thumbprint = <[u8; 32]>::try_from(thumbprint).map_err(|_| {
                herald_db::DbError::corrupt("client_cert", "thumbprint", &"not 32 bytes")
            })?;
            Ok(ClientCert { thumbprint, subject, created_us })
        })
        .collect()
}

pub(crate) async fn org_by_cert(
    pool: &Pool<Db>,
    thumbprint: &[u8; 32],
) -> Result<Option<Org>, StoreError> {
    let row: Option<OrgColumns> = run_tx("org_by_cert", || async {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {ORG_COLUMNS_O} FROM client_cert c JOIN org o ON o.id = c.org_id \
             WHERE c.thumbprint = $1 AND o.disabled = FALSE"
        )))
        .bind(thumbprint.to_vec())
        .fetch_optional(pool)
        .await?)
    })
    .await?;
    row.map(org_row).transpose()
}

pub(crate) async fn tokens_of(pool: &Pool<Db>, org: i64) -> Result<Vec<TokenInfo>, StoreError> {
    let rows: Vec<(String, i64, bool)> = run_tx("tokens_of", || async {
        Ok(sqlx::query_as(
            "SELECT name, created_us, revoked FROM api_token WHERE org_id = $1 ORDER BY name",
        )
        .bind(org)
        .fetch_all(pool)
        .await?)
    })
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, created_us, revoked)| TokenInfo { name, created_us, revoked })
        .collect())
}
