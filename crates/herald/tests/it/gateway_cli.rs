//! `herald gateway …` and `herald bench gateway` through the real binary: the benchmark's JSON
//! line, a SIGKILL in the middle of concurrent uploads (every 201 is durable and complete, no
//! upload is partial, tags stay unique), graceful shutdown on SIGTERM, and the trust-list
//! commands.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use herald_gateway::store::Store;
use herald_model::{
    CountryCode, IntervalNumber, ReportType, RollingPeriod, TemporaryExposureKey, UnixTime,
};
use herald_runtime::{Answer, HttpsClient};
use herald_trust::layout;
use herald_wire::cms::SigningIdentity;
use herald_wire::efgs::{self, DaysSinceOnset, EfgsKey, TransmissionRisk};
use hyper::Method;
use rand::{Rng as _, SeedableRng as _};

const PROTOBUF: &str = "application/protobuf; version=1.0";

fn herald(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_herald")).args(args).output().expect("herald runs")
}

fn country(c: &str) -> CountryCode {
    c.parse().unwrap()
}

fn now() -> UnixTime {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    UnixTime(i64::try_from(secs.as_secs()).unwrap())
}

/// `herald gateway serve --dev <dir>`, killed when dropped.
pub(crate) struct Server {
    child: Child,
    dir: PathBuf,
    url: String,
}

