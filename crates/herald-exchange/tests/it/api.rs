//! The TAXII API through its router: paging with cursors, TLP on every read path, refusals.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use herald_stix::tlp;
use serde_json::{Value, json};

use crate::support::{
    NOW, SECTOR, TAXII, basic, basic_with, call, flip, identity, note, send, setup,
};

#[tokio::test]
async fn objects_round_trip_byte_for_byte_through_pages() {
    let s = setup().await;
    let apt1 = std::fs::read_to_string(
        herald_testkit::testdata_dir().join("exchange/stix/examples/threat-reports/apt1.json"),
    )
    .unwrap();
    let a = call(&s, "POST", &format!("{SECTOR}objects/"), Some("hospital-a"), Some(&apt1)).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&a.body));
    let status = a.json();
    assert_eq!(status["status"], "complete");
    let sent: Value = serde_json::from_str(&apt1).unwrap();
    let total = sent["objects"].as_array().unwrap().len();
    assert_eq!(status["total_count"], total);
    assert_eq!(status["success_count"], total, "{status}");
    // The status stays readable, with and without the trailing slash, by its poster only.
    let sid = status["id"].as_str().unwrap();
    for path in [format!("/taxii2/health/status/{sid}/"), format!("/taxii2/health/status/{sid}")] {
        assert_eq!(call(&s, "GET", &path, Some("hospital-a"), None).await.json(), status);
        assert_eq!(
            call(&s, "GET", &path, Some("hospital-b"), None).await.status,
            StatusCode::NOT_FOUND
        );
    }
    // Read back in pages of 7 (unmarked = AMBER: hospital-b shares the community).
    let mut served = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let q = next.as_ref().map_or(String::new(), |n| format!("&next={n}"));
        let page =
            call(&s, "GET", &format!("{SECTOR}objects/?limit=7{q}"), Some("hospital-b"), None)
                .await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.headers.contains_key("x-taxii-date-added-first"));
        let v = page.json();
        served.extend(v["objects"].as_array().unwrap().iter().cloned());
        if v["more"] == true {
            next = Some(v["next"].as_str().unwrap().to_owned());
        } else {
            assert!(v.get("next").is_none());
            break;
        }
    }
    assert_eq!(&served, sent["objects"].as_array().unwrap());
    // Byte for byte: each object's text appears unchanged in an answer.
    let first = &sent["objects"][0];
    let one = call(
        &s,
        "GET",
        &format!("{SECTOR}objects/{}/", first["id"].as_str().unwrap()),
        Some("hospital-a"),
        None,
    )
    .await;
    assert_eq!(one.json()["objects"][0], *first);
    // The manifest lists the same ids; a cursor of another organisation or other filters is refused.
    let m = call(&s, "GET", &format!("{SECTOR}manifest/?limit=5"), Some("hospital-a"), None)
        .await
        .json();
    assert_eq!(m["objects"].as_array().unwrap().len(), 5);
    let cursor = m["next"].as_str().unwrap();
    let other =
        call(&s, "GET", &format!("{SECTOR}manifest/?next={cursor}"), Some("hospital-b"), None)
            .await;
    assert_eq!(other.status, StatusCode::BAD_REQUEST);
    assert!(other.json()["description"].as_str().unwrap().contains("another organisation"));
    let filters = call(
        &s,
        "GET",
        &format!("{SECTOR}manifest/?match[type]=indicator&next={cursor}"),
        Some("hospital-a"),
        None,
    )
    .await;
    assert_eq!(filters.status, StatusCode::BAD_REQUEST);
    let forged = call(
        &s,
        "GET",
        &format!("{SECTOR}manifest/?next={}", flip(cursor)),
        Some("hospital-a"),
        None,
    )
    .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    // Re-posting is a success that stores nothing new.
    let again = call(&s, "POST", &format!("{SECTOR}objects/"), Some("hospital-a"), Some(&apt1))
        .await
        .json();
    assert_eq!(again["success_count"], total);
    assert_eq!(again["successes"][0]["message"], "already present");
}

