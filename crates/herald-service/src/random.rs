//! Where a service's random choices come from, injected like its clock: the operating system's
//! generator in production, a seeded one in tests and the demo, so that a run can be replayed.
//!
//! What goes through [`Randomness`]: the choices that shape what a service stores and sends —
//! export padding and fake keys, federation batch tags and signatures, revision tokens,
//! verification codes, token ids and signatures, chaff delays. Account secrets of the portals
//! (passwords, TOTP secrets, session and CSRF tokens, salts) are drawn from the operating system
//! always (`herald_webkit::auth`): a seeded test must never make a credential guessable in a
//! deployment.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use rand::rngs::StdRng;
use rand::{CryptoRng, SeedableRng as _};

/// A source of randomness, cheap to clone (clones share the generator).
#[derive(Clone)]
pub struct Randomness(Source);

#[derive(Clone)]
enum Source {
    /// `rand::rng()`: ChaCha seeded from the operating system, per thread, reseeded.
    Os,
    /// One seeded ChaCha generator, shared.
    Seeded(Arc<Mutex<StdRng>>),
}

impl Randomness {
    /// The operating system's generator (production).
    pub fn os() -> Self {
        Self(Source::Os)
    }

    /// A generator seeded with `seed`: the same seed, the same choices in the same order.
    /// Still a CSPRNG, but predictable to whoever knows the seed: tests and the demo only.
    pub fn seeded(seed: u64) -> Self {
        Self(Source::Seeded(Arc::new(Mutex::new(StdRng::seed_from_u64(seed)))))
    }

    /// Runs `f` with the generator (a seeded one is locked for the duration: keep `f` short
    /// and never await inside it).
    pub fn with<T>(&self, f: impl FnOnce(&mut dyn CryptoRng) -> T) -> T {
        match &self.0 {
            Source::Os => f(&mut rand::rng()),
            Source::Seeded(rng) => f(&mut *rng.lock().unwrap_or_else(PoisonError::into_inner)),
        }
    }

    /// Fills `bytes`.
    pub fn fill(&self, bytes: &mut [u8]) {
        self.with(|rng| rng.fill_bytes(bytes));
    }
}

impl Default for Randomness {
    fn default() -> Self {
        Self::os()
    }
}

impl fmt::Debug for Randomness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Source::Os => "Randomness::os",
            Source::Seeded(_) => "Randomness::seeded",
        })
    }
}

#[cfg(test)]
mod tests {
    use rand::RngExt as _;

    use super::*;

    #[test]
    fn a_seed_replays_and_clones_share_the_generator() {
        let draw = |r: &Randomness| r.with(|rng| rng.random::<u64>());
        let (a, b) = (Randomness::seeded(7), Randomness::seeded(7));
        assert_eq!(draw(&a), draw(&b));
        let shared = a.clone();
        assert_eq!(draw(&shared), draw(&b), "a clone continues the same sequence");
        assert_ne!(draw(&Randomness::seeded(8)), draw(&Randomness::seeded(7)));
        let (mut x, mut y) = ([0u8; 32], [0u8; 32]);
        Randomness::os().fill(&mut x);
        Randomness::os().fill(&mut y);
        assert_ne!(x, y);
    }
}
