//! The queries compiled for PostgreSQL.

/// The backend type the shared queries are compiled for.
pub(super) type Db = sqlx::Postgres;

/// READ COMMITTED (see `herald_db::Pools::begin_write`).
pub(super) const BEGIN_WRITE: &str = "BEGIN ISOLATION LEVEL READ COMMITTED";

/// The page's bodies joined with commas, in page order.
pub(super) const JOIN_BODIES: &str =
    "string_agg(p.body, '\\x2c'::bytea ORDER BY p.date_added_us, p.seq)";

/// The aggregate that joins text values with a separator (`…(values, separator)`), nulls left out.
pub(super) const STRING_AGG: &str = "string_agg";

/// The page's last position (`date_added_us`/`seq`, each zero-padded to 20 digits, so that the
/// greatest string is the greatest position).
pub(super) const LAST_POSITION: &str =
    "MAX(lpad(p.date_added_us::text, 20, '0') || '/' || lpad(p.seq::text, 20, '0'))";

#[allow(clippy::duplicate_mod)]
#[path = "ops/mod.rs"]
pub(super) mod ops;
