//! The portal's login hardening (issue 14, finding 3): HSTS on every answer.

use herald_verifier::store::Role;

use crate::support::{dev_world, start};
use crate::web::{Web, make_user};

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
