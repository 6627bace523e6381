//! Gateway storage: SQLite (the default) or PostgreSQL behind one contract, [`Store`]
//! (STYLE rules 11, 12; specs/efgs-gateway.md §1.2–1.4, §4.3, §5, §6.1).
//!
//! The store keeps rows; it decides nothing the HTTP layer decides (signatures, trust-anchor
//! integrity, dates, media types). What it guarantees:
//! - **Uploads are atomic.** [`Store::insert_upload`] registers the tag and inserts every key in
//!   one transaction with a single commit; duplicates (§5.2) are found inside that transaction
//!   and decided there ([`UploadMode`]).
//! - **Key payloads are sealed at rest.** The eight payload fields of a key are one AES-256-GCM
//!   blob bound to its row; only the payload hash, ordinals, times and upload information are in
//!   clear (see [`AtRest`]).
//! - **Tags are permanent.** The `upload` table is the tag registry; retention deletes keys only.
//! - **Download batches hold whole uploads.** A key's download batch is its upload's, so a batch
//!   can never contain half an upload, whatever the isolation level.
//! - **Batching and jobs run once.** Batching serializes on a lock row inside each short
//!   per-batch transaction (uploads never wait on it for longer than one batch), and
//!   [`Store::try_lease`] elects one process per job.
//!
//! # Layout
//! - this module: the row types and [`Store`] (declared with `herald_db::service_store!`, its
//!   at-rest keys next to the pools), which forwards each operation with `herald_db::dispatch!`:
//!   queries to the reading connections, writes (`dispatch!(write, …)`) to SQLite's one writing
//!   connection.
//! - `error`: [`StoreError`].
//! - `plan`: the pure decisions (duplicates inside an upload, upload outcomes, download-batch
//!   packing, `yyyyMMdd-N` tags).
//! - `rows`: between domain types and column values, including the packed key payload.
//! - `at_rest`: [`AtRest`], sealing key payloads with AES-256-GCM (§6.1 "Encryption at rest").
//! - `sqlite`, `postgres`: what differs between the backends (the `Db` type, how a write
//!   transaction begins); opening, the connection settings and the split into reading and
//!   writing connections are `herald_db::Pools`, the migrations are `migrations/{sqlite,postgres}/`.
//! - `ops`: the queries and transactions, written once and compiled once per backend: `sqlite`
//!   and `postgres` each mount `ops/` with `#[path]` next to their `Db` type. The SQL text is
//!   shared because both backends accept `$N` placeholders (sqlx binds SQLite's `$N` parameters
//!   by position) and every statement used is in the common subset (`ON CONFLICT`,
//!   `RETURNING`, partial indexes). `ops/statistics.rs` holds the statistics tables
//!   (`upload_stats`, `download_stats`) and the row counts of the internal listener's `/metrics`.

mod at_rest;
mod error;
mod plan;
mod postgres;
mod rows;
mod sqlite;

use std::sync::Arc;

use herald_model::{BatchTag, CertThumbprint, CountryCode, UnixTime};
use herald_wire::efgs::EfgsKey;

pub use self::at_rest::{AT_REST_KEY_BYTES, AtRest, AtRestKey, AtRestKeyError, AtRestKeyId};
pub use self::error::StoreError;
/// The SQLite writer's settings, for `herald bench gateway`'s baseline database.
pub use herald_db::sqlite_writer_options;

/// Keys per multi-row `INSERT` of an upload: six parameters each, 30 000 in all, within both
/// backends' limits (SQLite 32 766, PostgreSQL 65 535), so an upload of up to 5000 keys is one
/// statement. `herald bench gateway` inserts its baseline in chunks of the same size.
pub const INSERT_CHUNK_KEYS: usize = 5000;

