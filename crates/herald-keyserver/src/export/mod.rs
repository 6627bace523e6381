//! The export pipeline (key-server.md §5, §6.4–6.6): windows per export configuration, signed
//! GAEN export files in an object store, an index per configuration, padding with fake keys,
//! and two-phase retention.
//!
//! One run ([`Exporter::run_once`]), per configuration:
//! 1. **Windows.** Windows are aligned to the period; `[T − p, T)` is due once
//!    `T ≤ hour(now − min_window_age)`. The first run starts at the earliest stored key's window
//!    (never older than the retention), so no key is ever skipped (ENS creates only the latest
//!    window on its first run; a server started after keys arrived would lose them).
//! 2. **Files.** Keys released in the window (release time = `created_at`, already pushed past
//!    the embargo at publish or import) are streamed in key order page by page into
//!    [`ExportBuilder`], which signs and splits at `max_records`; revised keys of the window go
//!    into `revised_keys` with their revised report type, onset and transmission risk.
//! 3. **Padding** ([`padding`]). The window's own keys (never the federated ones) are padded:
//!    below `min_records` (none included, once the server has stored any key) to
//!    `min_records + rand[0, padding_range]`, above it
//!    to the next rung of the ladder (`padding_ladder_percent`), with fake keys shaped after the
//!    server's recent real keys; fakes are stored (so a re-run or the federation sees the same
//!    set) and queued for the gateway like real keys. A window that holds fakes already (a
//!    finer series padded it, or a run stopped before completing it) is not padded again;
//!    padding series run first, so that fakes a coarse window adds to its last hour are in the
//!    finer series' file of that hour too.
//! 4. **Index.** `<name>/index.txt` lists the complete files, sorted, no trailing newline.
//! 5. **Retention.** Files of windows that ended before the retention are first dropped from
//!    the index (`del_pend`), then deleted from the store: the index never names a missing file.

pub mod blobs;
pub mod padding;

use std::sync::Arc;

use herald_model::{
    Clock, CountryCode, DaysSinceOnset, DiagnosisKey, IntervalNumber, RollingPeriod,
    TransmissionRiskLevel,
};
use herald_service::random::Randomness;
use herald_wire::export::{ExportBuilder, ExportSigner, ExportSpec, FileSigner};

pub use self::blobs::{BlobError, Blobs};
use self::padding::{FAKE_SOURCE, FakeSpec, POOL_DAYS, Padding};
use crate::config::ExportConfigEntry;
use crate::store::ReportColumn as _;
use crate::store::{ExportFileRow, KeyRange, PageCursor, Store, StoreError, StoredKey, Which};

/// Keys per page read from the store while streaming a window.
const PAGE: i64 = 5000;

/// An export signing key with its retirement time.
pub struct ExportKey {
    /// The signer.
    pub signer: FileSigner,
    /// Signs no more from this Unix time on.
    pub until: Option<i64>,
}

/// Why an export run failed (the next run retries).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportJobError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The object store failed.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// Building or signing a file failed.
    #[error("building an export file: {0}")]
    Build(String),
    /// No signing key is valid now.
    #[error("no export signing key is valid now")]
    NoSigner,
}

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ExportReport {
    /// Windows exported.
    pub batches: usize,
    /// Files written.
    pub files: usize,
    /// Keys written (primary + revised, fakes included).
    pub keys: usize,
    /// Fake keys generated.
    pub fakes: usize,
    /// Files deleted by retention.
    pub deleted: usize,
}

/// What the export job does, from the configuration.
#[derive(Debug, Clone)]
pub struct ExportSettings {
    /// The export configurations: one series of windows and one index each.
    pub configs: Vec<ExportConfigEntry>,
    /// The origin of the fake keys.
    pub country: CountryCode,
    /// Seconds after its end before a window is exported.
    pub min_window_age: i64,
    /// Days a window's files are kept.
    pub retention_days: i64,
    /// Whether fake keys go to the federation outbox.
    pub federate_fakes: bool,
}

