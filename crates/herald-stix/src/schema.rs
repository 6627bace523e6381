//! STIX 2.1 objects checked against the official JSON schemas (OASIS cti-stix2-json-schemas,
//! commit 3bf9e69, vendored under `schemas/` with their BSD-3 licence).
//!
//! The 57 schema files are compiled into the binary with `include_str!` and registered under their
//! `$id`s (`http://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/stix2.1/schemas/…`),
//! so relative `$ref`s such as `../common/core.json` resolve from memory. Nothing is ever fetched:
//! `jsonschema` is built without its HTTP and file resolvers, and the registry and every validator
//! use an offline retriever, so a `$ref` outside the set fails [`Schemas::compile`] (fail closed).
//!
//! An object is checked against the file of its `type` (draft 2020-12): `sdos/`, `sros/`,
//! `observables/`, and `common/` for `marking-definition`, `extension-definition` and
//! `language-content`. Types without a file (custom `x-…` types, new SDO types defined by
//! extension-definitions such as the incident suite's `event`) give [`SchemaError::UnknownType`],
//! and the caller decides. `bundle` is not an object and is not checked here: the upstream
//! `bundle.json` lacks the newer SDOs (incident, grouping, note, …), so bundles are checked object
//! by object.
//!
//! One rule is added to the schemas: a `spec_version`, where present, must be "2.1" (the upstream
//! `core.json` and `cyber-observable-core.json` still allow "2.0").
//!
//! As in the Python `jsonschema` oracle the test suite compares against, `format` is an annotation
//! (not asserted), and `pattern` runs on the linear-time `regex` engine (untrusted input).

use std::collections::HashMap;
use std::sync::OnceLock;

use jsonschema::{Draft, PatternOptions, Registry, Validator};
use serde_json::Value;

use crate::error::clip;

/// Where the vendored schemas say they live; each file is registered at this base + its path.
pub const SCHEMA_BASE: &str =
    "http://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/stix2.1/schemas/";

/// The longest error message, in characters, before it is cut (messages quote untrusted input).
const MAX_MESSAGE: usize = 300;

/// One vendored schema file: its path below `schemas/` (`sdos/malware.json`) and its text.
#[derive(Debug, Clone, Copy)]
pub struct SchemaFile {
    /// The folder: `common`, `sdos`, `sros` or `observables`.
    pub folder: &'static str,
    /// The file name without `.json`; for object schemas, the STIX `type` it checks.
    pub name: &'static str,
    /// The file's text, as vendored.
    pub text: &'static str,
}

impl SchemaFile {
    /// The path below `schemas/`, e.g. `sdos/malware.json`.
    pub fn path(&self) -> String {
        format!("{}/{}.json", self.folder, self.name)
    }

    /// The `$id` the file is registered under.
    pub fn id(&self) -> String {
        format!("{SCHEMA_BASE}{}", self.path())
    }

    /// Whether the file is the schema of a STIX object type (rather than a shared definition).
    pub fn is_object_schema(&self) -> bool {
        match self.folder {
            "common" => matches!(
                self.name,
                "marking-definition" | "extension-definition" | "language-content"
            ),
            _ => true,
        }
    }
}

macro_rules! schema {
    ($folder:literal, $name:literal) => {
        SchemaFile {
            folder: $folder,
            name: $name,
            text: include_str!(concat!("../schemas/", $folder, "/", $name, ".json")),
        }
    };
}

