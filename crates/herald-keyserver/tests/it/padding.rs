//! Export padding at European scale (key-server.md §6.4; `herald bench padding` chose the
//! policy): a small country's file tells nothing about how many people uploaded below the floor,
//! a large country's padding stays within the ladder's step, federated keys never switch a
//! country's padding off, a coarse series holds the finer padded series, and own keys leave for
//! the gateway only with their padding.

use std::collections::HashSet;
use std::sync::Arc;

use herald_keyserver::config::ExportConfigEntry;
use herald_keyserver::export::{Blobs, ExportKey, ExportSettings, Exporter};
use herald_keyserver::store::{Store, StoredKey};
use herald_model::{BatchTag, Clock, CountryCode, ManualClock, UnixTime};
use herald_service::random::Randomness;
use herald_wire::export::{FileSigner, ReadLimits, SignatureInfo, read_zip};
use p256::ecdsa::SigningKey;

use crate::support::{T0, local_key};

/// The policy `herald bench padding` chose: 140 own keys at least (10 uploads of 14 keys), then
/// 20 % rungs, jitter 0..=10, on daily windows.
fn daily(min_records: usize) -> ExportConfigEntry {
    ExportConfigEntry {
        name: "MT/daily".into(),
        region: "MT".into(),
        period_seconds: 86_400,
        input_regions: vec!["*".into()],
        include_travelers: false,
        max_records: 500_000,
        min_records,
        padding_range: 10,
        padding_ladder_percent: 20,
    }
}

fn hourly() -> ExportConfigEntry {
    ExportConfigEntry {
        name: "MT/hourly".into(),
        period_seconds: 3600,
        min_records: 0,
        padding_ladder_percent: 0,
        ..daily(0)
    }
}

struct World {
    _dir: tempfile::TempDir,
    exports: std::path::PathBuf,
    store: Store,
    exporter: Exporter,
}

/// A key server of Malta holding `keys`, having exported `configs` the day after, its random
/// choices from `seed`.
async fn exported(configs: Vec<ExportConfigEntry>, keys: &[StoredKey], seed: u64) -> World {
    let w = world(configs, keys, seed).await;
    w.exporter.run_once().await.unwrap();
    w
}

/// The same before the export.
async fn world(configs: Vec<ExportConfigEntry>, keys: &[StoredKey], seed: u64) -> World {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Store::open(&format!("sqlite:{}", dir.path().join("ks.db").display())).await.unwrap();
    let exports = dir.path().join("exports");
    let signing = SigningKey::from_slice(&[0x42; 32]).unwrap();
    let signer = FileSigner::new(signing, SignatureInfo::ecdsa_p256("278", "v1").unwrap());
    let clock = Arc::new(ManualClock::new(UnixTime(T0 + 86_400 + 2 * 3600)));
    let exporter = Exporter::new(
        store.clone(),
        Blobs::directory(&exports).unwrap(),
        vec![ExportKey { signer, until: None }],
        clock as Arc<dyn Clock>,
        ExportSettings {
            configs,
            country: "MT".parse::<CountryCode>().unwrap(),
            min_window_age: 7200,
            retention_days: 14,
            federate_fakes: true,
        },
    )
    .with_randomness(Randomness::seeded(seed));
    // Own keys go to the outbox; one foreign key released at T0 is in every file.
    let (own, foreign): (Vec<StoredKey>, Vec<StoredKey>) =
        keys.iter().cloned().partition(|k| k.local_provenance);
    store.insert_keys(&own, Some(T0)).await.unwrap();
    store.insert_keys(&foreign, None).await.unwrap();
    store.insert_keys(&[foreign_key(9_999_999, T0)], None).await.unwrap();
    World { _dir: dir, exports, store, exporter }
}

/// A key from Germany, imported here.
fn foreign_key(n: u32, released: i64) -> StoredKey {
    StoredKey { local_provenance: false, source: "federation".into(), ..local_key(n, -2, released) }
}

fn malta(mut key: StoredKey) -> StoredKey {
    key.regions = vec!["MT".into()];
    key.origin = "MT".parse().unwrap();
    key
}

/// `n` uploads of 13 keys each, released during T0's day.
fn uploads(n: u32) -> Vec<StoredKey> {
    (0..n * 13)
        .map(|i| malta(local_key(i, -i64::from(i % 13 + 1), T0 + i64::from(i / 13 % 20) * 3600)))
        .collect()
}

/// Keys of every file in the index of `name`.
fn file_keys(w: &World, name: &str) -> Vec<Vec<[u8; 16]>> {
    let text = std::fs::read_to_string(w.exports.join(name).join("index.txt")).unwrap();
    text.split('\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let zip = std::fs::read(w.exports.join(l)).unwrap();
            let file = read_zip(&zip, &ReadLimits::default()).unwrap();
            file.contents.keys.iter().map(|k| *k.key.as_bytes()).collect()
        })
        .collect()
}

