//! Development mode (`herald exchange serve --dev DIR`): the exchange's part of the shared dev
//! folder (specs/dev-world.md, exchange.md §1). Creates what is still missing, never overwrites:
//! the dev PKI when the folder has none (`ca.pem`, …, for one country, DK), then under
//! `DIR/exchange/`: `server.pem`/`server.key.pem` from the dev CA (localhost, 127.0.0.1),
//! `cursor.key` and `token.key`, the receipts' `receipt-signing.key.pem` and its public
//! `receipt-signing.pub.pem`, `exchange.db`, and for each dev organisation
//! `orgs/<org>/token` (mode 0600), `orgs/<org>/identity` and an mTLS client certificate
//! `orgs/<org>/client.pem`/`client.key.pem` from the dev CA; in the store the organisations,
//! the community `health`, and the collections `sector`, `advisories` and `cert-inbox` with the
//! grants of spec §1.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use herald_model::UnixTime;
use herald_service::config::TlsFiles;
use herald_service::dev::DevError;
use herald_trust::dev::{DevValidity, client_from_ca, generate_dev_pki, localhost_server_from_ca};
use herald_trust::layout;

use crate::api::token_hash;
use crate::config::{ExchangeConfig, LimitSettings};
use crate::receipt::ReceiptSigner;
use crate::store::{Grant, NewClientCert, NewCollection, NewOrg, NewToken, OrgKind, Store};

fn err(path: &Path, reason: impl std::fmt::Display) -> DevError {
    DevError::at(path, reason)
}

/// `DIR/exchange`.
pub fn exchange_dir(dir: &Path) -> PathBuf {
    dir.join("exchange")
}

/// The dev organisations: name, kind, community.
pub const DEV_ORGS: [(&str, OrgKind, Option<&str>); 5] = [
    ("cert", OrgKind::Operator, None),
    ("hospital-a", OrgKind::Member, Some("health")),
    ("hospital-b", OrgKind::Member, Some("health")),
    ("hospital-c", OrgKind::Member, Some("health")),
    ("vendor-x", OrgKind::Supplier, None),
];

/// Rights (read, write) on a dev collection for members, the supplier and the operator.
type Rights = [(bool, bool); 3];

/// The dev collections: alias, title, description, rights.
const DEV_COLLECTIONS: [(&str, &str, &str, Rights); 3] = [
    (
        "sector",
        "Sector",
        "What the sector's members share with each other",
        [(true, true), (true, false), (true, true)],
    ),
    (
        "advisories",
        "Advisories",
        "Warnings and advisories from the sector CERT",
        [(true, false), (true, false), (true, true)],
    ),
    (
        "cert-inbox",
        "CERT inbox",
        "Reports to the sector CERT, read by the CERT only",
        [(false, true), (false, false), (true, false)],
    ),
];

fn write_once(path: &Path, contents: &str, secret: bool) -> Result<(), DevError> {
    if path.exists() {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| err(parent, e))?;
    }
    if secret {
        herald_service::secrets::write_secret(path, contents).map_err(|e| err(path, e))
    } else {
        std::fs::write(path, contents).map_err(|e| err(path, e))
    }
}

/// Prepares the files of `DIR/exchange` (and the dev PKI when `DIR` has none) and returns the
/// dev configuration, listening on `listen` or 127.0.0.1 and a free port.
pub fn prepare(
    dir: &Path,
    listen: Option<SocketAddr>,
    now: UnixTime,
) -> Result<ExchangeConfig, DevError> {
    let validity = DevValidity::around(now).map_err(|e| err(dir, e))?;
    if !dir.join(layout::ca_cert()).exists() {
        let dk = "DK".parse().map_err(|_| err(dir, "country DK"))?;
        let pki = generate_dev_pki(&[dk], &validity).map_err(|e| err(dir, e))?;
        for file in pki.files() {
            write_once(&dir.join(&file.path), file.contents, file.secret)?;
        }
    }
    let x = exchange_dir(dir);
    let certificate = x.join("server.pem");
    let key = x.join("server.key.pem");
    if !certificate.exists() || !key.exists() {
        let ca_key_path = dir.join(layout::ca_key());
        let ca_key = std::fs::read_to_string(&ca_key_path).map_err(|e| err(&ca_key_path, e))?;
        let id = localhost_server_from_ca(&ca_key, &validity, "herald exchange")
            .map_err(|e| err(&ca_key_path, e))?;
        std::fs::create_dir_all(&x).map_err(|e| err(&x, e))?;
        std::fs::write(&certificate, id.cert_pem()).map_err(|e| err(&certificate, e))?;
        herald_service::secrets::write_secret(&key, id.key().expose_secret())
            .map_err(|e| err(&key, e))?;
    }
    let cursor_key_file = x.join("cursor.key");
    write_once(&cursor_key_file, &herald_service::secrets::random_hex(32), true)?;
    let token_key_file = x.join("token.key");
    write_once(&token_key_file, &herald_service::secrets::random_hex(32), true)?;
    let receipt_key_file = x.join("receipt-signing.key.pem");
    if !receipt_key_file.exists() {
        let (_, pem) = ReceiptSigner::generate().map_err(|e| err(&receipt_key_file, e))?;
        write_once(&receipt_key_file, &pem, true)?;
    }
    let pem = std::fs::read_to_string(&receipt_key_file).map_err(|e| err(&receipt_key_file, e))?;
    let signer = ReceiptSigner::from_pkcs8_pem(&pem).map_err(|e| err(&receipt_key_file, e))?;
    write_once(&x.join("receipt-signing.pub.pem"), &signer.public_key_pem(), false)?;
    Ok(ExchangeConfig {
        listen: listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0))),
        internal_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        database: format!("sqlite:{}", x.join("exchange.db").display()),
        cursor_key_file,
        token_key_file,
        receipt_key_file,
        title: "herald exchange (dev)".into(),
        page_max: 1000,
        max_content_length: 10 << 20,
        tls: Some(TlsFiles { certificate, key }),
        client_ca_file: Some(dir.join(layout::ca_cert())),
        limits: LimitSettings::default(),
    })
}