/// The 57 vendored schema files (cti-stix2-json-schemas @3bf9e69, `schemas/`).
pub const FILES: [SchemaFile; 57] = [
    schema!("common", "binary"),
    schema!("common", "bundle"),
    schema!("common", "core"),
    schema!("common", "cyber-observable-core"),
    schema!("common", "dictionary"),
    schema!("common", "extension-definition"),
    schema!("common", "extension"),
    schema!("common", "external-reference"),
    schema!("common", "granular-marking"),
    schema!("common", "hashes-type"),
    schema!("common", "hex"),
    schema!("common", "identifier"),
    schema!("common", "kill-chain-phase"),
    schema!("common", "language-content"),
    schema!("common", "marking-definition"),
    schema!("common", "properties"),
    schema!("common", "timestamp"),
    schema!("common", "url-regex"),
    schema!("sdos", "attack-pattern"),
    schema!("sdos", "campaign"),
    schema!("sdos", "course-of-action"),
    schema!("sdos", "grouping"),
    schema!("sdos", "identity"),
    schema!("sdos", "incident"),
    schema!("sdos", "indicator"),
    schema!("sdos", "infrastructure"),
    schema!("sdos", "intrusion-set"),
    schema!("sdos", "location"),
    schema!("sdos", "malware-analysis"),
    schema!("sdos", "malware"),
    schema!("sdos", "note"),
    schema!("sdos", "observed-data"),
    schema!("sdos", "opinion"),
    schema!("sdos", "report"),
    schema!("sdos", "threat-actor"),
    schema!("sdos", "tool"),
    schema!("sdos", "vulnerability"),
    schema!("sros", "relationship"),
    schema!("sros", "sighting"),
    schema!("observables", "artifact"),
    schema!("observables", "autonomous-system"),
    schema!("observables", "directory"),
    schema!("observables", "domain-name"),
    schema!("observables", "email-addr"),
    schema!("observables", "email-message"),
    schema!("observables", "file"),
    schema!("observables", "ipv4-addr"),
    schema!("observables", "ipv6-addr"),
    schema!("observables", "mac-addr"),
    schema!("observables", "mutex"),
    schema!("observables", "network-traffic"),
    schema!("observables", "process"),
    schema!("observables", "software"),
    schema!("observables", "url"),
    schema!("observables", "user-account"),
    schema!("observables", "windows-registry-key"),
    schema!("observables", "x509-certificate"),
];

/// Why an object was refused (or could not be checked).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// A vendored schema file did not parse or compile (a build defect; every check then fails).
    #[error("schema {file} does not compile: {reason}")]
    Compile {
        /// The file, below `schemas/`.
        file: String,
        /// What the parser or compiler said.
        reason: String,
    },
    /// The value is not a JSON object.
    #[error("not a json object")]
    NotAnObject,
    /// The object has no string `type` property.
    #[error("object has no string \"type\" property")]
    NoType,
    /// No schema in the set for this `type` (a custom type, or a new SDO type defined by an
    /// extension-definition); the caller decides whether that is acceptable.
    #[error("no stix 2.1 json schema for type {0:?}")]
    UnknownType(String),
    /// The object breaks its type's schema (the first error found), or has a `spec_version`
    /// other than "2.1" (which the upstream schemas still allow).
    #[error("invalid {type_name} at {pointer}: {message}")]
    Invalid {
        /// The object's `type` (truncated to 100 characters).
        type_name: String,
        /// JSON pointer (RFC 6901) to the offending value, `/` for the object itself.
        pointer: String,
        /// What was wrong, lowercase, truncated.
        message: String,
    },
}

/// The compiled schemas: one validator per STIX object type. Compile once and share
/// ([`schemas`] keeps one for the process).
pub struct Schemas {
    by_type: HashMap<&'static str, Validator>,
    /// Set when compilation failed in [`schemas`]: every check fails closed with it.
    broken: Option<SchemaError>,
}

impl std::fmt::Debug for Schemas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut types: Vec<&str> = self.by_type.keys().copied().collect();
        types.sort_unstable();
        f.debug_struct("Schemas").field("types", &types).field("broken", &self.broken).finish()
    }
}

/// The process-wide compiled schemas, compiled on first use. Should compilation ever fail (it is
/// tested not to), the returned set refuses every object with the [`SchemaError::Compile`] error.
pub fn schemas() -> &'static Schemas {
    static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        Schemas::compile().unwrap_or_else(|e| Schemas { by_type: HashMap::new(), broken: Some(e) })
    })
}

impl Schemas {
    /// Parses and compiles the vendored schemas, offline.
    pub fn compile() -> Result<Self, SchemaError> {
        compile_files(&FILES)
    }

