//! Strict JSON for STIX objects: duplicate keys refused (serde_json and Python both keep the
//! last one silently, so two readers could see two different objects under one signature),
//! nesting depth, string and list lengths bounded by [`Limits`].

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// What one POST and one object may hold. Each bound is refused with its name and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Objects in one envelope or bundle.
    pub max_objects: usize,
    /// Nesting of arrays and objects inside one STIX object (the object itself is level 1).
    pub max_depth: usize,
    /// Bytes of one string (keys included), after unescaping.
    pub max_string_bytes: usize,
    /// Elements of one array, or members of one JSON object.
    pub max_list_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_objects: 10_000, max_depth: 32, max_string_bytes: 1 << 20, max_list_len: 10_000 }
    }
}

/// Parses one JSON value under `limits`, refusing duplicate keys.
pub fn parse_strict(text: &str, limits: &Limits) -> Result<Value, String> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Strict { limits, depth: 1 }.deserialize(&mut de).map_err(|e| clean(&e))?;
    de.end().map_err(|e| clean(&e))?;
    Ok(value)
}

/// serde_json's message without its " at line 1 column 42" tail, in lower case as ours are.
fn clean(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let text = text.split(" at line ").next().unwrap_or(&text).to_owned();
    if e.is_data() { text } else { format!("not JSON: {text}") }
}

#[derive(Clone, Copy)]
struct Strict<'l> {
    limits: &'l Limits,
    depth: usize,
}

impl Strict<'_> {
    /// The seed for a container's members, refusing the container if it is too deep itself.
    fn deeper<E: serde::de::Error>(self) -> Result<Self, E> {
        if self.depth > self.limits.max_depth {
            return Err(E::custom(format!("nested deeper than {} levels", self.limits.max_depth)));
        }
        Ok(Self { limits: self.limits, depth: self.depth + 1 })
    }

    fn string<E: serde::de::Error>(self, s: &str) -> Result<(), E> {
        if s.len() > self.limits.max_string_bytes {
            return Err(E::custom(format!(
                "a string of {} bytes is longer than the limit of {} bytes",
                s.len(),
                self.limits.max_string_bytes
            )));
        }
        Ok(())
    }

    fn count<E: serde::de::Error>(self, n: usize) -> Result<(), E> {
        if n > self.limits.max_list_len {
            return Err(E::custom(format!(
                "a list or object has more than {} entries",
                self.limits.max_list_len
            )));
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v).map(Value::Number).ok_or_else(|| E::custom("a number out of range"))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
        self.string(v)?;
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Value, E> {
        self.string(&v)?;
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.deeper()?;
        let mut out = Vec::new();
        while let Some(item) = seq.next_element_seed(inner)? {
            out.push(item);
            self.count(out.len())?;
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.deeper()?;
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            self.string(&key)?;
            if out.contains_key(&key) {
                return Err(A::Error::custom(format!(
                    "the key {:?} appears twice",
                    crate::error::clip(&key)
                )));
            }
            let value = map.next_value_seed(inner)?;
            out.insert(key, value);
            self.count(out.len())?;
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_duplicates_depth_and_sizes() {
        let limits = Limits { max_objects: 10, max_depth: 3, max_string_bytes: 8, max_list_len: 3 };
        assert!(parse_strict(r#"{"a": [1, {"b": "x"}]}"#, &limits).is_ok());
        assert!(parse_strict(r#"{"a": [[1]]}"#, &limits).is_ok());
        let cases = [
            (r#"{"a": 1, "a": 2}"#, "the key \"a\" appears twice"),
            (r#"{"a": {"b": {"c": {}}}}"#, "nested deeper than 3 levels"),
            (r#"{"a": [[[1]]]}"#, "nested deeper than 3 levels"),
            (r#"{"a": [[1, {"a": 1, "a": 1}]]}"#, "nested deeper than 3 levels"),
            (r#"{"a": {"b": {"a": 1, "a": 1}}}"#, "the key \"a\" appears twice"),
            (r#"{"a": "123456789"}"#, "a string of 9 bytes"),
            (r#"{"123456789": 1}"#, "a string of 9 bytes"),
            (r#"{"a": [1, 2, 3, 4]}"#, "more than 3 entries"),
            (r#"{"a": 1} x"#, "not JSON: trailing characters"),
            (r#"{"a": "#, "not JSON: EOF while parsing"),
        ];
        for (text, want) in cases {
            let err = parse_strict(text, &limits).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn keeps_values_as_serde_json_reads_them() {
        let text = r#"{"n": -3, "u": 18446744073709551615, "f": 1.5, "s": "\u00e9\n", "z": null, "t": true}"#;
        let ours = parse_strict(text, &Limits::default()).unwrap();
        let theirs: Value = serde_json::from_str(text).unwrap();
        assert_eq!(ours, theirs);
    }
}
