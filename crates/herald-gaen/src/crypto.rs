//! The GAEN key schedule: TEK → RPIK → RPI, TEK → AEMK → AEM (gaen-client.md §1).
//!
//! HKDF-SHA256 is specialised for GAEN's fixed shapes (16-byte IKM, empty salt, 7-byte info,
//! 16-byte output) and runs on the SHA-256 compression function directly: the empty-salt HMAC
//! state is computed once, so deriving one key costs six compressions instead of eight. The 144
//! RPIs of a key are one pipelined AES-ECB call. Both are checked against the published vectors
//! and against the general-purpose `hkdf`/`ctr` crates in the tests.

use std::fmt;
use std::sync::LazyLock;

use aes::Aes128Enc as Aes128;
use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};
use herald_model::{IntervalNumber, TemporaryExposureKey};
use rand_core::CryptoRng;
use sha2::block_api::compress256;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The HKDF info string for the RPI key, 7 bytes, no NUL.
pub const RPIK_INFO: &[u8; 7] = b"EN-RPIK";
/// The HKDF info string for the AEM key, 7 bytes, no NUL.
pub const AEMK_INFO: &[u8; 7] = b"EN-AEMK";
/// The most RPIs one key yields (one per interval of a 24-hour rolling period).
pub const RPIS_PER_KEY: usize = 144;

/// Draws a fresh TEK: 16 bytes from a cryptographic RNG, as Android's `SecureRandom` and iOS's
/// `CCRandomGenerateBytes` do.
pub fn generate_tek(rng: &mut impl CryptoRng) -> TemporaryExposureKey {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    let key = TemporaryExposureKey::from_bytes(bytes);
    bytes.zeroize();
    key
}

/// A Rolling Proximity Identifier: what a phone broadcasts for one interval.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Rpi(pub [u8; 16]);

impl fmt::Debug for Rpi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rpi({})", herald_model::key::to_hex(&self.0))
    }
}

/// Associated Encrypted Metadata: the 4 bytes broadcast next to an RPI.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Aem(pub [u8; 4]);

impl fmt::Debug for Aem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Aem({})", herald_model::key::to_hex(&self.0))
    }
}

/// The 16-byte block encrypted to give `RPI_j`: `"EN-RPI" ‖ 00×6 ‖ LE32(j)`.
pub fn padded_data(interval: IntervalNumber) -> [u8; 16] {
    let mut block = *b"EN-RPI\0\0\0\0\0\0\0\0\0\0";
    let [a, b, c, d] = interval.get().to_le_bytes();
    block[12] = a;
    block[13] = b;
    block[14] = c;
    block[15] = d;
    block
}

/// The Rolling Proximity Identifier Key of a TEK. A secret: zeroized on drop, redacted in `Debug`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct RpiKey([u8; 16]);

impl RpiKey {
    /// `HKDF-SHA256(TEK, salt = ∅, info = "EN-RPIK", 16)`.
    pub fn derive(tek: &TemporaryExposureKey) -> Self {
        Self(hkdf16::<true>(tek.as_bytes(), *RPIK_INFO))
    }

    /// The same derivation for a *published* diagnosis key: intermediates are not wiped, because
    /// nothing about a public key is secret. The matcher's hot path; never use it for the
    /// phone's own TEKs.
    pub fn derive_public(tek: &TemporaryExposureKey) -> Self {
        Self(hkdf16::<false>(tek.as_bytes(), *RPIK_INFO))
    }

    /// The key bytes (for tests and tools that print derivations).
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// A ready AES key schedule for generating many RPIs.
    pub fn generator(&self) -> RpiGenerator {
        RpiGenerator(Aes128::new(&Array::from(self.0)))
    }
}

impl fmt::Debug for RpiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RpiKey(<redacted>)")
    }
}

/// An expanded RPIK: turns interval numbers into RPIs.
#[derive(Clone)]
pub struct RpiGenerator(Aes128);

impl RpiGenerator {
    /// The RPI broadcast during `interval`.
    pub fn rpi(&self, interval: IntervalNumber) -> Rpi {
        let mut block = Array::from(padded_data(interval));
        self.0.encrypt_block(&mut block);
        Rpi(block.into())
    }

    /// Fills `out` with the RPIs of `start, start+1, …` in one pipelined AES call. Interval
    /// numbers past `u32::MAX` wrap (no real key gets there; matching then finds nothing for them).
    pub fn fill(&self, start: IntervalNumber, out: &mut [[u8; 16]]) {
        let template = padded_data(start);
        let mut enin = start.get();
        for block in out.iter_mut() {
            *block = template;
            let [a, b, c, d] = enin.to_le_bytes();
            block[12] = a;
            block[13] = b;
            block[14] = c;
            block[15] = d;
            enin = enin.wrapping_add(1);
        }
        self.0.encrypt_blocks(Array::cast_slice_from_core_mut(out));
    }

