use proptest::prelude::*;
use rand::SeedableRng as _;
use rand::rngs::StdRng;

use super::*;

const AAD: &[u8] = b"configured REVISION_TOKEN_AAD secret";

fn revisable(seed: u8, start: u32, period: u32) -> RevisableKey {
    RevisableKey {
        key: TemporaryExposureKey::from_bytes([seed; 16]),
        rolling_start: IntervalNumber(start),
        rolling_period: RollingPeriod::new(period).unwrap(),
    }
}

fn lookup(kid: &str) -> Option<RevisionKey> {
    match kid {
        "1" => Some(RevisionKey::from_bytes([1; 32])),
        "2" => Some(RevisionKey::from_bytes([2; 32])),
        _ => None,
    }
}

fn seal_with(keys: &[RevisableKey], kid: &str, seed: u64) -> Vec<u8> {
    let key = lookup(kid).unwrap_or_else(|| RevisionKey::from_bytes([9; 32]));
    seal(keys, kid, &key, AAD, &mut StdRng::seed_from_u64(seed)).unwrap()
}

#[test]
fn round_trip_strips_the_padding() {
    let keys = vec![
        revisable(1, 2_993_040, 144),
        revisable(2, 2_992_896, 144),
        revisable(3, 2_993_040, 75),
    ];
    let token = seal_with(&keys, "1", 1);
    assert_eq!(open(&token, AAD, lookup), Ok(keys));
    let envelope = proto::RevisionToken::decode(token.as_slice()).unwrap();
    assert_eq!(envelope.kid, "1");
    let key = lookup("1").unwrap();
    let (nonce, sealed) = envelope.data.split_at(12);
    let nonce: [u8; 12] = nonce.try_into().unwrap();
    let plain = key
        .cipher()
        .decrypt(&Nonce::<Aes256Gcm>::from(nonce), Payload { msg: sealed, aad: AAD })
        .unwrap();
    let data = proto::RevisionTokenData::decode(plain.as_slice()).unwrap();
    assert_eq!(data.revisable_keys.len(), 28, "padded to REVISION_TOKEN_MIN_LENGTH");
    assert_eq!(open(&seal_with(&[], "2", 2), AAD, lookup), Ok(vec![]));
    let many: Vec<RevisableKey> =
        (1..=40).map(|i| revisable(i, 2_990_000 + u32::from(i) * 144, 144)).collect();
    assert_eq!(open(&seal_with(&many, "2", 3), AAD, lookup), Ok(many), "more than 28: no padding");
}

#[test]
fn the_size_does_not_reveal_the_key_count() {
    let sizes: std::collections::BTreeSet<usize> = (0..=28_u8)
        .map(|n| {
            let keys: Vec<RevisableKey> =
                (0..n).map(|i| revisable(i + 1, 2_993_040 - 144 * u32::from(i), 144)).collect();
            seal_with(&keys, "1", u64::from(n)).len()
        })
        .collect();
    assert_eq!(sizes.len(), 1, "{sizes:?}");
}