herald_db::service_store! {
    /// The gateway's storage: `herald_db::Pools` (on SQLite, reading connections and the one
    /// writing connection every write goes through), and the at-rest keys that seal key
    /// payloads. Cloning is cheap and shares both.
    pub struct Store {
        /// `None` until [`Store::with_at_rest`]: operations on key payloads are refused.
        at_rest: Option<Arc<AtRest>>,
    }
    error StoreError;
}

/// One row of the trust list (§4.3). The gateway checks both operator signatures itself
/// (`herald_trust::AnchorCertificate::verify_entry`); the store only keeps the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustRow {
    /// SHA-256 of the certificate's DER; unique across the list.
    pub thumbprint: CertThumbprint,
    /// The country the certificate belongs to.
    pub country: CountryCode,
    /// What the certificate is used for.
    pub kind: TrustKind,
    /// The certificate as PEM text, exactly the bytes the operator signed.
    pub certificate_pem: String,
    /// Base64 trust-anchor signature over `certificate_pem`.
    pub operator_signature: String,
    /// Revoked by the operator.
    pub revoked: bool,
    /// Host name, for CALLBACK certificates.
    pub host: Option<String>,
    /// When the row was created.
    pub created_at: UnixTime,
    /// Base64 trust-anchor signature over the whole entry (country, kind, thumbprint,
    /// revocation, host: `herald_trust::TrustEntry::signed_fields`); `None` for rows stored
    /// before herald signed whole entries, which the gateway refuses until the operator signs
    /// them (`herald gateway trust resign`).
    pub entry_signature: Option<String>,
}

/// The certificate types of the trust list (§4.1): the trust crate's, one type everywhere.
pub use herald_trust::TrustKind;

/// Which of the two statistics a row belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Traffic {
    /// `upload_stats`: a stored upload, by uploading country.
    Upload,
    /// `download_stats`: an answered download, by requesting country.
    Download,
}

/// A verified upload, ready to store (§1.2 step 9).
#[derive(Debug, Clone)]
pub struct NewUpload {
    /// The `batchTag` header: unique system-wide, for all time.
    pub batch_tag: BatchTag,
    /// The authenticated uploader country.
    pub country: CountryCode,
    /// Thumbprint of the uploader's AUTHENTICATION certificate.
    pub auth_thumbprint: CertThumbprint,
    /// Thumbprint of the SIGNING certificate that signed the batch.
    pub signing_thumbprint: CertThumbprint,
    /// The `batchSignature` header (Base64 CMS), verbatim, for the audit.
    pub batch_signature: String,
    /// The keys in upload order.
    pub keys: Vec<EfgsKey>,
}

/// What to do when some keys of an upload are duplicates (§5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadMode {
    /// EFGS: roll back everything (the 207 answer; nothing stored, the tag stays free).
    AllOrNothing,
    /// Store the keys that are not duplicates and consume the tag.
    StoreValid,
}

/// The result of [`Store::insert_upload`]. Index lists are 0-based positions in
/// [`NewUpload::keys`], ascending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadOutcome {
    /// Every key was stored (EFGS 201).
    Stored {
        /// Number of keys stored.
        keys: usize,
    },
    /// The tag is already registered; nothing was stored (EFGS 409).
    TagExists,
    /// Some keys are duplicates; everything was rolled back (EFGS 207 `"201"` and `"409"`).
    Duplicates {
        /// Keys that could have been stored.
        insertable: Vec<usize>,
        /// Keys that duplicate a stored key or an earlier key of the same upload.
        duplicate: Vec<usize>,
    },
    /// [`UploadMode::StoreValid`]: the non-duplicates were stored and the tag is consumed.
    PartiallyStored {
        /// Keys stored.
        stored: Vec<usize>,
        /// Keys left out as duplicates.
        duplicate: Vec<usize>,
    },
}

/// A download batch (§1.3): whole uploads, at most the configured number of keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadBatch {
    /// `yyyyMMdd-N`.
    pub tag: BatchTag,
    /// When the batch was formed.
    pub created_at: UnixTime,
    /// The batch formed after this one (`nextBatchTag`), if any yet.
    pub next_tag: Option<BatchTag>,
    /// Keys assigned to the batch when it was formed (retention may delete some later).
    pub key_count: u64,
}

