//! Writing export files: `export.bin` and `export.sig`, the zip, and `ExportBuilder`, which streams
//! sorted keys into signed files of at most `max_records` keys.

use std::io::{Cursor, Write as _};

use herald_model::DiagnosisKey;
use prost::Message as _;

use super::{ExportError, ExportHeader, ExportSigner, HEADER, RawKey, SignatureInfo};
use crate::proto::gaen as proto;

/// Serializes `export.bin`: header, then the message with keys in the order given.
pub fn encode_export_bin(
    header: &ExportHeader,
    infos: &[SignatureInfo],
    keys: &[RawKey],
    revised_keys: &[RawKey],
) -> Vec<u8> {
    encode_export_bin_from(header, infos, keys.iter().cloned(), revised_keys.iter().cloned())
}

/// Serializes `export.bin` key by key, without first building the whole message: memory is the
/// output plus one key. Byte-identical to prost's encoding of the full message (fields in tag
/// order, absent fields left out).
pub fn encode_export_bin_from(
    header: &ExportHeader,
    infos: &[SignatureInfo],
    keys: impl IntoIterator<Item = RawKey>,
    revised_keys: impl IntoIterator<Item = RawKey>,
) -> Vec<u8> {
    use prost::encoding::{fixed64, int32, message, string};
    let mut out = Vec::with_capacity(64 * 1024);
    out.extend_from_slice(HEADER);
    fixed64::encode(1, &header.start_timestamp, &mut out);
    fixed64::encode(2, &header.end_timestamp, &mut out);
    string::encode(3, &header.region, &mut out);
    int32::encode(4, &header.batch_num, &mut out);
    int32::encode(5, &header.batch_size, &mut out);
    for info in infos {
        message::encode(6, &info.to_proto(), &mut out);
    }
    for key in keys {
        message::encode(7, &key.to_proto(), &mut out);
    }
    for key in revised_keys {
        message::encode(8, &key.to_proto(), &mut out);
    }
    out
}

/// Signs `export_bin` with every signer and serializes `export.sig`.
pub fn sign_export_bin(
    export_bin: &[u8],
    header: &ExportHeader,
    signers: &[&dyn ExportSigner],
) -> Result<Vec<u8>, ExportError> {
    let signatures = signers
        .iter()
        .map(|s| {
            Ok(proto::TekSignature {
                signature_info: Some(s.info().to_proto()),
                batch_num: Some(header.batch_num),
                batch_size: Some(header.batch_size),
                signature: Some(s.sign(export_bin)?),
            })
        })
        .collect::<Result<Vec<_>, ExportError>>()?;
    Ok(proto::TekSignatureList { signatures }.encode_to_vec())
}

/// Packs `export.bin` and `export.sig` into a reproducible zip (deflate at the default level, both
/// entries dated 1980-01-01, in that order, nothing else). Level 1 would build three times
/// faster but the files would be 15 % larger; a file is built once and downloaded by every
/// phone, so size wins.
pub fn zip_export(export_bin: &[u8], export_sig: &[u8]) -> Result<Vec<u8>, ExportError> {
    let zip_err = |e: zip::result::ZipError| ExportError::Zip(e.to_string());
    let io_err = |e: std::io::Error| ExportError::Zip(e.to_string());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    writer.start_file("export.bin", options).map_err(zip_err)?;
    writer.write_all(export_bin).map_err(io_err)?;
    writer.start_file("export.sig", options).map_err(zip_err)?;
    writer.write_all(export_sig).map_err(io_err)?;
    Ok(writer.finish().map_err(zip_err)?.into_inner())
}

/// One finished file of an [`ExportBuilder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltExport {
    /// 1-based file number within the window.
    pub file_num: usize,
    /// The header written into the file.
    pub header: ExportHeader,
    /// Keys in `keys`.
    pub key_count: usize,
    /// Keys in `revised_keys`.
    pub revised_key_count: usize,
    /// The serialized `export.bin` (also inside `zip`).
    pub export_bin: Vec<u8>,
    /// The zip, ready to publish.
    pub zip: Vec<u8>,
}

