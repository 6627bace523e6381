//! Matching diagnosis keys against a phone's sightings with the OS rules (gaen-client.md §3).
//!
//! A [`Matcher`] indexes the sightings once ([`SightingIndex`]: an open-addressing table keyed by
//! the first 8 bytes of each RPI, which are uniformly random, so no general-purpose hashing is
//! needed). Each diagnosis key then costs one RPIK derivation, one pipelined AES call for its RPIs
//! and one table probe per RPI; only keys with a hit pay for the AEMK and the rule checks:
//!
//! 1. only RPI indices `0..rolling_period` (Android `traceWithJava`, iOS `min(rp, 144)`);
//! 2. a sighting of `RPI_j` counts only if `|floor(t/600) − j| ≤ 12` (±2 h);
//! 3. replay guard: of the time-valid sightings of one RPI, those more than 20 min after the
//!    first are dropped;
//! 4. the AEM is decrypted and implausible TX power dropped (Android [−50, 20] dBm, iOS
//!    [−60, 20] dBm);
//! 5. `attenuation = tx − rssi`; Android clamps negatives to 0, iOS drops attenuation outside
//!    1..=255.
//!
//! Keys with report type REVOKED are never matched, RECURSIVE only when enabled.

use std::borrow::Borrow;

use herald_model::{DiagnosisKey, IntervalNumber, ReportType, UnixTime};

use crate::crypto::{Aem, AemKey, RPIS_PER_KEY, Rpi, RpiKey, padded_data};

mod key_index;
pub use key_index::KeyIndex;

/// One BLE observation of an EN advertisement, as a phone stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sighting {
    /// The RPI heard.
    pub rpi: Rpi,
    /// The AEM broadcast with it.
    pub aem: Aem,
    /// When it was heard.
    pub time: UnixTime,
    /// Calibrated RSSI, dBm.
    pub rssi: i8,
    /// When the scan before the one that heard it happened, when known (for `secondsSinceLastScan`).
    pub previous_scan: Option<UnixTime>,
}

/// Whose matching rules to apply where Android and iOS differ (TX bounds, attenuation 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Platform {
    /// Android reference: TX in [−50, 20] dBm, attenuation clamped at 0.
    #[default]
    Android,
    /// iOS reference: TX in [−60, 20] dBm, attenuation outside 1..=255 dropped.
    Ios,
}

/// The matching rules. The defaults are the Android reference values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchConfig {
    /// TX bounds and attenuation handling.
    pub platform: Platform,
    /// Allowed clock drift between broadcast and scan, in intervals (12 = ±2 h).
    pub tolerance_intervals: u32,
    /// Sightings of one RPI later than this after its first sighting are replays.
    pub replay_guard_seconds: i64,
    /// Whether keys with report type RECURSIVE are matched (off in the reference).
    pub match_recursive: bool,
}

impl Default for MatchConfig {
    fn default() -> Self {
        Self {
            platform: Platform::Android,
            tolerance_intervals: 12,
            replay_guard_seconds: 1200,
            match_recursive: false,
        }
    }
}

impl MatchConfig {
    /// The inclusive plausible TX-power range.
    pub fn tx_power_bounds(&self) -> (i8, i8) {
        match self.platform {
            Platform::Android => (-50, 20),
            Platform::Ios => (-60, 20),
        }
    }

    /// Whether keys of this report type are matched at all.
    pub fn accepts(&self, report_type: ReportType) -> bool {
        match report_type {
            ReportType::Revoked => false,
            ReportType::Recursive => self.match_recursive,
            _ => true,
        }
    }

    /// The attenuation of a sighting, or `None` when the platform drops it.
    pub fn attenuation(&self, tx_power: i8, rssi: i8) -> Option<u8> {
        let raw = i16::from(tx_power) - i16::from(rssi);
        match self.platform {
            Platform::Android => u8::try_from(raw.max(0)).ok(),
            Platform::Ios => u8::try_from(raw).ok().filter(|a| *a >= 1),
        }
    }
}

/// A sighting that survived every rule, attributed to one diagnosis key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchedSighting {
    /// When it was heard.
    pub time: UnixTime,
    /// The interval whose RPI it was.
    pub interval: IntervalNumber,
    /// RSSI, dBm.
    pub rssi: i8,
    /// Decrypted TX power, dBm.
    pub tx_power: i8,
    /// `tx_power − rssi` after the platform's rule.
    pub attenuation: u8,
    /// Calibration confidence from the decrypted version byte (0..=3).
    pub calibration_confidence: u8,
    /// The previous scan's time, when known.
    pub previous_scan: Option<UnixTime>,
}

