//! The portal in headless Chromium, driven over WebDriver (chromedriver): log in with password
//! and TOTP, replace the one-time password, issue a code, redeem it through the app API, see it
//! claimed and counted; an XSS payload typed into a form; five wrong passwords lock an account,
//! which an administrator unlocks (with the administrator's pages). One browser at a time. A PNG of every screen goes to `<target>/portal-screenshots/`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`/usr/bin/chromium`,
//! `/usr/bin/chromedriver`; `.ci/run` installs them). Without them the test is skipped with a
//! message, except under `CI=true`, where it fails.
//!
//! The WebDriver client is a handful of JSON calls over plain HTTP/1.1 to the local
//! chromedriver (no WebDriver crate, no second HTTP or TLS stack).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use herald_verifier::store::Role;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::support::{dev_world, start, today};
use crate::web::make_user;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// chromedriver, killed on drop.
struct Driver {
    child: Child,
    browser_pid: Option<u64>,
    profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // A failed test leaves its session open: end the browser too, not only chromedriver.
        if let Some(pid) = self.browser_pid {
            let _ = Command::new("kill").arg(pid.to_string()).stderr(Stdio::null()).status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser session.
struct Browser {
    port: u16,
    session: String,
    shots: PathBuf,
}

async fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("chromedriver: {e}"))?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
    // chromedriver keeps the connection open: read the header, then Content-Length bytes.
    let mut raw = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    let (head, length) = loop {
        let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("chromedriver closed the connection".into());
        }
        raw.extend_from_slice(&chunk[..n]);
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).into_owned();
            let length = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .ok_or("no Content-Length")?;
            raw.drain(..end + 4);
            break (head, length);
        }
    };
    while raw.len() < length {
        let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&chunk[..n]);
    }
    let payload = String::from_utf8_lossy(&raw).into_owned();
    let value: Value = serde_json::from_str(&payload).map_err(|e| format!("{e}: {payload}"))?;
    if head.starts_with("HTTP/1.1 2") {
        Ok(value["value"].clone())
    } else {
        Err(format!("{method} {path}: {head}: {value}"))
    }
}

