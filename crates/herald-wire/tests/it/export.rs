//! export tests.
