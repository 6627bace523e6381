//! Verification codes (key-server.md §3.3): drawn from a CSPRNG only (never a time-seeded or
//! sequential source, Appendix B weakness 1), by rejection sampling so every symbol is equally
//! likely.
//!
//! - short code: `short_length` decimal digits (default 8, minimum 6), zero-padded;
//! - long code: `long_length` characters of `[a-z0-9]` (default 16, minimum 12).

use rand::{CryptoRng, RngExt as _};

/// The long code's alphabet.
const LONG_ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A short code of `len` decimal digits.
pub fn short_code<R: CryptoRng + ?Sized>(rng: &mut R, len: usize) -> String {
    (0..len).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect()
}

/// A long code of `len` characters of `[a-z0-9]`.
pub fn long_code<R: CryptoRng + ?Sized>(rng: &mut R, len: usize) -> String {
    (0..len)
        .map(|_| {
            let i = rng.random_range(0..LONG_ALPHABET.len());
            char::from(LONG_ALPHABET.get(i).copied().unwrap_or(b'a'))
        })
        .collect()
}

/// Whether `text` could be a code at all (digits and lower-case letters, a sane length): other
/// input is refused before it is hashed and looked up.
pub fn plausible(text: &str) -> bool {
    (6..=64).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_spread() {
        let mut rng = rand::rng();
        let mut seen = [0usize; 10];
        for _ in 0..2000 {
            let c = short_code(&mut rng, 8);
            assert_eq!(c.len(), 8);
            for b in c.bytes() {
                seen[usize::from(b - b'0')] += 1;
            }
            let l = long_code(&mut rng, 16);
            assert_eq!(l.len(), 16);
            assert!(plausible(&c) && plausible(&l));
        }
        // 16000 digits: each about 1600; far outside 1300..1900 would be a broken sampler.
        assert!(seen.iter().all(|n| (1300..1900).contains(n)), "{seen:?}");
        assert!(!plausible("12345"));
        assert!(!plausible("1234567A"));
        assert!(!plausible("1234 678"));
    }
}
