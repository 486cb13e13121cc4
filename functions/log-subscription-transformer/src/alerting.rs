//! The `LogErrors` alerts of an invocation, and the ones earlier invocations could not publish.
//!
//! The log lines that raised an alert are not seen again (a subscription batch is delivered
//! once), so an alert SNS refuses is kept in the function's outbox ([`lakeops::outbox`], in the
//! ledger table) and published by a later invocation, instead of living only in a log line.
//! Failing the invocation instead would make Lambda retry the whole batch and store its records
//! twice. If the outbox cannot be written either, the invocation fails: a retried batch with
//! duplicate records is better than a failure nobody hears about.
//!
//! A process looks in the outbox in its next invocation after it kept an alert, and otherwise at
//! most once per [`OUTBOX_EVERY`] (one consistent `GetItem`), so alerts another process kept are
//! found within a minute of traffic; never in an invocation whose own publish SNS just refused.
//! Kept alerts keep their ids, so the notifier's ledger drops a repeat if a removal after a
//! publish failed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use lakeops::alert::AlertSink;
use lakeops::ledger::Ledger;
use lakeops::outbox::AlertOutbox;

use crate::{error_alert, Deps, Run};

/// How often one process looks for kept alerts.
pub const OUTBOX_EVERY: StdDuration = StdDuration::from_secs(60);

/// When this process last looked in the outbox, and whether it kept something since.
#[derive(Debug, Default)]
pub struct OutboxPace {
    last: Mutex<Option<Instant>>,
    kept_since: AtomicBool,
}

impl OutboxPace {
    /// Whether to look now (and if so, notes that it did).
    fn due(&self, now: Instant, every: StdDuration) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let kept = self.kept_since.swap(false, Ordering::SeqCst);
        if !kept && last.is_some_and(|t| now.duration_since(t) < every) {
            return false;
        }
        *last = Some(now);
        true
    }

    fn kept(&self) {
        self.kept_since.store(true, Ordering::SeqCst);
    }
}

/// One alert per log group with errors, at most one per interval (ledger); then, if SNS took
/// them, what earlier invocations kept.
pub(crate) async fn send_error_alerts<A: AlertSink, L: Ledger, O: AlertOutbox>(
    deps: &Deps<A, L, O>,
    now: DateTime<Utc>,
    run: &mut Run,
) {
    for (group, e) in std::mem::take(&mut run.errors) {
        let alert = error_alert(
            &group,
            &e,
            deps.config.alert_interval,
            &deps.config.common.region,
            now,
        );
        let mut failed = Vec::new();
        let sent = lakeops::ledger::send_alert_once(
            &deps.ledger,
            &deps.alerts,
            &alert,
            Duration::days(1),
            &mut run.summary.alerted,
            &mut failed,
        )
        .await;
        if sent == Some(false) {
            tracing::info!(
                log_group = group,
                "error alert rate-limited (one per interval)"
            );
        }
        for f in failed {
            match deps.outbox.keep_pending(&alert, now).await {
                Ok(()) => {
                    deps.outbox_pace.kept();
                    tracing::error!(alert_id = %alert.id, error = %f, "alert not published; kept in the outbox for a later invocation");
                    // The outbox sends it now: later errors of the interval are rate-limited as
                    // if it had gone out (else the same alert id would be sent twice).
                    if let Err(e) = deps.ledger.claim(&alert.id, now, Duration::days(1)).await {
                        tracing::warn!(alert_id = %alert.id, error = %e, "kept alert not claimed in the ledger; a later invocation may send the same id (the notifier drops the repeat)");
                    }
                }
                Err(e) => {
                    tracing::error!(alert = %alert.json_body(), error = %f, outbox_error = %e, "alert neither published nor kept; the invocation fails so Lambda retries the batch");
                    run.summary
                        .failures
                        .push(format!("{f}; and not kept in the outbox: {e}"));
                }
            }
            run.summary.alerts_undelivered.push(f);
        }
    }
    if run.summary.alerts_undelivered.is_empty()
        && deps.outbox_pace.due(Instant::now(), OUTBOX_EVERY)
    {
        deliver_kept(deps, run).await;
    }
}

