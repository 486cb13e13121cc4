//! The oracle: judges a simulated day from its ground truth, written apart from the code under
//! test — it prices every query from Athena's billing rules itself and never calls the pricing
//! or the decisions it judges. What it holds the run to:
//!
//! - every query that ended at least [`SETTLE_MARGIN`] before the end is priced once, at its exact
//!   price;
//! - each workgroup's day total equals the sum of its priced queries' prices (nothing counted
//!   twice), and each person's day total the sum of their priced queries';
//! - the spend metrics (`QueryCostUSD`, summed over the run) equal each workgroup's day totals:
//!   a query priced late (after its window was swept) is not missing from them;
//! - every expensive query is alerted exactly once, within [`ALERT_DELAY`] of its end (or of the
//!   end of an alert-topic outage it ended in); no other query is alerted as expensive; its
//!   alert never names the wrong person, and names its person when the CloudTrail record came
//!   within [`ATTRIBUTED_WITHIN`] of its end;
//! - the dead-letter queue holds nothing whose work was not done anyway (checked by the above:
//!   every query is judged whatever happened to its messages);
//! - the killer's rules ([`runaways`]): every runaway stopped within two killer periods of its
//!   limit, nothing else stopped, each stop warned before and reported once;
//! - budgets and spikes ([`spend`]): no budget or spike alert the ground truth does not justify,
//!   each at most once a day, every crossed budget and the spike put in alerted in time;
//! - the digest ([`digest`]): sent once, its figures equal to the oracle's count of the day.
//!
//! A query the killer stopped is judged as it really ended (CANCELLED, billed for what it
//! scanned until then).

mod digest;
mod runaways;
mod spend;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use lakeops::alert::Alert;
use lakeops::athena::{QueryState, StatementType};
use lakeops_core::record::QueryRecord;
use serde_json::Value;

use super::spend::SpendPlan;
use super::traffic::PlannedQuery;

/// A query that ended this long before the end of the run must be settled.
pub const SETTLE_MARGIN: Duration = Duration::minutes(20);
/// The stated delay: an expensive query is alerted within this of its end (after an outage of the
/// alert topic, of the outage's end).
pub const ALERT_DELAY: Duration = Duration::minutes(15);
/// An expensive query whose CloudTrail record arrived this soon after its end is alerted with its
/// person.
pub const ATTRIBUTED_WITHIN: Duration = Duration::seconds(60);

/// Athena's price of a query, from the billing rules (Athena pricing page): on a capacity
/// reservation, its DPUs × the time it ran at $0.30 per DPU-hour, whatever its state or kind
/// (it held the reservation's DPUs); otherwise DDL and failed queries are free, and the rest pay
/// for the bytes scanned rounded up to the next MiB with a 10 MiB minimum, at $5 per TiB;
/// nothing scanned, nothing billed.
pub fn price(q: &PlannedQuery) -> f64 {
    const MIB: u64 = 1 << 20;
    if let Some(dpu) = q.dpu {
        let hours = (q.ended - q.started).num_milliseconds() as f64 / 3_600_000.0;
        return dpu * hours * 0.30;
    }
    if q.statement == StatementType::Ddl || q.state == QueryState::Failed || q.bytes == 0 {
        return 0.0;
    }
    let billed = q.bytes.div_ceil(MIB).max(10) * MIB;
    billed as f64 / (1u64 << 40) as f64 * 5.0
}

