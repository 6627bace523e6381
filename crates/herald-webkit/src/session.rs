//! Sessions: the cookie, the service's lookup, the access check, and the answers when one fails.

use std::future::Future;
use std::pin::Pin;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use crate::{Keyring, Purpose, auth};

/// A boxed future, for the [`Portal`] trait's methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A portal user as the kit needs to know it.
pub trait PortalUser: Clone + Send + Sync + 'static {
    /// The user name (logged and audited; never a secret).
    fn name(&self) -> &str;
    /// Whether the user administers the portal.
    fn is_admin(&self) -> bool;
    /// Whether the user still has to replace a one-time password.
    fn must_change_password(&self) -> bool;
}

/// Why a page was refused; the service renders it in its layout ([`Portal::refusal`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The user's role does not allow the page (403).
    Forbidden,
    /// The form's CSRF token is missing or wrong (403).
    Csrf,
    /// The form's fields could not be read (400).
    BadForm,
    /// Storage failed (500).
    Internal,
}

impl Refusal {
    /// The status of the answer.
    pub fn status(self) -> StatusCode {
        match self {
            Self::Forbidden | Self::Csrf => StatusCode::FORBIDDEN,
            Self::BadForm => StatusCode::BAD_REQUEST,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// What a service provides to run a portal on the kit.
pub trait Portal: Send + Sync + 'static {
    /// Its users.
    type User: PortalUser;

    /// The cookie holding the session id.
    const SESSION_COOKIE: &'static str;
    /// Where a request without a session is sent.
    const LOGIN_PATH: &'static str;
    /// Where a user who must replace a one-time password is sent.
    const PASSWORD_PATH: &'static str;

    /// The server secrets keying session hashes and CSRF tokens.
    fn keyring(&self) -> &dyn Keyring;

    /// The user of the session whose id hashes to `session_hash`, if it exists and has not
    /// expired; `Err` says what failed in storage.
    fn session_user(
        &self,
        session_hash: [u8; 32],
    ) -> BoxFuture<'_, Result<Option<Self::User>, String>>;

    /// The answer for a refusal, in the service's page layout (`session` when there is one).
    fn refusal(&self, refusal: Refusal, session: Option<&Session<Self::User>>) -> Response;
}

/// Who may open a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Any user with a session who has replaced the one-time password.
    Member,
    /// Administrators only (others get 403).
    Admin,
    /// Any user with a session, also before the one-time password is replaced (the password
    /// page, logging out).
    PasswordChange,
}

/// A checked session: its user, and the CSRF token of its forms. Only the kit makes one.
#[derive(Debug, Clone)]
pub struct Session<U> {
    /// The user.
    pub user: U,
    /// The CSRF token every form of the page must carry (field `csrf`).
    pub csrf: String,
    id: String,
}

impl<U> Session<U> {
    /// The keyed hash of the session id (what the store keeps), e.g. to end the session.
    pub fn hash(&self, keys: &dyn Keyring) -> [u8; 32] {
        keys.mac(Purpose::Session, self.id.as_bytes())
    }

    /// Whether `token` is this session's CSRF token (constant time, any server secret).
    pub fn csrf_ok(&self, keys: &dyn Keyring, token: &str) -> bool {
        auth::csrf_ok(keys, &self.id, token)
    }
}

/// The session of a request, checked for `access`; otherwise the answer to give: a redirect to
/// the login page without a session, to the password page while the one-time password is not
/// replaced, the service's 403 page without the role.
pub(crate) async fn authorize<P: Portal>(
    portal: &P,
    headers: &HeaderMap,
    access: Access,
) -> Result<Session<P::User>, Response> {
    let Some(id) = cookie(headers, P::SESSION_COOKIE) else {
        return Err(Redirect::to(P::LOGIN_PATH).into_response());
    };
    let hash = portal.keyring().mac(Purpose::Session, id.as_bytes());
    let user = match portal.session_user(hash).await {
        Ok(Some(user)) => user,
        Ok(None) => return Err(Redirect::to(P::LOGIN_PATH).into_response()),
        Err(error) => {
            tracing::error!(%error, "portal session lookup failed");
            return Err(portal.refusal(Refusal::Internal, None));
        }
    };
    let csrf = auth::csrf_token(portal.keyring(), &id);
    let session = Session { user, csrf, id };
    if session.user.must_change_password() && access != Access::PasswordChange {
        return Err(Redirect::to(P::PASSWORD_PATH).into_response());
    }
    if access == Access::Admin && !session.user.is_admin() {
        return Err(portal.refusal(Refusal::Forbidden, Some(&session)));
    }
    Ok(session)
}

/// A cookie's value, if it is 64 hex digits (every cookie of the kit is).
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Adds a `Set-Cookie` for the portal's paths: `Secure; HttpOnly; SameSite=Strict`, for
/// `max_age` seconds (0 removes it).
pub fn set_cookie(response: &mut Response, name: &str, value: &str, path: &str, max_age: i64) {
    let text = format!(
        "{name}={value}; Secure; HttpOnly; SameSite=Strict; Path={path}; Max-Age={max_age}"
    );
    if let Ok(v) = HeaderValue::from_str(&text) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}
