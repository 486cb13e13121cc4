//! The cost watcher's settings: every environment variable it reads, validated at start-up
//! (a bad one fails start-up naming it, with the others).

use std::collections::BTreeMap;

use chrono::Duration;
use chrono_tz::Tz;
use lakeops::config::{AthenaWatchSettings, NonNegative};
use lakeops::{CommonConfig, ConfigReader};

use crate::spend;

#[derive(Debug, Clone)]
pub struct CostConfig {
    pub common: CommonConfig,
    /// `SWEEP_INTERVAL_MINUTES` (default 5): the schedule's interval = the window's length
    /// (1 to 1440).
    pub interval: Duration,
    /// `COST_THRESHOLD_USD` (default 5.00): alert when a query costs more.
    pub threshold_usd: f64,
    /// `COST_THRESHOLD_USD_BY_WORKGROUP`: e.g. `etl=50,adhoc=2`.
    pub threshold_by_workgroup: BTreeMap<String, f64>,
    /// `BYTES_THRESHOLD` (optional): alert when a query scans at least this many bytes, whatever
    /// it costs (the only per-query signal for capacity-billed workgroups).
    pub bytes_threshold: Option<u64>,
    /// `WORKGROUPS`: comma-separated workgroups to sweep; empty = every enabled workgroup.
    pub workgroups: Vec<String>,
    /// `MAX_QUERY_MINUTES` (default 300): the longest a query can take from submission to
    /// completion (Athena's DML timeout is at most 240 min, plus queueing): how far back
    /// reconciliation's first pass reads Athena's history.
    pub max_query: Duration,
    /// `TIMEZONE` (default `Asia/Seoul`): where days begin, for budgets, spikes and the digest.
    pub timezone: Tz,
    /// `DAILY_BUDGET_USD` (optional): every workgroup's daily budget.
    pub daily_budget_usd: Option<f64>,
    /// `DAILY_BUDGET_USD_BY_WORKGROUP`: per-workgroup budgets, e.g. `etl=200,adhoc=50`.
    pub budget_by_workgroup: BTreeMap<String, f64>,
    /// `BUDGET_WARN_PERCENT` (default 80): the early budget alert.
    pub budget_warn_percent: f64,
    /// `SPIKE_FACTOR` (default 3; 0 disables): today so far vs the baseline.
    pub spike_factor: f64,
    /// `SPIKE_MIN_USD` (default 10): a spike must also be this many dollars above the baseline.
    pub spike_min_usd: f64,
    /// `SPIKE_BASELINE_DAYS` (default 7): previous days the baseline is the median of (3 to 14).
    pub spike_baseline_days: u32,
    /// `DIGEST_HOUR` (default 9): local hour of the daily digest (0 to 23).
    pub digest_hour: u32,
    /// `DIGEST_ENABLED` (default true): send the daily digest.
    pub digest_enabled: bool,
    /// `LOG_AUDIT_*`: the digest's "Log blind spots" section ([`lakeops::log_audit`]).
    pub log_audit: lakeops::log_audit::AuditSettings,
    /// `RETRY_STORM_COUNT` (default 5; 0 disables): failures/cancellations of one statement
    /// shape that make a storm.
    pub storm_count: usize,
    /// `RETRY_STORM_MINUTES` (default 60): the span they must fall in (at most
    /// `MAX_QUERY_MINUTES`; read from the index's `completed` index).
    pub storm_lookback: Duration,
    /// `RECONCILE_STALE_MINUTES` (default 2): an in-flight query whose state has not changed
    /// for this long is read again from Athena (its terminal event may have been dropped). Short,
    /// because a dropped end event delays that query's expensive-query alert until it is re-read;
    /// the cost is one `BatchGetQueryExecution` per 50 such queries per run.
    pub stale_after: Duration,
    /// `ATTRIBUTION_WAIT_SECONDS` (default 120; 0 = never wait): how long after it ended an
    /// expensive query's alert waits for the CloudTrail record of who ran it (CloudTrail's
    /// events reach EventBridge later than Athena's own); at most 900.
    pub attribution_wait: Duration,
    /// `DAILY_BUDGET_USD_BY_PRINCIPAL`: daily budgets per person, keyed as "Run by" shows it
    /// (an assumed role's session name is never the person: the role is, unless a source
    /// identity, Identity Center or `onBehalfOf` names someone), e.g.
    /// `jane@example.com=50,etl-runner=400`.
    pub budget_by_person: BTreeMap<String, f64>,
    /// `PERSON_METRICS` (default false): the swept spend per workgroup and person as an EMF
    /// metric (dimension `Person`). Off by default: one metric per person is CloudWatch cost
    /// and cardinality.
    pub person_metrics: bool,
    /// Athena pace, price, alert ledger and query index.
    pub athena: AthenaWatchSettings,
}

/// The budget and spike settings, read together (their fields live flat in [`CostConfig`]).
struct SpendSettings {
    daily_budget_usd: Option<f64>,
    budget_by_workgroup: BTreeMap<String, f64>,
    budget_by_person: BTreeMap<String, f64>,
    budget_warn_percent: f64,
    spike_factor: f64,
    spike_min_usd: f64,
    spike_baseline_days: u32,
}

