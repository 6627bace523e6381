//! Receipts checked by OpenSSL, which we did not write: `openssl pkeyutl -verify -rawin` over
//! the spec §5 message with the SPKI PEM the exchange publishes; a changed byte fails.

use base64::Engine as _;
use herald_exchange::receipt::{ReceiptSigner, Track, message};

fn openssl_verifies(dir: &std::path::Path, msg: &[u8], signature: &[u8]) -> Option<bool> {
    std::fs::write(dir.join("msg"), msg).unwrap();
    std::fs::write(dir.join("sig"), signature).unwrap();
    let out = herald_testkit::openssl()?
        .args(["pkeyutl", "-verify", "-pubin", "-inkey", "receipt-signing.pub.pem", "-rawin"])
        .args(["-in", "msg", "-sigfile", "sig"])
        .current_dir(dir)
        .output()
        .unwrap();
    Some(out.status.success())
}

#[test]
fn openssl_verifies_receipts_of_every_track_and_refuses_a_changed_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (signer, _) = ReceiptSigner::generate().unwrap();
    std::fs::write(dir.path().join("receipt-signing.pub.pem"), signer.public_key_pem()).unwrap();
    let body =
        br#"{"title":"Ransomware on the imaging network","aware_at":"2026-12-07T08:00:00Z"}"#;
    for track in [Track::Mandatory, Track::Sharing, Track::Anonymous] {
        let receipt = signer.sign(track, body, 1_796_640_967_654_321);
        let digest: [u8; 32] = hex::decode(&receipt.sha256).unwrap().try_into().unwrap();
        let msg = message(&digest, &receipt.received_at, &receipt.track);
        let signature =
            base64::engine::general_purpose::STANDARD.decode(&receipt.signature).unwrap();
        let Some(ok) = openssl_verifies(dir.path(), &msg, &signature) else { return };
        assert!(ok, "{track:?}: openssl refused a genuine receipt");
        for at in [0, 17, 18, 50, msg.len() - 1] {
            let mut changed = msg.clone();
            changed[at] ^= 1;
            assert_eq!(
                openssl_verifies(dir.path(), &changed, &signature),
                Some(false),
                "byte {at}"
            );
        }
        let mut forged = signature.clone();
        forged[10] ^= 0x80;
        assert_eq!(openssl_verifies(dir.path(), &msg, &forged), Some(false));
    }
}
