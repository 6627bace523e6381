//! The export pipeline: windows, signed files (checked with openssl), index, padding, splitting,
//! embargo and retention.

use std::sync::Arc;

use herald_keyserver::config::ExportConfigEntry;
use herald_keyserver::export::{Blobs, ExportKey, ExportSettings, Exporter};
use herald_keyserver::store::Store;
use herald_model::{Clock, CountryCode, ManualClock, UnixTime};
use herald_wire::export::{FileSigner, ReadLimits, SignatureInfo, read_zip};
use p256::ecdsa::SigningKey;
use p256::pkcs8::EncodePublicKey as _;

use crate::support::{T0, local_key};

struct World {
    _dir: tempfile::TempDir,
    exports: std::path::PathBuf,
    store: Store,
    clock: Arc<ManualClock>,
    exporter: Exporter,
    public: p256::ecdsa::VerifyingKey,
}

fn config(name: &str, period: i64, min_records: usize, max_records: usize) -> ExportConfigEntry {
    ExportConfigEntry {
        name: name.into(),
        region: "DE".into(),
        period_seconds: period,
        input_regions: vec!["*".into()],
        include_travelers: false,
        max_records,
        min_records,
        padding_range: 10,
        padding_ladder_percent: 0,
    }
}

async fn world(configs: Vec<ExportConfigEntry>) -> World {
    world_on(configs, None).await
}

/// A world exporting to `blobs` (default: the folder `exports`).
async fn world_on(configs: Vec<ExportConfigEntry>, blobs: Option<Blobs>) -> World {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Store::open(&format!("sqlite:{}", dir.path().join("ks.db").display())).await.unwrap();
    let exports = dir.path().join("exports");
    let blobs = blobs.unwrap_or_else(|| Blobs::directory(&exports).unwrap());
    let signing = SigningKey::from_slice(&[0x42; 32]).unwrap();
    let public = *signing.verifying_key();
    let signer = FileSigner::new(signing, SignatureInfo::ecdsa_p256("262", "v1").unwrap());
    let clock = Arc::new(ManualClock::new(UnixTime(T0)));
    let exporter = Exporter::new(
        store.clone(),
        blobs,
        vec![ExportKey { signer, until: None }],
        clock.clone() as Arc<dyn Clock>,
        ExportSettings {
            configs,
            country: "DE".parse::<CountryCode>().unwrap(),
            min_window_age: 7200,
            retention_days: 14,
            federate_fakes: true,
        },
    );
    World { _dir: dir, exports, store, clock, exporter, public }
}

fn index(w: &World, name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(w.exports.join(name).join("index.txt")).unwrap();
    assert!(!text.ends_with('\n'), "no trailing newline");
    if text.is_empty() { Vec::new() } else { text.split('\n').map(str::to_owned).collect() }
}

#[tokio::test]
async fn windows_become_signed_files_after_two_hours() {
    let w = world(vec![config("DE/hourly", 3600, 0, 500_000)]).await;
    // 30 keys released in the hour [T0, T0 + 1 h), 5 in the next.
    let mut keys: Vec<_> = (0..30).map(|n| local_key(n, -2, T0)).collect();
    keys.extend((30..35).map(|n| local_key(n, -2, T0 + 3600)));
    w.store.insert_keys(&keys, None).await.unwrap();
    // At T0 + 2h59: the first window ended 1h59 ago: nothing yet.
    w.clock.set(UnixTime(T0 + 3 * 3600 - 60));
    let report = w.exporter.run_once().await.unwrap();
    assert_eq!(report.files, 0, "{report:?}");
    assert!(index(&w, "DE/hourly").is_empty());
    // At T0 + 3 h the first window is due, the second not.
    w.clock.set(UnixTime(T0 + 3 * 3600));
    let report = w.exporter.run_once().await.unwrap();
    assert_eq!((report.batches, report.files, report.keys), (1, 1, 30), "{report:?}");
    let names = index(&w, "DE/hourly");
    assert_eq!(names, vec![format!("DE/hourly/{T0}-{}-00001.zip", T0 + 3600)]);
    let zip = std::fs::read(w.exports.join(&names[0])).unwrap();
    let file = read_zip(&zip, &ReadLimits::default()).unwrap();
    assert_eq!(file.contents.keys.len(), 30);
    assert_eq!(file.contents.region.as_deref(), Some("DE"));
    assert_eq!(
        (file.contents.start_timestamp, file.contents.end_timestamp),
        (Some(T0 as u64), Some(T0 as u64 + 3600))
    );
    assert_eq!(file.valid_signatures(&w.public), vec![0]);
    // Independent check: openssl verifies export.sig's signature over export.bin.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("export.bin"), &file.export_bin).unwrap();
    std::fs::write(tmp.path().join("sig.der"), &file.signatures[0].signature).unwrap();
    std::fs::write(
        tmp.path().join("pub.pem"),
        w.public.to_public_key_pem(p256::pkcs8::LineEnding::LF).unwrap(),
    )
    .unwrap();
    if let Some(out) = herald_testkit::run_openssl(
        tmp.path(),
        &["dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig.der", "export.bin"],
    ) {
        assert!(String::from_utf8_lossy(&out.stdout).contains("Verified OK"));
    }
    // A second run later catches up with the next window and keeps the first.
    w.clock.set(UnixTime(T0 + 4 * 3600));
    let report = w.exporter.run_once().await.unwrap();
    assert_eq!((report.batches, report.keys), (1, 5));
    assert_eq!(index(&w, "DE/hourly").len(), 2);
}

