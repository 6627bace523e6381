//! The error boundary of every service's HTTP API, in one place.
//!
//! A handler refuses a request with a typed error of its service that implements [`Refusal`]:
//! the status, and the JSON body its protocol documents (EFGS `{"message":…}` for the gateway,
//! ENVS `{"error":…,"errorCode":…}` in the endpoint's answer type for the verifier). [`respond`]
//! turns every refusal into a response the same way: its status, `Content-Type:
//! application/json`, `Cache-Control: no-store`; [`into_response!`](crate::into_response)
//! implements axum's `IntoResponse` with it, so a service never writes that impl itself. The
//! answers that must be padded to one size (the app-facing APIs) are padded by the service
//! before they reach here (`crate::padding`).

use axum::http::StatusCode;
use axum::response::Response;

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
