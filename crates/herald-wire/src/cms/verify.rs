//! Verifying a detached CMS SignedData as OpenSSL and BouncyCastle write it: the signer's
//! certificate, the signed attributes and the signature.

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedAttributes, SignedData, SignerIdentifier, SignerInfo};
use der::asn1::ObjectIdentifier;
use der::{Any, Decode, Encode, Tag, Tagged};
use herald_model::{CertThumbprint, UnixTime};
use rsa::traits::PublicKeyParts as _;
use sha2::{Digest as _, Sha256};
use signature::Verifier as _;
use spki::SubjectPublicKeyInfoRef;
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectKeyIdentifier;
use x509_cert::time::Time;

use super::{
    CmsError, ECDSA_WITH_SHA256, ID_CONTENT_TYPE, ID_EC_PUBLIC_KEY, ID_MESSAGE_DIGEST,
    ID_SIGNED_DATA, ID_SIGNING_TIME, MIN_RSA_BITS, RSA_ENCRYPTION, SECP256R1, SHA256_WITH_RSA,
    SignatureAlgorithm, VerifiedSigner, der_error, is_sha256, subject_country, unix_time,
};

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
pub(super) fn find_certificate<'a>(
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
pub(super) fn check_signed_attributes(
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
pub(super) fn single_value<'a>(
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
pub(super) fn verify_signature(
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

pub(super) fn unsupported_signature(oid: ObjectIdentifier) -> CmsError {
    CmsError::UnsupportedAlgorithm(format!("signature algorithm {oid}"))
}
