//! Key-server storage: SQLite (the default) or PostgreSQL behind one contract, [`Store`]
//! (STYLE rules 11, 12; key-server.md §1.2, §5.7, §6.7, §6.11, §8).
//!
//! What the store guarantees:
//! - **A publish is atomic.** [`Store::publish`] marks the verification certificate used,
//!   inserts new keys, applies revisions and fills the federation outbox in one transaction: a
//!   refused or failed publish leaves nothing behind, and a certificate is used at most once.
//! - **Times are coarse.** Every time stored about a key is a whole hour (§6.7).
//! - **The index never points at a deleted file.** Export files go `complete → del_pend →`
//!   deleted; the index is rewritten from `complete` files only (§5.7).
//! - **Federation uploads are never lost or sent twice.** A batch tag is reserved (and its keys
//!   assigned) before the first attempt; a retry reuses it.
//!
//! Queries are written once in `ops/` and compiled for each backend (`sqlite.rs`,
//! `postgres.rs` mount it with `#[path]`), as in the gateway.
//!
//! [`Store`]'s methods are the contract, and deliberately a thin forwarding layer: each names
//! and documents its arguments once and is one `herald_db::dispatch!` line, so its signature
//! repeats the query's (the queries are crate-private and generic over the backend, and a macro
//! writing the forwarders would hide the contract from rustdoc for one saved line each). The
//! runtime's `LeaseStore` is implemented by forwarding to [`Store::try_lease`], which the demo
//! and the tests call directly (a trait method would need the trait in scope at every caller).

mod postgres;
mod sqlite;

pub use herald_db::DbError as StoreError;
use herald_model::{BatchTag, CountryCode, TemporaryExposureKey};

/// A key's report type as stored: the certificate's `reportType` (key-server.md §3.5, the one
/// ENS vocabulary, [`VerificationReportType`]), or `None` for the empty column value (federated
/// keys without one; treated as `likely` for revisions).
pub type StoredReportType = Option<VerificationReportType>;

pub use herald_wire::publish::VerificationReportType;

/// The column value of a [`StoredReportType`] and back, and its export-file report type.
pub trait ReportColumn: Sized {
    /// The column value (`""` for none).
    fn column(self) -> &'static str;
    /// From the column (or claim) value; `None` when unknown.
    fn from_column(text: &str) -> Option<Self>;
    /// The export-file report type (key-server.md §5.3; none → `UNKNOWN`).
    fn export(self) -> herald_model::ReportType;
}

impl ReportColumn for StoredReportType {
    fn column(self) -> &'static str {
        self.map_or("", VerificationReportType::as_str)
    }

    fn from_column(text: &str) -> Option<Self> {
        if text.is_empty() { Some(None) } else { VerificationReportType::parse(text).map(Some) }
    }

    fn export(self) -> herald_model::ReportType {
        self.map_or(herald_model::ReportType::Unknown, VerificationReportType::export_report_type)
    }
}

/// Which time puts a key into an export window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// Its release (`created_at`): the primary export of the key.
    Released,
    /// Its revision (`revised_at`): the revised export of the key.
    Revised,
}

/// A slice of the key space, `[from, until)`; `None` is open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRange {
    /// Lowest key bytes included.
    pub from: Option<[u8; 16]>,
    /// Lowest key bytes excluded.
    pub until: Option<[u8; 16]>,
}

impl KeyRange {
    /// The whole key space.
    pub fn all() -> Self {
        Self::default()
    }

    /// The key space cut into `n` slices of equal width by the keys' first two bytes (keys are
    /// uniformly random, so the slices hold about the same number of keys).
    pub fn slices(n: usize) -> Vec<Self> {
        let n = n.clamp(1, 65_536);
        let bound = |i: usize| -> Option<[u8; 16]> {
            if i == 0 || i >= n {
                return None;
            }
            let prefix = u16::try_from(i * 65_536 / n).unwrap_or(u16::MAX);
            let mut key = [0u8; 16];
            key[..2].copy_from_slice(&prefix.to_be_bytes());
            Some(key)
        };
        (0..n).map(|i| Self { from: bound(i), until: bound(i + 1) }).collect()
    }
}

/// Where the next page of a window starts: after this (time, key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCursor {
    /// The time of the last key read (release or revision).
    pub at: i64,
    /// The last key read.
    pub key: TemporaryExposureKey,
}

impl PageCursor {
    /// The cursor after `key` in a `which` window.
    pub fn after(which: Which, key: &StoredKey) -> Self {
        let at = match which {
            Which::Released => key.created_at,
            Which::Revised => key.revision.as_ref().map_or(key.created_at, |r| r.revised_at),
        };
        Self { at, key: key.key.clone() }
    }
}

