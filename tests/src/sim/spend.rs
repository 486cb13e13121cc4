//! The simulated account's spend around the day: the seven previous days' history (what
//! CloudWatch holds of `QueryCostUSD` before the simulated day starts), a spike put into the day
//! on purpose, and budgets chosen so every budget rule is exercised at any volume.
//!
//! The previous days are the same kind of day from other seeds (so the baseline varies as a real
//! one does, and a workgroup's quiet day next to a busy one can look like a spike: the oracle
//! judges every spike alert on the ground truth, not only the one put in).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use lakeops::athena::{QueryState, StatementType};

use super::oracle::price;
use super::traffic::{self, PlannedQuery, Rng, Source};
use super::SimConfig;

/// Previous days of history (the watcher's `SPIKE_BASELINE_DAYS` default).
pub const BASELINE_DAYS: i64 = 7;
/// The workgroup whose dashboard's filter breaks: [`SPIKE_QUERIES`] refreshes of
/// [`SPIKE_BYTES`] each in ten minutes, each under the expensive-query threshold, together far
/// above its usual day.
pub const SPIKE_WORKGROUP: &str = "bi-07";
const SPIKE_QUERIES: usize = 100;
const SPIKE_BYTES: u64 = 400 << 30;
/// When the spike starts, as a share of the simulated span.
const SPIKE_AT: f64 = 0.7;

/// One scope's spend over a day: (when it counts, usd), in time order.
pub type Series = Vec<(DateTime<Utc>, f64)>;
/// Daily budgets: (workgroup or person, usd).
pub type Budgets = Vec<(String, f64)>;

/// What the simulation planned around the day's spend.
#[derive(Debug, Default)]
pub struct SpendPlan {
    /// Per workgroup and previous day (1 = yesterday), that day's priced queries as CloudWatch
    /// received their cost: stamped with their end. A day the workgroup ran nothing is absent.
    pub history: BTreeMap<String, BTreeMap<i64, Series>>,
    /// Daily budgets: (workgroup, usd) and (person, usd).
    pub workgroup_budgets: Budgets,
    pub person_budgets: Budgets,
    /// When the put-in spike's last query ends.
    pub spike_ends: Option<DateTime<Utc>>,
}

impl SpendPlan {
    /// The history, seeded into the watcher's spend source before the day starts.
    pub fn seed(&self, spend: &query_cost_watcher::spend::MemorySpend) {
        for (wg, days) in &self.history {
            for (at, usd) in days.values().flatten() {
                spend.put(wg, *at, *usd);
            }
        }
    }

    /// The settings that give the watcher these budgets.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        let list = |b: &[(String, f64)]| {
            b.iter()
                .map(|(k, usd)| format!("{k}={usd:.2}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        vec![
            (
                "DAILY_BUDGET_USD_BY_WORKGROUP",
                list(&self.workgroup_budgets),
            ),
            ("DAILY_BUDGET_USD_BY_PRINCIPAL", list(&self.person_budgets)),
        ]
    }
}

/// Plans the history, the spike (added to `queries`) and the budgets.
pub fn plan(cfg: &SimConfig, queries: &mut Vec<PlannedQuery>) -> SpendPlan {
    let minutes = i64::from(cfg.hours) * 60;
    let mut history: BTreeMap<String, BTreeMap<i64, Series>> = BTreeMap::new();
    for k in 1..=BASELINE_DAYS {
        let mut rng = Rng::new(cfg.seed.wrapping_add(1000 * k as u64));
        let start = cfg.start - Duration::days(k);
        let mut day: BTreeMap<String, Series> = BTreeMap::new();
        let planned = traffic::plan(cfg.per_day, start, minutes, cfg.runaway_odds, &mut rng);
        // What ended after the simulated day began would be the day's own (priced by its runs,
        // in its totals): the history holds what CloudWatch had when the day began.
        for q in planned.into_iter().filter(|q| q.ended < cfg.start) {
            day.entry(q.workgroup.clone())
                .or_default()
                .push((q.ended, price(&q)));
        }
        for (wg, mut series) in day {
            series.sort_by_key(|(t, _)| *t);
            history.entry(wg).or_default().insert(k, series);
        }
    }
    let spike_ends = cfg.faults.then(|| add_spike(cfg, queries));
    let (workgroup_budgets, person_budgets) = budgets(queries);
    SpendPlan {
        history,
        workgroup_budgets,
        person_budgets,
        spike_ends,
    }
}

/// A dashboard whose filter broke: [`SPIKE_QUERIES`] refreshes in [`SPIKE_WORKGROUP`].
fn add_spike(cfg: &SimConfig, queries: &mut Vec<PlannedQuery>) -> DateTime<Utc> {
    let span = i64::from(cfg.hours) * 3600;
    let at = cfg.start + Duration::seconds((span as f64 * SPIKE_AT) as i64);
    let mut last = at;
    for n in 0..SPIKE_QUERIES {
        let submitted = at + Duration::seconds(6 * n as i64);
        let started = submitted + Duration::milliseconds(300);
        let ended = started + Duration::seconds(40);
        last = last.max(ended);
        queries.push(PlannedQuery {
            id: format!("sim-spike-{n:04}"),
            workgroup: SPIKE_WORKGROUP.into(),
            person: "svc-dashboards".into(),
            source: Source::Dashboard,
            sql: "SELECT region, sum(amount) FROM sales.orders_7 GROUP BY region".into(),
            statement: StatementType::Dml,
            submitted,
            started,
            ended,
            state: QueryState::Succeeded,
            bytes: SPIKE_BYTES,
            trail_at: Some(submitted + Duration::seconds(90)),
            dpu: None,
        });
    }
    last
}

/// Budgets from the planned day: the busiest workgroup and person get 60 % of what they will
/// spend (exceeded), the next 110 % (warned, not exceeded), the third 300 % (never reached).
fn budgets(queries: &[PlannedQuery]) -> (Budgets, Budgets) {
    let mut by_workgroup: BTreeMap<&str, f64> = BTreeMap::new();
    let mut by_person: BTreeMap<&str, f64> = BTreeMap::new();
    for q in queries {
        *by_workgroup.entry(&q.workgroup).or_default() += price(q);
        if q.trail_at.is_some() && q.source == Source::Analyst {
            *by_person.entry(&q.person).or_default() += price(q);
        }
    }
    let pick = |totals: BTreeMap<&str, f64>| {
        let mut ranked: Vec<(&str, f64)> = totals.into_iter().filter(|(_, u)| *u > 0.0).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        ranked
            .into_iter()
            .zip([0.6, 1.1, 3.0])
            .map(|((name, usd), share)| (name.to_string(), (usd * share * 100.0).round() / 100.0))
            .collect::<Budgets>()
    };
    (pick(by_workgroup), pick(by_person))
}
