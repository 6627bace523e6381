//! The phone's own keys: one Temporary Exposure Key per UTC day, drawn from a cryptographic RNG
//! when the day's first advertisement is made (Android and iOS rotate at 00:00 UTC), kept for 14
//! days and then forgotten.

use herald_gaen::{Aem, AemKey, Metadata, Rpi, RpiGenerator, RpiKey, generate_tek};
use herald_model::{DiagnosisKey, IntervalNumber, RollingPeriod, TemporaryExposureKey, UnixTime};
use rand_core::CryptoRng;

/// Days a key is kept (and may be uploaded), today included.
pub const KEY_HISTORY_DAYS: i64 = 14;

/// What a phone broadcasts during one interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advertisement {
    /// The interval.
    pub interval: IntervalNumber,
    /// Its Rolling Proximity Identifier.
    pub rpi: Rpi,
    /// The encrypted metadata sent with it.
    pub aem: Aem,
}

struct DayKey {
    day: i64,
    tek: TemporaryExposureKey,
    rpi: RpiGenerator,
    aem: AemKey,
}

impl Clone for DayKey {
    fn clone(&self) -> Self {
        Self { day: self.day, tek: self.tek.clone(), rpi: self.rpi.clone(), aem: self.aem.clone() }
    }
}

impl std::fmt::Debug for DayKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DayKey").field("day", &self.day).finish_non_exhaustive()
    }
}

/// The phone's keys of the last 14 days, oldest first.
#[derive(Debug, Clone, Default)]
pub struct KeyHistory {
    days: Vec<DayKey>,
}

/// `now`'s interval; instants before 1970 or after 2^32 intervals (year 83 000) clamp.
fn interval_of(now: UnixTime) -> IntervalNumber {
    IntervalNumber(u32::try_from(now.seconds().max(0) / 600).unwrap_or(u32::MAX))
}

impl KeyHistory {
    /// No keys yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The advertisement of `now`'s interval, with `metadata` encrypted into the AEM.
    pub fn advertisement(
        &mut self,
        now: UnixTime,
        metadata: Metadata,
        rng: &mut impl CryptoRng,
    ) -> Advertisement {
        let day = now.utc_day();
        let key = match self.days.pop() {
            Some(key) if key.day == day => key,
            earlier => {
                self.days.extend(earlier);
                let tek = generate_tek(rng);
                let rpi = RpiKey::derive(&tek).generator();
                let aem = AemKey::derive(&tek);
                DayKey { day, tek, rpi, aem }
            }
        };
        let interval = interval_of(now);
        let rpi = key.rpi.rpi(interval);
        let aem = key.aem.encrypt(&rpi, metadata);
        self.days.push(key);
        self.forget_old(now);
        Advertisement { interval, rpi, aem }
    }

    /// The TEK of `day` (days since the epoch), if the phone had one.
    pub fn key_of_day(&self, day: i64) -> Option<&TemporaryExposureKey> {
        self.days.iter().find(|k| k.day == day).map(|k| &k.tek)
    }

    /// Drops keys older than [`KEY_HISTORY_DAYS`] days.
    pub fn forget_old(&mut self, now: UnixTime) {
        let oldest = now.utc_day() - (KEY_HISTORY_DAYS - 1);
        self.days.retain(|k| k.day >= oldest);
    }

    /// The keys an upload at `now` sends, newest first: every kept key of the last 14 days,
    /// today's included with a full-day rolling period (the key server withholds it until its
    /// validity ended + 2 h). Report type, risk and onset are the certificate's business.
    pub fn upload_keys(&self, now: UnixTime) -> Vec<DiagnosisKey> {
        let today = now.utc_day();
        self.days
            .iter()
            .rev()
            .filter(|k| k.day <= today && k.day > today - KEY_HISTORY_DAYS)
            .filter_map(|k| {
                let start = u32::try_from(k.day.checked_mul(144)?).ok()?;
                Some(DiagnosisKey::new(
                    k.tek.clone(),
                    IntervalNumber(start),
                    RollingPeriod::FULL_DAY,
                ))
            })
            .collect()
    }

