//! query-cost-watcher: prices finished Athena queries the way AWS bills them and alerts on
//! expensive ones.
//!
//! Two triggers, one evaluation:
//! - the **scheduled sweep** considers, per workgroup, the queries that *completed* in its window
//!   ([`window::Window`]: windows tile time exactly, so each query is priced once without
//!   state), paging history back from the window by the longest a query can run
//!   (`MAX_QUERY_MINUTES`), and emits the spend metrics;
//! - the **Athena Query State Change** event evaluates its one query at once.
//!
//! Ownership of the expensive-query alert: whichever path sees the query first claims
//! `query-cost-watcher/expensive/<id>` in the alert ledger (a DynamoDB conditional put) and sends;
//! the other finds the claim and stays silent. The real-time event usually wins; when EventBridge
//! drops or delays it (delivery is best effort), the sweep still alerts. Metrics come from the
//! sweep only, so spend is never counted twice.
//!
//! Still to come (issue #3): daily budgets, spike detection, the daily digest, retry-storm
//! detection and the 10,000-query benchmark.

pub mod window;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use lakeops::alert::{Alert, AlertSink, Severity};
use lakeops::athena::{AthenaHistory, QueryExecution};
use lakeops::config::AthenaWatchSettings;
use lakeops::config::NonNegative;
use lakeops::ledger::{DynamoLedger, Ledger};
use lakeops::pricing::{format_usd, human_bytes, Charge};
use lakeops::schedule::ScheduledRun;
use lakeops::wiring::AthenaWatchClients;
use lakeops::{
    console, sql, CommonConfig, ConfigReader, LakeopsError, Metrics, SnsAlertPublisher, Unit,
};
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::{json, Value};

use crate::window::Window;

pub const FUNCTION: &str = "query-cost-watcher";
const LEDGER_KEEP_DAYS: i64 = 3;

#[derive(Debug, Clone)]
pub struct CostConfig {
    pub common: CommonConfig,
    /// `SWEEP_INTERVAL_MINUTES` (default 5): the schedule's interval = the window's length.
    pub interval: Duration,
    /// `COST_THRESHOLD_USD` (default 5.00): alert when a query costs more.
    pub threshold_usd: f64,
    /// `COST_THRESHOLD_USD_BY_WORKGROUP`: e.g. `etl=50,adhoc=2`.
    pub threshold_by_workgroup: BTreeMap<String, f64>,
    /// `BYTES_THRESHOLD` (optional): alert when a query scans at least this many bytes, whatever
    /// it costs (the only per-query signal for capacity-billed workgroups).
    pub bytes_threshold: Option<u64>,
    /// `WORKGROUPS`: workgroups to sweep; empty = every enabled workgroup.
    pub workgroups: Vec<String>,
    /// `MAX_QUERY_MINUTES` (default 300): the longest a query can take from submission to
    /// completion (Athena's DML timeout is at most 240 min, plus queueing). History is paged back
    /// this far before the window, so a query submitted long ago that completes in the window is
    /// still seen.
    pub max_query: Duration,
    /// Athena pace, price and alert ledger.
    pub athena: AthenaWatchSettings,
}

impl CostConfig {
    pub fn read(r: &mut ConfigReader) -> Self {
        let common = CommonConfig::read(r);
        let interval_minutes: u32 = r.parse_or("SWEEP_INTERVAL_MINUTES", 5);
        if !(1..=1440).contains(&interval_minutes) {
            r.problem("SWEEP_INTERVAL_MINUTES", "must be between 1 and 1440");
        }
        let threshold_usd: NonNegative = r.parse_or("COST_THRESHOLD_USD", NonNegative(5.0));
        let by_wg: BTreeMap<String, NonNegative> = r.map("COST_THRESHOLD_USD_BY_WORKGROUP");
        let max_query_minutes: u32 = r.parse_or("MAX_QUERY_MINUTES", 300);
        if max_query_minutes == 0 {
            r.problem("MAX_QUERY_MINUTES", "must be at least 1");
        }
        Self {
            common,
            interval: Duration::minutes(interval_minutes.max(1) as i64),
            threshold_usd: threshold_usd.0,
            threshold_by_workgroup: by_wg.into_iter().map(|(k, v)| (k, v.0)).collect(),
            bytes_threshold: r.optional_parsed("BYTES_THRESHOLD"),
            workgroups: r.list("WORKGROUPS"),
            max_query: Duration::minutes(max_query_minutes as i64),
            athena: AthenaWatchSettings::read(r),
        }
    }

