//! The filters of a TAXII 2.1 GET (TAXII 2.1 §3.4): `added_after`, `limit`, `next` and the
//! `match[...]` fields each endpoint takes, read from the raw URL query string.
//!
//! Rules where TAXII is silent:
//! - keys and values are percent-decoded (`+` is a space, as in HTML forms); a malformed
//!   escape or a value that is not UTF-8 is refused;
//! - a `match[...]` field given twice is merged (the union, as one comma list would be);
//!   `added_after`, `limit` or `next` given twice is refused;
//! - parameters that are neither these three nor `match[...]` are ignored; a `match[...]`
//!   field the endpoint does not take is refused;
//! - parameter names are case-sensitive; spaces around the items of a comma list are ignored;
//! - an empty `next=` counts as absent (taxii2-client never sends one); an empty item in a
//!   comma list is refused, as is a list of more than [`MAX_VALUES`] values;
//! - `limit` must be a positive integer that fits in `u32`; the caller clamps it to its page
//!   maximum.

use crate::id::{StixId, TypeName};
use crate::timestamp::StixTime;

/// The most values a `match[...]` field may list.
pub const MAX_VALUES: usize = 1_000;

/// The GET endpoints that take filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `GET {root}/collections/{id}/objects/`.
    Objects,
    /// `GET {root}/collections/{id}/manifest/`.
    Manifest,
    /// `GET {root}/collections/{id}/objects/{object-id}/`.
    Object,
    /// `GET {root}/collections/{id}/objects/{object-id}/versions/`.
    Versions,
}

impl Endpoint {
    /// A stable name (also bound into cursors).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Objects => "objects",
            Self::Manifest => "manifest",
            Self::Object => "object",
            Self::Versions => "versions",
        }
    }

    /// The `match[...]` fields this endpoint takes (TAXII 2.1 §5.3, §5.5, §5.6, §5.8).
    pub const fn match_fields(self) -> &'static [&'static str] {
        match self {
            Self::Objects | Self::Manifest => &["id", "type", "version", "spec_version"],
            Self::Object => &["version", "spec_version"],
            Self::Versions => &["spec_version"],
        }
    }
}

/// Which versions of each object a request selects (`match[version]`, TAXII 2.1 §3.4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionFilter {
    /// `all`: every version (it absorbs anything listed with it).
    All,
    /// The union of the versions named: the first, the last, and those at these instants.
    Select {
        /// `first`: the oldest version.
        first: bool,
        /// `last`: the newest version (the default when `match[version]` is absent).
        last: bool,
        /// Versions whose `modified` (or `created`, or `date_added`) is one of these instants,
        /// sorted and without repeats.
        at: Vec<StixTime>,
    },
}

impl Default for VersionFilter {
    fn default() -> Self {
        Self::Select { first: false, last: true, at: Vec::new() }
    }
}

impl VersionFilter {
    /// Whether the version at `version` of an object whose oldest version is at `first` and
    /// newest at `last` is selected.
    pub fn selects(&self, version: StixTime, first: StixTime, last: StixTime) -> bool {
        match self {
            Self::All => true,
            Self::Select { first: f, last: l, at } => {
                (*f && version == first)
                    || (*l && version == last)
                    || at.binary_search(&version).is_ok()
            }
        }
    }

    fn canonical(&self) -> String {
        match self {
            Self::All => "all".to_owned(),
            Self::Select { first, last, at } => {
                let mut parts: Vec<String> = Vec::new();
                if *first {
                    parts.push("first".to_owned());
                }
                if *last {
                    parts.push("last".to_owned());
                }
                parts.extend(at.iter().map(|t| t.to_rfc3339_micros()));
                parts.join(",")
            }
        }
    }
}

/// The filters of one request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filters {
    /// `added_after`: only objects added strictly after this instant.
    pub added_after: Option<StixTime>,
    /// `limit`: the page size asked for (positive; the caller clamps it to its maximum).
    pub limit: Option<u32>,
    /// `next`: the cursor of the page to continue from, as sent (see `cursor::open`).
    pub next: Option<String>,
    /// `match[id]`: sorted, without repeats; empty means any.
    pub ids: Vec<String>,
    /// `match[type]`: sorted, without repeats; empty means any.
    pub types: Vec<String>,
    /// `match[version]` (`last` when absent).
    pub versions: VersionFilter,
    /// Whether `match[version]` was given at all (a DELETE without it removes every version).
    pub versions_given: bool,
    /// `match[spec_version]`: `2.0` and/or `2.1`, sorted; empty means any (TAXII: the latest).
    pub spec_versions: Vec<String>,
}

