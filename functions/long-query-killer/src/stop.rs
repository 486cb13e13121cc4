//! Stopping a runaway and saying so: the stop alert is kept in the outbox before the stop and
//! removed once published ([`lakeops::outbox`]); kept alerts an earlier run could not publish are
//! delivered after this run's stops, best effort, so an SNS outage never holds up a stop.

use chrono::{DateTime, Duration, Utc};
use lakeops::alert::{Alert, AlertSink};
use lakeops::athena::{QueryControl, QueryExecution, QueryState};
use lakeops::attribution::Caller;
use lakeops::ledger::Ledger;
use lakeops::outbox::{AlertOutbox, KeptDelivery};
use lakeops::LakeopsError;

use crate::alerts::{not_warned, stop_alert};
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
/// leaves the alert recorded for a later run ([`deliver_kept`]). `warned`: whether its warning
/// was delivered (the alert says when it was not).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn stop_and_report<H: QueryControl, O: AlertOutbox, A: AlertSink>(
    history: &H,
    alerts: &A,
    outbox: &O,
    q: &QueryExecution,
    caller: Option<&Caller>,
    age: Duration,
    limit: &Limit,
    warned: bool,
    config: &KillerConfig,
    now: DateTime<Utc>,
) -> Result<(), StopFailure>
where
    LakeopsError: From<H::Error>,
{
    let expected = QueryExecution {
        state: QueryState::Cancelled,
        ..q.clone()
    };
    let say = |after: &QueryExecution| {
        let alert = stop_alert(q, after, caller, age, limit, Mode::Enforce, config, now);
        if warned {
            alert
        } else {
            not_warned(alert)
        }
    };
    let intended = say(&expected);
    // Not recorded, not stopped: the next run tries both again.
    outbox.keep_pending(&intended, now).await.map_err(|e| {
        StopFailure::NotStopped(format!(
            "not stopping {}: its alert could not be kept ({e})",
            q.id
        ))
    })?;
    let after = history.stop_and_confirm(&q.id).await.map_err(|e| {
        let e = LakeopsError::from(e);
        tracing::error!(query = %q.id, error = %e, "stop failed");
        StopFailure::NotStopped(format!("stopping {}: {e}", q.id))
    })?;
    let alert = say(&after);
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
pub(crate) async fn deliver_kept<H: QueryControl, O: AlertOutbox, A: AlertSink>(
    history: &H,
    alerts: &A,
    outbox: &O,
) -> KeptDelivery
where
    LakeopsError: From<H::Error>,
{
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
async fn refresh_state<H: QueryControl>(history: &H, alert: &mut Alert) -> bool {
    let Some(query_id) = alert.id.strip_prefix(&format!("{FUNCTION}/stopped/")) else {
        return true;
    };
    let now_state = history
        .read_query(query_id)
        .await
        .ok()
        .flatten()
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
