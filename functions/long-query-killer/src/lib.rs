//! long-query-killer: warns about, then stops, Athena queries that run (or queue) too long.
//!
//! Each scheduled run takes the QUEUED and RUNNING queries from the query index (the sparse
//! in-flight index the cost watcher keeps from Athena's state-change events and its
//! reconciliation: see [`lakeops::query_index`]), reads their live state with
//! `BatchGetQueryExecution` (50 ids a call; never `ListQueryExecutions`), decides per query with
//! [`policy::decide`],
//! sends one warning per query as it nears its limit, and at the limit stops it
//! (`StopQueryExecution`, then re-reads it to confirm it left RUNNING) — or, in dry-run, says it
//! would have. "Once per query" is exact across runs and retries through the shared ledger
//! (DynamoDB conditional writes); a stopped query is CANCELLED, so a retry finds nothing to stop.

pub mod policy;

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use lakeops::alert::{Alert, AlertSink, Severity};
use lakeops::athena::{AthenaHistory, QueryExecution, QueryState};
use lakeops::attribution::Caller;
use lakeops::config::AthenaWatchSettings;
use lakeops::ledger::{DynamoLedger, Ledger};
use lakeops::outbox::Outbox;
use lakeops::pricing::{format_usd, human_bytes};
use lakeops::query_index::{InFlight, QueryIndex};
use lakeops::schedule::ScheduledRun;
use lakeops::wiring::AthenaWatchClients;
use lakeops::{
    console, sql, CommonConfig, ConfigReader, LakeopsError, Metrics, SnsAlertPublisher, Unit,
};
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::{json, Value};

use crate::policy::{decide, KillDecision, Limit, Policy};

pub const FUNCTION: &str = "long-query-killer";
/// Ledger entries outlive any query (Athena's longest timeout is 10 hours).
const LEDGER_KEEP: i64 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Enforce,
    DryRun,
}

impl Mode {
    /// The `KILLER_MODE` spelling, also the alerts' `mode` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::DryRun => "dry-run",
        }
    }
}

#[derive(Debug, Clone)]
pub struct KillerConfig {
    pub common: CommonConfig,
    /// `KILLER_MODE`: `enforce` or `dry-run` (default `dry-run`: stopping is opted into).
    pub mode: Mode,
    pub policy: Policy,
    /// `WORKGROUPS`: watched workgroups; empty = every workgroup.
    pub workgroups: Vec<String>,
    /// Athena pace, price, alert ledger and query index.
    pub athena: AthenaWatchSettings,
}

impl KillerConfig {
    pub fn read(r: &mut ConfigReader) -> Self {
        let common = CommonConfig::read(r);
        let mode = match r
            .string_or("KILLER_MODE", "dry-run")
            .to_ascii_lowercase()
            .as_str()
        {
            "enforce" => Mode::Enforce,
            "dry-run" | "dryrun" | "dry_run" => Mode::DryRun,
            other => {
                r.problem(
                    "KILLER_MODE",
                    format!("{other:?} is not a mode (use enforce or dry-run)"),
                );
                Mode::DryRun
            }
        };
        let policy = Policy::read(r);
        Self {
            common,
            mode,
            policy,
            workgroups: r.list("WORKGROUPS"),
            athena: AthenaWatchSettings::read(r),
        }
    }
}

pub struct Deps {
    pub config: KillerConfig,
    pub history: AthenaHistory,
    pub alerts: SnsAlertPublisher,
    pub ledger: DynamoLedger,
    pub index: QueryIndex,
    /// `QueryStopped` alerts are kept here before the stop (see [`lakeops::outbox`]).
    pub outbox: Outbox,
}

impl Deps {
    pub async fn from_env() -> Result<Self, LakeopsError> {
        let mut r = ConfigReader::from_env();
        let config = KillerConfig::read(&mut r);
        r.finish()?;
        let clients = AthenaWatchClients::connect(&config.common, &config.athena).await;
        Ok(Self {
            outbox: Outbox::new(clients.dynamodb, &config.athena.ledger_table, FUNCTION),
            history: clients.history,
            alerts: clients.alerts,
            ledger: clients.ledger,
            index: clients.index,
            config,
        })
    }
}

