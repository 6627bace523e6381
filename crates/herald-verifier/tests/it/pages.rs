//! Snapshots of the rendered portal pages (STYLE rule 16), from fixed data: a change to the
//! HTML shows up as a diff of `tests/it/snapshots/*.html`. `UPDATE_SNAPSHOTS=1` rewrites them.

use std::path::Path;

use herald_verifier::portal::views::{self, Issued, Nav};
use herald_verifier::store::{CodeRow, DayStats, Role, UserRow};
use herald_wire::verification::TestType;
use maud::Markup;

const NOW: i64 = 1_795_898_820;

fn check(name: &str, page: &Markup) {
    // One element per line, so that a diff is readable.
    let html = page.clone().into_string().replace("><", ">\n<") + "\n";
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/snapshots")
        .join(format!("{name}.html"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &html).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_SNAPSHOTS=1)", path.display()));
    assert!(
        expected == html,
        "{name}: the page changed; if intended, run with UPDATE_SNAPSHOTS=1 and review the diff\n{html}"
    );
}

fn user(role: Role) -> UserRow {
    UserRow {
        id: 1,
        name: "carla".into(),
        password_hash: String::new(),
        totp_secret: Vec::new(),
        role,
        failed_logins: 0,
        locked_until: None,
        disabled: false,
        password_change_required: false,
        last_totp_step: 0,
    }
}

#[test]
fn pages_match_their_snapshots() {
    let worker = user(Role::CaseWorker);
    let admin = UserRow { name: "ada".into(), ..user(Role::Administrator) };
    let nav = Nav { user: &worker, csrf: "c5rf" };
    let admin_nav = Nav { user: &admin, csrf: "c5rf" };
    check(
        "login",
        &views::page(
            "Log in",
            None,
            &herald_webkit::login::login_view(
                "/portal/login",
                "c5rf",
                "<carla>",
                Some("Wrong user name, password or authenticator code."),
            ),
        ),
    );
    let usage = views::Usage { user: 48, user_limit: 60, global: 100, global_limit: 1000 };
    check(
        "issue-form",
        &views::page(
            "Issue a verification code",
            Some(&nav),
            &views::issue_form(
                "c5rf",
                &["confirmed", "likely", "negative"],
                &views::IssueFields::default(),
                &usage,
                None,
            ),
        ),
    );
    let issued = Issued {
        uuid: "0f9b6b9e-3a57-4c5e-9d7f-1f2a3b4c5d6e",
        code: "12345678",
        expires: "Sat, 28 Nov 2026 21:00:00 UTC",
        minutes: 15,
        long_code: "abcdefgh23456789",
        long_expires: "Sun, 29 Nov 2026 20:45:00 UTC",
        sms: "Your exposure notification verification link: https://en.express/v?c=abcdefgh23456789&r=DE",
        qr: None,
    };
    check("issued", &views::page("Verification code", Some(&nav), &views::issued(&issued)));
    let row = CodeRow {
        uuid: issued.uuid.into(),
        test_type: TestType::Confirmed,
        symptom_day: herald_model::Date::from_utc_day(20_785),
        test_day: None,
        short_expires_at: NOW + 900,
        long_expires_at: NOW + 86_400,
        claimed: true,
    };
    check(
        "status",
        &views::page(
            "Code status",
            Some(&nav),
            &views::status("c5rf", &row.uuid, Some(&row), NOW, None),
        ),
    );
    let days: Vec<DayStats> =
        (0..14).map(|i| DayStats { day: 20_780 + i, issued: i % 5, claimed: i % 3 }).collect();
    check("stats", &views::page("Statistics", Some(&nav), &views::stats(&days)));
    let locked = UserRow { locked_until: Some(i64::MAX), ..user(Role::CaseWorker) };
    check(
        "users",
        &views::page(
            "Users",
            Some(&admin_nav),
            &views::users("c5rf", &[admin.clone(), locked], NOW, None, None),
        ),
    );
}
