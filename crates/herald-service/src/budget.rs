//! Failure budgets in fixed windows, and the keyed client identities they are kept for.
//!
//! A [`Budgets`] counts failed attempts per key (a device API key, a client, a user name) in
//! fixed windows. An attempt **reserves** one unit before the work it guards and gives it back
//! with [`Budgets::refund`] when it succeeded, so concurrent attempts cannot slip past a check
//! made before the work and a count made after it: at most `limit` attempts are ever in flight
//! or failed in one window.
//!
//! [`ClientIds`] turns a client's IP address into a [`ClientId`]: a 64-bit keyed hash (SipHash
//! with a random key drawn for this process), so the address itself is never held, stored or
//! logged, and an identity means nothing after a restart. IPv6 addresses are taken by their /64
//! prefix (one host usually holds a whole /64), IPv4-mapped IPv6 addresses as their IPv4 address.
//!
//! Memory is bounded: a budget holds at most `capacity` keys. When it is full, windows that
//! ended are dropped; when every window is still running, a new key is not tracked (its attempt
//! is allowed) and [`Reservation::untracked`] says so, so that callers can count it. A wider
//! budget (the app-wide one) still stands behind a client budget that overflows.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::net::IpAddr;
use std::sync::Mutex;

/// A client, as a keyed hash of its address (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientId(u64);

/// Makes [`ClientId`]s with a key drawn for this process.
#[derive(Debug, Default)]
pub struct ClientIds {
    key: RandomState,
}

impl ClientIds {
    /// A fresh random key.
    pub fn new() -> Self {
        Self::default()
    }

    /// The identity of the client at `address`.
    pub fn of(&self, address: IpAddr) -> ClientId {
        let network: [u8; 16] = match address {
            IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
            IpAddr::V6(v6) => {
                if let Some(v4) = v6.to_ipv4_mapped() {
                    v4.to_ipv6_mapped().octets()
                } else {
                    let mut octets = v6.octets();
                    octets[8..].fill(0);
                    octets
                }
            }
        };
        ClientId(self.key.hash_one(network))
    }
}

/// What a budget allows, per key and window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Allowance {
    /// Failed (or in-flight) attempts allowed per window.
    pub limit: u32,
    /// The window, in seconds.
    pub window: i64,
}

/// One reserved unit of a budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "a reservation counts as a failure unless it is refunded"]
pub struct Reservation {
    /// The start of the window the unit was taken from.
    window_start: i64,
    /// Units taken in this window, this one included (1 for the first).
    pub spent: u32,
    /// The budget was full of running windows: this key is not tracked.
    pub untracked: bool,
}

/// The budget of this key is spent for the rest of its window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exhausted {
    /// Seconds until the window ends.
    pub retry_after: i64,
    /// The first refusal of this window (log or alert once, not on every refusal).
    pub first: bool,
}

#[derive(Debug)]
struct Window {
    start: i64,
    spent: u32,
    tripped: bool,
}

/// Failure budgets per key `K` in fixed windows (see the module documentation).
#[derive(Debug)]
pub struct Budgets<K> {
    windows: Mutex<HashMap<K, Window>>,
    capacity: usize,
}

impl<K: Hash + Eq + Clone> Budgets<K> {
    /// Budgets for at most `capacity` keys at once.
    pub fn new(capacity: usize) -> Self {
        Self { windows: Mutex::new(HashMap::new()), capacity: capacity.max(1) }
    }

    /// Takes one unit of `key`'s budget at `now`, or says how long it is spent for.
    pub fn reserve(
        &self,
        key: &K,
        now: i64,
        allowance: Allowance,
    ) -> Result<Reservation, Exhausted> {
        let Ok(mut windows) = self.windows.lock() else {
            return Err(Exhausted { retry_after: allowance.window, first: false });
        };
        if !windows.contains_key(key) && windows.len() >= self.capacity {
            windows.retain(|_, w| now < w.start.saturating_add(allowance.window));
            if windows.len() >= self.capacity {
                return Ok(Reservation { window_start: now, spent: 1, untracked: true });
            }
        }
        let w =
            windows.entry(key.clone()).or_insert(Window { start: now, spent: 0, tripped: false });
        if now >= w.start.saturating_add(allowance.window) {
            *w = Window { start: now, spent: 0, tripped: false };
        }
        if w.spent >= allowance.limit {
            let first = !w.tripped;
            w.tripped = true;
            let retry_after = w.start.saturating_add(allowance.window).saturating_sub(now).max(1);
            return Err(Exhausted { retry_after, first });
        }
        w.spent = w.spent.saturating_add(1);
        Ok(Reservation { window_start: w.start, spent: w.spent, untracked: false })
    }

