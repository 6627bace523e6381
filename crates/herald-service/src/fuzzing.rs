//! Entry points for `fuzz/` (hidden): a service's configuration file and its environment
//! overrides from one fuzz input.

use std::fmt::{Debug, Display};

/// Splits a fuzz input into a configuration file and its environment overrides: the text
/// before the first NUL is the file; each line after it, `NAME=value`, is the override
/// `<prefix>NAME` (a line without `=` sets `NAME` to the empty string). `None` when the input
/// is not UTF-8: a file that is not is refused before it is parsed ([`crate::config::read_file`]).
pub fn config_input<'a>(data: &'a [u8], prefix: &str) -> Option<(&'a str, Vec<(String, String)>)> {
    let text = std::str::from_utf8(data).ok()?;
    let (file, overrides) = text.split_once('\0').unwrap_or((text, ""));
    let env = overrides
        .lines()
        .map(|line| {
            let (name, value) = line.split_once('=').unwrap_or((line, ""));
            (format!("{prefix}{name}"), value.to_owned())
        })
        .collect();
    Some((file, env))
}

/// Parses a fuzz input as a configuration with `parse` (a service's `from_toml`): it must
/// return, never panic, and the same input must give the same answer; the answer and the
/// error message are formatted, as `config check` and a refused start do.
pub fn fuzz_config<T: Debug + PartialEq, E: Debug + Display + PartialEq>(
    data: &[u8],
    prefix: &str,
    parse: impl Fn(&str, Vec<(String, String)>) -> Result<T, E>,
) {
    let Some((file, env)) = config_input(data, prefix) else { return };
    let first = parse(file, env.clone());
    let again = parse(file, env);
    assert_eq!(first, again, "parsing is not deterministic");
    match &first {
        Ok(config) => assert!(!format!("{config:?}").is_empty()),
        Err(e) => assert!(!e.to_string().is_empty(), "an error without a message"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_splits_into_file_and_overrides() {
        let (file, env) = config_input(b"a = 1\n\0LISTEN=x\nEXPORT__DIR=d=e\nBARE", "P_").unwrap();
        assert_eq!(file, "a = 1\n");
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(env, [("P_LISTEN", "x"), ("P_EXPORT__DIR", "d=e"), ("P_BARE", "")]);
        assert_eq!(config_input(b"a = 1", "P_").unwrap(), ("a = 1", Vec::new()));
        assert!(config_input(b"\xff", "P_").is_none());
    }
}
