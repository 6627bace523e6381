//! How a store is opened: SQLite URLs and paths, in-memory databases, unreachable databases.

use herald_db::DbError;
use herald_gateway::store::{Store, StoreError, UploadMode, UploadOutcome};
use sqlx::Connection as _;

use super::{at, encrypting, keys, tag, upload};

async fn check_usable(store: &Store) {
    let batch = upload("open-1", "DE", keys("DE", 0..2));
    let outcome = store.insert_upload(&batch, UploadMode::AllOrNothing, at(0, 0)).await.unwrap();
    assert_eq!(outcome, UploadOutcome::Stored { keys: 2 });
    assert!(store.upload_tag_exists(&tag("open-1")).await.unwrap());
}

#[tokio::test]
async fn sqlite_in_memory() {
    for url in [":memory:", "sqlite::memory:"] {
        let store = Store::open(url).await.unwrap().with_at_rest(encrypting(1, &[]));
        assert_eq!(store.backend(), "sqlite");
        check_usable(&store).await;
        // One database for the whole pool, not one per connection.
        let clones: Vec<Store> = (0..4).map(|_| store.clone()).collect();
        for clone in clones {
            assert!(clone.upload_tag_exists(&tag("open-1")).await.unwrap());
        }
    }
}

#[tokio::test]
async fn sqlite_file_is_created_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain.db");
    assert!(!path.exists());
    let store = Store::open(path.to_str().unwrap()).await.unwrap().with_at_rest(encrypting(1, &[]));
    assert!(path.exists());
    check_usable(&store).await;
    store.close().await;

    let url = format!("sqlite://{}", path.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let mode: String =
        sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut conn).await.unwrap();
    assert_eq!(mode, "wal");
    conn.close().await.unwrap();

    let again = Store::open(&url).await.unwrap();
    assert!(again.upload_tag_exists(&tag("open-1")).await.unwrap());
}

#[tokio::test]
async fn unusable_locations_are_errors() {
    assert!(matches!(Store::open("").await, Err(StoreError::Db(DbError::InvalidUrl { .. }))));
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/dir/gateway.db");
    let error = Store::open(missing.to_str().unwrap()).await.unwrap_err();
    assert!(
        matches!(error, StoreError::Db(DbError::Connect { backend: "sqlite", .. })),
        "{error:?}"
    );
    // A missing PostgreSQL database fails at once (it is not a transient error to wait out).
    let admin = super::postgres_admin_url();
    let (base, _) = admin.rsplit_once('/').unwrap();
    let error = Store::open(&format!("{base}/herald_no_such_database")).await.unwrap_err();
    assert!(
        matches!(error, StoreError::Db(DbError::Connect { backend: "postgres", .. })),
        "{error:?}"
    );
}
