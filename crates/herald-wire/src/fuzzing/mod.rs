//! Entry points for the `fuzz/` targets; each must never panic on any input.

mod efgs;
mod export;
mod jwt;
mod publish;

pub use efgs::*;
pub use export::*;
pub use jwt::*;
pub use publish::*;

/// `keys.json` parsing.
pub fn fuzz_keys_json(data: &[u8]) {
    if let Ok(keys) = crate::keys_json::parse(data) {
        // What parsed must serialise and parse back to the same keys.
        let again = crate::keys_json::parse(crate::keys_json::to_string(&keys).as_bytes());
        assert_eq!(again.ok(), Some(keys), "keys.json round trip");
    }
}

/// Verification-service request bodies: decoding any bytes as any request never panics, and
/// the date helpers round-trip what they accept.
pub fn fuzz_verification_json(data: &[u8]) {
    use crate::verification::{
        BatchIssueRequest, CertificateRequest, IssueRequest, UuidRequest, VerifyRequest, decode,
        parse_date,
    };
    if let Ok(r) = decode::<VerifyRequest>(data) {
        let _ = crate::verification::accepted_types(&r.accept);
    }
    let _ = decode::<CertificateRequest>(data);
    if let Ok(r) = decode::<IssueRequest>(data) {
        for date in [r.symptom_date, r.test_date].into_iter().flatten() {
            if let Some(day) = parse_date(&date) {
                assert_eq!(day.to_string(), date, "date round trip");
            }
        }
    }
    let _ = decode::<BatchIssueRequest>(data);
    let _ = decode::<UuidRequest>(data);
}