#[tokio::test]
async fn tlp_decides_every_read_path_and_hidden_is_missing() {
    let s = setup().await;
    let peer = identity(2);
    let red_ext = json!({"extensions": {tlp::RECIPIENTS_EXTENSION: {"extension_type": "property-extension", "recipients": [peer]}}});
    let notes = [
        note(1, Some(tlp::TLP2_CLEAR), json!({})),
        note(2, Some(tlp::TLP2_GREEN), json!({})),
        note(3, None, json!({})),
        note(4, Some(tlp::TLP2_AMBER_STRICT), json!({})),
        note(5, Some(tlp::TLP2_RED), red_ext),
    ];
    let body = json!({"objects": notes}).to_string();
    let a = call(&s, "POST", &format!("{SECTOR}objects/"), Some("hospital-a"), Some(&body))
        .await
        .json();
    assert_eq!(a["success_count"], 5, "{a}");
    let seen = |org: &'static str| {
        let s = &s;
        async move {
            let v = call(s, "GET", &format!("{SECTOR}objects/"), Some(org), None).await.json();
            v["objects"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["content"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(seen("hospital-a").await, ["note 1", "note 2", "note 3", "note 4", "note 5"]);
    assert_eq!(seen("cert").await.len(), 5);
    assert_eq!(seen("hospital-b").await, ["note 1", "note 2", "note 3", "note 5"]);
    assert_eq!(seen("vendor-x").await, ["note 1"]);
    // A hidden object answers exactly as a missing one, on object and versions.
    for suffix in ["", "versions/"] {
        let hidden = call(
            &s,
            "GET",
            &format!("{SECTOR}objects/note--00000000-0000-4000-8000-000000000004/{suffix}"),
            Some("hospital-b"),
            None,
        )
        .await;
        let missing = call(
            &s,
            "GET",
            &format!("{SECTOR}objects/note--00000000-0000-4000-8000-000000000099/{suffix}"),
            Some("hospital-b"),
            None,
        )
        .await;
        assert_eq!((hidden.status, &hidden.body), (StatusCode::NOT_FOUND, &missing.body));
    }
    // The manifest follows the same rule.
    let m = call(&s, "GET", &format!("{SECTOR}manifest/"), Some("vendor-x"), None).await.json();
    assert_eq!(m["objects"].as_array().unwrap().len(), 1);
    // Reading RED or AMBER+STRICT as someone else than the author is audited.
    let audit = s.store.audit_entries(0, 100).await.unwrap();
    assert!(audit.iter().any(|r| r.entry.action == "read-restricted"));
    // An object less restricted than what it references is refused, with the reason.
    let leak = note(
        6,
        Some(tlp::TLP2_CLEAR),
        json!({"object_refs": ["note--00000000-0000-4000-8000-000000000004"]}),
    );
    let body = json!({"objects": [leak]}).to_string();
    let v = call(&s, "POST", &format!("{SECTOR}objects/"), Some("hospital-a"), Some(&body))
        .await
        .json();
    assert!(v["failures"][0]["message"].as_str().unwrap().contains("may not reference"), "{v}");
}

#[tokio::test]
async fn refusals_have_their_status_and_store_nothing() {
    let s = setup().await;
    let before = s.store.counts().await.unwrap();
    let objects = format!("{SECTOR}objects/");
    let valid = json!({"objects": [note(1, None, json!({}))]}).to_string();
    let cases: Vec<(&str, Request<Body>, StatusCode)> = vec![
        (
            "no credentials",
            Request::get(&objects).body(Body::empty()).unwrap(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "bad token",
            Request::get(&objects)
                .header("authorization", "Bearer nope")
                .body(Body::empty())
                .unwrap(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "token of another org",
            Request::get(&objects)
                .header(
                    "authorization",
                    format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD
                            .encode("hospital-b:tok-hospital-a")
                    ),
                )
                .body(Body::empty())
                .unwrap(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "accept json",
            Request::get(&objects)
                .header("authorization", basic("hospital-a"))
                .header("accept", "application/json")
                .body(Body::empty())
                .unwrap(),
            StatusCode::NOT_ACCEPTABLE,
        ),
        (
            "accept 2.0",
            Request::get(&objects)
                .header("authorization", basic("hospital-a"))
                .header("accept", "application/taxii+json;version=2.0")
                .body(Body::empty())
                .unwrap(),
            StatusCode::NOT_ACCEPTABLE,
        ),
        (
            "no content type",
            Request::post(&objects)
                .header("authorization", basic("hospital-a"))
                .body(Body::from(valid.clone()))
                .unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "json content type",
            Request::post(&objects)
                .header("authorization", basic("hospital-a"))
                .header("content-type", "application/json")
                .body(Body::from(valid.clone()))
                .unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "oversize",
            Request::post(&objects)
                .header("authorization", basic("hospital-a"))
                .header("content-type", TAXII)
                .header("content-length", "2000000")
                .body(Body::from(valid.clone()))
                .unwrap(),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "not json",
            Request::post(&objects)
                .header("authorization", basic("hospital-a"))
                .header("content-type", TAXII)
                .body(Body::from("{\"objects\": ["))
                .unwrap(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "array",
            Request::post(&objects)
                .header("authorization", basic("hospital-a"))
                .header("content-type", TAXII)
                .body(Body::from("[]"))
                .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "write without right",
            Request::post(&objects)
                .header("authorization", basic("vendor-x"))
                .header("content-type", TAXII)
                .body(Body::from(valid.clone()))
                .unwrap(),
            StatusCode::FORBIDDEN,
        ),
        (
            "unknown collection",
            Request::get("/taxii2/health/collections/nope/objects/")
                .header("authorization", basic("hospital-a"))
                .body(Body::empty())
                .unwrap(),
            StatusCode::NOT_FOUND,
        ),
        (
            "bad added_after",
            Request::get(format!("{objects}?added_after=yesterday"))
                .header("authorization", basic("hospital-a"))
                .body(Body::empty())
                .unwrap(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "bad limit",
            Request::get(format!("{objects}?limit=-1"))
                .header("authorization", basic("hospital-a"))
                .body(Body::empty())
                .unwrap(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "forged cursor",
            Request::get(format!("{objects}?next=AAAA"))
                .header("authorization", basic("hospital-a"))
                .body(Body::empty())
                .unwrap(),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (name, req, want) in cases {
        let a = send(&s, req).await;
        assert_eq!(a.status, want, "{name}: {}", String::from_utf8_lossy(&a.body));
        let v = a.json();
        assert_eq!(v["http_status"], want.as_u16().to_string(), "{name}");
        assert!(!v["description"].as_str().unwrap().is_empty(), "{name}");
        if want == StatusCode::UNAUTHORIZED {
            assert!(a.headers["www-authenticate"].to_str().unwrap().starts_with("Basic"));
        }
    }
    assert_eq!(s.store.counts().await.unwrap(), before);
    // Invalid objects mixed with valid ones: the valid ones stored, the others named.
    let mixed = json!({"objects": [note(1, None, json!({})), {"type": "note", "id": "nonsense"}, note(2, None, json!({"x_custom": 1}))]}).to_string();
    let v = call(&s, "POST", &objects, Some("hospital-a"), Some(&mixed)).await.json();
    assert_eq!(
        (v["success_count"].as_u64(), v["failure_count"].as_u64()),
        (Some(1), Some(2)),
        "{v}"
    );
    assert_eq!(v["failures"][0]["id"], "nonsense");
    assert_eq!(v["total_count"], 3);
}

/// A client certificate (as the serve loop attaches it after the handshake verified its chain)
/// authenticates the organisation it is registered to; a token, when sent, decides instead.
#[tokio::test]
async fn a_registered_client_certificate_authenticates_its_organisation() {
    use herald_exchange::store::NewClientCert;
    use herald_runtime::server::PeerInfo;

    let s = setup().await;
    let der = b"not parsed here: the handshake checked it".to_vec();
    let with_cert = |der: &[u8], auth: Option<String>| {
        let mut req = Request::builder()
            .method("GET")
            .uri("/taxii2/health/collections/")
            .header("accept", TAXII);
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        let mut req = req.body(Body::empty()).unwrap();
        req.extensions_mut().insert(PeerInfo { remote: None, certificate: Some(der.to_vec()) });
        req
    };
    // Not registered yet: 401, and nothing about the certificate is stored.
    let answer = send(&s, with_cert(&der, None)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.text());
    assert!(answer.text().contains("not registered"), "{}", answer.text());
    let vendor = s.store.org_by_name("vendor-x").await.unwrap().unwrap();
    let cert = NewClientCert {
        org: vendor.id,
        thumbprint: herald_trust::thumbprint(&der).0,
        subject: "CN=vendor-x".into(),
        created_us: NOW,
    };
    assert!(s.store.add_client_cert(&cert).await.unwrap());
    let answer = send(&s, with_cert(&der, None)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let aliases: Vec<_> = answer.json()["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["alias"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(aliases, ["sector"], "vendor-x reads the sector collection only");
    // Authorization wins over the certificate: a bad token is refused even with a good cert,
    // and hospital-a's token is hospital-a.
    let answer = send(&s, with_cert(&der, Some(basic_with("vendor-x", "wrong")))).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let answer = send(&s, with_cert(&der, Some(basic("hospital-a")))).await;
    let aliases = answer.json()["collections"].as_array().unwrap().len();
    assert_eq!((answer.status, aliases), (StatusCode::OK, 2));
    // Disabled: the certificate is refused too.
    assert!(s.store.set_org_disabled("vendor-x", true).await.unwrap());
    assert_eq!(send(&s, with_cert(&der, None)).await.status, StatusCode::UNAUTHORIZED);
}
