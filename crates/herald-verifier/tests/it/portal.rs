//! The case-worker portal over HTTPS: login (password + TOTP), lockout, CSRF, roles, escaping,
//! cookies and headers, the issue/status/expire/statistics flow, limits and the audit log.

use herald_verifier::portal::CSP;
use herald_verifier::store::Role;

use crate::support::{dev_world, start, today};
use crate::web::{Web, body, make_user, text_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_needs_password_and_totp_then_a_new_password() {
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |_| {}).await;
    let mut user = make_user(&v, "carla", Role::CaseWorker).await;
    let mut web = Web::new(&v);

    let answer = web.get("/portal/").await;
    assert_eq!(answer.status, 303, "no session: to the login page");
    assert_eq!(answer.header("location"), Some("/portal/login"));

    let answer = web.login(&v, &user, "wrong password").await;
    assert_eq!(answer.status, 401);
    assert!(body(&answer).contains("Wrong user name, password or authenticator code."));
    let answer = web
        .submit(
            "/portal/login",
            "/portal/login",
            &[("name", "carla"), ("password", &user.password), ("totp", "000000")],
        )
        .await;
    assert_eq!(answer.status, 401, "a wrong TOTP code is refused");
    let answer = web
        .submit(
            "/portal/login",
            "/portal/login",
            &[("name", "nobody"), ("password", "x"), ("totp", "1")],
        )
        .await;
    assert_eq!(answer.status, 401, "an unknown user gets the same answer");
    assert!(body(&answer).contains("Wrong user name, password or authenticator code."));

    let password = user.password.clone();
    let answer = web.login(&v, &user, &password).await;
    assert_eq!(answer.status, 303, "{}", body(&answer));
    assert_eq!(answer.header("location"), Some("/portal/password"), "one-time password");
    assert_eq!(web.get("/portal/").await.header("location"), Some("/portal/password"));
    let current = user.password.clone();
    let short = [("current", current.as_str()), ("new", "short"), ("repeat", "short")];
    let answer = web.submit("/portal/password", "/portal/password", &short).await;
    assert_eq!(answer.status, 400);
    let new = "a long enough passphrase";
    let fields = [("current", current.as_str()), ("new", new), ("repeat", new)];
    let answer = web.submit("/portal/password", "/portal/password", &fields).await;
    assert_eq!(answer.status, 303);
    let home = web.get("/portal/").await;
    assert_eq!(home.status, 200);
    assert!(body(&home).contains("Create verification code"));

    // The same TOTP code is accepted once: a second login in the same step is refused.
    let mut other = Web::new(&v);
    let answer = other.login(&v, &user, new).await;
    assert_eq!(answer.status, 401, "a TOTP code is not accepted twice");
    user.password = new.to_owned();
    other.login_ready(&v, &mut user).await;
    assert_eq!(other.get("/portal/").await.status, 200);

    // Logging out ends the session.
    let answer = web.submit("/portal/", "/portal/logout", &[]).await;
    assert_eq!(answer.status, 303);
    assert_eq!(web.get("/portal/").await.header("location"), Some("/portal/login"));
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_and_security_headers() {
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |_| {}).await;
    let mut user = make_user(&v, "carla", Role::CaseWorker).await;
    let mut web = Web::new(&v);
    let login = web.get("/portal/login").await;
    for (name, value) in [
        ("content-security-policy", CSP),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
        ("cache-control", "no-store"),
        ("strict-transport-security", "max-age=63072000; includeSubDomains"),
    ] {
        assert_eq!(login.header(name), Some(value), "{name}");
    }
    assert!(CSP.contains("default-src 'none'") && CSP.contains("frame-ancestors 'none'"));
    assert!(CSP.contains("form-action 'self'") && CSP.contains("img-src 'self' data:"));
    web.login_ready(&v, &mut user).await;
    let session = web
        .set_cookies
        .iter()
        .find(|c| c.starts_with("herald_portal=") && !c.starts_with("herald_portal=;"))
        .expect("a session cookie")
        .clone();
    for attribute in ["; Secure", "; HttpOnly", "; SameSite=Strict", "; Path=/portal"] {
        assert!(session.contains(attribute), "{session} lacks {attribute}");
    }
    assert!(web.set_cookies.iter().all(|c| c.contains("; Secure; HttpOnly; SameSite=Strict")));
    let home = web.get("/portal/").await;
    assert_eq!(home.header("content-security-policy"), Some(CSP));
    assert!(!body(&home).contains("<script"), "no script at all");
    assert!(!body(&home).contains("style="), "no inline style (CSP)");
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_passwords_lock_the_account_until_an_administrator_unlocks_it() {
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |_| {}).await;
    let mut admin = make_user(&v, "ada", Role::Administrator).await;
    let mut user = make_user(&v, "carla", Role::CaseWorker).await;
    let mut web = Web::new(&v);
    for i in 1..=5 {
        let answer = web.login(&v, &user, "not the password").await;
        assert_eq!(answer.status, 401, "attempt {i}");
    }
    // The right password and code do not open a locked account; the answer is that of a wrong
    // password (the login page does not tell that the account exists).
    v.clock.advance(30);
    let password = user.password.clone();
    let answer = web.login(&v, &user, &password).await;
    assert_eq!(answer.status, 401);
    assert!(body(&answer).contains("Wrong user name, password or authenticator code."));
    assert!(v.service.store().user("carla").await.unwrap().unwrap().locked(v.now()));

    let mut admin_web = Web::new(&v);
    admin_web.login_ready(&v, &mut admin).await;
    let users = body(&admin_web.get("/portal/users").await);
    assert!(users.contains("locked"), "{users}");
    let answer =
        admin_web.submit("/portal/users", "/portal/users/unlock", &[("name", "carla")]).await;
    assert_eq!(answer.status, 303);
    web.login_ready(&v, &mut user).await;
    assert_eq!(web.get("/portal/").await.status, 200);

    let audit = body(&admin_web.get("/portal/audit").await);
    for action in ["user.locked", "user.unlock", "login.failed", "login"] {
        assert!(audit.contains(action), "audit lacks {action}");
    }
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_rate_limit_holds_per_user_name() {
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |c| c.portal.login_attempts_per_15_minutes = 3).await;
    let user = make_user(&v, "carla", Role::CaseWorker).await;
    let mut web = Web::new(&v);
    for _ in 0..3 {
        let _ = web
            .submit("/portal/login", "/portal/login", &[("name", "mallory"), ("password", "x")])
            .await;
    }
    let answer = web
        .submit("/portal/login", "/portal/login", &[("name", "mallory"), ("password", "x")])
        .await;
    assert_eq!(answer.status, 429);
    assert!(body(&answer).contains("Too many login attempts"));
    let password = user.password.clone();
    let answer = web.login(&v, &user, &password).await;
    assert_eq!(answer.status, 303, "another name is not limited");
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_without_the_right_csrf_token_are_refused_and_change_nothing() {
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |_| {}).await;
    let mut admin = make_user(&v, "ada", Role::Administrator).await;
    let mut web = Web::new(&v);
    web.login_ready(&v, &mut admin).await;
    let day = today(v.now());
    let before = v.storage().await;
    let issue = [("test_type", "confirmed"), ("symptom_date", day.as_str())];
    let answer = web.post("/portal/issue", &issue).await;
    assert_eq!(answer.status, 403, "no token");
    assert!(body(&answer).contains("CSRF token missing or wrong"));
    let mut wrong = vec![("csrf", "00".repeat(32))];
    wrong.extend(issue.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let wrong: Vec<(&str, &str)> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(web.post("/portal/issue", &wrong).await.status, 403, "a wrong token");
    // Another session's token is wrong too.
    let mut other_user = make_user(&v, "bob", Role::Administrator).await;
    let mut other = Web::new(&v);
    other.login_ready(&v, &mut other_user).await;
    let their = crate::web::csrf_of(&body(&other.get("/portal/").await));
    let mut theirs = vec![("csrf", their.as_str())];
    theirs.extend_from_slice(&issue);
    assert_eq!(web.post("/portal/issue", &theirs).await.status, 403, "another session's token");
    assert_eq!(v.storage().await, before, "no code was issued");

    assert_eq!(
        web.post("/portal/users", &[("name", "eve"), ("role", "administrator")]).await.status,
        403
    );
    assert!(v.service.store().user("eve").await.unwrap().is_none());
    assert_eq!(web.post("/portal/users/disable", &[("name", "bob")]).await.status, 403);
    assert!(!v.service.store().user("bob").await.unwrap().unwrap().disabled);
    assert_eq!(web.post("/portal/logout", &[]).await.status, 403);
    assert_eq!(web.get("/portal/").await.status, 200, "still logged in");
    // The login form has a token too (bound to a pre-login cookie).
    let mut fresh = Web::new(&v);
    let answer =
        fresh.post("/portal/login", &[("name", "ada"), ("password", "x"), ("totp", "1")]).await;
    assert_eq!(answer.status, 403);
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_workers_cannot_reach_administrator_pages() {
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |_| {}).await;
    let mut user = make_user(&v, "carla", Role::CaseWorker).await;
    let mut web = Web::new(&v);
    web.login_ready(&v, &mut user).await;
    for page in ["/portal/users", "/portal/audit", "/portal/api-keys", "/portal/settings"] {
        let answer = web.get(page).await;
        assert_eq!(answer.status, 403, "{page}");
        assert!(body(&answer).contains("This page is for administrators."));
    }
    let home = body(&web.get("/portal/").await);
    assert!(!home.contains("/portal/users"), "no link to admin pages");
    let answer = web
        .submit("/portal/", "/portal/users", &[("name", "eve"), ("role", "administrator")])
        .await;
    assert_eq!(answer.status, 403);
    assert!(v.service.store().user("eve").await.unwrap().is_none());
    let answer =
        web.submit("/portal/", "/portal/api-keys", &[("name", "k"), ("kind", "admin")]).await;
    assert_eq!(answer.status, 403);
    assert_eq!(web.get("/portal/stats").await.status, 200);
    assert_eq!(web.get("/portal/status").await.status, 200);
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_xss_payload_is_shown_as_text() {
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |_| {}).await;
    let mut admin = make_user(&v, "ada", Role::Administrator).await;
    let mut web = Web::new(&v);
    web.login_ready(&v, &mut admin).await;
    let payload = "\"><script>alert(1)</script><img src=x onerror=alert(2)>";
    let answer = web
        .submit("/portal/", "/portal/issue", &[("test_type", "confirmed"), ("test_date", payload)])
        .await;
    assert_eq!(answer.status, 400);
    let html = body(&answer);
    assert!(!html.contains("<script>alert(1)"), "{html}");
    assert!(!html.contains("<img src=x"), "{html}");
    assert!(html.contains("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"), "{html}");
    let html = body(&web.get("/portal/status?uuid=%3Cscript%3Ealert(1)%3C%2Fscript%3E").await);
    assert!(!html.contains("<script>alert(1)"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let html = body(
        &web.submit("/portal/login", "/portal/login", &[("name", payload), ("password", "x")])
            .await,
    );
    assert!(!html.contains("<script>alert(1)"));
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_redeem_status_expire_statistics_and_audit() {
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |_| {}).await;
    let mut admin = make_user(&v, "ada", Role::Administrator).await;
    let mut user = make_user(&v, "carla", Role::CaseWorker).await;
    let mut web = Web::new(&v);
    web.login_ready(&v, &mut user).await;
    let day = today(v.now());
    let answer = web
        .submit("/portal/", "/portal/issue", &[("test_type", "confirmed"), ("symptom_date", &day)])
        .await;
    assert_eq!(answer.status, 200, "{}", body(&answer));
    let html = body(&answer);
    let code = text_of(&html, "short-code").unwrap();
    let long = text_of(&html, "long-code").unwrap();
    let uuid = text_of(&html, "uuid").unwrap();
    assert_eq!(code.len(), 8);
    assert!(html.contains("data:image/svg+xml;base64,"), "a QR code");
    assert!(text_of(&html, "sms").unwrap().contains(&format!("?c={long}")));
    assert!(text_of(&html, "expires").is_some());

    let status = body(&web.get(&format!("/portal/status?uuid={uuid}")).await);
    assert_eq!(text_of(&status, "state").unwrap().trim(), "not claimed");
    let (s, _) = v.verify(&code).await;
    assert_eq!(s, 200);
    let status = body(&web.get(&format!("/portal/status?uuid={uuid}")).await);
    assert_eq!(text_of(&status, "state").unwrap().trim(), "claimed");
    assert!(!status.contains("id=\"expire\""), "a claimed code cannot be expired");

    // A second code, expired early from the portal, cannot be redeemed.
    let html = body(
        &web.submit(
            "/portal/",
            "/portal/issue",
            &[("test_type", "confirmed"), ("test_date", &day)],
        )
        .await,
    );
    let (code2, uuid2) = (text_of(&html, "short-code").unwrap(), text_of(&html, "uuid").unwrap());
    let answer = web
        .submit(&format!("/portal/status?uuid={uuid2}"), "/portal/expire", &[("uuid", &uuid2)])
        .await;
    assert_eq!(answer.status, 303);
    let status = body(&web.get(&format!("/portal/status?uuid={uuid2}")).await);
    assert_eq!(text_of(&status, "state").unwrap().trim(), "expired");
    assert_eq!(v.verify(&code2).await.0, 400, "an expired code is refused");

    let statistics = body(&web.get("/portal/stats").await);
    assert!(statistics.contains("<svg"), "a chart");
    assert!(
        statistics.contains(&format!(
            "<td>{day}</td><td class=\"issued\">2</td><td class=\"claimed\">1</td>"
        )),
        "{statistics}"
    );

    let mut admin_web = Web::new(&v);
    admin_web.login_ready(&v, &mut admin).await;
    let audit = body(&admin_web.get("/portal/audit").await);
    for action in ["code.issue", "code.status", "code.expire"] {
        assert!(audit.contains(action), "audit lacks {action}");
    }
    assert!(audit.contains(&uuid) && audit.contains("carla"));
    for secret in [&code, &long, &code2] {
        assert!(!audit.contains(secret.as_str()), "a code in the audit log");
    }
    let minutes: i64 = v.scalar("SELECT COUNT(*) FROM audit_event WHERE at_minute % 60 <> 0").await;
    assert_eq!(minutes, 0, "audit times are whole minutes");
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hourly_limits_warn_near_the_limit_and_then_refuse() {
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |c| c.portal.codes_per_user_hour = 5).await;
    let mut user = make_user(&v, "carla", Role::CaseWorker).await;
    let mut web = Web::new(&v);
    web.login_ready(&v, &mut user).await;
    let day = today(v.now());
    let fields = [("test_type", "confirmed"), ("symptom_date", day.as_str())];
    for _ in 0..3 {
        assert_eq!(web.submit("/portal/", "/portal/issue", &fields).await.status, 200);
    }
    assert!(!body(&web.get("/portal/").await).contains("Near the limit"), "3 of 5 is 60 %");
    assert_eq!(web.submit("/portal/", "/portal/issue", &fields).await.status, 200);
    assert!(body(&web.get("/portal/").await).contains("Near the limit: you issued 4 of 5"));
    assert_eq!(web.submit("/portal/", "/portal/issue", &fields).await.status, 200);
    let before = v.storage().await;
    let answer = web.submit("/portal/", "/portal/issue", &fields).await;
    assert_eq!(answer.status, 429);
    assert!(body(&answer).contains("hourly limit"));
    assert_eq!(v.storage().await, before);
    // An hour later the window has moved on.
    v.clock.advance(3600 + 60);
    assert_eq!(web.submit("/portal/", "/portal/issue", &fields).await.status, 200);
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_add_users_and_api_keys_once() {
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |_| {}).await;
    let mut admin = make_user(&v, "ada", Role::Administrator).await;
    let mut web = Web::new(&v);
    web.login_ready(&v, &mut admin).await;
    let answer = web
        .submit("/portal/users", "/portal/users", &[("name", "dora"), ("role", "case_worker")])
        .await;
    assert_eq!(answer.status, 200);
    let html = body(&answer);
    let password = text_of(&html, "otp").unwrap();
    let secret = text_of(&html, "secret").unwrap();
    let mut dora = crate::web::TestUser {
        name: "dora".into(),
        password,
        secret: herald_verifier::portal::auth::base32_decode(&secret).unwrap(),
    };
    let mut dora_web = Web::new(&v);
    dora_web.login_ready(&v, &mut dora).await;
    assert_eq!(dora_web.get("/portal/").await.status, 200);
    let users = body(&web.get("/portal/users").await);
    assert!(!users.contains(&secret), "the secret is shown once");
    // Disabling ends dora's session.
    assert_eq!(
        web.submit("/portal/users", "/portal/users/disable", &[("name", "dora")]).await.status,
        303
    );
    assert_eq!(dora_web.get("/portal/").await.header("location"), Some("/portal/login"));

    let answer = web
        .submit("/portal/api-keys", "/portal/api-keys", &[("name", "lab-1"), ("kind", "admin")])
        .await;
    let key = text_of(&body(&answer), "new-key").unwrap();
    assert!(key.starts_with("hva_"));
    let (s, _) = v
        .call(
            "/api/issue",
            Some(&key),
            &serde_json::json!({"testType": "confirmed", "symptomDate": today(v.now())}),
        )
        .await;
    assert_eq!(s, 200, "the new key works");
    assert!(!body(&web.get("/portal/api-keys").await).contains(&key));
    let settings = body(&web.get("/portal/settings").await);
    assert!(
        settings.contains("<th>Certificate signing keys (JWKS kid)</th><td>c1</td>"),
        "{settings}"
    );
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_expire_and_admin_api_actions_are_audited_too() {
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |c| c.portal.session_minutes = 10).await;
    let mut admin = make_user(&v, "ada", Role::Administrator).await;
    let mut web = Web::new(&v);
    web.login_ready(&v, &mut admin).await;
    let uuid = v.issue("confirmed").await["uuid"].as_str().unwrap().to_owned();
    let (s, _) =
        v.call("/api/checkcodestatus", Some(&v.admin), &serde_json::json!({"uuid": uuid})).await;
    assert_eq!(s, 200);
    let (s, _) =
        v.call("/api/expirecode", Some(&v.admin), &serde_json::json!({"uuid": uuid})).await;
    assert_eq!(s, 200);
    let audit = body(&web.get("/portal/audit").await);
    for action in ["code.issue", "code.status", "code.expire"] {
        assert!(
            audit.contains(&format!("<td>api:dev-admin</td><td>{action}</td><td>{uuid}</td>")),
            "{action}: {audit}"
        );
    }
    v.clock.advance(10 * 60);
    let answer = web.get("/portal/").await;
    assert_eq!(answer.header("location"), Some("/portal/login"), "the session expired");
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_ends_every_other_session() {
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |_| {}).await;
    let mut user = make_user(&v, "carla", Role::CaseWorker).await;
    let (mut mine, mut stolen) = (Web::new(&v), Web::new(&v));
    mine.login_ready(&v, &mut user).await;
    stolen.login_ready(&v, &mut user).await;
    assert_eq!(stolen.get("/portal/").await.status, 200);
    let before = mine.cookies.get("herald_portal").cloned();
    let new = "a brand new passphrase";
    v.clock.advance(30);
    let code = user.code(v.now());
    let fields =
        [("current", user.password.as_str()), ("totp", &code), ("new", new), ("repeat", new)];
    let answer = mine.submit("/portal/password", "/portal/password", &fields).await;
    assert_eq!(answer.status, 303);
    assert_ne!(mine.cookies.get("herald_portal").cloned(), before, "a new session id");
    assert_eq!(mine.get("/portal/").await.status, 200, "this session goes on");
    assert_eq!(stolen.get("/portal/").await.header("location"), Some("/portal/login"));
    v.stop().await;
}
