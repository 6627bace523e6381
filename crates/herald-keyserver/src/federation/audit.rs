//! Re-verifying a downloaded batch through the gateway's audit endpoint (efgs-gateway.md §3.4):
//! the download batch holds whole uploads in audit order (the requester's own uploads left out);
//! each upload's keys must verify against its `batchSignature` made by its signing certificate,
//! whose thumbprint the audit names, and which the operator signed with the trust anchor.

use herald_model::{BatchTag, CountryCode};
use herald_runtime::HttpsClient;
use herald_trust::AnchorCertificate;
use herald_wire::cms::SignerCertificate;
use herald_wire::efgs::{self, EfgsKey};
use hyper::Method;

/// Why the audit could not be done at all (a bad signature is not an error: its keys are left
/// out of the result).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The gateway could not be reached.
    #[error("audit request: {0}")]
    Client(#[from] herald_runtime::ClientError),
    /// The gateway answered with an error status.
    #[error("audit answered {0}")]
    Status(u16),
    /// The audit answer is not the documented JSON, or does not match the batch.
    #[error("audit answer: {0}")]
    Malformed(String),
}

/// One upload of the batch, as the audit describes it, and whether it verified.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditedUpload {
    /// Uploader country.
    pub country: String,
    /// Keys in the batch from this upload.
    pub keys: usize,
    /// `None` when the signature, the signer thumbprint and the operator signature all check;
    /// otherwise why not.
    pub problem: Option<String>,
}

/// Audits the download batch `tag` of `date`: returns the keys whose upload verified, and a
/// description of every upload.
pub async fn audit_download_batch<'k>(
    client: &HttpsClient,
    date: &str,
    tag: &BatchTag,
    keys: &'k [EfgsKey],
    own: Option<CountryCode>,
    anchor: Option<&AnchorCertificate>,
) -> Result<(Vec<&'k EfgsKey>, Vec<AuditedUpload>), AuditError> {
    if keys.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let answer = client
        .request(
            Method::GET,
            &format!("/diagnosiskeys/audit/download/{date}/{tag}"),
            &[("accept", "application/json")],
            Vec::new(),
        )
        .await?;
    if answer.status != 200 {
        return Err(AuditError::Status(answer.status.as_u16()));
    }
    let entries: Vec<serde_json::Value> =
        serde_json::from_slice(&answer.body).map_err(|e| AuditError::Malformed(e.to_string()))?;
    let text = |entry: &serde_json::Value, name: &str| -> String {
        entry.get(name).and_then(serde_json::Value::as_str).unwrap_or_default().to_owned()
    };
    let mut offset = 0usize;
    let mut verified = Vec::new();
    let mut uploads = Vec::new();
    for entry in &entries {
        let country = text(entry, "country");
        if own.is_some_and(|c| c.as_str() == country) {
            continue;
        }
        let amount = entry
            .get("amount")
            .and_then(serde_json::Value::as_u64)
            .and_then(|a| usize::try_from(a).ok())
            .ok_or_else(|| AuditError::Malformed("an entry has no amount".into()))?;
        let slice = keys.get(offset..offset.saturating_add(amount)).ok_or_else(|| {
            AuditError::Malformed("the audit counts more keys than the batch has".into())
        })?;
        offset += amount;
        let pem = text(entry, "signingCertificate");
        let problem = check_upload(entry, slice, &pem, anchor, &text);
        if problem.is_none() {
            verified.extend(slice.iter());
        } else {
            tracing::warn!(%tag, country = %country, keys = amount, problem = ?problem, "an upload in a downloaded batch does not verify; its keys are dropped");
        }
        uploads.push(AuditedUpload { country, keys: amount, problem });
    }
    if offset != keys.len() {
        return Err(AuditError::Malformed(format!(
            "the audit covers {offset} keys, the batch has {}",
            keys.len()
        )));
    }
    Ok((verified, uploads))
}

fn check_upload(
    entry: &serde_json::Value,
    keys: &[EfgsKey],
    pem: &str,
    anchor: Option<&AnchorCertificate>,
    text: &dyn Fn(&serde_json::Value, &str) -> String,
) -> Option<String> {
    let cert = match SignerCertificate::from_pem(pem) {
        Ok(cert) => cert,
        Err(e) => return Some(format!("signing certificate: {e}")),
    };
    let signer = match efgs::verify_batch(keys, &text(entry, "batchSignature"), Some(&cert)) {
        Ok(signer) => signer,
        Err(e) => return Some(format!("batch signature: {e}")),
    };
    if signer.thumbprint.to_hex() != text(entry, "uploaderSigningThumbprint") {
        return Some("the signer's thumbprint differs from the audit's".into());
    }
    if let Some(anchor) = anchor
        && anchor
            .verify_operator_signature(pem, &text(entry, "signingCertificateOperatorSignature"))
            .is_err()
    {
        return Some("the operator did not sign the signing certificate".into());
    }
    None
}