/// Why seeding the dev world failed.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// A file.
    #[error(transparent)]
    File(#[from] DevError),
    /// The store.
    #[error("storage: {0}")]
    Store(#[from] crate::store::StoreError),
}

fn read_or_make(path: &Path, make: impl FnOnce() -> String) -> Result<String, DevError> {
    write_once(path, &format!("{}\n", make()), true)?;
    Ok(std::fs::read_to_string(path).map_err(|e| err(path, e))?.trim().to_owned())
}

fn random_uuid() -> String {
    let hex = herald_service::secrets::random_hex(16);
    let mut bytes = [0u8; 16];
    if let Ok(decoded) = hex::decode(hex.as_str()) {
        for (b, d) in bytes.iter_mut().zip(decoded) {
            *b = d;
        }
    }
    uuid::Builder::from_random_bytes(bytes).into_uuid().hyphenated().to_string()
}

/// The organisation's dev client certificate in `folder` (issued by the dev CA of `dir` when
/// missing): what the store registers for it.
fn dev_client_cert(
    dir: &Path,
    folder: &Path,
    name: &str,
    now_us: i64,
) -> Result<herald_trust::Cert, DevError> {
    let cert_path = folder.join("client.pem");
    let key_path = folder.join("client.key.pem");
    if !cert_path.exists() || !key_path.exists() {
        let validity = DevValidity::around(UnixTime(now_us.div_euclid(1_000_000)))
            .map_err(|e| err(folder, e))?;
        let ca_key_path = dir.join(layout::ca_key());
        let ca_key = std::fs::read_to_string(&ca_key_path).map_err(|e| err(&ca_key_path, e))?;
        let id = client_from_ca(&ca_key, &validity, &format!("herald exchange {name}"))
            .map_err(|e| err(&ca_key_path, e))?;
        std::fs::create_dir_all(folder).map_err(|e| err(folder, e))?;
        std::fs::write(&cert_path, id.cert_pem()).map_err(|e| err(&cert_path, e))?;
        herald_service::secrets::write_secret(&key_path, id.key().expose_secret())
            .map_err(|e| err(&key_path, e))?;
    }
    let pem = std::fs::read(&cert_path).map_err(|e| err(&cert_path, e))?;
    herald_trust::Cert::from_pem(&pem).map_err(|e| err(&cert_path, e))
}

/// Creates the dev organisations (their tokens and identities in `DIR/exchange/orgs/<org>/`),
/// the community and the collections with their grants, where missing.
pub async fn seed(
    store: &Store,
    dir: &Path,
    token_key: &[u8; 32],
    now_us: i64,
) -> Result<(), SeedError> {
    let x = exchange_dir(dir);
    let mut orgs = Vec::new();
    for (name, kind, community) in DEV_ORGS {
        let folder = x.join("orgs").join(name);
        let identity =
            read_or_make(&folder.join("identity"), || format!("identity--{}", random_uuid()))?;
        let token = read_or_make(&folder.join("token"), || {
            format!("hx_{}", herald_service::secrets::random_hex(24).as_str())
        })?;
        let id = if let Some(org) = store.org_by_name(name).await? {
            org.id
        } else {
            let org = NewOrg { name: name.into(), identity_id: identity, kind };
            let why = "the organisation's name or identity is taken in the store";
            store.add_org(&org).await?.ok_or_else(|| DevError::at(&folder, why))?
        };
        let hash = token_hash(token_key, &token);
        store
            .add_token(&NewToken { org: id, name: "dev".into(), hash, created_us: now_us })
            .await?;
        if let Some(community) = community {
            store.join_community(community, id).await?;
        }
        let cert = dev_client_cert(dir, &folder, name, now_us)?;
        store
            .add_client_cert(&NewClientCert {
                org: id,
                thumbprint: cert.thumbprint().0,
                subject: cert.x509().tbs_certificate().subject().to_string(),
                created_us: now_us,
            })
            .await?;
        orgs.push((id, kind));
    }
    for (alias, title, description, rights) in DEV_COLLECTIONS {
        let id = if let Some(id) = store.collection_by_alias(alias).await? {
            id
        } else {
            let id = random_uuid();
            let new = NewCollection {
                id: id.clone(),
                alias: Some(alias.into()),
                title: title.into(),
                description: Some(description.into()),
            };
            store.add_collection(&new).await?;
            id
        };
        for (org, kind) in &orgs {
            let (can_read, can_write) = match kind {
                OrgKind::Member => rights[0],
                OrgKind::Supplier => rights[1],
                OrgKind::Operator => rights[2],
            };
            store.grant(&id, *org, Grant { can_read, can_write }).await?;
        }
    }
    Ok(())
}