/// Settings of one export window.
pub struct ExportSpec<'a> {
    /// Output region, e.g. "DE".
    pub region: String,
    /// Window start, UTC seconds.
    pub start_timestamp: u64,
    /// Window end, UTC seconds.
    pub end_timestamp: u64,
    /// Most keys plus revised keys per file (ENS default 500 000).
    pub max_records: usize,
    /// Signers, newest key first (the platforms honour at most 10).
    pub signers: Vec<&'a dyn ExportSigner>,
}

/// Streams keys into signed export files.
///
/// Files are produced one at a time, so memory is proportional to one file. Feed keys in key-byte
/// order (as a store returns them with `ORDER BY key_data`) so that which keys share a file
/// reveals nothing about arrival order; each file is sorted either way. When the window needs
/// more than one file, every file keeps batch 1/1 and the same start, and file `n` gets
/// `end_timestamp + n` so that (start, end, batch) stays unique for the platforms' de-duplication
/// (ENS; key-server.md §5.5). A window that fits one file keeps its end unchanged. An empty
/// window yields no file.
pub struct ExportBuilder<'a, I: Iterator<Item = (DiagnosisKey, bool)>> {
    spec: ExportSpec<'a>,
    infos: Vec<SignatureInfo>,
    input: std::iter::Peekable<I>,
    file_num: usize,
    split: bool,
}

impl<'a, I: Iterator<Item = (DiagnosisKey, bool)>> ExportBuilder<'a, I> {
    /// A builder over `(key, is_revised)` pairs.
    pub fn new(spec: ExportSpec<'a>, input: I) -> Result<Self, ExportError> {
        if spec.max_records == 0 {
            return Err(ExportError::Config("max records per file must be at least 1".into()));
        }
        if spec.signers.is_empty() || spec.signers.len() > 10 {
            return Err(ExportError::Config(format!(
                "an export needs 1 to 10 signers, got {}",
                spec.signers.len()
            )));
        }
        if spec.end_timestamp < spec.start_timestamp {
            return Err(ExportError::Config(format!(
                "end {} is before start {}",
                spec.end_timestamp, spec.start_timestamp
            )));
        }
        if spec.region.is_empty() || spec.region.len() > 64 {
            return Err(ExportError::Config("region must be 1 to 64 characters".into()));
        }
        let infos = spec.signers.iter().map(|s| s.info().clone()).collect();
        Ok(Self { spec, infos, input: input.peekable(), file_num: 0, split: false })
    }

    fn build_next(&mut self) -> Result<BuiltExport, ExportError> {
        let mut keys = Vec::new();
        let mut revised = Vec::new();
        for (key, is_revised) in self.input.by_ref().take(self.spec.max_records) {
            if is_revised { revised.push(key) } else { keys.push(key) }
        }
        self.file_num += 1;
        if self.file_num == 1 && self.input.peek().is_some() {
            self.split = true;
        }
        keys.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        revised.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        let offset = if self.split { self.file_num as u64 } else { 0 };
        let header = ExportHeader {
            start_timestamp: self.spec.start_timestamp,
            end_timestamp: self.spec.end_timestamp.saturating_add(offset),
            region: self.spec.region.clone(),
            batch_num: 1,
            batch_size: 1,
        };
        let export_bin = encode_export_bin_from(
            &header,
            &self.infos,
            keys.iter().map(RawKey::from_key),
            revised.iter().map(RawKey::from_key),
        );
        let (key_count, revised_key_count) = (keys.len(), revised.len());
        drop(keys);
        drop(revised);
        let export_sig = sign_export_bin(&export_bin, &header, &self.spec.signers)?;
        let zip = zip_export(&export_bin, &export_sig)?;
        Ok(BuiltExport {
            file_num: self.file_num,
            header,
            key_count,
            revised_key_count,
            export_bin,
            zip,
        })
    }
}

impl<I: Iterator<Item = (DiagnosisKey, bool)>> Iterator for ExportBuilder<'_, I> {
    type Item = Result<BuiltExport, ExportError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.input.peek()?;
        Some(self.build_next())
    }
}
