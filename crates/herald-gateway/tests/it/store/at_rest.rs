//! At-rest protection of key payloads (specs/efgs-gateway.md §6.1), mounted once per backend
//! (`super::BACKEND`): what the database holds, round trips, wrong keys, rotation, and rows
//! stored in plaintext before the migration or with encryption off.

use herald_gateway::store::{AtRest, NewUpload, Store, StoreError, UploadMode, UploadOutcome};
use herald_model::BatchTag;
use herald_wire::efgs::EfgsKey;

use super::{BACKEND, Backend};
use crate::store::GatewayDb as _;
use crate::store::{
    SealedColumns, at, at_rest_key, encrypting, keys, random_looking_key, unusual_keys, upload,
};

use UploadMode::AllOrNothing;

/// Stores the uploads and forms one download batch of them; its tag.
async fn store_and_batch(store: &Store, uploads: &[NewUpload]) -> BatchTag {
    for (i, upload) in uploads.iter().enumerate() {
        let now = at(0, i64::try_from(i).unwrap());
        let outcome = store.insert_upload(upload, AllOrNothing, now).await.unwrap();
        assert_eq!(outcome, UploadOutcome::Stored { keys: upload.keys.len() });
    }
    let tags = store.form_download_batches(at(0, 100), 100_000).await.unwrap();
    assert_eq!(tags.len(), 1, "{tags:?}");
    tags.into_iter().next().unwrap()
}

/// Every key of the uploads, in download order (uploads in order, keys in upload order).
fn all_keys(uploads: &[NewUpload]) -> Vec<EfgsKey> {
    uploads.iter().flat_map(|u| u.keys.clone()).collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

fn key_id_hex(columns: &SealedColumns) -> Option<String> {
    columns.1.map(|id| format!("{id:08x}"))
}

/// Asserts that every row is sealed with `at_rest_key(byte)` and holds no plaintext column.
fn assert_sealed_with(rows: &[SealedColumns], byte: u8) {
    let id = at_rest_key(byte).id().to_string();
    for row in rows {
        assert_eq!(key_id_hex(row).as_deref(), Some(id.as_str()), "row {}", row.0);
        assert!(row.2.is_some(), "row {} has no payload", row.0);
        assert_eq!(row.3, None, "row {} has plaintext key_data", row.0);
    }
}

#[tokio::test]
async fn the_database_never_holds_a_plaintext_key() {
    let Some(db) = BACKEND.fresh().await else { return };
    let store = db.open().await;
    let mut sealed = unusual_keys("DE");
    sealed.extend((0..200).map(|seed| random_looking_key("DE", seed)));
    let uploads = [upload("sealed-1", "DE", sealed), upload("sealed-2", "FR", keys("FR", 0..5))];
    let tag = store_and_batch(&store, &uploads).await;
    let expected = all_keys(&uploads);

    // Read back through the store: exactly the keys uploaded.
    assert_eq!(store.download_keys(&tag, None).await.unwrap(), expected);

    // Read the table directly: no column holds a key's bytes.
    let rows = db.sealed_columns().await;
    assert_eq!(rows.len(), expected.len());
    assert_sealed_with(&rows, 1);
    for (id, _, payload, _) in &rows {
        let payload = payload.as_deref().unwrap();
        for key in &expected {
            assert!(!contains(payload, key.key.as_bytes()), "row {id} holds a key in clear");
        }
    }
    // Nonces differ between rows.
    let mut nonces: Vec<&[u8]> = rows.iter().map(|r| &r.2.as_deref().unwrap()[..12]).collect();
    nonces.sort_unstable();
    nonces.dedup();
    assert_eq!(nonces.len(), rows.len());

    // SQLite: not anywhere in the database file or its write-ahead log either.
    if BACKEND == Backend::Sqlite {
        store.close().await;
        let path = db.url.strip_prefix("sqlite:").unwrap();
        let mut bytes = std::fs::read(path).unwrap();
        bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
        assert!(bytes.len() > 4096);
        for key in expected.iter().filter(|k| k.key.as_bytes()[4..6] != *b"FR") {
            if key.key.as_bytes() == &[0xff; 16] {
                continue; // runs of 0xff are not evidence
            }
            assert!(!contains(&bytes, key.key.as_bytes()), "a key is in the file in clear");
        }
    }
}

#[tokio::test]
async fn a_wrong_or_missing_key_is_refused_and_never_misread() {
    let Some(db) = BACKEND.fresh().await else { return };
    let store = db.open().await;
    let uploads = [upload("wrong-1", "DE", keys("DE", 0..10))];
    let tag = store_and_batch(&store, &uploads).await;
    store.close().await;

    // Only another key, or no key at all: the missing key is named.
    for at_rest in [encrypting(2, &[]), AtRest::plaintext(Vec::new()).unwrap()] {
        let other = db.open_with(at_rest).await;
        for error in [
            other.download_keys(&tag, None).await.unwrap_err(),
            other.apply_at_rest().await.unwrap_err(),
        ] {
            assert!(
                matches!(&error, StoreError::AtRestKeyMissing { key_id } if *key_id == at_rest_key(1).id()),
                "{error:?}"
            );
            assert!(error.to_string().contains(&at_rest_key(1).id().to_string()), "{error}");
        }
        other.close().await;
    }

    // A store without at-rest settings refuses to store or read keys, and serves the rest.
    let bare = Store::open(&db.url).await.unwrap();
    let error = bare
        .insert_upload(&upload("bare", "DE", keys("DE", 50..51)), AllOrNothing, at(0, 0))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::AtRestNotConfigured { .. }), "{error:?}");
    assert!(matches!(
        bare.download_keys(&tag, None).await.unwrap_err(),
        StoreError::AtRestNotConfigured { .. }
    ));
    assert!(bare.upload_tag_exists(&uploads[0].batch_tag).await.unwrap());
    bare.close().await;

    // A payload moved to another row does not open: an error, not another key.
    db.execute(
        "UPDATE diagnosis_key SET payload = \
         (SELECT payload FROM diagnosis_key WHERE ordinal = 1) WHERE ordinal = 0",
    )
    .await;
    let store = db.open().await;
    let error = store.download_keys(&tag, None).await.unwrap_err();
    assert!(
        matches!(&error, StoreError::AtRestOpen { key_id } if *key_id == at_rest_key(1).id()),
        "{error:?}"
    );
    assert!(error.to_string().contains("wrong key"), "{error}");
}

