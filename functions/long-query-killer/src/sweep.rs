//! One run of the killer, in pipeline order: what is in flight (the index's unsettled queries,
//! their live state from Athena), the policy's decision per query ([`decide`]), the actions —
//! warn, stop, or say it would have — and last the stop alerts earlier runs kept
//! ([`deliver_kept`]): after the stops, so an alert that cannot be published never holds one up.

use std::collections::{BTreeMap, HashMap};

use futures_util::stream::{self, StreamExt};

use chrono::{DateTime, Duration, Utc};
use lakeops::alert::AlertSink;
use lakeops::athena::{QueryControl, QueryExecution, QueryState};
use lakeops::attribution::Caller;
use lakeops::ledger::Ledger;
use lakeops::outbox::AlertOutbox;
use lakeops::query_index::{InFlight, IndexStore};
use lakeops::{LakeopsError, Metrics, Unit};

use crate::alerts::{stop_alert, warning_alert};
use crate::policy::{decide, KillDecision, Limit};
use crate::stop::{deliver_kept, once, stop_and_report, StopFailure};
use crate::{KillerConfig, Mode, RunSummary, FUNCTION};

/// What one run works with: the function's ports and settings (the Athena API, DynamoDB and
/// SNS when deployed; memory adapters in the simulated day).
pub struct Sweep<'a, H, I, O, A, L> {
    pub history: &'a H,
    pub index: &'a I,
    pub alerts: &'a A,
    pub ledger: &'a L,
    pub outbox: &'a O,
    pub config: &'a KillerConfig,
}

/// The queries in flight, as this run sees them.
struct InFlightNow {
    workgroups: Vec<String>,
    /// The index's view (when each query entered its state).
    indexed: Vec<InFlight>,
    /// QUEUED and RUNNING queries by workgroup, as Athena reports them now.
    by_workgroup: BTreeMap<String, Vec<QueryExecution>>,
    batch_get_calls: u32,
    unprocessed: usize,
}

/// A query to stop, with what its alert says.
struct Runaway<'q> {
    q: &'q QueryExecution,
    caller: Option<&'q Caller>,
    age: Duration,
    limit: Limit,
}

/// Stops under way at once. Each waits for Athena to confirm it (up to four reads over 1.4 s:
/// Athena cancels asynchronously), so one at a time, 50 runaways would take over a minute of
/// the function's 120 s; five keep that to seconds and well under Athena's API rate.
const STOPS_AT_ONCE: usize = 5;

/// Warned and stopped per workgroup (its metrics).
#[derive(Default)]
struct Tally {
    warned: u32,
    stopped: u32,
}

