//! The clocks of the mandatory track (spec §5): which reports an incident owes, by when, and
//! whether each is due, overdue or submitted, for an injectable `now`.
//!
//! - NIS2 Art. 23(4), for a significant incident: an early warning within 24 hours of becoming
//!   aware, an incident notification within 72 hours, a final report one calendar month after
//!   the notification was submitted (after its deadline while it has not been); when the
//!   incident is still being handled at that point, a progress report is due then instead, and
//!   the final report one calendar month after the incident was handled.
//! - GDPR Art. 33, when personal data is breached: a notification within 72 hours.
//!
//! Deadlines are instants (UTC). Hours are exact durations; a calendar month is counted on the
//! civil calendar of [`ZONE`] (the same wall-clock time a month later, clamped to the month's
//! last day, daylight-saving gaps resolved forwards), as a case worker in Copenhagen reads it.
//! A stage is overdue strictly after its deadline, never at it.

use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, ToSpan as _};
use serde::Serialize;

/// The time zone deadlines are shown in and calendar months are counted in.
pub const ZONE: &str = "Europe/Copenhagen";

/// A report an incident may owe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// NIS2 early warning (24 h).
    EarlyWarning,
    /// NIS2 incident notification (72 h).
    Notification,
    /// NIS2 final report (a month after the notification).
    FinalReport,
    /// NIS2 progress report (when still handled when the final report would be due).
    ProgressReport,
    /// GDPR Art. 33 notification to the supervisory authority (72 h).
    GdprNotification,
}

impl Stage {
    /// Every stage, in the order they are listed.
    pub const ALL: [Stage; 5] = [
        Stage::EarlyWarning,
        Stage::Notification,
        Stage::FinalReport,
        Stage::ProgressReport,
        Stage::GdprNotification,
    ];

    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::EarlyWarning => "early_warning",
            Stage::Notification => "notification",
            Stage::FinalReport => "final_report",
            Stage::ProgressReport => "progress_report",
            Stage::GdprNotification => "gdpr_notification",
        }
    }

    /// The stage named `name`.
    pub fn parse(name: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// Where a stage stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Owed, deadline not passed (or not known yet).
    Due,
    /// Owed, deadline passed.
    Overdue,
    /// Submitted.
    Submitted,
    /// Its condition does not hold.
    NotRequired,
}

/// What the clocks depend on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// When the organisation became aware.
    pub aware_at: Timestamp,
    /// Significant under NIS2 Art. 23(3).
    pub significant: bool,
    /// Personal data breached (GDPR Art. 33).
    pub personal_data: bool,
    /// When the incident was handled, once the organisation says so.
    pub handled_at: Option<Timestamp>,
    /// When each submitted stage was submitted (the first submission counts).
    pub submitted: Vec<(Stage, Timestamp)>,
}

impl Facts {
    fn submitted_at(&self, stage: Stage) -> Option<Timestamp> {
        self.submitted.iter().filter(|(s, _)| *s == stage).map(|(_, at)| *at).min()
    }
}

/// One stage's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// The stage.
    pub stage: Stage,
    /// Its deadline (`None`: not required, or not known until the incident is handled).
    pub due_at: Option<Timestamp>,
    /// When it was submitted.
    pub submitted_at: Option<Timestamp>,
    /// Where it stands at `now`.
    pub status: Status,
}

/// `at` plus one calendar month on [`ZONE`]'s calendar.
pub fn plus_one_month(at: Timestamp) -> Timestamp {
    at.to_zoned_datetime(zone())
        .checked_add(1.month())
        .map_or_else(|_| at.saturating_add(Span::new().days(31)).unwrap_or(at), |z| z.timestamp())
}

/// [`ZONE`] from the bundled database (UTC only if the bundle lacked it).
fn zone() -> TimeZone {
    jiff::tz::db().get(ZONE).unwrap_or(TimeZone::UTC)
}

fn hours(at: Timestamp, n: i64) -> Timestamp {
    at.saturating_add(Span::new().hours(n)).unwrap_or(at)
}

