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
//! Queries are written once in `ops/` and compiled for each backend (`sqlite.rs`,
//! `postgres.rs` mount it with `#[path]`), as in the key server. The portal's users, sessions,
//! audit log and daily statistics live in the second migration (see `crate::portal`).

mod postgres;
mod sqlite;

pub use herald_db::DbError as StoreError;
use herald_model::Date;
use herald_wire::verification::TestType;

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
    pub symptom_day: Option<Date>,
    /// The test day.
    pub test_day: Option<Date>,
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
    pub symptom_day: Option<Date>,
    /// The test day.
    pub test_day: Option<Date>,
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

/// A portal role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Users, API keys, settings, audit log (and everything a case worker does).
    Administrator,
    /// Issues and checks codes.
    CaseWorker,
}

impl Role {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Administrator => "administrator",
            Self::CaseWorker => "case_worker",
        }
    }

    /// From the column value.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "administrator" => Some(Self::Administrator),
            "case_worker" => Some(Self::CaseWorker),
            _ => None,
        }
    }
}

/// A portal user to store.
pub struct NewUser {
    /// Unique name.
    pub name: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// The sealed TOTP secret.
    pub totp_secret: Vec<u8>,
    /// Role.
    pub role: Role,
}

/// A stored portal user. `Debug` leaves out the password hash and the sealed TOTP secret.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRow {
    /// Row id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// The sealed TOTP secret.
    pub totp_secret: Vec<u8>,
    /// Role.
    pub role: Role,
    /// Failed logins since the last success.
    pub failed_logins: i64,
    /// Locked until (Unix seconds).
    pub locked_until: Option<i64>,
    /// Disabled users cannot log in.
    pub disabled: bool,
    /// The password is a one-time password.
    pub password_change_required: bool,
    /// The last accepted TOTP step.
    pub last_totp_step: i64,
}

impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("role", &self.role)
            .field("failed_logins", &self.failed_logins)
            .field("locked_until", &self.locked_until)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

impl UserRow {
    /// Whether the account is locked at `now`.
    pub fn locked(&self, now: i64) -> bool {
        self.locked_until.is_some_and(|t| t > now)
    }
}

/// One audit event (the web kit's: who did what on what, at a whole minute).
pub use herald_webkit::AuditEvent;

/// Codes issued and claimed on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayStats {
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    /// Issued.
    pub issued: i64,
    /// Claimed.
    pub claimed: i64,
}

/// A stored API key, for listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyInfo {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: ApiKeyKind,
    /// Revoked.
    pub revoked: bool,
}

herald_db::service_store! {
    /// The verification service's storage.
    pub struct Store;
}

impl Store {
    /// Stores an API key's hash unless one with this hash or name exists; returns whether it
    /// was stored.
    pub async fn add_api_key(
        &self,
        hash: &Hash,
        name: &str,
        kind: ApiKeyKind,
        created_at: i64,
    ) -> Result<bool, StoreError> {
        herald_db::dispatch!(&self.pools, add_api_key, hash, name, kind, created_at)
    }

    /// The API key with this hash.
    pub async fn api_key(&self, hash: &Hash) -> Result<Option<ApiKeyRow>, StoreError> {
        herald_db::dispatch!(&self.pools, api_key, hash)
    }

    /// Revokes the named API key; returns whether it existed.
    pub async fn revoke_api_key(&self, name: &str) -> Result<bool, StoreError> {
        herald_db::dispatch!(&self.pools, revoke_api_key, name)
    }

    /// Stores a new code.
    pub async fn insert_code(&self, code: &NewCode) -> Result<InsertOutcome, StoreError> {
        herald_db::dispatch!(&self.pools, insert_code, code)
    }

    /// Finds the code whose short or long hash is one of `hashes` (one per server secret),
    /// checks it against `now` and the `accept`ed test types, and claims it, atomically; the
    /// claim is counted in the day's statistics in the same transaction.
    pub async fn claim_code(
        &self,
        hashes: &[Hash],
        accept: &[TestType],
        now: i64,
    ) -> Result<ClaimOutcome, StoreError> {
        herald_db::dispatch!(&self.pools, claim_code, hashes, accept, now)
    }

    /// The code with this UUID.
    pub async fn code_status(&self, uuid: &str) -> Result<Option<CodeRow>, StoreError> {
        herald_db::dispatch!(&self.pools, code_status, uuid)
    }

    /// Expires the code with this UUID now (both forms); returns it as it is afterwards.
    pub async fn expire_code(&self, uuid: &str, now: i64) -> Result<Option<CodeRow>, StoreError> {
        herald_db::dispatch!(&self.pools, expire_code, uuid, now)
    }

