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

pub use herald_webkit::auth;

use std::sync::Arc;

use axum::Form;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine as _;
use herald_webkit::{
    Access, BoxFuture, Keyring, LoginLimiter, NoFields, NoQuery, Pages, PasswordHasher, PortalUser,
    Refusal, Session, cookie, set_cookie,
};
use maud::Markup;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::config::PortalSettings;
use crate::secret::Purpose;
use crate::service::Service;
use crate::store::{ApiKeyKind, AuditRow, NewUser, Role, UserRow};
use views::{IssueFields, Nav, Usage};

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

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(response) => return response,
        }
    };
}

async fn login_form(State(p): State<Arc<Portal>>, headers: HeaderMap) -> Response {
    let (value, fresh) = match cookie(&headers, LOGIN_COOKIE) {
        Some(v) => (Zeroizing::new(v), false),
        None => (auth::random_hex(32), true),
    };
    let csrf = auth::csrf_token(p.service.secrets(), &format!("login:{}", value.as_str()));
    let mut response =
        html(StatusCode::OK, views::page("Log in", None, &views::login(&csrf, "", None)));
    if fresh {
        set_cookie(&mut response, LOGIN_COOKIE, &value, "/portal", 3600);
    }
    response
}

/// A form field holding a secret: wiped when dropped.
#[derive(Default, Deserialize)]
#[serde(transparent)]
struct SecretField(String);

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

#[derive(Deserialize)]
struct LoginFields {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: SecretField,
    #[serde(default)]
    totp: SecretField,
}

async fn login(
    State(p): State<Arc<Portal>>,
    headers: HeaderMap,
    Form(f): Form<LoginFields>,
) -> Response {
    let Some(login_cookie) = cookie(&headers, LOGIN_COOKIE) else {
        return csrf_refused(None);
    };
    let bound = format!("login:{login_cookie}");
    if !auth::csrf_ok(p.service.secrets(), &bound, &f.csrf) {
        return csrf_refused(None);
    }
    let csrf = auth::csrf_token(p.service.secrets(), &bound);
    let name = f.name.trim().to_owned();
    let again = |status: StatusCode, message: &str| {
        html(status, views::page("Log in", None, &views::login(&csrf, &name, Some(message))))
    };
    let generic = "Wrong user name, password or authenticator code.";
    let now = p.service.now();
    let key = p.service.secrets().hash(Purpose::LoginLimit, name.to_lowercase().as_bytes());
    if !p.limiter.attempt(key, now, p.settings.login_attempts_per_15_minutes) {
        p.service.metrics().increment(&crate::internal::TRIPS, "portal_login_rate");
        tracing::warn!("portal login refused: too many attempts for one user name");
        return again(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many login attempts for this user name; wait 15 minutes.",
        );
    }
    let user = match p.service.store().user(&name).await {
        Ok(u) => u,
        Err(e) => return internal("user", &e),
    };
    let Some(user) = user else {
        // The same work as for a real user; the typed name is not logged (it may be a password).
        p.passwords.matches_nobody(&f.password).await;
        tracing::info!("portal login failed: unknown user");
        return again(StatusCode::UNAUTHORIZED, generic);
    };
    let locked_message = "This account is locked after repeated failed logins. An administrator \
                          can unlock it.";
    if user.disabled {
        p.passwords.matches_nobody(&f.password).await;
        return again(StatusCode::UNAUTHORIZED, generic);
    }
    if user.locked(now) {
        tracing::info!(user = %user.name, "portal login refused: account locked");
        return again(StatusCode::FORBIDDEN, locked_message);
    }
    let password_ok = p.passwords.matches(&f.password, &user.password_hash).await;
    let step = if password_ok {
        auth::open(p.service.secrets(), &user.name, &user.totp_secret)
            .and_then(|secret| auth::totp_step(&secret, &f.totp, now))
    } else {
        None
    };
    let accepted = match step {
        Some(step) => match p.service.store().login_succeeded(user.id, step).await {
            Ok(fresh) => fresh,
            Err(e) => return internal("login", &e),
        },
        None => false,
    };
    if !accepted {
        let after =
            p.service.store().login_failed(user.id, p.settings.lockout_after, i64::MAX).await;
        let after = match after {
            Ok(a) => a,
            Err(e) => return internal("login_failed", &e),
        };
        record(
            &p.service,
            &user.name,
            "login.failed",
            if password_ok { "code" } else { "password" },
        )
        .await;
        tracing::info!(user = %user.name, "portal login failed");
        if after.is_some_and(|u| u.locked(now)) {
            record(&p.service, &user.name, "user.locked", &user.name).await;
            p.service.metrics().increment(&crate::internal::TRIPS, "portal_account_locked");
            tracing::warn!(user = %user.name, "portal account locked after failed logins");
            return again(StatusCode::FORBIDDEN, locked_message);
        }
        return again(StatusCode::UNAUTHORIZED, generic);
    }
    record(&p.service, &user.name, "login", "").await;
    tracing::info!(user = %user.name, "portal login");
    let target = if user.password_change_required { "/portal/password" } else { "/portal/" };
    start_session(&p, &user, target).await
}

