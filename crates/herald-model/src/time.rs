//! Time: unix seconds, GAEN interval numbers (ENIN), rolling periods and the injected clock.

use std::fmt;

use crate::ModelError;

/// Seconds in one GAEN interval (10 minutes).
pub const INTERVAL_SECONDS: i64 = 600;
/// Intervals in one TEK rolling period (24 hours).
pub const MAX_ROLLING_PERIOD: u8 = 144;
/// Seconds in a UTC day.
pub const DAY_SECONDS: i64 = 86_400;

/// A point in time as whole seconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(pub i64);

impl UnixTime {
    /// Seconds since the epoch.
    pub fn seconds(self) -> i64 {
        self.0
    }

    /// The UTC day number, `floor(t / 86400)`.
    pub fn utc_day(self) -> i64 {
        self.0.div_euclid(DAY_SECONDS)
    }

    /// The ENIN of this instant. Fails for instants before 1970 or after the u32 range of ENINs.
    pub fn interval(self) -> Result<IntervalNumber, ModelError> {
        let enin = self.0.div_euclid(INTERVAL_SECONDS);
        u32::try_from(enin).map(IntervalNumber).map_err(|_| ModelError::Range {
            what: "unix time",
            min: 0,
            max: i64::from(u32::MAX) * INTERVAL_SECONDS + (INTERVAL_SECONDS - 1),
            actual: self.0,
        })
    }
}

/// A GAEN `ENIntervalNumber`: `floor(unix_seconds / 600)` as u32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IntervalNumber(pub u32);

impl IntervalNumber {
    /// The raw interval number.
    pub fn get(self) -> u32 {
        self.0
    }

    /// The first second of this interval.
    pub fn start(self) -> UnixTime {
        UnixTime(i64::from(self.0) * INTERVAL_SECONDS)
    }

    /// `self + n`, or an error past `u32::MAX`.
    pub fn checked_add(self, n: u32) -> Result<Self, ModelError> {
        self.0.checked_add(n).map(Self).ok_or(ModelError::IntervalOverflow)
    }

    /// `self - n`, or an error below 0.
    pub fn checked_sub(self, n: u32) -> Result<Self, ModelError> {
        self.0.checked_sub(n).map(Self).ok_or(ModelError::IntervalOverflow)
    }

    #[must_use]
    /// The interval that starts the day this interval is in (a multiple of 144).
    pub fn day_aligned(self) -> Self {
        Self(self.0 - self.0 % u32::from(MAX_ROLLING_PERIOD))
    }

    /// Whether this interval starts a UTC day.
    pub fn is_day_aligned(self) -> bool {
        self.0.is_multiple_of(u32::from(MAX_ROLLING_PERIOD))
    }
}

impl fmt::Display for IntervalNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// How many intervals a TEK is valid for: 1..=144.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RollingPeriod(u8);

impl RollingPeriod {
    /// The full day, 144 intervals.
    pub const FULL_DAY: Self = Self(MAX_ROLLING_PERIOD);

    /// Parses a rolling period; 0 and anything above 144 are refused.
    pub fn new(value: u32) -> Result<Self, ModelError> {
        match u8::try_from(value) {
            Ok(v) if (1..=MAX_ROLLING_PERIOD).contains(&v) => Ok(Self(v)),
            _ => Err(ModelError::Range {
                what: "rolling period",
                min: 1,
                max: i64::from(MAX_ROLLING_PERIOD),
                actual: i64::from(value),
            }),
        }
    }

    /// The number of intervals.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl Default for RollingPeriod {
    fn default() -> Self {
        Self::FULL_DAY
    }
}

/// A source of the current time. Services and tools take one; nothing below the binary reads the
/// system clock itself.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> UnixTime;
}

/// A clock that always says the same time; for tests, replays and reproducible tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedClock(pub UnixTime);

impl Clock for FixedClock {
    fn now(&self) -> UnixTime {
        self.0
    }
}

/// A clock moved by hand (tests, the demo's simulated time). Shared by reference; reads and
/// moves are atomic.
#[derive(Debug, Default)]
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    /// A clock showing `now`.
    pub fn new(now: UnixTime) -> Self {
        Self(std::sync::atomic::AtomicI64::new(now.0))
    }

    /// Sets the time.
    pub fn set(&self, now: UnixTime) {
        self.0.store(now.0, std::sync::atomic::Ordering::SeqCst);
    }

    /// Moves the time by `seconds` (negative moves it back).
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixTime {
        UnixTime(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn enin_boundaries_from_the_vectors() {
        assert_eq!(UnixTime(1_585_785_599).interval(), Ok(IntervalNumber(2_642_975)));
        assert_eq!(UnixTime(1_585_785_600).interval(), Ok(IntervalNumber(2_642_976)));
        assert!(UnixTime(-1).interval().is_err());
        assert!(UnixTime(i64::from(u32::MAX) * 600 + 600).interval().is_err());
    }

    #[test]
    fn rolling_period_bounds() {
        assert!(RollingPeriod::new(0).is_err());
        assert_eq!(RollingPeriod::new(1).map(RollingPeriod::get), Ok(1));
        assert_eq!(RollingPeriod::new(144).map(RollingPeriod::get), Ok(144));
        assert!(RollingPeriod::new(145).is_err());
        assert!(RollingPeriod::new(u32::MAX).is_err());
    }

    proptest! {
        #[test]
        fn interval_laws(i in any::<u32>(), n in any::<u32>()) {
            let i = IntervalNumber(i);
            match i.checked_add(n) {
                Ok(j) => prop_assert_eq!(j.checked_sub(n), Ok(i)),
                Err(_) => prop_assert!(u64::from(i.get()) + u64::from(n) > u64::from(u32::MAX)),
            }
            prop_assert_eq!(i.start().interval(), Ok(i));
            prop_assert!(i.day_aligned() <= i && i.day_aligned().is_day_aligned());
        }

        #[test]
        fn unix_time_to_interval_is_floor(t in 0i64..(i64::from(u32::MAX) * 600)) {
            let i = UnixTime(t).interval().unwrap();
            prop_assert!(i.start().seconds() <= t && t < i.start().seconds() + 600);
        }
    }
}
