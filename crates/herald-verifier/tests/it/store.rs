//! The storage contract, on SQLite and PostgreSQL.

use herald_db::testing::{Backend, TestDb};
use herald_verifier::store::{
    ApiKeyKind, ApiKeyRow, AuditEvent, ClaimOutcome, DayStats, InsertOutcome, NewCode, NewUser,
    Role, Store,
};
use herald_wire::verification::TestType;

const NOW: i64 = 1_795_898_820;
const ALL: [TestType; 4] = TestType::ALL;

async fn fresh(backend: Backend) -> Option<(TestDb, Store)> {
    let db = backend.fresh().await?;
    let store = Store::open(&db.url).await.unwrap();
    assert_eq!(store.backend(), backend.name());
    Some((db, store))
}

herald_db::on_both!(
    codes_are_claimed_once,
    uuids_and_hashes_are_unique,
    expiry_and_accepted_types,
    tokens_are_redeemed_once,
    api_keys,
    purge_drops_expired_rows,
    concurrent_claims_have_one_winner,
    portal_users_lockout_and_totp_steps,
    portal_sessions_audit_and_statistics,
);

fn code(n: u8, uuid: &str, test_type: TestType) -> NewCode {
    NewCode {
        uuid: uuid.to_owned(),
        short_hash: [n; 32],
        long_hash: [n ^ 0x80; 32],
        test_type,
        symptom_day: herald_model::Date::from_utc_day(20_780),
        test_day: None,
        issuer: "dev-admin".into(),
        external_issuer_id: Some("lab".into()),
        short_expires_at: NOW + 900,
        long_expires_at: NOW + 86_400,
    }
}

async fn codes_are_claimed_once(backend: Backend) {
    let Some((_db, store)) = fresh(backend).await else { return };
    assert_eq!(
        store.insert_code(&code(1, "u1", TestType::Likely)).await.unwrap(),
        InsertOutcome::Inserted
    );
    let ClaimOutcome::Claimed(row) = store.claim_code(&[[1; 32]], &ALL, NOW).await.unwrap() else {
        panic!("claim")
    };
    assert_eq!(row.test_type, TestType::Likely);
    assert_eq!(row.symptom_day.map(herald_model::Date::utc_day), Some(20_780));
    assert!(row.claimed);
    // The other form of the same code is used up too.
    assert_eq!(
        store.claim_code(&[[0x81; 32]], &ALL, NOW).await.unwrap(),
        ClaimOutcome::AlreadyClaimed
    );
    assert_eq!(
        store.claim_code(&[[1; 32]], &ALL, NOW).await.unwrap(),
        ClaimOutcome::AlreadyClaimed
    );
    assert_eq!(store.claim_code(&[[9; 32]], &ALL, NOW).await.unwrap(), ClaimOutcome::NotFound);
    // The second hash of a rotated secret finds it too.
    store.insert_code(&code(2, "u2", TestType::Confirmed)).await.unwrap();
    assert!(matches!(
        store.claim_code(&[[7; 32], [0x82; 32]], &ALL, NOW).await.unwrap(),
        ClaimOutcome::Claimed(_)
    ));
    let status = store.code_status("u1").await.unwrap().unwrap();
    assert!(status.claimed);
    assert_eq!(store.code_status("nope").await.unwrap(), None);
    // Each claim counted once in its day's statistics, by the claim's own transaction; the
    // refused claims not at all.
    let day = NOW.div_euclid(86_400);
    let counted = store.stats(day).await.unwrap();
    assert_eq!(
        counted.iter().map(|d| (d.day, d.issued, d.claimed)).collect::<Vec<_>>(),
        [(day, 0, 2)]
    );
}

async fn uuids_and_hashes_are_unique(backend: Backend) {
    let Some((db, store)) = fresh(backend).await else { return };
    store.insert_code(&code(1, "u1", TestType::Confirmed)).await.unwrap();
    assert_eq!(
        store.insert_code(&code(2, "u1", TestType::Confirmed)).await.unwrap(),
        InsertOutcome::UuidExists
    );
    assert_eq!(
        store.insert_code(&code(1, "u2", TestType::Confirmed)).await.unwrap(),
        InsertOutcome::Collision
    );
    // A new short hash equal to a stored long hash collides too.
    let mut crossed = code(3, "u3", TestType::Confirmed);
    crossed.short_hash = [0x81; 32];
    assert_eq!(store.insert_code(&crossed).await.unwrap(), InsertOutcome::Collision);
    assert_eq!(db.count("verification_code").await, 1);
}

