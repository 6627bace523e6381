//! Certificates as EFGS sees them: the DER bytes (for the thumbprint), the parsed X.509
//! structure (for the subject), and the country the subject names.

use der::asn1::Any;
use der::{Decode as _, Tag, Tagged as _};
use herald_model::{CertThumbprint, CountryCode};
use sha2::{Digest as _, Sha256};
use x509_cert::Certificate;
use x509_cert::der::oid::db::rfc4519::COUNTRY_NAME;

use crate::TrustError;

/// The SHA-256 of a certificate's DER encoding: what EFGS stores as `thumbprint` and what
/// `openssl x509 -noout -fingerprint -sha256` prints (with colons, upper case).
///
/// The input is not parsed; pass the exact DER bytes that were presented (re-encoding a parsed
/// certificate may not reproduce them).
pub fn thumbprint(cert_der: &[u8]) -> CertThumbprint {
    CertThumbprint(Sha256::digest(cert_der).into())
}

/// The country a certificate stands for: the single `C` attribute of its subject.
///
/// EFGS identifies a national backend by the subject's `C` (of the TLS client certificate and
/// of the batch-signing certificate), so a subject with no `C` or with several is refused
/// rather than guessed. The value must be two upper-case ASCII letters, encoded as a
/// PrintableString (RFC 5280), UTF8String or IA5String.
pub fn country(cert: &Certificate) -> Result<CountryCode, TrustError> {
    let mut values =
        cert.tbs_certificate().subject().iter().filter(|atav| atav.oid == COUNTRY_NAME);
    let (Some(first), None) = (values.next(), values.next()) else {
        // Zero, or at least two: count them all for the message.
        let count =
            cert.tbs_certificate().subject().iter().filter(|atav| atav.oid == COUNTRY_NAME).count();
        return Err(if count == 0 {
            TrustError::NoCountry
        } else {
            TrustError::SeveralCountries { count }
        });
    };
    country_value(&first.value)
}

/// Decodes one `C` attribute value.
fn country_value(value: &Any) -> Result<CountryCode, TrustError> {
    let bytes = value.value();
    let bad = || TrustError::BadCountry {
        value: String::from_utf8_lossy(bytes).chars().take(16).collect(),
    };
    if !matches!(value.tag(), Tag::PrintableString | Tag::Utf8String | Tag::Ia5String) {
        return Err(bad());
    }
    match bytes {
        [a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => {
            let text = std::str::from_utf8(bytes).map_err(|_| bad())?;
            text.parse().map_err(|_| bad())
        }
        _ => Err(bad()),
    }
}

/// A parsed X.509 certificate that remembers the exact DER it was parsed from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cert {
    der: Vec<u8>,
    x509: Certificate,
}

impl Cert {
    /// Parses one certificate given as PEM (`-----BEGIN CERTIFICATE-----`, leading whitespace
    /// allowed) or as DER. Anything that does not start with `-----BEGIN` is treated as DER.
    pub fn parse(input: &[u8]) -> Result<Self, TrustError> {
        if input.trim_ascii_start().starts_with(b"-----BEGIN") {
            Self::from_pem(input)
        } else {
            Self::from_der(input)
        }
    }

    /// Parses exactly one PEM `CERTIFICATE` block.
    pub fn from_pem(pem: &[u8]) -> Result<Self, TrustError> {
        let (label, der) = der::pem::decode_vec(pem.trim_ascii())
            .map_err(|e| TrustError::Pem { reason: e.into() })?;
        if label != "CERTIFICATE" {
            return Err(TrustError::PemLabel { label: label.chars().take(32).collect() });
        }
        Self::from_der(&der)
    }

    /// Parses exactly one DER certificate (no trailing bytes).
    pub fn from_der(der: &[u8]) -> Result<Self, TrustError> {
        let x509 = Certificate::from_der(der).map_err(|reason| TrustError::Der { reason })?;
        Ok(Self { der: der.to_vec(), x509 })
    }

    /// The DER bytes exactly as given.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The parsed certificate.
    pub fn x509(&self) -> &Certificate {
        &self.x509
    }

    /// SHA-256 of the DER, see [`thumbprint`].
    pub fn thumbprint(&self) -> CertThumbprint {
        thumbprint(&self.der)
    }

    /// The subject's single `C`, see [`country`].
    pub fn country(&self) -> Result<CountryCode, TrustError> {
        country(&self.x509)
    }
}

