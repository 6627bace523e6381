//! Report types and days since symptom onset.

use crate::ModelError;

/// How a diagnosis was established (GAEN `ReportType`, same numbering in EFGS and export files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[non_exhaustive]
pub enum ReportType {
    /// Not given (0).
    #[default]
    Unknown = 0,
    /// A confirmed laboratory test (1).
    ConfirmedTest = 1,
    /// A clinical diagnosis without a test (2).
    ConfirmedClinicalDiagnosis = 2,
    /// The user reported themselves (3).
    SelfReport = 3,
    /// Derived from a contact's exposure (4); not matched by default.
    Recursive = 4,
    /// An earlier report was withdrawn (5).
    Revoked = 5,
}

impl ReportType {
    /// All values, in wire order.
    pub const ALL: [Self; 6] = [
        Self::Unknown,
        Self::ConfirmedTest,
        Self::ConfirmedClinicalDiagnosis,
        Self::SelfReport,
        Self::Recursive,
        Self::Revoked,
    ];

    /// Parses the wire value 0..=5.
    pub fn new(value: i32) -> Result<Self, ModelError> {
        usize::try_from(value).ok().and_then(|i| Self::ALL.get(i).copied()).ok_or(
            ModelError::Range { what: "report type", min: 0, max: 5, actual: i64::from(value) },
        )
    }

    /// The wire value.
    pub fn wire(self) -> i32 {
        self as i32
    }

    /// The index into 6-entry weight tables.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The `.proto` name (`eu.interop.ReportType`), as the EFGS JSON encoding writes it
    /// (e.g. `"CONFIRMED_TEST"`).
    pub fn as_str_name(self) -> &'static str {
        match self {
            Self::Unknown => "UNKNOWN",
            Self::ConfirmedTest => "CONFIRMED_TEST",
            Self::ConfirmedClinicalDiagnosis => "CONFIRMED_CLINICAL_DIAGNOSIS",
            Self::SelfReport => "SELF_REPORT",
            Self::Recursive => "RECURSIVE",
            Self::Revoked => "REVOKED",
        }
    }

    /// The value with this `.proto` name, if any (exact, case-sensitive).
    pub fn from_str_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|rt| rt.as_str_name() == name)
    }
}

/// Days from symptom onset to the key's day, -14..=14 as GAEN accepts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DaysSinceOnset(i8);

impl DaysSinceOnset {
    /// The largest distance from onset that GAEN carries.
    pub const MAX_ABS: i8 = 14;

    /// Parses a value in -14..=14.
    pub fn new(value: i32) -> Result<Self, ModelError> {
        match i8::try_from(value) {
            Ok(v) if (-Self::MAX_ABS..=Self::MAX_ABS).contains(&v) => Ok(Self(v)),
            _ => Err(ModelError::Range {
                what: "days since onset of symptoms",
                min: -14,
                max: 14,
                actual: i64::from(value),
            }),
        }
    }

    /// The number of days.
    pub fn get(self) -> i8 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_type_round_trip_and_bounds() {
        for rt in ReportType::ALL {
            assert_eq!(ReportType::new(rt.wire()), Ok(rt));
        }
        assert!(ReportType::new(-1).is_err());
        assert!(ReportType::new(6).is_err());
        for rt in ReportType::ALL {
            assert_eq!(ReportType::from_str_name(rt.as_str_name()), Some(rt));
        }
        assert_eq!(ReportType::from_str_name("confirmed_test"), None);
    }

    #[test]
    fn dsos_bounds() {
        assert!(DaysSinceOnset::new(-15).is_err());
        assert!(DaysSinceOnset::new(15).is_err());
        assert!(DaysSinceOnset::new(i32::MAX).is_err());
        assert_eq!(DaysSinceOnset::new(-14).map(DaysSinceOnset::get), Ok(-14));
    }
}
