//! Portal accounts: what a user row must tell the login, new users' one-time credentials, the
//! audit log's events, and form fields that hold secrets.

use std::net::IpAddr;

use axum::http::{Extensions, HeaderMap};
use maud::{Markup, html};
use zeroize::Zeroizing;

use crate::session::{BoxFuture, Portal, PortalUser};
use crate::{ClientLimiter, Keyring, LoginLimiter, PasswordHasher, auth};

/// A user as the login needs it (beyond [`PortalUser`]).
pub trait Account: PortalUser {
    /// The argon2id PHC string of the password.
    fn password_hash(&self) -> &str;
    /// The sealed TOTP secret ([`auth::seal`]).
    fn sealed_totp_secret(&self) -> &[u8];
    /// Disabled users cannot log in (and are answered as unknown ones).
    fn disabled(&self) -> bool;
    /// Whether the account is locked at `now` (Unix seconds).
    fn locked(&self, now: i64) -> bool;
}

/// The login policy of a portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginPolicy {
    /// Attempts per user name per 15 minutes (in memory, keyed by an HMAC of the name).
    pub attempts_per_15_minutes: u32,
    /// Login attempts per client address per 15 minutes that did not succeed (in memory, keyed
    /// by an HMAC of the address under a random key of the process).
    pub client_attempts_per_15_minutes: u32,
    /// Failed logins in a row that lock an account until an administrator unlocks it.
    pub lockout_after: i64,
    /// How long a session lasts, in minutes.
    pub session_minutes: i64,
}

/// What tripped, for a portal's metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trip {
    /// A user name's login rate limit.
    LoginRate,
    /// A client's limit of login attempts that did not succeed.
    LoginClient,
    /// Every argon2 slot and queue place was taken: a login answered 429 without hashing.
    LoginBusy,
    /// An account locked after failed logins.
    AccountLocked,
}

/// A portal with accounts: where the kit's login ([`crate::login`]) keeps users, sessions and
/// audit events, and how it renders its pages. The service implements it on its store; each
/// method's `Err` says what failed in storage.
pub trait Accounts: Portal<User: Account> {
    /// The cookie the login form's CSRF token is bound to (before a session exists).
    const LOGIN_COOKIE: &'static str;
    /// The path of the portal's cookies (`/portal`).
    const COOKIE_PATH: &'static str;
    /// Where a session goes after logging in.
    const HOME_PATH: &'static str;
    /// Where the logout form posts.
    const LOGOUT_PATH: &'static str;

    /// Now, in Unix seconds (the service's clock).
    fn now(&self) -> i64;
    /// The login policy.
    fn policy(&self) -> LoginPolicy;
    /// The per-name attempt counter.
    fn limiter(&self) -> &LoginLimiter;
    /// The per-client attempt counter.
    fn clients(&self) -> &ClientLimiter;
    /// The address of the client of a request, from its headers and extensions (where the
    /// service's server puts the TCP peer's); `None` when unknown (such clients share one count).
    /// Behind a proxy, from the header the operator configured for it
    /// (`herald_runtime::PeerInfo::client_address` in the services).
    fn client(&self, headers: &HeaderMap, extensions: &Extensions) -> Option<IpAddr>;
    /// argon2 on blocking threads.
    fn passwords(&self) -> &PasswordHasher;
    /// Counts a trip in the service's metrics.
    fn trip(&self, trip: Trip);

    /// The user named `name`, if any.
    fn user(&self, name: &str) -> BoxFuture<'_, Result<Option<Self::User>, String>>;
    /// Records a proof of the password and TOTP time step `step` (a login, or the confirmation
    /// of a password change): resets the failure count and returns `false` if the step was
    /// already used (a replayed code).
    fn login_succeeded(&self, user: &Self::User, step: i64) -> BoxFuture<'_, Result<bool, String>>;
    /// Counts a failed login (or a wrong current password or code confirming a password
    /// change), locking the account (until an administrator unlocks it) from
    /// `lockout_after` failures on; the user as updated.
    fn login_failed(
        &self,
        user: &Self::User,
        lockout_after: i64,
    ) -> BoxFuture<'_, Result<Option<Self::User>, String>>;
    /// Stores a session (by the keyed hash of its id) until `expires_at`.
    fn add_session(
        &self,
        hash: [u8; 32],
        user: &Self::User,
        expires_at: i64,
    ) -> BoxFuture<'_, Result<(), String>>;
    /// Ends a session.
    fn delete_session(&self, hash: [u8; 32]) -> BoxFuture<'_, Result<(), String>>;
    /// Replaces the user's password (the one-time flag cleared) and ends their sessions.
    fn set_password(&self, user: &Self::User, hash: String) -> BoxFuture<'_, Result<(), String>>;
    /// Appends an audit event (its time rounded down to the minute); a failure is the
    /// service's to log.
    fn record(&self, event: AuditEvent) -> BoxFuture<'_, ()>;

