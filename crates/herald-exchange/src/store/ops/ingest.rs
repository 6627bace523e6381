//! Storing a POST in one transaction, with a few statements per [`CHUNK`] objects rather than
//! several per object: what is known about the POST's ids, references and recipients is read
//! in bulk first, every object's outcome and version flags are decided in memory, then the new
//! rows go in with multi-row INSERTs, in POST order.

use std::collections::{HashMap, HashSet};

use herald_db::run_tx;
use herald_stix::tlp::Tlp;
use sha2::{Digest, Sha256};
use sqlx::{Pool, QueryBuilder};

use super::super::BEGIN_WRITE;
use super::audit::append_audit;
use super::objects::{save_status, version_text};
use super::{Db, stored_tlp};
use crate::store::{AuditEntry, Ingest, NewObject, Status, StatusEntry, StoreError};

type Conn = <Db as sqlx::Database>::Connection;

/// Ids per bulk lookup and rows per INSERT (12 parameters a row, far below both backends'
/// limits).
const CHUNK: usize = 400;

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
        let known = Known::load(&mut tx, post).await?;
        let plan = plan(post, date_added, known);
        for (flag, ids) in [("is_latest", &plan.clear_latest), ("is_first", &plan.clear_first)] {
            clear_flag(&mut tx, post.collection, flag, ids).await?;
        }
        insert_rows(&mut tx, post, date_added, &plan.rows).await?;
        let mut entries = plan.entries;
        entries.extend(post.refused.iter().cloned());
        entries.sort_by_key(|e| e.index);
        let status = Status {
            id: post.status_id.to_owned(),
            collection: post.collection.to_owned(),
            request_us: post.now_us,
            entries,
        };
        save_status(&mut tx, &status, post.author).await?;
        append_audit(&mut tx, &audit_entry(post, &status)).await?;
        tx.commit().await?;
        Ok(status)
    })
    .await
}

/// The audit entry of a POST: counts, and a digest of what was stored or found present.
fn audit_entry(post: &Ingest<'_>, status: &Status) -> AuditEntry {
    let mut digest = Sha256::new();
    for entry in status.successes() {
        digest.update(format!("{}|{}\n", entry.object_id, entry.version.as_deref().unwrap_or("")));
    }
    let stored = status.successes().filter(|e| e.message.is_none()).count();
    let present = status.successes().count() - stored;
    let refused = status.failures().count();
    AuditEntry {
        at_us: post.now_us,
        actor_org: Some(post.author),
        action: "post".into(),
        subject: format!("collection {}", post.collection),
        detail: format!(
            "status {}: {stored} stored, {present} already present, {refused} refused; \
             sha256 of id|version {}",
            status.id,
            hex::encode(digest.finalize())
        ),
    }
}

/// What the store holds about the POST's objects, references and recipients.
struct Known {
    /// The highest TLP stored under each referenced id (any collection).
    ref_tlp: HashMap<String, Tlp>,
    /// Organisation ids by STIX identity, for the recipients named.
    recipients: HashMap<String, i64>,
    /// The stored versions of each posted id in this collection.
    versions: HashMap<String, Vec<i64>>,
}

fn distinct<'a>(ids: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = HashSet::new();
    ids.filter(|id| seen.insert(*id)).collect()
}

