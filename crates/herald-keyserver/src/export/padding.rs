//! How many padding keys a window gets and what they look like (key-server.md §5.5, §6.4, §6.6).
//!
//! The policy counts the server's **own** keys of the window (uploaded here, or padding of an
//! earlier run), never the keys the federation brought in: imported keys reach every country's
//! files and the gateway knows their origin, so they hide nothing about how many people uploaded
//! here, and counting them let a busy federation switch a small country's padding off.
//!
//! - **Floor.** A window with fewer than `floor` own real keys — none included — gets
//!   `floor + jitter` own keys, the jitter drawn from `0..=range` independently of the real
//!   count: below the floor the count says nothing about how many people uploaded.
//! - **Ladder.** Above the floor (`ladder_percent` > 0), own keys go up to the next rung of
//!   `floor, floor·(1 + p), floor·(1 + p)², …` (plus jitter): the count tells only which rung,
//!   and costs at most `p` more keys than the real ones. Without the ladder (ENS) a window at or
//!   above the floor is not padded and its count is exact.
//! - **Shape.** Padding keys copy the shape of the server's recent real keys (round-robin over a
//!   shuffled pool: transmission risk, report type, onset, regions, traveller, and the key's day
//!   relative to its release), moved to the padding's release by whole days, with fresh random
//!   key bytes. Without any real key yet, they are synthetic uploads of 10 to 14 daily keys.
//!
//! The padding keys are stored like real ones and, with a federation, queued for the gateway
//! like real ones: fakes that stayed home would be exactly the keys of a country's files that no
//! other country publishes, and the gateway would see the real count by origin.

use herald_model::{CountryCode, TemporaryExposureKey};
use rand::{CryptoRng, RngExt as _};

use crate::config::ExportConfigEntry;
use crate::store::{StoredKey, VerificationReportType};

/// The `source` of a padding key.
pub const FAKE_SOURCE: &str = "export-generated";

/// Days of real keys padding keys may take their shape from.
pub const POOL_DAYS: i64 = 14;

/// How a window's own keys are padded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Padding {
    /// Own real keys below this get `floor + jitter`; 0 turns padding off.
    pub floor: usize,
    /// The jitter is drawn from `0..=range`.
    pub range: usize,
    /// Above the floor, pad to the next rung `floor · (1 + p/100)^k`; 0 = no padding above it.
    pub ladder_percent: u32,
}

impl Padding {
    /// The padding of an export configuration.
    pub fn of(config: &ExportConfigEntry) -> Self {
        Self {
            floor: config.min_records,
            range: config.padding_range,
            ladder_percent: config.padding_ladder_percent,
        }
    }

    /// Whether this policy pads at all.
    pub fn is_on(&self) -> bool {
        self.floor > 0
    }

    /// The rung for `real` own keys: the floor below it; at or above it the next rung of the
    /// ladder, or `real` itself without a ladder.
    pub fn rung(&self, real: usize) -> usize {
        if !self.is_on() || real < self.floor {
            return self.floor.max(real);
        }
        if self.ladder_percent == 0 {
            return real;
        }
        let percent = usize::try_from(self.ladder_percent).unwrap_or(usize::MAX);
        let mut rung = self.floor;
        while rung < real {
            let step = rung.saturating_mul(percent).div_ceil(100).max(1);
            rung = rung.saturating_add(step);
        }
        rung
    }

    /// How many own keys a window with `real` own real keys holds after padding, for a jitter
    /// of `jitter` (at most `range`): `real` itself when this policy does not pad it.
    pub fn target(&self, real: usize, jitter: usize) -> usize {
        if !self.is_on() || (real >= self.floor && self.ladder_percent == 0) {
            return real;
        }
        self.rung(real).saturating_add(jitter.min(self.range))
    }

    /// [`target`](Self::target) with the jitter drawn from `rng`.
    pub fn draw_target(&self, real: usize, rng: &mut dyn CryptoRng) -> usize {
        let jitter = rng.random_range(0..=self.range);
        self.target(real, jitter)
    }
}

