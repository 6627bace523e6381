//! The `tekmac` (specs/key-server.md §3.6): HMAC-SHA256 over a canonical text of the uploaded
//! keys, keyed with the device's `hmacKey`. The verification service signs it into the
//! certificate (`tekmac` claim) before it sees the keys; the key server recomputes it from the
//! publish request, which binds the certificate to exactly these keys.
//!
//! The cleartext, exactly as ENS builds it:
//! 1. sort the keys by the literal `key` string as sent (byte-wise; so the order depends on the
//!    client's Base64 alphabet and padding);
//! 2. per key `<key>.<rollingStartNumber>.<rollingPeriod>.<transmissionRisk>`, decimal, as
//!    sent (the transmission risk before any backfill);
//! 3. join with `,`.
//!
//! If every key has transmission risk 0, the legacy 3-field form `<key>.<start>.<period>` is
//! accepted too.

use std::fmt::Write as _;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use super::{PublishKey, decode_lenient_base64};

/// Which cleartext form a tekmac was computed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleartextForm {
    /// `<key>.<start>.<period>.<transmissionRisk>`: the current form.
    WithTransmissionRisk,
    /// `<key>.<start>.<period>`: legacy, accepted only when every transmission risk is 0.
    WithoutTransmissionRisk,
}

/// Why a tekmac was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TekmacError {
    /// The claim is not Base64.
    #[error("tekmac is not valid base64")]
    Base64,
    /// The claim does not match the keys and the HMAC key.
    #[error("tekmac does not match the uploaded keys")]
    Mismatch,
}

/// The cleartext the HMAC is computed over.
pub fn cleartext(keys: &[PublishKey], form: CleartextForm) -> String {
    let mut sorted: Vec<&PublishKey> = keys.iter().collect();
    sorted.sort_by(|a, b| a.key_text.as_bytes().cmp(b.key_text.as_bytes()));
    let mut text = String::new();
    for (i, key) in sorted.into_iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        // Writing into a String cannot fail.
        let _ =
            write!(text, "{}.{}.{}", key.key_text, key.rolling_start_number, key.rolling_period);
        if form == CleartextForm::WithTransmissionRisk {
            let _ = write!(text, ".{}", key.transmission_risk);
        }
    }
    text
}

/// HMAC-SHA256 of the cleartext under `hmac_key`.
pub fn compute(hmac_key: &[u8], keys: &[PublishKey], form: CleartextForm) -> [u8; 32] {
    let mut mac = hmac_sha256(hmac_key);
    mac.update(cleartext(keys, form).as_bytes());
    mac.finalize().into_bytes().into()
}

/// Checks a certificate's `tekmac` claim (Base64, decoded leniently as ENS does) against the
/// keys in constant time: the 4-field form, or the 3-field form if every transmission risk is
/// 0. Returns the form that matched.
pub fn verify(
    hmac_key: &[u8],
    keys: &[PublishKey],
    tekmac: &str,
) -> Result<CleartextForm, TekmacError> {
    let claimed = decode_lenient_base64(tekmac).ok_or(TekmacError::Base64)?;
    let mut forms = vec![CleartextForm::WithTransmissionRisk];
    if keys.iter().all(|k| k.transmission_risk == 0) {
        forms.push(CleartextForm::WithoutTransmissionRisk);
    }
    // Try every allowed form whatever the outcome, so the timing does not tell which matched.
    let mut matched = None;
    for form in forms {
        let expected = compute(hmac_key, keys, form);
        if bool::from(expected.as_slice().ct_eq(&claimed)) && matched.is_none() {
            matched = Some(form);
        }
    }
    matched.ok_or(TekmacError::Mismatch)
}

