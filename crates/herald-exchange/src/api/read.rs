//! The read endpoints: discovery, API root, collections, manifest, objects, object, versions,
//! status. Pages are keyset pages with stateless authenticated cursors.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use herald_stix::taxii::cursor::{self, Binding, Position};
use herald_stix::taxii::media::{TAXII_MEDIA_TYPE, accepts};
use herald_stix::taxii::query::{self, Endpoint, Filters, VersionFilter};
use herald_stix::taxii::shapes;
use herald_stix::timestamp::StixTime;
use herald_stix::tlp::Tlp;
use serde::Serialize;

use super::auth::{Authed, Caller};
use super::{API_ROOT, Exchange, TaxiiError};
use crate::store::{
    AuditEntry, BodyPage, Collection, ObjectQuery, Page, Store, StoreError, Versions,
};

/// A 200 in the TAXII media type.
pub(super) fn taxii_json(
    status: StatusCode,
    body: Vec<u8>,
    extra: &[(&'static str, String)],
) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(TAXII_MEDIA_TYPE));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for (name, value) in extra {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(*name, value);
        }
    }
    response
}

pub(super) fn serialized(value: &impl Serialize) -> Response {
    taxii_json(StatusCode::OK, serde_json::to_vec(value).unwrap_or_default(), &[])
}

/// The caller, after the `Accept` check (406 before anything else is looked at).
pub(super) fn reading_caller(authed: &Authed) -> Result<Caller, TaxiiError> {
    let accept = authed.headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    if !accepts(accept) {
        return Err(TaxiiError::not_acceptable());
    }
    Ok(authed.caller.clone())
}

pub(super) async fn discovery(
    State(exchange): State<Arc<Exchange>>,
    authed: Authed,
) -> Result<Response, TaxiiError> {
    reading_caller(&authed)?;
    Ok(serialized(&shapes::Discovery {
        title: exchange.title.clone(),
        description: Some("The health sector's security information exchange".into()),
        contact: None,
        default: Some(API_ROOT.into()),
        api_roots: vec![API_ROOT.into()],
    }))
}

pub(super) async fn api_root(
    State(exchange): State<Arc<Exchange>>,
    authed: Authed,
) -> Result<Response, TaxiiError> {
    reading_caller(&authed)?;
    Ok(serialized(&shapes::ApiRoot::taxii21(&exchange.title, None, exchange.max_content_length)))
}

fn collection_shape(c: &Collection, grant: crate::store::Grant) -> shapes::Collection {
    let mut shape = shapes::Collection::stix21(&c.id, &c.title, grant.can_read, grant.can_write);
    shape.alias.clone_from(&c.alias);
    shape.description.clone_from(&c.description);
    shape
}

pub(super) async fn collections(
    State(exchange): State<Arc<Exchange>>,
    authed: Authed,
) -> Result<Response, TaxiiError> {
    let caller = reading_caller(&authed)?;
    let list = exchange.store.collections_of(caller.org.id).await?;
    Ok(serialized(&shapes::Collections {
        collections: list.iter().map(|(c, g)| collection_shape(c, *g)).collect(),
    }))
}

/// The collection `id` (or alias) as the caller may use it; 404 when it does not exist or the
/// caller has no grant.
pub(super) async fn granted(
    exchange: &Exchange,
    caller: &Caller,
    id: &str,
) -> Result<(Collection, crate::store::Grant), TaxiiError> {
    exchange
        .store
        .collection_for(id, caller.org.id)
        .await?
        .ok_or_else(|| TaxiiError::not_found("no such collection"))
}

pub(super) async fn collection(
    State(exchange): State<Arc<Exchange>>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Response, TaxiiError> {
    let caller = reading_caller(&authed)?;
    let (c, g) = granted(&exchange, &caller, &id).await?;
    Ok(serialized(&collection_shape(&c, g)))
}

/// A read's filters, the page it gives, and the cursor to the next one.
struct Read<P> {
    filters: Filters,
    page: P,
    next: Option<String>,
}

/// A page as a read fetches it: rows (manifest, versions) or joined bodies (envelopes).
trait Fetched: Sized {
    fn fetch<'a>(
        store: &'a Store,
        query: &'a ObjectQuery<'a>,
    ) -> impl Future<Output = Result<Self, StoreError>> + Send + 'a;
    /// The cursor position after the page, when more follow.
    fn after(&self) -> Option<(i64, i64)>;
    /// The ids of the RED and AMBER+STRICT objects of another organisation than `org`.
    fn restricted(&self, org: i64) -> Vec<&str>;
    fn is_empty(&self) -> bool;
    /// `date_added` (µs) of the first and last object.
    fn added(&self) -> Option<(i64, i64)>;
}