/// What one run did, returned as the invocation's result and logged.
#[derive(Debug, Default, Serialize)]
pub struct RunSummary {
    pub mode: Option<Mode>,
    pub workgroups: Vec<String>,
    pub active_queries: usize,
    pub warned: Vec<String>,
    pub stopped: Vec<String>,
    pub would_stop: Vec<String>,
    pub exempt: Vec<String>,
    pub failures: Vec<String>,
    pub unprocessed_ids: usize,
    /// `QueryStopped` alerts an earlier run could not publish, delivered by this one.
    pub delivered_late: Vec<String>,
    /// Athena calls of this run (never `ListQueryExecutions`).
    pub batch_get_calls: u32,
    /// DynamoDB calls to the query index.
    pub index_calls: lakeops::query_index::IndexCalls,
}

pub async fn handle(event: LambdaEvent<Value>, deps: &Deps) -> Result<Value, LakeopsError> {
    let run = ScheduledRun::from_event(&event.payload, Utc::now())?;
    let mode = if run.bool_override("dry_run")? == Some(true) {
        Mode::DryRun
    } else {
        deps.config.mode
    };
    let mut metrics = Metrics::new(&deps.config.common.metrics_namespace);
    let result = sweep(
        &deps.history,
        &deps.index,
        &deps.alerts,
        &deps.ledger,
        &deps.outbox,
        &deps.config,
        mode,
        Utc::now(),
        &mut metrics,
    )
    .await;
    metrics.flush();
    let mut summary = result?;
    summary.index_calls = deps.index.calls();
    tracing::info!(summary = %json!(summary), "run finished");
    if !summary.failures.is_empty() {
        // Everything else was done; failing the invocation makes Lambda retry, and the ledger
        // keeps the retry from repeating what already happened.
        return Err(LakeopsError::Undelivered(summary.failures.join("; ")));
    }
    Ok(json!(summary))
}