/// What the run left behind, as the oracle reads it.
pub struct Observed<'a> {
    pub records: HashMap<String, QueryRecord>,
    /// (workgroup, day) → usd, from the index.
    pub day_totals: BTreeMap<(String, String), f64>,
    /// (person, day) → usd, from the index.
    pub person_totals: BTreeMap<(String, String), f64>,
    /// When each expensive-query alert reached the topic, by query id.
    pub expensive_alerts: HashMap<String, Vec<DateTime<Utc>>>,
    pub outage: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub end: DateTime<Utc>,
    pub threshold_usd: f64,
    pub queries: &'a [PlannedQuery],
    /// `QueryCostUSD` per workgroup, summed over every metric the runs emitted.
    pub cost_metric: &'a BTreeMap<String, f64>,
    /// The queries the killer stopped (by index in `queries`), as they really ended.
    pub stopped: &'a BTreeMap<usize, PlannedQuery>,
    /// `LongQueryWarning` alerts per query id.
    pub warnings: HashMap<String, usize>,
    /// When each `QueryStopped` alert reached the topic, by query id.
    pub stop_alerts: HashMap<String, Vec<DateTime<Utc>>>,
    /// Every alert that reached the topic, and when.
    pub published: Vec<(DateTime<Utc>, Alert)>,
    /// The previous days' history, the spike put in and the budgets.
    pub spend: &'a SpendPlan,
    /// The simulated (UTC) day, `[start, end)`, and its name in alert ids.
    pub day: (DateTime<Utc>, DateTime<Utc>),
    pub day_name: String,
}

impl Observed<'_> {
    /// When each alert with this id reached the topic.
    fn alerts_with_id(&self, id: &str) -> Vec<DateTime<Utc>> {
        self.published
            .iter()
            .filter(|(_, a)| a.id == id)
            .map(|(at, _)| *at)
            .collect()
    }

    /// The rest of the id of every alert whose id starts with `prefix`, and when it arrived.
    fn alert_ids_with_prefix(&self, prefix: &str) -> Vec<(DateTime<Utc>, &str)> {
        self.published
            .iter()
            .filter_map(|(at, a)| a.id.strip_prefix(prefix).map(|rest| (*at, rest)))
            .collect()
    }

    /// The machine-readable details of every alert with this id.
    fn alerts_with_details(&self, id: &str) -> Vec<Value> {
        self.published
            .iter()
            .filter(|(_, a)| a.id == id)
            .map(|(_, a)| Value::Object(a.details.clone()))
            .collect()
    }
}

/// When an alert about something at `t` is due from: `t`, or the end of an alert-topic outage
/// `t` fell in.
fn due(t: DateTime<Utc>, outage: Option<(DateTime<Utc>, DateTime<Utc>)>) -> DateTime<Utc> {
    match outage {
        Some((from, to)) if from <= t && t < to => to,
        _ => t,
    }
}

/// The verdict: discrepancies, and what was judged.
#[derive(Debug, Default)]
pub struct Verdict {
    pub judged: usize,
    pub expensive: usize,
    /// Runaways stopped in time.
    pub runaways: usize,
    /// Budgets (workgroups and people) and spike alerts judged; the digest judged.
    pub budgets: usize,
    pub spikes: usize,
    pub digest: bool,
    /// Per-query data limits the digest advised, each judged.
    pub cutoffs: usize,
    pub discrepancies: Vec<String>,
}

