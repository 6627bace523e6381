//! Fresh databases for tests, on both backends (STYLE rule 20).
//!
//! SQLite tests run on a temporary file. PostgreSQL tests create a uniquely named database per
//! test through `HERALD_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`)
//! and drop it when the [`TestDb`] is dropped, so they run in parallel. When PostgreSQL is not
//! reachable they print `SKIPPED: PostgreSQL not reachable` and get `None`, unless `CI=true`,
//! where that is an error (tests must run in CI, never skip).
#![allow(clippy::missing_panics_doc, clippy::panic)] // test support: a failed setup fails the test

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sqlx::{AssertSqlSafe, Connection as _};

/// Where the PostgreSQL tests connect to create their databases.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The two backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A fresh PostgreSQL database.
    Postgres,
}

/// A fresh, empty database for one test; a PostgreSQL one is dropped with the value.
#[derive(Debug)]
pub struct TestDb {
    /// Its backend.
    pub backend: Backend,
    /// The URL to open it with.
    pub url: String,
    dir: Option<tempfile::TempDir>,
    postgres_name: Option<String>,
}

impl Backend {
    /// What `Pools::backend` answers.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }

    /// A fresh database, or `None` (after printing why) when PostgreSQL is not reachable
    /// outside CI.
    ///
    /// # Panics
    /// When the database cannot be created, or PostgreSQL is unreachable with `CI=true`.
    pub async fn fresh(self) -> Option<TestDb> {
        match self {
            Self::Sqlite => {
                let dir =
                    tempfile::tempdir().unwrap_or_else(|e| panic!("temporary directory: {e}"));
                let url = format!("sqlite:{}", dir.path().join("test.db").display());
                Some(TestDb { backend: self, url, dir: Some(dir), postgres_name: None })
            }
            Self::Postgres => {
                let admin = postgres_admin_url();
                let connected = tokio::time::timeout(
                    Duration::from_secs(10),
                    sqlx::PgConnection::connect(&admin),
                )
                .await;
                let mut conn = match connected {
                    Ok(Ok(conn)) => conn,
                    Ok(Err(e)) => return postgres_unreachable(&admin, &e.to_string()),
                    Err(_) => return postgres_unreachable(&admin, "connection timed out"),
                };
                let name = unique_database_name();
                if let Err(e) = sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                {
                    return postgres_unreachable(&admin, &format!("CREATE DATABASE failed: {e}"));
                }
                let _ = conn.close().await;
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base);
                Some(TestDb {
                    backend: self,
                    url: format!("{base}/{name}"),
                    dir: None,
                    postgres_name: Some(name),
                })
            }
        }
    }
}

/// The PostgreSQL URL tests create their databases through.
pub fn postgres_admin_url() -> String {
    std::env::var("HERALD_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

/// Whether this is a CI run (`CI=true`): tests that need PostgreSQL or a tool must not skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn postgres_unreachable(admin: &str, reason: &str) -> Option<TestDb> {
    assert!(!in_ci(), "PostgreSQL not reachable at {admin} ({reason}); with CI=true it must be");
    eprintln!("SKIPPED: PostgreSQL not reachable at {admin} ({reason})");
    None
}

fn unique_database_name() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("herald_test_{}_{}_{nanos}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

impl TestDb {
    /// Runs raw SQL on this database through a connection of its own.
    ///
    /// # Panics
    /// When the statement fails.
    pub async fn execute(&self, sql: &str) {
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                sqlx::query(AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                let _ = conn.close().await;
            }
            Backend::Postgres => {
                let mut conn =
                    sqlx::PgConnection::connect(&self.url).await.unwrap_or_else(|e| panic!("{e}"));
                sqlx::query(AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                let _ = conn.close().await;
            }
        }
    }

    /// One `i64` from a query (e.g. `SELECT COUNT(*) FROM t`), behind the store's back.
    ///
    /// # Panics
    /// When the query fails.
    pub async fn scalar(&self, sql: &str) -> i64 {
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                sqlx::query_scalar(AssertSqlSafe(sql))
                    .fetch_one(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"))
            }
            Backend::Postgres => {
                let mut conn =
                    sqlx::PgConnection::connect(&self.url).await.unwrap_or_else(|e| panic!("{e}"));
                sqlx::query_scalar(AssertSqlSafe(sql))
                    .fetch_one(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"))
            }
        }
    }

    /// Counts the rows of a table.
    pub async fn count(&self, table: &str) -> i64 {
        self.scalar(&format!("SELECT COUNT(*) FROM {table}")).await
    }

    /// The temporary directory of a SQLite database.
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_ref().map(tempfile::TempDir::path)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else {
            return;
        };
        // Dropping runs outside any runtime guarantee: use a small thread with its own runtime.
        let admin = postgres_admin_url();
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build()
            else {
                return;
            };
            runtime.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let _ = sqlx::query(AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

/// Mounts each contract test `async fn name(backend: Backend)` of the calling module twice, as
/// `sqlite::name` and `postgres::name` (`#[tokio::test]`s): one contract suite on both backends.
///
/// ```ignore
/// herald_db::on_both!(codes_are_claimed_once, tokens_are_redeemed_once);
/// ```
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name($crate::testing::Backend::Sqlite).await; })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name($crate::testing::Backend::Postgres).await; })*
        }
    };
}
