//! The population model: deterministic by seed, sightings exactly as the meetings say when there
//! is no noise, an epidemic that spreads and gets detected, and — through the phones' own
//! exposure checks, without any service — warnings only for people who met an uploader.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::collections::HashSet;

use herald_model::{DaysSinceOnset, ReportType};
use herald_phone::RiskPolicy;
use herald_sim::{Health, Scenario, Simulation};

fn run(scenario: Scenario) -> (Simulation, Vec<herald_sim::DayReport>) {
    let days = scenario.days;
    let mut sim = Simulation::new(scenario).unwrap();
    let reports = (0..days).map(|_| sim.step()).collect();
    (sim, reports)
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let (a, ra) = run(Scenario { phones_per_country: 120, days: 4, ..Scenario::default() });
    let (b, rb) = run(Scenario { phones_per_country: 120, days: 4, ..Scenario::default() });
    assert_eq!(ra, rb);
    assert_eq!(a.contacts(), b.contacts());
    let (c, _) = run(Scenario { phones_per_country: 120, days: 4, seed: 2, ..Scenario::default() });
    assert_ne!(a.contacts(), c.contacts());
    // Noise changes what phones measure, not who meets whom or who falls ill.
    let (d, rd) = run(Scenario {
        phones_per_country: 120,
        days: 4,
        attenuation_noise_db: 8,
        ..Scenario::default()
    });
    assert_eq!(a.contacts(), d.contacts());
    assert_eq!(ra, rd);
    let rssi = |s: &Simulation| -> Vec<i8> {
        s.people().iter().flat_map(|p| p.phone.log().sightings()).map(|x| x.rssi).collect()
    };
    assert_ne!(rssi(&a), rssi(&d));
}

#[test]
fn without_noise_every_scan_of_a_meeting_is_one_sighting_at_its_true_attenuation() {
    let (sim, reports) = run(Scenario { phones_per_country: 80, days: 2, ..Scenario::default() });
    let mut expected = 0usize;
    for c in sim.contacts() {
        for listener in [c.a, c.b] {
            let phase = sim.people()[listener as usize].scan_phase;
            expected += herald_sim::scans_during(phase, c.start, c.minutes);
        }
    }
    let recorded: usize = reports.iter().map(|r| r.sightings).sum();
    assert_eq!(recorded, expected);
    let logged: usize = sim.people().iter().map(|p| p.phone.log().len()).sum();
    assert_eq!(logged, expected);
    // Every sighting's RSSI is the sender's TX minus a true attenuation (45..=85 dB).
    for p in sim.people() {
        for s in &p.phone.log().sightings() {
            let attenuation = i16::from(herald_phone::DEFAULT_TX_POWER) - i16::from(s.rssi);
            assert!((45..=85).contains(&attenuation), "{attenuation}");
        }
    }
}

#[test]
fn the_epidemic_spreads_crosses_borders_and_is_detected() {
    let (sim, reports) =
        run(Scenario { phones_per_country: 300, days: 7, seed: 3, ..Scenario::default() });
    let infections: usize = reports.iter().map(|r| r.infections).sum();
    assert!(infections > 0, "{reports:?}");
    assert!(reports.iter().map(|r| r.cross_border_contacts).sum::<usize>() > 0);
    let positives: usize = reports.iter().map(|r| r.positives.len()).sum();
    assert!(positives > 0);
    let ever_infected = sim.people().iter().filter(|p| p.health != Health::Susceptible).count();
    assert!(ever_infected >= 9 + infections.min(1), "{ever_infected}");
}

