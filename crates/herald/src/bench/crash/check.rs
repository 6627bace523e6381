//! What `herald bench crash` checks once the load is over: what the apps were told against
//! what the services hold. Every acknowledged key is in the key server's store; no code,
//! token or certificate is accepted a second time (neither during the load, where apps retried,
//! nor when the bench replays every one of them); the federation outbox drains and the gateway
//! holds every key exactly once; the export files hold every stored key of a finished window
//! exactly once.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use herald_keyserver::store::{Store, StoredKey, VerificationReportType};
use herald_model::{CountryCode, TemporaryExposureKey};
use herald_runtime::HttpsClient;
use rand::SeedableRng as _;
use rand::rngs::StdRng;

use super::load::{Endpoint, Record};
use crate::bench::app::Flow;

/// Key bytes.
pub(super) type KeyBytes = [u8; 16];

/// Stores `n` keys of DE's own app in the key server's store at `db`, released three hours ago
/// (their hourly export window is due) and due for federation: work the export and federation
/// jobs have in hand when the key server is killed.
pub(super) async fn seed(db: &str, n: usize, now: i64) -> Result<Vec<KeyBytes>> {
    let hour = now / 3600 * 3600;
    let de: CountryCode = "DE".parse()?;
    // A seed no app uses (apps use small seeds from 0): the same keys would be a revision.
    let mut rng = StdRng::seed_from_u64(u64::MAX - 9);
    let keys: Vec<StoredKey> = (0..n)
        .map(|i| {
            let mut bytes = [0u8; 16];
            rand::Rng::fill_bytes(&mut rng, &mut bytes);
            let day = now / 86_400 - 3 - i64::try_from(i % 5).unwrap_or(0);
            StoredKey {
                key: TemporaryExposureKey::from_bytes(bytes),
                transmission_risk: 3,
                source: herald_keyserver::dev::dev_app_id(de),
                regions: vec!["DE".into()],
                traveler: false,
                interval_number: u32::try_from(day * 144).unwrap_or(0),
                interval_count: 144,
                created_at: hour - 3 * 3600,
                local_provenance: true,
                origin: de,
                report_type: Some(VerificationReportType::Confirmed),
                days_since_onset: Some(2),
                revision: None,
            }
        })
        .collect();
    let store = Store::open(db).await.context("the key server's store")?;
    for chunk in keys.chunks(5000) {
        store.insert_keys(chunk, Some(hour - 3600)).await?;
    }
    store.close().await;
    Ok(keys.iter().map(|k| *k.key.as_bytes()).collect())
}

/// What the key server's store holds of the uploads.
#[derive(Debug, Default)]
pub(super) struct Held {
    /// Acknowledged keys it does not hold.
    pub(super) lost: usize,
    /// Uploads whose publish went unanswered and whose retry was refused as a used
    /// certificate: (all their keys stored, not all of them stored). The second is a
    /// certificate used up without its keys.
    pub(super) unanswered: (usize, usize),
}

pub(super) async fn held(db: &str, records: &[Record]) -> Result<Held> {
    let wanted: Vec<TemporaryExposureKey> =
        records.iter().flat_map(|r| r.keys.iter().map(|k| k.key.clone())).collect();
    let store = Store::open(db).await?;
    let mut stored = HashSet::new();
    for chunk in wanted.chunks(500) {
        for key in store.existing_keys(chunk).await? {
            stored.insert(*key.key.as_bytes());
        }
    }
    store.close().await;
    let all_stored = |r: &Record| r.keys.iter().all(|k| stored.contains(k.key.as_bytes()));
    let mut out = Held::default();
    for r in records {
        if r.acknowledged > 0 {
            out.lost += r.keys.iter().filter(|k| !stored.contains(k.key.as_bytes())).count();
        } else if matches!(r.refused, Some((Endpoint::Publish, _, false))) {
            if all_stored(r) {
                out.unanswered.0 += 1;
            } else {
                out.unanswered.1 += 1;
            }
        }
    }
    Ok(out)
}

/// Second acceptances: during the load (an app's retry accepted after the first attempt was)
/// and when every code, token and acknowledged certificate is sent once more now.
#[derive(Debug, Default)]
pub(super) struct Replays {
    pub(super) codes: usize,
    pub(super) tokens: usize,
    pub(super) certificates: usize,
    /// How many were replayed (codes, tokens, certificates).
    pub(super) sent: (usize, usize, usize),
}

