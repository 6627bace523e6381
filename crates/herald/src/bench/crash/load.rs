//! The load of `herald bench crash`: the apps of `herald bench publish`, each upload through
//! `/api/verify`, `/api/certificate` and `/v1/publish`, plus chaff, but written down rather than
//! timed. An app retries a step whose answer it did not get (the connection broke, or 5xx, or
//! 429), as a real app does, and gives the upload up when a retry is refused: then the first
//! attempt went through and only its answer was lost. What came back is kept per upload, for
//! the checks: how many tokens a code yielded, how many certificates a token, how many
//! acknowledgements a certificate, and the keys of every acknowledged publish.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use herald_model::DiagnosisKey;
use herald_phone::Upload;
use herald_runtime::Answer;
use rand::SeedableRng as _;
use rand::rngs::StdRng;
use serde_json::Value;

use crate::bench::app::Flow;

/// The requests of the upload path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Endpoint {
    Verify,
    Certificate,
    Publish,
    ChaffVerify,
    ChaffPublish,
}

impl Endpoint {
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Verify => "/api/verify",
            Self::Certificate => "/api/certificate",
            Self::Publish => "/v1/publish",
            Self::ChaffVerify => "/api/verify (chaff)",
            Self::ChaffPublish => "/v1/publish (chaff)",
        }
    }
}

/// Answers by endpoint and outcome (`200`, `503`, `no answer`, …), and the longest wait for
/// one by endpoint.
#[derive(Debug, Default)]
pub(super) struct Tally(Mutex<Counts>);

#[derive(Debug, Default)]
struct Counts {
    answers: BTreeMap<(Endpoint, String), usize>,
    longest: BTreeMap<Endpoint, Duration>,
}

impl Tally {
    fn add(&self, endpoint: Endpoint, outcome: String, took: Duration) {
        if let Ok(mut t) = self.0.lock() {
            *t.answers.entry((endpoint, outcome)).or_default() += 1;
            let longest = t.longest.entry(endpoint).or_default();
            *longest = (*longest).max(took);
        }
    }

    fn note(&self, endpoint: Endpoint, answer: &Result<Answer>, took: Duration) {
        let outcome = match answer {
            Ok(a) if a.status.is_client_error() => {
                format!("{} ({})", a.status.as_u16(), reason(&a.body))
            }
            Ok(a) => a.status.as_u16().to_string(),
            Err(_) => "no answer".to_owned(),
        };
        self.add(endpoint, outcome, took);
    }

    /// One line per endpoint: `/v1/publish: 812 × 200, 30 × no answer`.
    pub(super) fn lines(&self) -> Vec<String> {
        let Ok(t) = self.0.lock() else { return Vec::new() };
        let mut by: BTreeMap<Endpoint, Vec<String>> = BTreeMap::new();
        for ((endpoint, outcome), n) in &t.answers {
            by.entry(*endpoint).or_default().push(format!("{n} × {outcome}"));
        }
        by.into_iter()
            .map(|(e, o)| {
                let longest = t.longest.get(&e).copied().unwrap_or_default().as_secs_f64();
                format!("{}: {} (longest {longest:.2} s)", e.name(), o.join(", "))
            })
            .collect()
    }

    /// Answers of `endpoint` whose outcome starts with `outcome` (`503`, `401 (`, …).
    pub(super) fn count(&self, endpoint: Endpoint, outcome: &str) -> usize {
        self.0.lock().map_or(0, |t| {
            t.answers
                .iter()
                .filter(|((e, o), _)| *e == endpoint && o.starts_with(outcome))
                .map(|(_, n)| n)
                .sum()
        })
    }
}

/// Why a request was refused: the answer's `error` (ENS and the verifier), shortened.
fn reason(body: &[u8]) -> String {
    let json: Value = serde_json::from_slice(body).unwrap_or_default();
    let text = json.get("error").and_then(Value::as_str).unwrap_or("no message");
    let text = text.strip_prefix("unable to validate diagnosis verification: ").unwrap_or(text);
    text.chars().take(60).collect()
}

/// What one upload got back.
#[derive(Debug)]
pub(super) struct Record {
    pub(super) code: String,
    /// 200 answers of `/api/verify` for the code.
    pub(super) tokens: usize,
    pub(super) token: Option<String>,
    /// 200 answers of `/api/certificate` for the token.
    pub(super) certificates: usize,
    pub(super) certificate: Option<String>,
    /// 200 answers of `/v1/publish` for the certificate.
    pub(super) acknowledged: usize,
    pub(super) keys: Vec<DiagnosisKey>,
    pub(super) upload: Upload,
    /// The step that was refused, how, and whether on its first attempt: every request of the
    /// bench is valid, so only a retry (whose first attempt went through unanswered) may be.
    pub(super) refused: Option<(Endpoint, u16, bool)>,
}

/// How a step ended.
enum Step {
    Done(Value),
    /// The status, and whether it was the first attempt.
    Refused(u16, bool),
}

