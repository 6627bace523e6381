//! Verification-service storage: SQLite (the default) or PostgreSQL behind one contract,
//! [`Store`] (STYLE rules 11, 12; key-server.md §3.3, §6.1, §6.7).
//!
//! What the store guarantees:
//! - **No secrets at rest.** Codes, API keys and token ids arrive already hashed (HMAC-SHA256
//!   under the server secret, see `crate::secret`); phone numbers and IP addresses never reach
//!   it. Issuance times are not stored, only the expiries that are needed.
//! - **A code is used at most once.** [`Store::claim_code`] marks it claimed in the same
//!   transaction that checks it; two concurrent claims cannot both succeed.
//! - **A token is redeemed at most once.** [`Store::use_token`] inserts its id hash; a second
//!   insert of the same hash reports reuse.
//! - **A UUID names at most one code**, and a code's two hashes are unique across all codes.
//!
//! Queries are written once in `ops.rs` and compiled for each backend (`sqlite.rs`,
//! `postgres.rs` mount it with `#[path]`), as in the key server. The portal's users, roles and
//! audit log will come as new migrations next to these tables.

mod postgres;
mod sqlite;

pub use herald_db::DbError as StoreError;
use herald_db::Pools;
use herald_wire::verification::{Day, TestType};

/// A keyed hash (HMAC-SHA256) as stored.
pub type Hash = [u8; 32];

/// The two kinds of API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKeyKind {
    /// Issues codes: `/api/issue`, `/api/batch-issue`, `/api/checkcodestatus`, `/api/expirecode`.
    Admin,
    /// Used by apps: `/api/verify`, `/api/certificate`.
    Device,
}

impl ApiKeyKind {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Device => "device",
        }
    }

    /// From the column value.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "admin" => Some(Self::Admin),
            "device" => Some(Self::Device),
            _ => None,
        }
    }
}

/// A stored API key (its hash is the lookup key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRow {
    /// Its keyed hash.
    pub hash: Hash,
    /// Its name (logged instead of the key).
    pub name: String,
    /// Its kind.
    pub kind: ApiKeyKind,
    /// Revoked keys are refused.
    pub revoked: bool,
}

/// A code to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCode {
    /// The UUID.
    pub uuid: String,
    /// Keyed hash of the short code.
    pub short_hash: Hash,
    /// Keyed hash of the long code.
    pub long_hash: Hash,
    /// The test type.
    pub test_type: TestType,
    /// The symptom onset day.
    pub symptom_day: Option<Day>,
    /// The test day.
    pub test_day: Option<Day>,
    /// The issuing API key's name.
    pub issuer: String,
    /// The caller's issuer id.
    pub external_issuer_id: Option<String>,
    /// Unix seconds.
    pub short_expires_at: i64,
    /// Unix seconds.
    pub long_expires_at: i64,
}

/// A stored code, without its hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRow {
    /// The UUID.
    pub uuid: String,
    /// The test type.
    pub test_type: TestType,
    /// The symptom onset day.
    pub symptom_day: Option<Day>,
    /// The test day.
    pub test_day: Option<Day>,
    /// Unix seconds.
    pub short_expires_at: i64,
    /// Unix seconds.
    pub long_expires_at: i64,
    /// Whether it was used.
    pub claimed: bool,
}

/// What [`Store::insert_code`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    /// Stored.
    Inserted,
    /// A code with this UUID exists; nothing was written.
    UuidExists,
    /// A hash collides with a stored code's (draw a new code); nothing was written.
    Collision,
}

/// What [`Store::claim_code`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The code was valid and is now claimed.
    Claimed(CodeRow),
    /// No code has this hash.
    NotFound,
    /// The code was used before.
    AlreadyClaimed,
    /// The code (in the form presented) has expired.
    Expired,
    /// The code is valid but its test type is not among those accepted; it stays unclaimed.
    Unsupported(TestType),
}

/// The verification service's storage. Cloning is cheap and shares the pool.
#[derive(Clone, Debug)]
pub struct Store {
    pools: Pools,
}

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

macro_rules! dispatch {
    ($self:ident, $op:ident $(, $arg:expr)*) => {
        match &$self.pools {
            Pools::Sqlite(pool) => sqlite::ops::$op(pool, $($arg),*).await,
            Pools::Postgres(pool) => postgres::ops::$op(pool, $($arg),*).await,
        }
    };
}

impl Store {
    /// Opens a database (`postgres://…`, or a SQLite path, `sqlite:` URL or `:memory:`) and
    /// applies the migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Ok(Self { pools: Pools::open(url, &SQLITE, &POSTGRES).await? })
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        self.pools.backend()
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pools.close().await;
    }

    /// A database round trip, for `/health`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self, ping)
    }

    /// Stores an API key's hash unless one with this hash or name exists; returns whether it
    /// was stored.
    pub async fn add_api_key(
        &self,
        hash: &Hash,
        name: &str,
        kind: ApiKeyKind,
        created_at: i64,
    ) -> Result<bool, StoreError> {
        dispatch!(self, add_api_key, hash, name, kind, created_at)
    }

    /// The API key with this hash.
    pub async fn api_key(&self, hash: &Hash) -> Result<Option<ApiKeyRow>, StoreError> {
        dispatch!(self, api_key, hash)
    }

    /// Revokes the named API key; returns whether it existed.
    pub async fn revoke_api_key(&self, name: &str) -> Result<bool, StoreError> {
        dispatch!(self, revoke_api_key, name)
    }

    /// Stores a new code.
    pub async fn insert_code(&self, code: &NewCode) -> Result<InsertOutcome, StoreError> {
        dispatch!(self, insert_code, code)
    }

    /// Finds the code whose short or long hash is one of `hashes` (one per server secret),
    /// checks it against `now` and the `accept`ed test types, and claims it, atomically.
    pub async fn claim_code(
        &self,
        hashes: &[Hash],
        accept: &[TestType],
        now: i64,
    ) -> Result<ClaimOutcome, StoreError> {
        dispatch!(self, claim_code, hashes, accept, now)
    }

    /// The code with this UUID.
    pub async fn code_status(&self, uuid: &str) -> Result<Option<CodeRow>, StoreError> {
        dispatch!(self, code_status, uuid)
    }

    /// Expires the code with this UUID now (both forms); returns it as it is afterwards.
    pub async fn expire_code(&self, uuid: &str, now: i64) -> Result<Option<CodeRow>, StoreError> {
        dispatch!(self, expire_code, uuid, now)
    }

    /// Records a redeemed token id hash (kept until `expires_at`); returns `false` when it was
    /// redeemed before.
    pub async fn use_token(&self, hash: &Hash, expires_at: i64) -> Result<bool, StoreError> {
        dispatch!(self, use_token, hash, expires_at)
    }

    /// Deletes codes whose both forms expired before `cutoff`, and token hashes expired before
    /// `now`; returns (codes, tokens) deleted.
    pub async fn purge(&self, cutoff: i64, now: i64) -> Result<(u64, u64), StoreError> {
        dispatch!(self, purge, cutoff, now)
    }
}