    /// Encrypts precomputed padded-data blocks (see [`padded_data`]) into `out`: the matcher's
    /// form of [`Self::fill`], which reuses the blocks of a rolling start across keys.
    pub fn encrypt_padded(&self, padded: &[[u8; 16]], out: &mut [[u8; 16]]) {
        // Equal lengths by contract; a shorter side just limits the work.
        let n = padded.len().min(out.len());
        if let (Some(input), Some(output)) = (padded.get(..n), out.get_mut(..n)) {
            // `encrypt_blocks_b2b` only fails on a length mismatch, excluded above.
            let _ = self.0.encrypt_blocks_b2b(
                Array::cast_slice_from_core(input),
                Array::cast_slice_from_core_mut(output),
            );
        }
    }

    /// The `count` RPIs starting at `start`.
    pub fn rpis(&self, start: IntervalNumber, count: usize) -> Vec<Rpi> {
        let mut raw = vec![[0u8; 16]; count];
        self.fill(start, &mut raw);
        raw.into_iter().map(Rpi).collect()
    }
}

/// The Associated Encrypted Metadata Key of a TEK. A secret: zeroized on drop, redacted in `Debug`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct AemKey([u8; 16]);

impl AemKey {
    /// `HKDF-SHA256(TEK, salt = ∅, info = "EN-AEMK", 16)`.
    pub fn derive(tek: &TemporaryExposureKey) -> Self {
        Self(hkdf16::<true>(tek.as_bytes(), *AEMK_INFO))
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// `AES-128-CTR(AEMK, IV = RPI, metadata)`. The plaintext is shorter than one block, so this is
    /// `metadata ⊕ AES(AEMK, RPI)[0..4]`, and encryption and decryption are the same operation.
    pub fn apply(&self, rpi: &Rpi, data: [u8; 4]) -> [u8; 4] {
        let cipher = Aes128::new(&Array::from(self.0));
        let mut block = Array::from(rpi.0);
        cipher.encrypt_block(&mut block);
        let [k0, k1, k2, k3, ..] = <[u8; 16]>::from(block);
        let [m0, m1, m2, m3] = data;
        [m0 ^ k0, m1 ^ k1, m2 ^ k2, m3 ^ k3]
    }

    /// Encrypts metadata for broadcast next to `rpi`.
    pub fn encrypt(&self, rpi: &Rpi, metadata: Metadata) -> Aem {
        Aem(self.apply(rpi, metadata.to_bytes()))
    }

    /// Decrypts an AEM seen next to `rpi`. The AEM is unauthenticated: the result is whatever the
    /// sender (or an attacker) put there, so callers must range-check it.
    pub fn decrypt(&self, rpi: &Rpi, aem: &Aem) -> Metadata {
        Metadata::from_bytes(self.apply(rpi, aem.0))
    }
}

impl fmt::Debug for AemKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AemKey(<redacted>)")
    }
}

/// The 4 bytes of Bluetooth metadata: `[version, tx_power, 0, 0]` (gaen-client.md §1.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Metadata {
    /// Version byte: bits 7:6 major, 5:4 minor, 3:2 calibration confidence (v1.1), 1:0 reserved.
    pub version: u8,
    /// Measured radiated transmit power, dBm.
    pub tx_power: i8,
    /// The two reserved bytes, kept so that decode→encode is the identity.
    pub reserved: [u8; 2],
}

impl Metadata {
    /// Version byte of v1.0.
    pub const VERSION_1_0: u8 = 0x40;
    /// Version byte of v1.1 with confidence 0.
    pub const VERSION_1_1: u8 = 0x50;

    /// v1.0 metadata with the given TX power.
    pub fn v1_0(tx_power: i8) -> Self {
        Self { version: Self::VERSION_1_0, tx_power, reserved: [0; 2] }
    }

    /// v1.1 metadata with TX power and calibration confidence (0 lowest … 3 high; higher bits are
    /// masked off).
    pub fn v1_1(tx_power: i8, confidence: u8) -> Self {
        Self { version: Self::VERSION_1_1 | ((confidence & 0b11) << 2), tx_power, reserved: [0; 2] }
    }

    /// The wire bytes.
    pub fn to_bytes(self) -> [u8; 4] {
        let [r0, r1] = self.reserved;
        [self.version, self.tx_power.to_le_bytes()[0], r0, r1]
    }

    /// Reads the wire bytes; any byte values are representable.
    pub fn from_bytes(bytes: [u8; 4]) -> Self {
        let [version, tx, r0, r1] = bytes;
        Self { version, tx_power: i8::from_le_bytes([tx]), reserved: [r0, r1] }
    }

