//! `herald exchange …` through the real binary: the dev exchange on a dev folder, used by the
//! real clients (taxii2-client 2.3.0 and stix2 3.0.2, unchanged, from the exchange's venv).

use crate::support::{DevService, herald, stderr, stdout};
use std::path::Path;

/// `herald exchange serve --dev DIR`, its log in `DIR/exchange.log`.
pub(crate) fn start_exchange(dir: &Path) -> DevService {
    let url_file = dir.join("exchange").join("url");
    DevService::start(&["exchange", "serve", "--dev"], dir, &url_file, &dir.join("exchange.log"))
}

#[test]
fn the_real_clients_use_the_dev_exchange_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let ex = start_exchange(dir.path());
    assert!(ex.url.starts_with("https://localhost:"), "{}", ex.url);
    let x = dir.path().join("exchange");
    for org in ["cert", "hospital-a", "hospital-b", "hospital-c", "vendor-x"] {
        let identity = std::fs::read_to_string(x.join("orgs").join(org).join("identity")).unwrap();
        assert!(identity.starts_with("identity--"), "{org}: {identity}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let token = x.join("orgs").join(org).join("token");
            let mode = std::fs::metadata(token).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{org}'s token is owner-only");
        }
    }
    let script =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../herald-exchange/tests/python/real_clients.py");
    let Some(mut python) = herald_testkit::exchange_python(&["stix2", "taxii2client"]) else {
        return;
    };
    // requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's `verify` (psf/requests
    // #3829): on machines that set them, taxii2-client would not trust the dev CA it is given.
    let out = python
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("CURL_CA_BUNDLE")
        .arg(script)
        .arg(&ex.url)
        .arg(dir.path().join("ca.pem"))
        .arg(x.join("orgs"))
        .arg(herald_testkit::testdata_dir())
        .output()
        .unwrap();
    let log = std::fs::read_to_string(dir.path().join("exchange.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "the real clients failed:\n{}\n{}\nserver log:\n{log}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    println!("real clients: {line}");
    let results: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(results["added"], 231);
    assert_eq!(results["parsed"], 231);
    assert_eq!(
        results["collections_of_hospital_a"],
        serde_json::json!(["sector", "advisories", "cert-inbox"])
    );
    assert_eq!(results["sink_and_source"], true);
    assert_eq!(
        results["mtls_collections"],
        serde_json::json!(["sector", "advisories", "cert-inbox"])
    );
    assert_eq!(results["no_credentials"], 401);
    assert_eq!(results["oversize"], "413");
}

#[test]
fn exchange_help_and_config_example() {
    let out = herald(&["exchange", "serve", "--help"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("--dev <DIR>"));
    let out = herald(&["exchange", "config-example"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let example = stdout(&out);
    assert!(herald_exchange::config::ExchangeConfig::from_toml(&example, []).is_ok());
    let out = herald(&["exchange", "serve"]);
    assert!(!out.status.success());
}

/// Runs `herald exchange <args> --dev DIR`.
pub(crate) fn admin(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["exchange"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--dev", dir.to_str().unwrap()]);
    herald(&all)
}

/// One HTTPS GET of the collections list, with Basic credentials or none, and the client
/// certificate of `client` or none; the status.
fn collections_status(
    url: &str,
    ca: &str,
    basic: Option<(&str, &str)>,
    client: Option<(&str, &str)>,
) -> u16 {
    use base64::Engine as _;
    let client = herald_runtime::HttpsClient::new(url, ca, client).unwrap();
    let auth = basic.map(|(user, token)| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{token}"))
        )
    });
    let mut headers = vec![("accept", "application/taxii+json;version=2.1")];
    if let Some(auth) = &auth {
        headers.push(("authorization", auth.as_str()));
    }
    let path = "/taxii2/health/collections/";
    let answer = crate::gateway_cli::runtime()
        .block_on(client.request(hyper::Method::GET, path, &headers, Vec::new()))
        .unwrap();
    answer.status.as_u16()
}

#[test]
fn the_operator_tools_manage_orgs_collections_tokens_certificates_and_the_audit_chain() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut ex = start_exchange(d);
    let ca = std::fs::read_to_string(d.join("ca.pem")).unwrap();

    // An organisation, a collection, a grant and a token: the token reads the new collection.
    let out = admin(d, &["org", "add", "hospital-d", "--kind", "member", "--community", "health"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("hospital-d\tmember\tidentity--"), "{}", stdout(&out));
    let again = admin(d, &["org", "add", "hospital-d", "--kind", "member"]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("exists already"), "{}", stderr(&again));
    let bad = admin(d, &["org", "add", "bad name", "--kind", "member"]);
    assert!(stderr(&bad).contains("a name is 1 to 64"), "{}", stderr(&bad));
    let bad = admin(d, &["org", "add", "x", "--kind", "member", "--identity", "identity--nope"]);
    assert!(stderr(&bad).contains("not an identity id"), "{}", stderr(&bad));
    let out = admin(d, &["collection", "add", "supply-chain", "--title", "Supply chain"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let again = admin(d, &["collection", "add", "supply-chain", "--title", "Again"]);
    assert!(stderr(&again).contains("exists already"), "{}", stderr(&again));
    let out = admin(d, &["collection", "grant", "supply-chain", "hospital-d", "--read", "--write"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let bad = admin(d, &["collection", "grant", "nowhere", "hospital-d", "--read"]);
    assert!(stderr(&bad).contains("no collection"), "{}", stderr(&bad));
    let bad = admin(d, &["collection", "grant", "sector", "nobody", "--read"]);
    assert!(stderr(&bad).contains("no organisation \"nobody\""), "{}", stderr(&bad));
    let out = admin(d, &["token", "issue", "hospital-d", "--name", "ci"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let token = stdout(&out).trim().to_owned();
    assert!(token.starts_with("hx_") && token.len() == 51, "{token}");
    let again = admin(d, &["token", "issue", "hospital-d", "--name", "ci"]);
    assert!(stderr(&again).contains("already"), "{}", stderr(&again));
    assert_eq!(collections_status(&ex.url, &ca, Some(("hospital-d", &token)), None), 200);
    let list = stdout(&admin(d, &["org", "list"]));
    assert!(
        list.lines().any(|l| l.starts_with("hospital-d\tmember\tenabled\tidentity--")),
        "{list}"
    );

    // mTLS: hospital-a's dev certificate alone authenticates it, until it is disabled or the
    // certificate is removed; a token is refused while disabled too.
    let orgs = d.join("exchange").join("orgs");
    let cert = std::fs::read_to_string(orgs.join("hospital-a").join("client.pem")).unwrap();
    let key = std::fs::read_to_string(orgs.join("hospital-a").join("client.key.pem")).unwrap();
    let a_token = std::fs::read_to_string(orgs.join("hospital-a").join("token")).unwrap();
    let mtls = Some((cert.as_str(), key.as_str()));
    assert_eq!(collections_status(&ex.url, &ca, None, None), 401);
    assert_eq!(collections_status(&ex.url, &ca, None, mtls), 200);
    assert!(admin(d, &["org", "disable", "hospital-a"]).status.success());
    assert_eq!(collections_status(&ex.url, &ca, None, mtls), 401);
    assert_eq!(collections_status(&ex.url, &ca, Some(("hospital-a", a_token.trim())), None), 401);
    assert!(admin(d, &["org", "enable", "hospital-a"]).status.success());
    assert_eq!(collections_status(&ex.url, &ca, None, mtls), 200);
    let pem = orgs.join("hospital-a").join("client.pem");
    let dup = admin(d, &["org", "cert-add", "hospital-d", "--certificate", pem.to_str().unwrap()]);
    assert!(stderr(&dup).contains("registered already"), "{}", stderr(&dup));
    let thumbprint = list
        .lines()
        .find(|l| l.starts_with("hospital-a\t"))
        .and_then(|l| l.split('\t').nth(5))
        .and_then(|certs| certs.split(' ').next())
        .unwrap()
        .to_owned();
    let out = admin(d, &["org", "cert-remove", "hospital-a", "--thumbprint", &thumbprint]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(collections_status(&ex.url, &ca, None, mtls), 401);
    let out = admin(d, &["org", "cert-add", "hospital-a", "--certificate", pem.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(collections_status(&ex.url, &ca, None, mtls), 200);
    assert!(admin(d, &["token", "revoke", "hospital-d", "ci"]).status.success());
    assert_eq!(collections_status(&ex.url, &ca, Some(("hospital-d", &token)), None), 401);
    assert!(stdout(&admin(d, &["org", "list"])).contains("ci (revoked)"));

    // The internal listener: health, the requests above in the metrics, the OpenAPI document.
    let internal = std::fs::read_to_string(d.join("exchange").join("internal-url")).unwrap();
    let (status, health) = crate::gateway_cli::http_get(&internal, "/health");
    assert_eq!(status, 200, "{health}");
    assert!(health.contains("\"status\":\"ok\""), "{health}");
    let (status, metrics) = crate::gateway_cli::http_get(&internal, "/metrics");
    assert_eq!(status, 200);
    for line in [
        "herald_exchange_http_requests_total{route=\"/taxii2/health/collections/\",method=\"GET\",status=\"401\"}",
        "herald_exchange_rows{table=\"org\"} 6",
        "herald_exchange_database_up 1",
    ] {
        assert!(metrics.contains(line), "{line} missing:\n{metrics}");
    }
    let (status, openapi) = crate::gateway_cli::http_get(&internal, "/openapi.json");
    assert_eq!(status, 200);
    assert!(serde_json::from_str::<serde_json::Value>(&openapi).is_ok());

    // The audit chain holds every change above; an edited entry breaks it.
    let out = admin(d, &["audit", "verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("intact: "), "{}", stdout(&out));
    ex.child.kill().unwrap();
    ex.child.wait().unwrap();
    let db = d.join("exchange").join("exchange.db");
    crate::gateway_cli::runtime().block_on(async {
        use sqlx::ConnectOptions as _;
        let mut conn =
            sqlx::sqlite::SqliteConnectOptions::new().filename(&db).connect().await.unwrap();
        sqlx::query("UPDATE audit_log SET detail = 'edited' WHERE seq = 2")
            .execute(&mut conn)
            .await
            .unwrap();
    });
    let out = admin(d, &["audit", "verify"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("BROKEN at entry 2"), "{}", stderr(&out));
}

/// An envelope of `n` GREEN indicators whose ids encode `(client, batch, i)`.
fn envelope(client: usize, batch: usize, n: usize) -> Vec<u8> {
    let objects: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            let id = format!("indicator--{client:08x}-{batch:04x}-4{i:03x}-8000-000000000000");
            serde_json::json!({
                "type": "indicator", "spec_version": "2.1", "id": id,
                "created": "2026-12-01T00:00:00.000Z", "modified": "2026-12-01T00:00:00.000Z",
                "name": format!("kill test {client} {batch} {i}"),
                "pattern": format!("[ipv4-addr:value = '10.{client}.{}.{}']", batch % 256, i % 256),
                "pattern_type": "stix", "valid_from": "2026-12-01T00:00:00Z",
                "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "objects": objects })).unwrap()
}

#[test]
fn kill_9_while_clients_post_loses_no_acknowledged_object() {
    use std::collections::BTreeSet;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let mut ex = start_exchange(&d);
    let ca = std::fs::read_to_string(d.join("ca.pem")).unwrap();
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let posted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let clients: Vec<_> = ["hospital-a", "hospital-b", "hospital-c", "cert"]
        .into_iter()
        .enumerate()
        .map(|(c, org)| {
            let token = std::fs::read_to_string(d.join("exchange/orgs").join(org).join("token"))
                .unwrap()
                .trim()
                .to_owned();
            let (url, ca) = (ex.url.clone(), ca.clone());
            let (acknowledged, stop, posted) = (acknowledged.clone(), stop.clone(), posted.clone());
            std::thread::spawn(move || {
                use base64::Engine as _;
                let auth = format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{org}:{token}"))
                );
                let client = herald_runtime::HttpsClient::new(&url, &ca, None).unwrap();
                let rt =
                    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                let path = "/taxii2/health/collections/sector/objects/";
                let headers = [
                    ("accept", "application/taxii+json;version=2.1"),
                    ("content-type", "application/taxii+json;version=2.1"),
                    ("authorization", auth.as_str()),
                ];
                for batch in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let body = envelope(c, batch, 100);
                    let Ok(answer) =
                        rt.block_on(client.request(hyper::Method::POST, path, &headers, body))
                    else {
                        break; // the server is gone
                    };
                    assert_eq!(answer.status.as_u16(), 202, "{:?}", answer.body);
                    let status: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
                    assert_eq!(status["status"], "complete");
                    let mut acked = acknowledged.lock().unwrap();
                    for s in status["successes"].as_array().unwrap() {
                        acked.insert(s["id"].as_str().unwrap().to_owned());
                    }
                    posted.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    // Kill it while the posts are flowing: after a few envelopes have landed.
    let started = std::time::Instant::now();
    while posted.load(Ordering::Relaxed) < 8 {
        assert!(started.elapsed() < std::time::Duration::from_mins(2), "nothing was posted");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    ex.child.kill().unwrap();
    ex.child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 800, "{} acknowledged", acknowledged.len());

    // Restarted on the same folder: every acknowledged object is there, the audit chain intact.
    let ex = start_exchange(&d);
    let db = d.join("exchange").join("exchange.db");
    let stored: BTreeSet<String> = crate::gateway_cli::runtime()
        .block_on(async {
            use sqlx::ConnectOptions as _;
            let mut conn =
                sqlx::sqlite::SqliteConnectOptions::new().filename(&db).connect().await.unwrap();
            sqlx::query_scalar("SELECT object_id FROM stix_object")
                .fetch_all(&mut conn)
                .await
                .unwrap()
        })
        .into_iter()
        .collect();
    let missing: Vec<_> = acknowledged.difference(&stored).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged objects lost: {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    println!(
        "kill -9: {} objects acknowledged before the kill, {} stored after restart",
        acknowledged.len(),
        stored.len()
    );
    let out = admin(&d, &["audit", "verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    drop(ex);
}
