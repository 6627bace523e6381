//! The kit's login flow on a portal of its own (users, sessions and audit events in memory), as
//! a new service would plug in: the login form's CSRF cookie, password and TOTP, a replayed
//! code, the one-time password replaced (confirmed with it), lockout after failures (answered
//! like any wrong login), logging out, and the throttles before argon2 (busy slots, one
//! client's budget). The verifier's portal tests run the same flow on its SQLite and
//! PostgreSQL store.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Extensions, HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use herald_webkit::accounts::new_credentials;
use herald_webkit::{
    Access, Account, Accounts, AuditEvent, BoxFuture, ClientLimiter, Keyring, Layout, LoginLimiter,
    LoginPolicy, NoQuery, Pages, PasswordHasher, Portal, PortalUser, Purpose, Refusal, Session,
    Trip, auth, login,
};
use maud::Markup;
use sha2::Digest as _;
use tower::ServiceExt as _;

#[derive(Clone, Debug)]
struct User {
    name: String,
    password_hash: String,
    totp: Vec<u8>,
    failed: i64,
    locked: bool,
    change_required: bool,
    last_step: i64,
}

impl PortalUser for User {
    fn name(&self) -> &str {
        &self.name
    }
    fn is_admin(&self) -> bool {
        false
    }
    fn must_change_password(&self) -> bool {
        self.change_required
    }
}

impl Account for User {
    fn password_hash(&self) -> &str {
        &self.password_hash
    }
    fn sealed_totp_secret(&self) -> &[u8] {
        &self.totp
    }
    fn disabled(&self) -> bool {
        false
    }
    fn locked(&self, _now: i64) -> bool {
        self.locked
    }
}

struct Keys;

impl Keyring for Keys {
    fn macs(&self, purpose: Purpose, data: &[u8]) -> Vec<[u8; 32]> {
        vec![self.mac(purpose, data)]
    }
    fn mac(&self, purpose: Purpose, data: &[u8]) -> [u8; 32] {
        sha2::Sha256::new()
            .chain_update(format!("{purpose:?}"))
            .chain_update(data)
            .finalize()
            .into()
    }
}

#[derive(Default)]
struct Memory {
    users: HashMap<String, User>,
    sessions: HashMap<[u8; 32], String>,
    audit: Vec<AuditEvent>,
    trips: Vec<Trip>,
}

struct TestPortal {
    now: AtomicI64,
    policy: LoginPolicy,
    memory: Mutex<Memory>,
    limiter: LoginLimiter,
    clients: ClientLimiter,
    passwords: PasswordHasher,
}

const LAYOUT: Layout =
    Layout { product: "test portal", stylesheet: "/p/s.css", logout: "/p/logout" };

impl Portal for TestPortal {
    type User = User;
    const SESSION_COOKIE: &'static str = "test_session";
    const LOGIN_PATH: &'static str = "/p/login";
    const PASSWORD_PATH: &'static str = "/p/password";

    fn keyring(&self) -> &dyn Keyring {
        &Keys
    }

    fn session_user(&self, hash: [u8; 32]) -> BoxFuture<'_, Result<Option<User>, String>> {
        let m = self.memory.lock().unwrap();
        let user = m.sessions.get(&hash).and_then(|name| m.users.get(name)).cloned();
        Box::pin(async move { Ok(user) })
    }

    fn refusal(&self, refusal: Refusal, session: Option<&Session<User>>) -> Response {
        login::refused(self, refusal, session)
    }
}

impl Accounts for TestPortal {
    const LOGIN_COOKIE: &'static str = "test_login";
    const COOKIE_PATH: &'static str = "/p";
    const HOME_PATH: &'static str = "/p/";
    const LOGOUT_PATH: &'static str = "/p/logout";