    /// Major version (bits 7:6); 1 for every released GAEN version.
    pub fn major(self) -> u8 {
        self.version >> 6
    }

    /// Minor version (bits 5:4).
    pub fn minor(self) -> u8 {
        (self.version >> 4) & 0b11
    }

    /// TX-power calibration confidence (bits 3:2); v1.0 senders leave it 0 (lowest).
    pub fn calibration_confidence(self) -> u8 {
        (self.version >> 2) & 0b11
    }
}

// ---- HKDF-SHA256 specialised to GAEN's shapes ----

const SHA256_IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// SHA-256 states after absorbing the HMAC ipad and opad blocks of the all-zero 32-byte key
/// (RFC 5869: an empty salt is `HashLen` zero bytes).
struct ZeroKeyHmac {
    inner: [u32; 8],
    outer: [u32; 8],
}

static ZERO_SALT: LazyLock<ZeroKeyHmac> = LazyLock::new(|| {
    let (inner, outer) = hmac_key_states::<false>(&[0u8; 32]);
    ZeroKeyHmac { inner, outer }
});

/// Overwrites a secret intermediate when `WIPE` is set. Derivations for the phone's own keys wipe;
/// derivations for published diagnosis keys (whose TEK is public) skip it, since volatile wiping
/// of ~350 bytes per key would cost the matcher a fifth of its speed.
fn wipe<const WIPE: bool, Z: Zeroize + ?Sized>(z: &mut Z) {
    if WIPE {
        z.zeroize();
    }
}

fn hmac_key_states<const WIPE: bool>(key: &[u8; 32]) -> ([u32; 8], [u32; 8]) {
    let mut ipad = [0x36u8; 64];
    let mut opad = [0x5cu8; 64];
    for ((i, o), k) in ipad.iter_mut().zip(opad.iter_mut()).zip(key) {
        *i ^= k;
        *o ^= k;
    }
    let mut inner = SHA256_IV;
    let mut outer = SHA256_IV;
    compress256(&mut inner, &[ipad]);
    compress256(&mut outer, &[opad]);
    wipe::<WIPE, _>(&mut ipad);
    wipe::<WIPE, _>(&mut opad);
    (inner, outer)
}

/// The last SHA-256 block of an HMAC half whose message (`N` ≤ 55 bytes) follows the 64-byte pad
/// block: message, 0x80, zeros, the total bit length big-endian.
fn final_block<const N: usize>(msg: &[u8; N]) -> [u8; 64] {
    let mut block = [0u8; 64];
    let (head, _) = block.split_at_mut(N.min(55));
    head.copy_from_slice(msg.get(..head.len()).unwrap_or_default());
    if let Some(b) = block.get_mut(N) {
        *b = 0x80;
    }
    let bits = ((64 + N) as u64) * 8;
    block[56..64].copy_from_slice(&bits.to_be_bytes());
    block
}

fn state_bytes(state: &[u32; 8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// `HKDF-SHA256(ikm, salt = ∅, info, 16)` for a 16-byte IKM and a 7-byte info: six compressions
/// (extract: inner and outer over the precomputed zero-key states; expand: two key blocks and two
/// message blocks).
fn hkdf16<const WIPE: bool>(ikm: &[u8; 16], info: [u8; 7]) -> [u8; 16] {
    // Extract: PRK = HMAC(0^32, ikm).
    let zero = &*ZERO_SALT;
    let mut inner = zero.inner;
    let mut block = final_block(ikm);
    compress256(&mut inner, &[block]);
    wipe::<WIPE, _>(&mut block);
    let mut inner_hash = state_bytes(&inner);
    let mut outer = zero.outer;
    compress256(&mut outer, &[final_block(&inner_hash)]);
    let mut prk = state_bytes(&outer);
    // Expand: T(1) = HMAC(PRK, info ‖ 0x01).
    let (mut inner2, mut outer2) = hmac_key_states::<WIPE>(&prk);
    let mut msg = [0u8; 8];
    msg[..7].copy_from_slice(&info);
    msg[7] = 0x01;
    compress256(&mut inner2, &[final_block(&msg)]);
    let mut inner_hash2 = state_bytes(&inner2);
    compress256(&mut outer2, &[final_block(&inner_hash2)]);
    let mut out = [0u8; 16];
    for (o, word) in out.chunks_exact_mut(4).zip(&outer2) {
        o.copy_from_slice(&word.to_be_bytes());
    }
    wipe::<WIPE, _>(&mut inner);
    wipe::<WIPE, _>(&mut inner_hash);
    wipe::<WIPE, _>(&mut outer);
    wipe::<WIPE, _>(&mut prk);
    wipe::<WIPE, _>(&mut inner2);
    wipe::<WIPE, _>(&mut inner_hash2);
    wipe::<WIPE, _>(&mut outer2);
    out
}
