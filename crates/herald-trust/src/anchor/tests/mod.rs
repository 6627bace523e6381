use std::sync::OnceLock;

use herald_model::{CertThumbprint, UnixTime};
use rand::SeedableRng as _;
use rcgen::{
    CertificateParams, DistinguishedName, DnType, DnValue, KeyPair, PKCS_ECDSA_P256_SHA256,
    PKCS_RSA_SHA256,
};

use super::*;
use crate::testutil::openssl;
use crate::{DevValidity, generate_dev_pki};

fn cc(s: &str) -> CountryCode {
    s.parse().unwrap()
}

/// A self-signed certificate (as PEM, LF) whose subject is `C=<country>, CN=<cn>`; `country`
/// may be empty for none.
fn cert_pem(country: &str, cn: &str) -> String {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    if !country.is_empty() {
        dn.push(DnType::CountryName, DnValue::PrintableString(country.try_into().unwrap()));
    }
    dn.push(DnType::CommonName, cn);
    params.distinguished_name = dn;
    let pem = params.self_signed(&key).unwrap().pem();
    assert!(!pem.contains('\r') && pem.ends_with("-----END CERTIFICATE-----\n"), "{pem:?}");
    pem
}

/// A trust anchor of the given rcgen algorithm: (PKCS#8 key PEM, certificate PEM).
fn anchor_pems(alg: &'static rcgen::SignatureAlgorithm) -> (String, String) {
    let key = KeyPair::generate_for(alg).unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, "herald test trust anchor");
    let cert = params.self_signed(&key).unwrap();
    (key.serialize_pem(), cert.pem())
}

fn load((key, cert): &(String, String)) -> (TrustAnchor, AnchorCertificate) {
    (TrustAnchor::from_pkcs8_pem(key).unwrap(), AnchorCertificate::from_pem(cert).unwrap())
}

/// The two anchors every test runs with: ECDSA P-256 and RSA-2048 (generated once; RSA key
/// generation is slow).
fn anchors() -> [(TrustAnchor, AnchorCertificate); 2] {
    static EC: OnceLock<(String, String)> = OnceLock::new();
    static RSA: OnceLock<(String, String)> = OnceLock::new();
    [
        load(EC.get_or_init(|| anchor_pems(&PKCS_ECDSA_P256_SHA256))),
        load(RSA.get_or_init(|| anchor_pems(&PKCS_RSA_SHA256))),
    ]
}

/// A second, unrelated pair of anchors, for "signed by another anchor".
fn other_anchors() -> [(TrustAnchor, AnchorCertificate); 2] {
    static EC: OnceLock<(String, String)> = OnceLock::new();
    static RSA: OnceLock<(String, String)> = OnceLock::new();
    [
        load(EC.get_or_init(|| anchor_pems(&PKCS_ECDSA_P256_SHA256))),
        load(RSA.get_or_init(|| anchor_pems(&PKCS_RSA_SHA256))),
    ]
}

#[test]
fn kinds_have_efgs_names() {
    for (kind, text) in [
        (TrustKind::Authentication, "AUTHENTICATION"),
        (TrustKind::Signing, "SIGNING"),
        (TrustKind::Callback, "CALLBACK"),
    ] {
        assert_eq!(kind.as_str(), text);
        assert_eq!(kind.to_string(), text);
        assert_eq!(TrustKind::parse(text).unwrap(), kind);
        assert_eq!(text.parse::<TrustKind>().unwrap(), kind);
    }
    for bad in ["signing", "Signing", " SIGNING", "EFGS_TA", ""] {
        let err = TrustKind::parse(bad).unwrap_err();
        assert!(matches!(&err, TrustError::UnknownKind { value } if value == bad), "{err:?}");
    }
    assert_eq!(
        TrustKind::parse("auth").unwrap_err().to_string(),
        r#"trust kind "auth" is not AUTHENTICATION, SIGNING or CALLBACK"#
    );
}

