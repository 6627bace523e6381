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

/// Which files of a key server's index the app has already processed, so that each file is
/// downloaded and matched once (the OS counts a key matched twice twice).
#[derive(Debug, Clone, Default)]
pub struct Downloads {
    done: std::collections::HashSet<String>,
}

impl Downloads {
    /// Nothing processed yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The entries of `index` not processed yet, in index order.
    pub fn new_entries<'a>(&self, index: &'a str) -> Vec<&'a str> {
        index_entries(index).filter(|name| !self.done.contains(*name)).collect()
    }

    /// Records `name` as processed (call after its keys were verified and checked).
    pub fn done(&mut self, name: &str) {
        self.done.insert(name.to_owned());
    }

    /// How many files were processed.
    pub fn len(&self) -> usize {
        self.done.len()
    }

    /// Whether none was.
    pub fn is_empty(&self) -> bool {
        self.done.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::Downloads;

    #[test]
    fn each_file_of_the_index_is_new_once() {
        let mut d = Downloads::new();
        let index = "hourly/a.zip\nhourly/b.zip\n\n";
        assert_eq!(d.new_entries(index), ["hourly/a.zip", "hourly/b.zip"]);
        d.done("hourly/a.zip");
        assert_eq!(
            d.new_entries("hourly/a.zip\nhourly/b.zip\nhourly/c.zip"),
            ["hourly/b.zip", "hourly/c.zip"]
        );
        assert_eq!(d.len(), 1);
        assert!(d.new_entries("").is_empty());
    }
}
