//! Entry points for the `fuzz/` targets; each must never panic on any input.

mod efgs;
mod export;
mod jwt;
mod publish;

pub use efgs::*;
pub use export::*;
pub use jwt::*;
pub use publish::*;

/// `keys.json` parsing.
pub fn fuzz_keys_json(data: &[u8]) {
    if let Ok(keys) = crate::keys_json::parse(data) {
        // What parsed must serialise and parse back to the same keys.
        let again = crate::keys_json::parse(crate::keys_json::to_string(&keys).as_bytes());
        assert_eq!(again.ok(), Some(keys), "keys.json round trip");
    }
}
