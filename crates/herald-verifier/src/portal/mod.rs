//! The case-worker portal (key-server.md §4): server-rendered HTML under `/portal/` on the
//! verification service's own listener (so it shares its TLS; its cookies are `Secure`).
//!
//! - **Login**: user name, password (argon2id) and a TOTP code (RFC 6238). Five wrong passwords
//!   or codes in a row lock the account until an administrator unlocks it (which also clears
//!   the name's attempt count); independently, each user name gets
//!   [`PortalSettings::login_attempts_per_15_minutes`] attempts per 15 minutes (keyed by an HMAC
//!   of the name, in memory), and each client address
//!   [`PortalSettings::client_login_failures_per_15_minutes`] attempts that did not succeed
//!   (keyed by an HMAC under a random key of the process; behind a proxy, the address in the
//!   service's `client_address_header`). argon2 runs a slot per
//!   core with a bounded queue; a login that finds it full is answered 429 at once. Locked,
//!   unknown and disabled users get the answer of a wrong password, after the same work. A TOTP
//!   code is accepted once; a password change is confirmed with the current password and a
//!   new code (only the password for the forced change of a one-time password).
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
//!   `Referrer-Policy: no-referrer`, `Cache-Control: no-store` and
//!   `Strict-Transport-Security` on every answer.
//!
//! The sessions, CSRF checks, roles, headers and credentials are `herald_webkit`'s, and so are
//! the login, logout and password pages ([`login::routes`], on this portal's [`Accounts`]: the
//! store's users, sessions and audit log), the page shell ([`views::LAYOUT`]) and the audit
//! table: every page and form is added through its [`Pages`], so a handler without its session
//! (and a form without its CSRF check) does not compile. [`views`] renders this portal's own
//! pages (maud escapes every value).

// Handlers return early with a ready answer (`Result<_, Response>`); boxing it buys nothing.
#![allow(clippy::result_large_err)]

pub mod views;

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Extensions, HeaderMap, HeaderName, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use herald_webkit::layout::{html_response as html, message, refusal_text};
use herald_webkit::{
    Access, Account, Accounts, AuditEvent, BoxFuture, ClientLimiter, Keyring, LoginLimiter,
    LoginPolicy, Pages, PasswordHasher, PortalUser, Refusal, Session, Trip, login,
};
use maud::Markup;
use views::Nav;

use crate::config::PortalSettings;
use crate::service::Service;
use crate::store::{NewUser, Role, UserRow};

pub use herald_webkit::auth;
pub use herald_webkit::{Credentials, UserError};

mod admin;
mod codes;

use admin::{
    api_key_add, api_key_revoke, api_keys, audit, settings_page, user_add, user_disable,
    user_unlock, users,
};
use codes::{expire, home, issue, qr, stats, status};

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

/// Creates a user with a one-time password and a fresh TOTP secret, and records it in the audit
/// log as done by `actor`.
pub async fn create_user(
    service: &Service,
    name: &str,
    role: Role,
    actor: &str,
) -> Result<Credentials, UserError> {
    let (shown, stored) =
        herald_webkit::accounts::new_credentials(service.secrets(), "herald", name)?;
    let user = NewUser {
        name: name.to_owned(),
        password_hash: stored.password_hash,
        totp_secret: stored.sealed_totp_secret,
        role,
    };
    let stored =
        service.store().add_user(&user).await.map_err(|e| UserError::Internal(e.to_string()))?;
    if !stored {
        return Err(UserError::Exists(name.to_owned()));
    }
    record(service, actor, "user.add", &format!("{name} ({})", role.as_str())).await;
    tracing::info!(user = name, role = role.as_str(), "portal user created");
    Ok(shown)
}

/// Appends an audit event (time rounded down to the minute); a failure is logged.
pub async fn record(service: &Service, actor: &str, action: &str, subject: &str) {
    store_event(service, &AuditEvent::new(service.now(), actor, action, subject)).await;
}

async fn store_event(service: &Service, event: &AuditEvent) {
    let action = &event.action;
    if let Err(error) = service.store().audit(event).await {
        tracing::error!(%error, action, "audit event not stored");
    }
}

/// The portal's state.
pub struct Portal {
    service: Arc<Service>,
    settings: PortalSettings,
    country: String,
    limiter: LoginLimiter,
    clients: ClientLimiter,
    /// The header a proxy in front puts the client's address in (the service's
    /// `client_address_header`); `None`: the TCP peer's.
    client_header: Option<HeaderName>,
    /// argon2 on blocking threads, a slot per core, with a bounded queue.
    passwords: PasswordHasher,
}

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

impl Account for UserRow {
    fn password_hash(&self) -> &str {
        &self.password_hash
    }

    fn sealed_totp_secret(&self) -> &[u8] {
        &self.totp_secret
    }

    fn disabled(&self) -> bool {
        self.disabled
    }

    fn locked(&self, now: i64) -> bool {
        UserRow::locked(self, now)
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
        login::refused(self, refusal, session)
    }
}

/// The stored side of the web kit's login: the store's users, sessions and audit log.
impl Accounts for Portal {
    const LOGIN_COOKIE: &'static str = LOGIN_COOKIE;
    const COOKIE_PATH: &'static str = "/portal";
    const HOME_PATH: &'static str = "/portal/";
    const LOGOUT_PATH: &'static str = "/portal/logout";

