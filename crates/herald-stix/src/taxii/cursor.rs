//! Stateless, authenticated `next` cursors: a page's position, MAC'd under the exchange's
//! cursor key and bound to the caller's organisation and to the request it continues, so paging
//! survives restarts and works across instances that share the key (no server state).
//!
//! Layout (57 bytes, 76 characters of base64url without padding):
//! `0x01 ‖ date_added µs (i64 BE) ‖ seq (i64 BE) ‖ org (i64 BE) ‖
//! SHA-256(endpoint ‖ 0 ‖ collection ‖ 0 ‖ object ‖ 0 ‖ filters)[..16] ‖
//! HMAC-SHA256(key, all preceding bytes)[..16]`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::query::Endpoint;
use crate::timestamp::StixTime;

const VERSION: u8 = 1;
const BINDING_LEN: usize = 16;
const MAC_LEN: usize = 16;
const BODY_LEN: usize = 1 + 8 + 8 + 8 + BINDING_LEN;
const LEN: usize = BODY_LEN + MAC_LEN;
/// The length of a cursor's text.
pub const TEXT_LEN: usize = (LEN * 4).div_ceil(3);

/// Where a page ends: the last row served, in the `(date_added, seq)` order of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// The row's `date_added`.
    pub date_added: StixTime,
    /// The row's sequence number (breaks ties between equal `date_added`).
    pub seq: i64,
}

/// The secret that authenticates cursors (from configuration, shared by all instances).
#[derive(Clone)]
pub struct CursorKey([u8; 32]);

impl CursorKey {
    /// A key from its 32 bytes.
    pub const fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(<redacted>)")
    }
}

/// What a cursor is bound to: the caller and the request it continues.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    /// The caller's organisation.
    pub org: i64,
    /// The endpoint.
    pub endpoint: Endpoint,
    /// The collection's id.
    pub collection: &'a str,
    /// The object's id (object and versions endpoints).
    pub object: Option<&'a str>,
    /// The request's filters, `Filters::canonical`.
    pub filters: &'a str,
}

impl Binding<'_> {
    fn hash(&self) -> [u8; BINDING_LEN] {
        let digest = Sha256::new()
            .chain_update(self.endpoint.name())
            .chain_update([0])
            .chain_update(self.collection)
            .chain_update([0])
            .chain_update(self.object.unwrap_or(""))
            .chain_update([0])
            .chain_update(self.filters)
            .finalize();
        let mut out = [0; BINDING_LEN];
        out.iter_mut().zip(digest.iter()).for_each(|(o, d)| *o = *d);
        out
    }
}

/// Why a cursor was refused (the service answers 400 with the message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    /// Not base64url, the wrong length, or an unknown version.
    #[error("the next cursor is malformed")]
    Malformed,
    /// The MAC does not verify.
    #[error("the next cursor was not issued by this exchange or was altered")]
    Forged,
    /// Issued to another organisation.
    #[error("the next cursor was issued to another organisation")]
    OtherCaller,
    /// Issued for another collection, object, endpoint or filters.
    #[error("the next cursor was issued for another collection, object or other filters")]
    OtherRequest,
}

fn tag(key: &CursorKey, body: &[u8]) -> [u8; MAC_LEN] {
    // HMAC zero-pads keys shorter than the block, so this is HMAC under the 32-byte key.
    let mut block = [0u8; 64];
    block.iter_mut().zip(key.0.iter()).for_each(|(b, k)| *b = *k);
    let mut mac = <Hmac<Sha256>>::new(&block.into());
    mac.update(body);
    let full = mac.finalize().into_bytes();
    let mut out = [0; MAC_LEN];
    out.iter_mut().zip(full.iter()).for_each(|(o, d)| *o = *d);
    out
}

/// The cursor text for `position`, for the caller and request of `binding`.
pub fn seal(key: &CursorKey, position: Position, binding: &Binding<'_>) -> String {
    let mut bytes = Vec::with_capacity(LEN);
    bytes.push(VERSION);
    bytes.extend_from_slice(&position.date_added.micros().to_be_bytes());
    bytes.extend_from_slice(&position.seq.to_be_bytes());
    bytes.extend_from_slice(&binding.org.to_be_bytes());
    bytes.extend_from_slice(&binding.hash());
    let mac = tag(key, &bytes);
    bytes.extend_from_slice(&mac);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn read_i64(bytes: &[u8], at: usize) -> i64 {
    let mut word = [0u8; 8];
    word.iter_mut().zip(bytes.iter().skip(at)).for_each(|(w, b)| *w = *b);
    i64::from_be_bytes(word)
}

/// The position of a cursor issued by [`seal`] for this caller and request; refusals are
/// checked in the order of [`CursorError`].
pub fn open(key: &CursorKey, text: &str, binding: &Binding<'_>) -> Result<Position, CursorError> {
    if text.len() != TEXT_LEN {
        return Err(CursorError::Malformed);
    }
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| CursorError::Malformed)?;
    if bytes.len() != LEN || bytes.first() != Some(&VERSION) {
        return Err(CursorError::Malformed);
    }
    let (body, mac) = bytes.split_at(BODY_LEN);
    if !bool::from(tag(key, body).ct_eq(mac)) {
        return Err(CursorError::Forged);
    }
    if read_i64(body, 17) != binding.org {
        return Err(CursorError::OtherCaller);
    }
    if body.get(25..) != Some(binding.hash().as_slice()) {
        return Err(CursorError::OtherRequest);
    }
    Ok(Position { date_added: StixTime::from_micros(read_i64(body, 1)), seq: read_i64(body, 9) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(filters: &str) -> Binding<'_> {
        Binding { org: 7, endpoint: Endpoint::Objects, collection: "c1", object: None, filters }
    }

    #[test]
    fn round_trip_and_refusals() {
        let key = CursorKey::new([3; 32]);
        let at = Position { date_added: StixTime::from_micros(-5), seq: i64::MAX };
        let text = seal(&key, at, &binding("f"));
        assert_eq!(text.len(), TEXT_LEN);
        assert_eq!(open(&key, &text, &binding("f")), Ok(at));
        assert_eq!(open(&CursorKey::new([4; 32]), &text, &binding("f")), Err(CursorError::Forged));
        assert_eq!(
            open(&key, &text, &Binding { org: 8, ..binding("f") }),
            Err(CursorError::OtherCaller)
        );
        assert_eq!(open(&key, &text, &binding("g")), Err(CursorError::OtherRequest));
        assert_eq!(open(&key, "", &binding("f")), Err(CursorError::Malformed));
        assert_eq!(format!("{key:?}"), "CursorKey(<redacted>)");
    }
}
