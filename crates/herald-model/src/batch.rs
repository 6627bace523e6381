//! EFGS batch tags (specs/efgs-gateway.md §1.2–1.4): upload tags, download-batch tags, and the
//! key server's federation tags.

use std::fmt;
use std::str::FromStr;

use crate::{CountryCode, Date, ModelError};

/// A batch tag: 1 to [`BatchTag::MAX_LEN`] visible ASCII characters (`!` to `~`: no space, no
/// control character, nothing outside ASCII), so it fits EFGS's `varchar(64)` columns and
/// travels unchanged in an HTTP header, a URL query and a log line.
///
/// EFGS sets no alphabet: tags are `yyyyMMdd-N` for download batches, and upload tags are
/// whatever a country chooses (a hash, `yyyy-M-d-<Base64>-<counter>` in cwa-server, a country
/// prefix as PR #255 recommends). Construct one with [`BatchTag::parse`] (or `str::parse`) from
/// outside text, or with [`BatchTag::download`].
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BatchTag(String);

impl BatchTag {
    /// The longest tag, in characters (and bytes: every character is ASCII).
    pub const MAX_LEN: usize = 64;

    /// The tag `text`, if it is 1 to 64 visible ASCII characters.
    pub fn parse(text: &str) -> Result<Self, ModelError> {
        if (1..=Self::MAX_LEN).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(text.to_owned()))
        } else {
            Err(ModelError::BatchTag(text.chars().take(Self::MAX_LEN + 1).collect()))
        }
    }

    /// The download-batch tag `yyyyMMdd-N`: batch number `n` (counting from 1) of `day`.
    pub fn download(day: Date, n: u64) -> Self {
        // Eight digits (years 0..=9999; `Date` holds -9999..=9999, whose sign adds one
        // character), a dash and at most 20 digits: never longer than 30 visible characters.
        Self(format!("{}-{n}", day.compact()))
    }

    /// herald's upload tag `<CC>-<unix seconds>-<16 hex digits>`: the country prefix EFGS PR #255
    /// recommends, the time of the batch, and a random `nonce` that keeps it unique.
    pub fn upload(country: CountryCode, seconds: i64, nonce: u64) -> Self {
        // At most 2 + 1 + 20 + 1 + 16 = 40 visible characters.
        Self(format!("{country}-{seconds}-{nonce:016x}"))
    }

    /// The tag as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the tag is a download-batch tag of `day`: it starts with `yyyyMMdd`.
    pub fn is_of_day(&self, day: Date) -> bool {
        self.0.starts_with(&day.compact())
    }
}

impl FromStr for BatchTag {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl AsRef<str> for BatchTag {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for BatchTag {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for BatchTag {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for BatchTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for BatchTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BatchTag({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn tags_are_visible_ascii_up_to_64() {
        for good in ["20200616-1", "DE-1764288000-00ff00ff00ff00ff", "2020-7-31-ab+/c=-1", "x"] {
            assert_eq!(BatchTag::parse(good).unwrap().as_str(), good);
        }
        assert_eq!(BatchTag::parse(&"a".repeat(64)).unwrap().as_str().len(), 64);
        for bad in ["", "2020 07", "tab\there", "é", "line\n", &"a".repeat(65)] {
            assert_eq!(BatchTag::parse(bad), Err(ModelError::BatchTag(bad.to_owned())), "{bad:?}");
        }
    }

    #[test]
    fn download_tags_are_dated() {
        let day = Date::parse_iso("2020-07-31").unwrap();
        let tag = BatchTag::download(day, 3);
        assert_eq!(tag.as_str(), "20200731-3");
        assert_eq!(tag.to_string(), "20200731-3");
        assert_eq!(format!("{tag:?}"), "BatchTag(20200731-3)");
        assert!(tag.is_of_day(day));
        assert!(!tag.is_of_day(Date::parse_iso("2020-08-01").unwrap()));
        assert_eq!(BatchTag::parse(tag.as_str()), Ok(tag));
    }

    #[test]
    fn upload_tags_name_the_country() {
        let tag = BatchTag::upload("DE".parse().unwrap(), 1_764_288_000, 0xff);
        assert_eq!(tag, "DE-1764288000-00000000000000ff");
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_round_trips(text in "\\PC{0,70}") {
            if let Ok(tag) = text.parse::<BatchTag>() {
                prop_assert_eq!(tag.as_str(), text.as_str());
                prop_assert!((1..=64).contains(&tag.as_str().len()));
            }
        }

        #[test]
        fn upload_tags_always_parse(seconds in i64::MIN..=i64::MAX, nonce in 0..=u64::MAX) {
            let tag = BatchTag::upload("NL".parse().unwrap(), seconds, nonce);
            prop_assert_eq!(BatchTag::parse(tag.as_str()), Ok(tag));
        }

        #[test]
        fn download_tags_always_parse(day in -3650i64..=100_000, n in 1u64..=u64::MAX) {
            let tag = BatchTag::download(Date::from_utc_day(day).unwrap(), n);
            prop_assert_eq!(BatchTag::parse(tag.as_str()), Ok(tag));
        }
    }
}
