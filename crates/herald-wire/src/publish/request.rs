//! Decoding the `POST /v1/publish` body (specs/key-server.md §2.1, §2.2) with the semantics of
//! Go's `encoding/json`, which ENS clients were written against:
//!
//! - the body is exactly one JSON object; whitespace may follow it, anything else is refused;
//! - an unknown field is refused with `unknown field "x"`;
//! - field names match case-insensitively, with Go's folding (so `hmacKey`, `hmackey` and
//!   `HMACKEY` are one field, and so is `hmac\u212Aey` with the Kelvin sign, which Unicode folds
//!   to `k`; the long s `ſ` likewise folds to `s`);
//! - a field given twice (in any casing) takes its last value, as in Go;
//! - `null` leaves a field at its zero value, as in Go;
//! - integers must be JSON integers in the range of the Go type (`int32` for
//!   `rollingStartNumber`, `rollingPeriod` and `symptomOnsetInterval`, `int` (64-bit) for
//!   `transmissionRisk`); `1.0` and `1e2` are refused;
//! - `key`, `hmacKey` and `revisionToken` are Base64 as ENS decodes it
//!   ([`super::decode_lenient_base64`]).
//!
//! Integers are kept raw, so that [`super::rules`] can name the bad key and why, and the key
//! strings are kept exactly as sent, because the tekmac (§3.6) is computed over them.
//!
//! **Deliberate deviations from ENS**, each making a garbled request fail early with a precise
//! 400 instead of a later, vaguer error:
//! - an `hmacKey` that is not Base64 is a decoding error here (ENS fails the certificate check
//!   with 401 later);
//! - a `revisionToken` that is not Base64 is a decoding error here (ENS logs it and proceeds as
//!   if no token had been sent);
//! - invalid UTF-8 inside a string is refused (Go substitutes U+FFFD).

use std::fmt;

use zeroize::Zeroizing;

use super::decode_lenient_base64;
use crate::json::{IntegerError, Json, ParseError};

/// A decoded publish request, before any of the §2.4 rules.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct PublishRequest {
    /// `temporaryExposureKeys`, in request order (empty if absent or `null`).
    pub keys: Vec<PublishKey>,
    /// `healthAuthorityID`.
    pub health_authority_id: String,
    /// `verificationPayload`: the verification certificate (a JWT), or empty.
    pub verification_payload: String,
    /// `hmacKey`, decoded: the device's secret for the tekmac (empty if absent).
    pub hmac_key: Zeroizing<Vec<u8>>,
    /// `symptomOnsetInterval` as sent (an interval number); `None` if absent or `null`. Go
    /// cannot tell 0 from absent; §2.4 step 5 ignores 0 either way.
    pub symptom_onset_interval: Option<i64>,
    /// `traveler`.
    pub traveler: bool,
    /// `revisionToken`, decoded; `None` if absent, `null` or empty.
    pub revision_token: Option<Vec<u8>>,
}

/// One entry of `temporaryExposureKeys`, with its integers raw.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct PublishKey {
    /// `key` exactly as sent (after JSON unescaping): the tekmac is computed over this text.
    pub key_text: String,
    /// The key bytes, or `None` if `key_text` is not Base64 of exactly 16 bytes (that key is
    /// dropped by [`super::rules::validate_keys`], not the request).
    pub key: Option<[u8; 16]>,
    /// `rollingStartNumber` (an int32 on the wire).
    pub rolling_start_number: i64,
    /// `rollingPeriod` (an int32 on the wire; 0 if absent, which is invalid: no default).
    pub rolling_period: i64,
    /// `transmissionRisk` (a Go `int` on the wire; 0 if absent, which the server backfills).
    pub transmission_risk: i64,
}