#[cfg(test)]
mod tests {
    use rcgen::{CertificateParams, DnType, DnValue, KeyPair, PKCS_ECDSA_P256_SHA256};

    use super::*;

    /// A self-signed certificate whose subject has the given attributes, in order.
    fn cert_with_subject(attrs: &[(DnType, &str)]) -> Cert {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        for (ty, value) in attrs {
            params
                .distinguished_name
                .push(ty.clone(), DnValue::PrintableString((*value).try_into().unwrap()));
        }
        let cert = params.self_signed(&key).unwrap();
        Cert::from_der(cert.der()).unwrap()
    }

    /// rcgen keeps one value per `DnType`; a custom type with the countryName OID makes a second
    /// `C` attribute.
    fn second_country() -> DnType {
        DnType::CustomDnType(vec![2, 5, 4, 6])
    }

    #[test]
    fn country_of_a_well_formed_subject() {
        let cert = cert_with_subject(&[
            (DnType::CountryName, "DE"),
            (DnType::CommonName, "herald DE national backend"),
        ]);
        assert_eq!(cert.country().unwrap().as_str(), "DE");
    }

    #[test]
    fn country_missing_or_repeated_is_an_error_that_says_so() {
        let none = cert_with_subject(&[(DnType::CommonName, "no country")]);
        let err = none.country().unwrap_err();
        assert!(matches!(err, TrustError::NoCountry), "{err:?}");
        assert!(err.to_string().contains("no country (C) attribute"), "{err}");

        let two = cert_with_subject(&[
            (DnType::CountryName, "DE"),
            (second_country(), "NL"),
            (DnType::CommonName, "two countries"),
        ]);
        let err = two.country().unwrap_err();
        assert!(matches!(err, TrustError::SeveralCountries { count: 2 }), "{err:?}");
        assert!(err.to_string().contains("2 country (C) attributes"), "{err}");

        // The same country twice is still ambiguous in EFGS terms.
        let same = cert_with_subject(&[(DnType::CountryName, "DE"), (second_country(), "DE")]);
        assert!(matches!(same.country(), Err(TrustError::SeveralCountries { count: 2 })));
    }

    #[test]
    fn country_must_be_two_upper_case_letters() {
        for bad in ["de", "D", "DEU", "D1"] {
            let cert = cert_with_subject(&[(DnType::CountryName, bad)]);
            let err = cert.country().unwrap_err();
            assert!(matches!(err, TrustError::BadCountry { .. }), "{bad}: {err:?}");
        }
    }

    #[test]
    fn pem_and_der_parse_to_the_same_certificate() {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let from_pem = Cert::parse(cert.pem().as_bytes()).unwrap();
        let from_der = Cert::parse(cert.der()).unwrap();
        assert_eq!(from_pem, from_der);
        assert_eq!(from_pem.der(), cert.der().as_ref());
        // Leading blank lines and CRLF line endings are tolerated.
        let crlf = format!("\n\n{}", cert.pem().replace('\n', "\r\n"));
        assert_eq!(Cert::parse(crlf.as_bytes()).unwrap(), from_der);
    }

    #[test]
    fn malformed_input_is_a_clear_error() {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let err = Cert::parse(key.serialize_pem().as_bytes()).unwrap_err();
        assert!(matches!(&err, TrustError::PemLabel { label } if label == "PRIVATE KEY"), "{err}");
        assert!(err.to_string().contains("expected a CERTIFICATE"), "{err}");

        let err = Cert::parse(b"-----BEGIN CERTIFICATE-----\nnot base64!\n").unwrap_err();
        assert!(matches!(err, TrustError::Pem { .. }), "{err:?}");
        assert!(err.to_string().starts_with("certificate PEM is malformed: "), "{err}");

        let err = Cert::parse(b"\x30\x03\x02\x01").unwrap_err();
        assert!(matches!(err, TrustError::Der { .. }), "{err:?}");

        // Trailing bytes after the certificate are refused, so the thumbprint is unambiguous.
        let cert =
            CertificateParams::new(vec!["x".to_string()]).unwrap().self_signed(&key).unwrap();
        let mut der = cert.der().to_vec();
        der.push(0);
        assert!(matches!(Cert::parse(&der), Err(TrustError::Der { .. })));
    }

    #[test]
    fn thumbprint_is_sha256_of_the_der() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1: the function hashes exactly its input.
        assert_eq!(
            thumbprint(b"abc").to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
