//! efgs tests.