/// One diagnosis key as the key server keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// The key.
    pub key: TemporaryExposureKey,
    /// Transmission risk 0..=8 (v1 clients).
    pub transmission_risk: u8,
    /// healthAuthorityID of a local upload, `federation` for foreign keys, `export-generated`
    /// for padding keys.
    pub source: String,
    /// Upper-case regions the key belongs to.
    pub regions: Vec<String>,
    /// The uploader travelled.
    pub traveler: bool,
    /// First interval of the key.
    pub interval_number: u32,
    /// Intervals the key was valid for, 1..=144.
    pub interval_count: u32,
    /// Release time: a whole hour (embargo applied).
    pub created_at: i64,
    /// Uploaded to this server (not federated in).
    pub local_provenance: bool,
    /// Country of origin.
    pub origin: CountryCode,
    /// Report type.
    pub report_type: StoredReportType,
    /// Days since symptom onset, −14..=14.
    pub days_since_onset: Option<i32>,
    /// A later revision, if any.
    pub revision: Option<KeyRevision>,
}

/// A revision of a stored key (key-server.md §2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRevision {
    /// The new report type.
    pub report_type: StoredReportType,
    /// When (a whole hour).
    pub revised_at: i64,
    /// The new days since onset.
    pub days_since_onset: Option<i32>,
    /// The new transmission risk.
    pub transmission_risk: u8,
}

/// Everything one accepted publish request writes.
#[derive(Debug, Clone)]
pub struct PublishWrite {
    /// SHA-256 of the verification certificate (one-time use); `None` for an import.
    pub certificate: Option<([u8; 32], i64)>,
    /// Keys to insert (an existing key is left alone: `ON CONFLICT DO NOTHING`).
    pub inserts: Vec<StoredKey>,
    /// Revisions: key, the report type it must still have, the revision.
    pub revisions: Vec<(TemporaryExposureKey, StoredReportType, KeyRevision)>,
    /// Also queue the inserted keys for the federation gateway, not before this time nor before
    /// each key's own embargo (validity end + 2 h) — `None` when the user gave no consent.
    pub federate_not_before: Option<i64>,
}

/// What [`Store::publish`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishOutcome {
    /// Stored: number of new keys and of revisions.
    Stored {
        /// Keys inserted.
        inserted: usize,
        /// Keys revised.
        revised: usize,
    },
    /// The certificate was already used; nothing was written.
    CertificateReused,
    /// A key to revise was revised by another request first; nothing was written.
    KeyAlreadyRevised,
}

/// One export window (key-server.md §5.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportBatch {
    /// Row id.
    pub id: i64,
    /// The export configuration's name.
    pub config: String,
    /// Window start (Unix seconds).
    pub start_time: i64,
    /// Window end (Unix seconds, exclusive).
    pub end_time: i64,
    /// `open`, `complete`, `del_pend` or `deleted`.
    pub status: String,
}

/// One written export file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFileRow {
    /// Object name relative to the store root.
    pub name: String,
    /// Primary keys in the file.
    pub keys: i64,
    /// Revised keys in the file.
    pub revised: i64,
}

/// A federation upload batch reserved in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxBatch {
    /// The batch tag (unique, prefixed with the country).
    pub tag: BatchTag,
    /// Its keys, in outbox order.
    pub keys: Vec<StoredKey>,
    /// Attempts so far.
    pub attempts: i64,
}

herald_db::service_store! {
    /// The key server's storage.
    pub struct Store;
}

impl Store {
    /// Whether a verification certificate (its SHA-256) was already used.
    pub async fn certificate_used(&self, hash: &[u8; 32]) -> Result<bool, StoreError> {
        herald_db::dispatch!(&self.pools, certificate_used, hash)
    }

    /// The stored keys among `keys` (for revisions).
    pub async fn existing_keys(
        &self,
        keys: &[TemporaryExposureKey],
    ) -> Result<Vec<StoredKey>, StoreError> {
        herald_db::dispatch!(&self.pools, existing_keys, keys)
    }

    /// Writes one accepted publish atomically.
    pub async fn publish(&self, write: &PublishWrite) -> Result<PublishOutcome, StoreError> {
        herald_db::dispatch!(&self.pools, publish, write)
    }