#[test]
fn signed_entries_carry_the_certificate_identity_and_verify() {
    let pem = cert_pem("DE", "herald DE batch signing");
    let cert = Cert::from_pem(pem.as_bytes()).unwrap();
    let [ec, rsa] = anchors();
    assert_eq!(ec.0.algorithm(), AnchorAlgorithm::EcdsaP256Sha256);
    assert_eq!(ec.1.algorithm(), AnchorAlgorithm::EcdsaP256Sha256);
    assert_eq!(rsa.0.algorithm(), AnchorAlgorithm::RsaPkcs1v15Sha256);
    assert_eq!(rsa.1.algorithm(), AnchorAlgorithm::RsaPkcs1v15Sha256);
    for (anchor, anchor_cert) in [&ec, &rsa] {
        assert!(anchor.belongs_to(anchor_cert));
        let entry = anchor.sign_entry(cc("DE"), TrustKind::Signing, &pem, None).unwrap();
        assert_eq!(entry.country, cc("DE"));
        assert_eq!(entry.kind, TrustKind::Signing);
        assert_eq!(entry.certificate_pem, pem);
        assert_eq!(entry.thumbprint, cert.thumbprint());
        assert!(!entry.revoked);
        assert_eq!(entry.host, None);
        assert!(!entry.operator_signature.contains(['\n', '\r', ' ']));
        let entry_signature = entry.entry_signature.as_deref().unwrap();
        assert!(!entry_signature.contains(['\n', '\r', ' ']));
        assert_ne!(entry_signature, entry.operator_signature);
        anchor_cert.verify_entry(&entry).unwrap();
        anchor_cert.verify_efgs_entry(&entry).unwrap();
        anchor.verify_entry(&entry).unwrap();
        anchor_cert
            .verify_operator_signature(&entry.certificate_pem, &entry.operator_signature)
            .unwrap();

        // Deterministic: RFC 6979 for ECDSA, PKCS#1 v1.5 by definition.
        let again = anchor.sign_entry(cc("DE"), TrustKind::Signing, &pem, None).unwrap();
        assert_eq!(again, entry);

        let callback = anchor
            .sign_entry(cc("DE"), TrustKind::Callback, &pem, Some("backend.example.de"))
            .unwrap();
        assert_eq!(callback.host.as_deref(), Some("backend.example.de"));
        anchor_cert.verify_entry(&callback).unwrap();
    }
    // Each key belongs to its own certificate only.
    let [other_ec, other_rsa] = other_anchors();
    assert!(!ec.0.belongs_to(&rsa.1) && !rsa.0.belongs_to(&ec.1));
    assert!(!ec.0.belongs_to(&other_ec.1) && !rsa.0.belongs_to(&other_rsa.1));
}

#[test]
fn signing_with_randomness_verifies_and_rsa_stays_the_same() {
    let pem = cert_pem("NL", "herald NL national backend");
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let [(ec, ec_cert), (rsa, rsa_cert)] = anchors();

    let plain = ec.sign_entry(cc("NL"), TrustKind::Authentication, &pem, None).unwrap();
    let hedged =
        ec.sign_entry_with_rng(cc("NL"), TrustKind::Authentication, &pem, None, &mut rng).unwrap();
    assert_ne!(hedged.operator_signature, plain.operator_signature, "hedged nonce");
    assert_ne!(hedged.entry_signature, plain.entry_signature, "hedged nonce");
    ec_cert.verify_entry(&hedged).unwrap();

    let plain = rsa.sign_entry(cc("NL"), TrustKind::Authentication, &pem, None).unwrap();
    let blinded =
        rsa.sign_entry_with_rng(cc("NL"), TrustKind::Authentication, &pem, None, &mut rng).unwrap();
    assert_eq!(blinded, plain, "blinding does not change a PKCS#1 v1.5 signature");
    rsa_cert.verify_entry(&blinded).unwrap();

    // The checks run before signing either way.
    let err = rsa
        .sign_entry_with_rng(cc("DE"), TrustKind::Authentication, &pem, None, &mut rng)
        .unwrap_err();
    assert!(matches!(err, TrustError::CountryMismatch { .. }), "{err:?}");
}