    fn now(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }
    fn policy(&self) -> LoginPolicy {
        self.policy
    }
    fn limiter(&self) -> &LoginLimiter {
        &self.limiter
    }
    fn clients(&self) -> &ClientLimiter {
        &self.clients
    }
    /// The test's client says who it is in `x-test-client` (a real portal takes the TCP peer).
    fn client(&self, headers: &HeaderMap, _: &Extensions) -> Option<IpAddr> {
        headers.get("x-test-client")?.to_str().ok()?.parse().ok()
    }
    fn passwords(&self) -> &PasswordHasher {
        &self.passwords
    }
    fn trip(&self, trip: Trip) {
        self.memory.lock().unwrap().trips.push(trip);
    }
    fn user(&self, name: &str) -> BoxFuture<'_, Result<Option<User>, String>> {
        let user = self.memory.lock().unwrap().users.get(name).cloned();
        Box::pin(async move { Ok(user) })
    }
    fn login_succeeded(&self, user: &User, step: i64) -> BoxFuture<'_, Result<bool, String>> {
        let mut m = self.memory.lock().unwrap();
        let u = m.users.get_mut(&user.name).unwrap();
        let fresh = step > u.last_step;
        if fresh {
            u.last_step = step;
            u.failed = 0;
        }
        Box::pin(async move { Ok(fresh) })
    }
    fn login_failed(
        &self,
        user: &User,
        lockout_after: i64,
    ) -> BoxFuture<'_, Result<Option<User>, String>> {
        let mut m = self.memory.lock().unwrap();
        let u = m.users.get_mut(&user.name).unwrap();
        u.failed += 1;
        u.locked = u.failed >= lockout_after;
        let after = Some(u.clone());
        Box::pin(async move { Ok(after) })
    }
    fn add_session(
        &self,
        hash: [u8; 32],
        user: &User,
        _expires_at: i64,
    ) -> BoxFuture<'_, Result<(), String>> {
        self.memory.lock().unwrap().sessions.insert(hash, user.name.clone());
        Box::pin(async { Ok(()) })
    }
    fn delete_session(&self, hash: [u8; 32]) -> BoxFuture<'_, Result<(), String>> {
        self.memory.lock().unwrap().sessions.remove(&hash);
        Box::pin(async { Ok(()) })
    }
    fn set_password(&self, user: &User, hash: String) -> BoxFuture<'_, Result<(), String>> {
        let mut m = self.memory.lock().unwrap();
        let u = m.users.get_mut(&user.name).unwrap();
        u.password_hash = hash;
        u.change_required = false;
        let name = user.name.clone();
        m.sessions.retain(|_, n| *n != name);
        Box::pin(async { Ok(()) })
    }
    fn record(&self, event: AuditEvent) -> BoxFuture<'_, ()> {
        self.memory.lock().unwrap().audit.push(event);
        Box::pin(async {})
    }
    fn page(&self, title: &str, session: Option<&Session<User>>, content: &Markup) -> Markup {
        let who = session.map(|s| s.user.name.clone()).unwrap_or_default();
        let nav = session.map(|s| herald_webkit::Nav { links: &[], who: &who, csrf: &s.csrf });
        LAYOUT.page(title, nav.as_ref(), content)
    }
}

async fn home(_: Arc<TestPortal>, session: Session<User>, _: NoQuery) -> Response {
    format!("home of {}", session.user.name).into_response()
}

/// A browser of one: keeps the cookies, reads the `csrf` field of each page.
struct Client {
    router: Router,
    cookies: HashMap<String, String>,
    csrf: String,
    /// Sent as `x-test-client`.
    address: &'static str,
    /// The last answer's `Retry-After`.
    retry_after: Option<String>,
}

impl Client {
    async fn send(&mut self, method: &str, path: &str, form: &str) -> (StatusCode, String, String) {
        let cookie: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::COOKIE, cookie.join("; "))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("x-test-client", self.address)
            .body(Body::from(form.to_owned()))
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        self.retry_after =
            response.headers().get(header::RETRY_AFTER).map(|v| v.to_str().unwrap().to_owned());
        for set in response.headers().get_all(header::SET_COOKIE) {
            let (pair, _) = set.to_str().unwrap().split_once(';').unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        if let Some((_, rest)) = body.split_once(r#"name="csrf" value=""#) {
            rest.split('"').next().unwrap().clone_into(&mut self.csrf);
        }
        (status, location, body)
    }

    async fn login(
        &mut self,
        name: &str,
        password: &str,
        totp: &str,
    ) -> (StatusCode, String, String) {
        self.send("GET", "/p/login", "").await;
        let form = format!(
            "csrf={}&name={name}&password={}&totp={totp}",
            self.csrf,
            auth::percent_encode(password)
        );
        self.send("POST", "/p/login", &form).await
    }
}

const NOW: i64 = 1_795_898_820;