/// Every stage's clock for `facts` at `now`, in [`Stage::ALL`] order.
pub fn clocks(facts: &Facts, now: Timestamp) -> Vec<Clock> {
    let sig = facts.significant;
    let notification_due = hours(facts.aware_at, 72);
    // The final report's first deadline: a month after the notification (or its deadline).
    let mark = plus_one_month(facts.submitted_at(Stage::Notification).unwrap_or(notification_due));
    let final_at = facts.submitted_at(Stage::FinalReport);
    // Still being handled at the mark: a progress report then, the final report a month after
    // the incident was handled.
    let ongoing_at_mark = final_at.is_none_or(|f| f > mark)
        && facts.handled_at.is_none_or(|h| h > mark)
        && (now > mark || facts.handled_at.is_some_and(|h| h > mark));
    let final_due = if ongoing_at_mark { facts.handled_at.map(plus_one_month) } else { Some(mark) };
    Stage::ALL
        .into_iter()
        .map(|stage| {
            let (required, due_at) = match stage {
                Stage::EarlyWarning => (sig, Some(hours(facts.aware_at, 24))),
                Stage::Notification => (sig, Some(notification_due)),
                Stage::FinalReport => (sig, final_due),
                Stage::ProgressReport => (sig && ongoing_at_mark, Some(mark)),
                Stage::GdprNotification => (facts.personal_data, Some(notification_due)),
            };
            let submitted_at = facts.submitted_at(stage);
            let status = match (required, submitted_at, due_at) {
                (_, Some(_), _) => Status::Submitted,
                (false, None, _) => Status::NotRequired,
                (true, None, Some(due)) if now > due => Status::Overdue,
                (true, None, _) => Status::Due,
            };
            let due_at = if required { due_at } else { None };
            Clock { stage, due_at, submitted_at, status }
        })
        .collect()
}

