//! Export files as a phone takes them: a zip downloaded from the key server's index is used only
//! if one of its signatures verifies with the key server's export public key (the OS refuses
//! files otherwise).

use herald_model::DiagnosisKey;
use herald_wire::export::{ReadLimits, read_zip};
use p256::ecdsa::VerifyingKey;

/// Why a downloaded export file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// Not an export file.
    #[error("not a valid export file: {0}")]
    Malformed(String),
    /// No signature verifies with the expected key.
    #[error("no signature of the export file verifies with the key server's export key")]
    Unsigned,
}

/// The diagnosis keys of export file `zip`, if a signature verifies with `public_key`.
pub fn verified_keys(
    zip: &[u8],
    public_key: &VerifyingKey,
) -> Result<Vec<DiagnosisKey>, ExportError> {
    let file =
        read_zip(zip, &ReadLimits::default()).map_err(|e| ExportError::Malformed(e.to_string()))?;
    if file.valid_signatures(public_key).is_empty() {
        return Err(ExportError::Unsigned);
    }
    Ok(file.contents.keys)
}

/// The file names of an `index.txt` (one per line, blank lines ignored).
pub fn index_entries(index: &str) -> impl Iterator<Item = &str> {
    index.lines().map(str::trim).filter(|l| !l.is_empty())
}