/// The export job.
pub struct Exporter {
    store: Store,
    blobs: Blobs,
    keys: Vec<ExportKey>,
    clock: Arc<dyn Clock>,
    settings: ExportSettings,
    retention_seconds: i64,
    /// How many fake keys, and their bytes.
    random: Randomness,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter")
            .field("blobs", &self.blobs)
            .field("configs", &self.settings.configs.len())
            .finish_non_exhaustive()
    }
}

fn hour(t: i64) -> i64 {
    t.div_euclid(3600) * 3600
}

impl Exporter {
    /// A job over the configurations of `settings`, signing with `keys`, writing to `blobs`.
    pub fn new(
        store: Store,
        blobs: Blobs,
        keys: Vec<ExportKey>,
        clock: Arc<dyn Clock>,
        settings: ExportSettings,
    ) -> Self {
        Self {
            store,
            blobs,
            keys,
            clock,
            retention_seconds: settings.retention_days.saturating_mul(86_400),
            settings,
            random: Randomness::os(),
        }
    }

    /// The same exporter drawing its padding and fake keys from `random` (the operating
    /// system's generator otherwise).
    #[must_use]
    pub fn with_randomness(mut self, random: Randomness) -> Self {
        self.random = random;
        self
    }

    /// The object store.
    pub fn blobs(&self) -> &Blobs {
        &self.blobs
    }

    /// One run over every configuration.
    pub async fn run_once(&self) -> Result<ExportReport, ExportJobError> {
        let mut report = ExportReport::default();
        // Padding series first, finer before coarser (see the module documentation).
        let mut configs: Vec<&ExportConfigEntry> = self.settings.configs.iter().collect();
        configs.sort_by_key(|c| (!Padding::of(c).is_on(), c.period_seconds));
        for config in configs {
            self.run_config(config, &mut report).await?;
        }
        Ok(report)
    }

    async fn run_config(
        &self,
        config: &ExportConfigEntry,
        report: &mut ExportReport,
    ) -> Result<(), ExportJobError> {
        let now = self.clock.now().seconds();
        let period = config.period_seconds;
        let latest_end = hour(now - self.settings.min_window_age).div_euclid(period) * period;
        let oldest_start = (now - self.retention_seconds).div_euclid(period) * period;
        let first_start = match self.store.last_export_end(&config.name).await? {
            Some(end) => end,
            None => match self.store.earliest_release().await? {
                Some(t) => t.div_euclid(period) * period,
                None => latest_end - period,
            },
        }
        .max(oldest_start);
        let windows = (latest_end - first_start).div_euclid(period).max(0);
        let starts: Vec<i64> = (0..windows).map(|i| first_start + i * period).collect();
        self.store.create_export_batches(&config.name, &starts, period).await?;
        let mut changed = false;
        for batch in self.store.open_export_batches(&config.name).await? {
            if batch.end_time > latest_end {
                continue;
            }
            let files =
                self.export_window(config, batch.start_time, batch.end_time, report).await?;
            self.store.complete_export_batch(batch.id, &files).await?;
            report.batches += 1;
            changed = true;
        }
        let cutoff = now - self.retention_seconds;
        let expired = self.store.mark_expired_files(&config.name, cutoff).await?;
        if changed || expired > 0 || !self.blobs.exists(&index_name(config)).await? {
            self.write_index(config).await?;
        }
        for name in self.store.files_to_delete(&config.name).await? {
            self.blobs.delete(&name).await?;
            self.store.file_deleted(&name).await?;
            report.deleted += 1;
        }
        Ok(())
    }

    async fn write_index(&self, config: &ExportConfigEntry) -> Result<(), ExportJobError> {
        let files = self.store.index_files(&config.name).await?;
        self.blobs.put(&index_name(config), files.join("\n").into_bytes()).await?;
        Ok(())
    }

