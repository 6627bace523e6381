//! OpenSSL as the independent oracle (EFGS's operator tooling is `openssl dgst`).

use std::path::Path;

use super::*;

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
