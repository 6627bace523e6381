//! The operator's trust anchor: the private side signs trust-list entries ([`TrustAnchor`]),
//! the public side, deployed on the gateway and given to every country, checks them
//! ([`AnchorCertificate`]), efgs-gateway.md §4.3.
//!
//! Every entry carries two signatures of the anchor (see [`TrustEntry`]): EFGS's over the
//! certificate text, and herald's over the whole entry ([`TrustEntry::signed_fields`]). Both
//! are made the same way, the one EFGS's operator tooling makes:
//! `openssl dgst -sha256 -sign anchor.key cert.pem | base64 -w0`, that is SHA-256 over the exact
//! bytes of the PEM file (or of the entry's signed fields), ECDSA (DER `Ecdsa-Sig-Value`) or
//! RSA PKCS#1 v1.5, Base64 on one line. The algorithm is the anchor key's; the hash is always SHA-256 (EFGS verifies with the anchor
//! certificate's `sigAlgName`, which for every anchor its tooling makes is `SHA256with…`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use der::Encode as _;
use der::asn1::ObjectIdentifier;
use herald_model::CountryCode;
use rsa::traits::PublicKeyParts as _;
use sha2::Sha256;
use signature::Verifier as _;
use signature::rand_core::TryCryptoRng;
use signature::{Keypair as _, RandomizedSigner as _, SignatureEncoding as _, Signer as _};
use spki::SubjectPublicKeyInfoRef;
use zeroize::Zeroizing;

use crate::{Cert, TrustEntry, TrustError, TrustKind};

/// The smallest RSA modulus accepted for a trust anchor, in bits.
pub const MIN_RSA_BITS: u32 = 2048;

/// `id-ecPublicKey` (RFC 5480).
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// `secp256r1`, that is P-256 (RFC 5480).
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// `rsaEncryption` (RFC 8017).
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// How a trust anchor signs: the key's algorithm, always with SHA-256.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AnchorAlgorithm {
    /// ECDSA on P-256 with SHA-256 (`SHA256withECDSA`); the signature is a DER `Ecdsa-Sig-Value`.
    EcdsaP256Sha256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (`SHA256withRSA`).
    RsaPkcs1v15Sha256,
}

/// The operator's private trust-anchor key, which signs trust-list entries.
///
/// `Debug` does not show the key; the key material is wiped when dropped (by p256 and rsa).
pub struct TrustAnchor {
    key: AnchorKey,
}

enum AnchorKey {
    EcdsaP256(p256::ecdsa::SigningKey),
    Rsa(Box<rsa::pkcs1v15::SigningKey<Sha256>>),
}

impl std::fmt::Debug for TrustAnchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustAnchor")
            .field("algorithm", &self.algorithm())
            .field("key", &"<redacted>")
            .finish()
    }
}

