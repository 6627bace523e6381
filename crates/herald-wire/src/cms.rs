//! Detached CMS SignedData.
