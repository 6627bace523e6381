//! Where the development PKI lives inside a `--dev` folder (specs/dev-world.md).
//!
//! Every function returns a path *relative* to the dev folder, so the CLI that writes the PKI
//! and the services that read it agree on one layout. Nothing here touches the file system.

use std::path::PathBuf;

use herald_model::CountryCode;

/// `ca.pem`: the TLS CA that issued every dev server and client certificate.
pub fn ca_cert() -> PathBuf {
    PathBuf::from("ca.pem")
}

/// `ca.key.pem`: the TLS CA's private key.
pub fn ca_key() -> PathBuf {
    PathBuf::from("ca.key.pem")
}

/// `gateway/server.pem`: the gateway's TLS server certificate (localhost, 127.0.0.1).
pub fn gateway_cert() -> PathBuf {
    ["gateway", "server.pem"].iter().collect()
}

/// `gateway/server.key.pem`: its private key.
pub fn gateway_key() -> PathBuf {
    ["gateway", "server.key.pem"].iter().collect()
}

/// `anchor/anchor.pem`: the gateway operator's trust-anchor certificate.
pub fn anchor_cert() -> PathBuf {
    ["anchor", "anchor.pem"].iter().collect()
}

/// `anchor/anchor.key.pem`: its private key, which signs trust-list entries.
pub fn anchor_key() -> PathBuf {
    ["anchor", "anchor.key.pem"].iter().collect()
}

/// `<CC>/auth.pem`: the country's TLS client certificate for the gateway.
pub fn auth_cert(country: CountryCode) -> PathBuf {
    [country.as_str(), "auth.pem"].iter().collect()
}

/// `<CC>/auth.key.pem`: its private key.
pub fn auth_key(country: CountryCode) -> PathBuf {
    [country.as_str(), "auth.key.pem"].iter().collect()
}

/// `<CC>/signing.pem`: the country's batch-signing certificate.
pub fn signing_cert(country: CountryCode) -> PathBuf {
    [country.as_str(), "signing.pem"].iter().collect()
}

/// `<CC>/signing.key.pem`: its private key.
pub fn signing_key(country: CountryCode) -> PathBuf {
    [country.as_str(), "signing.key.pem"].iter().collect()
}

/// `<CC>/server.pem`: the TLS server certificate of the country's key server and verification
/// service on this machine.
pub fn server_cert(country: CountryCode) -> PathBuf {
    [country.as_str(), "server.pem"].iter().collect()
}

/// `<CC>/server.key.pem`: its private key.
pub fn server_key(country: CountryCode) -> PathBuf {
    [country.as_str(), "server.key.pem"].iter().collect()
}
