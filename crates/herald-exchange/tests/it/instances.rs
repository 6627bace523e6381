//! Several instances on one database (spec §8: several processes may share one PostgreSQL):
//! one consistent view, and cursors, being stateless, work on any instance.

use axum::http::StatusCode;
use herald_db::testing::Backend;
use herald_stix::json::Limits;
use serde_json::{Value, json};

use crate::support::{SECTOR, call_on, note, second_instance, setup_on};

herald_db::on_both!(two_instances_serve_one_view_and_take_each_others_cursors);

const GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";

fn envelope(range: std::ops::Range<u32>) -> String {
    let objects: Vec<Value> = range.map(|n| note(n, Some(GREEN), json!({}))).collect();
    json!({ "objects": objects }).to_string()
}

async fn two_instances_serve_one_view_and_take_each_others_cursors(backend: Backend) {
    let Some(setup) = setup_on(backend, Limits::default(), 1 << 20).await else { return };
    let a = setup.router.clone();
    let b = second_instance(&setup).await;
    let objects = format!("{SECTOR}objects/");
    // 120 notes through A, in three posts.
    for start in [0, 40, 80] {
        let body = envelope(start..start + 40);
        let answer = call_on(&a, "POST", &objects, Some("hospital-a"), Some(&body)).await;
        assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.text());
        assert_eq!(answer.json()["success_count"], 40);
    }
    // hospital-b reads in pages of 50, alternating instances; B takes 30 more notes between
    // the pages. Every note comes exactly once, in the order it was added.
    let mut seen: Vec<String> = Vec::new();
    let mut next: Option<String> = None;
    let mut page = 0;
    let mut status_id = String::new();
    loop {
        let instance = if page % 2 == 0 { &a } else { &b };
        let q = next.as_ref().map_or(String::new(), |n| format!("&next={n}"));
        let answer =
            call_on(instance, "GET", &format!("{objects}?limit=50{q}"), Some("hospital-b"), None)
                .await;
        assert_eq!(answer.status, StatusCode::OK, "page {page}: {}", answer.text());
        let v = answer.json();
        seen.extend(
            v["objects"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_owned()),
        );
        if page == 0 {
            let body = envelope(120..150);
            let posted = call_on(&b, "POST", &objects, Some("hospital-c"), Some(&body)).await;
            assert_eq!(posted.json()["success_count"], 30, "{}", posted.text());
            posted.json()["id"].as_str().unwrap().clone_into(&mut status_id);
            // Another organisation's use of this cursor is refused on the other instance too.
            let cursor = v["next"].as_str().unwrap();
            let stolen = call_on(
                &b,
                "GET",
                &format!("{objects}?limit=50&next={cursor}"),
                Some("hospital-c"),
                None,
            )
            .await;
            assert_eq!(stolen.status, StatusCode::BAD_REQUEST, "{}", stolen.text());
        }
        page += 1;
        if v["more"] == true {
            next = Some(v["next"].as_str().unwrap().to_owned());
        } else {
            break;
        }
    }
    let expected: Vec<String> =
        (0..150).map(|n| note(n, None, json!({}))["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(seen, expected, "one view across instances: every note once, in order");
    // The status of a POST to B is readable through A by its poster.
    let path = format!("/taxii2/health/status/{status_id}/");
    let status = call_on(&a, "GET", &path, Some("hospital-c"), None).await;
    assert_eq!(
        (status.status, status.json()["success_count"].clone()),
        (StatusCode::OK, json!(30))
    );
    // Both instances give the same manifest page.
    let mut manifests = Vec::new();
    for instance in [&a, &b] {
        let path = format!("{SECTOR}manifest/?limit=100");
        manifests.push(call_on(instance, "GET", &path, Some("cert"), None).await.json());
    }
    assert_eq!(manifests[0]["objects"].as_array().unwrap().len(), 100);
    assert_eq!(manifests[0], manifests[1]);
}
