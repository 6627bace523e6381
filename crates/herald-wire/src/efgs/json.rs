//! The EFGS JSON encoding of a `DiagnosisKeyBatch` (`application/json; version=1.0`,
//! specs/efgs-gateway.md §1.1): the reference gateway's protobuf-java-format `JsonFormat`, with
//! `bytes` as standard Base64.
//!
//! ```json
//! {"keys":[{"keyData":"CAAAAAAAAAAAAAAAAAAAAA==","rollingStartIntervalNumber":2700000,
//!   "rollingPeriod":144,"transmissionRiskLevel":2147483647,"visitedCountries":["DE","FR"],
//!   "origin":"DE","reportType":"CONFIRMED_TEST","days_since_onset_of_symptoms":0}]}
//! ```
//!
//! - Field names are the `.proto` names; `days_since_onset_of_symptoms` is snake case. The
//!   proto3 canonical camel-case `daysSinceOnsetOfSymptoms` is accepted on input too.
//! - The encoder writes only non-default fields (as `JsonFormat` does): no zero integers, no
//!   empty lists, no `UNKNOWN` report type, and `{}` for an empty batch. The decoder treats an
//!   absent field, or `null`, as its proto3 default.
//! - `reportType` is written as the enum name (`"CONFIRMED_TEST"`); the decoder accepts the name
//!   or the number.
//! - Unknown fields are refused, so that a misspelt field never silently becomes 0. (The
//!   reference's `JsonFormat` skips them; no EFGS client is known to send any.)
//! - Integers must be JSON integers that fit the protobuf type; a violation is reported with
//!   the key's index, like every other per-key error.

use std::fmt;
use std::marker::PhantomData;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::de::value::MapAccessDeserializer;
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use herald_model::{CountryCode, ReportType};

use super::{EfgsError, EfgsKey, EfgsKeyError, MAX_JSON_BYTES, MAX_KEYS, MAX_VISITED_COUNTRIES};
use crate::proto::efgs as proto;

/// Decodes and validates an EFGS JSON batch; an invalid key fails the whole batch with its index.
pub fn decode_json(bytes: &[u8]) -> Result<Vec<EfgsKey>, EfgsError> {
    if bytes.len() > MAX_JSON_BYTES {
        return Err(EfgsError::TooLarge { size: bytes.len(), max: MAX_JSON_BYTES });
    }
    let MapOnly(batch): MapOnly<BatchIn> =
        serde_json::from_slice(bytes).map_err(|e| EfgsError::Json(e.to_string()))?;
    let keys = batch.keys.unwrap_or_default();
    if keys.total > MAX_KEYS {
        return Err(EfgsError::TooManyKeys { count: keys.total, max: MAX_KEYS });
    }
    keys.items
        .into_iter()
        .enumerate()
        .map(|(index, MapOnly(key))| {
            key.into_key().map_err(|reason| EfgsError::Key { index, reason })
        })
        .collect()
}

