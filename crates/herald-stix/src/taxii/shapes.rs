//! The bodies of TAXII 2.1 answers (TAXII 2.1 §3.6, §3.7, §4, §5), with every property the
//! specification marks required and the names taxii2-client 2.3.0 and stix2 3.0.2 read.
//!
//! Choices where TAXII leaves room:
//! - every timestamp the server writes (`date_added`, `request_timestamp`, manifest and
//!   versions `version`) has six fraction digits ([`StixTime::to_rfc3339_micros`]);
//! - `more` is always written; `next` whenever given (the manifest and versions resources
//!   lack `next` in TAXII 2.1, but taxii2-client's `as_pages` needs it);
//! - an envelope always has `objects` (stix2's `TAXIICollectionSource` reads
//!   `["objects"]` and raises on an envelope without it), while the collections, manifest and
//!   versions lists are omitted when empty (TAXII 2.1 makes them optional and answers an empty
//!   result with an empty object; taxii2-client reads them with a default);
//! - a status is `complete` at once and its counts are computed from its lists, so they
//!   always add up (taxii2-client raises otherwise).

use serde::{Serialize, Serializer};

use super::media::{STIX_MEDIA_TYPE, TAXII_MEDIA_TYPE};
use crate::timestamp::StixTime;

// Serde calls `serialize_with` functions with a reference.
#[allow(clippy::trivially_copy_pass_by_ref, reason = "serde's serialize_with signature")]
fn micros<S: Serializer>(at: &StixTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&at.to_rfc3339_micros())
}

fn micros_list<S: Serializer>(list: &[StixTime], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(list.iter().map(|t| t.to_rfc3339_micros()))
}

/// `GET /taxii2/`: the discovery resource (TAXII 2.1 §4.1.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Discovery {
    /// A name for the server (required).
    pub title: String,
    /// What it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whom to contact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// The default API root (one of `api_roots`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// The API roots' URLs (absolute https, or `/`-relative).
    pub api_roots: Vec<String>,
}

/// `GET {root}`: the API root resource (TAXII 2.1 §4.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiRoot {
    /// A name for the API root (required).
    pub title: String,
    /// What it holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The TAXII versions served (required): [`TAXII_MEDIA_TYPE`].
    pub versions: Vec<String>,
    /// The largest request body accepted, in bytes (required).
    pub max_content_length: u64,
}

impl ApiRoot {
    /// A TAXII 2.1 API root.
    pub fn taxii21(title: &str, description: Option<&str>, max_content_length: u64) -> Self {
        Self {
            title: title.to_owned(),
            description: description.map(str::to_owned),
            versions: vec![TAXII_MEDIA_TYPE.to_owned()],
            max_content_length,
        }
    }
}

/// A collection resource (TAXII 2.1 §5.2.1), as the caller sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Collection {
    /// The collection's id (required; taxii2-client checks that it is in the URL).
    pub id: String,
    /// Its name (required).
    pub title: String,
    /// What it holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Another name usable in URLs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// Whether the caller may read (required).
    pub can_read: bool,
    /// Whether the caller may write (required).
    pub can_write: bool,
    /// The media types of its objects: [`STIX_MEDIA_TYPE`].
    pub media_types: Vec<String>,
}

impl Collection {
    /// A collection of STIX 2.1 objects.
    pub fn stix21(id: &str, title: &str, can_read: bool, can_write: bool) -> Self {
        Self {
            id: id.to_owned(),
            title: title.to_owned(),
            description: None,
            alias: None,
            can_read,
            can_write,
            media_types: vec![STIX_MEDIA_TYPE.to_owned()],
        }
    }
}

/// `GET {root}collections/` (TAXII 2.1 §5.1.1): the list is omitted when empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Collections {
    /// The caller's collections, in a stable order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub collections: Vec<Collection>,
}

/// One manifest record (TAXII 2.1 §5.6.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestRecord {
    /// The object's id.
    pub id: String,
    /// When the exchange added this version.
    #[serde(serialize_with = "micros")]
    pub date_added: StixTime,
    /// The version (`modified`, else `created`, else `date_added`).
    #[serde(serialize_with = "micros")]
    pub version: StixTime,
    /// The object's media type: [`STIX_MEDIA_TYPE`].
    pub media_type: String,
}

impl ManifestRecord {
    /// A record of a STIX 2.1 object.
    pub fn stix21(id: &str, date_added: StixTime, version: StixTime) -> Self {
        Self { id: id.to_owned(), date_added, version, media_type: STIX_MEDIA_TYPE.to_owned() }
    }
}

