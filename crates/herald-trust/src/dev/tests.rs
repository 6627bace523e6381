use std::collections::BTreeSet;
use std::path::Path;

use x509_cert::der::oid::db::rfc5280::{ID_KP_CLIENT_AUTH, ID_KP_SERVER_AUTH};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName,
};

use super::*;
use crate::testutil::openssl;

/// 2026-09-21T14:13:20Z: a fixed "now"; OpenSSL checks validity at this instant (`-attime`).
const NOW: UnixTime = UnixTime(1_790_000_000);

fn cc(s: &str) -> CountryCode {
    s.parse().unwrap()
}

fn pki(countries: &[&str]) -> DevPki {
    let countries: Vec<CountryCode> = countries.iter().map(|c| cc(c)).collect();
    generate_dev_pki(&countries, &DevValidity::around(NOW).unwrap()).unwrap()
}

/// Every file of `pki` written to a fresh temporary folder.
fn write_out(pki: &DevPki) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in pki.files() {
        let path = dir.path().join(&f.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, f.contents).unwrap();
    }
    dir
}

fn basic_constraints(id: &Identity) -> Option<BasicConstraints> {
    id.cert().x509().tbs_certificate().get_extension::<BasicConstraints>().unwrap().map(|(_, e)| e)
}

fn key_usage(id: &Identity) -> KeyUsage {
    id.cert().x509().tbs_certificate().get_extension::<KeyUsage>().unwrap().unwrap().1
}

fn eku(id: &Identity) -> Option<ExtendedKeyUsage> {
    id.cert().x509().tbs_certificate().get_extension::<ExtendedKeyUsage>().unwrap().map(|(_, e)| e)
}

fn subject(id: &Identity) -> String {
    id.cert().x509().tbs_certificate().subject().to_string()
}

fn issuer(id: &Identity) -> String {
    id.cert().x509().tbs_certificate().issuer().to_string()
}

fn window(id: &Identity) -> (i64, i64) {
    let v = id.cert().x509().tbs_certificate().validity();
    let secs = |t: x509_cert::time::Time| i64::try_from(t.to_unix_duration().as_secs()).unwrap();
    (secs(v.not_before), secs(v.not_after))
}

#[test]
fn the_ca_is_a_ca_and_nothing_else_is() {
    let pki = pki(&["DE"]);
    let bc = basic_constraints(&pki.ca).unwrap();
    assert!(bc.ca);
    assert_eq!(bc.path_len_constraint, Some(0));
    let ku = key_usage(&pki.ca).0;
    assert!(ku.contains(KeyUsages::KeyCertSign) && ku.contains(KeyUsages::CRLSign), "{ku:?}");
    assert_eq!(subject(&pki.ca), issuer(&pki.ca), "self-signed");
    assert!(pki.ca.cert().country().is_err(), "the CA names no country");

    let c = &pki.countries[0];
    for leaf in [&pki.gateway, &pki.anchor, &c.auth, &c.signing] {
        let bc = basic_constraints(leaf).unwrap();
        assert!(!bc.ca, "{}", subject(leaf));
        let ku = key_usage(leaf).0;
        assert!(ku.contains(KeyUsages::DigitalSignature), "{}", subject(leaf));
        assert!(!ku.contains(KeyUsages::KeyCertSign), "{}", subject(leaf));
    }
}

#[test]
fn the_gateway_serves_localhost_and_127_0_0_1() {
    let pki = pki(&["DE"]);
    assert_eq!(subject(&pki.gateway), "CN=localhost,O=herald dev");
    assert_eq!(issuer(&pki.gateway), subject(&pki.ca));
    let (_, SubjectAltName(names)) = pki
        .gateway
        .cert()
        .x509()
        .tbs_certificate()
        .get_extension::<SubjectAltName>()
        .unwrap()
        .unwrap();
    let mut dns = Vec::new();
    let mut ips = Vec::new();
    for name in names {
        match name {
            GeneralName::DnsName(d) => dns.push(d.to_string()),
            GeneralName::IpAddress(ip) => ips.push(ip.as_bytes().to_vec()),
            other => panic!("unexpected SAN {other:?}"),
        }
    }
    assert_eq!(dns, ["localhost"]);
    assert_eq!(ips, [vec![127, 0, 0, 1]]);
    assert_eq!(eku(&pki.gateway).unwrap().0, [ID_KP_SERVER_AUTH, ID_KP_CLIENT_AUTH]);
}

