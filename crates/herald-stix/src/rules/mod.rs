//! What stix2 3.0.2 (`parse(allow_custom=False)`) checks and the STIX JSON schemas cannot: the
//! properties each type may carry, the types each reference may point at, real dates, the order
//! of paired timestamps, extension names, indicator patterns and deterministic SCO ids.
//!
//! The tables [`TYPES`] and [`REFS`] are generated from stix2 3.0.2's registered v21 classes
//! (`_properties`; `ReferenceProperty` `valid_types`/`invalid_types`), so that "no unknown
//! properties" and "references of the right types" mean what the library means.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use serde_json::{Map, Value};

use crate::error::clip;
use crate::id::{StixId, TypeName};
use crate::timestamp::StixTime;

mod tables;
use tables::{NESTED_REFS, REFS, TYPES};

/// stix2's classes of object types (`STIXTypeClass`), which reference rules may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Domain objects (stix2 counts extension-definition among them).
    Sdo,
    /// Cyber-observable objects.
    Sco,
    /// Relationship and sighting.
    Sro,
    /// marking-definition and language-content.
    Meta,
}

impl Class {
    fn name(self) -> &'static str {
        match self {
            Class::Sdo => "SDO",
            Class::Sco => "SCO",
            Class::Sro => "SRO",
            Class::Meta => "META",
        }
    }
}

/// A reference property's rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    /// Only the listed types or classes.
    Only,
    /// Any known type but the listed ones.
    Not,
}

/// Properties every object may carry (the type's own list holds `extensions` when it may).
const COMMON: [&str; 5] =
    ["type", "id", "spec_version", "object_marking_refs", "granular_markings"];

/// The predefined SCO extensions, by the type they extend (STIX 2.1 §6).
const SCO_EXTENSIONS: [(&str, &str); 12] = [
    ("file", "archive-ext"),
    ("file", "ntfs-ext"),
    ("file", "pdf-ext"),
    ("file", "raster-image-ext"),
    ("file", "windows-pebinary-ext"),
    ("network-traffic", "http-request-ext"),
    ("network-traffic", "icmp-ext"),
    ("network-traffic", "socket-ext"),
    ("network-traffic", "tcp-ext"),
    ("process", "windows-process-ext"),
    ("process", "windows-service-ext"),
    ("user-account", "unix-account-ext"),
];

/// Top-level timestamp properties (of any type), which must be real dates.
const TIMESTAMPS: [&str; 30] = [
    "created",
    "modified",
    "valid_from",
    "valid_until",
    "first_seen",
    "last_seen",
    "first_observed",
    "last_observed",
    "start_time",
    "stop_time",
    "published",
    "object_modified",
    "submitted",
    "analysis_started",
    "analysis_ended",
    "start",
    "end",
    "ctime",
    "mtime",
    "atime",
    "created_time",
    "modified_time",
    "date",
    "account_created",
    "account_expires",
    "credential_last_changed",
    "account_first_login",
    "account_last_login",
    "validity_not_before",
    "validity_not_after",
];

/// Pairs `(earlier, later, strictly)` stix2 orders, by type.
const ORDERED: [(&str, &str, &str, bool); 9] = [
    ("campaign", "first_seen", "last_seen", false),
    ("infrastructure", "first_seen", "last_seen", false),
    ("intrusion-set", "first_seen", "last_seen", false),
    ("malware", "first_seen", "last_seen", false),
    ("threat-actor", "first_seen", "last_seen", false),
    ("sighting", "first_seen", "last_seen", false),
    ("observed-data", "first_observed", "last_observed", false),
    ("indicator", "valid_from", "valid_until", true),
    ("relationship", "start_time", "stop_time", true),
];

/// The single-value SCO types whose id stix2 computes from one property.
const DETERMINISTIC: [&str; 8] = [
    "ipv4-addr",
    "ipv6-addr",
    "domain-name",
    "url",
    "email-addr",
    "mac-addr",
    "mutex",
    "autonomous-system",
];

/// The class of a type stix2 registers, `None` for any other (custom, or defined by an
/// extension-definition).
pub(crate) fn class_of(kind: &str) -> Option<Class> {
    known_types().get(kind).map(|(class, _)| *class)
}

/// [`TYPES`] by name: each type's class and the properties it may carry (its own and
/// [`COMMON`]), built once (checked for every object of every POST).
fn known_types() -> &'static HashMap<&'static str, (Class, HashSet<&'static str>)> {
    static KNOWN: LazyLock<HashMap<&'static str, (Class, HashSet<&'static str>)>> =
        LazyLock::new(|| {
            TYPES
                .iter()
                .map(|(kind, class, own)| {
                    let allowed = COMMON.iter().copied().chain(own.split(' ')).collect();
                    (*kind, (*class, allowed))
                })
                .collect()
        });
    &KNOWN
}