/// Publishes what earlier invocations kept; best effort (what stays is counted and retried).
async fn deliver_kept<A: AlertSink, L: Ledger, O: AlertOutbox>(
    deps: &Deps<A, L, O>,
    run: &mut Run,
) {
    let kept = match deps.outbox.pending_alerts().await {
        Ok(kept) => kept,
        Err(e) => {
            tracing::warn!(error = %e, "outbox not read; kept alerts wait for a later invocation");
            return;
        }
    };
    let delivery = deps.outbox.publish_kept(&deps.alerts, kept).await;
    if let Some(why) = &delivery.failure {
        tracing::warn!(error = %why, still_kept = delivery.still_kept, "kept alerts wait for a later invocation");
    }
    run.summary.kept_alerts_delivered = delivery.delivered;
    run.summary.alerts_kept = Some(delivery.still_kept);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::deps;
    use crate::GroupErrors;
    use lakeops::Metrics;
    use std::collections::BTreeMap;

    fn run_with_errors(group: &str, at: DateTime<Utc>) -> Run {
        let errors = GroupErrors {
            errors: 1,
            first_at: Some(at),
            lines: vec!["ERROR boom".into()],
            ..Default::default()
        };
        Run {
            summary: Default::default(),
            metrics: Metrics::new("test"),
            errors: BTreeMap::from([(group.to_string(), errors)]),
        }
    }

    fn published(
        d: &Deps<
            lakeops::alert::RecordingSink,
            lakeops::ledger::MemoryLedger,
            lakeops::outbox::MemoryOutbox,
        >,
    ) -> Vec<String> {
        let alerts = d.alerts.alerts.lock().unwrap();
        alerts.iter().map(|a| a.id.clone()).collect()
    }

    /// SNS refuses the publish of the invocation that saw the failure (the fault injected in
    /// the step that publishes). Before the outbox, the alert lived only in a log line; now a
    /// later invocation, with no errors of its own, delivers it once.
    #[tokio::test]
    async fn an_alert_sns_refuses_is_kept_and_delivered_once_by_a_later_invocation() {
        let d = deps();
        let at: DateTime<Utc> = "2026-11-24T09:01:00Z".parse().unwrap();
        d.alerts.refuse_next(1);
        let mut first = run_with_errors("/aws/lambda/etl", at);
        send_error_alerts(&d, at, &mut first).await;
        assert_eq!(first.summary.alerts_undelivered.len(), 1);
        assert!(first.summary.failures.is_empty(), "the batch is not failed");
        assert!(published(&d).is_empty());
        let kept = d.outbox.pending_alerts().await.unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].kind, "LogErrors");

        // The same log group fails again within the interval: one alert, the kept one.
        let mut later = run_with_errors("/aws/lambda/etl", at + Duration::minutes(2));
        send_error_alerts(&d, at + Duration::minutes(2), &mut later).await;
        assert_eq!(published(&d), vec![kept[0].id.clone()]);
        assert_eq!(
            later.summary.kept_alerts_delivered,
            vec![kept[0].id.clone()]
        );
        assert_eq!(later.summary.alerts_kept, Some(0));
        assert!(d.outbox.pending_alerts().await.unwrap().is_empty());

        // Once: the next look (a minute on) finds nothing more to send.
        *d.outbox_pace.last.lock().unwrap() = None;
        let mut again = Run {
            summary: Default::default(),
            metrics: Metrics::new("test"),
            errors: BTreeMap::new(),
        };
        send_error_alerts(&d, at + Duration::minutes(4), &mut again).await;
        assert_eq!(published(&d).len(), 1);
    }

    #[tokio::test]
    async fn kept_alerts_wait_while_sns_still_refuses_and_the_outbox_is_read_once_a_minute() {
        let d = deps();
        let at: DateTime<Utc> = "2026-11-24T09:01:00Z".parse().unwrap();
        d.alerts.refuse_next(2);
        let mut first = run_with_errors("/aws/lambda/etl", at);
        send_error_alerts(&d, at, &mut first).await;
        // A later invocation's delivery is refused too: still kept, counted.
        let mut second = run_with_errors("/aws/lambda/other", at);
        second.errors.clear();
        send_error_alerts(&d, at, &mut second).await;
        assert_eq!(second.summary.alerts_kept, Some(1));
        assert!(second.summary.kept_alerts_delivered.is_empty());
        // Within the minute the process does not look again.
        let mut third = run_with_errors("/aws/lambda/other", at);
        third.errors.clear();
        send_error_alerts(&d, at, &mut third).await;
        assert_eq!(third.summary.alerts_kept, None);
        assert!(published(&d).is_empty());
        assert_eq!(d.outbox.pending_alerts().await.unwrap().len(), 1);
    }

    #[test]
    fn the_pace_lets_one_look_through_per_interval() {
        let pace = OutboxPace::default();
        let t = Instant::now();
        assert!(pace.due(t, OUTBOX_EVERY));
        assert!(!pace.due(t + StdDuration::from_secs(59), OUTBOX_EVERY));
        assert!(pace.due(t + StdDuration::from_secs(61), OUTBOX_EVERY));
        // Right after this process kept an alert, whatever the time.
        pace.kept();
        assert!(pace.due(t + StdDuration::from_secs(62), OUTBOX_EVERY));
        assert!(!pace.due(t + StdDuration::from_secs(63), OUTBOX_EVERY));
    }
}