    /// The STIX types that have a schema, sorted.
    pub fn types(&self) -> Vec<&'static str> {
        let mut types: Vec<&'static str> = self.by_type.keys().copied().collect();
        types.sort_unstable();
        types
    }

    /// Checks `object` against the schema of its `type`; the first error found, if any.
    pub fn check(&self, object: &Value) -> Result<(), SchemaError> {
        if let Some(e) = &self.broken {
            return Err(e.clone());
        }
        let map = object.as_object().ok_or(SchemaError::NotAnObject)?;
        let type_name = map.get("type").and_then(Value::as_str).ok_or(SchemaError::NoType)?;
        let validator =
            self.by_type.get(type_name).ok_or_else(|| SchemaError::UnknownType(clip(type_name)))?;
        validator.validate(object).map_err(|e| SchemaError::Invalid {
            type_name: clip(type_name),
            pointer: pointer_text(&e.instance_path().to_string()),
            message: message_text(&e.to_string()),
        })?;
        // The schemas' `core.json` still allows "2.0"; STIX 2.1 says it MUST be "2.1".
        match map.get("spec_version") {
            Some(version) if version != "2.1" => Err(SchemaError::Invalid {
                type_name: clip(type_name),
                pointer: "/spec_version".to_owned(),
                message: format!("{} is not \"2.1\"", clip(&version.to_string())),
            }),
            _ => Ok(()),
        }
    }
}

/// Parses every file, registers all of them under their `$id`, and compiles the object schemas.
fn compile_files(files: &[SchemaFile]) -> Result<Schemas, SchemaError> {
    let compile_error = |file: &SchemaFile, reason: &dyn std::fmt::Display| SchemaError::Compile {
        file: file.path(),
        reason: message_text(&reason.to_string()),
    };
    let mut parsed = Vec::with_capacity(files.len());
    for file in files {
        let value: Value = serde_json::from_str(file.text).map_err(|e| compile_error(file, &e))?;
        parsed.push((file, file.id(), value));
    }
    let mut builder = Registry::new()
        .retriever(Offline)
        .draft(Draft::Draft202012)
        .retrieve_known_draft_meta_schemas(false);
    for (file, id, value) in &parsed {
        builder = builder.add(id, value).map_err(|e| compile_error(file, &e))?;
    }
    let registry = builder.prepare().map_err(|e| SchemaError::Compile {
        file: "(registry)".to_owned(),
        reason: message_text(&e.to_string()),
    })?;
    let mut by_type = HashMap::new();
    for (file, id, value) in &parsed {
        if !file.is_object_schema() {
            continue;
        }
        let validator = jsonschema::options()
            .with_draft(Draft::Draft202012)
            .offline()
            .with_registry(&registry)
            .with_base_uri(id.clone())
            .should_validate_formats(false)
            .with_pattern_options(PatternOptions::regex())
            .build(value)
            .map_err(|e| compile_error(file, &e))?;
        by_type.insert(file.name, validator);
    }
    Ok(Schemas { by_type, broken: None })
}

/// A retriever that never fetches: every `$ref` must be in the registry.
struct Offline;

impl jsonschema::Retrieve for Offline {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        Err(format!("{} is not among the vendored schemas (never fetched)", clip(uri.as_str()))
            .into())
    }
}

/// `/` for the root, else the pointer as given (clipped).
fn pointer_text(pointer: &str) -> String {
    if pointer.is_empty() { "/".to_owned() } else { clip(pointer) }
}

/// The message with a lowercase first letter, cut to [`MAX_MESSAGE`] characters.
fn message_text(message: &str) -> String {
    let mut chars = message.chars();
    let lowered: String = match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    };
    match lowered.char_indices().nth(MAX_MESSAGE) {
        Some((at, _)) => format!("{}…", lowered.get(..at).unwrap_or(&lowered)),
        None => lowered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_ref_fails_closed() {
        let mut files: Vec<SchemaFile> = FILES.to_vec();
        files.push(SchemaFile {
            folder: "sdos",
            name: "x-dangling",
            text: r#"{"$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": "http://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/stix2.1/schemas/sdos/x-dangling.json",
                "allOf": [{"$ref": "../common/not-vendored.json"}]}"#,
        });
        let err = compile_files(&files).expect_err("a dangling $ref must not compile");
        assert!(
            matches!(&err, SchemaError::Compile { reason, .. } if reason.contains("not-vendored")),
            "{err}"
        );
    }

    #[test]
    fn messages_are_lowercase_and_short() {
        assert_eq!(message_text("Additional properties"), "additional properties");
        assert_eq!(message_text(&"x".repeat(1000)).chars().count(), MAX_MESSAGE + 1);
        assert_eq!(pointer_text(""), "/");
    }
}