#[tokio::test]
async fn sparse_windows_are_padded_with_realistic_fakes() {
    let w = world(vec![config("DE/daily", 86_400, 100, 500_000)]).await;
    let keys: Vec<_> = (0..7).map(|n| local_key(n, -i64::from(n), T0 + 3600)).collect();
    w.store.insert_keys(&keys, Some(T0)).await.unwrap();
    w.clock.set(UnixTime(T0 + 86_400 + 2 * 3600));
    let report = w.exporter.run_once().await.unwrap();
    assert!((93..=103).contains(&report.fakes), "{report:?}");
    let names = index(&w, "DE/daily");
    let file = read_zip(&std::fs::read(w.exports.join(&names[0])).unwrap(), &ReadLimits::default())
        .unwrap();
    let n = file.contents.keys.len();
    assert!((100..=110).contains(&n), "{n}");
    // Every fake copies the metadata of a real key; every real key is copied.
    let real: Vec<_> = keys.iter().map(|k| (k.interval_number, k.days_since_onset)).collect();
    for k in &file.contents.keys {
        let meta = (k.rolling_start.get(), k.days_since_onset.map(|d| i32::from(d.get())));
        assert!(real.contains(&meta), "{meta:?}");
    }
    for meta in &real {
        let clones = file
            .contents
            .keys
            .iter()
            .filter(|k| {
                (k.rolling_start.get(), k.days_since_onset.map(|d| i32::from(d.get()))) == *meta
            })
            .count();
        assert!(clones >= 14, "round-robin: {clones}");
    }
    // Fakes are stored and queued for the gateway, like real keys.
    let (waiting, _, _) = w.store.outbox_counts().await.unwrap();
    assert_eq!(usize::try_from(waiting).unwrap(), n);
    // The next day has no upload: padded all the same, the fakes copying the same real keys
    // one day later.
    w.clock.set(UnixTime(T0 + 2 * 86_400 + 2 * 3600));
    let report = w.exporter.run_once().await.unwrap();
    assert_eq!(report.batches, 1);
    assert!((100..=110).contains(&report.fakes), "{report:?}");
    let names = index(&w, "DE/daily");
    let file = read_zip(&std::fs::read(w.exports.join(&names[1])).unwrap(), &ReadLimits::default())
        .unwrap();
    for k in &file.contents.keys {
        let meta = (k.rolling_start.get() - 144, k.days_since_onset.map(|d| i32::from(d.get())));
        assert!(real.contains(&meta), "{meta:?}");
    }
}

#[tokio::test]
async fn large_windows_split_with_unique_end_timestamps() {
    let w = world(vec![config("DE/hourly", 3600, 0, 40)]).await;
    // Keys spread over the key space (the window is read in five slices of it).
    let keys: Vec<_> = (0..100u32)
        .map(|n| {
            let mut key = local_key(n, -1, T0);
            let mut bytes = *key.key.as_bytes();
            bytes[0] = u8::try_from(n * 37 % 256).unwrap();
            key.key = herald_model::TemporaryExposureKey::from_bytes(bytes);
            key
        })
        .collect();
    w.store.insert_keys(&keys, None).await.unwrap();
    w.clock.set(UnixTime(T0 + 3 * 3600));
    let report = w.exporter.run_once().await.unwrap();
    assert_eq!((report.files, report.keys), (3, 100));
    let mut ends = Vec::new();
    let mut all = Vec::new();
    for name in index(&w, "DE/hourly") {
        let file = read_zip(&std::fs::read(w.exports.join(&name)).unwrap(), &ReadLimits::default())
            .unwrap();
        assert!(file.contents.keys.len() <= 40);
        assert_eq!(file.valid_signatures(&w.public).len(), 1);
        ends.push(file.contents.end_timestamp.unwrap());
        all.extend(file.contents.keys.into_iter().map(|k| k.key));
    }
    assert_eq!(ends, vec![T0 as u64 + 3601, T0 as u64 + 3602, T0 as u64 + 3603]);
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted, "keys in key order across files");
    assert_eq!(all.len(), 100);
}