    /// Inserts federated or generated keys (existing keys are skipped); returns how many were new.
    pub async fn insert_keys(
        &self,
        keys: &[StoredKey],
        federate_not_before: Option<i64>,
    ) -> Result<usize, StoreError> {
        herald_db::dispatch!(&self.pools, insert_keys, keys, federate_not_before)
    }

    /// Number of keys released (or revised) in `[start, end)`.
    pub async fn count_window(
        &self,
        which: Which,
        start: i64,
        end: i64,
    ) -> Result<i64, StoreError> {
        herald_db::dispatch!(&self.pools, count_window, which, start, end)
    }

    /// Keys released (or revised) in `window` = `[start, end)` whose bytes lie in `keys`, in
    /// (time, key) order after `after`, at most `limit`: a page of a streamed window. Continue
    /// with [`PageCursor::after`] of the last key.
    pub async fn window_page(
        &self,
        which: Which,
        window: (i64, i64),
        keys: &KeyRange,
        after: Option<&PageCursor>,
        limit: i64,
    ) -> Result<Vec<StoredKey>, StoreError> {
        herald_db::dispatch!(&self.pools, window_page, which, window, keys, after, limit)
    }

    /// The newest own real keys (local provenance, `source` other than `padding_source`)
    /// released in `window` = `[start, end)`, at most `limit`.
    pub async fn recent_own_keys(
        &self,
        window: (i64, i64),
        padding_source: &str,
        limit: i64,
    ) -> Result<Vec<StoredKey>, StoreError> {
        herald_db::dispatch!(&self.pools, recent_own_keys, window, padding_source, limit)
    }

    /// The earliest release time of any stored key.
    pub async fn earliest_release(&self) -> Result<Option<i64>, StoreError> {
        herald_db::dispatch!(&self.pools, earliest_release)
    }

    /// Creates the export batches of `config` for the windows `[s, s + period)` with `s` in
    /// `starts` (existing ones are kept).
    pub async fn create_export_batches(
        &self,
        config: &str,
        starts: &[i64],
        period: i64,
    ) -> Result<(), StoreError> {
        herald_db::dispatch!(&self.pools, create_export_batches, config, starts, period)
    }

    /// The latest window end of `config`, if it has any batch.
    pub async fn last_export_end(&self, config: &str) -> Result<Option<i64>, StoreError> {
        herald_db::dispatch!(&self.pools, last_export_end, config)
    }

    /// Open batches of `config`, oldest first.
    pub async fn open_export_batches(&self, config: &str) -> Result<Vec<ExportBatch>, StoreError> {
        herald_db::dispatch!(&self.pools, open_export_batches, config)
    }

    /// Records a batch's files and marks it complete.
    pub async fn complete_export_batch(
        &self,
        batch_id: i64,
        files: &[ExportFileRow],
    ) -> Result<(), StoreError> {
        herald_db::dispatch!(&self.pools, complete_export_batch, batch_id, files)
    }

    /// The names of the complete files of `config`, sorted (the index).
    pub async fn index_files(&self, config: &str) -> Result<Vec<String>, StoreError> {
        herald_db::dispatch!(&self.pools, index_files, config)
    }

    /// Marks the files of `config`'s batches that ended before `cutoff` for deletion; returns
    /// how many.
    pub async fn mark_expired_files(&self, config: &str, cutoff: i64) -> Result<u64, StoreError> {
        herald_db::dispatch!(&self.pools, mark_expired_files, config, cutoff)
    }

    /// Files marked for deletion (for the blob cleanup).
    pub async fn files_to_delete(&self, config: &str) -> Result<Vec<String>, StoreError> {
        herald_db::dispatch!(&self.pools, files_to_delete, config)
    }

    /// Forgets a deleted file (after its blob is gone).
    pub async fn file_deleted(&self, name: &str) -> Result<(), StoreError> {
        herald_db::dispatch!(&self.pools, file_deleted, name)
    }

    /// Deletes keys released before `cutoff` and expired certificate hashes; returns the keys
    /// deleted.
    pub async fn purge(&self, cutoff: i64, now: i64) -> Result<u64, StoreError> {
        herald_db::dispatch!(&self.pools, purge, cutoff, now)
    }

