//! The simulation of `herald bench padding`: hour by hour, 27 key servers release their
//! uploads, pad their windows under one policy (with the key server's own [`Padding`]), the
//! federation carries every key — real and, if the policy federates them, padding — to every
//! other country, and phones download their country's series.
//!
//! Timing: a key released in hour `t` is in the other countries' window of hour `t + 1` (upload
//! and download every 10 minutes, imported in the hour after, as the key server stamps imports
//! with the hour they arrive). A window `[s, e)` is padded when it is exported, 2 hours after its
//! end (`min_window_age`); its fakes are released in its last hour and reach the others in
//! hour `e + 3`, and so do its real keys when the policy holds them for their padding (the key
//! server's `federate_after_padding`).

use herald_keyserver::export::padding::Padding;
use rand::SeedableRng as _;
use rand::rngs::StdRng;

use super::europe::{Country, EU27, Regime};

/// Hours after a window's end before it is exported.
const EXPORT_DELAY: usize = 2;
/// Hours from a release to the other countries' windows.
const FEDERATION_LAG: usize = 1;
/// Days simulated before the reported ones, so federated padding has reached everyone.
pub(crate) const WARM_UP_DAYS: usize = 2;

/// What a window's padding counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Count {
    /// Every key in the window, federated ones too; empty windows stay empty (ENS, herald
    /// until now).
    Window,
    /// The server's own keys only; empty windows are padded too.
    Own,
}

/// Which series pad (and which series phones download).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Windows {
    /// Hourly and daily series both pad (ENS's defaults on both); phones read the hourly one.
    Both,
    /// Hourly windows.
    Hourly,
    /// Daily windows.
    Daily,
    /// The shortest window (1, 2, 3, 4, 6, 8, 12 or 24 hours) in which a typical day brings
    /// three times the floor in own keys, so that windows seldom fall below it (at 1 × and 2 ×
    /// too many windows hover around the floor: Germany pays 1.26 and 1.19).
    ByVolume,
}

/// A series of export files: windows of `hours` hours (a divisor of 24, so windows align with
/// days), i.e. `period_seconds = 3600 × hours`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Series {
    pub(crate) hours: usize,
}

impl Series {
    pub(crate) const HOURLY: Self = Self { hours: 1 };
    pub(crate) const DAILY: Self = Self { hours: 24 };
    /// The window lengths a policy may choose from.
    const LENGTHS: [usize; 8] = [1, 2, 3, 4, 6, 8, 12, 24];

    pub(crate) fn name(self) -> String {
        format!("{}h", self.hours)
    }
}

/// A padding policy every key server applies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    pub(crate) name: &'static str,
    pub(crate) summary: &'static str,
    pub(crate) count: Count,
    /// Padding keys go to the gateway like real ones.
    pub(crate) federated: bool,
    /// Own real keys go to the gateway with their padding window (`federate_after_padding`),
    /// not as soon as they are released.
    pub(crate) held: bool,
    pub(crate) padding: Padding,
    pub(crate) windows: Windows,
}

impl Policy {
    /// The series `country` pads and its phones download.
    pub(crate) fn series(&self, country: &Country) -> Series {
        match self.windows {
            Windows::Both | Windows::Hourly => Series::HOURLY,
            Windows::Daily => Series::DAILY,
            Windows::ByVolume => {
                let per_hour = country.uploads_per_day(Regime::Typical) * 12.0 / 24.0;
                #[allow(clippy::cast_precision_loss)] // floors and hours are far below 2^52
                let fits =
                    |hours: &usize| per_hour * *hours as f64 >= 3.0 * self.padding.floor as f64;
                let hours = Series::LENGTHS.into_iter().find(fits).unwrap_or(24);
                Series { hours }
            }
        }
    }

    /// The series `country` pads, finer first.
    fn padded(&self, country: &Country) -> Vec<Series> {
        match self.windows {
            Windows::Both => vec![Series::HOURLY, Series::DAILY],
            _ => vec![self.series(country)],
        }
    }
}

/// The keys of one hour of one country's store, by where they came from.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Hour {
    pub(crate) uploads: u64,
    pub(crate) own_real: u64,
    pub(crate) own_fake: u64,
    pub(crate) imported_real: u64,
    pub(crate) imported_fake: u64,
}

impl Hour {
    pub(crate) fn total(&self) -> u64 {
        self.own_real + self.own_fake + self.imported_real + self.imported_fake
    }

    pub(crate) fn real(&self) -> u64 {
        self.own_real + self.imported_real
    }

    fn add(&mut self, other: &Self) {
        self.uploads += other.uploads;
        self.own_real += other.own_real;
        self.own_fake += other.own_fake;
        self.imported_real += other.imported_real;
        self.imported_fake += other.imported_fake;
    }
}

/// One simulated run.
#[derive(Debug)]
pub(crate) struct Run {
    /// `[country][hour]`, warm-up included.
    hours: Vec<Vec<Hour>>,
    /// Days reported after the warm-up.
    pub(crate) days: usize,
    /// Mean hours from a real key's release to the other countries' files.
    pub(crate) travel_hours: f64,
}

