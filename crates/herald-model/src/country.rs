//! ISO 3166-1 alpha-2 country codes, as used by EFGS.

use std::fmt;
use std::str::FromStr;

use crate::ModelError;

/// Two uppercase ASCII letters. Parsing accepts lowercase and normalises it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Both bytes are ASCII uppercase letters by construction, so this never falls back.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl FromStr for CountryCode {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Ok(Self([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => Err(ModelError::Country(s.chars().take(16).collect())),
        }
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CountryCode({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        assert_eq!("de".parse::<CountryCode>().unwrap().as_str(), "DE");
        for bad in ["", "D", "DEU", "D1", "ÄÖ", "1E"] {
            assert!(bad.parse::<CountryCode>().is_err(), "{bad}");
        }
    }
}
