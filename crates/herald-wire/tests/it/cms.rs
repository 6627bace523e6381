//! cms tests.
