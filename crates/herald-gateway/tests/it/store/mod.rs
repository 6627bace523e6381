//! The storage contract (STYLE rule 20): one suite, `contract.rs`, mounted once per backend by
//! `sqlite.rs` and `postgres.rs`, plus the checks of how a store is opened (`open.rs`).
//!
//! SQLite tests run on a temporary file. PostgreSQL tests create a uniquely named database per
//! test through `HERALD_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`)
//! and drop it afterwards, so they run in parallel. When PostgreSQL is not reachable they print
//! `SKIPPED: PostgreSQL not reachable` and pass, unless `CI=true`, where they fail.

mod open;
mod postgres;
mod sqlite;

use herald_gateway::store::{AtRest, AtRestKey, NewUpload, Store, TrustKind, TrustRow};
use herald_model::{
    BatchTag, CertThumbprint, CountryCode, IntervalNumber, ReportType, RollingPeriod,
    TemporaryExposureKey, TransmissionRiskLevel, UnixTime,
};
use herald_wire::efgs::{DaysSinceOnset, EfgsKey, TransmissionRisk};
use sqlx::Connection as _;

/// Fresh databases on both backends, shared by every herald store's tests.
pub(crate) use herald_db::testing::{Backend, TestDb, postgres_admin_url};

macro_rules! with_connection {
    ($db:expr, |$conn:ident| $body:expr) => {
        match $db.backend {
            Backend::Sqlite => {
                let options =
                    <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(&$db.url)
                        .unwrap()
                        .create_if_missing(true);
                let mut $conn = sqlx::ConnectOptions::connect(&options).await.unwrap();
                let result = $body;
                $conn.close().await.unwrap();
                result
            }
            Backend::Postgres => {
                let mut $conn = sqlx::PgConnection::connect(&$db.url).await.unwrap();
                let result = $body;
                $conn.close().await.unwrap();
                result
            }
        }
    };
}

/// The at-rest columns of a `diagnosis_key` row, read behind the store's back: id, key_id,
/// payload, key_data.
pub(crate) type SealedColumns = (i64, Option<i64>, Option<Vec<u8>>, Option<Vec<u8>>);

/// The last migration before key payloads were sealed at rest.
pub(crate) const BEFORE_AT_REST: i64 = 20_261_128_149_999;

/// The last migration before trust-list rows carried an entry signature.
pub(crate) const BEFORE_ENTRY_SIGNATURE: i64 = 20_261_207_119_999;

/// What the gateway's tests do with a test database beyond `herald_db::testing::TestDb`.
pub(crate) trait GatewayDb {
    /// Opens (and migrates) a store on this database, sealing with [`at_rest_key`]`(1)`.
    async fn open(&self) -> Store;
    /// Opens (and migrates) a store on this database with the given at-rest settings.
    async fn open_with(&self, at_rest: AtRest) -> Store;
    /// The at-rest columns of every `diagnosis_key` row, by id.
    async fn sealed_columns(&self) -> Vec<SealedColumns>;
    /// Applies the migrations up to [`BEFORE_AT_REST`] only, as an older herald did.
    async fn migrate_before_at_rest(&self);
    /// Applies the migrations up to `version` only, as an older herald did.
    async fn migrate_to(&self, version: i64);
    /// Stores an upload the way herald did before payloads were sealed (plaintext columns).
    async fn insert_plaintext_upload(&self, upload: &NewUpload, now: UnixTime);
    /// Records a migration this binary does not know, as a newer herald would have.
    async fn add_future_migration(&self);
}

impl GatewayDb for TestDb {
    /// Opens (and migrates) a store on this database, sealing with [`at_rest_key`]`(1)`.
    async fn open(&self) -> Store {
        self.open_with(encrypting(1, &[])).await
    }

    /// Opens (and migrates) a store on this database with the given at-rest settings.
    async fn open_with(&self, at_rest: AtRest) -> Store {
        Store::open(&self.url).await.unwrap().with_at_rest(at_rest)
    }

    /// The at-rest columns of every `diagnosis_key` row, by id.
    async fn sealed_columns(&self) -> Vec<SealedColumns> {
        let sql = "SELECT id, key_id, payload, key_data FROM diagnosis_key ORDER BY id";
        with_connection!(self, |conn| sqlx::query_as(sql).fetch_all(&mut conn).await.unwrap())
    }

    /// Applies the migrations up to [`BEFORE_AT_REST`] only, as an older herald did, from the
    /// crate's migration files.
    async fn migrate_before_at_rest(&self) {
        self.migrate_to(BEFORE_AT_REST).await;
    }

