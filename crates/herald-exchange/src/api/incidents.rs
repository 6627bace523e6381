//! The mandatory track (spec §5): `/api/v1/incidents`. An organisation opens an incident with
//! when it became aware and whether it is significant (NIS2) and breaches personal data (GDPR);
//! the exchange keeps the clocks ([`crate::clocks`]) and takes one report per stage. Every
//! submission is answered with a signed receipt over the exact request body. An incident is
//! its organisation's only: another organisation's answers 404, as a missing one does.
//!
//! JSON in, JSON out; refusals are `{"error": "<what was wrong>"}` with the documented status:
//! 400 not JSON, 401 no credentials, 404 no such incident or stage, 409 stage already
//! submitted, 415 not `application/json`, 422 JSON with the wrong content.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::auth::{Authed, Caller};
use super::{Exchange, TaxiiError};
use crate::clocks::{self, Facts, Stage};
use crate::receipt::Track;
use crate::store::{AuditEntry, Incident, NewIncident, StageSubmission, SubmitOutcome};

/// The longest title and summary (characters).
const TITLE_MAX: usize = 200;
const TEXT_MAX: usize = 20_000;
/// How far in the future `aware_at` may lie (clock skew between the member and the exchange).
const SKEW_US: i64 = 5 * 60 * 1_000_000;

/// A refusal of the tracks' JSON API.
#[derive(Debug)]
pub(super) struct ApiError(TaxiiError);

impl ApiError {
    fn new(status: StatusCode, description: impl Into<String>) -> Self {
        Self(TaxiiError { status, description: description.into() })
    }

    fn unprocessable(description: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, description)
    }
}

impl From<TaxiiError> for ApiError {
    fn from(error: TaxiiError) -> Self {
        Self(error)
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> Self {
        Self(TaxiiError::from(error))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.0.status;
        let mut response =
            (status, axum::Json(json!({ "error": self.0.description }))).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"herald exchange\""),
            );
        }
        response
    }
}

/// The calling organisation, refused in JSON.
pub(super) struct Member(Caller);

impl FromRequestParts<Arc<Exchange>> for Member {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        exchange: &Arc<Exchange>,
    ) -> Result<Self, ApiError> {
        let authed = Authed::from_request_parts(parts, exchange).await?;
        Ok(Self(authed.caller))
    }
}

fn json_ok(status: StatusCode, value: &Value) -> Response {
    let mut response = (status, axum::Json(value)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The body as `T`: 415 unless `application/json`, 400 unless JSON, 422 unless a `T`.
fn parse_body<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let essence = content_type.and_then(|v| v.split(';').next()).map(str::trim);
    if !essence.is_some_and(|e| e.eq_ignore_ascii_case("application/json")) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be application/json",
        ));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("not JSON: {e}")))?;
    serde_json::from_value(value).map_err(|e| ApiError::unprocessable(e.to_string()))
}

fn timestamp(us: i64) -> Option<Timestamp> {
    Timestamp::from_microsecond(us).ok()
}

fn rfc3339(us: i64) -> Value {
    timestamp(us).map_or(Value::Null, |t| Value::String(t.to_string()))
}

/// An instant sent by the member: RFC 3339, not after now (plus a little skew), as µs.
fn instant(name: &str, text: &str, now_us: i64) -> Result<i64, ApiError> {
    let at: Timestamp = text
        .parse()
        .map_err(|e| ApiError::unprocessable(format!("{name}: not an RFC 3339 time: {e}")))?;
    let us = at.as_microsecond();
    if us > now_us.saturating_add(SKEW_US) {
        return Err(ApiError::unprocessable(format!("{name}: lies in the future")));
    }
    Ok(us)
}

fn text(name: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::unprocessable(format!("{name}: must not be empty")));
    }
    if value.chars().count() > max {
        return Err(ApiError::unprocessable(format!("{name}: at most {max} characters")));
    }
    Ok(())
}

/// The clocks' facts of a stored incident.
pub fn facts(incident: &Incident) -> Facts {
    let at = |us: i64| timestamp(us).unwrap_or_default();
    Facts {
        aware_at: at(incident.aware_at_us),
        significant: incident.significant,
        personal_data: incident.personal_data,
        handled_at: incident.handled_at_us.map(at),
        submitted: incident
            .submitted
            .iter()
            .filter_map(|s| Some((Stage::parse(&s.stage)?, at(s.submitted_us))))
            .collect(),
    }
}

