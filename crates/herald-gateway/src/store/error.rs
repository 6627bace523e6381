//! The one error type of the store.

/// Why a store operation failed.
///
/// A storage failure is never reported as "not found": lookups return `Ok(None)` only when the
/// row is really absent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database URL or path is not usable.
    #[error("invalid database url: {reason}")]
    InvalidUrl {
        /// What is wrong with it.
        reason: String,
    },
    /// The database could not be opened or reached.
    #[error("cannot open the {backend} database")]
    Connect {
        /// `"sqlite"` or `"postgres"`.
        backend: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The database has a migration this binary does not know: a newer herald wrote it.
    #[error(
        "database schema has migration {version}, which this binary does not know (latest known \
         {latest_known}); it was written by a newer herald, refusing to use it"
    )]
    UnknownSchemaVersion {
        /// The unknown applied migration.
        version: i64,
        /// The newest migration embedded in this binary.
        latest_known: i64,
    },
    /// Applying the migrations failed.
    #[error("database migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// A named operation failed in the database (after the retries for transient conflicts).
    #[error("database operation {operation} failed")]
    Database {
        /// The transaction or query name (`insert_upload`, `form_download_batch`, …).
        operation: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A stored value does not decode into its domain type.
    #[error("stored {table}.{column} is invalid: {reason}")]
    CorruptRow {
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// What is wrong with the value (never the value of a key field).
        reason: String,
    },
    /// An upload has more keys than the store can number.
    #[error("upload has {keys} keys, too many to store")]
    UploadTooLarge {
        /// Number of keys in the upload.
        keys: usize,
    },
    /// The store was opened without at-rest settings ([`super::Store::with_at_rest`]), and the
    /// operation reads or writes key payloads.
    #[error("{operation} needs the at-rest keys, and none are configured for this store")]
    AtRestNotConfigured {
        /// The operation.
        operation: &'static str,
    },
    /// Stored keys are sealed with an at-rest key that is not configured.
    #[error(
        "stored keys are sealed with at-rest key {key_id}, which is not configured (add its file \
         to at_rest_previous_key_files)"
    )]
    AtRestKeyMissing {
        /// The id of the missing key.
        key_id: super::AtRestKeyId,
    },
    /// A stored key payload did not open: the configured key with its id is not the key that
    /// sealed it, or the row was altered. Nothing of it is used.
    #[error(
        "a stored key payload does not open with at-rest key {key_id}: wrong key file, or the row \
         was altered"
    )]
    AtRestOpen {
        /// The id the row names.
        key_id: super::AtRestKeyId,
    },
    /// A consistency check inside a transaction failed; the transaction was rolled back.
    #[error("store invariant violated in {operation}: {what}")]
    Invariant {
        /// The transaction name.
        operation: &'static str,
        /// What did not hold.
        what: &'static str,
    },
}

impl StoreError {
    /// A [`StoreError::CorruptRow`].
    pub(crate) fn corrupt(
        table: &'static str,
        column: &'static str,
        reason: &dyn std::fmt::Display,
    ) -> Self {
        Self::CorruptRow { table, column, reason: reason.to_string() }
    }
}