    /// Records a redeemed token id hash (kept until `expires_at`); returns `false` when it was
    /// redeemed before.
    pub async fn use_token(&self, hash: &Hash, expires_at: i64) -> Result<bool, StoreError> {
        herald_db::dispatch!(&self.pools, use_token, hash, expires_at)
    }

    /// Deletes codes whose both forms expired before `cutoff`, and token hashes expired before
    /// `now`; returns (codes, tokens) deleted.
    pub async fn purge(&self, cutoff: i64, now: i64) -> Result<(u64, u64), StoreError> {
        herald_db::dispatch!(&self.pools, purge, cutoff, now)
    }

    /// Every API key, by name.
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKeyInfo>, StoreError> {
        herald_db::dispatch!(&self.pools, list_api_keys)
    }

    /// Stores a portal user unless the name exists; returns whether it was stored.
    pub async fn add_user(&self, user: &NewUser) -> Result<bool, StoreError> {
        herald_db::dispatch!(&self.pools, add_user, user)
    }

    /// The user with this name.
    pub async fn user(&self, name: &str) -> Result<Option<UserRow>, StoreError> {
        herald_db::dispatch!(&self.pools, user, name)
    }

    /// Every user, by name.
    pub async fn users(&self) -> Result<Vec<UserRow>, StoreError> {
        herald_db::dispatch!(&self.pools, users)
    }

    /// Counts a failed login; locks the account (until `lock_until`) when it reaches `limit`.
    /// Returns the user as it is afterwards.
    pub async fn login_failed(
        &self,
        id: i64,
        limit: i64,
        lock_until: i64,
    ) -> Result<Option<UserRow>, StoreError> {
        herald_db::dispatch!(&self.pools, login_failed, id, limit, lock_until)
    }

    /// Records a successful login with TOTP step `step`; `false` when that step (or a later
    /// one) was used before, i.e. the TOTP code is replayed.
    pub async fn login_succeeded(&self, id: i64, step: i64) -> Result<bool, StoreError> {
        herald_db::dispatch!(&self.pools, login_succeeded, id, step)
    }

    /// Unlocks a user (and forgets failed logins); returns whether it exists.
    pub async fn unlock_user(&self, name: &str) -> Result<bool, StoreError> {
        herald_db::dispatch!(&self.pools, unlock_user, name)
    }

    /// Disables or enables a user and ends its sessions; returns whether it exists.
    pub async fn set_user_disabled(&self, name: &str, disabled: bool) -> Result<bool, StoreError> {
        herald_db::dispatch!(&self.pools, set_user_disabled, name, disabled)
    }

    /// Replaces a user's password hash and ends all its sessions.
    pub async fn set_password(
        &self,
        id: i64,
        password_hash: &str,
        change_required: bool,
    ) -> Result<(), StoreError> {
        herald_db::dispatch!(&self.pools, set_password, id, password_hash, change_required)
    }

    /// Stores a session (its id hashed).
    pub async fn add_session(
        &self,
        hash: &Hash,
        user_id: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        herald_db::dispatch!(&self.pools, add_session, hash, user_id, expires_at)
    }

    /// The user of an unexpired session.
    pub async fn session_user(&self, hash: &Hash, now: i64) -> Result<Option<UserRow>, StoreError> {
        herald_db::dispatch!(&self.pools, session_user, hash, now)
    }

    /// Ends a session.
    pub async fn delete_session(&self, hash: &Hash) -> Result<(), StoreError> {
        herald_db::dispatch!(&self.pools, delete_session, hash)
    }

    /// Appends an audit event.
    pub async fn audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        herald_db::dispatch!(&self.pools, audit, event)
    }

    /// The newest `limit` audit events, newest first.
    pub async fn audit_events(&self, limit: i64) -> Result<Vec<AuditEvent>, StoreError> {
        herald_db::dispatch!(&self.pools, audit_events, limit)
    }

    /// How many `action` events since `since` (by `actor` if given).
    pub async fn audit_count(
        &self,
        action: &str,
        actor: Option<&str>,
        since: i64,
    ) -> Result<i64, StoreError> {
        herald_db::dispatch!(&self.pools, audit_count, action, actor, since)
    }

    /// Adds to a day's statistics.
    pub async fn add_stats(&self, day: i64, issued: i64, claimed: i64) -> Result<(), StoreError> {
        herald_db::dispatch!(&self.pools, add_stats, day, issued, claimed)
    }

    /// The statistics of days from `first` on, oldest first.
    pub async fn stats(&self, first: i64) -> Result<Vec<DayStats>, StoreError> {
        herald_db::dispatch!(&self.pools, stats, first)
    }
}