/// All surviving sightings of one diagnosis key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMatch {
    /// Position of the key in the input stream.
    pub key_index: usize,
    /// The key.
    pub key: DiagnosisKey,
    /// Its sightings, sorted by time.
    pub sightings: Vec<MatchedSighting>,
}

/// The phone's sightings, indexed by RPI for constant-time probes.
#[derive(Debug, Clone)]
pub struct SightingIndex {
    /// Sorted by (RPI, time), so each RPI's sightings are one run.
    sightings: Vec<Sighting>,
    /// A two-bits-per-RPI filter in one 64-bit word each, sized at 32 to 64 bits per distinct RPI
    /// (about 128 KiB for 20 000 sightings): nearly every probe of a non-matching key ends here.
    /// Measured on the bench: a smaller, L1-resident filter is slower, because each false
    /// positive (0.5 % at 16 bits per RPI) costs a cache miss in the table.
    filter: Vec<u64>,
    filter_shift: u32,
    /// Slot → first 8 bytes of an RPI (0 = empty; an RPI whose prefix is 0 is stored as 1).
    prefixes: Vec<u64>,
    /// Slot → (start, len) of the RPI's run in `sightings`.
    runs: Vec<(u32, u32)>,
    mask: usize,
    shift: u32,
    seed: u64,
}

impl SightingIndex {
    /// Indexes sightings (any order; at most `u32::MAX` of them are kept).
    pub fn new(mut sightings: Vec<Sighting>) -> Self {
        sightings.truncate(u32::MAX as usize);
        sightings.sort_unstable_by(|a, b| a.rpi.cmp(&b.rpi).then(a.time.cmp(&b.time)));
        let mut runs_found: Vec<(u32, u32)> = Vec::new();
        let mut start = 0usize;
        while let Some(first) = sightings.get(start) {
            let len = sightings
                .get(start..)
                .map_or(0, |rest| rest.iter().take_while(|s| s.rpi == first.rpi).count());
            runs_found.push((to_u32(start), to_u32(len)));
            start += len.max(1);
        }
        let capacity = (runs_found.len() * 2).next_power_of_two().max(16);
        // Mixing the slot with a seed drawn from the data keeps an attacker who broadcasts RPIs
        // with colliding prefixes from predicting slots (they do not know the other sightings).
        let seed = sightings.iter().fold(0x243f_6a88_85a3_08d3_u64, |acc, s| {
            (acc ^ prefix(&s.rpi.0)).rotate_left(23).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        });
        let filter_words = (runs_found.len() / 2).next_power_of_two().max(64);
        let mut index = Self {
            sightings,
            filter: vec![0; filter_words],
            filter_shift: 64 - filter_words.trailing_zeros(),
            prefixes: vec![0; capacity],
            runs: vec![(0, 0); capacity],
            mask: capacity - 1,
            shift: 64 - capacity.trailing_zeros(),
            seed,
        };
        for run in runs_found {
            index.insert(run);
        }
        index
    }

    fn insert(&mut self, run: (u32, u32)) {
        let Some(first) = self.sightings.get(run.0 as usize) else { return };
        let p = prefix(&first.rpi.0);
        // The filter hashes the raw prefix (no `max(1)`), as `for_each_candidate` does.
        let (word, bits) = self.filter_position(raw_prefix(&first.rpi.0));
        if let Some(w) = self.filter.get_mut(word) {
            *w |= bits;
        }
        let mut slot = self.slot(self.mix(p));
        // The table is at most half full, so an empty slot is always found.
        loop {
            match self.prefixes.get_mut(slot) {
                Some(entry) if *entry == 0 => {
                    *entry = p;
                    if let Some(r) = self.runs.get_mut(slot) {
                        *r = run;
                    }
                    return;
                }
                Some(_) => slot = (slot + 1) & self.mask,
                None => return,
            }
        }
    }

    #[inline]
    fn mix(&self, p: u64) -> u64 {
        (p ^ self.seed).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }

    #[inline]
    fn slot(&self, h: u64) -> usize {
        // The shift leaves at most log2(capacity) bits, which fit in usize.
        #[allow(clippy::cast_possible_truncation)]
        let slot = (h >> self.shift) as usize;
        slot
    }

    /// The filter word and bits of an RPI prefix. RPIs are AES outputs, so their bits are used
    /// as they are: no mixing on the hot path. Sightings crafted to share a word only make that
    /// word's probes fall through to the table.
    #[inline]
    fn filter_position(&self, p: u64) -> (usize, u64) {
        // The shift leaves at most log2(words) bits, which fit in usize.
        #[allow(clippy::cast_possible_truncation)]
        let word = ((p ^ self.seed) >> self.filter_shift) as usize;
        (word, (1u64 << (p & 63)) | (1u64 << ((p >> 6) & 63)))
    }

