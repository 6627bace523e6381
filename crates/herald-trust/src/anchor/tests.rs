use std::path::Path;
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

/// Issue 14, finding 5: the operator's signature covered the certificate only, so a store edit
/// could switch an entry's kind or un-revoke it. The entry signature covers kind, country,
/// thumbprint, revocation and host; EFGS's check alone still passes (it never covered them).
#[test]
fn kind_revocation_and_host_are_covered_by_the_entry_signature() {
    let pem = cert_pem("BE", "be");
    for (anchor, anchor_cert) in anchors() {
        let good = anchor.sign_entry(cc("BE"), TrustKind::Signing, &pem, None).unwrap();
        anchor_cert.verify_entry(&good).unwrap();
        let tampered = |change: &dyn Fn(&mut TrustEntry)| {
            let mut entry = good.clone();
            change(&mut entry);
            anchor_cert.verify_efgs_entry(&entry).unwrap();
            anchor_cert.verify_entry(&entry).unwrap_err()
        };
        for err in [
            tampered(&|e| e.kind = TrustKind::Authentication),
            tampered(&|e| e.kind = TrustKind::Callback),
            tampered(&|e| e.revoked = true),
            tampered(&|e| e.host = Some("x.example".into())),
            tampered(&|e| e.host = Some(String::new())),
        ] {
            assert!(matches!(err, TrustError::BadEntrySignature), "{err:?}");
        }
        assert!(
            tampered(&|e| e.revoked = true).to_string().contains("revocation"),
            "the message names what the signature covers"
        );

        // Un-revoking: the operator revoked (re-signed with revoked = true); clearing the flag
        // without the anchor key fails the check.
        let revoked = anchor.resign(&TrustEntry { revoked: true, ..good.clone() }).unwrap();
        assert!(revoked.revoked);
        assert_eq!(revoked.operator_signature, good.operator_signature, "deterministic");
        assert_ne!(revoked.entry_signature, good.entry_signature);
        anchor_cert.verify_entry(&revoked).unwrap();
        let unrevoked = TrustEntry { revoked: false, ..revoked.clone() };
        assert!(matches!(anchor_cert.verify_entry(&unrevoked), Err(TrustError::BadEntrySignature)));

        // A callback host is bound exactly (no case folding), and its absence too.
        let callback =
            anchor.sign_entry(cc("BE"), TrustKind::Callback, &pem, Some("nb.example.be")).unwrap();
        anchor_cert.verify_entry(&callback).unwrap();
        for host in [None, Some("NB.example.be"), Some("nb.example.be."), Some("other.example")] {
            let moved = TrustEntry { host: host.map(str::to_owned), ..callback.clone() };
            assert!(
                matches!(anchor_cert.verify_entry(&moved), Err(TrustError::BadEntrySignature)),
                "{host:?}"
            );
        }

        // Another entry's signature (same anchor) does not fit, nor a damaged one.
        let other =
            TrustEntry { entry_signature: callback.entry_signature.clone(), ..good.clone() };
        assert!(matches!(anchor_cert.verify_entry(&other), Err(TrustError::BadEntrySignature)));
        let raw = BASE64.decode(good.entry_signature.as_deref().unwrap()).unwrap();
        let mut flipped = raw.clone();
        *flipped.last_mut().unwrap() ^= 1;
        for bad in
            [BASE64.encode(&flipped), "not base64!".to_owned(), good.operator_signature.clone()]
        {
            let entry = TrustEntry { entry_signature: Some(bad), ..good.clone() };
            assert!(matches!(anchor_cert.verify_entry(&entry), Err(TrustError::BadEntrySignature)));
        }
        // Missing (an EFGS-shaped or pre-upgrade entry): refused, and said so.
        for missing in [None, Some(String::new())] {
            let entry = TrustEntry { entry_signature: missing, ..good.clone() };
            let err = anchor_cert.verify_entry(&entry).unwrap_err();
            assert!(matches!(err, TrustError::EntrySignatureMissing), "{err:?}");
            anchor_cert.verify_efgs_entry(&entry).unwrap();
            assert!(matches!(anchor.verify_entry(&entry), Err(TrustError::EntrySignatureMissing)));
            anchor.verify_efgs_entry(&entry).unwrap();
            // The operator signs it anew: it verifies, with the fields as they stand.
            let signed = anchor.resign(&entry).unwrap();
            anchor_cert.verify_entry(&signed).unwrap();
            assert_eq!(signed, good);
        }
    }
}