/// One upload batch within a download batch (§1.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// The uploader country.
    pub country: CountryCode,
    /// When the upload was stored.
    pub uploaded_at: UnixTime,
    /// The uploader's AUTHENTICATION certificate.
    pub auth_thumbprint: CertThumbprint,
    /// The certificate that signed the upload.
    pub signing_thumbprint: CertThumbprint,
    /// The `batchSignature`, verbatim.
    pub batch_signature: String,
    /// Keys of that upload in this download batch.
    pub amount: u64,
}

/// A callback subscription of a country (§1.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackSubscription {
    /// The subscribing country.
    pub country: CountryCode,
    /// The country's name for it, at most 32 characters, unique per country.
    pub callback_id: String,
    /// The HTTPS URL to call, validated by the API.
    pub url: String,
    /// When it was first created.
    pub created_at: UnixTime,
    /// When it was suspended after [`MAX_CALLBACK_RETRIES`] + 1 consecutive failures; a
    /// suspended subscription gets no new tasks and no calls until it is put again.
    pub suspended_at: Option<UnixTime>,
}

/// A callback to make (§1.6): the oldest pending task of a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackTask {
    /// The task's id, for [`Store::callback_succeeded`] and [`Store::callback_failed`].
    pub id: i64,
    /// The download batch to announce.
    pub batch_tag: BatchTag,
    /// When that batch was formed (its date is the callback's `date`).
    pub batch_created_at: UnixTime,
    /// Failed attempts so far.
    pub retries: u32,
    /// The subscription's country.
    pub country: CountryCode,
    /// The subscription's id.
    pub callback_id: String,
    /// The subscription's URL.
    pub url: String,
}

/// What a failed callback led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackFailure {
    /// The task no longer exists: its subscription was deleted meanwhile.
    Gone,
    /// The subscription was suspended: this was failure number [`MAX_CALLBACK_RETRIES`] + 1 in a
    /// row.
    Suspended,
    /// The task will be tried again after the retry wait; `retries` failures so far.
    WillRetry {
        /// Failures so far.
        retries: u32,
    },
}

/// Failures of a task that are retried (EFGS `max-retries: 5`); the next failure suspends the
/// subscription.
pub const MAX_CALLBACK_RETRIES: u32 = 5;

/// Row counts read when the metrics are scraped ([`Store::gauges`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreGauges {
    /// Diagnosis keys stored (retention has not purged them yet).
    pub keys: u64,
    /// Download batches formed.
    pub download_batches: u64,
    /// Per uploading country: uploads and keys in the upload statistics.
    pub upload_stats: Vec<CountryStatistics>,
    /// Per requesting country: downloads and keys served in the download statistics.
    pub download_stats: Vec<CountryStatistics>,
}

/// One country's sums in a statistics table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountryStatistics {
    /// The country.
    pub country: CountryCode,
    /// Rows (uploads or downloads).
    pub rows: u64,
    /// Keys in those rows.
    pub keys: u64,
}

impl Store {
    /// The store with its at-rest settings: how new key payloads are sealed and which keys open
    /// stored ones. Until this is called, storing or reading keys is refused
    /// ([`StoreError::AtRestNotConfigured`]); trust-list operations need no keys.
    #[must_use]
    pub fn with_at_rest(self, at_rest: AtRest) -> Store {
        Store { at_rest: Some(Arc::new(at_rest)), ..self }
    }

