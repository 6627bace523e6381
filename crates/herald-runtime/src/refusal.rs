//! The error boundary of every service's HTTP API, in one place.
//!
//! A handler refuses a request with a typed error of its service that implements [`Refusal`]:
//! the status, and the JSON body its protocol documents (EFGS `{"message":…}` for the gateway,
//! ENVS `{"error":…,"errorCode":…}` in the endpoint's answer type for the verifier). [`respond`]
//! turns every refusal into a response the same way: its status, `Content-Type:
//! application/json`, `Cache-Control: no-store`; [`into_response!`](crate::into_response)
//! implements axum's `IntoResponse` with it, so a service never writes that impl itself.
//!
//! An endpoint whose every answer is padded to one size (the app-facing APIs, `crate::padding`)
//! refuses with a [`PaddedRefusal`] instead: its body has a padding field, and
//! [`respond_padded`] pads it exactly as the endpoint's successes are padded.

use axum::http::StatusCode;
use axum::response::Response;

use crate::padding::Padding;

/// A refused request: what the service answers instead.
pub trait Refusal {
    /// The HTTP status.
    fn status(&self) -> StatusCode;

    /// The body the protocol documents for a refusal, as JSON text. It never carries what the
    /// request sent (a key, a code, a token), only what was wrong with it.
    fn body(&self) -> String;
}

/// The response of a refusal.
pub fn respond(refusal: &impl Refusal) -> Response {
    crate::padding::json_response(refusal.status(), refusal.body(), &[])
}

/// A refusal of an endpoint whose every answer is padded to one size: its body is the endpoint's
/// answer type, with the refusal set and a padding field.
pub trait PaddedRefusal: Refusal {
    /// The body, with `padding` in its padding field.
    fn padded_body(&self, padding: String) -> String;
}

/// The response of a refusal of an endpoint padded as `padding` says: its status, its body
/// padded to the endpoint's size, the endpoint's headers.
pub fn respond_padded(refusal: &impl PaddedRefusal, padding: &Padding) -> Response {
    padding.respond(refusal.status(), |p| refusal.padded_body(p))
}

/// Implements axum's `IntoResponse` for error types that implement [`Refusal`], through
/// [`respond`]:
///
/// ```
/// use axum::http::StatusCode;
/// use axum::response::IntoResponse as _;
///
/// struct NotFound;
/// impl herald_runtime::refusal::Refusal for NotFound {
///     fn status(&self) -> StatusCode {
///         StatusCode::NOT_FOUND
///     }
///     fn body(&self) -> String {
///         r#"{"message":"no such batch"}"#.to_owned()
///     }
/// }
/// herald_runtime::into_response!(NotFound);
///
/// let response = NotFound.into_response();
/// assert_eq!(response.status(), StatusCode::NOT_FOUND);
/// assert_eq!(response.headers()["content-type"], "application/json");
/// assert_eq!(response.headers()["cache-control"], "no-store");
/// ```
#[macro_export]
macro_rules! into_response {
    ($($error:ty),* $(,)?) => {
        $(impl ::axum::response::IntoResponse for $error {
            fn into_response(self) -> ::axum::response::Response {
                $crate::refusal::respond(&self)
            }
        })*
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::padding::Alphabet;

    struct Refused;

    impl Refusal for Refused {
        fn status(&self) -> StatusCode {
            StatusCode::PAYLOAD_TOO_LARGE
        }
        fn body(&self) -> String {
            self.padded_body(String::new())
        }
    }

    impl PaddedRefusal for Refused {
        fn padded_body(&self, padding: String) -> String {
            format!(r#"{{"code":"bad_request","padding":"{padding}"}}"#)
        }
    }

    #[tokio::test]
    async fn a_padded_refusal_has_the_size_and_headers_of_a_success() {
        let padding =
            Padding { size: 300, alphabet: Alphabet::Base64, headers: &[("x-api-version", "v1")] };
        let refused = respond_padded(&Refused, &padding);
        let success = padding.respond(StatusCode::OK, |p| format!(r#"{{"padding":"{p}"}}"#));
        assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
        for response in [refused, success] {
            let headers = response.headers().clone();
            assert_eq!(headers["content-type"], "application/json");
            assert_eq!(headers["cache-control"], "no-store");
            assert_eq!(headers["x-api-version"], "v1");
            let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
            assert_eq!(body.len(), 300);
        }
    }
}