async fn expiry_and_accepted_types(backend: Backend) {
    let Some((_db, store)) = fresh(backend).await else { return };
    store.insert_code(&code(1, "u1", TestType::Negative)).await.unwrap();
    // The short form expires after 15 minutes, the long one after a day.
    assert_eq!(store.claim_code(&[[1; 32]], &ALL, NOW + 900).await.unwrap(), ClaimOutcome::Expired);
    assert_eq!(
        store.claim_code(&[[0x81; 32]], &[TestType::Confirmed], NOW + 900).await.unwrap(),
        ClaimOutcome::Unsupported(TestType::Negative),
        "an unaccepted type leaves the code unclaimed"
    );
    assert!(!store.code_status("u1").await.unwrap().unwrap().claimed);
    // Expired by its issuer: both forms.
    let row = store.expire_code("u1", NOW + 1000).await.unwrap().unwrap();
    assert_eq!((row.short_expires_at, row.long_expires_at), (NOW + 900, NOW + 1000));
    assert_eq!(
        store.claim_code(&[[0x81; 32]], &ALL, NOW + 1000).await.unwrap(),
        ClaimOutcome::Expired
    );
    assert_eq!(store.expire_code("nope", NOW).await.unwrap(), None);
}

async fn tokens_are_redeemed_once(backend: Backend) {
    let Some((_db, store)) = fresh(backend).await else { return };
    assert!(store.use_token(&[5; 32], NOW + 60).await.unwrap());
    assert!(!store.use_token(&[5; 32], NOW + 60).await.unwrap());
    assert!(store.use_token(&[6; 32], NOW + 60).await.unwrap());
}

async fn api_keys(backend: Backend) {
    let Some((_db, store)) = fresh(backend).await else { return };
    assert!(store.add_api_key(&[1; 32], "a", ApiKeyKind::Admin, NOW).await.unwrap());
    assert!(!store.add_api_key(&[1; 32], "b", ApiKeyKind::Device, NOW).await.unwrap());
    assert!(
        !store.add_api_key(&[2; 32], "a", ApiKeyKind::Device, NOW).await.unwrap(),
        "names are unique"
    );
    assert_eq!(
        store.api_key(&[1; 32]).await.unwrap(),
        Some(ApiKeyRow {
            hash: [1; 32],
            name: "a".into(),
            kind: ApiKeyKind::Admin,
            revoked: false
        })
    );
    assert_eq!(store.api_key(&[3; 32]).await.unwrap(), None);
    assert!(store.revoke_api_key("a").await.unwrap());
    assert!(store.api_key(&[1; 32]).await.unwrap().unwrap().revoked);
    assert!(!store.revoke_api_key("zz").await.unwrap());
}

async fn purge_drops_expired_rows(backend: Backend) {
    let Some((db, store)) = fresh(backend).await else { return };
    store.insert_code(&code(1, "u1", TestType::Confirmed)).await.unwrap();
    store.use_token(&[5; 32], NOW + 60).await.unwrap();
    assert_eq!(store.purge(NOW, NOW).await.unwrap(), (0, 0));
    assert_eq!(store.purge(NOW + 86_401, NOW + 61).await.unwrap(), (1, 1));
    assert_eq!(db.count("verification_code").await, 0);
    assert_eq!(db.count("used_token").await, 0);
}

async fn concurrent_claims_have_one_winner(backend: Backend) {
    let Some((_db, store)) = fresh(backend).await else { return };
    store.insert_code(&code(1, "u1", TestType::Confirmed)).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(
            async move { store.claim_code(&[[1; 32]], &ALL, NOW).await.unwrap() },
        ));
    }
    let mut won = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), ClaimOutcome::Claimed(_)) {
            won += 1;
        }
    }
    assert_eq!(won, 1);
}