impl Filters {
    /// Every filter except `limit` and `next`, normalised (sorted lists, timestamps at
    /// microseconds), one `name=value` a line: equal for requests that select the same
    /// objects, so a cursor can be bound to the filters it was issued for.
    pub fn canonical(&self) -> String {
        let mut lines = Vec::new();
        if let Some(after) = self.added_after {
            lines.push(format!("added_after={}", after.to_rfc3339_micros()));
        }
        for (name, values) in [("id", &self.ids), ("type", &self.types)] {
            if !values.is_empty() {
                lines.push(format!("match[{name}]={}", values.join(",")));
            }
        }
        lines.push(format!("match[version]={}", self.versions.canonical()));
        if !self.spec_versions.is_empty() {
            lines.push(format!("match[spec_version]={}", self.spec_versions.join(",")));
        }
        let mut out = lines.join("\n");
        out.push('\n');
        out
    }
}

/// Why a query string was refused (the service answers 400 with it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(pub String);

fn refuse<T>(why: String) -> Result<T, QueryError> {
    Err(QueryError(why))
}

/// Parses the raw query string (without `?`) of a GET on `endpoint`.
pub fn parse(query: Option<&str>, endpoint: Endpoint) -> Result<Filters, QueryError> {
    let mut filters = Filters::default();
    let mut versions: Option<Vec<String>> = None;
    let (mut seen_after, mut seen_limit, mut seen_next) = (false, false, false);
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(raw_key)?;
        let once = |seen: &mut bool| {
            if std::mem::replace(seen, true) {
                refuse(format!("{key} is given more than once"))
            } else {
                Ok(())
            }
        };
        match key.as_str() {
            "added_after" => {
                once(&mut seen_after)?;
                let value = decode(raw_value)?;
                let at = StixTime::parse(&value)
                    .map_err(|e| QueryError(format!("added_after is not a STIX timestamp: {e}")))?;
                filters.added_after = Some(at);
            }
            "limit" => {
                once(&mut seen_limit)?;
                filters.limit = Some(parse_limit(&decode(raw_value)?)?);
            }
            "next" => {
                once(&mut seen_next)?;
                let value = decode(raw_value)?;
                filters.next = (!value.is_empty()).then_some(value);
            }
            _ => {
                let Some(field) = key.strip_prefix("match[").and_then(|k| k.strip_suffix(']'))
                else {
                    continue;
                };
                if !endpoint.match_fields().contains(&field) {
                    return refuse(format!(
                        "match[{}] is not a filter of this endpoint (it takes {})",
                        clip(field),
                        list_fields(endpoint)
                    ));
                }
                let values = split_values(field, &decode(raw_value)?)?;
                match field {
                    "id" => merge(&mut filters.ids, values, field, check_id)?,
                    "type" => merge(&mut filters.types, values, field, check_type)?,
                    "spec_version" => {
                        merge(&mut filters.spec_versions, values, field, check_spec_version)?;
                    }
                    _ => versions.get_or_insert_with(Vec::new).extend(values),
                }
            }
        }
    }
    if let Some(values) = versions {
        filters.versions = parse_versions(&values)?;
        filters.versions_given = true;
    }
    Ok(filters)
}

fn list_fields(endpoint: Endpoint) -> String {
    let names: Vec<String> =
        endpoint.match_fields().iter().map(|f| format!("match[{f}]")).collect();
    names.join(", ")
}

fn clip(text: &str) -> String {
    crate::error::clip(text)
}

fn parse_limit(value: &str) -> Result<u32, QueryError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return refuse(format!("limit {:?} is not a positive integer", clip(value)));
    }
    match value.parse::<u32>() {
        Ok(0) => refuse("limit must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(_) => refuse(format!("limit {:?} is too large", clip(value))),
    }
}

fn split_values(field: &str, value: &str) -> Result<Vec<String>, QueryError> {
    let values: Vec<String> = value.split(',').map(|v| v.trim().to_owned()).collect();
    if values.iter().any(String::is_empty) {
        return refuse(format!("match[{field}] has an empty value"));
    }
    Ok(values)
}