/// `GET …/manifest/` (TAXII 2.1 §5.6.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manifest {
    /// Whether more records follow.
    pub more: bool,
    /// The cursor of the next page (present whenever `more` is).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// The records (omitted when empty).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<ManifestRecord>,
}

/// `GET …/objects/{id}/versions/` (TAXII 2.1 §5.8.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Versions {
    /// Whether more versions follow.
    pub more: bool,
    /// The cursor of the next page (present whenever `more` is).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// The versions (omitted when empty).
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "micros_list")]
    pub versions: Vec<StixTime>,
}

/// An object that was stored (or already present) in a status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Success {
    /// The object's id.
    pub id: String,
    /// Its version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// A note (e.g. "already present").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// An object that was refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The object's id as sent (or `<index N>` when it had none).
    pub id: String,
    /// Its version as sent, when it had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Why it was refused.
    pub message: String,
}

/// A status resource (TAXII 2.1 §4.3.1), always `complete`; the counts are written from the
/// lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The status id.
    pub id: String,
    /// When the POST was received.
    pub request_timestamp: StixTime,
    /// The objects stored or already present.
    pub successes: Vec<Success>,
    /// The objects refused.
    pub failures: Vec<Failure>,
}

#[derive(Serialize)]
struct StatusBody<'a> {
    id: &'a str,
    status: &'static str,
    request_timestamp: String,
    total_count: usize,
    success_count: usize,
    successes: &'a [Success],
    failure_count: usize,
    failures: &'a [Failure],
    pending_count: usize,
    pendings: [(); 0],
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        StatusBody {
            id: &self.id,
            status: "complete",
            request_timestamp: self.request_timestamp.to_rfc3339_micros(),
            total_count: self.successes.len() + self.failures.len(),
            success_count: self.successes.len(),
            successes: &self.successes,
            failure_count: self.failures.len(),
            failures: &self.failures,
            pending_count: 0,
            pendings: [],
        }
        .serialize(s)
    }
}

/// A TAXII error message (TAXII 2.1 §3.6.1); `http_status` is a string there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorBody {
    /// A short title (required).
    pub title: String,
    /// What was wrong.
    pub description: String,
    /// The HTTP status of the answer, as a string.
    pub http_status: String,
}

impl ErrorBody {
    /// The body of an answer with this HTTP `status`.
    pub fn new(status: u16, title: &str, description: &str) -> Self {
        Self {
            title: title.to_owned(),
            description: description.to_owned(),
            http_status: status.to_string(),
        }
    }
}

/// Writes an envelope (TAXII 2.1 §3.7) `{"more":…,"next":…,"objects":[…]}` into `out`,
/// splicing each object's stored bytes (already valid JSON) unchanged, so objects are served
/// byte for byte. `objects` is always written, `next` when given.
pub fn write_envelope<'a>(
    more: bool,
    next: Option<&str>,
    objects: impl Iterator<Item = &'a [u8]>,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(if more { b"{\"more\":true" } else { b"{\"more\":false" });
    if let Some(next) = next {
        out.extend_from_slice(b",\"next\":");
        out.extend_from_slice(json_string(next).as_bytes());
    }
    out.extend_from_slice(b",\"objects\":[");
    for (at, object) in objects.enumerate() {
        if at > 0 {
            out.push(b',');
        }
        out.extend_from_slice(object);
    }
    out.extend_from_slice(b"]}");
}

fn json_string(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_counts_follow_lists() {
        let status = Status {
            id: "s".into(),
            request_timestamp: StixTime::from_micros(1),
            successes: vec![Success { id: "a".into(), version: None, message: None }],
            failures: vec![Failure { id: "b".into(), version: None, message: "bad".into() }],
        };
        let v = serde_json::to_value(&status).unwrap();
        assert_eq!(v["total_count"], 2);
        assert_eq!(v["pending_count"], 0);
        assert_eq!(v["pendings"], serde_json::json!([]));
        assert_eq!(v["request_timestamp"], "1970-01-01T00:00:00.000001Z");
    }

    #[test]
    fn envelope_splices() {
        let mut out = Vec::new();
        write_envelope(true, Some("n\"x"), [&b"{\"a\" : 1}"[..], b"{}"].into_iter(), &mut out);
        assert_eq!(out, br#"{"more":true,"next":"n\"x","objects":[{"a" : 1},{}]}"#);
    }
}
