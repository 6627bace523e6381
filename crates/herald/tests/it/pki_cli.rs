//! CLI tests: pki.
