//! The baselines of `herald bench exchange`, on the stopped server's database: the stored
//! `stix_object` rows inserted again into a fresh store's tables, and every stored body read once
//! in page order.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, ensure};
use herald_exchange::store::Store;
use sqlx::ConnectOptions as _;
use sqlx::sqlite::SqliteSynchronous;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

/// Columns of a `stix_object` row the baseline inserts (all but `seq`, which SQLite assigns as
/// it does for the store).
const COLUMNS: usize = 12;
/// SQLite's limit on bound parameters in one statement (`SQLITE_MAX_VARIABLE_NUMBER`).
const MAX_PARAMETERS: usize = 32_766;

/// Seconds of the two baselines.
pub(super) struct Raw {
    pub(super) insert_seconds: f64,
    pub(super) scan_seconds: f64,
}

/// One stored `stix_object` row, as the baseline inserts it again.
#[derive(sqlx::FromRow)]
struct StoredRow {
    collection_id: String,
    object_id: String,
    r#type: String,
    version_us: i64,
    declared: bool,
    spec_version: String,
    date_added_us: i64,
    author_org: i64,
    tlp: i64,
    is_latest: bool,
    is_first: bool,
    body: Vec<u8>,
}

/// The settings of the store's writing connection (`herald_db::sqlite_writer_options`, which the
/// binary cannot name: herald-db is not its dependency): WAL, foreign keys, the busy timeout,
/// `synchronous = NORMAL`, statement journals in memory, checkpoints every 10000 pages, a page
/// cache of 16 MiB. Statements are not logged: the whole-table reads are slow on purpose.
fn store_options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .disable_statement_logging()
        .filename(path)
        .journal_mode(SqliteJournalMode::Wal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5))
        .synchronous(SqliteSynchronous::Normal)
        .pragma("temp_store", "MEMORY")
        .pragma("wal_autocheckpoint", "10000")
        .pragma("cache_size", "-16384")
}

async fn one_connection(options: SqliteConnectOptions, what: &str) -> Result<SqlitePool> {
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open {what}"))
}

/// Both baselines for the server of `dir`, which stored `expected` objects; `batch` rows per
/// insert transaction.
pub(super) async fn measure(dir: &Path, batch: usize, expected: usize) -> Result<Raw> {
    let source_path = dir.join("exchange").join("exchange.db");
    let source = one_connection(store_options(&source_path), "the exchange's database").await?;
    let collection: String = sqlx::query_scalar("SELECT id FROM collection WHERE alias = 'sector'")
        .fetch_one(&source)
        .await
        .context("the exchange has no sector collection")?;

    eprintln!("baseline: one SELECT of every stored body in page order …");
    let scan_seconds = scan(&source, &collection, expected).await?;

    let rows: Vec<StoredRow> = sqlx::query_as(
        "SELECT collection_id, object_id, type, version_us, declared, spec_version, \
         date_added_us, author_org, tlp, is_latest, is_first, body FROM stix_object ORDER BY seq",
    )
    .fetch_all(&source)
    .await
    .context("cannot read the stored objects")?;
    source.close().await;
    ensure!(rows.len() == expected, "the exchange stored {} objects, not {expected}", rows.len());

    eprintln!("baseline: raw inserts of the same rows into a fresh store …");
    let insert_seconds = insert(dir, &source_path, &rows, batch).await?;
    Ok(Raw { insert_seconds, scan_seconds })
}

/// Seconds to read every body of `collection` in page order (date added, then sequence: the
/// store's page index) with one query.
async fn scan(pool: &SqlitePool, collection: &str, expected: usize) -> Result<f64> {
    let started = Instant::now();
    let bodies: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT body FROM stix_object WHERE collection_id = ? ORDER BY date_added_us, seq",
    )
    .bind(collection)
    .fetch_all(pool)
    .await
    .context("cannot scan the stored objects")?;
    let seconds = started.elapsed().as_secs_f64();
    ensure!(bodies.len() == expected, "the scan read {} objects, not {expected}", bodies.len());
    std::hint::black_box(bodies.iter().map(Vec::len).sum::<usize>());
    Ok(seconds)
}

/// Seconds to insert `rows` into a fresh store's tables (`Store::open` creates them; the `org`
/// and `collection` rows are copied first, untimed, so foreign keys are checked as in the
/// store) through one connection with the store's settings: `batch` rows per transaction, in
/// multi-row `INSERT`s as large as SQLite's parameter limit allows.
async fn insert(dir: &Path, source: &Path, rows: &[StoredRow], batch: usize) -> Result<f64> {
    let path = dir.join("baseline.db");
    Store::open(&format!("sqlite:{}", path.display())).await?.close().await;
    let pool = one_connection(store_options(&path), "the baseline database").await?;
    sqlx::query("ATTACH DATABASE ? AS source")
        .bind(source.display().to_string())
        .execute(&pool)
        .await
        .context("cannot attach the exchange's database")?;
    for table in ["org", "collection"] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "INSERT INTO main.{table} SELECT * FROM source.{table}"
        )))
        .execute(&pool)
        .await
        .with_context(|| format!("cannot copy the {table} rows"))?;
    }
    sqlx::query("DETACH DATABASE source").execute(&pool).await?;

    let per_statement = (MAX_PARAMETERS / COLUMNS).min(batch);
    let started = Instant::now();
    for transaction in rows.chunks(batch) {
        let mut tx = pool.begin().await?;
        for chunk in transaction.chunks(per_statement) {
            let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO stix_object (collection_id, object_id, type, version_us, declared, \
                 spec_version, date_added_us, author_org, tlp, is_latest, is_first, body) ",
            );
            insert.push_values(chunk, |mut row, o| {
                row.push_bind(o.collection_id.as_str())
                    .push_bind(o.object_id.as_str())
                    .push_bind(o.r#type.as_str())
                    .push_bind(o.version_us)
                    .push_bind(o.declared)
                    .push_bind(o.spec_version.as_str())
                    .push_bind(o.date_added_us)
                    .push_bind(o.author_org)
                    .push_bind(o.tlp)
                    .push_bind(o.is_latest)
                    .push_bind(o.is_first)
                    .push_bind(o.body.as_slice());
            });
            insert.build().execute(&mut *tx).await.context("a raw insert failed")?;
        }
        tx.commit().await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM stix_object").fetch_one(&pool).await?;
    pool.close().await;
    ensure!(
        usize::try_from(stored).ok() == Some(rows.len()),
        "the baseline stored {stored} rows, not {}",
        rows.len()
    );
    Ok(seconds)
}
