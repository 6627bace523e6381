//! The 27 EU countries of `herald bench padding`: how many people upload keys each day.
//!
//! Daily uploads = population × cases per million and day × app share × upload share, with
//! - population: Eurostat, 1 January 2021, rounded to thousands;
//! - cases per million and day: 50 on a **typical** day (a moderate level: Germany in October
//!   2020 or September 2021 saw 25–115) and 500 on a **peak** day (a winter wave: Germany in
//!   November 2021 about 600, several countries well above 1000 in early 2022);
//! - app share: people with an active exposure-notification app, rounded from the downloads and
//!   active users the national apps reported in 2021 (Corona-Warn-App about 30 %, Koronavilkku
//!   about 45 %, Smittestop and COVID Tracker about 35 %, Immuni, StayAway, Stopp Corona about
//!   15 %); 3–5 % where a country had no GAEN app or one few used (the simulation lets every
//!   country take part);
//! - upload share: half of the app users who test positive share their keys (CWA's figures
//!   in 2020: about 220 uploads a day at some 2000 cases, 24 % app share, i.e. about 46 %).
//!
//! That gives Germany about 620 uploads on a typical day and 6200 at a peak, Malta 2.6 and 26,
//! Luxembourg less than one and 8; each upload holds 10 to 14 daily keys (the days of the
//! infectious period the phone still has).

use rand::RngExt as _;
use rand::rngs::StdRng;

/// One country of the simulation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Country {
    /// ISO 3166-1 alpha-2 (EFGS's codes: GR for Greece).
    pub(crate) code: &'static str,
    /// Population, thousands.
    population_thousands: u32,
    /// Share of the population with an active app, percent.
    app_percent: u32,
}

const fn c(code: &'static str, population_thousands: u32, app_percent: u32) -> Country {
    Country { code, population_thousands, app_percent }
}

/// The EU-27, largest first.
pub(crate) const EU27: [Country; 27] = [
    c("DE", 83_155, 30),
    c("FR", 67_657, 15),
    c("IT", 59_236, 15),
    c("ES", 47_399, 10),
    c("PL", 37_840, 5),
    c("RO", 19_202, 3),
    c("NL", 17_475, 25),
    c("BE", 11_555, 20),
    c("CZ", 10_702, 15),
    c("GR", 10_679, 3),
    c("SE", 10_379, 3),
    c("PT", 10_298, 15),
    c("HU", 9_731, 3),
    c("AT", 8_933, 15),
    c("BG", 6_917, 3),
    c("DK", 5_840, 35),
    c("FI", 5_534, 45),
    c("SK", 5_460, 5),
    c("IE", 5_006, 35),
    c("HR", 4_036, 3),
    c("LT", 2_796, 5),
    c("SI", 2_108, 15),
    c("LV", 1_893, 10),
    c("EE", 1_330, 20),
    c("CY", 896, 15),
    c("LU", 634, 5),
    c("MT", 516, 20),
];

/// Share of app users testing positive who upload.
const UPLOAD_SHARE: f64 = 0.5;

/// When people upload, by UTC hour (Europe is UTC+1/+2): little at night, most during the day.
const PROFILE: [u32; 24] = [1, 1, 1, 1, 1, 2, 4, 6, 8, 9, 9, 9, 9, 9, 8, 8, 8, 7, 6, 5, 4, 3, 2, 1];

/// Keys in one upload.
pub(crate) const KEYS_PER_UPLOAD: std::ops::RangeInclusive<u64> = 10..=14;

/// A typical or a peak day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Regime {
    /// 50 cases per million and day.
    Typical,
    /// 500 cases per million and day.
    Peak,
}

impl Regime {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Typical => "typical",
            Self::Peak => "peak",
        }
    }

    fn cases_per_million(self) -> f64 {
        match self {
            Self::Typical => 50.0,
            Self::Peak => 500.0,
        }
    }
}

impl Country {
    /// Expected uploads a day.
    pub(crate) fn uploads_per_day(&self, regime: Regime) -> f64 {
        f64::from(self.population_thousands) / 1000.0
            * regime.cases_per_million()
            * f64::from(self.app_percent)
            / 100.0
            * UPLOAD_SHARE
    }

    /// The uploads, and their keys, in hour `hour` (UTC) of a day.
    pub(crate) fn keys_in_hour(&self, regime: Regime, hour: usize, rng: &mut StdRng) -> (u64, u64) {
        let weight = PROFILE.get(hour % 24).copied().unwrap_or(0);
        let total: u32 = PROFILE.iter().sum();
        let mean = self.uploads_per_day(regime) * f64::from(weight) / f64::from(total);
        let uploads = poisson(rng, mean);
        (uploads, (0..uploads).map(|_| rng.random_range(KEYS_PER_UPLOAD)).sum())
    }
}

/// A Poisson draw (Knuth's method, in chunks of at most 30 so `e^-mean` never underflows).
fn poisson(rng: &mut StdRng, mean: f64) -> u64 {
    let mut left = mean;
    let mut n = 0;
    while left > 0.0 {
        let chunk = left.min(30.0);
        left -= chunk;
        let limit = (-chunk).exp();
        let mut p = 1.0;
        loop {
            p *= rng.random::<f64>();
            if p <= limit {
                break;
            }
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng as _;

    use super::*;

    #[test]
    fn volumes_span_a_few_to_thousands() {
        let de = EU27[0].uploads_per_day(Regime::Peak);
        let mt = EU27[26].uploads_per_day(Regime::Typical);
        assert!((5000.0..8000.0).contains(&de), "{de}");
        assert!((1.0..5.0).contains(&mt), "{mt}");
        let mut rng = StdRng::seed_from_u64(1);
        let day: u64 = (0..24).map(|h| EU27[0].keys_in_hour(Regime::Typical, h, &mut rng).1).sum();
        assert!((5000..10_000).contains(&day), "{day}");
    }
}
