//! [`Pages`]: the portal's routes, each added with the check it needs.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{MethodRouter, get, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::session::{Access, Portal, Refusal, Session, authorize};

/// The query of a page that takes none (any query string is ignored).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct NoQuery {}

/// The fields of a form that has only its `csrf` field (logging out).
pub type NoFields = NoQuery;

/// The `csrf` field every form carries.
#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// The handler of a page or form: an async function of the portal, the checked session and
/// what the request carries (`T`: a page's query, a form's fields). Every
/// `async fn(Arc<P>, Session<P::User>, T) -> Response` is one, and so is such a closure.
pub trait PageHandler<P: Portal, T>: Clone + Send + Sync + 'static {
    /// The handler's answer, still running.
    type Future: Future<Output = Response> + Send + 'static;

    /// Runs the handler.
    fn call(&self, portal: Arc<P>, session: Session<P::User>, input: T) -> Self::Future;
}

impl<P, T, H, Fut> PageHandler<P, T> for H
where
    P: Portal,
    H: Fn(Arc<P>, Session<P::User>, T) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    type Future = Fut;

    fn call(&self, portal: Arc<P>, session: Session<P::User>, input: T) -> Fut {
        self(portal, session, input)
    }
}

/// A portal's routes. Pages and forms are added only with their session and CSRF checks; the
/// routes before a session are added with [`Pages::public`].
pub struct Pages<P: Portal> {
    router: Router<Arc<P>>,
}

impl<P: Portal> Default for Pages<P> {
    fn default() -> Self {
        Self { router: Router::new() }
    }
}

impl<P: Portal> Pages<P> {
    /// No routes yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// `GET path`: the handler gets the portal, the checked session and the query (`Q`;
    /// [`NoQuery`] for none). A query that does not fit is refused with the service's 400 page.
    #[must_use]
    pub fn page<Q, H>(self, path: &str, access: Access, handler: H) -> Self
    where
        Q: DeserializeOwned + Send + 'static,
        H: PageHandler<P, Q>,
    {
        let route = get(
            move |State(portal): State<Arc<P>>, headers: HeaderMap, RawQuery(query): RawQuery| {
                serve(portal, headers, access, handler.clone(), move |_, _| {
                    page_query(query.as_deref())
                })
            },
        );
        self.add(path, route)
    }

    /// `POST path` of a form: the handler gets the portal, the checked session and the form's
    /// fields (`F`), only after the form's `csrf` field matched the session (else the service's
    /// 403 page, before anything is read or written). Fields that do not fit are refused with
    /// its 400 page.
    #[must_use]
    pub fn form<F, H>(self, path: &str, access: Access, handler: H) -> Self
    where
        F: DeserializeOwned + Send + 'static,
        H: PageHandler<P, F>,
    {
        let route = post(move |State(portal): State<Arc<P>>, headers: HeaderMap, body: Bytes| {
            serve(portal, headers, access, handler.clone(), move |portal, session| {
                form_fields(portal, session, &body)
            })
        });
        self.add(path, route)
    }

    /// A route that comes before any session: the login form and its POST (which checks a CSRF
    /// token bound to a pre-login cookie itself), the stylesheet, redirects. Every use is a
    /// place a reviewer looks at.
    #[must_use]
    pub fn public(self, path: &str, route: MethodRouter<Arc<P>>) -> Self {
        self.add(path, route)
    }

    fn add(self, path: &str, route: MethodRouter<Arc<P>>) -> Self {
        Self { router: self.router.route(path, route) }
    }

    /// The routes, with the portal as their state.
    pub fn into_router(self, portal: Arc<P>) -> Router {
        self.router.with_state(portal)
    }
}

/// Answers a page or form request: checks the session for `access` (else the redirect or
/// refusal [`authorize`] gives), reads the handler's input with `read` (else the service's page
/// for the [`Refusal`] it returns), then runs the handler.
async fn serve<P, T, H>(
    portal: Arc<P>,
    headers: HeaderMap,
    access: Access,
    handler: H,
    read: impl FnOnce(&P, &Session<P::User>) -> Result<T, Refusal>,
) -> Response
where
    P: Portal,
    H: PageHandler<P, T>,
{
    let session = match authorize(portal.as_ref(), &headers, access).await {
        Ok(session) => session,
        Err(answer) => return answer,
    };
    let input = match read(portal.as_ref(), &session) {
        Ok(input) => input,
        Err(refusal) => return portal.refusal(refusal, Some(&session)),
    };
    handler.call(portal, session, input).await
}

/// A page's query (`Q`; no query string reads as the empty one), or [`Refusal::BadForm`].
pub(crate) fn page_query<Q: DeserializeOwned>(query: Option<&str>) -> Result<Q, Refusal> {
    serde_urlencoded::from_str(query.unwrap_or_default()).map_err(|_| Refusal::BadForm)
}

/// A form's fields (`F`), read only after its `csrf` field matched the session: else
/// [`Refusal::Csrf`] (logged), and [`Refusal::BadForm`] when the fields do not fit.
fn form_fields<P: Portal, F: DeserializeOwned>(
    portal: &P,
    session: &Session<P::User>,
    body: &[u8],
) -> Result<F, Refusal> {
    let fields = checked_form(body, |token| session.csrf_ok(portal.keyring(), token));
    if fields.as_ref().is_err_and(|refusal| *refusal == Refusal::Csrf) {
        tracing::warn!(
            user = %crate::PortalUser::name(&session.user),
            "portal form refused: CSRF token missing or wrong"
        );
    }
    fields
}

