//! At-rest protection of the stored key payloads (specs/efgs-gateway.md §6.1, "Encryption at
//! rest").
//!
//! The reference encrypts every payload field on its own with AES-CBC and a fixed IV, so equal
//! values give equal ciphertexts and nothing is authenticated. herald packs the eight payload
//! fields of a key into one blob (`rows::pack_payload`) and seals it with AES-256-GCM:
//! - **Nonces never repeat under a key.** Each upload draws a random 64-bit prefix from the
//!   injected RNG; a key's nonce is that prefix and its 32-bit ordinal in the upload. A prefix
//!   would have to repeat (birthday bound: about 2³² uploads per key) for a nonce to repeat.
//! - **A sealed payload belongs to its row.** The associated data binds the key id, the upload's
//!   batch tag, the key's ordinal in it and its payload hash: a blob moved to another row, or a
//!   row whose tag, ordinal or hash was changed, does not open.
//! - **Keys rotate.** Every row records the id of the key that sealed it (derived from the key,
//!   see [`AtRestKeyId`]); old keys stay configured for reading until no row uses them.
//! - **A wrong key is an error, never garbage.** A row sealed with a key that is not configured
//!   is [`StoreError::AtRestKeyMissing`]; a payload that fails authentication is
//!   [`StoreError::AtRestOpen`].
//!
//! What stays in clear: the payload hash (SHA-256 over all eight fields, 128 of them random key
//! bits, so it cannot be inverted; it is needed for duplicate detection), the upload and its
//! uploader information (the audit serves them to every country), ordinals and times.

use std::convert::Infallible;
use std::fmt;
use std::sync::Mutex;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use rand_core::TryCryptoRng;
use sha2::Digest as _;
use zeroize::Zeroizing;

use super::StoreError;

/// Bytes of an at-rest key (AES-256).
pub const AT_REST_KEY_BYTES: usize = 32;

/// Bytes a sealed payload adds to the packed one: the nonce in front, the tag behind.
pub(crate) const SEAL_OVERHEAD: usize = NONCE_LEN + 16;

/// Domain separation of the associated data, versioned with the sealing scheme.
const AAD_LABEL: &[u8] = b"herald-gateway diagnosis_key v1\0";

/// Domain separation of key ids.
const KEY_ID_LABEL: &[u8] = b"herald-gateway at-rest key id\0";

/// The id of an at-rest key, stored with every row it seals: the first four bytes of
/// SHA-256(label ‖ key), shown as 8 hex digits. Derived from the key, so no one has to number
/// keys, a key file always has the same id, and a missing key is named before anything is
/// decrypted. It says nothing useful about a 256-bit random key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AtRestKeyId(u32);

/// A 256-bit AES-GCM key that seals key payloads. `Debug` shows only its id.
pub struct AtRestKey {
    id: AtRestKeyId,
    key: LessSafeKey,
}

/// Why an at-rest key or key set was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AtRestKeyError {
    /// Neither Base64 nor hex.
    #[error("at-rest key is neither Base64 nor hex (expected 32 random bytes in either)")]
    Encoding,
    /// Decoded, but not 32 bytes.
    #[error("at-rest key has {bytes} bytes, expected 32")]
    Length {
        /// The decoded length.
        bytes: usize,
    },
    /// Two different keys have the same id (a 1 in 2³² accident): replace one of them.
    #[error("two different at-rest keys have the id {id}; generate a new one")]
    IdCollision {
        /// The shared id.
        id: AtRestKeyId,
    },
    /// The AEAD implementation refused the key.
    #[error("at-rest key is not usable for AES-256-GCM")]
    Unusable,
}

/// The RNG that draws nonce prefixes.
type NonceRng = Box<dyn TryCryptoRng<Error = Infallible> + Send>;

/// The store's at-rest settings: the key that seals new rows (or none: new rows are stored
/// unencrypted, which the operator must choose explicitly) and every key that may open stored
/// rows.
pub struct AtRest {
    current: Option<AtRestKeyId>,
    keys: Vec<AtRestKey>,
    rng: Mutex<NonceRng>,
}

/// A sealed (or, without a current key, packed) payload and the id of the key that sealed it.
pub(crate) struct Sealed {
    pub(crate) key_id: Option<i64>,
    pub(crate) payload: Vec<u8>,
}

/// Where a payload is stored: what the associated data binds.
#[derive(Clone, Copy)]
pub(crate) struct RowBinding<'a> {
    pub(crate) batch_tag: &'a str,
    pub(crate) ordinal: u32,
    pub(crate) payload_hash: &'a [u8],
}

impl AtRestKeyId {
    /// The id as stored (a non-negative `BIGINT`/`INTEGER`).
    pub(crate) fn stored(self) -> i64 {
        i64::from(self.0)
    }