/// Why a publish body could not be decoded. Every variant maps to 400 `bad_request`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PublishDecodeError {
    /// Not JSON.
    #[error("request body is not valid JSON: {0}")]
    Syntax(String),
    /// A JSON value followed by more than whitespace.
    #[error("request body must contain only one JSON object")]
    TrailingData,
    /// The body is JSON but not an object.
    #[error("request body must be a JSON object, got {0}")]
    NotAnObject(&'static str),
    /// A field the API does not have. The message is ENS's, `unknown field "x"`, with the
    /// enclosing key's position when it is inside `temporaryExposureKeys`.
    #[error("unknown field {name:?}{}", location(.path))]
    UnknownField {
        /// Where the field was: empty for the top level, or `temporaryExposureKeys[i]`.
        path: String,
        /// The field name as sent.
        name: String,
    },
    /// A field has the wrong JSON type.
    #[error("{field}: expected {expected}, got {found}")]
    WrongType {
        /// The field, e.g. `temporaryExposureKeys[2].rollingPeriod`.
        field: String,
        /// What the API wants, e.g. `an integer (int32)`.
        expected: &'static str,
        /// What was sent, e.g. `string` or `number 1.5`.
        found: String,
    },
    /// An integer outside the range of its Go type.
    #[error("{field}: {value} is out of range for {expected}")]
    OutOfRange {
        /// The field.
        field: String,
        /// The number as sent.
        value: String,
        /// The type, e.g. `int32`.
        expected: &'static str,
    },
    /// `hmacKey` or `revisionToken` is not Base64.
    #[error("{field} is not valid base64")]
    Base64 {
        /// The field name.
        field: &'static str,
    },
}

/// The fields of the request object, by their canonical (ENS v1 tag) names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Keys,
    HealthAuthorityId,
    VerificationPayload,
    HmacKey,
    SymptomOnsetInterval,
    Traveler,
    RevisionToken,
    Padding,
}

const FIELDS: [(&str, Field); 8] = [
    ("temporaryExposureKeys", Field::Keys),
    ("healthAuthorityID", Field::HealthAuthorityId),
    ("verificationPayload", Field::VerificationPayload),
    ("hmacKey", Field::HmacKey),
    ("symptomOnsetInterval", Field::SymptomOnsetInterval),
    ("traveler", Field::Traveler),
    ("revisionToken", Field::RevisionToken),
    ("padding", Field::Padding),
];

/// The fields of one key object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyField {
    Key,
    RollingStartNumber,
    RollingPeriod,
    TransmissionRisk,
}

const KEY_FIELDS: [(&str, KeyField); 4] = [
    ("key", KeyField::Key),
    ("rollingStartNumber", KeyField::RollingStartNumber),
    ("rollingPeriod", KeyField::RollingPeriod),
    ("transmissionRisk", KeyField::TransmissionRisk),
];

/// The JSON name of the key list, for error paths.
const KEYS_FIELD: &str = "temporaryExposureKeys";

/// Decodes a publish body. The caller enforces the 64,000-byte cap (§2.1) before reading this
/// far; the rules of §2.4 come after, in [`super::rules`].
pub fn decode_request(body: &[u8]) -> Result<PublishRequest, PublishDecodeError> {
    let json = Json::parse(body).map_err(|e| match e {
        ParseError::Syntax(message) => PublishDecodeError::Syntax(message),
        ParseError::TrailingData => PublishDecodeError::TrailingData,
    })?;
    let Json::Object(members) = json else {
        return Err(PublishDecodeError::NotAnObject(json.kind()));
    };
    let mut request = PublishRequest::default();
    for (name, value) in members {
        let field = lookup(&FIELDS, &name).ok_or_else(|| PublishDecodeError::UnknownField {
            path: String::new(),
            name: name.clone(),
        })?;
        let canonical = canonical_name(&FIELDS, field);
        match field {
            Field::Keys => request.keys = keys(value)?,
            Field::HealthAuthorityId => request.health_authority_id = string(canonical, value)?,
            Field::VerificationPayload => {
                request.verification_payload = string(canonical, value)?;
            }
            Field::HmacKey => {
                let text = Zeroizing::new(string(canonical, value)?);
                let bytes = decode_lenient_base64(&text)
                    .ok_or(PublishDecodeError::Base64 { field: "hmacKey" })?;
                request.hmac_key = Zeroizing::new(bytes);
            }
            Field::SymptomOnsetInterval => {
                request.symptom_onset_interval = match value {
                    Json::Null => None,
                    other => Some(integer(canonical, &other, IntType::Int32)?),
                };
            }
            Field::Traveler => request.traveler = boolean(canonical, &value)?,
            Field::RevisionToken => {
                let text = string(canonical, value)?;
                // A token that decodes to nothing (such as "=") is no token, like "".
                request.revision_token = if text.is_empty() {
                    None
                } else {
                    let bytes = decode_lenient_base64(&text)
                        .ok_or(PublishDecodeError::Base64 { field: "revisionToken" })?;
                    (!bytes.is_empty()).then_some(bytes)
                };
            }
            Field::Padding => {
                string(canonical, value)?;
            }
        }
    }
    Ok(request)
}