/// `at` as a case worker in [`ZONE`] reads it: `2026-03-29 03:30 CEST`.
pub fn display(at: Timestamp) -> String {
    at.to_zoned_datetime(zone()).strftime("%Y-%m-%d %H:%M %Z").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn facts(aware: &str, significant: bool, personal_data: bool) -> Facts {
        Facts { aware_at: t(aware), significant, personal_data, ..Facts::default() }
    }

    fn clock(all: &[Clock], stage: Stage) -> Clock {
        *all.iter().find(|c| c.stage == stage).unwrap()
    }

    #[test]
    fn one_month_on_the_copenhagen_calendar() {
        // (from, one calendar month later), both UTC instants.
        let table = [
            // Month ends clamp to the last day.
            ("2027-01-31T10:00:00Z", "2027-02-28T10:00:00Z"),
            ("2028-01-31T10:00:00Z", "2028-02-29T10:00:00Z"), // leap year
            ("2028-02-29T10:00:00Z", "2028-03-29T09:00:00Z"), // and into summer time (CEST)
            ("2027-03-31T08:00:00Z", "2027-04-30T08:00:00Z"),
            ("2027-12-31T23:30:00Z", "2028-01-31T23:30:00Z"), // local 1 Jan 00:30 → 1 Feb
            // Local 31 Jan 00:30 → 28 Feb 00:30 local, which is 27 Feb in UTC.
            ("2027-01-30T23:30:00Z", "2027-02-27T23:30:00Z"),
            // The same local time across the clock changes: 12:00 CET → 12:00 CEST.
            ("2027-03-10T11:00:00Z", "2027-04-10T10:00:00Z"),
            ("2027-10-10T10:00:00Z", "2027-11-10T11:00:00Z"),
            // A local time that does not exist a month later (02:30 on 28 March 2027) moves on.
            ("2027-02-28T01:30:00Z", "2027-03-28T01:30:00Z"),
            // 02:30 that happens twice (29 Oct 2028): the earlier of the two.
            ("2028-09-29T00:30:00Z", "2028-10-29T00:30:00Z"),
        ];
        for (from, to) in table {
            assert_eq!(plus_one_month(t(from)), t(to), "{from} + 1 month");
        }
    }

    #[test]
    fn hours_are_exact_across_the_clock_change() {
        // Aware at 01:00 local on the night clocks go forward: 24 h later is 02:00 local.
        let all = clocks(&facts("2027-03-28T00:00:00Z", true, true), t("2027-03-28T00:00:00Z"));
        assert_eq!(clock(&all, Stage::EarlyWarning).due_at, Some(t("2027-03-29T00:00:00Z")));
        assert_eq!(clock(&all, Stage::Notification).due_at, Some(t("2027-03-31T00:00:00Z")));
        assert_eq!(clock(&all, Stage::GdprNotification).due_at, Some(t("2027-03-31T00:00:00Z")));
        assert_eq!(display(t("2027-03-29T00:00:00Z")), "2027-03-29 02:00 CEST");
        assert_eq!(display(t("2027-01-29T00:00:00Z")), "2027-01-29 01:00 CET");
    }

    #[test]
    fn overdue_after_each_deadline_not_before() {
        let f = facts("2027-01-31T10:00:00Z", true, true);
        let cases = [
            (Stage::EarlyWarning, "2027-02-01T10:00:00Z"),
            (Stage::Notification, "2027-02-03T10:00:00Z"),
            (Stage::GdprNotification, "2027-02-03T10:00:00Z"),
            (Stage::FinalReport, "2027-03-03T10:00:00Z"),
        ];
        for (stage, due) in cases {
            let at = |now: Timestamp| clock(&clocks(&f, now), stage);
            assert_eq!(at(t(due)).due_at, Some(t(due)), "{stage:?}");
            assert_eq!(at(t(due)).status, Status::Due, "{stage:?} at its deadline");
            let before = t(due).checked_sub(1.second()).unwrap();
            assert_eq!(at(before).status, Status::Due, "{stage:?} before");
            let after = t(due).checked_add(1.second()).unwrap();
            let status = at(after).status;
            if stage == Stage::FinalReport {
                // Still being handled at the mark: a progress report is owed instead.
                assert_eq!(status, Status::Due);
                assert_eq!(
                    clock(&clocks(&f, after), Stage::ProgressReport).status,
                    Status::Overdue
                );
            } else {
                assert_eq!(status, Status::Overdue, "{stage:?} after");
            }
        }
    }

    #[test]
    fn what_is_not_required() {
        let now = t("2027-06-01T00:00:00Z");
        let minor = clocks(&facts("2027-05-01T00:00:00Z", false, false), now);
        assert!(minor.iter().all(|c| c.status == Status::NotRequired && c.due_at.is_none()));
        let gdpr_only = clocks(&facts("2027-05-01T00:00:00Z", false, true), now);
        assert_eq!(clock(&gdpr_only, Stage::GdprNotification).status, Status::Overdue);
        assert_eq!(clock(&gdpr_only, Stage::EarlyWarning).status, Status::NotRequired);
    }

    #[test]
    fn the_final_report_follows_the_submitted_notification() {
        let mut f = facts("2027-01-01T08:00:00Z", true, false);
        f.submitted.push((Stage::EarlyWarning, t("2027-01-01T20:00:00Z")));
        f.submitted.push((Stage::Notification, t("2027-01-02T09:15:00Z")));
        let all = clocks(&f, t("2027-01-20T00:00:00Z"));
        assert_eq!(clock(&all, Stage::EarlyWarning).status, Status::Submitted);
        assert_eq!(clock(&all, Stage::Notification).status, Status::Submitted);
        let final_report = clock(&all, Stage::FinalReport);
        assert_eq!(final_report.due_at, Some(t("2027-02-02T09:15:00Z")));
        assert_eq!(final_report.status, Status::Due);
        assert_eq!(clock(&all, Stage::ProgressReport).status, Status::NotRequired);
        // Submitted in time: no progress report, ever.
        f.submitted.push((Stage::FinalReport, t("2027-02-01T12:00:00Z")));
        let later = clocks(&f, t("2027-06-01T00:00:00Z"));
        assert_eq!(clock(&later, Stage::FinalReport).status, Status::Submitted);
        assert_eq!(clock(&later, Stage::ProgressReport).status, Status::NotRequired);
    }

    #[test]
    fn still_handled_at_the_mark_a_progress_report_then_the_final_a_month_after_handling() {
        let mut f = facts("2027-01-01T08:00:00Z", true, false);
        f.submitted.push((Stage::Notification, t("2027-01-03T08:00:00Z")));
        let mark = t("2027-02-03T08:00:00Z");
        let now = t("2027-02-10T00:00:00Z");
        let all = clocks(&f, now);
        assert_eq!(clock(&all, Stage::ProgressReport).due_at, Some(mark));
        assert_eq!(clock(&all, Stage::ProgressReport).status, Status::Overdue);
        assert_eq!(clock(&all, Stage::FinalReport).due_at, None);
        assert_eq!(clock(&all, Stage::FinalReport).status, Status::Due);
        f.submitted.push((Stage::ProgressReport, t("2027-02-03T07:00:00Z")));
        f.handled_at = Some(t("2027-03-31T10:00:00Z"));
        let all = clocks(&f, t("2027-04-01T00:00:00Z"));
        assert_eq!(clock(&all, Stage::ProgressReport).status, Status::Submitted);
        assert_eq!(clock(&all, Stage::FinalReport).due_at, Some(t("2027-04-30T10:00:00Z")));
        assert_eq!(clock(&all, Stage::FinalReport).status, Status::Due);
    }

    #[test]
    fn stage_names_round_trip() {
        for stage in Stage::ALL {
            assert_eq!(Stage::parse(stage.as_str()), Some(stage));
            assert_eq!(serde_json::to_value(stage).unwrap(), stage.as_str());
        }
        assert_eq!(Stage::parse("final"), None);
    }
}
