//! The population model of `herald demo`: phones in several countries meeting at home, at work,
//! by chance and across borders; the BLE sightings those meetings leave in each phone (the
//! Android scan cadence: one scan every 5 minutes, each hearing the other phone's current
//! advertisement); and an epidemic with ground truth (who infected whom, who tests positive,
//! who uploads). Pure and deterministic: the same [`Scenario`] and seed give the same run.
//!
//! The demo drives the services (verifier, key server, gateway) with what a day produces;
//! tests here check the model itself.

pub mod scenario;

use herald_model::UnixTime;
use herald_phone::Phone;
use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng as _};

pub use scenario::{Scenario, ScenarioError};

/// A person (and their phone), by position in [`Simulation::people`].
pub type PersonId = u32;

/// Seconds between two BLE scans of a phone (Android: 5 minutes).
pub const SCAN_INTERVAL: i64 = 300;

/// How many scans a phone whose scans fall at `phase` (mod [`SCAN_INTERVAL`]) makes during
/// `minutes` from `start` (end exclusive): the sightings it records of the other phone.
pub fn scans_during(phase: i64, start: UnixTime, minutes: u16) -> usize {
    let start = start.seconds();
    let first = start + (phase - start).rem_euclid(SCAN_INTERVAL);
    let end = start + i64::from(minutes) * 60;
    if first >= end {
        0
    } else {
        usize::try_from((end - first - 1) / SCAN_INTERVAL + 1).unwrap_or(0)
    }
}

/// The weekday of a day since the epoch: 0 = Monday … 6 = Sunday (1970-01-01 was a Thursday).
pub fn weekday(day: i64) -> i64 {
    (day + 3).rem_euclid(7)
}

/// Where a person stands in the epidemic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Can be infected.
    Susceptible,
    /// Infected on `since`; infectious from `infectious_on`.
    Exposed {
        /// Day of infection.
        since: u32,
        /// First infectious day.
        infectious_on: u32,
    },
    /// Infects others until `recovers_on`.
    Infectious {
        /// First infectious day.
        since: u32,
        /// Day the first day no longer infectious.
        recovers_on: u32,
    },
    /// Immune.
    Recovered,
}

/// One person of the simulation.
#[derive(Debug, Clone)]
pub struct Person {
    /// Index of their country in [`Scenario::countries`].
    pub country: usize,
    /// Household number (global).
    pub household: u32,
    /// Workplace number (global).
    pub workplace: u32,
    /// The country they travel to, if they do (index into [`Scenario::countries`]).
    pub visits: Option<usize>,
    /// Epidemic state.
    pub health: Health,
    /// The day of their positive test, if any.
    pub positive_on: Option<u32>,
    /// Whether they upload their keys after a positive test.
    pub uploads: bool,
    /// Their phone.
    pub phone: Phone,
    /// Offset of their BLE scans within the 5-minute cadence, seconds.
    pub scan_phase: i64,
}

/// One meeting, as it really happened (the ground truth behind the sightings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contact {
    /// One person.
    pub a: PersonId,
    /// The other.
    pub b: PersonId,
    /// When it began.
    pub start: UnixTime,
    /// How long it lasted.
    pub minutes: u16,
    /// The true attenuation between the phones, dB.
    pub attenuation: u8,
}

/// What one simulated day produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayReport {
    /// The day (0 = the scenario's start).
    pub day: u32,
    /// Meetings.
    pub contacts: usize,
    /// Of them, across a border (a traveller abroad).
    pub cross_border_contacts: usize,
    /// Sightings recorded by all phones.
    pub sightings: usize,
    /// New infections.
    pub infections: usize,
    /// People whose test came back positive today.
    pub positives: Vec<PersonId>,
}

/// The running simulation.
#[derive(Debug)]
pub struct Simulation {
    scenario: Scenario,
    people: Vec<Person>,
    rng: StdRng,
    /// Measurement noise draws from its own stream, so that the same seed gives the same
    /// meetings and epidemic whatever the noise.
    noise_rng: StdRng,
    day: u32,
    contacts: Vec<Contact>,
}

/// Which setting a meeting happens in (decides its time and closeness).
#[derive(Debug, Clone, Copy)]
enum Kind {
    Household,
    Colleague,
    Random,
}

