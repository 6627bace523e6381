//! GAEN export files.
