//! Stopping a runaway and saying so: the stop alert is kept in the outbox before the stop and
//! removed once published ([`lakeops::outbox`]); kept alerts an earlier run could not publish are
//! delivered after this run's stops, best effort, so an SNS outage never holds up a stop.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use lakeops::alert::{Alert, AlertSink};
use lakeops::athena::{AthenaHistory, QueryExecution, QueryState};
use lakeops::attribution::Caller;
use lakeops::ledger::Ledger;
use lakeops::outbox::{AlertOutbox, KeptDelivery, Outbox};
use lakeops::LakeopsError;

use crate::alerts::stop_alert;
use crate::policy::Limit;
use crate::{KillerConfig, Mode, FUNCTION};

/// Ledger entries outlive any query (Athena's longest timeout is 10 hours).
const LEDGER_KEEP_DAYS: i64 = 2;

/// Why a stop and its report did not both happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StopFailure {
    /// Not stopped: its alert could not be kept, or Athena refused the stop.
    NotStopped(String),
    /// Stopped, but its alert could not be published: kept for a later run.
    Unpublished(String),
}

impl std::fmt::Display for StopFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopFailure::NotStopped(why) | StopFailure::Unpublished(why) => f.write_str(why),
        }
    }
}

/// Stops a runaway and says so, the alert kept in the outbox first: the stop changes what the
/// next run sees (the query is CANCELLED, no longer a runaway), so an alert not published now
/// would never be rebuilt. Recorded → stopped → published → removed; a failure after the stop
/// leaves the alert recorded for a later run ([`deliver_kept`]).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn stop_and_report<A: AlertSink>(
    history: &AthenaHistory,
    alerts: &A,
    outbox: &Outbox,
    q: &QueryExecution,
    caller: Option<&Caller>,
    age: Duration,
    limit: &Limit,
    config: &KillerConfig,
    now: DateTime<Utc>,
) -> Result<(), StopFailure> {
    let expected = QueryExecution {
        state: QueryState::Cancelled,
        ..q.clone()
    };
    let intended = stop_alert(q, &expected, caller, age, limit, Mode::Enforce, config, now);
    // Not recorded, not stopped: the next run tries both again.
    outbox.keep_pending(&intended, now).await.map_err(|e| {
        StopFailure::NotStopped(format!(
            "not stopping {}: its alert could not be kept ({e})",
            q.id
        ))
    })?;
    let after = stop_query(history.client(), &q.id).await.map_err(|e| {
        tracing::error!(query = %q.id, error = %e, "stop failed");
        StopFailure::NotStopped(format!("stopping {}: {e}", q.id))
    })?;
    let alert = stop_alert(q, &after, caller, age, limit, Mode::Enforce, config, now);
    if let Err(e) = alerts.publish(&alert).await {
        tracing::error!(alert_id = %alert.id, error = %e, "stop alert kept in the outbox for the next run");
        // The stop happened; the run still fails so the alert is retried soon.
        return Err(StopFailure::Unpublished(format!(
            "stop alert for {} (kept for the next run): {e}",
            q.id
        )));
    }
    if let Err(e) = outbox.forget_delivered(&alert.id).await {
        // Published; the next run publishes it again (same id, dropped by subscribers).
        tracing::error!(alert_id = %alert.id, error = %e, "stop alert sent but still in the outbox");
    }
    Ok(())
}

/// Publishes the `QueryStopped` alerts earlier runs kept but could not publish, each with the
/// query's state now. One whose query still runs is left (that run's stop did not happen; a
/// sweep stops it and reports). Called after the run's stops: best effort, never an error.
pub(crate) async fn deliver_kept<A: AlertSink>(
    history: &AthenaHistory,
    alerts: &A,
    outbox: &Outbox,
) -> KeptDelivery {
    let kept = match outbox.pending_alerts().await {
        Ok(kept) => kept,
        Err(e) => {
            return KeptDelivery {
                failure: Some(format!("reading the outbox: {e}")),
                ..KeptDelivery::default()
            }
        }
    };
    let total = kept.len();
    let mut ready = Vec::new();
    for mut alert in kept {
        if refresh_state(history, &mut alert).await {
            ready.push(alert);
        }
    }
    let waiting = total - ready.len();
    let mut out = outbox.publish_kept(alerts, ready).await;
    out.still_kept += waiting;
    out
}

/// Sets a kept stop alert's "State now" to the query's state; `false` if the query still runs
/// (its stop did not happen: not to be reported as stopped).
async fn refresh_state(history: &AthenaHistory, alert: &mut Alert) -> bool {
    let Some(query_id) = alert.id.strip_prefix(&format!("{FUNCTION}/stopped/")) else {
        return true;
    };
    let now_state = history
        .client()
        .get_query_execution()
        .query_execution_id(query_id)
        .send()
        .await
        .ok()
        .and_then(|out| out.query_execution().map(lakeops::athena::execution_of))
        .map(|q| q.state);
    if matches!(now_state, Some(QueryState::Queued | QueryState::Running)) {
        return false;
    }
    if let Some(state) = now_state {
        for (label, value) in &mut alert.fields {
            if label == "State now" {
                *value = state.as_str().to_string();
            }
        }
    }
    true
}

/// Sends `alert` unless the ledger says `key` was said already; `Ok(true)` if sent now.
pub(crate) async fn once<A: AlertSink, L: Ledger>(
    ledger: &L,
    alerts: &A,
    key: &str,
    alert: &Alert,
    now: DateTime<Utc>,
) -> Result<bool, LakeopsError> {
    lakeops::ledger::send_once(
        ledger,
        alerts,
        key,
        alert,
        now,
        Duration::days(LEDGER_KEEP_DAYS),
    )
    .await
}

/// Reads confirming a stop: at once, then after 0.2 s, 0.4 s and 0.8 s (no wait after the last).
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
        let q = out.query_execution().map(lakeops::athena::execution_of);
        if let Some(q) = &q {
            if !matches!(q.state, QueryState::Queued | QueryState::Running) {
                return Ok(q.clone());
            }
        }
        last = q;
        if attempt + 1 < CONFIRM_ATTEMPTS {
            tokio::time::sleep(StdDuration::from_millis(200 << attempt)).await;
        }
    }
    last.ok_or_else(|| {
        LakeopsError::aws(
            "athena:GetQueryExecution",
            std::io::Error::other("no query in the answer"),
        )
    })
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
}