    /// Applies the migrations up to `version` only, as an older herald did, from the crate's
    /// migration files.
    async fn migrate_to(&self, version: i64) {
        let dir = match self.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        };
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(dir);
        let migrator = sqlx::migrate::Migrator::new(path).await.unwrap();
        with_connection!(self, |conn| migrator.run_to(version, &mut conn).await.unwrap());
    }

    /// Stores an upload the way herald did before payloads were sealed (plaintext columns), on
    /// a database migrated by [`TestDb::migrate_before_at_rest`].
    async fn insert_plaintext_upload(&self, upload: &NewUpload, now: UnixTime) {
        with_connection!(self, |conn| {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO upload (tag, country, auth_thumbprint, signing_thumbprint, \
                 batch_signature, created_at, key_count) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 RETURNING id",
            )
            .bind(upload.batch_tag.as_str())
            .bind(upload.country.as_str())
            .bind(upload.auth_thumbprint.to_hex())
            .bind(upload.signing_thumbprint.to_hex())
            .bind(upload.batch_signature.as_str())
            .bind(now.seconds())
            .bind(i64::try_from(upload.keys.len()).unwrap())
            .fetch_one(&mut conn)
            .await
            .unwrap();
            for (ordinal, key) in upload.keys.iter().enumerate() {
                let visited: Vec<&str> =
                    key.visited_countries.iter().map(CountryCode::as_str).collect();
                sqlx::query(
                    "INSERT INTO diagnosis_key (upload_id, ordinal, payload_hash, key_data, \
                     rolling_start_interval_number, rolling_period, transmission_risk_level, \
                     visited_countries, origin, report_type, days_since_onset, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                )
                .bind(id)
                .bind(i64::try_from(ordinal).unwrap())
                .bind(key.payload_hash().to_vec())
                .bind(key.key.as_bytes().to_vec())
                .bind(i64::from(key.rolling_start.get()))
                .bind(i32::from(key.rolling_period.get()))
                .bind(key.transmission_risk.wire())
                .bind(visited.join(","))
                .bind(key.origin.as_str())
                .bind(key.report_type.wire())
                .bind(key.days_since_onset.get())
                .bind(now.seconds())
                .execute(&mut conn)
                .await
                .unwrap();
            }
        });
    }

    /// Records a migration this binary does not know, as a newer herald would have.
    async fn add_future_migration(&self) {
        let checksum = match self.backend {
            Backend::Sqlite => "x'00'",
            Backend::Postgres => "'\\x00'::bytea",
        };
        self.execute(&format!(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES ({FUTURE_MIGRATION}, 'from the future', TRUE, {checksum}, 0)"
        ))
        .await;
    }
}

/// The version [`GatewayDb::add_future_migration`] records.
pub(crate) const FUTURE_MIGRATION: i64 = 99_991_231_235_959;

// --- test data ----------------------------------------------------------------------------------

/// 2020-07-31, as a UTC day number.
pub(crate) const DAY0: i64 = 18_474;

/// `seconds` into the day `DAY0 + day`.
pub(crate) fn at(day: i64, seconds: i64) -> UnixTime {
    UnixTime((DAY0 + day) * 86_400 + seconds)
}

pub(crate) fn cc(text: &str) -> CountryCode {
    text.parse().unwrap()
}

pub(crate) fn thumb(byte: u8) -> CertThumbprint {
    CertThumbprint([byte; 32])
}

/// A plain key, distinct for each (origin, seed).
pub(crate) fn key(origin: &str, seed: u32) -> EfgsKey {
    let mut bytes = [0u8; 16];
    bytes[..4].copy_from_slice(&seed.to_be_bytes());
    bytes[4..6].copy_from_slice(origin.as_bytes());
    EfgsKey {
        key: TemporaryExposureKey::from_bytes(bytes),
        rolling_start: IntervalNumber(2_660_000 + seed % 144),
        rolling_period: RollingPeriod::FULL_DAY,
        transmission_risk: TransmissionRisk::Level(TransmissionRiskLevel::new(3).unwrap()),
        visited_countries: vec![cc("FR"), cc("NL")],
        origin: cc(origin),
        report_type: ReportType::ConfirmedTest,
        days_since_onset: DaysSinceOnset::new(2).unwrap(),
    }
}

/// Keys for the seeds.
pub(crate) fn keys(origin: &str, seeds: std::ops::Range<u32>) -> Vec<EfgsKey> {
    seeds.map(|seed| key(origin, seed)).collect()
}

