//! herald-trust: the PKI pieces that every herald service shares.
//!
//! What it is:
//! - certificate identity as EFGS defines it: the SHA-256 thumbprint of the DER
//!   ([`thumbprint`]) and the country named by the subject's single `C` ([`country`]), on top
//!   of a parsed certificate that keeps its exact bytes ([`Cert`]);
//! - the development PKI ([`generate_dev_pki`]): TLS CA, gateway server certificate,
//!   per-country client and signing certificates and the operator's trust anchor, as PEM in
//!   memory, and where each file goes in a `--dev` folder ([`layout`]).
//!
//! What it is not: no I/O (callers write the returned PEM), no clock (validity windows are
//! parameters), no async, no TLS stack. Chain validation for mTLS belongs to rustls; this crate
//! only says *who* a certificate is.
//!
//! Layout:
//! - `cert`: [`Cert`], [`thumbprint`], [`country`];
//! - [`dev`]: what the development PKI contains and why; [`generate_dev_pki`], [`DevPki`],
//!   [`DevValidity`], [`Identity`], [`PrivateKeyPem`];
//! - [`layout`]: relative paths of the PKI files in the dev folder (specs/dev-world.md);
//! - `error`: [`TrustError`].

mod cert;
pub mod dev;
mod error;
pub mod layout;
#[cfg(test)]
mod testutil;

pub use cert::{Cert, country, thumbprint};
pub use dev::{
    BACKDATE_SECONDS, CountryIdentities, DevFile, DevPki, DevValidity, Identity, LEAF_DAYS,
    PrivateKeyPem, ROOT_DAYS, Validity, generate_dev_pki,
};
pub use error::TrustError;
/// The X.509 types that [`Cert::x509`] exposes.
pub use x509_cert;
