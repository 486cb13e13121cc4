//! The spend history in memory, for the simulated day: what CloudWatch would answer
//! `GetMetricData` (statistic `Sum`) over the `QueryCostUSD` values the runs emitted.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use lakeops::{LakeopsError, Metrics};

use super::{SpendSource, WindowSpend, COST_METRIC};

/// Every value emitted, summed per workgroup and minute (CloudWatch's finest standard
/// resolution); read back as `GetMetricData` answers: the values stamped in `[from, to)`,
/// summed per period (periods aligned to the period since the epoch).
#[derive(Debug, Default)]
pub struct MemorySpend {
    minutes: Mutex<BTreeMap<String, BTreeMap<i64, f64>>>,
}

impl MemorySpend {
    pub fn new() -> Self {
        Self::default()
    }

    /// One value of `QueryCostUSD` for `workgroup`, stamped `at`.
    pub fn put(&self, workgroup: &str, at: DateTime<Utc>, usd: f64) {
        if !usd.is_finite() {
            return; // CloudWatch refuses NaN and infinities
        }
        let mut minutes = self.minutes.lock().unwrap_or_else(|p| p.into_inner());
        let series = minutes.entry(workgroup.to_string()).or_default();
        *series.entry(at.timestamp().div_euclid(60)).or_default() += usd;
    }

    /// A run's metrics as its EMF lines would reach CloudWatch, stamped `at`: the per-workgroup
    /// `QueryCostUSD` only (the per-person ones are another metric, by their dimensions).
    pub fn record(&self, metrics: &Metrics, at: DateTime<Utc>) {
        for (dims, usd) in metrics.sums(COST_METRIC) {
            if let [workgroup] = dims.as_slice() {
                self.put(workgroup, at, usd);
            }
        }
    }
}

impl MemorySpend {
    /// Per workgroup, everything emitted stamped at or after `since`.
    pub fn totals_since(&self, since: DateTime<Utc>) -> BTreeMap<String, f64> {
        let minutes = self.minutes.lock().unwrap_or_else(|p| p.into_inner());
        let first = since.timestamp().div_euclid(60);
        minutes
            .iter()
            .map(|(wg, series)| (wg.clone(), series.range(first..).map(|(_, u)| u).sum()))
            .collect()
    }
}

impl SpendSource for MemorySpend {
    async fn windows(
        &self,
        workgroups: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        interval: Duration,
    ) -> Result<BTreeMap<String, Vec<WindowSpend>>, LakeopsError> {
        let period = interval.num_seconds().max(60);
        let minutes = self.minutes.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = BTreeMap::new();
        for wg in workgroups {
            let mut periods: BTreeMap<i64, f64> = BTreeMap::new();
            if let Some(series) = minutes.get(wg) {
                let (first, end) = (from.timestamp(), to.timestamp());
                let minutes = first.div_euclid(60)..end.div_euclid(60) + 1;
                for (minute, usd) in series.range(minutes) {
                    let at = minute * 60;
                    if first <= at && at < end {
                        *periods.entry(at.div_euclid(period) * period).or_default() += usd;
                    }
                }
            }
            let series: Vec<WindowSpend> = periods
                .into_iter()
                .filter_map(|(t, usd)| DateTime::from_timestamp(t, 0).map(|t| (t, usd)))
                .collect();
            out.insert(wg.clone(), series);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn sums_the_values_stamped_in_the_range_per_period_and_keeps_zeros() {
        let spend = MemorySpend::new();
        spend.put("adhoc", utc("2026-11-23T00:59:59Z"), 1.0); // before the range
        spend.put("adhoc", utc("2026-11-23T01:00:00Z"), 4.0);
        spend.put("adhoc", utc("2026-11-23T01:04:30Z"), 2.5); // same period, summed
        spend.put("adhoc", utc("2026-11-23T01:05:00Z"), 0.0); // a period emitted with 0
        spend.put("adhoc", utc("2026-11-23T01:10:00Z"), 9.0); // starts at `to`: excluded
        spend.put("adhoc", utc("2026-11-23T01:11:00Z"), f64::NAN);
        let wgs = vec!["adhoc".to_string(), "etl".to_string()];
        let from = utc("2026-11-23T01:00:00Z");
        let to = utc("2026-11-23T01:10:00Z");
        let got = spend
            .windows(&wgs, from, to, Duration::minutes(5))
            .await
            .unwrap();
        assert_eq!(
            got["adhoc"],
            [
                (utc("2026-11-23T01:00:00Z"), 6.5),
                (utc("2026-11-23T01:05:00Z"), 0.0)
            ]
        );
        assert!(got["etl"].is_empty());
        let hourly = spend
            .windows(&wgs, utc("2026-11-23T00:00:00Z"), to, Duration::hours(1))
            .await
            .unwrap();
        let early = utc("2026-11-23T00:00:00Z");
        assert_eq!(hourly["adhoc"], [(early, 1.0), (from, 6.5)]);
    }
}