/// A form body's fields (`F`), read only after `csrf_ok` accepted its `csrf` field: else
/// [`Refusal::Csrf`], and [`Refusal::BadForm`] when the fields do not fit.
pub(crate) fn checked_form<F: DeserializeOwned>(
    body: &[u8],
    csrf_ok: impl FnOnce(&str) -> bool,
) -> Result<F, Refusal> {
    let token = serde_urlencoded::from_bytes::<CsrfField>(body).map(|f| f.csrf);
    if !token.is_ok_and(|token| csrf_ok(&token)) {
        return Err(Refusal::Csrf);
    }
    serde_urlencoded::from_bytes(body).map_err(|_| Refusal::BadForm)
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, StatusCode, header};
    use axum::response::IntoResponse as _;
    use sha2::Digest as _;

    use super::*;
    use crate::{BoxFuture, Keyring, PortalUser, Purpose};

    /// The one session the test portal knows.
    const SESSION_ID: &str = "5e55105e55105e55105e55105e55105e55105e55105e55105e55105e55105e55";

    #[derive(Clone)]
    struct User;

    impl PortalUser for User {
        fn name(&self) -> &'static str {
            "alice"
        }

        fn is_admin(&self) -> bool {
            false
        }

        fn must_change_password(&self) -> bool {
            false
        }
    }

    /// One unkeyed "key": enough to tell purposes and inputs apart.
    struct Keys;

    impl Keyring for Keys {
        fn macs(&self, purpose: Purpose, data: &[u8]) -> Vec<[u8; 32]> {
            vec![self.mac(purpose, data)]
        }

        fn mac(&self, purpose: Purpose, data: &[u8]) -> [u8; 32] {
            sha2::Sha256::new()
                .chain_update(format!("{purpose:?}"))
                .chain_update(data)
                .finalize()
                .into()
        }
    }

    struct TestPortal;

    impl Portal for TestPortal {
        type User = User;

        const SESSION_COOKIE: &'static str = "session";
        const LOGIN_PATH: &'static str = "/login";
        const PASSWORD_PATH: &'static str = "/password";

        fn keyring(&self) -> &dyn Keyring {
            &Keys
        }

        fn session_user(
            &self,
            session_hash: [u8; 32],
        ) -> BoxFuture<'_, Result<Option<User>, String>> {
            let known = session_hash == Keys.mac(Purpose::Session, SESSION_ID.as_bytes());
            Box::pin(async move { Ok(known.then_some(User)) })
        }

        fn refusal(&self, refusal: Refusal, session: Option<&Session<User>>) -> Response {
            (refusal.status(), format!("{refusal:?} with session: {}", session.is_some()))
                .into_response()
        }
    }

    #[derive(Deserialize)]
    struct Fields {
        name: String,
    }

    async fn greet(_: Arc<TestPortal>, session: Session<User>, fields: Fields) -> Response {
        format!("{} greets {}", session.user.name(), fields.name).into_response()
    }

    /// The answer through [`serve`] with `read`, with the session cookie when `signed_in`.
    async fn answer(
        signed_in: bool,
        access: Access,
        read: impl FnOnce(&TestPortal, &Session<User>) -> Result<Fields, Refusal>,
    ) -> (StatusCode, String) {
        let mut headers = HeaderMap::new();
        if signed_in {
            let cookie = HeaderValue::from_str(&format!("session={SESSION_ID}")).unwrap();
            headers.insert(header::COOKIE, cookie);
        }
        let response = serve(Arc::new(TestPortal), headers, access, greet, read).await;
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[test]
    fn async_fns_are_page_handlers() {
        let pages = Pages::<TestPortal>::new().page("/portal/", Access::Member, greet);
        let _pages = pages.form("/portal/", Access::Member, greet);
    }

    #[tokio::test]
    async fn pages_and_forms_check_session_then_csrf_then_fields() {
        let csrf = crate::auth::csrf_token(&Keys, SESSION_ID);
        let form = |body: String| {
            move |p: &TestPortal, s: &Session<User>| form_fields(p, s, body.as_bytes())
        };
        let query =
            |text: &'static str| move |_: &TestPortal, _: &Session<User>| page_query(Some(text));

        let (status, body) = answer(false, Access::Member, query("name=bob")).await;
        assert_eq!((status, body.as_str()), (StatusCode::SEE_OTHER, ""));
        let (status, _) = answer(true, Access::Admin, query("name=bob")).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, body) = answer(true, Access::Member, query("name=bob")).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "alice greets bob"));
        let (status, body) = answer(true, Access::Member, query("nom=bob")).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::BAD_REQUEST, "BadForm with session: true")
        );

        let (status, body) =
            answer(true, Access::Member, form(format!("csrf={csrf}&name=bob"))).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "alice greets bob"));
        for wrong in
            ["name=bob".to_owned(), format!("csrf={csrf}x&name=bob"), "csrf=&name=bob".to_owned()]
        {
            let (status, body) = answer(true, Access::Member, form(wrong.clone())).await;
            assert_eq!(
                (status, body.as_str()),
                (StatusCode::FORBIDDEN, "Csrf with session: true"),
                "{wrong}"
            );
        }
        let (status, body) = answer(true, Access::Member, form(format!("csrf={csrf}"))).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::BAD_REQUEST, "BadForm with session: true")
        );
    }
}
