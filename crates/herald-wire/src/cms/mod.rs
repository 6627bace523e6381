//! Detached CMS `SignedData` (RFC 5652): the EFGS `batchSignature` container
//! (specs/efgs-gateway.md §3.2).
//!
//! [`sign_detached`] writes what the BouncyCastle signers of the national backends write: one
//! SignerInfo identified by issuerAndSerialNumber, SHA-256, signed attributes (contentType,
//! signingTime, messageDigest), no eContent, and the signing certificate as the only entry of
//! `certificates`. Keys are ECDSA P-256 or RSA (PKCS#1 v1.5, at least 2048 bits), loaded from
//! PEM by [`SigningIdentity`]. The signing time is a parameter and the randomness is injected:
//! ECDSA signatures are hedged RFC 6979, RSA signing is blinded.
//!
//! [`verify_detached`] is herald's own verifier (the `cms` crate has none). It takes the first
//! SignerInfo, finds the certificate matching its SID (issuerAndSerialNumber or
//! subjectKeyIdentifier) among `certificates`, and then:
//! - with signed attributes: requires exactly one contentType (equal to the eContentType) and
//!   exactly one messageDigest equal to SHA-256 of the content, and verifies the signature over
//!   the DER encoding of the attributes as a `SET OF`;
//! - without them: verifies the signature over the content itself.
//!
//! Supported are SHA-256 with ECDSA P-256 (`ecdsa-with-SHA256`, or `id-ecPublicKey` as some
//! signers write it) and RSA PKCS#1 v1.5 (`rsaEncryption` as OpenSSL writes it, or
//! `sha256WithRSAEncryption` as BouncyCastle does), RSA keys of 2048 bits or more. RSA-PSS and
//! other digests are refused as unsupported.
//!
//! **Encoding policy.** Input must be DER, as EFGS specifies (§3.2). BER, in particular the
//! indefinite lengths that streaming signers emit, is refused with [`CmsError::Ber`]; nothing is
//! re-encoded to make it fit. A SignedData that carries its content (not detached) is refused
//! too. Certificate chains, validity periods and key usages are not checked here: EFGS pins the
//! signing certificate by thumbprint (§3.3), and [`VerifiedSigner`] hands the caller what it needs
//! for that.

use std::time::Duration;

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedAttributes, SignedData, SignerIdentifier,
    SignerInfo, SignerInfos,
};
use der::asn1::{ObjectIdentifier, OctetString, SetOfVec};
use der::zeroize::Zeroizing;
use der::{Any, Decode, Encode, ErrorKind, Tag, Tagged};
use herald_model::{CertThumbprint, CountryCode, UnixTime};
use rsa::traits::PublicKeyParts as _;
use sha2::{Digest as _, Sha256};
use signature::rand_core::TryCryptoRng;
use signature::{RandomizedSigner as _, SignatureEncoding as _, Verifier as _};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoRef};
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::SubjectKeyIdentifier;
use x509_cert::time::Time;

/// Smallest RSA modulus herald signs with or accepts (EFGS SecReq-042).
pub const MIN_RSA_BITS: u32 = 2048;

const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");

