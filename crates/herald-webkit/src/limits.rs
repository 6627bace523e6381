//! What keeps a login form from being a password oracle or a way to exhaust the machine, all in
//! memory and bounded:
//! - [`LoginLimiter`]: attempts per user name (its keyed hash) in 15-minute windows;
//! - [`ClientLimiter`]: attempts per client address that did not succeed, keyed by an HMAC
//!   under a random key of this process (an address is never stored, logged or kept as such;
//!   the service finds it: `herald_runtime::PeerInfo::client_address`);
//! - [`PasswordHasher`]: argon2id on blocking threads, a few at a time, behind an admission
//!   with a bounded queue: when it is full, a login is answered at once instead of waiting.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use aws_lc_rs::hmac;
use rand::Rng as _;
use tokio::sync::{Semaphore, SemaphorePermit};
use zeroize::Zeroizing;

use crate::{Keyring, Purpose, auth};

/// The length of a limit's window (15 minutes).
pub const WINDOW_SECONDS: i64 = 900;

/// The most keys one limiter holds (about 64 bytes each).
const MAX_KEYS: usize = 65_536;

/// Over a limit: retry after this many seconds (when the window ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooMany {
    /// Seconds until the window ends (1 to [`WINDOW_SECONDS`]).
    pub retry_after: i64,
}

/// Counts per key in fixed 15-minute windows, at most `capacity` keys.
#[derive(Debug)]
struct Windows {
    counts: Mutex<HashMap<[u8; 32], Window>>,
    capacity: usize,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: i64,
    count: u32,
}

impl Windows {
    fn new(capacity: usize) -> Self {
        Self { counts: Mutex::new(HashMap::new()), capacity: capacity.max(4) }
    }

    /// Counts one for `key` at `now`: over `limit` in the window is [`TooMany`] (counted too).
    fn count(&self, key: [u8; 32], now: i64, limit: u32) -> Result<(), TooMany> {
        let mut counts = self.lock();
        if counts.len() >= self.capacity && !counts.contains_key(&key) {
            evict(&mut counts, now, self.capacity);
        }
        let window = counts.entry(key).or_insert(Window { start: now, count: 0 });
        if now >= window.start + WINDOW_SECONDS || now < window.start {
            *window = Window { start: now, count: 0 };
        }
        window.count = window.count.saturating_add(1);
        if window.count <= limit {
            return Ok(());
        }
        Err(TooMany { retry_after: (window.start + WINDOW_SECONDS - now).clamp(1, WINDOW_SECONDS) })
    }

    /// Takes back one count of `key` (in its window).
    fn uncount(&self, key: [u8; 32], now: i64) {
        let mut counts = self.lock();
        if let Some(window) = counts.get_mut(&key)
            && now < window.start + WINDOW_SECONDS
        {
            window.count = window.count.saturating_sub(1);
        }
    }

    /// Forgets `key`'s count.
    fn forget(&self, key: [u8; 32]) {
        self.lock().remove(&key);
    }

    /// The table (counters stay usable after a panic elsewhere: nothing here can be half done).
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Window>> {
        self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// Makes room in a full table, down to three quarters of it (so that the next eviction is a
/// quarter of the table's inserts away): first the ended windows go; if that is not enough,
/// the keys with the fewest attempts (the oldest first among equals), so that a key far over
/// its limit keeps its count while a flood of new keys goes on.
fn evict(counts: &mut HashMap<[u8; 32], Window>, now: i64, capacity: usize) {
    counts.retain(|_, w| now < w.start + WINDOW_SECONDS);
    let keep = capacity * 3 / 4;
    if counts.len() <= keep {
        return;
    }
    let mut order: Vec<(u32, i64, [u8; 32])> =
        counts.iter().map(|(k, w)| (w.count, w.start, *k)).collect();
    order.sort_unstable();
    let excess = counts.len() - keep;
    for (_, _, key) in order.iter().take(excess) {
        counts.remove(key);
    }
}

/// Login attempts per user name (its keyed hash) in 15-minute windows, in memory.
#[derive(Debug)]
pub struct LoginLimiter {
    windows: Windows,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self { windows: Windows::new(MAX_KEYS) }
    }
}

impl LoginLimiter {
    /// The limiter's key of the user name `name` (case-insensitive).
    pub fn key(keys: &dyn Keyring, name: &str) -> [u8; 32] {
        keys.mac(Purpose::LoginLimit, name.to_lowercase().as_bytes())
    }

