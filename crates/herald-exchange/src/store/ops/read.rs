//! Pages of objects, manifests and versions, filtered and TLP-checked in SQL.

use herald_db::run_tx;
use herald_stix::tlp::Tlp;
use sqlx::{Pool, QueryBuilder};

use super::super::{JOIN_BODIES, LAST_POSITION, STRING_AGG};
use super::{Db, push_visible, stored_tlp};
use crate::store::{BodyPage, ObjectQuery, ObjectRow, Page, StoreError, Versions};

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

/// `… FROM stix_object o WHERE …` for the page `query` selects after its cursor, in page
/// order, `limit` rows at most.
fn push_page_rows(q: &mut QueryBuilder<Db>, query: &ObjectQuery<'_>, limit: i64) {
    q.push(" FROM stix_object o");
    push_selection(q, query);
    if let Some((date_added, seq)) = query.after {
        // A row value, not `a > x OR (a = x AND b > y)`: with the OR, SQLite narrows the
        // page index to the collection only and every page scans from the first row.
        q.push(" AND (o.date_added_us, o.seq) > (").push_bind(date_added);
        q.push(", ").push_bind(seq).push(")");
    }
    q.push(" ORDER BY o.date_added_us, o.seq LIMIT ").push_bind(limit);
}

type BodyPageColumns = (i64, Option<Vec<u8>>, Option<i64>, Option<String>, Option<String>);

/// Two statements, one row each: the page's rows (in page order, `limit` at most) aggregated
/// into the count, the bodies joined, the first `date_added`, the last position and the
/// restricted ids; then, when the page is full, whether a visible row follows it.
pub(crate) async fn body_page(
    pool: &Pool<Db>,
    query: &ObjectQuery<'_>,
) -> Result<BodyPage, StoreError> {
    let limit = i64::from(query.limit.max(1));
    let ((count, bodies, first, restricted), last, more) = run_tx("body page", || async {
        let mut q = QueryBuilder::<Db>::new("SELECT COUNT(*), ");
        q.push(JOIN_BODIES).push(", MIN(p.date_added_us), ").push(LAST_POSITION).push(", ");
        q.push(STRING_AGG).push("(CASE WHEN p.tlp >= ");
        q.push_bind(i16::from(Tlp::AmberStrict.code())).push(" AND p.author_org <> ");
        q.push_bind(query.reader.org).push(" THEN p.object_id END, ' ')");
        q.push(" FROM (SELECT o.seq, o.date_added_us, o.tlp, o.author_org, o.object_id, o.body");
        push_page_rows(&mut q, query, limit);
        q.push(") p");
        let (count, bodies, first, last, restricted): BodyPageColumns =
            q.build_query_as().fetch_one(pool).await?;
        let last = last.as_deref().and_then(position);
        let more = match last {
            Some((date_added, seq)) if count >= limit => {
                let mut q = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM (SELECT o.seq");
                let after = ObjectQuery { after: Some((date_added, seq)), ..query.clone() };
                push_page_rows(&mut q, &after, 1);
                q.push(") n");
                let n: i64 = q.build_query_scalar().fetch_one(pool).await?;
                n > 0
            }
            _ => false,
        };
        Ok(((count, bodies, first, restricted), last, more))
    })
    .await?;
    Ok(BodyPage {
        count: usize::try_from(count).unwrap_or(0),
        bodies: bodies.unwrap_or_default(),
        more,
        added: first.zip(last.map(|(date_added, _)| date_added)),
        after: if more { last } else { None },
        restricted: restricted
            .map(|ids| ids.split(' ').map(str::to_owned).collect())
            .unwrap_or_default(),
    })
}

/// `date_added_us` and `seq` of a [`LAST_POSITION`] (`<20 digits>/<20 digits>`).
fn position(text: &str) -> Option<(i64, i64)> {
    let (date_added, seq) = text.split_once('/')?;
    Some((date_added.parse().ok()?, seq.parse().ok()?))
}

pub(crate) async fn page(pool: &Pool<Db>, query: &ObjectQuery<'_>) -> Result<Page, StoreError> {
    let limit = i64::from(query.limit.max(1));
    let rows: Vec<RowColumns> = run_tx("page", || async {
        let mut q = QueryBuilder::<Db>::new(
            "SELECT o.seq, o.object_id, o.date_added_us, o.version_us, o.spec_version, CAST(o.tlp AS BIGINT), \
             o.author_org, ",
        );
        q.push(if query.with_body { "o.body" } else { "substr(o.body, 1, 0)" });
        push_page_rows(&mut q, query, limit + 1);
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
