//! herald-trust: PKI helpers shared by every service.
