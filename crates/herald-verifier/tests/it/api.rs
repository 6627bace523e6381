//! The API over HTTPS on 127.0.0.1: the happy path, the admin calls, chaff, key rotation.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use herald_verifier::config::KeyFile;
use herald_wire::jwt::{self, Audience, Jwt, parse_jwks};
use herald_wire::publish::VerificationReportType;
use serde_json::json;

use crate::support::{dev_world, hmac_b64, start, today};

const PYTHON_VERIFY: &str = r#"
import base64, json, sys
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

case = json.load(sys.stdin)
jwk = [k for k in case["jwks"]["keys"] if k["kid"] == case["kid"]][0]
assert jwk["kty"] == "EC" and jwk["crv"] == "P-256" and jwk["alg"] == "ES256", jwk
key = ec.EllipticCurvePublicNumbers(
    int.from_bytes(b64d(jwk["x"]), "big"), int.from_bytes(b64d(jwk["y"]), "big"),
    ec.SECP256R1()).public_key()
out = []
for token in case["tokens"]:
    header, payload, signature = token.split(".")
    raw = b64d(signature)
    der = utils.encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        key.verify(der, (header + "." + payload).encode(), ec.ECDSA(hashes.SHA256()))
        out.append(json.loads(b64d(payload)))
    except InvalidSignature:
        out.append(None)
