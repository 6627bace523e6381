//! A minimal WebDriver client for headless Chromium (Debian's `chromium` and
//! `chromium-driver`): a handful of JSON calls over plain HTTP/1.1 to a local chromedriver (no
//! WebDriver crate, no second HTTP or TLS stack). [`browser`] starts chromedriver and a session,
//! or returns `None` with a visible message when they are not installed, except under
//! `CI=true`, where a missing browser fails the test.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// chromedriver, killed on drop.
pub struct Driver {
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
pub struct Browser {
    port: u16,
    session: String,
    /// Where [`Browser::screenshot`] writes.
    pub shots: PathBuf,
}

pub async fn http(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<Value, String> {
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
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        http(self.port, method, &path, body.as_ref()).await.unwrap()
    }

    pub async fn go(&self, url: &str) {
        self.call("POST", "/url", Some(json!({"url": url}))).await;
    }

    pub async fn find(&self, css: &str) -> String {
        let v = self
            .call("POST", "/element", Some(json!({"using": "css selector", "value": css})))
            .await;
        v[ELEMENT].as_str().unwrap().to_owned()
    }

    pub async fn count(&self, css: &str) -> usize {
        let v = self
            .call("POST", "/elements", Some(json!({"using": "css selector", "value": css})))
            .await;
        v.as_array().unwrap().len()
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.call("POST", &format!("/element/{e}/clear"), Some(json!({}))).await;
        self.call("POST", &format!("/element/{e}/value"), Some(json!({"text": text}))).await;
    }

    /// Clicks and waits for the next page (a new document element).
    pub async fn click(&self, css: &str) {
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

    pub async fn text(&self, css: &str) -> String {
        let e = self.find(css).await;
        self.call("GET", &format!("/element/{e}/text"), None).await.as_str().unwrap().to_owned()
    }

    pub async fn url(&self) -> String {
        self.call("GET", "/url", None).await.as_str().unwrap().to_owned()
    }

    /// Sets a (date) input's value the way a date picker would.
    pub async fn set_value(&self, id: &str, value: &str) {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": "document.getElementById(arguments[0]).value = arguments[1];", "args": [id, value]})),
        )
        .await;
    }

    pub async fn screenshot(&self, name: &str) {
        let png = self.call("GET", "/screenshot", None).await;
        let bytes =
            base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap()).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(self.shots.join(format!("{name}.png")), bytes).unwrap();
    }
}

/// chromedriver and a Chromium session, or `None` (with a message) when they are missing
/// outside CI.
pub async fn browser(shots: PathBuf) -> Option<(Driver, Browser)> {
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
    std::fs::create_dir_all(&shots).expect("the screenshot folder");
    Some((driver, Browser { port, session, shots }))
}
