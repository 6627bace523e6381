//! What herald's services (key server, verifier; the gateway in time) share that is neither
//! storage (`herald-db`) nor a wire format (`herald-wire`):
//!
//! - [`config`]: a TOML configuration file with every setting overridable by an environment
//!   variable (`<PREFIX><NAME>`, `<PREFIX><TABLE>__<NAME>`);
//! - [`secrets`]: the secret files of a development world, created once with owner-only
//!   permissions, and fresh random keys for them; [`dev`]: the names a dev verifier and a dev
//!   key server agree on;
//! - [`chaff`]: how long a chaff answer waits;
//! - [`budget`]: failure budgets reserved before the work they guard, per key or per client
//!   (a keyed hash of its address, never the address).

pub mod budget;
pub mod chaff;
pub mod config;
pub mod dev;
#[doc(hidden)]
pub mod fuzzing;
pub mod random;
pub mod secrets;