/// Checks `object` (of the known type `kind`, already valid under its schema).
pub(crate) fn check(kind: &str, id: &StixId, object: &Map<String, Value>) -> Result<(), String> {
    properties(kind, object)?;
    if class_of(kind) != Some(Class::Sco) && !object.contains_key("spec_version") {
        return Err(format!("spec_version: required on {kind}"));
    }
    selectors(object)?;
    let times = timestamps(object)?;
    order(kind, &times)?;
    extensions(kind, object)?;
    references(kind, object)?;
    constraints(kind, object)?;
    pattern(kind, object)?;
    sco_id(kind, id, object)
}

fn properties(kind: &str, object: &Map<String, Value>) -> Result<(), String> {
    let allowed = known_types().get(kind).map(|(_, allowed)| allowed);
    for key in object.keys() {
        let known = allowed.map_or_else(
            || COMMON.contains(&key.as_str()),
            |allowed| allowed.contains(key.as_str()),
        );
        if !known {
            return Err(format!(
                "unknown property {:?} on {kind} (custom data goes in an extension-definition)",
                clip(key)
            ));
        }
    }
    Ok(())
}

/// stix2 checks that each granular marking has lang or marking_ref (not both) and that its selectors name a present, non-empty value
/// (`a.b`, `list.[0]`).
fn selectors(object: &Map<String, Value>) -> Result<(), String> {
    let markings = object.get("granular_markings").and_then(Value::as_array);
    for marking in markings.into_iter().flatten() {
        if marking.get("lang").is_some() == marking.get("marking_ref").is_some() {
            return Err("granular_markings: each needs either lang or marking_ref, not both".into());
        }
        let list = marking.get("selectors").and_then(Value::as_array);
        for selector in list.into_iter().flatten().filter_map(Value::as_str) {
            if !selects(object, selector) {
                return Err(format!(
                    "granular_markings: the selector {:?} names nothing in the object",
                    clip(selector)
                ));
            }
        }
    }
    Ok(())
}

/// Lists whose items stix2 turns into its own classes, which its selector walk does not enter.
const CLASS_LISTS: [&str; 5] =
    ["external_references", "kill_chain_phases", "granular_markings", "body_multipart", "values"];

/// Whether `selector` names a value as stix2's `iterpath` walk does: it enters JSON objects and
/// lists, but not the values it holds as its own classes (the items of [`CLASS_LISTS`],
/// `x509_v3_extensions`, a marking's `definition`, predefined extensions), and it names a list
/// item by the position of its first equal item.
fn selects(object: &Map<String, Value>, selector: &str) -> bool {
    let mut steps = selector.split('.');
    let Some(first) = steps.next() else { return false };
    let mut at = object.get(first);
    let mut opaque = matches!(first, "x509_v3_extensions" | "definition");
    for (depth, step) in steps.enumerate() {
        if opaque {
            return false;
        }
        at = match (at, step.strip_prefix('[').and_then(|s| s.strip_suffix(']'))) {
            (Some(Value::Array(items)), Some(index)) => {
                opaque = depth == 0 && CLASS_LISTS.contains(&first);
                // Only the text Python's `'[{0}]'.format(i)` makes.
                let canonical = index.bytes().all(|b| b.is_ascii_digit())
                    && (index == "0" || !index.starts_with('0'));
                index.parse::<usize>().ok().filter(|_| canonical).and_then(|i| {
                    let item = items.get(i)?;
                    (items.iter().position(|x| x == item) == Some(i)).then_some(item)
                })
            }
            (Some(Value::Object(map)), None) => {
                opaque = depth == 0
                    && first == "extensions"
                    && !step.starts_with("extension-definition--");
                map.get(step)
            }
            _ => None,
        };
    }
    // Python truthiness: stix2 skips empty values.
    match at {
        None | Some(Value::Null | Value::Bool(false)) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::Bool(true)) => true,
    }
}

fn timestamps(object: &Map<String, Value>) -> Result<Vec<(&'static str, StixTime)>, String> {
    let mut out = Vec::new();
    for name in TIMESTAMPS {
        if let Some(text) = object.get(name).and_then(Value::as_str) {
            let time = StixTime::parse(text).map_err(|e| format!("{name}: {e}"))?;
            out.push((name, time));
        }
    }
    Ok(out)
}