impl fmt::Debug for PublishRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The HMAC key is the device's secret and the payload a bearer credential: lengths only.
        f.debug_struct("PublishRequest")
            .field("keys", &self.keys)
            .field("health_authority_id", &self.health_authority_id)
            .field("verification_payload_len", &self.verification_payload.len())
            .field("hmac_key_len", &self.hmac_key.len())
            .field("symptom_onset_interval", &self.symptom_onset_interval)
            .field("traveler", &self.traveler)
            .field("revision_token_len", &self.revision_token.as_ref().map(Vec::len))
            .finish()
    }
}

impl fmt::Debug for PublishKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print TEKs (STYLE rule 14).
        f.debug_struct("PublishKey")
            .field("key", &if self.key.is_some() { "<16 bytes>" } else { "<invalid>" })
            .field("rolling_start_number", &self.rolling_start_number)
            .field("rolling_period", &self.rolling_period)
            .field("transmission_risk", &self.transmission_risk)
            .finish_non_exhaustive()
    }
}

/// `" in <path>"`, or nothing at the top level.
fn location(path: &str) -> String {
    if path.is_empty() { String::new() } else { format!(" in {path}") }
}

fn keys(value: Json) -> Result<Vec<PublishKey>, PublishDecodeError> {
    let items = match value {
        Json::Null => return Ok(Vec::new()),
        Json::Array(items) => items,
        other => {
            return Err(PublishDecodeError::WrongType {
                field: KEYS_FIELD.to_owned(),
                expected: "an array of key objects",
                found: other.describe(),
            });
        }
    };
    items.into_iter().enumerate().map(|(index, item)| key(index, item)).collect()
}

fn key(index: usize, value: Json) -> Result<PublishKey, PublishDecodeError> {
    let path = format!("{KEYS_FIELD}[{index}]");
    let members = match value {
        // Go decodes `null` into the zero ExposureKey, which §2.4 then drops.
        Json::Null => return Ok(PublishKey::default()),
        Json::Object(members) => members,
        other => {
            return Err(PublishDecodeError::WrongType {
                field: path,
                expected: "a key object",
                found: other.describe(),
            });
        }
    };
    let mut key = PublishKey::default();
    for (name, value) in members {
        let field = lookup(&KEY_FIELDS, &name)
            .ok_or_else(|| PublishDecodeError::UnknownField { path: path.clone(), name })?;
        let field_path = format!("{path}.{}", canonical_name(&KEY_FIELDS, field));
        match field {
            KeyField::Key => {
                key.key_text = string(&field_path, value)?;
                key.key = decode_lenient_base64(&key.key_text).and_then(|b| b.try_into().ok());
            }
            KeyField::RollingStartNumber => {
                key.rolling_start_number = integer_or_zero(&field_path, &value, IntType::Int32)?;
            }
            KeyField::RollingPeriod => {
                key.rolling_period = integer_or_zero(&field_path, &value, IntType::Int32)?;
            }
            KeyField::TransmissionRisk => {
                key.transmission_risk = integer_or_zero(&field_path, &value, IntType::Int64)?;
            }
        }
    }
    Ok(key)
}

