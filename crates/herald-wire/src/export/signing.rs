//! Who signs export files and how: `SignatureInfo`, the `ExportSigner` trait, `FileSigner` (a PKCS#8
//! P-256 key), and checking a signature with a public key.

use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _};

use super::{ECDSA_P256_SHA256_OID, ExportError};
use crate::proto::gaen as proto;

/// Who signed a file, as written in `SignatureInfo` (and what old files carry in the deprecated
/// fields).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignatureInfo {
    /// `verification_key_id`, e.g. "310".
    pub key_id: Option<String>,
    /// `verification_key_version`, e.g. "v1".
    pub key_version: Option<String>,
    /// `signature_algorithm`, a dotted OID.
    pub algorithm: Option<String>,
    /// Deprecated field 2, `android_package` (old files only).
    pub android_package: Option<String>,
    /// Deprecated field 1, `app_bundle_id` (old files only).
    pub app_bundle_id: Option<String>,
}

impl SignatureInfo {
    /// A signer identity for ECDSA P-256 / SHA-256. Id and version must be non-empty
    /// `[A-Za-z0-9_]` (what the platforms register).
    pub fn ecdsa_p256(key_id: &str, key_version: &str) -> Result<Self, ExportError> {
        for (name, value) in [("key id", key_id), ("key version", key_version)] {
            if value.is_empty()
                || value.len() > 64
                || !value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                return Err(ExportError::Config(format!(
                    "{name} must be 1 to 64 characters of [A-Za-z0-9_], got {value:?}"
                )));
            }
        }
        Ok(Self {
            key_id: Some(key_id.to_owned()),
            key_version: Some(key_version.to_owned()),
            algorithm: Some(ECDSA_P256_SHA256_OID.to_owned()),
            android_package: None,
            app_bundle_id: None,
        })
    }

    pub(super) fn to_proto(&self) -> proto::SignatureInfo {
        // ENS writes only non-empty version and id; deprecated fields are never written.
        let non_empty = |s: &Option<String>| s.clone().filter(|v| !v.is_empty());
        proto::SignatureInfo {
            app_bundle_id: None,
            android_package: None,
            verification_key_version: non_empty(&self.key_version),
            verification_key_id: non_empty(&self.key_id),
            signature_algorithm: self.algorithm.clone(),
        }
    }

    pub(super) fn from_proto(p: proto::SignatureInfo) -> Self {
        Self {
            key_id: p.verification_key_id,
            key_version: p.verification_key_version,
            algorithm: p.signature_algorithm,
            android_package: p.android_package,
            app_bundle_id: p.app_bundle_id,
        }
    }
}

/// Signs `export.bin`. Implement it for an HSM or a cloud KMS; [`FileSigner`] is the file-based
/// P-256 key.
pub trait ExportSigner: Send + Sync {
    /// The `SignatureInfo` written for this signer.
    fn info(&self) -> &SignatureInfo;
    /// An ASN.1 DER ECDSA signature over SHA-256 of `message` (the whole `export.bin`).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, ExportError>;
}

/// An ECDSA P-256 signing key held in memory, loaded from PKCS#8 PEM.
pub struct FileSigner {
    key: SigningKey,
    info: SignatureInfo,
}

impl FileSigner {
    /// Loads a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`) for the given identity.
    pub fn from_pkcs8_pem(pem: &str, info: SignatureInfo) -> Result<Self, ExportError> {
        let key = SigningKey::from_pkcs8_pem(pem).map_err(|e| {
            ExportError::KeyMaterial(format!(
                "signing key is not a PKCS#8 PEM P-256 private key: {e}"
            ))
        })?;
        Ok(Self { key, info })
    }

    /// Wraps a key already in memory.
    pub fn new(key: SigningKey, info: SignatureInfo) -> Self {
        Self { key, info }
    }

    /// The public half, for publishing to the platforms and for checks.
    pub fn verifying_key(&self) -> VerifyingKey {
        *self.key.verifying_key()
    }
}

impl std::fmt::Debug for FileSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSigner").field("info", &self.info).finish_non_exhaustive()
    }
}

impl ExportSigner for FileSigner {
    fn info(&self) -> &SignatureInfo {
        &self.info
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, ExportError> {
        // RFC 6979 deterministic nonces: the same file always gets the same signature.
        let signature: Signature = self.key.sign(message);
        Ok(signature.to_der().as_bytes().to_vec())
    }
}

/// Loads a P-256 public key from SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
pub fn public_key_from_pem(pem: &str) -> Result<VerifyingKey, ExportError> {
    VerifyingKey::from_public_key_pem(pem).map_err(|e| {
        ExportError::KeyMaterial(format!("public key is not an SPKI PEM P-256 public key: {e}"))
    })
}

/// Whether `signature_der` is a valid ECDSA P-256 / SHA-256 signature of `export_bin` under `key`.
/// High-S signatures (as some signers produce) are accepted, as the platforms accept them.
pub fn verify_signature(key: &VerifyingKey, export_bin: &[u8], signature_der: &[u8]) -> bool {
    let Ok(signature) = Signature::from_der(signature_der) else { return false };
    let signature = signature.normalize_s();
    key.verify(export_bin, &signature).is_ok()
}
