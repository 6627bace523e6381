//! Entry points for `fuzz/` (hidden).

use crate::config::{GatewayConfig, PREFIX};

/// The gateway's configuration file with its `HERALD_GATEWAY_*` overrides, from a fuzz input
/// (`herald_service::fuzzing::config_input`): parsed and validated, never a panic.
pub fn fuzz_config(data: &[u8]) {
    herald_service::fuzzing::fuzz_config(data, PREFIX, |text, env| {
        GatewayConfig::from_toml(text, env)
    });
}
