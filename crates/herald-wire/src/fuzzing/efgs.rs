//! Fuzz entry points for EFGS batches and CMS.

use crate::{cms, efgs};

/// EFGS protobuf batches: decoding never panics; what validates round-trips through protobuf
/// and JSON, and its signed bytes equal those of its wire form.
pub fn fuzz_efgs_protobuf(data: &[u8]) {
    let Ok(raw) = efgs::decode_protobuf_raw(data) else { return };
    let raw_bytes = efgs::batch_signed_bytes_raw(&raw.keys);
    let Ok(keys) = efgs::validate_all(&raw.keys) else { return };
    assert_eq!(efgs::batch_signed_bytes(&keys), raw_bytes, "validated keys keep the signed bytes");
    let again = efgs::decode_protobuf(&efgs::encode_protobuf(&keys));
    assert_eq!(again.as_ref(), Ok(&keys), "protobuf round trip");
    let again = efgs::decode_json(efgs::encode_json(&keys).as_bytes());
    assert_eq!(again.as_ref(), Ok(&keys), "json round trip");
}

/// EFGS JSON batches: decoding never panics; what decodes round-trips through JSON and protobuf.
pub fn fuzz_efgs_json(data: &[u8]) {
    let Ok(keys) = efgs::decode_json(data) else { return };
    let again = efgs::decode_json(efgs::encode_json(&keys).as_bytes());
    assert_eq!(again.as_ref(), Ok(&keys), "json round trip");
    let again = efgs::decode_protobuf(&efgs::encode_protobuf(&keys));
    assert_eq!(again.as_ref(), Ok(&keys), "protobuf round trip");
    let _ = efgs::batch_signed_bytes(&keys);
}

/// CMS verification never panics, whatever the bytes. The first byte chooses how much of the
/// rest is the detached content, so inputs can reach the signature check.
pub fn fuzz_cms(data: &[u8]) {
    let _ = cms::verify_detached(data, b"", None);
    if let Some((&n, rest)) = data.split_first() {
        let split = usize::from(n).min(rest.len());
        let (content, signature) = rest.split_at(split);
        let _ = cms::verify_detached(signature, content, None);
        let _ = cms::verify_detached(signature, content, Some(content));
    }
    let _ = cms::SignerCertificate::from_der(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = cms::SignerCertificate::from_pem(text);
        let _ = cms::SigningIdentity::from_pem(text, text);
    }
}
