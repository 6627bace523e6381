//! GAEN `exposure_key_export.proto` (proto2).
