//! The case worker's pages: issuing codes within the hourly limits, their status and expiry, and
//! the daily statistics.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use herald_webkit::NoQuery;
use herald_wire::verification::{IssueRequest, TestType};
use serde::Deserialize;

use super::views::{self, IssueFields, Usage};
use super::{Ctx, Portal, html, internal, issuer, nav, plain_page, record};

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(response) => return response,
        }
    };
}
impl Portal {
    pub(super) fn test_types(&self) -> Vec<&'static str> {
        self.service.settings().allowed_test_types.iter().map(|t| t.as_str()).collect()
    }

    async fn usage(&self, user: &str) -> Result<Usage, Response> {
        let since = (self.service.now() - 3600).div_euclid(60) * 60;
        let store = self.service.store();
        let count = |actor| async move { store.audit_count("code.issue", actor, since).await };
        let user_count = count(Some(user)).await.map_err(|e| internal("audit_count", &e))?;
        let global = count(None).await.map_err(|e| internal("audit_count", &e))?;
        Ok(Usage {
            user: user_count,
            user_limit: self.settings.codes_per_user_hour,
            global,
            global_limit: self.settings.codes_per_hour,
        })
    }
}

pub(super) async fn home(p: Arc<Portal>, ctx: Ctx, _: NoQuery) -> Response {
    let usage = tri!(p.usage(&ctx.user.name).await);
    let form = views::issue_form(&ctx.csrf, &p.test_types(), &IssueFields::default(), &usage, None);
    html(StatusCode::OK, views::page("Issue a verification code", Some(&nav(&ctx)), &form))
}

pub(super) fn qr(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Some(format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    ))
}

pub(super) async fn issue(p: Arc<Portal>, ctx: Ctx, f: IssueFields) -> Response {
    let usage = tri!(p.usage(&ctx.user.name).await);
    let form = |status: StatusCode, usage: &Usage, error: &str| {
        let fields = IssueFields { csrf: String::new(), ..f.clone() };
        let form = views::issue_form(&ctx.csrf, &p.test_types(), &fields, usage, Some(error));
        html(status, views::page("Issue a verification code", Some(&nav(&ctx)), &form))
    };
    if usage.user >= usage.user_limit || usage.global >= usage.global_limit {
        p.service.metrics().increment(&crate::internal::TRIPS, "portal_issue_limit");
        tracing::warn!(user = %ctx.user.name, "portal issue refused: hourly limit reached");
        record(&p.service, &ctx.user.name, "code.issue.refused", "hourly limit").await;
        return form(
            StatusCode::TOO_MANY_REQUESTS,
            &usage,
            "The hourly limit for issuing codes is reached.",
        );
    }
    let answer = match p.service.issue(&issue_request(&f), &issuer(&ctx.user.name)).await {
        Ok(a) => a,
        Err(e) => return form(StatusCode::BAD_REQUEST, &usage, &e.message),
    };
    record(&p.service, &ctx.user.name, "code.issue", &answer.uuid).await;
    let link = format!(
        "{}?c={}&r={}",
        p.settings.link_base,
        answer.long_code,
        p.country.to_ascii_uppercase()
    );
    let sms = format!(
        "Your exposure notification verification link: {link} (or enter the code {} in the app).",
        answer.code
    );
    let qr = qr(&link);
    let minutes = (answer.expires_at_timestamp - p.service.now() + 30) / 60;
    let page = views::issued(&views::Issued {
        uuid: &answer.uuid,
        code: &answer.code,
        expires: &answer.expires_at,
        minutes,
        long_code: &answer.long_code,
        long_expires: &answer.long_expires_at,
        sms: &sms,
        qr: qr.as_deref(),
    });
    html(StatusCode::OK, views::page("Verification code", Some(&nav(&ctx)), &page))
}

/// The `/api/issue` request of the issue form's fields (an empty date is none).
fn issue_request(f: &IssueFields) -> IssueRequest {
    let non_empty = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    IssueRequest {
        test_type: f.test_type.clone(),
        test_date: non_empty(&f.test_date),
        symptom_date: non_empty(&f.symptom_date),
        ..IssueRequest::default()
    }
}

