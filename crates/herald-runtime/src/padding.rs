//! Padded JSON answers for the app-facing APIs (key-server.md §6.2): every answer of an
//! endpoint (success, refusal, chaff) has one size, so that an observer of the encrypted
//! traffic cannot tell outcomes apart by length.
//!
//! An endpoint describes its padding once, as a [`Padding`] (size, filler alphabet, headers),
//! and answers through [`Padding::respond`]; its refusals go through
//! [`refusal::respond_padded`](crate::refusal::respond_padded), so a success and a refusal are
//! padded the same way.

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

/// How every answer of one endpoint is padded: to one size, with one filler alphabet, and with
/// the same headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Padding {
    /// The size of every answer in bytes (the next KiB above a longer answer).
    pub size: usize,
    /// The filler's characters.
    pub alphabet: Alphabet,
    /// Headers besides `Content-Type` and `Cache-Control`.
    pub headers: &'static [(&'static str, &'static str)],
}

impl Padding {
    /// The response `status` whose body `body` writes with the padding it is given, padded to
    /// [`size`](Self::size) (see [`padded_json`]), with the endpoint's headers.
    pub fn respond(&self, status: StatusCode, body: impl FnMut(String) -> String) -> Response {
        json_response(status, padded_json(self.size, self.alphabet, body), self.headers)
    }
}

/// A JSON body padded to exactly `size` bytes (the next KiB above a longer answer): `body`
/// writes the answer with the padding it is given in its padding field. Works whether or not an
/// empty padding field is left out of the JSON.
pub fn padded_json(
    size: usize,
    alphabet: Alphabet,
    mut body: impl FnMut(String) -> String,
) -> String {
    let with_one = body("A".into()).len();
    let target = if with_one <= size { size } else { with_one.div_ceil(1024) * 1024 };
    body(random_text(target - with_one + 1, alphabet))
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
            let body =
                padded_json(300, Alphabet::Base64, |padding| encode(&Answer { ok, padding }));
            assert_eq!(body.len(), 300, "{body}");
        }
        let body =
            padded_json(10, Alphabet::Base64Url, |padding| encode(&Answer { ok: true, padding }));
        assert_eq!(body.len(), 1024);
        let text = random_text(4096, Alphabet::Base64Url);
        assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert!(text.contains('-') || text.contains('_'), "the whole alphabet is used");
    }
}
