//! `herald verifier …` through the real binary: the dev verifier on a dev folder (files,
//! permissions, the flow over HTTPS, a clean stop on SIGTERM), the example configuration,
//! API key creation, and `--help`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use herald_runtime::HttpsClient;
use hyper::Method;
use p256::pkcs8::{EncodePrivateKey as _, LineEnding};

use crate::gateway_cli::runtime;
use crate::support::{DevService, herald, stderr, stdout};

/// `herald verifier serve --country CC --dev DIR`, its log in `DIR/verifier.log`.
fn start_verifier(dir: &Path, country: &str) -> DevService {
    let url_file = dir.join(country).join("verifier").join("url");
    let args = ["verifier", "serve", "--country", country, "--dev"];
    DevService::start(&args, dir, &url_file, &dir.join("verifier.log"))
}

#[test]
fn the_dev_verifier_serves_the_flow_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let out = herald(&["pki", "dev", "--out", dir.path().to_str().unwrap(), "--countries", "DE"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut v = start_verifier(dir.path(), "DE");
    let vdir = dir.path().join("DE").join("verifier");
    for file in [
        "verifier.db",
        "admin-api-key",
        "device-api-key",
        "hmac.key",
        "token-signing.key.pem",
        "certificate-signing.key.pem",
    ] {
        assert!(vdir.join(file).exists(), "{file}");
    }
    #[cfg(unix)]
    for secret in [
        "admin-api-key",
        "device-api-key",
        "hmac.key",
        "token-signing.key.pem",
        "certificate-signing.key.pem",
    ] {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(vdir.join(secret)).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{secret} is owner-only");
    }
    let admin = std::fs::read_to_string(vdir.join("admin-api-key")).unwrap().trim().to_owned();
    let device = std::fs::read_to_string(vdir.join("device-api-key")).unwrap().trim().to_owned();
    let ca = std::fs::read_to_string(dir.path().join("ca.pem")).unwrap();
    let client = HttpsClient::new(&v.url, &ca, None).unwrap();
    let rt = runtime();
    let post = |path: &str, key: &str, body: serde_json::Value| {
        let answer = rt
            .block_on(client.request(
                Method::POST,
                path,
                &[("content-type", "application/json"), ("x-api-key", key)],
                body.to_string().into_bytes(),
            ))
            .unwrap();
        (answer.status.as_u16(), serde_json::from_slice::<serde_json::Value>(&answer.body).unwrap())
    };
    let health = rt.block_on(client.request(Method::GET, "/health", &[], Vec::new())).unwrap();
    assert_eq!(health.status, 200);
    let (status, issued) = post(
        "/api/issue",
        &admin,
        serde_json::json!({"testType": "confirmed", "tzOffset": 0, "symptomDate": today()}),
    );
    assert_eq!(status, 200, "{issued}");
    let code = issued["code"].as_str().unwrap().to_owned();
    let (status, verified) = post("/api/verify", &device, serde_json::json!({"code": code}));
    assert_eq!(status, 200, "{verified}");
    let (status, _) = post("/api/verify", &device, serde_json::json!({"code": code}));
    assert_eq!(status, 400, "a code is used once");

    // The internal listener of dev mode: health with the purge job alive, the requests and the
    // codes in the metrics, the OpenAPI document of the API.
    let internal = std::fs::read_to_string(vdir.join("internal-url")).unwrap();
    assert!(internal.starts_with("http://127.0.0.1:"), "{internal}");
    let (status, health) = crate::gateway_cli::http_get(&internal, "/health");
    assert_eq!(status, 200, "{health}");
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["backend"], "sqlite");
    assert_eq!(health["jobs"]["purge"]["alive"], true, "{health}");
    let (status, metrics) = crate::gateway_cli::http_get(&internal, "/metrics");
    assert_eq!(status, 200);
    for line in [
        "herald_verifier_codes_total{event=\"issued\"} 1",
        "herald_verifier_codes_total{event=\"claimed\"} 1",
        "herald_verifier_http_requests_total{route=\"/api/verify\",method=\"POST\",status=\"200\"} 1",
        "herald_verifier_http_requests_total{route=\"/api/verify\",method=\"POST\",status=\"400\"} 1",
        "herald_verifier_job_alive{job=\"purge\"} 1",
        "herald_verifier_database_up 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "missing {line:?} in\n{metrics}");
    }
    assert!(!metrics.contains(&code), "a code in the metrics");
    let (status, openapi) = crate::gateway_cli::http_get(&internal, "/openapi.json");
    assert_eq!(status, 200);
    assert_eq!(openapi, herald_verifier::internal::OPENAPI);

    let kill = Command::new("kill").args(["-TERM", &v.child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = v.child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no exit within 30 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    let log = std::fs::read_to_string(dir.path().join("verifier.log")).unwrap();
    assert!(status.success(), "{status}: {log}");
    assert!(!vdir.join("url").exists(), "the url file is removed on shutdown");
    assert!(!vdir.join("internal-url").exists(), "the internal-url file is removed on shutdown");
    assert!(log.contains("herald verifier stopped"), "{log}");
    for secret in [&admin, &device, &code, &issued["longCode"].as_str().unwrap().to_owned()] {
        assert!(!log.contains(secret.as_str()), "a secret in the log: {log}");
    }
}

fn today() -> String {
    let secs =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    herald_model::Date::of(herald_model::UnixTime(i64::try_from(secs).unwrap())).to_string()
}

#[test]
fn example_configuration_and_api_keys() {
    let out = herald(&["verifier", "config-example"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("[[certificate.key]]") && text.contains("[codes]"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, text.replace("short_minutes = 15", "short_minutes = 0")).unwrap();
    let out = herald(&["verifier", "serve", "--config", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("codes.short_minutes must be in 1..=120"), "{}", stderr(&out));

    // A working configuration from the example: real files in the temporary folder, no TLS.
    let d = dir.path();
    let key_pem = |seed: u8| {
        p256::ecdsa::SigningKey::from_slice(&[seed; 32])
            .unwrap()
            .to_pkcs8_pem(LineEnding::LF)
            .unwrap()
            .to_string()
    };
    std::fs::write(d.join("hmac.key"), "ab".repeat(32)).unwrap();
    std::fs::write(d.join("t.pem"), key_pem(1)).unwrap();
    std::fs::write(d.join("c.pem"), key_pem(2)).unwrap();
    let config = text
        .replace("/var/lib/herald/verifier/verifier.db", &d.join("v.db").display().to_string())
        .replace("/etc/herald/verifier/hmac.key", &d.join("hmac.key").display().to_string())
        .replace("/etc/herald/verifier/token-t1.key.pem", &d.join("t.pem").display().to_string())
        .replace(
            "/etc/herald/verifier/certificate-c1.key.pem",
            &d.join("c.pem").display().to_string(),
        )
        .replace("[tls]\ncertificate = \"/etc/herald/verifier/server.pem\"\nkey = \"/etc/herald/verifier/server.key.pem\"\n", "");
    let path = d.join("verifier.toml");
    std::fs::write(&path, config).unwrap();
    let p = path.to_str().unwrap();
    let out =
        herald(&["verifier", "create-api-key", "--config", p, "--name", "lab", "--kind", "admin"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let key = stdout(&out);
    assert!(key.starts_with("hva_") && key.trim().len() == 52, "{key}");
    let out =
        herald(&["verifier", "create-api-key", "--config", p, "--name", "lab", "--kind", "device"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("exists already"), "{}", stderr(&out));
    let out = herald(&["verifier", "revoke-api-key", "--config", p, "--name", "lab"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = herald(&["verifier", "revoke-api-key", "--config", p, "--name", "nobody"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no API key named \"nobody\""), "{}", stderr(&out));
    let db = std::fs::read(d.join("v.db")).unwrap_or_default();
    let wal = std::fs::read(d.join("v.db-wal")).unwrap_or_default();
    for bytes in [db, wal] {
        assert!(
            !bytes.windows(key.trim().len()).any(|w| w == key.trim().as_bytes()),
            "the key is stored hashed"
        );
    }
}

#[test]
fn help_everywhere() {
    for args in [
        &["verifier", "--help"][..],
        &["verifier", "serve", "--help"],
        &["verifier", "config-example", "--help"],
        &["verifier", "create-api-key", "--help"],
        &["verifier", "revoke-api-key", "--help"],
    ] {
        let out = herald(args);
        assert!(out.status.success(), "{args:?}");
        assert!(stdout(&out).contains("Usage: herald verifier"), "{args:?}");
    }
    crate::support::check_error(
        &["verifier", "serve", "--dev", "/nonexistent-herald-dir", "--country", "DE"],
        "herald pki dev",
    );
}

#[test]
fn portal_users_from_the_cli_and_the_first_dev_administrator() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let out = herald(&["pki", "dev", "--out", d, "--countries", "DE"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // `serve --dev` makes a first administrator and prints its credentials on stdout only.
    let url_file = dir.path().join("DE").join("verifier").join("url");
    let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["verifier", "serve", "--country", "DE", "--dev", d])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.path().join("out.txt")).unwrap())
        .stderr(std::fs::File::create(dir.path().join("log.txt")).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !url_file.exists() {
        assert!(started.elapsed() < Duration::from_mins(1), "the verifier did not start");
        assert!(child.try_wait().unwrap().is_none(), "the verifier exited");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let printed = std::fs::read_to_string(dir.path().join("out.txt")).unwrap();
    let log = std::fs::read_to_string(dir.path().join("log.txt")).unwrap();
    let field = |text: &str, name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("{name} missing in {text}"))
            .trim()
            .to_owned()
    };
    let password = field(&printed, "one-time password:");
    let secret = field(&printed, "TOTP secret:");
    assert!(printed.contains("user:               admin (administrator)"), "{printed}");
    assert!(field(&printed, "otpauth URI:").starts_with("otpauth://totp/herald:admin?secret="));
    assert!(log.contains("/portal/"), "the log names the portal: {log}");
    assert!(!log.contains(&password) && !log.contains(&secret), "no secret in the log");

    let out = herald(&["verifier", "user", "add", "--dev", d, "--country", "DE", "--name", "bob"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("bob (case_worker)"));
    assert!(!stderr(&out).contains(&field(&stdout(&out), "one-time password:")));
    let out = herald(&["verifier", "user", "add", "--dev", d, "--country", "DE", "--name", "bob"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("a user named \"bob\" exists already"), "{}", stderr(&out));
    let out = herald(&["verifier", "user", "add", "--dev", d, "--country", "DE", "--name", "<b>"]);
    assert!(stderr(&out).contains("user name must be"), "{}", stderr(&out));
    let out =
        herald(&["verifier", "user", "disable", "--dev", d, "--country", "DE", "--name", "bob"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = herald(&["verifier", "user", "list", "--dev", d, "--country", "DE"]);
    assert_eq!(stdout(&out), "admin\tadministrator\tactive\nbob\tcase_worker\tdisabled\n");
    let out =
        herald(&["verifier", "user", "unlock", "--dev", d, "--country", "DE", "--name", "nobody"]);
    assert!(stderr(&out).contains("no user named \"nobody\""), "{}", stderr(&out));
}
