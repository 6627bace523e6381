//! The mandatory track through the router, on both backends: open, list, one, submit stages;
//! clocks at the exchange's fixed clock; receipts that verify over the exact body; another
//! organisation's incident is 404; each bad input is refused with its status and stores nothing.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use herald_db::testing::Backend;
use herald_exchange::receipt::{self, Receipt};
use herald_stix::json::Limits;
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::support::{NOW, basic, receipt_signer, setup_on};

herald_db::on_both!(the_mandatory_track_keeps_the_clocks_and_answers_with_receipts);

const INCIDENTS: &str = "/api/v1/incidents";

struct Json {
    status: StatusCode,
    value: Value,
}

async fn request(
    router: &axum::Router,
    method: &str,
    path: &str,
    org: Option<&str>,
    content_type: &str,
    body: &str,
) -> Json {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(org) = org {
        req = req.header("authorization", basic(org));
    }
    if !body.is_empty() {
        req = req.header("content-type", content_type);
    }
    let res = router.clone().oneshot(req.body(Body::from(body.to_owned())).unwrap()).await.unwrap();
    let status = res.status();
    assert_eq!(res.headers()["content-type"], "application/json", "{status}");
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    Json { status, value: serde_json::from_slice(&bytes).unwrap() }
}

async fn post(router: &axum::Router, path: &str, org: &str, body: &str) -> Json {
    request(router, "POST", path, Some(org), "application/json", body).await
}

/// RFC 3339 of the fixed clock plus `seconds`.
fn at(seconds: i64) -> String {
    jiff::Timestamp::from_microsecond(NOW + seconds * 1_000_000).unwrap().to_string()
}

fn stage<'a>(incident: &'a Value, name: &str) -> &'a Value {
    incident["stages"].as_array().unwrap().iter().find(|s| s["stage"] == name).unwrap()
}

fn verified(answer: &Value, body: &str) {
    let receipt: Receipt = serde_json::from_value(answer["receipt"].clone()).unwrap();
    assert_eq!(receipt.track, "mandatory");
    assert_eq!(receipt.received_at, at(0));
    let key: [u8; 32] = receipt_signer().public_key().try_into().unwrap();
    assert_eq!(receipt::verify(&key, &receipt, Some(body.as_bytes())), Ok(()));
}

