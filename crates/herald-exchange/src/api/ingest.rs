//! `POST …/objects/` and `DELETE …/objects/{id}/`.
//!
//! A POST is refused as a whole only when it is not a TAXII POST at all (media type 415, size
//! 413 decided from `Content-Length` before the body is read, not JSON 400, not an envelope or
//! bundle 422, too many objects 413); otherwise each object is validated on its own, the valid
//! ones are stored in one transaction, and the 202 status names every object and why it failed.
//! The 202 is written after the commit, so an object reported stored survives a crash.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use herald_stix::envelope::{PostError, parse_post};
use herald_stix::object::validate;
use herald_stix::taxii::media::content_type_ok;
use herald_stix::taxii::query::{self, Endpoint};
use herald_stix::taxii::shapes;
use herald_stix::timestamp::StixTime;

use super::auth::Authed;
use super::read::{granted, reading_caller, store_versions, taxii_json};
use super::{Exchange, TaxiiError};
use crate::store::{DeleteOutcome, Ingest, NewObject, ObjectQuery, Status, StatusEntry, Versions};

/// The TAXII shape of a stored status.
pub(super) fn status_shape(status: &Status) -> shapes::Status {
    shapes::Status {
        id: status.id.clone(),
        request_timestamp: StixTime::from_micros(status.request_us),
        successes: status
            .successes()
            .map(|e| shapes::Success {
                id: e.object_id.clone(),
                version: e.version.clone(),
                message: e.message.clone(),
            })
            .collect(),
        failures: status
            .failures()
            .map(|e| shapes::Failure {
                id: e.object_id.clone(),
                version: e.version.clone(),
                message: e.message.clone().unwrap_or_default(),
            })
            .collect(),
    }
}

/// Reads the body, refusing one over `max` bytes by its `Content-Length` first. A refused body
/// is still read to its end (and dropped, up to [`DRAIN_BYTES`] more and for at most
/// [`DRAIN_TIME`]), so that a client that sends all of it before reading the answer, as
/// `requests` does, sees the 413 instead of a broken connection.
async fn body_bytes(headers: &HeaderMap, body: Body, max: u64) -> Result<Vec<u8>, TaxiiError> {
    use http_body_util::BodyExt as _;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large =
        || TaxiiError::too_large(format!("the body is over max_content_length ({max} bytes)"));
    let mut body = body;
    if declared.is_some_and(|n| n > max) {
        drain(body).await;
        return Err(too_large());
    }
    let limit = usize::try_from(max).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| TaxiiError::bad_request("the body could not be read"))?;
        if let Ok(data) = frame.into_data() {
            if out.len().saturating_add(data.len()) > limit {
                drain(body).await;
                return Err(too_large());
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

/// How much of a refused body is read and dropped before the answer.
const DRAIN_BYTES: usize = 256 << 20;
/// How long a refused body is read before the answer.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(30);

async fn drain(mut body: Body) {
    use http_body_util::BodyExt as _;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        let mut read = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            read = read.saturating_add(frame.data_ref().map_or(0, axum::body::Bytes::len));
            if read > DRAIN_BYTES {
                break;
            }
        }
    })
    .await;
}

/// `id` and `modified` (else `created`) of an object read leniently (other keys ignored, even
/// repeated or too deep), clipped to 100 characters; each `None` when it is not a string.
/// The status entry of an object the validator refused. One refused before it could be read
/// strictly (duplicate keys, depth, a string over the limit) is still named by its id and
/// version (spec §2).
fn refusal(
    index: usize,
    raw: &serde_json::value::RawValue,
    rejection: herald_stix::object::Rejection,
) -> StatusEntry {
    let (id, version) = match rejection.id {
        Some(id) => (Some(id), rejection.version),
        None => sent_id_and_version(raw.get()),
    };
    StatusEntry {
        index,
        object_id: id.unwrap_or_else(|| format!("<object {index}>")),
        version,
        ok: false,
        message: Some(rejection.reason),
    }
}

fn sent_id_and_version(raw: &str) -> (Option<String>, Option<String>) {
    #[derive(serde::Deserialize)]
    struct Sent {
        id: Option<serde_json::Value>,
        modified: Option<serde_json::Value>,
        created: Option<serde_json::Value>,
    }
    let clip = |v: Option<serde_json::Value>| {
        v.as_ref().and_then(serde_json::Value::as_str).map(|s| s.chars().take(100).collect())
    };
    match serde_json::from_str::<Sent>(raw) {
        Ok(sent) => (clip(sent.id), clip(sent.modified).or_else(|| clip(sent.created))),
        Err(_) => (None, None),
    }
}

