//! The digest, judged on the ground truth: sent once, and its figures — the day's spend and
//! queries, each workgroup's queries by outcome, spend and expensive count, the ten most
//! expensive queries — equal to the oracle's own count of every query that ended in the day.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{close, price, Observed, Verdict};
use crate::sim::day::DIGEST_AFTER;
use crate::sim::traffic::PlannedQuery;
use lakeops::athena::{QueryState, StatementType};

/// What the oracle counts of one workgroup's day (the digest's names).
#[derive(Debug, Default, PartialEq)]
struct Day {
    queries: u64,
    succeeded: u64,
    failed: u64,
    cancelled: u64,
    ddl: u64,
    expensive: u64,
    usd: f64,
}

pub(super) fn judge(o: &Observed, actual: &[&PlannedQuery], v: &mut Verdict) {
    let key = format!("query-cost-watcher/digest/{}", o.day_name);
    let sent = o.alerts_with_details(&key);
    let details = match sent.as_slice() {
        [one] => one,
        [] => {
            v.discrepancies.push(format!("no digest of {}", o.day_name));
            return;
        }
        many => {
            v.discrepancies
                .push(format!("the digest was sent {} times", many.len()));
            &many[0]
        }
    };
    v.digest = true;
    // Of a slice's day, what had ended when the digest was made (its sweep settles first what
    // ended by then); of a whole day, the day.
    let (start, end) = o.day;
    let end = end.min(o.end + DIGEST_AFTER);
    let day: Vec<&&PlannedQuery> = actual
        .iter()
        .filter(|q| start <= q.ended && q.ended < end)
        .collect();
    let mut truth: BTreeMap<&str, Day> = BTreeMap::new();
    for q in &day {
        let d = truth.entry(&q.workgroup).or_default();
        let usd = price(q);
        d.queries += 1;
        d.succeeded += u64::from(q.state == QueryState::Succeeded);
        d.failed += u64::from(q.state == QueryState::Failed);
        d.cancelled += u64::from(q.state == QueryState::Cancelled);
        d.ddl += u64::from(q.statement == StatementType::Ddl);
        d.expensive += u64::from(usd > o.threshold_usd);
        d.usd += usd;
    }
    let mut found: BTreeMap<String, Day> = BTreeMap::new();
    for w in details["workgroups"].as_array().into_iter().flatten() {
        let n = |k: &str| w[k].as_u64().unwrap_or(u64::MAX);
        let name = w["workgroup"].as_str().unwrap_or("?").to_string();
        let d = Day {
            queries: n("queries"),
            succeeded: n("succeeded"),
            failed: n("failed"),
            cancelled: n("cancelled"),
            ddl: n("ddl"),
            expensive: n("expensive"),
            usd: w["usd"].as_f64().unwrap_or(f64::NAN),
        };
        if d.queries > 0 {
            found.insert(name, d);
        }
    }
    for (wg, t) in &truth {
        match found.get(*wg) {
            Some(f) if same(f, t) => {}
            f => v
                .discrepancies
                .push(format!("digest of {wg}: {f:?}, the day was {t:?}")),
        }
    }
    for wg in found.keys().filter(|k| !truth.contains_key(k.as_str())) {
        v.discrepancies
            .push(format!("digest lists {wg}, which ran nothing that day"));
    }
    let total: f64 = day.iter().map(|q| price(q)).sum();
    let (got_usd, got_n) = (&details["total_usd"], &details["total_queries"]);
    if !got_usd.as_f64().is_some_and(|u| close(u, total))
        || got_n.as_u64() != Some(day.len() as u64)
    {
        v.discrepancies.push(format!(
            "digest total {got_usd} over {got_n} queries; the day: ${total:.6} over {}",
            day.len()
        ));
    }
    judge_top(details, &day, v);
    judge_cutoffs(details, &day, v);
}

/// Each per-query data limit the digest advises: stopping at it stops exactly the queries it
/// says (those billed that scanned more), no more than 0.1 % of the workgroup's day, and saves
/// what it says (each stopped query billed for the cutoff instead of its scan).
fn judge_cutoffs(details: &Value, day: &[&&PlannedQuery], v: &mut Verdict) {
    for a in details["cutoff_advice"].as_array().into_iter().flatten() {
        let wg = a["workgroup"].as_str().unwrap_or("?");
        let cutoff = a["cutoff_bytes"].as_u64().unwrap_or(0);
        let of_wg: Vec<&&&PlannedQuery> = day.iter().filter(|q| q.workgroup == wg).collect();
        v.cutoffs += 1;
        let stopped: Vec<&&&PlannedQuery> = of_wg
            .iter()
            .copied()
            .filter(|q| price(q) > 0.0 && q.bytes > cutoff)
            .collect();
        let at_cutoff = |q: &PlannedQuery| {
            price(&PlannedQuery {
                bytes: cutoff,
                ..q.clone()
            })
        };
        let saved: f64 = stopped.iter().map(|q| price(q) - at_cutoff(q)).sum();
        let said = (
            a["stopped"].as_u64(),
            a["saved_usd"].as_f64().unwrap_or(f64::NAN),
        );
        if said.0 != Some(stopped.len() as u64)
            || a["queries"].as_u64() != Some(of_wg.len() as u64)
            || (stopped.len() as f64) > of_wg.len() as f64 * 0.001
            || !close(said.1, saved)
        {
            v.discrepancies.push(format!(
                "cutoff advice for {wg} ({cutoff} bytes): says {said:?}; it would stop {} of {} queries, saving ${saved:.6}",
                stopped.len(),
                of_wg.len()
            ));
        }
    }
}

fn same(a: &Day, b: &Day) -> bool {
    close(a.usd, b.usd)
        && (
            a.queries,
            a.succeeded,
            a.failed,
            a.cancelled,
            a.ddl,
            a.expensive,
        ) == (
            b.queries,
            b.succeeded,
            b.failed,
            b.cancelled,
            b.ddl,
            b.expensive,
        )
}

/// The ten most expensive queries, by price (ties by id).
fn judge_top(details: &Value, day: &[&&PlannedQuery], v: &mut Verdict) {
    let mut billed: Vec<(f64, &str)> = day
        .iter()
        .map(|q| (price(q), q.id.as_str()))
        .filter(|(usd, _)| *usd > 0.0)
        .collect();
    billed.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    let expected: Vec<&str> = billed.iter().take(10).map(|(_, id)| *id).collect();
    let listed: Vec<&str> = details["top_queries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|q| q["id"].as_str())
        .collect();
    if listed != expected {
        v.discrepancies.push(format!(
            "digest's top queries {listed:?}, the day's most expensive {expected:?}"
        ));
    }
}