    /// Whether `rpi` may have been seen: `false` is certain, `true` is right for all but ~0.2 %
    /// of unseen RPIs. The matcher's hot path; [`Self::lookup`] settles the rest.
    #[inline]
    pub fn may_contain(&self, rpi: &[u8; 16]) -> bool {
        let (word, bits) = self.filter_position(raw_prefix(rpi));
        self.filter.get(word).is_some_and(|w| w & bits == bits)
    }

    /// Calls `hit(i, rpi)` for every RPI of `rpis` that [`Self::may_contain`] lets through. The
    /// matcher's hot loop: the filter, its shift and seed stay in registers, and the common case
    /// (a key nobody saw) runs without taking a branch.
    #[inline]
    pub fn for_each_candidate<'r>(
        &self,
        rpis: &'r [[u8; 16]],
        mut hit: impl FnMut(usize, &'r [u8; 16]),
    ) {
        let filter = self.filter.as_slice();
        let (seed, shift) = (self.seed, self.filter_shift);
        for (i, rpi) in rpis.iter().enumerate() {
            let mut head = [0u8; 8];
            head.copy_from_slice(&rpi[..8]);
            let p = u64::from_le_bytes(head);
            // The shift leaves at most log2(words) bits, which fit in usize.
            #[allow(clippy::cast_possible_truncation)]
            let word = ((p ^ seed) >> shift) as usize;
            let bits = (1u64 << (p & 63)) | (1u64 << ((p >> 6) & 63));
            if filter.get(word).is_some_and(|w| w & bits == bits) {
                hit(i, rpi);
            }
        }
    }

    /// The sightings of one RPI, sorted by time, or `None` if it was never seen.
    #[inline]
    pub fn lookup(&self, rpi: &[u8; 16]) -> Option<&[Sighting]> {
        if !self.may_contain(rpi) {
            return None;
        }
        let p = prefix(rpi);
        let mut slot = self.slot(self.mix(p));
        loop {
            let entry = *self.prefixes.get(slot)?;
            if entry == 0 {
                return None;
            }
            if entry == p {
                let &(start, len) = self.runs.get(slot)?;
                let run = self.sightings.get(start as usize..(start as usize + len as usize))?;
                if run.first().is_some_and(|s| &s.rpi.0 == rpi) {
                    return Some(run);
                }
            }
            slot = (slot + 1) & self.mask;
        }
    }

    /// Number of sightings indexed.
    pub fn len(&self) -> usize {
        self.sightings.len()
    }

