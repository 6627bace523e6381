//! The queries compiled for SQLite.

/// The backend type the shared queries are compiled for.
pub(super) type Db = sqlx::Sqlite;

/// SQLite takes the write lock up front (see `herald_db::Pools::begin_write`).
pub(super) const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

/// The page's bodies joined with commas, in the order the page's subquery (`ORDER BY … LIMIT`)
/// yields them: SQLite feeds an aggregate a subquery's rows in its order (a subquery with LIMIT
/// is never flattened into an aggregate), and an `ORDER BY` inside `group_concat` would sort
/// them again through a temporary B-tree (three times slower; the API tests check the order).
pub(super) const JOIN_BODIES: &str = "group_concat(p.body, ',')";

/// The aggregate that joins text values with a separator (`…(values, separator)`), nulls left out.
pub(super) const STRING_AGG: &str = "group_concat";

/// The page's last position (`date_added_us`/`seq`, each zero-padded to 20 digits, so that the
/// greatest string is the greatest position).
pub(super) const LAST_POSITION: &str = "MAX(printf('%020d/%020d', p.date_added_us, p.seq))";

#[allow(clippy::duplicate_mod)]
#[path = "ops/mod.rs"]
pub(super) mod ops;