impl Fetched for Page {
    fn fetch<'a>(
        store: &'a Store,
        query: &'a ObjectQuery<'a>,
    ) -> impl Future<Output = Result<Self, StoreError>> + Send + 'a {
        store.page(query)
    }
    fn after(&self) -> Option<(i64, i64)> {
        self.rows.last().filter(|_| self.more).map(|last| (last.date_added_us, last.seq))
    }
    fn restricted(&self, org: i64) -> Vec<&str> {
        self.rows
            .iter()
            .filter(|r| r.tlp >= Tlp::AmberStrict && r.author_org != org)
            .map(|r| r.object_id.as_str())
            .collect()
    }
    fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
    fn added(&self) -> Option<(i64, i64)> {
        self.rows.first().zip(self.rows.last()).map(|(a, b)| (a.date_added_us, b.date_added_us))
    }
}

impl Fetched for BodyPage {
    fn fetch<'a>(
        store: &'a Store,
        query: &'a ObjectQuery<'a>,
    ) -> impl Future<Output = Result<Self, StoreError>> + Send + 'a {
        store.body_page(query)
    }
    fn after(&self) -> Option<(i64, i64)> {
        self.after
    }
    fn restricted(&self, _org: i64) -> Vec<&str> {
        self.restricted.iter().map(String::as_str).collect()
    }
    fn is_empty(&self) -> bool {
        self.count == 0
    }
    fn added(&self) -> Option<(i64, i64)> {
        self.added
    }
}

pub(super) fn store_versions(filter: &VersionFilter) -> Versions {
    match filter {
        VersionFilter::All => Versions { all: true, ..Versions::default() },
        VersionFilter::Select { first, last, at } => Versions {
            all: false,
            first: *first,
            last: *last,
            at: at.iter().map(|t| t.micros()).collect(),
        },
    }
}

async fn read<P: Fetched>(
    exchange: &Exchange,
    authed: &Authed,
    id: &str,
    object: Option<&str>,
    raw_query: Option<&str>,
    endpoint: Endpoint,
) -> Result<Read<P>, TaxiiError> {
    let caller = reading_caller(authed)?;
    let (collection, grant) = granted(exchange, &caller, id).await?;
    if !grant.can_read {
        return Err(TaxiiError::forbidden("this organisation may not read this collection"));
    }
    let filters = query::parse(raw_query, endpoint).map_err(|e| TaxiiError::bad_request(e.0))?;
    let canonical = filters.canonical();
    let binding = Binding {
        org: caller.org.id,
        endpoint,
        collection: &collection.id,
        object,
        filters: &canonical,
    };
    let after = match filters.next.as_deref() {
        Some(text) => {
            let p = cursor::open(&exchange.cursor_key, text, &binding)
                .map_err(|e| TaxiiError::bad_request(format!("next: {e}")))?;
            Some((p.date_added.micros(), p.seq))
        }
        None => None,
    };
    let versions = match endpoint {
        Endpoint::Versions => Versions { all: true, ..Versions::default() },
        _ => store_versions(&filters.versions),
    };
    let query = ObjectQuery {
        collection: &collection.id,
        reader: caller.reader(),
        object_id: object,
        ids: &filters.ids,
        types: &filters.types,
        versions: &versions,
        spec_versions: &filters.spec_versions,
        added_after_us: filters.added_after.map(StixTime::micros),
        after,
        limit: filters.limit.unwrap_or(exchange.page_max).clamp(1, exchange.page_max),
        with_body: matches!(endpoint, Endpoint::Objects | Endpoint::Object),
    };
    let page = P::fetch(&exchange.store, &query).await?;
    let next = page.after().map(|(date_added, seq)| {
        cursor::seal(
            &exchange.cursor_key,
            Position { date_added: StixTime::from_micros(date_added), seq },
            &binding,
        )
    });
    audit_restricted(exchange, &caller, &collection, &page.restricted(caller.org.id)).await?;
    Ok(Read { filters, page, next })
}

