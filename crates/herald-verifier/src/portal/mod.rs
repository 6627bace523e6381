//! The case-worker portal (key-server.md §4): server-rendered HTML under `/portal/` on the
//! verification service's own listener (so it shares its TLS; its cookies are `Secure`).
//!
//! - **Login**: user name, password (argon2id) and a TOTP code (RFC 6238). Five wrong passwords
//!   or codes in a row lock the account until an administrator unlocks it; independently, each
//!   user name gets [`PortalSettings::login_attempts_per_15_minutes`] attempts per 15 minutes
//!   (keyed by an HMAC of the name, in memory). A TOTP code is accepted once.
//! - **Sessions**: a random 256-bit id in the cookie `herald_portal` (`Secure; HttpOnly;
//!   SameSite=Strict; Path=/portal`), stored only as a keyed hash, with an expiry.
//! - **CSRF**: every POST form carries a synchronizer token, the keyed hash of the session id
//!   (of a pre-login cookie for the login form); a POST without the right one is refused with
//!   403 before anything is read or written.
//! - **Roles**: case workers issue codes, check and expire them and see statistics;
//!   administrators also manage users and API keys and see settings and the audit log. Other
//!   pages answer 403.
//! - **Limits**: codes per user and per hour for everyone, counted from the audit log; a warning
//!   shows from 80 %, and at the limit issuing is refused (429).
//! - **Audit**: logins, lockouts, every issue, status check and expiry, user and key changes,
//!   with the time rounded to the minute, never a code or secret.
//! - **Headers**: a strict Content-Security-Policy (no script at all), `X-Frame-Options: DENY`,
//!   `Referrer-Policy: no-referrer`, `Cache-Control: no-store` on every answer.
//!
//! The sessions, CSRF checks, roles, headers and credentials are `herald_webkit`'s: every page
//! and form is added through its [`Pages`], so a handler without its session (and a form
//! without its CSRF check) does not compile. [`views`] renders the pages (maud escapes every
//! value).

// Handlers return early with a ready answer (`Result<_, Response>`); boxing it buys nothing.
#![allow(clippy::result_large_err)]

pub mod views;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use herald_webkit::{
    Access, BoxFuture, Keyring, LoginLimiter, Pages, PasswordHasher, PortalUser, Refusal, Session,
};
use maud::Markup;
use views::Nav;
use zeroize::Zeroizing;

use crate::config::PortalSettings;
use crate::service::Service;
use crate::store::{AuditRow, NewUser, Role, UserRow};

pub use herald_webkit::auth;

mod admin;
mod codes;
mod login;

use admin::{
    api_key_add, api_key_revoke, api_keys, audit, settings_page, user_add, user_disable,
    user_unlock, users,
};
use codes::{expire, home, issue, qr, stats, status};
use login::{login, login_form, logout, password_change, password_form};

/// The session cookie.
pub const SESSION_COOKIE: &str = "herald_portal";
/// The pre-login cookie the login form's CSRF token is bound to.
pub const LOGIN_COOKIE: &str = "herald_portal_login";
/// The Content-Security-Policy of every portal answer.
pub const CSP: &str = herald_webkit::CSP;

/// The issuer name of portal-issued codes: `portal:<user>`.
pub fn issuer(user: &str) -> String {
    format!("portal:{user}")
}

/// A new user's one-time credentials. `Debug` is redacted.
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

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b))
}

/// Creates a user with a one-time password and a fresh TOTP secret, and records it in the audit
/// log as done by `actor`.
pub async fn create_user(
    service: &Service,
    name: &str,
    role: Role,
    actor: &str,
) -> Result<Credentials, UserError> {
    if !valid_name(name) {
        return Err(UserError::BadName);
    }
    let password = auth::one_time_password();
    let secret = auth::new_totp_secret();
    let user = NewUser {
        name: name.to_owned(),
        password_hash: auth::hash_password(&password).map_err(UserError::Internal)?,
        totp_secret: auth::seal(service.secrets(), name, &secret).map_err(UserError::Internal)?,
        role,
    };
    let stored =
        service.store().add_user(&user).await.map_err(|e| UserError::Internal(e.to_string()))?;
    if !stored {
        return Err(UserError::Exists(name.to_owned()));
    }
    record(service, actor, "user.add", &format!("{name} ({})", role.as_str())).await;
    tracing::info!(user = name, role = role.as_str(), "portal user created");
    Ok(Credentials {
        password,
        totp_secret: Zeroizing::new(auth::base32(&secret)),
        otpauth_uri: Zeroizing::new(auth::otpauth_uri("herald", name, &secret)),
    })
}

/// Appends an audit event (time rounded down to the minute); a failure is logged.
pub async fn record(service: &Service, actor: &str, action: &str, subject: &str) {
    let event = AuditRow {
        at_minute: service.now().div_euclid(60) * 60,
        actor: actor.to_owned(),
        action: action.to_owned(),
        subject: subject.to_owned(),
    };
    if let Err(error) = service.store().audit(&event).await {
        tracing::error!(%error, action, "audit event not stored");
    }
}