/// One pass over the in-flight queries of the watched workgroups.
#[allow(clippy::too_many_arguments)]
pub async fn sweep<A: AlertSink, L: Ledger>(
    history: &AthenaHistory,
    index: &QueryIndex,
    alerts: &A,
    ledger: &L,
    outbox: &Outbox,
    config: &KillerConfig,
    mode: Mode,
    now: DateTime<Utc>,
    metrics: &mut Metrics,
) -> Result<RunSummary, LakeopsError> {
    // First what an earlier run stopped but could not report.
    let delivered_late = deliver_pending(history, alerts, outbox).await?;
    // Disabled workgroups too: disabling a workgroup stops new queries, not the ones running in
    // it, and those still need stopping. (One ListWorkGroups call, for the per-workgroup metrics.)
    let workgroups = if config.workgroups.is_empty() {
        history.workgroups(false).await?
    } else {
        config.workgroups.clone()
    };
    let indexed: Vec<InFlight> = index
        .in_flight()
        .await?
        .into_iter()
        .filter(|q| config.workgroups.is_empty() || config.workgroups.contains(&q.workgroup))
        .collect();
    let ids: Vec<String> = indexed.iter().map(|q| q.query_id.clone()).collect();
    let (live, batch_get_calls) = history.batch_get(&ids).await?;
    let mut summary = RunSummary {
        mode: Some(mode),
        workgroups: workgroups.clone(),
        delivered_late,
        batch_get_calls,
        ..Default::default()
    };
    if !live.unprocessed.is_empty() {
        tracing::warn!(ids = ?live.unprocessed, "query ids Athena would not describe; next run retries them");
        summary.unprocessed_ids += live.unprocessed.len();
    }
    let mut by_workgroup: std::collections::BTreeMap<&str, Vec<&QueryExecution>> = workgroups
        .iter()
        .map(|wg| (wg.as_str(), Vec::new()))
        .collect();
    for q in live
        .executions
        .iter()
        .filter(|q| matches!(q.state, QueryState::Queued | QueryState::Running))
    {
        by_workgroup
            .entry(q.workgroup.as_str())
            .or_default()
            .push(q);
    }
    // Who ran the queries this run alerts on (their CloudTrail records, in the index): read only
    // for those, and never in the way of a stop — unknown if the read fails.
    let alerting: Vec<String> = by_workgroup
        .values()
        .flatten()
        .filter(|q| {
            matches!(
                decide(q, queued_since(q, &indexed, now), now, &config.policy),
                KillDecision::Warn { .. } | KillDecision::Stop { .. }
            )
        })
        .map(|q| q.id.clone())
        .collect();
    let callers = index.callers(&alerting).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "who ran the queries could not be read; alerts say unknown");
        Default::default()
    });
    for (wg, active) in by_workgroup {
        let oldest = active
            .iter()
            .filter_map(|q| q.age(now))
            .max()
            .unwrap_or_else(Duration::zero);
        let (mut warned, mut stopped) = (0, 0);
        for q in &active {
            summary.active_queries += 1;
            match decide(q, queued_since(q, &indexed, now), now, &config.policy) {
                KillDecision::Ignore | KillDecision::WithinLimit { .. } => {}
                KillDecision::Exempt(why) => {
                    tracing::debug!(query = %q.id, why, "exempt");
                    summary.exempt.push(q.id.clone());
                }
                KillDecision::Warn {
                    age,
                    limit,
                    stop_at,
                } => {
                    let caller = callers.get(&q.id);
                    let alert = warning_alert(q, caller, age, &limit, stop_at, mode, config, now);
                    match once(
                        ledger,
                        alerts,
                        &format!("{FUNCTION}/warn/{}", q.id),
                        &alert,
                        now,
                    )
                    .await
                    {
                        Ok(true) => {
                            warned += 1;
                            summary.warned.push(q.id.clone());
                        }
                        Ok(false) => {}
                        Err(e) => summary.failures.push(format!("warning for {}: {e}", q.id)),
                    }
                }
                KillDecision::Stop { age, limit } => match mode {
                    Mode::DryRun => {
                        let caller = callers.get(&q.id);
                        let alert = stop_alert(q, q, caller, age, &limit, mode, config, now);
                        match once(
                            ledger,
                            alerts,
                            &format!("{FUNCTION}/would-stop/{}", q.id),
                            &alert,
                            now,
                        )
                        .await
                        {
                            Ok(true) => summary.would_stop.push(q.id.clone()),
                            Ok(false) => {}
                            Err(e) => summary
                                .failures
                                .push(format!("dry-run alert for {}: {e}", q.id)),
                        }
                    }
                    Mode::Enforce => {
                        let caller = callers.get(&q.id);
                        match stop_and_report(
                            history, alerts, outbox, q, caller, age, &limit, config, now,
                        )
                        .await
                        {
                            Ok(()) => {
                                stopped += 1;
                                summary.stopped.push(q.id.clone());
                            }
                            Err(e) => summary.failures.push(e),
                        }
                    }
                },
            }
        }
        let dims = [("WorkGroup", wg)];
        metrics.record(&dims, "RunningQueries", active.len() as f64, Unit::Count);
        metrics.record(&dims, "QueriesWarned", warned as f64, Unit::Count);
        metrics.record(&dims, "QueriesStopped", stopped as f64, Unit::Count);
        metrics.record(
            &dims,
            "OldestRunningQueryMinutes",
            oldest.num_seconds() as f64 / 60.0,
            Unit::None,
        );
    }
    Ok(summary)
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

/// Stops a runaway and says so, the alert kept in the outbox first: the stop changes what the
/// next run sees (the query is CANCELLED, no longer a runaway), so an alert not published now
/// would never be rebuilt. Recorded → stopped → published → removed; a failure after the stop
/// leaves the alert recorded for the next run ([`deliver_pending`]). `Err` says what failed
/// (`Ok` also when only the publish failed: the query was stopped and its alert is kept).
#[allow(clippy::too_many_arguments)]
async fn stop_and_report<A: AlertSink>(
    history: &AthenaHistory,
    alerts: &A,
    outbox: &Outbox,
    q: &QueryExecution,
    caller: Option<&Caller>,
    age: Duration,
    limit: &Limit,
    config: &KillerConfig,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let expected = QueryExecution {
        state: QueryState::Cancelled,
        ..q.clone()
    };
    let intended = stop_alert(q, &expected, caller, age, limit, Mode::Enforce, config, now);
    // Not recorded, not stopped: the next run tries both again.
    outbox
        .keep_pending(&intended, now)
        .await
        .map_err(|e| format!("not stopping {}: its alert could not be kept ({e})", q.id))?;
    let after = stop_query(history.client(), &q.id).await.map_err(|e| {
        tracing::error!(query = %q.id, error = %e, "stop failed");
        format!("stopping {}: {e}", q.id)
    })?;
    let alert = stop_alert(q, &after, caller, age, limit, Mode::Enforce, config, now);
    match alerts.publish(&alert).await {
        Ok(_) => {
            if let Err(e) = outbox.forget_delivered(&alert.id).await {
                // Published; the next run publishes it again (same id, dropped by subscribers).
                tracing::error!(alert_id = %alert.id, error = %e, "stop alert sent but still in the outbox");
            }
        }
        Err(e) => {
            tracing::error!(alert_id = %alert.id, error = %e, "stop alert kept in the outbox for the next run");
            // The stop happened; the run still fails so the alert is retried soon.
            return Err(format!(
                "stop alert for {} (kept for the next run): {e}",
                q.id
            ));
        }
    }
    Ok(())
}

