//! The portal's login hardening (issue 14, finding 3): HSTS on every answer, a password change
//! confirmed with the current password (and, when not forced, a fresh TOTP code), one answer
//! for locked, unknown and wrong, an unlock that clears the name limit, and the throttles before
//! argon2 (per client, behind a proxy too).

use herald_verifier::store::Role;

use crate::support::{Running, dev_world, start};
use crate::web::{TestUser, Web, body, make_user, message_of};

const HSTS: &str = "max-age=63072000; includeSubDomains";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_portal_answer_carries_hsts() {
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |_| {}).await;
    let mut user = make_user(&v, "carla", Role::CaseWorker).await;
    let mut web = Web::new(&v);
    let answers = [
        ("login page", web.get("/portal/login").await),
        ("stylesheet", web.get("/portal/style.css").await),
        ("redirect without a session", web.get("/portal/").await),
        ("refused form", web.post("/portal/login", &[("name", "carla")]).await),
        ("failed login", web.login(&v, &user, "wrong password").await),
    ];
    for (what, answer) in answers {
        assert_eq!(answer.header("strict-transport-security"), Some(HSTS), "{what}");
    }
    web.login_ready(&v, &mut user).await;
    let home = web.get("/portal/").await;
    assert_eq!(home.status, 200);
    assert_eq!(home.header("strict-transport-security"), Some(HSTS), "a page of a session");
    v.stop().await;
}

/// Submits the password form with `fields`; the answer's status.
async fn change(web: &mut Web, fields: &[(&str, &str)]) -> u16 {
    web.submit("/portal/password", "/portal/password", fields).await.status.as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_needs_the_current_password_and_a_fresh_code() {
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |_| {}).await;
    let mut user = make_user(&v, "carla", Role::CaseWorker).await;
    let one_time = user.password.clone();
    let stored = |v: &Running| {
        let store = v.service.store().clone();
        async move { store.user("carla").await.unwrap().unwrap() }
    };
    let mut web = Web::new(&v);

    // The forced change after the first login: the one-time password is asked again (a stolen
    // session cookie alone cannot choose the password); the login's code proved the rest.
    let answer = web.login(&v, &user, &one_time).await;
    assert_eq!(answer.header("location"), Some("/portal/password"));
    let new = "carla's first own passphrase";
    assert_eq!(change(&mut web, &[("new", new), ("repeat", new)]).await, 400, "no current");
    assert_eq!(stored(&v).await.failed_logins, 0, "an empty field is not an attempt");
    let wrong = [("current", "not the one-time password"), ("new", new), ("repeat", new)];
    assert_eq!(change(&mut web, &wrong).await, 400, "a wrong current password");
    let before = stored(&v).await;
    assert!(before.password_change_required, "still the one-time password");
    assert_eq!(before.failed_logins, 1, "a wrong current password counts as a failed login");
    assert_eq!(
        change(&mut web, &[("current", &one_time), ("new", new), ("repeat", new)]).await,
        303
    );
    user.password = new.to_owned();
    assert_eq!(web.get("/portal/").await.status, 200);

    // A later change needs the current password and a code not used before.
    let newer = "carla's second own passphrase";
    let form = |current: &str, code: &str| {
        [("current", current), ("totp", code), ("new", newer), ("repeat", newer)]
            .map(|(k, f)| (k, f.to_owned()))
    };
    let login_code = user.code(v.now());
    let fresh = user.code(v.now() + 30);
    for (what, current, code) in [
        ("the code of the login (a replay)", new, login_code.as_str()),
        ("no code", new, ""),
        ("no current password", "", fresh.as_str()),
        ("a wrong current password", "something else entirely", fresh.as_str()),
    ] {
        if what == "no current password" {
            v.clock.advance(30); // the next step: `fresh` is the current code
        }
        assert_eq!(change_owned(&mut web, &form(current, code)).await, 400, "{what}");
    }
    let hash = stored(&v).await.password_hash;
    let code = fresh;
    let status = change_owned(&mut web, &form(new, &code)).await;
    assert_eq!(status, 303, "the current password and a fresh code");
    assert_ne!(stored(&v).await.password_hash, hash, "changed");
    assert_eq!(web.get("/portal/").await.status, 200);
    // The code just used cannot confirm another change.
    assert_eq!(change_owned(&mut web, &form(newer, &code)).await, 400, "a code is accepted once");
    user.password = newer.to_owned();
    v.clock.advance(30);
    let mut again = Web::new(&v);
    let answer = again.login(&v, &user, newer).await;
    assert_eq!(answer.status, 303, "the new password works: {}", body(&answer));
    v.stop().await;
}

/// [`change`] with owned values.
async fn change_owned(web: &mut Web, fields: &[(&str, String)]) -> u16 {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, f)| (*k, f.as_str())).collect();
    change(web, &fields).await
}

