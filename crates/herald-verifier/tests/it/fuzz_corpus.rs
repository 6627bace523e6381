//! Replays the committed corpora of the `portal_form` and `config_files` fuzz targets on
//! stable, in every test run (the gateway and the key server replay `config_files` through
//! their own configuration too).

use herald_verifier::fuzzing::{fuzz_config, fuzz_portal_form};
use herald_webkit::NoFields;
use herald_webkit::fuzzing::form;

fn seed(target: &str, name: &str) -> Vec<u8> {
    herald_testkit::fuzz_corpus(target)
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{target}/{name} is missing"))
        .1
}

#[test]
fn portal_form_corpus() {
    for (_, bytes) in herald_testkit::fuzz_corpus("portal_form") {
        fuzz_portal_form(&bytes);
    }
}

#[test]
fn config_files_corpus() {
    for (_, bytes) in herald_testkit::fuzz_corpus("config_files") {
        fuzz_config(&bytes);
    }
}

/// The seeds reach past the first checks: their CSRF tokens are those of the fuzzing session
/// and login cookie, and the example configurations are valid.
#[test]
fn seeds_reach_the_deep_paths() {
    let session = herald_webkit::fuzzing::session_csrf();
    for name in ["logout.txt", "issue.txt", "password_change.txt", "api_key_add.txt"] {
        let body = seed("portal_form", name);
        assert!(form::<NoFields>(&body).is_ok(), "{name}");
        assert!(String::from_utf8(body).unwrap().contains(&session), "{name}");
    }
    let login = String::from_utf8(seed("portal_form", "login.txt")).unwrap();
    assert!(login.contains(&herald_webkit::fuzzing::login_csrf()));
    for name in ["verifier_example.toml", "verifier_example_bare.toml"] {
        let text = String::from_utf8(seed("config_files", name)).unwrap();
        assert!(herald_verifier::config::VerifierConfig::from_toml(&text, []).is_ok(), "{name}");
    }
}

proptest::proptest! {
    /// Form bodies made of the characters that matter to `application/x-www-form-urlencoded`
    /// (and the field names the portal knows) never panic.
    #[test]
    fn portal_forms_never_panic(
        body in r"((csrf|name|role|kind|uuid|test_type|test_date|symptom_date|current|totp|new|repeat|password)=[a-z0-9%+&=;. \-_@]{0,20}&?){0,6}",
    ) {
        fuzz_portal_form(body.as_bytes());
    }

    /// Configuration text shaped like TOML, with overrides after a NUL, never panics.
    #[test]
    fn configurations_never_panic(text in r#"([a-z_\[\]]{1,12}( = )?("[a-z0-9:./]{0,12}"|[0-9]{1,4}|true|\[\]|\{\})?\n){0,8}(\x00[A-Z_]{1,12}=[a-z0-9"\[\]]{0,8}\n){0,3}"#) {
        fuzz_config(text.as_bytes());
    }
}