/// Why a CMS signature could not be made or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CmsError {
    /// The input uses BER indefinite lengths.
    #[error("cms uses ber indefinite-length encoding; only der is accepted")]
    Ber,
    /// The input is not a DER ContentInfo/SignedData.
    #[error("cms is malformed: {0}")]
    Malformed(String),
    /// The ContentInfo holds something other than SignedData.
    #[error("cms content type is {0}, expected signed-data")]
    NotSignedData(String),
    /// The SignedData carries its content; only detached signatures are accepted.
    #[error("cms carries encapsulated content; a detached signature is expected")]
    NotDetached,
    /// There is no SignerInfo.
    #[error("cms has no signer")]
    NoSigner,
    /// No certificate in the SignedData matches the signer's identifier.
    #[error("no certificate in the cms matches the signer")]
    CertificateNotFound,
    /// The signer's certificate is not the one the caller expects.
    #[error("the signer certificate is not the expected certificate")]
    UnexpectedCertificate,
    /// The signed attributes are incomplete or contradictory.
    #[error("signed attribute {attribute} {problem}")]
    Attributes {
        /// The attribute's name (`contentType`, `messageDigest`, `signingTime`).
        attribute: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The messageDigest attribute does not match the content.
    #[error("message digest does not match the content")]
    DigestMismatch,
    /// The signature does not verify with the signer's public key.
    #[error("signature does not verify")]
    BadSignature,
    /// A digest or signature algorithm, or key type, herald does not support.
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(String),
    /// An RSA key below [`MIN_RSA_BITS`].
    #[error("rsa key has {0} bits; at least 2048 are required")]
    WeakRsaKey(u32),
    /// A certificate that cannot be read.
    #[error("certificate is invalid: {0}")]
    Certificate(String),
    /// A private key that cannot be read.
    #[error("private key is invalid: {0}")]
    PrivateKey(String),
    /// The private key does not belong to the certificate.
    #[error("the private key does not match the certificate's public key")]
    KeyMismatch,
    /// A signing time that CMS cannot express (before 1970).
    #[error("signing time {0} cannot be encoded")]
    SigningTime(i64),
    /// Signing or encoding failed.
    #[error("signing failed: {0}")]
    Sign(String),
}

/// A signing certificate with its private key.
pub struct SigningIdentity {
    certificate: SignerCertificate,
    key: PrivateKey,
}

/// The two key types herald signs with.
enum PrivateKey {
    EcdsaP256(p256::ecdsa::SigningKey),
    Rsa(Box<rsa::pkcs1v15::SigningKey<Sha256>>),
}

/// A parsed X.509 certificate together with its exact DER bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct SignerCertificate {
    der: Vec<u8>,
    certificate: Certificate,
}

/// What a successful verification established about the signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSigner {
    /// The signer's certificate, DER.
    pub certificate_der: Vec<u8>,
    /// SHA-256 of [`Self::certificate_der`]: what EFGS pins.
    pub thumbprint: CertThumbprint,
    /// The certificate subject's `C`, if it has exactly one valid country attribute.
    pub subject_country: Option<CountryCode>,
    /// The certificate's notBefore.
    pub not_before: UnixTime,
    /// The certificate's notAfter.
    pub not_after: UnixTime,
    /// The signingTime attribute, when signed attributes carry one.
    pub signing_time: Option<UnixTime>,
    /// Which algorithm signed.
    pub algorithm: SignatureAlgorithm,
    /// Whether the signature covered signed attributes (`false`: the content directly).
    pub signed_attributes: bool,
}

/// The signature algorithms herald supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureAlgorithm {
    /// ECDSA on P-256 with SHA-256.
    EcdsaP256Sha256,
    /// RSA PKCS#1 v1.5 with SHA-256.
    RsaPkcs1v15Sha256,
}

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
    fn sign<R: TryCryptoRng + ?Sized>(
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

/// Signs `content` as a detached CMS SignedData and returns its DER.
pub fn sign_detached<R: TryCryptoRng + ?Sized>(
    content: &[u8],
    identity: &SigningIdentity,
    signing_time: UnixTime,
    rng: &mut R,
) -> Result<Vec<u8>, CmsError> {
    let encoding = |e: der::Error| CmsError::Sign(e.to_string());
    let seconds =
        u64::try_from(signing_time.seconds()).map_err(|_| CmsError::SigningTime(signing_time.0))?;
    let time = der::DateTime::from_unix_duration(Duration::from_secs(seconds))
        .map(Time::from)
        .map_err(|_| CmsError::SigningTime(signing_time.0))?;
    let digest = Sha256::digest(content);

    let attributes = vec![
        attribute(ID_CONTENT_TYPE, Any::encode_from(&ID_DATA).map_err(encoding)?)?,
        attribute(ID_SIGNING_TIME, Any::encode_from(&time).map_err(encoding)?)?,
        attribute(
            ID_MESSAGE_DIGEST,
            Any::new(Tag::OctetString, digest.as_slice()).map_err(encoding)?,
        )?,
    ];
    let signed_attrs = SignedAttributes::try_from(attributes).map_err(encoding)?;
    let to_sign = signed_attrs.to_der().map_err(encoding)?;
    let signature = identity.key.sign(rng, &to_sign)?;

    let tbs = identity.certificate.certificate.tbs_certificate();
    let signature_algorithm = match identity.key {
        // RFC 5758 §3.2: the parameters are absent.
        PrivateKey::EcdsaP256(_) => {
            AlgorithmIdentifierOwned { oid: ECDSA_WITH_SHA256, parameters: None }
        }
        // As BouncyCastle writes it (RFC 4055: NULL parameters).
        PrivateKey::Rsa(_) => {
            AlgorithmIdentifierOwned { oid: SHA256_WITH_RSA, parameters: Some(Any::null()) }
        }
    };
    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: tbs.issuer().clone(),
            serial_number: tbs.serial_number().clone(),
        }),
        digest_alg: sha256_algorithm(),
        signed_attrs: Some(signed_attrs),
        signature_algorithm,
        signature: OctetString::new(signature).map_err(encoding)?,
        unsigned_attrs: None,
    };
    let signed_data = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![sha256_algorithm()]).map_err(encoding)?,
        encap_content_info: EncapsulatedContentInfo { econtent_type: ID_DATA, econtent: None },
        certificates: Some(CertificateSet(
            SetOfVec::try_from(vec![CertificateChoices::Certificate(
                identity.certificate.certificate.clone(),
            )])
            .map_err(encoding)?,
        )),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![signer_info]).map_err(encoding)?),
    };
    ContentInfo {
        content_type: ID_SIGNED_DATA,
        content: Any::encode_from(&signed_data).map_err(encoding)?,
    }
    .to_der()
    .map_err(encoding)
}