    /// A page in the portal's layout, with the session's navigation when there is one.
    fn page(
        &self,
        title: &str,
        session: Option<&crate::Session<Self::User>>,
        content: &Markup,
    ) -> Markup;
}

/// One audit event: who did what on what, at a whole minute; never a code or secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Unix seconds, whole minutes.
    pub at_minute: i64,
    /// The user (or `cli`).
    pub actor: String,
    /// What, e.g. `login.failed`, `code.issue`.
    pub action: String,
    /// On what (a user name, a code's UUID), never a secret.
    pub subject: String,
}

impl AuditEvent {
    /// An event at `now` (rounded down to the minute).
    pub fn new(now: i64, actor: &str, action: &str, subject: &str) -> Self {
        Self {
            at_minute: now.div_euclid(60) * 60,
            actor: actor.to_owned(),
            action: action.to_owned(),
            subject: subject.to_owned(),
        }
    }
}

/// The audit log's table (the newest events first, as given).
pub fn audit_table(events: &[AuditEvent]) -> Markup {
    html! {
        p { "The newest " (events.len()) " events; times are whole minutes (UTC)." }
        table.card #audit {
            tr { th { "When" } th { "Who" } th { "What" } th { "On" } }
            @for e in events {
                tr {
                    td { (minute_text(e.at_minute)) }
                    td { (e.actor) } td { (e.action) } td { (e.subject) }
                }
            }
        }
    }
}

/// Unix seconds as `YYYY-MM-DD HH:MM UTC`.
pub fn minute_text(t: i64) -> String {
    let rest = t.rem_euclid(86_400);
    let day = herald_model::Date::of(herald_model::UnixTime(t));
    format!("{day} {:02}:{:02} UTC", rest / 3600, rest % 3600 / 60)
}

/// Whether `name` can be a user name: 1 to 64 letters, digits or `. _ @ -`.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b))
}

/// A new user's one-time credentials, to show once. `Debug` is redacted.
pub struct Credentials {
    /// The one-time password (to change at the first login).
    pub password: Zeroizing<String>,
    /// The TOTP secret, Base32.
    pub totp_secret: Zeroizing<String>,
    /// The `otpauth://` URI with the secret.
    pub otpauth_uri: Zeroizing<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(redacted)")
    }
}

/// What a new user's row stores of its credentials.
#[derive(Clone)]
pub struct StoredCredentials {
    /// The argon2id PHC string of the one-time password.
    pub password_hash: String,
    /// The sealed TOTP secret.
    pub sealed_totp_secret: Vec<u8>,
}

impl std::fmt::Debug for StoredCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoredCredentials(redacted)")
    }
}

/// Why a user could not be created.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// The name is unusable.
    #[error("user name must be 1 to 64 letters, digits or . _ @ -")]
    BadName,
    /// It exists.
    #[error("a user named {0:?} exists already")]
    Exists(String),
    /// Storage or crypto failed.
    #[error("{0}")]
    Internal(String),
}

/// Fresh one-time credentials for the user `name` (`issuer` names the portal in authenticator
/// apps): what to show once, and what to store. Refuses a name [`valid_name`] does not accept.
pub fn new_credentials(
    keys: &dyn Keyring,
    issuer: &str,
    name: &str,
) -> Result<(Credentials, StoredCredentials), UserError> {
    if !valid_name(name) {
        return Err(UserError::BadName);
    }
    let password = auth::one_time_password();
    let secret = auth::new_totp_secret();
    let stored = StoredCredentials {
        password_hash: auth::hash_password(&password).map_err(UserError::Internal)?,
        sealed_totp_secret: auth::seal(keys, name, &secret).map_err(UserError::Internal)?,
    };
    let shown = Credentials {
        password,
        totp_secret: Zeroizing::new(auth::base32(&secret)),
        otpauth_uri: Zeroizing::new(auth::otpauth_uri(issuer, name, &secret)),
    };
    Ok((shown, stored))
}

/// A form field holding a secret: wiped when dropped.
#[derive(Default, serde::Deserialize)]
#[serde(transparent)]
pub struct SecretField(String);

impl Drop for SecretField {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl std::ops::Deref for SecretField {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretField(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_events() {
        assert!(valid_name("alice.b@x-y_z"));
        for bad in ["", "a b", "ä", &"a".repeat(65), "<script>"] {
            assert!(!valid_name(bad), "{bad:?}");
        }
        let e = AuditEvent::new(3599, "alice", "login", "");
        assert_eq!(e.at_minute, 3540);
        assert_eq!(AuditEvent::new(-1, "cli", "x", "y").at_minute, -60);
        let table = audit_table(&[e]).into_string();
        assert!(table.contains("1970-01-01 00:59 UTC"), "{table}");
    }
}