    /// Checks that every stored key is sealed with a configured at-rest key
    /// ([`StoreError::AtRestKeyMissing`] names the first that is not), then stores every row as
    /// new rows are stored, in short transactions: rows from before this version (plaintext
    /// columns) are packed, and, when new rows are sealed, unencrypted rows and rows sealed with a
    /// previous key are sealed with the current key. Returns the number of rows stored anew. The
    /// gateway runs this at startup, before it serves: downloads read packed rows only.
    pub async fn apply_at_rest(&self) -> Result<u64, StoreError> {
        let at_rest = self.at_rest("apply_at_rest")?;
        herald_db::dispatch!(write, &self.pools, apply_at_rest, at_rest)
    }

    fn at_rest(&self, operation: &'static str) -> Result<&AtRest, StoreError> {
        self.at_rest.as_deref().ok_or(StoreError::AtRestNotConfigured { operation })
    }

    /// Inserts a trust-list row, or replaces the row with the same thumbprint. The operator
    /// revokes this way too, with the entry re-signed as revoked (`herald_trust::TrustAnchor::
    /// resign`): there is no store operation that flips the flag alone, since the entry
    /// signature covers it.
    pub async fn put_trust_entry(&self, entry: &TrustRow) -> Result<(), StoreError> {
        herald_db::dispatch!(write, &self.pools, put_trust_entry, entry)
    }

    /// The whole trust list, ordered by country, kind and thumbprint.
    pub async fn trust_entries(&self) -> Result<Vec<TrustRow>, StoreError> {
        herald_db::dispatch!(&self.pools, trust_entries)
    }

    /// The trust-list row of a certificate.
    pub async fn trust_entry(
        &self,
        thumbprint: &CertThumbprint,
    ) -> Result<Option<TrustRow>, StoreError> {
        herald_db::dispatch!(&self.pools, trust_entry, thumbprint)
    }

    /// Whether an upload tag was ever used (the registry is permanent, §5.2).
    pub async fn upload_tag_exists(&self, tag: &BatchTag) -> Result<bool, StoreError> {
        herald_db::dispatch!(&self.pools, upload_tag_exists, tag)
    }

    /// Stores an upload in one transaction (§1.2 steps 6 and 9, §5.2): registers the tag and
    /// inserts every key with its payload hash and its sealed payload (see [`AtRest`]). See [`UploadOutcome`] for the outcomes; only
    /// [`UploadOutcome::Stored`] and [`UploadOutcome::PartiallyStored`] commit anything.
    /// Transient conflicts (SQLite busy, PostgreSQL serialization failures and deadlocks) are
    /// retried.
    pub async fn insert_upload(
        &self,
        upload: &NewUpload,
        mode: UploadMode,
        now: UnixTime,
    ) -> Result<UploadOutcome, StoreError> {
        let at_rest = self.at_rest("insert_upload")?;
        herald_db::dispatch!(write, &self.pools, insert_upload, at_rest, upload, mode, now)
    }

    /// Assigns the pending uploads, oldest first and never split, to new download batches of at
    /// most `max_keys` keys (an upload larger than that gets a batch of its own), and returns
    /// the new tags in order (§1.3 "Download batches").
    ///
    /// Tags are `yyyyMMdd-N` of the UTC creation day, N counting from 1 per day; each batch
    /// becomes the `next` of the previous one, across days too. Each batch is its own short
    /// transaction, serialized with other batchers (other tasks, other processes on the same
    /// database) by a lock row, so tags stay unique and every upload is assigned once. A batch
    /// is never dated before the previous one, so a clock running behind cannot break the
    /// order of the chain.
    pub async fn form_download_batches(
        &self,
        now: UnixTime,
        max_keys: usize,
    ) -> Result<Vec<BatchTag>, StoreError> {
        herald_db::dispatch!(write, &self.pools, form_download_batches, now, max_keys)
    }

    /// A download batch by tag.
    pub async fn download_batch(
        &self,
        tag: &BatchTag,
    ) -> Result<Option<DownloadBatch>, StoreError> {
        herald_db::dispatch!(&self.pools, download_batch, tag)
    }

