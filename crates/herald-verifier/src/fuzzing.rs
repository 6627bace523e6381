//! Entry points for `fuzz/` (hidden).

use crate::config::{PREFIX, VerifierConfig};

/// The verifier's configuration file with its `HERALD_VERIFIER_*` overrides, from a fuzz input
/// (`herald_service::fuzzing::config_input`): parsed and validated, never a panic.
pub fn fuzz_config(data: &[u8]) {
    herald_service::fuzzing::fuzz_config(data, PREFIX, |text, env| {
        VerifierConfig::from_toml(text, env)
    });
}

/// A portal form body (or query string, or `Cookie` header): the web kit's own forms (login,
/// password, logout, with their CSRF checks), then the verifier's (issue, status, expiry,
/// users, API keys), decoded and checked as the server does before any storage work.
pub fn fuzz_portal_form(data: &[u8]) {
    herald_webkit::fuzzing::fuzz_portal_form(data);
    crate::portal::fuzz_forms(data);
}
