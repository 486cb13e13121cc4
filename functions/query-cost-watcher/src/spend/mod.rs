//! Daily spend per workgroup: budgets (80% / 100%) and spikes against a trailing baseline.
//!
//! **Where the history comes from.** Whichever run prices a query first (the feed, or a sweep's
//! reconciliation) emits its cost in `QueryCostUSD` per workgroup ([`record_priced`]);
//! a query is priced once, so the metric's sum over a period is what was priced in it — including
//! queries priced long after they ended (held for attribution, recovered after a dropped event, a
//! backlog), which a metric per sweep window of completions missed. The spike baseline is the sum
//! over the same hours of the previous days: one `GetMetricData` call per sweep reads it all
//! (≈ $0.01 per 1,000 metrics requested), instead of paging Athena history every five minutes —
//! and no new datastore. Today's spend itself comes from the index's exact day totals.
//!
//! **Statistic `Sum`.** Many runs emit into one period (every feed batch, the sweep); the period's
//! value is their sum. A run that priced queries and then died before writing its metrics loses
//! them from the baseline only (an invocation that fails after pricing is rare: pricing is its
//! last step).
//!
//! **What it cannot see.** Metrics reach CloudWatch within about a minute of the run that emitted
//! them, well inside the next sweep's interval.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use chrono::{DateTime, Duration, Utc};
use lakeops::calendar::LocalDay;
use lakeops::{LakeopsError, Metrics, Unit};
use serde::Serialize;

use crate::window::Window;
use crate::RunSummary;

mod cloudwatch;
mod memory;

pub use cloudwatch::SpendHistory;
pub use memory::MemorySpend;

/// The metric the runs that price queries emit, and the spend history is read from.
pub const COST_METRIC: &str = "QueryCostUSD";
/// Days of history the spike baseline needs before it is trusted (a new deployment stays quiet).
pub const MIN_BASELINE_DAYS: usize = 3;

/// One sweep window's spend: (window start, USD).
pub type WindowSpend = (DateTime<Utc>, f64);

/// Where the spend history is read from: the sum of `QueryCostUSD` per workgroup and period.
/// CloudWatch when deployed ([`SpendHistory`]); memory in the simulated day ([`MemorySpend`]),
/// keeping CloudWatch's contract: statistic `Sum` per period of `interval` (a minute at least),
/// periods aligned to the period, every period that started in `[from, to)`, oldest first, a
/// period emitted with 0 present with 0.
pub trait SpendSource: Sync {
    /// Per workgroup, the spend of every period that started in `[from, to)`.
    fn windows(
        &self,
        workgroups: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        interval: Duration,
    ) -> impl Future<Output = Result<BTreeMap<String, Vec<WindowSpend>>, LakeopsError>> + Send;
}

/// Today's spend of one workgroup and what is normal for this time of day.
#[derive(Debug, Clone, PartialEq)]
pub struct DailySpend {
    pub day: LocalDay,
    /// Since local midnight, including the window being swept.
    pub today_usd: f64,
    /// Median of the previous days' spend over the same hours; `None` until
    /// [`MIN_BASELINE_DAYS`] days of history exist.
    pub baseline_usd: Option<f64>,
    /// Previous days that had any history.
    pub baseline_days: usize,
}

/// Today's spend (history before the window + the window's own spend) and the baseline over the
/// `baseline_days` previous days, each summed from its midnight to the same time of day.
pub fn daily_spend(
    history: &[WindowSpend],
    window: Window,
    this_window_usd: f64,
    tz: chrono_tz::Tz,
    baseline_days: u32,
) -> DailySpend {
    let day = LocalDay::containing(window.start, tz);
    let sum = |from: DateTime<Utc>, to: DateTime<Utc>| -> f64 {
        history
            .iter()
            .filter(|(t, _)| from <= *t && *t < to)
            .map(|(_, v)| v)
            .sum()
    };
    let today_usd = sum(day.start(), window.start) + this_window_usd;
    let elapsed = window.end - day.start();
    let mut samples: Vec<f64> = (1..=baseline_days as i64)
        .map(|k| day.plus_days(-k))
        .filter(|d| history.iter().any(|(t, _)| d.contains(*t)))
        .map(|d| sum(d.start(), d.start() + elapsed))
        .collect();
    samples.sort_by(f64::total_cmp);
    let baseline_usd = (samples.len() >= MIN_BASELINE_DAYS)
        .then(|| lakeops::stats::median(&samples))
        .flatten();
    DailySpend {
        day,
        today_usd,
        baseline_usd,
        baseline_days: samples.len(),
    }
}

/// A budget line crossed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BudgetLevel {
    /// At or above the warning percentage (default 80%).
    Warning,
    /// At or above 100%.
    Exceeded,
}

impl BudgetLevel {
    pub fn key_part(self) -> &'static str {
        match self {
            BudgetLevel::Warning => "warning",
            BudgetLevel::Exceeded => "exceeded",
        }
    }
}

/// The highest budget line `spent` has crossed. A zero budget is crossed by any spend.
pub fn budget_level(spent: f64, budget: f64, warn_percent: f64) -> Option<BudgetLevel> {
    if spent <= 0.0 {
        None
    } else if spent >= budget {
        Some(BudgetLevel::Exceeded)
    } else if spent >= budget * warn_percent / 100.0 {
        Some(BudgetLevel::Warning)
    } else {
        None
    }
}