    /// The id of a stored value, if it is one.
    pub(crate) fn from_stored(value: i64) -> Option<Self> {
        u32::try_from(value).ok().map(Self)
    }
}

impl fmt::Display for AtRestKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

impl fmt::Debug for AtRestKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AtRestKeyId({self})")
    }
}

impl AtRestKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8; AT_REST_KEY_BYTES]) -> Result<Self, AtRestKeyError> {
        let mut hash = sha2::Sha256::new();
        hash.update(KEY_ID_LABEL);
        hash.update(bytes);
        let digest: [u8; 32] = hash.finalize().into();
        let [a, b, c, d, ..] = digest;
        let key = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| AtRestKeyError::Unusable)?;
        Ok(Self { id: AtRestKeyId(u32::from_be_bytes([a, b, c, d])), key: LessSafeKey::new(key) })
    }

    /// A key from the text of a key file: 32 bytes as Base64 (standard alphabet, padded) or as
    /// 64 hex digits; surrounding whitespace is ignored.
    pub fn parse(text: &str) -> Result<Self, AtRestKeyError> {
        let text = text.trim();
        let decoded =
            if text.len() == 2 * AT_REST_KEY_BYTES && text.bytes().all(|b| b.is_ascii_hexdigit()) {
                decode_hex(text)
            } else {
                base64::engine::general_purpose::STANDARD.decode(text).ok()
            };
        let decoded = Zeroizing::new(decoded.ok_or(AtRestKeyError::Encoding)?);
        let bytes: &[u8; AT_REST_KEY_BYTES] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| AtRestKeyError::Length { bytes: decoded.len() })?;
        Self::from_bytes(bytes)
    }

    /// The key's id.
    pub fn id(&self) -> AtRestKeyId {
        self.id
    }
}

impl fmt::Debug for AtRestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AtRestKey").field("id", &self.id).finish_non_exhaustive()
    }
}

impl AtRest {
    /// New rows are sealed with `current`; rows sealed with `current` or any of `previous` can
    /// be read. `rng` draws the nonce prefixes (one draw per upload).
    pub fn encrypting(
        current: AtRestKey,
        previous: Vec<AtRestKey>,
        rng: impl TryCryptoRng<Error = Infallible> + Send + 'static,
    ) -> Result<Self, AtRestKeyError> {
        let id = current.id;
        Self::build(Some(id), std::iter::once(current).chain(previous).collect(), Box::new(rng))
    }

    /// New rows are stored **unencrypted** (the operator's explicit choice); rows sealed with any
    /// of `previous` can still be read.
    pub fn plaintext(previous: Vec<AtRestKey>) -> Result<Self, AtRestKeyError> {
        Self::build(None, previous, Box::new(NoRng))
    }

    fn build(
        current: Option<AtRestKeyId>,
        keys: Vec<AtRestKey>,
        rng: NonceRng,
    ) -> Result<Self, AtRestKeyError> {
        let mut unique: Vec<AtRestKey> = Vec::with_capacity(keys.len());
        for key in keys {
            if unique.iter().any(|k| k.id == key.id) {
                // The same key twice is harmless; two keys with one id are not.
                if !unique.iter().any(|k| k.id == key.id && same_key(k, &key)) {
                    return Err(AtRestKeyError::IdCollision { id: key.id });
                }
                continue;
            }
            unique.push(key);
        }
        Ok(Self { current, keys: unique, rng: Mutex::new(rng) })
    }

    /// The id of the key that seals new rows; `None` when they are stored unencrypted.
    pub fn current_key_id(&self) -> Option<AtRestKeyId> {
        self.current
    }

    /// The ids of every key that can open rows, the current one first.
    pub fn key_ids(&self) -> Vec<AtRestKeyId> {
        self.keys.iter().map(|k| k.id).collect()
    }

    fn key(&self, id: AtRestKeyId) -> Option<&AtRestKey> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// A fresh random nonce prefix for the payloads of one upload (or one sealing chunk).
    pub(crate) fn nonce_prefix(&self) -> [u8; 8] {
        let mut prefix = [0u8; 8];
        // A panic while drawing cannot leave an RNG in a state that matters here.
        let mut rng = self.rng.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Ok(()) = rng.try_fill_bytes(&mut prefix);
        prefix
    }

