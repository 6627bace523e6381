//! The store contract, mounted once per backend (`super::BACKEND`).

use std::collections::{HashMap, HashSet};

use herald_db::DbError;
use herald_gateway::store::{
    AuditRow, CallbackFailure, CountryStatistics, MAX_CALLBACK_RETRIES, Store, StoreError,
    StoreGauges, TrustKind, TrustRow, UploadMode, UploadOutcome,
};
use herald_model::{BatchTag, UnixTime};
use herald_wire::efgs::EfgsKey;

use super::BACKEND;
use crate::store::GatewayDb as _;
use crate::store::{
    BEFORE_ENTRY_SIGNATURE, FUTURE_MIGRATION, TestDb, at, cc, key, keys, tag, thumb, trust,
    unusual_keys, upload,
};

use UploadMode::{AllOrNothing, StoreValid};

async fn fresh() -> Option<(TestDb, Store)> {
    let db = BACKEND.fresh().await?;
    let store = db.open().await;
    assert_eq!(store.backend(), BACKEND.name());
    Some((db, store))
}

fn stored(keys: usize) -> UploadOutcome {
    UploadOutcome::Stored { keys }
}

fn duplicates(insertable: &[usize], duplicate: &[usize]) -> UploadOutcome {
    UploadOutcome::Duplicates { insertable: insertable.to_vec(), duplicate: duplicate.to_vec() }
}

// --- migrations ---------------------------------------------------------------------------------

#[tokio::test]
async fn opening_twice_applies_the_migrations_once() {
    let Some((db, store)) = fresh().await else { return };
    let first = upload("t1", "DE", keys("DE", 0..3));
    assert_eq!(store.insert_upload(&first, AllOrNothing, at(0, 0)).await.unwrap(), stored(3));
    let migrations = db.count("_sqlx_migrations").await;
    store.close().await;

    let again = db.open().await;
    let third = db.open().await;
    assert!(again.upload_tag_exists(&tag("t1")).await.unwrap());
    assert!(third.upload_tag_exists(&tag("t1")).await.unwrap());
    assert_eq!(db.count("_sqlx_migrations").await, migrations);
    assert_eq!(db.count("diagnosis_key").await, 3);
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let Some((db, store)) = fresh().await else { return };
    store.close().await;
    db.add_future_migration().await;
    let error = Store::open(&db.url).await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains("newer herald"), "{message}");
    let StoreError::Db(DbError::UnknownSchemaVersion { version, latest_known }) = error else {
        panic!("expected UnknownSchemaVersion, got {error:?}");
    };
    assert_eq!(version, FUTURE_MIGRATION);
    assert!(latest_known < FUTURE_MIGRATION);
}

// --- trust list ---------------------------------------------------------------------------------

#[tokio::test]
async fn trust_entries_are_stored_replaced_and_revoked() {
    let Some((_db, store)) = fresh().await else { return };
    assert!(store.trust_entries().await.unwrap().is_empty());
    let callback = trust(3, "FR", TrustKind::Callback);
    let signing = trust(2, "DE", TrustKind::Signing);
    let auth = trust(1, "DE", TrustKind::Authentication);
    for row in [&callback, &signing, &auth] {
        store.put_trust_entry(row).await.unwrap();
    }
    assert_eq!(
        store.trust_entries().await.unwrap(),
        [auth.clone(), signing.clone(), callback.clone()]
    );
    assert_eq!(store.trust_entry(&thumb(2)).await.unwrap(), Some(signing.clone()));
    assert_eq!(
        store.trust_entry(&thumb(3)).await.unwrap().unwrap().host.as_deref(),
        Some("nb3.example.org")
    );
    assert_eq!(store.trust_entry(&thumb(9)).await.unwrap(), None);

    // Same thumbprint: the row is replaced.
    let mut replaced = auth.clone();
    replaced.certificate_pem =
        "-----BEGIN CERTIFICATE-----\nother\n-----END CERTIFICATE-----\n".into();
    replaced.operator_signature = "b3RoZXI=".into();
    replaced.created_at = at(1, 0);
    store.put_trust_entry(&replaced).await.unwrap();
    assert_eq!(store.trust_entries().await.unwrap().len(), 3);
    assert_eq!(store.trust_entry(&thumb(1)).await.unwrap(), Some(replaced.clone()));

    // Revoked the only way there is: the operator's re-signed row replaces the old one, with
    // its new entry signature.
    let revoked = TrustRow {
        revoked: true,
        entry_signature: Some("cmV2b2tlZA==".into()),
        ..replaced.clone()
    };
    store.put_trust_entry(&revoked).await.unwrap();
    assert_eq!(store.trust_entry(&thumb(1)).await.unwrap(), Some(revoked));
    store.put_trust_entry(&replaced).await.unwrap();
    assert_eq!(store.trust_entry(&thumb(1)).await.unwrap(), Some(replaced));
    // A row without an entry signature (an EFGS-shaped import) is kept as it is.
    let unsigned = TrustRow { entry_signature: None, ..signing.clone() };
    store.put_trust_entry(&unsigned).await.unwrap();
    assert_eq!(store.trust_entry(&thumb(2)).await.unwrap(), Some(unsigned));
    assert_eq!(store.trust_entry(&thumb(9)).await.unwrap(), None);
}

