//! The storage contract, on SQLite and PostgreSQL.

use herald_db::testing::{Backend, TestDb};
use herald_verifier::store::{ApiKeyKind, ApiKeyRow, ClaimOutcome, InsertOutcome, NewCode, Store};
use herald_wire::verification::TestType;

const NOW: i64 = 1_795_898_820;
const ALL: [TestType; 4] = TestType::ALL;

async fn fresh(backend: Backend) -> Option<(TestDb, Store)> {
    let db = backend.fresh().await?;
    let store = Store::open(&db.url).await.unwrap();
    assert_eq!(store.backend(), backend.name());
    Some((db, store))
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(herald_db::testing::Backend::Sqlite).await; })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name(herald_db::testing::Backend::Postgres).await; })*
        }
    };
}

on_both!(
    codes_are_claimed_once,
    uuids_and_hashes_are_unique,
    expiry_and_accepted_types,
    tokens_are_redeemed_once,
    api_keys,
    purge_drops_expired_rows,
    concurrent_claims_have_one_winner,
);

fn code(n: u8, uuid: &str, test_type: TestType) -> NewCode {
    NewCode {
        uuid: uuid.to_owned(),
        short_hash: [n; 32],
        long_hash: [n ^ 0x80; 32],
        test_type,
        symptom_day: Some(20_780),
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
    assert_eq!(row.symptom_day, Some(20_780));
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
