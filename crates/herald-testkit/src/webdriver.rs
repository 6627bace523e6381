//! Browser tests in headless Chromium (Debian's `chromium` and `chromium-driver`), through
//! [`fantoccini`], a maintained WebDriver client (plain HTTP to a local chromedriver, on the
//! workspace's hyper; no second TLS stack). [`browser`] starts chromedriver and a session, or
//! returns `None` with a visible message when they are not installed, except under `CI=true`,
//! where a missing browser fails the test. [`Browser`] adds what the portals' tests do again and
//! again: type into a field, click and wait for the next page, read a text, take a screenshot,
//! look at a page at a phone's width.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A desktop window (what the screenshots show).
pub const DESKTOP: (u32, u32) = (1200, 1000);
/// A phone's screen.
pub const PHONE: (u32, u32) = (390, 844);

/// chromedriver and its browser, both ended on drop (also when a test fails mid-session).
pub struct Driver {
    child: Child,
    browser_pid: Option<u64>,
    profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(pid) = self.browser_pid {
            let _ = Command::new("kill").arg(pid.to_string()).stderr(Stdio::null()).status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser session.
pub struct Browser {
    client: Client,
    /// Where [`Browser::screenshot`] writes.
    pub shots: PathBuf,
}

impl Browser {
    /// The WebDriver client, for what the helpers below do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub async fn go(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("going to {url}: {e}"));
    }

    pub async fn find(&self, css: &str) -> Element {
        self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"))
    }

    pub async fn count(&self, css: &str) -> usize {
        self.client.find_all(Locator::Css(css)).await.unwrap().len()
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    /// Clicks and waits for the next page (a new document element, completely loaded).
    pub async fn click(&self, css: &str) {
        let before = self.find("html").await.element_id();
        self.find(css).await.click().await.unwrap_or_else(|e| panic!("clicking {css}: {e}"));
        for _ in 0..100 {
            let now = self.client.find_all(Locator::Css("html")).await.unwrap_or_default();
            let ready = self.script("return document.readyState;", vec![]).await;
            if now.first().is_some_and(|h| h.element_id() != before) && ready == "complete" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("clicking {css} led to no new page");
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    pub async fn url(&self) -> String {
        self.client.current_url().await.unwrap().to_string()
    }

    /// Runs a script in the page and returns its value.
    pub async fn script(&self, script: &str, args: Vec<Value>) -> Value {
        self.client.execute(script, args).await.unwrap_or_else(|e| panic!("script: {e}"))
    }

    /// Sets a (date) input's value the way a date picker would.
    pub async fn set_value(&self, id: &str, value: &str) {
        let script = "document.getElementById(arguments[0]).value = arguments[1];";
        self.script(script, vec![json!(id), json!(value)]).await;
    }

    /// Resizes the window, e.g. to [`PHONE`] or back to [`DESKTOP`].
    pub async fn resize(&self, (width, height): (u32, u32)) {
        self.client.set_window_size(width, height).await.unwrap();
    }

    pub async fn screenshot(&self, name: &str) {
        let bytes = self.client.screenshot().await.unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(self.shots.join(format!("{name}.png")), bytes).unwrap();
    }

    /// Ends the session (the browser closes).
    pub async fn close(self) {
        self.client.close().await.unwrap();
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
        format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
        format!("--user-data-dir={}", driver.profile.path().display()),
    ];
    let caps = json!({
        "browserName": "chrome",
        "acceptInsecureCerts": true,
        "goog:chromeOptions": {"binary": CHROMIUM, "args": args}
    });
    let Value::Object(caps) = caps else { unreachable!("an object") };
    let mut builder = ClientBuilder::new(HttpConnector::new());
    builder.capabilities(caps);
    let webdriver = format!("http://127.0.0.1:{port}");
    // chromedriver takes a moment to listen.
    let mut attempts = 0;
    let client = loop {
        match builder.connect(&webdriver).await {
            Ok(client) => break client,
            Err(e) => {
                attempts += 1;
                assert!(attempts < 100, "chromedriver: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    driver.browser_pid =
        client.capabilities().and_then(|c| c.get("goog:processID")).and_then(Value::as_u64);
    std::fs::create_dir_all(&shots).expect("the screenshot folder");
    Some((driver, Browser { client, shots }))
}
