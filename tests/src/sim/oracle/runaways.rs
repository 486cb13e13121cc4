//! The oracle's rules for the long-query killer, from the planned day alone (what each query
//! would have done unstopped) and the account's limit — never the killer's own decision:
//!
//! - every DML query still running at its limit ([`LIMIT`] after submission) is stopped, no
//!   sooner than its limit and no later than two killer periods after it;
//! - no other query is stopped;
//! - every stopped query is reported stopped exactly once, within [`ALERT_DELAY`] of its stop
//!   (or of the end of an alert-topic outage it was stopped in);
//! - every stopped query was warned exactly once first (no query is warned twice).

use chrono::{DateTime, Utc};
use lakeops::athena::StatementType;

use super::{Observed, Verdict, ALERT_DELAY};
use crate::sim::killer::{KILLER_PERIOD, LIMIT};
use crate::sim::traffic::PlannedQuery;

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
    if warnings == 0 {
        v.discrepancies
            .push(format!("{}: stopped without a warning first", q.id));
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
