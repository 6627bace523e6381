//! `herald_stix::object::validate` against oracles we did not write: the `stix2_parse` verdicts
//! of `exchange/stix/verdicts.json` (stix2 3.0.2, `allow_custom=False`), and a differential run
//! against stix2 3.0.2 itself over mutations of the test data.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use herald_stix::id::{TypeName, sco_id};
use herald_stix::json::Limits;
use herald_stix::object::validate;
use herald_testkit::read_testdata;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

/// A testdata file's text.
fn file_text(relative: &str) -> String {
    String::from_utf8(read_testdata(&format!("exchange/stix/{relative}"))).unwrap()
}

#[derive(Deserialize)]
struct WithObjects<'a> {
    #[serde(borrow)]
    objects: Vec<&'a RawValue>,
}

/// The exact text of each STIX object of a file: a bundle's `objects`, a list's items, or the
/// file's one object.
fn raw_objects(text: &str) -> Vec<&RawValue> {
    if let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(text) {
        return items;
    }
    if let Ok(bundle) = serde_json::from_str::<WithObjects<'_>>(text) {
        return bundle.objects;
    }
    vec![serde_json::from_str::<&RawValue>(text).unwrap()]
}

/// Objects we refuse and stix2 accepts, on purpose: the new-SDO types of the incident
/// extension suite, which stix2 passes through unchecked (it returns the dict as is) and for
/// which the exchange has no schema.
const NEW_SDO_TYPES: [&str; 3] = ["event", "impact", "task"];

#[test]
fn verdicts_agree_with_stix2_parse() {
    let verdicts: Value = serde_json::from_str(&file_text("verdicts.json")).unwrap();
    let limits = Limits::default();
    let (mut total, mut agreed, mut deliberate, mut refused) = (0, 0, 0, 0);
    let mut table = String::new();
    for entry in verdicts["files"].as_array().unwrap() {
        let name = entry["file"].as_str().unwrap();
        let text = file_text(name);
        let objects = raw_objects(&text);
        let expected = entry["objects"].as_array().unwrap();
        assert_eq!(objects.len(), expected.len(), "{name}: object count");
        for (index, (raw, verdict)) in objects.iter().zip(expected).enumerate() {
            total += 1;
            let ours = validate(index, raw, &limits);
            let theirs = verdict["stix2_parse_valid"].as_bool().unwrap();
            match &ours {
                Ok(valid) => {
                    // Byte identity: what is kept is exactly the object's text in the file.
                    assert_eq!(valid.raw.get(), raw.get());
                    let at = text.find(valid.raw.get()).expect("the object's text is in the file");
                    assert_eq!(&text[at..at + valid.raw.get().len()], valid.raw.get());
                    assert_eq!(valid.id.as_str(), verdict["id"].as_str().unwrap());
                }
                Err(rejection) => {
                    refused += 1;
                    assert_eq!(rejection.index, index);
                    assert_eq!(rejection.id.as_deref(), verdict["id"].as_str());
                }
            }
            let kind = verdict["type"].as_str().unwrap();
            if ours.is_ok() == theirs {
                agreed += 1;
            } else if theirs
                && (NEW_SDO_TYPES.contains(&kind)
                    || ours.as_ref().is_err_and(|r| r.reason.contains("deterministic id")))
            {
                deliberate += 1;
            } else {
                writeln!(
                    table,
                    "{name} | {} | stix2 {theirs} ({}) | ours {:?}",
                    verdict["id"],
                    verdict["stix2_parse_error"],
                    ours.as_ref().err()
                )
                .unwrap();
            }
        }
    }
    println!(
        "stix2_parse verdicts: {agreed}/{total} agree, {deliberate} deliberate differences \
         (new-SDO types, random SCO ids), {refused} refused by us"
    );
    assert!(table.is_empty(), "disagreements:\n{table}");
    assert_eq!(total, 299);
    // 8 event/impact/task objects; the ipv4-addr and domain-name of infrastructure.json.
    assert_eq!(deliberate, 10);
}

