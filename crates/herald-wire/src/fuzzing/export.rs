//! Fuzz entry points for GAEN export files.
