//! herald's EFGS-compatible federation gateway (specs/efgs-gateway.md).
//!
//! - [`store`]: storage on SQLite (default) or PostgreSQL behind one contract.

pub mod store;
