//! The portable trust-list file that `import` and `export` read and write: JSON, one object
//! per entry, field names fixed.
//!
//! ```json
//! {
//!   "entries": [
//!     {
//!       "country": "DE",
//!       "kind": "SIGNING",
//!       "thumbprint": "<64 lowercase hex digits>",
//!       "certificate": "-----BEGIN CERTIFICATE-----\n…\n-----END CERTIFICATE-----\n",
//!       "signature": "<standard Base64, one line>",
//!       "revoked": false,
//!       "host": null,
//!       "entry_signature": "<standard Base64, one line>"
//!     }
//!   ]
//! }
//! ```
//!
//! `signature` is EFGS's operator signature over the exact `certificate` text; the fields up to
//! `host` are EFGS's `certificate` row. `entry_signature` is herald's second operator signature,
//! over the whole entry ([`TrustEntry::signed_fields`](crate::TrustEntry::signed_fields)).
//!
//! Reading checks the syntax of every field and refuses unknown fields and repeated
//! thumbprints; it does not check signatures (that needs the anchor, see
//! [`AnchorCertificate::verify_entry`](crate::AnchorCertificate::verify_entry)). `host` may
//! be omitted (= `null`). `entry_signature` may be omitted too, so an EFGS-shaped list (or one
//! written before herald signed whole entries) stays readable; such entries pass only
//! [`AnchorCertificate::verify_efgs_entry`](crate::AnchorCertificate::verify_efgs_entry), and
//! herald's gateway does not trust them until the operator signs them anew. Writing leaves the
//! field out when an entry has none. Every other field is required.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use herald_model::{CertThumbprint, CountryCode};
use serde::{Deserialize, Serialize};

use crate::{TrustEntry, TrustError, TrustKind};

/// A list of trust entries, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustList {
    /// The entries.
    pub entries: Vec<TrustEntry>,
}

/// The file's top level.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListJson {
    entries: Vec<EntryJson>,
}

/// One entry as it appears in the file; validated into [`TrustEntry`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryJson {
    country: String,
    kind: String,
    thumbprint: String,
    certificate: String,
    signature: String,
    revoked: bool,
    #[serde(default)]
    host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    entry_signature: Option<String>,
}

impl TrustList {
    /// The file text: pretty-printed JSON (two-space indent) and a final newline.
    ///
    /// Every entry is written as it is; an entry that [`from_json`](Self::from_json) would
    /// refuse (an empty signature, say) is written too, and refused when read back.
    ///
    /// # Panics
    ///
    /// Never: serde_json fails only on non-string map keys and failing custom `Serialize`
    /// impls, and the file structs have neither.
    pub fn to_json(&self) -> String {
        let list = ListJson {
            entries: self
                .entries
                .iter()
                .map(|e| EntryJson {
                    country: e.country.as_str().to_owned(),
                    kind: e.kind.as_str().to_owned(),
                    thumbprint: e.thumbprint.to_hex(),
                    certificate: e.certificate_pem.clone(),
                    signature: e.operator_signature.clone(),
                    revoked: e.revoked,
                    host: e.host.clone(),
                    entry_signature: e.entry_signature.clone(),
                })
                .collect(),
        };
        // Structs of strings, bools and options always serialize (see "Panics").
        #[allow(clippy::expect_used)]
        let mut text = serde_json::to_string_pretty(&list).expect("plain structs serialize");
        text.push('\n');
        text
    }

    /// Parses and checks a trust-list file. Errors name the entry (from 0) and the field.
    pub fn from_json(text: &str) -> Result<Self, TrustError> {
        let list: ListJson =
            serde_json::from_str(text).map_err(|reason| TrustError::Json { reason })?;
        let mut first_index: BTreeMap<CertThumbprint, usize> = BTreeMap::new();
        let mut entries = Vec::with_capacity(list.entries.len());
        for (index, raw) in list.entries.into_iter().enumerate() {
            let entry = entry_from_json(index, raw)?;
            if let Some(&first) = first_index.get(&entry.thumbprint) {
                return Err(TrustError::DuplicateThumbprint {
                    index,
                    first,
                    thumbprint: entry.thumbprint,
                });
            }
            first_index.insert(entry.thumbprint, index);
            entries.push(entry);
        }
        Ok(Self { entries })
    }
}

fn entry_from_json(index: usize, raw: EntryJson) -> Result<TrustEntry, TrustError> {
    let bad = |field: &'static str, value: &str, expected: &'static str| TrustError::ListField {
        index,
        field,
        value: value.chars().take(32).collect(),
        expected,
    };
    let country = raw
        .country
        .parse::<CountryCode>()
        .ok()
        .filter(|c| c.as_str() == raw.country)
        .ok_or_else(|| bad("country", &raw.country, "an upper-case ISO 3166-1 alpha-2 code"))?;
    let kind = TrustKind::parse(&raw.kind)
        .map_err(|_| bad("kind", &raw.kind, "AUTHENTICATION, SIGNING or CALLBACK"))?;
    let thumbprint = Some(&raw.thumbprint)
        .filter(|t| t.len() == 64 && t.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .and_then(|t| CertThumbprint::from_hex(t).ok())
        .ok_or_else(|| bad("thumbprint", &raw.thumbprint, "64 lowercase hex digits"))?;
    if raw.certificate.is_empty() {
        return Err(bad("certificate", "", "a PEM certificate"));
    }
    if raw.signature.is_empty() || BASE64.decode(&raw.signature).is_err() {
        return Err(bad("signature", &raw.signature, "one line of standard Base64"));
    }
    if let Some(text) = &raw.entry_signature
        && (text.is_empty() || BASE64.decode(text).is_err())
    {
        return Err(bad("entry_signature", text, "one line of standard Base64"));
    }
    Ok(TrustEntry {
        country,
        kind,
        certificate_pem: raw.certificate,
        thumbprint,
        operator_signature: raw.signature,
        revoked: raw.revoked,
        host: raw.host,
        entry_signature: raw.entry_signature,
    })
}

#[cfg(test)]
mod tests;
