//! The per-run seeded random number generator.
//!
//! Every random choice of the search goes through [`RunRng`], so a run with the same seed
//! and the same node outcomes makes the same decisions. The generator is written here
//! (SplitMix64 seeding a xoshiro256** state) rather than taken from a crate, so a replay
//! stays exact across dependency upgrades. Its state is four words that can be persisted.

use serde::{Deserialize, Serialize};

/// xoshiro256** generator, seeded through SplitMix64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRng {
    state: [u64; 4],
}

impl RunRng {
    /// A generator whose whole sequence is determined by `seed`.
    pub fn from_seed(seed: u64) -> Self {
        let mut sm = seed;
        let mut next = || {
            sm = sm.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = sm;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Self {
            state: [next(), next(), next(), next()],
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A uniform float in `[0, 1)` built from the top 53 bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform index in `0..len`; `len` must be non-zero.
    pub fn index(&mut self, len: usize) -> usize {
        assert!(len > 0, "RunRng::index on an empty range");
        // Lemire's multiply-shift; the tiny bias for huge `len` is irrelevant here.
        ((u128::from(self.next_u64()) * len as u128) >> 64) as usize
    }

    /// True with probability `p` (clamped to `[0, 1]`).
    pub fn chance(&mut self, p: f64) -> bool {
        self.next_f64() < p.clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_and_different_seed_differs() {
        let mut a = RunRng::from_seed(7);
        let mut b = RunRng::from_seed(7);
        let mut c = RunRng::from_seed(8);
        let xs: Vec<u64> = (0..16).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..16).map(|_| b.next_u64()).collect();
        let zs: Vec<u64> = (0..16).map(|_| c.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
    }

    #[test]
    fn floats_and_indices_stay_in_range_and_cover_it() {
        let mut rng = RunRng::from_seed(1);
        let mut seen = [0usize; 5];
        for _ in 0..10_000 {
            let f = rng.next_f64();
            assert!((0.0..1.0).contains(&f));
            seen[rng.index(5)] += 1;
        }
        assert!(seen.iter().all(|&n| n > 1_700), "skewed: {seen:?}");
    }

    #[test]
    fn chance_matches_its_probability() {
        let mut rng = RunRng::from_seed(3);
        let hits = (0..20_000).filter(|_| rng.chance(0.25)).count();
        assert!((4_500..5_500).contains(&hits), "hits {hits}");
        assert!(!rng.chance(0.0));
        assert!(rng.chance(1.0));
    }

    #[test]
    fn state_survives_a_serde_round_trip() {
        let mut rng = RunRng::from_seed(11);
        rng.next_u64();
        let saved = serde_json::to_string(&rng).expect("serialize");
        let mut restored: RunRng = serde_json::from_str(&saved).expect("deserialize");
        assert_eq!(rng.next_u64(), restored.next_u64());
    }
}