/// Spec §8: reads of RED and AMBER+STRICT objects by anyone but their author are audited
/// (ids and counts only).
async fn audit_restricted(
    exchange: &Exchange,
    caller: &Caller,
    collection: &Collection,
    restricted: &[&str],
) -> Result<(), TaxiiError> {
    if restricted.is_empty() {
        return Ok(());
    }
    let entry = AuditEntry {
        at_us: exchange.clock.now_us(),
        actor_org: Some(caller.org.id),
        action: "read-restricted".into(),
        subject: format!("collection {}", collection.id),
        detail: format!("{} objects: {}", restricted.len(), restricted.join(" ")),
    };
    exchange.store.audit(&entry).await?;
    Ok(())
}

/// `X-TAXII-Date-Added-First/Last` of a non-empty page.
fn date_headers(page: &impl Fetched) -> Vec<(&'static str, String)> {
    match page.added() {
        Some((first, last)) => vec![
            ("x-taxii-date-added-first", StixTime::from_micros(first).to_rfc3339_micros()),
            ("x-taxii-date-added-last", StixTime::from_micros(last).to_rfc3339_micros()),
        ],
        None => Vec::new(),
    }
}

fn envelope(read: &Read<BodyPage>) -> Response {
    let mut body = Vec::with_capacity(read.page.bodies.len().saturating_add(512));
    let joined = Some(read.page.bodies.as_slice()).filter(|_| read.page.count > 0);
    shapes::write_envelope(read.page.more, read.next.as_deref(), joined.into_iter(), &mut body);
    taxii_json(StatusCode::OK, body, &date_headers(&read.page))
}

pub(super) async fn objects(
    State(exchange): State<Arc<Exchange>>,
    authed: Authed,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, TaxiiError> {
    let read =
        read::<BodyPage>(&exchange, &authed, &id, None, q.as_deref(), Endpoint::Objects).await?;
    Ok(envelope(&read))
}

pub(super) async fn manifest(
    State(exchange): State<Arc<Exchange>>,
    authed: Authed,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, TaxiiError> {
    let read =
        read::<Page>(&exchange, &authed, &id, None, q.as_deref(), Endpoint::Manifest).await?;
    let manifest = shapes::Manifest {
        more: read.page.more,
        next: read.next.clone(),
        objects: read
            .page
            .rows
            .iter()
            .map(|r| {
                shapes::ManifestRecord::stix21(
                    &r.object_id,
                    StixTime::from_micros(r.date_added_us),
                    StixTime::from_micros(r.version_us),
                )
            })
            .collect(),
    };
    let body = serde_json::to_vec(&manifest).unwrap_or_default();
    Ok(taxii_json(StatusCode::OK, body, &date_headers(&read.page)))
}

/// A read of one object (its versions or itself): nothing to show on a first page is 404, the
/// same whether the object is missing or hidden from the caller.
async fn read_object<P: Fetched>(
    exchange: &Exchange,
    authed: &Authed,
    id: &str,
    object: &str,
    raw_query: Option<&str>,
    endpoint: Endpoint,
) -> Result<Read<P>, TaxiiError> {
    let read = read::<P>(exchange, authed, id, Some(object), raw_query, endpoint).await?;
    if read.page.is_empty() && read.filters.next.is_none() {
        return Err(TaxiiError::not_found("no such object"));
    }
    Ok(read)
}

pub(super) async fn object(
    State(exchange): State<Arc<Exchange>>,
    authed: Authed,
    Path((id, object)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Result<Response, TaxiiError> {
    let read =
        read_object::<BodyPage>(&exchange, &authed, &id, &object, q.as_deref(), Endpoint::Object)
            .await?;
    Ok(envelope(&read))
}

pub(super) async fn versions(
    State(exchange): State<Arc<Exchange>>,
    authed: Authed,
    Path((id, object)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Result<Response, TaxiiError> {
    let read =
        read_object::<Page>(&exchange, &authed, &id, &object, q.as_deref(), Endpoint::Versions)
            .await?;
    let versions = shapes::Versions {
        more: read.page.more,
        next: read.next.clone(),
        versions: read.page.rows.iter().map(|r| StixTime::from_micros(r.version_us)).collect(),
    };
    let body = serde_json::to_vec(&versions).unwrap_or_default();
    Ok(taxii_json(StatusCode::OK, body, &date_headers(&read.page)))
}

pub(super) async fn status(
    State(exchange): State<Arc<Exchange>>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Response, TaxiiError> {
    let caller = reading_caller(&authed)?;
    let status = exchange
        .store
        .status(&id, caller.org.id)
        .await?
        .ok_or_else(|| TaxiiError::not_found("no such status"))?;
    Ok(serialized(&super::ingest::status_shape(&status)))
}