#[test]
fn resign_checks_the_certificate_and_not_the_old_signatures() {
    let pem = cert_pem("LU", "lu");
    let [(anchor, anchor_cert), (_, rsa_cert)] = anchors();
    let good = anchor.sign_entry(cc("LU"), TrustKind::Authentication, &pem, None).unwrap();
    // Garbage signatures are replaced: resign vouches for the entry as given (callers check
    // first, see its docs).
    let garbage = TrustEntry {
        operator_signature: "AAAA".into(),
        entry_signature: Some("AAAA".into()),
        ..good.clone()
    };
    assert_eq!(anchor.resign(&garbage).unwrap(), good);
    // ... but the certificate must be the entry's, of its country, with LF line endings.
    let wrong_thumbprint = TrustEntry { thumbprint: CertThumbprint([7; 32]), ..good.clone() };
    let err = anchor.resign(&wrong_thumbprint).unwrap_err();
    assert!(matches!(err, TrustError::ThumbprintMismatch { .. }), "{err:?}");
    let wrong_country = TrustEntry { country: cc("DE"), ..good.clone() };
    let err = anchor.resign(&wrong_country).unwrap_err();
    assert!(matches!(err, TrustError::CountryMismatch { .. }), "{err:?}");
    let crlf = TrustEntry { certificate_pem: pem.replace('\n', "\r\n"), ..good.clone() };
    assert!(matches!(anchor.resign(&crlf), Err(TrustError::PemLineEndings)));
    // The key's own check agrees with its certificate's.
    anchor.verify_entry(&good).unwrap();
    assert!(matches!(rsa_cert.verify_entry(&good), Err(TrustError::BadSignature)));
    anchor_cert.verify_entry(&good).unwrap();
}

/// The bytes of an entry signature, as documented on `TrustEntry::signed_fields`: a fixed
/// answer another implementation can check itself against.
#[test]
fn signed_fields_are_the_documented_encoding() {
    let entry = TrustEntry {
        country: cc("DE"),
        kind: TrustKind::Callback,
        certificate_pem: String::new(),
        thumbprint: CertThumbprint([0xab; 32]),
        operator_signature: String::new(),
        revoked: true,
        host: Some("nb.example.de".into()),
        entry_signature: None,
    };
    let mut want = Vec::new();
    want.extend_from_slice(&[0, 0, 0, 21]);
    want.extend_from_slice(b"herald-trust-entry/v1");
    want.extend_from_slice(&[0, 0, 0, 2]);
    want.extend_from_slice(b"DE");
    want.extend_from_slice(&[0, 0, 0, 8]);
    want.extend_from_slice(b"CALLBACK");
    want.extend_from_slice(&[0, 0, 0, 32]);
    want.extend_from_slice(&[0xab; 32]);
    want.extend_from_slice(&[0, 0, 0, 1, 1]);
    want.extend_from_slice(&[1, 0, 0, 0, 13]);
    want.extend_from_slice(b"nb.example.de");
    assert_eq!(entry.signed_fields(), want);

    let no_host = TrustEntry { host: None, revoked: false, ..entry.clone() };
    let mut want = entry.signed_fields();
    want.truncate(want.len() - 1 - 4 - 13 - 1 - 4);
    want.extend_from_slice(&[0, 0, 0, 1, 0, 0]);
    assert_eq!(no_host.signed_fields(), want);
    // Only the covered fields count: the certificate text and the signatures do not.
    let other_text = TrustEntry {
        certificate_pem: "x".into(),
        operator_signature: "y".into(),
        entry_signature: Some("z".into()),
        ..entry.clone()
    };
    assert_eq!(other_text.signed_fields(), entry.signed_fields());
}

