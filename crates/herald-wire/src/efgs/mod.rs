//! EFGS batches.