fn order(kind: &str, times: &[(&'static str, StixTime)]) -> Result<(), String> {
    let get = |name: &str| times.iter().find(|(n, _)| *n == name).map(|(_, t)| *t);
    if let (Some(created), Some(modified)) = (get("created"), get("modified"))
        && modified < created
    {
        return Err("modified must not be earlier than created".into());
    }
    for (_, first, second, strict) in ORDERED.iter().filter(|(t, ..)| *t == kind) {
        if let (Some(a), Some(b)) = (get(first), get(second)) {
            if *strict && b <= a {
                return Err(format!("{second} must be later than {first}"));
            }
            if b < a {
                return Err(format!("{second} must not be earlier than {first}"));
            }
        }
    }
    Ok(())
}

fn extensions(kind: &str, object: &Map<String, Value>) -> Result<(), String> {
    let Some(Value::Object(map)) = object.get("extensions") else { return Ok(()) };
    for key in map.keys() {
        let ok = match key.strip_prefix("extension-definition--") {
            Some(_) => StixId::parse(key).is_ok(),
            None => SCO_EXTENSIONS.contains(&(kind, key.as_str())),
        };
        if !ok {
            return Err(format!(
                "extensions: {:?} is neither extension-definition--<uuid> nor a predefined \
                 extension of {kind}",
                clip(key)
            ));
        }
    }
    Ok(())
}

/// The references of `object` with the rule each must follow.
fn references(kind: &str, object: &Map<String, Value>) -> Result<(), String> {
    let marking: (Rule, &str) = (Rule::Only, "marking-definition");
    for (name, value) in object {
        let rule = match name.as_str() {
            "created_by_ref" => (Rule::Only, "identity"),
            "object_marking_refs" => marking,
            _ => match REFS.iter().find(|(t, p, ..)| *t == kind && p == name) {
                Some((_, _, rule, list)) => (*rule, *list),
                None => continue,
            },
        };
        let ids: Vec<&str> = match value {
            Value::String(s) => vec![s.as_str()],
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            _ => continue,
        };
        for id in ids {
            reference(name, id, rule)?;
        }
    }
    nested_references(object)?;
    let granular = object.get("granular_markings").and_then(Value::as_array);
    for g in granular.into_iter().flatten() {
        if let Some(id) = g.get("marking_ref").and_then(Value::as_str) {
            reference("granular_markings", id, marking)?;
        }
    }
    Ok(())
}

/// References inside predefined extensions and `body_multipart` items.
fn nested_references(object: &Map<String, Value>) -> Result<(), String> {
    let extensions = object.get("extensions").and_then(Value::as_object);
    let parts = object.get("body_multipart").and_then(Value::as_array);
    let containers = extensions
        .into_iter()
        .flatten()
        .map(|(key, value)| (key.as_str(), value))
        .chain(parts.into_iter().flatten().map(|part| ("body_multipart", part)));
    for (container, value) in containers {
        for (_, name, rule, list) in NESTED_REFS.iter().filter(|(c, ..)| *c == container) {
            let ids: Vec<&str> = match value.get(name) {
                Some(Value::String(s)) => vec![s.as_str()],
                Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
                _ => continue,
            };
            for id in ids {
                reference(&format!("{container}.{name}"), id, (*rule, list))?;
            }
        }
    }
    Ok(())
}

fn reference(name: &str, id: &str, (rule, list): (Rule, &str)) -> Result<(), String> {
    let parsed = StixId::parse(id).map_err(|e| format!("{name}: {e}"))?;
    let target = parsed.kind();
    let Some(class) = class_of(target) else {
        return Err(format!("{name}: reference to {:?}, a type stix2 does not know", clip(target)));
    };
    let listed = list.split(' ').any(|t| t == target || t == class.name());
    match rule {
        Rule::Only if !listed => Err(format!("{name}: may only reference {list}, not {target}")),
        Rule::Not if listed => Err(format!("{name}: may not reference {target}")),
        _ => Ok(()),
    }
}

/// stix2's presence rules that the schemas do not spell out (the schemas already require
/// location's region, country or latitude and longitude, a malware family's name and
/// network-traffic's src_ref or dst_ref).
fn constraints(kind: &str, object: &Map<String, Value>) -> Result<(), String> {
    if kind == "network-traffic"
        && object.contains_key("end")
        && object.get("is_active") != Some(&Value::Bool(false))
    {
        return Err("is_active must be false when end is present".into());
    }
    Ok(())
}

fn pattern(kind: &str, object: &Map<String, Value>) -> Result<(), String> {
    if kind != "indicator" || object.get("pattern_type").and_then(Value::as_str) != Some("stix") {
        return Ok(());
    }
    let text = object.get("pattern").and_then(Value::as_str).unwrap_or_default();
    crate::pattern::parse(text).map(|_| ()).map_err(|e| format!("pattern: {e}"))
}

fn sco_id(kind: &str, id: &StixId, object: &Map<String, Value>) -> Result<(), String> {
    if !DETERMINISTIC.contains(&kind) {
        return Ok(());
    }
    let type_name = TypeName::parse(kind).map_err(|e| e.to_string())?;
    match crate::id::sco_id(&type_name, object) {
        Ok(Some(expected)) if expected != *id => Err(format!(
            "id: {} is not the deterministic id of this {kind}, {}",
            id.as_str(),
            expected.as_str()
        )),
        Ok(_) => Ok(()),
        Err(e) => Err(format!("id: {e}")),
    }
}
