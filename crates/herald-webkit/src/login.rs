//! Logging in and out and choosing a password, for every portal with [`Accounts`]:
//! - the login form's CSRF token is bound to a pre-login cookie;
//! - before any argon2 work: each client address gets
//!   [`LoginPolicy::client_attempts_per_15_minutes`] attempts that did not succeed per 15
//!   minutes, each user name [`LoginPolicy::attempts_per_15_minutes`] attempts, and a login
//!   that finds every argon2 slot and queue place taken is answered 429 at once (each with
//!   `Retry-After`);
//! - argon2id (on blocking threads) and an RFC 6238 code, each code accepted once;
//! - unknown, disabled and locked users cost the same work and get the same answer as a wrong
//!   password or code (a lock shows in the audit log and to administrators, never on the login
//!   page);
//! - [`LoginPolicy::lockout_after`] failures in a row lock the account until an administrator
//!   unlocks it;
//! - a session id is 256 random bits in a `Secure; HttpOnly; SameSite=Strict` cookie, stored
//!   only as its keyed hash;
//! - a password change is confirmed with the current password and a TOTP code not used before
//!   (only the current password for the forced change of a one-time password, right after a
//!   login with a code), and ends every other session.
//!
//! [`routes`] adds the login page (public), logging out and the password page (with their
//! session and CSRF checks, through [`Pages`]).
//!
//! [`LoginPolicy::attempts_per_15_minutes`]: crate::LoginPolicy::attempts_per_15_minutes
//! [`LoginPolicy::lockout_after`]: crate::LoginPolicy::lockout_after
//! [`LoginPolicy::client_attempts_per_15_minutes`]:
//!     crate::LoginPolicy::client_attempts_per_15_minutes

use std::sync::Arc;

use axum::Form;
use axum::extract::State;
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Redirect, Response};
use axum::routing::get;
use maud::{Markup, html};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::accounts::{Account as _, Accounts, AuditEvent, SecretField, Trip};
use crate::layout::{html_response, message, refusal_text};
use crate::session::{Access, PortalUser as _, Refusal, Session, cookie, set_cookie};
use crate::{LoginLimiter, NoFields, NoQuery, Pages, Purpose, auth};

/// Adds the login page (`P::LOGIN_PATH`, GET and POST), logging out (`P::LOGOUT_PATH`) and the
/// password page (`P::PASSWORD_PATH`, GET and POST).
pub fn routes<P: Accounts>(pages: Pages<P>) -> Pages<P> {
    pages
        .public(P::LOGIN_PATH, get(login_form::<P>).post(login::<P>))
        .form(P::LOGOUT_PATH, Access::PasswordChange, logout::<P>)
        .page(P::PASSWORD_PATH, Access::PasswordChange, password_form::<P>)
        .form(P::PASSWORD_PATH, Access::PasswordChange, password_change::<P>)
}

