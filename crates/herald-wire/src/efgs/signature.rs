//! EFGS batch signatures: the `batchSignature` header value, standard Base64 of a detached DER CMS
//! SignedData over the batch's signed bytes (specs/efgs-gateway.md §3.2–§3.4).
//!
//! Both directions also enforce the country rule of §3.3: the signing certificate's subject has
//! exactly one `C`, and every key's `origin` equals it. Pinning the certificate (thumbprint,
//! country, type) and checking its validity period against the clock stay with the caller, who
//! gets what it needs in [`VerifiedSigner`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use herald_model::{CountryCode, UnixTime};
use signature::rand_core::TryCryptoRng;

use super::{EfgsKey, batch_signed_bytes};
use crate::cms::{self, CmsError, SignerCertificate, SigningIdentity, VerifiedSigner};

/// Why a batch signature could not be made or was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchSignatureError {
    /// The header is empty.
    #[error("batchSignature is empty")]
    Empty,
    /// The header is not strict standard Base64 (no line breaks, with padding).
    #[error("batchSignature is not valid base64")]
    Base64,
    /// The CMS is malformed or does not verify.
    #[error(transparent)]
    Cms(#[from] CmsError),
    /// The signing certificate's subject does not have exactly one valid `C`.
    #[error("the signing certificate's subject has no single country (C)")]
    NoCountry,
    /// A key's origin is not the signing certificate's country.
    #[error(
        "key {index}: origin {origin} differs from the signing certificate's country {country}"
    )]
    OriginMismatch {
        /// Position of the key, from 0.
        index: usize,
        /// The key's origin.
        origin: CountryCode,
        /// The certificate's country.
        country: CountryCode,
    },
}

/// Signs a batch: the Base64 `batchSignature` of its signed bytes, signed at `signing_time`.
/// Refuses keys whose origin is not the certificate's country, which EFGS would refuse.
pub fn sign_batch<R: TryCryptoRng + ?Sized>(
    keys: &[EfgsKey],
    identity: &SigningIdentity,
    signing_time: UnixTime,
    rng: &mut R,
) -> Result<String, BatchSignatureError> {
    check_origins(keys, identity.certificate().subject_country())?;
    let der = cms::sign_detached(&batch_signed_bytes(keys), identity, signing_time, rng)?;
    Ok(STANDARD.encode(der))
}

/// Verifies a Base64 `batchSignature` over a batch (in any order). With `expected_certificate`,
/// the signer must be exactly that certificate.
pub fn verify_batch(
    keys: &[EfgsKey],
    batch_signature: &str,
    expected_certificate: Option<&SignerCertificate>,
) -> Result<VerifiedSigner, BatchSignatureError> {
    let signer = verify_batch_signer(keys, batch_signature, expected_certificate)?;
    check_origins(keys, signer.subject_country)?;
    Ok(signer)
}

/// [`verify_batch`] without its check of the keys' origins: the signer of a Base64
/// `batchSignature` over a batch. The gateway uses it, because EFGS checks the uploader's trust
/// in the signer before the origins, with an answer of its own for each.
pub fn verify_batch_signer(
    keys: &[EfgsKey],
    batch_signature: &str,
    expected_certificate: Option<&SignerCertificate>,
) -> Result<VerifiedSigner, BatchSignatureError> {
    if batch_signature.is_empty() {
        return Err(BatchSignatureError::Empty);
    }
    let der = STANDARD.decode(batch_signature).map_err(|_| BatchSignatureError::Base64)?;
    if der.is_empty() {
        return Err(BatchSignatureError::Empty);
    }
    let signer = cms::verify_detached(
        &der,
        &batch_signed_bytes(keys),
        expected_certificate.map(SignerCertificate::der),
    )?;
    Ok(signer)
}

fn check_origins(
    keys: &[EfgsKey],
    country: Option<CountryCode>,
) -> Result<(), BatchSignatureError> {
    let country = country.ok_or(BatchSignatureError::NoCountry)?;
    if let Some((index, key)) = keys.iter().enumerate().find(|(_, k)| k.origin != country) {
        return Err(BatchSignatureError::OriginMismatch { index, origin: key.origin, country });
    }
    Ok(())
}
