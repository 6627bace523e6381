//! One STIX object, validated as stix2 3.0.2 `parse(allow_custom=False)` and the official JSON
//! schemas would (spec §3), and what the store needs from it.
//!
//! The checks, in order, each refusal naming the property:
//! 1. strict JSON ([`crate::json::parse_strict`]): no duplicate keys, the [`Limits`];
//! 2. a JSON object with a string `type` and an `id` of that type ([`StixId::parse`]);
//! 3. a type that both stix2 and the schema set know. Custom types (`x-foo`) and the types an
//!    extension-definition defines (the incident suite's `event`, `impact`, `task`) are refused:
//!    the exchange cannot validate what it has no rules for. stix2 refuses custom types too, but
//!    **accepts** an unknown type unchanged when it carries an `extensions` entry that is not a
//!    property-extension (a new-SDO extension) — a deliberate difference;
//! 4. the type's JSON schema ([`crate::schema::Schemas::check`], which also holds
//!    `spec_version` to "2.1" and requires it where the schemas do);
//! 5. what the schemas cannot check and stix2 does (the crate's `rules` module): no
//!    properties beyond stix2's for the type, `spec_version` on all but SCOs, granular marking
//!    selectors that name a value, real dates, `created <= modified` (which stix2 does not
//!    check), `valid_until > valid_from`, `stop_time > start_time`, `first_seen <= last_seen`,
//!    `first_observed <= last_observed`, extension names, the types references point at (also
//!    inside predefined extensions and `body_multipart` parts),
//!    network-traffic's `is_active` with `end`, the indicator's STIX pattern, and the
//!    deterministic ids of single-value SCOs (which stix2 accepts when they differ: a
//!    deliberate difference, spec §3 makes SCO ids deterministic);
//! 6. the TLP: the herald recipients extension is well formed, and only on TLP:RED objects.
//!
//! Known differences from stix2 3.0.2, each deliberate and listed in the tests
//! (`tests/it/objects.rs`), where we refuse what stix2 accepts:
//! - new-SDO types (above), and random ids on single-value SCOs (above; the upstream example
//!   `infrastructure.json` has two such SCOs);
//! - a predefined SCO extension (`archive-ext`, …) on a type it is not defined for;
//! - `modified` earlier than `created` (spec §3; stix2 does not compare them);
//! - a missing `id`, `created`, `modified` or `spec_version`: stix2 makes them up (or reads
//!   the object as STIX 2.0); the schemas require them;
//! - what only the schemas bound: `confidence` above 100, empty lists (stix2 drops them), a
//!   granular marking with `lang` and no `marking_ref`, and the rest of the schemas' rules.

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::clip;
use crate::id::StixId;
use crate::json::Limits;
use crate::schema::SchemaError;
use crate::timestamp::StixTime;
use crate::tlp::Tlp;

/// An object that passed every check, with what the store needs.
#[derive(Debug, Clone)]
pub struct ValidObject<'a> {
    /// The exact bytes that were sent, served back unchanged.
    pub raw: &'a RawValue,
    /// The object's id.
    pub id: StixId,
    /// The object's type.
    pub kind: String,
    /// "2.1" (SCOs may omit it).
    pub spec_version: String,
    /// `created`, when present.
    pub created: Option<StixTime>,
    /// `modified`, when present.
    pub modified: Option<StixTime>,
    /// `modified`, else `created`, else `None` (the store then uses `date_added`, as the TAXII
    /// 2.1 manifest does).
    pub version: Option<StixTime>,
    /// `created_by_ref`, when present.
    pub created_by: Option<StixId>,
    /// The object's TLP ([`crate::tlp::tlp_of`]).
    pub tlp: Tlp,
    /// The organisations named in the recipients extension (TLP:RED only).
    pub recipients: Vec<StixId>,
    /// What the object references ([`crate::tlp::referenced_ids`]), for the reference rule.
    pub refs: Vec<StixId>,
}

/// An object refused, with what the TAXII status needs to name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The object's position in the POST.
    pub index: usize,
    /// The `id` as sent, when it is a string (truncated to 100 characters).
    pub id: Option<String>,
    /// `modified` (else `created`) as sent, when it is a string (truncated).
    pub version: Option<String>,
    /// Why, in lower case, naming the property.
    pub reason: String,
}

/// Validates the object `raw`, the `index`th of its POST.
pub fn validate<'a>(
    index: usize,
    raw: &'a RawValue,
    limits: &Limits,
) -> Result<ValidObject<'a>, Rejection> {
    let refuse = |id: Option<String>, version: Option<String>, reason: String| Rejection {
        index,
        id,
        version,
        reason,
    };
    let value = crate::json::parse_strict(raw.get(), limits)
        .map_err(|e| refuse(None, None, format!("not valid json: {e}")))?;
    let Value::Object(map) = &value else {
        return Err(refuse(None, None, "not a json object".into()));
    };
    let sent = |key: &str| map.get(key).and_then(Value::as_str).map(clip);
    let (sent_id, sent_version) = (sent("id"), sent("modified").or_else(|| sent("created")));
    let fail = |reason: String| refuse(sent_id.clone(), sent_version.clone(), reason);
    let kind = map
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| fail("type: a string is required".into()))?;
    let id_text = map
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| fail("id: a string is required".into()))?;
    let id = StixId::parse(id_text).map_err(|e| fail(format!("id: {e}")))?;
    if id.kind() != kind {
        return Err(fail(format!(
            "id: its type part {:?} is not the type {:?}",
            id.kind(),
            clip(kind)
        )));
    }
    let unknown = || {
        fail(format!(
            "type: {:?} is not a stix 2.1 type the exchange can validate (custom types and \
             types defined by extension-definitions are refused)",
            clip(kind)
        ))
    };
    if crate::rules::class_of(kind).is_none() {
        return Err(unknown());
    }
    match crate::schema::schemas().check(&value) {
        Err(SchemaError::UnknownType(_)) => return Err(unknown()),
        Err(e) => return Err(fail(e.to_string())),
        Ok(()) => {}
    }
    crate::rules::check(kind, &id, map).map_err(fail)?;
    finish(raw, id, kind, map).map_err(fail)
}

/// The store's view of an object that passed the checks (the TLP rules last).
fn finish<'a>(
    raw: &'a RawValue,
    id: StixId,
    kind: &str,
    map: &Map<String, Value>,
) -> Result<ValidObject<'a>, String> {
    let time =
        |key: &str| map.get(key).and_then(Value::as_str).and_then(|t| StixTime::parse(t).ok());
    let (created, modified) = (time("created"), time("modified"));
    let created_by = map
        .get("created_by_ref")
        .and_then(Value::as_str)
        .map(StixId::parse)
        .transpose()
        .map_err(|e| format!("created_by_ref: {e}"))?;
    let tlp = crate::tlp::tlp_of(map);
    let recipients = crate::tlp::recipients(map).map_err(|e| e.to_string())?;
    if !recipients.is_empty() && tlp != Tlp::Red {
        return Err("recipients are only for TLP:RED".into());
    }
    let refs = crate::tlp::referenced_ids(map)
        .into_iter()
        .map(StixId::parse)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("references: {e}"))?;
    let spec_version = map.get("spec_version").and_then(Value::as_str).unwrap_or("2.1").to_owned();
    Ok(ValidObject {
        raw,
        id,
        kind: kind.to_owned(),
        spec_version,
        created,
        modified,
        version: modified.or(created),
        created_by,
        tlp,
        recipients,
        refs,
    })
}
