//! Two and three phones through the whole app core: broadcasts heard, keys uploaded into a
//! signed export file, the file verified and checked, and the warning given once.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use herald_model::{ReportType, UnixTime};
use herald_phone::{Phone, RiskPolicy, verified_keys};
use herald_wire::export::{ExportBuilder, ExportSigner, ExportSpec, FileSigner, SignatureInfo};
use rand::SeedableRng as _;

const DAY: i64 = 86_400;
/// 2026-11-02 00:00 UTC.
const T0: i64 = 1_793_577_600;

/// `a` and `b` meet for `minutes` starting at `start`, scanning every 4 minutes at `rssi`.
fn meet(
    a: &mut Phone,
    b: &mut Phone,
    start: i64,
    minutes: i64,
    rssi: i8,
    rng: &mut rand::rngs::StdRng,
) {
    let mut previous = None;
    for m in (0..minutes).step_by(4) {
        let t = UnixTime(start + m * 60);
        let ad = a.advertise(t, rng);
        b.hear(ad.rpi, ad.aem, t, rssi, previous);
        let ad = b.advertise(t, rng);
        a.hear(ad.rpi, ad.aem, t, rssi, previous);
        previous = Some(t);
    }
}

fn signed_export(keys: Vec<herald_model::DiagnosisKey>, key: &p256::ecdsa::SigningKey) -> Vec<u8> {
    let signer = FileSigner::new(key.clone(), SignatureInfo::ecdsa_p256("262", "v1").unwrap());
    let spec = ExportSpec {
        region: "DE".into(),
        start_timestamp: u64::try_from(T0).unwrap(),
        end_timestamp: u64::try_from(T0 + 3 * DAY).unwrap(),
        max_records: 1000,
        signers: vec![&signer as &dyn ExportSigner],
    };
    let mut files = ExportBuilder::new(spec, keys.into_iter().map(|k| (k, false))).unwrap();
    let file = files.next().unwrap().unwrap();
    assert!(files.next().is_none());
    file.zip
}

#[test]
fn a_close_contact_is_warned_once_and_a_distant_one_not_at_all() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let (mut alice, mut bob, mut carol) = (Phone::default(), Phone::default(), Phone::default());
    // Day 0: Alice and Bob sit together for 40 minutes; Carol passes Alice far away.
    meet(&mut alice, &mut bob, T0 + 10 * 3600, 40, -55, &mut rng);
    meet(&mut alice, &mut carol, T0 + 15 * 3600, 40, -100, &mut rng);
    // Day 2: Alice tests positive and uploads; the key server publishes a signed file.
    let now = UnixTime(T0 + 2 * DAY + 12 * 3600);
    alice.advertise(now, &mut rng);
    let mut uploaded = alice.keys_to_upload(now);
    assert_eq!(uploaded.len(), 2, "day 0 and today (day 1 had no advertisement)");
    for k in &mut uploaded {
        k.report_type = ReportType::ConfirmedTest;
        k.days_since_onset = herald_model::DaysSinceOnset::new(0).ok();
    }
    let export_key = p256::ecdsa::SigningKey::from_slice(&[0x42; 32]).unwrap();
    let zip = signed_export(uploaded, &export_key);

    // Bob and Carol download it; only a file signed with the key server's key is used.
    let keys = verified_keys(&zip, export_key.verifying_key()).unwrap();
    let other = p256::ecdsa::SigningKey::from_slice(&[0x43; 32]).unwrap();
    assert!(verified_keys(&zip, other.verifying_key()).is_err(), "a foreign signature is refused");
    let mut tampered = zip.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 1;
    assert!(verified_keys(&tampered, export_key.verifying_key()).is_err());

    let policy = RiskPolicy::default();
    let bob_check = bob.check(&keys, &policy, now);
    assert_eq!(bob_check.matched_keys, 1);
    assert!(bob_check.notify, "{bob_check:?}");
    assert_eq!(bob_check.exposure_day, Some(T0 / DAY));
    assert!(!bob.check(&keys, &policy, now).notify, "warned once per exposure day");

    let carol_check = carol.check(&keys, &policy, now);
    assert_eq!(carol_check.matched_keys, 1, "Carol heard Alice");
    assert!(!carol_check.notify, "but too far away to be warned: {carol_check:?}");

    // Fourteen days later everything about the meeting is gone.
    bob.forget_old(UnixTime(T0 + 20 * DAY));
    assert!(bob.log().is_empty());
    assert!(!bob.check(&keys, &policy, UnixTime(T0 + 20 * DAY)).notify);
}

/// Two short meetings on one day, with two people whose keys arrive in different downloads: each
/// alone stays under the threshold, together they cross it, as the OS adds up the day's windows.
/// The key-side index (for simulated populations) decides the same.
#[test]
fn keys_of_one_day_arriving_in_two_downloads_add_up() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let (mut alice, mut dave, mut bob) = (Phone::default(), Phone::default(), Phone::default());
    meet(&mut alice, &mut bob, T0 + 9 * 3600, 8, -55, &mut rng);
    meet(&mut dave, &mut bob, T0 + 14 * 3600, 8, -55, &mut rng);
    let mut twin = bob.clone();
    let now = UnixTime(T0 + DAY + 12 * 3600);
    let upload = |p: &Phone| {
        let mut keys = p.keys_to_upload(now);
        for k in &mut keys {
            k.report_type = ReportType::ConfirmedTest;
            k.days_since_onset = herald_model::DaysSinceOnset::new(0).ok();
        }
        keys
    };
    let policy = RiskPolicy::default();
    let first = bob.check(&upload(&alice), &policy, now);
    assert_eq!(first.matched_keys, 1);
    assert!(!first.notify, "one short meeting is not enough: {first:?}");
    let second = bob.check(&upload(&dave), &policy, now);
    assert!(second.notify, "the day's two meetings add up: {second:?}");
    assert_eq!(second.exposure_day, Some(T0 / DAY));

    for (keys, notify) in [(upload(&alice), false), (upload(&dave), true)] {
        let index = herald_gaen::KeyIndex::new(keys, policy.matching);
        let by_index = twin.check_index(&index, &policy, now);
        assert_eq!(by_index.notify, notify);
    }
    assert_eq!(twin.check(&[], &policy, now), bob.check(&[], &policy, now));
}
