//! Logs of a full flow never carry a code, a token, a certificate, an HMAC, an API key, a
//! portal password, TOTP secret, session id or CSRF token; nor does the database.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;

use herald_verifier::store::Role;

use crate::support::{database_bytes, dev_world, hmac_b64, start};
use crate::web::{Web, body, make_user, text_of};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_logs_or_database() {
    let captured = Captured::default();
    let sink = captured.clone();
    // The one global subscriber of this test binary: everything, at every level, from every
    // thread (server tasks run on the runtime's workers).
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .try_init()
        .expect("the logs test owns the global subscriber");

    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |_| {}).await;
    let issued = v.issue("confirmed").await;
    let code = issued["code"].as_str().unwrap().to_owned();
    let long = issued["longCode"].as_str().unwrap().to_owned();
    let (status, verified) = v.verify(&code).await;
    assert_eq!(status, 200);
    let token = verified["token"].as_str().unwrap().to_owned();
    let hmac = hmac_b64(0x5c);
    let (status, cert) = v.certificate(&token, &hmac).await;
    assert_eq!(status, 200);
    let certificate = cert["certificate"].as_str().unwrap().to_owned();
    // A phone number is accepted for compatibility and dropped.
    let phone = "+15555550199";
    let (status, _) = v
        .call(
            "/api/issue",
            Some(&v.admin),
            &json!({"testType": "likely", "symptomDate": crate::support::today(v.now()), "phone": phone}),
        )
        .await;
    assert_eq!(status, 200);
    // Refusals log too: a wrong code, a replayed token, a bad key, a chaff request.
    let _ = v.verify(&long).await;
    let _ = v.certificate(&token, &hmac).await;
    let _ =
        v.call("/api/verify", Some("hvd_not-a-real-key-1234567890"), &json!({"code": code})).await;
    let _ = v
        .raw(
            "/api/verify",
            Some(&v.device),
            &[("x-chaff", "1")],
            json!({"code": code}).to_string().into_bytes(),
        )
        .await;
    // The portal: a user is made, logs in with password and TOTP, replaces the one-time
    // password, issues a code; wrong passwords are typed too.
    let mut user = make_user(&v, "carla", Role::CaseWorker).await;
    let (one_time, totp_secret) = (user.password.clone(), user.secret.clone());
    let mut web = Web::new(&v);
    let _ = web.login(&v, &user, "typo-password-1234").await;
    web.login_ready(&v, &mut user).await;
    let session = web.cookies.get("herald_portal").unwrap().clone();
    let csrf = crate::web::csrf_of(&body(&web.get("/portal/").await));
    let page = body(
        &web.submit(
            "/portal/",
            "/portal/issue",
            &[("test_type", "confirmed"), ("symptom_date", &crate::support::today(v.now()))],
        )
        .await,
    );
    let portal_code = text_of(&page, "short-code").unwrap();
    let portal_long = text_of(&page, "long-code").unwrap();
    let (status, _) = v.verify(&portal_code).await;
    assert_eq!(status, 200);
    let (admin, device) = (v.admin.clone(), v.device.clone());
    v.stop().await;

    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(logs.contains("certificate issued"), "the capture works:\n{logs}");
    let jti = {
        let payload = herald_wire::jwt::Jwt::parse(&token).unwrap().unverified_payload().to_vec();
        herald_wire::jwt::VerificationTokenClaims::from_json(&payload).unwrap().jwt_id
    };
    let secrets = [
        ("short code", code.as_str()),
        ("long code", long.as_str()),
        ("token", token.as_str()),
        ("token jti", jti.as_str()),
        ("certificate", certificate.as_str()),
        ("certificate signature", certificate.rsplit('.').next().unwrap()),
        ("ekeyhmac", hmac.as_str()),
        ("admin API key", admin.as_str()),
        ("device API key", device.as_str()),
        ("phone number", phone),
        ("unknown API key", "hvd_not-a-real-key-1234567890"),
        ("portal short code", portal_code.as_str()),
        ("portal long code", portal_long.as_str()),
        ("one-time password", one_time.as_str()),
        ("password", user.password.as_str()),
        ("mistyped password", "typo-password-1234"),
        ("TOTP secret (Base32)", &herald_verifier::portal::auth::base32(&totp_secret)),
        ("TOTP secret (hex)", &herald_model::key::to_hex(&totp_secret)),
        ("session id", session.as_str()),
        ("CSRF token", csrf.as_str()),
    ];
    for (what, secret) in secrets {
        assert!(!logs.contains(secret), "the {what} appears in the logs");
    }
    let db = database_bytes(dir.path(), "DE");
    assert!(!db.is_empty());
    assert!(
        !db.windows(totp_secret.len()).any(|w| w == totp_secret.as_slice()),
        "the raw TOTP secret appears in the database"
    );
    for (what, secret) in secrets {
        assert!(
            !db.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the {what} appears in the database"
        );
    }
}