/// Rows stored before the entry-signature migration are kept and read without one (the
/// gateway refuses them until the operator signs them anew).
#[tokio::test]
async fn trust_rows_from_before_entry_signatures_read_without_one() {
    let Some(db) = BACKEND.fresh().await else { return };
    db.migrate_to(BEFORE_ENTRY_SIGNATURE).await;
    db.execute(&format!(
        "INSERT INTO trust_entry (thumbprint, country, kind, certificate_pem, \
         operator_signature, revoked, host, created_at) VALUES ('{}', 'DE', 'SIGNING', \
         'pem', 'c2ln', TRUE, NULL, 5)",
        thumb(4).to_hex()
    ))
    .await;
    let store = db.open().await;
    let row = store.trust_entry(&thumb(4)).await.unwrap().unwrap();
    assert_eq!(row.entry_signature, None);
    assert!(row.revoked);
    assert_eq!(row.kind, TrustKind::Signing);
    store.close().await;
}

// --- uploads ------------------------------------------------------------------------------------

#[tokio::test]
async fn an_upload_is_stored_once_per_tag() {
    let Some((db, store)) = fresh().await else { return };
    assert!(!store.upload_tag_exists(&tag("DE-1")).await.unwrap());
    let first = upload("DE-1", "DE", keys("DE", 0..3));
    assert_eq!(store.insert_upload(&first, AllOrNothing, at(0, 10)).await.unwrap(), stored(3));
    assert!(store.upload_tag_exists(&tag("DE-1")).await.unwrap());
    assert!(!store.upload_tag_exists(&tag("de-1")).await.unwrap());

    // The tag is unique system-wide, whatever the keys or the country.
    for again in [upload("DE-1", "DE", keys("DE", 10..12)), upload("DE-1", "FR", keys("FR", 0..1))]
    {
        for mode in [AllOrNothing, StoreValid] {
            let outcome = store.insert_upload(&again, mode, at(0, 20)).await.unwrap();
            assert_eq!(outcome, UploadOutcome::TagExists);
        }
    }
    assert_eq!(db.count("diagnosis_key").await, 3);
    assert_eq!(db.count("upload").await, 1);

    // An empty upload registers its tag.
    let empty = upload("DE-empty", "DE", Vec::new());
    assert_eq!(store.insert_upload(&empty, AllOrNothing, at(0, 30)).await.unwrap(), stored(0));
    assert!(store.upload_tag_exists(&tag("DE-empty")).await.unwrap());
    assert_eq!(store.form_download_batches(at(0, 40), 100).await.unwrap(), ["20200731-1"]);
    assert_eq!(store.download_batch(&tag("20200731-1")).await.unwrap().unwrap().key_count, 3);
}

#[tokio::test]
async fn a_duplicate_inside_an_upload_rolls_everything_back() {
    let Some((db, store)) = fresh().await else { return };
    let [k0, k1, k2] = [key("DE", 0), key("DE", 1), key("DE", 2)];
    let batch =
        upload("DE-dup", "DE", vec![k0.clone(), k1.clone(), k0.clone(), k2.clone(), k1.clone()]);
    let outcome = store.insert_upload(&batch, AllOrNothing, at(0, 0)).await.unwrap();
    assert_eq!(outcome, duplicates(&[0, 1, 3], &[2, 4]));
    assert!(!store.upload_tag_exists(&tag("DE-dup")).await.unwrap());
    assert_eq!(db.count("diagnosis_key").await, 0);
    assert_eq!(db.count("upload").await, 0);

    // Nothing was stored: the insertable keys go in under the same tag.
    let retry = upload("DE-dup", "DE", vec![k0, k1, k2]);
    assert_eq!(store.insert_upload(&retry, AllOrNothing, at(0, 1)).await.unwrap(), stored(3));
}

#[tokio::test]
async fn a_duplicate_of_a_stored_key_rolls_everything_back() {
    let Some((db, store)) = fresh().await else { return };
    let first = upload("A", "DE", keys("DE", 0..2));
    assert_eq!(store.insert_upload(&first, AllOrNothing, at(0, 0)).await.unwrap(), stored(2));

    let second = upload("B", "DE", vec![key("DE", 2), key("DE", 1), key("DE", 3), key("DE", 0)]);
    let outcome = store.insert_upload(&second, AllOrNothing, at(0, 1)).await.unwrap();
    assert_eq!(outcome, duplicates(&[0, 2], &[1, 3]));
    // A repeat of a stored key inside the upload: both occurrences are duplicates.
    let third = upload("C", "DE", vec![key("DE", 4), key("DE", 0), key("DE", 0)]);
    let outcome = store.insert_upload(&third, AllOrNothing, at(0, 2)).await.unwrap();
    assert_eq!(outcome, duplicates(&[0], &[1, 2]));

    assert!(!store.upload_tag_exists(&tag("B")).await.unwrap());
    assert!(!store.upload_tag_exists(&tag("C")).await.unwrap());
    assert_eq!(db.count("diagnosis_key").await, 2);
    assert_eq!(db.count("upload").await, 1);
    // The rolled-back keys were not stored: they are not duplicates now.
    let retry = upload("B", "DE", vec![key("DE", 2), key("DE", 3), key("DE", 4)]);
    assert_eq!(store.insert_upload(&retry, AllOrNothing, at(0, 3)).await.unwrap(), stored(3));
}