print(json.dumps(out))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_verify_certificate() {
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |_| {}).await;
    let now = v.now();
    let issued = v.issue("confirmed").await;
    let code = issued["code"].as_str().unwrap();
    let long = issued["longCode"].as_str().unwrap();
    assert!(code.len() == 8 && code.bytes().all(|b| b.is_ascii_digit()), "{issued}");
    assert!(long.len() == 16 && long.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()));
    assert_eq!(issued["expiresAtTimestamp"], now + 900);
    assert_eq!(issued["longExpiresAtTimestamp"], now + 86_400);
    assert!(issued["expiresAt"].as_str().unwrap().ends_with(" UTC"));
    let uuid = issued["uuid"].as_str().unwrap().to_owned();
    assert_eq!(uuid.len(), 36);

    let (status, status_answer) =
        v.call("/api/checkcodestatus", Some(&v.admin), &json!({"uuid": uuid})).await;
    assert_eq!(
        (status, &status_answer["claimed"]),
        (200, &serde_json::Value::Null),
        "{status_answer}"
    );

    let answer = v
        .raw("/api/verify", Some(&v.device), &[], json!({"code": code}).to_string().into_bytes())
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body.len(), 2048, "padded to the response size");
    let verified: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(verified["testtype"], "confirmed");
    assert_eq!(verified["symptomDate"], today(now));
    assert!(verified.get("testDate").is_none());
    let token = verified["token"].as_str().unwrap();
    let token_jwt = Jwt::parse(token).unwrap();
    assert_eq!(token_jwt.kid(), Some("t1"));

    let hmac = hmac_b64(0x42);
    let (status, cert) = v.certificate(token, &hmac).await;
    assert_eq!(status, 200, "{cert}");
    let certificate = cert["certificate"].as_str().unwrap();

    // Check it with the published key, as the key server does.
    let jwks = v.get("/.well-known/jwks.json").await;
    assert_eq!(jwks.status, 200);
    let set = parse_jwks(&jwks.body).unwrap();
    let parsed = Jwt::parse(certificate).unwrap();
    assert_eq!(parsed.kid(), Some("c1"));
    let key = set.find("c1").unwrap().key;
    let claims = jwt::verify_certificate(certificate, &key).unwrap();
    assert_eq!(claims.issuer, "herald-verifier-de");
    assert_eq!(claims.audience, Audience::One("herald-keyserver-de".into()));
    assert_eq!(claims.report_type, VerificationReportType::Confirmed);
    assert_eq!(claims.tekmac, hmac);
    assert_eq!(claims.symptom_onset_interval, Some(u32::try_from(now / 86_400 * 144).unwrap()));
    assert_eq!(claims.issued_at.unwrap().0, now - 5);
    assert_eq!(claims.not_before.unwrap().0, now - 5);
    assert_eq!(claims.expires_at.0, now + 900);
    claims
        .validate(herald_model::UnixTime(now), "herald-verifier-de", "herald-keyserver-de", 5)
        .unwrap();

    // The same certificate through an oracle we did not write: Python's `cryptography`, with
    // the JWK as served; one flipped signature bit must fail there too.
    let (input, sig) = certificate.rsplit_once('.').unwrap();
    let mut raw = URL_SAFE_NO_PAD.decode(sig).unwrap();
    raw[7] ^= 0x01;
    let tampered = format!("{input}.{}", URL_SAFE_NO_PAD.encode(raw));
    let case = json!({
        "jwks": serde_json::from_slice::<serde_json::Value>(&jwks.body).unwrap(),
        "kid": "c1",
        "tokens": [certificate, tampered],
    });
    if let Some(out) =
        herald_testkit::run_python(&["cryptography"], PYTHON_VERIFY, case.to_string().as_bytes())
    {
        let results: Vec<serde_json::Value> = serde_json::from_slice(&out).unwrap();
        assert_eq!(results[0]["reportType"], "confirmed");
        assert_eq!(results[0]["tekmac"], hmac);
        assert_eq!(results[1], serde_json::Value::Null);
    }

    // The redeemed token is kept until a whole hour: no redemption time is stored (§6.7).
    assert_eq!(v.scalar("SELECT COUNT(*) FROM used_token WHERE expires_at % 3600 = 0").await, 1);
    assert_eq!(v.scalar("SELECT COUNT(*) FROM api_key WHERE created_at % 3600 <> 0").await, 0);

    let (_, after) = v.call("/api/checkcodestatus", Some(&v.admin), &json!({"uuid": uuid})).await;
    assert_eq!(after["claimed"], true);

    // The long code of another issue works the same way; dates and test types carry over.
    let (status, issued) = v
        .call(
            "/api/issue",
            Some(&v.admin),
            &json!({"testType": "likely", "testDate": today(now), "tzOffset": 60, "uuid": "0F9B6B9E-3A57-4C5E-9D7F-1F2A3B4C5D6E", "phone": "+15555550100"}),
        )
        .await;
    assert_eq!(status, 200, "{issued}");
    assert_eq!(issued["uuid"], "0f9b6b9e-3a57-4c5e-9d7f-1f2a3b4c5d6e");
    let (status, verified) = v
        .call(
            "/api/verify",
            Some(&v.device),
            &json!({"code": issued["longCode"], "accept": ["likely"]}),
        )
        .await;
    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified["testtype"], "likely");
    assert_eq!(verified["testDate"], today(now));
    let (status, cert) = v.certificate(verified["token"].as_str().unwrap(), &hmac).await;
    assert_eq!(status, 200);
    let claims = jwt::verify_certificate(cert["certificate"].as_str().unwrap(), &key).unwrap();
    assert_eq!(claims.report_type, VerificationReportType::Likely);
    assert_eq!(claims.symptom_onset_interval, None, "the test date is not sent");
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_issue_and_expire() {
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |_| {}).await;
    let date = today(v.now());
    let (status, batch) = v
        .call(
            "/api/batch-issue",
            Some(&v.admin),
            &json!({"codes": [
                {"testType": "confirmed", "symptomDate": date},
                {"testType": "positive", "symptomDate": date},
                {"testType": "negative", "testDate": date},
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{batch}");
    let codes = batch["codes"].as_array().unwrap();
    assert_eq!(codes.len(), 3);
    assert!(codes[0]["code"].is_string() && codes[2]["code"].is_string());
    assert_eq!(codes[1]["errorCode"], "invalid_test_type");
    // Every element refused: the first error's status.
    let (status, batch_err) =
        v.call("/api/batch-issue", Some(&v.admin), &json!({"codes": [{"testType": "x"}]})).await;
    assert_eq!((status, batch_err["errorCode"].as_str()), (400, Some("invalid_test_type")));

    let uuid = codes[0]["uuid"].as_str().unwrap();
    let (status, expired) = v.call("/api/expirecode", Some(&v.admin), &json!({"uuid": uuid})).await;
    assert_eq!(status, 200, "{expired}");
    assert_eq!(expired["expiresAtTimestamp"], v.now());
    let (status, answer) = v.verify(codes[0]["code"].as_str().unwrap()).await;
    assert_eq!((status, answer["errorCode"].as_str()), (400, Some("code_expired")));

    // A short code expires after 15 minutes; its long code lives on.
    let issued = v.issue("confirmed").await;
    v.clock.advance(15 * 60);
    let (status, answer) = v.verify(issued["code"].as_str().unwrap()).await;
    assert_eq!((status, answer["errorCode"].as_str()), (400, Some("code_expired")));
    // As typed by a person: upper case, spaces around.
    let typed = format!("  {} ", issued["longCode"].as_str().unwrap().to_ascii_uppercase());
    let (status, _) = v.verify(&typed).await;
    assert_eq!(status, 200);
    v.stop().await;
}

/// Chaff and real answers look the same from outside: status, headers, body length.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaff_is_indistinguishable() {
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |_| {}).await;
    let shape = |a: &herald_runtime::Answer| {
        let mut headers: Vec<(String, String)> = a
            .headers
            .iter()
            .filter(|(n, _)| n.as_str() != "date")
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        headers.sort();
        (a.status.as_u16(), headers, a.body.len())
    };
    // /api/verify: real success vs chaff carrying a real code (which must stay unused).
    let real_code = v.issue("confirmed").await["code"].as_str().unwrap().to_owned();
    let spare_code = v.issue("confirmed").await["code"].as_str().unwrap().to_owned();
    let before = v.storage().await;
    let chaff = v
        .raw(
            "/api/verify",
            Some(&v.device),
            &[("x-chaff", "1")],
            json!({"code": spare_code}).to_string().into_bytes(),
        )
        .await;
    assert_eq!(v.storage().await, before, "chaff stores nothing");
    let real = v
        .raw(
            "/api/verify",
            Some(&v.device),
            &[],
            json!({"code": real_code}).to_string().into_bytes(),
        )
        .await;
    assert_eq!(shape(&chaff), shape(&real));
    assert_eq!(real.body.len(), 2048);
    // An error answer has the same size too (only the status differs).
    let wrong =
        v.raw("/api/verify", Some(&v.device), &[], br#"{"code":"00000000"}"#.to_vec()).await;
    assert_eq!(wrong.body.len(), real.body.len());
    let (status, _) = v.verify(&spare_code).await;
    assert_eq!(status, 200, "the code sent as chaff was not used");

    // /api/certificate: real success vs chaff with a real token (which must stay unused).
    let token = v.token().await;
    let spare = v.token().await;
    let before = v.storage().await;
    let body = |t: &str| json!({"token": t, "ekeyhmac": hmac_b64(1)}).to_string().into_bytes();
    let chaff =
        v.raw("/api/certificate", Some(&v.device), &[("x-chaff", "yes")], body(&spare)).await;
    assert_eq!(v.storage().await, before, "chaff stores nothing");
    let real = v.raw("/api/certificate", Some(&v.device), &[], body(&token)).await;
    assert_eq!(shape(&chaff), shape(&real));
    let chaff_json: serde_json::Value = serde_json::from_slice(&chaff.body).unwrap();
    assert!(chaff_json["certificate"].is_string());
    let (status, _) = v.certificate(&spare, &hmac_b64(1)).await;
    assert_eq!(status, 200, "the token sent as chaff was not used");

    // Chaff still needs a device key: without, it is refused like a real request.
    let no_key = v.raw("/api/verify", None, &[("x-chaff", "1")], b"{}".to_vec()).await;
    assert_eq!(no_key.status, 401);
    v.stop().await;
}

/// A new certificate key signs from its start; the old one stays published until its
/// `published_until`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_key_rotation() {
    let dir = dev_world(&["DE"]);
    let second = dir.path().join("DE").join("verifier").join("certificate-c2.key.pem");
    {
        use p256::pkcs8::{EncodePrivateKey as _, LineEnding};
        let key = p256::ecdsa::SigningKey::from_slice(&[0x5a; 32]).unwrap();
        std::fs::create_dir_all(second.parent().unwrap()).unwrap();
        std::fs::write(&second, key.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes()).unwrap();
    }
    let now = crate::support::system_now();
    let v = start(dir.path(), "DE", |c| {
        c.certificate.keys[0].published_until = Some(now + 2000);
        c.certificate.keys.push(KeyFile {
            kid: "c2".into(),
            key: second.clone(),
            signing_from: Some(now + 100),
            published_until: None,
        });
    })
    .await;
    let kid_of_next = || async {
        let token = v.token().await;
        let (status, cert) = v.certificate(&token, &hmac_b64(3)).await;
        assert_eq!(status, 200);
        Jwt::parse(cert["certificate"].as_str().unwrap()).unwrap().kid().unwrap().to_owned()
    };
    let published = || async {
        parse_jwks(&v.get("/.well-known/jwks.json").await.body)
            .unwrap()
            .keys
            .iter()
            .map(|k| k.kid.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(kid_of_next().await, "c1");
    assert_eq!(published().await, ["c1", "c2"], "the next key is published before it signs");
    v.clock.advance(100);
    assert_eq!(kid_of_next().await, "c2");
    assert_eq!(published().await, ["c1", "c2"]);
    v.clock.advance(2000);
    assert_eq!(published().await, ["c2"]);
    v.stop().await;
}

/// A revoked API key is refused; the others keep working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_keys_are_refused() {
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |_| {}).await;
    let store = herald_verifier::store::Store::open(&v.database).await.unwrap();
    assert!(store.revoke_api_key("dev-admin").await.unwrap());
    store.close().await;
    let (status, answer) = v
        .call(
            "/api/issue",
            Some(&v.admin),
            &json!({"testType": "confirmed", "symptomDate": today(v.now())}),
        )
        .await;
    assert_eq!((status, answer["errorCode"].as_str()), (401, Some("unauthorized")));
    assert_eq!(answer["error"], "API key is revoked");
    let (status, _) = v.verify("12345678").await;
    assert_eq!(status, 400, "the device key still works");
    v.stop().await;
}

/// The same flow with PostgreSQL storage (skipped only outside CI when it is unreachable).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flow_on_postgres() {
    let Some(db) = herald_db::testing::Backend::Postgres.fresh().await else { return };
    let dir = dev_world(&["DE"]);
    let url = db.url.clone();
    let v = start(dir.path(), "DE", move |c| c.database = url).await;
    let issued = v.issue("negative").await;
    let (status, verified) = v
        .call(
            "/api/verify",
            Some(&v.device),
            &json!({"code": issued["code"], "accept": ["negative"]}),
        )
        .await;
    assert_eq!(status, 200, "{verified}");
    let token = verified["token"].as_str().unwrap();
    assert_eq!(v.certificate(token, &hmac_b64(4)).await.0, 200);
    let (status, again) = v.certificate(token, &hmac_b64(4)).await;
    assert_eq!((status, again["errorCode"].as_str()), (400, Some("token_expired")));
    assert_eq!(v.verify(issued["code"].as_str().unwrap()).await.0, 400);
    assert_eq!(db.count("verification_code").await, 1);
    assert_eq!(db.count("used_token").await, 1);
    assert_eq!(db.count("api_key").await, 2);
    v.stop().await;
}