async fn the_mandatory_track_keeps_the_clocks_and_answers_with_receipts(backend: Backend) {
    let Some(s) = setup_on(backend, Limits::default(), 1 << 20).await else { return };
    let r = &s.router;
    // Aware 30 hours ago: the early warning is overdue, the notifications are due.
    let open = json!({
        "aware_at": at(-30 * 3600),
        "significant": true,
        "personal_data": true,
        "title": "Ransomware on the imaging network",
        "summary": "PACS servers encrypted; radiology diverted to the regional hospital."
    })
    .to_string();
    let a = post(r, INCIDENTS, "hospital-a", &open).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.value);
    verified(&a.value, &open);
    let id = a.value["id"].as_str().unwrap().to_owned();
    assert_eq!(stage(&a.value, "early_warning")["status"], "overdue");
    assert_eq!(stage(&a.value, "early_warning")["due_at"], at(-6 * 3600));
    assert_eq!(stage(&a.value, "notification")["status"], "due");
    assert_eq!(stage(&a.value, "notification")["due_at"], at(42 * 3600));
    assert_eq!(stage(&a.value, "gdpr_notification")["status"], "due");
    assert_eq!(stage(&a.value, "progress_report")["status"], "not_required");
    assert_eq!(stage(&a.value, "final_report")["status"], "due");

    // A minor incident owes nothing; its GDPR notification is refused.
    let minor = json!({"aware_at": at(-60), "significant": false, "personal_data": false,
        "title": "Phishing mail reported", "summary": "Blocked at the gateway."})
    .to_string();
    let minor_answer = post(r, INCIDENTS, "hospital-a", &minor).await;
    assert_eq!(minor_answer.status, StatusCode::CREATED);
    assert!(
        minor_answer.value["stages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "not_required")
    );
    let minor_id = minor_answer.value["id"].as_str().unwrap().to_owned();
    let gdpr = json!({"categories_of_data": ["health"], "approx_data_subjects": 10,
        "likely_consequences": "none", "measures": "none"})
    .to_string();
    let path = format!("{INCIDENTS}/{minor_id}/stages/gdpr_notification");
    assert_eq!(post(r, &path, "hospital-a", &gdpr).await.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Submitting a stage: a receipt, the stage submitted, once only.
    let warning = json!({"suspected_malicious": true, "cross_border_impact": false}).to_string();
    let path = format!("{INCIDENTS}/{id}/stages/early_warning");
    let warned = post(r, &path, "hospital-a", &warning).await;
    assert_eq!(warned.status, StatusCode::CREATED, "{}", warned.value);
    verified(&warned.value, &warning);
    assert_eq!(stage(&warned.value, "early_warning")["status"], "submitted");
    assert_eq!(stage(&warned.value, "early_warning")["submitted_at"], at(0));
    let again = post(r, &path, "hospital-a", &warning).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.value["error"].as_str().unwrap().contains("already submitted"));

    // Another organisation sees none of it: 404 as for a missing incident.
    let other = request(r, "GET", &format!("{INCIDENTS}/{id}"), Some("hospital-b"), "", "").await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert_eq!(post(r, &path, "hospital-b", &warning).await.status, StatusCode::NOT_FOUND);
    let listed = request(r, "GET", INCIDENTS, Some("hospital-b"), "", "").await;
    assert_eq!(listed.value, json!({"incidents": []}));
    let mine = request(r, "GET", INCIDENTS, Some("hospital-a"), "", "").await;
    assert_eq!(mine.value["incidents"].as_array().unwrap().len(), 2);
    let one = request(r, "GET", &format!("{INCIDENTS}/{id}"), Some("hospital-a"), "", "").await;
    assert_eq!(stage(&one.value, "early_warning")["status"], "submitted");

    // Bad input: each refused with its status, nothing stored.
    let notification = format!("{INCIDENTS}/{id}/stages/notification");
    let cases: [(&str, &str, &str, StatusCode); 9] = [
        (INCIDENTS, "application/json", "{not json", StatusCode::BAD_REQUEST),
        (INCIDENTS, "text/plain", &open, StatusCode::UNSUPPORTED_MEDIA_TYPE),
        (INCIDENTS, "application/json", r#"{"title":"x"}"#, StatusCode::UNPROCESSABLE_ENTITY),
        (
            &notification,
            "application/json",
            r#"{"severity":"apocalyptic","impact":"x"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            &notification,
            "application/json",
            r#"{"severity":"high","impact":"x","extra":1}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            &notification,
            "application/json",
            r#"{"severity":"high","impact":"  "}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            &format!("{INCIDENTS}/{id}/stages/final"),
            "application/json",
            "{}",
            StatusCode::NOT_FOUND,
        ),
        (
            &format!("{INCIDENTS}/no-such-id/stages/notification"),
            "application/json",
            "{}",
            StatusCode::NOT_FOUND,
        ),
        (
            &format!("{INCIDENTS}/{id}/stages/progress_report"),
            "application/json",
            &json!({"status": "restoring", "handled_at": at(3600)}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (path, content_type, body, expected) in cases {
        let answer = request(r, "POST", path, Some("hospital-a"), content_type, body).await;
        assert_eq!(answer.status, expected, "{path} {body}: {}", answer.value);
        assert!(answer.value["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    let future = json!({"aware_at": at(3600), "significant": true, "personal_data": false,
        "title": "x", "summary": "y"})
    .to_string();
    let refused = post(r, INCIDENTS, "hospital-a", &future).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.value["error"].as_str().unwrap().contains("aware_at"));
    let unauthenticated = request(r, "GET", INCIDENTS, None, "", "").await;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);
    let after = request(r, "GET", INCIDENTS, Some("hospital-a"), "", "").await;
    assert_eq!(after.value, mine.value, "refusals stored nothing");

    // handled_at moves the final report once the incident was still handled at the mark.
    let progress = json!({"status": "restoring from backups", "handled_at": at(-3600)}).to_string();
    let path = format!("{INCIDENTS}/{id}/stages/progress_report");
    let reported = post(r, &path, "hospital-a", &progress).await;
    assert_eq!(reported.status, StatusCode::CREATED, "{}", reported.value);
    assert_eq!(reported.value["handled_at"], at(-3600));
    // The audit chain holds the openings and submissions and still verifies.
    let check = s.store.verify_audit().await.unwrap();
    assert!(matches!(check, herald_exchange::store::AuditCheck::Intact { .. }), "{check:?}");
}
