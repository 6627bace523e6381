//! A cookie-keeping HTML client for the portal, and helpers to make and log in users.

use std::collections::BTreeMap;

use herald_runtime::{Answer, HttpsClient};
use herald_verifier::portal::{self, auth};
use herald_verifier::store::Role;
use hyper::Method;

use super::support::Running;

/// A user made for a test, with its current password and TOTP secret.
pub(crate) struct TestUser {
    pub(crate) name: String,
    pub(crate) password: String,
    pub(crate) secret: Vec<u8>,
}

impl TestUser {
    /// The TOTP code for `now`.
    pub(crate) fn code(&self, now: i64) -> String {
        auth::totp(&self.secret, now.div_euclid(auth::TOTP_STEP))
    }
}

/// Creates a user through the library (as `herald verifier user add` does).
pub(crate) async fn make_user(v: &Running, name: &str, role: Role) -> TestUser {
    let c = portal::create_user(&v.service, name, role, "test").await.unwrap();
    TestUser {
        name: name.to_owned(),
        password: c.password.to_string(),
        secret: auth::base32_decode(&c.totp_secret).unwrap(),
    }
}

/// Percent-encodes a form.
pub(crate) fn form(fields: &[(&str, &str)]) -> Vec<u8> {
    let enc = auth::percent_encode;
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

/// The value of the first hidden `csrf` field of a page.
pub(crate) fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("the page has a CSRF field");
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// The text between `<... id="ID"...>` and the next `<`.
pub(crate) fn text_of(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[at..];
    let start = rest.find('>')? + 1;
    let end = rest[start..].find('<')?;
    Some(rest[start..start + end].to_owned())
}

/// A browser-like client: keeps the cookies the portal sets.
pub(crate) struct Web {
    client: HttpsClient,
    pub(crate) cookies: BTreeMap<String, String>,
    pub(crate) set_cookies: Vec<String>,
    /// Sent as `X-Forwarded-For` (as a proxy in front of the portal would).
    pub(crate) forwarded_for: Option<String>,
}

impl Web {
    pub(crate) fn new(v: &Running) -> Self {
        Self {
            client: HttpsClient::new(&v.url, &v.ca, None).unwrap(),
            cookies: BTreeMap::new(),
            set_cookies: Vec::new(),
            forwarded_for: None,
        }
    }

    async fn send(&mut self, method: Method, path: &str, body: Option<Vec<u8>>) -> Answer {
        let cookie =
            self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if !cookie.is_empty() {
            headers.push(("cookie", &cookie));
        }
        if body.is_some() {
            headers.push(("content-type", "application/x-www-form-urlencoded"));
        }
        if let Some(client) = &self.forwarded_for {
            headers.push(("x-forwarded-for", client));
        }
        let answer =
            self.client.request(method, path, &headers, body.unwrap_or_default()).await.unwrap();
        for v in answer.headers.get_all("set-cookie") {
            let v = v.to_str().unwrap().to_owned();
            let pair = v.split(';').next().unwrap();
            let (k, val) = pair.split_once('=').unwrap();
            if val.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), val.to_owned());
            }
            self.set_cookies.push(v);
        }
        answer
    }

    pub(crate) async fn get(&mut self, path: &str) -> Answer {
        self.send(Method::GET, path, None).await
    }

    pub(crate) async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        self.send(Method::POST, path, Some(form(fields))).await
    }

    /// GETs `page`, then POSTs `fields` plus its CSRF token to `action`.
    pub(crate) async fn submit(
        &mut self,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> Answer {
        let html = body(&self.get(page).await);
        let csrf = csrf_of(&html);
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post(action, &all).await
    }

    /// Logs in with `password` and the current TOTP code; the answer.
    pub(crate) async fn login(&mut self, v: &Running, user: &TestUser, password: &str) -> Answer {
        let code = user.code(v.now());
        self.submit(
            "/portal/login",
            "/portal/login",
            &[("name", &user.name), ("password", password), ("totp", &code)],
        )
        .await
    }

    /// Logs in and replaces the one-time password (confirmed with it); the user is then ready to
    /// work. Advances the clock by a TOTP step first, so that no code is reused.
    pub(crate) async fn login_ready(&mut self, v: &Running, user: &mut TestUser) {
        v.clock.advance(auth::TOTP_STEP);
        let password = user.password.clone();
        let answer = self.login(v, user, &password).await;
        assert_eq!(answer.status, 303, "{}", body(&answer));
        if answer.header("location") == Some("/portal/password") {
            let new = format!("{}-mine", user.password);
            let fields = [("current", user.password.as_str()), ("new", &new), ("repeat", &new)];
            let answer = self.submit("/portal/password", "/portal/password", &fields).await;
            assert_eq!(answer.status, 303, "{}", body(&answer));
            user.password = new;
        }
    }
}

/// The text of the page's first message box (an error, a warning or a note).
pub(crate) fn message_of(html: &str) -> Option<String> {
    let at = html.find("role=\"status\">")? + "role=\"status\">".len();
    let rest = html.get(at..)?;
    Some(rest[..rest.find('<')?].to_owned())
}

/// An answer's body as text.
pub(crate) fn body(answer: &Answer) -> String {
    String::from_utf8_lossy(&answer.body).into_owned()
}