    /// Gives back a unit whose attempt succeeded (nothing if its window has ended since).
    pub fn refund(&self, key: &K, reservation: Reservation) {
        if reservation.untracked {
            return;
        }
        let Ok(mut windows) = self.windows.lock() else { return };
        if let Some(w) = windows.get_mut(key)
            && w.start == reservation.window_start
        {
            w.spent = w.spent.saturating_sub(1);
        }
    }

    /// How many keys are held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.windows.lock().map_or(0, |w| w.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const A: Allowance = Allowance { limit: 3, window: 60 };

    #[test]
    fn a_budget_is_spent_then_renewed() {
        let b = Budgets::new(10);
        for n in 1..=3 {
            assert_eq!(b.reserve(&"k", 100, A).map(|r| r.spent), Ok(n));
        }
        assert_eq!(b.reserve(&"k", 110, A), Err(Exhausted { retry_after: 50, first: true }));
        assert_eq!(b.reserve(&"k", 111, A), Err(Exhausted { retry_after: 49, first: false }));
        assert!(b.reserve(&"k", 120, A).is_err(), "still spent later in the window");
        assert!(b.reserve(&"other", 120, A).is_ok(), "keys are independent");
        assert_eq!(b.reserve(&"k", 160, A).map(|r| r.spent), Ok(1), "a new window");
    }

    #[test]
    fn refunds_give_back_only_within_the_window() {
        let b = Budgets::new(10);
        let r = b.reserve(&"k", 0, A).unwrap();
        b.refund(&"k", r);
        for _ in 0..3 {
            let _ = b.reserve(&"k", 1, A).unwrap();
        }
        assert!(b.reserve(&"k", 2, A).is_err());
        let old = b.reserve(&"k", 61, A).unwrap();
        let _ = b.reserve(&"k", 62, A).unwrap();
        let stale = Reservation { window_start: 0, spent: 1, untracked: false };
        b.refund(&"k", stale);
        assert_eq!(b.reserve(&"k", 63, A).map(|r| r.spent), Ok(3), "a stale refund is ignored");
        b.refund(&"k", old);
        assert_eq!(b.reserve(&"k", 63, A).map(|r| r.spent), Ok(3));
    }

    #[test]
    fn concurrent_attempts_never_exceed_the_limit() {
        let b = Arc::new(Budgets::new(10));
        let granted: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..16)
                .map(|_| {
                    let b = b.clone();
                    s.spawn(move || (0..50).filter(|_| b.reserve(&"k", 5, A).is_ok()).count())
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
        });
        assert_eq!(granted, 3);
    }

    #[test]
    fn memory_is_bounded() {
        let b = Budgets::new(2);
        let _ = b.reserve(&1, 0, A).unwrap();
        let _ = b.reserve(&2, 0, A).unwrap();
        let r = b.reserve(&3, 10, A).unwrap();
        assert!(r.untracked, "full of running windows: not tracked");
        assert_eq!(b.len(), 2);
        let r = b.reserve(&3, 70, A).unwrap();
        assert!(!r.untracked, "ended windows make room");
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn client_ids_key_networks_not_hosts() {
        let ids = ClientIds::new();
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(ids.of(v4), ids.of(mapped));
        assert_ne!(ids.of(v4), ids.of("192.0.2.8".parse().unwrap()));
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ids.of(a), ids.of(b), "one /64");
        assert_ne!(ids.of(a), ids.of(c));
        assert_ne!(ClientIds::new().of(v4), ids.of(v4), "a key per process");
    }
}
