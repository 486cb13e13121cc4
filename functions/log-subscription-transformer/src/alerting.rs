//! The `LogErrors` alerts: what one invocation saw per log group ([`GroupErrors`]), the alert it
//! makes ([`error_alert`]), and the ones earlier invocations could not publish.
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

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use lakeops::alert::{Alert, AlertSink, Severity};
use lakeops::console;
use lakeops::ledger::Ledger;
use lakeops::outbox::AlertOutbox;

use crate::parse::kind;
use crate::record::LogRecord;
use crate::{Deps, Run, FUNCTION};

/// Error lines quoted in an alert.
const ALERT_LINES: usize = 5;

/// Failure and error lines of one log group in this invocation.
#[derive(Debug, Default, Clone)]
pub(crate) struct GroupErrors {
    stream: String,
    account: String,
    first_at: Option<DateTime<Utc>>,
    lines: Vec<String>,
    errors: usize,
    timeouts: usize,
    crashes: usize,
    unhandled: usize,
    /// What failed, each named once, in the order seen.
    error_types: Vec<String>,
}

impl GroupErrors {
    fn failures(&self) -> usize {
        self.timeouts + self.crashes + self.unhandled
    }
}

pub(crate) fn note_errors(r: &LogRecord, errors: &mut BTreeMap<String, GroupErrors>) {
    if !r.line.is_error() {
        return;
    }
    let e = errors.entry(r.log_group.to_string()).or_default();
    if e.lines.is_empty() {
        e.stream = r.log_stream.to_string();
        e.account = r.account.to_string();
        e.first_at = DateTime::parse_from_rfc3339(r.timestamp.as_str())
            .ok()
            .map(|t| t.with_timezone(&Utc));
    }
    match r.line.kind.as_ref() {
        kind::TIMEOUT => e.timeouts += 1,
        kind::CRASH => e.crashes += 1,
        kind::UNHANDLED => e.unhandled += 1,
        _ => e.errors += 1,
    }
    if let Some(t) = &r.line.error_type {
        if e.error_types.len() < ALERT_LINES && !e.error_types.iter().any(|x| x == t) {
            e.error_types.push(t.to_string());
        }
    }
    if e.lines.len() < ALERT_LINES {
        let line = r.line.summary().unwrap_or(&r.line.message);
        e.lines.push(lakeops::alert::truncate(line, 500));
    }
}

/// One alert per log group per invocation (and at most one per interval).
pub(crate) fn error_alert(
    group: &str,
    e: &GroupErrors,
    interval: Duration,
    region: &str,
    now: DateTime<Utc>,
) -> Alert {
    let at = e.first_at.unwrap_or(now);
    let bucket = if interval.num_seconds() > 0 {
        at.timestamp().div_euclid(interval.num_seconds())
    } else {
        // No rate limit: one alert per first-error instant (a retry of the batch repeats it).
        at.timestamp_millis()
    };
    let what = match (e.timeouts, e.crashes, e.unhandled) {
        (0, 0, 0) => "errors",
        (_, 0, 0) => "timeouts",
        (0, _, 0) => "crashes",
        (0, 0, _) => "unhandled errors",
        _ => "failed invocations",
    };
    // A failed invocation (timeout, crash, out of memory, unhandled error) is critical; error
    // lines the code logged and handled are a warning.
    let severity = if e.failures() > 0 {
        Severity::Critical
    } else {
        Severity::Warning
    };
    Alert::new(
        "LogErrors",
        severity,
        FUNCTION,
        // The severity is part of the key: a critical batch after a warning in the same
        // interval still gets its alert (at most one of each per interval).
        format!(
            "{FUNCTION}/{}/{}/{bucket}",
            group.trim_start_matches('/'),
            severity
        ),
        now,
        format!("{} in {group}", capitalize(what)),
        format!(
            "{group} logged {} error line(s), {} timeout(s), {} crash(es) and {} unhandled error(s) in this batch, starting {}.",
            e.errors, e.timeouts, e.crashes, e.unhandled, at.to_rfc3339()
        ),
    )
    .field("Log group", group)
    .field("Log stream", &e.stream)
    .field(
        "Error types",
        if e.error_types.is_empty() {
            "-".to_string()
        } else {
            e.error_types.join(", ")
        },
    )
    .field("First lines", e.lines.join("\n"))
    .attribute("log_group", group)
    .link("Log stream in CloudWatch", console::log_stream(region, group, &e.stream))
    .detail("log_group", group)
    .detail("log_stream", &e.stream)
    .detail("account", &e.account)
    .detail("errors", e.errors)
    .detail("timeouts", e.timeouts)
    .detail("crashes", e.crashes)
    .detail("unhandled", e.unhandled)
    .detail("error_types", &e.error_types)
    .detail("first_error_at", at)
    .next_step("Open the log stream at the first line; for timeouts compare Duration with the function's timeout in the REPORT lines.")
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

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

    #[test]
    fn a_critical_batch_after_a_warning_in_the_same_interval_has_its_own_alert() {
        let at: DateTime<Utc> = "2026-11-24T09:01:00Z".parse().unwrap();
        let interval = Duration::minutes(15);
        let alert = |e: &GroupErrors| error_alert("/aws/lambda/etl", e, interval, "us-east-1", at);
        let warning = GroupErrors {
            errors: 2,
            first_at: Some(at),
            ..Default::default()
        };
        let later_warning = GroupErrors {
            first_at: Some(at + Duration::minutes(5)),
            ..warning.clone()
        };
        let critical = GroupErrors {
            timeouts: 1,
            first_at: Some(at + Duration::minutes(1)),
            ..Default::default()
        };
        let (w, w2, c) = (alert(&warning), alert(&later_warning), alert(&critical));
        assert_eq!(
            (w.severity, c.severity),
            (Severity::Warning, Severity::Critical)
        );
        assert_eq!(w.id, w2.id, "one warning per interval");
        assert_ne!(
            w.id, c.id,
            "the critical one is not swallowed by the warning's key"
        );
    }
}
