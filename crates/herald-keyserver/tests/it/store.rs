//! The storage contract, on SQLite and PostgreSQL.

use herald_db::testing::{Backend, TestDb};
use herald_keyserver::store::{
    KeyRange, KeyRevision, PageCursor, PublishOutcome, PublishWrite, Store, VerificationReportType,
    Which,
};
use herald_model::BatchTag;

use crate::support::{T0, key_bytes, local_key};

/// The batch tag `text`.
fn tag(text: &str) -> BatchTag {
    text.parse().unwrap()
}

async fn fresh(backend: Backend) -> Option<(TestDb, Store)> {
    let db = backend.fresh().await?;
    let store = Store::open(&db.url).await.unwrap();
    assert_eq!(store.backend(), backend.name());
    Some((db, store))
}

herald_db::on_both!(
    publish_is_atomic_and_certificates_are_one_time,
    revisions_apply_once,
    windows_page_in_time_then_key_order,
    outbox_batches_survive_retries,
    outbox_keys_wait_for_their_padding_window,
    downloads_advance_the_cursor,
    leases_elect_one_holder,
    purge_drops_old_keys
);

async fn publish_is_atomic_and_certificates_are_one_time(backend: Backend) {
    let Some((db, store)) = fresh(backend).await else { return };
    let write = PublishWrite {
        certificate: Some(([7; 32], T0 + 900)),
        inserts: vec![local_key(1, -1, T0), local_key(2, -2, T0)],
        revisions: vec![],
        federate_not_before: Some(T0 + 7200),
    };
    assert_eq!(
        store.publish(&write).await.unwrap(),
        PublishOutcome::Stored { inserted: 2, revised: 0 }
    );
    // The same certificate again: nothing written, even new keys.
    let again = PublishWrite { inserts: vec![local_key(3, -1, T0)], ..write.clone() };
    assert_eq!(store.publish(&again).await.unwrap(), PublishOutcome::CertificateReused);
    assert_eq!(db.count("exposure").await, 2);
    assert_eq!(db.count("federation_outbox").await, 2);
    // An existing key in a new publish is skipped, not duplicated.
    let other = PublishWrite {
        certificate: Some(([8; 32], T0 + 900)),
        inserts: vec![local_key(1, -1, T0), local_key(4, -1, T0)],
        revisions: vec![],
        federate_not_before: None,
    };
    assert_eq!(
        store.publish(&other).await.unwrap(),
        PublishOutcome::Stored { inserted: 1, revised: 0 }
    );
    assert_eq!(db.count("exposure").await, 3);
    assert_eq!(db.count("federation_outbox").await, 2, "no consent, no outbox row");
    let found = store.existing_keys(&[key_bytes(1), key_bytes(9)]).await.unwrap();
    assert_eq!(found, vec![local_key(1, -1, T0)]);
}