/// Precision without services: every positive who uploads hands its keys to everyone's phone;
/// each phone that warns met an uploader, and every household member of an uploader who met
/// them while they were infectious is warned.
#[test]
fn phones_warn_exactly_those_who_met_an_uploader() {
    let scenario = Scenario { phones_per_country: 150, days: 6, seed: 4, ..Scenario::default() };
    let (mut sim, reports) = run(scenario);
    let now = sim.midnight(sim.day());
    let uploaders: Vec<u32> = reports
        .iter()
        .flat_map(|r| r.positives.iter().copied())
        .filter(|i| sim.people()[*i as usize].uploads)
        .collect();
    assert!(!uploaders.is_empty());
    let mut keys = Vec::new();
    for &u in &uploaders {
        for mut k in sim.people()[u as usize].phone.keys_to_upload(now) {
            k.report_type = ReportType::ConfirmedTest;
            k.days_since_onset = DaysSinceOnset::new(0).ok();
            keys.push(k);
        }
    }
    let uploader_set: HashSet<u32> = uploaders.iter().copied().collect();
    // Who met an uploader in a meeting that passes `filter`.
    let met = |filter: &dyn Fn(&herald_sim::Contact) -> bool| -> HashSet<u32> {
        sim.contacts()
            .iter()
            .filter(|c| filter(c))
            .flat_map(|c| {
                [(c.a, c.b), (c.b, c.a)]
                    .into_iter()
                    .filter(|(u, _)| uploader_set.contains(u))
                    .map(|(_, other)| other)
            })
            .collect()
    };
    let met_uploader = met(&|_| true);
    let household_of_uploader = met(&|c| c.minutes >= 60 && c.attenuation <= 55);
    let policy = RiskPolicy::default();
    let mut warned = HashSet::new();
    for (i, person) in sim.people_mut().iter_mut().enumerate() {
        let i = u32::try_from(i).unwrap();
        if uploader_set.contains(&i) {
            continue;
        }
        if person.phone.check(&keys, &policy, now).notify {
            warned.insert(i);
        }
    }
    assert!(!warned.is_empty());
    for w in &warned {
        assert!(met_uploader.contains(w), "person {w} was warned without meeting an uploader");
    }
    for h in household_of_uploader.difference(&uploader_set) {
        assert!(
            warned.contains(h),
            "person {h} spent an evening with an uploader and was not warned"
        );
    }
}

#[test]
fn bad_scenarios_say_what_is_wrong() {
    for (scenario, expected) in [
        (Scenario { countries: Vec::new(), ..Scenario::default() }, "country"),
        (Scenario { phones_per_country: 0, ..Scenario::default() }, "phones"),
        (Scenario { days: 0, ..Scenario::default() }, "days"),
        (Scenario { upload_share: 1.5, ..Scenario::default() }, "upload share"),
        (Scenario { start: herald_model::UnixTime(1), ..Scenario::default() }, "midnight"),
        (
            Scenario { initially_infectious: 1000, phones_per_country: 10, ..Scenario::default() },
            "initially",
        ),
    ] {
        let error = Simulation::new(scenario).unwrap_err().to_string();
        assert!(error.contains(expected), "{error}");
    }
}

#[test]
fn scans_during_a_meeting_follow_the_phase() {
    let scans = |phase: i64, start: i64, minutes: u16| {
        herald_sim::scans_during(phase, herald_model::UnixTime(start), minutes)
    };
    // A 10-minute meeting at 0 with the phase at 0: scans at 0 and 300.
    assert_eq!(scans(0, 0, 10), 2);
    // Phase 299: scans at 299 and 599 (the meeting ends at 600).
    assert_eq!(scans(299, 0, 10), 2);
    // A 4-minute meeting (0..240 s): a scan at 200 catches it, one at 240 is too late.
    assert_eq!(scans(200, 0, 4), 1);
    assert_eq!(scans(240, 0, 4), 0);
    assert_eq!(scans(241, 1, 4), 0);
    assert_eq!(scans(240, 1, 4), 1);
}

#[test]
fn weekdays_start_on_monday() {
    // 1970-01-01 was a Thursday; 2026-11-30 is a Monday.
    assert_eq!(herald_sim::weekday(0), 3);
    assert_eq!(herald_sim::weekday(1_795_996_800 / 86_400), 0);
    assert_eq!(herald_sim::weekday(1_795_996_800 / 86_400 - 1), 6);
}
