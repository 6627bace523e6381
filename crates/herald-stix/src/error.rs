//! Why a STIX value was refused.

/// A refusal, with a lowercase message that names what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StixError {
    /// An identifier that is not `<type>--<uuid>`.
    #[error("invalid identifier {id:?}: {reason}")]
    Id {
        /// The identifier as given (truncated to 100 characters).
        id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A type name outside the STIX rules (3–250 characters of `a-z`, `0-9`, `-`).
    #[error("invalid type name {0:?}")]
    TypeName(String),
    /// A timestamp that is not RFC 3339 in UTC with `Z`.
    #[error("invalid timestamp {value:?}: {reason}")]
    Timestamp {
        /// The timestamp as given (truncated to 100 characters).
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A value that RFC 8785 canonicalisation does not take here (a non-integer number).
    #[error("cannot canonicalise: {0}")]
    Canonical(&'static str),
    /// A malformed herald recipients extension (TLP:RED).
    #[error("invalid recipients extension: {0}")]
    Recipients(&'static str),
    /// An object less restricted than something it references (spec §4).
    #[error("an object marked {ours} may not reference {referenced}, which is marked {theirs}")]
    LessRestricted {
        /// The referenced id.
        referenced: String,
        /// The object's own TLP.
        ours: crate::tlp::Tlp,
        /// The referenced object's TLP.
        theirs: crate::tlp::Tlp,
    },
}

/// At most 100 characters of `s`, for error messages about untrusted input.
pub(crate) fn clip(s: &str) -> String {
    const MAX: usize = 100;
    match s.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", s.get(..at).unwrap_or(s)),
        None => s.to_owned(),
    }
}