impl Simulation {
    /// Builds the population of `scenario`.
    pub fn new(scenario: Scenario) -> Result<Self, ScenarioError> {
        scenario.validate()?;
        let mut rng = StdRng::seed_from_u64(scenario.seed);
        let n = scenario.phones_per_country;
        let countries = scenario.countries.len();
        let mut people = Vec::with_capacity(countries * n as usize);
        let (mut household, mut workplace) = (0u32, 0u32);
        for country in 0..countries {
            let mut left_in_household = 0;
            for i in 0..n {
                if left_in_household == 0 {
                    household += 1;
                    left_in_household = rng.random_range(1..=scenario.max_household);
                }
                left_in_household -= 1;
                if i % scenario.workplace_size == 0 {
                    workplace += 1;
                }
                let visits =
                    (countries > 1 && rng.random_bool(scenario.traveller_share)).then(|| {
                        let other = rng.random_range(0..countries - 1);
                        if other >= country { other + 1 } else { other }
                    });
                people.push(Person {
                    country,
                    household,
                    workplace,
                    visits,
                    health: Health::Susceptible,
                    positive_on: None,
                    uploads: false,
                    phone: Phone::default(),
                    scan_phase: rng.random_range(0..SCAN_INTERVAL),
                });
            }
        }
        let noise_rng = StdRng::seed_from_u64(scenario.seed ^ 0x6e6f_6973_6521);
        let mut sim = Self { scenario, people, rng, noise_rng, day: 0, contacts: Vec::new() };
        for country in 0..countries {
            let first = country * n as usize;
            for _ in 0..sim.scenario.initially_infectious {
                let who = first + sim.rng.random_range(0..n as usize);
                sim.become_infectious(who, 0);
            }
        }
        Ok(sim)
    }

    /// The scenario.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// Everybody.
    pub fn people(&self) -> &[Person] {
        &self.people
    }

    /// Everybody, to let phones act (check exposures, upload).
    pub fn people_mut(&mut self) -> &mut [Person] {
        &mut self.people
    }

    /// Every meeting so far.
    pub fn contacts(&self) -> &[Contact] {
        &self.contacts
    }

    /// The next day to simulate.
    pub fn day(&self) -> u32 {
        self.day
    }

    /// Midnight UTC of `day`.
    pub fn midnight(&self, day: u32) -> UnixTime {
        UnixTime(self.scenario.start.seconds() + i64::from(day) * 86_400)
    }

    fn become_infectious(&mut self, who: usize, day: u32) {
        let (tested, uploads) = (
            self.rng.random_bool(self.scenario.tested_share),
            self.rng.random_bool(self.scenario.upload_share),
        );
        if let Some(p) = self.people.get_mut(who) {
            p.health =
                Health::Infectious { since: day, recovers_on: day + self.scenario.infectious_days };
            if tested && p.positive_on.is_none() {
                p.positive_on = Some(day + self.scenario.test_delay_days);
                p.uploads = uploads;
            }
        }
    }

    /// Simulates the next day: progression, meetings (with their sightings), infections, test
    /// results.
    pub fn step(&mut self) -> DayReport {
        let day = self.day;
        let mut report = DayReport { day, ..DayReport::default() };
        // Each phone forgets what is older than 14 days (the OS's retention).
        let midnight = self.midnight(day);
        for p in &mut self.people {
            p.phone.forget_old(midnight);
        }
        // Progression at midnight.
        for who in 0..self.people.len() {
            match self.people.get(who).map(|p| p.health) {
                Some(Health::Exposed { infectious_on, .. }) if infectious_on <= day => {
                    self.become_infectious(who, day);
                }
                Some(Health::Infectious { recovers_on, .. }) if recovers_on <= day => {
                    if let Some(p) = self.people.get_mut(who) {
                        p.health = Health::Recovered;
                    }
                }
                _ => {}
            }
        }
        for meeting in self.meetings(day) {
            report.contacts += 1;
            let (a, b) = (meeting.a as usize, meeting.b as usize);
            if self.people.get(a).map(|p| p.country) != self.people.get(b).map(|p| p.country) {
                report.cross_border_contacts += 1;
            }
            report.sightings += self.exchange(&meeting);
            report.infections += self.transmit(&meeting, day);
            self.contacts.push(meeting);
        }
        report.positives = self
            .people
            .iter()
            .enumerate()
            .filter(|(_, p)| p.positive_on == Some(day))
            .filter_map(|(i, _)| PersonId::try_from(i).ok())
            .collect();
        self.day += 1;
        report
    }

    /// The day's meetings: each household in the evening, colleagues on working days, random
    /// encounters in the person's own country or, for a traveller on every third day, abroad.
    /// Two people meet at most once a day (the first of household, colleague, random wins), so
    /// a phone never hears the same phone twice in one scan.
    fn meetings(&mut self, day: u32) -> Vec<Contact> {
        let midnight = self.midnight(day).seconds();
        let working_day = weekday(midnight / 86_400) < 5;
        let n = self.scenario.phones_per_country as usize;
        let people = self.people.len();
        let mut households = Vec::new();
        let mut others = Vec::new();
        for a in 0..people {
            let Some(pa) = self.people.get(a) else { continue };
            let (household, workplace, country, visits) =
                (pa.household, pa.workplace, pa.country, pa.visits);
            // Household: everyone after `a` in the same household.
            for b in a + 1..people {
                match self.people.get(b) {
                    Some(pb) if pb.household == household => {
                        households.push((a, b, Kind::Household));
                    }
                    _ => break,
                }
            }
            if working_day {
                for _ in 0..self.scenario.colleagues_per_day {
                    let size = self.scenario.workplace_size as usize;
                    // Workplaces are consecutive runs of `size` people within a country.
                    let first = a - (a % n) % size;
                    let b = first + self.rng.random_range(0..size);
                    let same = self.people.get(b).is_some_and(|pb| pb.workplace == workplace);
                    if b != a && same {
                        others.push((a, b, Kind::Colleague));
                    }
                }
            }
            let abroad = visits.filter(|_| (u64::from(day) + a as u64).is_multiple_of(3));
            let place = abroad.unwrap_or(country);
            for _ in 0..self.scenario.random_contacts_per_day {
                let b = place * n + self.rng.random_range(0..n);
                if b != a {
                    others.push((a, b, Kind::Random));
                }
            }
        }
        let mut met = std::collections::HashSet::with_capacity(households.len() + others.len());
        let mut out = Vec::with_capacity(households.len() + others.len());
        for (a, b, kind) in households.into_iter().chain(others) {
            if met.insert((a.min(b), a.max(b))) {
                out.push(self.meeting(a, b, kind, midnight));
            }
        }
        out
    }

