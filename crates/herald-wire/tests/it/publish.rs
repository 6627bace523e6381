//! The publish API: the tekmac against Python's `hmac`/`hashlib` on random inputs, and a whole
//! request through the §2.4 rules as the key server chains them.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use herald_model::UnixTime;
use herald_wire::publish::rules::{self, OnsetSource};
use herald_wire::publish::tekmac::{self, CleartextForm};
use herald_wire::publish::{PublishKey, VerificationReportType, decode_request};
use rand::rngs::StdRng;
use rand::{Rng as _, RngExt as _, SeedableRng as _};

/// Python builds the cleartext itself (sort by the key string's bytes, 4 fields, join with `,`)
/// and computes HMAC-SHA256: an independent oracle for both halves.
const PYTHON_TEKMAC: &str = r#"
import base64, hashlib, hmac, json, sys
out = []
for case in json.load(sys.stdin):
    keys = sorted(case["keys"], key=lambda k: k["key"].encode())
    text = ",".join("%s.%d.%d.%d" % (k["key"], k["start"], k["period"], k["tr"]) for k in keys)
    mac = hmac.new(base64.b64decode(case["secret"]), text.encode(), hashlib.sha256).digest()
    out.append(base64.b64encode(mac).decode())
print(json.dumps(out))
"#;

fn random_key_text(rng: &mut StdRng) -> String {
    let mut bytes = [0_u8; 16];
    rng.fill_bytes(&mut bytes);
    match rng.random_range(0..6) {
        0 => STANDARD.encode(bytes),
        1 => STANDARD_NO_PAD.encode(bytes),
        2 => URL_SAFE.encode(bytes),
        3 => URL_SAFE_NO_PAD.encode(bytes),
        // Whatever a client sends is MACed as sent, even text that is not a key.
        4 => (0..rng.random_range(0..30))
            .map(|_| char::from(rng.random_range(0x21_u8..0x7f)))
            .collect(),
        _ => STANDARD.encode(&bytes[..usize::from(rng.random_range(0_u8..16))]),
    }
}

#[test]
fn tekmac_matches_python_on_random_inputs() {
    let mut rng = StdRng::seed_from_u64(0x7e4a);
    let mut cases = Vec::new();
    let mut ours = Vec::new();
    for _ in 0..300 {
        let keys: Vec<PublishKey> = (0..rng.random_range(1..=30))
            .map(|_| PublishKey {
                key_text: random_key_text(&mut rng),
                key: None,
                rolling_start_number: i64::from(rng.random::<i32>()),
                rolling_period: i64::from(rng.random_range(-5_i32..200)),
                transmission_risk: if rng.random_bool(0.1) {
                    rng.random()
                } else {
                    rng.random_range(0..9)
                },
            })
            .collect();
        let secret: Vec<u8> = (0..rng.random_range(0..100)).map(|_| rng.random()).collect();
        ours.push(STANDARD.encode(tekmac::compute(
            &secret,
            &keys,
            CleartextForm::WithTransmissionRisk,
        )));
        let json_keys: Vec<serde_json::Value> = keys
            .iter()
            .map(|k| {
                serde_json::json!({"key": k.key_text, "start": k.rolling_start_number,
                    "period": k.rolling_period, "tr": k.transmission_risk})
            })
            .collect();
        cases.push(serde_json::json!({"keys": json_keys, "secret": STANDARD.encode(&secret)}));
    }
    let input = serde_json::to_vec(&cases).unwrap();
    let Some(out) = herald_testkit::run_python(&[], PYTHON_TEKMAC, &input) else { return };
    let theirs: Vec<String> = serde_json::from_slice(&out).unwrap();
    assert_eq!(theirs, ours);
}