/// HMAC-SHA256 keyed with `key` of any length. The key is normalised to one 64-byte block as
/// RFC 2104 does (hashed if longer, zero-padded), which makes construction infallible.
fn hmac_sha256(key: &[u8]) -> Hmac<Sha256> {
    let mut block = [0_u8; 64];
    let digest = Sha256::digest(key);
    let source: &[u8] = if key.len() > block.len() { &digest } else { key };
    for (dst, src) in block.iter_mut().zip(source) {
        *dst = *src;
    }
    let mac = Hmac::<Sha256>::new(&block.into());
    block.zeroize();
    mac
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    fn key(text: &str, start: i64, period: i64, tr: i64) -> PublishKey {
        PublishKey {
            key_text: text.to_owned(),
            key: decode_lenient_base64(text).and_then(|b| b.try_into().ok()),
            rolling_start_number: start,
            rolling_period: period,
            transmission_risk: tr,
        }
    }

    fn secret() -> Vec<u8> {
        (1..=16).collect()
    }

    /// The three vectors of specs/key-server.md §3.6 (ENS `pkg/verification/utils_test.go`).
    #[test]
    fn spec_vectors() {
        let cases = [
            (
                3,
                5,
                CleartextForm::WithTransmissionRisk,
                "dPCphLzfG4uzXneNimkPRQ==.144.144.5,z2Cx9hdz2SlxZ8GEgqTYpA==.1.144.3",
                "2u1nHt5WWurJytFLF3xitNzM99oNrad2y4YGOL53AeY=",
            ),
            (
                0,
                0,
                CleartextForm::WithTransmissionRisk,
                "dPCphLzfG4uzXneNimkPRQ==.144.144.0,z2Cx9hdz2SlxZ8GEgqTYpA==.1.144.0",
                "mFNI9zhTA17n4ndd1Vu5tsn4XQX0gPrIKyjeh/9noUE=",
            ),
            (
                0,
                0,
                CleartextForm::WithoutTransmissionRisk,
                "dPCphLzfG4uzXneNimkPRQ==.144.144,z2Cx9hdz2SlxZ8GEgqTYpA==.1.144",
                "J9S7xVebH/66dm14wGsIcAnSUR3PHD4NtDQEOGZbDUo=",
            ),
        ];
        for (tr1, tr2, form, text, mac) in cases {
            let keys = [
                key("z2Cx9hdz2SlxZ8GEgqTYpA==", 1, 144, tr1),
                key("dPCphLzfG4uzXneNimkPRQ==", 144, 144, tr2),
            ];
            assert_eq!(cleartext(&keys, form), text);
            assert_eq!(STANDARD.encode(compute(&secret(), &keys, form)), mac);
            assert_eq!(verify(&secret(), &keys, mac), Ok(form));
            // URL-safe and unpadded claims are accepted as ENS accepts them.
            let url = mac.replace('+', "-").replace('/', "_").replace('=', "");
            assert_eq!(verify(&secret(), &keys, &url), Ok(form));
        }
    }

    #[test]
    fn the_three_field_form_needs_every_risk_zero() {
        let zero = [key("AAAAAAAAAAAAAAAAAAAAAA==", 1, 144, 0), key("AQ==", 2, 1, 0)];
        let three =
            STANDARD.encode(compute(&secret(), &zero, CleartextForm::WithoutTransmissionRisk));
        assert_eq!(verify(&secret(), &zero, &three), Ok(CleartextForm::WithoutTransmissionRisk));
        let mixed = [key("AAAAAAAAAAAAAAAAAAAAAA==", 1, 144, 0), key("AQ==", 2, 1, 4)];
        let three =
            STANDARD.encode(compute(&secret(), &mixed, CleartextForm::WithoutTransmissionRisk));
        assert_eq!(verify(&secret(), &mixed, &three), Err(TekmacError::Mismatch));
    }

    #[test]
    fn any_change_is_refused() {
        let keys = [
            key("z2Cx9hdz2SlxZ8GEgqTYpA==", 1, 144, 3),
            key("dPCphLzfG4uzXneNimkPRQ==", 144, 144, 5),
        ];
        let good = compute(&secret(), &keys, CleartextForm::WithTransmissionRisk);
        for i in 0..good.len() * 8 {
            let mut bad = good;
            bad[i / 8] ^= 1 << (i % 8);
            assert_eq!(verify(&secret(), &keys, &STANDARD.encode(bad)), Err(TekmacError::Mismatch));
        }
        let b64 = STANDARD.encode(good);
        // Keys longer than a block are hashed first (RFC 2104), like every HMAC library does.
        let long: Vec<u8> = (0..=200).collect();
        let with_long = compute(&long, &keys, CleartextForm::WithTransmissionRisk);
        let mut reference = Hmac::<Sha256>::new_from_slice(&long).unwrap();
        reference.update(cleartext(&keys, CleartextForm::WithTransmissionRisk).as_bytes());
        assert_eq!(with_long, <[u8; 32]>::from(reference.finalize().into_bytes()));
        assert_eq!(verify(&secret()[1..], &keys, &b64), Err(TekmacError::Mismatch));
        let mut other = keys.clone();
        other[1].transmission_risk = 6;
        assert_eq!(verify(&secret(), &other, &b64), Err(TekmacError::Mismatch));
        // The same key bytes written differently are a different cleartext.
        let mut unpadded = keys.clone();
        unpadded[0].key_text = "z2Cx9hdz2SlxZ8GEgqTYpA".to_owned();
        assert_eq!(verify(&secret(), &unpadded, &b64), Err(TekmacError::Mismatch));
        assert_eq!(verify(&secret(), &keys, &b64[..b64.len() - 4]), Err(TekmacError::Mismatch));
        assert_eq!(verify(&secret(), &keys, "***"), Err(TekmacError::Base64));
        assert_eq!(verify(&secret(), &keys, ""), Err(TekmacError::Mismatch));
    }

    #[test]
    fn sorting_is_by_the_bytes_of_the_key_text() {
        // '+' (0x2B) < '-' (0x2D) < '/' (0x2F) < digits < '=' < upper < '_' < lower.
        let keys = [
            key("a", 0, 1, 0),
            key("_", 0, 1, 0),
            key("Z", 0, 1, 0),
            key("+", 0, 1, 0),
            key("/", 0, 1, 0),
            key("-", 0, 1, 0),
            key("9", 0, 1, 0),
        ];
        assert_eq!(
            cleartext(&keys, CleartextForm::WithoutTransmissionRisk),
            "+.0.1,-.0.1,/.0.1,9.0.1,Z.0.1,_.0.1,a.0.1"
        );
    }
}
