//! `herald_stix::schema` against oracles we did not write: the verdicts of Python `jsonschema`
//! 4.26 over the STIX test data (`exchange/stix/verdicts.json`), plus hand-made refusals.

use std::fmt::Write as _;
use std::time::Instant;

use herald_stix::schema::{FILES, SCHEMA_BASE, SchemaError, Schemas, schemas};
use herald_testkit::{read_testdata, testdata_dir};
use serde_json::{Value, json};

/// A testdata file below `exchange/stix/`, parsed.
fn stix_file(relative: &str) -> Value {
    serde_json::from_slice(&read_testdata(&format!("exchange/stix/{relative}"))).unwrap()
}

/// The STIX objects of a testdata file: a bundle's `objects` (with or without `type`), a list's
/// items, or the file's one object.
fn objects_of(file: &Value) -> Vec<Value> {
    match file {
        Value::Array(items) => items.clone(),
        Value::Object(map) => match map.get("objects") {
            Some(Value::Array(items)) => items.clone(),
            _ => vec![file.clone()],
        },
        _ => panic!("a testdata file that is neither an object nor a list"),
    }
}

/// What the oracle's verdict means for us.
fn agrees(schema_valid: &Value, ours: &Result<(), SchemaError>) -> bool {
    // `null` is the oracle's "no core JSON schema for type".
    matches!(
        (schema_valid, ours),
        (Value::Bool(true), Ok(()))
            | (Value::Bool(false), Err(SchemaError::Invalid { .. }))
            | (Value::Null, Err(SchemaError::UnknownType(_)))
    )
}

#[test]
fn check_agrees_with_the_python_jsonschema_verdicts() {
    let verdicts = stix_file("verdicts.json");
    let files = verdicts["files"].as_array().unwrap();
    let (mut total, mut agreed, mut unknown, mut invalid) = (0, 0, 0, 0);
    let mut table = String::new();
    for entry in files {
        let name = entry["file"].as_str().unwrap();
        let objects = objects_of(&stix_file(name));
        let expected = entry["objects"].as_array().unwrap();
        assert_eq!(objects.len(), expected.len(), "{name}: object count");
        for (object, verdict) in objects.iter().zip(expected) {
            assert_eq!(object["id"], verdict["id"], "{name}: objects in order");
            total += 1;
            let ours = schemas().check(object);
            match &ours {
                Err(SchemaError::UnknownType(_)) => unknown += 1,
                Err(SchemaError::Invalid { .. }) => invalid += 1,
                _ => {}
            }
            if agrees(&verdict["schema_valid"], &ours) {
                agreed += 1;
            } else {
                writeln!(
                    table,
                    "{name} | {} | oracle {} ({}) | ours {ours:?}",
                    verdict["id"], verdict["schema_valid"], verdict["schema_error"]
                )
                .unwrap();
            }
        }
    }
    println!("schema verdicts: {agreed}/{total} agree ({invalid} invalid, {unknown} unknown type)");
    assert!(table.is_empty(), "{agreed}/{total} agree; disagreements:\n{table}");
    assert_eq!(total, 299, "every object of verdicts.json was checked");
}

#[test]
fn the_invalid_relationship_names_the_bad_timestamp() {
    let bundle = stix_file("invalid/using-tlp2.0-green.json");
    let relationship =
        objects_of(&bundle).into_iter().find(|o| o["type"] == "relationship").unwrap();
    let err = schemas().check(&relationship).unwrap_err();
    let SchemaError::Invalid { pointer, .. } = &err else { panic!("{err:?}") };
    println!("{err}");
    assert_eq!(pointer, "/created", "{err}");
    assert!(err.to_string().contains("2022-101-27"), "{err}");
}

#[test]
fn every_vendored_schema_file_compiles() {
    let compiled = Schemas::compile().unwrap();
    // 19 SDOs, 2 SROs, 18 SCOs, and marking-definition, extension-definition, language-content.
    assert_eq!(compiled.types().len(), 42, "{:?}", compiled.types());
    assert_eq!(FILES.iter().filter(|f| f.is_object_schema()).count(), compiled.types().len());

    // Each file on its own, the 16 shared definitions and bundle.json included, against the
    // draft 2020-12 meta-schema and compiled with every file registered (offline).
    let parsed: Vec<(String, Value)> =
        FILES.iter().map(|f| (f.id(), serde_json::from_str(f.text).unwrap())).collect();
    let mut builder = jsonschema::Registry::new();
    for (id, value) in &parsed {
        builder = builder.add(id, value).unwrap();
    }
    let registry = builder.prepare().unwrap();
    for (file, (id, value)) in FILES.iter().zip(&parsed) {
        assert_eq!(value["$id"], id.as_str(), "{} is registered under its $id", file.path());
        assert!(id.starts_with(SCHEMA_BASE));
        jsonschema::meta::validate(value)
            .unwrap_or_else(|e| panic!("{} is not a valid 2020-12 schema: {e}", file.path()));
        jsonschema::options()
            .offline()
            .with_registry(&registry)
            .build(value)
            .unwrap_or_else(|e| panic!("{} does not compile: {e}", file.path()));
    }
}

