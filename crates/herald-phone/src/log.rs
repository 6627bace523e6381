//! What the phone heard: every advertisement with its time, RSSI and the previous scan's time,
//! kept 14 days (the OS's retention), in arrival order.
//!
//! Stored compactly (28 bytes a sighting instead of 48: seconds as `u32`, the previous scan as
//! a gap in seconds), because a simulated population keeps hundreds of millions of them;
//! [`SightingsLog::sightings`] gives them back as [`Sighting`]s for matching.

use herald_gaen::{Aem, Rpi, Sighting};
use herald_model::UnixTime;

/// Days sightings are kept.
pub const SIGHTING_RETENTION_DAYS: i64 = 14;

/// One sighting as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stored {
    rpi: [u8; 16],
    aem: [u8; 4],
    /// Unix seconds (until 2106).
    time: u32,
    /// Seconds since the previous scan; 0 = unknown.
    previous_gap: u16,
    rssi: i8,
}

impl Stored {
    fn sighting(&self) -> Sighting {
        let time = UnixTime(i64::from(self.time));
        Sighting {
            rpi: Rpi(self.rpi),
            aem: Aem(self.aem),
            time,
            rssi: self.rssi,
            previous_scan: (self.previous_gap > 0)
                .then(|| UnixTime(time.seconds() - i64::from(self.previous_gap))),
        }
    }
}

/// The sightings log.
#[derive(Debug, Clone, Default)]
pub struct SightingsLog {
    sightings: Vec<Stored>,
}

impl SightingsLog {
    /// Empty.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one sighting. Times before 1970 or after 2106 and previous scans more than 18 h
    /// back (never the case on a phone, which scans every few minutes) are not representable:
    /// such a sighting is kept without its previous scan, or dropped if its own time is out of
    /// range.
    pub fn record(&mut self, sighting: Sighting) {
        let Ok(time) = u32::try_from(sighting.time.seconds()) else { return };
        let previous_gap = sighting
            .previous_scan
            .and_then(|p| u16::try_from(sighting.time.seconds() - p.seconds()).ok())
            .filter(|gap| *gap > 0)
            .unwrap_or(0);
        self.sightings.push(Stored {
            rpi: sighting.rpi.0,
            aem: sighting.aem.0,
            time,
            previous_gap,
            rssi: sighting.rssi,
        });
    }

    /// Drops sightings older than 14 days (whole UTC days before today's 13 predecessors). The
    /// capacity stays: the log grows back within a day.
    pub fn forget_old(&mut self, now: UnixTime) {
        let oldest = (now.utc_day() - (SIGHTING_RETENTION_DAYS - 1)) * 86_400;
        self.sightings.retain(|s| i64::from(s.time) >= oldest);
    }

    /// Everything kept, as sightings for matching.
    pub fn sightings(&self) -> Vec<Sighting> {
        self.sightings.iter().map(Stored::sighting).collect()
    }

    /// The sightings whose RPI passes `keep` (a cheap pre-filter, such as a key set's RPI
    /// table, so that only candidates are unpacked).
    pub fn sightings_where(&self, mut keep: impl FnMut(&[u8; 16]) -> bool) -> Vec<Sighting> {
        self.sightings.iter().filter(|s| keep(&s.rpi)).map(Stored::sighting).collect()
    }

    /// How many sightings are kept.
    pub fn len(&self) -> usize {
        self.sightings.len()
    }

    /// Whether nothing was heard.
    pub fn is_empty(&self) -> bool {
        self.sightings.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use herald_gaen::{Aem, Rpi, Sighting};
    use herald_model::UnixTime;

    use super::SightingsLog;

    #[test]
    fn fourteen_days_are_kept() {
        let mut log = SightingsLog::new();
        let day = 86_400;
        for d in 0..20 {
            log.record(Sighting {
                rpi: Rpi([d; 16]),
                aem: Aem([0; 4]),
                time: UnixTime(i64::from(d) * day + 100),
                rssi: -60,
                previous_scan: None,
            });
        }
        log.forget_old(UnixTime(19 * day + 5));
        assert_eq!(log.len(), 14);
        assert_eq!(log.sightings()[0].time, UnixTime(6 * day + 100));
    }

    proptest::proptest! {
        /// What goes in comes back out, for every representable sighting.
        #[test]
        fn sightings_round_trip(
            rpi in proptest::prelude::any::<[u8; 16]>(),
            aem in proptest::prelude::any::<[u8; 4]>(),
            time in 0i64..=i64::from(u32::MAX),
            rssi in proptest::prelude::any::<i8>(),
            gap in proptest::option::of(1i64..=65_535),
        ) {
            let s = Sighting {
                rpi: Rpi(rpi),
                aem: Aem(aem),
                time: UnixTime(time),
                rssi,
                previous_scan: gap.map(|g| UnixTime(time - g)),
            };
            let mut log = SightingsLog::new();
            log.record(s);
            proptest::prop_assert_eq!(log.sightings(), vec![s]);
        }
    }
}