    /// The first download batch created at or after `since`, ordered by creation, then id.
    pub async fn first_download_batch_since(
        &self,
        since: UnixTime,
    ) -> Result<Option<DownloadBatch>, StoreError> {
        herald_db::dispatch!(&self.pools, first_download_batch_since, since)
    }

    /// The keys of a download batch whose uploader country is not `exclude`, grouped by upload
    /// in upload order, each upload's keys in their uploaded order (§1.3 step 5, §3.4). Empty
    /// for an unknown tag: check [`Store::download_batch`] first.
    pub async fn download_keys(
        &self,
        tag: &BatchTag,
        exclude: Option<CountryCode>,
    ) -> Result<Vec<EfgsKey>, StoreError> {
        let at_rest = self.at_rest("download_keys")?;
        herald_db::dispatch!(&self.pools, download_keys, at_rest, tag, exclude)
    }

    /// One row per upload in the download batch, the requester's own included, in the order
    /// [`Store::download_keys`] groups them (the order of their first keys) (§1.4). Uploads whose
    /// keys retention has deleted are left out.
    pub async fn audit(&self, tag: &BatchTag) -> Result<Vec<AuditRow>, StoreError> {
        herald_db::dispatch!(&self.pools, audit, tag)
    }

    /// Deletes the keys created before `cutoff` (§5.3), in short chunks; upload tags stay
    /// registered and download batches stay. Returns the number of keys deleted.
    pub async fn purge_keys_created_before(&self, cutoff: UnixTime) -> Result<u64, StoreError> {
        herald_db::dispatch!(write, &self.pools, purge_keys_created_before, cutoff)
    }

    /// Creates or replaces (upsert on country and id) a callback subscription. Putting a
    /// suspended subscription resumes it, and its pending tasks start counting failures anew.
    pub async fn put_callback(
        &self,
        country: CountryCode,
        callback_id: &str,
        url: &str,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        herald_db::dispatch!(write, &self.pools, put_callback, country, callback_id, url, now)
    }

    /// The callback subscriptions of a country, ordered by id.
    pub async fn callbacks(
        &self,
        country: CountryCode,
    ) -> Result<Vec<CallbackSubscription>, StoreError> {
        herald_db::dispatch!(&self.pools, callbacks, country)
    }

    /// Deletes a subscription and its pending tasks; `false` if the country has none with that
    /// id.
    pub async fn delete_callback(
        &self,
        country: CountryCode,
        callback_id: &str,
    ) -> Result<bool, StoreError> {
        herald_db::dispatch!(write, &self.pools, delete_callback, country, callback_id)
    }

    /// Creates one task per active (not suspended) subscription for the download batch `tag`,
    /// chained after the subscription's previous task. [`Store::form_download_batches`] calls
    /// this inside each batch's transaction; calling it again for the same batch adds nothing.
    pub async fn create_callback_tasks(
        &self,
        tag: &BatchTag,
        now: UnixTime,
    ) -> Result<u64, StoreError> {
        herald_db::dispatch!(write, &self.pools, create_callback_tasks, tag, now)
    }

    /// The tasks to run now, at most `limit`, oldest first: per active subscription only its
    /// oldest task (the previous one must be done first), and only if it was never tried or
    /// last tried at least `retry_wait_seconds` ago.
    pub async fn due_callback_tasks(
        &self,
        now: UnixTime,
        retry_wait_seconds: i64,
        limit: u32,
    ) -> Result<Vec<CallbackTask>, StoreError> {
        herald_db::dispatch!(&self.pools, due_callback_tasks, now, retry_wait_seconds, limit)
    }

    /// Records a successful callback: deletes the task, which unblocks its successor.
    pub async fn callback_succeeded(&self, task_id: i64) -> Result<(), StoreError> {
        herald_db::dispatch!(write, &self.pools, callback_succeeded, task_id)
    }