/// An incident as the API shows it, its stages' clocks at `now_us`.
pub fn incident_json(incident: &Incident, now_us: i64) -> Value {
    let now = timestamp(now_us).unwrap_or_default();
    let stages: Vec<Value> = clocks::clocks(&facts(incident), now)
        .into_iter()
        .map(|c| {
            json!({
                "stage": c.stage,
                "due_at": c.due_at.map(|t| t.to_string()),
                "submitted_at": c.submitted_at.map(|t| t.to_string()),
                "status": c.status,
            })
        })
        .collect();
    json!({
        "id": incident.id,
        "title": incident.title,
        "summary": incident.summary,
        "aware_at": rfc3339(incident.aware_at_us),
        "significant": incident.significant,
        "personal_data": incident.personal_data,
        "handled_at": incident.handled_at_us.map(rfc3339),
        "stages": stages,
    })
}

/// `answer` with the receipt of `body` received now on the mandatory track.
fn with_receipt(exchange: &Exchange, mut answer: Value, body: &[u8], now_us: i64) -> Value {
    if let Some(map) = answer.as_object_mut() {
        let receipt = exchange.receipts.sign(Track::Mandatory, body, now_us);
        map.insert("receipt".into(), json!(receipt));
    }
    answer
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenBody {
    aware_at: String,
    significant: bool,
    personal_data: bool,
    title: String,
    summary: String,
}

pub(super) async fn open(
    State(exchange): State<Arc<Exchange>>,
    Member(caller): Member,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let now_us = exchange.clock.now_us();
    let sent: OpenBody = parse_body(&headers, &body)?;
    let aware_at_us = instant("aware_at", &sent.aware_at, now_us)?;
    text("title", &sent.title, TITLE_MAX)?;
    text("summary", &sent.summary, TEXT_MAX)?;
    let id = exchange.new_status_id();
    let incident = NewIncident {
        id: &id,
        org: caller.org.id,
        title: sent.title.trim(),
        summary: &sent.summary,
        aware_at_us,
        significant: sent.significant,
        personal_data: sent.personal_data,
        created_us: now_us,
    };
    let audit = AuditEntry {
        at_us: now_us,
        actor_org: Some(caller.org.id),
        action: "incident-open".into(),
        subject: format!("incident {id}"),
        detail: format!(
            "significant {}, personal data {}, sha256 {}",
            sent.significant,
            sent.personal_data,
            hex::encode(Sha256::digest(&body))
        ),
    };
    exchange.store.add_incident(&incident, &audit).await?;
    let opened = Incident {
        id: id.clone(),
        org: caller.org.id,
        org_name: caller.org.name.clone(),
        title: incident.title.to_owned(),
        summary: sent.summary.clone(),
        aware_at_us,
        significant: sent.significant,
        personal_data: sent.personal_data,
        handled_at_us: None,
        created_us: now_us,
        submitted: Vec::new(),
    };
    let answer = with_receipt(&exchange, incident_json(&opened, now_us), &body, now_us);
    Ok(json_ok(StatusCode::CREATED, &answer))
}

pub(super) async fn list(
    State(exchange): State<Arc<Exchange>>,
    Member(caller): Member,
) -> Result<Response, ApiError> {
    let now_us = exchange.clock.now_us();
    let incidents = exchange.store.incidents(Some(caller.org.id)).await?;
    let list: Vec<Value> = incidents.iter().map(|i| incident_json(i, now_us)).collect();
    Ok(json_ok(StatusCode::OK, &json!({ "incidents": list })))
}

pub(super) async fn one(
    State(exchange): State<Arc<Exchange>>,
    Member(caller): Member,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let incident = exchange
        .store
        .incident(&id, caller.org.id)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no such incident"))?;
    Ok(json_ok(StatusCode::OK, &incident_json(&incident, exchange.clock.now_us())))
}

/// The NIS2 content of an early warning (Art. 23(4)(a)).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code, reason = "deserialised to check the content; stored as sent")]
struct EarlyWarning {
    suspected_malicious: bool,
    cross_border_impact: bool,
    #[serde(default)]
    details: Option<String>,
}

/// Severity as NIS2 asks for it in the notification and the final report.
#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

/// The NIS2 content of an incident notification (Art. 23(4)(b)).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code, reason = "deserialised to check the content; stored as sent")]
struct Notification {
    severity: Severity,
    impact: String,
    #[serde(default)]
    indicators: Vec<String>,
    #[serde(default)]
    suspected_malicious: Option<bool>,
    #[serde(default)]
    cross_border_impact: Option<bool>,
}

/// A progress report (Art. 23(4)(e)): where handling stands; `handled_at` once it is.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code, reason = "deserialised to check the content; stored as sent")]
struct ProgressReport {
    status: String,
    #[serde(default)]
    handled_at: Option<String>,
}

/// The final report (Art. 23(4)(d)).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code, reason = "deserialised to check the content; stored as sent")]
struct FinalReport {
    description: String,
    severity: Severity,
    impact: String,
    root_cause: String,
    mitigations: String,
    #[serde(default)]
    cross_border_impact: Option<String>,
    #[serde(default)]
    handled_at: Option<String>,
}

/// The GDPR Art. 33(3) notification.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code, reason = "deserialised to check the content; stored as sent")]
struct GdprNotification {
    categories_of_data: Vec<String>,
    approx_data_subjects: u64,
    likely_consequences: String,
    measures: String,
    #[serde(default)]
    dpo_contact: Option<String>,
}

/// Checks a stage's content; the `handled_at` it names, if any.
fn check_content(
    stage: Stage,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<String>, ApiError> {
    Ok(match stage {
        Stage::EarlyWarning => {
            let w: EarlyWarning = parse_body(headers, body)?;
            if w.details.as_ref().is_some_and(|d| d.chars().count() > TEXT_MAX) {
                return Err(ApiError::unprocessable(format!(
                    "details: at most {TEXT_MAX} characters"
                )));
            }
            None
        }
        Stage::Notification => {
            let n: Notification = parse_body(headers, body)?;
            text("impact", &n.impact, TEXT_MAX)?;
            None
        }
        Stage::ProgressReport => {
            let p: ProgressReport = parse_body(headers, body)?;
            text("status", &p.status, TEXT_MAX)?;
            p.handled_at
        }
        Stage::FinalReport => {
            let f: FinalReport = parse_body(headers, body)?;
            for (name, value) in [
                ("description", &f.description),
                ("impact", &f.impact),
                ("root_cause", &f.root_cause),
                ("mitigations", &f.mitigations),
            ] {
                text(name, value, TEXT_MAX)?;
            }
            f.handled_at
        }
        Stage::GdprNotification => {
            let g: GdprNotification = parse_body(headers, body)?;
            if g.categories_of_data.is_empty() {
                return Err(ApiError::unprocessable("categories_of_data: name at least one"));
            }
            text("likely_consequences", &g.likely_consequences, TEXT_MAX)?;
            text("measures", &g.measures, TEXT_MAX)?;
            None
        }
    })
}

pub(super) async fn submit(
    State(exchange): State<Arc<Exchange>>,
    Member(caller): Member,
    Path((id, stage)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let now_us = exchange.clock.now_us();
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "no such incident");
    let stage = Stage::parse(&stage).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no such stage (early_warning, notification, progress_report, final_report, \
             gdpr_notification)",
        )
    })?;
    let incident = exchange.store.incident(&id, caller.org.id).await?.ok_or_else(not_found)?;
    let handled = check_content(stage, &headers, &body)?;
    let handled_at_us = match handled {
        Some(text) => {
            let us = instant("handled_at", &text, now_us)?;
            if us < incident.aware_at_us {
                return Err(ApiError::unprocessable("handled_at: before aware_at"));
            }
            Some(us)
        }
        None => None,
    };
    let required = match stage {
        Stage::GdprNotification => incident.personal_data,
        _ => incident.significant,
    };
    if !required {
        return Err(ApiError::unprocessable(match stage {
            Stage::GdprNotification => "no personal data is breached: no GDPR notification is owed",
            _ => "the incident is not significant: NIS2 reports are not owed",
        }));
    }
    let sha256 = hex::encode(Sha256::digest(&body));
    let content = std::str::from_utf8(&body).map_err(|_| ApiError::unprocessable("not UTF-8"))?;
    let submission = StageSubmission {
        incident: &id,
        org: caller.org.id,
        stage: stage.as_str(),
        submitted_us: now_us,
        content,
        body_sha256: &sha256,
        handled_at_us,
    };
    let audit = AuditEntry {
        at_us: now_us,
        actor_org: Some(caller.org.id),
        action: "incident-stage".into(),
        subject: format!("incident {id}"),
        detail: format!("{}, sha256 {sha256}", stage.as_str()),
    };
    match exchange.store.submit_stage(&submission, &audit).await? {
        SubmitOutcome::Stored(incident) => {
            let answer = with_receipt(&exchange, incident_json(&incident, now_us), &body, now_us);
            Ok(json_ok(StatusCode::CREATED, &answer))
        }
        SubmitOutcome::NotFound => Err(not_found()),
        SubmitOutcome::AlreadySubmitted(at) => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "{} was already submitted at {}",
                stage.as_str(),
                rfc3339(at).as_str().unwrap_or("?")
            ),
        )),
    }
}
