//! What a simulated run left behind, read for the oracle: the index's records and totals, and
//! every alert that reached the topic.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use lakeops::query_index::IndexStore;

use super::day::SimDeps;
use super::oracle;
use super::spend::SpendPlan;
use super::traffic::PlannedQuery;

/// A finished run, as the oracle needs it.
pub(super) struct Run<'a> {
    pub deps: &'a SimDeps,
    pub queries: &'a [PlannedQuery],
    /// The queries the killer stopped, as they really ended.
    pub stopped: &'a BTreeMap<usize, PlannedQuery>,
    pub outage: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// The end of the run (the drain's).
    pub end: DateTime<Utc>,
    pub spend: &'a SpendPlan,
    /// A moment of the simulated (UTC) day.
    pub day: DateTime<Utc>,
    /// `QueryCostUSD` per workgroup, summed over what the runs emitted.
    pub cost_metric: &'a BTreeMap<String, f64>,
}

/// Judges a finished run: reads what it left behind and hands it to the oracle.
pub(super) async fn judge(run: Run<'_>) -> oracle::Verdict {
    let Run {
        deps,
        queries,
        stopped,
        outage,
        end,
        spend,
        day,
        cost_metric,
    } = run;
    let day_start = day
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(day);
    let records: HashMap<String, _> = deps
        .index
        .records()
        .into_iter()
        .map(|r| (r.query_id.clone(), r))
        .collect();
    let mut workgroups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut persons: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in records.values() {
        if let (Some(p), Some(wg)) = (&r.price, &r.workgroup) {
            workgroups
                .entry(p.day.clone())
                .or_default()
                .push(wg.clone());
            if let Some(c) = &r.caller {
                persons
                    .entry(p.day.clone())
                    .or_default()
                    .push(c.person.clone());
            }
        }
    }
    let mut day_totals = BTreeMap::new();
    let mut person_totals = BTreeMap::new();
    for (day, mut names) in workgroups {
        names.sort();
        names.dedup();
        let totals = deps
            .index
            .day_totals(&names, &day)
            .await
            .expect("memory index");
        day_totals.extend(totals.into_iter().map(|(wg, usd)| ((wg, day.clone()), usd)));
    }
    for (day, mut names) in persons {
        names.sort();
        names.dedup();
        let totals = deps
            .index
            .person_day_totals(&names, &day)
            .await
            .expect("memory index");
        person_totals.extend(totals.into_iter().map(|(p, usd)| ((p, day.clone()), usd)));
    }
    let mut expensive_alerts: HashMap<String, Vec<DateTime<Utc>>> = HashMap::new();
    let mut stop_alerts: HashMap<String, Vec<DateTime<Utc>>> = HashMap::new();
    let mut warnings: HashMap<String, usize> = HashMap::new();
    let published = deps
        .alerts
        .published
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    for (at, alert) in &published {
        if let Some(id) = alert.id.strip_prefix("query-cost-watcher/expensive/") {
            expensive_alerts
                .entry(id.to_string())
                .or_default()
                .push(*at);
        } else if let Some(id) = alert.id.strip_prefix("long-query-killer/stopped/") {
            stop_alerts.entry(id.to_string()).or_default().push(*at);
        } else if let Some(id) = alert.id.strip_prefix("long-query-killer/warn/") {
            *warnings.entry(id.to_string()).or_default() += 1;
        }
    }
    oracle::judge(&oracle::Observed {
        records,
        day_totals,
        person_totals,
        expensive_alerts,
        outage,
        end,
        threshold_usd: deps.config.threshold_usd,
        queries,
        cost_metric,
        stopped,
        warnings,
        stop_alerts,
        published,
        spend,
        day: (day_start, day_start + Duration::days(1)),
        day_name: day_start.format("%Y-%m-%d").to_string(),
    })
}