/// The apps' work, shared.
pub(super) struct Load {
    pub(super) flow: Flow,
    pub(super) apps: usize,
    /// Seeds each app's random numbers (its keys): app `i` uses `seed + i`.
    pub(super) seed: u64,
    pub(super) codes: Vec<String>,
    pub(super) chaff: usize,
    /// Jobs (uploads and chaff pairs) finished so far.
    pub(super) done: Arc<AtomicUsize>,
    pub(super) tally: Arc<Tally>,
}

/// How long an app keeps retrying one step before it gives the whole run up as failed: longer
/// than any outage the bench makes plus a database pool's wait.
const PATIENCE: Duration = Duration::from_mins(3);

impl Load {
    /// Every job, in a shuffled order, by `apps` apps at once. Returns one record per upload.
    pub(super) async fn run(&self) -> Result<Vec<Record>> {
        #[derive(Clone, Copy)]
        enum Job {
            Upload(usize),
            Chaff,
        }
        let mut jobs: Vec<Job> = (0..self.codes.len()).map(Job::Upload).collect();
        jobs.extend(std::iter::repeat_n(Job::Chaff, self.chaff));
        rand::seq::SliceRandom::shuffle(jobs.as_mut_slice(), &mut StdRng::seed_from_u64(7));
        let queue = Arc::new(Mutex::new(jobs));
        let codes = Arc::new(self.codes.clone());
        let mut apps = tokio::task::JoinSet::new();
        for app in 0..self.apps {
            let mut flow = self.flow.clone();
            flow.address = format!("10.{}.{}.1", app / 250, app % 250);
            let (queue, codes, done, tally) =
                (queue.clone(), codes.clone(), self.done.clone(), self.tally.clone());
            let seed = self.seed.wrapping_add(app as u64);
            apps.spawn(async move {
                let mut rng = StdRng::seed_from_u64(seed);
                let mut records = Vec::new();
                loop {
                    let job = queue.lock().ok().and_then(|mut q| q.pop());
                    let Some(job) = job else { return Ok::<_, anyhow::Error>(records) };
                    match job {
                        Job::Upload(i) => {
                            let code = codes.get(i).context("a code per upload")?;
                            records.push(upload(&flow, code, &tally, &mut rng).await?);
                        }
                        Job::Chaff => {
                            let t = Instant::now();
                            let verify = flow.verify(None, &mut rng).await;
                            tally.note(Endpoint::ChaffVerify, &verify, t.elapsed());
                            let t = Instant::now();
                            let publish = flow.chaff_publish(&mut rng).await;
                            tally.note(Endpoint::ChaffPublish, &publish, t.elapsed());
                        }
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        let mut records = Vec::new();
        while let Some(finished) = apps.join_next().await {
            records.extend(finished.context("an app task failed")??);
        }
        Ok(records)
    }
}

/// Sends a step again until it is answered and not with 5xx or 429; `send` is evaluated anew
/// for every attempt.
macro_rules! retried {
    ($tally:expr, $endpoint:expr, $send:expr) => {{
        let started = Instant::now();
        let mut first = true;
        loop {
            let t = Instant::now();
            let answer = $send;
            $tally.note($endpoint, &answer, t.elapsed());
            match answer {
                Ok(a) if a.status.as_u16() == 200 => {
                    break Step::Done(crate::bench::app::json_of($endpoint.name(), &a)?);
                }
                Ok(a) if !a.status.is_server_error() && a.status.as_u16() != 429 => {
                    break Step::Refused(a.status.as_u16(), first);
                }
                _ => first = false,
            }
            if started.elapsed() > PATIENCE {
                anyhow::bail!("{} did not recover within {PATIENCE:?}", $endpoint.name());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }};
}

/// One upload: each step retried until answered; a refused retry ends it.
async fn upload(flow: &Flow, code: &str, tally: &Tally, rng: &mut StdRng) -> Result<Record> {
    let keys = flow.new_keys(rng);
    let upload = Upload::new(&keys, rng);
    let mut record = Record {
        code: code.to_owned(),
        tokens: 0,
        token: None,
        certificates: 0,
        certificate: None,
        acknowledged: 0,
        keys,
        upload,
        refused: None,
    };
    let token = match retried!(tally, Endpoint::Verify, flow.verify(Some(code), rng).await) {
        Step::Done(json) => crate::bench::app::field(&json, "token")?,
        Step::Refused(status, first) => {
            record.refused = Some((Endpoint::Verify, status, first));
            return Ok(record);
        }
    };
    record.tokens += 1;
    record.token = Some(token.clone());
    let certificate = match retried!(
        tally,
        Endpoint::Certificate,
        flow.certificate(&token, &record.upload, rng).await
    ) {
        Step::Done(json) => crate::bench::app::field(&json, "certificate")?,
        Step::Refused(status, first) => {
            record.refused = Some((Endpoint::Certificate, status, first));
            return Ok(record);
        }
    };
    record.certificates += 1;
    record.certificate = Some(certificate.clone());
    match retried!(tally, Endpoint::Publish, flow.publish(&certificate, &record.upload, rng).await)
    {
        Step::Done(_) => record.acknowledged += 1,
        Step::Refused(status, first) => record.refused = Some((Endpoint::Publish, status, first)),
    }
    Ok(record)
}
