//! The checks the oracle (`stix2-patterns` 2.1.2, `stix2patterns.validator.run_validator` with
//! STIX 2.1) makes besides the grammar, copied from its source:
//!
//! - `helpers.brackets_check`: after any whitespace (Python's `str.isspace`) and `(`, the first
//!   character must be `[`; otherwise "input is missing square brackets".
//! - `v21/validator.py` `ValidationListener`: a qualifier type may appear only once directly on
//!   a `[…]` observation (not on a parenthesised group); "Duplicate qualifier type encountered".
//! - `v21/object_validator.py` `verify_object`: when a comparison's path has a `hashes`
//!   component and ends in a name, that name upper-cased without `-` and `'` selects a regex
//!   from `HASHES_REGEX` that the value's text without `'` must match.
//!
//! The oracle checks nothing else after the grammar (no rules on object type or property names).

use super::ast::{ObjectPath, PathStep};

/// Python's `str.isspace`: Unicode `White_Space` plus the separators U+001C–U+001F.
fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\u{1C}'..='\u{1F}').contains(&c)
}

/// `brackets_check`: whether the first character after whitespace and `(` is `[`.
pub(crate) fn has_square_brackets(input: &str) -> bool {
    input.chars().find(|&c| c != '(' && !py_isspace(c)) == Some('[')
}

/// What `re.match(r"^…$", s)` sees as the whole string: `$` also matches before one final `\n`.
fn before_final_newline(s: &str) -> &str {
    s.strip_suffix('\n').unwrap_or(s)
}

fn is_hex_of(s: &str, lengths: &[usize]) -> bool {
    let s = before_final_newline(s);
    lengths.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The oracle's MD6 regex, `^[hex]{32}|[hex]{40}|…|\<newline>    [hex]{64}|…|[hex]{128}$` (a raw
/// string continued with a backslash), as `re.match` applies it: the value starts with 32 hex
/// digits, or with a newline, four spaces and 64 hex digits.
fn is_md6(s: &str) -> bool {
    let hex_prefix =
        |t: &str, n: usize| t.len() >= n && t.bytes().take(n).all(|b| b.is_ascii_hexdigit());
    hex_prefix(s, 32) || s.strip_prefix("\n    ").is_some_and(|rest| hex_prefix(rest, 64))
}

/// `^[a-zA-Z0-9/+:.]{1,128}$`
fn is_ssdeep(s: &str) -> bool {
    let s = before_final_newline(s);
    (1..=128).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'+' | b':' | b'.'))
}

/// Whether `value` is a valid hash for the table key `key`; `None` when the key is not in the
/// oracle's table (no check).
fn hash_ok(key: &str, value: &str) -> Option<bool> {
    Some(match key {
        "MD5" => is_hex_of(value, &[32]),
        "MD6" => is_md6(value),
        "RIPEMD160" | "SHA1" => is_hex_of(value, &[40]),
        "SHA224" | "SHA3224" => is_hex_of(value, &[56]),
        "SHA256" | "SHA3256" => is_hex_of(value, &[64]),
        "SHA384" | "SHA3384" => is_hex_of(value, &[96]),
        "SHA512" | "SHA3512" | "WHIRLPOOL" => is_hex_of(value, &[128]),
        "SSDEEP" => is_ssdeep(value),
        _ => return None,
    })
}

/// The hash check of `verify_object` for one comparison whose value has the text `value_text`
/// (as `Pattern.inspect()` gives it): the error message, if the value is not a valid hash.
///
/// The oracle raises an exception (no verdict) when a `hashes` path ends in an integer index;
/// we do not check those.
pub(crate) fn hash_error(path: &ObjectPath, value_text: &str) -> Option<String> {
    let is_hashes = |step: &PathStep| matches!(step, PathStep::Key(name) if name == "hashes");
    if path.property != "hashes" && !path.steps.iter().any(is_hashes) {
        return None;
    }
    let selector = match path.steps.last() {
        None => &path.property,
        Some(PathStep::Key(name)) => name,
        Some(PathStep::Index(_) | PathStep::AnyIndex) => return None,
    };
    let key = selector.to_uppercase().replace(['-', '\''], "");
    let value = value_text.replace('\'', "");
    match hash_ok(&key, &value) {
        Some(false) => Some(format!(
            "'{}' is not a valid {} hash",
            crate::error::clip(&value),
            crate::error::clip(selector)
        )),
        Some(true) | None => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn brackets() {
        assert!(has_square_brackets(" ( ( [a:b = 1]) )"));
        assert!(has_square_brackets("\u{1C}["));
        assert!(!has_square_brackets("/**/[a:b = 1]"));
        assert!(!has_square_brackets(""));
        assert!(!has_square_brackets("(("));
    }

    #[test]
    fn hashes() {
        let path = |p: &str, steps: &[&str]| ObjectPath {
            object_type: "file".into(),
            property: p.into(),
            steps: steps.iter().map(|s| PathStep::Key((*s).into())).collect(),
        };
        let md5 = "'cead3f77f6cda6ec00f57d76c9a6879f'";
        assert_eq!(hash_error(&path("hashes", &["MD5"]), md5), None);
        assert!(hash_error(&path("hashes", &["md-5"]), "'f00'").is_some());
        assert_eq!(
            hash_error(&path("hashes", &["SHA-256"]), "'f00'").unwrap(),
            "'f00' is not a valid SHA-256 hash"
        );
        assert_eq!(hash_error(&path("hashes", &["x-custom"]), "'f00'"), None);
        assert_eq!(hash_error(&path("name", &["MD5"]), "'f00'"), None);
        assert_eq!(
            hash_error(&path("hashes", &["MD5"]), "'cead3f77f6cda6ec00f57d76c9a6879f\n'"),
            None
        );
        assert_eq!(
            hash_error(&path("hashes", &["MD6"]), "'cead3f77f6cda6ec00f57d76c9a6879fzz'"),
            None
        );
        assert!(hash_error(&path("hashes", &["SSDEEP"]), "'a b'").is_some());
    }
}
