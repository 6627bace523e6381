//! Fuzz entry points for GAEN export files.

use crate::export::{self, ReadLimits};

/// A whole export zip.
pub fn fuzz_export_zip(data: &[u8]) {
    let limits = ReadLimits {
        max_zip_bytes: 1 << 20,
        max_export_bin_bytes: 1 << 20,
        max_export_sig_bytes: 1 << 16,
    };
    let _ = export::read_zip(data, &limits);
}

/// An `export.bin`; whatever parses must re-encode to something that parses to the same keys.
pub fn fuzz_export_bin(data: &[u8]) {
    let mut with_header = export::HEADER.to_vec();
    with_header.extend_from_slice(data);
    for bytes in [data, &with_header] {
        let Ok(contents) = export::parse_export_bin(bytes) else { continue };
        let header = export::ExportHeader {
            start_timestamp: contents.start_timestamp.unwrap_or(0),
            end_timestamp: contents.end_timestamp.unwrap_or(0),
            region: contents.region.clone().unwrap_or_default(),
            batch_num: contents.batch_num.unwrap_or(1),
            batch_size: contents.batch_size.unwrap_or(1),
        };
        let keys: Vec<export::RawKey> =
            contents.keys.iter().map(export::RawKey::from_key).collect();
        let revised: Vec<export::RawKey> =
            contents.revised_keys.iter().map(export::RawKey::from_key).collect();
        let again =
            export::parse_export_bin(&export::encode_export_bin(&header, &[], &keys, &revised));
        let again = again.map(|c| (c.keys, c.revised_keys)).ok();
        assert_eq!(again, Some((contents.keys, contents.revised_keys)), "export.bin round trip");
    }
}