#[tokio::test]
async fn rotation_keeps_old_rows_readable_and_seals_them_anew() {
    let Some(db) = BACKEND.fresh().await else { return };
    let first = [upload("rot-1", "DE", keys("DE", 0..7))];
    let store = db.open().await;
    for u in &first {
        store.insert_upload(u, AllOrNothing, at(0, 0)).await.unwrap();
    }
    store.close().await;

    // Key 2 is current, key 1 previous: old rows read, new rows are sealed with key 2.
    let store = db.open_with(encrypting(2, &[1])).await;
    let second = upload("rot-2", "DE", keys("DE", 7..10));
    store.insert_upload(&second, AllOrNothing, at(0, 1)).await.unwrap();
    let tag = store.form_download_batches(at(0, 100), 100_000).await.unwrap().remove(0);
    let expected: Vec<EfgsKey> = keys("DE", 0..10);
    assert_eq!(store.download_keys(&tag, None).await.unwrap(), expected);
    let ids: Vec<Option<String>> = db.sealed_columns().await.iter().map(key_id_hex).collect();
    assert_eq!(ids.iter().filter(|id| **id == Some(at_rest_key(1).id().to_string())).count(), 7);

    // Startup seals the old rows with the current key, once.
    assert_eq!(store.apply_at_rest().await.unwrap(), 7);
    assert_eq!(store.apply_at_rest().await.unwrap(), 0);
    assert_sealed_with(&db.sealed_columns().await, 2);
    store.close().await;

    // The old key can go.
    let store = db.open_with(encrypting(2, &[])).await;
    assert_eq!(store.apply_at_rest().await.unwrap(), 0);
    assert_eq!(store.download_keys(&tag, None).await.unwrap(), expected);
}