    pub fn threshold_for(&self, workgroup: &str) -> f64 {
        self.threshold_by_workgroup
            .get(workgroup)
            .copied()
            .unwrap_or(self.threshold_usd)
    }
}

pub struct Deps {
    pub config: CostConfig,
    pub history: AthenaHistory,
    pub alerts: SnsAlertPublisher,
    pub ledger: DynamoLedger,
}

impl Deps {
    pub async fn from_env() -> Result<Self, LakeopsError> {
        let mut r = ConfigReader::from_env();
        let config = CostConfig::read(&mut r);
        r.finish()?;
        let clients = AthenaWatchClients::connect(&config.common, &config.athena).await;
        Ok(Self {
            history: clients.history,
            alerts: clients.alerts,
            ledger: clients.ledger,
            config,
        })
    }
}

/// Why a query is expensive, if it is.
#[derive(Debug, Clone, PartialEq)]
pub enum Expensive {
    Cost { usd: f64, threshold: f64 },
    Bytes { bytes: u64, threshold: u64 },
}

/// The per-query verdict, shared by both triggers.
pub fn assess(q: &QueryExecution, charge: &Charge, config: &CostConfig) -> Option<Expensive> {
    let threshold = config.threshold_for(&q.workgroup);
    if let Charge::Scanned { usd, .. } = charge {
        if *usd > threshold {
            return Some(Expensive::Cost {
                usd: *usd,
                threshold,
            });
        }
    }
    let bytes = q.data_scanned_bytes.unwrap_or(0);
    match config.bytes_threshold {
        Some(limit) if bytes >= limit && !matches!(charge, Charge::Free(_)) => {
            Some(Expensive::Bytes {
                bytes,
                threshold: limit,
            })
        }
        _ => None,
    }
}

/// What a run did.
#[derive(Debug, Default, Serialize)]
pub struct RunSummary {
    pub trigger: &'static str,
    pub window_start: Option<DateTime<Utc>>,
    pub window_end: Option<DateTime<Utc>>,
    pub workgroups: Vec<String>,
    pub queries_completed: usize,
    pub spend_usd: BTreeMap<String, f64>,
    pub expensive: Vec<String>,
    pub alerted: Vec<String>,
    pub failures: Vec<String>,
    pub unprocessed_ids: usize,
    pub list_calls: u32,
    pub batch_get_calls: u32,
}

pub async fn handle(event: LambdaEvent<Value>, deps: &Deps) -> Result<Value, LakeopsError> {
    let payload = &event.payload;
    let now = Utc::now();
    let summary = if payload.get("detail-type").and_then(Value::as_str)
        == Some("Athena Query State Change")
    {
        state_change(
            payload,
            &deps.history,
            &deps.alerts,
            &deps.ledger,
            &deps.config,
            now,
        )
        .await?
    } else {
        let run = ScheduledRun::from_event(payload, now)?;
        let mut metrics = Metrics::new(&deps.config.common.metrics_namespace);
        let window = Window::ending_at(run.time, deps.config.interval);
        let result = sweep(
            window,
            &deps.history,
            &deps.alerts,
            &deps.ledger,
            &deps.config,
            now,
            &mut metrics,
        )
        .await;
        metrics.flush();
        result?
    };
    tracing::info!(summary = %json!(summary), "run finished");
    if !summary.failures.is_empty() {
        return Err(LakeopsError::Undelivered(summary.failures.join("; ")));
    }
    Ok(json!(summary))
}

