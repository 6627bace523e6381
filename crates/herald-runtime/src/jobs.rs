//! Background jobs under a store lease, for every service: a job runs only in the process that
//! holds its lease (several processes on one PostgreSQL run each job once), the lease is renewed
//! every third of its time to live while the job runs, so a long run keeps it; after a crash
//! another process takes over once it expires; a clean stop releases it (the service's store
//! does that). Every attempt is recorded in the service's [`Registry`]: runs by outcome, whether
//! the lease is held, and whether the job's loop is alive (`/health` answers 503 when one has
//! ended).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use herald_model::Clock;

use crate::metrics::{JobOutcome, Registry};

/// A store that keeps job leases (each service's `job_lease` table).
pub trait LeaseStore: Clone + Send + Sync + 'static {
    /// The store's error.
    type Error: std::fmt::Display + Send;

    /// Takes or renews the lease on `job` for `holder` until `now + ttl` (Unix seconds); `false`
    /// when another holder's lease has not expired.
    fn try_lease(
        &self,
        job: &str,
        holder: &str,
        now: i64,
        ttl: i64,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;
}

/// A job's lease in one process.
#[derive(Clone)]
pub struct Lease<S> {
    store: S,
    holder: String,
    clock: Arc<dyn Clock>,
    ttl: i64,
    name: &'static str,
    registry: Arc<Registry>,
}

impl<S: LeaseStore> Lease<S> {
    /// The lease on job `name` for `holder`, `ttl` seconds at a time.
    pub fn new(
        store: S,
        holder: &str,
        clock: Arc<dyn Clock>,
        ttl: i64,
        name: &'static str,
        registry: Arc<Registry>,
    ) -> Self {
        Self { store, holder: holder.to_owned(), clock, ttl, name, registry }
    }

    async fn take(&self) -> bool {
        let now = self.clock.now().seconds();
        let held = match self.store.try_lease(self.name, &self.holder, now, self.ttl).await {
            Ok(got) => got,
            Err(error) => {
                tracing::warn!(%error, job = self.name, "lease failed");
                false
            }
        };
        self.registry.job_lease(self.name, held);
        held
    }

    /// Runs `job` if this process holds (or takes) the lease; `None` when another one does,
    /// or when the lease could not be renewed while it ran. Records the outcome.
    pub async fn run<T, E>(&self, job: impl Future<Output = Result<T, E>>) -> Option<Result<T, E>> {
        if !self.take().await {
            self.registry.job_run(self.name, JobOutcome::Skipped);
            return None;
        }
        let every = Duration::from_secs(u64::try_from(self.ttl / 3).unwrap_or(1).max(1));
        let renew = async {
            loop {
                tokio::time::sleep(every).await;
                if !self.take().await {
                    tracing::warn!(job = self.name, "lease lost while running");
                }
            }
        };
        let out = tokio::select! {
            out = job => Some(out),
            () = renew => None,
        };
        let outcome = match &out {
            Some(Ok(_)) => JobOutcome::Ok,
            Some(Err(_)) | None => JobOutcome::Failed,
        };
        self.registry.job_run(self.name, outcome);
        out
    }
}

/// Runs `job` now and then every `interval` (and at once when `wake` is notified) until `stop`
/// turns true. The registry knows the loop as `name`: alive while it runs.
pub async fn every<F, Fut>(
    name: &'static str,
    registry: Arc<Registry>,
    interval: Duration,
    wake: Option<Arc<tokio::sync::Notify>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    mut job: F,
) where
    F: FnMut() -> Fut + Send,
    Fut: Future<Output = ()> + Send,
{
    /// Marks the loop ended however it ends (return or panic).
    struct Alive(&'static str, Arc<Registry>);
    impl Drop for Alive {
        fn drop(&mut self) {
            self.1.job_alive(self.0, false);
        }
    }
    registry.job_alive(name, true);
    let _alive = Alive(name, registry);
    let woken = || {
        let wake = wake.clone();
        async move {
            match wake {
                Some(wake) => wake.notified().await,
                None => std::future::pending().await,
            }
        }
    };
    loop {
        job().await;
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = woken() => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use herald_model::{FixedClock, UnixTime};

    use super::*;

    /// A lease table in memory, for the runner's own tests (services test theirs on SQLite and
    /// PostgreSQL).
    #[derive(Clone, Default)]
    struct Leases(Arc<Mutex<Vec<(String, String, i64)>>>);

    impl LeaseStore for Leases {
        type Error = String;
        async fn try_lease(
            &self,
            job: &str,
            holder: &str,
            now: i64,
            ttl: i64,
        ) -> Result<bool, String> {
            let mut rows = self.0.lock().unwrap();
            match rows.iter_mut().find(|(j, _, _)| j == job) {
                Some((_, h, until)) if h != holder && *until > now => Ok(false),
                Some(row) => {
                    *row = (job.to_owned(), holder.to_owned(), now + ttl);
                    Ok(true)
                }
                None => {
                    rows.push((job.to_owned(), holder.to_owned(), now + ttl));
                    Ok(true)
                }
            }
        }
    }

    #[tokio::test]
    async fn one_holder_runs_and_every_outcome_is_counted() {
        let registry = Arc::new(Registry::new("herald_test", &[]));
        let clock: Arc<dyn Clock> = Arc::new(FixedClock(UnixTime(1_000)));
        let store = Leases::default();
        let a = Lease::new(store.clone(), "a", clock.clone(), 60, "export", registry.clone());
        let b = Lease::new(store, "b", clock, 60, "export", registry.clone());
        assert_eq!(a.run(async { Ok::<_, String>(1) }).await, Some(Ok(1)));
        assert_eq!(b.run(async { Ok::<_, String>(2) }).await, None);
        assert_eq!(a.run(async { Err::<u8, _>("no".to_owned()) }).await, Some(Err("no".into())));
        let state = registry.jobs()["export"];
        assert_eq!((state.ok, state.failed, state.skipped), (1, 1, 1));
    }

    #[tokio::test]
    async fn a_loop_is_alive_until_stopped() {
        let registry = Arc::new(Registry::new("herald_test", &[]));
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let (ran_tx, mut ran_rx) = tokio::sync::mpsc::unbounded_channel();
        let job = tokio::spawn(every(
            "purge",
            registry.clone(),
            Duration::from_hours(1),
            None,
            stop_rx,
            move || {
                let ran = ran_tx.clone();
                async move {
                    let _ = ran.send(());
                }
            },
        ));
        ran_rx.recv().await.unwrap();
        assert!(registry.jobs()["purge"].alive);
        stop_tx.send(true).unwrap();
        job.await.unwrap();
        assert!(!registry.jobs()["purge"].alive);
    }
}