pub(super) async fn post_objects(
    State(exchange): State<Arc<Exchange>>,
    authed: Authed,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, TaxiiError> {
    let caller = reading_caller(&authed)?;
    let headers = &authed.headers;
    let (collection, grant) = granted(&exchange, &caller, &id).await?;
    if !grant.can_write {
        return Err(TaxiiError::forbidden(
            "this organisation may not add objects to this collection",
        ));
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    content_type_ok(content_type).map_err(TaxiiError::unsupported_media_type)?;
    let bytes = body_bytes(headers, body, exchange.max_content_length).await?;
    let post = parse_post(&bytes, &exchange.limits).map_err(|e| match e {
        PostError::NotJson(_) => TaxiiError::bad_request(e.to_string()),
        PostError::NotEnvelope(_) => TaxiiError::unprocessable(e.to_string()),
        PostError::TooManyObjects { .. } => TaxiiError::too_large(e.to_string()),
    })?;
    let mut objects = Vec::with_capacity(post.objects.len());
    let mut refused = Vec::new();
    let own_identity = caller.org.identity_id.as_str();
    let operator = caller.reader().operator;
    for (index, raw) in post.objects.iter().enumerate() {
        match validate(index, raw, &exchange.limits) {
            Ok(valid) => objects.push((index, valid)),
            Err(rejection) => refused.push(refusal(index, raw, rejection)),
        }
    }
    // An organisation may not post objects in another organisation's name (the operator may);
    // identities that are no organisation of the exchange (a vendor's report) are fine.
    if !operator {
        let mut impostors = std::collections::HashMap::new();
        for (_, valid) in &objects {
            if let Some(author) = &valid.created_by
                && author.as_str() != own_identity
                && !impostors.contains_key(author.as_str())
            {
                let org = exchange.store.org_by_identity(author.as_str()).await?;
                impostors.insert(author.as_str().to_owned(), org);
            }
        }
        objects.retain(|(index, valid)| {
            let Some(author) = &valid.created_by else { return true };
            let Some(Some(org)) = impostors.get(author.as_str()) else { return true };
            refused.push(StatusEntry {
                index: *index,
                object_id: valid.id.as_str().to_owned(),
                version: valid.version.map(StixTime::to_rfc3339_micros),
                ok: false,
                message: Some(format!(
                    "created_by_ref {author} is the identity of another organisation ({org}); \
                     post in your own name ({own_identity})"
                )),
            });
            false
        });
    }
    let new: Vec<NewObject<'_>> = objects
        .iter()
        .map(|(index, v)| NewObject {
            index: *index,
            object_id: v.id.as_str(),
            kind: &v.kind,
            version_us: v.version.map(StixTime::micros),
            spec_version: &v.spec_version,
            tlp: v.tlp,
            recipients: v.recipients.iter().map(herald_stix::id::StixId::as_str).collect(),
            refs: v.refs.iter().map(herald_stix::id::StixId::as_str).collect(),
            body: v.raw.get(),
        })
        .collect();
    let status_id = exchange.new_status_id();
    let ingest = Ingest {
        collection: &collection.id,
        author: caller.org.id,
        now_us: exchange.clock.now_us(),
        status_id: &status_id,
        objects: new,
        refused,
    };
    let status = exchange.store.ingest(&ingest).await?;
    let body = serde_json::to_vec(&status_shape(&status)).unwrap_or_default();
    Ok(taxii_json(StatusCode::ACCEPTED, body, &[]))
}

pub(super) async fn delete_object(
    State(exchange): State<Arc<Exchange>>,
    authed: Authed,
    Path((id, object)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Result<Response, TaxiiError> {
    let caller = authed.caller;
    let (collection, grant) = granted(&exchange, &caller, &id).await?;
    if !grant.can_write {
        return Err(TaxiiError::forbidden("this organisation may not delete from this collection"));
    }
    let filters =
        query::parse(q.as_deref(), Endpoint::Object).map_err(|e| TaxiiError::bad_request(e.0))?;
    // Without match[version], DELETE removes every version (TAXII 2.1 §5.7).
    let versions = if filters.versions_given {
        store_versions(&filters.versions)
    } else {
        Versions { all: true, ..Versions::default() }
    };
    let query = ObjectQuery {
        collection: &collection.id,
        reader: caller.reader(),
        object_id: Some(&object),
        ids: &[],
        types: &[],
        versions: &versions,
        spec_versions: &filters.spec_versions,
        added_after_us: None,
        after: None,
        limit: 1,
        with_body: false,
    };
    match exchange.store.delete(&query, exchange.clock.now_us()).await? {
        DeleteOutcome::Deleted(_) => Ok(taxii_json(StatusCode::OK, Vec::new(), &[])),
        DeleteOutcome::NotFound => Err(TaxiiError::not_found("no such object")),
        DeleteOutcome::NotAuthor => Err(TaxiiError::forbidden(
            "only the author's organisation or the operator may delete it",
        )),
    }
}