/// Publishes the `QueryStopped` alerts an earlier run kept but could not publish, each with the
/// query's state now. One whose query still runs is left (that run's stop did not happen; this
/// run's sweep stops it and reports). Returns the alert ids delivered.
async fn deliver_pending<A: AlertSink>(
    history: &AthenaHistory,
    alerts: &A,
    outbox: &Outbox,
) -> Result<Vec<String>, LakeopsError> {
    let mut delivered = Vec::new();
    for mut alert in outbox.pending_alerts().await? {
        let query_id = alert
            .id
            .strip_prefix(&format!("{FUNCTION}/stopped/"))
            .unwrap_or_default()
            .to_string();
        if !query_id.is_empty() {
            let now_state = history
                .client()
                .get_query_execution()
                .query_execution_id(&query_id)
                .send()
                .await
                .ok()
                .and_then(|out| out.query_execution().map(QueryExecution::from))
                .map(|q| q.state);
            if matches!(now_state, Some(QueryState::Queued | QueryState::Running)) {
                continue;
            }
            if let Some(state) = now_state {
                for (label, value) in &mut alert.fields {
                    if label == "State now" {
                        *value = state.as_str().to_string();
                    }
                }
            }
        }
        alerts.publish(&alert).await?;
        tracing::info!(alert_id = %alert.id, "kept stop alert delivered");
        outbox.forget_delivered(&alert.id).await?;
        delivered.push(alert.id);
    }
    Ok(delivered)
}

async fn once<A: AlertSink, L: Ledger>(
    ledger: &L,
    alerts: &A,
    key: &str,
    alert: &Alert,
    now: DateTime<Utc>,
) -> Result<bool, LakeopsError> {
    lakeops::ledger::send_once(ledger, alerts, key, alert, now, Duration::days(LEDGER_KEEP)).await
}

/// Attempts to confirm a stop (re-reads after 0.2 s, 0.4 s, 0.8 s, 1.6 s).
const CONFIRM_ATTEMPTS: u32 = 4;

/// Stops a query, then re-reads it until it has left QUEUED/RUNNING (or the attempts run out);
/// returns the query as last read. Stopping a query that already ended is harmless.
pub async fn stop_query(
    client: &aws_sdk_athena::Client,
    id: &str,
) -> Result<QueryExecution, LakeopsError> {
    client
        .stop_query_execution()
        .query_execution_id(id)
        .send()
        .await
        .map_err(|e| LakeopsError::aws("athena:StopQueryExecution", e))?;
    let mut last = None;
    for attempt in 0..CONFIRM_ATTEMPTS {
        let out = client
            .get_query_execution()
            .query_execution_id(id)
            .send()
            .await
            .map_err(|e| LakeopsError::aws("athena:GetQueryExecution", e))?;
        let q = out.query_execution().map(QueryExecution::from);
        if let Some(q) = &q {
            if !matches!(q.state, QueryState::Queued | QueryState::Running) {
                return Ok(q.clone());
            }
        }
        last = q;
        tokio::time::sleep(StdDuration::from_millis(200 << attempt)).await;
    }
    last.ok_or_else(|| {
        LakeopsError::aws(
            "athena:GetQueryExecution",
            std::io::Error::other("no query in the answer"),
        )
    })
}

fn minutes(d: Duration) -> String {
    let m = d.num_minutes();
    if m >= 120 {
        format!("{}h {:02}m", m / 60, m % 60)
    } else {
        format!("{m} min")
    }
}

