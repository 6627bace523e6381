//! The development PKI: every certificate and key that a `--dev` world needs, generated in
//! memory (ECDSA P-256, SHA-256) and returned as PEM for the caller to write.
//!
//! What is issued, and by whom:
//!
//! | certificate | subject | issuer | extensions |
//! |---|---|---|---|
//! | TLS CA | `CN=herald dev TLS CA, O=herald dev` | itself | CA:true pathlen 0; KU keyCertSign, cRLSign, digitalSignature |
//! | gateway server | `CN=localhost, O=herald dev` | TLS CA | SAN DNS localhost, IP 127.0.0.1; EKU serverAuth, clientAuth; KU digitalSignature |
//! | country auth | `C=<CC>, O=herald dev, CN=herald <CC> national backend` | TLS CA | EKU clientAuth; KU digitalSignature |
//! | country signing | `C=<CC>, O=herald dev, CN=herald <CC> batch signing` | itself | KU digitalSignature |
//! | trust anchor | `CN=herald trust anchor (dev), O=herald dev` | itself | KU digitalSignature |
//!
//! Choices, and why:
//! - **Signing certificates are self-signed.** EFGS allows it and real countries do it; the
//!   gateway trusts a signing certificate only because its thumbprint is on the operator-signed
//!   trust list, never through a chain. Issuing them from the TLS CA would let code that
//!   wrongly relies on the chain pass in development and fail in production.
//! - **The trust anchor has no `C`.** It belongs to the gateway operator, not to a country, so
//!   [`country`](crate::country) rightly refuses it. It is not a CA either: it signs trust-list
//!   rows (bytes), not certificates.
//! - **The TLS CA has pathlen 0**: it issues leaves only.
//! - Serial numbers are derived from the subject's fresh public key (rcgen's default), so they
//!   are unique without a counter.
//! - Keys come from aws-lc-rs's generator (through rcgen): this module takes no RNG parameter.
//!   It never reads the clock: validity windows are parameters, see [`DevValidity`].

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use herald_model::{CertThumbprint, CountryCode, UnixTime};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
    SanType,
};
use zeroize::Zeroize as _;

use crate::{Cert, TrustError, layout};

/// Every validity window starts this long before "now", so that a peer whose clock is a little
/// behind still accepts freshly issued certificates.
pub const BACKDATE_SECONDS: i64 = 3_600;
/// Leaf certificates (server, client, signing) end this many days after "now": 397 days is the
/// CA/Browser Forum maximum for TLS server certificates, which some TLS clients enforce.
pub const LEAF_DAYS: i64 = 397;
/// The TLS CA and the trust anchor end this many days (ten years) after "now", so that
/// re-issuing leaves never forces a new root on every participant.
pub const ROOT_DAYS: i64 = 3_652;

/// A certificate's validity window, whole unix seconds, `not_before < not_after`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validity {
    not_before: UnixTime,
    not_after: UnixTime,
}

impl Validity {
    /// A window from `not_before` to `not_after` (both inclusive, as in X.509).
    pub fn new(not_before: UnixTime, not_after: UnixTime) -> Result<Self, TrustError> {
        if not_before < not_after {
            Ok(Self { not_before, not_after })
        } else {
            Err(TrustError::EmptyValidity {
                not_before: not_before.seconds(),
                not_after: not_after.seconds(),
            })
        }
    }

    /// The X.509 notBefore.
    pub fn not_before(&self) -> UnixTime {
        self.not_before
    }

    /// The X.509 notAfter.
    pub fn not_after(&self) -> UnixTime {
        self.not_after
    }
}

/// The validity windows of one development PKI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DevValidity {
    /// The TLS CA.
    pub ca: Validity,
    /// The gateway server certificate and every country's auth and signing certificates.
    pub leaf: Validity,
    /// The operator's trust anchor.
    pub anchor: Validity,
}