async fn revisions_apply_once(backend: Backend) {
    let Some((db, store)) = fresh(backend).await else { return };
    let mut likely = local_key(1, -1, T0);
    likely.report_type = Some(VerificationReportType::Likely);
    store.insert_keys(&[likely], None).await.unwrap();
    let revision = KeyRevision {
        report_type: Some(VerificationReportType::Confirmed),
        revised_at: T0 + 3600,
        days_since_onset: Some(1),
        transmission_risk: 2,
    };
    let write = PublishWrite {
        certificate: Some(([1; 32], T0 + 900)),
        inserts: vec![],
        revisions: vec![(key_bytes(1), Some(VerificationReportType::Likely), revision.clone())],
        federate_not_before: None,
    };
    assert_eq!(
        store.publish(&write).await.unwrap(),
        PublishOutcome::Stored { inserted: 0, revised: 1 }
    );
    let again = PublishWrite { certificate: Some(([2; 32], T0 + 900)), ..write };
    assert_eq!(
        store.publish(&again).await.unwrap(),
        PublishOutcome::KeyAlreadyRevised,
        "a key is revised once"
    );
    assert_eq!(db.count("used_certificate").await, 1, "the refused publish left nothing");
    let stored = store.existing_keys(&[key_bytes(1)]).await.unwrap();
    assert_eq!(stored[0].revision.as_ref(), Some(&revision));
    assert_eq!(
        store
            .window_page(Which::Revised, (T0, T0 + 7200), &KeyRange::all(), None, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn windows_page_in_time_then_key_order(backend: Backend) {
    let Some((_db, store)) = fresh(backend).await else { return };
    let keys: Vec<_> =
        (0..25u32).rev().map(|n| local_key(n, -1, T0 + i64::from(n % 3) * 3600)).collect();
    store.insert_keys(&keys, None).await.unwrap();
    assert_eq!(store.count_window(Which::Released, T0, T0 + 3600).await.unwrap(), 9);
    let read = |range: KeyRange| {
        let store = store.clone();
        async move {
            let mut seen = Vec::new();
            let mut after = None;
            loop {
                let page = store
                    .window_page(Which::Released, (T0, T0 + 3 * 3600), &range, after.as_ref(), 4)
                    .await
                    .unwrap();
                let Some(last) = page.last() else { break };
                after = Some(PageCursor::after(Which::Released, last));
                seen.extend(page.into_iter().map(|k| (k.created_at, k.key)));
            }
            seen
        }
    };
    let seen = read(KeyRange::all()).await;
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "pages follow (release time, key)");
    assert_eq!(seen.len(), 25);
    // Slices of the key space partition the window: every key in exactly one.
    let mut sliced = Vec::new();
    for range in KeyRange::slices(3) {
        let part = read(range.clone()).await;
        assert!(part.iter().all(|(_, k)| {
            range.from.is_none_or(|f| k.as_bytes() >= &f)
                && range.until.is_none_or(|u| k.as_bytes() < &u)
        }));
        sliced.extend(part);
    }
    sliced.sort();
    assert_eq!(sliced, sorted);
    assert_eq!(store.earliest_release().await.unwrap(), Some(T0));
}

async fn outbox_batches_survive_retries(backend: Backend) {
    let Some((db, store)) = fresh(backend).await else { return };
    // Keys of two days ago: their own embargo (validity end + 2 h) has passed.
    let keys: Vec<_> = (0..10u32).map(|n| local_key(n, -2, T0)).collect();
    store.insert_keys(&keys, Some(T0 + 100)).await.unwrap();
    assert!(store.next_outbox_batch(&tag("DE-1"), T0, 1, 4).await.unwrap().is_none(), "embargoed");
    assert!(
        store.next_outbox_batch(&tag("DE-1"), T0 + 100, 11, 4).await.unwrap().is_none(),
        "below the minimum"
    );
    let batch = store.next_outbox_batch(&tag("DE-1"), T0 + 100, 1, 4).await.unwrap().unwrap();
    assert_eq!((batch.tag.as_str(), batch.keys.len(), batch.attempts), ("DE-1", 4, 0));
    // A failed attempt: the same tag and keys come back after the wait, not before.
    store.outbox_batch_failed(&tag("DE-1"), T0 + 200, false).await.unwrap();
    let next = store.next_outbox_batch(&tag("DE-2"), T0 + 150, 1, 4).await.unwrap().unwrap();
    assert_eq!(next.tag, "DE-2", "a new batch while DE-1 waits");
    let retried = store.next_outbox_batch(&tag("DE-3"), T0 + 200, 1, 4).await.unwrap().unwrap();
    assert_eq!((retried.tag.as_str(), retried.attempts), ("DE-1", 1));
    assert_eq!(retried.keys, batch.keys);
    store.outbox_batch_done(&tag("DE-1")).await.unwrap();
    // A 207: two keys go back, the rest is done.
    store
        .outbox_batch_split(&tag("DE-2"), &[next.keys[0].key.clone(), next.keys[1].key.clone()])
        .await
        .unwrap();
    assert_eq!(store.outbox_counts().await.unwrap(), (4, 0, 6));
    let last = store.next_outbox_batch(&tag("DE-4"), T0 + 300, 1, 10).await.unwrap().unwrap();
    assert_eq!(last.keys.len(), 4);
    store.outbox_batch_done(&tag("DE-4")).await.unwrap();
    assert_eq!(store.outbox_counts().await.unwrap(), (0, 0, 10));
    assert_eq!(db.count("federation_upload").await, 3);
}

async fn outbox_keys_wait_for_their_padding_window(backend: Backend) {
    let Some((_db, store)) = fresh(backend).await else { return };
    // Keys of the hours T0 and T0 + 1 h, past their embargo.
    let keys: Vec<_> = (0..6u32).map(|n| local_key(n, -2, T0 + i64::from(n % 2) * 3600)).collect();
    store.insert_keys(&keys, Some(T0)).await.unwrap();
    let release = ["DE/hourly".to_owned()];
    let later = T0 + 10 * 3600;
    let tags = [tag("DE-1"), tag("DE-2"), tag("DE-3"), tag("DE-4")];
    let next = |i: usize| store.next_outbox_batch_released(&tags[i], later, 1, 100, &release);
    assert!(next(0).await.unwrap().is_none(), "no window exported yet");
    // Another series' export releases nothing; the padding series' first hour releases its keys.
    store.create_export_batches("DE/daily", &[T0], 86_400).await.unwrap();
    store.create_export_batches("DE/hourly", &[T0, T0 + 3600], 3600).await.unwrap();
    let daily = store.open_export_batches("DE/daily").await.unwrap();
    store.complete_export_batch(daily[0].id, &[]).await.unwrap();
    assert!(next(1).await.unwrap().is_none(), "only the padding series releases");
    let hourly = store.open_export_batches("DE/hourly").await.unwrap();
    let first = hourly.iter().find(|b| b.start_time == T0).unwrap();
    store.complete_export_batch(first.id, &[]).await.unwrap();
    let batch = next(2).await.unwrap().unwrap();
    assert!(batch.keys.iter().all(|k| k.created_at == T0) && batch.keys.len() == 3, "{batch:?}");
    store.outbox_batch_done(&tag("DE-3")).await.unwrap();
    assert!(next(3).await.unwrap().is_none(), "the next hour waits for its export");
}

async fn downloads_advance_the_cursor(backend: Backend) {
    let Some((db, store)) = fresh(backend).await else { return };
    assert_eq!(store.download_cursor("2026-11-02").await.unwrap(), None);
    let mut foreign = local_key(1, -1, T0);
    foreign.local_provenance = false;
    foreign.source = "federation".into();
    let n = store
        .import_download_batch(
            "2026-11-02",
            &tag("20261102-1"),
            "processed",
            1,
            &[foreign.clone()],
            T0,
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert!(store.download_seen(&tag("20261102-1")).await.unwrap());
    assert_eq!(
        store.download_cursor("2026-11-02").await.unwrap().as_ref().map(BatchTag::as_str),
        Some("20261102-1")
    );
    let n = store
        .import_download_batch("2026-11-02", &tag("20261102-2"), "processed", 1, &[foreign], T0)
        .await
        .unwrap();
    assert_eq!(n, 0, "a key seen before is not imported twice");
    assert_eq!(
        store.download_cursor("2026-11-02").await.unwrap().as_ref().map(BatchTag::as_str),
        Some("20261102-2")
    );
    assert_eq!(db.count("federation_outbox").await, 0, "foreign keys are never re-federated");
}

async fn leases_elect_one_holder(backend: Backend) {
    let Some((_db, store)) = fresh(backend).await else { return };
    assert!(store.try_lease("export", "a", T0, 60).await.unwrap());
    assert!(!store.try_lease("export", "b", T0 + 30, 60).await.unwrap());
    assert!(store.try_lease("export", "a", T0 + 30, 60).await.unwrap());
    assert!(store.try_lease("export", "b", T0 + 91, 60).await.unwrap());
}

async fn purge_drops_old_keys(backend: Backend) {
    let Some((db, store)) = fresh(backend).await else { return };
    store
        .insert_keys(&[local_key(1, -2, T0), local_key(2, -2, T0 + 86_400)], Some(T0))
        .await
        .unwrap();
    let write = PublishWrite {
        certificate: Some(([3; 32], T0 + 10)),
        inserts: vec![],
        revisions: vec![],
        federate_not_before: None,
    };
    store.publish(&write).await.unwrap();
    assert_eq!(store.purge(T0 + 1, T0 + 11).await.unwrap(), 1);
    assert_eq!(db.count("exposure").await, 1);
    assert_eq!(db.count("federation_outbox").await, 1);
    assert_eq!(db.count("used_certificate").await, 0);
}
