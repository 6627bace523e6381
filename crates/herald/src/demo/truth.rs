//! The ground truth the demo measures notifications against: from the simulation's real
//! meetings (not from what phones recorded), which phones had enough exposure to an uploader to
//! be warned. A meeting counts on a day whose key the uploader published; each scan of the
//! listening phone during it adds 5 minutes at the meeting's true attenuation, weighted by the
//! risk configuration's attenuation bucket and by the infectiousness of the key's days since
//! symptom onset (the same definition of "close contact" the apps apply). A phone whose day
//! reaches the notification threshold should be warned.

use std::collections::{HashMap, HashSet};

use herald_gaen::scoring::v2::bucket;
use herald_model::{ReportType, UnixTime};
use herald_phone::RiskPolicy;
use herald_sim::{PersonId, SCAN_INTERVAL, Simulation};

/// What one uploader published.
#[derive(Debug, Clone)]
pub(crate) struct Uploaded {
    /// Their country (index).
    pub(crate) country: usize,
    /// Day of symptom onset (days since the epoch).
    pub(crate) onset_day: i64,
    /// The days (since the epoch) of the keys the key server accepted.
    pub(crate) key_days: Vec<i64>,
    /// When the test result came and the app uploaded.
    pub(crate) at: UnixTime,
}

/// Who should be warned.
#[derive(Debug, Default)]
pub(crate) struct Truth {
    /// Phones with a day at or above the threshold.
    pub(crate) expected: HashSet<PersonId>,
    /// Of them, those whose exposure on such a day involved an uploader of another country.
    pub(crate) cross_border: HashSet<PersonId>,
    /// For each expected phone, when the uploaders of its qualifying days uploaded.
    pub(crate) source_times: HashMap<PersonId, Vec<UnixTime>>,
}

#[derive(Default)]
struct DayScore {
    score: f64,
    foreign: bool,
    uploads: Vec<UnixTime>,
}

/// Computes the truth over every meeting so far.
pub(crate) fn expected(
    sim: &Simulation,
    uploads: &HashMap<PersonId, Uploaded>,
    policy: &RiskPolicy,
) -> Truth {
    let v2 = &policy.scoring.v2;
    let report_weight =
        v2.report_type_weights.get(ReportType::ConfirmedTest.index()).copied().unwrap_or(0.0);
    let people = sim.people();
    let mut days: HashMap<(PersonId, i64), DayScore> = HashMap::new();
    for c in sim.contacts() {
        for (uploader, listener) in [(c.a, c.b), (c.b, c.a)] {
            let Some(up) = uploads.get(&uploader) else { continue };
            let day = c.start.utc_day();
            if !up.key_days.contains(&day) {
                continue;
            }
            let infectiousness = usize::try_from(day - up.onset_day + 14)
                .ok()
                .and_then(|i| v2.days_since_onset_to_infectiousness.get(i).copied())
                .unwrap_or(v2.infectiousness_when_days_since_onset_missing);
            let weight = report_weight
                * v2.infectiousness_weights.get(infectiousness as usize).copied().unwrap_or(0.0);
            let Some(listening) = people.get(listener as usize) else { continue };
            let n = herald_sim::scans_during(listening.scan_phase, c.start, c.minutes);
            let attenuation_weight = v2
                .attenuation_bucket_weights
                .get(bucket(c.attenuation, v2.attenuation_bucket_thresholds_db))
                .copied()
                .unwrap_or(0.0);
            #[allow(clippy::cast_precision_loss)] // a handful of scans
            let seconds = n as f64 * SCAN_INTERVAL as f64;
            let score = seconds * attenuation_weight * weight;
            if score <= 0.0 {
                continue;
            }
            let entry = days.entry((listener, day)).or_default();
            entry.score += score;
            entry.foreign |= up.country != listening.country;
            entry.uploads.push(up.at);
        }
    }
    let mut truth = Truth::default();
    for ((person, _), day) in days {
        if day.score < policy.notify_score {
            continue;
        }
        truth.expected.insert(person);
        if day.foreign {
            truth.cross_border.insert(person);
        }
        truth.source_times.entry(person).or_default().extend(day.uploads);
    }
    truth
}