#[test]
fn operator_signature_alone_checks_audit_fields() {
    let pem = cert_pem("IT", "it");
    let [(anchor, anchor_cert), (_, rsa_cert)] = anchors();
    let entry = anchor.sign_entry(cc("IT"), TrustKind::Signing, &pem, None).unwrap();
    let sig = &entry.operator_signature;
    anchor_cert.verify_operator_signature(&pem, sig).unwrap();
    let crlf = pem.replace('\n', "\r\n");
    assert!(matches!(
        anchor_cert.verify_operator_signature(&crlf, sig),
        Err(TrustError::BadSignature)
    ));
    assert!(matches!(rsa_cert.verify_operator_signature(&pem, sig), Err(TrustError::BadSignature)));
    assert!(matches!(
        anchor_cert.verify_operator_signature("", sig),
        Err(TrustError::EmptyCertificate)
    ));
    assert!(matches!(
        anchor_cert.verify_operator_signature(&pem, ""),
        Err(TrustError::EmptySignature)
    ));
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

fn covered_strategy() -> impl proptest::strategy::Strategy<Value = TrustEntry> {
    use proptest::prelude::*;
    (
        prop::sample::select(vec!["DE", "NL", "EU", "ED"]),
        prop::sample::select(TrustKind::ALL.to_vec()),
        prop::sample::select(vec![[0u8; 32], [1; 32], [0xab; 32]]),
        any::<bool>(),
        prop::option::of(prop::sample::select(vec!["", "a", "ab", "\u{0}", "\u{1}a", "DE"])),
    )
        .prop_map(|(country, kind, thumbprint, revoked, host)| TrustEntry {
            country: cc(country),
            kind,
            certificate_pem: String::new(),
            thumbprint: CertThumbprint(thumbprint),
            operator_signature: String::new(),
            revoked,
            host: host.map(str::to_owned),
            entry_signature: None,
        })
}

proptest::proptest! {
    /// Injective: equal bytes exactly when the covered fields are equal.
    #[test]
    fn signed_fields_are_injective(a in covered_strategy(), b in covered_strategy()) {
        let same = (a.country, a.kind, a.thumbprint, a.revoked, &a.host)
            == (b.country, b.kind, b.thumbprint, b.revoked, &b.host);
        proptest::prop_assert_eq!(a.signed_fields() == b.signed_fields(), same);
    }
}

// ---- OpenSSL as the independent oracle (EFGS's operator tooling is `openssl dgst`) ----

/// An anchor made the way EFGS's `tools/` make it (`openssl req -x509`), `ec` (P-256) or
/// `rsa` (2048 bits), written to `<name>.key` / `<name>.pem` / `<name>_pub.pem` in `dir`.
fn openssl_anchor(dir: &Path, name: &str, kind: &str) -> (TrustAnchor, AnchorCertificate) {
    let o = openssl().unwrap();
    let newkey: &[&str] = if kind == "ec" {
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    } else {
        &["-newkey", "rsa:2048"]
    };
    let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
    let mut args = vec!["req", "-x509"];
    args.extend_from_slice(newkey);
    args.extend_from_slice(&[
        "-nodes",
        "-days",
        "720",
        "-subj",
        "/C=DE/CN=EFGS-TrustAnchor DEV",
        "-keyout",
        &key,
        "-out",
        &pem,
    ]);
    o.ok(dir, &args);
    o.ok(dir, &["x509", "-in", &pem, "-pubkey", "-noout", "-out", &format!("{name}_pub.pem")]);
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    (
        TrustAnchor::from_pkcs8_pem(&read(&key)).unwrap(),
        AnchorCertificate::from_pem(&read(&pem)).unwrap(),
    )
}

/// A country certificate made by openssl, written to `<file>`; returns its text.
fn openssl_country_cert(dir: &Path, file: &str, subject: &str) -> String {
    let o = openssl().unwrap();
    let key = format!("{file}.key");
    o.ok(
        dir,
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", subject,
            "-keyout", &key, "-out", file,
        ],
    );
    std::fs::read_to_string(dir.join(file)).unwrap()
}