impl DevValidity {
    /// herald's defaults around `now` (which the caller reads from its clock): all windows start
    /// [`BACKDATE_SECONDS`] before `now`; leaves end [`LEAF_DAYS`] after `now`, the CA and the
    /// trust anchor [`ROOT_DAYS`] after `now`.
    pub fn around(now: UnixTime) -> Result<Self, TrustError> {
        let at = |offset: i64| {
            now.seconds().checked_add(offset).map(UnixTime).ok_or(TrustError::TimeOutOfRange(now.0))
        };
        let day = herald_model::time::DAY_SECONDS;
        let start = at(-BACKDATE_SECONDS)?;
        let root = Validity::new(start, at(ROOT_DAYS * day)?)?;
        Ok(Self { ca: root, leaf: Validity::new(start, at(LEAF_DAYS * day)?)?, anchor: root })
    }
}

/// A private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). `Debug` does not show it, and
/// the text is wiped from memory on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKeyPem(String);

impl PrivateKeyPem {
    /// The PEM text, to be written to a file that only its owner can read.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PrivateKeyPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKeyPem(<redacted>)")
    }
}

impl Drop for PrivateKeyPem {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// A certificate together with its private key.
#[derive(Clone, Debug)]
pub struct Identity {
    cert: Cert,
    cert_pem: String,
    key: PrivateKeyPem,
}

impl Identity {
    /// The parsed certificate (with its exact DER).
    pub fn cert(&self) -> &Cert {
        &self.cert
    }

    /// The certificate as PEM, LF line endings.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The private key.
    pub fn key(&self) -> &PrivateKeyPem {
        &self.key
    }

    /// SHA-256 of the certificate's DER.
    pub fn thumbprint(&self) -> CertThumbprint {
        self.cert.thumbprint()
    }
}

/// One country's identities towards the gateway.
#[derive(Clone, Debug)]
pub struct CountryIdentities {
    /// The country, which is also the `C` of both subjects.
    pub country: CountryCode,
    /// The TLS client certificate (EKU clientAuth), issued by the TLS CA.
    pub auth: Identity,
    /// The batch-signing certificate (KU digitalSignature), self-signed.
    pub signing: Identity,
    /// The TLS server certificate of the country's own services (key server, verification
    /// service) on this machine: `localhost` and 127.0.0.1, EKU serverAuth and clientAuth (the
    /// key server also presents it to receive gateway callbacks), issued by the TLS CA.
    pub server: Identity,
}

/// A complete development PKI, in memory. See the [module documentation](self) for what each
/// certificate contains.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DevPki {
    /// The TLS CA.
    pub ca: Identity,
    /// The gateway's TLS server certificate.
    pub gateway: Identity,
    /// The gateway operator's trust anchor.
    pub anchor: Identity,
    /// Per-country identities, in the order the countries were given.
    pub countries: Vec<CountryIdentities>,
}

/// One file of the development PKI: where it goes (relative to the dev folder, see [`layout`])
/// and what it contains.
#[derive(Debug)]
pub struct DevFile<'a> {
    /// The path relative to the dev folder.
    pub path: PathBuf,
    /// The PEM text.
    pub contents: &'a str,
    /// Whether this is a private key (to be written with owner-only permissions).
    pub secret: bool,
}

impl DevPki {
    /// Every file of this PKI in the dev-folder layout: CA, gateway, anchor, then each country.
    pub fn files(&self) -> Vec<DevFile<'_>> {
        fn pair(cert: PathBuf, key: PathBuf, id: &Identity) -> [DevFile<'_>; 2] {
            [
                DevFile { path: cert, contents: id.cert_pem(), secret: false },
                DevFile { path: key, contents: id.key().expose_secret(), secret: true },
            ]
        }
        let mut files = Vec::with_capacity(6 + 6 * self.countries.len());
        files.extend(pair(layout::ca_cert(), layout::ca_key(), &self.ca));
        files.extend(pair(layout::gateway_cert(), layout::gateway_key(), &self.gateway));
        files.extend(pair(layout::anchor_cert(), layout::anchor_key(), &self.anchor));
        for c in &self.countries {
            files.extend(pair(layout::auth_cert(c.country), layout::auth_key(c.country), &c.auth));
            files.extend(pair(
                layout::signing_cert(c.country),
                layout::signing_key(c.country),
                &c.signing,
            ));
            files.extend(pair(
                layout::server_cert(c.country),
                layout::server_key(c.country),
                &c.server,
            ));
        }
        files
    }
}

