//! The internal listener (`/health`, `/metrics`, `/openapi.json`) next to a running gateway, on
//! SQLite and on PostgreSQL, and the OpenAPI document against the routes the router serves.

use std::collections::BTreeSet;

use herald_gateway::api::public_routes;
use herald_gateway::internal::OPENAPI;
use hyper::Method;
use serde_json::Value;

use crate::http::{World, check_round_trip, plain_get};

/// The value of the sample `name` (with its labels, as rendered) in a metrics text.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

async fn get_json(world: &World, path: &str) -> (u16, Value) {
    let (status, body) = plain_get(&world.internal_url, path, &[]).await;
    (status, serde_json::from_str(&body).unwrap_or_else(|_| panic!("{path}: {body}")))
}

async fn metrics(world: &World) -> String {
    let (status, body) = plain_get(&world.internal_url, "/metrics", &[]).await;
    assert_eq!(status, 200);
    body
}

/// After the round trip of `check_round_trip` (DE uploads 20 keys, NL downloads them twice, DE
/// downloads its own empty batch, NL audits): health, metrics and the statistics rows.
async fn check_internal_listener(world: &World) {
    let (status, health) = get_json(world, "/health").await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["database"], "ok");
    // DE, NL and FR are on the trust list; IT is not.
    assert_eq!(health["trustedCountries"], 3);
    assert_eq!(health["backend"], world.store.backend());

    check_round_trip(world).await;

    let text = metrics(world).await;
    for (name, value) in [
        ("herald_gateway_uploads_total{status=\"201\"}", 1.0),
        ("herald_gateway_uploads_total{status=\"409\"}", 1.0),
        ("herald_gateway_upload_keys_accepted_total{country=\"DE\"}", 20.0),
        ("herald_gateway_download_keys_served_total{country=\"NL\"}", 40.0),
        ("herald_gateway_download_keys_served_total{country=\"DE\"}", 0.0),
        ("herald_gateway_audit_requests_total{status=\"200\"}", 1.0),
        ("herald_gateway_stored_keys", 20.0),
        ("herald_gateway_download_batches", 1.0),
        ("herald_gateway_database_up", 1.0),
        ("herald_gateway_statistics_uploads{country=\"DE\"}", 1.0),
        ("herald_gateway_statistics_upload_keys{country=\"DE\"}", 20.0),
        ("herald_gateway_statistics_downloads{country=\"NL\"}", 2.0),
        ("herald_gateway_statistics_download_keys{country=\"NL\"}", 40.0),
        ("herald_gateway_statistics_downloads{country=\"DE\"}", 1.0),
        ("herald_gateway_statistics_download_keys{country=\"DE\"}", 0.0),
        (
            "herald_gateway_http_request_duration_seconds_count{route=\"/diagnosiskeys/upload\",method=\"POST\"}",
            2.0,
        ),
        (
            "herald_gateway_http_request_duration_seconds_count{route=\"/diagnosiskeys\",method=\"OPTIONS\"}",
            1.0,
        ),
    ] {
        assert_eq!(sample(&text, name), Some(value), "{name} in\n{text}");
    }
    // At least three answered downloads (the waits for the batch may add 404s).
    assert_eq!(sample(&text, "herald_gateway_downloads_total{status=\"200\"}"), Some(3.0));
    // Never a tag, an address or a thumbprint in a label.
    assert!(!text.contains("DE-20261128-1") && !text.contains("20261128-1"), "{text}");
    assert!(!text.contains("127.0.0.1"), "{text}");
    assert!(!text.contains("/2026-11-28"), "{text}");

    // The store reads the same statistics (the contract tests check the rows themselves).
    let gauges = world.store.gauges().await.unwrap();
    assert_eq!(gauges.upload_stats.len(), 1);
    assert_eq!(gauges.download_stats.len(), 2);

    let (status, body) = plain_get(&world.internal_url, "/openapi.json", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(body, OPENAPI);
    let (status, _) = plain_get(&world.internal_url, "/nothing-here", &[]).await;
    assert_eq!(status, 404);

    // The database goes away: health says so with 503, metrics still answer without the
    // database gauges.
    world.gateway_store.close().await;
    let (status, health) = get_json(world, "/health").await;
    assert_eq!(status, 503, "{health}");
    assert_eq!(health["status"], "unavailable");
    assert!(health["reason"].as_str().is_some_and(|r| !r.is_empty()), "{health}");
    let text = metrics(world).await;
    assert_eq!(sample(&text, "herald_gateway_database_up"), Some(0.0), "{text}");
    assert_eq!(sample(&text, "herald_gateway_stored_keys"), None, "{text}");
    assert_eq!(sample(&text, "herald_gateway_uploads_total{status=\"201\"}"), Some(1.0));
}

