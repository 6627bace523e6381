//! JSON canonicalisation (RFC 8785, "JCS") of the values that STIX id-contributing properties
//! hold: strings, integers, booleans, null, arrays and objects of them.
//!
//! Keys are sorted by their UTF-16 code units and strings escaped as ECMAScript's
//! `JSON.stringify` does (RFC 8785 §3.2.2). Numbers other than integers are refused rather than
//! formatted: no id-contributing property holds one, and ECMAScript's float formatting is not
//! serde_json's.

use std::fmt::Write as _;

use serde_json::Value;

use crate::error::StixError;

/// The canonical text of `value`.
pub fn canonicalize(value: &Value) -> Result<String, StixError> {
    let mut out = String::new();
    write(value, &mut out)?;
    Ok(out)
}

fn write(value: &Value, out: &mut String) -> Result<(), StixError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else {
                return Err(StixError::Canonical("only integer numbers are canonicalised"));
            }
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write(item, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::canonicalize;

    #[test]
    fn sorts_keys_by_utf16_and_escapes_like_ecmascript() {
        // RFC 8785 §3.2.3's sorting example (keys only; its values are floats, refused here).
        let v = json!({
            "\u{20ac}": "Euro Sign", "\r": "Carriage Return", "\u{fb33}": "Hebrew Letter Dalet With Dagesh",
            "1": "One", "\u{1f600}": "Emoji: Grinning Face", "\u{80}": "Control", "\u{f6}": "Latin Small Letter O With Diaeresis"
        });
        let keys: Vec<String> = canonicalize(&v)
            .unwrap()
            .trim_matches(|c| c == '{' || c == '}')
            .split(",\"")
            .map(|kv| kv.trim_start_matches('"').split("\":").next().unwrap().to_owned())
            .collect();
        assert_eq!(keys, ["\\r", "1", "\u{80}", "\u{f6}", "\u{20ac}", "\u{1f600}", "\u{fb33}"]);
        assert_eq!(
            canonicalize(&json!({"b": [1, true, null, "x\u{1}\"\\"], "a": {"d": -5, "c": "é"}}))
                .unwrap(),
            r#"{"a":{"c":"é","d":-5},"b":[1,true,null,"x\u0001\"\\"]}"#
        );
    }

    #[test]
    fn refuses_floats() {
        assert!(canonicalize(&json!({"x": 1.5})).is_err());
    }
}
