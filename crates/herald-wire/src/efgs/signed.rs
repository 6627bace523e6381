//! The canonical signed bytes of an EFGS batch (specs/efgs-gateway.md §3.1, the hardened format
//! of EFGS PRs #153/#159).
//!
//! Per key, eight fields, each standard Base64 (with `=` padding) and each followed by `.`:
//! keyData; rollingStartIntervalNumber, rollingPeriod and transmissionRiskLevel as 4-byte
//! big-endian; the visited countries in wire order joined with `,`; origin; reportType and
//! days_since_onset_of_symptoms as 4-byte big-endian two's complement (no zig-zag). The batch
//! sorts the keys by the **Base64 of their whole per-key string** (ASCII order) and concatenates
//! the per-key strings themselves, with no separator. That sort is not the order of the raw
//! strings: Base64 maps 52..=63 to `0-9+/`, which sort below `A`.
//!
//! The `_raw` functions work on unvalidated wire messages (the reference test vectors carry
//! values no valid key has); the others on [`EfgsKey`], whose wire form they use, so both give the
//! same bytes for the same key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::EfgsKey;
use crate::proto::efgs as proto;

/// The §3.1 per-key string of a validated key.
pub fn signed_key_string(key: &EfgsKey) -> String {
    signed_key_string_raw(&key.to_proto())
}

/// The §3.1 per-key string of a wire key, whatever its values.
pub fn signed_key_string_raw(key: &proto::DiagnosisKey) -> String {
    let mut out = String::with_capacity(128);
    let mut field = |bytes: &[u8]| {
        STANDARD.encode_string(bytes, &mut out);
        out.push('.');
    };
    field(&key.key_data);
    field(&key.rolling_start_interval_number.to_be_bytes());
    field(&key.rolling_period.to_be_bytes());
    field(&key.transmission_risk_level.to_be_bytes());
    field(key.visited_countries.join(",").as_bytes());
    field(key.origin.as_bytes());
    field(&key.report_type.to_be_bytes());
    field(&key.days_since_onset_of_symptoms.to_be_bytes());
    out
}

/// The signed bytes (CMS content) of a batch of validated keys; the input order does not matter.
pub fn batch_signed_bytes(keys: &[EfgsKey]) -> Vec<u8> {
    canonical(keys.iter().map(signed_key_string).collect())
}

/// The signed bytes of a batch of wire keys; the input order does not matter.
pub fn batch_signed_bytes_raw(keys: &[proto::DiagnosisKey]) -> Vec<u8> {
    canonical(keys.iter().map(signed_key_string_raw).collect())
}

/// Sorts per-key strings by their Base64 and concatenates them.
fn canonical(strings: Vec<String>) -> Vec<u8> {
    let mut keyed: Vec<(String, String)> =
        strings.into_iter().map(|s| (STANDARD.encode(s.as_bytes()), s)).collect();
    // Sorting by (Base64, string) is sorting by Base64: equal Base64 means an equal string.
    keyed.sort_unstable();
    let total = keyed.iter().map(|(_, s)| s.len()).sum();
    let mut out = Vec::with_capacity(total);
    for (_, s) in keyed {
        out.extend_from_slice(s.as_bytes());
    }
    out
}
