//! Calendar dates and times for every crate, on one well-kept library (`jiff`, with its bundled
//! time-zone database) instead of hand-written calendar arithmetic.
//!
//! - [`Date`]: a proleptic Gregorian calendar date, from and to a UTC day number (days since
//!   1970-01-01, what [`UnixTime::utc_day`] gives), parsed strictly from `yyyy-MM-dd`.
//! - [`UnixTime::iso_millis`] and [`UnixTime::rfc1123`]: the timestamp texts of the wire formats.
//! - [`Zone`]: a named time zone (e.g. `Europe/Copenhagen`), for deadlines in local time with
//!   daylight-saving rules.

use std::fmt;

use crate::UnixTime;

/// Seconds in a day.
pub const DAY_SECONDS: i64 = 86_400;

/// A calendar date (years -9999..=9999).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(jiff::civil::Date);

/// The UNIX epoch's date, 1970-01-01.
const EPOCH: jiff::civil::Date = jiff::civil::date(1970, 1, 1);

impl Date {
    /// The date of UTC day number `day` (days since 1970-01-01); `None` outside the years
    /// -9999..=9999.
    pub fn from_utc_day(day: i64) -> Option<Self> {
        let span = jiff::Span::new().try_days(day).ok()?;
        EPOCH.checked_add(span).ok().map(Self)
    }

    /// The date of an instant in UTC (clamped to the supported years).
    pub fn of(t: UnixTime) -> Self {
        let day = t.utc_day();
        Self::from_utc_day(day).unwrap_or(if day < 0 {
            Self(jiff::civil::Date::MIN)
        } else {
            Self(jiff::civil::Date::MAX)
        })
    }

    /// A date from year, month and day; `None` when no such date exists.
    pub fn new(year: i16, month: i8, day: i8) -> Option<Self> {
        jiff::civil::Date::new(year, month, day).ok().map(Self)
    }

    /// Parses exactly `yyyy-MM-dd` (four, two and two ASCII digits) of a real date; `None`
    /// otherwise (`2026-2-1`, `2026-02-30`, `+2026-02-01`, trailing text).
    pub fn parse_iso(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        let shape = b.len() == 10
            && b.get(4) == Some(&b'-')
            && b.get(7) == Some(&b'-')
            && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        if !shape {
            return None;
        }
        let year = text.get(0..4)?.parse().ok()?;
        let month = text.get(5..7)?.parse().ok()?;
        let day = text.get(8..10)?.parse().ok()?;
        Self::new(year, month, day)
    }

    /// Days since 1970-01-01.
    pub fn utc_day(self) -> i64 {
        i64::from(EPOCH.until(self.0).map_or(0, |span| span.get_days()))
    }

    /// The first second of the date in UTC.
    pub fn start(self) -> UnixTime {
        UnixTime(self.utc_day().saturating_mul(DAY_SECONDS))
    }

    /// The year.
    pub fn year(self) -> i16 {
        self.0.year()
    }

    /// The month, 1..=12.
    pub fn month(self) -> i8 {
        self.0.month()
    }

    /// The day of the month, 1..=31.
    pub fn day(self) -> i8 {
        self.0.day()
    }

    /// `yyyyMMdd` (EFGS batch tags).
    pub fn compact(self) -> String {
        format!("{:04}{:02}{:02}", self.year(), self.month(), self.day())
    }
}

impl fmt::Display for Date {
    /// `yyyy-MM-dd`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year(), self.month(), self.day())
    }
}

impl UnixTime {
    /// The instant in the library's type (clamped to its range, years -9999..=9999).
    pub fn timestamp(self) -> jiff::Timestamp {
        jiff::Timestamp::from_second(self.0).unwrap_or(if self.0 < 0 {
            jiff::Timestamp::MIN
        } else {
            jiff::Timestamp::MAX
        })
    }

    /// `yyyy-MM-ddTHH:mm:ss.000Z` (EFGS audit and trust-list times).
    pub fn iso_millis(self) -> String {
        self.timestamp().strftime("%Y-%m-%dT%H:%M:%S.000Z").to_string()
    }

    /// RFC 1123 with `UTC` (Go's `time.RFC1123` of a UTC time), e.g.
    /// `Sat, 28 Nov 2026 20:47:00 UTC`.
    pub fn rfc1123(self) -> String {
        self.timestamp().strftime("%a, %d %b %Y %H:%M:%S UTC").to_string()
    }
}

/// A named time zone from the bundled IANA database (the same rules on every machine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone(jiff::tz::TimeZone);

impl Zone {
    /// The zone named `name` (e.g. `Europe/Copenhagen`); `None` when the database has no such
    /// zone.
    pub fn named(name: &str) -> Option<Self> {
        jiff::tz::db().get(name).ok().map(Self)
    }

