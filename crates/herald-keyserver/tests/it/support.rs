//! Test data shared by the suites.

use herald_keyserver::store::{StoredKey, VerificationReportType};
use herald_model::{CountryCode, TemporaryExposureKey};

/// 2026-11-02 00:00 UTC.
pub(crate) const T0: i64 = 1_793_577_600;

pub(crate) fn key_bytes(n: u32) -> TemporaryExposureKey {
    let mut b = [0u8; 16];
    b[..4].copy_from_slice(&n.to_be_bytes());
    b[4] = 0xA5;
    TemporaryExposureKey::from_bytes(b)
}

/// A local key of day `day` (0 = T0's day) released at `created_at`.
pub(crate) fn local_key(n: u32, day: i64, created_at: i64) -> StoredKey {
    StoredKey {
        key: key_bytes(n),
        transmission_risk: 2,
        source: "de.herald.app".into(),
        regions: vec!["DE".into()],
        traveler: false,
        interval_number: u32::try_from((T0 / 600) + day * 144).unwrap(),
        interval_count: 144,
        created_at,
        local_provenance: true,
        origin: "DE".parse::<CountryCode>().unwrap(),
        report_type: Some(VerificationReportType::Confirmed),
        days_since_onset: Some(i32::try_from(day).unwrap().clamp(-14, 14)),
        revision: None,
    }
}

/// The system clock's Unix seconds.
pub(crate) fn system_now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
    )
    .unwrap()
}
