//! Fuzz entry points for EFGS batches and CMS.
