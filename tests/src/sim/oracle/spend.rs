//! Budgets and spikes, judged on the ground truth (every query's real end and the oracle's own
//! price), never on what the watcher read:
//!
//! - a budget alert (80 % warning, 100 % exceeded; per workgroup and per person) is sent only
//!   when the scope had really spent that much by then, at most once a day per level; a budget
//!   the day crossed is alerted within [`ALERT_DELAY`] of the crossing (or of the end of an
//!   alert-topic outage it fell in) — the warning may be skipped only when the crossing went
//!   straight past 100 %;
//! - a spike alert is sent only when the workgroup's spend so far really was at least
//!   [`SPIKE_FACTOR`] × the median of the same hours of the previous days (three days of history
//!   at least) and [`SPIKE_MIN_USD`] above it, once a day; the spike put in on purpose is
//!   alerted within [`ALERT_DELAY`] of its last query's end.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::{due, price, Observed, Verdict, ALERT_DELAY};
use crate::sim::spend::{Series, SPIKE_WORKGROUP};
use crate::sim::traffic::PlannedQuery;

/// The watcher's defaults the simulation runs with (`BUDGET_WARN_PERCENT`, `SPIKE_FACTOR`,
/// `SPIKE_MIN_USD`), restated.
const WARN_SHARE: f64 = 0.8;
const SPIKE_FACTOR: f64 = 3.0;
const SPIKE_MIN_USD: f64 = 10.0;
const MIN_BASELINE_DAYS: usize = 3;
const EPS: f64 = 1e-6;

const PREFIX: &str = "query-cost-watcher/";

pub(super) fn judge(o: &Observed, actual: &[&PlannedQuery], v: &mut Verdict) {
    let (day_start, day_end) = o.day;
    let in_day = |q: &&&PlannedQuery| day_start <= q.ended && q.ended < day_end;
    for (wg, budget) in &o.spend.workgroup_budgets {
        let mut series: Series = actual
            .iter()
            .filter(in_day)
            .filter(|q| &q.workgroup == wg)
            .map(|q| (q.ended, price(q)))
            .collect();
        series.sort_by_key(|(t, _)| *t);
        judge_budget(&format!("budget/{wg}"), *budget, &series, o, v);
    }
    for (person, budget) in &o.spend.person_budgets {
        // A person's spend counts once the query is priced and its CloudTrail record is in.
        let mut series: Series = actual
            .iter()
            .filter(in_day)
            .filter(|q| &q.person == person)
            .filter_map(|q| q.trail_at.map(|t| (t.max(q.ended), price(q))))
            .collect();
        series.sort_by_key(|(t, _)| *t);
        judge_budget(&format!("budget-person/{person}"), *budget, &series, o, v);
    }
    judge_spikes(o, actual, v);
}

/// Sum of `series` counted by `t`.
fn spent_by(series: &Series, t: DateTime<Utc>) -> f64 {
    series
        .iter()
        .take_while(|(at, _)| *at <= t)
        .map(|(_, u)| u)
        .sum()
}

/// When the running sum of `series` first reached `line`.
fn crossed(series: &Series, line: f64) -> Option<DateTime<Utc>> {
    let mut sum = 0.0;
    series.iter().find_map(|(t, u)| {
        sum += u;
        (sum >= line - EPS && sum > 0.0).then_some(*t)
    })
}

