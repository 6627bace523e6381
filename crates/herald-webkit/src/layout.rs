//! The page layout of every portal (usable on a phone's screen: nothing wider than the screen): one HTML shell (header with the product's name, the
//! navigation of the signed-in user and the logout form; `main` with the page's title), message
//! boxes, the answers to refusals, and the base stylesheet. maud escapes every interpolated
//! value; there is no inline script or style, so the kit's Content-Security-Policy
//! ([`crate::CSP`]) holds on every page.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse as _, Response};
use maud::{DOCTYPE, Markup, html};

use crate::session::Refusal;

/// What is the same on every page of one portal.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// The product's name, in the header and every title (`"herald verification portal"`).
    pub product: &'static str,
    /// The stylesheet's path (served by the portal; [`STYLE`] is its base).
    pub stylesheet: &'static str,
    /// Where the logout form posts.
    pub logout: &'static str,
}

/// The navigation of a signed-in user's pages.
#[derive(Debug, Clone, Copy)]
pub struct Nav<'a> {
    /// The links (path, label) this user may follow.
    pub links: &'a [(&'a str, &'a str)],
    /// Who is signed in, as shown (`"alice (administrator)"`).
    pub who: &'a str,
    /// The session's CSRF token, for the logout form.
    pub csrf: &'a str,
}

impl Layout {
    /// A page around `content`, with the navigation when someone is signed in.
    pub fn page(&self, title: &str, nav: Option<&Nav<'_>>, content: &Markup) -> Markup {
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · " (self.product) }
                    link rel="stylesheet" href=(self.stylesheet);
                }
                body {
                    header {
                        span.brand { (self.product) }
                        @if let Some(nav) = nav {
                            nav {
                                @for (href, label) in nav.links {
                                    a href=(href) { (label) }
                                }
                            }
                            form.logout method="post" action=(self.logout) {
                                span.who { (nav.who) }
                                input type="hidden" name="csrf" value=(nav.csrf);
                                button type="submit" { "Log out" }
                            }
                        }
                    }
                    main {
                        h1 { (title) }
                        (content)
                    }
                }
            }
        }
    }
}

/// A message box (`kind`: `error`, `warning`, `info`).
pub fn message(kind: &str, text: &str) -> Markup {
    html! { p class=(format!("message {kind}")) role="status" { (text) } }
}

/// An HTML answer.
pub fn html_response(status: StatusCode, markup: Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}

/// The title and text of a refusal's page (what [`crate::Portal::refusal`] usually shows).
pub fn refusal_text(refusal: Refusal) -> (&'static str, &'static str) {
    match refusal {
        Refusal::Forbidden => ("Not allowed", "This page is for administrators."),
        Refusal::Csrf => (
            "Refused",
            "The form did not come from this portal or has expired (CSRF token missing or \
             wrong). Reload the page and try again.",
        ),
        Refusal::BadForm => {
            ("Refused", "The form's fields could not be read. Reload the page and try again.")
        }
        Refusal::Internal => ("Error", "Internal error; try again later."),
    }
}

/// The base stylesheet of the portals (a portal may append its own rules).
pub const STYLE: &str = "\
body{font-family:system-ui,sans-serif;margin:0;background:#f4f6f8;color:#1d2733}\
header{display:flex;flex-wrap:wrap;align-items:center;gap:1em;background:#1d3b5c;color:#fff;padding:.6em 1em}\
header a{color:#fff;margin-right:.8em}.brand{font-weight:bold;margin-right:1em}\
form.logout{margin-left:auto}.who{margin-right:.5em}\
main{max-width:60em;margin:1em auto;padding:0 1em}\
.card{background:#fff;border:1px solid #d5dbe1;border-radius:6px;padding:1em;margin:1em 0}\
label{display:block;margin:.6em 0}label input,label select{display:block;margin-top:.2em;padding:.3em;min-width:16em}\
label.choice{display:flex;gap:.5em;align-items:center}label.choice input{min-width:0}\
fieldset{border:none;padding:0}button{padding:.4em 1em;cursor:pointer}button.danger{background:#b3261e;color:#fff;border:none}\
.message{padding:.6em 1em;border-radius:4px}.error{background:#fde2e1}.warning{background:#fff3cd}.info{background:#e0f0ff}\
.hint{color:#555;font-size:.9em}table{border-collapse:collapse}\
th,td{text-align:left;padding:.3em .8em;border-bottom:1px solid #e3e7eb}form.inline{display:inline}\
pre{white-space:pre-wrap}svg,img{max-width:100%;height:auto}\
@media (max-width:40em){table{display:block;overflow-x:auto}label input,label select{min-width:0;width:100%;box-sizing:border-box}}\
";

#[cfg(test)]
mod tests {
    use super::*;

    const LAYOUT: Layout =
        Layout { product: "test portal", stylesheet: "/p/style.css", logout: "/p/logout" };

    #[test]
    fn pages_escape_and_show_navigation_only_when_signed_in() {
        let body = html! { p { "<b>hi</b>" } };
        let out = LAYOUT.page("Title & more", None, &body).into_string();
        assert!(out.contains("<title>Title &amp; more · test portal</title>"), "{out}");
        assert!(out.contains("&lt;b&gt;hi&lt;/b&gt;"));
        assert!(!out.contains("<nav>") && !out.contains("/p/logout"));

        let links = [("/p/", "Home"), ("/p/users", "Users")];
        let nav = Nav { links: &links, who: "alice (administrator)", csrf: "tok\"en" };
        let out = LAYOUT.page("Home", Some(&nav), &body).into_string();
        assert!(out.contains(r#"<a href="/p/users">Users</a>"#), "{out}");
        assert!(out.contains(r#"value="tok&quot;en""#));
        assert!(out.contains("alice (administrator)"));
        assert!(!out.contains("<script") && !out.contains("style="));
    }
}
