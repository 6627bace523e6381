//! GAEN `exposure_key_export.proto` (proto2), as published by Google and Apple
//! (key-server.md §5.2):
//!
//! ```proto
//! syntax = "proto2";
//! message TemporaryExposureKeyExport {
//!   optional fixed64 start_timestamp = 1;
//!   optional fixed64 end_timestamp = 2;
//!   optional string region = 3;
//!   optional int32 batch_num = 4;
//!   optional int32 batch_size = 5;
//!   repeated SignatureInfo signature_infos = 6;
//!   repeated TemporaryExposureKey keys = 7;
//!   repeated TemporaryExposureKey revised_keys = 8;
//! }
//! message SignatureInfo {
//!   reserved 1, 2;  // app_bundle_id, android_package: still present in old files
//!   optional string verification_key_version = 3;
//!   optional string verification_key_id = 4;
//!   optional string signature_algorithm = 5;
//! }
//! message TemporaryExposureKey {
//!   optional bytes key_data = 1;
//!   optional int32 transmission_risk_level = 2 [deprecated = true];
//!   optional int32 rolling_start_interval_number = 3;
//!   optional int32 rolling_period = 4 [default = 144];
//!   optional ReportType report_type = 5;
//!   optional sint32 days_since_onset_of_symptoms = 6;
//!   optional VariantOfConcern variant_of_concern = 8;  // never written by herald
//! }
//! message TEKSignatureList { repeated TEKSignature signatures = 1; }
//! message TEKSignature {
//!   optional SignatureInfo signature_info = 1;
//!   optional int32 batch_num = 2;
//!   optional int32 batch_size = 3;
//!   optional bytes signature = 4;
//! }
//! ```
//!
//! prost writes fields in ascending tag order and leaves `None` fields out, which is what the
//! byte-exact population rules of §5.3 need.

/// The payload of `export.bin` after its 16-byte header.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TemporaryExposureKeyExport {
    /// Window start, UTC seconds.
    #[prost(fixed64, optional, tag = "1")]
    pub start_timestamp: Option<u64>,
    /// Window end, UTC seconds.
    #[prost(fixed64, optional, tag = "2")]
    pub end_timestamp: Option<u64>,
    /// Region, e.g. "US" or "DE".
    #[prost(string, optional, tag = "3")]
    pub region: Option<String>,
    /// Number of this file in its batch (1-based).
    #[prost(int32, optional, tag = "4")]
    pub batch_num: Option<i32>,
    /// Number of files in the batch.
    #[prost(int32, optional, tag = "5")]
    pub batch_size: Option<i32>,
    /// Who signed the file.
    #[prost(message, repeated, tag = "6")]
    pub signature_infos: Vec<SignatureInfo>,
    /// Newly released keys.
    #[prost(message, repeated, tag = "7")]
    pub keys: Vec<TemporaryExposureKey>,
    /// Keys whose status changed (e.g. revoked).
    #[prost(message, repeated, tag = "8")]
    pub revised_keys: Vec<TemporaryExposureKey>,
}

/// Which key signed a file.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SignatureInfo {
    /// Deprecated `app_bundle_id`; read from old files, never written.
    #[prost(string, optional, tag = "1")]
    pub app_bundle_id: Option<String>,
    /// Deprecated `android_package`; read from old files, never written.
    #[prost(string, optional, tag = "2")]
    pub android_package: Option<String>,
    /// Key version, e.g. "v1".
    #[prost(string, optional, tag = "3")]
    pub verification_key_version: Option<String>,
    /// Key id, e.g. "310" (Apple wants the MCC).
    #[prost(string, optional, tag = "4")]
    pub verification_key_id: Option<String>,
    /// Dotted OID, `1.2.840.10045.4.3.2` for ECDSA P-256 with SHA-256.
    #[prost(string, optional, tag = "5")]
    pub signature_algorithm: Option<String>,
}

/// One key as exported.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TemporaryExposureKey {
    /// 16 key bytes.
    #[prost(bytes = "vec", optional, tag = "1")]
    pub key_data: Option<Vec<u8>>,
    /// Deprecated v1 risk level.
    #[prost(int32, optional, tag = "2")]
    pub transmission_risk_level: Option<i32>,
    /// ENIN of the first interval.
    #[prost(int32, optional, tag = "3")]
    pub rolling_start_interval_number: Option<i32>,
    /// Intervals; absent means 144.
    #[prost(int32, optional, tag = "4", default = "144")]
    pub rolling_period: Option<i32>,
    /// `ReportType` numeric value.
    #[prost(int32, optional, tag = "5")]
    pub report_type: Option<i32>,
    /// Days since onset, zig-zag encoded.
    #[prost(sint32, optional, tag = "6")]
    pub days_since_onset_of_symptoms: Option<i32>,
}

/// The content of `export.sig`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TekSignatureList {
    /// One signature per signing key.
    #[prost(message, repeated, tag = "1")]
    pub signatures: Vec<TekSignature>,
}

/// One signature over the whole `export.bin`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TekSignature {
    /// The signing key.
    #[prost(message, optional, tag = "1")]
    pub signature_info: Option<SignatureInfo>,
    /// Must equal the export's batch number.
    #[prost(int32, optional, tag = "2")]
    pub batch_num: Option<i32>,
    /// Must equal the export's batch size.
    #[prost(int32, optional, tag = "3")]
    pub batch_size: Option<i32>,
    /// ASN.1 DER `ECDSA-Sig-Value`.
    #[prost(bytes = "vec", optional, tag = "4")]
    pub signature: Option<Vec<u8>>,
}
