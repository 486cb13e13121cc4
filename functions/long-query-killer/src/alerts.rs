//! The killer's alerts: the warning before a stop, and the stop (or, in dry-run, the stop it
//! would have made), each with the query, who ran it, its limit and its cost so far.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use lakeops::alert::{Alert, Severity};
use lakeops::athena::{QueryExecution, QueryState};
use lakeops::attribution::Caller;
use lakeops::pricing::{format_usd, human_bytes};
use lakeops::{console, sql};

use crate::policy::{self, Limit};
use crate::{KillerConfig, Mode, FUNCTION};

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
pub(crate) fn warning_alert(
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

/// A stop alert for a query no warning reached: it says so, so the person is not left wondering
/// why nothing came first. The stop never waits for a warning (the limit is the contract, and a
/// runaway's cost grows while it waits); see docs/decisions/stop-without-warning.md.
pub(crate) fn not_warned(alert: Alert) -> Alert {
    alert
        .field(
            "Warned first",
            "no: no warning was delivered before the limit (the alert topic refused it, or the query was first seen past its limit)",
        )
        .detail("warned_first", false)
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn stop_alert(
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
