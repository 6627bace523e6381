//! Each rule of `herald_stix::object::validate`, with hand-made objects.

use herald_stix::id::StixId;
use herald_stix::json::Limits;
use herald_stix::object::{Rejection, ValidObject, validate};
use herald_stix::tlp::{RECIPIENTS_EXTENSION, TLP2_AMBER, TLP2_RED, Tlp};
use serde_json::value::RawValue;
use serde_json::{Value, json};

const ID: &str = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
const IDENTITY: &str = "identity--a9119a87-6576-46af-bfd7-4fbe55926671";
const MALWARE: &str = "malware--591f0cb7-d66f-4e14-a8e6-5927b597f920";
const SIGHTING: &str = "sighting--4d051911-6275-4ec0-bf10-2b87348b8877";

fn indicator() -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1", "id": ID,
        "created": "2020-01-01T00:00:00.000Z", "modified": "2020-02-01T00:00:00.000Z",
        "pattern": "[ipv4-addr:value = '198.51.100.1']", "pattern_type": "stix",
        "valid_from": "2020-01-01T00:00:00Z"
    })
}

fn relationship() -> Value {
    json!({
        "type": "relationship", "spec_version": "2.1",
        "id": "relationship--26c5311c-9d9b-4b9b-b3b5-bac10e16a7a3",
        "created": "2020-01-01T00:00:00.000Z", "modified": "2020-01-01T00:00:00.000Z",
        "relationship_type": "indicates", "source_ref": ID, "target_ref": MALWARE
    })
}

fn with(mut base: Value, key: &str, value: Value) -> Value {
    base[key] = value;
    base
}

fn without(mut base: Value, key: &str) -> Value {
    base.as_object_mut().unwrap().remove(key);
    base
}

/// Validates `text` (leaked: the tests keep the borrowed result).
fn check_text(text: &str) -> Result<ValidObject<'static>, Rejection> {
    let raw: &'static RawValue =
        serde_json::from_str(Box::leak(text.to_owned().into_boxed_str())).unwrap();
    validate(3, raw, &Limits::default())
}

fn check(object: &Value) -> Result<ValidObject<'static>, Rejection> {
    check_text(&object.to_string())
}

/// Asserts `object` is refused with a reason containing `want`.
fn refused(object: &Value, want: &str) -> Rejection {
    let rejection = check(object).expect_err(want);
    assert!(rejection.reason.contains(want), "want {want:?}, got {:?}", rejection.reason);
    rejection
}

#[test]
fn a_valid_indicator_gives_the_store_what_it_needs() {
    let text = format!(
        "{{\"type\":\"indicator\",  \"spec_version\":\"2.1\",\"id\":\"{ID}\",\"created_by_ref\":\"{IDENTITY}\",\
         \"created\":\"2020-01-01T00:00:00.000Z\",\"modified\":\"2020-02-01T00:00:00.000Z\",\
         \"pattern\":\"[ipv4-addr:value = '198.51.100.1']\",\"pattern_type\":\"stix\",\
         \"valid_from\":\"2020-01-01T00:00:00Z\",\"object_marking_refs\":[\"{TLP2_AMBER}\"]}}"
    );
    let valid = check_text(&text).unwrap();
    assert_eq!(valid.raw.get(), text, "the exact bytes, spacing and order kept");
    assert_eq!(valid.id.as_str(), ID);
    assert_eq!(valid.kind, "indicator");
    assert_eq!(valid.spec_version, "2.1");
    assert_eq!(valid.version, valid.modified);
    assert!(valid.created < valid.modified);
    assert_eq!(valid.created_by.as_ref().map(StixId::as_str), Some(IDENTITY));
    assert_eq!(valid.tlp, Tlp::Amber);
    assert!(valid.recipients.is_empty() && valid.refs.is_empty());
    let r = check(&relationship()).unwrap();
    assert_eq!(r.refs.iter().map(StixId::as_str).collect::<Vec<_>>(), [ID, MALWARE]);
    assert_eq!(r.version, r.created);
}

#[test]
fn scos_may_omit_spec_version_and_have_no_version() {
    let ip = json!({"type": "ipv4-addr", "id": "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4", "value": "198.51.100.3"});
    let valid = check(&ip).unwrap();
    assert_eq!(valid.spec_version, "2.1");
    assert_eq!((valid.created, valid.modified, valid.version), (None, None, None));
}