#[test]
fn sign_entry_refuses_what_it_cannot_vouch_for() {
    let [(anchor, _), _] = anchors();
    let sign = |country: &str, pem: &str| {
        anchor.sign_entry(cc(country), TrustKind::Signing, pem, None).unwrap_err()
    };
    let de = cert_pem("DE", "de");

    let err = sign("NL", &de);
    assert!(
        matches!(err, TrustError::CountryMismatch { expected, actual }
            if expected == cc("NL") && actual == cc("DE")),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "certificate subject names country DE, but the entry is for NL");

    let err = sign("DE", &de.replace('\n', "\r\n"));
    assert!(matches!(err, TrustError::PemLineEndings), "{err:?}");

    assert!(matches!(sign("DE", ""), TrustError::Pem { .. }));
    assert!(matches!(sign("DE", "not a certificate"), TrustError::Pem { .. }));
    assert!(matches!(sign("DE", NOT_DER), TrustError::Der { .. }));
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap().serialize_pem();
    assert!(matches!(sign("DE", &key), TrustError::PemLabel { .. }));
    // Two certificates in one text are not "one certificate".
    let two = format!("{de}{}", cert_pem("DE", "second"));
    assert!(matches!(sign("DE", &two), TrustError::Pem { .. }), "{:?}", sign("DE", &two));
    // No C, or two of them: the country question has no answer.
    assert!(matches!(sign("DE", &cert_pem("", "no country")), TrustError::NoCountry));
}

/// Well-formed PEM around DER that is no certificate (an empty SEQUENCE).
const NOT_DER: &str = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";

/// What `verify_entry` says about `entry`.
fn verdict(anchor: &AnchorCertificate, entry: &TrustEntry) -> Result<(), TrustError> {
    anchor.verify_entry(entry)
}

