//! The one place random number generators are built (DESIGN.md, "Determinism"): a ChaCha8
//! stream seeded from the run's `--seed`, the stage that draws from it and a key within the stage
//! (a tree index, a fold), so that every draw is reproducible and independent of thread timing.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::profile::mix;

/// A generator for `stage` (a short fixed name) and `key`, from the run's seed.
pub fn rng(seed: u64, stage: &str, key: u64) -> ChaCha8Rng {
    let s = xxhash_rust::xxh3::xxh3_64_with_seed(stage.as_bytes(), seed);
    ChaCha8Rng::seed_from_u64(mix(s, key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_depend_on_seed_stage_and_key() {
        let draw = |seed, stage, key| rng(seed, stage, key).random::<u64>();
        assert_eq!(draw(1, "iforest", 3), draw(1, "iforest", 3));
        assert_ne!(draw(1, "iforest", 3), draw(2, "iforest", 3));
        assert_ne!(draw(1, "iforest", 3), draw(1, "folds", 3));
        assert_ne!(draw(1, "iforest", 3), draw(1, "iforest", 4));
    }
}
