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
    pub fn page<Q, H, Fut>(self, path: &str, access: Access, handler: H) -> Self
    where
        Q: DeserializeOwned + Send + 'static,
        H: Fn(Arc<P>, Session<P::User>, Q) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        let route = get(
            move |State(portal): State<Arc<P>>, headers: HeaderMap, RawQuery(query): RawQuery| {
                let handler = handler.clone();
                async move {
                    let session = match authorize(portal.as_ref(), &headers, access).await {
                        Ok(session) => session,
                        Err(answer) => return answer,
                    };
                    let query: Q =
                        match serde_urlencoded::from_str(query.as_deref().unwrap_or_default()) {
                            Ok(query) => query,
                            Err(_) => return portal.refusal(Refusal::BadForm, Some(&session)),
                        };
                    handler(portal, session, query).await
                }
            },
        );
        self.add(path, route)
    }

    /// `POST path` of a form: the handler gets the portal, the checked session and the form's
    /// fields (`F`), only after the form's `csrf` field matched the session (else the service's
    /// 403 page, before anything is read or written). Fields that do not fit are refused with
    /// its 400 page.
    #[must_use]
    pub fn form<F, H, Fut>(self, path: &str, access: Access, handler: H) -> Self
    where
        F: DeserializeOwned + Send + 'static,
        H: Fn(Arc<P>, Session<P::User>, F) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        let route = post(move |State(portal): State<Arc<P>>, headers: HeaderMap, body: Bytes| {
            let handler = handler.clone();
            async move {
                let session = match authorize(portal.as_ref(), &headers, access).await {
                    Ok(session) => session,
                    Err(answer) => return answer,
                };
                let token = serde_urlencoded::from_bytes::<CsrfField>(&body).map(|f| f.csrf);
                if !token.is_ok_and(|token| session.csrf_ok(portal.keyring(), &token)) {
                    tracing::warn!(
                        user = %crate::PortalUser::name(&session.user),
                        "portal form refused: CSRF token missing or wrong"
                    );
                    return portal.refusal(Refusal::Csrf, Some(&session));
                }
                let fields: F = match serde_urlencoded::from_bytes(&body) {
                    Ok(fields) => fields,
                    Err(_) => return portal.refusal(Refusal::BadForm, Some(&session)),
                };
                handler(portal, session, fields).await
            }
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
