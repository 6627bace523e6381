//! Times the parts of matching one key: HKDF, AES key schedule + 144 blocks, table probes.
#![allow(clippy::unwrap_used, clippy::cast_precision_loss, clippy::indexing_slicing, missing_docs)]
use std::time::Instant;

use herald_gaen::{Aem, MatchConfig, Matcher, Rpi, RpiKey, Sighting};
use herald_model::{IntervalNumber, TemporaryExposureKey, UnixTime};

fn main() {
    let n = 1_000_000u32;
    let keys: Vec<TemporaryExposureKey> = (0..n)
        .map(|i| {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&i.to_le_bytes());
            b[8..12].copy_from_slice(&i.wrapping_mul(2_654_435_761).to_le_bytes());
            TemporaryExposureKey::from_bytes(b)
        })
        .collect();
    let t = Instant::now();
    let mut acc = 0u8;
    for k in &keys {
        acc ^= RpiKey::derive_public(k).as_bytes()[0];
    }
    let hkdf = t.elapsed().as_secs_f64() / f64::from(n) * 1e9;
    let rpik = RpiKey::derive(&keys[0]);
    let t = Instant::now();
    let mut out = [[0u8; 16]; 144];
    for _ in 0..n {
        rpik.generator().fill(IntervalNumber(2_800_000), &mut out);
        acc ^= out[143][0];
    }
    let aes = t.elapsed().as_secs_f64() / f64::from(n) * 1e9;
    let generator = rpik.generator();
    let padded: Vec<[u8; 16]> =
        (0..144u32).map(|i| herald_gaen::padded_data(IntervalNumber(2_800_000 + i))).collect();
    let t = Instant::now();
    for _ in 0..n {
        generator.encrypt_padded(&padded, &mut out);
        acc ^= out[143][0];
    }
    let blocks_only = t.elapsed().as_secs_f64() / f64::from(n) * 1e9;
    let t = Instant::now();
    for k in &keys {
        let g = RpiKey::derive_public(k).generator();
        g.encrypt_padded(&padded, &mut out);
        acc ^= out[143][0];
    }
    let full = t.elapsed().as_secs_f64() / f64::from(n) * 1e9;
    println!(
        "144 blocks b2b with a ready key: {blocks_only:.0} ns; hkdf+schedule+blocks: {full:.0} ns"
    );
    let sightings: Vec<Sighting> = (0..20_000u32)
        .map(|i| {
            let mut r = [0u8; 16];
            r[..4].copy_from_slice(&i.wrapping_mul(2_654_435_761).to_le_bytes());
            r[4..8].copy_from_slice(&i.wrapping_mul(40503).to_le_bytes());
            Sighting {
                rpi: Rpi(r),
                aem: Aem([0; 4]),
                time: UnixTime(0),
                rssi: 0,
                previous_scan: None,
            }
        })
        .collect();
    let m = Matcher::new(sightings, MatchConfig::default());
    let t = Instant::now();
    let mut hits = 0usize;
    for _ in 0..n / 10 {
        rpik.generator().fill(IntervalNumber(2_800_000), &mut out);
        for r in &out {
            hits += usize::from(m.index().lookup(r).is_some());
        }
    }
    let probe = (t.elapsed().as_secs_f64() / f64::from(n / 10) * 1e9) - aes;
    println!(
        "per key: hkdf {hkdf:.0} ns, aes schedule+144 blocks {aes:.0} ns, 144 probes {probe:.0} ns ({acc} {hits})"
    );
}

#[allow(dead_code)]
fn unused() {}