/// Verifies a detached CMS SignedData (DER) over `content`. With `expected_certificate_der`,
/// the signer's certificate must be exactly that certificate.
pub fn verify_detached(
    cms_der: &[u8],
    content: &[u8],
    expected_certificate_der: Option<&[u8]>,
) -> Result<VerifiedSigner, CmsError> {
    let content_info = ContentInfo::from_der(cms_der).map_err(der_error)?;
    if content_info.content_type != ID_SIGNED_DATA {
        return Err(CmsError::NotSignedData(content_info.content_type.to_string()));
    }
    let signed_data: SignedData = content_info.content.decode_as().map_err(der_error)?;
    if signed_data.encap_content_info.econtent.is_some() {
        return Err(CmsError::NotDetached);
    }
    let signer = signed_data.signer_infos.0.iter().next().ok_or(CmsError::NoSigner)?;
    if !is_sha256(&signer.digest_alg) {
        return Err(CmsError::UnsupportedAlgorithm(format!("digest {}", signer.digest_alg.oid)));
    }
    let certificate = find_certificate(&signed_data, &signer.sid)?;
    let certificate_der = certificate.to_der().map_err(der_error)?;
    if expected_certificate_der.is_some_and(|expected| expected != certificate_der.as_slice()) {
        return Err(CmsError::UnexpectedCertificate);
    }

    let (message, signing_time) = match &signer.signed_attrs {
        Some(attributes) => {
            let signing_time = check_signed_attributes(
                attributes,
                signed_data.encap_content_info.econtent_type,
                content,
            )?;
            (attributes.to_der().map_err(der_error)?, signing_time)
        }
        None => (content.to_vec(), None),
    };
    let algorithm = verify_signature(certificate, signer, &message)?;

    let validity = certificate.tbs_certificate().validity();
    Ok(VerifiedSigner {
        thumbprint: CertThumbprint(Sha256::digest(&certificate_der).into()),
        subject_country: subject_country(certificate),
        not_before: unix_time(validity.not_before),
        not_after: unix_time(validity.not_after),
        signing_time,
        algorithm,
        signed_attributes: signer.signed_attrs.is_some(),
        certificate_der,
    })
}

