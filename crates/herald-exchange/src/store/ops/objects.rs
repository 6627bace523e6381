//! Storing a POST, deleting, and status resources.

use std::collections::HashMap;

use herald_db::run_tx;
use herald_stix::timestamp::StixTime;
use herald_stix::tlp::Tlp;
use sha2::{Digest, Sha256};
use sqlx::{Pool, QueryBuilder};

use super::super::BEGIN_WRITE;
use super::audit::append_audit;
use super::read::push_selection;
use super::{Db, stored_tlp};
use crate::store::{
    AuditEntry, DeleteOutcome, Ingest, NewObject, ObjectQuery, Status, StatusEntry, StoreError,
};

type Conn = <Db as sqlx::Database>::Connection;

/// The TAXII text of a version.
fn version_text(us: i64) -> String {
    StixTime::from_micros(us).to_rfc3339_micros()
}

pub(crate) async fn ingest(pool: &Pool<Db>, post: &Ingest<'_>) -> Result<Status, StoreError> {
    run_tx("ingest", || async {
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        // The collection's row lock orders this POST's date_added after every committed one.
        let date_added: i64 = sqlx::query_scalar(
            "UPDATE collection SET last_added_us = CASE WHEN last_added_us + 1 > $2 \
             THEN last_added_us + 1 ELSE $2 END WHERE id = $1 RETURNING last_added_us",
        )
        .bind(post.collection)
        .bind(post.now_us)
        .fetch_one(&mut *tx)
        .await?;
        let mut batch: HashMap<&str, Tlp> = HashMap::new();
        for object in &post.objects {
            let tlp = batch.entry(object.object_id).or_insert(object.tlp);
            *tlp = (*tlp).max(object.tlp);
        }
        let mut entries = post.refused.clone();
        let mut digest = Sha256::new();
        for object in &post.objects {
            let entry = store_one(&mut tx, post, object, date_added, &batch).await?;
            if entry.ok {
                digest.update(format!(
                    "{}|{}\n",
                    entry.object_id,
                    entry.version.as_deref().unwrap_or("")
                ));
            }
            entries.push(entry);
        }
        entries.sort_by_key(|e| e.index);
        let status = Status {
            id: post.status_id.to_owned(),
            collection: post.collection.to_owned(),
            request_us: post.now_us,
            entries,
        };
        save_status(&mut tx, &status, post.author).await?;
        let stored = status.successes().filter(|e| e.message.is_none()).count();
        let present = status.successes().count() - stored;
        let refused = status.failures().count();
        let detail = format!(
            "status {}: {stored} stored, {present} already present, {refused} refused; \
             sha256 of id|version {}",
            status.id,
            hex::encode(digest.clone().finalize())
        );
        let entry = AuditEntry {
            at_us: post.now_us,
            actor_org: Some(post.author),
            action: "post".into(),
            subject: format!("collection {}", post.collection),
            detail,
        };
        append_audit(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(status)
    })
    .await
}

fn failure(object: &NewObject<'_>, version: Option<String>, message: String) -> StatusEntry {
    StatusEntry {
        index: object.index,
        object_id: object.object_id.to_owned(),
        version,
        ok: false,
        message: Some(message),
    }
}

async fn store_one(
    tx: &mut Conn,
    post: &Ingest<'_>,
    object: &NewObject<'_>,
    date_added: i64,
    batch: &HashMap<&str, Tlp>,
) -> Result<StatusEntry, sqlx::Error> {
    let version_us = object.version_us.unwrap_or(date_added);
    let version = Some(version_text(version_us));
    // The TLP reference rule, against this POST and everything the exchange holds.
    for reference in &object.refs {
        let stored: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(CAST(tlp AS BIGINT)) FROM stix_object WHERE object_id = $1",
        )
        .bind(*reference)
        .fetch_one(&mut *tx)
        .await?;
        let stored = stored.and_then(|code| stored_tlp(code).ok());
        let theirs = stored.max(batch.get(reference).copied());
        if let Some(theirs) = theirs
            && let Err(e) = herald_stix::tlp::check_refs(object.tlp, [(*reference, theirs)])
        {
            return Ok(failure(object, version, e.to_string()));
        }
    }
    let mut recipients = Vec::with_capacity(object.recipients.len());
    for identity in &object.recipients {
        let org: Option<i64> = sqlx::query_scalar("SELECT id FROM org WHERE identity_id = $1")
            .bind(*identity)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(org) = org else {
            let reason = format!("recipient {identity} is not an organisation of this exchange");
            return Ok(failure(object, version, reason));
        };
        recipients.push(org);
    }
    let present: i64 = if object.version_us.is_some() {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM stix_object WHERE collection_id = $1 AND object_id = $2 \
             AND version_us = $3",
        )
        .bind(post.collection)
        .bind(object.object_id)
        .bind(version_us)
        .fetch_one(&mut *tx)
        .await?
    } else {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM stix_object WHERE collection_id = $1 AND object_id = $2",
        )
        .bind(post.collection)
        .bind(object.object_id)
        .fetch_one(&mut *tx)
        .await?
    };
    if present > 0 {
        return Ok(StatusEntry {
            index: object.index,
            object_id: object.object_id.to_owned(),
            version,
            ok: true,
            message: Some("already present".into()),
        });
    }
    insert_version(tx, post, object, version_us, date_added, &recipients).await?;
    Ok(StatusEntry {
        index: object.index,
        object_id: object.object_id.to_owned(),
        version,
        ok: true,
        message: None,
    })
}

async fn insert_version(
    tx: &mut Conn,
    post: &Ingest<'_>,
    object: &NewObject<'_>,
    version_us: i64,
    date_added: i64,
    recipients: &[i64],
) -> Result<(), sqlx::Error> {
    let (newest, oldest): (Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT MAX(version_us), MIN(version_us) FROM stix_object \
         WHERE collection_id = $1 AND object_id = $2",
    )
    .bind(post.collection)
    .bind(object.object_id)
    .fetch_one(&mut *tx)
    .await?;
    let is_latest = newest.is_none_or(|n| version_us > n);
    let is_first = oldest.is_none_or(|o| version_us < o);
    for (flag, set) in [("is_latest", is_latest), ("is_first", is_first)] {
        if set && newest.is_some() {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE stix_object SET {flag} = FALSE \
                 WHERE collection_id = $1 AND object_id = $2 AND {flag} = TRUE"
            )))
            .bind(post.collection)
            .bind(object.object_id)
            .execute(&mut *tx)
            .await?;
        }
    }
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO stix_object (collection_id, object_id, type, version_us, declared, \
         spec_version, date_added_us, author_org, tlp, is_latest, is_first, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING seq",
    )
    .bind(post.collection)
    .bind(object.object_id)
    .bind(object.kind)
    .bind(version_us)
    .bind(object.version_us.is_some())
    .bind(object.spec_version)
    .bind(date_added)
    .bind(post.author)
    .bind(i16::from(object.tlp.code()))
    .bind(is_latest)
    .bind(is_first)
    .bind(object.body.as_bytes())
    .fetch_one(&mut *tx)
    .await?;
    for org in recipients {
        sqlx::query(
            "INSERT INTO object_recipient (seq, org_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(seq)
        .bind(*org)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

async fn save_status(tx: &mut Conn, status: &Status, org: i64) -> Result<(), sqlx::Error> {
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
