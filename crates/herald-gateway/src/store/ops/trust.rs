//! The trust list's rows (§4): put (which is also how the operator revokes: a re-signed row),
//! list, look up.

use herald_model::CertThumbprint;
use sqlx::Pool;

use super::super::Db;
use super::run_tx;
use crate::store::rows::{self, TrustColumns};
use crate::store::{StoreError, TrustRow};

// --- trust list ---------------------------------------------------------------------------------

pub(crate) async fn put_trust_entry(pool: &Pool<Db>, entry: &TrustRow) -> Result<(), StoreError> {
    run_tx("put_trust_entry", || async {
        sqlx::query(
            "INSERT INTO trust_entry (thumbprint, country, kind, certificate_pem, \
             operator_signature, revoked, host, created_at, entry_signature) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (thumbprint) DO UPDATE SET country = excluded.country, \
             kind = excluded.kind, certificate_pem = excluded.certificate_pem, \
             operator_signature = excluded.operator_signature, revoked = excluded.revoked, \
             host = excluded.host, created_at = excluded.created_at, \
             entry_signature = excluded.entry_signature",
        )
        .bind(entry.thumbprint.to_hex())
        .bind(entry.country.as_str())
        .bind(entry.kind.as_str())
        .bind(entry.certificate_pem.as_str())
        .bind(entry.operator_signature.as_str())
        .bind(entry.revoked)
        .bind(entry.host.as_deref())
        .bind(entry.created_at.seconds())
        .bind(entry.entry_signature.as_deref())
        .execute(pool)
        .await?;
        Ok(())
    })
    .await
}

pub(crate) async fn trust_entries(pool: &Pool<Db>) -> Result<Vec<TrustRow>, StoreError> {
    let rows: Vec<TrustColumns> = run_tx("trust_entries", || async {
        Ok(sqlx::query_as(
            "SELECT thumbprint, country, kind, certificate_pem, operator_signature, revoked, \
             host, created_at, entry_signature FROM trust_entry ORDER BY country, kind, thumbprint",
        )
        .fetch_all(pool)
        .await?)
    })
    .await?;
    rows.into_iter().map(rows::trust_from_row).collect()
}

pub(crate) async fn trust_entry(
    pool: &Pool<Db>,
    thumbprint: &CertThumbprint,
) -> Result<Option<TrustRow>, StoreError> {
    let hex = thumbprint.to_hex();
    let row: Option<TrustColumns> = run_tx("trust_entry", || async {
        Ok(sqlx::query_as(
            "SELECT thumbprint, country, kind, certificate_pem, operator_signature, revoked, \
             host, created_at, entry_signature FROM trust_entry WHERE thumbprint = $1",
        )
        .bind(hex.as_str())
        .fetch_optional(pool)
        .await?)
    })
    .await?;
    row.map(rows::trust_from_row).transpose()
}
