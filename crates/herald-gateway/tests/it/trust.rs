//! The trust list against edits behind the operator's back (issue 14, finding 5): the operator's
//! entry signature covers kind, country, revocation and host, so a row changed in the database
//! without the anchor key is ignored (and counted), on SQLite and on PostgreSQL.

use herald_gateway::store::TrustRow;
use herald_model::{CountryCode, UnixTime};
use herald_runtime::HttpsClient;
use herald_trust::TrustKind;
use herald_wire::cms::SigningIdentity;
use herald_wire::efgs;
use hyper::Method;

use crate::http::{World, keys, plain_get, upload};

/// 2026-11-28 12:00 UTC, the worlds' time.
const NOW: i64 = 1_795_867_200;
const PROTOBUF: &str = "application/protobuf; version=1.0";

async fn status_of_download(client: &HttpsClient) -> u16 {
    client
        .request(Method::GET, "/diagnosiskeys/download/2026-11-28", &[("accept", PROTOBUF)], vec![])
        .await
        .unwrap()
        .status
        .as_u16()
}

/// The value of `herald_gateway_trust_integrity_failures_total{reason="<reason>"}`, 0 if absent.
async fn integrity_failures(world: &World, reason: &str) -> f64 {
    let (_, text) = plain_get(&world.internal_url, "/metrics", &[]).await;
    let name = format!("herald_gateway_trust_integrity_failures_total{{reason=\"{reason}\"}} ");
    text.lines().find_map(|l| l.strip_prefix(&name)?.parse().ok()).unwrap_or(0.0)
}

/// A self-signed certificate of DE that the operator trusts as a CALLBACK certificate, and its
/// signing identity.
async fn trusted_callback_identity(
    world: &World,
) -> (herald_model::CertThumbprint, SigningIdentity) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["nb.example.de".to_owned()]).unwrap();
    params.distinguished_name.push(rcgen::DnType::CountryName, "DE");
    params.distinguished_name.push(rcgen::DnType::CommonName, "herald DE callback receiver");
    let cert = params.self_signed(&key).unwrap().pem();
    let de: CountryCode = "DE".parse().unwrap();
    let entry = world.anchor().sign_entry(de, TrustKind::Callback, &cert, None).unwrap();
    world.store.put_trust_entry(&TrustRow::from_entry(&entry, UnixTime(NOW))).await.unwrap();
    (entry.thumbprint, SigningIdentity::from_pem(&cert, &key.serialize_pem()).unwrap())
}