fn hhmm(t: DateTime<Utc>) -> String {
    t.format("%H:%M UTC").to_string()
}

fn common_fields(
    alert: Alert,
    q: &QueryExecution,
    caller: Option<&Caller>,
    config: &KillerConfig,
) -> Alert {
    let region = &config.common.region;
    alert
        .field("Query", &q.id)
        .field("Workgroup", &q.workgroup)
        .run_by(caller)
        .field("Database", q.database.as_deref().unwrap_or("-"))
        .field(
            "Submitted",
            q.submitted_at
                .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
                .unwrap_or_default(),
        )
        .field("SQL", sql::excerpt(&q.sql, 1000))
        .attribute("workgroup", &q.workgroup)
        .link(
            "Query in the Athena console",
            console::athena_query(region, &q.id),
        )
        .link("Workgroup", console::athena_workgroup(region, &q.workgroup))
        .detail("query_execution_id", &q.id)
        .detail("workgroup", &q.workgroup)
        .detail("submitted_at", q.submitted_at)
}

#[allow(clippy::too_many_arguments)]
fn warning_alert(
    q: &QueryExecution,
    caller: Option<&Caller>,
    age: Duration,
    limit: &Limit,
    stop_at: DateTime<Utc>,
    mode: Mode,
    config: &KillerConfig,
    now: DateTime<Utc>,
) -> Alert {
    let verb = if mode == Mode::Enforce {
        "will be stopped"
    } else {
        "would be stopped (dry-run)"
    };
    let title = format!(
        "Athena query {} for {} in {}: {verb} at {}",
        q.state.as_str().to_lowercase(),
        minutes(age),
        q.workgroup,
        hhmm(stop_at)
    );
    let summary = format!(
        "Query {} has been {} for {} and {verb} at {} unless it finishes first. To let it run, add the comment `-- {}` (or `-- {}=<minutes>`) to its SQL next time, or ask for the workgroup to be exempted.",
        q.id,
        q.state.as_str(),
        minutes(age),
        hhmm(stop_at),
        policy::MARKER,
        policy::MARKER
    );
    let scanned = q.data_scanned_bytes.unwrap_or(0);
    common_fields(
        Alert::new(
            "LongQueryWarning",
            Severity::Warning,
            FUNCTION,
            format!("{FUNCTION}/warn/{}", q.id),
            now,
            title,
            summary,
        )
        .field("Running for", minutes(age))
        .field(
            "Limit",
            format!("{} — {}", minutes(limit.duration), limit.kind.describe()),
        )
        .field(
            "Stop at",
            stop_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        )
        .field("Scanned so far", human_bytes(scanned))
        .field(
            "Cost so far",
            format_usd(config.athena.price.cost_so_far(q).usd()),
        ),
        q,
        caller,
        config,
    )
    .attribute("mode", mode.as_str())
    .detail("age_seconds", age.num_seconds())
    .detail("limit_seconds", limit.duration.num_seconds())
    .detail("stop_at", stop_at)
    .detail("data_scanned_bytes", scanned)
    .next_step(
        "If the query is expected to run this long, mark it with the lakeops:allow-long comment.",
    )
}