/// The organisation named in every development subject.
const ORGANIZATION: &str = "herald dev";

/// Generates a complete development PKI for `countries` (at least one, no duplicates).
///
/// Keys are fresh ECDSA P-256 keys from aws-lc-rs; nothing is read from or written to disk and
/// the clock is not consulted.
pub fn generate_dev_pki(
    countries: &[CountryCode],
    validity: &DevValidity,
) -> Result<DevPki, TrustError> {
    if countries.is_empty() {
        return Err(TrustError::NoCountries);
    }
    for (i, c) in countries.iter().enumerate() {
        if countries.iter().take(i).any(|earlier| earlier == c) {
            return Err(TrustError::DuplicateCountry(*c));
        }
    }

    let ca_key = new_key()?;
    let ca_params = ca_params(validity.ca)?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let ca_issuer = Issuer::from_params(&ca_params, &ca_key);
    let ca = identity(ca_cert.der(), &ca_key)?;

    let gateway = localhost_server(validity.leaf, None, "localhost", &ca_issuer)?;

    let anchor = {
        let key = new_key()?;
        let p = params(validity.anchor, None, "herald trust anchor (dev)")?;
        identity(p.self_signed(&key)?.der(), &key)?
    };

    let countries = countries
        .iter()
        .map(|&country| {
            let auth = {
                let key = new_key()?;
                let name = format!("herald {country} national backend");
                let mut p = params(validity.leaf, Some(country), &name)?;
                p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
                identity(p.signed_by(&key, &ca_issuer)?.der(), &key)?
            };
            let signing = {
                let key = new_key()?;
                let name = format!("herald {country} batch signing");
                let p = params(validity.leaf, Some(country), &name)?;
                identity(p.self_signed(&key)?.der(), &key)?
            };
            let name = format!("herald {country} services");
            let server = localhost_server(validity.leaf, Some(country), &name, &ca_issuer)?;
            Ok(CountryIdentities { country, auth, signing, server })
        })
        .collect::<Result<Vec<_>, TrustError>>()?;

    Ok(DevPki { ca, gateway, anchor, countries })
}

/// The dev TLS CA's parameters: its subject, CA:true with path length 0, certificate and CRL
/// signing.
fn ca_params(validity: Validity) -> Result<CertificateParams, TrustError> {
    let mut p = params(validity, None, CA_NAME)?;
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(p)
}

const CA_NAME: &str = "herald dev TLS CA";

/// A TLS server certificate for this machine (SAN `localhost` and 127.0.0.1) issued by the dev
/// TLS CA of an existing dev world, from its PKCS#8 PEM key (`ca.key.pem`): what a service that
/// joins the world later (the exchange) adds for itself. The issuer name is the one
/// [`generate_dev_pki`] gives its CA, so clients that trust `ca.pem` accept it.
pub fn localhost_server_from_ca(
    ca_key_pem: &str,
    validity: &DevValidity,
    common_name: &str,
) -> Result<Identity, TrustError> {
    with_dev_ca(ca_key_pem, validity, |issuer| {
        localhost_server(validity.leaf, None, common_name, issuer)
    })
}

