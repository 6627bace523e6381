//! The secret files of a development world: written once (an existing file is kept, never
//! overwritten), readable by the owner only, from the operating system's random number
//! generator.

use std::path::Path;

use p256::pkcs8::{EncodePrivateKey as _, LineEnding};
use rand::Rng as _;

/// Writes `contents` to a new file at `path` with mode 0600, unless the file exists.
pub fn write_secret(path: &Path, contents: &str) -> std::io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    std::io::Write::write_all(&mut file, contents.as_bytes())
}

/// `bytes` random bytes as lower-case hex.
pub fn random_hex(bytes: usize) -> zeroize::Zeroizing<String> {
    let mut secret = zeroize::Zeroizing::new(vec![0u8; bytes]);
    rand::rng().fill_bytes(secret.as_mut_slice());
    zeroize::Zeroizing::new(herald_model::key::to_hex(secret.as_slice()))
}

/// A fresh P-256 signing key.
pub fn new_signing_key() -> p256::ecdsa::SigningKey {
    let mut rng = rand::rng();
    loop {
        let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
        rng.fill_bytes(bytes.as_mut_slice());
        if let Ok(key) = p256::ecdsa::SigningKey::from_slice(bytes.as_slice()) {
            return key;
        }
    }
}

/// Writes a fresh P-256 signing key (PKCS#8 PEM, mode 0600) to `path` unless it exists; returns
/// the key that is in the file now only when it was just made.
pub fn signing_key_file(path: &Path) -> std::io::Result<Option<p256::ecdsa::SigningKey>> {
    if path.exists() {
        return Ok(None);
    }
    let key = new_signing_key();
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| std::io::Error::other(format!("PKCS#8 encoding: {e}")))?;
    write_secret(path, &pem)?;
    Ok(Some(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_written_once_and_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        write_secret(&path, "first").unwrap();
        write_secret(&path, "second").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "first");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let key = dir.path().join("k.pem");
        assert!(signing_key_file(&key).unwrap().is_some());
        assert!(signing_key_file(&key).unwrap().is_none(), "kept, not replaced");
        assert!(std::fs::read_to_string(&key).unwrap().starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(random_hex(16).len(), 32);
        assert_ne!(random_hex(16).as_str(), random_hex(16).as_str());
    }
}