    /// Counts an attempt for `key` at `now`; [`TooMany`] when the name is over `limit` in its
    /// window.
    pub fn attempt(&self, key: [u8; 32], now: i64, limit: u32) -> Result<(), TooMany> {
        self.windows.count(key, now, limit)
    }

    /// Forgets the attempts of the user `name` (an administrator unlocked the account).
    pub fn forget(&self, keys: &dyn Keyring, name: &str) {
        self.windows.forget(Self::key(keys, name));
    }
}

/// Login attempts per client address that did not succeed (failed or still running), in
/// 15-minute windows. The key of an address is an HMAC under a random key of this process:
/// nothing here outlives the process or can be turned back into an address. IPv6 clients count
/// per /64 (one subscriber's network), IPv4 clients (and IPv4-mapped IPv6) per address; clients
/// whose address is unknown share one count.
pub struct ClientLimiter {
    key: hmac::Key,
    windows: Windows,
}

impl Default for ClientLimiter {
    fn default() -> Self {
        let mut secret = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(secret.as_mut_slice());
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret.as_slice()),
            windows: Windows::new(MAX_KEYS),
        }
    }
}

impl std::fmt::Debug for ClientLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientLimiter").finish_non_exhaustive()
    }
}

impl ClientLimiter {
    fn key_of(&self, client: Option<IpAddr>) -> [u8; 32] {
        let mut data = Vec::with_capacity(9);
        match client.map(|ip| ip.to_canonical()) {
            Some(IpAddr::V4(v4)) => {
                data.push(4);
                data.extend_from_slice(&v4.octets());
            }
            Some(IpAddr::V6(v6)) => {
                data.push(6);
                data.extend(v6.octets().iter().take(8));
            }
            None => data.push(0),
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(hmac::sign(&self.key, &data).as_ref());
        out
    }

    /// Counts an attempt of `client` at `now`; [`TooMany`] when the client is over `limit`.
    pub fn attempt(&self, client: Option<IpAddr>, now: i64, limit: u32) -> Result<(), TooMany> {
        self.windows.count(self.key_of(client), now, limit)
    }

    /// Takes back the attempt of `client`: it succeeded.
    pub fn succeeded(&self, client: Option<IpAddr>, now: i64) {
        self.windows.uncount(self.key_of(client), now);
    }
}

/// argon2id is busy: every slot computes and the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many password hashes running or waiting")]
pub struct Busy;

/// argon2id on blocking threads, at most `slots` at once (19 MiB each), with at most `queue`
/// more waiting: a flood of logins is answered at once ([`Busy`]) instead of queueing without
/// bound in front of every real login. A caller is admitted first ([`PasswordHasher::admit`]),
/// before any other work; an [`Admission`] then hashes as often as the request needs. Unknown
/// users cost the same as known ones ([`Admission::matches_nobody`]).
#[derive(Debug)]
pub struct PasswordHasher {
    admission: Semaphore,
    slots: Semaphore,
    dummy: String,
}

/// A request admitted to hash passwords (it holds one place of [`PasswordHasher`]'s slots and
/// queue until dropped).
#[derive(Debug)]
pub struct Admission<'a> {
    hasher: &'a PasswordHasher,
    _place: SemaphorePermit<'a>,
}

impl PasswordHasher {
    /// A hasher running at most `slots` computations at once, with `queue` more waiting.
    pub fn new(slots: usize, queue: usize) -> Self {
        let slots = slots.max(1);
        Self {
            admission: Semaphore::new(slots.saturating_add(queue)),
            slots: Semaphore::new(slots),
            dummy: auth::dummy_hash(),
        }
    }

