//! STIX identifiers: `<type>--<uuid>` (STIX 2.1 §2.9), type names (§3.1) and the deterministic
//! ids of cyber-observable objects (§2.9: UUIDv5 over the canonical id-contributing properties).

use serde_json::{Map, Value};
use sha1::{Digest, Sha1};
use uuid::Uuid;

use crate::error::{StixError, clip};

/// The namespace of deterministic SCO ids (STIX 2.1 §2.9).
pub const SCO_NAMESPACE: Uuid = Uuid::from_u128(0x00ab_edb4_aa42_466c_9c01_fed2_3315_a9b7);

/// A STIX type name: 3–250 characters, `a-z`, `0-9` and `-`, starting with a letter and not
/// ending in `-` (the STIX JSON schemas' rule).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeName(String);

impl TypeName {
    /// Checks `name` against the type-name rule.
    pub fn parse(name: &str) -> Result<Self, StixError> {
        if is_type_name(name) {
            Ok(Self(name.to_owned()))
        } else {
            Err(StixError::TypeName(clip(name)))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_type_name(name: &str) -> bool {
    let b = name.as_bytes();
    (3..=250).contains(&b.len())
        && b.first().is_some_and(u8::is_ascii_lowercase)
        && b.last().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// A STIX identifier, `<type>--<uuid>`, kept exactly as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StixId {
    text: String,
    type_len: usize,
}

impl StixId {
    /// Parses an identifier as the STIX `identifier` schema does: a type name, `--`, and a
    /// hyphenated RFC 4122 UUID (versions 1–5, the RFC 4122 variant, either case).
    pub fn parse(text: &str) -> Result<Self, StixError> {
        let bad = |reason| StixError::Id { id: clip(text), reason };
        // The uuid is the last 36 characters and "--" comes just before it (a type name may
        // hold "--" itself, but may not end in '-').
        let at = text.len().checked_sub(38).ok_or_else(|| bad("too short for <type>--<uuid>"))?;
        let (Some(kind), Some("--"), Some(uuid)) =
            (text.get(..at), text.get(at..at + 2), text.get(at + 2..))
        else {
            return Err(bad("not <type>--<uuid>"));
        };
        if !is_type_name(kind) {
            return Err(bad("the type name is not 3-250 of a-z, 0-9 and '-'"));
        }
        let parsed = parse_uuid(uuid).ok_or_else(|| bad("the part after \"--\" is not a uuid"))?;
        if !(1..=5).contains(&parsed.get_version_num())
            || parsed.get_variant() != uuid::Variant::RFC4122
        {
            return Err(bad("the uuid is not an RFC 4122 uuid of version 1 to 5"));
        }
        Ok(Self { text: text.to_owned(), type_len: kind.len() })
    }

    /// `<kind>--<uuid>`.
    pub fn new(kind: &TypeName, uuid: Uuid) -> Self {
        Self { text: format!("{}--{}", kind.as_str(), uuid.hyphenated()), type_len: kind.0.len() }
    }

    /// The type part.
    pub fn kind(&self) -> &str {
        self.text.get(..self.type_len).unwrap_or_default()
    }

    /// The uuid part.
    pub fn uuid(&self) -> Uuid {
        self.text.get(self.type_len + 2..).and_then(parse_uuid).unwrap_or_default()
    }

    /// The identifier as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Display for StixId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Only the hyphenated 8-4-4-4-12 form (the `uuid` crate also takes braces, URNs and no hyphens).
fn parse_uuid(text: &str) -> Option<Uuid> {
    let shape = text.len() == 36
        && text.bytes().enumerate().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) { c == b'-' } else { c.is_ascii_hexdigit() }
        });
    if shape { Uuid::try_parse(text).ok() } else { None }
}

/// The id-contributing properties of each SCO type (STIX 2.1 §6; `stix2`'s
/// `_id_contributing_properties`). Types not listed (process, custom SCOs) have random ids.
pub fn id_contributing_properties(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "artifact" => &["hashes", "payload_bin"],
        "autonomous-system" => &["number"],
        "directory" => &["path"],
        "domain-name" | "email-addr" | "ipv4-addr" | "ipv6-addr" | "mac-addr" | "url" => &["value"],
        "email-message" => &["from_ref", "subject", "body"],
        "file" => &["hashes", "name", "extensions", "parent_directory_ref"],
        "mutex" => &["name"],
        "network-traffic" => &[
            "start",
            "end",
            "src_ref",
            "dst_ref",
            "src_port",
            "dst_port",
            "protocols",
            "extensions",
        ],
        "software" => &["name", "cpe", "swid", "vendor", "version"],
        "user-account" => &["account_type", "user_id", "account_login"],
        "windows-registry-key" => &["key", "values"],
        "x509-certificate" => &["hashes", "serial_number"],
        _ => return None,
    })
}