    /// Takes (or renews) the named job lease until `now + ttl` for `holder`.
    pub async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        ttl: i64,
    ) -> Result<bool, StoreError> {
        herald_db::dispatch!(&self.pools, try_lease, name, holder, now, ttl)
    }

    /// The pending federation batch (earlier attempts failed), or a new one reserved from up to
    /// `max_keys` due outbox keys (none when fewer than `min_keys` are due).
    pub async fn next_outbox_batch(
        &self,
        tag: &BatchTag,
        now: i64,
        min_keys: i64,
        max_keys: i64,
    ) -> Result<Option<OutboxBatch>, StoreError> {
        self.next_outbox_batch_released(tag, now, min_keys, max_keys, &[]).await
    }

    /// [`next_outbox_batch`](Self::next_outbox_batch) of keys released by padding: with
    /// `release_with` (export configurations that pad), an outbox key is due only once a window
    /// of one of them holding it was exported, so the gateway gets the window's real and fake
    /// keys together (key-server.md §6.4).
    pub async fn next_outbox_batch_released(
        &self,
        tag: &BatchTag,
        now: i64,
        min_keys: i64,
        max_keys: i64,
        release_with: &[String],
    ) -> Result<Option<OutboxBatch>, StoreError> {
        let r = release_with;
        herald_db::dispatch!(&self.pools, next_outbox_batch, tag, now, min_keys, max_keys, r)
    }

    /// The batch landed (201, or 409 for a retried tag): its keys are uploaded.
    pub async fn outbox_batch_done(&self, tag: &BatchTag) -> Result<(), StoreError> {
        herald_db::dispatch!(&self.pools, outbox_batch_done, tag)
    }

    /// A 207: `resend` keys go back to the outbox (a new batch takes them), the others are done.
    pub async fn outbox_batch_split(
        &self,
        tag: &BatchTag,
        resend: &[TemporaryExposureKey],
    ) -> Result<(), StoreError> {
        herald_db::dispatch!(&self.pools, outbox_batch_split, tag, resend)
    }

    /// The attempt failed; try again after `next_try`, or give up (the keys go back to the
    /// outbox under a new tag) when `give_up`.
    pub async fn outbox_batch_failed(
        &self,
        tag: &BatchTag,
        next_try: i64,
        give_up: bool,
    ) -> Result<(), StoreError> {
        herald_db::dispatch!(&self.pools, outbox_batch_failed, tag, next_try, give_up)
    }

    /// Gives up every lease `holder` has (a clean stop: others need not wait for expiry).
    pub async fn release_leases(&self, holder: &str) -> Result<(), StoreError> {
        herald_db::dispatch!(&self.pools, release_leases, holder)
    }

    /// Outbox counts: (waiting, in a pending batch, uploaded).
    pub async fn outbox_counts(&self) -> Result<(i64, i64, i64), StoreError> {
        herald_db::dispatch!(&self.pools, outbox_counts)
    }

    /// The last processed download batch tag of a gateway day.
    pub async fn download_cursor(&self, day: &str) -> Result<Option<BatchTag>, StoreError> {
        herald_db::dispatch!(&self.pools, download_cursor, day)
    }

    /// Imports one downloaded batch's valid keys and advances the day's cursor, atomically.
    pub async fn import_download_batch(
        &self,
        day: &str,
        tag: &BatchTag,
        state: &str,
        received: i64,
        keys: &[StoredKey],
        now: i64,
    ) -> Result<usize, StoreError> {
        herald_db::dispatch!(
            &self.pools,
            import_download_batch,
            day,
            tag,
            state,
            received,
            keys,
            now
        )
    }

    /// Whether a download batch was already processed.
    pub async fn download_seen(&self, tag: &BatchTag) -> Result<bool, StoreError> {
        herald_db::dispatch!(&self.pools, download_seen, tag)
    }
}

/// When a key may go to the federation gateway: two hours after its validity ends (the same
/// embargo as exports, key-server.md §6.5; CWA waits 120 minutes too), and not before `earliest`.
pub fn federation_due(key: &StoredKey, earliest: i64) -> i64 {
    let valid_until = (i64::from(key.interval_number) + i64::from(key.interval_count)) * 600;
    earliest.max(valid_until + 7200)
}

/// `,DE,NL,` from regions.
pub(crate) fn regions_column(regions: &[String]) -> String {
    let mut out = String::from(",");
    for r in regions {
        out.push_str(&r.to_ascii_uppercase());
        out.push(',');
    }
    out
}

/// Regions from `,DE,NL,`.
pub(crate) fn parse_regions(column: &str) -> Vec<String> {
    column.split(',').filter(|r| !r.is_empty()).map(str::to_owned).collect()
}

impl herald_runtime::jobs::LeaseStore for Store {
    type Error = StoreError;

    fn try_lease(
        &self,
        job: &str,
        holder: &str,
        now: i64,
        ttl: i64,
    ) -> impl std::future::Future<Output = Result<bool, StoreError>> + Send {
        Store::try_lease(self, job, holder, now, ttl)
    }
}
