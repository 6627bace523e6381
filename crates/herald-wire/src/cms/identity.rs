//! Signing identities (certificate and private key, P-256 or RSA) and signer certificates: parsing,
//! thumbprints, subject country, signing.

use der::zeroize::Zeroizing;
use der::{Decode, Encode};
use herald_model::{CertThumbprint, CountryCode, UnixTime};
use rsa::traits::PublicKeyParts as _;
use sha2::{Digest as _, Sha256};
use signature::rand_core::TryCryptoRng;
use signature::{RandomizedSigner as _, SignatureEncoding as _};
use spki::SubjectPublicKeyInfoRef;
use x509_cert::Certificate;

use super::{
    CmsError, ID_EC_PUBLIC_KEY, MIN_RSA_BITS, PrivateKey, RSA_ENCRYPTION, SECP256R1,
    SignatureAlgorithm, SignerCertificate, SigningIdentity, first_pem_block, subject_country,
    unix_time,
};

impl SigningIdentity {
    /// A signing identity from a PEM certificate and a PEM private key: PKCS#8 (`PRIVATE KEY`,
    /// EC P-256 or RSA), or the traditional `EC PRIVATE KEY` (SEC1) and `RSA PRIVATE KEY`
    /// (PKCS#1) forms. Encrypted keys are refused. The key must belong to the certificate.
    pub fn from_pem(certificate_pem: &str, key_pem: &str) -> Result<Self, CmsError> {
        let certificate = SignerCertificate::from_pem(certificate_pem)?;
        let block = first_pem_block(key_pem)
            .ok_or_else(|| CmsError::PrivateKey("no PEM block found".to_owned()))?;
        let (label, der) = der::pem::decode_vec(block.as_bytes())
            .map_err(|e| CmsError::PrivateKey(format!("PEM: {e}")))?;
        let der = Zeroizing::new(der);
        let key = match label {
            "PRIVATE KEY" => PrivateKey::from_pkcs8_der(&der)?,
            "EC PRIVATE KEY" => {
                let secret = p256::SecretKey::from_sec1_der(&der)
                    .map_err(|e| CmsError::PrivateKey(format!("SEC1 P-256 key: {e}")))?;
                PrivateKey::EcdsaP256(secret.into())
            }
            "RSA PRIVATE KEY" => {
                use rsa::pkcs1::DecodeRsaPrivateKey as _;
                let key = rsa::PrivateKey::from_pkcs1_der(&der)
                    .map_err(|e| CmsError::PrivateKey(format!("PKCS#1 RSA key: {e}")))?;
                PrivateKey::rsa(key)?
            }
            "ENCRYPTED PRIVATE KEY" => {
                return Err(CmsError::PrivateKey(
                    "encrypted keys are not supported; decrypt with `openssl pkcs8 -nocrypt`"
                        .to_owned(),
                ));
            }
            other => {
                return Err(CmsError::PrivateKey(format!(
                    "unexpected PEM label {:?}, expected \"PRIVATE KEY\"",
                    other.chars().take(32).collect::<String>()
                )));
            }
        };
        Self::new(certificate, key)
    }

    /// A signing identity from a DER certificate and a DER PKCS#8 private key.
    pub fn from_der(certificate_der: &[u8], pkcs8_der: &[u8]) -> Result<Self, CmsError> {
        let certificate = SignerCertificate::from_der(certificate_der)?;
        let key = PrivateKey::from_pkcs8_der(pkcs8_der)?;
        Self::new(certificate, key)
    }

    fn new(certificate: SignerCertificate, key: PrivateKey) -> Result<Self, CmsError> {
        let spki = certificate.certificate.tbs_certificate().subject_public_key_info();
        let spki_der = spki.to_der().map_err(|e| CmsError::Certificate(e.to_string()))?;
        let spki = SubjectPublicKeyInfoRef::try_from(spki_der.as_slice())
            .map_err(|e| CmsError::Certificate(e.to_string()))?;
        let matches = match &key {
            PrivateKey::EcdsaP256(k) => {
                p256::ecdsa::VerifyingKey::try_from(spki).is_ok_and(|v| v == *k.verifying_key())
            }
            PrivateKey::Rsa(k) => {
                rsa::PublicKey::try_from(spki).is_ok_and(|v| v == *k.as_ref().as_ref().as_ref())
            }
        };
        if !matches {
            return Err(CmsError::KeyMismatch);
        }
        Ok(Self { certificate, key })
    }

    /// The signing certificate.
    pub fn certificate(&self) -> &SignerCertificate {
        &self.certificate
    }

