//! The key schedule against published vectors and two independent oracles (`hkdf`, `ctr`).

use aes::Aes128;
use ctr::cipher::{KeyIvInit, StreamCipher};
use herald_gaen::{Aem, AemKey, Metadata, Rpi, RpiKey, padded_data};
use herald_model::{IntervalNumber, TemporaryExposureKey, UnixTime};
use herald_testkit::{gaen_vectors, hex_array};
use proptest::prelude::*;

type Aes128Ctr = ctr::Ctr128BE<Aes128>;

fn tek(hex: &str) -> TemporaryExposureKey {
    TemporaryExposureKey::from_bytes(hex_array(hex))
}

/// One vector entry: RPIK, AEMK, then every interval's padded data, RPI and AEM.
fn check_vector(v: &serde_json::Value) -> usize {
    let id = v["id"].as_str().unwrap();
    let tek = tek(v["tek"].as_str().unwrap());
    let rpik = RpiKey::derive(&tek);
    let aemk = AemKey::derive(&tek);
    assert_eq!(rpik.as_bytes(), &hex_array::<16>(v["rpik"].as_str().unwrap()), "{id}: RPIK");
    assert_eq!(aemk.as_bytes(), &hex_array::<16>(v["aemk"].as_str().unwrap()), "{id}: AEMK");
    let generator = rpik.generator();
    let intervals = v["intervals"].as_array().unwrap();
    for iv in intervals {
        let enin = IntervalNumber(u32::try_from(iv["enin"].as_u64().unwrap()).unwrap());
        assert_eq!(
            padded_data(enin),
            hex_array::<16>(iv["padded_data"].as_str().unwrap()),
            "{id} {enin}: padded data"
        );
        let rpi = generator.rpi(enin);
        assert_eq!(rpi, Rpi(hex_array(iv["rpi"].as_str().unwrap())), "{id} {enin}: RPI");
        let metadata_hex =
            iv.get("metadata").or_else(|| v.get("metadata")).unwrap().as_str().unwrap();
        let metadata = Metadata::from_bytes(hex_array(metadata_hex));
        let aem = aemk.encrypt(&rpi, metadata);
        assert_eq!(aem, Aem(hex_array(iv["aem"].as_str().unwrap())), "{id} {enin}: AEM");
        assert_eq!(aemk.decrypt(&rpi, &aem), metadata, "{id} {enin}: AEM decrypts");
        if let Some(t) = iv.get("unix_seconds") {
            assert_eq!(UnixTime(t.as_i64().unwrap()).interval(), Ok(enin));
        }
    }
    intervals.len()
}

#[test]
fn every_published_crypto_vector() {
    let vectors = gaen_vectors();
    let entries = vectors["gaen"]["crypto"].as_array().unwrap();
    let ids: Vec<&str> = entries.iter().map(|v| v["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "google-internals-testvectors-v1.2",
            "mh-live-android-gms-20.18.17",
            "mh-exposure-notification-ble-python-readme"
        ]
    );
    let checked: usize = entries.iter().map(check_vector).sum();
    assert_eq!(checked, 146, "144 Google intervals + 2 independent ones");
}

#[test]
fn batch_generation_equals_one_by_one_for_the_144_google_rpis() {
    let vectors = gaen_vectors();
    let v = &vectors["gaen"]["crypto"][0];
    let generator = RpiKey::derive(&tek(v["tek"].as_str().unwrap())).generator();
    let start = IntervalNumber(2_642_976);
    let batch = generator.rpis(start, 144);
    for (i, iv) in v["intervals"].as_array().unwrap().iter().enumerate() {
        assert_eq!(batch[i], Rpi(hex_array(iv["rpi"].as_str().unwrap())), "index {i}");
    }
}

#[test]
fn metadata_decoding_of_the_vectors() {
    let live = Metadata::from_bytes(hex_array("40f20000"));
    assert_eq!((live.version, live.tx_power, live.major(), live.minor()), (0x40, -14, 1, 0));
    let v11 = Metadata::v1_1(-15, 3);
    assert_eq!(v11.to_bytes(), [0x5c, 0xf1, 0, 0]);
    assert_eq!(v11.calibration_confidence(), 3);
    assert_eq!(Metadata::v1_0(8).to_bytes(), hex_array::<4>("40080000"));
}

#[test]
fn crypto_edge_cases() {
    let vectors = gaen_vectors();
    for case in vectors["gaen"]["crypto_edge_cases"].as_array().unwrap() {
        match case["case"].as_str().unwrap() {
            "ENIN boundary" => {
                let t = UnixTime(case["unix_seconds"].as_i64().unwrap());
                assert_eq!(
                    t.interval().unwrap().get(),
                    u32::try_from(case["enin"].as_u64().unwrap()).unwrap()
                );
            }
            "ENIN byte order" => {
                let enin = IntervalNumber(u32::try_from(case["enin"].as_u64().unwrap()).unwrap());
                assert_eq!(
                    padded_data(enin),
                    hex_array::<16>(case["padded_data"].as_str().unwrap())
                );
            }
            // The salt case is covered by hkdf_matches_the_general_implementation (empty salt and
            // 32 zero bytes both), the alignment case by rpi_depends_only_on_the_interval.
            "HKDF salt" | "rolling start alignment" => {}
            other => panic!("unknown edge case {other}"),
        }
    }
}

proptest! {
    #[test]
    fn hkdf_matches_the_general_implementation(bytes in any::<[u8; 16]>()) {
        let tek = TemporaryExposureKey::from_bytes(bytes);
        for (info, ours) in [
            (b"EN-RPIK", *RpiKey::derive(&tek).as_bytes()),
            (b"EN-AEMK", *AemKey::derive(&tek).as_bytes()),
        ] {
            for salt in [None, Some(&[0u8; 32][..])] {
                let hk = hkdf::Hkdf::<sha2::Sha256>::new(salt, &bytes);
                let mut okm = [0u8; 16];
                hk.expand(info, &mut okm).unwrap();
                prop_assert_eq!(okm, ours);
            }
        }
    }

    #[test]
    fn aem_is_aes_ctr_and_round_trips(bytes in any::<[u8; 16]>(), enin in any::<u32>(), metadata in any::<[u8; 4]>()) {
        let tek = TemporaryExposureKey::from_bytes(bytes);
        let rpi = RpiKey::derive(&tek).generator().rpi(IntervalNumber(enin));
        let aemk = AemKey::derive(&tek);
        let aem = aemk.encrypt(&rpi, Metadata::from_bytes(metadata));
        let mut oracle = metadata;
        Aes128Ctr::new(&(*aemk.as_bytes()).into(), &rpi.0.into()).apply_keystream(&mut oracle);
        prop_assert_eq!(aem.0, oracle);
        prop_assert_eq!(aemk.decrypt(&rpi, &aem).to_bytes(), metadata);
    }

    #[test]
    fn rpi_depends_only_on_the_interval(bytes in any::<[u8; 16]>(), start in 0u32..u32::MAX - 200, offset in 0usize..144) {
        let generator = RpiKey::derive(&TemporaryExposureKey::from_bytes(bytes)).generator();
        let batch = generator.rpis(IntervalNumber(start), 144);
        let enin = IntervalNumber(start + u32::try_from(offset).unwrap());
        prop_assert_eq!(batch[offset], generator.rpi(enin));
        prop_assert_eq!(generator.rpis(enin, 1)[0], generator.rpi(enin));
    }
}
