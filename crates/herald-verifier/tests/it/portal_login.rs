//! The portal's login hardening (issue 14, finding 3): HSTS on every answer, one answer for
//! locked, unknown and wrong, an unlock that clears the name limit.

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
