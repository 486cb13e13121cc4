//! The alert a failing check day raises: a title saying what went wrong, both sides' counts,
//! the difference, the tolerance and the windows, links to the queries, and what to do next.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use lakeops::alert::{Alert, Severity};
use lakeops::console;

use crate::checks::{CheckSeverity, Comparison, Tolerance};
use crate::side::SideResult;
use crate::verdict::{CheckResult, Status};
use crate::FUNCTION;

/// One alert per failing check run.
pub fn check_alert(
    r: &CheckResult,
    run_id: &str,
    region: &str,
    tz: Tz,
    now: DateTime<Utc>,
) -> Alert {
    let alert = Alert::new(
        r.status.alert_kind(),
        severity(r),
        FUNCTION,
        format!("{FUNCTION}/{run_id}/{}/{}", r.check, r.run_date),
        now,
        format!(
            "Check {}: {} (run date {})",
            r.check,
            what(r.status),
            r.run_date
        ),
        r.problems.join(" "),
    )
    .field("Check", &r.check)
    .field("Run date", format!("{} ({})", r.run_date, tz.name()))
    .field("Source", side_line(&r.source))
    .field("Target", side_line(&r.target))
    .field(
        "Difference",
        r.comparison.map(difference).unwrap_or_else(|| "-".into()),
    )
    .field("Tolerance", tolerance(&r.tolerance))
    .field(
        "Window",
        format!(
            "source: {}\ntarget: {}",
            or_all(&r.source.window),
            or_all(&r.target.window)
        ),
    )
    .field("Owner", r.owner.as_deref().unwrap_or("-"))
    .attribute("check", &r.check);
    context(alert, r, region)
        .detail("check", &r.check)
        .detail("run_date", &r.run_date)
        .detail("status", r.status)
        .detail("source_rows", r.source.rows)
        .detail("target_rows", r.target.rows)
        .detail("row_diff", r.comparison.map(|c| c.diff))
        .detail("row_diff_pct", r.comparison.and_then(|c| c.diff_pct))
        .detail("result", r)
        .next_step(next_step(r.status))
}

/// An unfinished check warns whatever its severity; otherwise the check's own severity.
fn severity(r: &CheckResult) -> Severity {
    match (r.status, r.severity) {
        (Status::Unfinished, _) => Severity::Warning,
        (_, CheckSeverity::Critical) => Severity::Critical,
        (_, CheckSeverity::Warning) => Severity::Warning,
        (_, CheckSeverity::Info) => Severity::Info,
    }
}

fn what(status: Status) -> &'static str {
    match status {
        Status::Mismatch => "row counts differ",
        Status::TooFewRows => "too few rows",
        Status::VolumeAnomaly => "volume far outside its history",
        Status::Stale => "data is stale",
        Status::MissingPartition => "a partition is missing",
        Status::Unfinished => "did not finish",
        Status::Error => "could not be checked",
        Status::Ok => "ok",
    }
}

/// `table · 5000 rows (count_star) · updated 2.0 h ago · query q-1`.
fn side_line(s: &SideResult) -> String {
    let rows = s.rows.map(|n| n.to_string()).unwrap_or_else(|| "-".into());
    let mut parts = vec![format!(
        "{} rows ({})",
        rows,
        serde_json::to_value(s.method)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    )];
    if let Some(a) = s.age_seconds {
        parts.push(format!("updated {:.1} h ago", a as f64 / 3600.0));
    }
    if !s.query_ids.is_empty() {
        parts.push(format!("query {}", s.query_ids.join(", ")));
    }
    format!("{} · {}", s.counted, parts.join(" · "))
}

/// `-900 rows (18.00%)`.
fn difference(c: Comparison) -> String {
    format!(
        "{:+} rows ({})",
        c.diff,
        c.diff_pct
            .map(|p| format!("{p:.2}%"))
            .unwrap_or_else(|| "n/a: source is 0".into())
    )
}

/// `10 rows or 0.5% (Equal)`, with a one-sided direction's bound.
fn tolerance(t: &Tolerance) -> String {
    format!(
        "{} rows{} ({:?}{})",
        t.rows,
        t.percent.map(|p| format!(" or {p}%")).unwrap_or_default(),
        t.direction,
        t.allowed_side_percent
            .map(|p| format!(", allowed side at most {p}%"))
            .unwrap_or_default()
    )
}

/// The volume history, the tags, the owner attribute and a console link per query.
fn context(mut alert: Alert, r: &CheckResult, region: &str) -> Alert {
    if let Some(a) = &r.volume_anomaly {
        alert = alert
            .field(
                "Volume",
                format!(
                    "{} rows; median {:.0}, MAD {:.0}, modified z {:.1}",
                    a.rows, a.median, a.mad, a.z
                ),
            )
            .field(
                "History",
                a.history
                    .iter()
                    .map(|p| format!("{} {}", p.run_date, p.rows))
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
    }
    if !r.tags.is_empty() {
        alert = alert.field(
            "Tags",
            r.tags
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    if let Some(owner) = &r.owner {
        alert = alert.attribute("owner", owner);
    }
    for s in [&r.source, &r.target] {
        for id in &s.query_ids {
            alert = alert.link(
                &format!("{} query {id}", s.counted),
                console::athena_query(region, id),
            );
        }
    }
    alert
}

fn next_step(status: Status) -> &'static str {
    match status {
        Status::Mismatch => "Compare the two windows: late or duplicate loads, a failed upstream job, or a filter that differs between the sides.",
        Status::VolumeAnomaly => "Today's count is far from this check's recent counts (history above): a partial or duplicated load upstream, or a real change in volume to confirm with the data's owner.",
        Status::TooFewRows => "The window holds fewer rows than the check's min_rows: check the upstream load (an empty or partial day), even if both sides agree.",
        Status::Stale => "Check the pipeline that feeds the stale side: its last run, its schedule and its errors.",
        Status::MissingPartition => "The load for this window did not arrive: check the upstream job, or add the partition (MSCK REPAIR / ALTER TABLE ADD PARTITION) if the data is there.",
        Status::Unfinished => "Raise the function timeout or DEADLINE_MARGIN_SECONDS, or make the count cheaper (partition filter, Iceberg).",
        _ => "Read the error above; fix the table, permissions or the check, then re-run with {\"checks\": [\"<name>\"]}.",
    }
}

fn or_all(w: &str) -> &str {
    if w.is_empty() {
        "(whole table)"
    } else {
        w
    }
}
