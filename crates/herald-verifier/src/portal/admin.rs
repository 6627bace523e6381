//! The administrator's pages: audit log, users, API keys and settings.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use herald_webkit::NoQuery;
use herald_webkit::auth;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::views::{self};
use herald_webkit::accounts::{audit_table, valid_name};

use super::{Ctx, Portal, UserError, create_user, html, internal, nav, qr, record};
use crate::store::{ApiKeyKind, Role};

pub(super) async fn audit(p: Arc<Portal>, ctx: Ctx, _: NoQuery) -> Response {
    let events = match p.service.store().audit_events(200).await {
        Ok(e) => e,
        Err(e) => return internal("audit_events", &e),
    };
    html(StatusCode::OK, views::page("Audit log", Some(&nav(&ctx)), &audit_table(&events)))
}

pub(super) async fn users_page(
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

pub(super) async fn users(p: Arc<Portal>, ctx: Ctx, _: NoQuery) -> Response {
    users_page(&p, &ctx, StatusCode::OK, None, None).await
}

#[derive(Deserialize)]
pub(super) struct UserFields {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
}

pub(super) async fn user_add(p: Arc<Portal>, ctx: Ctx, f: UserFields) -> Response {
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
pub(super) struct NameForm {
    #[serde(default)]
    name: String,
}

pub(super) async fn user_unlock(p: Arc<Portal>, ctx: Ctx, f: NameForm) -> Response {
    let changed = p.service.store().unlock_user(&f.name).await;
    if matches!(changed, Ok(true)) {
        // The user may log in right away: the name's attempts in memory are forgotten too.
        p.limiter.forget(p.service.secrets(), &f.name);
    }
    user_changed(&p, &ctx, &f.name, "user.unlock", changed).await
}

/// The answer to a change of user `name`: audited as `action` and back to the list, or 404
/// when there is no such user.
pub(super) async fn user_changed(
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

pub(super) async fn user_disable(p: Arc<Portal>, ctx: Ctx, f: NameForm) -> Response {
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

pub(super) async fn api_keys_page(
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

pub(super) async fn api_keys(p: Arc<Portal>, ctx: Ctx, _: NoQuery) -> Response {
    api_keys_page(&p, &ctx, StatusCode::OK, None, None).await
}

#[derive(Deserialize)]
pub(super) struct KeyFields {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
}

impl KeyFields {
    /// The new key's kind, the prefix of its secret and its name; else what to tell the user.
    fn checked(&self) -> Result<(ApiKeyKind, &'static str, &str), &'static str> {
        let name = self.name.trim();
        let (kind, prefix) = match ApiKeyKind::parse(&self.kind) {
            Some(ApiKeyKind::Admin) => (ApiKeyKind::Admin, "hva_"),
            Some(ApiKeyKind::Device) => (ApiKeyKind::Device, "hvd_"),
            None => return Err("Unknown kind."),
        };
        if !valid_name(name) {
            return Err("Key names are 1 to 64 letters, digits or . _ @ -.");
        }
        Ok((kind, prefix, name))
    }
}

pub(super) async fn api_key_add(p: Arc<Portal>, ctx: Ctx, f: KeyFields) -> Response {
    let (kind, prefix, name) = match f.checked() {
        Ok(checked) => checked,
        Err(problem) => {
            return api_keys_page(&p, &ctx, StatusCode::BAD_REQUEST, None, Some(problem)).await;
        }
    };
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

pub(super) async fn api_key_revoke(p: Arc<Portal>, ctx: Ctx, f: NameForm) -> Response {
    match p.service.store().revoke_api_key(&f.name).await {
        Ok(_) => {
            record(&p.service, &ctx.user.name, "apikey.revoke", &f.name).await;
            Redirect::to("/portal/api-keys").into_response()
        }
        Err(e) => internal("revoke_api_key", &e),
    }
}

/// The `kid`s of a JWKS document, comma-separated.
pub(super) fn published_kids(jwks: &str) -> String {
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

pub(super) async fn settings_page(p: Arc<Portal>, ctx: Ctx, _: NoQuery) -> Response {
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
        (
            "Login attempts per user name (15 minutes)",
            p.settings.login_attempts_per_15_minutes.to_string(),
        ),
        (
            "Failed logins per client address (15 minutes)",
            p.settings.client_login_failures_per_15_minutes.to_string(),
        ),
        (
            "Client address header (behind a proxy)",
            p.client_header.as_ref().map_or("none (the TCP peer)", |h| h.as_str()).to_owned(),
        ),
        ("Session (minutes)", p.settings.session_minutes.to_string()),
        ("SMS link base", p.settings.link_base.clone()),
        ("Certificate signing keys (JWKS kid)", published_kids(&p.service.jwks())),
    ];
    html(StatusCode::OK, views::page("Settings", Some(&nav(&ctx)), &views::settings(&rows)))
}

/// The administrator's forms on a fuzz input, read as a logged-in administrator's forms are
/// read, then checked as their handlers check them before any storage work.
pub(super) fn fuzz_forms(data: &[u8]) {
    use herald_webkit::fuzzing::form_of_a_user as form;
    if let Ok(f) = form::<UserFields>(data) {
        let _ = Role::parse(&f.role);
        let _ = valid_name(f.name.trim());
    }
    if let Ok(f) = form::<KeyFields>(data)
        && let Ok((_, prefix, name)) = f.checked()
    {
        assert!(valid_name(name) && prefix.len() == 4, "a key name the check let through");
    }
    let _ = form::<NameForm>(data);
}