/// The field whose name equals `name` under Go's case folding.
fn lookup<F: Copy>(fields: &[(&str, F)], name: &str) -> Option<F> {
    fields.iter().find(|(canonical, _)| go_fold_eq(name, canonical)).map(|(_, f)| *f)
}

fn canonical_name<F: Copy + PartialEq>(fields: &[(&'static str, F)], field: F) -> &'static str {
    fields.iter().find(|(_, f)| *f == field).map_or("", |(name, _)| name)
}

/// Whether `name` equals the ASCII `canonical` under Unicode simple case folding, which is what
/// Go's `encoding/json` uses (`bytes.EqualFold`). Only two non-ASCII characters fold to ASCII
/// letters: U+212A KELVIN SIGN (to `k`) and U+017F LATIN SMALL LETTER LONG S (to `s`).
fn go_fold_eq(name: &str, canonical: &str) -> bool {
    let mut sent = name.chars().map(|c| match c {
        '\u{212A}' => Some('k'),
        '\u{017F}' => Some('s'),
        c if c.is_ascii() => Some(c.to_ascii_lowercase()),
        _ => None,
    });
    let mut wanted = canonical.chars().map(|c| c.to_ascii_lowercase());
    loop {
        match (sent.next(), wanted.next()) {
            (None, None) => return true,
            (Some(Some(a)), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

fn string(field: &str, value: Json) -> Result<String, PublishDecodeError> {
    match value {
        Json::Null => Ok(String::new()),
        Json::String(text) => Ok(text),
        other => Err(PublishDecodeError::WrongType {
            field: field.to_owned(),
            expected: "a string",
            found: other.describe(),
        }),
    }
}

fn boolean(field: &str, value: &Json) -> Result<bool, PublishDecodeError> {
    match value {
        Json::Null => Ok(false),
        Json::Bool(b) => Ok(*b),
        other => Err(PublishDecodeError::WrongType {
            field: field.to_owned(),
            expected: "a boolean",
            found: other.describe(),
        }),
    }
}

/// The Go integer types of the request.
#[derive(Debug, Clone, Copy)]
enum IntType {
    Int32,
    Int64,
}

impl IntType {
    fn name(self) -> &'static str {
        match self {
            Self::Int32 => "int32",
            Self::Int64 => "int",
        }
    }

    fn expected(self) -> &'static str {
        match self {
            Self::Int32 => "an integer (int32)",
            Self::Int64 => "an integer",
        }
    }

    fn contains(self, v: i64) -> bool {
        match self {
            Self::Int32 => i32::try_from(v).is_ok(),
            Self::Int64 => true,
        }
    }
}

fn integer_or_zero(field: &str, value: &Json, ty: IntType) -> Result<i64, PublishDecodeError> {
    match value {
        Json::Null => Ok(0),
        other => integer(field, other, ty),
    }
}

fn integer(field: &str, value: &Json, ty: IntType) -> Result<i64, PublishDecodeError> {
    let Json::Number(number) = value else {
        return Err(PublishDecodeError::WrongType {
            field: field.to_owned(),
            expected: ty.expected(),
            found: value.describe(),
        });
    };
    let out_of_range = || PublishDecodeError::OutOfRange {
        field: field.to_owned(),
        value: number.to_string(),
        expected: ty.name(),
    };
    match Json::integer(number) {
        Ok(v) if ty.contains(v) => Ok(v),
        Ok(_) | Err(IntegerError::OutOfRange) => Err(out_of_range()),
        Err(IntegerError::NotAnInteger) => Err(PublishDecodeError::WrongType {
            field: field.to_owned(),
            expected: ty.expected(),
            found: value.describe(),
        }),
    }
}

#[cfg(test)]
mod tests;
