//! The upload flow of an app after a positive test, as request bodies (the app does the I/O):
//! the code from the health authority becomes a verification token (`POST /api/verify`), the
//! token and an HMAC of the keys become a verification certificate (`POST /api/certificate`,
//! the server never sees the keys), and the keys, the certificate and the HMAC key go to the
//! key server (`POST /v1/publish`). Bodies are padded so that their size does not tell how many
//! keys a person had; chaff bodies look the same and go with `X-Chaff: 1`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use herald_model::DiagnosisKey;
use herald_wire::publish::PublishKey;
use herald_wire::publish::tekmac::{CleartextForm, compute};
use rand_core::CryptoRng;
use serde_json::{Value, json};

/// Publish bodies are padded to about this many bytes (14 keys take about 1 400).
const PUBLISH_BODY_BYTES: usize = 4096;

/// One upload in progress: the keys and the HMAC key that binds them to the certificate.
pub struct Upload {
    keys: Vec<PublishKey>,
    hmac_key: [u8; 32],
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Upload({} keys)", self.keys.len())
    }
}

/// Base64 of `n` random bytes.
fn random_base64(n: usize, rng: &mut impl CryptoRng) -> String {
    let mut bytes = vec![0u8; n];
    rng.fill_bytes(&mut bytes);
    STANDARD.encode(bytes)
}

impl Upload {
    /// Prepares the upload of `keys` (from [`crate::Phone::keys_to_upload`]) with a fresh HMAC
    /// key.
    pub fn new(keys: &[DiagnosisKey], rng: &mut impl CryptoRng) -> Self {
        let mut hmac_key = [0u8; 32];
        rng.fill_bytes(&mut hmac_key);
        let keys = keys
            .iter()
            .map(|k| PublishKey {
                key_text: STANDARD.encode(k.key.as_bytes()),
                key: Some(*k.key.as_bytes()),
                rolling_start_number: i64::from(k.rolling_start.get()),
                rolling_period: i64::from(k.rolling_period.get()),
                transmission_risk: 0,
            })
            .collect();
        Self { keys, hmac_key }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// `POST /api/verify` for the code the health authority gave.
    pub fn verify_body(code: &str, rng: &mut impl CryptoRng) -> String {
        json!({ "code": code, "accept": ["confirmed"], "padding": random_base64(64, rng) })
            .to_string()
    }

    /// `POST /api/certificate` for `token`: carries the keys' HMAC, not the keys.
    pub fn certificate_body(&self, token: &str, rng: &mut impl CryptoRng) -> String {
        let tekmac = compute(&self.hmac_key, &self.keys, CleartextForm::WithTransmissionRisk);
        json!({
            "token": token,
            "ekeyhmac": STANDARD.encode(tekmac),
            "padding": random_base64(64, rng),
        })
        .to_string()
    }

    /// `POST /v1/publish` with the certificate; `symptom_onset_interval` is the interval
    /// number of the onset day's midnight, when known.
    pub fn publish_body(
        &self,
        certificate: &str,
        health_authority_id: &str,
        symptom_onset_interval: Option<u32>,
        rng: &mut impl CryptoRng,
    ) -> String {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .map(|k| {
                json!({
                    "key": k.key_text,
                    "rollingStartNumber": k.rolling_start_number,
                    "rollingPeriod": k.rolling_period,
                    "transmissionRisk": k.transmission_risk,
                })
            })
            .collect();
        let mut body = json!({
            "temporaryExposureKeys": keys,
            "healthAuthorityID": health_authority_id,
            "verificationPayload": certificate,
            "hmacKey": STANDARD.encode(self.hmac_key),
        });
        if let (Some(onset), Some(map)) = (symptom_onset_interval, body.as_object_mut()) {
            map.insert("symptomOnsetInterval".into(), json!(onset));
        }
        pad(body, rng)
    }

    /// A chaff publish body: as large as a real one, sent with `X-Chaff: 1`.
    pub fn chaff_body(rng: &mut impl CryptoRng) -> String {
        pad(json!({}), rng)
    }
}

/// Adds `padding` so that the body is about [`PUBLISH_BODY_BYTES`] long.
fn pad(mut body: Value, rng: &mut impl CryptoRng) -> String {
    let size = body.to_string().len();
    // Base64 grows 4/3; a little jitter on top.
    let raw = PUBLISH_BODY_BYTES.saturating_sub(size + 20) * 3 / 4;
    let jitter = usize::from(rng.next_u32().to_le_bytes()[0] % 32);
    if let Some(map) = body.as_object_mut() {
        map.insert("padding".into(), json!(random_base64(raw.max(16) + jitter, rng)));
    }
    body.to_string()
}
