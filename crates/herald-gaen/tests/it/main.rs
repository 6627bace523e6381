//! herald-gaen's integration tests, against the published vectors in `shared/testdata`.

mod crypto;
mod matching;
mod scoring;