async fn logout(p: Arc<Portal>, ctx: Ctx, _: NoFields) -> Response {
    let hash = ctx.hash(p.service.secrets());
    if let Err(e) = p.service.store().delete_session(&hash).await {
        return internal("delete_session", &e);
    }
    record(&p.service, &ctx.user.name, "logout", "").await;
    let mut response = Redirect::to("/portal/login").into_response();
    set_cookie(&mut response, SESSION_COOKIE, "", "/portal", 0);
    response
}

async fn password_form(_: Arc<Portal>, ctx: Ctx, _: NoQuery) -> Response {
    html(
        StatusCode::OK,
        views::page("Choose a password", Some(&nav(&ctx)), &views::password(&ctx.csrf, None)),
    )
}

#[derive(Deserialize)]
struct PasswordFields {
    #[serde(default)]
    new: SecretField,
    #[serde(default)]
    repeat: SecretField,
}

async fn password_change(p: Arc<Portal>, ctx: Ctx, f: PasswordFields) -> Response {
    let problem = if f.new.chars().count() < auth::MIN_PASSWORD {
        Some(format!("The password must have at least {} characters.", auth::MIN_PASSWORD))
    } else if f.new.len() > 256 {
        Some("The password must have at most 256 bytes.".to_owned())
    } else if *f.new != *f.repeat {
        Some("The two passwords differ.".to_owned())
    } else if p.passwords.matches(&f.new, &ctx.user.password_hash).await {
        Some("Choose a password different from the one-time password.".to_owned())
    } else {
        None
    };
    if let Some(problem) = problem {
        return html(
            StatusCode::BAD_REQUEST,
            views::page(
                "Choose a password",
                Some(&nav(&ctx)),
                &views::password(&ctx.csrf, Some(&problem)),
            ),
        );
    }
    let hash = match p.passwords.hash(&f.new).await {
        Ok(h) => h,
        Err(e) => return internal("hash_password", &e),
    };
    if let Err(e) = p.service.store().set_password(ctx.user.id, &hash, false).await {
        return internal("set_password", &e);
    }
    record(&p.service, &ctx.user.name, "user.password", &ctx.user.name).await;
    // Every session of the user ended with the old password; this one continues in a new one.
    start_session(&p, &ctx.user, "/portal/").await
}

/// A new session for `user`: stored (hashed), its cookie set, and a redirect to `target`.
async fn start_session(p: &Portal, user: &UserRow, target: &str) -> Response {
    let sid = auth::random_hex(32);
    let hash = p.service.secrets().hash(Purpose::Session, sid.as_bytes());
    let lifetime = p.settings.session_minutes * 60;
    if let Err(e) = p.service.store().add_session(&hash, user.id, p.service.now() + lifetime).await
    {
        return internal("add_session", &e);
    }
    let mut response = Redirect::to(target).into_response();
    set_cookie(&mut response, SESSION_COOKIE, &sid, "/portal", lifetime);
    set_cookie(&mut response, LOGIN_COOKIE, "", "/portal", 0);
    response
}

impl Portal {
    fn test_types(&self) -> Vec<&'static str> {
        self.service.settings().allowed_test_types.iter().map(|t| t.as_str()).collect()
    }

    async fn usage(&self, user: &str) -> Result<Usage, Response> {
        let since = (self.service.now() - 3600).div_euclid(60) * 60;
        let store = self.service.store();
        let count = |actor| async move { store.audit_count("code.issue", actor, since).await };
        let user_count = count(Some(user)).await.map_err(|e| internal("audit_count", &e))?;
        let global = count(None).await.map_err(|e| internal("audit_count", &e))?;
        Ok(Usage {
            user: user_count,
            user_limit: self.settings.codes_per_user_hour,
            global,
            global_limit: self.settings.codes_per_hour,
        })
    }
}

