//! The mandatory track through the real binary: a hospital opens an incident over HTTPS, keeps
//! the answer and the body it sent, and proves the report later with `herald exchange receipt
//! verify` and with `openssl pkeyutl -verify` against the dev world's
//! `receipt-signing.pub.pem`; the operator sees the clocks with `herald exchange incidents`.

use crate::exchange_cli::{admin, start_exchange};
use crate::support::{herald, stderr, stdout};

#[test]
fn a_hospital_reports_an_incident_and_proves_it_with_the_receipt() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ex = start_exchange(d);
    let x = d.join("exchange");
    let ca = std::fs::read_to_string(d.join("ca.pem")).unwrap();
    let token = std::fs::read_to_string(x.join("orgs/hospital-a/token")).unwrap();
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("hospital-a:{}", token.trim()))
    );
    // Aware 30 hours ago: the early warning is overdue.
    let aware = jiff::Timestamp::now().checked_sub(jiff::SignedDuration::from_hours(30)).unwrap();
    let body = serde_json::json!({
        "aware_at": aware.to_string(),
        "significant": true,
        "personal_data": false,
        "title": "Ransomware on the imaging network",
        "summary": "PACS encrypted; radiology diverted."
    })
    .to_string();
    let client = herald_runtime::HttpsClient::new(&ex.url, &ca, None).unwrap();
    let headers = [("content-type", "application/json"), ("authorization", auth.as_str())];
    let answer = crate::gateway_cli::runtime()
        .block_on(client.request(
            hyper::Method::POST,
            "/api/v1/incidents",
            &headers,
            body.clone().into_bytes(),
        ))
        .unwrap();
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.body));
    let value: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    let id = value["id"].as_str().unwrap();
    std::fs::write(d.join("answer.json"), &answer.body).unwrap();
    std::fs::write(d.join("body.json"), &body).unwrap();
    std::fs::write(d.join("other.json"), body.replace("PACS", "RIS")).unwrap();

    // herald exchange receipt verify: valid, and refused for another body.
    let dev = d.to_str().unwrap();
    let answer_file = d.join("answer.json");
    let verify = |body_file: &str| {
        herald(&[
            "exchange",
            "receipt",
            "verify",
            "--dev",
            dev,
            "--receipt",
            answer_file.to_str().unwrap(),
            "--body",
            d.join(body_file).to_str().unwrap(),
        ])
    };
    let ok = verify("body.json");
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(stdout(&ok).contains("receipt valid: track mandatory"), "{}", stdout(&ok));
    let refused = verify("other.json");
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("sha256"), "{}", stderr(&refused));

    // openssl, with the published public key, over the spec's message.
    let receipt = &value["receipt"];
    let mut msg = b"herald-receipt-v1\0".to_vec();
    msg.extend_from_slice(&hex::decode(receipt["sha256"].as_str().unwrap()).unwrap());
    msg.extend_from_slice(receipt["received_at"].as_str().unwrap().as_bytes());
    msg.extend_from_slice(b"\0mandatory");
    std::fs::write(d.join("msg"), &msg).unwrap();
    let signature = base64::engine::general_purpose::STANDARD
        .decode(receipt["signature"].as_str().unwrap())
        .unwrap();
    std::fs::write(d.join("sig"), signature).unwrap();
    let key = x.join("receipt-signing.pub.pem");
    herald_testkit::run_openssl(
        d,
        &[
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            key.to_str().unwrap(),
            "-rawin",
            "-in",
            "msg",
            "-sigfile",
            "sig",
        ],
    );

    // The operator's view: the overdue early warning of hospital-a's incident.
    let due = admin(d, &["incidents", "--due"]);
    assert!(due.status.success(), "{}", stderr(&due));
    let text = stdout(&due);
    assert!(text.contains(id) && text.contains("hospital-a"), "{text}");
    assert!(text.lines().any(|l| l.contains("early_warning") && l.contains("OVERDUE")), "{text}");
    assert!(text.lines().any(|l| l.contains("notification") && l.contains(" due")), "{text}");
    assert!(!text.contains("gdpr_notification"), "{text}");
    let json = stdout(&admin(d, &["incidents", "--json"]));
    let line: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(line["organisation"], "hospital-a");
    assert_eq!(line["id"], id);
    // The audit chain took the opening and still verifies.
    assert!(admin(d, &["audit", "verify"]).status.success());
    drop(ex);
}