impl TrustAnchor {
    /// Loads an unencrypted PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`): ECDSA P-256,
    /// as `herald pki dev` writes to `anchor/anchor.key.pem`, or RSA of at least
    /// [`MIN_RSA_BITS`] bits, as `openssl req -newkey rsa:…` writes.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, TrustError> {
        let (label, der) = der::pem::decode_vec(pem.trim_ascii().as_bytes())
            .map_err(|e| TrustError::KeyPem { reason: e.into() })?;
        let der = Zeroizing::new(der);
        if label != "PRIVATE KEY" {
            return Err(TrustError::KeyLabel { label: label.chars().take(32).collect() });
        }
        Self::from_pkcs8_der(&der)
    }

    /// Loads an unencrypted PKCS#8 DER private key; see [`from_pkcs8_pem`](Self::from_pkcs8_pem).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, TrustError> {
        let info = pkcs8::PrivateKeyInfoRef::try_from(der)
            .map_err(|reason| TrustError::PrivateKey { reason })?;
        let key = match info.algorithm.oid {
            ID_EC_PUBLIC_KEY => {
                let curve = info.algorithm.parameters_oid().ok();
                if curve != Some(SECP256R1) {
                    return Err(TrustError::UnsupportedCurve { curve });
                }
                let key = p256::ecdsa::SigningKey::try_from(info)
                    .map_err(|reason| TrustError::PrivateKey { reason })?;
                AnchorKey::EcdsaP256(key)
            }
            RSA_ENCRYPTION => {
                let key = rsa::pkcs1v15::SigningKey::<Sha256>::try_from(info)
                    .map_err(|reason| TrustError::PrivateKey { reason })?;
                check_rsa_bits(key.verifying_key().as_ref())?;
                AnchorKey::Rsa(Box::new(key))
            }
            algorithm => return Err(TrustError::UnsupportedKey { algorithm }),
        };
        Ok(Self { key })
    }

    /// The signature algorithm this key produces.
    pub fn algorithm(&self) -> AnchorAlgorithm {
        match &self.key {
            AnchorKey::EcdsaP256(_) => AnchorAlgorithm::EcdsaP256Sha256,
            AnchorKey::Rsa(_) => AnchorAlgorithm::RsaPkcs1v15Sha256,
        }
    }

    /// Whether `certificate` carries this key's public key, i.e. whether entries signed here
    /// verify there. Check it once when loading the operator's key and certificate.
    pub fn belongs_to(&self, certificate: &AnchorCertificate) -> bool {
        match (&self.key, &certificate.key) {
            (AnchorKey::EcdsaP256(private), AnchorPublicKey::EcdsaP256(public)) => {
                private.verifying_key() == public
            }
            (AnchorKey::Rsa(private), AnchorPublicKey::Rsa(public)) => {
                private.verifying_key() == **public
            }
            _ => false,
        }
    }

    /// Signs a trust-list entry for `certificate_pem`, deterministically (ECDSA with RFC 6979
    /// nonces; RSA PKCS#1 v1.5 is deterministic by definition, so the result equals
    /// `openssl dgst -sha256 -sign` byte for byte).
    ///
    /// Checks first that `certificate_pem` is one PEM certificate with LF line endings and that
    /// its subject's `C` is `country`; computes the thumbprint; signs the exact bytes of
    /// `certificate_pem` (`operator_signature`, EFGS's) and the entry's
    /// [`signed_fields`](TrustEntry::signed_fields) (`entry_signature`). The entry is not
    /// revoked.
    ///
    /// RSA signing here runs without blinding, which is fine for an operator signing offline
    /// (nobody can time it). Where the key sits behind a service, use
    /// [`sign_entry_with_rng`](Self::sign_entry_with_rng).
    pub fn sign_entry(
        &self,
        country: CountryCode,
        kind: TrustKind,
        certificate_pem: &str,
        host: Option<&str>,
    ) -> Result<TrustEntry, TrustError> {
        self.resign(&new_entry(country, kind, certificate_pem, host)?)
    }

    /// As [`sign_entry`](Self::sign_entry), with randomness: RSA signing is blinded (the
    /// signature is the same), and ECDSA nonces are hedged (RFC 6979 plus fresh randomness, so
    /// the signature differs from call to call and still verifies).
    pub fn sign_entry_with_rng<R: TryCryptoRng + ?Sized>(
        &self,
        country: CountryCode,
        kind: TrustKind,
        certificate_pem: &str,
        host: Option<&str>,
        rng: &mut R,
    ) -> Result<TrustEntry, TrustError> {
        let entry = new_entry(country, kind, certificate_pem, host)?;
        self.sign_with(entry, |key, message| match key {
            AnchorKey::EcdsaP256(key) => {
                let sig: p256::ecdsa::Signature = key.try_sign_with_rng(rng, message)?;
                Ok(sig.to_der().to_vec())
            }
            AnchorKey::Rsa(key) => Ok(key.try_sign_with_rng(rng, message)?.to_vec()),
        })
    }

    /// Signs `entry` as it stands: both signatures anew, over its certificate text and over its
    /// fields (country, kind, thumbprint, `revoked` and `host` as given), deterministically as
    /// [`sign_entry`](Self::sign_entry). This is how the operator revokes
    /// (`resign(&TrustEntry { revoked: true, ..entry })`) and signs an entry that has no entry
    /// signature yet (one stored before herald signed whole entries, or an EFGS-shaped one).
    ///
    /// Checks the certificate as [`sign_entry`](Self::sign_entry) does, and that `thumbprint`
    /// is its thumbprint. It does **not** check the signatures `entry` carries: whoever
    /// re-signs an entry read from a store or a file checks first that this anchor vouched for
    /// it ([`verify_efgs_entry`](Self::verify_efgs_entry) or
    /// [`verify_entry`](Self::verify_entry)), or the re-signing launders whatever was written
    /// there.
    pub fn resign(&self, entry: &TrustEntry) -> Result<TrustEntry, TrustError> {
        self.sign_with(entry.clone(), |key, message| match key {
            AnchorKey::EcdsaP256(key) => {
                let sig: p256::ecdsa::Signature = key.try_sign(message)?;
                Ok(sig.to_der().to_vec())
            }
            AnchorKey::Rsa(key) => Ok(key.try_sign(message)?.to_vec()),
        })
    }

    /// [`AnchorCertificate::verify_entry`] with this key's public half: both signatures.
    pub fn verify_entry(&self, entry: &TrustEntry) -> Result<(), TrustError> {
        let key = self.public_key();
        efgs_check(&key, entry)?;
        entry_signature_check(&key, entry)
    }

    /// [`AnchorCertificate::verify_efgs_entry`] with this key's public half: EFGS's check only.
    pub fn verify_efgs_entry(&self, entry: &TrustEntry) -> Result<(), TrustError> {
        efgs_check(&self.public_key(), entry)
    }

    fn public_key(&self) -> AnchorPublicKey {
        match &self.key {
            AnchorKey::EcdsaP256(key) => AnchorPublicKey::EcdsaP256(*key.verifying_key()),
            AnchorKey::Rsa(key) => AnchorPublicKey::Rsa(Box::new(key.verifying_key())),
        }
    }

    /// The checks and the two signatures around `sign`, which SHA-256-signs a message and
    /// returns a DER `Ecdsa-Sig-Value` or the RSA signature block.
    fn sign_with(
        &self,
        mut entry: TrustEntry,
        mut sign: impl FnMut(&AnchorKey, &[u8]) -> Result<Vec<u8>, signature::Error>,
    ) -> Result<TrustEntry, TrustError> {
        if entry.certificate_pem.contains('\r') {
            return Err(TrustError::PemLineEndings);
        }
        let cert = Cert::from_pem(entry.certificate_pem.as_bytes())?;
        check_country(entry.country, &cert)?;
        let actual = cert.thumbprint();
        if actual != entry.thumbprint {
            return Err(TrustError::ThumbprintMismatch { expected: entry.thumbprint, actual });
        }
        let operator = sign(&self.key, entry.certificate_pem.as_bytes())
            .map_err(|reason| TrustError::Sign { reason })?;
        let fields = sign(&self.key, &entry.signed_fields())
            .map_err(|reason| TrustError::Sign { reason })?;
        entry.operator_signature = BASE64.encode(operator);
        entry.entry_signature = Some(BASE64.encode(fields));
        Ok(entry)
    }
}