/// Checks which series pad: of the configurations that hold this server's own keys (input
/// region `*` or one of `own_regions`, or travellers), the finest must pad if any does. A finer
/// series left unpadded would publish, window by window, the own keys a coarser padding hides.
/// Returns the name of the offending configuration.
pub fn check_series(configs: &[ExportConfigEntry], own_regions: &[String]) -> Result<(), String> {
    let own = |c: &&ExportConfigEntry| {
        c.include_travelers
            || c.input_regions
                .iter()
                .any(|r| r == "*" || own_regions.iter().any(|o| o.eq_ignore_ascii_case(r)))
    };
    let holding: Vec<&ExportConfigEntry> = configs.iter().filter(own).collect();
    let Some(finest) = holding.iter().min_by_key(|c| c.period_seconds) else { return Ok(()) };
    if finest.min_records == 0 && holding.iter().any(|c| c.min_records > 0) {
        return Err(finest.name.clone());
    }
    Ok(())
}

/// Who the padding keys are and when they are released.
#[derive(Debug, Clone)]
pub struct FakeSpec<'a> {
    /// The server's country (the keys' origin).
    pub origin: CountryCode,
    /// Regions of synthetic keys (without a pool to copy).
    pub regions: &'a [String],
    /// Release time (`created_at`): a whole hour inside the window.
    pub release: i64,
}

