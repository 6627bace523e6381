//! The body of a TAXII 2.1 `POST …/objects/`: an envelope `{"objects": […]}` or a STIX bundle
//! `{"type": "bundle", "id": "bundle--…", "objects": […]}` (stix2's `TAXIICollectionSink` sends
//! bundles).
//!
//! The body as a whole is either refused (not JSON: 400; JSON but neither form: 422; too many
//! objects: 413) or split into its objects, each kept as the exact bytes that were sent, so that
//! one bad object never sinks the others and what is served back is what was accepted.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::json::Limits;

/// Which form the body took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostKind {
    /// A TAXII envelope.
    Envelope,
    /// A STIX bundle.
    Bundle,
}

/// A body split into its objects (not validated yet).
#[derive(Debug)]
pub struct Post<'a> {
    /// Envelope or bundle.
    pub kind: PostKind,
    /// Each object's exact text, in order.
    pub objects: Vec<&'a RawValue>,
}

/// Why a body was refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostError {
    /// Not JSON at all (TAXII: 400).
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    /// JSON, but neither an envelope nor a bundle (TAXII: 422).
    #[error("the body is not a TAXII envelope or a STIX bundle: {0}")]
    NotEnvelope(String),
    /// More objects than one POST may carry (413).
    #[error("the body holds {count} objects; at most {limit} may be sent at once")]
    TooManyObjects {
        /// Objects sent.
        count: usize,
        /// The limit.
        limit: usize,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    spec_version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    objects: Option<Vec<&'a RawValue>>,
    // An envelope read back from a server may carry these; they mean nothing in a POST.
    more: Option<bool>,
    #[serde(borrow)]
    next: Option<Cow<'a, str>>,
}

/// Splits `body` into its objects.
pub fn parse_post<'a>(body: &'a [u8], limits: &Limits) -> Result<Post<'a>, PostError> {
    let text =
        std::str::from_utf8(body).map_err(|e| PostError::NotJson(format!("not UTF-8 ({e})")))?;
    let raw: &RawValue =
        serde_json::from_str(text).map_err(|e| PostError::NotJson(e.to_string()))?;
    if !raw.get().starts_with('{') {
        return Err(PostError::NotEnvelope("the body must be a JSON object".into()));
    }
    let parsed: Body<'a> = serde_json::from_str(raw.get()).map_err(|e| {
        let text = e.to_string();
        PostError::NotEnvelope(text.split(" at line ").next().unwrap_or(&text).to_owned())
    })?;
    let kind = match (parsed.kind.as_deref(), parsed.id.as_deref()) {
        (None, None) if parsed.spec_version.is_none() => PostKind::Envelope,
        (Some("bundle"), Some(id)) => {
            let id =
                crate::id::StixId::parse(id).map_err(|e| PostError::NotEnvelope(e.to_string()))?;
            if id.kind() != "bundle" {
                return Err(PostError::NotEnvelope("a bundle's id must be bundle--<uuid>".into()));
            }
            PostKind::Bundle
        }
        (Some("bundle"), None) => {
            return Err(PostError::NotEnvelope("a bundle needs an id".into()));
        }
        (Some(other), _) => {
            return Err(PostError::NotEnvelope(format!(
                "a body of type {:?} is not a bundle",
                crate::error::clip(other)
            )));
        }
        _ => {
            return Err(PostError::NotEnvelope(
                "type, id and spec_version belong to bundles, which need \"type\": \"bundle\""
                    .into(),
            ));
        }
    };
    let _ = (parsed.more, &parsed.next);
    let objects = parsed.objects.unwrap_or_default();
    if objects.len() > limits.max_objects {
        return Err(PostError::TooManyObjects { count: objects.len(), limit: limits.max_objects });
    }
    Ok(Post { kind, objects })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_and_bundles() {
        let limits = Limits::default();
        let p = parse_post(br#"{"objects": [{"a": 1}, {"b": [2]}]}"#, &limits).unwrap();
        assert_eq!(p.kind, PostKind::Envelope);
        assert_eq!(
            p.objects.iter().map(|o| o.get()).collect::<Vec<_>>(),
            [r#"{"a": 1}"#, r#"{"b": [2]}"#]
        );
        let p = parse_post(
            br#"{"type": "bundle", "id": "bundle--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "objects": []}"#,
            &limits,
        )
        .unwrap();
        assert_eq!(p.kind, PostKind::Bundle);
        assert!(parse_post(b"{}", &limits).unwrap().objects.is_empty());
    }

    #[test]
    fn refusals() {
        let limits = Limits { max_objects: 2, ..Limits::default() };
        let cases: [(&[u8], &str); 11] = [
            (b"", "not JSON"),
            (b"\xef\xbb\xbf{}", "not JSON"),
            (b"{\"objects\": [", "not JSON"),
            (b"\xff", "not JSON"),
            (b"[]", "must be a JSON object"),
            (b"42", "must be a JSON object"),
            (br#"{"objects": {}}"#, "not a TAXII envelope"),
            (br#"{"objects": [], "objects": []}"#, "duplicate field"),
            (br#"{"objects": [], "extra": 1}"#, "unknown field"),
            (br#"{"type": "indicator", "objects": []}"#, "is not a bundle"),
            (br#"{"objects": [1, 2, 3]}"#, "holds 3 objects; at most 2"),
        ];
        for (body, want) in cases {
            let err = parse_post(body, &limits).unwrap_err().to_string();
            assert!(err.contains(want), "{}: {err}", String::from_utf8_lossy(body));
        }
        let err = parse_post(br#"{"type": "bundle", "objects": []}"#, &limits).unwrap_err();
        assert!(matches!(err, PostError::NotEnvelope(_)));
        let err = parse_post(
            br#"{"type": "bundle", "id": "report--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}"#,
            &limits,
        );
        assert!(err.is_err());
        // Escapes in the envelope's own strings are fine.
        let p = parse_post(
            br#"{"type": "bundl\u0065", "id": "bundle--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}"#,
            &limits,
        );
        assert_eq!(p.unwrap().kind, PostKind::Bundle);
    }
}
