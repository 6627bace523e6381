//! Fuzz entry points for the publish API: the request decoder (and the §2.4 rules after it) and
//! revision tokens.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use herald_model::UnixTime;

use crate::publish::revision::{self, RevisionKey};
use crate::publish::{decode_request, rules, tekmac};

/// 2026-11-28T12:34:56Z, a fixed "now" for the rules.
const NOW: UnixTime = UnixTime(1_795_869_296);

/// The AAD the revision-token target seals and opens with.
const AAD: &[u8] = b"fuzz aad";

/// A publish body: decoding never panics; what decodes runs through every §2.4 rule, and
/// re-encodes to JSON that decodes to the same request.
pub fn fuzz_publish_json(data: &[u8]) {
    let Ok(request) = decode_request(data) else { return };
    let _ = rules::check_key_count(request.keys.len());
    let onset = rules::symptom_onset(request.symptom_onset_interval, Some(2_990_000), NOW);
    let (mut keys, rejected) = rules::validate_keys(&request.keys, NOW);
    let _ = rules::partial_failure_message(&rejected);
    let _ = rules::apply_symptom_onset(&mut keys, &onset);
    let _ = rules::check_key_layout(&mut keys);
    for key in &keys {
        let _ = rules::created_at(key.rolling_start, key.rolling_period, NOW);
    }
    let mac = tekmac::compute(
        &request.hmac_key,
        &request.keys,
        tekmac::CleartextForm::WithTransmissionRisk,
    );
    assert!(tekmac::verify(&request.hmac_key, &request.keys, &STANDARD.encode(mac)).is_ok());

    let keys: Vec<serde_json::Value> = request
        .keys
        .iter()
        .map(|k| {
            serde_json::json!({"key": k.key_text, "rollingStartNumber": k.rolling_start_number,
                "rollingPeriod": k.rolling_period, "transmissionRisk": k.transmission_risk})
        })
        .collect();
    let mut body = serde_json::json!({
        "temporaryExposureKeys": keys,
        "healthAuthorityID": request.health_authority_id,
        "verificationPayload": request.verification_payload,
        "hmacKey": STANDARD.encode(request.hmac_key.as_slice()),
        "traveler": request.traveler,
        "revisionToken": request.revision_token.as_ref().map(|t| STANDARD.encode(t)).unwrap_or_default(),
    });
    if let (Some(onset), Some(object)) = (request.symptom_onset_interval, body.as_object_mut()) {
        object.insert("symptomOnsetInterval".to_owned(), onset.into());
    }
    let again = decode_request(body.to_string().as_bytes());
    assert_eq!(again.as_ref(), Ok(&request), "publish request round trip");
}

/// Revision tokens: opening never panics, with an unknown kid, the right key or any key; what
/// opens seals and opens again to the same keys.
pub fn fuzz_revision_token(data: &[u8]) {
    let key = || RevisionKey::from_bytes([7; 32]);
    let _ = revision::open(data, AAD, |kid| (kid == "1").then(key));
    let Ok(keys) = revision::open(data, AAD, |_| Some(key())) else { return };
    let mut rng = CountingRng(0);
    let token = revision::seal(&keys, "1", &key(), AAD, &mut rng);
    let again = token.and_then(|t| revision::open(&t, AAD, |kid| (kid == "1").then(key)));
    let _ = revision::next_token_keys(&keys, &keys, NOW);
    assert_eq!(again, Ok(keys), "revision token round trip");
}

/// A deterministic byte source for re-sealing inside the fuzzer (not a CSPRNG; never used
/// outside fuzzing).
struct CountingRng(u64);

impl rand_core::TryRng for CountingRng {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        self.0 = self.0.wrapping_add(1);
        Ok(self.0.to_le_bytes()[0].into())
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 = self.0.wrapping_add(1);
        Ok(self.0)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for b in dst {
            self.0 = self.0.wrapping_add(1);
            *b = self.0.to_le_bytes()[0];
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for CountingRng {}
