//! The oracle's rules for the long-query killer, from the planned day alone (what each query
//! would have done unstopped) and the account's limit — never the killer's own decision:
//!
//! - every DML query still running at its limit ([`LIMIT`] after submission) is stopped, no
//!   sooner than its limit and no later than two killer periods after it;
//! - no other query is stopped;
//! - every stopped query is reported stopped exactly once, within [`ALERT_DELAY`] of its stop
//!   (or of the end of an alert-topic outage it was stopped in);
//! - every stopped query was warned exactly once first (no query is warned twice) — unless the
//!   alert topic was out for the whole of its warning time (from [`WARN_AT`] to the stop), and
//!   then its stop alert says it was not warned (the stop never waits for a warning).

use chrono::{DateTime, Duration, Utc};
use lakeops::athena::StatementType;

use super::{Observed, Verdict, ALERT_DELAY};
use crate::sim::killer::{KILLER_PERIOD, LIMIT};
use crate::sim::traffic::PlannedQuery;

/// When the killer warns, after submission: 80 % of [`LIMIT`] (its default `WARN_AT_PERCENT`).
const WARN_AT: Duration = Duration::minutes(48);

/// Whether `q`, left alone, would still run when its limit comes.
fn runs_past_its_limit(q: &PlannedQuery) -> bool {
    q.statement != StatementType::Ddl && q.submitted + LIMIT < q.ended
}

pub(super) fn judge(o: &Observed, v: &mut Verdict) {
    for (i, q) in o.queries.iter().enumerate() {
        let stopped_at = o.stopped.get(&i).map(|actual| actual.ended);
        let warnings = o.warnings.get(&q.id).copied().unwrap_or(0);
        if warnings > 1 {
            v.discrepancies
                .push(format!("{}: warned {warnings} times", q.id));
        }
        if !runs_past_its_limit(q) {
            if stopped_at.is_some() {
                v.discrepancies.push(format!(
                    "{}: stopped, though it ends within its limit",
                    q.id
                ));
            }
            continue;
        }
        let limit_at = q.submitted + LIMIT;
        let deadline = limit_at + KILLER_PERIOD * 2;
        match stopped_at {
            Some(at) if at < limit_at => v.discrepancies.push(format!(
                "{}: stopped {} before its limit",
                q.id,
                limit_at - at
            )),
            Some(at) if at > deadline => v.discrepancies.push(format!(
                "{}: stopped {} after its limit (two killer periods allowed)",
                q.id,
                at - limit_at
            )),
            Some(at) => {
                v.runaways += 1;
                judge_reports(q, at, warnings, o, v);
            }
            None if deadline <= o.end => v.discrepancies.push(format!(
                "{}: ran past its limit ({}) and was never stopped",
                q.id,
                limit_at.format("%H:%M")
            )),
            None => {}
        }
    }
}

/// A stopped query's warning and stop alert.
fn judge_reports(
    q: &PlannedQuery,
    stopped: DateTime<Utc>,
    warnings: usize,
    o: &Observed,
    v: &mut Verdict,
) {
    let id = format!("long-query-killer/stopped/{}", q.id);
    let said_unwarned = o
        .alerts_with_details(&id)
        .iter()
        .any(|d| d["warned_first"] == false);
    let could_warn = !matches!(o.outage,
        Some((from, to)) if from <= q.submitted + WARN_AT && stopped <= to);
    match (warnings, could_warn, said_unwarned) {
        (0, true, _) => v
            .discrepancies
            .push(format!("{}: stopped without a warning first", q.id)),
        (0, false, false) => v.discrepancies.push(format!(
            "{}: no warning could get through the outage, and its stop alert does not say so",
            q.id
        )),
        (1.., _, true) => v.discrepancies.push(format!(
            "{}: warned, yet its stop alert says it was not",
            q.id
        )),
        _ => {}
    }
    let due = match o.outage {
        Some((from, to)) if from <= stopped && stopped < to => to,
        _ => stopped,
    } + ALERT_DELAY;
    let reports = o.stop_alerts.get(&q.id).map(Vec::as_slice).unwrap_or(&[]);
    match reports {
        [] if due <= o.end => v
            .discrepancies
            .push(format!("{}: stopped and never reported", q.id)),
        [] => {}
        [at] if *at > due => v.discrepancies.push(format!(
            "{}: reported stopped {} after the stop",
            q.id,
            *at - stopped
        )),
        [_] => {}
        many => v
            .discrepancies
            .push(format!("{}: reported stopped {} times", q.id, many.len())),
    }
}
