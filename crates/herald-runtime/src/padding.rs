//! Padded JSON answers for the app-facing APIs (key-server.md §6.2): every answer of an
//! endpoint (success, refusal, chaff) has one size, so that an observer of the encrypted
//! traffic cannot tell outcomes apart by length.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rand::Rng as _;

/// The characters of random filler: JSON needs no escape for any of them, so a string of `n`
/// of them adds exactly `n` bytes to a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alphabet {
    /// Standard Base64 (`+`, `/`), as ENS pads its answers.
    Base64,
    /// Base64url (`-`, `_`), as JWTs are written (chaff tokens and certificates).
    Base64Url,
}

/// `n` random characters of `alphabet`.
pub fn random_text(n: usize, alphabet: Alphabet) -> String {
    const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let table = match alphabet {
        Alphabet::Base64 => STANDARD,
        Alphabet::Base64Url => URL,
    };
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| char::from(table.get(usize::from(b & 63)).copied().unwrap_or(b'A')))
        .collect()
}

/// The body of `answer` padded to exactly `size` bytes (the next KiB above a longer answer):
/// `set_padding` writes its padding field, `encode` serialises it. Works whether or not an empty
/// padding field is left out of the JSON.
pub fn padded_json<T>(
    answer: &mut T,
    size: usize,
    alphabet: Alphabet,
    set_padding: impl Fn(&mut T, String),
    encode: impl Fn(&T) -> String,
) -> String {
    set_padding(answer, "A".into());
    let with_one = encode(answer).len();
    let target = if with_one <= size { size } else { with_one.div_ceil(1024) * 1024 };
    set_padding(answer, random_text(target - with_one + 1, alphabet));
    encode(answer)
}

/// A JSON answer that no cache keeps, with `headers` besides.
pub fn json_response(
    status: StatusCode,
    body: String,
    headers: &[(&'static str, &'static str)],
) -> Response {
    let mut out = (status, body).into_response();
    let h = out.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for (name, value) in headers {
        h.insert(*name, HeaderValue::from_static(value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Answer {
        ok: bool,
        padding: String,
    }

    fn encode(a: &Answer) -> String {
        if a.padding.is_empty() {
            format!("{{\"ok\":{}}}", a.ok)
        } else {
            format!("{{\"ok\":{},\"padding\":\"{}\"}}", a.ok, a.padding)
        }
    }

    #[test]
    fn every_answer_has_the_size_or_the_next_kib() {
        for ok in [true, false] {
            let mut a = Answer { ok, ..Answer::default() };
            let body = padded_json(&mut a, 300, Alphabet::Base64, |a, p| a.padding = p, encode);
            assert_eq!(body.len(), 300, "{body}");
        }
        let mut long = Answer { ok: true, padding: String::new() };
        let body = padded_json(&mut long, 10, Alphabet::Base64Url, |a, p| a.padding = p, encode);
        assert_eq!(body.len(), 1024);
        let text = random_text(4096, Alphabet::Base64Url);
        assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert!(text.contains('-') || text.contains('_'), "the whole alphabet is used");
    }
}
