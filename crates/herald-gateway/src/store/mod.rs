//! Gateway storage.
