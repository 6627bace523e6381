//! TAXII error messages (TAXII 2.1 §3.6.1): every refusal in the TAXII media type, with
//! `title`, `description` and `http_status` equal to the answer's status.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use herald_stix::taxii::media::TAXII_MEDIA_TYPE;
use herald_stix::taxii::shapes::ErrorBody;

/// A refused request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxiiError {
    /// The status.
    pub status: StatusCode,
    /// What was wrong, for the caller.
    pub description: String,
}

impl TaxiiError {
    fn new(status: StatusCode, description: impl Into<String>) -> Self {
        Self { status, description: description.into() }
    }

    /// 400: a malformed request.
    pub fn bad_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, description)
    }

    /// 401: no or bad credentials.
    pub fn unauthorized(description: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, description)
    }

    /// 403: authenticated, without the right.
    pub fn forbidden(description: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, description)
    }

    /// 404: missing, or not for this caller (the same answer).
    pub fn not_found(description: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, description)
    }

    /// 406: an `Accept` without the TAXII 2.1 media type.
    pub fn not_acceptable() -> Self {
        Self::new(
            StatusCode::NOT_ACCEPTABLE,
            "this server answers application/taxii+json;version=2.1 only",
        )
    }

    /// 413: a body over `max_content_length`.
    pub fn too_large(description: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, description)
    }

    /// 415: a body not in the TAXII media type.
    pub fn unsupported_media_type(description: impl Into<String>) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, description)
    }

    /// 422: JSON, but not an envelope or a bundle.
    pub fn unprocessable(description: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, description)
    }

    /// 500: the store failed (the details go to the log, not to the caller).
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the exchange could not complete the request; try again",
        )
    }
}

impl From<crate::store::StoreError> for TaxiiError {
    fn from(error: crate::store::StoreError) -> Self {
        tracing::error!(%error, "store error");
        Self::internal()
    }
}

impl IntoResponse for TaxiiError {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("Error");
        let body = ErrorBody::new(self.status.as_u16(), title, &self.description);
        let text = serde_json::to_string(&body).unwrap_or_default();
        let mut response = (self.status, text).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(TAXII_MEDIA_TYPE));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"herald exchange\""),
            );
        }
        response
    }
}

/// Anything outside the routes.
pub(super) async fn not_found() -> TaxiiError {
    TaxiiError::not_found("no such resource")
}

/// A route with a method it does not serve: 405 in the TAXII media type (axum adds `Allow`).
pub(super) async fn method_not_allowed() -> TaxiiError {
    TaxiiError::new(StatusCode::METHOD_NOT_ALLOWED, "this resource does not take that method")
}