async fn check_store_edits(world: &World) {
    let de = world.pki.countries.iter().find(|c| c.country.as_str() == "DE").unwrap();
    let (auth, signing) = (de.auth.thumbprint(), de.signing.thumbprint());
    assert_ne!(status_of_download(&world.client("DE")).await, 403);

    // 1. mTLS: DE's SIGNING entry switched to AUTHENTICATION in the database. Its certificate
    //    (and key, which DE holds) would then pass as a client certificate; it is refused.
    let as_client = HttpsClient::new(
        &world.url,
        &world.ca(),
        Some((de.signing.cert_pem(), de.signing.key().expose_secret())),
    )
    .unwrap();
    assert_eq!(status_of_download(&as_client).await, 403, "not trusted before the edit");
    world
        .edit_database(
            "UPDATE trust_entry SET kind = 'AUTHENTICATION' WHERE thumbprint = $1",
            &signing,
        )
        .await;
    assert_eq!(status_of_download(&as_client).await, 403, "SIGNING edited into AUTHENTICATION");
    assert!(integrity_failures(world, "entry_signature_bad").await >= 1.0);
    // ... and the edited entry no longer vouches for DE's batches either.
    let batch = keys("DE", 3, 61);
    let signature = crate::http::sign(world, "DE", &batch);
    let answer = upload(
        &world.client("DE"),
        "DE-EDITED",
        &signature,
        efgs::encode_protobuf(&batch),
        PROTOBUF,
    )
    .await;
    assert_eq!(answer.status, 400, "{}", String::from_utf8_lossy(&answer.body));
    world
        .edit_database("UPDATE trust_entry SET kind = 'SIGNING' WHERE thumbprint = $1", &signing)
        .await;
    let answer = upload(
        &world.client("DE"),
        "DE-RESTORED",
        &signature,
        efgs::encode_protobuf(&batch),
        PROTOBUF,
    )
    .await;
    assert_eq!(answer.status, 201, "restored: {}", String::from_utf8_lossy(&answer.body));

    // 2. Batch signing: a CALLBACK certificate of DE edited into SIGNING does not sign DE's
    //    batches.
    let (callback, identity) = trusted_callback_identity(world).await;
    let batch = keys("DE", 3, 62);
    let signature =
        efgs::sign_batch(&batch, &identity, UnixTime(NOW), &mut crate::http::Rng(9)).unwrap();
    let body = efgs::encode_protobuf(&batch);
    let answer = upload(&world.client("DE"), "DE-CB-1", &signature, body.clone(), PROTOBUF).await;
    assert_eq!(answer.status, 400, "a CALLBACK certificate signs no batch");
    world
        .edit_database("UPDATE trust_entry SET kind = 'SIGNING' WHERE thumbprint = $1", &callback)
        .await;
    let answer = upload(&world.client("DE"), "DE-CB-2", &signature, body, PROTOBUF).await;
    assert_eq!(answer.status, 400, "CALLBACK edited into SIGNING");
    let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(body["message"], "Invalid signature");

    // 3. Revocation: the operator revoked DE's client certificate; clearing the flag in the
    //    database does not let DE back in.
    world.operator_sets_revoked(&auth, true).await;
    assert_eq!(status_of_download(&world.client("DE")).await, 403);
    let bad_before = integrity_failures(world, "entry_signature_bad").await;
    world
        .edit_database("UPDATE trust_entry SET revoked = FALSE WHERE thumbprint = $1", &auth)
        .await;
    assert!(!world.store.trust_entry(&auth).await.unwrap().unwrap().revoked);
    assert_eq!(status_of_download(&world.client("DE")).await, 403, "un-revoked by a database edit");
    assert!(integrity_failures(world, "entry_signature_bad").await > bad_before);
    // Only the operator lifts it.
    world.edit_database("UPDATE trust_entry SET revoked = TRUE WHERE thumbprint = $1", &auth).await;
    world.operator_sets_revoked(&auth, false).await;
    assert_ne!(status_of_download(&world.client("DE")).await, 403);

    // 4. An entry without an entry signature (stored before the upgrade) is refused, and
    //    counted as such; the operator's re-signing brings it back.
    world
        .edit_database("UPDATE trust_entry SET entry_signature = NULL WHERE thumbprint = $1", &auth)
        .await;
    assert_eq!(status_of_download(&world.client("DE")).await, 403);
    assert!(integrity_failures(world, "entry_signature_missing").await >= 1.0);
    let row = world.store.trust_entry(&auth).await.unwrap().unwrap();
    let anchor = world.anchor();
    anchor.verify_efgs_entry(&row.entry()).unwrap();
    let signed = anchor.resign(&row.entry()).unwrap();
    world.store.put_trust_entry(&TrustRow::from_entry(&signed, row.created_at)).await.unwrap();
    assert_ne!(status_of_download(&world.client("DE")).await, 403);

    // The health check counts only fully signed AUTHENTICATION entries.
    let (status, health) = plain_get(&world.internal_url, "/health", &[]).await;
    assert_eq!(status, 200, "{health}");
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["trustedCountries"], 3, "{health}");
    world
        .edit_database(
            "UPDATE trust_entry SET kind = 'AUTHENTICATION' WHERE thumbprint = $1",
            &callback,
        )
        .await;
    world
        .edit_database("UPDATE trust_entry SET entry_signature = NULL WHERE thumbprint = $1", &auth)
        .await;
    let (_, health) = plain_get(&world.internal_url, "/health", &[]).await;
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["trustedCountries"], 2, "{health}");
}

#[tokio::test]
async fn store_edits_of_the_trust_list_are_refused_on_sqlite() {
    let world = World::start(None).await;
    check_store_edits(&world).await;
    world.stop().await;
}

#[tokio::test]
async fn store_edits_of_the_trust_list_are_refused_on_postgres() {
    let Some(db) = crate::store::Backend::Postgres.fresh().await else { return };
    let world = World::start(Some(db.url.clone())).await;
    check_store_edits(&world).await;
    world.stop().await;
    drop(db);
}