    /// Seals a packed payload for its row with the current key, or returns it as is when new
    /// rows are stored unencrypted. `prefix` comes from [`AtRest::nonce_prefix`], drawn once for
    /// the rows of one upload, whose ordinals differ.
    pub(crate) fn seal(
        &self,
        prefix: [u8; 8],
        row: RowBinding<'_>,
        packed: Vec<u8>,
    ) -> Result<Sealed, StoreError> {
        let Some(id) = self.current else {
            return Ok(Sealed { key_id: None, payload: packed });
        };
        let key = self.key(id).ok_or(StoreError::AtRestKeyMissing { key_id: id })?;
        let mut nonce = [0u8; NONCE_LEN];
        let (front, back) = nonce.split_at_mut(8);
        front.copy_from_slice(&prefix);
        back.copy_from_slice(&row.ordinal.to_be_bytes());
        let mut payload = Vec::with_capacity(packed.len() + SEAL_OVERHEAD);
        payload.extend_from_slice(&nonce);
        payload.extend_from_slice(&packed);
        let (_, in_out) = payload.split_at_mut(NONCE_LEN);
        let tag = key
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(associated_data(id, row)),
                in_out,
            )
            .map_err(|_| {
                StoreError::invariant("seal_payload", "AES-256-GCM refused to seal a payload")
            })?;
        payload.extend_from_slice(tag.as_ref());
        Ok(Sealed { key_id: Some(id.stored()), payload })
    }

    /// The packed payload of a stored row: opened with the key named by `key_id`, or as stored
    /// when the row was stored unencrypted (`key_id` NULL).
    pub(crate) fn open(
        &self,
        key_id: Option<i64>,
        row: RowBinding<'_>,
        mut payload: Vec<u8>,
    ) -> Result<Vec<u8>, StoreError> {
        let Some(stored) = key_id else {
            return Ok(payload);
        };
        let id = AtRestKeyId::from_stored(stored)
            .ok_or_else(|| StoreError::corrupt("diagnosis_key", "key_id", &"out of range"))?;
        let key = self.key(id).ok_or(StoreError::AtRestKeyMissing { key_id: id })?;
        let Some((nonce, _)) = payload.split_first_chunk::<NONCE_LEN>() else {
            return Err(StoreError::AtRestOpen { key_id: id });
        };
        let nonce = Nonce::assume_unique_for_key(*nonce);
        let (_, sealed) = payload.split_at_mut(NONCE_LEN);
        let opened = key
            .key
            .open_in_place(nonce, Aad::from(associated_data(id, row)), sealed)
            .map_err(|_| StoreError::AtRestOpen { key_id: id })?
            .len();
        // The plaintext is the front of what followed the nonce: drop the nonce and the tag.
        payload.drain(..NONCE_LEN);
        payload.truncate(opened);
        Ok(payload)
    }
}

impl fmt::Debug for AtRest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AtRest")
            .field("current", &self.current)
            .field("keys", &self.key_ids())
            .finish_non_exhaustive()
    }
}

/// Whether two keys with the same id are the same key: both seal the same test block alike.
fn same_key(a: &AtRestKey, b: &AtRestKey) -> bool {
    let seal = |key: &AtRestKey| {
        let mut block = [0u8; 16];
        key.key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key([0; NONCE_LEN]),
                Aad::empty(),
                &mut block,
            )
            .ok()
            .map(|tag| (block, tag.as_ref().to_vec()))
    };
    matches!((seal(a), seal(b)), (Some(x), Some(y)) if x == y)
}

/// The associated data of a row: label ‖ key id ‖ ordinal ‖ hash length ‖ payload hash ‖ batch
/// tag (every part but the last has a fixed or a given length, so the encoding is unambiguous).
fn associated_data(id: AtRestKeyId, row: RowBinding<'_>) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_LABEL.len() + 8 + 32 + row.batch_tag.len());
    aad.extend_from_slice(AAD_LABEL);
    aad.extend_from_slice(&id.0.to_be_bytes());
    aad.extend_from_slice(&row.ordinal.to_be_bytes());
    aad.extend_from_slice(&u32::try_from(row.payload_hash.len()).unwrap_or(u32::MAX).to_be_bytes());
    aad.extend_from_slice(row.payload_hash);
    aad.extend_from_slice(row.batch_tag.as_bytes());
    aad
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| char::from(c).to_digit(16).and_then(|d| u8::try_from(d).ok());
    text.as_bytes()
        .chunks_exact(2)
        .map(|pair| match pair {
            [high, low] => Some(digit(*high)? << 4 | digit(*low)?),
            _ => None,
        })
        .collect()
}

/// The RNG of a plaintext store, which never draws nonces.
struct NoRng;

impl rand_core::TryRng for NoRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(0)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(0)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        dst.fill(0);
        Ok(())
    }
}