#[test]
fn json_and_shape() {
    let r = check_text(r#"{"type": "indicator", "type": "indicator"}"#).unwrap_err();
    assert!(r.reason.contains("appears twice"), "{}", r.reason);
    assert_eq!((r.index, r.id, r.version), (3, None, None));
    assert!(check_text("[1]").unwrap_err().reason.contains("not a json object"));
    refused(&without(indicator(), "type"), "type: a string is required");
    refused(&with(indicator(), "type", json!(7)), "type: a string is required");
    refused(&without(indicator(), "id"), "id: a string is required");
    refused(&with(indicator(), "id", json!("indicator--nope")), "id: invalid identifier");
    let r = refused(&with(indicator(), "type", json!("malware")), "is not the type \"malware\"");
    assert_eq!(r.id.as_deref(), Some(ID), "the id as sent names the object");
    assert_eq!(r.version.as_deref(), Some("2020-02-01T00:00:00.000Z"));
}

#[test]
fn custom_and_extension_defined_types_are_refused() {
    let uuid = "8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
    for t in ["x-foo", "event", "task", "impact", "bundle"] {
        let object = with(with(indicator(), "type", json!(t)), "id", json!(format!("{t}--{uuid}")));
        refused(&object, "is not a stix 2.1 type the exchange can validate");
    }
}

#[test]
fn the_schema_is_applied() {
    refused(&without(indicator(), "pattern"), "\"pattern\" is a required property");
    refused(&with(indicator(), "spec_version", json!("2.0")), "spec_version");
    refused(&without(indicator(), "spec_version"), "spec_version");
    refused(&with(indicator(), "confidence", json!(101)), "/confidence");
}

#[test]
fn unknown_properties_are_refused() {
    refused(&with(indicator(), "colour", json!("red")), "unknown property \"colour\" on indicator");
    refused(&with(indicator(), "x_acme", json!(1)), "unknown property \"x_acme\"");
    // A property of another type.
    refused(&with(indicator(), "relationship_type", json!("uses")), "unknown property");
    // extension-definition has no `extensions` in stix2.
    let ext = json!({"type": "extension-definition", "spec_version": "2.1",
        "id": "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d",
        "created_by_ref": IDENTITY, "created": "2022-01-01T00:00:00.000Z",
        "modified": "2022-01-01T00:00:00.000Z", "name": "n", "schema": "s", "version": "1.0.0",
        "extension_types": ["property-extension"]});
    check(&ext).unwrap();
    let own = json!({"extension-definition--0b8ad1e0-4e2f-4b8a-9f1a-3f6e0a7c2d11": {"extension_type": "property-extension"}});
    refused(&with(ext, "extensions", own), "unknown property \"extensions\"");
}

#[test]
fn timestamps_are_real_dates_in_order() {
    refused(
        &with(indicator(), "modified", json!("2021-02-30T00:00:00.000Z")),
        "modified: invalid timestamp",
    );
    refused(
        &with(indicator(), "modified", json!("2019-01-01T00:00:00.000Z")),
        "modified must not be earlier than created",
    );
    check(&with(indicator(), "modified", json!("2020-01-01T00:00:00.000Z"))).unwrap();
    refused(
        &with(indicator(), "valid_until", json!("2020-01-01T00:00:00Z")),
        "valid_until must be later than valid_from",
    );
    check(&with(indicator(), "valid_until", json!("2020-01-01T00:00:00.001Z"))).unwrap();
    let r = with(relationship(), "start_time", json!("2020-01-01T00:00:00Z"));
    refused(
        &with(r.clone(), "stop_time", json!("2020-01-01T00:00:00Z")),
        "stop_time must be later than start_time",
    );
    check(&with(r, "stop_time", json!("2020-01-02T00:00:00Z"))).unwrap();
    let campaign = json!({"type": "campaign", "spec_version": "2.1", "id": "campaign--752c225d-d6f6-4456-9130-d9580fd4007b",
        "created": "2020-01-01T00:00:00.000Z", "modified": "2020-01-01T00:00:00.000Z", "name": "c",
        "first_seen": "2020-01-02T00:00:00Z"});
    check(&with(campaign.clone(), "last_seen", json!("2020-01-02T00:00:00Z"))).unwrap();
    refused(
        &with(campaign, "last_seen", json!("2020-01-01T00:00:00Z")),
        "last_seen must not be earlier than first_seen",
    );
}

#[test]
fn extension_names() {
    let id = "extension-definition--0b8ad1e0-4e2f-4b8a-9f1a-3f6e0a7c2d11";
    check(&with(indicator(), "extensions", json!({id: {"extension_type": "property-extension"}})))
        .unwrap();
    refused(
        &with(
            indicator(),
            "extensions",
            json!({"acme-ext": {"extension_type": "property-extension"}}),
        ),
        "extensions: \"acme-ext\"",
    );
    refused(
        &with(indicator(), "extensions", json!({"archive-ext": {"contains_refs": [ID]}})),
        "predefined extension of indicator",
    );
    let file = json!({"type": "file", "spec_version": "2.1", "id": "file--5a27d487-c542-5f97-a131-a8866b477b46", "name": "a.zip",
        "extensions": {"archive-ext": {"contains_refs": ["file--5a27d487-c542-5f97-a131-a8866b477b46"]}}});
    check(&file).unwrap();
    refused(
        &with(file, "extensions", json!({"tcp-ext": {"src_flags_hex": "00"}})),
        "predefined extension of file",
    );
}

#[test]
fn references_point_at_the_right_types() {
    refused(
        &with(indicator(), "created_by_ref", json!(MALWARE)),
        "created_by_ref: may only reference identity, not malware",
    );
    refused(
        &with(indicator(), "object_marking_refs", json!([IDENTITY])),
        "object_marking_refs: may only reference marking-definition",
    );
    let granular = json!([{"marking_ref": IDENTITY, "selectors": ["name"]}]);
    refused(&with(indicator(), "granular_markings", granular), "/granular_markings/0/marking_ref");
    refused(&with(relationship(), "source_ref", json!(SIGHTING)), "/source_ref");
    refused(
        &with(relationship(), "target_ref", json!("x-foo--591f0cb7-d66f-4e14-a8e6-5927b597f920")),
        "a type stix2 does not know",
    );
    refused(
        &with(relationship(), "target_ref", json!("task--591f0cb7-d66f-4e14-a8e6-5927b597f920")),
        "a type stix2 does not know",
    );
    let sighting = json!({"type": "sighting", "spec_version": "2.1", "id": SIGHTING,
        "created": "2020-01-01T00:00:00.000Z", "modified": "2020-01-01T00:00:00.000Z", "sighting_of_ref": MALWARE});
    check(&sighting).unwrap();
    refused(
        &with(
            sighting.clone(),
            "sighting_of_ref",
            json!("ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4"),
        ),
        "may only reference SDO",
    );
    refused(&with(sighting, "where_sighted_refs", json!([MALWARE])), "/where_sighted_refs/0");
}

#[test]
fn granular_markings() {
    let marking = |m: Value| with(indicator(), "granular_markings", json!([m]));
    check(&marking(json!({"marking_ref": TLP2_AMBER, "selectors": ["valid_from", "pattern"]})))
        .unwrap();
    // The schemas require marking_ref (stix2 would take lang alone).
    refused(
        &marking(json!({"lang": "fr", "selectors": ["pattern"]})),
        "\"marking_ref\" is a required",
    );
    refused(
        &marking(json!({"lang": "fr", "marking_ref": TLP2_AMBER, "selectors": ["pattern"]})),
        "either lang or marking_ref",
    );
    refused(
        &marking(json!({"marking_ref": TLP2_AMBER, "selectors": ["colour"]})),
        "the selector \"colour\" names nothing",
    );
    // stix2 skips empty values, and does not walk into external references.
    let with_refs = with(
        indicator(),
        "external_references",
        json!([{"source_name": "a", "url": "https://a.example"}, {"source_name": "a", "url": "https://a.example"}]),
    );
    let select = |s: &str| {
        with(
            with_refs.clone(),
            "granular_markings",
            json!([{"marking_ref": TLP2_AMBER, "selectors": [s]}]),
        )
    };
    check(&select("external_references.[0]")).unwrap();
    refused(&select("external_references.[1]"), "names nothing");
    refused(&select("external_references.[00]"), "names nothing");
    refused(&select("external_references.[0].source_name"), "names nothing");
    refused(&with(select("description"), "description", json!("")), "names nothing");
}

#[test]
fn references_inside_extensions_and_mime_parts() {
    let file = json!({"type": "file", "spec_version": "2.1", "id": "file--5a27d487-c542-5f97-a131-a8866b477b46", "name": "a.zip"});
    let archive =
        |r: &str| with(file.clone(), "extensions", json!({"archive-ext": {"contains_refs": [r]}}));
    check(&archive("file--0b8ad1e0-4e2f-4b8a-9f1a-3f6e0a7c2d11")).unwrap();
    refused(
        &archive(MALWARE),
        "archive-ext.contains_refs: may only reference directory file, not malware",
    );
    let email = json!({"type": "email-message", "spec_version": "2.1", "id": "email-message--0b8ad1e0-4e2f-4b8a-9f1a-3f6e0a7c2d11", "is_multipart": true});
    let part = |r: &str| with(email.clone(), "body_multipart", json!([{"body_raw_ref": r}]));
    check(&part("artifact--0b8ad1e0-4e2f-4b8a-9f1a-3f6e0a7c2d11")).unwrap();
    refused(&part(IDENTITY), "body_multipart.body_raw_ref: may only reference artifact file");
}

#[test]
fn stix_patterns_are_parsed() {
    let r =
        refused(&with(indicator(), "pattern", json!("[ipv4-addr:value = '1.2.3.4'")), "pattern: ");
    assert!(r.reason.len() > "pattern: ".len());
    let other =
        with(with(indicator(), "pattern_type", json!("sigma")), "pattern", json!("title: x"));
    check(&other).unwrap();
}

#[test]
fn single_value_sco_ids_are_deterministic() {
    let ip = json!({"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--1e4ffad7-0b88-41d4-ba4d-77d27490b956", "value": "198.51.100.3"});
    refused(
        &ip,
        "is not the deterministic id of this ipv4-addr, ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4",
    );
    // Types whose ids stix2 does not compute from one value keep the id sent.
    let software = json!({"type": "software", "spec_version": "2.1", "id": "software--1e4ffad7-0b88-41d4-ba4d-77d27490b956", "name": "x"});
    check(&software).unwrap();
}

#[test]
fn presence_rules_of_stix2() {
    let location = json!({"type": "location", "spec_version": "2.1", "id": "location--0b8ad1e0-4e2f-4b8a-9f1a-3f6e0a7c2d11",
        "created": "2020-01-01T00:00:00.000Z", "modified": "2020-01-01T00:00:00.000Z"});
    // The schema says so first (stix2 too: "region, country, or latitude and longitude").
    refused(&location, "invalid location");
    refused(&with(location.clone(), "latitude", json!(48.8)), "invalid location");
    check(&with(with(location.clone(), "latitude", json!(48.8)), "longitude", json!(2.3))).unwrap();
    refused(
        &with(with(location.clone(), "region", json!("europe")), "precision", json!(10.0)),
        "invalid location",
    );
    check(&with(location, "region", json!("europe"))).unwrap();
    let malware = json!({"type": "malware", "spec_version": "2.1", "id": MALWARE,
        "created": "2020-01-01T00:00:00.000Z", "modified": "2020-01-01T00:00:00.000Z", "is_family": true});
    refused(&malware, "invalid malware");
    check(&with(malware, "name", json!("x"))).unwrap();
    let traffic = json!({"type": "network-traffic", "spec_version": "2.1", "id": "network-traffic--0b8ad1e0-4e2f-4b8a-9f1a-3f6e0a7c2d11",
        "protocols": ["tcp"]});
    refused(&traffic, "invalid network-traffic");
    let traffic =
        with(traffic, "dst_ref", json!("ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4"));
    check(&traffic).unwrap();
    refused(&with(traffic, "end", json!("2020-01-01T00:00:00Z")), "is_active must be false");
}

#[test]
fn recipients_only_on_red() {
    let ext = json!({RECIPIENTS_EXTENSION: {"extension_type": "property-extension", "recipients": [IDENTITY]}});
    let red = with(with(indicator(), "extensions", ext), "object_marking_refs", json!([TLP2_RED]));
    let valid = check(&red).unwrap();
    assert_eq!(valid.tlp, Tlp::Red);
    assert_eq!(valid.recipients.iter().map(StixId::as_str).collect::<Vec<_>>(), [IDENTITY]);
    refused(
        &with(red.clone(), "object_marking_refs", json!([TLP2_AMBER])),
        "recipients are only for TLP:RED",
    );
    let bad = json!({RECIPIENTS_EXTENSION: {"extension_type": "property-extension", "recipients": [MALWARE]}});
    refused(&with(red, "extensions", bad), "recipients extension");
}
