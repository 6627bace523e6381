//! An order-preserving JSON tree for decoders that need more control than serde derive gives:
//! Go `encoding/json` field matching (the publish API), duplicate-name refusal (JOSE headers and
//! claims), and error messages that name the field and the expected type.
//!
//! serde_json does the lexing (strict RFC 8259, UTF-8 checked, recursion limited to 128 levels);
//! this module only keeps object members in document order, duplicates included.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// One JSON value, objects as ordered member lists.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// Why a document is not exactly one JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// Not JSON; serde_json's message (with line and column).
    Syntax(String),
    /// A valid value followed by something other than whitespace.
    TrailingData,
}

/// Why a JSON number is not an integer of the wanted range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntegerError {
    /// A fraction or an exponent (`1.5`, `1e2`, `1.0`).
    NotAnInteger,
    /// An integer outside the wanted range.
    OutOfRange,
}

impl Json {
    /// Parses exactly one JSON value; whitespace may follow it, nothing else.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let value = Self::deserialize(&mut de).map_err(|e| ParseError::Syntax(e.to_string()))?;
        de.end().map_err(|_| ParseError::TrailingData)?;
        Ok(value)
    }

    /// The JSON type name, for error messages: `null`, `boolean`, `number`, `string`, `array`,
    /// `object`.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool(_) => "boolean",
            Self::Number(_) => "number",
            Self::String(_) => "string",
            Self::Array(_) => "array",
            Self::Object(_) => "object",
        }
    }

    /// A short description for "got …" messages: the type, and the value of a number.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Number(n) => {
                let text = n.to_string();
                if text.len() > 32 { "number".to_owned() } else { format!("number {text}") }
            }
            other => other.kind().to_owned(),
        }
    }

    /// The integer value of a number, if it is written as an integer (no fraction, no exponent)
    /// and fits `i64`.
    pub(crate) fn integer(number: &serde_json::Number) -> Result<i64, IntegerError> {
        if let Some(v) = number.as_i64() {
            return Ok(v);
        }
        if number.is_u64() {
            return Err(IntegerError::OutOfRange);
        }
        // Integers beyond u64 reach us as f64: whole and huge means out of range.
        match number.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() >= 9.223_372_036_854_776e18 => {
                Err(IntegerError::OutOfRange)
            }
            _ => Err(IntegerError::NotAnInteger),
        }
    }

    /// The first member called `name` of an object, if `self` is an object.
    pub(crate) fn member(&self, name: &str) -> Option<&Json> {
        match self {
            Self::Object(members) => members.iter().find(|(n, _)| n == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The first member name that appears twice in an object, if any.
    pub(crate) fn duplicate_member(members: &[(String, Json)]) -> Option<&str> {
        let mut names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        names.windows(2).find(|w| w.first() == w.get(1)).and_then(|w| w.first().copied())
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Json, E> {
        serde_json::Number::from_f64(v)
            .map(Json::Number)
            .ok_or_else(|| E::custom("number is not finite"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Json>()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members = Vec::new();
        while let Some((name, value)) = map.next_entry::<String, Json>()? {
            members.push((name, value));
        }
        Ok(Json::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_duplicates() {
        let v = Json::parse(br#" {"b":1,"a":[true,null,"x"],"b":2.5} "#).unwrap();
        let Json::Object(members) = &v else { panic!("object") };
        let names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["b", "a", "b"]);
        assert_eq!(Json::duplicate_member(members), Some("b"));
        assert_eq!(v.member("a").map(Json::kind), Some("array"));
        assert_eq!(v.member("b"), Some(&Json::Number(1.into())), "the first of duplicates");
    }

    #[test]
    fn one_value_only() {
        assert_eq!(Json::parse(b"{} {}"), Err(ParseError::TrailingData));
        assert_eq!(Json::parse(b"{}x"), Err(ParseError::TrailingData));
        assert!(matches!(Json::parse(b""), Err(ParseError::Syntax(_))));
        assert!(matches!(Json::parse(b"{"), Err(ParseError::Syntax(_))));
        assert_eq!(Json::parse(b"\n{}\r\n\t "), Ok(Json::Object(vec![])));
    }

    #[test]
    fn integers() {
        let n = |t: &str| match Json::parse(t.as_bytes()).unwrap() {
            Json::Number(n) => Json::integer(&n),
            other => panic!("{other:?}"),
        };
        assert_eq!(n("-42"), Ok(-42));
        assert_eq!(n("9223372036854775807"), Ok(i64::MAX));
        assert_eq!(n("9223372036854775808"), Err(IntegerError::OutOfRange));
        assert_eq!(n("1.0"), Err(IntegerError::NotAnInteger));
        assert_eq!(n("1e2"), Err(IntegerError::NotAnInteger));
        // Beyond u64 serde_json falls back to f64: still out of range, never wrapped.
        assert_eq!(n("123456789012345678901234567890"), Err(IntegerError::OutOfRange));
        assert_eq!(n("-123456789012345678901234567890"), Err(IntegerError::OutOfRange));
        assert_eq!(n("-9223372036854775809"), Err(IntegerError::OutOfRange));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000);
        assert!(matches!(Json::parse(deep.as_bytes()), Err(ParseError::Syntax(_))));
    }
}