#[tokio::test]
async fn retention_drops_files_from_the_index_before_deleting_them() {
    let w = world(vec![config("DE/daily", 86_400, 0, 500_000)]).await;
    w.store.insert_keys(&[local_key(1, -1, T0)], None).await.unwrap();
    w.clock.set(UnixTime(T0 + 86_400 + 7200));
    w.exporter.run_once().await.unwrap();
    let names = index(&w, "DE/daily");
    assert_eq!(names.len(), 1);
    assert!(w.exports.join(&names[0]).exists());
    w.clock.set(UnixTime(T0 + 16 * 86_400));
    let report = w.exporter.run_once().await.unwrap();
    assert_eq!(report.deleted, 1);
    assert!(index(&w, "DE/daily").is_empty());
    assert!(!w.exports.join(&names[0]).exists());
}

/// A local S3-compatible server: moto's (`python3 -m moto.server`, from PyPI; `.ci/run`
/// installs it). `None` (skipped with a message) only outside CI when moto is missing.
struct S3Server {
    child: std::process::Child,
    endpoint: String,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_s3() -> Option<S3Server> {
    let has_moto = std::process::Command::new("python3")
        .args(["-c", "import moto.server, flask"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_moto {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but moto is missing: pip install 'moto[server]'"
        );
        eprintln!("SKIPPED: no moto S3 server here (pip install 'moto[server]')");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = std::process::Command::new("python3")
        .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let server = S3Server { child, endpoint: format!("http://127.0.0.1:{port}") };
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(server);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("moto's S3 server did not start on port {port}");
}

/// Creates a bucket with one plain HTTP/1.1 `PUT` (moto needs no signature); the status.
fn create_bucket(endpoint: &str, bucket: &str) -> u16 {
    use std::io::{Read as _, Write as _};
    let host = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_go_to_an_s3_compatible_bucket() {
    let Some(s3) = start_s3() else { return };
    assert_eq!(create_bucket(&s3.endpoint, "herald-exports"), 200, "bucket created");

    let blobs = Blobs::s3_from(
        object_store::aws::AmazonS3Builder::new()
            .with_access_key_id("test")
            .with_secret_access_key("test"),
        "herald-exports",
        Some(&s3.endpoint),
        Some("eu-central-1"),
    )
    .unwrap();
    let w = world_on(vec![config("DE/hourly", 3600, 0, 500_000)], Some(blobs)).await;
    let (store, clock, exporter, public) = (&w.store, &w.clock, &w.exporter, w.public);
    let keys: Vec<_> = (0..20).map(|n| local_key(n, -2, T0)).collect();
    store.insert_keys(&keys, None).await.unwrap();
    clock.set(UnixTime(T0 + 3 * 3600));
    let report = exporter.run_once().await.unwrap();
    assert_eq!(report.files, 1, "{report:?}");

    // The index and the file are in the bucket, with the headers a CDN passes on to phones
    // (read back through an S3 client of their own).
    let reader = object_store::aws::AmazonS3Builder::new()
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .with_bucket_name("herald-exports")
        .with_endpoint(&s3.endpoint)
        .with_allow_http(true)
        .with_region("eu-central-1")
        .build()
        .unwrap();
    let get = |name: String| {
        let reader = &reader;
        async move {
            use object_store::ObjectStoreExt as _;
            match reader.get(&object_store::path::Path::from(name)).await {
                Ok(got) => {
                    let attributes = got.attributes.clone();
                    let header = |a: object_store::Attribute| {
                        attributes.get(&a).map(|v| v.as_ref().to_owned()).unwrap_or_default()
                    };
                    let (content_type, cache) = (
                        header(object_store::Attribute::ContentType),
                        header(object_store::Attribute::CacheControl),
                    );
                    Some((content_type, cache, got.bytes().await.unwrap().to_vec()))
                }
                Err(object_store::Error::NotFound { .. }) => None,
                Err(e) => panic!("{e}"),
            }
        }
    };
    let (content_type, cache, index) = get("DE/hourly/index.txt".into()).await.unwrap();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert!(!cache.is_empty());
    let name = String::from_utf8(index).unwrap();
    assert_eq!(name, format!("DE/hourly/{T0}-{}-00001.zip", T0 + 3600));
    let (content_type, cache, zip) = get(name.clone()).await.unwrap();
    assert_eq!(content_type, "application/zip");
    assert!(cache.contains("max-age"), "{cache}");
    let file = read_zip(&zip, &ReadLimits::default()).unwrap();
    assert_eq!(file.contents.keys.len(), 20);
    assert_eq!(file.valid_signatures(&public), vec![0]);

    // Retention on S3: the file leaves the index first, then the bucket.
    clock.set(UnixTime(T0 + 20 * 86_400));
    exporter.run_once().await.unwrap();
    exporter.run_once().await.unwrap();
    let (_, _, index) = get("DE/hourly/index.txt".into()).await.unwrap();
    assert!(!String::from_utf8(index).unwrap().contains(&name));
    assert!(get(name).await.is_none(), "the expired file is deleted from the bucket");
}