async fn home(p: Arc<Portal>, ctx: Ctx, _: NoQuery) -> Response {
    let usage = tri!(p.usage(&ctx.user.name).await);
    let form = views::issue_form(&ctx.csrf, &p.test_types(), &IssueFields::default(), &usage, None);
    html(StatusCode::OK, views::page("Issue a verification code", Some(&nav(&ctx)), &form))
}

fn qr(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Some(format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    ))
}

async fn issue(p: Arc<Portal>, ctx: Ctx, f: IssueFields) -> Response {
    let usage = tri!(p.usage(&ctx.user.name).await);
    let form = |status: StatusCode, usage: &Usage, error: &str| {
        let fields = IssueFields { csrf: String::new(), ..f.clone() };
        let form = views::issue_form(&ctx.csrf, &p.test_types(), &fields, usage, Some(error));
        html(status, views::page("Issue a verification code", Some(&nav(&ctx)), &form))
    };
    if usage.user >= usage.user_limit || usage.global >= usage.global_limit {
        p.service.metrics().increment(&crate::internal::TRIPS, "portal_issue_limit");
        tracing::warn!(user = %ctx.user.name, "portal issue refused: hourly limit reached");
        record(&p.service, &ctx.user.name, "code.issue.refused", "hourly limit").await;
        return form(
            StatusCode::TOO_MANY_REQUESTS,
            &usage,
            "The hourly limit for issuing codes is reached.",
        );
    }
    let non_empty = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let request = herald_wire::verification::IssueRequest {
        test_type: f.test_type.clone(),
        test_date: non_empty(&f.test_date),
        symptom_date: non_empty(&f.symptom_date),
        ..Default::default()
    };
    let answer = match p.service.issue(&request, &issuer(&ctx.user.name)).await {
        Ok(a) => a,
        Err(e) => return form(StatusCode::BAD_REQUEST, &usage, &e.message),
    };
    record(&p.service, &ctx.user.name, "code.issue", &answer.uuid).await;
    let link = format!(
        "{}?c={}&r={}",
        p.settings.link_base,
        answer.long_code,
        p.country.to_ascii_uppercase()
    );
    let sms = format!(
        "Your exposure notification verification link: {link} (or enter the code {} in the app).",
        answer.code
    );
    let qr = qr(&link);
    let minutes = (answer.expires_at_timestamp - p.service.now() + 30) / 60;
    let page = views::issued(&views::Issued {
        uuid: &answer.uuid,
        code: &answer.code,
        expires: &answer.expires_at,
        minutes,
        long_code: &answer.long_code,
        long_expires: &answer.long_expires_at,
        sms: &sms,
        qr: qr.as_deref(),
    });
    html(StatusCode::OK, views::page("Verification code", Some(&nav(&ctx)), &page))
}

#[derive(Deserialize)]
struct UuidQuery {
    #[serde(default)]
    uuid: String,
}

async fn status(p: Arc<Portal>, ctx: Ctx, q: UuidQuery) -> Response {
    let uuid = q.uuid.trim().to_ascii_lowercase();
    let now = p.service.now();
    let (row, error) = if uuid.is_empty() {
        (None, None)
    } else if uuid.len() > 64 {
        (None, Some("That is not a UUID.".to_owned()))
    } else {
        match p.service.store().code_status(&uuid).await {
            Ok(Some(row)) => {
                record(&p.service, &ctx.user.name, "code.status", &uuid).await;
                (Some(row), None)
            }
            Ok(None) => (None, Some(format!("No code has the unique identifier {uuid}."))),
            Err(e) => return internal("code_status", &e),
        }
    };
    let page = views::status(&ctx.csrf, &uuid, row.as_ref(), now, error.as_deref());
    let status = if error.is_some() { StatusCode::NOT_FOUND } else { StatusCode::OK };
    html(status, views::page("Code status", Some(&nav(&ctx)), &page))
}

#[derive(Deserialize)]
struct UuidForm {
    #[serde(default)]
    uuid: String,
}