#[test]
fn every_tamper_is_refused_with_its_reason() {
    let [other_ec, other_rsa] = other_anchors();
    for ((anchor, anchor_cert), (other, _)) in anchors().into_iter().zip([other_ec, other_rsa]) {
        let pem = cert_pem("DE", "herald DE national backend");
        let good = anchor.sign_entry(cc("DE"), TrustKind::Authentication, &pem, None).unwrap();
        verdict(&anchor_cert, &good).unwrap();
        let tampered = |change: &dyn Fn(&mut TrustEntry)| {
            let mut entry = good.clone();
            change(&mut entry);
            verdict(&anchor_cert, &entry).unwrap_err()
        };

        // The PEM text: the same certificate (same DER, same thumbprint) with other bytes.
        let err = tampered(&|e| e.certificate_pem = e.certificate_pem.replace('\n', "\r\n"));
        assert!(matches!(err, TrustError::BadSignature), "CRLF: {err:?}");
        let err = tampered(&|e| e.certificate_pem.push('\n'));
        assert!(matches!(err, TrustError::BadSignature), "extra LF: {err:?}");
        let err = tampered(&|e| e.certificate_pem = e.certificate_pem.trim_end().to_owned());
        assert!(matches!(err, TrustError::BadSignature), "no final LF: {err:?}");
        let err = tampered(&|e| e.certificate_pem.insert(0, ' '));
        assert!(matches!(err, TrustError::BadSignature), "leading space: {err:?}");
        // One byte of the header changed: the text is no longer PEM.
        let err =
            tampered(&|e| e.certificate_pem = e.certificate_pem.replacen("BEGIN", "BEGIn", 1));
        assert!(matches!(err, TrustError::Pem { .. }), "header: {err:?}");
        // Another certificate of the same country under the old thumbprint and signature.
        let other_pem = cert_pem("DE", "herald DE impostor");
        let other_thumbprint = Cert::from_pem(other_pem.as_bytes()).unwrap().thumbprint();
        let err = tampered(&|e| e.certificate_pem.clone_from(&other_pem));
        assert!(
            matches!(err, TrustError::ThumbprintMismatch { expected, actual }
                if expected == good.thumbprint && actual == other_thumbprint),
            "swapped certificate: {err:?}"
        );
        // ... and with its own thumbprint: only the signature is left to catch it.
        let err = tampered(&|e| {
            e.certificate_pem.clone_from(&other_pem);
            e.thumbprint = other_thumbprint;
        });
        assert!(matches!(err, TrustError::BadSignature), "swapped + thumbprint: {err:?}");
        // Unparsable certificate text.
        let err = tampered(&|e| e.certificate_pem = "garbage".to_owned());
        assert!(matches!(err, TrustError::Pem { .. }), "{err:?}");
        let err = tampered(&|e| e.certificate_pem = NOT_DER.to_owned());
        assert!(matches!(err, TrustError::Der { .. }), "{err:?}");
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap().serialize_pem();
        let err = tampered(&|e| e.certificate_pem.clone_from(&key));
        assert!(matches!(err, TrustError::PemLabel { .. }), "{err:?}");
        let err = tampered(&|e| e.certificate_pem.clear());
        assert!(matches!(err, TrustError::EmptyCertificate), "{err:?}");

        // The thumbprint.
        let err = tampered(&|e| e.thumbprint = CertThumbprint([0xab; 32]));
        assert!(matches!(err, TrustError::ThumbprintMismatch { .. }), "{err:?}");
        assert!(err.to_string().contains(&"ab".repeat(32)), "{err}");
        // The country.
        let err = tampered(&|e| e.country = cc("NL"));
        assert!(
            matches!(err, TrustError::CountryMismatch { expected, actual }
                if expected == cc("NL") && actual == cc("DE")),
            "{err:?}"
        );

        // The signature: another anchor's, truncated, damaged, not Base64, empty.
        let by_other = other.sign_entry(cc("DE"), TrustKind::Authentication, &pem, None).unwrap();
        let err = tampered(&|e| e.operator_signature.clone_from(&by_other.operator_signature));
        assert!(matches!(err, TrustError::BadSignature), "other anchor: {err:?}");
        let raw = BASE64.decode(&good.operator_signature).unwrap();
        let err = tampered(&|e| e.operator_signature = BASE64.encode(&raw[..raw.len() - 1]));
        assert!(matches!(err, TrustError::BadSignature), "truncated: {err:?}");
        let err = tampered(&|e| e.operator_signature = BASE64.encode(&raw[..raw.len() / 2]));
        assert!(matches!(err, TrustError::BadSignature), "half: {err:?}");
        let mut flipped = raw.clone();
        *flipped.last_mut().unwrap() ^= 1;
        let err = tampered(&|e| e.operator_signature = BASE64.encode(&flipped));
        assert!(matches!(err, TrustError::BadSignature), "flipped: {err:?}");
        let mut longer = raw.clone();
        longer.push(0);
        let err = tampered(&|e| e.operator_signature = BASE64.encode(&longer));
        assert!(matches!(err, TrustError::BadSignature), "trailing byte: {err:?}");
        let err = tampered(&|e| {
            e.operator_signature.pop();
        });
        assert!(matches!(err, TrustError::SignatureNotBase64), "truncated text: {err:?}");
        let err = tampered(&|e| e.operator_signature.insert(8, '\n'));
        assert!(matches!(err, TrustError::SignatureNotBase64), "two lines: {err:?}");
        let err = tampered(&|e| e.operator_signature = format!("-{}", &e.operator_signature[1..]));
        assert!(matches!(err, TrustError::SignatureNotBase64), "URL-safe alphabet: {err:?}");
        let err = tampered(&|e| e.operator_signature.clear());
        assert!(matches!(err, TrustError::EmptySignature), "{err:?}");
    }
}

#[test]
fn ecdsa_and_rsa_signatures_are_not_interchangeable() {
    let pem = cert_pem("FR", "fr");
    let [(ec, ec_cert), (rsa, rsa_cert)] = anchors();
    let by_ec = ec.sign_entry(cc("FR"), TrustKind::Signing, &pem, None).unwrap();
    let by_rsa = rsa.sign_entry(cc("FR"), TrustKind::Signing, &pem, None).unwrap();
    assert!(matches!(rsa_cert.verify_entry(&by_ec), Err(TrustError::BadSignature)));
    assert!(matches!(ec_cert.verify_entry(&by_rsa), Err(TrustError::BadSignature)));
}

