//! The `postgres` scenario's outage: a PostgreSQL cluster of the bench's own, crashed and
//! started again, or, where none can start, a shared server whose two databases are closed to
//! connections for the outage; and the scenario's set-up around it.

use anyhow::Result;

use super::world::{Cluster, Databases};
use super::{CrashBench, Report, Scenario, run_scenario};
use crate::bench::scratch_pg::PgDatabases;

/// Where PostgreSQL comes from in the `postgres` scenario, and how it goes away.
pub(super) enum Outage {
    /// A cluster of the bench's own, crashed and started again.
    Private(Cluster),
    /// A shared server: its two databases closed to connections, the open ones ended.
    Shared { admin: String, names: Vec<String> },
}

impl Outage {
    pub(super) async fn begin(&self) -> Result<()> {
        match self {
            Self::Private(cluster) => cluster.crash(),
            Self::Shared { admin, names } => {
                for name in names {
                    shared_sql(admin, &format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
                        .await?;
                    shared_sql(admin, &format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")).await?;
                }
                Ok(())
            }
        }
    }

    pub(super) async fn end(&self) -> Result<()> {
        match self {
            Self::Private(cluster) => cluster.up(),
            Self::Shared { admin, names } => {
                for name in names {
                    shared_sql(admin, &format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
                        .await?;
                }
                Ok(())
            }
        }
    }

    pub(super) fn describe(&self) -> &'static str {
        match self {
            Self::Private(_) => "pg_ctl stop -m immediate (a crash), then start: WAL recovery",
            Self::Shared { .. } => {
                "shared server: databases closed to connections and open ones ended (no cluster of our own could start)"
            }
        }
    }
}

async fn shared_sql(admin: &str, sql: &str) -> Result<()> {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(admin).await?;
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut conn).await?;
    let _ = conn.close().await;
    Ok(())
}

/// The `postgres` scenario: a cluster of its own, else the shared server of `--postgres`, else
/// skipped with a message (`None`).
pub(super) async fn postgres_outage(args: &CrashBench) -> Result<Option<Report>> {
    let (outage, admin) = match Cluster::start(args.pg_bin.as_deref()) {
        Ok(cluster) => {
            let admin = cluster.admin_url();
            (Outage::Private(cluster), admin)
        }
        Err(error) => {
            let Some(admin) = &args.postgres else {
                println!(
                    "scenario   postgres: SKIPPED, no PostgreSQL cluster of our own ({error:#}) and no --postgres"
                );
                println!();
                return Ok(None);
            };
            eprintln!("no PostgreSQL cluster of our own ({error:#}): using {admin}");
            (Outage::Shared { admin: admin.clone(), names: Vec::new() }, admin.clone())
        }
    };
    let (databases, urls) = PgDatabases::create(&admin, 2).await?;
    let outage = match outage {
        Outage::Shared { admin, .. } => {
            Outage::Shared { admin, names: urls.iter().filter_map(|u| database_name(u)).collect() }
        }
        private @ Outage::Private(_) => private,
    };
    let dbs = Databases { verifier: urls.first().cloned(), keyserver: urls.get(1).cloned() };
    let report = run_scenario(args, Scenario::Postgres, Some((&outage, dbs))).await;
    if let Outage::Shared { .. } = outage {
        databases.drop_all().await;
    }
    drop(outage);
    report.map(Some)
}

/// The database of a `postgres://…/name` URL.
fn database_name(url: &str) -> Option<String> {
    let path = url.split('?').next()?;
    Some(path.rsplit('/').next()?.to_owned())
}
