//! The demo's world: a dev PKI in `OUT/world`, the federation gateway, and per country a
//! verification service and a key server, all in this process on 127.0.0.1 over real HTTPS and
//! on one manual clock. The key servers' background jobs are held (their leases taken) so the
//! demo runs federation and exports itself, hour by simulated hour.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use herald_gateway::{Gateway, GatewayConfig};
use herald_keyserver::Keyserver;
use herald_keyserver::export::Exporter;
use herald_keyserver::federation::Federation;
use herald_model::{Clock, CountryCode, ManualClock, UnixTime};
use herald_runtime::{Answer, HttpsClient};
use herald_service::random::Randomness;
use herald_trust::{DevValidity, generate_dev_pki};
use herald_verifier::Verifier;
use herald_verifier::store::ApiKeyKind;
use hyper::Method;
use p256::ecdsa::VerifyingKey;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// One country's services, as its case workers and apps see them.
pub(crate) struct Country {
    pub(crate) code: CountryCode,
    /// The verification service (case workers with the admin key, apps with the device key).
    pub(crate) verifier: HttpsClient,
    pub(crate) admin_key: String,
    pub(crate) device_key: String,
    /// The key server (publish, and the export files it serves).
    pub(crate) keyserver: HttpsClient,
    /// The key server's export public key, which the country's app ships with.
    pub(crate) export_key: VerifyingKey,
    /// The app's healthAuthorityID.
    pub(crate) app_id: String,
    pub(crate) exporter: Arc<Exporter>,
    pub(crate) federation: Arc<Federation>,
}

/// Everything running.
pub(crate) struct World {
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) countries: Vec<Country>,
    running: Vec<(oneshot::Sender<()>, JoinHandle<()>)>,
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn spawn<F>(
    running: &mut Vec<(oneshot::Sender<()>, JoinHandle<()>)>,
    run: impl FnOnce(oneshot::Receiver<()>) -> F,
) where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let (stop, stopped) = oneshot::channel();
    running.push((stop, tokio::spawn(run(stopped))));
}

impl World {
    /// Creates the world in `dir` (which must not exist yet) for `countries`, with the clock at
    /// `start`.
    pub(crate) async fn start(
        dir: &Path,
        countries: &[CountryCode],
        start: UnixTime,
        random: &Randomness,
    ) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        // Certificates valid for the wall clock (TLS) and for the simulated days (the gateway
        // checks batch signers on the manual clock).
        let system = crate::SystemClock.now();
        let from = UnixTime(system.seconds().min(start.seconds()) - 86_400);
        let pki = generate_dev_pki(countries, &DevValidity::around(from)?)?;
        for file in pki.files() {
            let path = dir.join(&file.path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
            std::fs::write(&path, file.contents)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        let clock = Arc::new(ManualClock::new(start));
        let dyn_clock: Arc<dyn Clock> = clock.clone();
        let mut running = Vec::new();
        let ca_pem = read(&dir.join(herald_trust::layout::ca_cert()))?;

        // The gateway, trusting every country's certificates.
        let (config, _): (GatewayConfig, usize) =
            crate::gateway_cmd::prepare_dev(dir, None, None, clock.as_ref()).await?;
        let gateway = Gateway::build(&config, dyn_clock.clone()).await?;
        let gateway_url =
            format!("https://{}", gateway.local_addr().context("the gateway has no address")?);
        std::fs::write(dir.join("gateway").join("url"), &gateway_url)?;
        spawn(&mut running, |stopped| {
            gateway.run_until_stopped(async move {
                let _ = stopped.await;
            })
        });

        let mut out = Vec::new();
        for &code in countries {
            // The verifier first: the key server finds it through DIR/<CC>/verifier/url.
            let (mut vconfig, keys) = herald_verifier::dev::prepare(dir, code, None)?;
            vconfig.portal.enabled = false;
            let verifier = Verifier::build(&vconfig, dyn_clock.clone(), random.clone()).await?;
            verifier.register_api_key("demo-case-workers", ApiKeyKind::Admin, &keys.admin).await?;
            verifier.register_api_key("demo-app", ApiKeyKind::Device, &keys.device).await?;
            let verifier_url = format!(
                "https://{}",
                verifier.local_addr().context("the verifier has no address")?
            );
            std::fs::write(
                herald_verifier::dev::verifier_dir(dir, code).join("url"),
                &verifier_url,
            )?;
            spawn(&mut running, |stopped| {
                verifier.run_until_stopped(async move {
                    let _ = stopped.await;
                })
            });

            let mut kconfig = herald_keyserver::dev::prepare(dir, code, None)?;
            if let Some(f) = &mut kconfig.federation {
                // The demo downloads after each upload round itself.
                f.callback_listen = None;
            }
            hold_jobs(&kconfig.database, start).await?;
            let keyserver = Keyserver::build(&kconfig, dyn_clock.clone(), random.clone()).await?;
            let keyserver_url = format!(
                "https://{}",
                keyserver.local_addr().context("the key server has no address")?
            );
            let exporter = keyserver.exporter();
            let federation = keyserver
                .federation()
                .ok_or_else(|| anyhow!("{code}: no federation configured"))?;
            spawn(&mut running, |stopped| {
                keyserver.run_until_stopped(async move {
                    let _ = stopped.await;
                })
            });
            let export_pem = read(
                &herald_keyserver::dev::keyserver_dir(dir, code).join("export-signing.pub.pem"),
            )?;
            out.push(Country {
                code,
                verifier: HttpsClient::new(&verifier_url, &ca_pem, None)?,
                admin_key: keys.admin.clone(),
                device_key: keys.device.clone(),
                keyserver: HttpsClient::new(&keyserver_url, &ca_pem, None)?,
                export_key: herald_wire::export::public_key_from_pem(&export_pem)?,
                app_id: herald_keyserver::dev::dev_app_id(code),
                exporter,
                federation,
            });
        }
        Ok(Self { clock, countries: out, running })
    }

    /// Stops every service.
    pub(crate) async fn stop(self) {
        for (stop, task) in self.running {
            let _ = stop.send(());
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }
}

/// Takes the leases of the key server's background jobs for 60 days, so only the demo runs them.
async fn hold_jobs(database: &str, now: UnixTime) -> Result<()> {
    let store = herald_keyserver::store::Store::open(database).await?;
    for job in herald_keyserver::app::JOBS {
        store.try_lease(job, "herald demo", now.seconds(), 60 * 86_400).await?;
    }
    store.close().await;
    Ok(())
}

/// A JSON POST; the answer whatever its status.
pub(crate) async fn post(
    client: &HttpsClient,
    path: &str,
    api_key: Option<&str>,
    chaff: bool,
    body: String,
) -> Result<Answer> {
    let mut headers = vec![("content-type", "application/json")];
    if let Some(key) = api_key {
        headers.push(("x-api-key", key));
    }
    if chaff {
        headers.push(("x-chaff", "1"));
    }
    Ok(client.request(Method::POST, path, &headers, body.into_bytes()).await?)
}

/// A GET that must answer 200.
pub(crate) async fn get(client: &HttpsClient, path: &str) -> Result<Vec<u8>> {
    let answer = client.request(Method::GET, path, &[], Vec::new()).await?;
    if answer.status.as_u16() != 200 {
        anyhow::bail!("GET {path}: HTTP {}", answer.status);
    }
    Ok(answer.body.to_vec())
}