fn judge_budget(scope: &str, budget: f64, series: &Series, o: &Observed, v: &mut Verdict) {
    v.budgets += 1;
    let key = format!("{PREFIX}{scope}/{}/", o.day_name);
    let total: f64 = series.iter().map(|(_, u)| u).sum();
    let exceeded_at = crossed(series, budget);
    for (level, line) in [("warning", budget * WARN_SHARE), ("exceeded", budget)] {
        let sent: Vec<DateTime<Utc>> = o.alerts_with_id(&format!("{key}{level}"));
        for at in &sent {
            let spent = spent_by(series, *at);
            if spent < line - EPS {
                v.discrepancies.push(format!(
                    "{scope}: {level} alert at {} when ${spent:.2} of ${budget:.2} was spent",
                    at.format("%H:%M")
                ));
            }
        }
        if sent.len() > 1 {
            v.discrepancies
                .push(format!("{scope}: {level} alert sent {} times", sent.len()));
        }
        let Some(crossing) = crossed(series, line) else {
            continue;
        };
        if crossing + super::SETTLE_MARGIN > o.end {
            continue; // crossed too late in the run to be judged
        }
        let straight_past = level == "warning" && exceeded_at.is_some_and(|e| e - crossing < SWEEP);
        let due = due(crossing, o.outage) + ALERT_DELAY;
        match sent.first() {
            None if straight_past => {}
            None => v.discrepancies.push(format!(
                "{scope}: ${total:.2} of ${budget:.2} spent, {level} line crossed at {} and never alerted",
                crossing.format("%H:%M")
            )),
            Some(at) if *at > due => v.discrepancies.push(format!(
                "{scope}: {level} alerted {} after the line was crossed",
                *at - crossing
            )),
            Some(_) => {}
        }
    }
}

/// A sweep's period: a warning and the 100 % line crossed within one may be reported as one.
const SWEEP: Duration = Duration::minutes(5);

fn judge_spikes(o: &Observed, actual: &[&PlannedQuery], v: &mut Verdict) {
    let (day_start, _) = o.day;
    let mut per_workgroup: BTreeMap<&str, usize> = BTreeMap::new();
    for (at, id) in o.alert_ids_with_prefix(&format!("{PREFIX}spike/")) {
        let Some(wg) = id.strip_suffix(&format!("/{}", o.day_name)) else {
            continue;
        };
        *per_workgroup.entry(wg).or_default() += 1;
        v.spikes += 1;
        let today: f64 = actual
            .iter()
            .filter(|q| q.workgroup == wg && day_start <= q.ended && q.ended <= at)
            .map(|q| price(q))
            .sum();
        let elapsed = at - day_start;
        let mut samples: Vec<f64> = o
            .spend
            .history
            .get(wg)
            .into_iter()
            .flat_map(|days| days.iter())
            .map(|(k, series)| spent_by_before(series, day_start - Duration::days(*k) + elapsed))
            .collect();
        samples.sort_by(f64::total_cmp);
        let Some(base) = median(&samples).filter(|_| samples.len() >= MIN_BASELINE_DAYS) else {
            v.discrepancies.push(format!(
                "{wg}: spike alert with {} days of history",
                samples.len()
            ));
            continue;
        };
        if today < SPIKE_FACTOR * base - EPS || today - base < SPIKE_MIN_USD - EPS {
            v.discrepancies.push(format!(
                "{wg}: spike alert at {} without a spike: ${today:.2} today, usually ${base:.2}",
                at.format("%H:%M")
            ));
        }
    }
    for (wg, n) in &per_workgroup {
        if *n > 1 {
            v.discrepancies
                .push(format!("{wg}: spike alerted {n} times in a day"));
        }
    }
    if let Some(ended) = o.spend.spike_ends {
        let due = due(ended, o.outage) + ALERT_DELAY;
        let alerted = o
            .alert_ids_with_prefix(&format!("{PREFIX}spike/{SPIKE_WORKGROUP}/"))
            .into_iter()
            .any(|(at, _)| at <= due);
        if !alerted && due <= o.end {
            v.discrepancies.push(format!(
                "{SPIKE_WORKGROUP}: the spike put in on purpose was not alerted by {}",
                due.format("%H:%M")
            ));
        }
    }
}

/// Sum of `series` stamped before `t` (CloudWatch's periods that started before it).
fn spent_by_before(series: &Series, t: DateTime<Utc>) -> f64 {
    series
        .iter()
        .take_while(|(at, _)| *at < t)
        .map(|(_, u)| u)
        .sum()
}

/// The median of sorted samples (the mean of the middle two for an even count).
fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}
