//! `herald keyserver …` through the real binary: the dev world (a gateway and a key server on
//! one folder), the publish endpoint answering chaff over HTTPS, `/health`, exports served,
//! the example configuration, and a clean stop on SIGTERM.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use herald_runtime::HttpsClient;
use hyper::Method;

use crate::gateway_cli::{Server, runtime};
use crate::support::{DevService, herald, stdout};

/// `herald keyserver serve --country CC --dev DIR`, its log in `DIR/keyserver-<CC>.log`.
fn start_keyserver(dir: &Path, country: &str) -> DevService {
    let url_file = dir.join(country).join("keyserver").join("url");
    let args = ["keyserver", "serve", "--country", country, "--dev"];
    DevService::start(&args, dir, &url_file, &dir.join(format!("keyserver-{country}.log")))
}

#[test]
fn the_dev_key_server_joins_the_dev_gateway_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let _gateway = Server::start(dir.path(), "gateway.log");
    let mut ks = start_keyserver(dir.path(), "DE");
    let log_path = dir.path().join("keyserver-DE.log");
    let ca = std::fs::read_to_string(dir.path().join("ca.pem")).unwrap();
    let client = HttpsClient::new(&ks.url, &ca, None).unwrap();
    let rt = runtime();
    let health = rt.block_on(client.request(Method::GET, "/health", &[], Vec::new())).unwrap();
    assert_eq!(health.status, 200);
    // Chaff over real HTTPS: 200, the one padded size, nothing stored.
    let chaff = rt
        .block_on(client.request(
            Method::POST,
            "/v1/publish",
            &[("content-type", "application/json"), ("x-chaff", "1")],
            b"{\"padding\":\"AAAA\"}".to_vec(),
        ))
        .unwrap();
    assert_eq!((chaff.status.as_u16(), chaff.body.len()), (200, 4096));
    assert_eq!(chaff.header("x-api-version"), Some("v1"));
    // A publish without a certificate: 401 with ENS's code.
    let bad = rt
        .block_on(client.request(
            Method::POST,
            "/v1/publish",
            &[("content-type", "application/json")],
            b"{\"healthAuthorityID\":\"de.herald.app\",\"temporaryExposureKeys\":[]}".to_vec(),
        ))
        .unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&bad.body).unwrap();
    assert_eq!(
        (bad.status.as_u16(), answer["code"].as_str()),
        (401, Some("health_authority_verification_certificate_invalid"))
    );
    // The dev folder holds what the dev world promises.
    let ks_dir = dir.path().join("DE").join("keyserver");
    // The internal listener of dev mode: health with every job alive, the publish answers in
    // the metrics, the OpenAPI document.
    let internal = std::fs::read_to_string(ks_dir.join("internal-url")).unwrap();
    assert!(internal.starts_with("http://127.0.0.1:"), "{internal}");
    let (status, health) = crate::gateway_cli::http_get(&internal, "/health");
    assert_eq!(status, 200, "{health}");
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(
        (health["status"].as_str(), health["federation"].as_bool()),
        (Some("ok"), Some(true))
    );
    for job in herald_keyserver::app::JOBS {
        assert_eq!(health["jobs"][job]["alive"], true, "{job}: {health}");
    }
    let (status, metrics) = crate::gateway_cli::http_get(&internal, "/metrics");
    assert_eq!(status, 200);
    for line in [
        "herald_keyserver_http_requests_total{route=\"/v1/publish\",method=\"POST\",status=\"200\"} 1",
        "herald_keyserver_http_requests_total{route=\"/v1/publish\",method=\"POST\",status=\"401\"} 1",
        "herald_keyserver_job_alive{job=\"export\"} 1",
        "herald_keyserver_database_up 1",
        "# TYPE herald_keyserver_federation_outbox_keys gauge",
        "# TYPE herald_keyserver_export_total counter",
    ] {
        assert!(metrics.lines().any(|l| l == line), "missing {line:?} in\n{metrics}");
    }
    let (status, openapi) = crate::gateway_cli::http_get(&internal, "/openapi.json");
    assert_eq!(status, 200);
    assert_eq!(openapi, herald_keyserver::internal::OPENAPI);
    for file in
        ["keyserver.db", "export-signing.key.pem", "export-signing.pub.pem", "revision-token.key"]
    {
        assert!(ks_dir.join(file).exists(), "{file}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode =
            std::fs::metadata(ks_dir.join("export-signing.key.pem")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "private keys are owner-only");
    }
    let kill = Command::new("kill").args(["-TERM", &ks.child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = ks.child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no exit within 30 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(status.success(), "{status}: {log}");
    assert!(log.contains("federation on"), "{log}");
    assert!(!ks_dir.join("url").exists());
    assert!(!ks_dir.join("internal-url").exists());
    assert!(log.contains("herald key server stopped"), "{log}");
    // Nothing secret in the log.
    assert!(!log.contains("PRIVATE KEY"));
}

#[test]
fn the_example_configuration_is_printed_and_bad_ones_are_explained() {
    let out = herald(&["keyserver", "config-example"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("[publish]") && text.contains("[[export.config]]"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ks.toml");
    std::fs::write(&path, text.replace("retention_days = 14", "retention_days = 2")).unwrap();
    let out = herald(&["keyserver", "serve", "--config", path.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        crate::support::stderr(&out).contains("retention_days must be in 10..=30"),
        "{}",
        crate::support::stderr(&out)
    );
}

/// `herald bench exports`: one JSON line; every stored key is written once per configuration.
#[test]
fn bench_exports_prints_one_json_line() {
    let out = herald(&["bench", "exports", "--keys", "3000", "--max-keys", "2000"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let report: serde_json::Value = serde_json::from_str(stdout.trim_end()).unwrap();
    assert_eq!(report["keys"], 3000);
    // Hourly windows of 125 keys are padded up to 1000–1100 with stored fakes, which the daily
    // window then holds too: at least 2 × 24 000 keys written.
    let written = report["keys_written"].as_u64().unwrap();
    assert!(written >= 2 * 24 * 1000, "{report}");
    // 24 hourly files, and the daily window split in files of at most 2000 keys.
    let files = report["files"].as_u64().unwrap();
    assert!(files >= 24 + written.saturating_sub(24 * 1100) / 2000, "{report}");
    for field in [
        "keys_per_second",
        "written_keys_per_second",
        "baseline_sqlite_scan_keys_per_second",
        "baseline_build_keys_per_second",
    ] {
        assert!(report[field].as_f64().is_some_and(|v| v > 0.0), "{field}: {report}");
    }
    let bad = herald(&["bench", "exports", "--keys", "0"]);
    assert!(!bad.status.success());
}

/// The federation outbox survives `kill -9`: a dev key server with 30 000 consented keys in its
/// outbox (eight batches) is killed three times while it uploads them, then runs to the end.
/// Every key reaches the gateway exactly once, and the outbox ends empty.
#[test]
fn sigkill_during_federation_uploads_sends_every_key_exactly_once() {
    use herald_keyserver::store::{Store, StoredKey, VerificationReportType};
    use herald_model::{CountryCode, TemporaryExposureKey};
    use rand::{Rng as _, SeedableRng as _};

    let dir = tempfile::tempdir().unwrap();
    let gateway = Server::start(dir.path(), "gateway.log");
    let rt = runtime();
    let now = i64::try_from(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
    )
    .unwrap();
    let hour = now / 3600 * 3600;
    let de: CountryCode = "DE".parse().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let keys: Vec<StoredKey> = (0..30_000)
        .map(|i| {
            let mut bytes = [0u8; 16];
            rng.fill_bytes(&mut bytes);
            let day = now / 86_400 - 3 - i64::from(i % 5);
            StoredKey {
                key: TemporaryExposureKey::from_bytes(bytes),
                transmission_risk: 3,
                source: "de.herald.app".into(),
                regions: vec!["DE".into()],
                traveler: false,
                interval_number: u32::try_from(day * 144).unwrap(),
                interval_count: 144,
                created_at: hour - 3 * 3600,
                local_provenance: true,
                origin: de,
                report_type: Some(VerificationReportType::Confirmed),
                days_since_onset: Some(2),
                revision: None,
            }
        })
        .collect();
    // The key server's store, filled before it first starts (dev mode keeps what exists).
    let ks_dir = dir.path().join("DE").join("keyserver");
    std::fs::create_dir_all(&ks_dir).unwrap();
    let db = format!("sqlite:{}", ks_dir.join("keyserver.db").display());
    rt.block_on(async {
        let store = Store::open(&db).await.unwrap();
        for chunk in keys.chunks(5000) {
            store.insert_keys(chunk, Some(hour - 3600)).await.unwrap();
        }
        store.close().await;
    });

    let outbox = || {
        rt.block_on(async {
            let store = Store::open(&db).await.unwrap();
            let counts = store.outbox_counts().await.unwrap();
            store.close().await;
            counts
        })
    };
    // Kill it while it uploads: once shortly after start, then twice right after a batch landed
    // (more are on their way). A restarted key server takes the upload job back when the dead
    // one's lease expires (6 s in dev mode).
    let mut ks = start_keyserver(dir.path(), "DE");
    std::thread::sleep(Duration::from_millis(300));
    ks.child.kill().unwrap();
    ks.child.wait().unwrap();
    for _ in 0..2 {
        let before = outbox().2;
        let mut ks = start_keyserver(dir.path(), "DE");
        let started = Instant::now();
        while outbox().2 == before {
            assert!(started.elapsed() < Duration::from_secs(30), "no upload after a restart");
            std::thread::sleep(Duration::from_millis(20));
        }
        ks.child.kill().unwrap();
        ks.child.wait().unwrap();
    }
    let (waiting, in_flight, _) = outbox();
    assert!(waiting + in_flight > 0, "the kills came too late to test anything");
    let ks = start_keyserver(dir.path(), "DE");
    let started = Instant::now();
    loop {
        let (waiting, in_flight, _) = outbox();
        if waiting == 0 && in_flight == 0 {
            break;
        }
        if started.elapsed() > Duration::from_mins(1) {
            let log = std::fs::read_to_string(dir.path().join("keyserver-DE.log")).unwrap();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            panic!("outbox not drained: {waiting} waiting, {in_flight} in flight; log: {tail:#?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // The keys' hour is past its embargo: they are also in DE's hourly export, which
    // `herald export inspect` verifies with DE's export public key.
    let index = ks_dir.join("exports").join("hourly").join("index.txt");
    let started = Instant::now();
    while std::fs::read_to_string(&index).map_or(true, |t| t.is_empty()) {
        assert!(started.elapsed() < Duration::from_mins(1), "no export file");
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(ks);
    let first = std::fs::read_to_string(&index).unwrap().lines().next().unwrap().to_owned();
    let public = ks_dir.join("export-signing.pub.pem");
    let inspected = herald(&[
        "export",
        "inspect",
        ks_dir.join("exports").join(&first).to_str().unwrap(),
        "--public-key",
        public.to_str().unwrap(),
    ]);
    assert!(inspected.status.success(), "{}", String::from_utf8_lossy(&inspected.stderr));
    let report: serde_json::Value = serde_json::from_slice(&inspected.stdout).unwrap();
    assert_eq!(report["region"], "DE");
    assert_eq!(report["signatures"][0]["valid"], true);
    assert_eq!(report["keys"].as_array().unwrap().len(), 30_000);

    // Everything the gateway has for today, downloaded as NL: each key once, all of ours there.
    let nl = gateway.client("NL");
    let date = herald_model::Date::of(herald_model::UnixTime(now)).to_string();
    let mut seen: std::collections::HashMap<[u8; 16], usize> = std::collections::HashMap::new();
    let mut tag: Option<String> = None;
    let mut batches = 0;
    loop {
        let mut headers = vec![("accept", "application/protobuf; version=1.0")];
        if let Some(t) = &tag {
            headers.push(("batchTag", t.as_str()));
        }
        let answer = rt
            .block_on(nl.request(
                Method::GET,
                &format!("/diagnosiskeys/download/{date}"),
                &headers,
                Vec::new(),
            ))
            .unwrap();
        assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
        batches += 1;
        for key in herald_wire::efgs::decode_protobuf(&answer.body).unwrap() {
            *seen.entry(*key.key.as_bytes()).or_insert(0) += 1;
        }
        match answer.header("nextBatchTag").filter(|t| *t != "null") {
            Some(next) => tag = Some(next.to_owned()),
            None => break,
        }
        assert!(batches < 1000);
    }
    let missing = keys.iter().filter(|k| !seen.contains_key(k.key.as_bytes())).count();
    assert_eq!(missing, 0, "{missing} keys never reached the gateway");
    let twice = seen.values().filter(|n| **n > 1).count();
    assert_eq!(twice, 0, "{twice} keys reached the gateway more than once");
    let log = std::fs::read_to_string(dir.path().join("keyserver-DE.log")).unwrap();
    assert!(!log.contains("set aside"), "no batch was given up: {log}");
}
