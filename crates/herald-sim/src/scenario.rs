//! What to simulate: countries and phones, how people meet, how the disease spreads, who gets
//! tested and who uploads. Every number has a default that gives a small, lively epidemic.

use herald_model::{CountryCode, UnixTime};

/// Why a scenario cannot run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScenarioError {
    /// A setting is out of range; the message names it.
    #[error("scenario: {0}")]
    Invalid(String),
}

/// A simulated population and epidemic.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The countries, each with its own phones (and, in the demo, its own services).
    pub countries: Vec<CountryCode>,
    /// Phones per country.
    pub phones_per_country: u32,
    /// Days to simulate.
    pub days: u32,
    /// Seed of every random choice: the same seed gives the same run.
    pub seed: u64,
    /// Midnight UTC of the first day.
    pub start: UnixTime,
    /// Measurement noise on attenuation (±dB, uniform); 0 makes what phones record equal the
    /// ground truth.
    pub attenuation_noise_db: u8,
    /// Largest household (sizes are uniform in 1..=this).
    pub max_household: u32,
    /// People per workplace.
    pub workplace_size: u32,
    /// Colleagues met per working day.
    pub colleagues_per_day: u32,
    /// Random encounters per person per day (shops, transport).
    pub random_contacts_per_day: u32,
    /// Share of people who travel to another country (one of the others, fixed per person).
    pub traveller_share: f64,
    /// Minutes of a household evening together.
    pub household_minutes: u16,
    /// Minutes of a meeting with a colleague.
    pub colleague_minutes: u16,
    /// Longest random encounter, minutes (uniform from 5).
    pub random_max_minutes: u16,
    /// Infectious people per country on day 0.
    pub initially_infectious: u32,
    /// Chance of infection per minute of close contact (attenuation ≤ 55 dB; farther contacts
    /// count less).
    pub infection_per_close_minute: f64,
    /// Days from infection to infectiousness.
    pub incubation_days: u32,
    /// Days of infectiousness.
    pub infectious_days: u32,
    /// Share of infectious people who get tested.
    pub tested_share: f64,
    /// Days from infectiousness to a positive result.
    pub test_delay_days: u32,
    /// Share of positives who upload their keys.
    pub upload_share: f64,
}

impl Default for Scenario {
    fn default() -> Self {
        Self {
            countries: ["DE", "NL", "DK"].iter().filter_map(|c| c.parse().ok()).collect(),
            phones_per_country: 300,
            days: 5,
            seed: 1,
            // 2026-11-02 00:00 UTC.
            start: UnixTime(1_793_577_600),
            attenuation_noise_db: 0,
            max_household: 4,
            workplace_size: 12,
            colleagues_per_day: 3,
            random_contacts_per_day: 2,
            traveller_share: 0.1,
            household_minutes: 60,
            colleague_minutes: 45,
            random_max_minutes: 20,
            initially_infectious: 3,
            infection_per_close_minute: 0.01,
            incubation_days: 2,
            infectious_days: 6,
            tested_share: 0.8,
            test_delay_days: 1,
            upload_share: 0.8,
        }
    }
}

impl Scenario {
    /// Checks every setting; the error names the first one out of range.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        let bad = |what: &str| Err(ScenarioError::Invalid(what.to_owned()));
        if self.countries.is_empty() {
            return bad("at least one country");
        }
        for (i, c) in self.countries.iter().enumerate() {
            if self.countries.iter().take(i).any(|d| d == c) {
                return bad(&format!("country {c} is listed twice"));
            }
        }
        if self.phones_per_country == 0 || self.phones_per_country > 10_000_000 {
            return bad("phones per country must be in 1..=10000000");
        }
        if self.days == 0 || self.days > 60 {
            return bad("days must be in 1..=60");
        }
        if self.start.seconds().rem_euclid(86_400) != 0 {
            return bad("the start must be midnight UTC");
        }
        if self.max_household == 0 || self.workplace_size == 0 {
            return bad("household and workplace sizes must be at least 1");
        }
        for (name, share) in [
            ("traveller share", self.traveller_share),
            ("tested share", self.tested_share),
            ("upload share", self.upload_share),
            ("infection chance per close minute", self.infection_per_close_minute),
        ] {
            if !(0.0..=1.0).contains(&share) {
                return bad(&format!("{name} must be in 0..=1"));
            }
        }
        if self.household_minutes == 0 || self.colleague_minutes == 0 || self.random_max_minutes < 5
        {
            return bad("contact minutes must be at least 1 (random encounters at least 5)");
        }
        if self.household_minutes > 600
            || self.colleague_minutes > 600
            || self.random_max_minutes > 600
        {
            return bad("contacts last at most 600 minutes");
        }
        if self.initially_infectious > self.phones_per_country {
            return bad("more initially infectious people than phones");
        }
        if self.attenuation_noise_db > 30 {
            return bad("attenuation noise must be at most 30 dB");
        }
        Ok(())
    }
}