/// Encodes keys as an EFGS JSON batch, on one line.
pub fn encode_json(keys: &[EfgsKey]) -> String {
    let batch = BatchOut { keys: keys.iter().map(KeyOut::from).collect() };
    // Serialising strings and integers into a String cannot fail.
    serde_json::to_string(&batch).unwrap_or_default()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchIn {
    #[serde(default)]
    keys: Option<Bounded<MapOnly<KeyIn>, MAX_KEYS>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct KeyIn {
    #[serde(default)]
    key_data: Option<String>,
    #[serde(default)]
    rolling_start_interval_number: Option<i64>,
    #[serde(default)]
    rolling_period: Option<i64>,
    #[serde(default)]
    transmission_risk_level: Option<i64>,
    #[serde(default)]
    visited_countries: Option<Bounded<String, MAX_VISITED_COUNTRIES>>,
    #[serde(default)]
    origin: Option<String>,
    #[serde(default)]
    report_type: Option<ReportTypeIn>,
    #[serde(default, rename = "days_since_onset_of_symptoms", alias = "daysSinceOnsetOfSymptoms")]
    days_since_onset_of_symptoms: Option<i64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ReportTypeIn {
    Number(i64),
    Name(String),
}

impl KeyIn {
    fn into_key(self) -> Result<EfgsKey, EfgsKeyError> {
        let key_data = match self.key_data {
            Some(text) => STANDARD.decode(text).map_err(|_| EfgsKeyError::KeyDataBase64)?,
            None => Vec::new(),
        };
        let visited = self.visited_countries.unwrap_or_default();
        if visited.total > MAX_VISITED_COUNTRIES {
            return Err(EfgsKeyError::TooManyVisitedCountries(visited.total));
        }
        let report_type = match self.report_type {
            None => 0,
            Some(ReportTypeIn::Number(n)) => int::<i32>("reportType", n)?,
            Some(ReportTypeIn::Name(name)) => ReportType::from_str_name(&name)
                .map(ReportType::wire)
                .ok_or_else(|| EfgsKeyError::ReportTypeName(name.chars().take(32).collect()))?,
        };
        let raw = proto::DiagnosisKey {
            key_data,
            rolling_start_interval_number: opt_int(
                "rollingStartIntervalNumber",
                self.rolling_start_interval_number,
            )?,
            rolling_period: opt_int("rollingPeriod", self.rolling_period)?,
            transmission_risk_level: opt_int(
                "transmissionRiskLevel",
                self.transmission_risk_level,
            )?,
            visited_countries: visited.items,
            origin: self.origin.unwrap_or_default(),
            report_type,
            days_since_onset_of_symptoms: opt_int(
                "days_since_onset_of_symptoms",
                self.days_since_onset_of_symptoms,
            )?,
        };
        EfgsKey::try_from(raw)
    }
}

/// A JSON integer converted to its protobuf type, or a range error naming the field.
fn int<T>(field: &'static str, value: i64) -> Result<T, EfgsKeyError>
where
    T: TryFrom<i64> + Bounds,
{
    T::try_from(value).map_err(|_| EfgsKeyError::Integer {
        field,
        min: T::MIN_I64,
        max: T::MAX_I64,
        actual: value,
    })
}

fn opt_int<T>(field: &'static str, value: Option<i64>) -> Result<T, EfgsKeyError>
where
    T: TryFrom<i64> + Bounds + Default,
{
    value.map_or_else(|| Ok(T::default()), |v| int(field, v))
}

/// The range of a protobuf integer type, for error messages.
trait Bounds {
    const MIN_I64: i64;
    const MAX_I64: i64;
}

impl Bounds for u32 {
    const MIN_I64: i64 = 0;
    const MAX_I64: i64 = 0xFFFF_FFFF;
}

impl Bounds for i32 {
    const MIN_I64: i64 = -0x8000_0000;
    const MAX_I64: i64 = 0x7FFF_FFFF;
}

/// A JSON array that keeps at most `MAX` elements and counts the rest without materialising
/// them, so a huge array of tiny elements cannot allocate much.
struct Bounded<T, const MAX: usize> {
    items: Vec<T>,
    total: usize,
}

impl<T, const MAX: usize> Default for Bounded<T, MAX> {
    fn default() -> Self {
        Self { items: Vec::new(), total: 0 }
    }
}

impl<'de, T: Deserialize<'de>, const MAX: usize> Deserialize<'de> for Bounded<T, MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BoundedVisitor<T, const MAX: usize>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>, const MAX: usize> Visitor<'de> for BoundedVisitor<T, MAX> {
            type Value = Bounded<T, MAX>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Bounded::default();
                while out.items.len() < MAX {
                    let Some(item) = seq.next_element::<T>()? else {
                        out.total = out.items.len();
                        return Ok(out);
                    };
                    out.items.push(item);
                }
                out.total = out.items.len();
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    out.total += 1;
                }
                Ok(out)
            }
        }

        deserializer.deserialize_seq(BoundedVisitor::<T, MAX>(PhantomData))
    }
}

/// A struct that must be a JSON object: serde's derived structs also accept an array of the
/// field values in order, which no EFGS encoder writes.
struct MapOnly<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for MapOnly<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for MapVisitor<T> {
            type Value = T;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a json object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }

        deserializer.deserialize_map(MapVisitor(PhantomData)).map(MapOnly)
    }
}

#[derive(Serialize)]
struct BatchOut<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    keys: Vec<KeyOut<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyOut<'a> {
    key_data: String,
    #[serde(skip_serializing_if = "is_zero_u32")]
    rolling_start_interval_number: u32,
    rolling_period: u32,
    #[serde(skip_serializing_if = "is_zero_i32")]
    transmission_risk_level: i32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    visited_countries: Vec<&'a str>,
    origin: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    report_type: Option<&'static str>,
    #[serde(rename = "days_since_onset_of_symptoms", skip_serializing_if = "is_zero_i32")]
    days_since_onset_of_symptoms: i32,
}

impl<'a> From<&'a EfgsKey> for KeyOut<'a> {
    fn from(key: &'a EfgsKey) -> Self {
        let report_type = Some(key.report_type)
            .filter(|rt| *rt != ReportType::Unknown)
            .map(ReportType::as_str_name);
        Self {
            key_data: STANDARD.encode(key.key.as_bytes()),
            rolling_start_interval_number: key.rolling_start.get(),
            // Never 0 in a valid key.
            rolling_period: u32::from(key.rolling_period.get()),
            transmission_risk_level: key.transmission_risk.wire(),
            visited_countries: key.visited_countries.iter().map(CountryCode::as_str).collect(),
            origin: key.origin.as_str(),
            report_type,
            days_since_onset_of_symptoms: key.days_since_onset.get(),
        }
    }
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero_i32(v: &i32) -> bool {
    *v == 0
}
