//! The web kit for herald's portals (the verifier's case-worker portal today, the exchange's UI
//! next): server-rendered HTML behind a login with password and TOTP, where a page or form that
//! forgets its session or CSRF check does not compile.
//!
//! - [`Portal`] is what a service provides: its users (behind [`PortalUser`]), its sessions, its
//!   [`Keyring`] and its error pages.
//! - [`Pages`] is the only way to add routes: [`Pages::page`] (GET) hands the handler a checked
//!   [`Session`], [`Pages::form`] (POST) a checked [`Session`] *and* the form whose CSRF token
//!   matched it; [`Access`] says who may (any user, an administrator, or a user who still has to
//!   replace a one-time password); a handler is any [`PageHandler`], i.e. an async function of
//!   the portal, the session and the query or fields. [`Pages::public`] is for the few routes
//!   that come before a session (the login form, the stylesheet), named so in review.
//! - [`auth`]: argon2id passwords, RFC 6238 TOTP, sealed TOTP secrets, CSRF tokens;
//!   [`PasswordHasher`] runs argon2 on blocking threads, a few at a time, and answers at once
//!   when too many wait; [`LoginLimiter`] counts attempts per user name, [`ClientLimiter`] the
//!   attempts of each client address that did not succeed ([`limits`]).
//! - [`Accounts`] is what a portal with users provides besides: where users, sessions and audit
//!   events are kept (the service's store), its [`LoginPolicy`] and its page layout;
//!   [`login::routes`] then adds the login page, logging out and the password page;
//!   [`accounts::new_credentials`] makes a new user's one-time password and TOTP secret.
//! - [`layout`]: the one HTML shell of every portal page ([`Layout`], [`Nav`]), message boxes,
//!   the refusal pages and the base stylesheet; [`accounts::audit_table`] the audit log.
//! - [`security_headers`]: the strict headers of every answer (CSP without scripts, no framing,
//!   no referrer, no caching, HSTS); [`cookie`] and [`set_cookie`].
//!
//! A handler without a session does not fit [`Pages::form`]:
//!
//! ```compile_fail
//! # use std::sync::Arc;
//! # use axum::response::Response;
//! # use herald_webkit::{Access, Pages, Portal};
//! #[derive(serde::Deserialize)]
//! struct Fields { name: String }
//! fn routes<P: Portal>(pages: Pages<P>) -> Pages<P> {
//!     // No `Session` argument: refused at compile time.
//!     pages.form("/portal/rename", Access::Member, |_p: Arc<P>, f: Fields| async move {
//!         let _ = f.name;
//!         Response::default()
//!     })
//! }
//! ```
//!
//! while the same handler taking its session compiles (and its CSRF token was checked before it
//! runs):
//!
//! ```
//! # use std::sync::Arc;
//! # use axum::response::Response;
//! # use herald_webkit::{Access, Pages, Portal, Session};
//! #[derive(serde::Deserialize)]
//! struct Fields { name: String }
//! fn routes<P: Portal>(pages: Pages<P>) -> Pages<P> {
//!     pages.form("/portal/rename", Access::Member, |_p: Arc<P>, _s: Session<P::User>, f: Fields| async move {
//!         let _ = f.name;
//!         Response::default()
//!     })
//! }
//! ```

pub mod accounts;
pub mod auth;
#[doc(hidden)]
pub mod fuzzing;
mod headers;
pub mod layout;
pub mod limits;
pub mod login;
mod pages;
mod session;

pub use accounts::{
    Account, Accounts, AuditEvent, Credentials, LoginPolicy, SecretField, StoredCredentials, Trip,
    UserError,
};
pub use headers::{CSP, HSTS, security_headers};
pub use layout::{Layout, Nav};
pub use limits::{Admission, Busy, ClientLimiter, LoginLimiter, PasswordHasher, TooMany};
pub use pages::{NoFields, NoQuery, PageHandler, Pages};
pub use session::{Access, BoxFuture, Portal, PortalUser, Refusal, Session, cookie, set_cookie};

/// What a keyed hash is for: each purpose has its own label, so that a value hashed for one can
/// never stand for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A session id (stored only as this hash).
    Session,
    /// A CSRF token (of a session id or a pre-login cookie).
    Csrf,
    /// A user name, as the key of the login rate limit.
    LoginLimit,
    /// The key sealing TOTP secrets (the hash of nothing under this label).
    TotpSeal,
}

/// A service's server secrets: HMAC-SHA256 keys, newest first.
pub trait Keyring: Send + Sync {
    /// The keyed hash of `data` for `purpose` under every key, newest first.
    fn macs(&self, purpose: Purpose, data: &[u8]) -> Vec<[u8; 32]>;

    /// The keyed hash under the newest key (what is stored or handed out).
    fn mac(&self, purpose: Purpose, data: &[u8]) -> [u8; 32];
}