#[allow(clippy::too_many_arguments)]
fn stop_alert(
    before: &QueryExecution,
    after: &QueryExecution,
    caller: Option<&Caller>,
    age: Duration,
    limit: &Limit,
    mode: Mode,
    config: &KillerConfig,
    now: DateTime<Utc>,
) -> Alert {
    let (kind, severity, verb, id) = match mode {
        Mode::Enforce => (
            "QueryStopped",
            Severity::Critical,
            "Stopped",
            format!("{FUNCTION}/stopped/{}", before.id),
        ),
        Mode::DryRun => (
            "QueryWouldBeStopped",
            Severity::Warning,
            "Would have stopped",
            format!("{FUNCTION}/would-stop/{}", before.id),
        ),
    };
    let scanned = after
        .data_scanned_bytes
        .or(before.data_scanned_bytes)
        .unwrap_or(0);
    let cost = config.athena.price.cost_so_far(after).usd();
    let title = format!(
        "{verb} Athena query after {} in {}",
        minutes(age),
        before.workgroup
    );
    let summary = format!(
        "{verb} query {} ({}): it reached {} after {}, having scanned {} ({}).{}",
        before.id,
        before.state.as_str(),
        limit.kind.describe(),
        minutes(age),
        human_bytes(scanned),
        format_usd(cost),
        if mode == Mode::DryRun {
            " Dry-run: nothing was stopped (KILLER_MODE=dry-run or the event asked for dry_run)."
        } else {
            ""
        }
    );
    let mut alert = common_fields(
        Alert::new(kind, severity, FUNCTION, id, now, title, summary)
            .field("Ran for", minutes(age))
            .field(
                "Limit",
                format!("{} — {}", minutes(limit.duration), limit.kind.describe()),
            )
            .field("Scanned", human_bytes(scanned))
            .field("Cost so far", format_usd(cost)),
        before,
        caller,
        config,
    )
    .attribute("mode", mode.as_str())
    .detail("age_seconds", age.num_seconds())
    .detail("limit_seconds", limit.duration.num_seconds())
    .detail("data_scanned_bytes", scanned)
    .detail("cost_usd", cost);
    if mode == Mode::Enforce {
        let confirmed = !matches!(after.state, QueryState::Queued | QueryState::Running);
        alert = alert
            .field("State now", after.state.as_str())
            .detail("state_after_stop", after.state)
            .detail("stop_confirmed", confirmed);
        if !confirmed {
            alert = alert.next_step("Athena accepted the stop but the query still ran at the last check: look at it in the console.");
        }
    }
    alert.next_step("Rerun with a partition filter or a LIMIT, or mark a known long job with the lakeops:allow-long comment.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_athena::operation::get_query_execution::GetQueryExecutionOutput;
    use aws_sdk_athena::operation::stop_query_execution::{
        StopQueryExecutionError, StopQueryExecutionOutput,
    };
    use aws_sdk_athena::types::{
        QueryExecution as SdkQuery, QueryExecutionState, QueryExecutionStatus,
    };
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    fn sdk_query(state: QueryExecutionState) -> SdkQuery {
        SdkQuery::builder()
            .query_execution_id("q-1")
            .status(QueryExecutionStatus::builder().state(state).build())
            .build()
    }

    #[tokio::test]
    async fn a_stop_is_confirmed_by_re_reading_the_query() {
        let stop = mock!(aws_sdk_athena::Client::stop_query_execution)
            .then_output(|| StopQueryExecutionOutput::builder().build());
        let read = mock!(aws_sdk_athena::Client::get_query_execution)
            .sequence()
            .output(|| {
                GetQueryExecutionOutput::builder()
                    .query_execution(sdk_query(QueryExecutionState::Running))
                    .build()
            })
            .output(|| {
                GetQueryExecutionOutput::builder()
                    .query_execution(sdk_query(QueryExecutionState::Cancelled))
                    .build()
            })
            .build();
        let client = mock_client!(aws_sdk_athena, RuleMode::MatchAny, &[&stop, &read]);
        let after = stop_query(&client, "q-1").await.unwrap();
        assert_eq!(after.state, QueryState::Cancelled);
        assert_eq!(read.num_calls(), 2);
    }

    #[tokio::test]
    async fn a_stop_that_fails_is_an_error_and_nothing_is_reported_stopped() {
        let stop = mock!(aws_sdk_athena::Client::stop_query_execution)
            .then_error(|| StopQueryExecutionError::unhandled("AccessDenied"));
        let client = mock_client!(aws_sdk_athena, RuleMode::MatchAny, &[&stop]);
        let err = stop_query(&client, "q-1").await.unwrap_err();
        assert_eq!(err.error_type(), "Retryable.AwsCall");
        assert!(
            err.to_string().contains("athena:StopQueryExecution"),
            "{err}"
        );
    }

    #[test]
    fn the_mode_and_the_tables_are_validated() {
        let mut r = ConfigReader::from_map([
            ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:1:t"),
            ("KILLER_MODE", "yolo"),
            ("LIMIT_MINUTES", "90"),
        ]);
        let c = KillerConfig::read(&mut r);
        assert_eq!(c.mode, Mode::DryRun);
        let err = r.finish().unwrap_err();
        let vars: Vec<_> = err.problems.iter().map(|p| p.variable.as_str()).collect();
        assert_eq!(vars, ["KILLER_MODE", "LEDGER_TABLE", "QUERY_INDEX_TABLE"]);
    }
}
