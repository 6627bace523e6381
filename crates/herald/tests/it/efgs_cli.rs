//! CLI tests: efgs.