const STIX2_SCRIPT: &str = r#"
import json, sys, warnings
warnings.simplefilter("ignore")
import stix2
out = []
for obj in json.load(sys.stdin):
    try:
        stix2.parse(obj, allow_custom=False)
        out.append(None)
    except Exception as e:
        out.append(type(e).__name__ + ": " + str(e)[:300])
json.dump(out, sys.stdout)
"#;

/// A uuid that is valid (v4), for references and ids made up here.
const UUID: &str = "0b8ad1e0-4e2f-4b8a-9f1a-3f6e0a7c2d11";

/// TLP:GREEN (2.0).
const TLP: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";

/// Each mutation: a name and what it does to an object (`None`: does not apply).
type Mutation = (&'static str, fn(&mut serde_json::Map<String, Value>) -> Option<()>);

#[allow(clippy::unnecessary_wraps, reason = "chains with `?` in the mutations")]
fn set(o: &mut serde_json::Map<String, Value>, key: &str, value: Value) -> Option<()> {
    o.insert(key.to_owned(), value);
    Some(())
}

fn has(o: &serde_json::Map<String, Value>, key: &str) -> Option<()> {
    o.contains_key(key).then_some(())
}

fn kind(o: &serde_json::Map<String, Value>) -> &str {
    o["type"].as_str().unwrap()
}

const MUTATIONS: [Mutation; 59] = [
    ("unchanged", |_| Some(())),
    ("drop created", |o| o.remove("created").map(drop)),
    ("drop modified", |o| o.remove("modified").map(drop)),
    ("drop name", |o| o.remove("name").map(drop)),
    ("drop pattern", |o| o.remove("pattern").map(drop)),
    ("drop relationship_type", |o| o.remove("relationship_type").map(drop)),
    ("drop value", |o| o.remove("value").map(drop)),
    ("drop spec_version", |o| o.remove("spec_version").map(drop)),
    ("drop id", |o| o.remove("id").map(drop)),
    ("unknown property", |o| set(o, "colour", json!("red"))),
    ("x_ property", |o| set(o, "x_acme_score", json!(3))),
    ("bad date", |o| {
        has(o, "modified").and_then(|()| set(o, "modified", json!("2021-02-30T00:00:00Z")))
    }),
    ("bad timestamp format", |o| {
        has(o, "created").and_then(|()| set(o, "created", json!("2021-01-01 10:00:00")))
    }),
    ("modified < created", |o| {
        has(o, "created").and_then(|()| set(o, "modified", json!("2000-01-01T00:00:00.000Z")))
    }),
    ("spec_version 2.0", |o| set(o, "spec_version", json!("2.0"))),
    ("created_by_ref to malware", |o| set(o, "created_by_ref", json!(format!("malware--{UUID}")))),
    ("created_by_ref to identity", |o| {
        has(o, "created")
            .and_then(|()| set(o, "created_by_ref", json!(format!("identity--{UUID}"))))
    }),
    ("marking ref to identity", |o| {
        set(o, "object_marking_refs", json!([format!("identity--{UUID}")]))
    }),
    ("source_ref to relationship", |o| {
        has(o, "source_ref")
            .and_then(|()| set(o, "source_ref", json!(format!("relationship--{UUID}"))))
    }),
    ("target_ref to custom", |o| {
        has(o, "target_ref").and_then(|()| set(o, "target_ref", json!(format!("x-foo--{UUID}"))))
    }),
    ("object_refs to bundle", |o| {
        has(o, "object_refs")
            .and_then(|()| set(o, "object_refs", json!([format!("bundle--{UUID}")])))
    }),
    ("sighting_of_ref to relationship", |o| {
        has(o, "sighting_of_ref")
            .and_then(|()| set(o, "sighting_of_ref", json!(format!("relationship--{UUID}"))))
    }),
    ("bad pattern", |o| {
        has(o, "pattern").and_then(|()| set(o, "pattern", json!("[ipv4-addr:value = '1.2.3.4'")))
    }),
    ("bad pattern operator", |o| {
        has(o, "pattern").and_then(|()| {
            set(
                o,
                "pattern",
                json!("[file:name = 'a'] FOLLOWEDBY [file:name = 'b'] WITHIN 0 SECONDS"),
            )
        })
    }),
    ("pattern START after STOP", |o| {
        has(o, "pattern").and_then(|()| {
            set(
                o,
                "pattern",
                json!(
                    "[file:name = 'a'] START t'2020-01-01T00:00:00Z' STOP t'2019-01-01T00:00:00Z'"
                ),
            )
        })
    }),
    ("pattern with a custom object", |o| {
        has(o, "pattern").and_then(|()| set(o, "pattern", json!("[x-acme:score > 3]")))
    }),
    ("pattern valid and complex", |o| {
        has(o, "pattern").and_then(|()| set(o, "pattern", json!("([ipv4-addr:value ISSUBSET '198.51.100.0/24'] FOLLOWEDBY [file:hashes.'SHA-256' = 'aa'] WITHIN 5 MINUTES) REPEATS 2 TIMES")))
    }),
    ("pattern bad hash name", |o| {
        has(o, "pattern").and_then(|()| set(o, "pattern", json!("[file:hashes.sha-256 = 'aa']")))
    }),
    ("valid_until before valid_from", |o| {
        has(o, "valid_from").and_then(|()| set(o, "valid_until", json!("1999-01-01T00:00:00Z")))
    }),
    ("last_seen before first_seen", |o| {
        set(o, "first_seen", json!("2020-01-02T00:00:00Z"))?;
        matches!(
            kind(o),
            "campaign"
                | "intrusion-set"
                | "malware"
                | "threat-actor"
                | "infrastructure"
                | "sighting"
        )
        .then_some(())?;
        set(o, "last_seen", json!("2020-01-01T00:00:00Z"))
    }),
    ("bad extension key", |o| set(o, "extensions", json!({"acme-ext": {"a": 1}}))),
    ("extension-definition key", |o| {
        set(
            o,
            "extensions",
            json!({format!("extension-definition--{UUID}"): {"extension_type": "property-extension", "rank": 1}}),
        )
    }),
    ("extension key bad uuid", |o| {
        set(
            o,
            "extensions",
            json!({"extension-definition--1234": {"extension_type": "property-extension"}}),
        )
    }),
    ("type x-foo", |o| {
        let id = o["id"].as_str()?.split_once("--")?.1.to_owned();
        set(o, "type", json!("x-foo"))?;
        set(o, "id", json!(format!("x-foo--{id}")))
    }),
    ("id of another type", |o| set(o, "id", json!(format!("tool--{UUID}")))),
    ("confidence 101", |o| has(o, "created").and_then(|()| set(o, "confidence", json!(101)))),
    ("sco id not deterministic", |o| {
        matches!(kind(o), "ipv4-addr" | "domain-name" | "email-addr" | "url").then_some(())?;
        let t = kind(o).to_owned();
        set(o, "id", json!(format!("{t}--{UUID}")))
    }),
    ("selector to a missing property", |o| {
        set(o, "granular_markings", json!([{"marking_ref": TLP, "selectors": ["nothing_here"]}]))
    }),
    ("selector to name", |o| {
        has(o, "name").and_then(|()| {
            set(o, "granular_markings", json!([{"marking_ref": TLP, "selectors": ["name"]}]))
        })
    }),
    ("selector into a list", |o| {
        has(o, "external_references").and_then(|()| {
            set(
                o,
                "granular_markings",
                json!([{"marking_ref": TLP, "selectors": ["external_references.[0].source_name"]}]),
            )
        })
    }),
    ("selector to a list item", |o| {
        has(o, "external_references").and_then(|()| {
            set(
                o,
                "granular_markings",
                json!([{"marking_ref": TLP, "selectors": ["external_references.[0]"]}]),
            )
        })
    }),
    ("empty labels", |o| set(o, "labels", json!([]))),
    ("empty description", |o| set(o, "description", json!(""))),
    ("empty object_marking_refs", |o| set(o, "object_marking_refs", json!([]))),
    ("external reference without source", |o| {
        has(o, "created")
            .and_then(|()| set(o, "external_references", json!([{"url": "https://example.com"}])))
    }),
    ("kill chain phase without phase", |o| {
        has(o, "kill_chain_phases")
            .and_then(|()| set(o, "kill_chain_phases", json!([{"kill_chain_name": "k"}])))
    }),
    ("non-stix pattern", |o| {
        has(o, "pattern")?;
        set(o, "pattern_type", json!("sigma"))?;
        set(o, "pattern", json!("[not stix"))
    }),
    ("lang and marking_ref", |o| {
        set(
            o,
            "granular_markings",
            json!([{"marking_ref": TLP, "lang": "en", "selectors": ["type"]}]),
        )
    }),
    ("end while active", |o| {
        has(o, "protocols").and_then(|()| set(o, "end", json!("2021-01-01T00:00:00Z")))
    }),
    ("end after start, inactive", |o| {
        has(o, "protocols")?;
        set(o, "is_active", json!(false))?;
        set(o, "end", json!("2021-01-01T00:00:00Z"))
    }),
    ("file without name or hashes", |o| {
        (kind(o) == "file").then_some(())?;
        o.remove("name");
        o.remove("hashes").map(drop)
    }),
    ("image_ref to process", |o| {
        has(o, "image_ref").and_then(|()| set(o, "image_ref", json!(format!("process--{UUID}"))))
    }),
    ("from_ref to url", |o| {
        has(o, "from_ref").and_then(|()| set(o, "from_ref", json!(format!("url--{UUID}"))))
    }),
    ("archive-ext", |o| {
        set(o, "extensions", json!({"archive-ext": {"contains_refs": [format!("file--{UUID}")]}}))
    }),
    ("archive-ext contains malware", |o| {
        set(
            o,
            "extensions",
            json!({"archive-ext": {"contains_refs": [format!("malware--{UUID}")]}}),
        )
    }),
    ("mime part ref to identity", |o| {
        (kind(o) == "email-message").then_some(())?;
        o.remove("body");
        set(o, "is_multipart", json!(true))?;
        set(o, "body_multipart", json!([{"body_raw_ref": format!("identity--{UUID}")}]))
    }),
    ("mime part ref to file", |o| {
        (kind(o) == "email-message").then_some(())?;
        set(o, "is_multipart", json!(true))?;
        set(
            o,
            "body_multipart",
            json!([{"body_raw_ref": format!("file--{UUID}"), "content_type": "image/png"}]),
        )
    }),
    ("sample_ref to SDO", |o| {
        has(o, "sample_ref").and_then(|()| set(o, "sample_ref", json!(format!("malware--{UUID}"))))
    }),
    ("granular marking to identity", |o| {
        set(
            o,
            "granular_markings",
            json!([{"marking_ref": format!("identity--{UUID}"), "selectors": ["type"]}]),
        )
    }),
];

/// (mutation, reason) pairs where we refuse on purpose what stix2 accepts.
const DELIBERATE: [(&str, &str); 10] = [
    (
        "archive-ext",
        "stix2 takes a predefined extension on any type; STIX 2.1 defines archive-ext \
      for file only",
    ),
    ("empty labels", "stix2 drops an empty list; the schemas require at least one item"),
    (
        "empty object_marking_refs",
        "stix2 drops an empty list; the schemas require at least one item",
    ),
    ("modified < created", "spec §3: created <= modified; stix2 does not compare them"),
    ("sco id not deterministic", "spec §3: SCO ids are UUIDv5; stix2 keeps any supplied id"),
    (
        "drop spec_version",
        "stix2 reads an object without spec_version as STIX 2.0 (or fills \
      in \"2.1\"); the schemas require it",
    ),
    (
        "drop created",
        "stix2 fills in a missing created with the current time; the schemas \
      require it (and the exchange would store a time it made up)",
    ),
    ("drop modified", "stix2 fills in a missing modified with created; the schemas require it"),
    (
        "drop id",
        "stix2 makes up a random id; the schemas require one (an object the sender \
      cannot name cannot be versioned)",
    ),
    ("confidence 101", "stix2 3.0.2 does not bound confidence; the schemas say 0..=100"),
];

/// A few extra objects the testdata lacks: single-value SCOs and a location.
fn extra_objects() -> Vec<Value> {
    vec![
        json!({"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4", "value": "198.51.100.3"}),
        json!({"type": "url", "spec_version": "2.1", "id": "url--47c3cf9a-5027-5bf0-997a-017c7edc7c55", "value": "https://example.com/research/index.html"}),
        json!({"type": "mutex", "spec_version": "2.1", "id": format!("mutex--{UUID}"), "name": "__CLEANSWEEP__"}),
        json!({"type": "email-addr", "spec_version": "2.1", "id": format!("email-addr--{UUID}"), "value": "john@example.com"}),
        json!({"type": "location", "spec_version": "2.1", "id": format!("location--{UUID}"), "created": "2020-01-01T00:00:00.000Z", "modified": "2020-01-01T00:00:00.000Z", "region": "europe"}),
        json!({"type": "file", "spec_version": "2.1", "id": format!("file--{UUID}"), "name": "a.exe", "hashes": {"SHA-256": "fe90a7e910cb3a4739bed9180e807e93fa70c90f25a8915476f5e4bfbac681db"}, "size": 25536}),
        json!({"type": "network-traffic", "spec_version": "2.1", "id": format!("network-traffic--{UUID}"), "dst_ref": "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4", "protocols": ["ipv4", "tcp"], "dst_port": 443, "start": "2020-01-01T00:00:00Z"}),
        json!({"type": "email-message", "spec_version": "2.1", "id": format!("email-message--{UUID}"), "is_multipart": false, "from_ref": format!("email-addr--{UUID}"), "subject": "hello", "date": "2020-01-01T00:00:00Z"}),
        json!({"type": "process", "spec_version": "2.1", "id": format!("process--{UUID}"), "pid": 1221, "command_line": "./gedit-bin --new-window", "image_ref": format!("file--{UUID}")}),
        json!({"type": "user-account", "spec_version": "2.1", "id": format!("user-account--{UUID}"), "user_id": "1001", "account_login": "jdoe", "account_created": "2016-01-20T12:31:12Z"}),
        json!({"type": "software", "spec_version": "2.1", "id": format!("software--{UUID}"), "name": "Word", "vendor": "Microsoft", "version": "2002"}),
        json!({"type": "autonomous-system", "spec_version": "2.1", "id": format!("autonomous-system--{UUID}"), "number": 15139, "name": "Slime Industries"}),
        json!({"type": "mac-addr", "spec_version": "2.1", "id": format!("mac-addr--{UUID}"), "value": "d2:fb:49:24:37:18"}),
        json!({"type": "grouping", "spec_version": "2.1", "id": format!("grouping--{UUID}"), "created": "2020-01-01T00:00:00.000Z", "modified": "2020-01-01T00:00:00.000Z", "name": "g", "context": "suspicious-activity", "object_refs": [format!("file--{UUID}"), format!("malware--{UUID}")]}),
        json!({"type": "note", "spec_version": "2.1", "id": format!("note--{UUID}"), "created": "2020-01-01T00:00:00.000Z", "modified": "2020-01-01T00:00:00.000Z", "content": "c", "object_refs": [format!("malware--{UUID}")]}),
        json!({"type": "opinion", "spec_version": "2.1", "id": format!("opinion--{UUID}"), "created": "2020-01-01T00:00:00.000Z", "modified": "2020-01-01T00:00:00.000Z", "opinion": "agree", "object_refs": [format!("malware--{UUID}")]}),
        json!({"type": "malware-analysis", "spec_version": "2.1", "id": format!("malware-analysis--{UUID}"), "created": "2020-01-01T00:00:00.000Z", "modified": "2020-01-01T00:00:00.000Z", "product": "av", "result": "malicious", "sample_ref": format!("file--{UUID}"), "submitted": "2020-01-01T00:00:00Z"}),
    ]
}

#[test]
fn differential_against_stix2() {
    let mut bases: Vec<Value> = extra_objects();
    for file in [
        "examples/threat-reports/poisonivy.json",
        "examples/threat-reports/apt1.json",
        "examples/indicators-for-C2-with-COA.json",
        "examples/malicious-email-indicator-with-attachment.json",
        "examples/infrastructure.json",
        "examples/indicator-for-c2-ip-address.json",
        "tlp2/marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1.json",
        "incident/incident_ransom.json",
    ] {
        for raw in raw_objects(&file_text(file)) {
            bases.push(serde_json::from_str(raw.get()).unwrap());
        }
    }
    // Upstream examples use random ids for SCOs whose ids are deterministic: give every
    // mutation a base we accept (the random ids are the deliberate difference above).
    for base in &mut bases {
        let kind = TypeName::parse(base["type"].as_str().unwrap()).unwrap();
        if let Some(id) = sco_id(&kind, base.as_object().unwrap()).unwrap() {
            base["id"] = json!(id.as_str());
        }
    }
    // At most this many objects of one type per mutation, so the run stays short.
    let mut cases: Vec<(&str, String, Value)> = Vec::new();
    for (name, mutate) in MUTATIONS {
        let mut per_type: BTreeMap<String, usize> = BTreeMap::new();
        for base in &bases {
            let mut object = base.as_object().unwrap().clone();
            let t = kind(&object).to_owned();
            // Refused as they are (a deliberate difference); mutating them shows nothing more.
            if NEW_SDO_TYPES.contains(&t.as_str()) && name != "unchanged" {
                continue;
            }
            let seen = per_type.entry(t).or_default();
            if *seen >= 3 || mutate(&mut object).is_none() {
                continue;
            }
            *seen += 1;
            cases.push((name, base["type"].as_str().unwrap().to_owned(), Value::Object(object)));
        }
    }
    let input = Value::Array(cases.iter().map(|(_, _, o)| o.clone()).collect()).to_string();
    let Some(out) = herald_testkit::run_exchange_python(&["stix2"], STIX2_SCRIPT, input.as_bytes())
    else {
        return;
    };
    let theirs: Vec<Option<String>> = serde_json::from_slice(&out).unwrap();
    assert_eq!(theirs.len(), cases.len());
    let limits = Limits::default();
    let (mut agreed, mut deliberate, mut accepted) = (0, 0, 0);
    let mut why: BTreeMap<&str, usize> = BTreeMap::new();
    let mut table = String::new();
    let mut by_mutation: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (index, ((name, base_type, object), theirs)) in cases.iter().zip(&theirs).enumerate() {
        let text = object.to_string();
        let raw: &RawValue = serde_json::from_str(&text).unwrap();
        let ours = validate(index, raw, &limits);
        let counts = by_mutation.entry(name).or_default();
        counts.0 += 1;
        accepted += usize::from(ours.is_ok());
        if ours.is_ok() == theirs.is_none() {
            agreed += 1;
            counts.1 += 1;
        } else if ours.is_err()
            && (DELIBERATE.iter().any(|(m, _)| m == name)
                || NEW_SDO_TYPES.contains(&base_type.as_str()))
        {
            deliberate += 1;
            let new_sdo = NEW_SDO_TYPES.contains(&base_type.as_str());
            *why.entry(if new_sdo { "a new-SDO type (event/impact/task)" } else { name })
                .or_default() += 1;
        } else {
            writeln!(
                table,
                "{name} | {} | stix2 {theirs:?} | ours {:?}",
                object["id"],
                ours.as_ref().err().map(|r| &r.reason)
            )
            .unwrap();
        }
    }
    for (name, (n, ok)) in &by_mutation {
        println!("  {name}: {ok}/{n} agree");
    }
    println!(
        "differential vs stix2 3.0.2: {agreed}/{} agree, {deliberate} deliberate differences, \
         {accepted} accepted by us",
        cases.len()
    );
    for (reason, n) in &why {
        println!("  deliberate, {reason}: {n}");
    }
    assert!(cases.len() >= 300, "only {} cases", cases.len());
    assert!(table.is_empty(), "disagreements:\n{table}");
}