async fn expire(p: Arc<Portal>, ctx: Ctx, f: UuidForm) -> Response {
    let uuid = f.uuid.trim().to_ascii_lowercase();
    match p.service.expire(&uuid, &issuer(&ctx.user.name)).await {
        Ok(_) => {
            record(&p.service, &ctx.user.name, "code.expire", &uuid).await;
            Redirect::to(&format!("/portal/status?uuid={uuid}")).into_response()
        }
        Err(e) => plain_page(StatusCode::NOT_FOUND, "Code status", &e.message, Some(&nav(&ctx))),
    }
}

async fn stats(p: Arc<Portal>, ctx: Ctx, _: NoQuery) -> Response {
    let today = p.service.now().div_euclid(86_400);
    let first = today - 13;
    let rows = match p.service.store().stats(first).await {
        Ok(r) => r,
        Err(e) => return internal("stats", &e),
    };
    let days: Vec<_> = (first..=today)
        .map(|day| {
            rows.iter().find(|r| r.day == day).copied().unwrap_or(crate::store::DayStats {
                day,
                issued: 0,
                claimed: 0,
            })
        })
        .collect();
    html(StatusCode::OK, views::page("Statistics", Some(&nav(&ctx)), &views::stats(&days)))
}

async fn audit(p: Arc<Portal>, ctx: Ctx, _: NoQuery) -> Response {
    let events = match p.service.store().audit_events(200).await {
        Ok(e) => e,
        Err(e) => return internal("audit_events", &e),
    };
    html(StatusCode::OK, views::page("Audit log", Some(&nav(&ctx)), &views::audit(&events)))
}

async fn users_page(
    p: &Portal,
    ctx: &Ctx,
    status: StatusCode,
    created: Option<&views::NewCredentials<'_>>,
    error: Option<&str>,
) -> Response {
    let users = match p.service.store().users().await {
        Ok(u) => u,
        Err(e) => return internal("users", &e),
    };
    let page = views::users(&ctx.csrf, &users, p.service.now(), created, error);
    html(status, views::page("Users", Some(&nav(ctx)), &page))
}

async fn users(p: Arc<Portal>, ctx: Ctx, _: NoQuery) -> Response {
    users_page(&p, &ctx, StatusCode::OK, None, None).await
}

#[derive(Deserialize)]
struct UserFields {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
}

async fn user_add(p: Arc<Portal>, ctx: Ctx, f: UserFields) -> Response {
    let Some(role) = Role::parse(&f.role) else {
        return users_page(&p, &ctx, StatusCode::BAD_REQUEST, None, Some("Unknown role.")).await;
    };
    let name = f.name.trim();
    match create_user(&p.service, name, role, &ctx.user.name).await {
        Ok(c) => {
            let qr = qr(&c.otpauth_uri);
            let shown = views::NewCredentials {
                name,
                password: &c.password,
                secret: &c.totp_secret,
                uri: &c.otpauth_uri,
                qr: qr.as_deref(),
            };
            users_page(&p, &ctx, StatusCode::OK, Some(&shown), None).await
        }
        Err(UserError::Internal(e)) => internal("create_user", &e),
        Err(e) => users_page(&p, &ctx, StatusCode::BAD_REQUEST, None, Some(&e.to_string())).await,
    }
}

#[derive(Deserialize)]
struct NameForm {
    #[serde(default)]
    name: String,
}

async fn user_unlock(p: Arc<Portal>, ctx: Ctx, f: NameForm) -> Response {
    let changed = p.service.store().unlock_user(&f.name).await;
    user_changed(&p, &ctx, &f.name, "user.unlock", changed).await
}

/// The answer to a change of user `name`: audited as `action` and back to the list, or 404
/// when there is no such user.
async fn user_changed(
    p: &Portal,
    ctx: &Ctx,
    name: &str,
    action: &str,
    changed: Result<bool, impl std::fmt::Display>,
) -> Response {
    match changed {
        Ok(true) => {
            record(&p.service, &ctx.user.name, action, name).await;
            Redirect::to("/portal/users").into_response()
        }
        Ok(false) => users_page(p, ctx, StatusCode::NOT_FOUND, None, Some("No such user.")).await,
        Err(e) => internal(action, &e),
    }
}

async fn user_disable(p: Arc<Portal>, ctx: Ctx, f: NameForm) -> Response {
    if f.name == ctx.user.name {
        return users_page(
            &p,
            &ctx,
            StatusCode::BAD_REQUEST,
            None,
            Some("You cannot disable yourself."),
        )
        .await;
    }
    let changed = p.service.store().set_user_disabled(&f.name, true).await;
    user_changed(&p, &ctx, &f.name, "user.disable", changed).await
}

