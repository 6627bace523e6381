//! EFGS `Efgs.proto` (proto3, package `eu.interop`), as in the reference gateway release 1.1.3
//! (specs/efgs-gateway.md §2):
//!
//! ```proto
//! syntax = "proto3";
//! package eu.interop;
//! option java_package = "eu.interop.federationgateway.model";
//! option java_outer_classname = "EfgsProto";
//!
//! message DiagnosisKeyBatch {
//!   repeated DiagnosisKey keys = 1;
//! }
//!
//! message DiagnosisKey {
//!   bytes keyData = 1; // key
//!   uint32 rollingStartIntervalNumber = 2;
//!   uint32 rollingPeriod = 3; // number of 10-minute windows between key-rolling
//!   int32 transmissionRiskLevel = 4; // risk of transmission
//!   repeated string visitedCountries = 5;
//!   string origin = 6; // country of origin
//!   ReportType reportType = 7; // set by backend
//!   sint32 days_since_onset_of_symptoms = 8;
//! }
//!
//! enum ReportType {
//!   UNKNOWN = 0;
//!   CONFIRMED_TEST = 1;
//!   CONFIRMED_CLINICAL_DIAGNOSIS = 2;
//!   SELF_REPORT = 3;
//!   RECURSIVE = 4;
//!   REVOKED = 5;
//! }
//! ```
//!
//! Early versions of the file declared `days_since_onset_of_symptoms` as `uint32`; the released
//! schema (and every client) uses `sint32` (zig-zag), which is what this module decodes. Encoding
//! it as `int32` would be a silent incompatibility.
//!
//! proto3 semantics: an absent scalar is 0 (or empty), and prost's encoder leaves zero values out,
//! as EFGS requires (specs/efgs-gateway.md §2, "Wire implications"). `report_type` stays a raw
//! `i32`, so unknown values survive decoding and are refused by validation in
//! [`crate::efgs`], never silently mapped.

/// `eu.interop.DiagnosisKeyBatch`: the body of an upload and of a download.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DiagnosisKeyBatch {
    /// The keys, in upload order.
    #[prost(message, repeated, tag = "1")]
    pub keys: Vec<DiagnosisKey>,
}

/// `eu.interop.DiagnosisKey`: one key with its EFGS metadata, unvalidated.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DiagnosisKey {
    /// The 16-byte TEK (`keyData`).
    #[prost(bytes = "vec", tag = "1")]
    pub key_data: Vec<u8>,
    /// ENIN of the key's first interval (`rollingStartIntervalNumber`).
    #[prost(uint32, tag = "2")]
    pub rolling_start_interval_number: u32,
    /// Number of 10-minute intervals, 1..=144 when valid (`rollingPeriod`).
    #[prost(uint32, tag = "3")]
    pub rolling_period: u32,
    /// 0..=8, or 0x7FFF_FFFF for "not provided" (`transmissionRiskLevel`).
    #[prost(int32, tag = "4")]
    pub transmission_risk_level: i32,
    /// Countries the user visited, in wire order (`visitedCountries`).
    #[prost(string, repeated, tag = "5")]
    pub visited_countries: Vec<String>,
    /// The uploader's country (`origin`).
    #[prost(string, tag = "6")]
    pub origin: String,
    /// A `ReportType` value ([`herald_model::ReportType`] numbers them); kept raw so that
    /// unknown values can be reported (`reportType`). An enum field is a varint on the wire,
    /// encoded exactly as this `int32`.
    #[prost(int32, tag = "7")]
    pub report_type: i32,
    /// EFGS semantic DSOS encoding, zig-zag on the wire (`days_since_onset_of_symptoms`).
    #[prost(sint32, tag = "8")]
    pub days_since_onset_of_symptoms: i32,
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;

    #[test]
    fn zero_values_are_omitted_and_dsos_is_zigzag() {
        let key = DiagnosisKey { key_data: vec![1; 16], ..DiagnosisKey::default() };
        // Only keyData is on the wire: field 1, length 16.
        assert_eq!(key.encode_to_vec().len(), 18);
        let key = DiagnosisKey { days_since_onset_of_symptoms: -1, ..DiagnosisKey::default() };
        // sint32 -1 zig-zags to 1: tag (8 << 3 | 0) = 0x40, value 0x01.
        assert_eq!(key.encode_to_vec(), vec![0x40, 0x01]);
    }
}