impl SpendSettings {
    fn read(r: &mut ConfigReader) -> Self {
        let budget: Option<NonNegative> = r.optional_parsed("DAILY_BUDGET_USD");
        let budget_by_wg: BTreeMap<String, NonNegative> = r.map("DAILY_BUDGET_USD_BY_WORKGROUP");
        let warn: NonNegative = r.parse_or("BUDGET_WARN_PERCENT", NonNegative(80.0));
        if !(warn.0 > 0.0 && warn.0 < 100.0) {
            r.problem("BUDGET_WARN_PERCENT", "must be above 0 and below 100");
        }
        let spike_factor: NonNegative = r.parse_or("SPIKE_FACTOR", NonNegative(3.0));
        if spike_factor.0 != 0.0 && spike_factor.0 <= 1.0 {
            r.problem("SPIKE_FACTOR", "must be above 1 (or 0 to disable)");
        }
        let spike_min: NonNegative = r.parse_or("SPIKE_MIN_USD", NonNegative(10.0));
        let baseline_days: u32 = r.parse_or("SPIKE_BASELINE_DAYS", 7);
        if !(spend::MIN_BASELINE_DAYS as u32..=14).contains(&baseline_days) {
            r.problem(
                "SPIKE_BASELINE_DAYS",
                format!(
                    "must be between {} and 14 (CloudWatch keeps 5-minute data 15 days)",
                    spend::MIN_BASELINE_DAYS
                ),
            );
        }
        let budget_by_person: BTreeMap<String, NonNegative> =
            r.map("DAILY_BUDGET_USD_BY_PRINCIPAL");
        let plain =
            |m: BTreeMap<String, NonNegative>| m.into_iter().map(|(k, v)| (k, v.0)).collect();
        Self {
            daily_budget_usd: budget.map(|b| b.0),
            budget_by_workgroup: plain(budget_by_wg),
            budget_by_person: plain(budget_by_person),
            budget_warn_percent: warn.0,
            spike_factor: spike_factor.0,
            spike_min_usd: spike_min.0,
            spike_baseline_days: baseline_days,
        }
    }
}

impl CostConfig {
    pub fn read(r: &mut ConfigReader) -> Self {
        let common = CommonConfig::read(r);
        let interval_minutes: u32 = r.parse_or("SWEEP_INTERVAL_MINUTES", 5);
        if !(1..=1440).contains(&interval_minutes) {
            r.problem("SWEEP_INTERVAL_MINUTES", "must be between 1 and 1440");
        }
        let threshold_usd: NonNegative = r.parse_or("COST_THRESHOLD_USD", NonNegative(5.0));
        let by_wg: BTreeMap<String, NonNegative> = r.map("COST_THRESHOLD_USD_BY_WORKGROUP");
        let max_query_minutes: u32 = r.parse_or("MAX_QUERY_MINUTES", 300);
        if max_query_minutes == 0 {
            r.problem("MAX_QUERY_MINUTES", "must be at least 1");
        }
        let digest_hour: u32 = r.parse_or("DIGEST_HOUR", 9);
        if digest_hour > 23 {
            r.problem("DIGEST_HOUR", "must be an hour from 0 to 23");
        }
        let storm_minutes: u32 = r.parse_or("RETRY_STORM_MINUTES", 60);
        if storm_minutes == 0 || storm_minutes > max_query_minutes {
            r.problem(
                "RETRY_STORM_MINUTES",
                "must be at least 1 and at most MAX_QUERY_MINUTES (the history a sweep reads)",
            );
        }
        let stale_minutes: u32 = r.parse_or("RECONCILE_STALE_MINUTES", 2);
        if !(1..=1440).contains(&stale_minutes) {
            r.problem("RECONCILE_STALE_MINUTES", "must be between 1 and 1440");
        }
        let attribution_wait: u32 = r.parse_or("ATTRIBUTION_WAIT_SECONDS", 120);
        if attribution_wait > 900 {
            r.problem(
                "ATTRIBUTION_WAIT_SECONDS",
                "must be at most 900 (an expensive-query alert waits no longer for who ran it)",
            );
        }
        let spend = SpendSettings::read(r);
        Self {
            common,
            attribution_wait: Duration::seconds(attribution_wait.min(900) as i64),
            budget_by_person: spend.budget_by_person,
            person_metrics: r.bool_or("PERSON_METRICS", false),
            interval: Duration::minutes(interval_minutes.max(1) as i64),
            threshold_usd: threshold_usd.0,
            threshold_by_workgroup: by_wg.into_iter().map(|(k, v)| (k, v.0)).collect(),
            bytes_threshold: r.optional_parsed("BYTES_THRESHOLD"),
            workgroups: r.list("WORKGROUPS"),
            max_query: Duration::minutes(max_query_minutes as i64),
            timezone: r.timezone("TIMEZONE", chrono_tz::Asia::Seoul),
            daily_budget_usd: spend.daily_budget_usd,
            budget_by_workgroup: spend.budget_by_workgroup,
            budget_warn_percent: spend.budget_warn_percent,
            spike_factor: spend.spike_factor,
            spike_min_usd: spend.spike_min_usd,
            spike_baseline_days: spend.spike_baseline_days,
            digest_hour: digest_hour.min(23),
            digest_enabled: r.bool_or("DIGEST_ENABLED", true),
            log_audit: lakeops::log_audit::AuditSettings::read(r),
            storm_count: r.parse_or("RETRY_STORM_COUNT", 5),
            storm_lookback: Duration::minutes(storm_minutes.max(1) as i64),
            stale_after: Duration::minutes(stale_minutes.max(1) as i64),
            athena: AthenaWatchSettings::read(r),
        }
    }

    pub fn threshold_for(&self, workgroup: &str) -> f64 {
        self.threshold_by_workgroup
            .get(workgroup)
            .copied()
            .unwrap_or(self.threshold_usd)
    }

    pub fn budget_for(&self, workgroup: &str) -> Option<f64> {
        self.budget_by_workgroup
            .get(workgroup)
            .copied()
            .or(self.daily_budget_usd)
    }

    /// Whether a sweep needs the spend history at all.
    pub(crate) fn watches_daily_spend(&self) -> bool {
        self.spike_factor > 0.0
            || self.daily_budget_usd.is_some()
            || !self.budget_by_workgroup.is_empty()
    }
}
