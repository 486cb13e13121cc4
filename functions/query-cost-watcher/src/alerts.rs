//! The cost watcher's alerts: what each says and why — expensive queries, daily budgets (80% /
//! 100%), spend spikes, retry storms — built from what the checks found; sending them once is
//! the caller's (`Deps::send_once`).

use chrono::{DateTime, SecondsFormat, Utc};
use lakeops::alert::{Alert, Severity};
use lakeops::athena::QueryExecution;
use lakeops::attribution::Caller;
use lakeops::calendar::LocalDay;
use lakeops::pricing::{format_usd, human_bytes, Charge};
use lakeops::{console, sql};

use crate::hints::CostHints;
use crate::spend::{BudgetLevel, DailySpend};
use crate::storm::Storm;
use crate::window::Window;
use crate::{CostConfig, Expensive, FUNCTION};

/// What a daily budget is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetScope<'a> {
    Workgroup(&'a str),
    /// A person, as "Run by" names them (`DAILY_BUDGET_USD_BY_PRINCIPAL`).
    Person(&'a str),
}

pub(crate) fn budget_key(scope: BudgetScope, day: &LocalDay, level: BudgetLevel) -> String {
    match scope {
        BudgetScope::Workgroup(wg) => {
            format!("{FUNCTION}/budget/{wg}/{day}/{}", level.key_part())
        }
        BudgetScope::Person(p) => {
            format!("{FUNCTION}/budget-person/{p}/{day}/{}", level.key_part())
        }
    }
}

/// Budget warning (80%) or exceeded (100%) for one workgroup's or person's day.
pub fn budget_alert(
    scope: BudgetScope,
    spent: f64,
    day: &LocalDay,
    budget: f64,
    level: BudgetLevel,
    config: &CostConfig,
    now: DateTime<Utc>,
) -> Alert {
    let pct = if budget > 0.0 {
        spent / budget * 100.0
    } else {
        100.0
    };
    let (kind, severity, verb) = match level {
        BudgetLevel::Warning => (
            "BudgetWarning",
            Severity::Warning,
            format!("reached {pct:.0}% of"),
        ),
        BudgetLevel::Exceeded => ("BudgetExceeded", Severity::Critical, "exceeded".to_string()),
    };
    let tz = config.timezone.name();
    let (who, whose) = match scope {
        BudgetScope::Workgroup(wg) => (format!("workgroup {wg}"), format!("Workgroup {wg}")),
        BudgetScope::Person(p) => (p.to_string(), p.to_string()),
    };
    let alert = Alert::new(
        kind,
        severity,
        FUNCTION,
        budget_key(scope, day, level),
        now,
        format!("Athena {who} {verb} {} daily budget ({} of {})", if matches!(scope, BudgetScope::Person(_)) { "their" } else { "its" }, format_usd(spent), format_usd(budget)),
        format!(
            "{whose} has spent {} on Athena scans today ({day} {tz}), {pct:.0}% of the {} daily budget.",
            format_usd(spent),
            format_usd(budget)
        ),
    );
    let alert = match scope {
        BudgetScope::Workgroup(wg) => alert
            .field("Workgroup", wg)
            .attribute("workgroup", wg)
            .link("Workgroup in the Athena console", console::athena_workgroup(&config.common.region, wg))
            .detail("workgroup", wg)
            .next_step("The workgroup's recent queries in the console show who is scanning; set a per-query data usage limit on the workgroup to cap single queries."),
        BudgetScope::Person(p) => alert
            .field("Run by", p)
            .attribute("run_by", p)
            .detail("run_by", p)
            .next_step("Their queries are in the daily digest's per-person lines and in the query index; a workgroup with a per-query data usage limit caps single queries."),
    };
    alert
        .field("Spent today", format_usd(spent))
        .field("Budget", format_usd(budget))
        .field("Used", format!("{pct:.0}%"))
        .field("Day", format!("{day} ({tz})"))
        .detail("day", day.to_string())
        .detail("timezone", tz)
        .detail("spent_usd", spent)
        .detail("budget_usd", budget)
        .detail("percent", pct)
}

/// Today's spend runs well above the trailing baseline.
pub fn spike_alert(wg: &str, daily: &DailySpend, config: &CostConfig, now: DateTime<Utc>) -> Alert {
    let base = daily.baseline_usd.unwrap_or(0.0);
    let ratio = if base > 0.0 {
        format!("{:.1}x", daily.today_usd / base)
    } else {
        "far above".into()
    };
    let tz = config.timezone.name();
    Alert::new(
        "SpendSpike",
        Severity::Warning,
        FUNCTION,
        format!("{FUNCTION}/spike/{wg}/{}", daily.day),
        now,
        format!("Athena spend spike in {wg}: {} today, {ratio} the usual {}", format_usd(daily.today_usd), format_usd(base)),
        format!(
            "Workgroup {wg} has spent {} so far today ({} {tz}); on the previous {} days it had spent a median of {} by this time.",
            format_usd(daily.today_usd),
            daily.day,
            daily.baseline_days,
            format_usd(base)
        ),
    )
    .field("Workgroup", wg)
    .field("Spent today", format_usd(daily.today_usd))
    .field("Usual by now", format!("{} (median of {} days)", format_usd(base), daily.baseline_days))
    .field("Ratio", &ratio)
    .field("Day", format!("{} ({tz})", daily.day))
    .attribute("workgroup", wg)
    .link("Workgroup in the Athena console", console::athena_workgroup(&config.common.region, wg))
    .detail("workgroup", wg)
    .detail("day", daily.day.to_string())
    .detail("spent_usd", daily.today_usd)
    .detail("baseline_usd", base)
    .detail("baseline_days", daily.baseline_days)
    .detail("spike_factor", config.spike_factor)
    .next_step("Look for new or changed scheduled queries and dashboards, and for queries without partition filters.")
}

/// The same statement failing or being cancelled again and again.
/// `caller`: who ran the storm's latest occurrence.
pub fn storm_alert(
    s: &Storm,
    caller: Option<&Caller>,
    window: Window,
    config: &CostConfig,
    now: DateTime<Utc>,
) -> Alert {
    let period = Storm::period_start(window, config.storm_lookback);
    let minutes = config.storm_lookback.num_minutes();
    let q = &s.latest;
    let reasons: Vec<String> = s
        .reasons
        .iter()
        .take(3)
        .map(|(r, n)| format!("{n}x {r}"))
        .collect();
    Alert::new(
        "RetryStorm",
        Severity::Warning,
        FUNCTION,
        format!("{FUNCTION}/storm/{}/{}/{}", s.workgroup, s.fingerprint_id, period.timestamp()),
        now,
        format!("Retry storm in {}: the same query failed or was cancelled {} times in {minutes} min", s.workgroup, s.count()),
        format!(
            "One statement shape ({}) ended FAILED {} and CANCELLED {} times in workgroup {} between {} and {}.",
            s.fingerprint_id,
            s.failed,
            s.cancelled,
            s.workgroup,
            s.first_completed.to_rfc3339_opts(SecondsFormat::Secs, true),
            s.last_completed.to_rfc3339_opts(SecondsFormat::Secs, true)
        ),
    )
    .field("Workgroup", &s.workgroup)
    .run_by(caller)
    .field("Occurrences", format!("{} ({} failed, {} cancelled)", s.count(), s.failed, s.cancelled))
    .field("Reasons", reasons.join("\n"))
    .field("Database", q.database.as_deref().unwrap_or("-"))
    .field("Latest", &q.id)
    .field("SQL", sql::excerpt(&q.sql, 1000))
    .attribute("workgroup", &s.workgroup)
    .link("Latest occurrence in the Athena console", console::athena_query(&config.common.region, &q.id))
    .detail("workgroup", &s.workgroup)
    .detail("fingerprint", &s.fingerprint)
    .detail("fingerprint_id", &s.fingerprint_id)
    .detail("failed", s.failed)
    .detail("cancelled", s.cancelled)
    .detail("first_completed_at", s.first_completed)
    .detail("last_completed_at", s.last_completed)
    .detail("latest_query_execution_id", &q.id)
    .next_step("Find the scheduler or dashboard re-running it (the SQL shape above) and stop its retries until the cause is fixed.")
}

pub(crate) fn duration_text(ms: Option<i64>) -> String {
    match ms {
        Some(ms) if ms >= 60_000 => format!("{}m {:02}s", ms / 60_000, (ms % 60_000) / 1000),
        Some(ms) => format!("{:.1}s", ms as f64 / 1000.0),
        None => "-".into(),
    }
}

/// The expensive-query alert.
pub fn expensive_alert(
    q: &QueryExecution,
    charge: &Charge,
    why: &Expensive,
    caller: Option<&Caller>,
    hints: &CostHints,
    config: &CostConfig,
    now: DateTime<Utc>,
) -> Alert {
    let usd = charge.usd();
    let scanned = q.data_scanned_bytes.unwrap_or(0);
    let (title, reason) = headline(q, why);
    let billing = billing_text(q, charge, config);
    let region = &config.common.region;
    let queue_engine = format!(
        "{} queued + {} engine",
        duration_text(q.queue_ms),
        duration_text(q.engine_ms)
    );
    let alert = Alert::new(
        "ExpensiveQuery",
        Severity::Critical,
        FUNCTION,
        format!("{FUNCTION}/expensive/{}", q.id),
        now,
        title,
        format!(
            "Query {} {} having scanned {} ({}): {reason}.",
            q.id,
            q.state.as_str(),
            human_bytes(scanned),
            billing
        ),
    )
    .field("Cost", billing)
    .field("Scanned", human_bytes(scanned))
    .field("Workgroup", &q.workgroup)
    .run_by(caller)
    .field("Database", q.database.as_deref().unwrap_or("-"))
    .field(
        "State",
        match &q.state_change_reason {
            Some(r) => format!("{} ({})", q.state.as_str(), r),
            None => q.state.as_str().to_string(),
        },
    )
    .field("Duration", queue_engine)
    .field(
        "Submitted",
        q.submitted_at
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
            .unwrap_or_default(),
    )
    .field("Query", &q.id)
    .field("SQL", sql::excerpt(&q.sql, 1000))
    .attribute("workgroup", &q.workgroup)
    .link(
        "Query in the Athena console",
        console::athena_query(region, &q.id),
    )
    .detail("query_execution_id", &q.id)
    .detail("workgroup", &q.workgroup)
    .detail("database", &q.database)
    .detail("state", q.state)
    .detail("state_change_reason", &q.state_change_reason)
    .detail("cost_usd", usd)
    .detail("data_scanned_bytes", scanned)
    .detail("capacity_billed", matches!(charge, Charge::Capacity { .. }))
    .detail("queue_ms", q.queue_ms)
    .detail("engine_ms", q.engine_ms)
    .detail("submitted_at", q.submitted_at)
    .detail("completed_at", q.completed_at);
    with_hints(alert, hints)
}

/// The expensive-query alert's title, and why it counts as expensive.
fn headline(q: &QueryExecution, why: &Expensive) -> (String, String) {
    match why {
        Expensive::Cost { usd, threshold } => (
            format!(
                "Athena query cost {} in workgroup {}",
                format_usd(*usd),
                q.workgroup
            ),
            format!("above the {} threshold", format_usd(*threshold)),
        ),
        Expensive::Bytes { bytes, threshold } => (
            format!(
                "Athena query scanned {} in workgroup {}",
                human_bytes(*bytes),
                q.workgroup
            ),
            format!("at or above the {} scan threshold", human_bytes(*threshold)),
        ),
    }
}

/// `$20.00 at $5.00/TB`, or a capacity reservation's share:
/// `$1.20: 24 DPU × 10m 00s engine at $0.30/DPU-hour (capacity reservation)`.
fn billing_text(q: &QueryExecution, charge: &Charge, config: &CostConfig) -> String {
    match charge {
        Charge::Capacity {
            dpu_count: Some(dpu),
            usd,
            ..
        } => format!(
            "{}: {dpu} DPU × {} engine at {}/DPU-hour (capacity reservation)",
            format_usd(*usd),
            duration_text(q.engine_ms),
            format_usd(config.athena.price.usd_per_dpu_hour)
        ),
        Charge::Capacity {
            dpu_count: None, ..
        } => "capacity reservation; Athena reported no DPU count, so no price".to_string(),
        _ => format!(
            "{} at {}/TB",
            format_usd(charge.usd()),
            format_usd(config.athena.price.usd_per_tb)
        ),
    }
}

/// The next step of an expensive query no hint explains.
const GENERAL_ADVICE: &str = "Filter on the table's partition columns, select only the columns needed, or use a columnar format (Parquet/ORC).";

/// Why it cost so much: a "Why" field per hint after "Scanned", their fixes as the next steps
/// (the general advice when there is no hint), the hints in the details
/// (`cost_hints: [{kind, table, why, fix}]`) with why any are missing.
fn with_hints(mut alert: Alert, hints: &CostHints) -> Alert {
    let at = alert
        .fields
        .iter()
        .position(|(label, _)| label == "Scanned")
        .map_or(alert.fields.len(), |i| i + 1);
    for (i, h) in hints.hints.iter().enumerate() {
        alert
            .fields
            .insert(at + i, ("Why".to_string(), h.why.clone()));
    }
    if hints.hints.is_empty() {
        alert = alert.next_step(GENERAL_ADVICE);
    }
    for h in &hints.hints {
        alert = alert.next_step(h.fix.clone());
    }
    let detail: Vec<serde_json::Value> = hints
        .hints
        .iter()
        .map(|h| serde_json::json!({"kind": h.kind.id(), "table": h.table, "why": h.why, "fix": h.fix}))
        .collect();
    alert
        .detail("cost_hints", detail)
        .detail("cost_hints_unavailable", hints.lookup_failed.as_deref())
}