#[tokio::test]
async fn below_the_floor_a_small_countrys_file_has_the_same_count_for_any_number_of_uploads() {
    let mut counts = Vec::new();
    for n in [0, 1, 4, 10] {
        let w = exported(vec![daily(140)], &uploads(n), 7).await;
        let files = file_keys(&w, "MT/daily");
        assert_eq!(files.len(), 1, "{n} uploads: one file, even for none");
        // The anchor is a foreign key: it does not count towards Malta's padding.
        counts.push(files[0].len() - 1);
        // Every own key, padding too, is queued for the gateway: the federation sees the same
        // count (the anchor is foreign and is not).
        let (waiting, _, _) = w.store.outbox_counts().await.unwrap();
        assert_eq!(usize::try_from(waiting).unwrap(), files[0].len() - 1, "{n} uploads");
    }
    assert!(counts.iter().all(|&c| c == counts[0]), "counts by uploads 0, 1, 4, 10: {counts:?}");
    assert!((140..=150).contains(&counts[0]), "{counts:?}");
    // Another seed draws its jitter from the same range, whatever the uploads.
    for n in [0, 3] {
        let w = exported(vec![daily(140)], &uploads(n), 8).await;
        assert!((141..=151).contains(&file_keys(&w, "MT/daily")[0].len()));
    }
}

#[tokio::test]
async fn a_busy_federation_does_not_switch_a_small_countrys_padding_off() {
    // 2000 foreign keys in the window (ENS counted them and left the window unpadded: the two
    // real uploads were then plain to see).
    let mut keys = uploads(2);
    keys.extend((0..2000u32).map(|i| foreign_key(5_000_000 + i, T0 + 3600)));
    let w = exported(vec![daily(140)], &keys, 7).await;
    let alone = exported(vec![daily(140)], &uploads(2), 7).await;
    let own = file_keys(&alone, "MT/daily")[0].len() - 1;
    assert!((140..=150).contains(&own));
    assert_eq!(file_keys(&w, "MT/daily")[0].len(), own + 2001);
}

#[tokio::test]
async fn above_the_floor_a_large_countrys_padding_stays_within_the_ladder_step() {
    // 5000 own keys (385 uploads): the count tells only the rung (20 % steps from 140), and the
    // padding costs at most a fifth of the real keys, plus the jitter.
    for real in [1000u32, 5000] {
        let keys: Vec<StoredKey> = (0..real)
            .map(|i| malta(local_key(i, -i64::from(i % 13 + 1), T0 + i64::from(i % 24) * 3600)))
            .collect();
        let w = exported(vec![daily(140)], &keys, 7).await;
        let own = file_keys(&w, "MT/daily")[0].len() - 1;
        let real = usize::try_from(real).unwrap();
        assert!(own >= real && own * 100 <= real * 120 + 1000, "{real} real keys: {own}");
    }
    // Without padding, the file holds the real keys only.
    let w = exported(vec![daily(0)], &uploads(3), 7).await;
    assert_eq!(file_keys(&w, "MT/daily")[0].len(), 3 * 13 + 1);
}

#[tokio::test]
async fn the_daily_files_hold_exactly_the_padded_hourly_files() {
    // The finest series pads (the configuration requires it); the daily one holds its windows,
    // fakes included, and pads nothing more.
    let padded_hourly = ExportConfigEntry { min_records: 140, ..hourly() };
    let w = exported(vec![daily(0), padded_hourly], &uploads(2), 7).await;
    let daily_keys: HashSet<[u8; 16]> = file_keys(&w, "MT/daily").into_iter().flatten().collect();
    let hourly = file_keys(&w, "MT/hourly");
    assert_eq!(hourly.len(), 24, "every hour padded, empty ones too");
    for file in &hourly {
        // 140 + rand[0,10] own keys, and the foreign key in the first hour.
        assert!((140..=151).contains(&file.len()), "{}", file.len());
    }
    let hourly_keys: HashSet<[u8; 16]> = hourly.into_iter().flatten().collect();
    assert_eq!(daily_keys, hourly_keys, "the two series hold the same keys");
    // A second run pads nothing more: the day's windows are done.
    assert_eq!(w.exporter.run_once().await.unwrap().fakes, 0);
}

#[tokio::test]
async fn own_keys_leave_for_the_gateway_together_with_their_padding() {
    let release = ["MT/daily".to_owned()];
    let tag = |t: &str| t.parse::<BatchTag>().unwrap();
    let w = world(vec![daily(140)], &uploads(2), 7).await;
    // At 01:00 the next day the 26 real keys are past their embargo, but their window is not
    // exported yet: nothing goes to the gateway (ENS would send the two uploads alone now).
    let early = T0 + 86_400 + 3600;
    let (first, second) = (tag("MT-1"), tag("MT-2"));
    let held = w.store.next_outbox_batch_released(&first, early, 1, 4000, &release);
    assert!(held.await.unwrap().is_none());
    // Exported and padded: the real and the fake keys go in one batch, as many as the file's.
    w.exporter.run_once().await.unwrap();
    let now = T0 + 86_400 + 2 * 3600;
    let batch = w.store.next_outbox_batch_released(&second, now, 1, 4000, &release);
    let batch = batch.await.unwrap().unwrap();
    let file = &file_keys(&w, "MT/daily")[0];
    assert_eq!(batch.keys.len(), file.len() - 1, "every own key of the file, the foreign one not");
    assert!((140..=150).contains(&batch.keys.len()));

    // Without the release, the real keys would have gone alone, before their padding existed.
    let w = world(vec![daily(140)], &uploads(2), 7).await;
    let alone = w.store.next_outbox_batch(&tag("MT-3"), early, 1, 4000).await.unwrap().unwrap();
    assert_eq!(alone.keys.len(), 26);
}
