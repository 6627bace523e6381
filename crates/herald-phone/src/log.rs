//! What the phone heard: every advertisement with its time, RSSI and the previous scan's time,
//! kept 14 days (the OS's retention), in arrival order.

use herald_gaen::Sighting;
use herald_model::UnixTime;

/// Days sightings are kept.
pub const SIGHTING_RETENTION_DAYS: i64 = 14;

/// The sightings log.
#[derive(Debug, Clone, Default)]
pub struct SightingsLog {
    sightings: Vec<Sighting>,
}

impl SightingsLog {
    /// Empty.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one sighting.
    pub fn record(&mut self, sighting: Sighting) {
        self.sightings.push(sighting);
    }

    /// Drops sightings older than 14 days (whole UTC days before today's 13 predecessors).
    pub fn forget_old(&mut self, now: UnixTime) {
        let oldest = (now.utc_day() - (SIGHTING_RETENTION_DAYS - 1)) * 86_400;
        self.sightings.retain(|s| s.time.seconds() >= oldest);
    }

    /// Everything kept.
    pub fn sightings(&self) -> &[Sighting] {
        &self.sightings
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
}
