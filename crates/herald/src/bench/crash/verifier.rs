//! `herald bench crash-verifier` (hidden): DE's dev verifier as `herald verifier serve --dev`
//! runs it, with two settings of a deployment behind a proxy, so that the bench's simulated apps
//! count as the many clients they stand for: each app names its address in `X-Forwarded-For`
//! (the per-client budget of `/api/verify` counts attempts in flight too), and the global
//! failure budget is high enough for the bench's replay of every redeemed code (each replay is
//! a failed attempt, and must be refused as a used code, not as an exhausted budget).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use clap::Args;
use herald_model::CountryCode;
use herald_service::random::Randomness;
use herald_verifier::store::ApiKeyKind;

use crate::dev_files::Listening;

#[derive(Debug, Args)]
pub(crate) struct CrashVerifier {
    /// The dev folder.
    #[arg(long, value_name = "DIR")]
    dev: PathBuf,
    /// Listening address.
    #[arg(long, value_name = "ADDR:PORT")]
    listen: SocketAddr,
    /// Storage instead of the dev folder's SQLite file.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
}

pub(crate) async fn serve(args: &CrashVerifier) -> Result<()> {
    let de: CountryCode = "DE".parse()?;
    let (mut config, keys) = herald_verifier::dev::prepare(&args.dev, de, Some(args.listen))?;
    config.portal.enabled = false;
    config.client_address_header = Some("x-forwarded-for".into());
    config.api.verify_failure_limit = 1_000_000;
    if let Some(url) = &args.database {
        config.database.clone_from(url);
    }
    let verifier =
        herald_verifier::Verifier::build(&config, Arc::new(crate::SystemClock), Randomness::os())
            .await?;
    verifier.register_api_key("dev-admin", ApiKeyKind::Admin, &keys.admin).await?;
    verifier.register_api_key("dev-device", ApiKeyKind::Device, &keys.device).await?;
    let dir = herald_verifier::dev::verifier_dir(&args.dev, de);
    let listening = Listening::start(
        Some(&dir),
        verifier.local_addr(),
        verifier.tls(),
        verifier.internal_addr(),
    )?;
    verifier.run_until_stopped(crate::gateway_cmd::shutdown_signal()).await;
    listening.stopped("verifier");
    Ok(())
}