#[tokio::test]
async fn internal_listener_on_sqlite() {
    let world = World::start(None).await;
    check_internal_listener(&world).await;
    world.stop().await;
}

#[tokio::test]
async fn internal_listener_on_postgres() {
    let Some(db) = crate::store::Backend::Postgres.fresh().await else { return };
    let world = World::start(Some(db.url.clone())).await;
    check_internal_listener(&world).await;
    world.stop().await;
    drop(db);
}

/// Resolves a `$ref` of the document (`#/components/...`).
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').unwrap();
            let target = doc.pointer(pointer).unwrap_or_else(|| panic!("dangling {reference}"));
            resolve(doc, target)
        }
        None => value,
    }
}

/// Every route the router serves is described, and nothing else; every operation documents its
/// errors with the `{"message"}` schema; upload and download carry their media types and
/// headers.
#[test]
fn the_openapi_document_describes_every_public_route() {
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    let described: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object().unwrap().keys().map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let served: BTreeSet<(String, String)> =
        public_routes().into_iter().map(|(m, p)| (m.to_string(), p.to_owned())).collect();
    assert_eq!(described, served);

    let message = serde_json::json!({ "$ref": "#/components/schemas/Message" });
    for (method, path) in &served {
        let operation = &doc["paths"][path][method.to_lowercase()];
        let responses = operation["responses"].as_object().unwrap();
        assert!(responses.keys().any(|s| s.starts_with('2')), "{method} {path}");
        for (status, response) in responses {
            let response = resolve(&doc, response);
            assert!(response["description"].is_string(), "{method} {path} {status}");
            if status.starts_with('2') || status == "207" {
                continue;
            }
            assert_eq!(
                response["content"]["application/json"]["schema"], message,
                "{method} {path} {status}"
            );
        }
        // Every path parameter of the template is declared.
        let declared: BTreeSet<String> = operation["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .map(|p| resolve(&doc, p))
                    .filter(|p| p["in"] == "path")
                    .map(|p| p["name"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        let in_template: BTreeSet<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .map(str::to_owned)
            .collect();
        assert_eq!(declared, in_template, "{method} {path}");
    }

    let header_names = |operation: &Value| -> BTreeSet<String> {
        operation["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| resolve(&doc, p))
            .filter(|p| p["in"] == "header")
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let media = ["application/protobuf; version=1.0", "application/json; version=1.0"];
    let upload = &doc["paths"]["/diagnosiskeys/upload"]["post"];
    assert!(header_names(upload).is_superset(&["batchTag".into(), "batchSignature".into()].into()));
    for m in media {
        assert!(upload["requestBody"]["content"][m].is_object(), "{m}");
    }
    assert!(upload["responses"]["201"]["headers"]["batchTag"].is_object());
    for status in ["207", "400", "403", "406", "409", "413", "415"] {
        assert!(upload["responses"][status].is_object(), "upload {status}");
    }
    let download = &doc["paths"]["/diagnosiskeys/download/{date}"]["get"];
    assert!(header_names(download).contains("batchTag"));
    let ok = &download["responses"]["200"];
    for header in ["batchTag", "nextBatchTag", "X-Protobuf-Schema", "X-Protobuf-Message"] {
        assert!(ok["headers"][header].is_object(), "{header}");
    }
    for m in media {
        assert!(ok["content"][m].is_object(), "{m}");
    }
    for status in ["400", "403", "404", "406", "410", "415"] {
        assert!(download["responses"][status].is_object(), "download {status}");
    }
    let options = &doc["paths"]["/diagnosiskeys"]["options"]["responses"]["200"]["headers"];
    assert!(options["Allow"].is_object() && options["Accept"].is_object());
}

/// Every route of the table is really served with its method: the answer comes from the
/// handler (a JSON body or the handler's status), never the router's bare 404 or 405.
#[tokio::test]
async fn every_public_route_is_served() {
    let world = World::start(None).await;
    let de = world.client("DE");
    for (method, path) in public_routes() {
        let concrete = path
            .replace("{date}", "2026-11-28")
            .replace("{batchTag}", "20261128-1")
            .replace("{id}", "cb");
        let answer = de.request(method.clone(), &concrete, &[], vec![]).await.unwrap();
        assert_ne!(answer.status, 405, "{method} {path}");
        if answer.status == 404 {
            let body: Value = serde_json::from_slice(&answer.body).unwrap();
            assert!(body["message"].is_string(), "{method} {path}: the router's 404");
        }
    }
    // A path that is not served: the router's 404, without a body.
    let answer = de.request(Method::GET, "/diagnosiskeys/nothing", &[], vec![]).await.unwrap();
    assert_eq!(answer.status, 404);
    assert!(answer.body.is_empty());
    world.stop().await;
}