/// An unsigned, unrevoked entry for `certificate_pem` with its thumbprint; the signing checks
/// the rest.
fn new_entry(
    country: CountryCode,
    kind: TrustKind,
    certificate_pem: &str,
    host: Option<&str>,
) -> Result<TrustEntry, TrustError> {
    if certificate_pem.contains('\r') {
        return Err(TrustError::PemLineEndings);
    }
    let cert = Cert::from_pem(certificate_pem.as_bytes())?;
    Ok(TrustEntry {
        country,
        kind,
        certificate_pem: certificate_pem.to_owned(),
        thumbprint: cert.thumbprint(),
        operator_signature: String::new(),
        revoked: false,
        host: host.map(str::to_owned),
        entry_signature: None,
    })
}

/// The trust anchor's certificate: what the gateway deploys and countries receive out of band,
/// to check trust-list entries and audit `*OperatorSignature` fields.
///
/// It is not checked for validity dates or a self-signature (no clock here; the anchor is
/// trusted because it was configured, not because of its own signature).
#[derive(Clone, Debug)]
pub struct AnchorCertificate {
    cert: Cert,
    key: AnchorPublicKey,
}

#[derive(Clone, Debug)]
enum AnchorPublicKey {
    EcdsaP256(p256::ecdsa::VerifyingKey),
    Rsa(Box<rsa::pkcs1v15::VerifyingKey<Sha256>>),
}