impl<H, I, O, A, L> Sweep<'_, H, I, O, A, L>
where
    H: QueryControl,
    I: IndexStore,
    O: AlertOutbox,
    A: AlertSink,
    L: Ledger,
    LakeopsError: From<H::Error> + From<I::Error>,
{
    /// One pass over the in-flight queries of the watched workgroups.
    pub async fn run(
        &self,
        mode: Mode,
        now: DateTime<Utc>,
        metrics: &mut Metrics,
    ) -> Result<RunSummary, LakeopsError> {
        let seen = self.in_flight_now().await?;
        let mut summary = RunSummary {
            mode: Some(mode),
            workgroups: seen.workgroups.clone(),
            batch_get_calls: seen.batch_get_calls,
            unprocessed_ids: seen.unprocessed,
            ..Default::default()
        };
        let callers = self.callers(&seen, now).await;
        let mut tallies: BTreeMap<&str, Tally> = BTreeMap::new();
        let mut stops = Vec::new();
        for (wg, active) in &seen.by_workgroup {
            let tally = tallies.entry(wg.as_str()).or_default();
            for q in active {
                summary.active_queries += 1;
                let decision = decide(
                    q,
                    queued_since(q, &seen.indexed, now),
                    now,
                    &self.config.policy,
                );
                let caller = callers.get(&q.id);
                match (decision, mode) {
                    (KillDecision::Stop { age, limit }, Mode::Enforce) => {
                        stops.push(Runaway {
                            q,
                            caller,
                            age,
                            limit,
                        });
                    }
                    (decision, _) => {
                        self.act(q, decision, caller, mode, now, &mut summary, tally)
                            .await;
                    }
                }
            }
        }
        self.stop_all(stops, now, &mut summary, &mut tallies).await;
        for (wg, active) in &seen.by_workgroup {
            let tally = tallies.remove(wg.as_str()).unwrap_or_default();
            record_workgroup(metrics, wg, active, &tally, now);
        }
        // A stop alert SNS just refused says SNS is failing now: the kept ones wait for the next
        // run rather than spend this one's time on the same outage.
        if !summary.unpublished {
            let kept = deliver_kept(self.history, self.alerts, self.outbox).await;
            metrics.record(&[], "StopAlertsKept", kept.still_kept as f64, Unit::Count);
            summary.delivered_late = kept.delivered;
            summary.stop_alerts_kept = kept.still_kept;
            summary.failures.extend(kept.failure);
        }
        Ok(summary)
    }

    /// Stops the runaways, [`STOPS_AT_ONCE`] at a time, and notes each outcome (in their order).
    async fn stop_all<'q>(
        &self,
        stops: Vec<Runaway<'q>>,
        now: DateTime<Utc>,
        summary: &mut RunSummary,
        tallies: &mut BTreeMap<&'q str, Tally>,
    ) {
        let (history, alerts, outbox, ledger, config) = (
            self.history,
            self.alerts,
            self.outbox,
            self.ledger,
            self.config,
        );
        let outcomes: Vec<(&'q QueryExecution, Result<(), StopFailure>)> = stream::iter(stops)
            .map(|r| async move {
                // Unknown (the read failed) counts as warned: the alert claims nothing untrue.
                let warned = ledger
                    .is_claimed(&format!("{FUNCTION}/warn/{}", r.q.id))
                    .await
                    .unwrap_or(true);
                let result = stop_and_report(
                    history, alerts, outbox, r.q, r.caller, r.age, &r.limit, warned, config, now,
                )
                .await;
                (r.q, result)
            })
            .buffered(STOPS_AT_ONCE)
            .collect()
            .await;
        for (q, result) in outcomes {
            let tally = tallies.entry(q.workgroup.as_str()).or_default();
            match result {
                Ok(()) => {
                    tally.stopped += 1;
                    summary.stopped.push(q.id.clone());
                }
                Err(e) => {
                    if let StopFailure::Unpublished(_) = e {
                        tally.stopped += 1;
                        summary.unpublished = true;
                    }
                    summary.failures.push(e.to_string());
                }
            }
        }
    }

    async fn in_flight_now(&self) -> Result<InFlightNow, LakeopsError> {
        let config = self.config;
        // Disabled workgroups too: disabling a workgroup stops new queries, not the ones running
        // in it, and those still need stopping. (One ListWorkGroups call, for the metrics.)
        let workgroups = if config.workgroups.is_empty() {
            self.history.workgroups(false).await?
        } else {
            config.workgroups.clone()
        };
        let indexed: Vec<InFlight> = self
            .index
            .in_flight()
            .await?
            .into_iter()
            .filter(|q| config.workgroups.is_empty() || config.workgroups.contains(&q.workgroup))
            .collect();
        let ids: Vec<String> = indexed.iter().map(|q| q.query_id.clone()).collect();
        let (live, batch_get_calls) = self.history.batch_get(&ids).await?;
        if !live.unprocessed.is_empty() {
            tracing::warn!(ids = ?live.unprocessed, "query ids Athena would not describe; next run retries them");
        }
        let mut by_workgroup: BTreeMap<String, Vec<QueryExecution>> = workgroups
            .iter()
            .map(|wg| (wg.clone(), Vec::new()))
            .collect();
        for q in live.executions {
            if matches!(q.state, QueryState::Queued | QueryState::Running) {
                by_workgroup.entry(q.workgroup.clone()).or_default().push(q);
            }
        }
        Ok(InFlightNow {
            workgroups,
            indexed,
            by_workgroup,
            batch_get_calls,
            unprocessed: live.unprocessed.len(),
        })
    }

    /// Who ran the queries this run alerts on (their CloudTrail records, in the index): read only
    /// for those, and never in the way of a stop — unknown if the read fails.
    async fn callers(&self, seen: &InFlightNow, now: DateTime<Utc>) -> HashMap<String, Caller> {
        let alerting: Vec<String> = seen
            .by_workgroup
            .values()
            .flatten()
            .filter(|q| {
                let since = queued_since(q, &seen.indexed, now);
                matches!(
                    decide(q, since, now, &self.config.policy),
                    KillDecision::Warn { .. } | KillDecision::Stop { .. }
                )
            })
            .map(|q| q.id.clone())
            .collect();
        self.index.callers(&alerting).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "who ran the queries could not be read; alerts say unknown");
            Default::default()
        })
    }

    /// Carries out one decision; what failed goes to `summary.failures`.
    #[allow(clippy::too_many_arguments)]
    async fn act(
        &self,
        q: &QueryExecution,
        decision: KillDecision,
        caller: Option<&Caller>,
        mode: Mode,
        now: DateTime<Utc>,
        summary: &mut RunSummary,
        tally: &mut Tally,
    ) {
        let config = self.config;
        match (decision, mode) {
            (KillDecision::Ignore | KillDecision::WithinLimit { .. }, _) => {}
            (KillDecision::Exempt(why), _) => {
                tracing::debug!(query = %q.id, why, "exempt");
                summary.exempt.push(q.id.clone());
            }
            (
                KillDecision::Warn {
                    age,
                    limit,
                    stop_at,
                },
                _,
            ) => {
                let alert = warning_alert(q, caller, age, &limit, stop_at, mode, config, now);
                let key = format!("{FUNCTION}/warn/{}", q.id);
                match once(self.ledger, self.alerts, &key, &alert, now).await {
                    Ok(true) => {
                        tally.warned += 1;
                        summary.warned.push(q.id.clone());
                    }
                    Ok(false) => {}
                    Err(e) => summary.failures.push(format!("warning for {}: {e}", q.id)),
                }
            }
            (KillDecision::Stop { age, limit }, Mode::DryRun) => {
                let alert = stop_alert(q, q, caller, age, &limit, mode, config, now);
                let key = format!("{FUNCTION}/would-stop/{}", q.id);
                match once(self.ledger, self.alerts, &key, &alert, now).await {
                    Ok(true) => summary.would_stop.push(q.id.clone()),
                    Ok(false) => {}
                    Err(e) => summary
                        .failures
                        .push(format!("dry-run alert for {}: {e}", q.id)),
                }
            }
            // Collected by `run` and stopped together ([`Self::stop_all`]).
            (KillDecision::Stop { .. }, Mode::Enforce) => {}
        }
    }
}

