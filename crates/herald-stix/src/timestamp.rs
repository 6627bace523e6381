//! STIX timestamps: RFC 3339 in UTC with a `Z` (STIX 2.1 §3.2), held as microsecond instants.
//!
//! The text form of a stored object is never rewritten (objects are served byte for byte); a
//! [`StixTime`] is what the exchange compares, sorts and indexes by. Fractions finer than a
//! microsecond are accepted and truncated (TAXII 2.1 compares versions at that precision).

use crate::error::{StixError, clip};

/// A STIX timestamp as microseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StixTime(i64);

impl StixTime {
    /// From microseconds since the epoch.
    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    /// Microseconds since the epoch.
    pub const fn micros(self) -> i64 {
        self.0
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction]Z` exactly as the STIX `timestamp` schema and
    /// `stix2` do: upper-case `T` and `Z`, a real calendar date, a leap second (`:60`) read as
    /// the last microsecond of its minute's 59th second.
    pub fn parse(text: &str) -> Result<Self, StixError> {
        let bad = |reason| StixError::Timestamp { value: clip(text), reason };
        let b = text.as_bytes();
        let digits = |from: usize, len: usize| -> Result<i64, StixError> {
            let part = b.get(from..from + len).ok_or_else(|| bad("too short"))?;
            part.iter().try_fold(0i64, |acc, d| {
                if d.is_ascii_digit() {
                    Ok(acc * 10 + i64::from(d - b'0'))
                } else {
                    Err(bad("expected YYYY-MM-DDTHH:MM:SS[.fraction]Z"))
                }
            })
        };
        let sep = |at: usize, want: u8| {
            if b.get(at) == Some(&want) {
                Ok(())
            } else {
                Err(bad("expected YYYY-MM-DDTHH:MM:SS[.fraction]Z"))
            }
        };
        let year = digits(0, 4)?;
        sep(4, b'-')?;
        let month = digits(5, 2)?;
        sep(7, b'-')?;
        let day = digits(8, 2)?;
        sep(10, b'T')?;
        let hour = digits(11, 2)?;
        sep(13, b':')?;
        let minute = digits(14, 2)?;
        sep(16, b':')?;
        let second = digits(17, 2)?;
        let mut at = 19;
        let mut micros = 0i64;
        if b.get(at) == Some(&b'.') {
            at += 1;
            let start = at;
            while b.get(at).is_some_and(u8::is_ascii_digit) {
                if at - start < 6 {
                    micros = micros * 10 + i64::from(b.get(at).map_or(0, |d| d - b'0'));
                }
                at += 1;
            }
            if at == start {
                return Err(bad("a fraction needs at least one digit"));
            }
            for _ in (at - start)..6 {
                micros *= 10;
            }
        }
        if b.get(at) != Some(&b'Z') || at + 1 != b.len() {
            return Err(bad("must end in Z (UTC)"));
        }
        if hour > 23 || minute > 59 || second > 60 {
            return Err(bad("time of day out of range"));
        }
        let (month, day) = (
            i8::try_from(month).map_err(|_| bad("month out of range"))?,
            i8::try_from(day).map_err(|_| bad("day out of range"))?,
        );
        let year = i16::try_from(year).map_err(|_| bad("year out of range"))?;
        let date = jiff::civil::Date::new(year, month, day).map_err(|_| bad("no such date"))?;
        let (second, micros) = if second == 60 { (59, 999_999) } else { (second, micros) };
        let days = i64::from(date.since(jiff::civil::date(1970, 1, 1)).map_or(0, |s| s.get_days()));
        let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second;
        Ok(Self(seconds * 1_000_000 + micros))
    }

    /// RFC 3339 with exactly six fraction digits, the form TAXII `date_added` takes.
    pub fn to_rfc3339_micros(self) -> String {
        let seconds = self.0.div_euclid(1_000_000);
        let micros = self.0.rem_euclid(1_000_000);
        let days = seconds.div_euclid(86_400);
        let in_day = seconds.rem_euclid(86_400);
        let date = jiff::civil::date(1970, 1, 1)
            .checked_add(jiff::Span::new().days(days))
            .unwrap_or(jiff::civil::Date::MAX);
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{micros:06}Z",
            date.year(),
            date.month(),
            date.day(),
            in_day / 3_600,
            in_day / 60 % 60,
            in_day % 60
        )
    }
}

impl std::fmt::Display for StixTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_rfc3339_micros())
    }
}

#[cfg(test)]
mod tests {
    use super::StixTime;

    #[test]
    fn parses_what_stix_writes() {
        let t = StixTime::parse("2016-05-12T08:17:27.000Z").unwrap();
        assert_eq!(t.micros(), 1_463_041_047_000_000);
        assert_eq!(StixTime::parse("2016-05-12T08:17:27Z").unwrap(), t);
        assert_eq!(t.to_rfc3339_micros(), "2016-05-12T08:17:27.000000Z");
        assert_eq!(
            StixTime::parse("2016-05-12T08:17:27.123456789Z").unwrap().micros() % 1_000_000,
            123_456
        );
        assert_eq!(
            StixTime::parse("2016-05-12T08:17:27.1Z").unwrap().micros() % 1_000_000,
            100_000
        );
        assert_eq!(StixTime::parse("1970-01-01T00:00:00Z").unwrap().micros(), 0);
        assert_eq!(
            StixTime::parse("1969-12-31T23:59:59.5Z").unwrap().to_rfc3339_micros(),
            "1969-12-31T23:59:59.500000Z"
        );
        assert_eq!(
            StixTime::parse("2016-12-31T23:59:60Z").unwrap(),
            StixTime::parse("2016-12-31T23:59:59.999999Z").unwrap()
        );
        assert!(StixTime::parse("2024-02-29T00:00:00Z").is_ok());
    }

    #[test]
    fn refuses_what_the_schema_refuses() {
        for bad in [
            "",
            "2016-05-12",
            "2016-05-12T08:17:27",
            "2016-05-12T08:17:27+00:00",
            "2016-05-12t08:17:27Z",
            "2016-05-12T08:17:27z",
            "2016-05-12 08:17:27Z",
            "2016-05-12T08:17:27.Z",
            "2016-13-12T08:17:27Z",
            "2016-00-12T08:17:27Z",
            "2023-02-29T08:17:27Z",
            "2016-04-31T08:17:27Z",
            "2016-05-12T24:00:00Z",
            "2016-05-12T08:60:00Z",
            "2016-05-12T08:17:61Z",
            "2022-101-27T13:49:54.326Z",
            "+016-05-12T08:17:27Z",
            "2016-05-12T08:17:27ZZ",
            "２016-05-12T08:17:27Z",
        ] {
            let err = StixTime::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("invalid timestamp"), "{bad}: {err}");
        }
    }
}