#[test]
fn each_country_gets_an_auth_and_a_signing_certificate_naming_it() {
    let pki = pki(&["DE", "NL", "FR"]);
    let got: Vec<&str> = pki.countries.iter().map(|c| c.country.as_str()).collect();
    assert_eq!(got, ["DE", "NL", "FR"], "order as given");
    for c in &pki.countries {
        assert_eq!(c.auth.cert().country().unwrap(), c.country);
        assert_eq!(c.signing.cert().country().unwrap(), c.country);
        assert_eq!(
            subject(&c.auth),
            format!("CN=herald {0} national backend,O=herald dev,C={0}", c.country)
        );
        assert_eq!(issuer(&c.auth), subject(&pki.ca), "auth is issued by the TLS CA");
        assert_eq!(eku(&c.auth).unwrap().0, [ID_KP_CLIENT_AUTH]);

        assert_eq!(
            subject(&c.signing),
            format!("CN=herald {0} batch signing,O=herald dev,C={0}", c.country)
        );
        assert_eq!(issuer(&c.signing), subject(&c.signing), "signing is self-signed");
        assert!(eku(&c.signing).is_none());
    }
    // Every certificate is distinct, so thumbprints identify them.
    let all: BTreeSet<CertThumbprint> = pki
        .countries
        .iter()
        .flat_map(|c| [c.auth.thumbprint(), c.signing.thumbprint()])
        .chain([pki.ca.thumbprint(), pki.gateway.thumbprint(), pki.anchor.thumbprint()])
        .collect();
    assert_eq!(all.len(), 3 + 2 * 3);
}

#[test]
fn the_trust_anchor_is_self_signed_and_names_no_country() {
    let pki = pki(&["DE"]);
    assert_eq!(subject(&pki.anchor), "CN=herald trust anchor (dev),O=herald dev");
    assert_eq!(issuer(&pki.anchor), subject(&pki.anchor));
    assert!(matches!(pki.anchor.cert().country(), Err(TrustError::NoCountry)));
}

#[test]
fn validity_windows_are_exactly_the_parameters() {
    let v = DevValidity::around(NOW).unwrap();
    let day = 86_400;
    assert_eq!(v.leaf.not_before(), UnixTime(NOW.0 - 3_600));
    assert_eq!(v.leaf.not_after(), UnixTime(NOW.0 + 397 * day));
    assert_eq!(v.ca.not_after(), UnixTime(NOW.0 + 3_652 * day));
    assert_eq!(v.anchor, v.ca);

    let pki = pki(&["DE"]);
    let leaf = (v.leaf.not_before().0, v.leaf.not_after().0);
    let root = (v.ca.not_before().0, v.ca.not_after().0);
    assert_eq!(window(&pki.ca), root);
    assert_eq!(window(&pki.anchor), root);
    for id in [&pki.gateway, &pki.countries[0].auth, &pki.countries[0].signing] {
        assert_eq!(window(id), leaf, "{}", subject(id));
    }

    // Times past 2049 are GeneralizedTime; they still round-trip.
    let far =
        DevValidity { ca: Validity::new(UnixTime(0), UnixTime(4_102_444_800 + 1)).unwrap(), ..v };
    let pki = generate_dev_pki(&[cc("DE")], &far).unwrap();
    assert_eq!(window(&pki.ca), (0, 4_102_444_801));
}

#[test]
fn bad_parameters_are_refused() {
    let v = DevValidity::around(NOW).unwrap();
    assert!(matches!(generate_dev_pki(&[], &v), Err(TrustError::NoCountries)));
    let err = generate_dev_pki(&[cc("DE"), cc("NL"), cc("de")], &v).unwrap_err();
    assert!(matches!(err, TrustError::DuplicateCountry(c) if c.as_str() == "DE"), "{err:?}");
    assert_eq!(err.to_string(), "country DE is listed more than once");

    assert!(matches!(
        Validity::new(NOW, NOW),
        Err(TrustError::EmptyValidity { not_before, not_after }) if not_before == not_after
    ));
    assert!(DevValidity::around(UnixTime(i64::MAX)).is_err());
    // Year 10000 cannot be written into a certificate.
    let too_far = DevValidity { leaf: Validity::new(NOW, UnixTime(253_402_300_800)).unwrap(), ..v };
    assert!(matches!(
        generate_dev_pki(&[cc("DE")], &too_far),
        Err(TrustError::TimeOutOfRange(253_402_300_800))
    ));
    let huge = DevValidity { leaf: Validity::new(UnixTime(i64::MIN), NOW).unwrap(), ..v };
    assert!(matches!(generate_dev_pki(&[cc("DE")], &huge), Err(TrustError::TimeOutOfRange(_))));
}