/// The sweep of one window over the configured workgroups.
pub async fn sweep<A: AlertSink, L: Ledger>(
    window: Window,
    history: &AthenaHistory,
    alerts: &A,
    ledger: &L,
    config: &CostConfig,
    now: DateTime<Utc>,
    metrics: &mut Metrics,
) -> Result<RunSummary, LakeopsError> {
    let workgroups = if config.workgroups.is_empty() {
        history.workgroups(true).await?
    } else {
        config.workgroups.clone()
    };
    let mut summary = RunSummary {
        trigger: "schedule",
        window_start: Some(window.start),
        window_end: Some(window.end),
        workgroups: workgroups.clone(),
        ..Default::default()
    };
    for wg in &workgroups {
        let recent = history
            .recent_queries(wg, window.start - config.max_query)
            .await?;
        summary.list_calls += recent.list_calls;
        summary.batch_get_calls += recent.batch_get_calls;
        if !recent.unprocessed.is_empty() {
            // A query we cannot read might be an expensive one: fail so the window is retried.
            summary.unprocessed_ids += recent.unprocessed.len();
            summary.failures.push(format!(
                "{} query ids of {wg} could not be read",
                recent.unprocessed.len()
            ));
        }
        let (mut spend, mut scanned, mut count, mut expensive_count) = (0.0, 0u64, 0u32, 0u32);
        for q in recent
            .queries
            .iter()
            .filter(|q| q.state.is_terminal() && q.completed_at.is_some_and(|t| window.contains(t)))
        {
            let charge = config.athena.price.charge(q);
            count += 1;
            spend += charge.usd();
            scanned += q.data_scanned_bytes.unwrap_or(0);
            if let Some(why) = assess(q, &charge, config) {
                expensive_count += 1;
                summary.expensive.push(q.id.clone());
                alert_once(q, &charge, &why, alerts, ledger, config, now, &mut summary).await;
            }
        }
        summary.queries_completed += count as usize;
        summary.spend_usd.insert(wg.clone(), spend);
        let dims = [("WorkGroup", wg.as_str())];
        metrics.record(&dims, "QueryCostUSD", spend, Unit::None);
        metrics.record(&dims, "DataScannedBytes", scanned as f64, Unit::Bytes);
        metrics.record(&dims, "QueryCount", count as f64, Unit::Count);
        metrics.record(
            &dims,
            "ExpensiveQueryCount",
            expensive_count as f64,
            Unit::Count,
        );
    }
    Ok(summary)
}

/// The real-time path: one query from an "Athena Query State Change" event.
pub async fn state_change<A: AlertSink, L: Ledger>(
    event: &Value,
    history: &AthenaHistory,
    alerts: &A,
    ledger: &L,
    config: &CostConfig,
    now: DateTime<Utc>,
) -> Result<RunSummary, LakeopsError> {
    let detail = &event["detail"];
    let id = detail["queryExecutionId"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            LakeopsError::InvalidInput(
                "Athena Query State Change event without detail.queryExecutionId".into(),
            )
        })?;
    let mut summary = RunSummary {
        trigger: "state-change",
        ..Default::default()
    };
    let (found, calls) = history.batch_get(&[id.to_string()]).await?;
    summary.batch_get_calls = calls;
    if let Some(u) = found.unprocessed.first() {
        return Err(LakeopsError::aws(
            "athena:BatchGetQueryExecution",
            std::io::Error::other(format!("query {id} unprocessed: {} {}", u.code, u.message)),
        ));
    }
    let Some(q) = found.executions.first() else {
        return Err(LakeopsError::InvalidInput(format!(
            "query {id} is unknown to Athena"
        )));
    };
    summary.workgroups.push(q.workgroup.clone());
    if !q.state.is_terminal() {
        // Events are delivered out of order: the query has not finished yet (or went back to
        // QUEUED); its terminal event or the sweep will price it.
        return Ok(summary);
    }
    if config.workgroups.is_empty() || config.workgroups.contains(&q.workgroup) {
        let charge = config.athena.price.charge(q);
        summary.queries_completed = 1;
        if let Some(why) = assess(q, &charge, config) {
            summary.expensive.push(q.id.clone());
            alert_once(q, &charge, &why, alerts, ledger, config, now, &mut summary).await;
        }
    }
    Ok(summary)
}

#[allow(clippy::too_many_arguments)]
async fn alert_once<A: AlertSink, L: Ledger>(
    q: &QueryExecution,
    charge: &Charge,
    why: &Expensive,
    alerts: &A,
    ledger: &L,
    config: &CostConfig,
    now: DateTime<Utc>,
    summary: &mut RunSummary,
) {
    let key = format!("{FUNCTION}/expensive/{}", q.id);
    let alert = expensive_alert(q, charge, why, config, now);
    match lakeops::ledger::send_once(
        ledger,
        alerts,
        &key,
        &alert,
        now,
        Duration::days(LEDGER_KEEP_DAYS),
    )
    .await
    {
        Ok(true) => summary.alerted.push(q.id.clone()),
        Ok(false) => {}
        Err(e) => summary.failures.push(format!("alert for {}: {e}", q.id)),
    }
}

