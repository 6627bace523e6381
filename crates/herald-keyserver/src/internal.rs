//! The key server's side of the internal listener (`herald_runtime::internal`): its counter
//! families, the store probe behind `/health` and the outbox gauges of `/metrics`, and the
//! OpenAPI document of its public routes.

use std::sync::Arc;

use herald_runtime::internal::{BoxFuture, Probe};
use herald_runtime::metrics::{Registry, write_family, write_sample};
use serde_json::{Map, Value};

use crate::export::ExportReport;
use crate::federation::{DownloadReport, UploadReport};
use crate::store::Store;

/// The OpenAPI 3.0 document of the public endpoints, written by hand. A test checks that it
/// describes every route of [`crate::api::router`] and nothing else.
pub const OPENAPI: &str = include_str!("../openapi.json");

herald_runtime::counter_families! {
    /// `herald_keyserver_export_total{what}`: files, keys, fakes, deleted.
    pub static EXPORT = ("herald_keyserver_export_total", "what", "Export progress: files written, keys in them (fakes included), fake keys, files deleted by retention.");
    /// `herald_keyserver_federation_upload_total{what}`: batches, keys, requeued.
    pub static FEDERATION_UPLOAD = ("herald_keyserver_federation_upload_total", "what", "Federation uploads: batches that landed, keys in them, keys sent back to the outbox after a 207.");
    /// `herald_keyserver_federation_download_total{what}`: batches, received, imported, dropped.
    pub static FEDERATION_DOWNLOAD = ("herald_keyserver_federation_download_total", "what", "Federation downloads: batches processed, keys received, imported, dropped.");
}

/// A fresh registry with the key server's families.
pub fn registry() -> Arc<Registry> {
    Arc::new(Registry::new(
        "herald_keyserver",
        &[&EXPORT, &FEDERATION_UPLOAD, &FEDERATION_DOWNLOAD],
    ))
}

fn usize_to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Counts an export run.
pub fn count_export(registry: &Registry, r: &ExportReport) {
    for (what, n) in
        [("files", r.files), ("keys", r.keys), ("fakes", r.fakes), ("deleted", r.deleted)]
    {
        registry.add(&EXPORT, what, usize_to_u64(n));
    }
}

/// Counts a federation upload run.
pub fn count_upload(registry: &Registry, r: &UploadReport) {
    for (what, n) in [("batches", r.batches), ("keys", r.keys), ("requeued", r.requeued)] {
        registry.add(&FEDERATION_UPLOAD, what, usize_to_u64(n));
    }
}

/// Counts a federation download run.
pub fn count_download(registry: &Registry, r: &DownloadReport) {
    for (what, n) in [
        ("batches", r.batches),
        ("received", r.received),
        ("imported", r.imported),
        ("dropped", r.dropped),
    ] {
        registry.add(&FEDERATION_DOWNLOAD, what, usize_to_u64(n));
    }
}

/// What `/health` and `/metrics` read: the store.
pub struct KeyserverProbe {
    /// Storage.
    pub store: Store,
    /// Whether federation is configured (the outbox gauges are rendered only then).
    pub federation: bool,
}

impl Probe for KeyserverProbe {
    fn backend(&self) -> &'static str {
        self.store.backend()
    }

    fn check(&self) -> BoxFuture<'_, Result<Map<String, Value>, String>> {
        Box::pin(async move {
            self.store.ping().await.map_err(|e| e.to_string())?;
            let mut extra = Map::new();
            extra.insert("federation".into(), self.federation.into());
            Ok(extra)
        })
    }

    fn gauges(&self) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(async move {
            let mut out = String::new();
            if self.federation {
                let (waiting, pending, uploaded) =
                    self.store.outbox_counts().await.map_err(|e| e.to_string())?;
                let name = "herald_keyserver_federation_outbox_keys";
                write_family(
                    &mut out,
                    name,
                    "gauge",
                    "Keys in the federation outbox: waiting, in a pending batch, uploaded.",
                );
                for (state, n) in
                    [("waiting", waiting), ("pending", pending), ("uploaded", uploaded)]
                {
                    write_sample(
                        &mut out,
                        name,
                        &[("state", state)],
                        u64::try_from(n).unwrap_or(0),
                    );
                }
            } else {
                self.store.ping().await.map_err(|e| e.to_string())?;
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    herald_runtime::openapi_test!(super::OPENAPI, crate::api::public_routes());
}
