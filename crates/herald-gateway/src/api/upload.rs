//! `POST /diagnosiskeys/upload` (§1.2): the reference's checks in its order, the batch signature,
//! the store's outcome as 201, 207 or 409, and the upload's statistics.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use herald_model::{BatchTag, CertThumbprint, CountryCode, UnixTime};
use herald_runtime::PeerInfo;
use herald_wire::efgs::{self, EfgsKey};

use super::{
    ApiError, AppState, MAX_UPLOAD_KEYS, authenticate, header_str, record_traffic, trusted_row,
};
use crate::media::{self, Format};
use crate::store::{NewUpload, Traffic, TrustKind, UploadOutcome};

/// `POST /diagnosiskeys/upload` (§1.2), checks in the reference's order.
pub(super) async fn upload(
    State(state): State<AppState>,
    axum::Extension(peer): axum::Extension<PeerInfo>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    // 0. Who is calling.
    let (auth_thumbprint, country) = authenticate(&state, &peer, &headers).await?;
    // 1. Required headers.
    let batch_tag = header_str(&headers, "batchTag").ok_or_else(|| {
        ApiError::new(StatusCode::BAD_REQUEST, "Missing request header 'batchTag'")
    })?;
    let signature_b64 = header_str(&headers, "batchSignature")
        .ok_or_else(|| {
            ApiError::new(StatusCode::BAD_REQUEST, "Missing request header 'batchSignature'")
        })?
        .to_owned();
    let batch_tag = BatchTag::parse(batch_tag).map_err(|_| {
        ApiError::new(StatusCode::BAD_REQUEST, "batchTag must be 1 to 64 visible ASCII characters")
    })?;
    // 2. Media type and version.
    let format = media::request_format(header_str(&headers, "content-type"))
        .map_err(|e| ApiError::new(e.status, e.message))?;
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large")
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "The request body could not be read")
        }
    })?;
    // 3. Parse (the key count is checked before decoding, so a hostile body stays cheap), and
    // 4. every key valid (one bad key rejects the batch), including the time window.
    let keys = match format {
        Format::Protobuf => {
            let raw = efgs::decode_protobuf_raw(&body).map_err(body_error)?;
            efgs::validate_all(&raw.keys).map_err(body_error)?
        }
        Format::Json => efgs::decode_json(&body).map_err(body_error)?,
    };
    let now = state.clock.now();
    check_time_window(&keys, now)?;
    // 5. Size.
    if keys.len() > MAX_UPLOAD_KEYS {
        return Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "Too many diagnosis keys"));
    }
    // 6. Tag never used before (permanent registry).
    if state
        .store
        .upload_tag_exists(&batch_tag)
        .await
        .map_err(|e| ApiError::internal("tag lookup failed", &e))?
    {
        return Err(ApiError::new(StatusCode::CONFLICT, "BatchTag already exists."));
    }
    // 7. Batch signature by a trusted signing certificate of the caller's country (unspecific
    // on purpose).
    let signing_thumbprint = verify_signature(&state, &keys, &signature_b64, country, now).await?;
    // 8. Every key from the caller's country.
    if keys.iter().any(|k| k.origin != country) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "One or more keys are not originated from uploader country",
        ));
    }
    // 9. Store atomically.
    let upload = NewUpload {
        batch_tag: batch_tag.clone(),
        country,
        auth_thumbprint,
        signing_thumbprint,
        batch_signature: signature_b64,
        keys,
    };
    let outcome = state
        .store
        .insert_upload(&upload, state.settings.upload_mode, now)
        .await
        .map_err(|e| ApiError::internal("storing an upload failed", &e))?;
    match outcome {
        UploadOutcome::Stored { keys } => {
            tracing::info!(%country, keys, "upload stored");
            record_traffic(&state, Traffic::Upload, &batch_tag, country, keys, now).await;
            state.uploaded.notify_one();
            let mut response = StatusCode::CREATED.into_response();
            if let Ok(value) = HeaderValue::from_str(batch_tag.as_str()) {
                response.headers_mut().insert("batchTag", value);
            }
            Ok(response)
        }
        UploadOutcome::TagExists => {
            Err(ApiError::new(StatusCode::CONFLICT, "BatchTag already exists."))
        }
        UploadOutcome::Duplicates { insertable, duplicate } => {
            Ok(multi_status(&insertable, &duplicate))
        }
        UploadOutcome::PartiallyStored { stored, duplicate } => {
            record_traffic(&state, Traffic::Upload, &batch_tag, country, stored.len(), now).await;
            state.uploaded.notify_one();
            Ok(multi_status(&stored, &duplicate))
        }
    }
}

/// Maps a decoding or validation failure to the reference's status.
pub(super) fn body_error(e: efgs::EfgsError) -> ApiError {
    match e {
        efgs::EfgsError::TooManyKeys { .. } => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "Too many diagnosis keys")
        }
        efgs::EfgsError::TooLarge { .. } => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large")
        }
        e @ efgs::EfgsError::Key { .. } => ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("Validation of diagnosis key failed: {e}"),
        ),
        other => ApiError::new(StatusCode::BAD_REQUEST, format!("Invalid request body: {other}")),
    }
}

pub(super) fn multi_status(ok: &[usize], duplicate: &[usize]) -> Response {
    let body = serde_json::json!({ "201": ok, "409": duplicate, "500": [] }).to_string();
    (StatusCode::MULTI_STATUS, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `rollingStartIntervalNumber` in [(midnight today − 15 days) / 600, now / 600 + 1] (§5.1).
pub(super) fn check_time_window(keys: &[EfgsKey], now: UnixTime) -> Result<(), ApiError> {
    let earliest = (now.utc_day() - 15) * 86_400 / 600;
    let latest = now.seconds() / 600 + 1;
    for (index, key) in keys.iter().enumerate() {
        let start = i64::from(key.rolling_start.get());
        if start < earliest || start > latest {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "Validation of diagnosis key failed: key {index}: rollingStartIntervalNumber {start} is outside {earliest}..={latest}"
                ),
            ));
        }
    }
    Ok(())
}

pub(super) async fn verify_signature(
    state: &AppState,
    keys: &[EfgsKey],
    signature_b64: &str,
    country: CountryCode,
    now: UnixTime,
) -> Result<CertThumbprint, ApiError> {
    let invalid = || ApiError::new(StatusCode::BAD_REQUEST, "Invalid signature");
    let signer = efgs::verify_batch_signer(keys, signature_b64, None).map_err(|e| {
        tracing::info!(%country, reason = %e, "upload refused: batch signature");
        invalid()
    })?;
    if signer.not_before > now || signer.not_after < now {
        return Err(invalid());
    }
    if signer.subject_country != Some(country) {
        return Err(invalid());
    }
    match trusted_row(state, &signer.thumbprint, country, TrustKind::Signing).await? {
        Some(row) if !row.revoked => Ok(signer.thumbprint),
        _ => Err(invalid()),
    }
}