impl TryCryptoRng for NoRng {}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter(u8);

    impl rand_core::TryRng for Counter {
        type Error = Infallible;

        fn try_next_u32(&mut self) -> Result<u32, Infallible> {
            Ok(0)
        }

        fn try_next_u64(&mut self) -> Result<u64, Infallible> {
            Ok(0)
        }

        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
            self.0 = self.0.wrapping_add(1);
            dst.fill(self.0);
            Ok(())
        }
    }

    impl TryCryptoRng for Counter {}

    fn key(byte: u8) -> AtRestKey {
        AtRestKey::from_bytes(&[byte; 32]).unwrap()
    }

    const HASH: [u8; 32] = [7; 32];

    fn row(tag: &str, ordinal: u32) -> RowBinding<'_> {
        RowBinding { batch_tag: tag, ordinal, payload_hash: &HASH }
    }

    #[test]
    fn key_files_are_base64_or_hex() {
        let bytes: Vec<u8> = (0..32).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let hex = bytes.iter().fold(String::new(), |mut hex, b| {
            use std::fmt::Write as _;
            let _ = write!(hex, "{b:02x}");
            hex
        });
        let a = AtRestKey::parse(&format!("{b64}\n")).unwrap();
        let b = AtRestKey::parse(&format!("  {}\n", hex.to_uppercase())).unwrap();
        assert_eq!(a.id(), b.id());
        assert_eq!(a.id().to_string().len(), 8);
        assert!(!format!("{a:?}").contains(&b64), "{a:?}");
        assert!(matches!(AtRestKey::parse("not a key!"), Err(AtRestKeyError::Encoding)));
        assert!(matches!(
            AtRestKey::parse(&base64::engine::general_purpose::STANDARD.encode([1u8; 16])),
            Err(AtRestKeyError::Length { bytes: 16 })
        ));
        assert!(matches!(AtRestKey::parse(&hex[..62]), Err(AtRestKeyError::Encoding)));
        assert_ne!(key(1).id(), key(2).id());
    }

    #[test]
    fn sealed_payloads_open_only_in_their_row_with_their_key() {
        let at_rest = AtRest::encrypting(key(1), vec![key(2)], Counter(0)).unwrap();
        let prefix = at_rest.nonce_prefix();
        let packed = b"sixteen key byte and the rest".to_vec();
        let sealed = at_rest.seal(prefix, row("T", 3), packed.clone()).unwrap();
        assert_eq!(sealed.key_id, Some(key(1).id().stored()));
        assert_eq!(sealed.payload.len(), packed.len() + SEAL_OVERHEAD);
        assert!(!sealed.payload.windows(16).any(|w| w == &packed[..16]));
        let open = |binding, payload: &[u8]| at_rest.open(sealed.key_id, binding, payload.to_vec());
        assert_eq!(open(row("T", 3), &sealed.payload).unwrap(), packed);

        // Another row, another tag, another hash: refused, never garbage.
        for binding in
            [row("T", 4), row("U", 3), RowBinding { payload_hash: &[8; 32], ..row("T", 3) }]
        {
            assert!(matches!(open(binding, &sealed.payload), Err(StoreError::AtRestOpen { .. })));
        }
        // Any flipped bit: refused.
        for i in 0..sealed.payload.len() {
            let mut tampered = sealed.payload.clone();
            tampered[i] ^= 1;
            assert!(open(row("T", 3), &tampered).is_err(), "byte {i}");
        }
        assert!(open(row("T", 3), &sealed.payload[..5]).is_err());

        // Nonces: the ordinal and a fresh prefix per upload.
        let other = at_rest.seal(prefix, row("T", 4), packed.clone()).unwrap();
        let again = at_rest.seal(at_rest.nonce_prefix(), row("T", 3), packed.clone());
        assert_ne!(other.payload[..12], sealed.payload[..12]);
        assert_ne!(again.unwrap().payload[..12], sealed.payload[..12]);

        // A store that knows only the new key names the missing one.
        let rotated = AtRest::encrypting(key(3), vec![], Counter(0)).unwrap();
        let error = rotated.open(sealed.key_id, row("T", 3), sealed.payload.clone()).unwrap_err();
        assert!(
            matches!(error, StoreError::AtRestKeyMissing { key_id } if key_id == key(1).id()),
            "{error:?}"
        );
        // The previous key still opens it after rotation.
        let rotated = AtRest::encrypting(key(3), vec![key(1)], Counter(9)).unwrap();
        assert_eq!(
            rotated.open(sealed.key_id, row("T", 3), sealed.payload.clone()).unwrap(),
            packed
        );
        // Unencrypted rows pass through; a plaintext store writes them so.
        let plain = AtRest::plaintext(vec![]).unwrap();
        let stored = plain.seal(prefix, row("T", 3), packed.clone()).unwrap();
        assert_eq!((stored.key_id, &stored.payload), (None, &packed));
        assert_eq!(plain.open(None, row("T", 3), packed.clone()).unwrap(), packed);
    }

    #[test]
    fn the_same_key_twice_is_fine() {
        let at_rest = AtRest::encrypting(key(1), vec![key(1), key(2)], Counter(0)).unwrap();
        assert_eq!(at_rest.key_ids(), [key(1).id(), key(2).id()]);
        assert_eq!(at_rest.current_key_id(), Some(key(1).id()));
    }
}
