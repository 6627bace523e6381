//! Certificate thumbprints: how EFGS pins certificates.

use std::fmt;

use crate::ModelError;
use crate::key::{hex_into, to_hex};

/// The SHA-256 of a certificate's DER encoding, shown as 64 lowercase hex digits (EFGS
/// `thumbprint`, `X-SSL-Client-SHA256`, `uploaderSigningThumbprint`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CertThumbprint(pub [u8; 32]);

impl CertThumbprint {
    /// Parses 64 hex digits; colons (as `openssl x509 -fingerprint` prints them) are ignored.
    pub fn from_hex(text: &str) -> Result<Self, ModelError> {
        let digits: String = text.trim().chars().filter(|c| *c != ':').collect();
        let mut out = [0u8; 32];
        hex_into(&digits, &mut out)
            .map(|()| Self(out))
            .ok_or(ModelError::Hex { what: "certificate thumbprint", expected: 64 })
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        to_hex(&self.0)
    }
}

impl fmt::Display for CertThumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for CertThumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CertThumbprint({})", self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_with_and_without_colons() {
        let hex = "a1".repeat(32);
        let t = CertThumbprint::from_hex(&hex).unwrap();
        assert_eq!(t.to_hex(), hex);
        let colons: Vec<String> = (0..32).map(|_| "A1".to_string()).collect();
        assert_eq!(CertThumbprint::from_hex(&colons.join(":")).unwrap(), t);
        assert!(CertThumbprint::from_hex("a1").is_err());
    }
}