/// A portal with the user alice (to replace her one-time password at the first login), under
/// `policy`, hashing with `hasher`; alice's one-time password and TOTP secret.
fn portal(policy: LoginPolicy, hasher: PasswordHasher) -> (Arc<TestPortal>, String, Vec<u8>) {
    let (shown, stored) = new_credentials(&Keys, "test", "alice").unwrap();
    let secret = auth::base32_decode(&shown.totp_secret).unwrap();
    let alice = User {
        name: "alice".into(),
        password_hash: stored.password_hash,
        totp: stored.sealed_totp_secret,
        failed: 0,
        locked: false,
        change_required: true,
        last_step: 0,
    };
    let portal = Arc::new(TestPortal {
        now: AtomicI64::new(NOW),
        policy,
        memory: Mutex::new(Memory {
            users: HashMap::from([("alice".to_owned(), alice)]),
            ..Memory::default()
        }),
        limiter: LoginLimiter::default(),
        clients: ClientLimiter::default(),
        passwords: hasher,
    });
    (portal, shown.password.to_string(), secret)
}

const POLICY: LoginPolicy = LoginPolicy {
    attempts_per_15_minutes: 100,
    client_attempts_per_15_minutes: 100,
    lockout_after: 3,
    session_minutes: 60,
};

/// A client of `portal`'s routes from `address`.
fn client(portal: &Arc<TestPortal>, address: &'static str) -> Client {
    let router = login::routes(Pages::new())
        .page("/p/", Access::Member, home)
        .into_router(Arc::clone(portal));
    Client { router, cookies: HashMap::new(), csrf: String::new(), address, retry_after: None }
}

const WRONG: &str = "Wrong user name, password or authenticator code. After repeated failures \
     an account is locked until an administrator unlocks it.";

#[tokio::test]
async fn the_kits_login_flow_on_a_portal_of_its_own() {
    let now = NOW;
    let (portal, one_time, secret) = portal(POLICY, PasswordHasher::new(1, 4));
    let code = |t: i64| auth::totp(&secret, t.div_euclid(30));
    let mut c = client(&portal, "192.0.2.1");

    // A POST without the login cookie's token is refused before anything is read.
    let (status, _, body) = c.send("POST", "/p/login", "name=alice").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("CSRF token missing or wrong"), "{body}");
    // An unknown user and a wrong password get one answer.
    let (status, _, unknown) = c.login("mallory", "whatever", "000000").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, wrong) = c.login("alice", "not the password", &code(now)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(unknown.contains(WRONG));
    assert!(wrong.contains(WRONG));

    // The right password and code: a session, sent to replace the one-time password first.
    let (status, location, _) = c.login("alice", &one_time, &code(now)).await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/p/password"));
    assert!(c.cookies.contains_key("test_session") && !c.cookies.contains_key("test_login"));
    let (status, location, _) = c.send("GET", "/p/", "").await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/p/password"));
    let (status, _, body) = c.send("GET", "/p/password", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Choose a password") && body.contains(r#"action="/p/logout""#));
    assert!(body.contains("One-time password") && !body.contains(r#"name="totp""#), "{body}");
    let current = auth::percent_encode(&one_time);
    let x11 = "x".repeat(11);
    let short = format!("csrf={}&current={current}&new={x11}&repeat={x11}", c.csrf);
    let (status, _, body) = c.send("POST", "/p/password", &short).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("at least 12 characters"), "{body}");
    let own = "new=alices+own+passphrase&repeat=alices+own+passphrase";
    let (status, _, body) = c.send("POST", "/p/password", &format!("csrf={}&{own}", c.csrf)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the one-time password is asked again");
    assert!(body.contains("Enter your one-time password."), "{body}");
    let (status, location, _) =
        c.send("POST", "/p/password", &format!("csrf={}&current={current}&{own}", c.csrf)).await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/p/"));
    let (status, _, body) = c.send("GET", "/p/", "").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "home of alice"));

    // Logging out (with the new session's token, from a page of it) ends the session.
    c.send("GET", "/p/password", "").await;
    let logout = format!("csrf={}", c.csrf);
    let (status, location, _) = c.send("POST", "/p/logout", &logout).await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/p/login"));
    let (_, location, _) = c.send("GET", "/p/", "").await;
    assert_eq!(location, "/p/login");

    // The code just used is not accepted again, even with the new password.
    let (status, _, _) = c.login("alice", "alices own passphrase", &code(now)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a replayed code");
    // Three failures in a row lock the account (the replay above was the first); the login
    // page answers as for any wrong login, the audit log tells.
    let (status, _, _) = c.login("alice", "wrong", "000000").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, body) = c.login("alice", "wrong", "000000").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains(WRONG), "{body}");
    assert!(portal.memory.lock().unwrap().users["alice"].locked);
    portal.now.store(now + 60, Ordering::SeqCst);
    let (status, _, body) = c.login("alice", "alices own passphrase", &code(now + 60)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "locked even with the right password and code");
    assert!(body.contains(WRONG), "{body}");

    let m = portal.memory.lock().unwrap();
    let actions: Vec<&str> = m.audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "login.failed",
            "login",
            "user.password",
            "logout",
            "login.failed",
            "login.failed",
            "login.failed",
            "user.locked",
            "login.failed",
        ]
    );
    assert_eq!(m.audit.last().unwrap().subject, "locked");
    assert!(m.audit.iter().all(|e| e.at_minute % 60 == 0));
    assert_eq!(m.trips, [Trip::AccountLocked]);
    let audit_text = format!("{:?}", m.audit);
    assert!(!audit_text.contains(&one_time) && !audit_text.contains("passphrase"));
}