/// Keys at the edges of every field, to check that storage round-trips them exactly.
pub(crate) fn unusual_keys(origin: &str) -> Vec<EfgsKey> {
    let many: Vec<CountryCode> = ["AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI"]
        .iter()
        .chain(&["FR", "GR", "HR", "HU", "IE", "IT", "LT", "LU", "LV", "MT"])
        .chain(&["NL", "PL", "PT", "RO", "SE", "SI", "SK", "IS", "LI", "NO"])
        .map(|c| cc(c))
        .collect();
    let mut a = key(origin, 9_000);
    a.visited_countries = Vec::new();
    a.transmission_risk = TransmissionRisk::NotProvided;
    a.days_since_onset = DaysSinceOnset::new(-14).unwrap();
    a.rolling_start = IntervalNumber(u32::MAX);
    a.rolling_period = RollingPeriod::new(1).unwrap();
    a.report_type = ReportType::Unknown;
    let mut b = key(origin, 9_001);
    b.visited_countries = many;
    b.days_since_onset = DaysSinceOnset::new(4014).unwrap();
    b.transmission_risk = TransmissionRisk::Level(TransmissionRiskLevel::new(0).unwrap());
    b.report_type = ReportType::Revoked;
    b.rolling_start = IntervalNumber(0);
    let mut c = key(origin, 9_002);
    c.key = TemporaryExposureKey::from_bytes([0xff; 16]);
    c.visited_countries = vec![cc("DE"), cc("AT"), cc("DE")];
    c.report_type = ReportType::SelfReport;
    c.days_since_onset = DaysSinceOnset::new(3_000).unwrap();
    vec![a, b, c]
}

/// The batch tag `text`.
pub(crate) fn tag(text: &str) -> BatchTag {
    text.parse().unwrap()
}

/// An upload from `country` with thumbprints and a signature derived from the tag.
pub(crate) fn upload(tag: &str, country: &str, keys: Vec<EfgsKey>) -> NewUpload {
    let seed = tag.bytes().fold(0u8, u8::wrapping_add);
    NewUpload {
        batch_tag: self::tag(tag),
        country: cc(country),
        auth_thumbprint: thumb(seed),
        signing_thumbprint: thumb(seed.wrapping_add(1)),
        batch_signature: format!("MIAGCSqGSIb3DQEHAqCAMIACAQEx{tag}=="),
        keys,
    }
}

/// A deterministic at-rest key: 32 times `byte`.
pub(crate) fn at_rest_key(byte: u8) -> AtRestKey {
    AtRestKey::from_bytes(&[byte; 32]).unwrap()
}

/// At-rest settings sealing with `at_rest_key(current)`, also opening with the `previous` ones.
pub(crate) fn encrypting(current: u8, previous: &[u8]) -> AtRest {
    let previous = previous.iter().map(|&b| at_rest_key(b)).collect();
    AtRest::encrypting(at_rest_key(current), previous, TestRng(u64::from(current))).unwrap()
}

/// A deterministic RNG for nonce prefixes (tests only: nonces need to be unique, and a counter
/// is).
pub(crate) struct TestRng(u64);

impl rand_core::TryRng for TestRng {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(u32::try_from(self.try_next_u64()? >> 32).unwrap())
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 =
            self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        Ok(self.0)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let word = self.try_next_u64()?.to_be_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for TestRng {}

/// A key whose 16 bytes look random (SHA-256 of the seed), so that finding them anywhere in a
/// database file means they were stored in clear.
pub(crate) fn random_looking_key(origin: &str, seed: u32) -> EfgsKey {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(seed.to_be_bytes());
    let mut k = key(origin, seed);
    k.key = TemporaryExposureKey::from_slice(&digest[..16]).unwrap();
    k
}

/// A trust-list row.
pub(crate) fn trust(byte: u8, country: &str, kind: TrustKind) -> TrustRow {
    TrustRow {
        thumbprint: thumb(byte),
        country: cc(country),
        kind,
        certificate_pem: format!(
            "-----BEGIN CERTIFICATE-----\nMIIB{byte:02x}\n-----END CERTIFICATE-----\n"
        ),
        operator_signature: format!("c2lnbmF0dXJl{byte:02x}"),
        revoked: false,
        host: (kind == TrustKind::Callback).then(|| format!("nb{byte}.example.org")),
        created_at: at(0, i64::from(byte)),
        entry_signature: Some(format!("ZW50cnk{byte:02x}")),
    }
}