#[test]
fn files_follow_the_dev_world_layout() {
    let pki = pki(&["DE", "NL"]);
    let files = pki.files();
    let paths: Vec<String> =
        files.iter().map(|f| f.path.to_str().unwrap().replace('\\', "/")).collect();
    assert_eq!(
        paths,
        [
            "ca.pem",
            "ca.key.pem",
            "gateway/server.pem",
            "gateway/server.key.pem",
            "anchor/anchor.pem",
            "anchor/anchor.key.pem",
            "DE/auth.pem",
            "DE/auth.key.pem",
            "DE/signing.pem",
            "DE/signing.key.pem",
            "DE/server.pem",
            "DE/server.key.pem",
            "NL/auth.pem",
            "NL/auth.key.pem",
            "NL/signing.pem",
            "NL/signing.key.pem",
            "NL/server.pem",
            "NL/server.key.pem",
        ]
    );
    for f in &files {
        let key = f.path.to_str().unwrap().ends_with(".key.pem");
        assert_eq!(f.secret, key, "{}", f.path.display());
        let header =
            if key { "-----BEGIN PRIVATE KEY-----\n" } else { "-----BEGIN CERTIFICATE-----\n" };
        assert!(f.contents.starts_with(header), "{}", f.path.display());
        assert!(!f.contents.contains('\r'));
        if !key {
            // Every certificate file parses back to exactly the certificate it came from.
            let cert = Cert::parse(f.contents.as_bytes()).unwrap();
            assert!(
                [&pki.ca, &pki.gateway, &pki.anchor]
                    .into_iter()
                    .chain(pki.countries.iter().flat_map(|c| [&c.auth, &c.signing, &c.server]))
                    .any(|id| *id.cert() == cert)
            );
        }
    }
}

#[test]
fn private_keys_do_not_leak_through_debug() {
    let pki = pki(&["DE"]);
    let key = pki.ca.key().expose_secret();
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"));
    let body: String = key.lines().nth(1).unwrap().to_string();
    let debug = format!("{pki:?}");
    assert!(!debug.contains(&body), "a key line appears in Debug output");
    assert!(debug.contains("PrivateKeyPem(<redacted>)"));
}

// ---- OpenSSL as the independent oracle ----

/// `openssl verify` at `NOW`, with a purpose; returns whether it accepted.
fn verifies(dir: &Path, ca: &str, leaf: &str, purpose: &str) -> bool {
    let Some(o) = openssl() else { return true };
    let at = NOW.0.to_string();
    let out = o.run(dir, &["verify", "-attime", &at, "-purpose", purpose, "-CAfile", ca, leaf]);
    let text = String::from_utf8_lossy(&out.stdout);
    out.status.success() && text.trim() == format!("{leaf}: OK")
}

#[test]
fn openssl_accepts_the_leaves_for_their_purpose_and_nothing_else() {
    let Some(_) = openssl() else { return };
    let pki = pki(&["DE", "NL"]);
    let dir = write_out(&pki);
    let d = dir.path();
    assert!(verifies(d, "ca.pem", "gateway/server.pem", "sslserver"));
    for c in ["DE", "NL"] {
        assert!(verifies(d, "ca.pem", &format!("{c}/auth.pem"), "sslclient"), "{c}");
        // Negative: a client certificate is no server certificate, and vice versa.
        assert!(!verifies(d, "ca.pem", &format!("{c}/auth.pem"), "sslserver"), "{c}");
        // Signing certificates are self-signed: the TLS CA does not vouch for them.
        assert!(!verifies(d, "ca.pem", &format!("{c}/signing.pem"), "any"), "{c}");
        // The country's own services: a server (and callback-client) certificate.
        assert!(verifies(d, "ca.pem", &format!("{c}/server.pem"), "sslserver"), "{c}");
    }
    // A service joining the world later gets a server certificate from the same CA.
    let joined = localhost_server_from_ca(
        pki.ca.key().expose_secret(),
        &DevValidity::around(NOW).unwrap(),
        "herald exchange",
    )
    .unwrap();
    std::fs::write(d.join("joined.pem"), joined.cert_pem()).unwrap();
    assert!(verifies(d, "ca.pem", "joined.pem", "sslserver"));
    // The gateway's certificate also serves as its client certificate for callbacks.
    assert!(verifies(d, "ca.pem", "gateway/server.pem", "sslclient"));
    assert!(!verifies(d, "ca.pem", "anchor/anchor.pem", "any"));

    // Another PKI's CA does not accept these leaves.
    let other = write_out(&pki_other());
    std::fs::copy(other.path().join("ca.pem"), d.join("other-ca.pem")).unwrap();
    assert!(!verifies(d, "other-ca.pem", "gateway/server.pem", "sslserver"));

    // Outside the validity window the leaves are refused.
    let o = openssl().unwrap();
    let late = (NOW.0 + 398 * 86_400).to_string();
    let out = o.run(d, &["verify", "-attime", &late, "-CAfile", "ca.pem", "gateway/server.pem"]);
    assert!(!out.status.success());
}