impl Known {
    async fn load(tx: &mut Conn, post: &Ingest<'_>) -> Result<Self, sqlx::Error> {
        let mut known =
            Self { ref_tlp: HashMap::new(), recipients: HashMap::new(), versions: HashMap::new() };
        let refs = distinct(post.objects.iter().flat_map(|o| o.refs.iter().copied()));
        for chunk in refs.chunks(CHUNK) {
            let mut q = QueryBuilder::<Db>::new(
                "SELECT object_id, MAX(CAST(tlp AS BIGINT)) FROM stix_object WHERE object_id IN (",
            );
            push_list(&mut q, chunk);
            q.push(") GROUP BY object_id");
            let rows: Vec<(String, i64)> = q.build_query_as().fetch_all(&mut *tx).await?;
            for (id, code) in rows {
                let tlp = stored_tlp(code).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
                known.ref_tlp.insert(id, tlp);
            }
        }
        let named = distinct(post.objects.iter().flat_map(|o| o.recipients.iter().copied()));
        for chunk in named.chunks(CHUNK) {
            let mut q =
                QueryBuilder::<Db>::new("SELECT identity_id, id FROM org WHERE identity_id IN (");
            push_list(&mut q, chunk);
            q.push(")");
            let rows: Vec<(String, i64)> = q.build_query_as().fetch_all(&mut *tx).await?;
            known.recipients.extend(rows);
        }
        let ids = distinct(post.objects.iter().map(|o| o.object_id));
        for chunk in ids.chunks(CHUNK) {
            let mut q = QueryBuilder::<Db>::new(
                "SELECT object_id, version_us FROM stix_object WHERE collection_id = ",
            );
            q.push_bind(post.collection.to_owned()).push(" AND object_id IN (");
            push_list(&mut q, chunk);
            q.push(")");
            let rows: Vec<(String, i64)> = q.build_query_as().fetch_all(&mut *tx).await?;
            for (id, version) in rows {
                known.versions.entry(id).or_default().push(version);
            }
        }
        Ok(known)
    }
}

fn push_list(q: &mut QueryBuilder<Db>, values: &[&str]) {
    let mut list = q.separated(", ");
    for value in values {
        list.push_bind((*value).to_owned());
    }
}

/// A version to insert.
struct Row<'p, 'a> {
    object: &'p NewObject<'a>,
    version_us: i64,
    recipients: Vec<i64>,
    is_latest: bool,
    is_first: bool,
}

/// Every object's outcome, the rows to insert, and the ids whose stored rows lose a flag.
struct Plan<'p, 'a> {
    entries: Vec<StatusEntry>,
    rows: Vec<Row<'p, 'a>>,
    clear_latest: Vec<String>,
    clear_first: Vec<String>,
}

fn entry(
    object: &NewObject<'_>,
    version: String,
    ok: bool,
    message: Option<String>,
) -> StatusEntry {
    StatusEntry {
        index: object.index,
        object_id: object.object_id.to_owned(),
        version: Some(version),
        ok,
        message,
    }
}

/// Decides each object in POST order, as if they were stored one after the other: the TLP
/// reference rule (against the store and this POST), the recipients, and whether the version
/// is already present (stored, or earlier in this POST).
fn plan<'p, 'a>(post: &'p Ingest<'a>, date_added: i64, mut known: Known) -> Plan<'p, 'a> {
    let mut in_post: HashMap<&str, Tlp> = HashMap::new();
    for object in &post.objects {
        let tlp = in_post.entry(object.object_id).or_insert(object.tlp);
        *tlp = (*tlp).max(object.tlp);
    }
    // Per id, the versions this POST adds and their rows.
    let mut added: HashMap<&str, Vec<(i64, usize)>> = HashMap::new();
    let mut entries = Vec::with_capacity(post.objects.len());
    let mut rows = Vec::with_capacity(post.objects.len());
    'objects: for object in &post.objects {
        let version_us = object.version_us.unwrap_or(date_added);
        let version = version_text(version_us);
        for reference in &object.refs {
            let stored = known.ref_tlp.get(*reference).copied();
            let theirs = stored.max(in_post.get(reference).copied());
            if let Some(theirs) = theirs
                && let Err(e) = herald_stix::tlp::check_refs(object.tlp, [(*reference, theirs)])
            {
                entries.push(entry(object, version, false, Some(e.to_string())));
                continue 'objects;
            }
        }
        let mut recipients = Vec::with_capacity(object.recipients.len());
        for identity in &object.recipients {
            let Some(org) = known.recipients.get(*identity) else {
                let reason =
                    format!("recipient {identity} is not an organisation of this exchange");
                entries.push(entry(object, version, false, Some(reason)));
                continue 'objects;
            };
            recipients.push(*org);
        }
        let stored = known.versions.get(object.object_id).map_or(&[][..], Vec::as_slice);
        let earlier = added.get(object.object_id).map_or(&[][..], Vec::as_slice);
        let present = if object.version_us.is_some() {
            stored.contains(&version_us) || earlier.iter().any(|(v, _)| *v == version_us)
        } else {
            !stored.is_empty() || !earlier.is_empty()
        };
        if present {
            entries.push(entry(object, version, true, Some("already present".into())));
            continue;
        }
        added.entry(object.object_id).or_default().push((version_us, rows.len()));
        rows.push(Row { object, version_us, recipients, is_latest: false, is_first: false });
        entries.push(entry(object, version, true, None));
    }
    let (mut clear_latest, mut clear_first) = (Vec::new(), Vec::new());
    for (id, new) in &added {
        let stored = known.versions.remove(*id).unwrap_or_default();
        let versions = new.iter().map(|(v, _)| v);
        let (Some(new_max), Some(new_min)) = (versions.clone().max(), versions.min()) else {
            continue;
        };
        let (stored_max, stored_min) = (stored.iter().max(), stored.iter().min());
        if stored_max.is_some_and(|m| new_max > m) {
            clear_latest.push((*id).to_owned());
        }
        if stored_min.is_some_and(|m| new_min < m) {
            clear_first.push((*id).to_owned());
        }
        let latest = stored_max.map_or(*new_max, |m| (*m).max(*new_max));
        let first = stored_min.map_or(*new_min, |m| (*m).min(*new_min));
        for (version, at) in new {
            if let Some(row) = rows.get_mut(*at) {
                row.is_latest = *version == latest;
                row.is_first = *version == first;
            }
        }
    }
    Plan { entries, rows, clear_latest, clear_first }
}

