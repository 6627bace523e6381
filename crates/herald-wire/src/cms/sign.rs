//! Signing: a detached CMS SignedData over content, with signed attributes, as EFGS expects.

use std::time::Duration;

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedAttributes, SignedData, SignerIdentifier,
    SignerInfo, SignerInfos,
};
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Encode, Tag};
use herald_model::UnixTime;
use sha2::{Digest as _, Sha256};
use signature::rand_core::TryCryptoRng;
use spki::AlgorithmIdentifierOwned;
use x509_cert::time::Time;

use super::{
    CmsError, ECDSA_WITH_SHA256, ID_CONTENT_TYPE, ID_DATA, ID_MESSAGE_DIGEST, ID_SIGNED_DATA,
    ID_SIGNING_TIME, PrivateKey, SHA256_WITH_RSA, SigningIdentity, attribute, sha256_algorithm,
};

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
