//! `{{ name }}` placeholders in filters, partition values and `sql` sides, rendered from the run
//! date in the configured timezone.
//!
//! Every value is produced here in a fixed format of digits, `-`, `:` and a space, so a template
//! can only ever produce literal text — it cannot close a quote or add SQL.

use chrono::{DateTime, Duration, NaiveTime, Utc};
use chrono_tz::Tz;
use lakeops::calendar::LocalDay;

/// The names a template may use.
pub const VARIABLES: [&str; 8] = [
    "today",
    "yesterday",
    "today_compact",
    "yesterday_compact",
    "today_start",
    "yesterday_start",
    "hour_ago",
    "now",
];

/// Why a template cannot be rendered. The caller says which field it is (`filter:`,
/// `partition.dt:` …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unclosed `{{{{` in {text:?}")]
    Unclosed { text: String },
    #[error("unknown template variable {name:?} (known: {})", VARIABLES.join(", "))]
    UnknownVariable { name: String },
}

/// When a run happens: the local run date and the instant. A backfill or a look-back day shifts
/// both by whole days.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunDate {
    pub day: LocalDay,
    pub time: DateTime<Utc>,
}

impl RunDate {
    pub fn at(time: DateTime<Utc>, tz: Tz) -> Self {
        Self {
            day: LocalDay::containing(time, tz),
            time,
        }
    }

    /// The run as if it happened on `date` (same local time of day; noon if `time` is not on it).
    pub fn on(date: chrono::NaiveDate, time: DateTime<Utc>, tz: Tz) -> Self {
        let day = LocalDay::new(date, tz);
        let local_time = time.with_timezone(&tz).time();
        Self {
            day,
            time: day.at(local_time),
        }
    }

    pub fn days_before(&self, days: i64) -> Self {
        Self {
            day: self.day.plus_days(-days),
            time: self.time - Duration::days(days),
        }
    }

    /// The value of one variable.
    pub fn value(&self, name: &str) -> Option<String> {
        let ts = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S").to_string();
        let yesterday = self.day.previous();
        Some(match name {
            "today" => self.day.date.format("%Y-%m-%d").to_string(),
            "yesterday" => yesterday.date.format("%Y-%m-%d").to_string(),
            "today_compact" => self.day.date.format("%Y%m%d").to_string(),
            "yesterday_compact" => yesterday.date.format("%Y%m%d").to_string(),
            "today_start" => ts(self.day.at(NaiveTime::MIN)),
            "yesterday_start" => ts(yesterday.at(NaiveTime::MIN)),
            "hour_ago" => ts(self.time - Duration::hours(1)),
            "now" => ts(self.time),
            _ => return None,
        })
    }
}

/// The placeholder names used in `text`, or the first malformed placeholder.
pub fn placeholders(text: &str) -> Result<Vec<String>, TemplateError> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or_else(|| TemplateError::Unclosed {
            text: text.to_string(),
        })?;
        let name = after[..close].trim();
        if !VARIABLES.contains(&name) {
            return Err(TemplateError::UnknownVariable {
                name: name.to_string(),
            });
        }
        names.push(name.to_string());
        rest = &after[close + 2..];
    }
    Ok(names)
}

/// Renders `text`; call [`placeholders`] first (unknown names render as an error).
pub fn render(text: &str, run: &RunDate) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or_else(|| TemplateError::Unclosed {
            text: text.to_string(),
        })?;
        let name = after[..close].trim();
        out.push_str(
            &run.value(name)
                .ok_or_else(|| TemplateError::UnknownVariable {
                    name: name.to_string(),
                })?,
        );
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America::New_York, Asia::Seoul};

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn dates_follow_the_configured_timezone() {
        // 2026-11-30T16:00Z is already 1 December in Seoul: yesterday is 30 November there.
        let run = RunDate::at(utc("2026-11-30T16:00:00Z"), Seoul);
        assert_eq!(
            render("dt = '{{ yesterday }}'", &run).unwrap(),
            "dt = '2026-11-30'"
        );
        assert_eq!(
            render("{{today}}/{{ today_compact }}", &run).unwrap(),
            "2026-12-01/20261201"
        );
        assert_eq!(
            render("ts >= timestamp '{{ yesterday_start }}'", &run).unwrap(),
            "ts >= timestamp '2026-11-29 15:00:00'"
        );
        assert_eq!(
            render("{{ hour_ago }}", &run).unwrap(),
            "2026-11-30 15:00:00"
        );
        // The same instant in New York is still 30 November.
        let ny = RunDate::at(utc("2026-11-30T16:00:00Z"), New_York);
        assert_eq!(render("{{ yesterday }}", &ny).unwrap(), "2026-11-29");
    }

    #[test]
    fn month_and_year_boundaries_and_lookback() {
        let run = RunDate::at(utc("2027-01-01T01:00:00Z"), Seoul); // 10:00 KST 1 Jan
        assert_eq!(render("{{ yesterday }}", &run).unwrap(), "2026-12-31");
        let earlier = run.days_before(2);
        assert_eq!(render("{{ yesterday }}", &earlier).unwrap(), "2026-12-29");
        let march = RunDate::on(
            chrono::NaiveDate::from_ymd_opt(2028, 3, 1).unwrap(),
            run.time,
            Seoul,
        );
        assert_eq!(render("{{ yesterday }}", &march).unwrap(), "2028-02-29");
    }

    #[test]
    fn only_known_variables() {
        assert_eq!(
            placeholders("a {{ today }} b {{yesterday}}").unwrap(),
            ["today", "yesterday"]
        );
        assert_eq!(
            placeholders("{{ drop_table }}").unwrap_err().to_string(),
            format!(
                "unknown template variable \"drop_table\" (known: {})",
                VARIABLES.join(", ")
            )
        );
        assert_eq!(
            placeholders("a {{ today").unwrap_err().to_string(),
            "unclosed `{{` in \"a {{ today\""
        );
    }
}