fn user(name: &str, role: Role) -> NewUser {
    NewUser {
        name: name.to_owned(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        totp_secret: vec![7; 48],
        role,
    }
}

async fn portal_users_lockout_and_totp_steps(backend: Backend) {
    let Some((_db, store)) = fresh(backend).await else { return };
    assert!(store.add_user(&user("ada", Role::Administrator)).await.unwrap());
    assert!(store.add_user(&user("carla", Role::CaseWorker)).await.unwrap());
    assert!(
        !store.add_user(&user("carla", Role::Administrator)).await.unwrap(),
        "names are unique"
    );
    let carla = store.user("carla").await.unwrap().unwrap();
    assert_eq!((carla.role, carla.failed_logins, carla.locked_until), (Role::CaseWorker, 0, None));
    assert!(carla.password_change_required && !carla.disabled);
    assert_eq!(carla.totp_secret, vec![7; 48]);
    assert!(!format!("{carla:?}").contains("argon2"), "Debug leaves the hash out");
    assert_eq!(
        store.users().await.unwrap().iter().map(|u| u.name.as_str()).collect::<Vec<_>>(),
        ["ada", "carla"]
    );
    for i in 1..=4 {
        let after = store.login_failed(carla.id, 5, i64::MAX).await.unwrap().unwrap();
        assert_eq!(after.failed_logins, i);
        assert!(!after.locked(NOW));
    }
    let after = store.login_failed(carla.id, 5, i64::MAX).await.unwrap().unwrap();
    assert!(after.locked(NOW), "the fifth failure locks");
    assert!(store.unlock_user("carla").await.unwrap());
    let after = store.user("carla").await.unwrap().unwrap();
    assert_eq!((after.failed_logins, after.locked_until), (0, None));
    assert!(!store.unlock_user("nobody").await.unwrap());
    // A TOTP step is accepted once, and never an older one.
    assert!(store.login_succeeded(carla.id, 100).await.unwrap());
    assert!(!store.login_succeeded(carla.id, 100).await.unwrap());
    assert!(!store.login_succeeded(carla.id, 99).await.unwrap());
    assert!(store.login_succeeded(carla.id, 101).await.unwrap());
    store.set_password(carla.id, "$argon2id$new", false).await.unwrap();
    let after = store.user("carla").await.unwrap().unwrap();
    assert_eq!(after.password_hash, "$argon2id$new");
    assert!(!after.password_change_required);
}

async fn portal_sessions_audit_and_statistics(backend: Backend) {
    let Some((_db, store)) = fresh(backend).await else { return };
    store.add_user(&user("carla", Role::CaseWorker)).await.unwrap();
    let carla = store.user("carla").await.unwrap().unwrap();
    store.add_session(&[1; 32], carla.id, NOW + 60).await.unwrap();
    assert_eq!(store.session_user(&[1; 32], NOW).await.unwrap().unwrap().name, "carla");
    assert!(store.session_user(&[1; 32], NOW + 60).await.unwrap().is_none(), "expired");
    assert!(store.session_user(&[2; 32], NOW).await.unwrap().is_none());
    store.add_session(&[3; 32], carla.id, NOW + 600).await.unwrap();
    store.delete_session(&[1; 32]).await.unwrap();
    assert!(store.session_user(&[3; 32], NOW).await.unwrap().is_some());
    assert!(store.set_user_disabled("carla", true).await.unwrap());
    assert!(store.session_user(&[3; 32], NOW).await.unwrap().is_none(), "disabling ends sessions");
    assert!(!store.set_user_disabled("nobody", true).await.unwrap());

    let minute = NOW / 60 * 60;
    for (actor, action) in [
        ("carla", "code.issue"),
        ("carla", "code.issue"),
        ("bob", "code.issue"),
        ("carla", "login"),
    ] {
        let event = AuditEvent {
            at_minute: minute,
            actor: actor.into(),
            action: action.into(),
            subject: "s".into(),
        };
        store.audit(&event).await.unwrap();
    }
    assert_eq!(store.audit_count("code.issue", Some("carla"), minute).await.unwrap(), 2);
    assert_eq!(store.audit_count("code.issue", None, minute).await.unwrap(), 3);
    assert_eq!(store.audit_count("code.issue", None, minute + 60).await.unwrap(), 0);
    let events = store.audit_events(2).await.unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].action, "login", "newest first");

    store.add_stats(20_000, 1, 0).await.unwrap();
    store.add_stats(20_000, 1, 1).await.unwrap();
    store.add_stats(20_002, 0, 1).await.unwrap();
    assert_eq!(
        store.stats(20_000).await.unwrap(),
        [
            DayStats { day: 20_000, issued: 2, claimed: 1 },
            DayStats { day: 20_002, issued: 0, claimed: 1 }
        ]
    );
    assert_eq!(store.stats(20_001).await.unwrap().len(), 1);
    assert_eq!(store.list_api_keys().await.unwrap(), []);
}