pub(super) async fn replay(flow: &Flow, records: &[Record]) -> Result<Replays> {
    let mut out = Replays {
        codes: records.iter().filter(|r| r.tokens > 1).count(),
        tokens: records.iter().filter(|r| r.certificates > 1).count(),
        certificates: records.iter().filter(|r| r.acknowledged > 1).count(),
        sent: (0, 0, 0),
    };
    let mut rng = StdRng::seed_from_u64(11);
    for (i, r) in records.iter().enumerate() {
        // Each replay from an address of its own: the per-client budget is not what refuses it.
        let mut flow = flow.clone();
        flow.address = format!("10.{}.{}.2", 100 + i / 250 % 100, i % 250);
        if r.tokens > 0 {
            out.sent.0 += 1;
            out.codes += usize::from(accepted(flow.verify(Some(&r.code), &mut rng).await)?);
        }
        if let Some(token) = &r.token {
            out.sent.1 += 1;
            let answer = flow.certificate(token, &r.upload, &mut rng).await;
            out.tokens += usize::from(accepted(answer)?);
        }
        if let (Some(certificate), true) = (&r.certificate, r.acknowledged > 0) {
            out.sent.2 += 1;
            let answer = flow.publish(certificate, &r.upload, &mut rng).await;
            out.certificates += usize::from(accepted(answer)?);
        }
    }
    Ok(out)
}

/// Whether a replay was accepted; an error when the service did not give a verdict.
fn accepted(answer: Result<herald_runtime::Answer>) -> Result<bool> {
    let answer = answer.context("a replay got no answer")?;
    let status = answer.status.as_u16();
    if answer.status.is_server_error() || status == 429 {
        bail!("a replay was answered {status}, neither accepted nor refused");
    }
    Ok(status == 200)
}

/// Waits until the key server's federation outbox is empty; how long it took, or `None` when
/// it did not drain within `limit`.
pub(super) async fn drain_outbox(db: &str, limit: Duration) -> Result<Option<Duration>> {
    let started = Instant::now();
    let store = Store::open(db).await?;
    let drained = loop {
        let (waiting, in_flight, _) = store.outbox_counts().await?;
        if waiting == 0 && in_flight == 0 {
            break Some(started.elapsed());
        }
        if started.elapsed() > limit {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    store.close().await;
    Ok(drained)
}

/// Every DE key the gateway hands NL for `dates`, with how often each came; downloaded again
/// until every one of `expected` is there or `limit` passed (the gateway forms download batches
/// from uploads a moment after they land).
pub(super) async fn gateway_keys(
    nl: &HttpsClient,
    dates: &[String],
    expected: &[KeyBytes],
    limit: Duration,
) -> Result<HashMap<KeyBytes, usize>> {
    let started = Instant::now();
    loop {
        let seen = download(nl, dates).await?;
        if expected.iter().all(|k| seen.contains_key(k)) || started.elapsed() > limit {
            return Ok(seen);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn download(nl: &HttpsClient, dates: &[String]) -> Result<HashMap<KeyBytes, usize>> {
    let mut seen: HashMap<KeyBytes, usize> = HashMap::new();
    for date in dates {
        let mut tag: Option<String> = None;
        for _ in 0..100_000 {
            let mut headers = vec![("accept", "application/protobuf; version=1.0")];
            if let Some(t) = &tag {
                headers.push(("batchTag", t.as_str()));
            }
            let path = format!("/diagnosiskeys/download/{date}");
            let answer = nl.request(hyper::Method::GET, &path, &headers, Vec::new()).await?;
            match answer.status.as_u16() {
                200 => {}
                404 if tag.is_none() => break,
                status => bail!("gateway download {date}: HTTP {status}"),
            }
            for key in herald_wire::efgs::decode_protobuf(&answer.body)? {
                if key.origin.as_str() == "DE" {
                    *seen.entry(*key.key.as_bytes()).or_default() += 1;
                }
            }
            match answer.header("nextBatchTag").filter(|t| *t != "null") {
                Some(next) => tag = Some(next.to_owned()),
                None => break,
            }
        }
    }
    Ok(seen)
}

/// Keys in the hourly export files of `exports` (each file's keys), waiting up to `limit` for
/// every one of `expected` to appear.
pub(super) async fn hourly_exports(
    exports: &Path,
    expected: &[KeyBytes],
    limit: Duration,
) -> Result<HashMap<KeyBytes, usize>> {
    let started = Instant::now();
    loop {
        let seen = read_exports(&exports.join("hourly").join("index.txt"), exports)?;
        if expected.iter().all(|k| seen.contains_key(k)) || started.elapsed() > limit {
            return Ok(seen);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn read_exports(index: &Path, root: &Path) -> Result<HashMap<KeyBytes, usize>> {
    let mut seen: HashMap<KeyBytes, usize> = HashMap::new();
    let Ok(index) = std::fs::read_to_string(index) else { return Ok(seen) };
    for name in index.lines().filter(|l| !l.trim().is_empty()) {
        let bytes = std::fs::read(root.join(name.trim()))
            .with_context(|| format!("the index names {name}, which cannot be read"))?;
        let file =
            herald_wire::export::read_zip(&bytes, &herald_wire::export::ReadLimits::default())
                .with_context(|| name.to_owned())?;
        for key in &file.contents.keys {
            *seen.entry(*key.key.as_bytes()).or_default() += 1;
        }
    }
    Ok(seen)
}

/// The key server's outbox: (waiting, in a pending batch, uploaded).
pub(super) async fn outbox_counts(db: &str) -> Result<(i64, i64, i64)> {
    let store = Store::open(db).await?;
    let counts = store.outbox_counts().await?;
    store.close().await;
    Ok(counts)
}