fn pki_other() -> DevPki {
    pki(&["DE"])
}

#[test]
fn thumbprints_equal_openssls_fingerprints() {
    let Some(o) = openssl() else { return };
    let pki = pki(&["DE", "FR"]);
    let dir = write_out(&pki);
    let mut checked = 0;
    for f in pki.files().iter().filter(|f| !f.secret) {
        let cert = Cert::parse(f.contents.as_bytes()).unwrap();
        let file = f.path.to_str().unwrap();
        assert_eq!(cert.thumbprint().to_hex(), o.thumbprint(dir.path(), file), "{file}");
        checked += 1;
    }
    assert_eq!(checked, 3 + 2 * 3);
}

#[test]
fn openssl_reads_the_subjects_and_the_keys_match_the_certificates() {
    let Some(o) = openssl() else { return };
    let pki = pki(&["DE"]);
    let dir = write_out(&pki);
    let d = dir.path();
    for file in ["DE/auth.pem", "DE/signing.pem"] {
        let subject =
            o.ok(d, &["x509", "-noout", "-subject", "-nameopt", "sep_comma_plus", "-in", file]);
        assert!(subject.contains("C=DE"), "{file}: {subject}");
    }
    let san = o.ok(d, &["x509", "-noout", "-ext", "subjectAltName", "-in", "gateway/server.pem"]);
    assert!(san.contains("DNS:localhost") && san.contains("IP Address:127.0.0.1"), "{san}");

    for f in pki.files().iter().filter(|f| f.secret) {
        let key = f.path.to_str().unwrap();
        let cert = key.replace(".key.pem", ".pem");
        let from_key = o.ok(d, &["pkey", "-in", key, "-pubout"]);
        let from_cert = o.ok(d, &["x509", "-in", &cert, "-noout", "-pubkey"]);
        assert_eq!(from_key, from_cert, "{key} belongs to {cert}");
        let text = o.ok(d, &["pkey", "-in", key, "-noout", "-text"]);
        assert!(text.contains("prime256v1") || text.contains("P-256"), "{key}: {text}");
    }
}

#[test]
fn country_refuses_openssl_made_subjects_without_or_with_two_countries() {
    let Some(o) = openssl() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let make = |name: &str, subj: &str| {
        o.ok(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-days",
                "1",
                "-subj",
                subj,
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.pem"),
            ],
        );
        Cert::parse(&std::fs::read(d.join(format!("{name}.pem"))).unwrap()).unwrap()
    };
    assert_eq!(make("one", "/C=DE/O=x/CN=one").country().unwrap().as_str(), "DE");
    assert!(matches!(make("none", "/O=x/CN=none").country(), Err(TrustError::NoCountry)));
    assert!(matches!(
        make("two", "/C=DE/C=NL/CN=two").country(),
        Err(TrustError::SeveralCountries { count: 2 })
    ));
    // A multi-valued RDN hides the second C inside one set; it still counts.
    assert!(matches!(
        make("rdn", "/C=DE+C=NL/CN=rdn").country(),
        Err(TrustError::SeveralCountries { count: 2 })
    ));
    // OpenSSL's DER file parses to the same thumbprint as its PEM.
    o.ok(d, &["x509", "-in", "one.pem", "-outform", "DER", "-out", "one.der"]);
    let der = Cert::parse(&std::fs::read(d.join("one.der")).unwrap()).unwrap();
    assert_eq!(der.thumbprint().to_hex(), o.thumbprint(d, "one.pem"));
}