/// `n` padding keys released at `spec.release`, shaped after `pool` (the server's recent own
/// real keys), or synthetic uploads when the pool is empty.
pub fn fakes(
    pool: &[StoredKey],
    n: usize,
    spec: &FakeSpec<'_>,
    rng: &mut dyn CryptoRng,
) -> Vec<StoredKey> {
    if pool.is_empty() {
        return synthetic(n, spec, rng);
    }
    // Shuffled, so that which real keys are copied says nothing about the order they came in;
    // round-robin, so every key of the pool is copied before any is copied twice (ENS #1217).
    let mut order: Vec<usize> = (0..pool.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    (0..n)
        .filter_map(|i| order.get(i % order.len()).and_then(|&j| pool.get(j)))
        .map(|model| {
            // Moved by whole days, so the key keeps its age relative to its release.
            let days = (spec.release - model.created_at).div_euclid(86_400).max(0);
            let interval_number = u32::try_from(days * 144)
                .ok()
                .and_then(|shift| model.interval_number.checked_add(shift))
                .unwrap_or(model.interval_number);
            StoredKey {
                key: random_key(rng),
                source: FAKE_SOURCE.to_owned(),
                interval_number,
                created_at: spec.release,
                local_provenance: true,
                origin: spec.origin,
                revision: None,
                ..model.clone()
            }
        })
        .collect()
}

/// Synthetic uploads: 10 to 14 keys each, one per day before the release day, the onset one to
/// five days before the release, transmission risk as the publish API backfills a confirmed
/// test's (2).
fn synthetic(n: usize, spec: &FakeSpec<'_>, rng: &mut dyn CryptoRng) -> Vec<StoredKey> {
    let release_day = spec.release.div_euclid(86_400);
    let mut keys = Vec::with_capacity(n);
    while keys.len() < n {
        let days: i64 = rng.random_range(10..=14);
        let onset: i64 = rng.random_range(1..=5);
        for back in 1..=days {
            if keys.len() == n {
                break;
            }
            let day = release_day - back;
            keys.push(StoredKey {
                key: random_key(rng),
                transmission_risk: 2,
                source: FAKE_SOURCE.to_owned(),
                regions: spec.regions.to_vec(),
                traveler: false,
                interval_number: u32::try_from(day * 144).unwrap_or(0),
                interval_count: 144,
                created_at: spec.release,
                local_provenance: true,
                origin: spec.origin,
                report_type: Some(VerificationReportType::Confirmed),
                days_since_onset: i32::try_from((onset - back).clamp(-14, 14)).ok(),
                revision: None,
            });
        }
    }
    keys
}

fn random_key(rng: &mut dyn CryptoRng) -> TemporaryExposureKey {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    TemporaryExposureKey::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng as _;

    use super::*;

    const LADDER: Padding = Padding { floor: 140, range: 10, ladder_percent: 20 };

    #[test]
    fn below_the_floor_the_count_does_not_depend_on_the_real_keys() {
        for jitter in [0, 3, 10] {
            let counts: Vec<usize> =
                [0, 1, 13, 70, 139].iter().map(|&real| LADDER.target(real, jitter)).collect();
            assert!(counts.iter().all(|&c| c == 140 + jitter), "{counts:?}");
        }
        // The jitter never exceeds the range.
        assert_eq!(LADDER.target(5, 1000), 150);
    }

    #[test]
    fn above_the_floor_the_ladder_tells_only_the_rung() {
        // Rungs: 140, 168, 202, 243, 292, …
        assert_eq!(LADDER.rung(140), 140);
        assert_eq!(LADDER.rung(141), 168);
        assert_eq!(LADDER.rung(168), 168);
        assert_eq!(LADDER.rung(169), 202);
        for real in [140, 500, 7_000, 80_000, 1_000_000] {
            let rung = LADDER.rung(real);
            assert!(rung >= real && rung * 100 <= real * 120 + 100, "{real} -> {rung}");
        }
        // Without the ladder, windows at or above the floor are left alone (ENS).
        let flat = Padding { ladder_percent: 0, ..LADDER };
        assert_eq!(flat.target(140, 5), 140);
        assert_eq!(flat.target(5000, 5), 5000);
        assert_eq!(flat.target(0, 5), 145);
        // Off: never padded.
        assert_eq!(Padding::default().target(0, 5), 0);
        assert_eq!(Padding::default().target(7, 5), 7);
    }

    #[test]
    fn the_finest_series_holding_own_keys_pads() {
        let config =
            |name: &str, period: i64, min_records: usize, region: &str| ExportConfigEntry {
                name: name.into(),
                region: "DE".into(),
                period_seconds: period,
                input_regions: vec![region.into()],
                include_travelers: false,
                max_records: 100,
                min_records,
                padding_range: 0,
                padding_ladder_percent: 0,
            };
        let de = ["DE".to_owned()];
        let ok = |configs: &[ExportConfigEntry]| check_series(configs, &de);
        assert_eq!(ok(&[config("h", 3600, 140, "*"), config("d", 86_400, 0, "*")]), Ok(()));
        assert_eq!(ok(&[config("h", 3600, 0, "*"), config("d", 86_400, 0, "*")]), Ok(()));
        assert_eq!(
            ok(&[config("h", 3600, 0, "de"), config("d", 86_400, 140, "*")]),
            Err("h".into())
        );
        // A series of foreign keys only needs no padding.
        assert_eq!(ok(&[config("h", 3600, 0, "FR"), config("d", 86_400, 140, "*")]), Ok(()));
    }

    #[test]
    fn synthetic_fakes_look_like_uploads_released_before_their_day() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let regions = vec!["MT".to_owned()];
        let spec =
            FakeSpec { origin: "MT".parse().unwrap(), regions: &regions, release: 86_400 * 20_000 };
        let keys = fakes(&[], 150, &spec, &mut rng);
        assert_eq!(keys.len(), 150);
        for k in &keys {
            let valid_until = (i64::from(k.interval_number) + 144) * 600;
            assert!(valid_until <= spec.release, "released after the key's validity");
            assert!(spec.release - valid_until < 14 * 86_400);
            assert_eq!((k.source.as_str(), k.local_provenance), (FAKE_SOURCE, true));
            assert!(k.days_since_onset.is_some_and(|d| (-14..=14).contains(&d)));
        }
        let distinct: std::collections::HashSet<_> = keys.iter().map(|k| k.key.clone()).collect();
        assert_eq!(distinct.len(), 150);
    }
}