#[test]
fn the_vendored_files_are_the_upstream_snapshot() {
    let upstream = testdata_dir().join("exchange/stix/json-schemas/schemas");
    for file in &FILES {
        let original = std::fs::read_to_string(upstream.join(file.path())).unwrap();
        assert_eq!(file.text, original, "{} differs from the snapshot", file.path());
    }
    let count = ["common", "sdos", "sros", "observables"]
        .iter()
        .map(|d| std::fs::read_dir(upstream.join(d)).unwrap().count())
        .sum::<usize>();
    assert_eq!(count, FILES.len(), "every upstream schema file is vendored");
}

/// A valid indicator, hand-made from the spec's example.
fn indicator() -> Value {
    json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        "created": "2016-04-06T20:03:48.000Z",
        "modified": "2016-04-06T20:03:48.000Z",
        "name": "Poison Ivy Malware",
        "indicator_types": ["malicious-activity"],
        "pattern": "[file:hashes.'SHA-256' = '4bac27393bdd9777ce02453256c5577cd02275510b2227f473d03f533924f877']",
        "pattern_type": "stix",
        "valid_from": "2016-01-01T00:00:00Z"
    })
}

/// `indicator()` changed by `edit`, which must be refused at `pointer`.
fn refused_at(edit: impl FnOnce(&mut serde_json::Map<String, Value>), pointer: &str) -> String {
    let mut object = indicator();
    edit(object.as_object_mut().unwrap());
    let err = schemas().check(&object).unwrap_err();
    let SchemaError::Invalid { pointer: at, message, .. } = &err else {
        panic!("expected a schema violation, got {err:?}")
    };
    assert_eq!(at, pointer, "{err}");
    let text = err.to_string();
    println!("{text}");
    assert!(text.chars().count() < 600, "{text}");
    assert!(!message.starts_with(char::is_uppercase), "{text}");
    text
}

#[test]
fn hand_made_objects_are_refused() {
    schemas().check(&indicator()).unwrap();

    let text = refused_at(|o| drop(o.remove("id")), "/");
    assert!(text.contains("\"id\""), "{text}");
    let text =
        refused_at(|o| drop(o.insert("created".into(), json!("2016-04-06 20:03:48Z"))), "/created");
    assert!(text.contains("2016-04-06 20:03:48Z"), "{text}");
    refused_at(|o| drop(o.insert("modified".into(), json!("2016-13-06T20:03:48Z"))), "/modified");
    let text = refused_at(|o| drop(o.insert("spec_version".into(), json!("2.0"))), "/spec_version");
    assert!(text.contains("2.0"), "{text}");
    refused_at(|o| drop(o.insert("name".into(), json!(42))), "/name");
    refused_at(
        |o| drop(o.insert("indicator_types".into(), json!("malicious-activity"))),
        "/indicator_types",
    );
    refused_at(
        |o| drop(o.insert("id".into(), json!("malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"))),
        "/id",
    );
    refused_at(|o| drop(o.remove("pattern")), "/");
}

#[test]
fn objects_without_a_schema_are_told_apart() {
    let mut custom = indicator();
    custom["type"] = json!("x-foo");
    custom["id"] = json!("x-foo--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f");
    assert_eq!(schemas().check(&custom), Err(SchemaError::UnknownType("x-foo".into())));
    let event = objects_of(&stix_file("incident/incident_ransom.json"))
        .into_iter()
        .find(|o| o["type"] == "event")
        .unwrap();
    assert_eq!(schemas().check(&event), Err(SchemaError::UnknownType("event".into())));
    assert_eq!(schemas().check(&json!({"type": "bundle", "id": "bundle--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "objects": []})), Err(SchemaError::UnknownType("bundle".into())));
    assert_eq!(schemas().check(&json!([1, 2])), Err(SchemaError::NotAnObject));
    assert_eq!(schemas().check(&json!({"type": 7})), Err(SchemaError::NoType));
    assert_eq!(schemas().check(&json!({})), Err(SchemaError::NoType));
}

#[test]
#[ignore = "a measurement: cargo test -p herald-stix -- --ignored --nocapture schema_costs"]
fn schema_costs() {
    let start = Instant::now();
    let compiled = Schemas::compile().unwrap();
    let compile = start.elapsed();

    let mut objects = objects_of(&stix_file("examples/threat-reports/apt1.json"));
    objects.extend(objects_of(&stix_file("examples/threat-reports/poisonivy.json")));
    let rounds = 1000;
    let start = Instant::now();
    for _ in 0..rounds {
        for object in &objects {
            compiled.check(object).unwrap();
        }
    }
    let checks = objects.len() * rounds;
    let elapsed = start.elapsed();
    let per_object = elapsed.as_secs_f64() * 1e6 / checks as f64;
    println!(
        "Schemas::compile(): {:.1} ms; check: {checks} objects in {:.2} s = {per_object:.2} µs/object \
         ({:.0} objects/s on one core)",
        compile.as_secs_f64() * 1e3,
        elapsed.as_secs_f64(),
        1e6 / per_object
    );
}
