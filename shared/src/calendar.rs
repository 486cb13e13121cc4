//! Local calendar days in a configured timezone: where "today", "yesterday" and "09:00" are for
//! people, while every instant lakeops stores or compares is UTC.
//!
//! Day boundaries are computed with the IANA database (`chrono-tz`), so a day is 23 or 25 hours
//! long across a daylight-saving change. A local midnight that does not exist (a few zones jump
//! over 00:00) starts the day at the first instant that does.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// One calendar day in a timezone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalDay {
    pub date: NaiveDate,
    pub tz: Tz,
}

impl LocalDay {
    pub fn new(date: NaiveDate, tz: Tz) -> Self {
        Self { date, tz }
    }

    /// The local day an instant falls on.
    pub fn containing(instant: DateTime<Utc>, tz: Tz) -> Self {
        Self {
            date: instant.with_timezone(&tz).date_naive(),
            tz,
        }
    }

    /// The instant a local wall-clock time of this day happens (the earlier one when the clocks
    /// go back; the first existing minute after it when they jump forward).
    pub fn at(&self, time: NaiveTime) -> DateTime<Utc> {
        let local = self.date.and_time(time);
        for skip in 0..=180 {
            let Some(candidate) = local.checked_add_signed(Duration::minutes(skip)) else {
                break;
            };
            if let Some(t) = self.tz.from_local_datetime(&candidate).earliest() {
                return t.with_timezone(&Utc);
            }
        }
        // No zone skips more than a few hours; fall back to reading the time as UTC.
        Utc.from_utc_datetime(&local)
    }

    /// Local midnight, as an instant.
    pub fn start(&self) -> DateTime<Utc> {
        self.at(NaiveTime::MIN)
    }

    /// The next day's local midnight.
    pub fn end(&self) -> DateTime<Utc> {
        self.next().start()
    }

    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start() <= t && t < self.end()
    }

    pub fn previous(&self) -> Self {
        self.plus_days(-1)
    }

    pub fn next(&self) -> Self {
        self.plus_days(1)
    }

    /// `days` later (earlier when negative); at the ends of the calendar (year ±262,143) it stays
    /// on the last representable day instead of panicking.
    pub fn plus_days(&self, days: i64) -> Self {
        let date = Duration::try_days(days)
            .and_then(|d| self.date.checked_add_signed(d))
            .unwrap_or(if days < 0 {
                NaiveDate::MIN
            } else {
                NaiveDate::MAX
            });
        Self { date, tz: self.tz }
    }
}

impl std::fmt::Display for LocalDay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.date.format("%Y-%m-%d"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America::New_York, Asia::Seoul};

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn seoul_days_start_at_15_utc() {
        let day = LocalDay::containing(utc("2026-11-22T15:00:00Z"), Seoul);
        assert_eq!(day.to_string(), "2026-11-23");
        assert_eq!(day.start(), utc("2026-11-22T15:00:00Z"));
        assert_eq!(day.end(), utc("2026-11-23T15:00:00Z"));
        assert!(!day.contains(utc("2026-11-22T14:59:59Z")));
        assert_eq!(day.previous().to_string(), "2026-11-22");
        assert_eq!(
            day.at(NaiveTime::from_hms_opt(9, 0, 0).unwrap()),
            utc("2026-11-23T00:00:00Z")
        );
    }

    #[test]
    fn month_and_year_boundaries() {
        let day = LocalDay::containing(utc("2026-12-31T15:30:00Z"), Seoul);
        assert_eq!(day.to_string(), "2027-01-01");
        assert_eq!(day.previous().to_string(), "2026-12-31");
        let leap = LocalDay::new(NaiveDate::from_ymd_opt(2028, 3, 1).unwrap(), Seoul);
        assert_eq!(leap.previous().to_string(), "2028-02-29");
    }

    #[test]
    fn the_ends_of_the_calendar_do_not_panic() {
        for date in [NaiveDate::MAX, NaiveDate::MIN] {
            let day = LocalDay::new(date, Seoul);
            let _ = (
                day.start(),
                day.end(),
                day.previous(),
                day.next().plus_days(i64::MAX),
            );
            assert!(!day.contains(utc("2026-11-23T00:00:00Z")));
        }
    }

    #[test]
    fn daylight_saving_days_are_23_and_25_hours() {
        let spring = LocalDay::new(NaiveDate::from_ymd_opt(2026, 3, 8).unwrap(), New_York);
        assert_eq!(spring.end() - spring.start(), Duration::hours(23));
        let autumn = LocalDay::new(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(), New_York);
        assert_eq!(autumn.end() - autumn.start(), Duration::hours(25));
        // 02:30 does not exist on the spring day: the first minute after the jump is used.
        let t = spring.at(NaiveTime::from_hms_opt(2, 30, 0).unwrap());
        assert_eq!(t, utc("2026-03-08T07:00:00Z"));
    }
}