#[tokio::test]
async fn a_login_that_finds_every_hashing_place_taken_is_answered_at_once() {
    let (portal, one_time, secret) = portal(POLICY, PasswordHasher::new(1, 1));
    let mut c = client(&portal, "192.0.2.1");
    let code = auth::totp(&secret, NOW.div_euclid(30));
    let held = (portal.passwords.admit().unwrap(), portal.passwords.admit().unwrap());
    // Were it to wait for a slot, it would wait for ever: the timeout only keeps a broken
    // build from hanging.
    let answer =
        tokio::time::timeout(std::time::Duration::from_mins(1), c.login("alice", &one_time, &code))
            .await
            .expect("answered without waiting for a slot");
    let (status, _, body) = answer;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(body.contains("The portal is busy"), "{body}");
    assert_eq!(c.retry_after.as_deref(), Some("2"));
    {
        let m = portal.memory.lock().unwrap();
        assert_eq!(m.trips, [Trip::LoginBusy]);
        assert!(m.audit.is_empty(), "nothing was checked");
        assert_eq!((m.users["alice"].failed, m.users["alice"].last_step), (0, 0));
    }
    drop(held);
    let (status, location, _) = c.login("alice", &one_time, &code).await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/p/password"));
}

#[tokio::test]
async fn one_client_over_its_budget_is_refused_while_another_logs_in() {
    let policy = LoginPolicy { client_attempts_per_15_minutes: 3, ..POLICY };
    let (portal, one_time, secret) = portal(policy, PasswordHasher::new(1, 4));
    let code = auth::totp(&secret, NOW.div_euclid(30));
    let mut mallory = client(&portal, "192.0.2.66");
    for name in ["bob", "carol", "dave"] {
        let (status, _, _) = mallory.login(name, "guess", "000000").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
    }
    let (status, _, body) = mallory.login("alice", &one_time, &code).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "even with the right credentials");
    assert!(body.contains("Too many failed login attempts from your network"), "{body}");
    let retry: i64 = mallory.retry_after.as_deref().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    assert_eq!(portal.memory.lock().unwrap().users["alice"].last_step, 0, "not checked");

    let mut alice = client(&portal, "192.0.2.7");
    let (status, location, _) = alice.login("alice", &one_time, &code).await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/p/password"));
    assert_eq!(portal.memory.lock().unwrap().trips, [Trip::LoginClient]);
}

#[tokio::test]
async fn successful_logins_do_not_use_up_a_clients_budget() {
    let policy = LoginPolicy { client_attempts_per_15_minutes: 1, ..POLICY };
    let (portal, one_time, secret) = portal(policy, PasswordHasher::new(1, 4));
    let mut office = client(&portal, "192.0.2.7");
    for step in 0..3 {
        let t = NOW + 30 * step;
        portal.now.store(t, Ordering::SeqCst);
        let code = auth::totp(&secret, t.div_euclid(30));
        let (status, _, _) = office.login("alice", &one_time, &code).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "login {step}");
    }
    let (status, _, _) = office.login("alice", "wrong", "000000").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the one failure allowed");
    let (status, _, _) = office.login("alice", "wrong", "000000").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

#[test]
fn an_unlock_forgets_the_names_attempts() {
    let limiter = LoginLimiter::default();
    let key = LoginLimiter::key(&Keys, "Alice");
    assert_eq!(key, LoginLimiter::key(&Keys, "alice"), "case-insensitive");
    assert!((0..3).all(|_| limiter.attempt(key, NOW, 3).is_ok()));
    assert!(limiter.attempt(key, NOW, 3).is_err());
    limiter.forget(&Keys, "alice");
    assert!(limiter.attempt(key, NOW, 3).is_ok());
}
