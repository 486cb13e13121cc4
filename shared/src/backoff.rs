//! Waits between retries of a call DynamoDB refused for contention (`TransactionConflict`,
//! unprocessed keys): exponential with full jitter, as AWS's architecture blog advises, so that
//! callers that collided once do not collide again on the same beat.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// The wait before retry `attempt` (1 = the first retry): uniform in
/// `[0, min(cap, base × 2^attempt)]`.
pub fn full_jitter(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let ceiling = base.saturating_mul(1u32 << attempt.min(16)).min(cap);
    let nanos = ceiling.as_nanos() as u64;
    if nanos == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(random_u64() % (nanos + 1))
}

/// A random number from the standard library's per-process random keys (no crate needed for a
/// jitter that only has to differ between callers).
fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_stay_under_the_growing_ceiling_and_the_cap_and_differ() {
        let base = Duration::from_millis(20);
        let cap = Duration::from_millis(1000);
        let mut seen = std::collections::BTreeSet::new();
        for attempt in 1..=12 {
            let ceiling = (base * (1 << attempt)).min(cap);
            for _ in 0..50 {
                let w = full_jitter(attempt, base, cap);
                assert!(w <= ceiling, "attempt {attempt}: {w:?} > {ceiling:?}");
                seen.insert(w);
            }
        }
        assert!(
            seen.len() > 300,
            "jittered: {} distinct waits of 600",
            seen.len()
        );
    }
}
