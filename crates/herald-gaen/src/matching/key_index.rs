//! [`KeyIndex`]: matching the other way round, one key set against many phones, with the same
//! rules as [`Matcher`] (`check_run` is shared).

#[allow(clippy::wildcard_imports)]
use super::*;

/// The other way round from [`Matcher`]: a set of diagnosis keys with every RPI derived once,
/// for checking many phones against the same keys (a simulation of a population, or a key
/// server's own test tooling). [`KeyIndex::match_sightings`] gives exactly what
/// [`Matcher::match_keys`] gives for the same sightings and keys; a phone pays one table probe
/// per sighting instead of one AES call per RPI of every key.
#[derive(Debug, Clone)]
pub struct KeyIndex {
    keys: Vec<DiagnosisKey>,
    /// RPI → (key position, RPI index within the key).
    rpis: std::collections::HashMap<u128, (u32, u8), RpiHashing>,
    config: MatchConfig,
}

/// Hashing for RPI tables: RPIs are AES outputs, so their first 8 bytes, mixed with a secret
/// per-table seed (keys come from uploaders, who could grind for colliding prefixes), hash as
/// well as SipHash does, at a fraction of its cost.
#[derive(Debug, Clone)]
struct RpiHashing {
    seed: u64,
}

impl RpiHashing {
    fn new() -> Self {
        use std::hash::BuildHasher as _;
        Self { seed: std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64) | 1 }
    }
}

impl std::hash::BuildHasher for RpiHashing {
    type Hasher = RpiHasher;
    fn build_hasher(&self) -> RpiHasher {
        RpiHasher { seed: self.seed, state: 0 }
    }
}

/// See [`RpiHashing`].
#[derive(Debug)]
struct RpiHasher {
    seed: u64,
    state: u64,
}

impl std::hash::Hasher for RpiHasher {
    fn finish(&self) -> u64 {
        self.state
    }
    fn write(&mut self, bytes: &[u8]) {
        // Not used by `u128` keys; a correct fallback all the same.
        for b in bytes {
            self.state = (self.state ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u128(&mut self, v: u128) {
        // The low 64 bits of a little-endian RPI are its first 8 bytes.
        #[allow(clippy::cast_possible_truncation)]
        let low = v as u64;
        let mixed = (low ^ self.seed).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.state = mixed ^ (mixed >> 29);
    }
}

impl KeyIndex {
    /// Derives the RPIs of `keys` (those `config` matches at all) under `config`.
    pub fn new(keys: Vec<DiagnosisKey>, config: MatchConfig) -> Self {
        let mut scratch = Scratch::new();
        let mut rpis = std::collections::HashMap::with_hasher(RpiHashing::new());
        for (k, key) in keys.iter().enumerate() {
            let Ok(k) = u32::try_from(k) else { break };
            if !config.accepts(key.report_type) {
                continue;
            }
            let count = usize::from(key.rolling_period.get()).min(RPIS_PER_KEY);
            scratch.prepare(key.rolling_start);
            let (Some(padded), Some(out)) =
                (scratch.padded.get(..count), scratch.rpis.get_mut(..count))
            else {
                continue;
            };
            RpiKey::derive_public(&key.key).generator().encrypt_padded(padded, out);
            for (i, rpi) in out.iter().enumerate() {
                if let Ok(i) = u8::try_from(i) {
                    rpis.entry(u128::from_le_bytes(*rpi)).or_insert((k, i));
                }
            }
        }
        Self { keys, rpis, config }
    }

    /// The keys.
    pub fn keys(&self) -> &[DiagnosisKey] {
        &self.keys
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether `rpi` is one of the keys' RPIs (a cheap pre-filter before
    /// [`Self::match_sightings`]).
    #[inline]
    pub fn contains(&self, rpi: &[u8; 16]) -> bool {
        self.rpis.contains_key(&u128::from_le_bytes(*rpi))
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys with surviving sightings among `sightings`, in key order, each with its
    /// sightings sorted by time.
    pub fn match_sightings(&self, sightings: &[Sighting]) -> Vec<KeyMatch> {
        let mut hits: Vec<(u32, u8, Sighting)> = sightings
            .iter()
            .filter_map(|s| self.rpis.get(&u128::from_le_bytes(s.rpi.0)).map(|&(k, i)| (k, i, *s)))
            .collect();
        if hits.is_empty() {
            return Vec::new();
        }
        hits.sort_unstable_by_key(|h| (h.0, h.1, h.2.time));
        let mut out: Vec<KeyMatch> = Vec::new();
        let mut run: Vec<Sighting> = Vec::new();
        let mut start = 0;
        let mut aemk: Option<(u32, AemKey)> = None;
        while let Some(&(k, i, _)) = hits.get(start) {
            let len = hits
                .get(start..)
                .map_or(0, |rest| rest.iter().take_while(|h| h.0 == k && h.1 == i).count());
            run.clear();
            run.extend(hits.get(start..start + len).unwrap_or_default().iter().map(|h| h.2));
            start += len.max(1);
            let Some(key) = self.keys.get(k as usize) else { continue };
            let Ok(interval) = key.rolling_start.checked_add(u32::from(i)) else { continue };
            if aemk.as_ref().is_none_or(|(of, _)| *of != k) {
                aemk = Some((k, AemKey::derive(&key.key)));
            }
            let Some((_, aemk)) = &aemk else { continue };
            let index = k as usize;
            if out.last().is_none_or(|m| m.key_index != index) {
                out.push(KeyMatch { key_index: index, key: key.clone(), sightings: Vec::new() });
            }
            if let Some(m) = out.last_mut() {
                check_run(&self.config, aemk, interval, &run, &mut m.sightings);
            }
        }
        out.retain(|m| !m.sightings.is_empty());
        for m in &mut out {
            m.sightings.sort_by_key(|s| s.time);
        }
        out
    }
}