    fn now(&self) -> i64 {
        self.service.now()
    }

    fn policy(&self) -> LoginPolicy {
        LoginPolicy {
            attempts_per_15_minutes: self.settings.login_attempts_per_15_minutes,
            client_attempts_per_15_minutes: self.settings.client_login_failures_per_15_minutes,
            lockout_after: self.settings.lockout_after,
            session_minutes: self.settings.session_minutes,
        }
    }

    fn limiter(&self) -> &LoginLimiter {
        &self.limiter
    }

    fn clients(&self) -> &ClientLimiter {
        &self.clients
    }

    /// The TCP peer the server attached (`herald_runtime::PeerInfo`), or, behind a proxy, the
    /// address in the configured header.
    fn client(&self, headers: &HeaderMap, extensions: &Extensions) -> Option<IpAddr> {
        extensions
            .get::<herald_runtime::PeerInfo>()
            .and_then(|peer| peer.client_address(headers, self.client_header.as_ref()))
    }

    fn passwords(&self) -> &PasswordHasher {
        &self.passwords
    }

    fn trip(&self, trip: Trip) {
        let label = match trip {
            Trip::LoginRate => "portal_login_rate",
            Trip::LoginClient => "portal_login_client",
            Trip::LoginBusy => "portal_login_busy",
            Trip::AccountLocked => "portal_account_locked",
        };
        self.service.metrics().increment(&crate::internal::TRIPS, label);
    }

    fn user(&self, name: &str) -> BoxFuture<'_, Result<Option<UserRow>, String>> {
        let name = name.to_owned();
        Box::pin(async move { self.service.store().user(&name).await.map_err(|e| e.to_string()) })
    }

    fn login_succeeded(&self, user: &UserRow, step: i64) -> BoxFuture<'_, Result<bool, String>> {
        let id = user.id;
        Box::pin(async move {
            self.service.store().login_succeeded(id, step).await.map_err(|e| e.to_string())
        })
    }

    fn login_failed(
        &self,
        user: &UserRow,
        lockout_after: i64,
    ) -> BoxFuture<'_, Result<Option<UserRow>, String>> {
        let id = user.id;
        Box::pin(async move {
            // Locked until an administrator unlocks it.
            let store = self.service.store();
            store.login_failed(id, lockout_after, i64::MAX).await.map_err(|e| e.to_string())
        })
    }

    fn add_session(
        &self,
        hash: [u8; 32],
        user: &UserRow,
        expires_at: i64,
    ) -> BoxFuture<'_, Result<(), String>> {
        let id = user.id;
        Box::pin(async move {
            self.service.store().add_session(&hash, id, expires_at).await.map_err(|e| e.to_string())
        })
    }

    fn delete_session(&self, hash: [u8; 32]) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.service.store().delete_session(&hash).await.map_err(|e| e.to_string())
        })
    }

    fn set_password(&self, user: &UserRow, hash: String) -> BoxFuture<'_, Result<(), String>> {
        let id = user.id;
        Box::pin(async move {
            self.service.store().set_password(id, &hash, false).await.map_err(|e| e.to_string())
        })
    }

    fn record(&self, event: AuditEvent) -> BoxFuture<'_, ()> {
        Box::pin(async move { store_event(&self.service, &event).await })
    }

    fn page(&self, title: &str, session: Option<&Ctx>, content: &Markup) -> Markup {
        views::page(title, session.map(nav).as_ref(), content)
    }
}

impl std::fmt::Debug for Portal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Portal").field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// The portal's routes (all under `/portal`); behind a proxy, `client_header` names the header
/// it puts the client's address in.
pub fn router(
    service: Arc<Service>,
    settings: PortalSettings,
    country: &str,
    client_header: Option<HeaderName>,
) -> Router {
    let portal = Arc::new(Portal {
        service,
        settings,
        country: country.to_owned(),
        limiter: LoginLimiter::default(),
        clients: ClientLimiter::default(),
        client_header,
        passwords: PasswordHasher::for_this_machine(),
    });
    login::routes(Pages::new())
        .public("/portal", get(|| async { Redirect::to("/portal/") }))
        .public("/portal/style.css", get(style))
        .page("/portal/", Access::Member, home)
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
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], views::style()).into_response()
}

fn plain_page(status: StatusCode, title: &str, text: &str, nav: Option<&Nav<'_>>) -> Response {
    html(status, views::page(title, nav, &message("error", text)))
}

fn internal(what: &str, error: &dyn std::fmt::Display) -> Response {
    tracing::error!(operation = what, %error, "portal internal error");
    let (title, text) = refusal_text(Refusal::Internal);
    plain_page(StatusCode::INTERNAL_SERVER_ERROR, title, text, None)
}

/// A checked session of a portal user.
type Ctx = Session<UserRow>;

/// The navigation bar of a session's pages.
fn nav(ctx: &Ctx) -> Nav<'_> {
    Nav { user: &ctx.user, csrf: &ctx.csrf }
}

/// The portal's forms and queries on a fuzz input (`crate::fuzzing`).
pub(crate) fn fuzz_forms(data: &[u8]) {
    codes::fuzz_forms(data);
    admin::fuzz_forms(data);
}
