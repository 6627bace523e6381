//! One hour of the night: federation up and down, the key servers' exports, and each country's
//! phones downloading, verifying and checking the new export files.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use herald_gaen::KeyIndex;
use herald_model::Clock as _;
use herald_phone::verified_keys;
use herald_sim::PersonId;
use rayon::prelude::*;

use super::world::{Country, get};
use super::{Run, Stage, Tally};

impl Run {
    /// One hour of the night: federation up and down, exports, phones.
    pub(super) async fn night_hour(&mut self) -> Result<()> {
        let t = Instant::now();
        let mut sent = Vec::new();
        for country in &self.world.countries {
            let report = country.federation.upload_once().await?;
            sent.push(report.keys);
        }
        let total: usize = sent.iter().sum();
        for (i, tally) in self.tally.iter_mut().enumerate() {
            let own = sent.get(i).copied().unwrap_or(0);
            tally.row.keys_federated += own;
            tally.expected_received += total - own;
        }
        for (country, tally) in self.world.countries.iter().zip(&mut self.tally) {
            // The gateway batches uploads within a second of wall time: poll until the keys
            // the others sent have arrived.
            let since = Instant::now();
            while tally.received < tally.expected_received {
                let report = country.federation.download_once().await?;
                tally.received += report.received;
                tally.row.keys_imported += report.imported;
                if tally.received >= tally.expected_received {
                    break;
                }
                if since.elapsed() > Duration::from_mins(1) {
                    bail!(
                        "{}: waited a minute for {} keys from the gateway, got {}",
                        country.code,
                        tally.expected_received,
                        tally.received
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        self.spent(Stage::Federate, t);

        let t = Instant::now();
        for country in &self.world.countries {
            country.exporter.run_once().await?;
        }
        self.spent(Stage::Export, t);

        let t = Instant::now();
        let now = self.world.clock.now();
        for i in 0..self.world.countries.len() {
            let Some(country) = self.world.countries.get(i) else { continue };
            let Some(tally) = self.tally.get_mut(i) else { continue };
            let keys = download_new(country, tally).await?;
            if keys.is_empty() {
                continue;
            }
            let index = KeyIndex::new(keys, self.policy.matching);
            let policy = &self.policy;
            let warned: Vec<PersonId> = tokio::task::block_in_place(|| {
                self.sim
                    .people_mut()
                    .par_iter_mut()
                    .enumerate()
                    .filter(|(_, p)| p.country == i)
                    .filter_map(|(id, p)| {
                        let check = p.phone.check_index(&index, policy, now);
                        check.notify.then(|| PersonId::try_from(id).ok()).flatten()
                    })
                    .collect()
            });
            for who in warned {
                self.warned_at.entry(who).or_insert(now);
            }
        }
        self.spent(Stage::Phones, t);
        Ok(())
    }
}

/// The new export files of `country`'s hourly index, verified with its export key as the app
/// does; returns their keys and records them.
pub(super) async fn download_new(
    country: &Country,
    tally: &mut Tally,
) -> Result<Vec<herald_model::DiagnosisKey>> {
    let answer = country
        .keyserver
        .request(hyper::Method::GET, "/exports/hourly/index.txt", &[], Vec::new())
        .await?;
    if answer.status.as_u16() == 404 {
        return Ok(Vec::new());
    }
    if answer.status.as_u16() != 200 {
        bail!("{}: GET /exports/hourly/index.txt: HTTP {}", country.code, answer.status);
    }
    let index = String::from_utf8_lossy(&answer.body).into_owned();
    let mut keys = Vec::new();
    for name in tally.downloads.new_entries(&index) {
        let zip = get(&country.keyserver, &format!("/exports/{name}")).await?;
        let file_keys = verified_keys(&zip, &country.export_key)
            .with_context(|| format!("{}: export file {name}", country.code))?;
        tally.downloads.done(name);
        tally.row.export_files += 1;
        tally.row.exported_keys += file_keys.len();
        tally.exported.extend(file_keys.iter().map(|k| *k.key.as_bytes()));
        keys.extend(file_keys);
    }
    Ok(keys)
}