async fn api_keys_page(
    p: &Portal,
    ctx: &Ctx,
    status: StatusCode,
    created: Option<&str>,
    error: Option<&str>,
) -> Response {
    let keys = match p.service.store().list_api_keys().await {
        Ok(k) => k,
        Err(e) => return internal("list_api_keys", &e),
    };
    html(
        status,
        views::page(
            "API keys",
            Some(&nav(ctx)),
            &views::api_keys(&ctx.csrf, &keys, created, error),
        ),
    )
}

async fn api_keys(p: Arc<Portal>, ctx: Ctx, _: NoQuery) -> Response {
    api_keys_page(&p, &ctx, StatusCode::OK, None, None).await
}

#[derive(Deserialize)]
struct KeyFields {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
}

async fn api_key_add(p: Arc<Portal>, ctx: Ctx, f: KeyFields) -> Response {
    let name = f.name.trim();
    let (kind, prefix) = match ApiKeyKind::parse(&f.kind) {
        Some(ApiKeyKind::Admin) => (ApiKeyKind::Admin, "hva_"),
        Some(ApiKeyKind::Device) => (ApiKeyKind::Device, "hvd_"),
        None => {
            return api_keys_page(&p, &ctx, StatusCode::BAD_REQUEST, None, Some("Unknown kind."))
                .await;
        }
    };
    if !valid_name(name) {
        return api_keys_page(
            &p,
            &ctx,
            StatusCode::BAD_REQUEST,
            None,
            Some("Key names are 1 to 64 letters, digits or . _ @ -."),
        )
        .await;
    }
    let key = Zeroizing::new(format!("{prefix}{}", auth::random_hex(24).as_str()));
    match p.service.register_api_key(name, kind, &key).await {
        Ok(true) => {
            record(
                &p.service,
                &ctx.user.name,
                "apikey.add",
                &format!("{name} ({})", kind.as_str()),
            )
            .await;
            api_keys_page(&p, &ctx, StatusCode::OK, Some(&key), None).await
        }
        Ok(false) => {
            api_keys_page(
                &p,
                &ctx,
                StatusCode::BAD_REQUEST,
                None,
                Some("A key with this name exists."),
            )
            .await
        }
        Err(e) => internal("add_api_key", &e),
    }
}

async fn api_key_revoke(p: Arc<Portal>, ctx: Ctx, f: NameForm) -> Response {
    match p.service.store().revoke_api_key(&f.name).await {
        Ok(_) => {
            record(&p.service, &ctx.user.name, "apikey.revoke", &f.name).await;
            Redirect::to("/portal/api-keys").into_response()
        }
        Err(e) => internal("revoke_api_key", &e),
    }
}

/// The `kid`s of a JWKS document, comma-separated.
fn published_kids(jwks: &str) -> String {
    let parsed: serde_json::Value = serde_json::from_str(jwks).unwrap_or_default();
    let kids: Vec<&str> = parsed
        .get("keys")
        .and_then(serde_json::Value::as_array)
        .map(|keys| {
            keys.iter().filter_map(|k| k.get("kid").and_then(serde_json::Value::as_str)).collect()
        })
        .unwrap_or_default();
    kids.join(", ")
}

async fn settings_page(p: Arc<Portal>, ctx: Ctx, _: NoQuery) -> Response {
    let s = p.service.settings();
    let rows = [
        ("Allowed test types", p.test_types().join(", ")),
        (
            "Short code",
            format!("{} digits, {} minutes", s.codes.short_length, s.codes.short_minutes),
        ),
        (
            "Long code",
            format!("{} characters, {} minutes", s.codes.long_length, s.codes.long_minutes),
        ),
        ("A date is required", s.codes.require_date.to_string()),
        ("Oldest date (days)", s.codes.max_date_age_days.to_string()),
        ("Codes per user and hour", p.settings.codes_per_user_hour.to_string()),
        ("Codes per hour (all users)", p.settings.codes_per_hour.to_string()),
        ("Lockout after wrong logins", p.settings.lockout_after.to_string()),
        ("Session (minutes)", p.settings.session_minutes.to_string()),
        ("SMS link base", p.settings.link_base.clone()),
        ("Certificate signing keys (JWKS kid)", published_kids(&p.service.jwks())),
    ];
    html(StatusCode::OK, views::page("Settings", Some(&nav(&ctx)), &views::settings(&rows)))
}