fn record_workgroup(
    metrics: &mut Metrics,
    wg: &str,
    active: &[QueryExecution],
    tally: &Tally,
    now: DateTime<Utc>,
) {
    let oldest = active
        .iter()
        .filter_map(|q| q.age(now))
        .max()
        .unwrap_or_else(Duration::zero);
    let dims = [("WorkGroup", wg)];
    metrics.record(&dims, "RunningQueries", active.len() as f64, Unit::Count);
    metrics.record(&dims, "QueriesWarned", tally.warned as f64, Unit::Count);
    metrics.record(&dims, "QueriesStopped", tally.stopped as f64, Unit::Count);
    metrics.record(
        &dims,
        "OldestRunningQueryMinutes",
        oldest.num_seconds() as f64 / 60.0,
        Unit::None,
    );
}

/// When a QUEUED query entered the queue: the index's last state change when the index agrees it
/// is queued; when the index still says RUNNING (the requeue's event is on its way, or was
/// dropped), it went back to the queue after that change, so the queue time starts no earlier
/// than `now` as far as this run can tell — never the time it spent running. (Reconciliation
/// corrects the index's state within `RECONCILE_STALE_MINUTES`.)
fn queued_since(
    q: &QueryExecution,
    indexed: &[InFlight],
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if q.state != QueryState::Queued {
        return None;
    }
    let known = indexed.iter().find(|i| i.query_id == q.id)?;
    Some(if known.state == QueryState::Queued {
        known.since
    } else {
        now
    })
}
