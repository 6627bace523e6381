//! `GET /diagnosiskeys/download/{date}` (§1.3) and the audit of a batch (§1.4), with the dates they
//! take and the download statistics.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use herald_model::{BatchTag, Date, UnixTime};
use herald_runtime::PeerInfo;
use herald_wire::efgs::{self};

use super::{ApiError, AppState, authenticate, header_str, record_traffic};
use crate::media::{self, Format};
use crate::store::Traffic;

/// `yyyy-MM-dd` → start of that UTC day.
pub(super) fn parse_date(date: &str) -> Result<UnixTime, ApiError> {
    Date::parse_iso(date).map(Date::start).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("Invalid date {date:?}: expected yyyy-MM-dd"),
        )
    })
}

pub(super) fn check_age(state: &AppState, date: UnixTime) -> Result<(), ApiError> {
    let today = state.clock.now().utc_day();
    if date.utc_day() < today - state.settings.max_age_days {
        return Err(ApiError::new(StatusCode::GONE, "Requested date is too old!"));
    }
    Ok(())
}

/// `GET /diagnosiskeys/download/{date}` (§1.3).
pub(super) async fn download(
    State(state): State<AppState>,
    axum::Extension(peer): axum::Extension<PeerInfo>,
    Path(date): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (_, country) = authenticate(&state, &peer, &headers).await?;
    let format = media::response_format(header_str(&headers, "accept"))
        .map_err(|e| ApiError::new(e.status, e.message))?;
    let day = parse_date(&date)?;
    check_age(&state, day)?;
    let store_err = |e: crate::store::StoreError| ApiError::internal("download lookup failed", &e);
    let batch = match header_str(&headers, "batchTag") {
        None => state.store.first_download_batch_since(day).await.map_err(store_err)?.ok_or_else(
            || ApiError::new(StatusCode::NOT_FOUND, "Could not find any batches for given date"),
        )?,
        Some(tag) => {
            // A tag no upload could have is not found, like any other unknown tag.
            let tag = BatchTag::parse(tag).map_err(|_| unknown_tag())?;
            state.store.download_batch(&tag).await.map_err(store_err)?.ok_or_else(unknown_tag)?
        }
    };
    if batch.created_at.utc_day() < day.utc_day() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "The batch was created before the requested date",
        ));
    }
    let keys = state.store.download_keys(&batch.tag, Some(country)).await.map_err(store_err)?;
    record_traffic(&state, Traffic::Download, &batch.tag, country, keys.len(), state.clock.now())
        .await;
    let body = match format {
        Format::Protobuf => efgs::encode_protobuf(&keys),
        Format::Json => efgs::encode_json(&keys).into_bytes(),
    };
    let mut response = Response::new(Body::from(body));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    h.insert("X-Protobuf-Schema", HeaderValue::from_static("Efgs.proto"));
    h.insert("X-Protobuf-Message", HeaderValue::from_static("eu.interop.DiagnosisKeyBatch"));
    if let Ok(v) = HeaderValue::from_str(batch.tag.as_str()) {
        h.insert("batchTag", v);
    }
    let next = batch.next_tag.as_ref().map_or("null", BatchTag::as_str);
    if let Ok(v) = HeaderValue::from_str(next) {
        h.insert("nextBatchTag", v);
    }
    Ok(response)
}

/// `GET /diagnosiskeys/audit/download/{date}/{batchTag}` (§1.4).
pub(super) async fn audit(
    State(state): State<AppState>,
    axum::Extension(peer): axum::Extension<PeerInfo>,
    Path((date, batch_tag)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authenticate(&state, &peer, &headers).await?;
    let day = parse_date(&date)?;
    check_age(&state, day)?;
    let store_err = |e: crate::store::StoreError| ApiError::internal("audit lookup failed", &e);
    let batch_tag = BatchTag::parse(&batch_tag).map_err(|_| unknown_tag())?;
    let batch =
        state.store.download_batch(&batch_tag).await.map_err(store_err)?.ok_or_else(unknown_tag)?;
    if batch.created_at.utc_day() != day.utc_day() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "Given date does not match the requested batch",
        ));
    }
    let rows = state.store.audit(&batch_tag).await.map_err(store_err)?;
    if rows.is_empty() {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "No audit data for this batch"));
    }
    let mut entries = Vec::with_capacity(rows.len());
    for row in rows {
        let auth = state.store.trust_entry(&row.auth_thumbprint).await.map_err(store_err)?;
        let signing = state.store.trust_entry(&row.signing_thumbprint).await.map_err(store_err)?;
        entries.push(serde_json::json!({
            "country": row.country.as_str(),
            "uploadedTime": row.uploaded_at.iso_millis(),
            "uploaderThumbprint": row.auth_thumbprint.to_hex(),
            "uploaderCertificate": auth.as_ref().map(|r| r.certificate_pem.clone()),
            "uploaderOperatorSignature": auth.as_ref().map(|r| r.operator_signature.clone()),
            "uploaderSigningThumbprint": row.signing_thumbprint.to_hex(),
            "signingCertificate": signing.as_ref().map(|r| r.certificate_pem.clone()),
            "signingCertificateOperatorSignature": signing.as_ref().map(|r| r.operator_signature.clone()),
            "amount": row.amount,
            "batchSignature": row.batch_signature,
        }));
    }
    let body = serde_json::Value::Array(entries).to_string();
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The 404 of a `batchTag` that names no download batch (§1.3 step 3, §1.4).
fn unknown_tag() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "Could not find batch with given BatchTag")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(parse_date("1970-01-01").unwrap(), UnixTime(0));
        assert_eq!(parse_date("2020-07-31").unwrap().utc_day(), 18474);
        for day in [-1000, 0, 18474, 20000, 60000] {
            let date = Date::from_utc_day(day).unwrap();
            assert_eq!(parse_date(&date.to_string()).unwrap().utc_day(), day);
        }
        for bad in [
            "2020-7-31",
            "2020-02-30",
            "2021-02-29",
            "2020-13-01",
            "20200731",
            "2020-07-31-1",
            "abcd-ef-gh",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
        assert!(parse_date("2020-02-29").is_ok());
        assert_eq!(UnixTime(1_596_194_683).iso_millis(), "2020-07-31T11:24:43.000Z");
    }
}