impl AnchorCertificate {
    /// Parses the anchor's certificate (PEM, as `herald pki dev` writes `anchor/anchor.pem`)
    /// and reads its public key: ECDSA P-256, or RSA of at least [`MIN_RSA_BITS`] bits.
    pub fn from_pem(pem: &str) -> Result<Self, TrustError> {
        Self::from_cert(Cert::from_pem(pem.as_bytes())?)
    }

    /// As [`from_pem`](Self::from_pem), from an already parsed certificate.
    pub fn from_cert(cert: Cert) -> Result<Self, TrustError> {
        let spki_der = cert
            .x509()
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|reason| TrustError::PublicKey { reason: reason.into() })?;
        let spki = SubjectPublicKeyInfoRef::try_from(spki_der.as_slice())
            .map_err(|reason| TrustError::PublicKey { reason })?;
        let key = match spki.algorithm.oid {
            ID_EC_PUBLIC_KEY => {
                let curve = spki.algorithm.parameters_oid().ok();
                if curve != Some(SECP256R1) {
                    return Err(TrustError::UnsupportedCurve { curve });
                }
                let key = p256::ecdsa::VerifyingKey::try_from(spki)
                    .map_err(|reason| TrustError::PublicKey { reason })?;
                AnchorPublicKey::EcdsaP256(key)
            }
            RSA_ENCRYPTION => {
                // The parameters of rsaEncryption must be NULL (RFC 8017 A.1); rsa checks that.
                let key = rsa::pkcs1v15::VerifyingKey::<Sha256>::try_from(spki)
                    .map_err(|reason| TrustError::PublicKey { reason })?;
                check_rsa_bits(key.as_ref())?;
                AnchorPublicKey::Rsa(Box::new(key))
            }
            algorithm => return Err(TrustError::UnsupportedKey { algorithm }),
        };
        Ok(Self { cert, key })
    }

    /// The parsed certificate.
    pub fn cert(&self) -> &Cert {
        &self.cert
    }

    /// The signature algorithm entries must carry.
    pub fn algorithm(&self) -> AnchorAlgorithm {
        match &self.key {
            AnchorPublicKey::EcdsaP256(_) => AnchorAlgorithm::EcdsaP256Sha256,
            AnchorPublicKey::Rsa(_) => AnchorAlgorithm::RsaPkcs1v15Sha256,
        }
    }

    /// The full integrity check: EFGS's ([`verify_efgs_entry`](Self::verify_efgs_entry)),
    /// then herald's entry signature. A herald gateway treats an entry that fails it as absent.
    /// After EFGS's six steps:
    /// 7. the entry carries an entry signature
    ///    ([`EntrySignatureMissing`](TrustError::EntrySignatureMissing));
    /// 8. it is one line of standard Base64 and the anchor's public key verifies it over the
    ///    entry's [`signed_fields`](TrustEntry::signed_fields): country, kind, thumbprint,
    ///    revocation flag and host ([`BadEntrySignature`](TrustError::BadEntrySignature)).
    ///
    /// Revocation is still the caller's policy (a revoked entry passes), but the flag is the
    /// operator's: an entry whose `revoked`, `kind` or `host` was changed without the anchor
    /// key fails step 8.
    pub fn verify_entry(&self, entry: &TrustEntry) -> Result<(), TrustError> {
        efgs_check(&self.key, entry)?;
        entry_signature_check(&self.key, entry)
    }

    /// The integrity check of efgs-gateway.md §4.3, exactly as EFGS runs it, for EFGS-shaped
    /// entries (interoperability, and finding which stored entries the operator may re-sign).
    /// In order:
    /// 1. the certificate text and the signature are non-empty
    ///    ([`EmptyCertificate`](TrustError::EmptyCertificate),
    ///    [`EmptySignature`](TrustError::EmptySignature));
    /// 2. the signature is one line of standard Base64
    ///    ([`SignatureNotBase64`](TrustError::SignatureNotBase64));
    /// 3. the text is one PEM X.509 certificate ([`Pem`](TrustError::Pem),
    ///    [`PemLabel`](TrustError::PemLabel), [`Der`](TrustError::Der));
    /// 4. the SHA-256 of its DER is `thumbprint`
    ///    ([`ThumbprintMismatch`](TrustError::ThumbprintMismatch));
    /// 5. its subject's single `C` is `country` ([`CountryMismatch`](TrustError::CountryMismatch),
    ///    or why the subject names no single valid country);
    /// 6. the anchor's public key verifies the signature over the exact bytes of the text
    ///    ([`BadSignature`](TrustError::BadSignature)).
    ///
    /// `revoked`, `kind`, `host` and `entry_signature` play no part: an entry that passes only
    /// this check is not one herald's gateway trusts.
    pub fn verify_efgs_entry(&self, entry: &TrustEntry) -> Result<(), TrustError> {
        efgs_check(&self.key, entry)
    }

    /// Checks only the operator signature over a certificate text, as a downloader checks the
    /// audit fields `uploaderOperatorSignature` and `signingCertificateOperatorSignature`
    /// (efgs-gateway.md §1.4) against `uploaderCertificate` and `signingCertificate`.
    pub fn verify_operator_signature(
        &self,
        certificate_pem: &str,
        operator_signature: &str,
    ) -> Result<(), TrustError> {
        if certificate_pem.is_empty() {
            return Err(TrustError::EmptyCertificate);
        }
        let signature = decode_signature(operator_signature)?;
        self.key.verify(certificate_pem.as_bytes(), &signature)
    }
}

