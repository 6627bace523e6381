//! The one error type of the store.

/// Why a store operation failed.
///
/// A storage failure is never reported as "not found": lookups return `Ok(None)` only when the
/// row is really absent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Opening, migrating or querying the database failed, or a row does not decode
    /// (`herald_db`'s error, shared by every store).
    #[error(transparent)]
    Db(#[from] herald_db::DbError),
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
}

impl StoreError {
    /// A stored value does not decode ([`herald_db::DbError::CorruptRow`]).
    pub(crate) fn corrupt(
        table: &'static str,
        column: &'static str,
        reason: &dyn std::fmt::Display,
    ) -> Self {
        Self::Db(herald_db::DbError::corrupt(table, column, reason))
    }

    /// A consistency check inside a transaction failed ([`herald_db::DbError::Invariant`]).
    pub(crate) fn invariant(operation: &'static str, what: &'static str) -> Self {
        Self::Db(herald_db::DbError::Invariant { operation, what })
    }
}

impl From<StoreError> for herald_db::AttemptError<StoreError> {
    fn from(error: StoreError) -> Self {
        Self::Fail(error)
    }
}