#[test]
fn openssl_verifies_our_signatures() {
    let Some(o) = openssl() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cert = openssl_country_cert(d, "de.pem", "/C=DE/O=herald/CN=herald DE national backend");
    for kind in ["ec", "rsa"] {
        let (anchor, anchor_cert) = openssl_anchor(d, kind, kind);
        assert_eq!(anchor.algorithm(), anchor_cert.algorithm());
        assert!(anchor.belongs_to(&anchor_cert));
        let entry = anchor.sign_entry(cc("DE"), TrustKind::Authentication, &cert, None).unwrap();
        assert_eq!(entry.thumbprint.to_hex(), o.thumbprint(d, "de.pem"), "{kind}");
        let sig = BASE64.decode(&entry.operator_signature).unwrap();
        std::fs::write(d.join("sig.der"), &sig).unwrap();
        let pub_key = format!("{kind}_pub.pem");
        let args = ["dgst", "-sha256", "-verify", &pub_key, "-signature", "sig.der", "de.pem"];
        assert_eq!(o.ok(d, &args).trim(), "Verified OK", "{kind}");
        // The entry signature, over the documented field bytes.
        let sig = BASE64.decode(entry.entry_signature.as_deref().unwrap()).unwrap();
        std::fs::write(d.join("entry-sig.der"), &sig).unwrap();
        std::fs::write(d.join("fields.bin"), entry.signed_fields()).unwrap();
        let args =
            ["dgst", "-sha256", "-verify", &pub_key, "-signature", "entry-sig.der", "fields.bin"];
        assert_eq!(o.ok(d, &args).trim(), "Verified OK", "{kind}");
        // ... and not over the fields of the same entry revoked.
        let revoked = TrustEntry { revoked: true, ..entry.clone() };
        std::fs::write(d.join("fields.bin"), revoked.signed_fields()).unwrap();
        assert!(!o.run(d, &args).status.success(), "{kind}");

        // The oracle is not a yes-man: the same signature over a CRLF copy fails.
        std::fs::write(d.join("de-crlf.pem"), cert.replace('\n', "\r\n")).unwrap();
        let args = ["dgst", "-sha256", "-verify", &pub_key, "-signature", "sig.der", "de-crlf.pem"];
        assert!(!o.run(d, &args).status.success(), "{kind}");
    }
}

#[test]
fn openssl_signatures_verify_here() {
    let Some(o) = openssl() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cert = openssl_country_cert(d, "nl.pem", "/C=NL/O=herald/CN=herald NL batch signing");
    let thumbprint = CertThumbprint::from_hex(&o.thumbprint(d, "nl.pem")).unwrap();
    for kind in ["ec", "rsa"] {
        let (anchor, anchor_cert) = openssl_anchor(d, kind, kind);
        let key = format!("{kind}.key");
        // ECDSA signatures are randomized: several rounds cover low and high `s`.
        let rounds = if kind == "ec" { 8 } else { 1 };
        for _ in 0..rounds {
            // EFGS: `openssl dgst -sha256 -sign anchor.key cert.pem | base64 -w0`.
            o.ok(d, &["dgst", "-sha256", "-sign", &key, "-out", "sig.bin", "nl.pem"]);
            let signature = o.ok(d, &["base64", "-A", "-in", "sig.bin"]).trim().to_owned();
            let mut entry = TrustEntry {
                country: cc("NL"),
                kind: TrustKind::Signing,
                certificate_pem: cert.clone(),
                thumbprint,
                operator_signature: signature.clone(),
                revoked: false,
                host: None,
                entry_signature: None,
            };
            // An EFGS-shaped entry: EFGS's check passes, herald's full check wants more.
            anchor_cert.verify_efgs_entry(&entry).unwrap();
            let err = anchor_cert.verify_entry(&entry).unwrap_err();
            assert!(matches!(err, TrustError::EntrySignatureMissing), "{err:?}");
            // The entry signature made by openssl over the documented bytes.
            std::fs::write(d.join("fields.bin"), entry.signed_fields()).unwrap();
            o.ok(d, &["dgst", "-sha256", "-sign", &key, "-out", "esig.bin", "fields.bin"]);
            let esig = o.ok(d, &["base64", "-A", "-in", "esig.bin"]).trim().to_owned();
            entry.entry_signature = Some(esig);
            anchor_cert.verify_entry(&entry).unwrap();
            if kind == "rsa" {
                // PKCS#1 v1.5 is deterministic: our entry carries openssl's exact bytes.
                let ours = anchor.sign_entry(cc("NL"), TrustKind::Signing, &cert, None).unwrap();
                assert_eq!(ours, entry);
            }
            // And a tampered text still fails with openssl's signature.
            let crlf = TrustEntry { certificate_pem: cert.replace('\n', "\r\n"), ..entry.clone() };
            assert!(matches!(anchor_cert.verify_entry(&crlf), Err(TrustError::BadSignature)));
            // A tampered kind fails the entry signature.
            let kind_changed = TrustEntry { kind: TrustKind::Authentication, ..entry };
            assert!(matches!(
                anchor_cert.verify_entry(&kind_changed),
                Err(TrustError::BadEntrySignature)
            ));
        }
    }
}

