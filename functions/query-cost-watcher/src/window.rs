//! Sweep windows: which completion times one scheduled run is responsible for.
//!
//! The window ends at the scheduled event's `time`, rounded down to the interval grid (multiples
//! of the interval since the Unix epoch), and is one interval long: `[end - interval, end)`.
//! Consecutive runs therefore tile time exactly — every completion instant falls in exactly one
//! window — without any stored state, and a retried invocation of the same event gets the same
//! window. Rounding makes the tiling hold even when EventBridge's rate schedule fires a few
//! seconds off the grid.

use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Window {
    /// The window a run scheduled at `time` covers, for a schedule every `interval`.
    pub fn ending_at(time: DateTime<Utc>, interval: Duration) -> Self {
        let step = interval.num_seconds().max(60);
        let end_secs = time.timestamp().div_euclid(step) * step;
        let end = DateTime::from_timestamp(end_secs, 0).unwrap_or(time);
        Self {
            start: end - Duration::seconds(step),
            end,
        }
    }

    /// Whether an instant is this window's: start inclusive, end exclusive.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    #[test]
    fn ends_on_the_grid() {
        let t = Utc.with_ymd_and_hms(2026, 11, 23, 9, 7, 42).unwrap();
        let w = Window::ending_at(t, Duration::minutes(5));
        assert_eq!(w.end, Utc.with_ymd_and_hms(2026, 11, 23, 9, 5, 0).unwrap());
        assert_eq!(
            w.start,
            Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
        );
        assert!(w.contains(w.start));
        assert!(!w.contains(w.end));
    }

    proptest! {
        /// Any instant belongs to exactly one of the windows of consecutive scheduled runs,
        /// however late in its minute each run fired.
        #[test]
        fn consecutive_runs_tile_time(
            base in 1_700_000_000i64..1_900_000_000,
            interval_min in 1i64..60,
            jitter in proptest::collection::vec(0i64..50, 4),
            offset in 0i64..(4 * 3600),
        ) {
            let interval = Duration::minutes(interval_min);
            let base = DateTime::from_timestamp(base - base.rem_euclid(interval.num_seconds()), 0).unwrap();
            let windows: Vec<Window> = (0..4)
                .map(|k| Window::ending_at(base + interval * (k as i32) + Duration::seconds(jitter[k]), interval))
                .collect();
            for pair in windows.windows(2) {
                prop_assert_eq!(pair[0].end, pair[1].start);
            }
            let t = windows[0].start + Duration::seconds(offset % (3 * interval.num_seconds()));
            let owners = windows.iter().filter(|w| w.contains(t)).count();
            prop_assert_eq!(owners, 1);
        }

        #[test]
        fn a_retry_gets_the_same_window(secs in 1_700_000_000i64..1_900_000_000, interval_min in 1i64..120) {
            let t = DateTime::from_timestamp(secs, 0).unwrap();
            let interval = Duration::minutes(interval_min);
            prop_assert_eq!(Window::ending_at(t, interval), Window::ending_at(t, interval));
            let w = Window::ending_at(t, interval);
            prop_assert!(w.end <= t && t - w.end < interval);
        }
    }
}
