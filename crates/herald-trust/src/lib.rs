//! herald-trust: the PKI pieces that every herald service shares.
//!
//! What it is:
//! - certificate identity as EFGS defines it: the SHA-256 thumbprint of the DER
//!   ([`thumbprint`]) and the country named by the subject's single `C` ([`country`]), on top
//!   of a parsed certificate that keeps its exact bytes ([`Cert`]);
//! - the operator-signed trust list of efgs-gateway.md §4.3: a [`TrustEntry`] pins one
//!   country's certificate for one [`TrustKind`] (AUTHENTICATION, SIGNING, CALLBACK) and
//!   carries two trust-anchor signatures: EFGS's over the exact PEM text, and herald's over the
//!   whole entry (country, kind, thumbprint, revocation, host; [`TrustEntry::signed_fields`]).
//!   [`TrustAnchor`] (the operator's private key, ECDSA P-256 or RSA ≥ 2048) signs entries,
//!   the first signature byte-compatibly with EFGS's
//!   `openssl dgst -sha256 -sign anchor.key cert.pem | base64 -w0`, and re-signs them to
//!   revoke; [`AnchorCertificate`] (the public side, on the gateway and at every country) runs
//!   the integrity check (both signatures, or EFGS's alone for interoperability) and says why
//!   an entry fails it, and checks the audit `*OperatorSignature` fields;
//! - the portable trust-list file ([`TrustList`], JSON) that `import` and `export` exchange;
//! - the development PKI ([`generate_dev_pki`]): TLS CA, gateway server certificate,
//!   per-country client and signing certificates and the operator's trust anchor, as PEM in
//!   memory, and where each file goes in a `--dev` folder ([`layout`]).
//!
//! What it is not: no I/O (callers read and write the PEM and JSON), no clock (validity
//! windows are parameters; certificate expiry on the trust list is the caller's policy), no
//! async, no TLS stack, no storage. Chain validation for mTLS belongs to rustls; this crate
//! only says *who* a certificate is and whether the operator vouched for it. Revocation is
//! policy too: a revoked entry still passes the integrity check, and the caller refuses it.
//!
//! As in EFGS, the operator signature covers the certificate text only; the thumbprint and
//! country of an entry are bound to it because the check recomputes them. herald's entry
//! signature covers the rest (`kind`, `revoked`, `host`), so whoever can write the store but
//! does not hold the anchor key cannot change them: the full check fails and the gateway
//! ignores the entry. It cannot tell an old operator-signed state of an entry from the current
//! one, though (a store writer who kept a copy of an unrevoked row can put it back); that needs
//! state outside the store.
//!
//! Layout:
//! - `cert`: [`Cert`], [`thumbprint`], [`country`];
//! - `entry`: [`TrustKind`], [`TrustEntry`];
//! - `anchor`: [`TrustAnchor`] (sign), [`AnchorCertificate`] (verify), [`AnchorAlgorithm`],
//!   [`MIN_RSA_BITS`];
//! - `list`: [`TrustList`], the JSON file format;
//! - [`dev`]: what the development PKI contains and why; [`generate_dev_pki`], [`DevPki`],
//!   [`DevValidity`], [`Identity`], [`PrivateKeyPem`];
//! - [`layout`]: relative paths of the PKI files in the dev folder (specs/dev-world.md);
//! - `error`: [`TrustError`], one enum for the crate;
//! - `testutil` (tests only): OpenSSL as the independent oracle; required when `CI=true`.

mod anchor;
mod cert;
pub mod dev;
mod entry;
mod error;
pub mod layout;
mod list;
#[cfg(test)]
mod testutil;

pub use anchor::{AnchorAlgorithm, AnchorCertificate, MIN_RSA_BITS, TrustAnchor};
pub use cert::{Cert, country, thumbprint};
pub use dev::{
    BACKDATE_SECONDS, CountryIdentities, DevFile, DevPki, DevValidity, Identity, LEAF_DAYS,
    PrivateKeyPem, ROOT_DAYS, Validity, generate_dev_pki,
};
pub use entry::{ENTRY_SIGNATURE_LABEL, TrustEntry, TrustKind};
pub use error::TrustError;
pub use list::TrustList;
/// The X.509 types that [`Cert::x509`] exposes.
pub use x509_cert;
