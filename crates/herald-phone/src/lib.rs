//! The reference app core: what a national exposure-notification app does around the OS
//! framework, without I/O, so that the demo's simulated phones, tests and tools share one
//! implementation.
//!
//! - [`keys::KeyHistory`]: one Temporary Exposure Key per UTC day (rotated at midnight), kept
//!   for 14 days; the RPI and AEM a phone broadcasts in each 10-minute interval; the keys an
//!   upload sends.
//! - [`log::SightingsLog`]: the RPIs a phone heard, with their metadata and RSSI, kept 14 days.
//! - [`exports`]: export files downloaded from a key server, accepted only when one signature
//!   verifies with the key server's export public key.
//! - [`risk`]: matching against diagnosis keys, v2 exposure windows and daily summaries
//!   (herald-gaen, the OS rules), and the notification decision (a daily score threshold,
//!   notified once per exposure day).
//!
//! - [`upload`]: the upload flow's request bodies (code → token → certificate over the keys'
//!   HMAC → publish), padded, and chaff bodies.
//!
//! [`Phone`] puts them together.

pub mod exports;
pub mod keys;
pub mod log;
pub mod risk;
pub mod upload;

use herald_gaen::scoring::v2::ExposureWindow;
use herald_gaen::{Aem, KeyIndex, KeyMatch, Matcher, Metadata, Rpi};
use herald_model::{DiagnosisKey, UnixTime};
use rand_core::CryptoRng;

pub use exports::{Downloads, ExportError, verified_keys};
pub use keys::{Advertisement, KeyHistory};
pub use log::SightingsLog;
pub use risk::{Assessment, RiskPolicy, assess};
pub use upload::Upload;

/// Transmit power a simulated phone advertises in its AEM (dBm), a typical Android value.
pub const DEFAULT_TX_POWER: i8 = -8;

/// One phone: its keys, what it heard, and which exposure days it already warned about.
#[derive(Debug, Clone)]
pub struct Phone {
    keys: KeyHistory,
    log: SightingsLog,
    tx_power: i8,
    /// Exposure windows of every check so far (the OS keeps them 14 days), so that keys of one
    /// day arriving in several downloads add up.
    windows: Vec<ExposureWindow>,
    notified_days: Vec<i64>,
}

impl Default for Phone {
    fn default() -> Self {
        Self::new(DEFAULT_TX_POWER)
    }
}

impl Phone {
    /// A phone with no keys yet, advertising `tx_power` dBm.
    pub fn new(tx_power: i8) -> Self {
        Self {
            keys: KeyHistory::new(),
            log: SightingsLog::new(),
            tx_power,
            windows: Vec::new(),
            notified_days: Vec::new(),
        }
    }

    /// What the phone broadcasts at `now` (drawing the day's key from `rng` at the first call of
    /// a UTC day).
    pub fn advertise(&mut self, now: UnixTime, rng: &mut impl CryptoRng) -> Advertisement {
        self.keys.advertisement(now, Metadata::v1_0(self.tx_power), rng)
    }

    /// Records an advertisement heard at `time` with `rssi` (calibrated, dBm); `previous_scan`
    /// is when the scan before this one ran, when known.
    pub fn hear(
        &mut self,
        rpi: Rpi,
        aem: Aem,
        time: UnixTime,
        rssi: i8,
        previous_scan: Option<UnixTime>,
    ) {
        self.log.record(herald_gaen::Sighting { rpi, aem, time, rssi, previous_scan });
    }

    /// Drops keys, sightings and exposure windows older than 14 days.
    pub fn forget_old(&mut self, now: UnixTime) {
        self.keys.forget_old(now);
        self.log.forget_old(now);
        let oldest = (now.utc_day() - (log::SIGHTING_RETENTION_DAYS - 1)) * 86_400;
        self.windows.retain(|w| w.start.seconds() >= oldest);
    }

    /// The keys to upload after a positive test (at most 14 days, today's included).
    pub fn keys_to_upload(&self, now: UnixTime) -> Vec<DiagnosisKey> {
        self.keys.upload_keys(now)
    }

    /// The key history.
    pub fn keys(&self) -> &KeyHistory {
        &self.keys
    }

    /// The sightings log.
    pub fn log(&self) -> &SightingsLog {
        &self.log
    }

    /// Checks newly downloaded `keys` against the log (the OS matcher); returns the assessment
    /// over every exposure window so far, whose `notify` is true only for an exposure day this
    /// phone has not warned about before.
    pub fn check(
        &mut self,
        keys: &[DiagnosisKey],
        policy: &RiskPolicy,
        now: UnixTime,
    ) -> Assessment {
        let found: Vec<KeyMatch> = if keys.is_empty() || self.log.is_empty() {
            Vec::new()
        } else {
            Matcher::new(self.log.sightings(), policy.matching).match_keys(keys.iter()).collect()
        };
        self.take(&found, policy, now)
    }

    /// As [`Self::check`], with the keys' RPIs derived once for many phones ([`KeyIndex`], built
    /// with `policy.matching`): the same matches, far cheaper for a simulated population.
    pub fn check_index(
        &mut self,
        keys: &KeyIndex,
        policy: &RiskPolicy,
        now: UnixTime,
    ) -> Assessment {
        let candidates = self.log.sightings_where(|rpi| keys.contains(rpi));
        let found =
            if candidates.is_empty() { Vec::new() } else { keys.match_sightings(&candidates) };
        self.take(&found, policy, now)
    }

    fn take(&mut self, found: &[KeyMatch], policy: &RiskPolicy, now: UnixTime) -> Assessment {
        self.windows.extend(risk::windows_of(found, policy));
        let mut assessment = risk::decide(found.len(), &self.windows, policy, now);
        if let Some(day) = assessment.exposure_day {
            if self.notified_days.contains(&day) {
                assessment.notify = false;
            } else if assessment.notify {
                self.notified_days.push(day);
            }
        }
        assessment
    }
}