#[test]
fn openssl_made_weak_or_foreign_keys_are_refused() {
    let Some(o) = openssl() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let read = |f: &str| std::fs::read_to_string(d.join(f)).unwrap();

    o.ok(
        d,
        &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", "weak.key"],
    );
    let err = TrustAnchor::from_pkcs8_pem(&read("weak.key")).unwrap_err();
    assert!(matches!(err, TrustError::WeakRsaKey { bits: 1024 }), "{err:?}");
    o.ok(d, &["req", "-x509", "-key", "weak.key", "-subj", "/CN=weak", "-out", "weak.pem"]);
    let err = AnchorCertificate::from_pem(&read("weak.pem")).unwrap_err();
    assert!(matches!(err, TrustError::WeakRsaKey { bits: 1024 }), "{err:?}");
    assert_eq!(err.to_string(), "rsa key has 1024 bits; at least 2048 are required");

    // A 3072-bit RSA anchor (what the SDD asks of signing keys) is fine.
    o.ok(
        d,
        &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072", "-out", "big.key"],
    );
    assert_eq!(
        TrustAnchor::from_pkcs8_pem(&read("big.key")).unwrap().algorithm(),
        AnchorAlgorithm::RsaPkcs1v15Sha256
    );

    // Traditional ("EC PRIVATE KEY", "RSA PRIVATE KEY") and encrypted PKCS#8 files are refused
    // with a hint.
    o.ok(d, &["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ec-trad.key"]);
    let err = TrustAnchor::from_pkcs8_pem(&read("ec-trad.key")).unwrap_err();
    assert!(matches!(&err, TrustError::KeyLabel { label } if label == "EC PRIVATE KEY"), "{err}");
    o.ok(d, &["rsa", "-in", "big.key", "-traditional", "-out", "rsa-trad.key"]);
    let err = TrustAnchor::from_pkcs8_pem(&read("rsa-trad.key")).unwrap_err();
    assert!(matches!(&err, TrustError::KeyLabel { label } if label == "RSA PRIVATE KEY"), "{err}");
    o.ok(d, &["pkcs8", "-topk8", "-in", "ec-trad.key", "-passout", "pass:x", "-out", "enc.key"]);
    let err = TrustAnchor::from_pkcs8_pem(&read("enc.key")).unwrap_err();
    assert!(
        matches!(&err, TrustError::KeyLabel { label } if label == "ENCRYPTED PRIVATE KEY"),
        "{err}"
    );
    // The conversion the hint names works.
    o.ok(d, &["pkcs8", "-topk8", "-nocrypt", "-in", "ec-trad.key", "-out", "ec.key"]);
    assert_eq!(
        TrustAnchor::from_pkcs8_pem(&read("ec.key")).unwrap().algorithm(),
        AnchorAlgorithm::EcdsaP256Sha256
    );
}