#[derive(Deserialize)]
pub(super) struct UuidQuery {
    #[serde(default)]
    uuid: String,
}

pub(super) async fn status(p: Arc<Portal>, ctx: Ctx, q: UuidQuery) -> Response {
    let uuid = q.uuid.trim().to_ascii_lowercase();
    let now = p.service.now();
    let (row, error) = if uuid.is_empty() {
        (None, None)
    } else if uuid.len() > 64 {
        (None, Some("That is not a UUID.".to_owned()))
    } else {
        match p.service.store().code_status(&uuid).await {
            Ok(Some(row)) => {
                record(&p.service, &ctx.user.name, "code.status", &uuid).await;
                (Some(row), None)
            }
            Ok(None) => (None, Some(format!("No code has the unique identifier {uuid}."))),
            Err(e) => return internal("code_status", &e),
        }
    };
    let page = views::status(&ctx.csrf, &uuid, row.as_ref(), now, error.as_deref());
    let status = if error.is_some() { StatusCode::NOT_FOUND } else { StatusCode::OK };
    html(status, views::page("Code status", Some(&nav(&ctx)), &page))
}

#[derive(Deserialize)]
pub(super) struct UuidForm {
    #[serde(default)]
    uuid: String,
}

pub(super) async fn expire(p: Arc<Portal>, ctx: Ctx, f: UuidForm) -> Response {
    let uuid = f.uuid.trim().to_ascii_lowercase();
    match p.service.expire(&uuid, &issuer(&ctx.user.name)).await {
        Ok(_) => {
            record(&p.service, &ctx.user.name, "code.expire", &uuid).await;
            Redirect::to(&format!("/portal/status?uuid={uuid}")).into_response()
        }
        Err(e) => plain_page(StatusCode::NOT_FOUND, "Code status", &e.message, Some(&nav(&ctx))),
    }
}

pub(super) async fn stats(p: Arc<Portal>, ctx: Ctx, _: NoQuery) -> Response {
    let today = p.service.now().div_euclid(86_400);
    let first = today - 13;
    let rows = match p.service.store().stats(first).await {
        Ok(r) => r,
        Err(e) => return internal("stats", &e),
    };
    let days: Vec<_> = (first..=today)
        .map(|day| {
            rows.iter().find(|r| r.day == day).copied().unwrap_or(crate::store::DayStats {
                day,
                issued: 0,
                claimed: 0,
            })
        })
        .collect();
    html(StatusCode::OK, views::page("Statistics", Some(&nav(&ctx)), &views::stats(&days)))
}

/// The case worker's forms and the status page's query on a fuzz input, read as a logged-in
/// user's are read, then checked as their handlers check them before any storage work (the
/// issue form as `/api/issue` checks it, under the default code settings).
pub(super) fn fuzz_forms(data: &[u8]) {
    use herald_webkit::fuzzing::{form_of_a_user as form, query};
    /// A fixed instant (2025-12-06): the dates are what varies.
    const NOW: i64 = 1_765_000_000;
    if let Ok(f) = form::<IssueFields>(data) {
        let codes = crate::config::CodeSettings::default();
        let allowed: Vec<TestType> =
            codes.allowed_test_types.iter().filter_map(|t| TestType::parse(t)).collect();
        let request = issue_request(&f);
        if let Ok(checked) = crate::service::issue::check(&codes, &allowed, NOW, &request) {
            assert!(allowed.contains(&checked.test_type), "a test type not allowed");
            assert!(checked.symptom_day.or(checked.test_day).is_some(), "no date, yet required");
        }
    }
    if let Ok(q) = query::<UuidQuery>(data) {
        let _ = q.uuid.trim().to_ascii_lowercase();
    }
    if let Ok(f) = form::<UuidForm>(data) {
        let _ = f.uuid.trim().to_ascii_lowercase();
    }
}
