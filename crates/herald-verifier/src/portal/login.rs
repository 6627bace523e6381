//! Logging in and out and choosing a password: the login form's CSRF token bound to a pre-login
//! cookie, the per-name limit, argon2 and TOTP checks, lockout, and new sessions.

use std::sync::Arc;

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use herald_webkit::auth;
use herald_webkit::{NoFields, NoQuery, cookie, set_cookie};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::views::{self};
use super::{Ctx, LOGIN_COOKIE, Portal, SESSION_COOKIE, csrf_refused, html, internal, nav, record};
use crate::secret::Purpose;
use crate::store::UserRow;

pub(super) async fn login_form(State(p): State<Arc<Portal>>, headers: HeaderMap) -> Response {
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
pub(super) struct SecretField(String);

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
pub(super) struct LoginFields {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: SecretField,
    #[serde(default)]
    totp: SecretField,
}

pub(super) async fn login(
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

pub(super) async fn logout(p: Arc<Portal>, ctx: Ctx, _: NoFields) -> Response {
    let hash = ctx.hash(p.service.secrets());
    if let Err(e) = p.service.store().delete_session(&hash).await {
        return internal("delete_session", &e);
    }
    record(&p.service, &ctx.user.name, "logout", "").await;
    let mut response = Redirect::to("/portal/login").into_response();
    set_cookie(&mut response, SESSION_COOKIE, "", "/portal", 0);
    response
}

pub(super) async fn password_form(_: Arc<Portal>, ctx: Ctx, _: NoQuery) -> Response {
    html(
        StatusCode::OK,
        views::page("Choose a password", Some(&nav(&ctx)), &views::password(&ctx.csrf, None)),
    )
}

#[derive(Deserialize)]
pub(super) struct PasswordFields {
    #[serde(default)]
    new: SecretField,
    #[serde(default)]
    repeat: SecretField,
}

pub(super) async fn password_change(p: Arc<Portal>, ctx: Ctx, f: PasswordFields) -> Response {
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
pub(super) async fn start_session(p: &Portal, user: &UserRow, target: &str) -> Response {
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