fn merge(
    into: &mut Vec<String>,
    values: Vec<String>,
    field: &str,
    check: fn(&str) -> Result<(), String>,
) -> Result<(), QueryError> {
    for value in values {
        check(&value).map_err(|why| QueryError(format!("match[{field}]: {why}")))?;
        into.push(value);
    }
    into.sort_unstable();
    into.dedup();
    if into.len() > MAX_VALUES {
        return refuse(format!("match[{field}] lists more than {MAX_VALUES} values"));
    }
    Ok(())
}

fn check_id(value: &str) -> Result<(), String> {
    StixId::parse(value).map(drop).map_err(|e| e.to_string())
}

fn check_type(value: &str) -> Result<(), String> {
    TypeName::parse(value).map(drop).map_err(|e| e.to_string())
}

fn check_spec_version(value: &str) -> Result<(), String> {
    if matches!(value, "2.0" | "2.1") {
        Ok(())
    } else {
        Err(format!("{:?} is not a STIX version (2.0 or 2.1)", clip(value)))
    }
}

fn parse_versions(values: &[String]) -> Result<VersionFilter, QueryError> {
    if values.len() > MAX_VALUES {
        return refuse(format!("match[version] lists more than {MAX_VALUES} values"));
    }
    let (mut all, mut first, mut last, mut at) = (false, false, false, Vec::new());
    for value in values {
        match value.as_str() {
            "all" => all = true,
            "first" => first = true,
            "last" => last = true,
            other => at.push(StixTime::parse(other).map_err(|e| {
                QueryError(format!("match[version] takes first, last, all or STIX timestamps: {e}"))
            })?),
        }
    }
    if all {
        return Ok(VersionFilter::All);
    }
    at.sort_unstable();
    at.dedup();
    Ok(VersionFilter::Select { first, last, at })
}

/// Percent-decodes one key or value (`+` is a space).
fn decode(raw: &str) -> Result<String, QueryError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while let Some(&b) = bytes.get(at) {
        match b {
            b'%' => {
                let hex = |i: usize| bytes.get(i).and_then(|h| char::from(*h).to_digit(16));
                let (Some(hi), Some(lo)) = (hex(at + 1), hex(at + 2)) else {
                    return refuse(format!("malformed percent escape in {:?}", clip(raw)));
                };
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(0));
                at += 3;
            }
            b'+' => {
                out.push(b' ');
                at += 1;
            }
            _ => {
                out.push(b);
                at += 1;
            }
        }
    }
    String::from_utf8(out)
        .map_err(|_| QueryError(format!("{:?} is not UTF-8 once decoded", clip(raw))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_and_normalises() {
        let f = parse(
            Some(
                "match%5Btype%5D=malware,indicator&match[type]=indicator&match[version]=last,first",
            ),
            Endpoint::Objects,
        )
        .unwrap();
        assert_eq!(f.types, ["indicator", "malware"]);
        assert_eq!(f.versions, VersionFilter::Select { first: true, last: true, at: vec![] });
        assert!(f.versions_given);
        // Percent-escapes in either case name the same field; absent means not given.
        assert!(parse(Some("match%5bversion%5d=last"), Endpoint::Object).unwrap().versions_given);
        assert!(!parse(Some("limit=5"), Endpoint::Object).unwrap().versions_given);
        assert_eq!(f.canonical(), "match[type]=indicator,malware\nmatch[version]=first,last\n");
    }

    #[test]
    fn version_instants_compare_as_instants() {
        let a = parse(Some("match[version]=2016-01-01T00:00:00Z"), Endpoint::Object).unwrap();
        let b =
            parse(Some("match[version]=2016-01-01T00:00:00.000000Z"), Endpoint::Object).unwrap();
        assert_eq!(a.canonical(), b.canonical());
        let t = StixTime::parse("2016-01-01T00:00:00.000Z").unwrap();
        assert!(a.versions.selects(t, StixTime::from_micros(0), StixTime::from_micros(1)));
    }

    #[test]
    fn decode_rules() {
        assert_eq!(decode("a+b%2Cc").unwrap(), "a b,c");
        assert!(decode("%zz").is_err());
        assert!(decode("%ff").is_err());
    }
}