impl Run {
    /// The windows of `series` that `country` published on reported day `day` (0-based), with
    /// their keys summed.
    pub(crate) fn windows(&self, country: usize, day: usize, series: Series) -> Vec<Hour> {
        let first = (WARM_UP_DAYS + day) * 24;
        let Some(hours) = self.hours.get(country) else { return Vec::new() };
        hours
            .get(first..first + 24)
            .unwrap_or_default()
            .chunks(series.hours.max(1))
            .map(|chunk| {
                let mut sum = Hour::default();
                for h in chunk {
                    sum.add(h);
                }
                sum
            })
            .collect()
    }
}

/// Simulates `days` reported days (after the warm-up) of the EU-27 under `policy`.
pub(crate) fn simulate(policy: &Policy, regime: Regime, days: usize, seed: u64) -> Run {
    let total = (WARM_UP_DAYS + days) * 24;
    let slack = EXPORT_DELAY + FEDERATION_LAG + 24;
    let mut hours = vec![vec![Hour::default(); total + slack]; EU27.len()];
    // Uploads and padding draw from generators of their own: every policy sees the same uploads.
    let mut uploads_rng = StdRng::seed_from_u64(seed);
    let mut rng = StdRng::seed_from_u64(seed ^ 0x9add_1e55);
    let mut travel = Travel::default();
    for t in 0..total {
        for (c, country) in EU27.iter().enumerate() {
            let (uploads, keys) = country.keys_in_hour(regime, t % 24, &mut uploads_rng);
            if let Some(h) = hours.get_mut(c).and_then(|v| v.get_mut(t)) {
                h.uploads = uploads;
                h.own_real = keys;
            }
        }
        // Real keys travel at once, unless they wait for their padding window.
        for c in 0..EU27.len() {
            let keys = hours.get(c).and_then(|v| v.get(t)).map_or(0, |h| h.own_real);
            if !policy.held {
                deliver(&mut hours, c, t + FEDERATION_LAG, keys, false);
                travel.add(t, t + FEDERATION_LAG, keys);
            }
        }
        // Windows ending now: finer series first (as the key server runs them).
        for (c, country) in EU27.iter().enumerate() {
            for series in policy.padded(country) {
                let end = t + 1;
                if end % series.hours != 0 {
                    continue;
                }
                let start = end - series.hours;
                let fakes = pad(policy, hours.get_mut(c), start, end, &mut rng);
                let arrival = end + EXPORT_DELAY + FEDERATION_LAG;
                if policy.federated {
                    deliver(&mut hours, c, arrival, fakes, true);
                }
                if policy.held && series == policy.series(country) {
                    for h in start..end {
                        let keys = hours.get(c).and_then(|v| v.get(h)).map_or(0, |x| x.own_real);
                        deliver(&mut hours, c, arrival, keys, false);
                        travel.add(h, arrival, keys);
                    }
                }
            }
        }
    }
    Run { hours, days, travel_hours: travel.mean() }
}

/// The mean hours from release to the other countries' files, over all own real keys.
#[derive(Debug, Default)]
struct Travel {
    hours: f64,
    keys: f64,
}

impl Travel {
    #[allow(clippy::cast_precision_loss)] // hours and key counts are far below 2^52
    fn add(&mut self, from: usize, to: usize, keys: u64) {
        self.hours += (to - from) as f64 * keys as f64;
        self.keys += keys as f64;
    }

    fn mean(&self) -> f64 {
        if self.keys > 0.0 { self.hours / self.keys } else { 0.0 }
    }
}

/// Pads `[start, end)` of one country; returns the fakes added (in its last hour).
fn pad(
    policy: &Policy,
    hours: Option<&mut Vec<Hour>>,
    start: usize,
    end: usize,
    rng: &mut StdRng,
) -> u64 {
    let Some(window) = hours.and_then(|h| h.get_mut(start..end)) else { return 0 };
    let count = match policy.count {
        Count::Window => window.iter().map(Hour::total).sum::<u64>(),
        Count::Own => {
            if window.iter().any(|h| h.own_fake > 0) {
                return 0; // a finer series padded it
            }
            window.iter().map(|h| h.own_real).sum()
        }
    };
    if count == 0 && policy.count == Count::Window {
        return 0;
    }
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    let target = policy.padding.draw_target(count, rng);
    let fakes = u64::try_from(target.saturating_sub(count)).unwrap_or(0);
    if let Some(last) = window.last_mut() {
        last.own_fake += fakes;
    }
    fakes
}

/// Adds `keys` released by country `from` to every other country's hour `at`.
fn deliver(hours: &mut [Vec<Hour>], from: usize, at: usize, keys: u64, fake: bool) {
    for (c, country) in hours.iter_mut().enumerate() {
        if c == from {
            continue;
        }
        if let Some(h) = country.get_mut(at) {
            if fake { h.imported_fake += keys } else { h.imported_real += keys }
        }
    }
}

/// Own keys of `policy`'s window that the federation sees from a country with `uploads` uploads
/// of 13 keys in it, next to `imported` federated keys: what the gateway learns by origin (and
/// an observer who tells a country's keys apart by where they appear first).
pub(crate) fn seen_by_origin(policy: &Policy, uploads: u64, imported: u64, seed: u64) -> u64 {
    let real = uploads * 13;
    let count = match policy.count {
        Count::Window => real + imported,
        Count::Own => real,
    };
    if count == 0 && policy.count == Count::Window {
        return 0;
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    let fakes = policy.padding.draw_target(count, &mut rng).saturating_sub(count);
    real + if policy.federated { u64::try_from(fakes).unwrap_or(0) } else { 0 }
}
