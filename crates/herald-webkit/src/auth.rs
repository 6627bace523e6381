//! A portal's credentials: argon2id passwords, RFC 6238 TOTP (HMAC-SHA1, 30 s, 6 digits),
//! TOTP secrets sealed with AES-256-GCM, random session ids and CSRF tokens, all keyed by the
//! service's [`Keyring`].
//!
//! Nothing here logs. Secrets are returned in [`Zeroizing`] buffers where they are held.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use hmac::{Hmac, KeyInit as _, Mac as _};
use rand::{Rng as _, RngExt as _};
use sha1::Sha1;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::{Keyring, Purpose};

/// The TOTP time step (RFC 6238 default).
pub const TOTP_STEP: i64 = 30;
/// Shortest accepted password.
pub const MIN_PASSWORD: usize = 12;

/// Random bytes as lower-case hex.
pub fn random_hex(bytes: usize) -> Zeroizing<String> {
    let mut raw = Zeroizing::new(vec![0u8; bytes]);
    rand::rng().fill_bytes(raw.as_mut_slice());
    Zeroizing::new(herald_model::key::to_hex(raw.as_slice()))
}

/// A random one-time password: 20 characters from an alphabet without look-alikes.
pub fn one_time_password() -> Zeroizing<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY346789";
    let mut rng = rand::rng();
    let mut out = Zeroizing::new(String::with_capacity(20));
    for _ in 0..20 {
        let i = rng.random_range(0..ALPHABET.len());
        out.push(char::from(ALPHABET.get(i).copied().unwrap_or(b'a')));
    }
    out
}

/// The argon2id PHC string of `password` (OWASP parameters: 19 MiB, 2 passes).
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("password hashing failed: {e}"))
}

/// Whether `password` matches the PHC string `hash` (false for an unreadable hash).
pub fn verify_password(password: &str, hash: &str) -> bool {
    Argon2::default().verify_password(password.as_bytes(), hash).is_ok()
}

/// A PHC string of a random password, to spend the same time on unknown users.
pub fn dummy_hash() -> String {
    hash_password(&one_time_password()).unwrap_or_default()
}

/// RFC 4648 Base32 without padding (the form authenticator apps take).
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let digit = |v: u32| char::from(ALPHABET.get((v & 31) as usize).copied().unwrap_or(b'A'));
    let mut out = String::new();
    let mut buffer = 0u32;
    let mut bits = 0u32;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(digit(buffer >> bits));
        }
    }
    if bits > 0 {
        out.push(digit(buffer << (5 - bits)));
    }
    out
}

/// RFC 4648 Base32 (padding, spaces and case forgiven) back to bytes.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buffer = 0u32;
    let mut bits = 0u32;
    for c in text.bytes().filter(|c| !matches!(c, b'=' | b' ')) {
        let v = match c.to_ascii_uppercase() {
            c @ b'A'..=b'Z' => c - b'A',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xff).unwrap_or(0));
        }
    }
    Some(out)
}

/// The RFC 6238 code (6 digits) of `secret` for time step `step`.
pub fn totp(secret: &[u8], step: i64) -> String {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else { return String::new() };
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest.get(19).copied().unwrap_or(0) & 0x0f);
    let word = digest
        .get(offset..offset + 4)
        .and_then(|w| <[u8; 4]>::try_from(w).ok())
        .map_or(0, u32::from_be_bytes);
    format!("{:06}", (word & 0x7fff_ffff) % 1_000_000)
}

/// The time step (within ±1 of `now`'s) whose code is `code`, if any.
pub fn totp_step(secret: &[u8], code: &str, now: i64) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = now.div_euclid(TOTP_STEP);
    [current - 1, current, current + 1]
        .into_iter()
        .find(|&step| bool::from(totp(secret, step).as_bytes().ct_eq(code.as_bytes())))
}

/// RFC 3986 percent-encoding: everything but unreserved characters as `%XX`.
pub fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The `otpauth://` URI an authenticator app scans.
pub fn otpauth_uri(issuer: &str, user: &str, secret: &[u8]) -> String {
    let enc = percent_encode;
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits=6&period=30",
        enc(issuer),
        enc(user),
        base32(secret),
        enc(issuer)
    )
}

/// A fresh TOTP secret (20 bytes, RFC 4226's recommendation).
pub fn new_totp_secret() -> Zeroizing<Vec<u8>> {
    let mut s = Zeroizing::new(vec![0u8; 20]);
    rand::rng().fill_bytes(s.as_mut_slice());
    s
}

fn seal_key(key: &[u8; 32]) -> Option<LessSafeKey> {
    UnboundKey::new(&AES_256_GCM, key).ok().map(LessSafeKey::new)
}

