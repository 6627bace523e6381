//! Storing a POST, deleting, and status resources.

use herald_db::run_tx;
use herald_stix::timestamp::StixTime;
use sqlx::{Pool, QueryBuilder};

use super::super::BEGIN_WRITE;
use super::Db;
use super::audit::append_audit;
use super::read::push_selection;
use crate::store::{AuditEntry, DeleteOutcome, ObjectQuery, Status, StatusEntry, StoreError};

type Conn = <Db as sqlx::Database>::Connection;

/// The TAXII text of a version.
pub(super) fn version_text(us: i64) -> String {
    StixTime::from_micros(us).to_rfc3339_micros()
}

pub(super) async fn save_status(
    tx: &mut Conn,
    status: &Status,
    org: i64,
) -> Result<(), sqlx::Error> {
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    sqlx::query(
        "INSERT INTO status (id, collection_id, org_id, request_us, total, successes, failures) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&status.id)
    .bind(&status.collection)
    .bind(org)
    .bind(status.request_us)
    .bind(count(status.entries.len()))
    .bind(count(status.successes().count()))
    .bind(count(status.failures().count()))
    .execute(&mut *tx)
    .await?;
    for chunk in status.entries.chunks(500) {
        let mut q = QueryBuilder::<Db>::new(
            "INSERT INTO status_entry (status_id, ord, object_id, version, ok, message) ",
        );
        q.push_values(chunk, |mut row, entry| {
            row.push_bind(status.id.clone())
                .push_bind(count(entry.index))
                .push_bind(entry.object_id.clone())
                .push_bind(entry.version.clone())
                .push_bind(entry.ok)
                .push_bind(entry.message.clone());
        });
        q.build().execute(&mut *tx).await?;
    }
    Ok(())
}

type EntryColumns = (i64, String, Option<String>, bool, Option<String>);

pub(crate) async fn status(
    pool: &Pool<Db>,
    id: &str,
    org: i64,
) -> Result<Option<Status>, StoreError> {
    run_tx("status", || async {
        let head: Option<(String, i64)> = sqlx::query_as(
            "SELECT collection_id, request_us FROM status WHERE id = $1 AND org_id = $2",
        )
        .bind(id)
        .bind(org)
        .fetch_optional(pool)
        .await?;
        let Some((collection, request_us)) = head else { return Ok(None) };
        let rows: Vec<EntryColumns> = sqlx::query_as(
            "SELECT ord, object_id, version, ok, message FROM status_entry \
             WHERE status_id = $1 ORDER BY ord",
        )
        .bind(id)
        .fetch_all(pool)
        .await?;
        let entries = rows
            .into_iter()
            .map(|(ord, object_id, version, ok, message)| StatusEntry {
                index: usize::try_from(ord).unwrap_or(usize::MAX),
                object_id,
                version,
                ok,
                message,
            })
            .collect();
        Ok(Some(Status { id: id.to_owned(), collection, request_us, entries }))
    })
    .await
}

pub(crate) async fn delete(
    pool: &Pool<Db>,
    query: &ObjectQuery<'_>,
    now_us: i64,
) -> Result<DeleteOutcome, StoreError> {
    run_tx("delete", || async {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        let mut q = QueryBuilder::<Db>::new("SELECT o.seq, o.author_org FROM stix_object o");
        push_selection(&mut q, query);
        let rows: Vec<(i64, i64)> = q.build_query_as().fetch_all(&mut *tx).await?;
        if rows.is_empty() {
            return Ok(DeleteOutcome::NotFound);
        }
        if !query.reader.operator && rows.iter().any(|(_, author)| *author != query.reader.org) {
            return Ok(DeleteOutcome::NotAuthor);
        }
        for (seq, _) in &rows {
            sqlx::query("DELETE FROM object_recipient WHERE seq = $1").bind(*seq).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM stix_object WHERE seq = $1").bind(*seq).execute(&mut *tx).await?;
        }
        let object = query.object_id.unwrap_or_default();
        sqlx::query(
            "UPDATE stix_object SET \
             is_latest = (version_us = (SELECT MAX(v.version_us) FROM stix_object v \
                 WHERE v.collection_id = stix_object.collection_id AND v.object_id = stix_object.object_id)), \
             is_first = (version_us = (SELECT MIN(v.version_us) FROM stix_object v \
                 WHERE v.collection_id = stix_object.collection_id AND v.object_id = stix_object.object_id)) \
             WHERE collection_id = $1 AND object_id = $2",
        )
        .bind(query.collection)
        .bind(object)
        .execute(&mut *tx)
        .await?;
        let deleted = u64::try_from(rows.len()).unwrap_or(u64::MAX);
        let entry = AuditEntry {
            at_us: now_us,
            actor_org: Some(query.reader.org),
            action: "delete".into(),
            subject: format!("collection {} object {object}", query.collection),
            detail: format!("{deleted} versions"),
        };
        append_audit(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(DeleteOutcome::Deleted(deleted))
    })
    .await
}
