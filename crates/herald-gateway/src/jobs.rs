//! Background jobs: forming download batches and purging old keys and statistics. Each run first takes a lease
//! in the store, so that several gateway processes on one PostgreSQL run each job once. Forming
//! a batch also creates its callback tasks (in the batch's transaction) and wakes the callback
//! worker ([`crate::callback`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use herald_model::Clock;

use crate::store::Store;

/// Most keys in one download batch (EFGS `batching.doclimit`).
pub const MAX_DOWNLOAD_KEYS: usize = 5000;

/// Settings of the jobs.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// Longest wait between batching runs (EFGS: 5 minutes; dev: 1 s). Uploads wake it early.
    pub batching_interval: Duration,
    /// Keys older than midnight today − this many days are deleted (EFGS production: 2).
    pub retention_days: i64,
    /// Statistics rows older than midnight today − this many days are deleted.
    pub statistics_retention_days: i64,
    /// How often the retention job runs.
    pub retention_interval: Duration,
    /// This process's name in leases.
    pub holder: String,
    /// Notified after new download batches were formed (wakes the callback worker).
    pub batched: Arc<tokio::sync::Notify>,
}

/// Runs both jobs until `shutdown` resolves.
pub async fn run(
    store: Store,
    clock: Arc<dyn Clock>,
    settings: JobSettings,
    uploaded: Arc<tokio::sync::Notify>,
    shutdown: impl Future<Output = ()>,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    let mut batching = tokio::time::interval(settings.batching_interval);
    let mut retention = tokio::time::interval(settings.retention_interval);
    batching.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    retention.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = batching.tick() => form_batches(&store, clock.as_ref(), &settings).await,
            () = uploaded.notified() => {
                // Let a burst of uploads land, then batch them together.
                tokio::time::sleep(Duration::from_millis(200).min(settings.batching_interval)).await;
                form_batches(&store, clock.as_ref(), &settings).await;
            }
            _ = retention.tick() => purge(&store, clock.as_ref(), &settings).await,
            () = &mut shutdown => return,
        }
    }
}

/// One batching run, if this process holds the lease.
pub async fn form_batches(store: &Store, clock: &dyn Clock, settings: &JobSettings) {
    let now = clock.now();
    // A run takes well under a second; the lease only has to outlive one, so that a process that
    // died holding it delays batching by seconds, not minutes.
    let ttl = i64::try_from(settings.batching_interval.as_secs().saturating_mul(2))
        .unwrap_or(60)
        .clamp(5, 60);
    match store.try_lease("download-batching", &settings.holder, now, ttl).await {
        Ok(true) => match store.form_download_batches(now, MAX_DOWNLOAD_KEYS).await {
            Ok(tags) if !tags.is_empty() => {
                tracing::info!(count = tags.len(), "formed download batches");
                settings.batched.notify_one();
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "forming download batches failed"),
        },
        Ok(false) => {}
        Err(e) => tracing::error!(error = %e, "taking the batching lease failed"),
    }
}

/// One retention run, if this process holds the lease: old keys, then old statistics.
pub async fn purge(store: &Store, clock: &dyn Clock, settings: &JobSettings) {
    let now = clock.now();
    let midnight_minus = |days: i64| herald_model::UnixTime((now.utc_day() - days) * 86_400);
    match store.try_lease("retention", &settings.holder, now, 600).await {
        Ok(true) => {
            match store.purge_keys_created_before(midnight_minus(settings.retention_days)).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "retention purged keys"),
                Err(e) => tracing::error!(error = %e, "retention failed"),
            }
            let cutoff = midnight_minus(settings.statistics_retention_days);
            match store.purge_statistics_before(cutoff).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "retention purged statistics rows"),
                Err(e) => tracing::error!(error = %e, "statistics retention failed"),
            }
        }
        Ok(false) => {}
        Err(e) => tracing::error!(error = %e, "taking the retention lease failed"),
    }
}
