//! The entry signature: what it covers, its documented encoding, re-signing, EFGS's check alone.

use super::*;

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