/// The portal's state.
pub struct Portal {
    service: Arc<Service>,
    settings: PortalSettings,
    country: String,
    limiter: LoginLimiter,
    /// argon2 on blocking threads, at most [`HASHING_SLOTS`] at once.
    passwords: PasswordHasher,
}

/// Concurrent argon2 computations.
const HASHING_SLOTS: usize = 2;

impl PortalUser for UserRow {
    fn name(&self) -> &str {
        &self.name
    }

    fn is_admin(&self) -> bool {
        self.role == Role::Administrator
    }

    fn must_change_password(&self) -> bool {
        self.password_change_required
    }
}

impl herald_webkit::Portal for Portal {
    type User = UserRow;

    const SESSION_COOKIE: &'static str = SESSION_COOKIE;
    const LOGIN_PATH: &'static str = "/portal/login";
    const PASSWORD_PATH: &'static str = "/portal/password";

    fn keyring(&self) -> &dyn Keyring {
        self.service.secrets()
    }

    fn session_user(
        &self,
        session_hash: [u8; 32],
    ) -> BoxFuture<'_, Result<Option<UserRow>, String>> {
        Box::pin(async move {
            let now = self.service.now();
            self.service.store().session_user(&session_hash, now).await.map_err(|e| e.to_string())
        })
    }

    fn refusal(&self, refusal: Refusal, session: Option<&Ctx>) -> Response {
        let nav = session.map(nav);
        match refusal {
            Refusal::Forbidden => plain_page(
                refusal.status(),
                "Not allowed",
                "This page is for administrators.",
                nav.as_ref(),
            ),
            Refusal::Csrf => csrf_refused(nav.as_ref()),
            Refusal::BadForm => plain_page(
                refusal.status(),
                "Refused",
                "The form's fields could not be read. Reload the page and try again.",
                nav.as_ref(),
            ),
            Refusal::Internal => internal("session", &"storage failed"),
        }
    }
}

impl std::fmt::Debug for Portal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Portal").field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// The portal's routes (all under `/portal`).
pub fn router(service: Arc<Service>, settings: PortalSettings, country: &str) -> Router {
    let portal = Arc::new(Portal {
        service,
        settings,
        country: country.to_owned(),
        limiter: LoginLimiter::default(),
        passwords: PasswordHasher::new(HASHING_SLOTS),
    });
    Pages::new()
        .public("/portal", get(|| async { Redirect::to("/portal/") }))
        .public("/portal/style.css", get(style))
        .public("/portal/login", get(login_form).post(login))
        .page("/portal/", Access::Member, home)
        .form("/portal/logout", Access::PasswordChange, logout)
        .page("/portal/password", Access::PasswordChange, password_form)
        .form("/portal/password", Access::PasswordChange, password_change)
        .form("/portal/issue", Access::Member, issue)
        .page("/portal/status", Access::Member, status)
        .form("/portal/expire", Access::Member, expire)
        .page("/portal/stats", Access::Member, stats)
        .page("/portal/audit", Access::Admin, audit)
        .page("/portal/users", Access::Admin, users)
        .form("/portal/users", Access::Admin, user_add)
        .form("/portal/users/unlock", Access::Admin, user_unlock)
        .form("/portal/users/disable", Access::Admin, user_disable)
        .page("/portal/api-keys", Access::Admin, api_keys)
        .form("/portal/api-keys", Access::Admin, api_key_add)
        .form("/portal/api-keys/revoke", Access::Admin, api_key_revoke)
        .page("/portal/settings", Access::Admin, settings_page)
        .into_router(portal)
        .layer(DefaultBodyLimit::max(16 * 1024))
        .layer(middleware::from_fn(herald_webkit::security_headers))
}

async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], views::STYLE).into_response()
}

fn html(status: StatusCode, markup: Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}

fn plain_page(status: StatusCode, title: &str, text: &str, nav: Option<&Nav<'_>>) -> Response {
    html(status, views::page(title, nav, &views::message("error", text)))
}

fn internal(what: &str, error: &dyn std::fmt::Display) -> Response {
    tracing::error!(operation = what, %error, "portal internal error");
    plain_page(StatusCode::INTERNAL_SERVER_ERROR, "Error", "Internal error; try again later.", None)
}

/// A checked session of a portal user.
type Ctx = Session<UserRow>;

/// The navigation bar of a session's pages.
fn nav(ctx: &Ctx) -> Nav<'_> {
    Nav { user: &ctx.user, csrf: &ctx.csrf }
}

fn csrf_refused(nav: Option<&Nav<'_>>) -> Response {
    plain_page(
        StatusCode::FORBIDDEN,
        "Refused",
        "The form did not come from this portal or has expired (CSRF token missing or wrong). \
         Reload the page and try again.",
        nav,
    )
}