fn duration_text(ms: Option<i64>) -> String {
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
    config: &CostConfig,
    now: DateTime<Utc>,
) -> Alert {
    let usd = charge.usd();
    let scanned = q.data_scanned_bytes.unwrap_or(0);
    let (title, reason) = match why {
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
    };
    let billing = match charge {
        Charge::Capacity { dpu_count } => {
            format!(
                "capacity-billed (per DPU-hour{}), no per-query price",
                dpu_count.map(|d| format!(", {d} DPU")).unwrap_or_default()
            )
        }
        _ => format!(
            "{} at {}/TB",
            format_usd(usd),
            format_usd(config.athena.price.usd_per_tb)
        ),
    };
    let region = &config.common.region;
    let queue_engine = format!(
        "{} queued + {} engine",
        duration_text(q.queue_ms),
        duration_text(q.engine_ms)
    );
    Alert::new(
        "ExpensiveQuery",
        Severity::Critical,
        FUNCTION,
        format!("{FUNCTION}/expensive/{}", q.id),
        now,
        title,
        format!("Query {} {} having scanned {} ({}): {reason}.", q.id, q.state.as_str(), human_bytes(scanned), billing),
    )
    .field("Cost", billing)
    .field("Scanned", human_bytes(scanned))
    .field("Workgroup", &q.workgroup)
    .field("Database", q.database.as_deref().unwrap_or("-"))
    .field("State", match &q.state_change_reason {
        Some(r) => format!("{} ({})", q.state.as_str(), r),
        None => q.state.as_str().to_string(),
    })
    .field("Duration", queue_engine)
    .field("Submitted", q.submitted_at.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)).unwrap_or_default())
    .field("Query", &q.id)
    .field("SQL", sql::excerpt(&q.sql, 1000))
    .attribute("workgroup", &q.workgroup)
    .link("Query in the Athena console", console::athena_query(region, &q.id))
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
    .detail("completed_at", q.completed_at)
    .next_step("Filter on the table's partition columns, select only the columns needed, or use a columnar format (Parquet/ORC).")
}

#[cfg(test)]
mod tests {
    use super::*;
    use lakeops::athena::{QueryState, StatementType};
    use lakeops::pricing::TB;

    fn config() -> CostConfig {
        let mut r = ConfigReader::from_map([
            ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:1:t"),
            ("LEDGER_TABLE", "l"),
            ("COST_THRESHOLD_USD_BY_WORKGROUP", "etl=50"),
            ("BYTES_THRESHOLD", "1000000000000"),
        ]);
        let c = CostConfig::read(&mut r);
        r.finish().unwrap();
        c
    }

    fn q(wg: &str, state: QueryState, st: StatementType, bytes: u64) -> QueryExecution {
        QueryExecution {
            workgroup: wg.into(),
            state,
            statement_type: st,
            data_scanned_bytes: Some(bytes),
            ..QueryExecution::example("q")
        }
    }

    #[test]
    fn thresholds_per_workgroup_and_bytes() {
        let c = config();
        let check = |query: &QueryExecution| assess(query, &c.athena.price.charge(query), &c);
        use QueryState::*;
        use StatementType::*;
        // 2 TiB = $10: over the $5 default, under etl's $50.
        assert!(matches!(
            check(&q("adhoc", Succeeded, Dml, 2 * TB)),
            Some(Expensive::Cost { .. })
        ));
        assert!(matches!(
            check(&q("etl", Succeeded, Dml, 2 * TB)),
            Some(Expensive::Bytes { .. })
        ));
        assert_eq!(check(&q("adhoc", Succeeded, Dml, TB / 2)), None);
        assert!(matches!(
            check(&q("adhoc", Cancelled, Dml, 2 * TB)),
            Some(Expensive::Cost { .. })
        ));
        assert_eq!(
            check(&q("adhoc", Failed, Dml, 2 * TB)),
            None,
            "FAILED is free"
        );
        assert_eq!(
            check(&q("adhoc", Succeeded, Ddl, 2 * TB)),
            None,
            "DDL is free"
        );
        let mut capacity = q("adhoc", Succeeded, Dml, 2 * TB);
        capacity.dpu_count = Some(24.0);
        assert!(
            matches!(check(&capacity), Some(Expensive::Bytes { .. })),
            "capacity queries only by bytes"
        );
    }

    #[test]
    fn the_alert_says_what_and_why() {
        let c = config();
        let mut query = q("adhoc", QueryState::Cancelled, StatementType::Dml, 3 * TB);
        query.state_change_reason = Some("Bytes scanned limit was exceeded".into());
        query.sql = "SELECT * FROM t WHERE email = 'someone@example.com'".into();
        let charge = c.athena.price.charge(&query);
        let why = assess(&query, &charge, &c).unwrap();
        let a = expensive_alert(&query, &charge, &why, &c, Utc::now());
        assert_eq!(a.title, "Athena query cost $15.00 in workgroup adhoc");
        let text = a.text_body();
        assert!(
            text.contains("CANCELLED (Bytes scanned limit was exceeded)"),
            "{text}"
        );
        assert!(
            text.contains("'some…'") && !text.contains("example.com"),
            "{text}"
        );
        assert_eq!(a.details["cost_usd"], 15.0);
    }
}
