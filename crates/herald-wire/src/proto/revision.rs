//! ENS revision-token messages (specs/key-server.md §2.5), proto3:
//!
//! ```proto
//! syntax = "proto3";
//!
//! message RevisionTokenData {
//!   repeated RevisableKey revisableKeys = 1;
//! }
//!
//! message RevisableKey {
//!   bytes temporaryExposureKey = 1;
//!   int32 intervalNumber = 2;
//!   int32 intervalCount = 3;
//! }
//!
//! // The envelope: which key encrypted `data` (nonce ‖ AES-256-GCM ciphertext and tag).
//! message RevisionToken {
//!   string kid = 1;
//!   bytes data = 2;
//! }
//! ```
//!
//! Only the server that minted a token reads it, so these bytes never need to match another
//! implementation's; they follow ENS's field numbers all the same.

/// The plaintext of a revision token: the keys the device uploaded (and padding entries).
#[derive(Clone, PartialEq, prost::Message)]
pub struct RevisionTokenData {
    /// `revisableKeys`.
    #[prost(message, repeated, tag = "1")]
    pub revisable_keys: Vec<RevisableKey>,
}

/// One key a device may revise.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RevisableKey {
    /// `temporaryExposureKey`: the 16 key bytes (all zero in padding entries).
    #[prost(bytes = "vec", tag = "1")]
    pub temporary_exposure_key: Vec<u8>,
    /// `intervalNumber`: the key's rolling start.
    #[prost(int32, tag = "2")]
    pub interval_number: i32,
    /// `intervalCount`: the key's rolling period.
    #[prost(int32, tag = "3")]
    pub interval_count: i32,
}

/// The envelope the client carries (standard Base64 in JSON).
#[derive(Clone, PartialEq, prost::Message)]
pub struct RevisionToken {
    /// The id of the key that encrypted `data` (ENS: the decimal database id).
    #[prost(string, tag = "1")]
    pub kid: String,
    /// `nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes)`.
    #[prost(bytes = "vec", tag = "2")]
    pub data: Vec<u8>,
}
