//! The portal's pages (maud: every interpolated value is HTML-escaped). No inline script or
//! style: the Content-Security-Policy allows only `/portal/style.css` and `data:` images.

use herald_model::{Date, UnixTime};
use herald_webkit::Layout;
pub use herald_webkit::accounts::minute_text as time;
pub use herald_webkit::layout::message;
use maud::{Markup, html};

use crate::store::{ApiKeyInfo, CodeRow, DayStats, Role, UserRow};

/// The logged-in user shown in the navigation, with the CSRF token of the logout form.
pub struct Nav<'a> {
    /// The user.
    pub user: &'a UserRow,
    /// The session's CSRF token.
    pub csrf: &'a str,
}

/// The portal's layout (the web kit's shell).
pub const LAYOUT: Layout = Layout {
    product: "herald verification portal",
    stylesheet: "/portal/style.css",
    logout: "/portal/logout",
};

/// The pages every user may open.
const MEMBER_LINKS: [(&str, &str); 3] = [
    ("/portal/", "Issue code"),
    ("/portal/status", "Code status"),
    ("/portal/stats", "Statistics"),
];

/// The pages of administrators, after the members' ones.
const ADMIN_LINKS: [(&str, &str); 4] = [
    ("/portal/users", "Users"),
    ("/portal/api-keys", "API keys"),
    ("/portal/settings", "Settings"),
    ("/portal/audit", "Audit log"),
];

/// A page around `content`.
pub fn page(title: &str, nav: Option<&Nav<'_>>, content: &Markup) -> Markup {
    let Some(nav) = nav else { return LAYOUT.page(title, None, content) };
    let mut links = MEMBER_LINKS.to_vec();
    if nav.user.role == Role::Administrator {
        links.extend(ADMIN_LINKS);
    }
    let who = format!("{} ({})", nav.user.name, role_label(nav.user.role));
    LAYOUT.page(
        title,
        Some(&herald_webkit::Nav { links: &links, who: &who, csrf: nav.csrf }),
        content,
    )
}

/// A role as shown.
pub fn role_label(role: Role) -> &'static str {
    match role {
        Role::Administrator => "administrator",
        Role::CaseWorker => "case worker",
    }
}

/// Hourly issuance against the limits.
pub struct Usage {
    /// This user's codes in the last hour.
    pub user: i64,
    /// The per-user limit.
    pub user_limit: i64,
    /// Everybody's codes in the last hour.
    pub global: i64,
    /// The global limit.
    pub global_limit: i64,
}

impl Usage {
    /// A warning from 80 % of either limit on.
    pub fn warning(&self) -> Option<String> {
        let near = |n: i64, limit: i64| n * 5 >= limit * 4;
        if self.user >= self.user_limit || self.global >= self.global_limit {
            Some("The hourly limit for issuing codes is reached; wait before issuing more.".into())
        } else if near(self.user, self.user_limit) {
            Some(format!(
                "Near the limit: you issued {} of {} codes allowed per hour.",
                self.user, self.user_limit
            ))
        } else if near(self.global, self.global_limit) {
            Some(format!(
                "Near the limit: {} of {} codes allowed per hour for all users were issued.",
                self.global, self.global_limit
            ))
        } else {
            None
        }
    }
}

/// The form fields of the issue form, echoed back after an error.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct IssueFields {
    /// CSRF token.
    #[serde(default)]
    pub csrf: String,
    /// Test type.
    #[serde(default)]
    pub test_type: String,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub test_date: String,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub symptom_date: String,
}