/// The certificate in `certificates` that the SID names.
fn find_certificate<'a>(
    signed_data: &'a SignedData,
    sid: &SignerIdentifier,
) -> Result<&'a Certificate, CmsError> {
    let certificates = signed_data.certificates.as_ref().ok_or(CmsError::CertificateNotFound)?;
    certificates
        .0
        .iter()
        .filter_map(|choice| match choice {
            CertificateChoices::Certificate(c) => Some(c),
            CertificateChoices::Other(_) => None,
        })
        .find(|c| {
            let tbs = c.tbs_certificate();
            match sid {
                SignerIdentifier::IssuerAndSerialNumber(isn) => {
                    *tbs.issuer() == isn.issuer && *tbs.serial_number() == isn.serial_number
                }
                SignerIdentifier::SubjectKeyIdentifier(ski) => {
                    matches!(
                        tbs.get_extension::<SubjectKeyIdentifier>(),
                        Ok(Some((_, own))) if own == *ski
                    )
                }
            }
        })
        .ok_or(CmsError::CertificateNotFound)
}

/// Checks contentType and messageDigest; returns the signingTime if there is one.
fn check_signed_attributes(
    attributes: &SignedAttributes,
    econtent_type: ObjectIdentifier,
    content: &[u8],
) -> Result<Option<UnixTime>, CmsError> {
    let problem = |attribute, problem| CmsError::Attributes { attribute, problem };
    let content_type = single_value(attributes, ID_CONTENT_TYPE, "contentType")?
        .ok_or(problem("contentType", "is missing"))?;
    let content_type: ObjectIdentifier = content_type
        .decode_as()
        .map_err(|_| problem("contentType", "is not an object identifier"))?;
    if content_type != econtent_type {
        return Err(problem("contentType", "differs from the eContentType"));
    }
    let digest = single_value(attributes, ID_MESSAGE_DIGEST, "messageDigest")?
        .ok_or(problem("messageDigest", "is missing"))?;
    if digest.tag() != Tag::OctetString {
        return Err(problem("messageDigest", "is not an octet string"));
    }
    if digest.value() != Sha256::digest(content).as_slice() {
        return Err(CmsError::DigestMismatch);
    }
    let signing_time = match single_value(attributes, ID_SIGNING_TIME, "signingTime")? {
        Some(value) => Some(unix_time(
            value.decode_as::<Time>().map_err(|_| problem("signingTime", "is not a time"))?,
        )),
        None => None,
    };
    Ok(signing_time)
}

/// The one value of the one attribute of type `oid`: `None` if absent, an error if the
/// attribute repeats or does not have exactly one value (RFC 5652 §11).
fn single_value<'a>(
    attributes: &'a SignedAttributes,
    oid: ObjectIdentifier,
    attribute: &'static str,
) -> Result<Option<&'a Any>, CmsError> {
    let mut found = attributes.iter().filter(|a| a.oid == oid);
    let Some(first) = found.next() else { return Ok(None) };
    if found.next().is_some() {
        return Err(CmsError::Attributes { attribute, problem: "appears more than once" });
    }
    let mut values = first.values.iter();
    match (values.next(), values.next()) {
        (Some(value), None) => Ok(Some(value)),
        _ => Err(CmsError::Attributes { attribute, problem: "must have exactly one value" }),
    }
}

/// Verifies the SignerInfo's signature over `message` with the certificate's public key.
fn verify_signature(
    certificate: &Certificate,
    signer: &SignerInfo,
    message: &[u8],
) -> Result<SignatureAlgorithm, CmsError> {
    let spki = certificate.tbs_certificate().subject_public_key_info();
    let spki_der = spki.to_der().map_err(der_error)?;
    let spki = SubjectPublicKeyInfoRef::try_from(spki_der.as_slice())
        .map_err(|e| CmsError::Certificate(e.to_string()))?;
    let signature = signer.signature.as_bytes();
    let algorithm = signer.signature_algorithm.oid;
    match spki.algorithm.oid {
        ID_EC_PUBLIC_KEY => {
            if algorithm != ECDSA_WITH_SHA256 && algorithm != ID_EC_PUBLIC_KEY {
                return Err(unsupported_signature(algorithm));
            }
            let curve = spki.algorithm.parameters_oid().ok();
            if curve != Some(SECP256R1) {
                return Err(CmsError::UnsupportedAlgorithm(format!(
                    "elliptic curve {}",
                    curve.map_or_else(|| "(none)".to_owned(), |c| c.to_string())
                )));
            }
            let key = p256::ecdsa::VerifyingKey::try_from(spki)
                .map_err(|e| CmsError::Certificate(format!("P-256 public key: {e}")))?;
            let signature = p256::ecdsa::DerSignature::try_from(signature)
                .map_err(|_| CmsError::BadSignature)?;
            key.verify(message, &signature).map_err(|_| CmsError::BadSignature)?;
            Ok(SignatureAlgorithm::EcdsaP256Sha256)
        }
        RSA_ENCRYPTION => {
            if algorithm != RSA_ENCRYPTION && algorithm != SHA256_WITH_RSA {
                return Err(unsupported_signature(algorithm));
            }
            let key = rsa::PublicKey::try_from(spki)
                .map_err(|e| CmsError::Certificate(format!("RSA public key: {e}")))?;
            let bits = key.n().bit_width_vartime();
            if bits < MIN_RSA_BITS {
                return Err(CmsError::WeakRsaKey(bits));
            }
            let signature = rsa::pkcs1v15::Signature::try_from(signature)
                .map_err(|_| CmsError::BadSignature)?;
            rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key)
                .verify(message, &signature)
                .map_err(|_| CmsError::BadSignature)?;
            Ok(SignatureAlgorithm::RsaPkcs1v15Sha256)
        }
        other => Err(CmsError::UnsupportedAlgorithm(format!("public key type {other}"))),
    }
}

