//! Entry points for `fuzz/` (hidden).

use crate::config::{KeyserverConfig, PREFIX};

/// The keyserver's configuration file with its `HERALD_KEYSERVER_*` overrides, from a fuzz input
/// (`herald_service::fuzzing::config_input`): parsed and validated, never a panic.
pub fn fuzz_config(data: &[u8]) {
    herald_service::fuzzing::fuzz_config(data, PREFIX, |text, env| {
        KeyserverConfig::from_toml(text, env)
    });
}