    fn meeting(&mut self, a: usize, b: usize, kind: Kind, midnight: i64) -> Contact {
        let s = &self.scenario;
        let (start, minutes, attenuation) = match kind {
            Kind::Household => (
                19 * 3600 + self.rng.random_range(0..3600),
                s.household_minutes,
                self.rng.random_range(45..=55),
            ),
            Kind::Colleague => (
                9 * 3600 + self.rng.random_range(0..8 * 3600),
                s.colleague_minutes,
                self.rng.random_range(50..=65),
            ),
            Kind::Random => (
                8 * 3600 + self.rng.random_range(0..12 * 3600),
                self.rng.random_range(5..=s.random_max_minutes),
                self.rng.random_range(55..=85),
            ),
        };
        Contact {
            a: PersonId::try_from(a).unwrap_or(PersonId::MAX),
            b: PersonId::try_from(b).unwrap_or(PersonId::MAX),
            start: UnixTime(midnight + start),
            minutes,
            attenuation,
        }
    }

    /// Both phones hear each other at each of their scans during the meeting; returns the
    /// number of sightings recorded.
    fn exchange(&mut self, c: &Contact) -> usize {
        let end = c.start.seconds() + i64::from(c.minutes) * 60;
        let noise = i16::from(self.scenario.attenuation_noise_db);
        let mut recorded = 0;
        for (listener, speaker) in [(c.b, c.a), (c.a, c.b)] {
            let (l, sp) = (listener as usize, speaker as usize);
            let Some(phase) = self.people.get(l).map(|p| p.scan_phase) else { continue };
            // The listener's first scan at or after the start.
            let offset = (phase - c.start.seconds()).rem_euclid(SCAN_INTERVAL);
            let mut t = c.start.seconds() + offset;
            while t < end {
                let Some(speaking) = self.people.get_mut(sp) else { break };
                let ad = speaking.phone.advertise(UnixTime(t), &mut self.rng);
                let jitter =
                    if noise > 0 { self.noise_rng.random_range(-noise..=noise) } else { 0 };
                let attenuation = (i16::from(c.attenuation) + jitter).clamp(0, 127);
                let tx = i16::from(herald_phone::DEFAULT_TX_POWER);
                let rssi = i8::try_from(tx - attenuation).unwrap_or(i8::MIN);
                if let Some(hearing) = self.people.get_mut(l) {
                    hearing.phone.hear(
                        ad.rpi,
                        ad.aem,
                        UnixTime(t),
                        rssi,
                        Some(UnixTime(t - SCAN_INTERVAL)),
                    );
                    recorded += 1;
                }
                t += SCAN_INTERVAL;
            }
        }
        recorded
    }

    /// Infection across the meeting: each close minute with an infectious person infects with
    /// the scenario's chance; farther meetings count less. Returns the new infections (0 or 1).
    fn transmit(&mut self, c: &Contact, day: u32) -> usize {
        let health = |i: PersonId| self.people.get(i as usize).map(|p| p.health);
        let target = match (health(c.a), health(c.b)) {
            (Some(Health::Infectious { .. }), Some(Health::Susceptible)) => c.b,
            (Some(Health::Susceptible), Some(Health::Infectious { .. })) => c.a,
            _ => return 0,
        };
        let closeness = match c.attenuation {
            0..=55 => 1.0,
            56..=63 => 0.5,
            64..=73 => 0.2,
            _ => 0.0,
        };
        let minutes = f64::from(c.minutes) * closeness;
        let p = 1.0 - (1.0 - self.scenario.infection_per_close_minute).powf(minutes);
        if !self.rng.random_bool(p.clamp(0.0, 1.0)) {
            return 0;
        }
        if let Some(t) = self.people.get_mut(target as usize) {
            t.health =
                Health::Exposed { since: day, infectious_on: day + self.scenario.incubation_days };
        }
        1
    }
}