    /// A hasher sized to this machine: a slot per core (at most 8), twice as many waiting.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let slots = cores.clamp(1, 8);
        Self::new(slots, 2 * slots)
    }

    /// A place to hash, or [`Busy`] at once when every slot and queue place is taken.
    pub fn admit(&self) -> Result<Admission<'_>, Busy> {
        let place = self.admission.try_acquire().map_err(|_| Busy)?;
        Ok(Admission { hasher: self, _place: place })
    }
}

impl Admission<'_> {
    /// Whether `password` matches the PHC string `hash`.
    pub async fn matches(&self, password: &str, hash: &str) -> bool {
        let Ok(_slot) = self.hasher.slots.acquire().await else { return false };
        let (password, hash) = (Zeroizing::new(password.to_owned()), hash.to_owned());
        tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash))
            .await
            .unwrap_or(false)
    }

    /// The work of a real check, for a user who does not exist (or is disabled): always false.
    pub async fn matches_nobody(&self, password: &str) -> bool {
        let _ = self.matches(password, &self.hasher.dummy).await;
        false
    }

    /// The argon2id PHC string of `password`.
    pub async fn hash(&self, password: &str) -> Result<String, String> {
        let _slot = self.hasher.slots.acquire().await.map_err(|e| e.to_string())?;
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
        assert!((0..3).all(|_| l.attempt([1; 32], 100, 3).is_ok()));
        assert_eq!(l.attempt([1; 32], 160, 3), Err(TooMany { retry_after: 840 }));
        assert!(l.attempt([2; 32], 100, 3).is_ok(), "another name");
        assert!(l.attempt([1; 32], 1000, 3).is_ok(), "a new window");
    }

    #[test]
    fn clients_count_what_did_not_succeed_per_address_or_64_prefix() {
        let c = ClientLimiter::default();
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert!(c.attempt(ip("192.0.2.1"), 100, 2).is_ok());
        c.succeeded(ip("192.0.2.1"), 100);
        assert!((0..2).all(|_| c.attempt(ip("192.0.2.1"), 100, 2).is_ok()));
        assert!(c.attempt(ip("::ffff:192.0.2.1"), 100, 2).is_err(), "the same (IPv4-mapped)");
        assert!(c.attempt(ip("192.0.2.2"), 100, 2).is_ok(), "another client");
        assert!((0..2).all(|_| c.attempt(ip("2001:db8:1:2::1"), 100, 2).is_ok()));
        assert!(c.attempt(ip("2001:db8:1:2:ffff::9"), 100, 2).is_err(), "the same /64");
        assert!(c.attempt(ip("2001:db8:1:3::1"), 100, 2).is_ok(), "another /64");
        assert!(c.attempt(None, 100, 2).is_ok(), "unknown clients share one count");
        let other = ClientLimiter::default();
        assert_ne!(c.key_of(ip("192.0.2.1")), other.key_of(ip("192.0.2.1")), "a key per process");
    }

    #[test]
    fn memory_is_bounded_and_a_key_over_its_limit_keeps_its_count() {
        let w = Windows::new(100);
        for _ in 0..10 {
            let _ = w.count([0xff; 32], 0, 5);
        }
        for i in 0..1000u32 {
            let mut key = [0u8; 32];
            key[..4].copy_from_slice(&i.to_be_bytes());
            let _ = w.count(key, 10, 5);
            assert!(w.len() <= 100);
        }
        assert!(w.count([0xff; 32], 20, 5).is_err(), "the flood did not reset it");
        assert!(w.len() <= 100);
    }

    #[test]
    fn a_full_queue_is_busy_at_once() {
        let h = PasswordHasher::new(2, 1);
        let held: Vec<Admission<'_>> = (0..3).map(|_| h.admit().unwrap()).collect();
        assert_eq!(h.admit().err(), Some(Busy), "two slots and one waiting place taken");
        drop(held);
        assert!(h.admit().is_ok());
    }
}
