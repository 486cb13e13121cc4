//! Time left in an invocation, from the runtime's deadline.

use std::time::Duration;

/// Any epoch-milliseconds deadline is past this (2001-09-09); smaller values are not instants.
const EPOCH_MS_FLOOR: u64 = 1_000_000_000_000;

/// Time left before the deadline the Lambda runtime gives (`Lambda-Runtime-Deadline-Ms`: epoch
/// milliseconds). `cargo lambda watch` 1.9 sends the function timeout in milliseconds instead; a
/// value too small to be an instant is read that way. `None` when there is no deadline.
pub fn remaining(deadline_ms: u64, now_ms: i64) -> Option<Duration> {
    match deadline_ms {
        0 => None,
        d if d < EPOCH_MS_FLOOR => Some(Duration::from_millis(d)),
        d => Some(Duration::from_millis(
            d.saturating_sub(now_ms.max(0) as u64),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_deadlines_and_the_local_emulators_timeout() {
        let now = 1_795_433_679_217;
        assert_eq!(
            remaining(1_795_433_689_217, now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            remaining(1_795_433_000_000, now),
            Some(Duration::ZERO),
            "already past"
        );
        assert_eq!(remaining(600_000, now), Some(Duration::from_secs(600)));
        assert_eq!(remaining(0, now), None);
    }
}
