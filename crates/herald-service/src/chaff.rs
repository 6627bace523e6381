//! How long a chaff answer waits: around the recent latency of real answers (key-server.md
//! §6.3 requirement 3). The key server's publish API and the verification service's app API
//! both wait this long before answering a chaff request.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use rand::RngExt as _;

/// Real answers remembered.
const WINDOW: usize = 100;

/// The latency of the last real answers.
#[derive(Debug)]
pub struct LatencyTracker {
    recent: Mutex<VecDeque<Duration>>,
    cap: Duration,
}

impl LatencyTracker {
    /// A tracker whose delays never exceed `cap`.
    pub fn new(cap: Duration) -> Self {
        Self { recent: Mutex::new(VecDeque::with_capacity(WINDOW)), cap }
    }

    /// Remembers one real answer's latency.
    pub fn record(&self, latency: Duration) {
        if let Ok(mut recent) = self.recent.lock() {
            if recent.len() == WINDOW {
                recent.pop_front();
            }
            recent.push_back(latency);
        }
    }

    /// A delay for a chaff answer: a recent real latency picked at random (so the distribution
    /// matches, not just the mean), at most the cap. Before any real answer: 50–150 ms.
    pub fn chaff_delay(&self) -> Duration {
        let mut rng = rand::rng();
        let picked = self.recent.lock().ok().and_then(|recent| {
            (!recent.is_empty())
                .then(|| recent.get(rng.random_range(0..recent.len())).copied())
                .flatten()
        });
        picked.unwrap_or_else(|| Duration::from_millis(rng.random_range(50..=150))).min(self.cap)
    }
}