    /// The algorithm this identity signs with.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        match self.key {
            PrivateKey::EcdsaP256(_) => SignatureAlgorithm::EcdsaP256Sha256,
            PrivateKey::Rsa(_) => SignatureAlgorithm::RsaPkcs1v15Sha256,
        }
    }
}

impl std::fmt::Debug for SigningIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningIdentity")
            .field("certificate", &self.certificate)
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    fn from_pkcs8_der(der: &[u8]) -> Result<Self, CmsError> {
        let info = pkcs8::PrivateKeyInfoRef::try_from(der)
            .map_err(|e| CmsError::PrivateKey(format!("PKCS#8: {e}")))?;
        match info.algorithm.oid {
            ID_EC_PUBLIC_KEY => {
                let curve = info.algorithm.parameters_oid().ok();
                if curve != Some(SECP256R1) {
                    return Err(CmsError::UnsupportedAlgorithm(format!(
                        "elliptic curve {}",
                        curve.map_or_else(|| "(none)".to_owned(), |c| c.to_string())
                    )));
                }
                p256::ecdsa::SigningKey::try_from(info)
                    .map(Self::EcdsaP256)
                    .map_err(|e| CmsError::PrivateKey(format!("P-256 key: {e}")))
            }
            RSA_ENCRYPTION => {
                let key = rsa::PrivateKey::try_from(info)
                    .map_err(|e| CmsError::PrivateKey(format!("RSA key: {e}")))?;
                Self::rsa(key)
            }
            other => Err(CmsError::UnsupportedAlgorithm(format!("private key type {other}"))),
        }
    }

    fn rsa(key: rsa::PrivateKey) -> Result<Self, CmsError> {
        let bits = key.n().bit_width_vartime();
        if bits < MIN_RSA_BITS {
            return Err(CmsError::WeakRsaKey(bits));
        }
        Ok(Self::Rsa(Box::new(rsa::pkcs1v15::SigningKey::new(key))))
    }

    /// Signs `message` (hashing it with SHA-256): DER ECDSA-Sig-Value or the RSA signature.
    pub(super) fn sign<R: TryCryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        message: &[u8],
    ) -> Result<Vec<u8>, CmsError> {
        let failed = |e: signature::Error| CmsError::Sign(e.to_string());
        match self {
            Self::EcdsaP256(key) => {
                let sig: p256::ecdsa::Signature =
                    key.try_sign_with_rng(rng, message).map_err(failed)?;
                Ok(sig.to_der().as_bytes().to_vec())
            }
            Self::Rsa(key) => {
                let sig: rsa::pkcs1v15::Signature =
                    key.try_sign_with_rng(rng, message).map_err(failed)?;
                Ok(sig.to_vec())
            }
        }
    }
}

impl SignerCertificate {
    /// Parses the first `CERTIFICATE` block of a PEM text.
    pub fn from_pem(pem: &str) -> Result<Self, CmsError> {
        let block = first_pem_block(pem)
            .ok_or_else(|| CmsError::Certificate("no PEM block found".to_owned()))?;
        let (label, der) = der::pem::decode_vec(block.as_bytes())
            .map_err(|e| CmsError::Certificate(format!("PEM: {e}")))?;
        if label != "CERTIFICATE" {
            return Err(CmsError::Certificate(format!(
                "unexpected PEM label {:?}, expected \"CERTIFICATE\"",
                label.chars().take(32).collect::<String>()
            )));
        }
        Self::from_der(&der)
    }

    /// Parses a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, CmsError> {
        let certificate =
            Certificate::from_der(der).map_err(|e| CmsError::Certificate(e.to_string()))?;
        Ok(Self { der: der.to_vec(), certificate })
    }

    /// The DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// SHA-256 of the DER bytes.
    pub fn thumbprint(&self) -> CertThumbprint {
        CertThumbprint(Sha256::digest(&self.der).into())
    }

    /// The subject's country (`C`): `Some` only if the subject has exactly one `C` attribute and
    /// it is two ASCII letters (EFGS requires exactly one, §3.3).
    pub fn subject_country(&self) -> Option<CountryCode> {
        subject_country(&self.certificate)
    }

    /// notBefore and notAfter.
    pub fn validity(&self) -> (UnixTime, UnixTime) {
        let validity = self.certificate.tbs_certificate().validity();
        (unix_time(validity.not_before), unix_time(validity.not_after))
    }
}

impl std::fmt::Debug for SignerCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SignerCertificate({})", self.thumbprint())
    }
}