    /// Records a failed callback: one more retry and the time of this try; the failure after
    /// [`MAX_CALLBACK_RETRIES`] retries suspends the subscription (it is kept, unlike EFGS,
    /// which deletes it).
    pub async fn callback_failed(
        &self,
        task_id: i64,
        now: UnixTime,
    ) -> Result<CallbackFailure, StoreError> {
        herald_db::dispatch!(write, &self.pools, callback_failed, task_id, now)
    }

    /// Pending tasks of all subscriptions, as (country, callback id, batch tag), in task order;
    /// for tools and tests.
    pub async fn pending_callback_tasks(
        &self,
    ) -> Result<Vec<(CountryCode, String, BatchTag)>, StoreError> {
        herald_db::dispatch!(&self.pools, pending_callback_tasks)
    }

    /// Takes or renews the lease `job` for `holder` until `now + ttl_seconds`, if it is free,
    /// expired (its end is at or before `now`), or already held by `holder`. `false` when
    /// another holder has it.
    pub async fn try_lease(
        &self,
        job: &str,
        holder: &str,
        now: UnixTime,
        ttl_seconds: i64,
    ) -> Result<bool, StoreError> {
        herald_db::dispatch!(write, &self.pools, try_lease, job, holder, now, ttl_seconds)
    }
}

/// Statistics (§1.3 step 7, §6.1) and the gauges of the internal listener.
impl Store {
    /// Records a stored upload in `upload_stats`: the hour of `now`, its tag, country and
    /// number of keys stored.
    pub async fn record_upload_statistics(
        &self,
        tag: &BatchTag,
        country: CountryCode,
        keys: u64,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.record_statistics(Traffic::Upload, tag, country, keys, now).await
    }

    /// Records an answered download in `download_stats`: the hour of `now`, the download
    /// batch, the requesting country and the number of keys served.
    pub async fn record_download_statistics(
        &self,
        batch_tag: &BatchTag,
        country: CountryCode,
        keys: u64,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.record_statistics(Traffic::Download, batch_tag, country, keys, now).await
    }

    /// Records an upload's or a download's statistics row (see the two methods above).
    pub async fn record_statistics(
        &self,
        traffic: Traffic,
        tag: &BatchTag,
        country: CountryCode,
        keys: u64,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        herald_db::dispatch!(
            write,
            &self.pools,
            record_statistics,
            traffic,
            tag,
            country,
            keys,
            now
        )
    }

    /// Deletes the statistics rows older than `cutoff`; returns how many.
    pub async fn purge_statistics_before(&self, cutoff: UnixTime) -> Result<u64, StoreError> {
        herald_db::dispatch!(write, &self.pools, purge_statistics_before, cutoff)
    }

    /// Stored keys, download batches and the statistics' sums per country.
    pub async fn gauges(&self) -> Result<StoreGauges, StoreError> {
        herald_db::dispatch!(&self.pools, gauges)
    }
}

impl TrustRow {
    /// The row of a trust-list entry, created at `created_at`.
    pub fn from_entry(entry: &herald_trust::TrustEntry, created_at: UnixTime) -> Self {
        Self {
            thumbprint: entry.thumbprint,
            country: entry.country,
            kind: entry.kind,
            certificate_pem: entry.certificate_pem.clone(),
            operator_signature: entry.operator_signature.clone(),
            revoked: entry.revoked,
            host: entry.host.clone(),
            created_at,
            entry_signature: entry.entry_signature.clone(),
        }
    }

    /// The trust-list entry of this row (for the anchor's integrity check and exports).
    pub fn entry(&self) -> herald_trust::TrustEntry {
        herald_trust::TrustEntry {
            country: self.country,
            kind: self.kind,
            certificate_pem: self.certificate_pem.clone(),
            thumbprint: self.thumbprint,
            operator_signature: self.operator_signature.clone(),
            revoked: self.revoked,
            host: self.host.clone(),
            entry_signature: self.entry_signature.clone(),
        }
    }
}