/// A spike: today so far is at least `factor` × the baseline *and* at least `min_usd` above it
/// (so $0.30 against $0.10 stays quiet). Needs a trusted baseline; `factor` 0 disables.
pub fn is_spike(spend: &DailySpend, factor: f64, min_usd: f64) -> bool {
    match spend.baseline_usd {
        Some(base) if factor > 0.0 => {
            spend.today_usd >= base * factor && spend.today_usd - base >= min_usd
        }
        _ => false,
    }
}

/// What the queries one run priced first cost in one workgroup.
#[derive(Debug, Default, Clone, Copy, PartialEq, Serialize)]
pub struct PricedSpend {
    pub usd: f64,
    pub bytes: u64,
    pub queries: u32,
}

/// The spend metrics of one run: `QueryCostUSD`, `DataScannedBytes` and `QueryCount` per
/// workgroup (and `QueryCostUSD` per person with `PERSON_METRICS`) of the queries this run priced
/// first — emitted by whichever run prices a query (the feed, reconciliation), once, so their sum
/// over a day is the day's spend even for queries priced long after their window was swept.
/// `workgroups` get a value (0) even when nothing was priced, so every period has a datapoint.
pub fn record_priced(
    metrics: &mut Metrics,
    summary: &RunSummary,
    workgroups: &[String],
    person_metrics: bool,
) {
    let mut names: BTreeSet<&str> = workgroups.iter().map(String::as_str).collect();
    names.extend(summary.priced_spend.keys().map(String::as_str));
    for wg in names {
        let spend = summary.priced_spend.get(wg).copied().unwrap_or_default();
        let dims = [("WorkGroup", wg)];
        metrics.record(&dims, COST_METRIC, spend.usd, Unit::None);
        metrics.record(&dims, "DataScannedBytes", spend.bytes as f64, Unit::Bytes);
        metrics.record(&dims, "QueryCount", spend.queries.into(), Unit::Count);
    }
    if person_metrics {
        for ((wg, person), usd) in &summary.priced_by_person {
            let dims = [("WorkGroup", wg.as_str()), ("Person", person.as_str())];
            metrics.record(&dims, COST_METRIC, *usd, Unit::None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Asia::Seoul;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// Window 2026-11-23T03:00–03:05Z = 12:00–12:05 in Seoul; Seoul's day began 2026-11-22T15:00Z.
    fn window() -> Window {
        Window::ending_at(utc("2026-11-23T03:05:00Z"), Duration::minutes(5))
    }

    #[test]
    fn today_counts_from_local_midnight_and_includes_this_window() {
        let history = vec![
            (utc("2026-11-22T14:55:00Z"), 100.0), // yesterday in Seoul
            (utc("2026-11-22T15:00:00Z"), 2.0),
            (utc("2026-11-23T02:55:00Z"), 3.0),
            (utc("2026-11-23T03:00:00Z"), 50.0), // this window's own earlier emission
        ];
        let s = daily_spend(&history, window(), 4.0, Seoul, 7);
        assert_eq!(s.day.to_string(), "2026-11-23");
        assert_eq!(s.today_usd, 9.0);
        assert_eq!(s.baseline_usd, None, "one previous day is not a baseline");
        assert_eq!(s.baseline_days, 1);
    }

    #[test]
    fn baseline_is_the_median_of_the_same_hours_on_previous_days() {
        let mut history = Vec::new();
        for (k, morning, evening) in [
            (1, 10.0, 500.0),
            (2, 12.0, 0.0),
            (3, 8.0, 0.0),
            (4, 1000.0, 0.0),
        ] {
            let day_start = utc("2026-11-22T15:00:00Z") - Duration::days(k);
            // 11:00 Seoul counts (before 12:05); 20:00 Seoul does not.
            history.push((day_start + Duration::hours(11), morning));
            history.push((day_start + Duration::hours(20), evening));
        }
        let s = daily_spend(&history, window(), 40.0, Seoul, 7);
        assert_eq!(s.baseline_days, 4);
        assert_eq!(s.baseline_usd, Some(11.0), "median of 8, 10, 12, 1000");
        assert!(is_spike(&s, 3.0, 10.0));
        assert!(!is_spike(&s, 4.0, 10.0));
        assert!(!is_spike(&s, 3.0, 30.0), "40 - 11 is under the $30 floor");
        assert!(!is_spike(&s, 0.0, 0.0), "factor 0 disables");
        let quiet = daily_spend(&[], window(), 40.0, Seoul, 7);
        assert!(!is_spike(&quiet, 3.0, 10.0), "no history, no spike");
    }

    #[test]
    fn budget_lines() {
        assert_eq!(budget_level(79.9, 100.0, 80.0), None);
        assert_eq!(budget_level(80.0, 100.0, 80.0), Some(BudgetLevel::Warning));
        assert_eq!(
            budget_level(100.0, 100.0, 80.0),
            Some(BudgetLevel::Exceeded)
        );
        assert_eq!(budget_level(0.0, 0.0, 80.0), None, "0 of 0 is not over");
        assert_eq!(budget_level(0.01, 0.0, 80.0), Some(BudgetLevel::Exceeded));
    }
}
