//! Pages of objects, manifests and versions, filtered and TLP-checked in SQL.

use herald_db::run_tx;
use sqlx::{Pool, QueryBuilder};

use super::{Db, push_visible, stored_tlp};
use crate::store::{ObjectQuery, ObjectRow, Page, StoreError, Versions};

type RowColumns = (i64, String, i64, i64, String, i64, i64, Vec<u8>);

/// `WHERE …` for the rows `query` selects (alias `o`), visibility included; no ordering.
pub(super) fn push_selection(q: &mut QueryBuilder<Db>, query: &ObjectQuery<'_>) {
    q.push(" WHERE o.collection_id = ").push_bind(query.collection.to_owned());
    if let Some(id) = query.object_id {
        q.push(" AND o.object_id = ").push_bind(id.to_owned());
    }
    push_in(q, "o.object_id", query.ids);
    push_in(q, "o.type", query.types);
    push_in(q, "o.spec_version", query.spec_versions);
    push_versions(q, query.versions);
    if let Some(after) = query.added_after_us {
        q.push(" AND o.date_added_us > ").push_bind(after);
    }
    push_visible(q, query.reader);
}

fn push_in(q: &mut QueryBuilder<Db>, column: &str, values: &[String]) {
    if values.is_empty() {
        return;
    }
    q.push(format!(" AND {column} IN ("));
    let mut list = q.separated(", ");
    for value in values {
        list.push_bind(value.clone());
    }
    q.push(")");
}

fn push_versions(q: &mut QueryBuilder<Db>, versions: &Versions) {
    if versions.all {
        return;
    }
    let nothing_chosen = !versions.first && versions.at.is_empty();
    q.push(" AND (FALSE");
    if versions.last || nothing_chosen {
        q.push(" OR o.is_latest = TRUE");
    }
    if versions.first {
        q.push(" OR o.is_first = TRUE");
    }
    if !versions.at.is_empty() {
        q.push(" OR o.version_us IN (");
        let mut list = q.separated(", ");
        for at in &versions.at {
            list.push_bind(*at);
        }
        q.push(")");
    }
    q.push(")");
}

pub(crate) async fn page(pool: &Pool<Db>, query: &ObjectQuery<'_>) -> Result<Page, StoreError> {
    let limit = i64::from(query.limit.max(1));
    let rows: Vec<RowColumns> = run_tx("page", || async {
        let mut q = QueryBuilder::<Db>::new(
            "SELECT o.seq, o.object_id, o.date_added_us, o.version_us, o.spec_version, CAST(o.tlp AS BIGINT), \
             o.author_org, ",
        );
        q.push(if query.with_body { "o.body" } else { "substr(o.body, 1, 0)" });
        q.push(" FROM stix_object o");
        push_selection(&mut q, query);
        if let Some((date_added, seq)) = query.after {
            // A row value, not `a > x OR (a = x AND b > y)`: with the OR, SQLite narrows the
            // page index to the collection only and every page scans from the first row.
            q.push(" AND (o.date_added_us, o.seq) > (").push_bind(date_added);
            q.push(", ").push_bind(seq).push(")");
        }
        q.push(" ORDER BY o.date_added_us, o.seq LIMIT ").push_bind(limit + 1);
        Ok(q.build_query_as().fetch_all(pool).await?)
    })
    .await?;
    let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > limit;
    let rows = rows
        .into_iter()
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(|(seq, object_id, date_added_us, version_us, spec_version, tlp, author_org, body)| {
            Ok(ObjectRow {
                seq,
                object_id,
                date_added_us,
                version_us,
                spec_version,
                tlp: stored_tlp(tlp)?,
                author_org,
                body,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Page { rows, more })
}

/// The tables and their row counts.
const TABLES: [&str; 12] = [
    "org",
    "community_member",
    "api_token",
    "client_cert",
    "collection",
    "collection_grant",
    "stix_object",
    "object_recipient",
    "status",
    "status_entry",
    "audit_log",
    "community",
];

pub(crate) async fn counts(pool: &Pool<Db>) -> Result<Vec<(&'static str, i64)>, StoreError> {
    let mut out = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let n: i64 = run_tx("counts", || async {
            Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(pool)
                .await?)
        })
        .await?;
        out.push((table, n));
    }
    Ok(out)
}
