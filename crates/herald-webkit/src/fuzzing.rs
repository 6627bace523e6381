//! Entry points for `fuzz/` (hidden): what a portal runs on a form body, a query string or a
//! cookie header before any storage or argon2 work, under a fixed keyring and session (the
//! CSRF tokens of the seeds in `fuzz/corpus/portal_form` are bound to them).

use aws_lc_rs::hmac;
use axum::http::{HeaderMap, HeaderValue, header};
use serde::de::DeserializeOwned;

use crate::login::{LoginFields, PasswordFields, password_problem};
use crate::pages::{checked_form, page_query};
use crate::{Keyring, LoginLimiter, NoFields, NoQuery, Purpose, Refusal, auth, cookie};

/// The session id whose CSRF token [`form`] accepts.
pub const SESSION_ID: &str = "5e55105e55105e55105e55105e55105e55105e55105e55105e55105e55105e55";
/// The pre-login cookie whose CSRF token the login form accepts.
pub const LOGIN_COOKIE: &str = "10910910910910910910910910910910910910910910910910910910910910a0";
/// The cookie names [`fuzz_portal_form`] looks for in a `Cookie` header.
const COOKIE_NAMES: [&str; 2] = ["herald_portal", "herald_portal_login"];
/// The time of the TOTP check (a fixed instant; the code is what varies).
const NOW: i64 = 1_765_000_000;

/// A keyring of one fixed key.
#[derive(Debug, Clone, Copy, Default)]
pub struct FixedKeyring;

impl Keyring for FixedKeyring {
    fn macs(&self, purpose: Purpose, data: &[u8]) -> Vec<[u8; 32]> {
        vec![self.mac(purpose, data)]
    }

    fn mac(&self, purpose: Purpose, data: &[u8]) -> [u8; 32] {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &[0x42; 32]);
        let mut context = hmac::Context::with_key(&key);
        context.update(format!("{purpose:?}").as_bytes());
        context.update(data);
        <[u8; 32]>::try_from(context.sign().as_ref()).unwrap_or_default()
    }
}

/// The CSRF token of the fuzzing session, as a page form carries it.
pub fn session_csrf() -> String {
    auth::csrf_token(&FixedKeyring, SESSION_ID)
}

/// The CSRF token of the fuzzing login cookie, as the login form carries it.
pub fn login_csrf() -> String {
    auth::csrf_token(&FixedKeyring, &format!("login:{LOGIN_COOKIE}"))
}

/// A page form's fields (`F`), read as `Pages::form` reads them for the fuzzing session.
pub fn form<F: DeserializeOwned>(body: &[u8]) -> Result<F, Refusal> {
    checked_form(body, |token| auth::csrf_ok(&FixedKeyring, SESSION_ID, token))
}

/// A page form's fields (`F`) as a logged-in user with a valid token may send them: [`form`]
/// with any CSRF token accepted, so that fuzzing reaches the fields.
pub fn form_of_a_user<F: DeserializeOwned>(body: &[u8]) -> Result<F, Refusal> {
    checked_form(body, |_| true)
}

/// A page's query (`Q`) as `Pages::page` reads it; bytes that are not UTF-8 never reach it
/// (a URI's query is text).
pub fn query<Q: DeserializeOwned>(bytes: &[u8]) -> Result<Q, Refusal> {
    let text = std::str::from_utf8(bytes).map_err(|_| Refusal::BadForm)?;
    page_query(Some(text))
}

/// The web kit's own forms on `data`: the login form (decoded as axum's `Form` does, then its
/// CSRF, rate-limit key and TOTP checks), the password form and logging out (as page forms,
/// then the password rules), a page without a query, and `data` as a `Cookie` header.
pub fn fuzz_portal_form(data: &[u8]) {
    if let Ok(f) = serde_urlencoded::from_bytes::<LoginFields>(data) {
        let bound = format!("login:{LOGIN_COOKIE}");
        let csrf_ok = auth::csrf_ok(&FixedKeyring, &bound, &f.csrf);
        assert_eq!(csrf_ok, f.csrf == login_csrf(), "CSRF check disagrees with the token");
        let key = LoginLimiter::key(&FixedKeyring, f.name.trim());
        let _ = LoginLimiter::default().attempt(key, NOW, 10);
        let _ = auth::totp_step(b"12345678901234567890", &f.totp, NOW);
    }
    let fields = [form::<PasswordFields>(data), form_of_a_user::<PasswordFields>(data)];
    for f in fields.into_iter().flatten() {
        for forced in [false, true] {
            let _ = password_problem(&f, forced);
        }
    }
    let checked = form::<NoFields>(data);
    let past_csrf = form_of_a_user::<NoFields>(data);
    // A form the session's token opens is one a user's form opens too.
    assert!(checked.is_err() || past_csrf.is_ok(), "CSRF check changed the fields");
    let _ = query::<NoQuery>(data);
    if let Ok(value) = HeaderValue::from_bytes(data) {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, value);
        for name in COOKIE_NAMES {
            if let Some(found) = cookie(&headers, name) {
                assert_eq!(found.len(), 64, "a cookie value is 64 hex digits");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_pass_the_csrf_check() {
        let body = format!("csrf={}&current=a&totp=123456&new=b&repeat=b", session_csrf());
        assert!(form::<PasswordFields>(body.as_bytes()).is_ok());
        assert_eq!(form::<PasswordFields>(b"csrf=00&new=b").err(), Some(Refusal::Csrf));
        assert_eq!(form::<NoFields>(b"%").err(), Some(Refusal::Csrf));
        let login = format!("csrf={}&name=alice&password=x&totp=123456", login_csrf());
        fuzz_portal_form(login.as_bytes());
        fuzz_portal_form(format!("herald_portal={SESSION_ID}").as_bytes());
    }
}