/// Seals a TOTP secret under the newest server secret, bound to the user name.
pub fn seal(secrets: &dyn Keyring, user: &str, secret: &[u8]) -> Result<Vec<u8>, String> {
    let key = Zeroizing::new(secrets.mac(Purpose::TotpSeal, b""));
    let key = seal_key(&key).ok_or("sealing key unusable")?;
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    let mut data = secret.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(user.as_bytes()),
        &mut data,
    )
    .map_err(|_| "sealing the TOTP secret failed".to_owned())?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&data);
    Ok(out)
}

/// Opens a sealed TOTP secret (trying every server secret).
pub fn open(secrets: &dyn Keyring, user: &str, sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let (nonce, data) = sealed.split_at_checked(NONCE_LEN)?;
    for key in secrets.macs(Purpose::TotpSeal, b"") {
        let key = Zeroizing::new(key);
        let Some(key) = seal_key(&key) else { continue };
        let Ok(nonce) = Nonce::try_assume_unique_for_key(nonce) else { return None };
        let mut buffer = Zeroizing::new(data.to_vec());
        if let Ok(plain) = key.open_in_place(nonce, Aad::from(user.as_bytes()), &mut buffer) {
            return Some(Zeroizing::new(plain.to_vec()));
        }
    }
    None
}

/// The CSRF token bound to a session id (or a login cookie): a keyed hash of it, so it needs no
/// storage and cannot be computed without the server secret.
pub fn csrf_token(secrets: &dyn Keyring, bound_to: &str) -> String {
    herald_model::key::to_hex(&secrets.mac(Purpose::Csrf, bound_to.as_bytes()))
}

/// Whether `token` is the CSRF token of `bound_to` (under any server secret), in constant time.
pub fn csrf_ok(secrets: &dyn Keyring, bound_to: &str, token: &str) -> bool {
    !bound_to.is_empty()
        && secrets
            .macs(Purpose::Csrf, bound_to.as_bytes())
            .iter()
            .any(|h| bool::from(herald_model::key::to_hex(h).as_bytes().ct_eq(token.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A keyring of HMAC-SHA256 keys, newest first (the services' own are alike).
    struct Keys(Vec<[u8; 32]>);

    impl Keyring for Keys {
        fn mac(&self, purpose: Purpose, data: &[u8]) -> [u8; 32] {
            self.macs(purpose, data)[0]
        }

        fn macs(&self, purpose: Purpose, data: &[u8]) -> Vec<[u8; 32]> {
            use hmac::Mac as _;
            self.0
                .iter()
                .map(|k| {
                    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(k).unwrap();
                    mac.update(format!("{purpose:?}").as_bytes());
                    mac.update(data);
                    mac.finalize().into_bytes().into()
                })
                .collect()
        }
    }

    #[test]
    fn rfc6238_vectors() {
        // RFC 6238 appendix B, SHA-1, the last six digits of the eight-digit values.
        let secret = b"12345678901234567890";
        assert_eq!(totp(secret, 59 / 30), "287082");
        assert_eq!(totp(secret, 1_111_111_109 / 30), "081804");
        assert_eq!(totp(secret, 1_234_567_890 / 30), "005924");
        assert_eq!(totp(secret, 20_000_000_000 / 30), "353130");
        assert_eq!(totp_step(secret, "287082", 59), Some(1));
        assert_eq!(totp_step(secret, "287082", 59 + 90), None);
        assert_eq!(totp_step(secret, "28708", 59), None);
    }

    #[test]
    fn base32_rfc4648() {
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_decode("MZXW6YTBOI").unwrap(), b"foobar");
        assert_eq!(base32_decode("mzxw6ytboi======").unwrap(), b"foobar");
        assert!(base32_decode("M1").is_none());
    }

    #[test]
    fn sealing_round_trip() {
        let s = Keys(vec![[0x11; 32]]);
        let sealed = seal(&s, "alice", b"secret!").unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"secret!"));
        assert_eq!(open(&s, "alice", &sealed).unwrap().as_slice(), b"secret!");
        assert!(open(&s, "bob", &sealed).is_none(), "bound to the user");
        let rotated = Keys(vec![[0x22; 32], [0x11; 32]]);
        assert!(open(&rotated, "alice", &sealed).is_some());
    }

    #[test]
    fn passwords_and_csrf() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
        let s = Keys(vec![[0x11; 32]]);
        let t = csrf_token(&s, "session");
        assert!(csrf_ok(&s, "session", &t));
        assert!(!csrf_ok(&s, "other", &t));
        assert!(!csrf_ok(&s, "", &csrf_token(&s, "")));
    }
}