impl Server {
    /// Starts the gateway on `dir` and waits for `dir/gateway/url` (removed first, since a killed
    /// gateway leaves its file behind).
    pub(crate) fn start(dir: &Path, log: &str) -> Self {
        let url_file = dir.join("gateway").join("url");
        let _ = std::fs::remove_file(&url_file);
        let log = std::fs::File::create(dir.join(log)).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
            .args(["gateway", "serve", "--dev"])
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("herald gateway serve starts");
        let started = Instant::now();
        loop {
            if let Ok(url) = std::fs::read_to_string(&url_file)
                && url.starts_with("https://")
                && url.ends_with(|c: char| c.is_ascii_digit())
            {
                return Self { child, dir: dir.to_owned(), url };
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the gateway exited before serving: {status}");
            }
            assert!(started.elapsed() < Duration::from_mins(1), "the gateway did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub(crate) fn client(&self, c: &str) -> HttpsClient {
        let read = |p: PathBuf| std::fs::read_to_string(self.dir.join(p)).unwrap();
        let cc = country(c);
        HttpsClient::new(
            &self.url,
            &read(layout::ca_cert()),
            Some((&read(layout::auth_cert(cc)), &read(layout::auth_key(cc)))),
        )
        .unwrap()
    }

    pub(crate) fn pid(&self) -> String {
        self.child.id().to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signer(dir: &Path, c: &str) -> SigningIdentity {
    let cc = country(c);
    SigningIdentity::from_pem(
        &std::fs::read_to_string(dir.join(layout::signing_cert(cc))).unwrap(),
        &std::fs::read_to_string(dir.join(layout::signing_key(cc))).unwrap(),
    )
    .unwrap()
}

/// `n` random valid keys of `origin`, rolling start yesterday.
fn random_keys(rng: &mut rand::rngs::StdRng, origin: &str, n: usize) -> Vec<EfgsKey> {
    let start = u32::try_from((now().utc_day() - 1) * 144).unwrap();
    (0..n)
        .map(|i| {
            let mut bytes = [0u8; 16];
            rng.fill_bytes(&mut bytes);
            EfgsKey {
                key: TemporaryExposureKey::from_bytes(bytes),
                rolling_start: IntervalNumber(start),
                rolling_period: RollingPeriod::FULL_DAY,
                transmission_risk: TransmissionRisk::NotProvided,
                visited_countries: vec![country("NL"), country("FR")],
                origin: country(origin),
                report_type: ReportType::ConfirmedTest,
                days_since_onset: DaysSinceOnset::new(i32::try_from(i % 5).unwrap()).unwrap(),
            }
        })
        .collect()
}

/// A signed upload, ready to send.
#[derive(Clone)]
struct Batch {
    tag: String,
    signature: String,
    keys: Vec<EfgsKey>,
}

fn batch(dir: &Path, rng: &mut rand::rngs::StdRng, tag: String, n: usize) -> Batch {
    let keys = random_keys(rng, "DE", n);
    let signature = efgs::sign_batch(&keys, &signer(dir, "DE"), now(), rng).unwrap();
    Batch { tag, signature, keys }
}

async fn upload(client: &HttpsClient, batch: &Batch) -> Result<Answer, String> {
    client
        .request(
            Method::POST,
            "/diagnosiskeys/upload",
            &[
                ("batchTag", batch.tag.as_str()),
                ("batchSignature", batch.signature.as_str()),
                ("content-type", PROTOBUF),
                ("accept", "application/json; version=1.0"),
            ],
            efgs::encode_protobuf(&batch.keys),
        )
        .await
        .map_err(|e| e.to_string())
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap()
}

#[test]
fn bench_gateway_prints_one_json_line() {
    let out = herald(&[
        "bench",
        "gateway",
        "--batches",
        "2",
        "--keys-per-batch",
        "50",
        "--concurrency",
        "2",
    ]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let report: serde_json::Value = serde_json::from_str(stdout.trim_end()).unwrap();
    assert_eq!(report["batches"], 2);
    assert_eq!(report["keys_per_batch"], 50);
    assert_eq!(report["concurrency"], 2);
    assert_eq!(report["at_rest_encryption"], true);
    for field in [
        "ingest_seconds",
        "ingest_keys_per_second",
        "download_seconds",
        "download_keys_per_second",
        "baseline_insert_keys_per_second",
        "ingest_vs_baseline",
    ] {
        let value = report[field].as_f64().unwrap_or_else(|| panic!("{field}: {report}"));
        assert!(value.is_finite() && value > 0.0, "{field}: {report}");
    }
    assert_eq!(report.as_object().unwrap().len(), 10, "{report}");
}

/// SIGKILL while four tasks upload: after a restart, every 201 upload is complete, no upload is
/// partial, and a stored tag answers 409 again.
#[test]
fn sigkill_during_uploads_loses_no_acknowledged_batch() {
    const TASKS: usize = 4;
    const PER_TASK: usize = 40;
    const KEYS: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let mut server = Server::start(dir, "serve-1.log");
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed_c4a5);
    let batches: Vec<Vec<Batch>> = (0..TASKS)
        .map(|t| {
            (0..PER_TASK).map(|i| batch(dir, &mut rng, format!("CRASH-{t}-{i}"), KEYS)).collect()
        })
        .collect();

    let rt = runtime();
    let created = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = batches
        .iter()
        .cloned()
        .map(|mine| {
            let client = server.client("DE");
            let created = created.clone();
            rt.spawn(async move {
                // (tag, status) for every attempt; an error ends the task (the gateway is gone).
                let mut results = Vec::new();
                for b in mine {
                    let Ok(answer) = upload(&client, &b).await else {
                        results.push((b.tag, None));
                        break;
                    };
                    if answer.status == 201 {
                        created.fetch_add(1, Ordering::SeqCst);
                    }
                    results.push((b.tag, Some(answer.status.as_u16())));
                }
                results
            })
        })
        .collect();
    // Kill once a few uploads are through, while the others are in flight.
    let waiting = Instant::now();
    while created.load(Ordering::SeqCst) < 2 * TASKS {
        assert!(waiting.elapsed() < Duration::from_mins(1), "no uploads succeeded");
        std::thread::sleep(Duration::from_millis(5));
    }
    server.child.kill().unwrap();
    let status = server.child.wait().unwrap();
    assert!(!status.success(), "the gateway was killed: {status}");
    let results: Vec<(String, Option<u16>)> =
        rt.block_on(async { join_all(tasks).await }).into_iter().flatten().collect();
    drop(server);

    let acknowledged: Vec<&str> =
        results.iter().filter(|(_, s)| *s == Some(201)).map(|(t, _)| t.as_str()).collect();
    assert!(acknowledged.len() >= 2 * TASKS);
    assert!(
        results.iter().all(|(_, s)| matches!(s, None | Some(201))),
        "only 201 or a broken connection expected: {results:?}"
    );
    let attempted = results.len();
    assert!(
        attempted < TASKS * PER_TASK,
        "the kill came after every upload; nothing was in flight"
    );

    // Restart on the same folder, then read what is stored straight from the database (the
    // batching job of the new process waits up to a minute for the dead one's lease).
    let server = Server::start(dir, "serve-2.log");
    let db = dir.join("gateway").join("gateway.db");
    let store = rt.block_on(Store::open(&format!("sqlite:{}", db.display()))).unwrap();
    // Keys are sealed at rest: compare their payload hashes (SHA-256 over all eight fields).
    let rows: Vec<(String, i64, Vec<u8>)> = rt.block_on(async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", db.display())).await.unwrap();
        let rows = sqlx::query_as(
            "SELECT u.tag, u.key_count, k.payload_hash FROM upload u \
             JOIN diagnosis_key k ON k.upload_id = u.id ORDER BY u.id, k.ordinal",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        pool.close().await;
        rows
    });
    let mut stored_keys: BTreeMap<String, Vec<[u8; 32]>> = BTreeMap::new();
    for (tag, count, hash) in rows {
        assert_eq!(count, i64::try_from(KEYS).unwrap(), "{tag}: key_count");
        stored_keys.entry(tag).or_default().push(hash.try_into().unwrap());
    }
    let sent: HashMap<&str, Vec<[u8; 32]>> = batches
        .iter()
        .flatten()
        .map(|b| (b.tag.as_str(), b.keys.iter().map(EfgsKey::payload_hash).collect()))
        .collect();
    // No partial upload: every stored tag holds exactly the keys sent under it; nothing else
    // was stored.
    for (tag, keys) in &stored_keys {
        assert_eq!(Some(keys), sent.get(tag.as_str()), "{tag}: stored keys differ from the upload");
        assert!(results.iter().any(|(t, _)| t == tag), "{tag} was never sent");
    }
    // Every acknowledged upload is there, complete.
    for tag in &acknowledged {
        assert!(stored_keys.contains_key(*tag), "acknowledged upload {tag} is missing");
    }
    // The tag registry agrees with the keys (no tag without its keys, or the other way round).
    for (tag, _) in &results {
        let exists = rt.block_on(store.upload_tag_exists(&tag.parse().unwrap())).unwrap();
        assert_eq!(exists, stored_keys.contains_key(tag), "{tag}: registry and keys disagree");
    }

    // Tags stay unique: every acknowledged one answers 409; the gateway takes new uploads.
    let de = server.client("DE");
    let by_tag: HashMap<&str, &Batch> =
        batches.iter().flatten().map(|b| (b.tag.as_str(), b)).collect();
    for tag in &acknowledged {
        let again = rt.block_on(upload(&de, by_tag[tag])).unwrap();
        assert_eq!(again.status, 409, "{tag}");
    }
    let fresh = batch(dir, &mut rng, "AFTER-CRASH".to_owned(), KEYS);
    assert_eq!(rt.block_on(upload(&de, &fresh)).unwrap().status, 201);
    rt.block_on(store.close());
}

async fn join_all<T: Send + 'static>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

/// A plain-HTTP GET with `Connection: close`: status and body.
pub(crate) fn http_get(base: &str, path: &str) -> (u16, String) {
    use std::io::{Read as _, Write as _};
    let addr = base.strip_prefix("http://").unwrap();
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(tcp, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

/// SIGTERM: the gateway finishes, exits 0 and removes its URL files. While it runs, the internal
/// listener of dev mode answers on loopback.
#[test]
fn sigterm_stops_the_gateway_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), "serve.log");
    let rt = runtime();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let b = batch(dir.path(), &mut rng, "BEFORE-TERM".to_owned(), 20);
    assert_eq!(rt.block_on(upload(&server.client("DE"), &b)).unwrap().status, 201);

    let internal =
        std::fs::read_to_string(dir.path().join("gateway").join("internal-url")).unwrap();
    assert!(internal.starts_with("http://127.0.0.1:"), "{internal}");
    let (status, health) = http_get(&internal, "/health");
    assert_eq!(status, 200, "{health}");
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(
        (health["status"].as_str(), health["trustedCountries"].as_u64()),
        (Some("ok"), Some(3))
    );
    let (status, metrics) = http_get(&internal, "/metrics");
    assert_eq!(status, 200);
    assert!(
        metrics
            .lines()
            .any(|l| l == "herald_gateway_upload_keys_accepted_total{country=\"DE\"} 20"),
        "{metrics}"
    );
    let (status, openapi) = http_get(&internal, "/openapi.json");
    assert_eq!(status, 200);
    assert_eq!(openapi, herald_gateway::internal::OPENAPI);

    let kill = Command::new("kill").args(["-TERM", &server.pid()]).status().unwrap();
    assert!(kill.success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no exit within 30 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap();
    assert!(status.success(), "{status}: {log}");
    assert!(!dir.path().join("gateway").join("url").exists(), "gateway/url was not removed");
    assert!(
        !dir.path().join("gateway").join("internal-url").exists(),
        "gateway/internal-url was not removed"
    );
    assert!(log.contains("herald gateway stopped"), "{log}");

    // `--dev` made an at-rest key only the owner can read, and the stored keys are sealed.
    let key_file = dir.path().join("gateway").join("at-rest.key");
    let key = std::fs::read_to_string(&key_file).unwrap();
    assert_eq!(key.trim().len(), 64, "{key}");
    herald_gateway::store::AtRestKey::parse(&key).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    assert!(log.contains("at-rest encryption on"), "{log}");
}

/// Runs `sql` with `$1` = `thumbprint` on the dev gateway's SQLite database, behind the
/// gateway's back; one row must change.
fn edit_dev_database(rt: &tokio::runtime::Runtime, db: &Path, sql: &'static str, thumbprint: &str) {
    use sqlx::ConnectOptions as _;
    let changed = rt.block_on(async {
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(db);
        let mut conn = options.connect().await.unwrap();
        sqlx::query(sql).bind(thumbprint).execute(&mut conn).await.unwrap().rows_affected()
    });
    assert_eq!(changed, 1, "{sql}");
}

/// The status of today's download for `client`.
async fn download_status(client: &HttpsClient) -> u16 {
    let path = format!("/diagnosiskeys/download/{}", herald_model::Date::of(now()));
    let answer = client.request(Method::GET, &path, &[("accept", PROTOBUF)], vec![]).await.unwrap();
    answer.status.as_u16()
}

/// `trust list|export|import|revoke|resign --dev` and `config-example`.
#[test]
fn trust_commands_manage_the_dev_trust_list() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ds = d.to_str().unwrap();
    let server = Server::start(d, "serve.log");
    let run = |args: &[&str]| {
        let out = herald(args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
    };

    // list: one line per certificate (DE, NL, FR: client, signing and callback receiver); with
    // the anchor, every signature checks.
    let (list, _) = run(&["gateway", "trust", "list", "--dev", ds]);
    assert_eq!(list.lines().count(), 9, "{list}");
    assert_eq!(list.lines().filter(|l| l.contains("CALLBACK")).count(), 3, "{list}");
    assert!(list.lines().all(|l| l.ends_with("signature not checked")), "{list}");
    let anchor = d.join(layout::anchor_cert());
    let anchor = anchor.to_str().unwrap();
    let (checked, _) = run(&["gateway", "trust", "list", "--dev", ds, "--anchor", anchor]);
    assert!(checked.lines().all(|l| l.ends_with("signature ok")), "{checked}");
    let de_auth = list
        .lines()
        .find(|l| l.starts_with("DE ") && l.contains("AUTHENTICATION"))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap()
        .to_owned();
    assert_eq!(de_auth.len(), 64, "{list}");

    // export → import round trip; a tampered list is refused as a whole.
    let (exported, _) = run(&["gateway", "trust", "export", "--dev", ds]);
    let parsed: serde_json::Value = serde_json::from_str(&exported).unwrap();
    assert_eq!(parsed["entries"].as_array().map(Vec::len), Some(9), "{exported}");
    let file = d.join("trust.json");
    std::fs::write(&file, &exported).unwrap();
    let (_, imported) = run(&[
        "gateway",
        "trust",
        "import",
        "--dev",
        ds,
        "--anchor",
        anchor,
        file.to_str().unwrap(),
    ]);
    assert!(imported.contains("imported 9 entries"), "{imported}");
    let mut tampered = parsed.clone();
    let other = if tampered["entries"][0]["country"] == "DE" { "NL" } else { "DE" };
    tampered["entries"][0]["country"] = serde_json::json!(other);
    let bad = d.join("tampered.json");
    std::fs::write(&bad, tampered.to_string()).unwrap();
    let out = herald(&[
        "gateway",
        "trust",
        "import",
        "--dev",
        ds,
        "--anchor",
        anchor,
        bad.to_str().unwrap(),
    ]);
    assert!(!out.status.success(), "a tampered trust list was imported");

    // revoke DE's client certificate: DE's next upload is refused with 403.
    let rt = runtime();
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let de = server.client("DE");
    let first = batch(d, &mut rng, "BEFORE-REVOKE".to_owned(), 10);
    assert_eq!(rt.block_on(upload(&de, &first)).unwrap().status, 201);
    let (_, revoked) = run(&["gateway", "trust", "revoke", "--dev", ds, "--thumbprint", &de_auth]);
    assert!(revoked.contains(&de_auth), "{revoked}");
    let second = batch(d, &mut rng, "AFTER-REVOKE".to_owned(), 10);
    assert_eq!(rt.block_on(upload(&de, &second)).unwrap().status, 403);
    let (list, _) = run(&["gateway", "trust", "list", "--dev", ds]);
    assert!(list.lines().any(|l| l.contains(&de_auth) && l.contains("REVOKED")), "{list}");
    let (checked, _) = run(&["gateway", "trust", "list", "--dev", ds, "--anchor", anchor]);
    assert!(checked.lines().all(|l| l.ends_with("signature ok")), "{checked}");

    // Issue 14, finding 5: the revocation is signed. Clearing the flag in the database does not
    // let DE back in, and `list --anchor` says why.
    let db = d.join("gateway").join("gateway.db");
    edit_dev_database(
        &rt,
        &db,
        "UPDATE trust_entry SET revoked = FALSE WHERE thumbprint = $1",
        &de_auth,
    );
    let third = batch(d, &mut rng, "AFTER-DB-EDIT".to_owned(), 10);
    assert_eq!(rt.block_on(upload(&de, &third)).unwrap().status, 403);
    let (checked, _) = run(&["gateway", "trust", "list", "--dev", ds, "--anchor", anchor]);
    let line = checked.lines().find(|l| l.contains(&de_auth)).unwrap();
    assert!(line.contains("IGNORED: entry signature does not verify"), "{line}");
    edit_dev_database(
        &rt,
        &db,
        "UPDATE trust_entry SET revoked = TRUE WHERE thumbprint = $1",
        &de_auth,
    );

    // The upgrade path: an entry stored before entry signatures is refused until the operator
    // runs `trust resign` (with --dev, the dev anchor key).
    let nl = server.client("NL");
    assert_ne!(rt.block_on(download_status(&nl)), 403);
    let nl_auth = list
        .lines()
        .find(|l| l.starts_with("NL ") && l.contains("AUTHENTICATION"))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap()
        .to_owned();
    edit_dev_database(
        &rt,
        &db,
        "UPDATE trust_entry SET entry_signature = NULL WHERE thumbprint = $1",
        &nl_auth,
    );
    assert_eq!(rt.block_on(download_status(&nl)), 403);
    let (checked, _) = run(&["gateway", "trust", "list", "--dev", ds, "--anchor", anchor]);
    let line = checked.lines().find(|l| l.contains(&nl_auth)).unwrap();
    assert!(line.contains("IGNORED: trust-list entry has no entry signature"), "{line}");
    let (signed, report) = run(&["gateway", "trust", "resign", "--dev", ds]);
    assert_eq!(signed.trim(), format!("signed NL AUTHENTICATION {nl_auth}"), "{report}");
    assert!(report.contains("1 entries signed, 0 left alone"), "{report}");
    assert_ne!(rt.block_on(download_status(&nl)), 403);
    // Without --dev, the key must be given.
    let out = herald(&["gateway", "trust", "resign", "--database", "sqlite::memory:"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--anchor-key"));
    drop(server);

    // config-example is TOML, and a valid gateway configuration.
    let (example, _) = run(&["gateway", "config-example"]);
    let table: toml::Table = toml::from_str(&example).unwrap();
    assert!(table.contains_key("listen"), "{example}");
    for setting in
        ["internal_listen", "callback_proxy", "certificate_header", "statistics_retention_days"]
    {
        assert!(example.contains(setting), "{setting} is not in the example");
    }
    assert!(table.contains_key("at_rest_key_file"), "{example}");
    herald_gateway::GatewayConfig::from_toml(&example, std::iter::empty()).unwrap();
}