/// Runs `issue` with the dev TLS CA of an existing dev world as issuer, from its PKCS#8 PEM key
/// (the issuer name is the one [`generate_dev_pki`] gives its CA).
fn with_dev_ca<T>(
    ca_key_pem: &str,
    validity: &DevValidity,
    issue: impl FnOnce(&Issuer<'_, &KeyPair>) -> Result<T, TrustError>,
) -> Result<T, TrustError> {
    let ca_key = KeyPair::from_pem(ca_key_pem)?;
    let ca_params = ca_params(validity.ca)?;
    issue(&Issuer::from_params(&ca_params, &ca_key))
}

/// A TLS client certificate (EKU clientAuth) named `common_name`, issued by the dev TLS CA of
/// an existing dev world from its PKCS#8 PEM key: what the exchange's dev organisations present
/// for mTLS.
pub fn client_from_ca(
    ca_key_pem: &str,
    validity: &DevValidity,
    common_name: &str,
) -> Result<Identity, TrustError> {
    with_dev_ca(ca_key_pem, validity, |issuer| {
        let key = new_key()?;
        let mut p = params(validity.leaf, None, common_name)?;
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        identity(p.signed_by(&key, issuer)?.der(), &key)
    })
}

/// A TLS server certificate for this machine, issued by the dev TLS CA: the [`params`] leaf
/// defaults plus SAN DNS `localhost` and IP 127.0.0.1, and EKU serverAuth for its listener and
/// clientAuth because dev mode also presents it when it calls a service back (the gateway its
/// national backends, efgs-gateway.md §1.6).
fn localhost_server(
    validity: Validity,
    country: Option<CountryCode>,
    common_name: &str,
    ca_issuer: &Issuer<'_, &KeyPair>,
) -> Result<Identity, TrustError> {
    let key = new_key()?;
    let mut p = params(validity, country, common_name)?;
    p.subject_alt_names = vec![
        SanType::DnsName("localhost".try_into()?),
        SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
    ];
    p.extended_key_usages =
        vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    identity(p.signed_by(&key, ca_issuer)?.der(), &key)
}

/// A fresh P-256 key.
fn new_key() -> Result<KeyPair, TrustError> {
    Ok(KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?)
}

/// Leaf defaults: the subject (`C` first when given, then `O`, then `CN`), the validity window,
/// CA:false, KU digitalSignature, and an authority key identifier (verifiers use it to find the
/// issuer; in a self-signed certificate it names the certificate's own key).
fn params(
    validity: Validity,
    country: Option<CountryCode>,
    common_name: &str,
) -> Result<CertificateParams, TrustError> {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    if let Some(country) = country {
        // RFC 5280: countryName is a PrintableString.
        dn.push(DnType::CountryName, DnValue::PrintableString(country.as_str().try_into()?));
    }
    dn.push(DnType::OrganizationName, ORGANIZATION);
    dn.push(DnType::CommonName, common_name);
    p.distinguished_name = dn;
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.use_authority_key_identifier_extension = true;
    set_validity(&mut p, validity)?;
    Ok(p)
}

/// Writes the window into rcgen's `time::OffsetDateTime` fields without naming the `time` crate
/// (it is rcgen's dependency, not ours): the epoch plus a checked offset.
fn set_validity(p: &mut CertificateParams, validity: Validity) -> Result<(), TrustError> {
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    let at = |t: UnixTime| {
        let offset = std::time::Duration::from_secs(t.seconds().unsigned_abs());
        let offset = offset.try_into().map_err(|_| TrustError::TimeOutOfRange(t.seconds()))?;
        let shifted =
            if t.seconds() >= 0 { epoch.checked_add(offset) } else { epoch.checked_sub(offset) };
        // X.509 times stop at year 9999 (GeneralizedTime YYYY).
        shifted
            .filter(|d| (0..=9999).contains(&d.year()))
            .ok_or(TrustError::TimeOutOfRange(t.seconds()))
    };
    p.not_before = at(validity.not_before())?;
    p.not_after = at(validity.not_after())?;
    Ok(())
}

/// Parses what rcgen produced (so every returned certificate is known to parse) and pairs it
/// with the PKCS#8 PEM of its key.
fn identity(der: &[u8], key: &KeyPair) -> Result<Identity, TrustError> {
    let cert = Cert::from_der(der)?;
    let cert_pem = der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, der)
        .map_err(|e| TrustError::Pem { reason: e.into() })?;
    Ok(Identity { cert, cert_pem, key: PrivateKeyPem(key.serialize_pem()) })
}

#[cfg(test)]
mod tests;
