//! The portal in headless Chromium, driven over WebDriver (chromedriver): log in with password
//! and TOTP, replace the one-time password, issue a code, redeem it through the app API, see it
//! claimed and counted; an XSS payload typed into a form; five wrong passwords lock an account
//! (the login page answers as for any wrong password; the administrator's pages show the lock),
//! which an administrator unlocks. One browser at a time. A PNG of every screen goes to `<target>/portal-screenshots/`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`/usr/bin/chromium`,
//! `/usr/bin/chromedriver`; `.ci/run` installs them). Without them the test is skipped with a
//! message, except under `CI=true`, where it fails.
//!
//! The browser helpers are `herald_testkit::webdriver` (on the `fantoccini` WebDriver client).

use std::path::{Path, PathBuf};

use herald_testkit::webdriver::{Browser, Driver};
use herald_verifier::store::Role;

use crate::support::{dev_world, start, today};
use crate::web::make_user;

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().to_path_buf(),
        PathBuf::from,
    );
    target.join("portal-screenshots")
}

async fn browser() -> Option<(Driver, Browser)> {
    herald_testkit::webdriver::browser(screenshot_dir()).await
}

async fn login(b: &Browser, base: &str, name: &str, password: &str, totp: &str) {
    b.go(&format!("{base}/portal/login")).await;
    b.type_into("#name", name).await;
    b.type_into("#password", password).await;
    b.type_into("#totp", totp).await;
    b.click("#login").await;
}

/// One browser at a time on this machine's two cores.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Logs in with a one-time password and replaces it with `new` (confirmed with the one-time
/// password).
async fn first_login(b: &Browser, base: &str, user: &crate::web::TestUser, now: i64, new: &str) {
    login(b, base, &user.name, &user.password, &user.code(now)).await;
    assert!(b.url().await.ends_with("/portal/password"), "{}", b.url().await);
    b.type_into("#current", &user.password).await;
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
    login(&b, &base, "carla", &carla.password, &carla.code(v.now())).await;
    assert!(b.url().await.ends_with("/portal/password"), "{}", b.url().await);
    b.screenshot("02-choose-password").await;
    b.type_into("#current", &carla.password).await;
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

    // The same page on a phone's screen: the navigation wraps, nothing is cut off.
    b.resize(herald_testkit::webdriver::PHONE).await;
    let overflow = b.script("return document.documentElement.scrollWidth;", vec![]).await;
    assert!(overflow.as_u64().is_some_and(|w| w <= 400), "no horizontal scrolling: {overflow}");
    b.screenshot("06b-statistics-phone").await;
    b.resize(herald_testkit::webdriver::DESKTOP).await;

    eprintln!("screenshots: {}", b.shots.display());
    b.close().await;
    v.stop().await;
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
    b.close().await;
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
        login(&b, &base, "carla", "not my password", &carla.code(v.now())).await;
    }
    let wrong = b.text("p.message.error").await;
    assert!(wrong.contains("Wrong user name, password or authenticator code."), "{wrong}");
    login(&b, &base, "carla", &carla.password, &carla.code(v.now())).await;
    assert!(b.url().await.ends_with("/portal/login"), "even with the right password");
    assert_eq!(b.text("p.message.error").await, wrong, "the same answer as a wrong password");
    b.screenshot("08-locked").await;

    // The administrator sees the locked user and the audit log, and unlocks her.
    first_login(&b, &base, &ada, v.now(), "ada's own passphrase!").await;
    b.go(&format!("{base}/portal/users")).await;
    assert!(b.text("#users").await.contains("locked"), "the lock shows to administrators");
    assert_eq!(b.count("form[action='/portal/users/unlock']").await, 1);
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
    b.close().await;
    v.stop().await;
}
