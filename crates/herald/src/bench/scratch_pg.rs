//! Throw-away PostgreSQL databases for `herald bench publish --postgres`.

use anyhow::{Context as _, Result, bail};
use sqlx::Connection as _;

/// Fresh PostgreSQL databases for the verifier and the key server, dropped on [`Drop`]-less
/// cleanup by [`PgDatabases::drop_all`].
pub(super) struct PgDatabases {
    admin: String,
    names: Vec<String>,
}

impl PgDatabases {
    pub(super) async fn create(admin: &str, n: usize) -> Result<(Self, Vec<String>)> {
        let mut conn = sqlx::PgConnection::connect(admin)
            .await
            .with_context(|| "cannot connect to PostgreSQL (--postgres)".to_owned())?;
        let tag = std::process::id();
        let mut names = Vec::new();
        let mut urls = Vec::new();
        for i in 0..n {
            let name = format!("herald_bench_{tag}_{i}");
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}")))
                .execute(&mut conn)
                .await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await?;
            urls.push(replace_database(admin, &name)?);
            names.push(name);
        }
        let _ = conn.close().await;
        Ok((Self { admin: admin.to_owned(), names }, urls))
    }

    pub(super) async fn drop_all(self) {
        let Ok(mut conn) = sqlx::PgConnection::connect(&self.admin).await else { return };
        for name in &self.names {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await;
        }
        let _ = conn.close().await;
    }
}

/// `postgres://user@host:port/db?x` with the database replaced by `name`.
fn replace_database(url: &str, name: &str) -> Result<String> {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let rest = base.strip_prefix("postgres://").or_else(|| base.strip_prefix("postgresql://"));
    let Some(rest) = rest else { bail!("--postgres must be a postgres:// URL") };
    let authority = rest.split_once('/').map_or(rest, |(a, _)| a);
    Ok(match query {
        Some(q) => format!("postgres://{authority}/{name}?{q}"),
        None => format!("postgres://{authority}/{name}"),
    })
}