async fn clear_flag(
    tx: &mut Conn,
    collection: &str,
    flag: &str,
    ids: &[String],
) -> Result<(), sqlx::Error> {
    for chunk in ids.chunks(CHUNK) {
        let mut q = QueryBuilder::<Db>::new(format!("UPDATE stix_object SET {flag} = FALSE "));
        q.push("WHERE collection_id = ").push_bind(collection.to_owned());
        q.push(format!(" AND {flag} = TRUE AND object_id IN ("));
        let mut list = q.separated(", ");
        for id in chunk {
            list.push_bind(id.clone());
        }
        q.push(")");
        q.build().execute(&mut *tx).await?;
    }
    Ok(())
}

const INSERT: &str = "INSERT INTO stix_object (collection_id, object_id, type, version_us, \
                      declared, spec_version, date_added_us, author_org, tlp, is_latest, \
                      is_first, body) ";

/// The rows in POST order: runs without recipients in multi-row INSERTs, a row with recipients
/// alone (its `seq` names it in `object_recipient`).
async fn insert_rows(
    tx: &mut Conn,
    post: &Ingest<'_>,
    date_added: i64,
    rows: &[Row<'_, '_>],
) -> Result<(), sqlx::Error> {
    let mut rest = rows;
    while !rest.is_empty() {
        let run = rest.iter().take(CHUNK).take_while(|r| r.recipients.is_empty()).count();
        let (now, later) = rest.split_at(run.max(1));
        rest = later;
        let mut q = QueryBuilder::<Db>::new(INSERT);
        q.push_values(now, |mut b, row| {
            b.push_bind(post.collection.to_owned())
                .push_bind(row.object.object_id.to_owned())
                .push_bind(row.object.kind.to_owned())
                .push_bind(row.version_us)
                .push_bind(row.object.version_us.is_some())
                .push_bind(row.object.spec_version.to_owned())
                .push_bind(date_added)
                .push_bind(post.author)
                .push_bind(i16::from(row.object.tlp.code()))
                .push_bind(row.is_latest)
                .push_bind(row.is_first)
                .push_bind(row.object.body.as_bytes().to_vec());
        });
        let [single] = now else {
            q.build().execute(&mut *tx).await?;
            continue;
        };
        if single.recipients.is_empty() {
            q.build().execute(&mut *tx).await?;
            continue;
        }
        q.push(" RETURNING seq");
        let seq: i64 = q.build_query_scalar().fetch_one(&mut *tx).await?;
        for org in &single.recipients {
            sqlx::query(
                "INSERT INTO object_recipient (seq, org_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(seq)
            .bind(*org)
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(())
}