/// The issue-code form.
pub fn issue_form(
    csrf: &str,
    types: &[&str],
    fields: &IssueFields,
    usage: &Usage,
    error: Option<&str>,
) -> Markup {
    html! {
        @if let Some(w) = usage.warning() { (message("warning", &w)) }
        @if let Some(e) = error { (message("error", e)) }
        form.card method="post" action="/portal/issue" {
            input type="hidden" name="csrf" value=(csrf);
            fieldset {
                legend { "Test type" }
                @for (i, t) in types.iter().enumerate() {
                    label.choice {
                        input type="radio" name="test_type" value=(t)
                            checked[fields.test_type == *t || (fields.test_type.is_empty() && i == 0)];
                        (type_label(t))
                    }
                }
            }
            label { "Test date" input #test_date type="date" name="test_date" value=(fields.test_date); }
            label { "Symptom onset" input #symptom_date type="date" name="symptom_date" value=(fields.symptom_date); }
            p.hint { "Dates are UTC days; at least one is required." }
            button #create type="submit" { "Create verification code" }
        }
        p.hint { "This hour: you issued " (usage.user) " of " (usage.user_limit)
            " codes; all users " (usage.global) " of " (usage.global_limit) "." }
    }
}

fn type_label(t: &str) -> &str {
    match t {
        "confirmed" => "Positive test (confirmed)",
        "likely" => "Likely diagnosis (clinical, without a test)",
        "negative" => "Negative test",
        other => other,
    }
}

/// What an issued code shows.
pub struct Issued<'a> {
    /// UUID.
    pub uuid: &'a str,
    /// Short code.
    pub code: &'a str,
    /// Its expiry (RFC 1123).
    pub expires: &'a str,
    /// Minutes it is valid.
    pub minutes: i64,
    /// Long code.
    pub long_code: &'a str,
    /// Its expiry (RFC 1123).
    pub long_expires: &'a str,
    /// The SMS text with the link.
    pub sms: &'a str,
    /// The link's QR code as a `data:` URI.
    pub qr: Option<&'a str>,
}

/// The result panel.
pub fn issued(i: &Issued<'_>) -> Markup {
    html! {
        (message("info", "The verification code was created. Read the short code out now, or send the link."))
        div.card.result {
            p { "Short code (read it out): " strong #short-code.code { (i.code) } }
            p { "Expires " span #expires { (i.expires) } " (" (i.minutes) " minutes after it was made)." }
            p { "Long code (for the SMS link): " code #long-code { (i.long_code) } }
            p { "Link expires " (i.long_expires) "." }
            p { "SMS text:" }
            pre #sms { (i.sms) }
            @if let Some(qr) = i.qr {
                p { img #qr src=(qr) alt="QR code of the link" width="220" height="220"; }
            }
            p { "Unique identifier, to check redemption later: "
                a #uuid href=(format!("/portal/status?uuid={}", i.uuid)) { (i.uuid) } }
        }
        p { a href="/portal/" { "Create another code" } }
    }
}

/// The status lookup form and, when found, the code's status.
pub fn status(
    csrf: &str,
    uuid: &str,
    row: Option<&CodeRow>,
    now: i64,
    error: Option<&str>,
) -> Markup {
    html! {
        form.card method="get" action="/portal/status" {
            label { "Unique identifier (UUID)" input #lookup type="text" name="uuid" value=(uuid) required; }
            button #check type="submit" { "Check status" }
        }
        @if let Some(e) = error { (message("error", e)) }
        @if let Some(r) = row {
            table.card #status {
                tr { th { "UUID" } td { (r.uuid) } }
                tr { th { "Test type" } td { (type_label(r.test_type.as_str())) } }
                tr { th { "Status" } td #state {
                    @if r.claimed { "claimed" }
                    @else if r.long_expires_at <= now && r.short_expires_at <= now { "expired" }
                    @else { "not claimed" }
                } }
                tr { th { "Short code expires" } td { (time(r.short_expires_at)) } }
                tr { th { "Link expires" } td { (time(r.long_expires_at)) } }
            }
            @if !r.claimed && r.long_expires_at.max(r.short_expires_at) > now {
                form method="post" action="/portal/expire" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="uuid" value=(r.uuid);
                    button #expire.danger type="submit" { "Expire now" }
                }
            }
        }
    }
}

/// The date of a UTC day number (statistics rows).
fn day_date(day: i64) -> Date {
    Date::of(UnixTime(day.saturating_mul(86_400)))
}

/// The statistics page: a bar chart and a table of the last days.
pub fn stats(days: &[DayStats]) -> Markup {
    let max = days.iter().map(|d| d.issued.max(d.claimed)).max().unwrap_or(0).max(1);
    let (width, height, bar) = (40_i64, 160_i64, 14_i64);
    let total = i64::try_from(days.len()).unwrap_or(0) * width + 40;
    let h = |n: i64| n * height / max;
    html! {
        p { "Codes issued and claimed per day (UTC), the last " (days.len()) " days. "
            span.legend-issued { "■ issued" } " " span.legend-claimed { "■ claimed" } }
        svg #chart xmlns="http://www.w3.org/2000/svg" width=(total) height=(height + 40)
            viewBox=(format!("0 0 {total} {}", height + 40)) role="img"
            aria-label="Codes issued and claimed per day" {
            line x1="30" y1=(height + 10) x2=(total) y2=(height + 10) stroke="#888" {}
            text x="0" y="20" font-size="11" { (max) }
            @for (i, d) in days.iter().enumerate() {
                @let x = 36 + i64::try_from(i).unwrap_or(0) * width;
                rect x=(x) y=(height + 10 - h(d.issued)) width=(bar) height=(h(d.issued)) fill="#2f6fb3" {
                    title { (d.issued) " issued" }
                }
                rect x=(x + bar) y=(height + 10 - h(d.claimed)) width=(bar) height=(h(d.claimed)) fill="#3c9a5f" {
                    title { (d.claimed) " claimed" }
                }
                text x=(x) y=(height + 26) font-size="10" {
                    (format!("{:02}", day_date(d.day).day()))
                }
            }
        }
        table.card #stats {
            tr { th { "Day" } th { "Issued" } th { "Claimed" } }
            @for d in days.iter().rev() {
                tr { td { (day_date(d.day)) } td.issued { (d.issued) } td.claimed { (d.claimed) } }
            }
        }
    }
}

/// One-time credentials of a new user, shown once.
pub struct NewCredentials<'a> {
    /// The user.
    pub name: &'a str,
    /// The one-time password.
    pub password: &'a str,
    /// Base32 TOTP secret.
    pub secret: &'a str,
    /// `otpauth://` URI.
    pub uri: &'a str,
    /// The URI's QR code.
    pub qr: Option<&'a str>,
}

/// The users page.
pub fn users(
    csrf: &str,
    users: &[UserRow],
    now: i64,
    created: Option<&NewCredentials<'_>>,
    error: Option<&str>,
) -> Markup {
    html! {
        @if let Some(e) = error { (message("error", e)) }
        @if let Some(c) = created {
            div.card.result #created {
                p { "User " strong { (c.name) } " was created. Hand these over in person; they are shown only now." }
                p { "One-time password: " code #otp { (c.password) } }
                p { "Authenticator secret: " code #secret { (c.secret) } }
                p { "Authenticator URI: " code { (c.uri) } }
                @if let Some(qr) = c.qr { p { img src=(qr) alt="QR code for the authenticator app" width="220" height="220"; } }
            }
        }
        table.card #users {
            tr { th { "Name" } th { "Role" } th { "State" } th { "" } }
            @for u in users {
                tr {
                    td { (u.name) }
                    td { (role_label(u.role)) }
                    td {
                        @if u.disabled { "disabled" }
                        @else if u.locked(now) { "locked" }
                        @else { "active" }
                    }
                    td {
                        @if u.locked(now) {
                            (name_button("/portal/users/unlock", csrf, &u.name, "Unlock", false))
                        }
                        @if !u.disabled {
                            (name_button("/portal/users/disable", csrf, &u.name, "Disable", true))
                        }
                    }
                }
            }
        }
        h2 { "Add a user" }
        form.card method="post" action="/portal/users" {
            input type="hidden" name="csrf" value=(csrf);
            label { "User name" input #new-name type="text" name="name" required; }
            label { "Role"
                select name="role" {
                    option value="case_worker" { "case worker" }
                    option value="administrator" { "administrator" }
                }
            }
            button #add-user type="submit" { "Add user" }
        }
    }
}

/// A one-button form that posts `name` (and the CSRF token) to `action`; `danger` marks a
/// button that takes something away.
fn name_button(action: &str, csrf: &str, name: &str, label: &str, danger: bool) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="name" value=(name);
            @if danger {
                button.danger type="submit" { (label) }
            } @else {
                button type="submit" { (label) }
            }
        }
    }
}

