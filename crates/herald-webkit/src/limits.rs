//! What keeps a login form from being a password oracle or a way to exhaust the machine.

use std::collections::HashMap;
use std::sync::Mutex;

use zeroize::Zeroizing;

use crate::{Keyring, Purpose, auth};

/// Login attempts per user name (its keyed hash) in 15-minute windows, in memory.
#[derive(Debug, Default)]
pub struct LoginLimiter {
    windows: Mutex<HashMap<[u8; 32], (i64, u32)>>,
}

impl LoginLimiter {
    /// The limiter's key of the user name `name` (case-insensitive).
    pub fn key(keys: &dyn Keyring, name: &str) -> [u8; 32] {
        keys.mac(Purpose::LoginLimit, name.to_lowercase().as_bytes())
    }

    /// Forgets the attempts of the user `name` (an administrator unlocked the account).
    pub fn forget(&self, keys: &dyn Keyring, name: &str) {
        if let Ok(mut windows) = self.windows.lock() {
            windows.remove(&Self::key(keys, name));
        }
    }

    /// Counts an attempt at `now`; `false` when the name is over `limit` in its window.
    pub fn attempt(&self, key: [u8; 32], now: i64, limit: u32) -> bool {
        let Ok(mut windows) = self.windows.lock() else { return false };
        if windows.len() > 100_000 {
            windows.retain(|_, (start, _)| now < *start + 900);
        }
        let entry = windows.entry(key).or_insert((now, 0));
        if now >= entry.0 + 900 {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        entry.1 <= limit
    }
}

/// argon2id on blocking threads, at most `slots` at once (19 MiB each): a flood of logins
/// queues instead of exhausting memory or stalling the async workers. Unknown users cost the
/// same as known ones ([`PasswordHasher::matches_nobody`]).
#[derive(Debug)]
pub struct PasswordHasher {
    slots: tokio::sync::Semaphore,
    dummy: String,
}

impl PasswordHasher {
    /// A hasher running at most `slots` computations at once.
    pub fn new(slots: usize) -> Self {
        Self { slots: tokio::sync::Semaphore::new(slots), dummy: auth::dummy_hash() }
    }

    /// Whether `password` matches the PHC string `hash`.
    pub async fn matches(&self, password: &str, hash: &str) -> bool {
        let Ok(_slot) = self.slots.acquire().await else { return false };
        let (password, hash) = (Zeroizing::new(password.to_owned()), hash.to_owned());
        tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash))
            .await
            .unwrap_or(false)
    }

    /// The work of a real check, for a user who does not exist (or is disabled): always false.
    pub async fn matches_nobody(&self, password: &str) -> bool {
        let _ = self.matches(password, &self.dummy).await;
        false
    }

    /// The argon2id PHC string of `password`.
    pub async fn hash(&self, password: &str) -> Result<String, String> {
        let _slot = self.slots.acquire().await.map_err(|e| e.to_string())?;
        let password = Zeroizing::new(password.to_owned());
        tokio::task::spawn_blocking(move || auth::hash_password(&password))
            .await
            .map_err(|e| e.to_string())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_gets_its_attempts_per_window() {
        let l = LoginLimiter::default();
        assert!((0..3).all(|_| l.attempt([1; 32], 100, 3)));
        assert!(!l.attempt([1; 32], 100, 3));
        assert!(l.attempt([2; 32], 100, 3), "another name");
        assert!(l.attempt([1; 32], 1000, 3), "a new window");
    }

    #[tokio::test]
    async fn hashes_verify_off_the_async_workers() {
        let h = PasswordHasher::new(1);
        let hash = h.hash("correct horse battery").await.unwrap();
        assert!(h.matches("correct horse battery", &hash).await);
        assert!(!h.matches("wrong", &hash).await);
        assert!(!h.matches_nobody("anything").await);
    }
}