#[tokio::test]
async fn a_key_is_a_duplicate_only_if_all_eight_fields_match() {
    let Some((_db, store)) = fresh().await else { return };
    let base = key("DE", 0);
    let mut variants = vec![base.clone()];
    let mut v = base.clone();
    v.transmission_risk = herald_wire::efgs::TransmissionRisk::NotProvided;
    variants.push(v);
    let mut v = base.clone();
    v.visited_countries.reverse();
    variants.push(v);
    let mut v = base.clone();
    v.days_since_onset = herald_wire::efgs::DaysSinceOnset::new(3).unwrap();
    variants.push(v);
    let mut v = base.clone();
    v.rolling_period = herald_model::RollingPeriod::new(143).unwrap();
    variants.push(v);
    let batch = upload("variants", "DE", variants);
    assert_eq!(store.insert_upload(&batch, AllOrNothing, at(0, 0)).await.unwrap(), stored(5));
    let again = upload("again", "DE", vec![base]);
    let outcome = store.insert_upload(&again, AllOrNothing, at(0, 1)).await.unwrap();
    assert_eq!(outcome, duplicates(&[], &[0]));
}

#[tokio::test]
async fn store_valid_mode_keeps_the_non_duplicates_and_consumes_the_tag() {
    let Some((db, store)) = fresh().await else { return };
    let first = upload("A", "DE", vec![key("DE", 0)]);
    assert_eq!(store.insert_upload(&first, StoreValid, at(0, 0)).await.unwrap(), stored(1));

    let second = upload("B", "DE", vec![key("DE", 1), key("DE", 0), key("DE", 2), key("DE", 1)]);
    let outcome = store.insert_upload(&second, StoreValid, at(0, 1)).await.unwrap();
    assert_eq!(
        outcome,
        UploadOutcome::PartiallyStored { stored: vec![0, 2], duplicate: vec![1, 3] }
    );
    assert!(store.upload_tag_exists(&tag("B")).await.unwrap());
    assert_eq!(db.count("diagnosis_key").await, 3);

    // Only duplicates: nothing stored, the tag is still consumed.
    let third = upload("C", "DE", vec![key("DE", 0)]);
    let outcome = store.insert_upload(&third, StoreValid, at(0, 2)).await.unwrap();
    assert_eq!(outcome, UploadOutcome::PartiallyStored { stored: vec![], duplicate: vec![0] });
    assert!(store.upload_tag_exists(&tag("C")).await.unwrap());
    let retry = upload("C", "DE", vec![key("DE", 5)]);
    assert_eq!(
        store.insert_upload(&retry, StoreValid, at(0, 3)).await.unwrap(),
        UploadOutcome::TagExists
    );

    // The stored keys are downloadable, in upload order; the empty upload is not batched.
    let tags = store.form_download_batches(at(0, 10), 100).await.unwrap();
    assert_eq!(tags, ["20200731-1"]);
    let downloaded = store.download_keys(&tag("20200731-1"), None).await.unwrap();
    assert_eq!(downloaded, [key("DE", 0), key("DE", 1), key("DE", 2)]);
    let audit = store.audit(&tag("20200731-1")).await.unwrap();
    assert_eq!(audit.iter().map(|row| row.amount).collect::<Vec<_>>(), [1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_uploads_of_one_tag_store_exactly_one() {
    let Some((db, store)) = fresh().await else { return };
    let tasks: Vec<_> = (0..12u32)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let batch = upload("race", "DE", keys("DE", i * 100..i * 100 + 5));
                store.insert_upload(&batch, AllOrNothing, at(0, i64::from(i))).await.unwrap()
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    assert_eq!(outcomes.iter().filter(|o| **o == stored(5)).count(), 1, "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| **o == UploadOutcome::TagExists).count(), 11);
    assert_eq!(db.count("diagnosis_key").await, 5);
    assert_eq!(db.count("upload").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_uploads_of_one_key_store_it_once() {
    let Some((db, store)) = fresh().await else { return };
    let tasks: Vec<_> = (0..12u32)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                // Each upload has a key of its own, the shared key, and another key of its own:
                // two uploads sharing keys take their locks in one order (no deadlock).
                let batch = upload(
                    &format!("race-{i}"),
                    "DE",
                    vec![key("DE", 100 + i), key("DE", 7), key("DE", 200 + i)],
                );
                store.insert_upload(&batch, AllOrNothing, at(0, i64::from(i))).await.unwrap()
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    assert_eq!(outcomes.iter().filter(|o| **o == stored(3)).count(), 1, "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| **o == duplicates(&[0, 2], &[1])).count(), 11);
    assert_eq!(db.count("diagnosis_key").await, 3);
    assert_eq!(db.count("upload").await, 1);
}

// --- download batches ---------------------------------------------------------------------------

/// Stores uploads of the given sizes from `country`, tags `<prefix>-<i>`, seeds unique per
/// upload (but the same in every call: vary the country between calls).
async fn store_uploads(store: &Store, prefix: &str, country: &str, sizes: &[u32], now: UnixTime) {
    for (i, &size) in sizes.iter().enumerate() {
        let i = u32::try_from(i).unwrap();
        let first = i * 100_000;
        let batch = upload(&format!("{prefix}-{i}"), country, keys(country, first..first + size));
        let outcome = store.insert_upload(&batch, AllOrNothing, now).await.unwrap();
        assert_eq!(outcome, stored(size as usize));
    }
}

#[tokio::test]
async fn batching_packs_whole_uploads_oldest_first() {
    let Some((_db, store)) = fresh().await else { return };
    assert!(store.form_download_batches(at(0, 0), 5).await.unwrap().is_empty());
    store_uploads(&store, "u", "DE", &[3, 4, 2, 6, 1, 1, 1], at(0, 100)).await;
    let tags = store.form_download_batches(at(0, 200), 5).await.unwrap();
    assert_eq!(tags, ["20200731-1", "20200731-2", "20200731-3", "20200731-4", "20200731-5"]);

    let mut counts = Vec::new();
    for (i, tag) in tags.iter().enumerate() {
        let batch = store.download_batch(tag).await.unwrap().unwrap();
        assert_eq!(&batch.tag, tag);
        assert_eq!(batch.created_at, at(0, 200));
        assert_eq!(batch.next_tag.as_ref(), tags.get(i + 1));
        counts.push(batch.key_count);
        let downloaded = store.download_keys(tag, None).await.unwrap();
        assert_eq!(downloaded.len() as u64, batch.key_count);
    }
    // The 6-key upload is larger than max_keys and gets a batch of its own.
    assert_eq!(counts, [3, 4, 2, 6, 3]);
    let last = store.download_keys(&tag("20200731-5"), None).await.unwrap();
    assert_eq!(last, [key("DE", 400_000), key("DE", 500_000), key("DE", 600_000)]);

    // Nothing is pending any more.
    assert!(store.form_download_batches(at(0, 300), 5).await.unwrap().is_empty());
    assert_eq!(store.download_batch(&tag("20200731-6")).await.unwrap(), None);
}

#[tokio::test]
async fn batch_tags_count_per_day_and_link_across_days() {
    let Some((_db, store)) = fresh().await else { return };
    store_uploads(&store, "d0a", "DE", &[1], at(0, 10)).await;
    assert_eq!(store.form_download_batches(at(0, 100), 10).await.unwrap(), ["20200731-1"]);
    store_uploads(&store, "d0b", "FR", &[2], at(0, 110)).await;
    assert_eq!(store.form_download_batches(at(0, 200), 10).await.unwrap(), ["20200731-2"]);
    store_uploads(&store, "d1a", "NL", &[1], at(0, 86_000)).await;
    assert_eq!(store.form_download_batches(at(1, 50), 10).await.unwrap(), ["20200801-1"]);
    let linked = store.download_batch(&tag("20200731-2")).await.unwrap().unwrap();
    assert_eq!(linked.next_tag.as_ref().map(BatchTag::as_str), Some("20200801-1"));

    // A batcher whose clock is behind still extends the chain in order.
    store_uploads(&store, "late", "AT", &[1], at(1, 60)).await;
    assert_eq!(store.form_download_batches(at(0, 300), 10).await.unwrap(), ["20200801-2"]);
    let late = store.download_batch(&tag("20200801-2")).await.unwrap().unwrap();
    assert_eq!(late.created_at, at(1, 50));
    assert_eq!(late.next_tag, None);
    assert_eq!(
        store
            .download_batch(&tag("20200801-1"))
            .await
            .unwrap()
            .unwrap()
            .next_tag
            .as_ref()
            .map(BatchTag::as_str),
        Some("20200801-2")
    );

    let first_since = |since| {
        let store = store.clone();
        async move {
            store
                .first_download_batch_since(since)
                .await
                .unwrap()
                .map(|b| b.tag.as_str().to_owned())
        }
    };
    assert_eq!(first_since(at(-1, 0)).await.as_deref(), Some("20200731-1"));
    assert_eq!(first_since(at(0, 100)).await.as_deref(), Some("20200731-1"));
    assert_eq!(first_since(at(0, 101)).await.as_deref(), Some("20200731-2"));
    assert_eq!(first_since(at(1, 0)).await.as_deref(), Some("20200801-1"));
    assert_eq!(first_since(at(1, 51)).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_batchers_assign_each_upload_exactly_once() {
    let Some((db, first)) = fresh().await else { return };
    let second = db.open().await;
    let now = at(0, 1000);
    let size = |i: u32| 1 + i % 3;
    let total_uploads = 60u32;
    let upload_one = move |store: Store, i: u32| async move {
        let batch = upload(&format!("c-{i}"), "DE", keys("DE", i * 10..i * 10 + size(i)));
        let outcome = store.insert_upload(&batch, AllOrNothing, now).await.unwrap();
        assert_eq!(outcome, stored(size(i) as usize));
    };
    for i in 0..total_uploads / 2 {
        upload_one(first.clone(), i).await;
    }
    // Four batchers on two handles, while the second half of the uploads arrives.
    let mut tasks = Vec::new();
    for b in 0..4 {
        let store = if b % 2 == 0 { first.clone() } else { second.clone() };
        tasks.push(tokio::spawn(async move {
            let mut tags = Vec::new();
            for _ in 0..6 {
                tags.extend(store.form_download_batches(now, 7).await.unwrap());
                tokio::task::yield_now().await;
            }
            tags
        }));
    }
    let uploader = tokio::spawn({
        let store = second.clone();
        async move {
            for i in total_uploads / 2..total_uploads {
                upload_one(store.clone(), i).await;
            }
        }
    });
    uploader.await.unwrap();
    let mut tags = Vec::new();
    for task in tasks {
        tags.extend(task.await.unwrap());
    }
    tags.extend(first.form_download_batches(now, 7).await.unwrap());

    let unique: HashSet<&BatchTag> = tags.iter().collect();
    assert_eq!(unique.len(), tags.len(), "duplicate tags: {tags:?}");
    // The chain from the first batch visits every batch once, numbered 1, 2, 3, ...
    let mut chain = Vec::new();
    let mut next = first.first_download_batch_since(at(0, 0)).await.unwrap();
    while let Some(batch) = next {
        assert!(batch.key_count <= 7);
        chain.push(batch.tag.as_str().to_owned());
        next = match batch.next_tag {
            Some(tag) => first.download_batch(&tag).await.unwrap(),
            None => None,
        };
    }
    let expected: Vec<String> = (1..=tags.len()).map(|n| format!("20200731-{n}")).collect();
    assert_eq!(chain, expected);
    // Every upload is in exactly one batch, whole.
    let mut batch_of_upload: HashMap<u32, &str> = HashMap::new();
    let mut keys_seen = 0usize;
    for tag in &chain {
        for downloaded in store_keys(&first, tag).await {
            let seed = u32::from_be_bytes(downloaded.key.as_bytes()[..4].try_into().unwrap());
            let owner = batch_of_upload.entry(seed / 10).or_insert(tag);
            assert_eq!(*owner, tag.as_str(), "upload {} split", seed / 10);
            keys_seen += 1;
        }
    }
    assert_eq!(batch_of_upload.len(), total_uploads as usize);
    let total_keys: u32 = (0..total_uploads).map(size).sum();
    assert_eq!(keys_seen, total_keys as usize);
    assert_eq!(db.count("upload WHERE download_batch_id IS NULL").await, 0);
}

async fn store_keys(store: &Store, text: &str) -> Vec<EfgsKey> {
    store.download_keys(&tag(text), None).await.unwrap()
}

/// Four uploads (DE, FR, DE, NL) at different times in one download batch.
async fn four_uploads(store: &Store) -> [(String, Vec<EfgsKey>); 4] {
    let mut de1 = unusual_keys("DE");
    de1.insert(1, key("DE", 1));
    let uploads = [
        ("DE-1".to_owned(), de1),
        ("FR-1".to_owned(), vec![key("FR", 2), key("FR", 1)]),
        ("DE-2".to_owned(), vec![key("DE", 3)]),
        ("NL-1".to_owned(), unusual_keys("NL")),
    ];
    for (i, (tag, keys)) in uploads.iter().enumerate() {
        let country = &tag[..2];
        let batch = upload(tag, country, keys.clone());
        let now = at(0, 100 * i64::try_from(i).unwrap());
        assert_eq!(
            store.insert_upload(&batch, AllOrNothing, now).await.unwrap(),
            stored(keys.len())
        );
    }
    assert_eq!(store.form_download_batches(at(0, 1000), 5000).await.unwrap(), ["20200731-1"]);
    uploads
}

#[tokio::test]
async fn download_keys_are_grouped_by_upload_and_filtered_by_country() {
    let Some((_db, store)) = fresh().await else { return };
    let [de1, fr1, de2, nl1] = four_uploads(&store).await;
    let all: Vec<EfgsKey> =
        [&de1.1, &fr1.1, &de2.1, &nl1.1].into_iter().flatten().cloned().collect();
    // Every field round-trips exactly, in upload order.
    assert_eq!(store.download_keys(&tag("20200731-1"), None).await.unwrap(), all);
    assert_eq!(store.download_keys(&tag("20200731-1"), Some(cc("IT"))).await.unwrap(), all);
    let without_de: Vec<EfgsKey> = [&fr1.1, &nl1.1].into_iter().flatten().cloned().collect();
    assert_eq!(store.download_keys(&tag("20200731-1"), Some(cc("DE"))).await.unwrap(), without_de);
    let batch = store.download_batch(&tag("20200731-1")).await.unwrap().unwrap();
    assert_eq!(batch.key_count, all.len() as u64);

    // A batch holding only the requester's keys downloads empty.
    store_uploads(&store, "solo", "AT", &[2], at(0, 2000)).await;
    assert_eq!(store.form_download_batches(at(0, 2100), 5000).await.unwrap(), ["20200731-2"]);
    assert!(store.download_keys(&tag("20200731-2"), Some(cc("AT"))).await.unwrap().is_empty());
    assert_eq!(store.download_keys(&tag("20200731-2"), Some(cc("DE"))).await.unwrap().len(), 2);
    // Unknown tags.
    assert!(store.download_keys(&tag("20200731-9"), None).await.unwrap().is_empty());
    assert_eq!(store.download_batch(&tag("20200731-9")).await.unwrap(), None);
}

#[tokio::test]
async fn audit_has_one_row_per_upload_in_download_order() {
    let Some((_db, store)) = fresh().await else { return };
    let uploads = four_uploads(&store).await;
    let audit = store.audit(&tag("20200731-1")).await.unwrap();
    let expected: Vec<AuditRow> = uploads
        .iter()
        .enumerate()
        .map(|(i, (tag, keys))| {
            let sent = upload(tag, &tag[..2], keys.clone());
            AuditRow {
                country: sent.country,
                uploaded_at: at(0, 100 * i64::try_from(i).unwrap()),
                auth_thumbprint: sent.auth_thumbprint,
                signing_thumbprint: sent.signing_thumbprint,
                batch_signature: sent.batch_signature,
                amount: keys.len() as u64,
            }
        })
        .collect();
    assert_eq!(audit, expected);
    assert!(store.audit(&tag("20200731-9")).await.unwrap().is_empty());
}

// --- retention and leases -----------------------------------------------------------------------

#[tokio::test]
async fn retention_deletes_keys_and_keeps_tags() {
    let Some((db, store)) = fresh().await else { return };
    store_uploads(&store, "old", "DE", &[3], at(0, 0)).await;
    assert_eq!(store.form_download_batches(at(0, 10), 100).await.unwrap(), ["20200731-1"]);
    store_uploads(&store, "new", "FR", &[2], at(1, 0)).await;
    store_uploads(&store, "newer", "NL", &[1], at(2, 0)).await;

    assert_eq!(store.purge_keys_created_before(at(0, 0)).await.unwrap(), 0);
    assert_eq!(store.purge_keys_created_before(at(1, 0)).await.unwrap(), 3);
    assert_eq!(store.purge_keys_created_before(at(1, 0)).await.unwrap(), 0);
    assert_eq!(db.count("diagnosis_key").await, 3);

    // The tag stays registered; the keys are gone, so they are no longer duplicates.
    assert!(store.upload_tag_exists(&tag("old-0")).await.unwrap());
    let reuse = upload("old-0", "DE", vec![key("DE", 99)]);
    assert_eq!(
        store.insert_upload(&reuse, AllOrNothing, at(2, 1)).await.unwrap(),
        UploadOutcome::TagExists
    );
    let resend = upload("old-again", "DE", keys("DE", 0..3));
    assert_eq!(store.insert_upload(&resend, AllOrNothing, at(2, 2)).await.unwrap(), stored(3));

    // The download batch stays and downloads empty; its audit has no rows left.
    let batch = store.download_batch(&tag("20200731-1")).await.unwrap().unwrap();
    assert_eq!(batch.key_count, 3);
    assert!(store.download_keys(&tag("20200731-1"), None).await.unwrap().is_empty());
    assert!(store.audit(&tag("20200731-1")).await.unwrap().is_empty());
}

#[tokio::test]
async fn retention_purges_large_volumes_in_chunks() {
    let Some((db, store)) = fresh().await else { return };
    store_uploads(&store, "big", "DE", &[5000, 4000, 10], at(0, 0)).await;
    store_uploads(&store, "keep", "FR", &[5], at(1, 0)).await;
    assert_eq!(store.purge_keys_created_before(at(1, 0)).await.unwrap(), 9010);
    assert_eq!(db.count("diagnosis_key").await, 5);
}

#[tokio::test]
async fn a_lease_has_one_holder_until_it_expires() {
    let Some((_db, store)) = fresh().await else { return };
    let t = |s| at(0, s);
    assert!(store.try_lease("batching", "a", t(0), 60).await.unwrap());
    assert!(!store.try_lease("batching", "b", t(10), 60).await.unwrap());
    // Renewal by the holder.
    assert!(store.try_lease("batching", "a", t(30), 60).await.unwrap());
    assert!(!store.try_lease("batching", "b", t(89), 60).await.unwrap());
    // Expired at t(90): anyone may take it.
    assert!(store.try_lease("batching", "b", t(90), 60).await.unwrap());
    assert!(!store.try_lease("batching", "a", t(91), 60).await.unwrap());
    // Jobs are independent.
    assert!(store.try_lease("retention", "a", t(91), 60).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_contested_lease_goes_to_exactly_one_holder() {
    let Some((db, first)) = fresh().await else { return };
    let second = db.open().await;
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let store = if i % 2 == 0 { first.clone() } else { second.clone() };
            tokio::spawn(async move {
                store.try_lease("callbacks", &format!("node-{i}"), at(0, 0), 300).await.unwrap()
            })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        winners += usize::from(task.await.unwrap());
    }
    assert_eq!(winners, 1);
}

// --- callbacks ----------------------------------------------------------------------------------

/// (callback id, url, suspended) of a country's subscriptions.
async fn subscriptions(store: &Store, country: &str) -> Vec<(String, String, bool)> {
    store
        .callbacks(cc(country))
        .await
        .unwrap()
        .into_iter()
        .map(|s| {
            assert_eq!(s.country, cc(country));
            (s.callback_id, s.url, s.suspended_at.is_some())
        })
        .collect()
}

/// (country, callback id, batch tag) of the due tasks.
async fn due(store: &Store, now: UnixTime, wait: i64) -> Vec<(String, String, String)> {
    store
        .due_callback_tasks(now, wait, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.country.as_str().to_owned(), t.callback_id, t.batch_tag.as_str().to_owned()))
        .collect()
}

fn task(country: &str, id: &str, tag: &str) -> (String, String, String) {
    (country.to_owned(), id.to_owned(), tag.to_owned())
}

#[tokio::test]
async fn callback_subscriptions_are_upserted_listed_per_country_and_deleted() {
    let Some((_db, store)) = fresh().await else { return };
    assert!(subscriptions(&store, "DE").await.is_empty());
    store.put_callback(cc("DE"), "b", "https://de.example/b", at(0, 1)).await.unwrap();
    store.put_callback(cc("DE"), "a", "https://de.example/a", at(0, 2)).await.unwrap();
    store.put_callback(cc("NL"), "a", "https://nl.example/a", at(0, 3)).await.unwrap();
    // Upsert on (country, id): the URL is replaced, the creation time kept.
    store.put_callback(cc("DE"), "b", "https://de.example/b2", at(0, 4)).await.unwrap();
    let id32 = "x".repeat(32);
    store.put_callback(cc("FR"), &id32, "https://fr.example/", at(0, 5)).await.unwrap();
    assert_eq!(
        subscriptions(&store, "DE").await,
        [
            ("a".to_owned(), "https://de.example/a".to_owned(), false),
            ("b".to_owned(), "https://de.example/b2".to_owned(), false)
        ]
    );
    let de = store.callbacks(cc("DE")).await.unwrap();
    assert_eq!(de[1].created_at, at(0, 1));
    assert_eq!(subscriptions(&store, "NL").await.len(), 1);
    assert_eq!(subscriptions(&store, "FR").await[0].0, id32);

    // Deleting is per country.
    assert!(!store.delete_callback(cc("NL"), "b").await.unwrap());
    assert!(store.delete_callback(cc("DE"), "b").await.unwrap());
    assert!(!store.delete_callback(cc("DE"), "b").await.unwrap());
    assert_eq!(subscriptions(&store, "DE").await.len(), 1);
    assert_eq!(subscriptions(&store, "NL").await.len(), 1);
}

#[tokio::test]
async fn every_new_download_batch_gets_one_task_per_active_subscription() {
    let Some((_db, store)) = fresh().await else { return };
    store_uploads(&store, "early", "DE", &[1], at(0, 10)).await;
    // Batches formed before a subscription existed are not announced to it.
    assert_eq!(store.form_download_batches(at(0, 20), 10).await.unwrap(), ["20200731-1"]);
    store.put_callback(cc("DE"), "de", "https://de.example/cb", at(0, 30)).await.unwrap();
    store.put_callback(cc("NL"), "nl", "https://nl.example/cb", at(0, 30)).await.unwrap();
    store_uploads(&store, "u", "FR", &[2, 2], at(0, 40)).await;
    let tags = store.form_download_batches(at(0, 50), 2).await.unwrap();
    assert_eq!(tags, ["20200731-2", "20200731-3"]);
    assert_eq!(
        store.pending_callback_tasks().await.unwrap(),
        [
            (cc("DE"), "de".to_owned(), tag("20200731-2")),
            (cc("NL"), "nl".to_owned(), tag("20200731-2")),
            (cc("DE"), "de".to_owned(), tag("20200731-3")),
            (cc("NL"), "nl".to_owned(), tag("20200731-3")),
        ]
    );
    // Creating the tasks of a batch again adds nothing; an unknown batch gets none.
    assert_eq!(store.create_callback_tasks(&tag("20200731-3"), at(0, 60)).await.unwrap(), 0);
    assert_eq!(store.create_callback_tasks(&tag("20990101-1"), at(0, 60)).await.unwrap(), 0);
    // An explicit call announces an older batch too (after the chain so far).
    assert_eq!(store.create_callback_tasks(&tag("20200731-1"), at(0, 60)).await.unwrap(), 2);

    // Only the oldest task of each subscription is due, with the batch's date.
    let tasks = store.due_callback_tasks(at(0, 70), 300, 100).await.unwrap();
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[0].batch_tag, "20200731-2");
    assert_eq!(tasks[0].batch_created_at, at(0, 50));
    assert_eq!(tasks[0].url, "https://de.example/cb");
    assert_eq!(tasks[0].retries, 0);
}

#[tokio::test]
async fn callback_tasks_run_in_order_and_wait_between_retries() {
    let Some((_db, store)) = fresh().await else { return };
    store.put_callback(cc("DE"), "de", "https://de.example/cb", at(0, 1)).await.unwrap();
    store.put_callback(cc("NL"), "nl", "https://nl.example/cb", at(0, 1)).await.unwrap();
    store_uploads(&store, "u", "FR", &[1, 1, 1], at(0, 10)).await;
    let tags = store.form_download_batches(at(0, 20), 1).await.unwrap();
    assert_eq!(tags.len(), 3);
    assert_eq!(
        due(&store, at(0, 30), 300).await,
        [task("DE", "de", "20200731-1"), task("NL", "nl", "20200731-1")]
    );
    let de = store.due_callback_tasks(at(0, 30), 300, 1).await.unwrap();
    assert_eq!(de.len(), 1, "the limit holds");
    let de = &de[0];

    // A failure blocks DE's next task until the retry wait has passed.
    assert_eq!(
        store.callback_failed(de.id, at(0, 30)).await.unwrap(),
        CallbackFailure::WillRetry { retries: 1 }
    );
    assert_eq!(due(&store, at(0, 31), 300).await, [task("NL", "nl", "20200731-1")]);
    assert_eq!(due(&store, at(0, 329), 300).await, [task("NL", "nl", "20200731-1")]);
    let again = store.due_callback_tasks(at(0, 330), 300, 100).await.unwrap();
    assert_eq!(again[0].id, de.id);
    assert_eq!(again[0].retries, 1);

    // Success unblocks the successor.
    store.callback_succeeded(de.id).await.unwrap();
    assert_eq!(
        due(&store, at(0, 331), 300).await,
        [task("NL", "nl", "20200731-1"), task("DE", "de", "20200731-2")]
    );

    // Deleting a subscription deletes its pending tasks.
    assert!(store.delete_callback(cc("NL"), "nl").await.unwrap());
    assert_eq!(due(&store, at(0, 332), 300).await, [task("DE", "de", "20200731-2")]);
    assert!(store.pending_callback_tasks().await.unwrap().iter().all(|(c, _, _)| *c == cc("DE")));
    // A task whose subscription is gone records nothing.
    assert_eq!(store.callback_failed(-1, at(0, 333)).await.unwrap(), CallbackFailure::Gone);
}

#[tokio::test]
async fn the_sixth_failure_in_a_row_suspends_the_subscription() {
    let Some((_db, store)) = fresh().await else { return };
    store.put_callback(cc("DE"), "de", "https://de.example/cb", at(0, 1)).await.unwrap();
    store_uploads(&store, "u", "FR", &[1], at(0, 10)).await;
    store.form_download_batches(at(0, 20), 10).await.unwrap();
    let id = store.due_callback_tasks(at(0, 30), 0, 10).await.unwrap()[0].id;
    for retries in 1..=MAX_CALLBACK_RETRIES {
        assert_eq!(
            store.callback_failed(id, at(0, 30)).await.unwrap(),
            CallbackFailure::WillRetry { retries }
        );
    }
    assert_eq!(store.callback_failed(id, at(0, 40)).await.unwrap(), CallbackFailure::Suspended);
    // Kept, flagged, not called, and given no new tasks.
    let subs = store.callbacks(cc("DE")).await.unwrap();
    assert_eq!(subs[0].suspended_at, Some(at(0, 40)));
    assert!(due(&store, at(1, 0), 0).await.is_empty());
    store_uploads(&store, "v", "NL", &[1], at(0, 50)).await;
    store.form_download_batches(at(0, 60), 10).await.unwrap();
    assert_eq!(store.pending_callback_tasks().await.unwrap().len(), 1);

    // Putting it again resumes it, counting failures anew.
    store.put_callback(cc("DE"), "de", "https://de.example/cb", at(0, 70)).await.unwrap();
    assert!(!subscriptions(&store, "DE").await[0].2);
    let resumed = store.due_callback_tasks(at(0, 71), 300, 10).await.unwrap();
    assert_eq!(resumed.len(), 1);
    assert_eq!((resumed[0].id, resumed[0].retries), (id, 0));
}

// --- statistics ---------------------------------------------------------------------------------

fn stats(country: &str, rows: u64, keys: u64) -> CountryStatistics {
    CountryStatistics { country: cc(country), rows, keys }
}

#[tokio::test]
async fn statistics_are_coarsened_to_the_hour_summed_and_purged() {
    let Some((db, store)) = fresh().await else { return };
    assert_eq!(store.gauges().await.unwrap(), StoreGauges::default());
    store
        .record_upload_statistics(&tag("DE-1"), cc("DE"), 20, at(0, 3 * 3600 + 1234))
        .await
        .unwrap();
    store.record_upload_statistics(&tag("DE-2"), cc("DE"), 5, at(1, 59)).await.unwrap();
    store.record_upload_statistics(&tag("NL-1"), cc("NL"), 7, at(1, 7200)).await.unwrap();
    store.record_download_statistics(&tag("20200731-1"), cc("NL"), 25, at(1, 3599)).await.unwrap();
    store.record_download_statistics(&tag("20200731-1"), cc("FR"), 0, at(1, 3600)).await.unwrap();
    store.record_download_statistics(&tag("20200801-1"), cc("NL"), 7, at(1, 86_399)).await.unwrap();

    // Every time is the start of its hour.
    for (sql, expected) in [
        ("SELECT created_at FROM upload_stats WHERE upload_tag = 'DE-1'", at(0, 3 * 3600)),
        ("SELECT created_at FROM upload_stats WHERE upload_tag = 'DE-2'", at(1, 0)),
        ("SELECT created_at FROM upload_stats WHERE upload_tag = 'NL-1'", at(1, 7200)),
        ("SELECT MIN(requested_at) FROM download_stats", at(1, 0)),
        ("SELECT MAX(requested_at) FROM download_stats", at(1, 23 * 3600)),
    ] {
        assert_eq!(db.scalar(sql).await, expected.seconds(), "{sql}");
    }
    assert_eq!(
        db.scalar(
            "SELECT COUNT(*) FROM download_stats WHERE download_batch_tag = '20200731-1' \
             AND country = 'NL' AND number_of_keys = 25"
        )
        .await,
        1
    );
    let gauges = store.gauges().await.unwrap();
    assert_eq!(gauges.upload_stats, [stats("DE", 2, 25), stats("NL", 1, 7)]);
    assert_eq!(gauges.download_stats, [stats("FR", 1, 0), stats("NL", 2, 32)]);

    // Retention: rows before the cutoff go, the rest stay.
    assert_eq!(store.purge_statistics_before(at(1, 0)).await.unwrap(), 1);
    assert_eq!(store.purge_statistics_before(at(1, 0)).await.unwrap(), 0);
    let gauges = store.gauges().await.unwrap();
    assert_eq!(gauges.upload_stats, [stats("DE", 1, 5), stats("NL", 1, 7)]);
    assert_eq!(store.purge_statistics_before(at(2, 0)).await.unwrap(), 5);
    assert_eq!(db.count("upload_stats").await + db.count("download_stats").await, 0);
}

#[tokio::test]
async fn gauges_count_stored_keys_and_download_batches() {
    let Some((_db, store)) = fresh().await else { return };
    for (tag, country, n) in [("g1", "DE", 3), ("g2", "NL", 4)] {
        let batch = upload(tag, country, keys(country, 0..n));
        assert_eq!(
            store.insert_upload(&batch, AllOrNothing, at(0, 10)).await.unwrap(),
            stored(usize::try_from(n).unwrap())
        );
    }
    store.form_download_batches(at(0, 20), 5).await.unwrap();
    let gauges = store.gauges().await.unwrap();
    assert_eq!((gauges.keys, gauges.download_batches), (7, 2));
    store.purge_keys_created_before(at(1, 0)).await.unwrap();
    let gauges = store.gauges().await.unwrap();
    assert_eq!((gauges.keys, gauges.download_batches), (0, 2));
}
