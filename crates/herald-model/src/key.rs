//! Temporary exposure keys and diagnosis keys.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{DaysSinceOnset, IntervalNumber, ModelError, ReportType, RollingPeriod};

/// A 16-byte GAEN Temporary Exposure Key.
///
/// While it sits on a phone it is a secret, so it zeroizes on drop and its `Debug` output shows
/// no key bytes. Once uploaded as a diagnosis key it is public, and [`Self::as_bytes`] and
/// [`Self::to_hex`] hand the bytes out on purpose.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Zeroize, ZeroizeOnDrop)]
pub struct TemporaryExposureKey([u8; 16]);

impl TemporaryExposureKey {
    /// Length of a TEK in bytes.
    pub const LEN: usize = 16;

    /// Wraps 16 bytes.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// Parses a byte slice that must be exactly 16 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, ModelError> {
        <[u8; 16]>::try_from(bytes).map(Self).map_err(|_| ModelError::Length {
            what: "temporary exposure key",
            expected: Self::LEN,
            actual: bytes.len(),
        })
    }

    /// Parses 32 hex digits (either case).
    pub fn from_hex(text: &str) -> Result<Self, ModelError> {
        let mut out = [0u8; 16];
        hex_into(text.trim(), &mut out)
            .map(|()| Self(out))
            .ok_or(ModelError::Hex { what: "temporary exposure key", expected: 32 })
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The key as 32 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        to_hex(&self.0)
    }
}

impl fmt::Debug for TemporaryExposureKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TemporaryExposureKey(<redacted>)")
    }
}

/// Decodes exactly `out.len() * 2` hex digits into `out`; `None` on any bad digit or length.
pub fn hex_into(text: &str, out: &mut [u8]) -> Option<()> {
    let digits = text.as_bytes();
    if digits.len() != out.len() * 2 {
        return None;
    }
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let [hi, lo] = pair else { return None };
        *byte = (nibble(*hi)? << 4) | nibble(*lo)?;
    }
    Some(())
}

/// Lowercase hex of a byte string.
pub fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        for n in [b >> 4, b & 0x0f] {
            s.push(char::from_digit(u32::from(n), 16).unwrap_or('?'));
        }
    }
    s
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The deprecated GAEN transmission risk level, 0..=8 (0 = unset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TransmissionRiskLevel(u8);

impl TransmissionRiskLevel {
    /// Parses a level in 0..=8.
    pub fn new(value: i32) -> Result<Self, ModelError> {
        match u8::try_from(value) {
            Ok(v) if v <= 8 => Ok(Self(v)),
            _ => Err(ModelError::Range {
                what: "transmission risk level",
                min: 0,
                max: 8,
                actual: i64::from(value),
            }),
        }
    }

    /// The level.
    pub fn get(self) -> u8 {
        self.0
    }
}

/// A TEK published by a positive user, with the metadata that travels with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiagnosisKey {
    /// The key itself.
    pub key: TemporaryExposureKey,
    /// The first interval the key was used for (normally, but not always, a multiple of 144).
    pub rolling_start: IntervalNumber,
    /// How many intervals the key was used for.
    pub rolling_period: RollingPeriod,
    /// Deprecated v1 risk level.
    pub transmission_risk_level: TransmissionRiskLevel,
    /// How the diagnosis was established.
    pub report_type: ReportType,
    /// Days between symptom onset and this key's day, when known.
    pub days_since_onset: Option<DaysSinceOnset>,
}

impl DiagnosisKey {
    /// A confirmed-test key with no onset information and TRL 0: the common case in tests and tools.
    pub fn new(
        key: TemporaryExposureKey,
        rolling_start: IntervalNumber,
        rolling_period: RollingPeriod,
    ) -> Self {
        Self {
            key,
            rolling_start,
            rolling_period,
            transmission_risk_level: TransmissionRiskLevel::default(),
            report_type: ReportType::ConfirmedTest,
            days_since_onset: None,
        }
    }

    /// The first interval after the key's last one (`rolling_start + rolling_period`), if it fits
    /// in a u32.
    pub fn end(&self) -> Result<IntervalNumber, ModelError> {
        self.rolling_start.checked_add(u32::from(self.rolling_period.get()))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn debug_never_shows_key_bytes() {
        let key = TemporaryExposureKey::from_bytes([0xab; 16]);
        let shown = format!("{key:?}");
        assert!(!shown.contains("ab") && !shown.contains("171"), "{shown}");
    }

    #[test]
    fn hex_parsing_checks_length_and_digits() {
        let k = TemporaryExposureKey::from_hex("75c734c6dd1a782de7a965da5eb93125").unwrap();
        assert_eq!(k.to_hex(), "75c734c6dd1a782de7a965da5eb93125");
        assert_eq!(TemporaryExposureKey::from_hex("75C734C6DD1A782DE7A965DA5EB93125").unwrap(), k);
        for bad in [
            "",
            "75c7",
            "75c734c6dd1a782de7a965da5eb9312",
            "75c734c6dd1a782de7a965da5eb931255",
            "zzc734c6dd1a782de7a965da5eb93125",
            "75c734c6dd1a782de7a965da5eb9312é",
        ] {
            assert!(TemporaryExposureKey::from_hex(bad).is_err(), "{bad}");
        }
        assert!(TemporaryExposureKey::from_slice(&[0; 15]).is_err());
    }

    #[test]
    fn trl_bounds() {
        assert!(TransmissionRiskLevel::new(-1).is_err());
        assert!(TransmissionRiskLevel::new(9).is_err());
        assert_eq!(TransmissionRiskLevel::new(8).map(TransmissionRiskLevel::get), Ok(8));
    }

    proptest! {
        #[test]
        fn hex_round_trip(bytes in any::<[u8; 16]>()) {
            let k = TemporaryExposureKey::from_bytes(bytes);
            prop_assert_eq!(TemporaryExposureKey::from_hex(&k.to_hex()).unwrap(), k);
        }

        #[test]
        fn hex_parse_never_panics(text in ".{0,40}") {
            let _ = TemporaryExposureKey::from_hex(&text);
        }
    }
}