impl Browser {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        http(self.port, method, &path, body.as_ref()).await.unwrap()
    }

    async fn go(&self, url: &str) {
        self.call("POST", "/url", Some(json!({"url": url}))).await;
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .call("POST", "/element", Some(json!({"using": "css selector", "value": css})))
            .await;
        v[ELEMENT].as_str().unwrap().to_owned()
    }

    async fn count(&self, css: &str) -> usize {
        let v = self
            .call("POST", "/elements", Some(json!({"using": "css selector", "value": css})))
            .await;
        v.as_array().unwrap().len()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.call("POST", &format!("/element/{e}/clear"), Some(json!({}))).await;
        self.call("POST", &format!("/element/{e}/value"), Some(json!({"text": text}))).await;
    }

    /// Clicks and waits for the next page (a new document element).
    async fn click(&self, css: &str) {
        let before = self.find("html").await;
        let e = self.find(css).await;
        self.call("POST", &format!("/element/{e}/click"), Some(json!({}))).await;
        for _ in 0..100 {
            let now = self
                .call("POST", "/elements", Some(json!({"using": "css selector", "value": "html"})))
                .await;
            let ready = self
                .call(
                    "POST",
                    "/execute/sync",
                    Some(json!({"script": "return document.readyState;", "args": []})),
                )
                .await;
            if now.as_array().and_then(|a| a.first()).is_some_and(|h| h[ELEMENT] != before.as_str())
                && ready == "complete"
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("clicking {css} led to no new page");
    }

    async fn text(&self, css: &str) -> String {
        let e = self.find(css).await;
        self.call("GET", &format!("/element/{e}/text"), None).await.as_str().unwrap().to_owned()
    }

    async fn url(&self) -> String {
        self.call("GET", "/url", None).await.as_str().unwrap().to_owned()
    }

    /// Sets a (date) input's value the way a date picker would.
    async fn set_value(&self, id: &str, value: &str) {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": "document.getElementById(arguments[0]).value = arguments[1];", "args": [id, value]})),
        )
        .await;
    }

    async fn screenshot(&self, name: &str) {
        let png = self.call("GET", "/screenshot", None).await;
        let bytes =
            base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap()).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(self.shots.join(format!("{name}.png")), bytes).unwrap();
    }

    async fn login(&self, base: &str, name: &str, password: &str, totp: &str) {
        self.go(&format!("{base}/portal/login")).await;
        self.type_into("#name", name).await;
        self.type_into("#password", password).await;
        self.type_into("#totp", totp).await;
        self.click("#login").await;
    }
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().to_path_buf(),
        PathBuf::from,
    );
    let dir = target.join("portal-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// chromedriver and a Chromium session, or `None` (with a message) when they are missing
/// outside CI.
async fn browser() -> Option<(Driver, Browser)> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        assert!(
            !ci,
            "CI=true: {CHROMIUM} and {CHROMEDRIVER} are needed (apt-get install chromium chromium-driver)"
        );
        eprintln!(
            "SKIPPED: browser tests need {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)"
        );
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let profile = tempfile::tempdir().unwrap();
    let mut driver = Driver { child, browser_pid: None, profile };
    for _ in 0..100 {
        if http(port, "GET", "/status", None).await.is_ok_and(|v| v["ready"] == true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let args = [
        "--headless".to_owned(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--disable-dev-shm-usage".into(),
        "--ignore-certificate-errors".into(),
        "--window-size=1200,1000".into(),
        format!("--user-data-dir={}", driver.profile.path().display()),
    ];
    let caps = json!({"capabilities": {"alwaysMatch": {
        "browserName": "chrome",
        "acceptInsecureCerts": true,
        "goog:chromeOptions": {"binary": CHROMIUM, "args": args}
    }}});
    let session = http(port, "POST", "/session", Some(&caps)).await.unwrap();
    driver.browser_pid = session["capabilities"]["goog:processID"].as_u64();
    let session = session["sessionId"].as_str().unwrap().to_owned();
    Some((driver, Browser { port, session, shots: screenshot_dir() }))
}

/// One browser at a time on this machine's two cores.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Logs in with a one-time password and replaces it with `new`.
async fn first_login(b: &Browser, base: &str, user: &crate::web::TestUser, now: i64, new: &str) {
    b.login(base, &user.name, &user.password, &user.code(now)).await;
    assert!(b.url().await.ends_with("/portal/password"), "{}", b.url().await);
    b.type_into("#new", new).await;
    b.type_into("#repeat", new).await;
    b.click("#save").await;
    assert!(b.url().await.ends_with("/portal/"), "{}", b.url().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_login_issue_redeem_then_claimed_and_counted() {
    let _one = ONE_BROWSER.lock().await;
    let Some((_driver, b)) = browser().await else { return };
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |_| {}).await;
    let carla = make_user(&v, "carla", Role::CaseWorker).await;
    let base = v.url.clone();

    // Log in with password and TOTP; the one-time password must be replaced.
    b.go(&format!("{base}/portal/login")).await;
    b.screenshot("01-login").await;
    b.login(&base, "carla", &carla.password, &carla.code(v.now())).await;
    assert!(b.url().await.ends_with("/portal/password"), "{}", b.url().await);
    b.screenshot("02-choose-password").await;
    b.type_into("#new", "carla's own passphrase").await;
    b.type_into("#repeat", "carla's own passphrase").await;
    b.click("#save").await;
    assert!(b.url().await.ends_with("/portal/"), "{}", b.url().await);
    b.screenshot("03-issue-form").await;

    // Issue a code.
    b.set_value("symptom_date", &today(v.now())).await;
    b.click("#create").await;
    let code = b.text("#short-code").await;
    let uuid = b.text("#uuid").await;
    assert_eq!(code.len(), 8, "{code}");
    assert_eq!(b.count("img#qr").await, 1);
    b.screenshot("04-issued-code").await;

    // Not claimed, then redeemed by an app through the app API, then claimed.
    b.click("#uuid").await;
    assert_eq!(b.text("#state").await, "not claimed");
    let (status, _) = v.verify(&code).await;
    assert_eq!(status, 200);
    b.go(&format!("{base}/portal/status?uuid={uuid}")).await;
    assert_eq!(b.text("#state").await, "claimed");
    b.screenshot("05-status-claimed").await;

    // Counted on the statistics page.
    b.go(&format!("{base}/portal/stats")).await;
    assert_eq!(b.text("#stats td.issued").await, "1");
    assert_eq!(b.text("#stats td.claimed").await, "1");
    assert_eq!(b.count("svg#chart rect").await, 28, "two bars a day for 14 days");
    b.screenshot("06-statistics").await;

    b.call("DELETE", "", None).await;
    v.stop().await;
    eprintln!("screenshots: {}", b.shots.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_xss_payload_typed_into_a_form_is_shown_as_text() {
    let _one = ONE_BROWSER.lock().await;
    let Some((_driver, b)) = browser().await else { return };
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |_| {}).await;
    let carla = make_user(&v, "carla", Role::CaseWorker).await;
    let base = v.url.clone();
    first_login(&b, &base, &carla, v.now(), "carla's own passphrase").await;
    let payload = "<script>alert(1)</script><img src=x onerror=alert(2)>";
    b.go(&format!("{base}/portal/status")).await;
    b.type_into("#lookup", payload).await;
    b.click("#check").await;
    let shown = b.text("p.message.error").await;
    assert!(shown.contains(payload), "{shown}");
    assert_eq!(b.count("main script").await, 0);
    assert_eq!(b.count("main img").await, 0);
    b.screenshot("07-xss-as-text").await;
    b.call("DELETE", "", None).await;
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_five_wrong_passwords_lock_the_account_and_an_administrator_unlocks_it() {
    let _one = ONE_BROWSER.lock().await;
    let Some((_driver, b)) = browser().await else { return };
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |_| {}).await;
    let carla = make_user(&v, "carla", Role::CaseWorker).await;
    let ada = make_user(&v, "ada", Role::Administrator).await;
    let base = v.url.clone();

    for _ in 0..5 {
        b.login(&base, "carla", "not my password", &carla.code(v.now())).await;
    }
    assert!(b.text("p.message.error").await.contains("locked"));
    b.login(&base, "carla", &carla.password, &carla.code(v.now())).await;
    assert!(b.text("p.message.error").await.contains("locked"), "even with the right password");
    b.screenshot("08-locked").await;

    // The administrator sees the locked user and the audit log, and unlocks her.
    first_login(&b, &base, &ada, v.now(), "ada's own passphrase!").await;
    b.go(&format!("{base}/portal/users")).await;
    b.screenshot("09-users").await;
    b.click("form[action='/portal/users/unlock'] button").await;
    assert_eq!(b.count("form[action='/portal/users/unlock']").await, 0);
    b.go(&format!("{base}/portal/audit")).await;
    let audit = b.text("#audit").await;
    assert!(audit.contains("user.locked") && audit.contains("user.unlock"), "{audit}");
    b.screenshot("10-audit-log").await;
    b.go(&format!("{base}/portal/api-keys")).await;
    b.screenshot("11-api-keys").await;
    b.go(&format!("{base}/portal/settings")).await;
    b.screenshot("12-settings").await;

    // Unlocked, she logs in (a new TOTP step: a code is accepted once).
    v.clock.advance(30);
    b.click("form.logout button").await;
    first_login(&b, &base, &carla, v.now(), "carla's own passphrase").await;
    b.call("DELETE", "", None).await;
    v.stop().await;
}