    /// Whether there are no sightings.
    pub fn is_empty(&self) -> bool {
        self.sightings.is_empty()
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn raw_prefix(rpi: &[u8; 16]) -> u64 {
    let mut head = [0u8; 8];
    head.copy_from_slice(&rpi[..8]);
    u64::from_le_bytes(head)
}

fn prefix(rpi: &[u8; 16]) -> u64 {
    let mut head = [0u8; 8];
    head.copy_from_slice(&rpi[..8]);
    u64::from_le_bytes(head).max(1)
}

/// Matches diagnosis keys against indexed sightings.
#[derive(Debug, Clone)]
pub struct Matcher {
    index: SightingIndex,
    config: MatchConfig,
}

impl Matcher {
    /// Indexes `sightings` for matching under `config`.
    pub fn new(sightings: Vec<Sighting>, config: MatchConfig) -> Self {
        Self { index: SightingIndex::new(sightings), config }
    }

    /// The rules in force.
    pub fn config(&self) -> &MatchConfig {
        &self.config
    }

    /// The sighting index.
    pub fn index(&self) -> &SightingIndex {
        &self.index
    }

    /// Matches one key; `None` when none of its sightings survive.
    pub fn match_key(&self, key_index: usize, key: &DiagnosisKey) -> Option<KeyMatch> {
        self.match_key_with(&mut Scratch::new(), key_index, key)
    }

    fn match_key_with(
        &self,
        scratch: &mut Scratch,
        key_index: usize,
        key: &DiagnosisKey,
    ) -> Option<KeyMatch> {
        if !self.config.accepts(key.report_type) || self.index.is_empty() {
            return None;
        }
        let count = usize::from(key.rolling_period.get()).min(RPIS_PER_KEY);
        scratch.prepare(key.rolling_start);
        let padded = scratch.padded.get(..count)?;
        let rpis = scratch.rpis.get_mut(..count)?;
        // Diagnosis keys are public: the non-wiping derivation is right here.
        RpiKey::derive_public(&key.key).generator().encrypt_padded(padded, rpis);

        let mut hits: Vec<(u32, &[Sighting])> = Vec::new();
        let index = &self.index;
        index.for_each_candidate(rpis, |i, rpi| {
            if let (Some(run), Ok(i)) = (index.lookup(rpi), u32::try_from(i)) {
                hits.push((i, run));
            }
        });
        if hits.is_empty() {
            return None;
        }

        let aemk = AemKey::derive(&key.key);
        let mut sightings = Vec::new();
        for (i, run) in hits {
            let Ok(interval) = key.rolling_start.checked_add(i) else { continue };
            self.check_run(&aemk, interval, run, &mut sightings);
        }
        if sightings.is_empty() {
            return None;
        }
        sightings.sort_by_key(|s| s.time);
        Some(KeyMatch { key_index, key: key.clone(), sightings })
    }

    /// Applies rules 2–5 to the sightings of the RPI of `interval`.
    fn check_run(
        &self,
        aemk: &AemKey,
        interval: IntervalNumber,
        run: &[Sighting],
        out: &mut Vec<MatchedSighting>,
    ) {
        check_run(&self.config, aemk, interval, run, out);
    }

    /// Matches a stream of keys on this thread, yielding only keys with surviving sightings.
    /// Memory stays bounded by the matches, whatever the number of keys.
    pub fn match_keys<'a, I>(&'a self, keys: I) -> impl Iterator<Item = KeyMatch> + 'a
    where
        I: IntoIterator,
        I::Item: Borrow<DiagnosisKey>,
        I::IntoIter: 'a,
    {
        let mut scratch = Scratch::new();
        keys.into_iter()
            .enumerate()
            .filter_map(move |(i, key)| self.match_key_with(&mut scratch, i, key.borrow()))
    }

    /// Matches a slice of keys on all cores of the current rayon pool; results in key order.
    #[cfg(feature = "parallel")]
    pub fn match_keys_parallel(&self, keys: &[DiagnosisKey]) -> Vec<KeyMatch> {
        use rayon::prelude::*;
        keys.par_iter()
            .enumerate()
            .with_min_len(256)
            .map_init(Scratch::new, |scratch, (i, key)| self.match_key_with(scratch, i, key))
            .flatten()
            .collect()
    }
}

/// Rules 2–5 for the sightings `run` (one RPI, sorted by time) of the RPI of `interval`.
fn check_run(
    config: &MatchConfig,
    aemk: &AemKey,
    interval: IntervalNumber,
    run: &[Sighting],
    out: &mut Vec<MatchedSighting>,
) {
    let j = i64::from(interval.get());
    let tolerance = i64::from(config.tolerance_intervals);
    let (tx_min, tx_max) = config.tx_power_bounds();
    let mut first_seen: Option<UnixTime> = None;
    for s in run {
        let seen_interval = s.time.seconds().div_euclid(600);
        if (seen_interval - j).abs() > tolerance {
            continue;
        }
        let first = *first_seen.get_or_insert(s.time);
        if s.time.seconds() - first.seconds() > config.replay_guard_seconds {
            continue;
        }
        let metadata = aemk.decrypt(&s.rpi, &s.aem);
        if metadata.tx_power < tx_min || metadata.tx_power > tx_max {
            continue;
        }
        let Some(attenuation) = config.attenuation(metadata.tx_power, s.rssi) else {
            continue;
        };
        out.push(MatchedSighting {
            time: s.time,
            interval,
            rssi: s.rssi,
            tx_power: metadata.tx_power,
            attenuation,
            calibration_confidence: metadata.calibration_confidence(),
            previous_scan: s.previous_scan,
        });
    }
}

/// Per-thread working memory of the matcher: the padded-data blocks of the last rolling start
/// (most keys of a file share a few) and room for one key's RPIs.
struct Scratch {
    start: Option<IntervalNumber>,
    padded: Box<[[u8; 16]; RPIS_PER_KEY]>,
    rpis: Box<[[u8; 16]; RPIS_PER_KEY]>,
}

impl Scratch {
    fn new() -> Self {
        Self {
            start: None,
            padded: Box::new([[0; 16]; RPIS_PER_KEY]),
            rpis: Box::new([[0; 16]; RPIS_PER_KEY]),
        }
    }

    fn prepare(&mut self, start: IntervalNumber) {
        if self.start != Some(start) {
            let mut enin = start.get();
            for block in self.padded.iter_mut() {
                *block = padded_data(IntervalNumber(enin));
                enin = enin.wrapping_add(1);
            }
            self.start = Some(start);
        }
    }
}