/// The deterministic id of an SCO of type `kind` with these properties, as `stix2` computes it:
/// UUIDv5 in [`SCO_NAMESPACE`] over the JCS text of the id-contributing properties present
/// (of `hashes` only one: MD5, else SHA-1, else SHA-256, else SHA-512, else the first name in
/// sorted order), empty objects skipped. `None` when the type has no such properties or none
/// is present (the id is then random).
pub fn sco_id(
    kind: &TypeName,
    properties: &Map<String, Value>,
) -> Result<Option<StixId>, StixError> {
    let Some(names) = id_contributing_properties(kind.as_str()) else {
        return Ok(None);
    };
    let mut chosen = Map::new();
    for name in names {
        let Some(value) = properties.get(*name) else { continue };
        if *name == "hashes" {
            if let Some(hashes) = value.as_object()
                && let Some(key) = ["MD5", "SHA-1", "SHA-256", "SHA-512"]
                    .into_iter()
                    .find(|k| hashes.contains_key(*k))
                    .or_else(|| hashes.keys().next().map(String::as_str))
                && let Some(hash) = hashes.get(key)
            {
                let mut one = Map::new();
                one.insert(key.to_owned(), hash.clone());
                chosen.insert("hashes".to_owned(), Value::Object(one));
            }
            continue;
        }
        if value.as_object().is_some_and(Map::is_empty) {
            continue;
        }
        chosen.insert((*name).to_owned(), value.clone());
    }
    if chosen.is_empty() {
        return Ok(None);
    }
    let text = crate::jcs::canonicalize(&Value::Object(chosen))?;
    Ok(Some(StixId::new(kind, uuid_v5(&SCO_NAMESPACE, text.as_bytes()))))
}

/// RFC 4122 §4.3 (RFC 9562 §5.5): SHA-1 over namespace and name, version 5.
pub fn uuid_v5(namespace: &Uuid, name: &[u8]) -> Uuid {
    let digest = Sha1::new().chain_update(namespace.as_bytes()).chain_update(name).finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(digest.get(..16).unwrap_or(&[0; 16]));
    uuid::Builder::from_sha1_bytes(bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_identifiers_as_the_schema_does() {
        let id = StixId::parse("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f").unwrap();
        assert_eq!(id.kind(), "indicator");
        assert_eq!(id.uuid().to_string(), "8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f");
        assert!(StixId::parse("x-acme-widget--8E2E2D2B-17D4-4CBF-938F-98EE46B3CD3F").is_ok());
        for bad in [
            "",
            "indicator",
            "indicator--",
            "indicator-8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "Indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "in--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "indicator---8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "indicator--8e2e2d2b17d44cbf938f98ee46b3cd3f",
            "indicator--{8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f}",
            "indicator--8e2e2d2b-17d4-6cbf-938f-98ee46b3cd3f",
            "indicator--8e2e2d2b-17d4-4cbf-c38f-98ee46b3cd3f",
            "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3g",
            "indicator--00000000-0000-0000-0000-000000000000",
        ] {
            assert!(StixId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn type_names() {
        assert!(TypeName::parse("ipv4-addr").is_ok());
        for bad in ["ab", "-ab", "abc-", "aBc", "1abc", "ab_c", &"a".repeat(251)] {
            assert!(TypeName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn uuid_v5_matches_rfc_9562_appendix() {
        // RFC 9562 §A.4: UUIDv5 of "www.example.com" in the DNS namespace.
        let dns = Uuid::from_u128(0x6ba7_b810_9dad_11d1_80b4_00c0_4fd4_30c8);
        assert_eq!(
            uuid_v5(&dns, b"www.example.com").to_string(),
            "2ed6657d-e927-568b-95e1-2665a8aea6a2"
        );
    }

    #[test]
    fn sco_ids_of_the_stix_specification() {
        // STIX 2.1 §2.9's example ("ipv4-addr" with value "1.2.3.4"), as stix2 3.0.2 computes it.
        let kind = TypeName::parse("ipv4-addr").unwrap();
        let props = serde_json::json!({"value": "1.2.3.4"});
        let id = sco_id(&kind, props.as_object().unwrap()).unwrap().unwrap();
        assert_eq!(id.uuid().get_version_num(), 5);
        assert_eq!(sco_id(&TypeName::parse("process").unwrap(), &Map::new()).unwrap(), None);
        assert_eq!(sco_id(&kind, &Map::new()).unwrap(), None);
    }
}
