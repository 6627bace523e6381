//! The one error type of herald's stores.

/// Why a store operation failed.
///
/// A storage failure is never reported as "not found": lookups return `Ok(None)` only when the
/// row is really absent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
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
        /// The transaction or query name.
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
        /// What is wrong with the value (never the value of a secret field).
        reason: String,
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

impl DbError {
    /// A [`DbError::CorruptRow`].
    pub fn corrupt(
        table: &'static str,
        column: &'static str,
        reason: &dyn std::fmt::Display,
    ) -> Self {
        Self::CorruptRow { table, column, reason: reason.to_string() }
    }

    /// A migration error, with a database written by a newer herald named as such: sqlx refuses
    /// a database that has an applied migration missing from the embedded ones before applying
    /// anything.
    pub fn from_migrate(
        migrator: &sqlx::migrate::Migrator,
        error: sqlx::migrate::MigrateError,
    ) -> Self {
        match error {
            sqlx::migrate::MigrateError::VersionMissing(version) => {
                let latest_known = migrator.iter().map(|m| m.version).max().unwrap_or(0);
                Self::UnknownSchemaVersion { version, latest_known }
            }
            other => Self::Migrate(other),
        }
    }
}