/// A login attempt with `name`, `password` and `totp`: its status and message box.
async fn attempt(web: &mut Web, name: &str, password: &str, totp: &str) -> (u16, String) {
    let fields = [("name", name), ("password", password), ("totp", totp)];
    let answer = web.submit("/portal/login", "/portal/login", &fields).await;
    (answer.status.as_u16(), message_of(&body(&answer)).unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locked_unknown_and_wrong_get_one_answer() {
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |_| {}).await;
    let mut admin = make_user(&v, "ada", Role::Administrator).await;
    let carla = make_user(&v, "carla", Role::CaseWorker).await;
    let dora = make_user(&v, "dora", Role::CaseWorker).await;
    let mut web = Web::new(&v);
    let (status, wrong) = attempt(&mut web, "dora", "not the password", &dora.code(v.now())).await;
    assert_eq!(status, 401);
    assert!(wrong.contains("Wrong user name, password or authenticator code."), "{wrong}");
    let mut answers = vec![
        ("an unknown name", attempt(&mut web, "nobody", "whatever", "123456").await),
        ("a wrong code", attempt(&mut web, "dora", &dora.password, "000000").await),
    ];
    // Five failures lock carla; the fifth answer and every later one are the same as the others.
    for i in 1..=5 {
        let answer = attempt(&mut web, "carla", "not the password", "000000").await;
        answers.push(if i == 5 {
            ("the failure that locks", answer)
        } else {
            ("a failure", answer)
        });
    }
    v.clock.advance(30);
    let right = attempt(&mut web, "carla", &carla.password, &carla.code(v.now())).await;
    answers.push(("a locked account with the right password and code", right));
    for (what, answer) in answers {
        assert_eq!(answer, (401, wrong.clone()), "{what}");
    }
    assert!(v.service.store().user("carla").await.unwrap().unwrap().locked(v.now()));

    // Administrators see the lock and the refused attempt.
    let mut admin_web = Web::new(&v);
    admin_web.login_ready(&v, &mut admin).await;
    let users = body(&admin_web.get("/portal/users").await);
    assert!(users.contains("locked"), "{users}");
    let audit = body(&admin_web.get("/portal/audit").await);
    assert!(audit.contains("<td>carla</td><td>user.locked</td>"), "{audit}");
    assert!(audit.contains("<td>carla</td><td>login.failed</td><td>locked</td>"), "{audit}");
    v.stop().await;
}

/// Logs `admin` in on a fresh client and unlocks `name`.
async fn unlock(v: &Running, admin: &mut TestUser, name: &str) {
    let mut web = Web::new(v);
    web.login_ready(v, admin).await;
    let answer = web.submit("/portal/users", "/portal/users/unlock", &[("name", name)]).await;
    assert_eq!(answer.status, 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unlock_clears_the_user_names_login_limit() {
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |c| {
        c.portal.login_attempts_per_15_minutes = 3;
        c.portal.lockout_after = 3;
    })
    .await;
    let mut admin = make_user(&v, "ada", Role::Administrator).await;
    let carla = make_user(&v, "carla", Role::CaseWorker).await;
    let mut web = Web::new(&v);
    for _ in 0..3 {
        assert_eq!(web.login(&v, &carla, "not the password").await.status, 401);
    }
    let answer = web.login(&v, &carla, &carla.password).await;
    assert_eq!(answer.status, 429, "the name's limit: {}", body(&answer));
    unlock(&v, &mut admin, "carla").await;
    v.clock.advance(30);
    let answer = web.login(&v, &carla, &carla.password).await;
    assert_eq!(answer.status, 303, "right away after the unlock: {}", body(&answer));
    v.stop().await;
}

/// `n` failed logins with unknown names from `web`.
async fn fail(web: &mut Web, n: usize) {
    for i in 0..n {
        let (status, _) = attempt(web, &format!("nobody-{i}"), "guess", "000000").await;
        assert_eq!(status, 401, "failure {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_over_its_budget_gets_429_while_another_logs_in() {
    use herald_verifier::internal::TRIPS;
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |c| {
        c.portal.client_login_failures_per_15_minutes = 3;
        // The test's clients all connect from 127.0.0.1: as a proxy would, they say who they are.
        c.client_address_header = Some("x-forwarded-for".to_owned());
    })
    .await;
    let carla = make_user(&v, "carla", Role::CaseWorker).await;
    let mut mallory = Web::new(&v);
    mallory.forwarded_for = Some("203.0.113.66".to_owned());
    fail(&mut mallory, 3).await;
    let answer = mallory.login(&v, &carla, &carla.password).await;
    assert_eq!(answer.status, 429, "even with the right credentials: {}", body(&answer));
    assert!(body(&answer).contains("Too many failed login attempts from your network"));
    let retry: i64 = answer.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    assert_eq!(v.service.store().user("carla").await.unwrap().unwrap().last_totp_step, 0);
    // A client that claims to be another one in front of the proxy is still mallory: only the
    // entry the proxy appends counts.
    mallory.forwarded_for = Some("198.51.100.7, 203.0.113.66".to_owned());
    assert_eq!(mallory.login(&v, &carla, &carla.password).await.status, 429);

    let mut office = Web::new(&v);
    office.forwarded_for = Some("198.51.100.7".to_owned());
    let answer = office.login(&v, &carla, &carla.password).await;
    assert_eq!(answer.status, 303, "another client: {}", body(&answer));
    assert_eq!(v.service.metrics().value(&TRIPS, "portal_login_client"), 2);
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_forwarded_for_is_ignored_unless_configured() {
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |c| c.portal.client_login_failures_per_15_minutes = 2).await;
    let carla = make_user(&v, "carla", Role::CaseWorker).await;
    let mut one = Web::new(&v);
    one.forwarded_for = Some("203.0.113.1".to_owned());
    fail(&mut one, 2).await;
    let mut other = Web::new(&v);
    other.forwarded_for = Some("203.0.113.2".to_owned());
    let answer = other.login(&v, &carla, &carla.password).await;
    assert_eq!(answer.status, 429, "the same peer (127.0.0.1), whatever it says");
    v.stop().await;
}