#[test]
fn refusals() {
    let token = seal_with(&[revisable(1, 2_993_040, 144)], "1", 4);
    assert_eq!(open(&token, b"other aad", lookup), Err(RevisionTokenError::Authentication));
    // The right kid, the wrong key (e.g. a rotated key reusing an id).
    assert_eq!(
        open(&token, AAD, |_| Some(RevisionKey::from_bytes([2; 32]))),
        Err(RevisionTokenError::Authentication)
    );
    let unknown = seal_with(&[revisable(1, 2_993_040, 144)], "7", 5);
    assert_eq!(
        open(&unknown, AAD, lookup),
        Err(RevisionTokenError::UnknownKid { kid: "7".to_owned() })
    );
    assert_eq!(open(b"\xff\xff\xff", AAD, lookup), Err(RevisionTokenError::Envelope));
    let short = proto::RevisionToken { kid: "1".to_owned(), data: vec![0; 27] }.encode_to_vec();
    assert_eq!(open(&short, AAD, lookup), Err(RevisionTokenError::Truncated { len: 27 }));
    assert_eq!(open(b"", AAD, lookup), Err(RevisionTokenError::UnknownKid { kid: String::new() }));
    // Authentic, but not a key list (sealed by hand).
    let key = lookup("1").unwrap();
    let sealed = key
        .cipher()
        .encrypt(
            &Nonce::<Aes256Gcm>::from([0; 12]),
            Payload { msg: b"\x0a\x03\x0a\x01\x01", aad: AAD },
        )
        .unwrap();
    let mut data = vec![0; 12];
    data.extend_from_slice(&sealed);
    let odd = proto::RevisionToken { kid: "1".to_owned(), data }.encode_to_vec();
    assert_eq!(open(&odd, AAD, lookup), Err(RevisionTokenError::Contents));
    assert_eq!(
        RevisionKey::from_slice(&[0; 31]).map(|_| ()),
        Err(RevisionTokenError::KeyLength(31))
    );
    assert_eq!(format!("{:?}", RevisionKey::from_bytes([7; 32])), "RevisionKey(<redacted>)");
    let too_late = RevisableKey { rolling_start: IntervalNumber(u32::MAX), ..revisable(1, 0, 1) };
    assert_eq!(
        seal(&[too_late], "1", &key, AAD, &mut StdRng::seed_from_u64(1)),
        Err(RevisionTokenError::IntervalRange(u32::MAX))
    );
}

#[test]
fn next_token_keeps_recent_old_keys_first() {
    // 2026-11-28T12:34:56Z; the window starts at interval 2_990_955.
    let now = UnixTime(1_795_869_296);
    let expired = revisable(1, 2_990_811, 144); // ends at 2_990_955: out
    let kept = revisable(2, 2_990_812, 144); // ends at 2_990_956: in
    let again = revisable(3, 2_992_896, 144);
    let fresh = revisable(4, 2_993_040, 144);
    let next = next_token_keys(
        &[expired, kept.clone(), again.clone()],
        &[fresh.clone(), again.clone()],
        now,
    );
    assert_eq!(next, [kept, again, fresh]);
}

proptest! {
    #[test]
    fn round_trip(
        keys in proptest::collection::vec(
            (any::<[u8; 16]>().prop_filter("not padding", |k| k.iter().any(|b| *b != 0)),
             0_u32..=i32::MAX as u32, 1_u32..=144),
            0..35),
        kid in "[0-9]{1,4}",
        aad in proptest::collection::vec(any::<u8>(), 0..40),
        seed in any::<u64>(),
    ) {
        let keys: Vec<RevisableKey> = keys.into_iter().map(|(k, s, p)| RevisableKey {
            key: TemporaryExposureKey::from_bytes(k),
            rolling_start: IntervalNumber(s),
            rolling_period: RollingPeriod::new(p).unwrap(),
        }).collect();
        let secret = RevisionKey::from_bytes([seed.to_le_bytes()[0]; 32]);
        let token = seal(&keys, &kid, &secret, &aad, &mut StdRng::seed_from_u64(seed)).unwrap();
        let by_kid = |k: &str| (k == kid).then(|| secret.clone());
        prop_assert_eq!(open(&token, &aad, by_kid), Ok(keys));
    }

    #[test]
    fn any_tampering_is_refused(position in any::<prop::sample::Index>(), bit in 0_u8..8, seed in any::<u64>()) {
        let keys = [revisable(5, 2_993_040, 144), revisable(6, 2_992_896, 100)];
        let mut token = seal_with(&keys, "1", seed);
        let i = position.index(token.len());
        token[i] ^= 1 << bit;
        prop_assert!(open(&token, AAD, lookup).is_err(), "flipping bit {} of byte {} was accepted", bit, i);
    }

    #[test]
    fn open_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = open(&bytes, AAD, lookup);
        let _ = open(&bytes, AAD, |_| Some(RevisionKey::from_bytes([1; 32])));
    }
}

#[test]
fn every_single_bit_flip_is_refused() {
    let token = seal_with(&[revisable(5, 2_993_040, 144)], "1", 11);
    for i in 0..token.len() * 8 {
        let mut bad = token.clone();
        bad[i / 8] ^= 1 << (i % 8);
        assert!(open(&bad, AAD, lookup).is_err(), "bit {i}");
    }
}