impl AnchorPublicKey {
    fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), TrustError> {
        if self.verifies(message, signature) { Ok(()) } else { Err(TrustError::BadSignature) }
    }

    fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            Self::EcdsaP256(key) => p256::ecdsa::DerSignature::try_from(signature)
                .is_ok_and(|sig| key.verify(message, &sig).is_ok()),
            Self::Rsa(key) => rsa::pkcs1v15::Signature::try_from(signature)
                .is_ok_and(|sig| key.verify(message, &sig).is_ok()),
        }
    }
}

/// EFGS's six steps (see [`AnchorCertificate::verify_efgs_entry`]).
fn efgs_check(key: &AnchorPublicKey, entry: &TrustEntry) -> Result<(), TrustError> {
    if entry.certificate_pem.is_empty() {
        return Err(TrustError::EmptyCertificate);
    }
    let signature = decode_signature(&entry.operator_signature)?;
    let cert = Cert::from_pem(entry.certificate_pem.as_bytes())?;
    let actual = cert.thumbprint();
    if actual != entry.thumbprint {
        return Err(TrustError::ThumbprintMismatch { expected: entry.thumbprint, actual });
    }
    check_country(entry.country, &cert)?;
    key.verify(entry.certificate_pem.as_bytes(), &signature)
}

/// Steps 7 and 8 of [`AnchorCertificate::verify_entry`].
fn entry_signature_check(key: &AnchorPublicKey, entry: &TrustEntry) -> Result<(), TrustError> {
    let text = match entry.entry_signature.as_deref() {
        None | Some("") => return Err(TrustError::EntrySignatureMissing),
        Some(text) => text,
    };
    let signature = BASE64.decode(text).map_err(|_| TrustError::BadEntrySignature)?;
    if key.verifies(&entry.signed_fields(), &signature) {
        Ok(())
    } else {
        Err(TrustError::BadEntrySignature)
    }
}

/// Empty → [`TrustError::EmptySignature`]; anything but canonical standard padded Base64
/// (including line breaks and spaces) → [`TrustError::SignatureNotBase64`].
fn decode_signature(text: &str) -> Result<Vec<u8>, TrustError> {
    if text.is_empty() {
        return Err(TrustError::EmptySignature);
    }
    BASE64.decode(text).map_err(|_| TrustError::SignatureNotBase64)
}

/// The certificate's subject names exactly `expected`.
fn check_country(expected: CountryCode, cert: &Cert) -> Result<(), TrustError> {
    let actual = cert.country()?;
    if actual == expected { Ok(()) } else { Err(TrustError::CountryMismatch { expected, actual }) }
}

fn check_rsa_bits(key: &rsa::PublicKey) -> Result<(), TrustError> {
    let bits = key.n().bit_width_vartime();
    if bits < MIN_RSA_BITS { Err(TrustError::WeakRsaKey { bits }) } else { Ok(()) }
}

#[cfg(test)]
mod tests;