fn unsupported_signature(oid: ObjectIdentifier) -> CmsError {
    CmsError::UnsupportedAlgorithm(format!("signature algorithm {oid}"))
}

/// SHA-256, parameters absent or NULL (RFC 5754 §2: both must be accepted).
fn is_sha256(algorithm: &AlgorithmIdentifierOwned) -> bool {
    algorithm.oid == ID_SHA256 && algorithm.parameters.as_ref().is_none_or(Any::is_null)
}

/// SHA-256 with absent parameters, as RFC 5754 recommends writing it.
fn sha256_algorithm() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned { oid: ID_SHA256, parameters: None }
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute, CmsError> {
    let values = SetOfVec::try_from(vec![value]).map_err(|e| CmsError::Sign(e.to_string()))?;
    Ok(Attribute { oid, values })
}

fn subject_country(certificate: &Certificate) -> Option<CountryCode> {
    const COUNTRY_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.6");
    let mut countries =
        certificate.tbs_certificate().subject().iter().filter(|atv| atv.oid == COUNTRY_NAME);
    let only = countries.next()?;
    if countries.next().is_some() {
        return None;
    }
    let text = std::str::from_utf8(only.value.value()).ok()?;
    text.parse().ok()
}

fn unix_time(time: Time) -> UnixTime {
    UnixTime(i64::try_from(time.to_unix_duration().as_secs()).unwrap_or(i64::MAX))
}

/// Maps a `der` decoding error, singling out BER indefinite lengths.
fn der_error(e: der::Error) -> CmsError {
    match e.kind() {
        ErrorKind::IndefiniteLength => CmsError::Ber,
        _ => CmsError::Malformed(e.to_string()),
    }
}

/// The first `-----BEGIN …-----` … `-----END …-----` block of a text, so that files with
/// leading comments or several blocks are read as their first block.
fn first_pem_block(text: &str) -> Option<&str> {
    let start = text.find("-----BEGIN ")?;
    let rest = text.get(start..)?;
    let end_marker = rest.find("-----END ")?;
    let after_end = rest.get(end_marker + "-----END ".len()..)?;
    let close = after_end.find("-----")?;
    rest.get(..end_marker + "-----END ".len() + close + "-----".len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_block_extraction() {
        let text = "comment\n-----BEGIN X-----\nAAAA\n-----END X-----\n-----BEGIN Y-----\n";
        assert_eq!(first_pem_block(text), Some("-----BEGIN X-----\nAAAA\n-----END X-----"));
        assert_eq!(first_pem_block("-----BEGIN X-----\nAAAA"), None);
        assert_eq!(first_pem_block(""), None);
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        assert!(matches!(verify_detached(&[], b"", None), Err(CmsError::Malformed(_))));
        // SEQUENCE with an indefinite length.
        assert_eq!(verify_detached(&[0x30, 0x80, 0x00, 0x00], b"", None), Err(CmsError::Ber));
    }
}