impl Verdict {
    pub fn clean(&self) -> bool {
        self.discrepancies.is_empty()
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * (1.0 + a.abs().max(b.abs()))
}

pub fn judge(o: &Observed) -> Verdict {
    let mut v = Verdict::default();
    let mut sums = Sums::default();
    let actual: Vec<&PlannedQuery> = (o.queries.iter().enumerate())
        .map(|(i, planned)| o.stopped.get(&i).unwrap_or(planned))
        .collect();
    for q in &actual {
        judge_query(q, o, &mut v, &mut sums);
    }
    runaways::judge(o, &mut v);
    spend::judge(o, &actual, &mut v);
    digest::judge(o, &actual, &mut v);
    compare_totals("day total", &sums.day, &o.day_totals, &mut v);
    compare_totals("person's day total", &sums.person, &o.person_totals, &mut v);
    compare_cost_metric(o, &mut v);
    v
}

/// The oracle's own totals of what was priced: (workgroup or person, day) → usd.
#[derive(Default)]
struct Sums {
    day: BTreeMap<(String, String), f64>,
    person: BTreeMap<(String, String), f64>,
}

/// One query: its price if priced, priced at all once settled, its expensive alert.
fn judge_query(q: &PlannedQuery, o: &Observed, v: &mut Verdict, sums: &mut Sums) {
    let truth = price(q);
    let record = o.records.get(&q.id);
    let priced = record.and_then(|r| r.price.as_ref());
    if let Some(p) = priced {
        *sums
            .day
            .entry((q.workgroup.clone(), p.day.clone()))
            .or_default() += truth;
        if record.is_some_and(|r| r.principal_counted) {
            *sums
                .person
                .entry((q.person.clone(), p.day.clone()))
                .or_default() += truth;
        }
        if !close(p.usd, truth) {
            v.discrepancies.push(format!(
                "{}: priced ${:.6}, the bill says ${truth:.6}",
                q.id, p.usd
            ));
        }
    }
    if q.ended + SETTLE_MARGIN > o.end {
        return;
    }
    v.judged += 1;
    if priced.is_none() {
        v.discrepancies.push(format!(
            "{}: ended {} and never priced",
            q.id,
            q.ended.format("%H:%M:%S")
        ));
    }
    let alerts = o
        .expensive_alerts
        .get(&q.id)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    if truth <= o.threshold_usd {
        if !alerts.is_empty() {
            v.discrepancies
                .push(format!("{}: alerted as expensive at ${truth:.4}", q.id));
        }
        return;
    }
    v.expensive += 1;
    let due = due(q.ended, o.outage) + ALERT_DELAY;
    match alerts {
        [] => v.discrepancies.push(format!(
            "{}: expensive (${truth:.2}) and never alerted",
            q.id
        )),
        [at] if *at > due => v.discrepancies.push(format!(
            "{}: alerted {} after it ended (stated delay {} min)",
            q.id,
            *at - q.ended,
            ALERT_DELAY.num_minutes()
        )),
        [_] => {}
        many => v
            .discrepancies
            .push(format!("{}: alerted {} times", q.id, many.len())),
    }
    judge_attribution(q, o, v);
}

/// Who ran an expensive query: its alert never names anyone else, and names its person when the
/// CloudTrail record arrived within [`ATTRIBUTED_WITHIN`] of the query's end (the feed holds the
/// alert up to `ATTRIBUTION_WAIT_SECONDS`, 120 s, for it).
fn judge_attribution(q: &PlannedQuery, o: &Observed, v: &mut Verdict) {
    let id = format!("query-cost-watcher/expensive/{}", q.id);
    for details in o.alerts_with_details(&id) {
        match details["run_by"].as_str() {
            Some(p) if p != q.person => v
                .discrepancies
                .push(format!("{}: alert names {p}, run by {}", q.id, q.person)),
            None if q.trail_at.is_some_and(|t| t <= q.ended + ATTRIBUTED_WITHIN) => {
                v.discrepancies.push(format!(
                    "{}: alerted without who ran it, whose CloudTrail record came {} s after its end",
                    q.id,
                    (q.trail_at.unwrap_or(q.ended) - q.ended).num_seconds()
                ))
            }
            _ => {}
        }
    }
}

/// The spend metric, summed over the run, against each workgroup's day totals.
fn compare_cost_metric(o: &Observed, v: &mut Verdict) {
    let mut by_workgroup: BTreeMap<&str, f64> = BTreeMap::new();
    for ((wg, _), usd) in &o.day_totals {
        *by_workgroup.entry(wg).or_default() += usd;
    }
    for (wg, total) in by_workgroup {
        let metric = o.cost_metric.get(wg).copied().unwrap_or(0.0);
        if !close(metric, total) {
            v.discrepancies.push(format!(
                "QueryCostUSD of {wg}: ${metric:.6} over the run, its day totals ${total:.6}"
            ));
        }
    }
}

fn compare_totals(
    what: &str,
    expected: &BTreeMap<(String, String), f64>,
    found: &BTreeMap<(String, String), f64>,
    v: &mut Verdict,
) {
    for (key, sum) in expected {
        let got = found.get(key).copied().unwrap_or(0.0);
        if !close(got, *sum) {
            v.discrepancies.push(format!(
                "{what} of {} on {}: ${got:.6}, its priced queries add up to ${sum:.6}",
                key.0, key.1
            ));
        }
    }
}
