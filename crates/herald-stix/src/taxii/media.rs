//! TAXII 2.1 media types (TAXII 2.1 §1.6.8): what `Accept` the exchange answers (else 406) and
//! what `Content-Type` a POST body must carry (else 415).
//!
//! Header values are read as RFC 9110 §12.5.1 lists: type and subtype case-insensitive, spaces
//! allowed around `;` and `=`, parameter values plain or quoted. An `Accept` list is answered
//! when the most specific entry that covers `application/taxii+json;version=2.1` has `q > 0`
//! (so `application/taxii+json;q=0, */*` is refused). An empty `Accept` counts as absent. On
//! `application/taxii+json`, a `version` other than `2.1` means another media type; other
//! parameters (`charset`, …) are ignored in `Accept`.

/// The media type of every TAXII 2.1 answer, written without a space: taxii2-client splits
/// our `Content-Type` on `;` and looks for each token of its `Accept`.
pub const TAXII_MEDIA_TYPE: &str = "application/taxii+json;version=2.1";

/// The media type of STIX 2.1 objects in a collection's `media_types`.
pub const STIX_MEDIA_TYPE: &str = "application/stix+json;version=2.1";

/// One media type or range of a header: `type/subtype` (lower-cased) and its parameters
/// (names lower-cased, values unquoted).
struct MediaRange {
    essence: String,
    params: Vec<(String, String)>,
}

/// Splits `text` on `sep` outside double quotes.
fn split_outside_quotes(text: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (at, c) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            parts.push(text.get(start..at).unwrap_or(""));
            start = at + c.len_utf8();
        }
    }
    parts.push(text.get(start..).unwrap_or(""));
    parts
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Parses `type/subtype *(; name=value)`, or `None` when it is not of that form.
fn parse_range(text: &str) -> Option<MediaRange> {
    let mut parts = split_outside_quotes(text, ';').into_iter();
    let essence = parts.next()?.trim().to_ascii_lowercase();
    let (kind, sub) = essence.split_once('/')?;
    if !is_token(kind) || !is_token(sub) {
        return None;
    }
    let mut params = Vec::new();
    for part in parts {
        let (name, value) = part.split_once('=')?;
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        if !is_token(&name) {
            return None;
        }
        let value = match value.strip_prefix('"') {
            Some(rest) => unquote(rest.strip_suffix('"')?)?,
            None if is_token(value) => value.to_owned(),
            None => return None,
        };
        params.push((name, value));
    }
    Some(MediaRange { essence, params })
}

/// The text of a quoted string (without its quotes), undoing `\` escapes.
fn unquote(inner: &str) -> Option<String> {
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

impl MediaRange {
    fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// How specifically this range names TAXII 2.1 (higher is more specific), or `None` when
    /// it does not cover it.
    fn specificity(&self) -> Option<u8> {
        match self.essence.as_str() {
            "*/*" => Some(1),
            "application/*" => Some(2),
            "application/taxii+json" => match self.param("version") {
                None => Some(3),
                Some("2.1") => Some(4),
                Some(_) => None,
            },
            _ => None,
        }
    }

    /// The `q` weight in thousandths (1000 when absent), or `None` when malformed.
    fn quality(&self) -> Option<u16> {
        let Some(q) = self.param("q") else { return Some(1000) };
        let (whole, fraction) = q.split_once('.').unwrap_or((q, ""));
        if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut thousandths: u16 = 0;
        for place in 0..3 {
            let digit = fraction.as_bytes().get(place).map_or(0, |d| d - b'0');
            thousandths = thousandths * 10 + u16::from(digit);
        }
        match whole {
            "0" => Some(thousandths),
            "1" if thousandths == 0 => Some(1000),
            _ => None,
        }
    }
}

/// Whether an answer in [`TAXII_MEDIA_TYPE`] is acceptable for this `Accept` header value.
pub fn accepts(accept: Option<&str>) -> bool {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else { return true };
    let mut best: Option<(u8, u16)> = None;
    for entry in split_outside_quotes(accept, ',') {
        if entry.trim().is_empty() {
            continue;
        }
        let Some(range) = parse_range(entry) else { continue };
        let (Some(specificity), Some(quality)) = (range.specificity(), range.quality()) else {
            continue;
        };
        // The most specific range decides; among equally specific ones, the highest weight.
        if best.is_none_or(|b| (specificity, quality) > b) {
            best = Some((specificity, quality));
        }
    }
    best.is_some_and(|(_, quality)| quality > 0)
}

/// Whether a POST body's `Content-Type` is TAXII 2.1: `application/taxii+json` with
/// `version=2.1` or no version, and at most a `charset=utf-8` besides; else why not.
pub fn content_type_ok(content_type: Option<&str>) -> Result<(), String> {
    let Some(text) = content_type else {
        return Err(format!("a Content-Type is required: {TAXII_MEDIA_TYPE}"));
    };
    let refuse =
        |why: &str| Err(format!("Content-Type {:?} {why}; send {TAXII_MEDIA_TYPE}", clip(text)));
    let Some(range) = parse_range(text) else { return refuse("is not a media type") };
    if range.essence != "application/taxii+json" {
        return refuse("is not application/taxii+json");
    }
    for (at, (name, value)) in range.params.iter().enumerate() {
        if range.params.iter().take(at).any(|(n, _)| n == name) {
            return refuse("repeats a parameter");
        }
        match name.as_str() {
            "version" if value == "2.1" => {}
            "version" => return refuse("names another TAXII version"),
            "charset" if value.eq_ignore_ascii_case("utf-8") => {}
            "charset" => return refuse("names a charset other than utf-8"),
            _ => return refuse("has a parameter other than version and charset"),
        }
    }
    Ok(())
}

fn clip(text: &str) -> String {
    crate::error::clip(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_table() {
        for (accept, want) in [
            (None, true),
            (Some(""), true),
            (Some("*/*"), true),
            (Some("application/*"), true),
            (Some("application/taxii+json"), true),
            (Some(TAXII_MEDIA_TYPE), true),
            (Some("Application/TAXII+JSON ; Version = 2.1"), true),
            (Some("application/taxii+json;version=\"2.1\""), true),
            (Some("application/json, application/taxii+json;version=2.1;q=0.5"), true),
            (Some("application/taxii+json;version=2.0"), false),
            (Some("application/json"), false),
            (Some("application/stix+json;version=2.1"), false),
            (Some("application/taxii+json;q=0"), false),
            (Some("application/taxii+json;q=0, */*"), false),
            (Some("*/*;q=0"), false),
            (Some("text/html, */*;q=0.1"), true),
            (Some("application/taxii+json;q=2"), false),
            (Some("garbage"), false),
        ] {
            assert_eq!(accepts(accept), want, "{accept:?}");
        }
    }

    #[test]
    fn content_type_table() {
        assert!(content_type_ok(Some(TAXII_MEDIA_TYPE)).is_ok());
        assert!(content_type_ok(Some("application/taxii+json")).is_ok());
        assert!(
            content_type_ok(Some("application/taxii+json; version=2.1; charset=UTF-8")).is_ok()
        );
        for bad in [
            "application/json",
            "application/taxii+json;version=2.0",
            "application/taxii+json;charset=latin1",
            "application/taxii+json;version=2.1;version=2.1",
            "application/taxii+json;foo=bar",
            "",
        ] {
            assert!(content_type_ok(Some(bad)).is_err(), "{bad:?}");
        }
        assert!(content_type_ok(None).unwrap_err().contains("required"));
    }
}