/// The login form.
pub fn login_view(action: &str, csrf: &str, name: &str, error: Option<&str>) -> Markup {
    html! {
        @if let Some(e) = error { (message("error", e)) }
        form.card method="post" action=(action) {
            input type="hidden" name="csrf" value=(csrf);
            label { "User name" input #name type="text" name="name" value=(name) autocomplete="username" required; }
            label { "Password" input #password type="password" name="password" autocomplete="current-password" required; }
            label { "Authenticator code" input #totp type="text" name="totp" inputmode="numeric" pattern="[0-9]{6}" autocomplete="one-time-code" required; }
            button #login type="submit" { "Log in" }
        }
    }
}

/// The password change form: confirmed with the current password, and with a new TOTP code
/// unless it is the `forced` change of a one-time password (right after a login with a code).
pub fn password_view(action: &str, csrf: &str, forced: bool, error: Option<&str>) -> Markup {
    html! {
        @if forced {
            p { "Your password was a one-time password. Choose your own (at least "
                (auth::MIN_PASSWORD) " characters)." }
        } @else {
            p { "Choose a new password (at least " (auth::MIN_PASSWORD) " characters). Confirm \
                 the change with your current password and a new code of your authenticator \
                 app (each code is accepted once)." }
        }
        @if let Some(e) = error { (message("error", e)) }
        form.card method="post" action=(action) {
            input type="hidden" name="csrf" value=(csrf);
            @if forced {
                label { "One-time password" input #current type="password" name="current" autocomplete="current-password" required; }
            } @else {
                label { "Current password" input #current type="password" name="current" autocomplete="current-password" required; }
                label { "Authenticator code" input #totp type="text" name="totp" inputmode="numeric" pattern="[0-9]{6}" autocomplete="one-time-code" required; }
            }
            label { "New password" input #new type="password" name="new" autocomplete="new-password" required; }
            label { "Repeat it" input #repeat type="password" name="repeat" autocomplete="new-password" required; }
            button #save type="submit" { "Save password" }
        }
    }
}

/// The answer of a refusal or failure before or without a session, in the portal's layout.
pub fn refused<P: Accounts>(
    portal: &P,
    refusal: Refusal,
    session: Option<&Session<P::User>>,
) -> Response {
    let (title, text) = refusal_text(refusal);
    html_response(refusal.status(), portal.page(title, session, &message("error", text)))
}

/// Logs a storage failure and answers 500.
pub fn internal<P: Accounts>(portal: &P, what: &str, error: &dyn std::fmt::Display) -> Response {
    tracing::error!(operation = what, %error, "portal internal error");
    refused(portal, Refusal::Internal, None)
}

async fn login_form<P: Accounts>(State(p): State<Arc<P>>, headers: HeaderMap) -> Response {
    let (value, fresh) = match cookie(&headers, P::LOGIN_COOKIE) {
        Some(v) => (Zeroizing::new(v), false),
        None => (auth::random_hex(32), true),
    };
    let csrf = auth::csrf_token(p.keyring(), &format!("login:{}", value.as_str()));
    let form = login_view(P::LOGIN_PATH, &csrf, "", None);
    let mut response = html_response(StatusCode::OK, p.page("Log in", None, &form));
    if fresh {
        set_cookie(&mut response, P::LOGIN_COOKIE, &value, P::COOKIE_PATH, 3600);
    }
    response
}

#[derive(Deserialize)]
pub(crate) struct LoginFields {
    #[serde(default)]
    pub(crate) csrf: String,
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    password: SecretField,
    #[serde(default)]
    pub(crate) totp: SecretField,
}

/// The one answer of every refused login: unknown, disabled or locked user, wrong password or
/// code (the audit log and the users page tell administrators which).
const WRONG: &str = "Wrong user name, password or authenticator code. After repeated failures \
     an account is locked until an administrator unlocks it.";
/// How long a login refused for lack of an argon2 slot should wait, in seconds.
const BUSY_RETRY_SECONDS: i64 = 2;

/// `response` with `Retry-After: seconds`.
fn retry_after(mut response: Response, seconds: i64) -> Response {
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    response
}

async fn login<P: Accounts>(
    State(p): State<Arc<P>>,
    extensions: Extensions,
    headers: HeaderMap,
    Form(f): Form<LoginFields>,
) -> Response {
    let Some(login_cookie) = cookie(&headers, P::LOGIN_COOKIE) else {
        return refused(p.as_ref(), Refusal::Csrf, None);
    };
    let bound = format!("login:{login_cookie}");
    if !auth::csrf_ok(p.keyring(), &bound, &f.csrf) {
        return refused(p.as_ref(), Refusal::Csrf, None);
    }
    let csrf = auth::csrf_token(p.keyring(), &bound);
    let name = f.name.trim().to_owned();
    let again = |status: StatusCode, text: &str| {
        let form = login_view(P::LOGIN_PATH, &csrf, &name, Some(text));
        html_response(status, p.page("Log in", None, &form))
    };
    let now = p.now();
    let policy = p.policy();
    // The throttles come before any argon2 work: per client, per user name, then a place in
    // the bounded argon2 queue.
    let client = p.client(&headers, &extensions);
    if let Err(wait) = p.clients().attempt(client, now, policy.client_attempts_per_15_minutes) {
        p.trip(Trip::LoginClient);
        // The address is not logged.
        tracing::warn!("portal login refused: too many failed attempts from one client");
        let text = "Too many failed login attempts from your network; try again later.";
        return retry_after(again(StatusCode::TOO_MANY_REQUESTS, text), wait.retry_after);
    }
    let key = LoginLimiter::key(p.keyring(), &name);
    if let Err(wait) = p.limiter().attempt(key, now, policy.attempts_per_15_minutes) {
        p.trip(Trip::LoginRate);
        tracing::warn!("portal login refused: too many attempts for one user name");
        let text = "Too many login attempts for this user name; wait 15 minutes.";
        return retry_after(again(StatusCode::TOO_MANY_REQUESTS, text), wait.retry_after);
    }
    let Ok(admission) = p.passwords().admit() else {
        p.trip(Trip::LoginBusy);
        tracing::warn!("portal login refused: every password hashing slot is taken");
        let text = "The portal is busy; try again in a few seconds.";
        return retry_after(again(StatusCode::TOO_MANY_REQUESTS, text), BUSY_RETRY_SECONDS);
    };
    let user = match p.user(&name).await {
        Ok(u) => u,
        Err(e) => return internal(p.as_ref(), "user", &e),
    };
    let Some(user) = user else {
        // The same work as for a real user; the typed name is not logged (it may be a password).
        admission.matches_nobody(&f.password).await;
        tracing::info!("portal login failed: unknown user");
        return again(StatusCode::UNAUTHORIZED, WRONG);
    };
    if user.disabled() {
        admission.matches_nobody(&f.password).await;
        return again(StatusCode::UNAUTHORIZED, WRONG);
    }
    if user.locked(now) {
        // The same work and answer as a wrong password: the login page does not tell that the
        // account exists or is locked (the audit log and the users page do).
        let _ = admission.matches(&f.password, user.password_hash()).await;
        p.record(AuditEvent::new(now, user.name(), "login.failed", "locked")).await;
        tracing::info!(user = %user.name(), "portal login refused: account locked");
        return again(StatusCode::UNAUTHORIZED, WRONG);
    }
    let password_ok = admission.matches(&f.password, user.password_hash()).await;
    drop(admission);
    let step = if password_ok {
        auth::open(p.keyring(), user.name(), user.sealed_totp_secret())
            .and_then(|secret| auth::totp_step(&secret, &f.totp, now))
    } else {
        None
    };
    let accepted = match step {
        Some(step) => match p.login_succeeded(&user, step).await {
            Ok(fresh) => fresh,
            Err(e) => return internal(p.as_ref(), "login", &e),
        },
        None => false,
    };
    if !accepted {
        let why = if password_ok { "code" } else { "password" };
        if let Err(answer) = failed(p.as_ref(), &user, "login.failed", why).await {
            return answer;
        }
        return again(StatusCode::UNAUTHORIZED, WRONG);
    }
    p.clients().succeeded(client, now);
    p.record(AuditEvent::new(now, user.name(), "login", "")).await;
    tracing::info!(user = %user.name(), "portal login");
    let target = if user.must_change_password() { P::PASSWORD_PATH } else { P::HOME_PATH };
    start_session(p.as_ref(), &user, target).await
}

/// Counts a failed proof of `user`'s password or code (audited as `action`, `why`); whether
/// the account is locked now, or the answer of a storage failure.
async fn failed<P: Accounts>(
    p: &P,
    user: &P::User,
    action: &str,
    why: &str,
) -> Result<bool, Response> {
    let now = p.now();
    let after = match p.login_failed(user, p.policy().lockout_after).await {
        Ok(a) => a,
        Err(e) => return Err(internal(p, "login_failed", &e)),
    };
    p.record(AuditEvent::new(now, user.name(), action, why)).await;
    tracing::info!(user = %user.name(), action, "portal: wrong password or code");
    let locked = after.is_some_and(|u| u.locked(now));
    if locked {
        p.record(AuditEvent::new(now, user.name(), "user.locked", user.name())).await;
        p.trip(Trip::AccountLocked);
        tracing::warn!(user = %user.name(), "portal account locked after failed logins");
    }
    Ok(locked)
}

async fn logout<P: Accounts>(p: Arc<P>, session: Session<P::User>, _: NoFields) -> Response {
    let response = end_session(p.as_ref(), &session).await;
    if response.status().is_redirection() {
        p.record(AuditEvent::new(p.now(), session.user.name(), "logout", "")).await;
    }
    response
}

async fn password_form<P: Accounts>(p: Arc<P>, session: Session<P::User>, _: NoQuery) -> Response {
    let forced = session.user.must_change_password();
    let form = password_view(P::PASSWORD_PATH, &session.csrf, forced, None);
    html_response(StatusCode::OK, p.page("Choose a password", Some(&session), &form))
}

#[derive(Deserialize)]
pub(crate) struct PasswordFields {
    #[serde(default)]
    current: SecretField,
    #[serde(default)]
    totp: SecretField,
    #[serde(default)]
    new: SecretField,
    #[serde(default)]
    repeat: SecretField,
}

/// What is wrong with a password change's fields before any argon2 work, if anything (`forced`:
/// the change of a one-time password, which needs no code).
pub(crate) fn password_problem(f: &PasswordFields, forced: bool) -> Option<String> {
    if f.current.is_empty() || (!forced && f.totp.trim().is_empty()) {
        Some(if forced {
            "Enter your one-time password.".to_owned()
        } else {
            "Enter your current password and a code of your authenticator app.".to_owned()
        })
    } else if f.new.chars().count() < auth::MIN_PASSWORD {
        Some(format!("The password must have at least {} characters.", auth::MIN_PASSWORD))
    } else if f.new.len() > 256 {
        Some("The password must have at most 256 bytes.".to_owned())
    } else if *f.new != *f.repeat {
        Some("The two passwords differ.".to_owned())
    } else if *f.new == *f.current {
        Some("Choose a password different from the current one.".to_owned())
    } else {
        None
    }
}

/// A password change, confirmed with the current password and (unless it is the forced change
/// of a one-time password, right after a login with a code) a TOTP code not used before: a
/// session cookie alone cannot choose a user's password. A wrong confirmation counts as a
/// failed login (and can lock the account, which ends this session).
async fn password_change<P: Accounts>(
    p: Arc<P>,
    session: Session<P::User>,
    f: PasswordFields,
) -> Response {
    let user = &session.user;
    let forced = user.must_change_password();
    let again = |status: StatusCode, problem: &str| {
        let form = password_view(P::PASSWORD_PATH, &session.csrf, forced, Some(problem));
        html_response(status, p.page("Choose a password", Some(&session), &form))
    };
    if let Some(problem) = password_problem(&f, forced) {
        return again(StatusCode::BAD_REQUEST, &problem);
    }
    let now = p.now();
    let key = LoginLimiter::key(p.keyring(), user.name());
    if let Err(wait) = p.limiter().attempt(key, now, p.policy().attempts_per_15_minutes) {
        p.trip(Trip::LoginRate);
        tracing::warn!(user = %user.name(), "portal password change refused: too many attempts");
        let text = "Too many attempts for this user name; wait 15 minutes.";
        return retry_after(again(StatusCode::TOO_MANY_REQUESTS, text), wait.retry_after);
    }
    let Ok(admission) = p.passwords().admit() else {
        p.trip(Trip::LoginBusy);
        tracing::warn!("portal password change refused: every password hashing slot is taken");
        let text = "The portal is busy; try again in a few seconds.";
        return retry_after(again(StatusCode::TOO_MANY_REQUESTS, text), BUSY_RETRY_SECONDS);
    };
    let password_ok = admission.matches(&f.current, user.password_hash()).await;
    let proven = if !password_ok {
        false
    } else if forced {
        true
    } else {
        let step = auth::open(p.keyring(), user.name(), user.sealed_totp_secret())
            .and_then(|secret| auth::totp_step(&secret, &f.totp, now));
        match step {
            Some(step) => match p.login_succeeded(user, step).await {
                Ok(fresh) => fresh,
                Err(e) => return internal(p.as_ref(), "login", &e),
            },
            None => false,
        }
    };
    if !proven {
        drop(admission);
        let why = if password_ok { "code" } else { "password" };
        match failed(p.as_ref(), user, "password.failed", why).await {
            Err(answer) => return answer,
            Ok(true) => return end_session(p.as_ref(), &session).await,
            Ok(false) => {}
        }
        let text = if forced {
            "Wrong one-time password."
        } else {
            "Wrong current password or authenticator code."
        };
        return again(StatusCode::BAD_REQUEST, text);
    }
    let hash = match admission.hash(&f.new).await {
        Ok(h) => h,
        Err(e) => return internal(p.as_ref(), "hash_password", &e),
    };
    drop(admission);
    if let Err(e) = p.set_password(user, hash).await {
        return internal(p.as_ref(), "set_password", &e);
    }
    let name = user.name();
    p.record(AuditEvent::new(p.now(), name, "user.password", name)).await;
    // Every session of the user ended with the old password; this one continues in a new one.
    start_session(p.as_ref(), user, P::HOME_PATH).await
}

/// Ends `session` (its cookie removed) and sends the browser to the login page.
async fn end_session<P: Accounts>(p: &P, session: &Session<P::User>) -> Response {
    if let Err(e) = p.delete_session(session.hash(p.keyring())).await {
        return internal(p, "delete_session", &e);
    }
    let mut response = Redirect::to(P::LOGIN_PATH).into_response();
    set_cookie(&mut response, P::SESSION_COOKIE, "", P::COOKIE_PATH, 0);
    response
}

/// A new session for `user`: stored (hashed), its cookie set, the pre-login cookie removed, and
/// a redirect to `target`.
pub async fn start_session<P: Accounts>(p: &P, user: &P::User, target: &str) -> Response {
    let sid = auth::random_hex(32);
    let hash = p.keyring().mac(Purpose::Session, sid.as_bytes());
    let lifetime = p.policy().session_minutes * 60;
    if let Err(e) = p.add_session(hash, user, p.now() + lifetime).await {
        return internal(p, "add_session", &e);
    }
    let mut response = Redirect::to(target).into_response();
    set_cookie(&mut response, P::SESSION_COOKIE, &sid, P::COOKIE_PATH, lifetime);
    set_cookie(&mut response, P::LOGIN_COOKIE, "", P::COOKIE_PATH, 0);
    response
}
