//! EFGS's versioned media types (efgs-gateway.md §1.1): `application/protobuf; version=1.0` and
//! `application/json; version=1.0`, with the status codes of the reference for each mismatch.

use axum::http::StatusCode;

/// The body format of a request or response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/protobuf; version=1.0`.
    Protobuf,
    /// `application/json; version=1.0`.
    Json,
}

impl Format {
    /// The `Content-Type` herald sends for this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Protobuf => "application/protobuf; version=1.0",
            Self::Json => "application/json; version=1.0",
        }
    }
}

/// A refused media type: the status and the message the reference answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaError {
    /// 400, 406 or 415.
    pub status: StatusCode,
    /// What was wrong.
    pub message: &'static str,
}

const SUPPORTED_MAJOR: u32 = 1;
const SUPPORTED_MINOR: u32 = 0;

/// One media range: type/subtype and its `version` parameter, if any.
struct MediaRange<'a> {
    essence: String,
    version: Option<&'a str>,
}

fn parse_range(text: &str) -> MediaRange<'_> {
    let mut parts = text.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let version = parts.find_map(|p| {
        let (name, value) = p.split_once('=')?;
        name.trim().eq_ignore_ascii_case("version").then(|| value.trim().trim_matches('"'))
    });
    MediaRange { essence, version }
}

fn format_of(essence: &str) -> Option<Format> {
    match essence {
        "application/protobuf" | "application/x-protobuf" => Some(Format::Protobuf),
        "application/json" => Some(Format::Json),
        _ => None,
    }
}

/// `MAJOR.MINOR`, both integers.
fn parse_version(v: &str) -> Option<(u32, u32)> {
    let (major, minor) = v.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// The format of an upload's `Content-Type` (§1.1 request rows): missing or another type → 415;
/// no `version` or an unparsable one → 400; another version → 406.
pub fn request_format(content_type: Option<&str>) -> Result<Format, MediaError> {
    let range = parse_range(content_type.unwrap_or("application/octet-stream"));
    let format = format_of(&range.essence).ok_or(MediaError {
        status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
        message: "Content-Type must be application/protobuf; version=1.0 or application/json; version=1.0",
    })?;
    let version = range.version.ok_or(MediaError {
        status: StatusCode::BAD_REQUEST,
        message: "Version parameter of Content-Type is required!",
    })?;
    let (major, minor) = parse_version(version).ok_or(MediaError {
        status: StatusCode::BAD_REQUEST,
        message: "Version parameter of Content-Type must be MAJOR.MINOR",
    })?;
    if (major, minor) != (SUPPORTED_MAJOR, SUPPORTED_MINOR) {
        return Err(MediaError {
            status: StatusCode::NOT_ACCEPTABLE,
            message: "Protocol version is not compatible!",
        });
    }
    Ok(format)
}

/// The format a download answers in, from `Accept` (§1.1 response rows): no acceptable type → 406;
/// no version (including a missing `Accept` and `*/*`) → 415 "Version parameter of Content-Type
/// is required!"; another version → 415 "Protocol version is not compatible!".
pub fn response_format(accept: Option<&str>) -> Result<Format, MediaError> {
    let accept = accept.unwrap_or("application/protobuf");
    let mut first_error = None;
    for text in accept.split(',') {
        let range = parse_range(text);
        let format = match range.essence.as_str() {
            "*/*" | "application/*" => Some(Format::Protobuf),
            essence => format_of(essence),
        };
        let Some(format) = format else { continue };
        let checked = match range.version.map(parse_version) {
            None => Err(MediaError {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                message: "Version parameter of Content-Type is required!",
            }),
            Some(Some((SUPPORTED_MAJOR, SUPPORTED_MINOR))) => Ok(format),
            Some(_) => Err(MediaError {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                message: "Protocol version is not compatible!",
            }),
        };
        match checked {
            Ok(format) => return Ok(format),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or(MediaError {
        status: StatusCode::NOT_ACCEPTABLE,
        message: "Accept must allow application/protobuf; version=1.0 or application/json; version=1.0",
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_media_types_follow_the_reference_table() {
        for (ct, expected) in [
            (Some("application/protobuf; version=1.0"), Ok(Format::Protobuf)),
            (Some("application/json;version=1.0"), Ok(Format::Json)),
            (Some("Application/JSON; charset=utf-8; version=\"1.0\""), Ok(Format::Json)),
            (None, Err(StatusCode::UNSUPPORTED_MEDIA_TYPE)),
            (Some("text/plain; version=1.0"), Err(StatusCode::UNSUPPORTED_MEDIA_TYPE)),
            (Some("application/protobuf"), Err(StatusCode::BAD_REQUEST)),
            (Some("application/protobuf; version=1"), Err(StatusCode::BAD_REQUEST)),
            (Some("application/protobuf; version=a.b"), Err(StatusCode::BAD_REQUEST)),
            (Some("application/protobuf; version=1.1"), Err(StatusCode::NOT_ACCEPTABLE)),
            (Some("application/protobuf; version=2.0"), Err(StatusCode::NOT_ACCEPTABLE)),
        ] {
            assert_eq!(request_format(ct).map_err(|e| e.status), expected, "{ct:?}");
        }
    }

    #[test]
    fn response_media_types_follow_the_reference_table() {
        for (accept, expected) in [
            (Some("application/protobuf; version=1.0"), Ok(Format::Protobuf)),
            (Some("application/json; version=1.0"), Ok(Format::Json)),
            (Some("text/html, application/json; version=1.0"), Ok(Format::Json)),
            (None, Err(StatusCode::UNSUPPORTED_MEDIA_TYPE)),
            (Some("*/*"), Err(StatusCode::UNSUPPORTED_MEDIA_TYPE)),
            (Some("application/protobuf; version=1.1"), Err(StatusCode::UNSUPPORTED_MEDIA_TYPE)),
            (Some("text/html"), Err(StatusCode::NOT_ACCEPTABLE)),
        ] {
            assert_eq!(response_format(accept).map_err(|e| e.status), expected, "{accept:?}");
        }
    }
}
