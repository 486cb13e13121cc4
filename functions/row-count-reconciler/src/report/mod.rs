//! Reporting a run: one alert per failing check day (said once across the look-back, then
//! reminded), EMF metrics per check, and the run's summary.

mod alert;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use lakeops::alert::{Alert, AlertSink};
use lakeops::ledger::Ledger;
use lakeops::{Metrics, Unit};
use serde::Serialize;
use serde_json::{json, Value};

use crate::checks::{self, Check};
use crate::verdict::{CheckResult, Status};
use crate::FUNCTION;

pub use alert::check_alert;

/// How long the ledger keeps an alert's "sent" record.
pub const LEDGER_KEEP_DAYS: i64 = 3;

/// What a run did.
#[derive(Debug, Default, Serialize)]
pub struct RunSummary {
    pub run_date: String,
    pub checks: usize,
    pub results: Vec<Value>,
    pub failing: Vec<String>,
    pub alerted: Vec<String>,
    /// Alerts of look-back days already said on an earlier run (not sent again).
    pub repeats_not_sent: Vec<String>,
    pub queries: usize,
    pub scanned_bytes: u64,
    pub cost_usd: f64,
    /// Wall time of the count queries, and the sum of their engine times: parallelism shows as
    /// the first being well under the second.
    pub query_wall_ms: u128,
    pub query_engine_ms_sum: i64,
    pub results_object: Option<String>,
    pub failures: Vec<String>,
}

/// Which look at a date a failing result is: with `lookback_days: N` the same bad day is looked
/// at N + 1 times on consecutive runs, and it is said once, then reminded — not N + 1 times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// The run date itself: alerts (every run event; a retry of one event sends it once).
    First,
    /// A look-back day before the last: alerts only if this check, date and status were not
    /// already said (a day that was fine and went bad, or changed how it is bad, still alerts).
    Again,
    /// The last look at the date: a reminder that it is still failing (said plainly if it
    /// was never said).
    LastLook,
}

impl Repeat {
    pub fn of(lookback_day: u32, lookback_days: u32) -> Self {
        match lookback_day {
            0 => Repeat::First,
            k if k >= lookback_days => Repeat::LastLook,
            _ => Repeat::Again,
        }
    }
}

/// Sends a failing result's alert as its [`Repeat`] says: the first look claims "said" for the
/// check, date and status (kept through the look-back), a repeat is sent only if that claim is
/// new, the last look is a reminder.
pub async fn announce<L: Ledger, A: AlertSink>(
    ledger: &L,
    alerts: &A,
    alert: &mut Alert,
    repeat: Repeat,
    (check, run_date, status): (&str, &str, Status),
    summary: &mut RunSummary,
) {
    let said = format!("{FUNCTION}/said/{check}/{run_date}/{}", status.alert_kind());
    let keep_said = Duration::days(i64::from(checks::MAX_LOOKBACK_DAYS) + 2);
    match repeat {
        Repeat::First => {}
        Repeat::Again => {
            match lakeops::ledger::send_once(
                ledger,
                alerts,
                &said,
                alert,
                alert.occurred_at,
                keep_said,
            )
            .await
            {
                Ok(true) => summary.alerted.push(alert.id.clone()),
                Ok(false) => summary.repeats_not_sent.push(alert.id.clone()),
                Err(e) => summary.failures.push(format!("alert {}: {e}", alert.id)),
            }
            return;
        }
        Repeat::LastLook => {
            // Claimed (or found claimed) before the send: a failed send gives nothing back, so
            // its retry may say as a reminder what was never said — the safe side of the two.
            let said_before = !ledger
                .claim(&said, alert.occurred_at, keep_said)
                .await
                .unwrap_or(false);
            if said_before {
                alert.title = format!("Reminder, last look-back day: {}", alert.title);
                alert.summary = format!(
                    "Still failing at its last look-back check. {}",
                    alert.summary
                );
            }
        }
    }
    let sent = lakeops::ledger::send_alert_once(
        ledger,
        alerts,
        alert,
        Duration::days(LEDGER_KEEP_DAYS),
        &mut summary.alerted,
        &mut summary.failures,
    )
    .await;
    if repeat == Repeat::First && sent.is_some() {
        if let Err(e) = ledger.claim(&said, alert.occurred_at, keep_said).await {
            tracing::warn!(key = said, error = %e, "could not note the alert as said: a look-back may repeat it");
        }
    }
}

/// Sends the alerts of a run's failing results, through the ledger.
pub struct Reporter<'a, A, L> {
    pub alerts: &'a A,
    pub ledger: &'a L,
    /// For the console links.
    pub region: &'a str,
    /// The run date's timezone, as the alert names it.
    pub timezone: Tz,
}

impl<A: AlertSink, L: Ledger> Reporter<'_, A, L> {
    /// Every result into the summary, and one alert per failing result (once, as its
    /// [`Repeat`] says).
    pub async fn report(
        &self,
        selected: &[Check],
        results: &[CheckResult],
        run_id: &str,
        now: DateTime<Utc>,
        summary: &mut RunSummary,
    ) {
        for r in results {
            summary.results.push(json!(r));
            if r.status == Status::Ok {
                continue;
            }
            summary.failing.push(format!("{}@{}", r.check, r.run_date));
            let lookback_days = selected
                .iter()
                .find(|c| c.name == r.check)
                .map_or(0, |c| c.lookback_days);
            let mut alert = check_alert(r, run_id, self.region, self.timezone, now);
            announce(
                self.ledger,
                self.alerts,
                &mut alert,
                Repeat::of(r.lookback_day, lookback_days),
                (&r.check, &r.run_date, r.status),
                summary,
            )
            .await;
        }
    }
}

/// The EMF metrics of each check's own run date, and the bytes the run scanned.
pub fn emit_metrics(results: &[CheckResult], namespace: &str) {
    let mut metrics = Metrics::new(namespace);
    let mut scanned = 0;
    for r in results {
        scanned += r.source.scanned_bytes + r.target.scanned_bytes;
        if r.lookback_day == 0 {
            record_metrics(&mut metrics, r);
        }
    }
    metrics.record(&[], "ReconcilerBytesScanned", scanned as f64, Unit::Bytes);
    metrics.flush();
}

fn record_metrics(m: &mut Metrics, r: &CheckResult) {
    let dims = [("Check", r.check.as_str())];
    if let Some(n) = r.source.rows {
        m.record(&dims, "SourceRows", n as f64, Unit::Count);
    }
    if let Some(n) = r.target.rows {
        m.record(&dims, "TargetRows", n as f64, Unit::Count);
    }
    if let Some(cmp) = r.comparison {
        m.record(&dims, "RowDiff", cmp.diff as f64, Unit::Count);
        if let Some(p) = cmp.diff_pct {
            m.record(&dims, "RowDiffPct", p, Unit::Percent);
        }
    }
    if let Some(a) = r.source.age_seconds {
        m.record(&dims, "SourceAgeSeconds", a as f64, Unit::Seconds);
    }
    if let Some(a) = r.target.age_seconds {
        m.record(&dims, "TargetAgeSeconds", a as f64, Unit::Seconds);
    }
    m.record(
        &dims,
        "CheckFailed",
        f64::from(u8::from(r.status != Status::Ok)),
        Unit::Count,
    );
}

#[cfg(test)]
mod tests;