#[tokio::test]
async fn rows_stored_before_the_migration_are_read_and_sealed_at_startup() {
    let Some(db) = BACKEND.fresh().await else { return };
    db.migrate_before_at_rest().await;
    let mut old_keys = unusual_keys("DE");
    old_keys.extend(keys("DE", 0..3));
    let old = upload("before", "DE", old_keys);
    db.insert_plaintext_upload(&old, at(0, 0)).await;

    // The migration keeps them.
    let store = db.open().await;
    let new = upload("after", "DE", keys("DE", 3..5));
    store.insert_upload(&new, AllOrNothing, at(0, 1)).await.unwrap();
    // A duplicate of an old row is still found by its payload hash.
    let again = upload("again", "DE", vec![keys("DE", 1..2).remove(0)]);
    let outcome = store.insert_upload(&again, AllOrNothing, at(0, 2)).await.unwrap();
    assert_eq!(outcome, UploadOutcome::Duplicates { insertable: vec![], duplicate: vec![0] });
    let tag = store.form_download_batches(at(0, 100), 100_000).await.unwrap().remove(0);
    let expected = all_keys(&[old.clone(), new]);
    let plaintext = db.sealed_columns().await.iter().filter(|r| r.3.is_some()).count();
    assert_eq!(plaintext, old.keys.len());
    // Downloads read packed rows only (the gateway packs at startup, before serving): an
    // unpacked row is an error, never a missing key.
    let error = store.download_keys(&tag, None).await.unwrap_err();
    assert!(error.to_string().contains("not packed yet"), "{error}");

    // Startup seals them; every plaintext column is cleared.
    assert_eq!(store.apply_at_rest().await.unwrap(), u64::try_from(old.keys.len()).unwrap());
    assert_sealed_with(&db.sealed_columns().await, 1);
    assert_eq!(store.download_keys(&tag, None).await.unwrap(), expected);
    let leftovers = db
        .count(
            "diagnosis_key WHERE rolling_start_interval_number IS NOT NULL \
             OR visited_countries IS NOT NULL OR origin IS NOT NULL",
        )
        .await;
    assert_eq!(leftovers, 0);
}

#[tokio::test]
async fn with_encryption_off_keys_are_packed_in_clear_and_sealed_once_it_is_on() {
    let Some(db) = BACKEND.fresh().await else { return };
    let store = db.open_with(AtRest::plaintext(Vec::new()).unwrap()).await;
    let uploads = [upload("plain", "DE", unusual_keys("DE"))];
    let tag = store_and_batch(&store, &uploads).await;
    assert_eq!(store.apply_at_rest().await.unwrap(), 0);
    let rows = db.sealed_columns().await;
    assert!(rows.iter().all(|r| r.1.is_none() && r.2.is_some() && r.3.is_none()));
    store.close().await;

    let store = db.open().await;
    assert_eq!(store.download_keys(&tag, None).await.unwrap(), all_keys(&uploads));
    assert_eq!(store.apply_at_rest().await.unwrap(), 3);
    assert_sealed_with(&db.sealed_columns().await, 1);
    assert_eq!(store.download_keys(&tag, None).await.unwrap(), all_keys(&uploads));
}

#[tokio::test]
async fn with_encryption_off_rows_from_before_the_migration_are_packed_in_clear() {
    let Some(db) = BACKEND.fresh().await else { return };
    db.migrate_before_at_rest().await;
    let old = upload("before", "DE", unusual_keys("DE"));
    db.insert_plaintext_upload(&old, at(0, 0)).await;
    let store = db.open_with(AtRest::plaintext(Vec::new()).unwrap()).await;
    assert_eq!(store.apply_at_rest().await.unwrap(), 3);
    assert_eq!(store.apply_at_rest().await.unwrap(), 0);
    let rows = db.sealed_columns().await;
    assert!(rows.iter().all(|r| r.1.is_none() && r.2.is_some() && r.3.is_none()));
    let tag = store.form_download_batches(at(0, 100), 100_000).await.unwrap().remove(0);
    assert_eq!(store.download_keys(&tag, None).await.unwrap(), old.keys);
}
