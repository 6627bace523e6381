//! The one error type of the model crate.

/// Why a value could not become a domain type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A fixed-size byte string had the wrong length.
    #[error("{what} must be {expected} bytes, got {actual}")]
    Length {
        /// What was being parsed.
        what: &'static str,
        /// The required length.
        expected: usize,
        /// The length that was given.
        actual: usize,
    },
    /// Hex text that is not valid hex of the right length.
    #[error("{what} must be {expected} hex digits")]
    Hex {
        /// What was being parsed.
        what: &'static str,
        /// The number of hex digits required.
        expected: usize,
    },
    /// A number outside its allowed range.
    #[error("{what} must be in {min}..={max}, got {actual}")]
    Range {
        /// What was being parsed.
        what: &'static str,
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
        /// The value that was given.
        actual: i64,
    },
    /// Interval arithmetic left the u32 range of ENINs.
    #[error("interval arithmetic overflowed")]
    IntervalOverflow,
    /// A batch tag that is not 1 to 64 visible ASCII characters (the text given, cut after 65
    /// characters).
    #[error("batch tag must be 1 to 64 visible ASCII characters, got {0:?}")]
    BatchTag(String),
    /// A country code that is not two ASCII letters.
    #[error("country code must be two ASCII letters, got {0:?}")]
    Country(String),
}