/// The API keys page.
pub fn api_keys(
    csrf: &str,
    keys: &[ApiKeyInfo],
    created: Option<&str>,
    error: Option<&str>,
) -> Markup {
    html! {
        @if let Some(e) = error { (message("error", e)) }
        @if let Some(k) = created {
            div.card.result { p { "The new key (shown only now): " code #new-key { (k) } } }
        }
        table.card {
            tr { th { "Name" } th { "Kind" } th { "State" } th { "" } }
            @for k in keys {
                tr {
                    td { (k.name) } td { (k.kind.as_str()) }
                    td { @if k.revoked { "revoked" } @else { "active" } }
                    td {
                        @if !k.revoked {
                            (name_button("/portal/api-keys/revoke", csrf, &k.name, "Revoke", true))
                        }
                    }
                }
            }
        }
        h2 { "Create an API key" }
        form.card method="post" action="/portal/api-keys" {
            input type="hidden" name="csrf" value=(csrf);
            label { "Name" input type="text" name="name" required; }
            label { "Kind"
                select name="kind" {
                    option value="admin" { "admin (laboratory systems: issue codes)" }
                    option value="device" { "device (apps: verify codes)" }
                }
            }
            button type="submit" { "Create key" }
        }
    }
}

/// The settings page (read-only: settings live in the configuration file).
pub fn settings(rows: &[(&str, String)]) -> Markup {
    html! {
        p { "Settings come from the service's configuration file (and HERALD_VERIFIER_* variables); \
             change them there and restart." }
        table.card {
            @for (k, v) in rows { tr { th { (k) } td { (v) } } }
        }
    }
}

/// The portal's own rules, after the web kit's base stylesheet.
const OWN_STYLE: &str = "\
.code{font-size:2em;letter-spacing:.15em}.legend-issued{color:#2f6fb3}.legend-claimed{color:#3c9a5f}\
";

/// The stylesheet.
pub fn style() -> String {
    [herald_webkit::layout::STYLE, OWN_STYLE].concat()
}