    fn selected(config: &ExportConfigEntry, key: &StoredKey) -> bool {
        if config.include_travelers && key.traveler {
            return true;
        }
        config
            .input_regions
            .iter()
            .any(|r| r == "*" || key.regions.iter().any(|k| k.eq_ignore_ascii_case(r)))
    }

    /// Pads the window's own keys with stored fake keys (key-server.md §5.5, §6.4).
    async fn pad(
        &self,
        config: &ExportConfigEntry,
        start: i64,
        end: i64,
    ) -> Result<usize, ExportJobError> {
        let padding = Padding::of(config);
        // Windows before the first key the server ever stored (before launch) stay empty.
        let first = self.store.earliest_release().await?;
        if !padding.is_on() || first.is_none_or(|first| end <= first) {
            return Ok(0);
        }
        let (mut real, mut fakes) = (0usize, 0usize);
        let mut after = None;
        loop {
            let page = self
                .store
                .window_page(Which::Released, (start, end), &KeyRange::all(), after.as_ref(), PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(PageCursor::after(Which::Released, last));
            for key in page.iter().filter(|k| k.local_provenance && Self::selected(config, k)) {
                if key.source == FAKE_SOURCE { fakes += 1 } else { real += 1 }
            }
        }
        if fakes > 0 {
            return Ok(0);
        }
        let target = self.random.with(|rng| padding.draw_target(real, rng));
        let needed = target.saturating_sub(real);
        if needed == 0 {
            return Ok(0);
        }
        let pool = self.pool(config, end).await?;
        let regions: Vec<String> = match config.input_regions.iter().find(|r| *r != "*") {
            Some(region) => vec![region.to_ascii_uppercase()],
            None => vec![self.settings.country.as_str().to_owned()],
        };
        let spec = FakeSpec {
            origin: self.settings.country,
            regions: &regions,
            // The window's last hour: a finer series exports that hour after this one.
            release: end - 3600,
        };
        let fakes = self.random.with(|rng| padding::fakes(&pool, needed, &spec, rng));
        let federate = self.settings.federate_fakes.then_some(self.clock.now().seconds());
        Ok(self.store.insert_keys(&fakes, federate).await?)
    }

    /// The server's newest own real keys of the [`POOL_DAYS`] days before `end` (at most
    /// [`PAGE`]): what padding keys take their shape from.
    async fn pool(
        &self,
        config: &ExportConfigEntry,
        end: i64,
    ) -> Result<Vec<StoredKey>, ExportJobError> {
        let window = (end - POOL_DAYS * 86_400, end);
        let keys = self.store.recent_own_keys(window, FAKE_SOURCE, PAGE).await?;
        Ok(keys.into_iter().filter(|k| Self::selected(config, k)).collect())
    }

    async fn export_window(
        &self,
        config: &ExportConfigEntry,
        start: i64,
        end: i64,
        report: &mut ExportReport,
    ) -> Result<Vec<ExportFileRow>, ExportJobError> {
        report.fakes += self.pad(config, start, end).await?;
        let now = self.clock.now().seconds();
        let signers: Vec<&dyn ExportSigner> = self
            .keys
            .iter()
            .filter(|k| k.until.is_none_or(|u| u > now))
            .take(10)
            .map(|k| &k.signer as &dyn ExportSigner)
            .collect();
        if signers.is_empty() {
            return Err(ExportJobError::NoSigner);
        }
        // Read the window (primary keys, then revised keys) in key order, so that which keys
        // share a file says nothing about when they arrived. The window is read in slices of
        // the key space, each small enough to sort in memory (about half a file), through the
        // (time, key) index: every page is one index range scan. The builder holds at most one
        // file's keys.
        let mut keys: Vec<(DiagnosisKey, bool)> = Vec::new();
        let mut files = Vec::new();
        for which in [Which::Released, Which::Revised] {
            let revised = which == Which::Revised;
            let count = usize::try_from(self.store.count_window(which, start, end).await?)
                .unwrap_or(usize::MAX);
            let slices = count.div_ceil(config.max_records.div_ceil(2).max(1)).max(1);
            for range in KeyRange::slices(slices) {
                let mut slice = Vec::new();
                let mut after = None;
                loop {
                    let page = self
                        .store
                        .window_page(which, (start, end), &range, after.as_ref(), PAGE)
                        .await?;
                    let Some(last) = page.last() else { break };
                    after = Some(PageCursor::after(which, last));
                    slice.extend(
                        page.iter()
                            .filter(|k| Self::selected(config, k))
                            .filter_map(|k| to_export_key(k, revised).map(|d| (d, revised))),
                    );
                }
                slice.sort_unstable_by(|a, b| a.0.key.cmp(&b.0.key));
                keys.extend(slice);
                while keys.len() > config.max_records {
                    // Flush whole files as soon as more than one file's worth is buffered.
                    let rest = keys.split_off(config.max_records);
                    let full = std::mem::replace(&mut keys, rest);
                    self.write_files(config, start, end, full, &signers, &mut files, true).await?;
                }
            }
        }
        let split = !files.is_empty();
        self.write_files(config, start, end, keys, &signers, &mut files, split).await?;
        report.files += files.len();
        report.keys += files
            .iter()
            .map(|f: &ExportFileRow| usize::try_from(f.keys + f.revised).unwrap_or(0))
            .sum::<usize>();
        Ok(files)
    }

    #[allow(clippy::too_many_arguments)]
    async fn write_files(
        &self,
        config: &ExportConfigEntry,
        start: i64,
        end: i64,
        keys: Vec<(DiagnosisKey, bool)>,
        signers: &[&dyn ExportSigner],
        files: &mut Vec<ExportFileRow>,
        split: bool,
    ) -> Result<(), ExportJobError> {
        if keys.is_empty() {
            return Ok(());
        }
        let file_num = files.len() + 1;
        let spec = ExportSpec {
            region: config.region.clone(),
            start_timestamp: u64::try_from(start).unwrap_or(0),
            // A split window gives each file its own end (end + n, ENS); see ExportBuilder.
            end_timestamp: u64::try_from(end).unwrap_or(0).saturating_add(if split {
                u64::try_from(file_num).unwrap_or(0)
            } else {
                0
            }),
            max_records: config.max_records,
            signers: signers.to_vec(),
        };
        let builder = ExportBuilder::new(spec, keys.into_iter())
            .map_err(|e| ExportJobError::Build(e.to_string()))?;
        for built in builder {
            let built = built.map_err(|e| ExportJobError::Build(e.to_string()))?;
            let name = format!("{}/{start}-{end}-{:05}.zip", config.name, files.len() + 1);
            self.blobs.put(&name, built.zip).await?;
            files.push(ExportFileRow {
                name,
                keys: i64::try_from(built.key_count).unwrap_or(i64::MAX),
                revised: i64::try_from(built.revised_key_count).unwrap_or(i64::MAX),
            });
        }
        Ok(())
    }
}

/// `<name>/index.txt`.
pub fn index_name(config: &ExportConfigEntry) -> String {
    format!("{}/index.txt", config.name)
}

/// The export form of a stored key; `revised` takes the revision's report type, onset and
/// transmission risk (ENS exports the original TR there: key-server.md §10 item 2, fixed).
fn to_export_key(key: &StoredKey, revised: bool) -> Option<DiagnosisKey> {
    let (report_type, dsos, tr) = match (&key.revision, revised) {
        (Some(r), true) => (r.report_type, r.days_since_onset, r.transmission_risk),
        (None, true) => return None,
        (_, false) => (key.report_type, key.days_since_onset, key.transmission_risk),
    };
    Some(DiagnosisKey {
        key: key.key.clone(),
        rolling_start: IntervalNumber(key.interval_number),
        rolling_period: RollingPeriod::new(key.interval_count).ok()?,
        transmission_risk_level: TransmissionRiskLevel::new(i32::from(tr)).ok()?,
        report_type: report_type.export(),
        days_since_onset: dsos.and_then(|d| DaysSinceOnset::new(d).ok()),
    })
}