    /// How many keys are kept.
    pub fn len(&self) -> usize {
        self.days.len()
    }

    /// Whether no key was made yet.
    pub fn is_empty(&self) -> bool {
        self.days.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use herald_gaen::{AemKey, Metadata, RpiKey};
    use herald_model::UnixTime;
    use rand::SeedableRng as _;

    use super::KeyHistory;

    const DAY: i64 = 86_400;
    const T: i64 = 20_000 * DAY;

    #[test]
    fn one_key_per_utc_day_and_fourteen_kept() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut h = KeyHistory::new();
        let a = h.advertisement(UnixTime(T + 60), Metadata::v1_0(-8), &mut rng);
        let b = h.advertisement(UnixTime(T + DAY - 1), Metadata::v1_0(-8), &mut rng);
        assert_eq!(h.len(), 1, "the same day keeps its key");
        assert_ne!(a.rpi, b.rpi, "a new RPI every interval");
        h.advertisement(UnixTime(T + DAY), Metadata::v1_0(-8), &mut rng);
        assert_eq!(h.len(), 2, "midnight UTC rotates");
        for d in 2..30 {
            h.advertisement(UnixTime(T + d * DAY), Metadata::v1_0(-8), &mut rng);
        }
        assert_eq!(h.len(), 14);
        let keys = h.upload_keys(UnixTime(T + 29 * DAY + 5));
        assert_eq!(keys.len(), 14);
        assert_eq!(i64::from(keys[0].rolling_start.get()), (T + 29 * DAY) / 600, "newest first");
        assert!(keys.iter().all(|k| k.rolling_start.is_day_aligned()));
    }

    proptest::proptest! {
        /// Whatever days a phone was on, an upload holds at most 14 distinct, day-aligned keys
        /// of the last 14 days, newest first.
        #[test]
        fn uploads_hold_the_last_fourteen_days(
            days in proptest::collection::vec(0i64..60, 0..40),
            seed in proptest::prelude::any::<u64>(),
            at in 0i64..70,
        ) {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let mut h = KeyHistory::new();
            let mut sorted = days.clone();
            sorted.sort_unstable();
            for d in &sorted {
                h.advertisement(UnixTime(T + d * DAY + 7), Metadata::v1_0(-8), &mut rng);
            }
            let now = UnixTime(T + at * DAY + 100);
            let keys = h.upload_keys(now);
            proptest::prop_assert!(keys.len() <= 14);
            let today = now.utc_day() * 144;
            for pair in keys.windows(2) {
                proptest::prop_assert!(pair[0].rolling_start > pair[1].rolling_start);
            }
            for k in &keys {
                let start = i64::from(k.rolling_start.get());
                proptest::prop_assert!(k.rolling_start.is_day_aligned());
                proptest::prop_assert!(start <= today && start > today - 14 * 144);
            }
        }
    }

    #[test]
    fn broadcasts_are_what_the_key_derives() {
        // The advertisement is the published derivation of the day's key (checked against the
        // GAEN vectors in herald-gaen): RPI = AES(RPIK, padded interval), AEM decrypts back.
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let mut h = KeyHistory::new();
        let now = UnixTime(T + 3 * 3600 + 17);
        let ad = h.advertisement(now, Metadata::v1_0(-8), &mut rng);
        let tek = h.key_of_day(now.utc_day()).unwrap().clone();
        assert_eq!(RpiKey::derive(&tek).generator().rpi(ad.interval), ad.rpi);
        assert_eq!(AemKey::derive(&tek).decrypt(&ad.rpi, &ad.aem), Metadata::v1_0(-8));
        assert_eq!(i64::from(ad.interval.get()), now.seconds() / 600);
    }
}