    /// The local calendar date at `t`.
    pub fn date(&self, t: UnixTime) -> Date {
        Date(self.0.to_datetime(t.timestamp()).date())
    }

    /// The offset from UTC at `t`, in seconds (e.g. 3600 for CET, 7200 for CEST).
    pub fn offset_seconds(&self, t: UnixTime) -> i32 {
        self.0.to_offset(t.timestamp()).seconds()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Howard Hinnant's `civil_from_days`, the published algorithm the hand-written copies
    /// used, as an independent oracle.
    fn hinnant(z: i64) -> (i64, i64, i64) {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        (if m <= 2 { y + 1 } else { y }, m, d)
    }

    #[test]
    fn known_dates() {
        let d = |day| Date::from_utc_day(day).unwrap().to_string();
        assert_eq!(d(0), "1970-01-01");
        assert_eq!(d(18_474), "2020-07-31");
        assert_eq!(d(18_321), "2020-02-29");
        assert_eq!(d(18_322), "2020-03-01");
        assert_eq!(d(10_956), "1999-12-31");
        assert_eq!(d(-1), "1969-12-31");
        assert_eq!(Date::from_utc_day(10_957).unwrap().compact(), "20000101");
        assert_eq!(Date::parse_iso("2026-11-28").unwrap().utc_day(), 20_785);
        assert_eq!(Date::parse_iso("2026-11-28").unwrap().start(), UnixTime(20_785 * 86_400));
        assert_eq!(Date::of(UnixTime(20_785 * 86_400 + 86_399)).to_string(), "2026-11-28");
        assert_eq!(Date::of(UnixTime(-1)).to_string(), "1969-12-31");
        assert!(Date::from_utc_day(i64::MAX).is_none());
        assert_eq!(Date::of(UnixTime(i64::MIN)), Date(jiff::civil::Date::MIN));
    }

    #[test]
    fn parsing_is_strict() {
        for bad in [
            "",
            "2026-02-30",
            "2026-13-01",
            "2026-00-10",
            "2026-1-01",
            "26-01-01",
            "2026/01/01",
            "2026-01-01T",
            " 2026-01-01",
            "+026-01-01",
            "2026-01-0a",
            "2025-02-29",
            "２026-01-01",
        ] {
            assert_eq!(Date::parse_iso(bad), None, "{bad:?}");
        }
        assert!(Date::parse_iso("2024-02-29").is_some());
        assert!(Date::parse_iso("0000-01-01").is_some());
        assert!(Date::parse_iso("9999-12-31").is_some());
    }

    #[test]
    fn timestamps() {
        let t = UnixTime(1_796_158_020); // 2026-12-01T20:47:00Z
        assert_eq!(t.iso_millis(), "2026-12-01T20:47:00.000Z");
        assert_eq!(t.rfc1123(), "Tue, 01 Dec 2026 20:47:00 UTC");
        assert_eq!(UnixTime(0).rfc1123(), "Thu, 01 Jan 1970 00:00:00 UTC");
    }

    #[test]
    fn copenhagen_keeps_daylight_saving_time() {
        let cph = Zone::named("Europe/Copenhagen").unwrap();
        // 2026-03-29 01:00 UTC: CET (UTC+1) becomes CEST (UTC+2); back on 2026-10-25 01:00 UTC.
        let spring = Date::parse_iso("2026-03-29").unwrap().start().0 + 3600;
        assert_eq!(cph.offset_seconds(UnixTime(spring - 1)), 3600);
        assert_eq!(cph.offset_seconds(UnixTime(spring)), 7200);
        let autumn = Date::parse_iso("2026-10-25").unwrap().start().0 + 3600;
        assert_eq!(cph.offset_seconds(UnixTime(autumn - 1)), 7200);
        assert_eq!(cph.offset_seconds(UnixTime(autumn)), 3600);
        // 23:30 UTC on 2026-06-30 is already July in Copenhagen.
        let t = Date::parse_iso("2026-06-30").unwrap().start().0 + 23 * 3600 + 1800;
        assert_eq!(cph.date(UnixTime(t)).to_string(), "2026-07-01");
        assert!(Zone::named("Europe/Nowhere").is_none());
    }

    proptest! {
        #[test]
        fn matches_hinnant_and_round_trips(day in -3_000_000i64..2_900_000) {
            let date = Date::from_utc_day(day).unwrap();
            let (y, m, d) = hinnant(day);
            prop_assert_eq!(
                (i64::from(date.year()), i64::from(date.month()), i64::from(date.day())),
                (y, m, d)
            );
            prop_assert_eq!(date.utc_day(), day);
            if (0..=9999).contains(&y) {
                prop_assert_eq!(Date::parse_iso(&date.to_string()), Some(date));
            }
        }
    }
}