#[test]
fn keys_and_certificates_that_are_not_anchors_are_refused() {
    let cert = cert_pem("DE", "de");
    let err = TrustAnchor::from_pkcs8_pem(&cert).unwrap_err();
    assert!(matches!(&err, TrustError::KeyLabel { label } if label == "CERTIFICATE"), "{err:?}");
    assert!(err.to_string().contains("openssl pkcs8 -topk8 -nocrypt"), "{err}");
    assert!(matches!(TrustAnchor::from_pkcs8_pem("nonsense"), Err(TrustError::KeyPem { .. })));
    assert!(matches!(TrustAnchor::from_pkcs8_der(b"\x30\x00"), Err(TrustError::PrivateKey { .. })));

    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap().serialize_pem();
    assert!(matches!(AnchorCertificate::from_pem(&key), Err(TrustError::PemLabel { .. })));

    // Ed25519 and P-384 (rcgen makes both).
    for alg in [&rcgen::PKCS_ED25519, &rcgen::PKCS_ECDSA_P384_SHA384] {
        let (key, cert) = anchor_pems(alg);
        let key_err = TrustAnchor::from_pkcs8_pem(&key).unwrap_err();
        let cert_err = AnchorCertificate::from_pem(&cert).unwrap_err();
        if alg == &rcgen::PKCS_ED25519 {
            assert!(matches!(key_err, TrustError::UnsupportedKey { .. }), "{key_err:?}");
            assert!(matches!(cert_err, TrustError::UnsupportedKey { .. }), "{cert_err:?}");
            assert!(key_err.to_string().contains("1.3.101.112"), "{key_err}");
        } else {
            assert!(matches!(key_err, TrustError::UnsupportedCurve { .. }), "{key_err:?}");
            assert!(matches!(cert_err, TrustError::UnsupportedCurve { .. }), "{cert_err:?}");
            assert!(cert_err.to_string().contains("1.3.132.0.34"), "{cert_err}");
        }
    }
}

#[test]
fn debug_does_not_show_the_key() {
    for (anchor, _) in anchors() {
        let debug = format!("{anchor:?}");
        assert!(debug.contains("<redacted>"), "{debug}");
        assert!(debug.len() < 120, "{debug}");
    }
}

#[test]
fn dev_pki_entries_verify_with_its_anchor() {
    let countries = [cc("DE"), cc("NL"), cc("FR")];
    let validity = DevValidity::around(UnixTime(1_790_000_000)).unwrap();
    let pki = generate_dev_pki(&countries, &validity).unwrap();
    let anchor = TrustAnchor::from_pkcs8_pem(pki.anchor.key().expose_secret()).unwrap();
    let anchor_cert = AnchorCertificate::from_pem(pki.anchor.cert_pem()).unwrap();
    assert!(anchor.belongs_to(&anchor_cert));
    assert_eq!(anchor.algorithm(), AnchorAlgorithm::EcdsaP256Sha256);

    let mut entries = Vec::new();
    for c in &pki.countries {
        for (kind, id) in [(TrustKind::Authentication, &c.auth), (TrustKind::Signing, &c.signing)] {
            let entry = anchor.sign_entry(c.country, kind, id.cert_pem(), None).unwrap();
            assert_eq!(entry.thumbprint, id.thumbprint());
            anchor_cert.verify_entry(&entry).unwrap();
            entries.push(entry);
        }
        // A country's certificate cannot be listed under another country.
        let other = countries.iter().find(|o| **o != c.country).unwrap();
        let err = anchor.sign_entry(*other, TrustKind::Signing, c.signing.cert_pem(), None);
        assert!(matches!(err, Err(TrustError::CountryMismatch { .. })), "{err:?}");
    }
    assert_eq!(entries.len(), 6);

    // Through the file format and back, everything still verifies.
    let list = crate::TrustList { entries };
    let back = crate::TrustList::from_json(&list.to_json()).unwrap();
    assert_eq!(back, list);
    for entry in &back.entries {
        anchor_cert.verify_entry(entry).unwrap();
    }

    // Another dev world's anchor does not vouch for these entries.
    let other = generate_dev_pki(&countries, &validity).unwrap();
    let other_cert = AnchorCertificate::from_pem(other.anchor.cert_pem()).unwrap();
    for entry in &back.entries {
        assert!(matches!(other_cert.verify_entry(entry), Err(TrustError::BadSignature)));
    }
}

mod entry;
mod openssl;