/// A v1.5 phone's upload, through every step of §2.4 in the service's order.
#[test]
fn a_request_through_the_rules() {
    // 2026-11-28T12:34:56Z.
    let now = UnixTime(1_795_869_296);
    let today = 2_993_040;
    let body = format!(
        r#"{{"temporaryExposureKeys":[
            {{"key":"AAAAAAAAAAAAAAAAAAAAAA==","rollingStartNumber":{today},"rollingPeriod":76}},
            {{"key":"AQAAAAAAAAAAAAAAAAAAAA==","rollingStartNumber":{today},"rollingPeriod":144}},
            {{"key":"AgAAAAAAAAAAAAAAAAAAAA==","rollingStartNumber":{},"rollingPeriod":144,"transmissionRisk":7}},
            {{"key":"AwAAAAAAAAAAAAAAAAAAAA==","rollingStartNumber":{},"rollingPeriod":0}},
            {{"key":"BAAAAAAAAAAAAAAAAAAAAA==","rollingStartNumber":{},"rollingPeriod":144}}
        ],"healthAuthorityID":"gov.example","hmacKey":"AQIDBA==","symptomOnsetInterval":{},
          "padding":"xyz"}}"#,
        today - 144,
        today - 288,
        today - 144 * 15,
        today - 144 * 2 + 30
    );
    let request = decode_request(body.as_bytes()).unwrap();
    rules::check_key_count(request.keys.len()).unwrap();
    let onset = rules::symptom_onset(request.symptom_onset_interval, None, now);
    assert_eq!(onset.source, OnsetSource::Request);
    let (mut keys, rejected) = rules::validate_keys(&request.keys, now);
    assert_eq!(rejected.iter().map(|r| r.index).collect::<Vec<_>>(), [3]);
    for key in &mut keys {
        key.transmission_risk = rules::backfill_transmission_risk(
            Some(VerificationReportType::Confirmed),
            key.transmission_risk,
        );
    }
    let warnings = rules::apply_symptom_onset(&mut keys, &onset);
    assert!(warnings.is_empty(), "{warnings:?}");
    rules::check_key_layout(&mut keys).unwrap();
    let summary: Vec<(usize, u8, i8, i64)> = keys
        .iter()
        .map(|k| {
            (
                k.index,
                k.transmission_risk.get(),
                k.days_since_onset.unwrap().get(),
                rules::created_at(k.rolling_start, k.rolling_period, now).seconds(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (4, 2, -13, 1_795_867_200),
            (2, 7, 1, 1_795_867_200),
            // Valid until interval 2_993_116, one past now: embargoed to 13:00.
            (0, 2, 2, 1_795_870_800),
            (1, 2, 2, 1_795_914_000),
        ]
    );
}

/// Revision tokens against Python's `cryptography` AESGCM: Python opens what we seal (and reads
/// the protobuf envelope with its own varint reader), and we open what Python seals.
#[test]
fn revision_tokens_interoperate_with_python_aesgcm() {
    use herald_model::{IntervalNumber, RollingPeriod, TemporaryExposureKey};
    use herald_wire::proto::revision as proto;
    use herald_wire::publish::revision::{self, RevisableKey, RevisionKey};
    use prost::Message as _;

    const PYTHON: &str = r#"
import base64, json, os, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

def varint(b, i):
    n = shift = 0
    while True:
        c = b[i]; i += 1; n |= (c & 0x7f) << shift; shift += 7
        if c < 0x80: return n, i
def fields(b):
    i, out = 0, {}
    while i < len(b):
        tag, i = varint(b, i)
        assert tag & 7 == 2, tag
        n, i = varint(b, i)
        out[tag >> 3] = b[i:i + n]; i += n
    return out

req = json.load(sys.stdin)
key, aad = base64.b64decode(req["key"]), base64.b64decode(req["aad"])
env = fields(base64.b64decode(req["token"]))
data = env[2]
opened = AESGCM(key).decrypt(data[:12], data[12:], aad)
nonce = os.urandom(12)
sealed = nonce + AESGCM(key).encrypt(nonce, base64.b64decode(req["plaintext"]), aad)
assert 128 <= len(sealed) < 16384
envelope = b"\x0a" + bytes([len(b"py")]) + b"py" + b"\x12" + bytes([0x80 | (len(sealed) & 0x7f), len(sealed) >> 7]) + sealed
print(json.dumps({"kid": env[1].decode(), "opened": base64.b64encode(opened).decode(),
                  "token": base64.b64encode(envelope).decode()}))
"#;
    let mut rng = StdRng::seed_from_u64(0x5ea1);
    let secret: [u8; 32] = rng.random();
    let aad = b"REVISION_TOKEN_AAD";
    let keys: Vec<RevisableKey> = (0..5_u32)
        .map(|i| RevisableKey {
            key: TemporaryExposureKey::from_bytes(rng.random()),
            rolling_start: IntervalNumber(2_993_040 - 144 * i),
            rolling_period: RollingPeriod::new(144 - i).unwrap(),
        })
        .collect();
    let token =
        revision::seal(&keys, "17", &RevisionKey::from_bytes(secret), aad, &mut rng).unwrap();
    // What Python seals: our plaintext encoding of the same keys, unpadded.
    let plaintext = proto::RevisionTokenData {
        revisable_keys: keys
            .iter()
            .map(|k| proto::RevisableKey {
                temporary_exposure_key: k.key.as_bytes().to_vec(),
                interval_number: i32::try_from(k.rolling_start.get()).unwrap(),
                interval_count: i32::from(k.rolling_period.get()),
            })
            .collect(),
    }
    .encode_to_vec();
    let request = serde_json::json!({"key": STANDARD.encode(secret), "aad": STANDARD.encode(aad),
        "token": STANDARD.encode(&token), "plaintext": STANDARD.encode(&plaintext)});
    let Some(out) = herald_testkit::run_python(
        &["cryptography"],
        PYTHON,
        &serde_json::to_vec(&request).unwrap(),
    ) else {
        return;
    };
    let out: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(out["kid"], "17");
    let opened = STANDARD.decode(out["opened"].as_str().unwrap()).unwrap();
    let data = proto::RevisionTokenData::decode(opened.as_slice()).unwrap();
    assert_eq!(data.revisable_keys.len(), 28, "padded");
    assert_eq!(
        &data.revisable_keys[..5],
        proto::RevisionTokenData::decode(plaintext.as_slice()).unwrap().revisable_keys.as_slice()
    );
    let theirs = STANDARD.decode(out["token"].as_str().unwrap()).unwrap();
    let lookup = |kid: &str| (kid == "py").then(|| RevisionKey::from_bytes(secret));
    assert_eq!(revision::open(&theirs, aad, lookup), Ok(keys));
    assert!(revision::open(&theirs, b"other", lookup).is_err());
}

/// A revision token that decodes to no bytes is no token, as "" and null are (a fuzzing
/// finding: "=" came back from a round trip as absent).
#[test]
fn an_empty_revision_token_is_no_token() {
    for token in ["\"\"", "null", "\"=\"", "\"==\""] {
        let body = format!(r#"{{"temporaryExposureKeys": [], "revisionToken": {token}}}"#);
        let request = decode_request(body.as_bytes()).unwrap();
        assert_eq!(request.revision_token, None, "{token}");
    }
    let request = decode_request(br#"{"revisionToken": "AAEC"}"#).unwrap();
    assert_eq!(request.revision_token, Some(vec![0, 1, 2]));
}
