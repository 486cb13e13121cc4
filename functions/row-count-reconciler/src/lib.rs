//! row-count-reconciler: compares source and target row counts and freshness of each pipeline,
//! declared once in a checks file ([`checks`]), on a schedule.
//!
//! One run: load and validate the checks file (every problem at once, nothing runs if any), work
//! out each check's window from the run date in the configured timezone ([`template`]), ask Glue
//! what it knows (partitions present, update times, Iceberg or not — [`catalog`]), start every
//! count query at once with bounded concurrency and collect the answers before the Lambda
//! deadline ([`runner`]), then compare ([`checks::Tolerance`]) and report: one alert per failing
//! check, EMF metrics per check, a summary in the log and, optionally, JSON lines in S3.
//!
//! Counting method per side: an Iceberg table (Glue `table_type=ICEBERG`) counted over identity
//! partition keys only is counted from its `$files` metadata (`record_count` of the data files) —
//! unless its current snapshot's summary states deletes (or no delete totals), which make metadata
//! over-count; then a `COUNT(*)` is run ([`iceberg`]). Other
//! tables always get a `COUNT(*)` pruned by the partition and filter. Glue's crawler
//! `recordCount` is an estimate and is never used.

pub mod catalog;
pub mod checks;
pub mod history;
pub mod iceberg;
pub mod runner;
pub mod sqlsafe;
pub mod template;

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use chrono_tz::Tz;
use lakeops::alert::{Alert, AlertSink, Severity};
use lakeops::config::{AthenaWatchSettings, ConfigError, ConfigProblem};
use lakeops::ledger::{DynamoLedger, Ledger};
use lakeops::pricing::human_bytes;
use lakeops::schedule::ScheduledRun;
use lakeops::wiring::AthenaWatchClients;
use lakeops::{
    console, CommonConfig, ConfigReader, LakeopsError, Metrics, SnsAlertPublisher, Unit,
};
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::catalog::{Catalog, TableInfo, TypedLiteral};
use crate::checks::{
    Check, CheckSeverity, Comparison, Counted, DeclaredSide, Freshness, FreshnessMeasure,
};
use crate::runner::{Job, Outcome, QueryRunner};
use crate::sqlsafe::{literal, quote_identifier, TableName};
use crate::template::RunDate;

pub const FUNCTION: &str = "row-count-reconciler";
const LEDGER_KEEP_DAYS: i64 = 3;
/// Glue `GetTable` calls in flight at once while a run reads its tables.
const GLUE_READS_AT_ONCE: usize = 8;

#[derive(Debug, Clone)]
pub struct ReconcilerConfig {
    pub common: CommonConfig,
    /// `CHECKS_CONFIG` (required): `s3://bucket/key.yaml`, or a path to a file shipped with the
    /// function. Read on every run, so an edit applies to the next run.
    pub checks_config: String,
    /// `ATHENA_WORKGROUP` (default `primary`): where the count queries run.
    pub workgroup: String,
    /// `ATHENA_OUTPUT_LOCATION` (optional): query results location, unless the workgroup sets one.
    pub output_location: Option<String>,
    /// `TIMEZONE` (default `Asia/Seoul`): where the run date and day boundaries are.
    pub timezone: Tz,
    /// `MAX_CONCURRENT_QUERIES` (default 5): count queries running at once (1 to 50; Athena's
    /// active-query quota is per account).
    pub concurrency: usize,
    /// `DEADLINE_MARGIN_SECONDS` (default 15): stop waiting this long before the Lambda deadline
    /// (time to stop what is still running and report).
    pub deadline_margin: StdDuration,
    /// `RESULTS_S3_URI` (optional): `s3://bucket/prefix` for one JSON line per check result.
    pub results_uri: Option<(String, String)>,
    /// Price (USD_PER_TB), Athena pace and the alert ledger (LEDGER_TABLE).
    pub athena: AthenaWatchSettings,
}

/// The results files' key prefix: `RESULTS_S3_URI`'s path with a trailing `/` (or nothing).
fn results_prefix(prefix: &str) -> String {
    if prefix.is_empty() || prefix.ends_with('/') {
        prefix.to_string()
    } else {
        format!("{prefix}/")
    }
}

/// `s3://bucket/key` → (bucket, key).
pub fn parse_s3_uri(uri: &str) -> Option<(String, String)> {
    let rest = uri.strip_prefix("s3://")?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then(|| (bucket.to_string(), key.to_string()))
}

impl ReconcilerConfig {
    pub fn read(r: &mut ConfigReader) -> Self {
        let common = CommonConfig::read(r);
        let checks_config = r.required("CHECKS_CONFIG");
        if checks_config.starts_with("s3://")
            && parse_s3_uri(&checks_config).is_none_or(|(_, k)| k.is_empty())
        {
            r.problem("CHECKS_CONFIG", "an S3 location must be s3://bucket/key");
        }
        let concurrency: usize = r.parse_or("MAX_CONCURRENT_QUERIES", 5);
        if !(1..=50).contains(&concurrency) {
            r.problem("MAX_CONCURRENT_QUERIES", "must be between 1 and 50");
        }
        let results_uri = r.optional("RESULTS_S3_URI");
        let results = results_uri.as_deref().and_then(parse_s3_uri);
        if results_uri.is_some() && results.is_none() {
            r.problem("RESULTS_S3_URI", "must be s3://bucket/prefix");
        }
        Self {
            common,
            checks_config,
            workgroup: r.string_or("ATHENA_WORKGROUP", "primary"),
            output_location: r.optional("ATHENA_OUTPUT_LOCATION"),
            timezone: r.timezone("TIMEZONE", chrono_tz::Asia::Seoul),
            concurrency: concurrency.clamp(1, 50),
            deadline_margin: StdDuration::from_secs(r.parse_or("DEADLINE_MARGIN_SECONDS", 15)),
            results_uri: results,
            athena: AthenaWatchSettings::read(r),
        }
    }
}

pub struct Deps<A = SnsAlertPublisher, L = DynamoLedger> {
    pub config: ReconcilerConfig,
    pub runner: QueryRunner,
    pub catalog: Catalog,
    pub s3: aws_sdk_s3::Client,
    pub alerts: A,
    pub ledger: L,
}

impl Deps {
    pub async fn from_env() -> Result<Self, LakeopsError> {
        let mut r = ConfigReader::from_env();
        let config = ReconcilerConfig::read(&mut r);
        r.finish()?;
        let clients = AthenaWatchClients::connect(&config.common, &config.athena).await;
        let sdk = lakeops::aws::sdk_config().await;
        Ok(Self {
            runner: QueryRunner {
                history: clients.history,
                workgroup: config.workgroup.clone(),
                output_location: config.output_location.clone(),
                concurrency: config.concurrency,
            },
            catalog: Catalog {
                client: aws_sdk_glue::Client::new(&sdk),
            },
            s3: aws_sdk_s3::Client::new(&sdk),
            alerts: clients.alerts,
            ledger: clients.ledger,
            config,
        })
    }
}

/// How a side's rows were counted (said in every result).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CountMethod {
    /// `SELECT count(*)` pruned by the partition and filter.
    CountStar,
    /// Sum of `record_count` over the Iceberg data files (`$files`); the current snapshot's
    /// summary states no deletes ([`iceberg`]).
    IcebergMetadata,
    /// Iceberg whose metadata cannot be trusted (deletes, or a summary without delete totals):
    /// `count(*)`; `method_reason` says why.
    CountStarIcebergHasDeletes,
    /// Iceberg whose partition spec does not map the window onto partitions (a transform that
    /// is not a day, a key that is not an identity partition, partition evolution, metadata
    /// that cannot be read): `count(*)`; `method_reason` says why.
    CountStarIceberg,
    /// The check's own query.
    Sql,
}

/// One side of one check run, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct SideResult {
    /// The table, or `sql`.
    pub counted: String,
    /// The rendered window (`WHERE` text) or query.
    pub window: String,
    pub method: CountMethod,
    /// Why this method rather than the cheaper one, where it was not the first choice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method_reason: Option<String>,
    pub rows: Option<u64>,
    pub query_ids: Vec<String>,
    pub scanned_bytes: u64,
    pub partition_present: Option<bool>,
    pub fresh_as_of: Option<DateTime<Utc>>,
    pub age_seconds: Option<i64>,
    pub max_age_hours: Option<f64>,
    pub error: Option<String>,
    pub unfinished: bool,
    #[serde(skip)]
    sql: String,
    #[serde(skip)]
    fallback_sql: Option<String>,
    #[serde(skip)]
    expect_partition: bool,
    /// A `count(*)` side whose window is its partition values and day window only (disjoint
    /// from day to day): the table and the predicate, so look-back days can share one grouped
    /// query.
    #[serde(skip)]
    groupable: Option<(String, String)>,
    /// `fresh_as_of` is a bound: the freshness query looked back only to it and found nothing
    /// newer, so the data is at least this old.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fresh_at_most: bool,
    /// How far back a `column:` freshness query looks (pruned to recent data).
    #[serde(skip)]
    freshness_floor: Option<DateTime<Utc>>,
    /// The count can run: its window and query were prepared without error (a freshness that
    /// cannot be measured is an error of the side, not a reason to skip its count).
    #[serde(skip)]
    countable: bool,
    /// With `group_by`: the count of each segment (the group-by values joined by ` / `).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments: Option<BTreeMap<String, u64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Stale,
    Mismatch,
    VolumeAnomaly,
    TooFewRows,
    MissingPartition,
    Unfinished,
    Error,
}

impl Status {
    fn alert_kind(self) -> &'static str {
        match self {
            Status::Ok => "RowCountOk",
            Status::Stale => "StaleData",
            Status::Mismatch => "RowCountMismatch",
            Status::TooFewRows => "TooFewRows",
            Status::VolumeAnomaly => "VolumeAnomaly",
            Status::MissingPartition => "MissingPartition",
            Status::Unfinished => "CheckUnfinished",
            Status::Error => "CheckError",
        }
    }
}

/// One check on one date.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub check: String,
    pub run_date: String,
    /// 0 for the run's own date, N for the N-th look-back day.
    pub lookback_day: u32,
    pub status: Status,
    pub problems: Vec<String>,
    pub source: SideResult,
    pub target: SideResult,
    pub comparison: Option<Comparison>,
    /// With `group_by`: every segment's comparison.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments: Option<Vec<SegmentComparison>>,
    /// The target count far outside its history, with that history.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_anomaly: Option<history::Anomaly>,
    pub tolerance: checks::Tolerance,
    pub severity: CheckSeverity,
    pub owner: Option<String>,
    pub tags: BTreeMap<String, String>,
}

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

/// The overrides a scheduled event may carry.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RunOverrides {
    pub checks: Option<Vec<String>>,
    pub date: Option<NaiveDate>,
}

pub fn overrides(run: &ScheduledRun) -> Result<RunOverrides, LakeopsError> {
    let mut o = RunOverrides::default();
    match run.overrides.get("checks") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            let names: Option<Vec<String>> = items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect();
            o.checks = Some(names.ok_or_else(|| {
                LakeopsError::InvalidInput(
                    "override \"checks\" must be a list of check names".into(),
                )
            })?);
        }
        Some(other) => {
            return Err(LakeopsError::InvalidInput(format!(
                "override \"checks\" must be a list of check names, got {other}"
            )))
        }
    }
    o.date = run.date_override("date")?;
    Ok(o)
}

pub async fn handle<A: AlertSink, L: Ledger>(
    event: LambdaEvent<Value>,
    deps: &Deps<A, L>,
) -> Result<Value, LakeopsError> {
    let now = Utc::now();
    let run = ScheduledRun::from_event(&event.payload, now)?;
    let o = overrides(&run)?;
    // Stop waiting for queries this long before the Lambda deadline (15 min when there is none).
    let remaining = lakeops::deadline::remaining(event.context.deadline, now.timestamp_millis())
        .unwrap_or(StdDuration::from_secs(900));
    let deadline = Instant::now() + remaining.saturating_sub(deps.config.deadline_margin);
    let run_id = run
        .event_id
        .clone()
        .unwrap_or_else(|| run.time.to_rfc3339_opts(SecondsFormat::Secs, true));
    let summary = deps.reconcile(&run, &o, &run_id, deadline, now).await?;
    tracing::info!(summary = %json!(summary), "run finished");
    if !summary.failures.is_empty() {
        return Err(LakeopsError::Undelivered(summary.failures.join("; ")));
    }
    Ok(json!(summary))
}

/// What a job's answer is for.
#[derive(Debug, Clone, Copy)]
enum JobFor {
    Count {
        run: usize,
        target: bool,
    },
    Metadata {
        run: usize,
        target: bool,
    },
    Freshness {
        run: usize,
        target: bool,
    },
    /// One query counting a side over all its look-back days: `Prepared::groups[group]`.
    Grouped {
        group: usize,
    },
}

impl JobFor {
    /// The planned run and side (target or not) the answer belongs to, or for a grouped
    /// count its group (the answer of several runs).
    fn side(self) -> Result<(usize, bool), usize> {
        match self {
            JobFor::Count { run, target }
            | JobFor::Metadata { run, target }
            | JobFor::Freshness { run, target } => Ok((run, target)),
            JobFor::Grouped { group } => Err(group),
        }
    }
}

/// One check on one day: the run date (`lookback_day` 0) or a look-back day.
struct Plan {
    check: usize,
    lookback_day: u32,
    date: RunDate,
}

/// Every check on its run date and each look-back day.
fn plan(selected: &[Check], base: &RunDate) -> Vec<Plan> {
    selected
        .iter()
        .enumerate()
        .flat_map(|(check, c)| {
            (0..=c.lookback_days).map(move |k| Plan {
                check,
                lookback_day: k,
                date: base.days_before(k as i64),
            })
        })
        .collect()
}

/// The planned runs' sides (source, target) and the queries that will fill them in.
#[derive(Default)]
struct Prepared {
    sides: Vec<[SideResult; 2]>,
    jobs: Vec<Job>,
    job_for: Vec<JobFor>,
    /// Grouped counts: which side (target or not) of which planned runs, in look-back order.
    groups: Vec<(bool, Vec<usize>)>,
}

/// The count and metadata queries of every side that has no error. A check with look-back days
/// counts each `count(*)` side over all its days in one grouped query when every day's window is
/// its partition values and day window only (disjoint days, so each row falls in one); otherwise
/// one query per day.
fn plan_counts(selected: &[Check], plans: &[Plan], prepared: &mut Prepared) {
    let mut jobs: Vec<(JobFor, String, Option<u64>)> = Vec::new();
    for (ci, c) in selected.iter().enumerate() {
        let runs: Vec<usize> = (0..plans.len()).filter(|&i| plans[i].check == ci).collect();
        for target in [false, true] {
            let sides: Vec<&SideResult> = runs
                .iter()
                .map(|&run| &prepared.sides[run][usize::from(target)])
                .collect();
            let windows: Option<Vec<&(String, String)>> = sides
                .iter()
                .map(|s| {
                    (s.countable && s.method == CountMethod::CountStar)
                        .then_some(s.groupable.as_ref())
                        .flatten()
                })
                .collect();
            let grouped = windows.filter(|w| {
                w.len() > 1
                    && w.iter().all(|(table, _)| *table == w[0].0)
                    && w.iter()
                        .enumerate()
                        .all(|(i, a)| w[..i].iter().all(|b| b.1 != a.1))
            });
            if let Some(windows) = grouped {
                let sql = grouped_count(&windows[0].0, windows.iter().map(|(_, p)| p.as_str()));
                jobs.push((
                    JobFor::Grouped {
                        group: prepared.groups.len(),
                    },
                    sql,
                    c.bytes_cap,
                ));
                prepared.groups.push((target, runs.clone()));
                continue;
            }
            for (&run, s) in runs.iter().zip(&sides) {
                if !s.countable {
                    continue;
                }
                let purpose = if s.method == CountMethod::IcebergMetadata {
                    JobFor::Metadata { run, target }
                } else {
                    JobFor::Count { run, target }
                };
                jobs.push((purpose, s.sql.clone(), c.bytes_cap));
            }
        }
    }
    for (purpose, sql, bytes_cap) in jobs {
        prepared.add(purpose, sql, bytes_cap);
    }
}

/// `SELECT CASE WHEN (<day 0>) THEN 0 WHEN (<day 1>) THEN 1 … END, count(*) FROM t WHERE
/// (<day 0>) OR (<day 1>) … GROUP BY 1`: each day's count in one scan (partition pruning keeps
/// the OR of partition equalities).
fn grouped_count<'a>(table: &str, windows: impl Iterator<Item = &'a str> + Clone) -> String {
    let cases: Vec<String> = windows
        .clone()
        .enumerate()
        .map(|(k, p)| format!("WHEN ({p}) THEN {k}"))
        .collect();
    let any: Vec<String> = windows.map(|p| format!("({p})")).collect();
    format!(
        "SELECT CASE {} END AS lookback_day, count(*) FROM {table} WHERE {} GROUP BY 1",
        cases.join(" "),
        any.join(" OR ")
    )
}

/// A grouped count's answer, given to each of its days' sides (a day with no row counted 0).
fn record_grouped(
    prepared: &mut Prepared,
    group: usize,
    outcome: &Outcome,
    summary: &mut RunSummary,
) {
    let (target, runs) = prepared.groups[group].clone();
    summary.scanned_bytes += outcome.scanned_bytes();
    let mut counts: BTreeMap<u64, u64> = BTreeMap::new();
    let mut shape_error = None;
    if let Outcome::Succeeded {
        rows, engine_ms, ..
    } = outcome
    {
        summary.query_engine_ms_sum += engine_ms.unwrap_or(0);
        for row in rows {
            let cell = |i: usize| row.get(i)?.as_deref()?.trim().parse::<u64>().ok();
            match (cell(0), cell(1)) {
                (Some(k), Some(n)) => {
                    counts.insert(k, n);
                }
                _ => shape_error = Some(format!("the grouped count returned {}", shape(rows))),
            }
        }
    }
    for (k, run) in runs.into_iter().enumerate() {
        let side = &mut prepared.sides[run][usize::from(target)];
        if k == 0 {
            side.scanned_bytes += outcome.scanned_bytes();
        }
        if let Some(id) = outcome.id() {
            side.query_ids.push(id.to_string());
        }
        match outcome {
            Outcome::Succeeded { .. } => match &shape_error {
                Some(e) => side.error = Some(e.clone()),
                None => side.rows = Some(counts.get(&(k as u64)).copied().unwrap_or(0)),
            },
            _ => record_unsuccessful(side, outcome),
        }
    }
}

impl Prepared {
    fn add(&mut self, purpose: JobFor, sql: String, bytes_cap: Option<u64>) {
        self.jobs.push(Job {
            key: self.job_for.len(),
            sql,
            bytes_cap,
        });
        self.job_for.push(purpose);
    }
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

/// The verdicts, and the EMF metrics of each check's own run date.
fn evaluate_all(
    selected: &[Check],
    plans: &[Plan],
    sides: Vec<[SideResult; 2]>,
    history: &history::History,
    common: &CommonConfig,
) -> Vec<CheckResult> {
    let mut metrics = Metrics::new(&common.metrics_namespace);
    let mut results = Vec::with_capacity(plans.len());
    let mut scanned = 0;
    for (plan, [mut source, mut target]) in plans.iter().zip(sides) {
        for s in [&mut source, &mut target] {
            s.age_seconds = s
                .fresh_as_of
                .map(|t| (plan.date.time - t).num_seconds().max(0));
            scanned += s.scanned_bytes;
        }
        let result = evaluate(
            &selected[plan.check],
            plan.lookback_day,
            &plan.date,
            source,
            target,
            history,
        );
        if plan.lookback_day == 0 {
            record_metrics(&mut metrics, &result);
        }
        results.push(result);
    }
    metrics.record(&[], "ReconcilerBytesScanned", scanned as f64, Unit::Bytes);
    metrics.flush();
    results
}

impl<A: AlertSink, L: Ledger> Deps<A, L> {
    /// Loads the checks file: S3 or a local path.
    pub async fn load_checks(&self) -> Result<Vec<Check>, LakeopsError> {
        let origin = &self.config.checks_config;
        let text = if let Some((bucket, key)) = parse_s3_uri(origin) {
            let bytes = self.object_bytes(&bucket, &key).await?;
            String::from_utf8(bytes).map_err(|_| {
                LakeopsError::Config(config_error(origin, vec!["not UTF-8 text".into()]))
            })?
        } else {
            std::fs::read_to_string(origin).map_err(|e| {
                LakeopsError::Config(config_error(origin, vec![format!("cannot read: {e}")]))
            })?
        };
        checks::parse(&text, origin)
            .map_err(|e| LakeopsError::Config(config_error(origin, e.problems)))
    }

    /// One run, in its phases: choose the checks, plan every (check, day), prepare each side
    /// (window, query, what Glue knows), run the queries, evaluate, report.
    pub async fn reconcile(
        &self,
        run: &ScheduledRun,
        o: &RunOverrides,
        run_id: &str,
        deadline: Instant,
        now: DateTime<Utc>,
    ) -> Result<RunSummary, LakeopsError> {
        let config = &self.config;
        let selected = self.select_checks(o, run_id, now).await?;
        let base = match o.date {
            Some(d) => RunDate::on(d, run.time, config.timezone),
            None => RunDate::at(run.time, config.timezone),
        };
        let mut summary = RunSummary {
            run_date: base.day.to_string(),
            checks: selected.len(),
            ..Default::default()
        };
        let plans = plan(&selected, &base);
        let mut prepared = self.prepare(&selected, &plans, deadline).await;
        self.run_queries(&selected, &plans, &mut prepared, deadline, &mut summary)
            .await;
        let history = self.load_history(&selected, &base, &mut summary).await;
        let results = evaluate_all(&selected, &plans, prepared.sides, &history, &config.common);
        self.report(&selected, &results, &base, run_id, now, &mut summary)
            .await;
        Ok(summary)
    }

    /// The checks file's checks, or those the event names. A broken file runs nothing and
    /// raises `ChecksFileInvalid`; an S3 read error is returned for a retry.
    async fn select_checks(
        &self,
        o: &RunOverrides,
        run_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Check>, LakeopsError> {
        let all = match self.load_checks().await {
            Ok(c) => c,
            // S3 could not be read: a retryable AWS error, not a broken file.
            Err(e @ LakeopsError::Aws { .. }) => return Err(e),
            Err(e) => {
                // The file is broken: nothing runs; say so loudly (the Errors alarm fires too).
                let alert = Alert::new(
                    "ChecksFileInvalid",
                    Severity::Critical,
                    FUNCTION,
                    format!("{FUNCTION}/{run_id}/checks-file"),
                    now,
                    "Row-count checks did not run: the checks file is invalid",
                    e.to_string(),
                )
                .field("Checks file", &self.config.checks_config)
                .next_step("Fix the problems listed (each names its check and line) and re-run.");
                let mut failures = Vec::new();
                lakeops::ledger::send_alert_once(
                    &self.ledger,
                    &self.alerts,
                    &alert,
                    Duration::days(LEDGER_KEEP_DAYS),
                    &mut Vec::new(),
                    &mut failures,
                )
                .await;
                for f in failures {
                    tracing::error!(failure = f, "the checks-file alert was not delivered");
                }
                return Err(e);
            }
        };
        let Some(names) = &o.checks else {
            return Ok(all);
        };
        let unknown: Vec<&String> = names
            .iter()
            .filter(|n| !all.iter().any(|c| &c.name == *n))
            .collect();
        if !unknown.is_empty() {
            return Err(LakeopsError::InvalidInput(format!(
                "unknown checks {unknown:?}; the file declares {:?}",
                all.iter().map(|c| c.name.as_str()).collect::<Vec<_>>()
            )));
        }
        Ok(all
            .into_iter()
            .filter(|c| names.contains(&c.name))
            .collect())
    }

    /// Every planned (check, day)'s two sides, and the queries they need.
    async fn prepare(&self, selected: &[Check], plans: &[Plan], deadline: Instant) -> Prepared {
        let mut tables = self.read_tables(selected).await;
        let mut prepared = Prepared::default();
        for (run_idx, plan) in plans.iter().enumerate() {
            let c = &selected[plan.check];
            let mut pair = Vec::with_capacity(2);
            for (target, side) in [(false, &c.source), (true, &c.target)] {
                let (mut result, info) = self
                    .prepare_side(side, &c.group_by, &plan.date, &mut tables)
                    .await;
                result.countable = result.error.is_none();
                // Freshness is about now, not about a look-back day: measured once per check.
                if plan.lookback_day == 0 {
                    if let Some(f) = &side.freshness {
                        self.prepare_freshness(
                            f,
                            side,
                            info.as_ref(),
                            &mut result,
                            &mut prepared,
                            (run_idx, target, c.bytes_cap, deadline, plan.date.time),
                        )
                        .await;
                    }
                }
                pair.push(result);
            }
            let target = pair.pop().expect("two sides");
            let source = pair.pop().expect("two sides");
            prepared.sides.push([source, target]);
        }
        plan_counts(selected, plans, &mut prepared);
        prepared
    }

    /// Every Glue table the checks name, read [`GLUE_READS_AT_ONCE`] at a time before the sides
    /// are prepared (one at a time, a run with many tables spent its time here before the
    /// deadline-aware runner even started).
    async fn read_tables(&self, selected: &[Check]) -> BTreeMap<String, Result<TableInfo, String>> {
        let names: BTreeMap<String, TableName> = selected
            .iter()
            .flat_map(|c| [c.source.table(), c.target.table()])
            .flatten()
            .filter(|t| t.in_glue())
            .map(|t| (t.to_string(), t.clone()))
            .collect();
        let mut tables = BTreeMap::new();
        let names: Vec<(String, TableName)> = names.into_iter().collect();
        for chunk in names.chunks(GLUE_READS_AT_ONCE) {
            let mut reads = tokio::task::JoinSet::new();
            for (key, name) in chunk.iter().cloned() {
                let catalog = Catalog {
                    client: self.catalog.client.clone(),
                };
                reads.spawn(async move {
                    let read = catalog.table(&name).await.map_err(|e| e.to_string());
                    (key, read)
                });
            }
            while let Some(done) = reads.join_next().await {
                match done {
                    Ok((key, read)) => {
                        tables.insert(key, read);
                    }
                    // A read that panicked is read again, in line, by the side that needs it.
                    Err(e) => tracing::error!(error = %e, "a Glue table read did not finish"),
                }
            }
        }
        tables
    }

    /// Reads a side's freshness from Glue, or plans the `max(column)` query that reads it.
    async fn prepare_freshness(
        &self,
        f: &Freshness,
        side: &DeclaredSide,
        info: Option<&TableInfo>,
        result: &mut SideResult,
        prepared: &mut Prepared,
        (run, target, bytes_cap, deadline, run_time): (
            usize,
            bool,
            Option<u64>,
            Instant,
            DateTime<Utc>,
        ),
    ) {
        result.max_age_hours = Some(f.max_age_hours);
        // A freshness that cannot be measured is an error naming why, never a silent pass.
        let cannot = |result: &mut SideResult, why: &str| {
            if result.error.is_none() {
                result.error = Some(format!("freshness cannot be measured: {why}"));
            }
        };
        match (&f.measure, side.table(), info) {
            (FreshnessMeasure::TableUpdated, _, Some(info)) => match info.updated_at {
                Some(t) => result.fresh_as_of = Some(t),
                None => cannot(result, "Glue has no UpdateTime for the table"),
            },
            (
                FreshnessMeasure::NewestPartitionCreated | FreshnessMeasure::NewestPartitionValue,
                Some(t),
                Some(_),
            ) => {
                let by_value = f.measure == FreshnessMeasure::NewestPartitionValue;
                match self.catalog.newest_partition(t, by_value, deadline).await {
                    Ok(Some(p)) if by_value => {
                        result.fresh_as_of = p
                            .values
                            .first()
                            .and_then(|v| catalog::partition_value_end(v, self.config.timezone));
                        if result.fresh_as_of.is_none() {
                            result.error = Some(format!(
                                "newest partition value {:?} is not a date",
                                p.values.first()
                            ));
                        }
                    }
                    Ok(Some(p)) => match p.created_at {
                        Some(t) => result.fresh_as_of = Some(t),
                        None => cannot(result, "Glue gives the newest partition no creation time"),
                    },
                    Ok(None) => cannot(
                        result,
                        "Glue lists no partitions (a partition-projected or Iceberg table? use column:<name>)",
                    ),
                    Err(e) => result.error = Some(e.to_string()),
                }
            }
            (FreshnessMeasure::Column(col), Some(t), _) => {
                // Only recent data is read: values since a day beyond the allowed age (the
                // column's own predicate prunes Iceberg hidden partitions and Parquet row
                // groups; a DATE first partition key prunes Hive partitions too). Nothing
                // there means at least that old.
                // max_age_hours is validated to at most ten years: no overflow here.
                let floor =
                    run_time - Duration::seconds((f.max_age_hours * 3600.0) as i64 + 86_400);
                result.freshness_floor = Some(floor);
                let column_type = |c: &str| info.and_then(|i| i.column_type(c));
                let since = |c: &str| match column_type(c) {
                    Some("date") => format!(
                        "{} >= DATE '{}'",
                        quote_identifier(c),
                        floor.format("%Y-%m-%d")
                    ),
                    _ => format!(
                        "{} >= TIMESTAMP '{}'",
                        quote_identifier(c),
                        floor.format("%Y-%m-%d %H:%M:%S")
                    ),
                };
                let mut predicates = vec![since(col)];
                if let Some((key, _)) = info
                    .and_then(|i| i.partition_keys.first())
                    .filter(|(k, t)| t == "date" && !k.eq_ignore_ascii_case(col))
                {
                    predicates.push(since(key));
                }
                prepared.add(
                    JobFor::Freshness { run, target },
                    format!(
                        "SELECT max({}) FROM {} WHERE {}",
                        quote_identifier(col),
                        t.quoted(""),
                        predicates.join(" AND ")
                    ),
                    bytes_cap,
                )
            }
            // The table's Glue entry could not be read: that error is already the side's.
            (_, _, None) => cannot(result, "the table's Glue entry could not be read"),
            _ => cannot(result, "this measure does not apply to this side"),
        }
    }

    /// Runs every query at once; then the `count(*)` fallbacks for Iceberg tables whose
    /// metadata cannot be trusted.
    async fn run_queries(
        &self,
        selected: &[Check],
        plans: &[Plan],
        prepared: &mut Prepared,
        deadline: Instant,
        summary: &mut RunSummary,
    ) {
        let started = std::time::Instant::now();
        let mut fallbacks = Prepared::default();
        let outcomes = self
            .runner
            .run(std::mem::take(&mut prepared.jobs), deadline)
            .await;
        summary.queries += outcomes.len();
        for (key, outcome) in outcomes {
            let purpose = prepared.job_for[key];
            let (run_idx, target) = match purpose.side() {
                Ok(side) => side,
                Err(group) => {
                    record_grouped(prepared, group, &outcome, summary);
                    continue;
                }
            };
            let bytes_cap = selected[plans[run_idx].check].bytes_cap;
            let side = &mut prepared.sides[run_idx][usize::from(target)];
            record_outcome(side, purpose, &outcome, summary);
            if let (JobFor::Metadata { .. }, Outcome::Succeeded { rows, .. }) = (purpose, &outcome)
            {
                if let Some(why) = iceberg::untrusted_because(rows) {
                    side.method = CountMethod::CountStarIcebergHasDeletes;
                    side.method_reason = Some(why);
                    side.rows = None;
                    side.error = None;
                    if let Some(sql) = side.fallback_sql.clone() {
                        fallbacks.add(
                            JobFor::Count {
                                run: run_idx,
                                target,
                            },
                            sql,
                            bytes_cap,
                        );
                    }
                }
            }
        }
        if !fallbacks.jobs.is_empty() {
            let outcomes = self.runner.run(fallbacks.jobs, deadline).await;
            summary.queries += outcomes.len();
            for (key, outcome) in outcomes {
                let purpose = fallbacks.job_for[key];
                // Fallbacks are single counts, never grouped.
                let Ok((run, target)) = purpose.side() else {
                    continue;
                };
                record_outcome(
                    &mut prepared.sides[run][usize::from(target)],
                    purpose,
                    &outcome,
                    summary,
                );
            }
        }
        summary.query_wall_ms = started.elapsed().as_millis();
        summary.cost_usd = self.config.athena.price.usd_for_scan(summary.scanned_bytes);
    }

    /// The volume history of the checks that use it, from the results files of the run dates
    /// before this one (none without `RESULTS_S3_URI`). A read error costs the anomaly test for
    /// this run, not the run: it is listed in the summary's failures (the run then fails and is
    /// retried).
    async fn load_history(
        &self,
        selected: &[Check],
        base: &RunDate,
        summary: &mut RunSummary,
    ) -> history::History {
        let mut history = history::History::default();
        let Some(days) = selected
            .iter()
            .filter_map(|c| c.volume)
            .map(|v| v.history_days)
            .max()
        else {
            return history;
        };
        let Some((bucket, prefix)) = &self.config.results_uri else {
            return history;
        };
        let first = base.days_before(i64::from(days)).day;
        let dates = format!("{}run_date=", results_prefix(prefix));
        let mut keys: Vec<(aws_smithy_types::DateTime, String)> = Vec::new();
        let mut token = None;
        loop {
            let page = match self
                .s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(&dates)
                .start_after(format!("{dates}{first}"))
                .set_continuation_token(token)
                .send()
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    summary
                        .failures
                        .push(LakeopsError::aws("s3:ListObjectsV2", e).to_string());
                    return history;
                }
            };
            for o in page.contents() {
                let key = o.key().unwrap_or_default();
                // This run's own date (a re-run) is not its own history.
                if key.starts_with(&format!("{dates}{}", base.day)) {
                    continue;
                }
                if let Some(t) = o.last_modified() {
                    keys.push((*t, key.to_string()));
                }
            }
            token = page.next_continuation_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        // Oldest first, so a later re-run of a date overwrites an earlier one.
        keys.sort();
        for (_, key) in keys {
            let text = match self.object_bytes(bucket, &key).await {
                Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                Err(e) => {
                    summary.failures.push(e.to_string());
                    continue;
                }
            };
            let unreadable = history.add_file(&text);
            if unreadable > 0 {
                tracing::warn!(
                    key,
                    unreadable,
                    "results lines that are not results were skipped"
                );
            }
        }
        history
    }

    /// One alert per failing result (once, through the ledger), and the results file.
    async fn report(
        &self,
        selected: &[Check],
        results: &[CheckResult],
        base: &RunDate,
        run_id: &str,
        now: DateTime<Utc>,
        summary: &mut RunSummary,
    ) {
        let config = &self.config;
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
            let mut alert = check_alert(r, run_id, &config.common.region, config.timezone, now);
            announce(
                &self.ledger,
                &self.alerts,
                &mut alert,
                Repeat::of(r.lookback_day, lookback_days),
                (&r.check, &r.run_date, r.status),
                summary,
            )
            .await;
        }
        if let Some((bucket, prefix)) = &config.results_uri {
            let key = format!(
                "{}run_date={}/{}.json",
                results_prefix(prefix),
                base.day,
                run_id.replace([':', '/'], "-")
            );
            let body: String = results.iter().map(|r| format!("{}\n", json!(r))).collect();
            match self
                .s3
                .put_object()
                .bucket(bucket)
                .key(&key)
                .content_type("application/x-ndjson")
                .body(body.into_bytes().into())
                .send()
                .await
            {
                Ok(_) => summary.results_object = Some(format!("s3://{bucket}/{key}")),
                Err(e) => summary
                    .failures
                    .push(LakeopsError::aws("s3:PutObject", e).to_string()),
            }
        }
    }

    /// Whether any object lies under an `s3://bucket/prefix/` location (one `ListObjectsV2` of
    /// at most one key).
    async fn any_object_under(&self, location: &str) -> Result<bool, String> {
        let (bucket, prefix) = parse_s3_uri(location)
            .ok_or_else(|| format!("partition location {location:?} is not an s3:// URI"))?;
        let out = self
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .max_keys(1)
            .send()
            .await
            .map_err(|e| LakeopsError::aws("s3:ListObjectsV2", e).to_string())?;
        Ok(out.key_count().unwrap_or(0) > 0 || !out.contents().is_empty())
    }

    /// Renders a side's window and query, and asks Glue what it needs.
    async fn prepare_side(
        &self,
        side: &DeclaredSide,
        group_by: &[String],
        date: &RunDate,
        tables: &mut BTreeMap<String, Result<TableInfo, String>>,
    ) -> (SideResult, Option<TableInfo>) {
        let mut r = SideResult {
            counted: String::new(),
            window: String::new(),
            method: CountMethod::CountStar,
            method_reason: None,
            rows: None,
            query_ids: Vec::new(),
            scanned_bytes: 0,
            partition_present: None,
            fresh_as_of: None,
            age_seconds: None,
            max_age_hours: None,
            error: None,
            unfinished: false,
            sql: String::new(),
            fallback_sql: None,
            expect_partition: side.expect_partition,
            groupable: None,
            segments: None,
            fresh_at_most: false,
            freshness_floor: None,
            countable: false,
        };
        match &side.counted {
            Counted::Sql(sql) => {
                r.counted = "sql".into();
                r.method = CountMethod::Sql;
                match template::render(sql, date) {
                    Ok(s) => {
                        r.sql = sqlsafe::count_query(&s);
                        r.window = s;
                    }
                    Err(e) => r.error = Some(e),
                }
                (r, None)
            }
            Counted::Table {
                name,
                partition,
                window,
                filter,
            } => {
                r.counted = name.to_string();
                let info = self.table_info(name, tables, &mut r).await;
                let w =
                    match Window::render(partition, window.as_ref(), filter, date, info.as_ref()) {
                        Ok(w) => w,
                        Err(e) => {
                            r.error = Some(e);
                            return (r, info);
                        }
                    };
                r.window = w.predicates.join(" AND ");
                if filter.is_none() && !w.predicates.is_empty() {
                    r.groupable = Some((name.quoted(""), r.window.clone()));
                }
                // With `group_by`, one row per segment.
                let columns: Vec<String> = group_by.iter().map(|c| quote_identifier(c)).collect();
                r.sql = format!(
                    "SELECT {}count(*) FROM {}{}{}",
                    columns.iter().map(|c| format!("{c}, ")).collect::<String>(),
                    name.quoted(""),
                    if w.predicates.is_empty() {
                        String::new()
                    } else {
                        format!(" WHERE {}", r.window)
                    },
                    if columns.is_empty() {
                        String::new()
                    } else {
                        let numbers: Vec<String> =
                            (1..=columns.len()).map(|i| i.to_string()).collect();
                        format!(" GROUP BY {}", numbers.join(", "))
                    }
                );
                if !group_by.is_empty() {
                    r.segments = Some(BTreeMap::new());
                    r.groupable = None;
                    if info.as_ref().is_some_and(|i| i.iceberg) {
                        r.method = CountMethod::CountStarIceberg;
                        r.method_reason =
                            Some("group_by: segments are counted with count(*)".into());
                    }
                }
                match &info {
                    Some(glue) if glue.iceberg && filter.is_none() && group_by.is_empty() => {
                        self.plan_iceberg_metadata(name, glue, &w, &mut r).await
                    }
                    Some(glue) if side.expect_partition && !glue.iceberg && r.error.is_none() => {
                        match self.partition_present(name, glue, &w.partition).await {
                            Ok(present) => r.partition_present = Some(present),
                            Err(e) => r.error = Some(e),
                        }
                    }
                    _ => {}
                }
                (r, info)
            }
        }
    }

    /// What Glue knows about a table: read once per table and run, however many sides and days
    /// use it; an error is the side's.
    async fn table_info(
        &self,
        name: &TableName,
        tables: &mut BTreeMap<String, Result<TableInfo, String>>,
        r: &mut SideResult,
    ) -> Option<TableInfo> {
        if !name.in_glue() {
            return None;
        }
        let entry = match tables.entry(name.to_string()) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(self.catalog.table(name).await.map_err(|e| e.to_string()))
            }
        };
        match entry {
            Ok(i) => Some(i.clone()),
            Err(e) => {
                r.error = Some(e.clone());
                None
            }
        }
    }

    /// Counts an Iceberg side from `$files` when its partition spec maps the window onto
    /// partitions; otherwise `count(*)`, saying why.
    async fn plan_iceberg_metadata(
        &self,
        name: &TableName,
        glue: &TableInfo,
        w: &RenderedWindow,
        r: &mut SideResult,
    ) {
        // The whole table needs no partition spec: every current data file counts.
        let whole_table = w.typed_identity.is_empty() && w.day.is_none();
        let layout = match &glue.metadata_location {
            _ if whole_table => Ok(iceberg::Layout::default()),
            Some(location) => iceberg::fetch_layout(&self.s3, location).await,
            None => Err("Glue gives the table no metadata_location".into()),
        };
        let filter = layout.and_then(|l| {
            iceberg::files_filter(
                &l,
                &w.typed_identity,
                w.day.as_ref().map(|(c, d)| (c.as_str(), *d)),
            )
        });
        match filter {
            Ok(files_where) => {
                r.method = CountMethod::IcebergMetadata;
                r.fallback_sql = Some(std::mem::replace(
                    &mut r.sql,
                    iceberg::metadata_query(name, &files_where),
                ));
            }
            Err(why) => {
                r.method = CountMethod::CountStarIceberg;
                r.method_reason = Some(why);
            }
        }
    }

    /// Whether a Hive-style table's expected partition exists: Glue's partitions, or for a
    /// projected table (Glue lists none) the files under its location.
    async fn partition_present(
        &self,
        name: &TableName,
        glue: &TableInfo,
        values: &[(String, String)],
    ) -> Result<bool, String> {
        match &glue.projection {
            Some(projection) => match projection.partition_location(&glue.partition_keys, values) {
                Ok(location) => self.any_object_under(&location).await,
                Err(e) => Err(format!("partition projection: {e}")),
            },
            None => self
                .catalog
                .partition_exists(name, glue, values)
                .await
                .map_err(|e| e.to_string()),
        }
    }

    /// An S3 object's bytes: the one read the checks file and the results history go through
    /// (Iceberg metadata files are read within a cap: [`iceberg::fetch_layout`]).
    async fn object_bytes(&self, bucket: &str, key: &str) -> Result<Vec<u8>, LakeopsError> {
        let out = self
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| LakeopsError::aws("s3:GetObject", e))?;
        Ok(out
            .body
            .collect()
            .await
            .map_err(|e| LakeopsError::aws("s3:GetObject", e))?
            .into_bytes()
            .to_vec())
    }
}

/// A table side's window on one run date: the predicates of its partition values, its day
/// window and its filter, and what the metadata count needs of them.
struct RenderedWindow {
    predicates: Vec<String>,
    /// `partition` keys with their rendered values (for Glue and S3 lookups).
    partition: Vec<(String, String)>,
    /// `partition` keys with their values as typed literals (for `$files`).
    typed_identity: Vec<(String, String)>,
    /// The day window's column and day.
    day: Option<(String, NaiveDate)>,
}

struct Window;

impl Window {
    /// Renders a side's `partition`, `window` and `filter` for a run date. Each partition value
    /// is a literal of its column's type (a DATE column is compared with `DATE '…'`; a table
    /// outside Glue has no types to read: strings); the day window is a range over the column
    /// (or one DATE value).
    fn render(
        partition: &[(String, String)],
        window: Option<&checks::Window>,
        filter: &Option<String>,
        date: &RunDate,
        info: Option<&TableInfo>,
    ) -> Result<RenderedWindow, String> {
        let column_type = |c: &str| info.and_then(|i| i.column_type(c)).map(str::to_string);
        let mut w = RenderedWindow {
            predicates: Vec::new(),
            partition: Vec::new(),
            typed_identity: Vec::new(),
            day: None,
        };
        for (key, value) in partition {
            let v = template::render(value, date)?;
            let lit = match column_type(key) {
                Some(t) => TypedLiteral::of_type(&t)
                    .write(&v)
                    .map_err(|e| format!("partition {key} ({t}): {e}"))?,
                None => literal(&v),
            };
            w.predicates
                .push(format!("{} = {lit}", quote_identifier(key)));
            w.typed_identity.push((key.clone(), lit));
            w.partition.push((key.clone(), v));
        }
        if let Some(win) = window {
            let text = template::render(&win.day, date)?;
            let day = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                .map_err(|_| format!("window.day {text:?} is not a date (YYYY-MM-DD)"))?;
            let col = quote_identifier(&win.column);
            w.predicates
                .push(match column_type(&win.column).as_deref() {
                    Some("date") => format!("{col} = DATE '{}'", day.format("%Y-%m-%d")),
                    _ => format!(
                        "{col} >= TIMESTAMP '{} 00:00:00' AND {col} < TIMESTAMP '{} 00:00:00'",
                        day.format("%Y-%m-%d"),
                        (day + Duration::days(1)).format("%Y-%m-%d")
                    ),
                });
            w.day = Some((win.column.clone(), day));
        }
        if let Some(f) = filter {
            w.predicates
                .push(format!("({})", template::render(f, date)?));
        }
        Ok(w)
    }
}

fn config_error(origin: &str, problems: Vec<String>) -> ConfigError {
    ConfigError {
        problems: problems
            .into_iter()
            .map(|p| ConfigProblem {
                variable: format!("CHECKS_CONFIG ({origin})"),
                problem: p,
            })
            .collect(),
    }
}

/// A `group_by` count's rows as `{segment: count}`: the leading cells (NULL as `(null)`) joined
/// by ` / `, the last cell the count; `None` when a count is not a whole number.
fn segment_counts(rows: &[Vec<Option<String>>]) -> Option<BTreeMap<String, u64>> {
    let mut segments = BTreeMap::new();
    for row in rows {
        let (count, key) = row.split_last()?;
        let n: u64 = count.as_deref()?.trim().parse().ok()?;
        let key = key
            .iter()
            .map(|c| c.as_deref().unwrap_or("(null)"))
            .collect::<Vec<_>>()
            .join(" / ");
        *segments.entry(key).or_insert(0) += n;
    }
    Some(segments)
}

/// `2 rows × 3 columns`, `no row`, `an empty (NULL) cell`: a result described without its data.
fn shape(rows: &[Vec<Option<String>>]) -> String {
    match rows {
        [] => "no row".into(),
        [row] if row.len() == 1 && row[0].is_none() => "NULL".into(),
        [row] if row.len() == 1 => "a value that is not a whole number".into(),
        _ => format!(
            "{} row{} × {} column{}",
            rows.len(),
            if rows.len() == 1 { "" } else { "s" },
            rows[0].len(),
            if rows[0].len() == 1 { "" } else { "s" }
        ),
    }
}

fn cell_u64(rows: &[Vec<Option<String>>], col: usize) -> Option<u64> {
    rows.first()?.get(col)?.as_deref()?.trim().parse().ok()
}

fn record_outcome(
    side: &mut SideResult,
    purpose: JobFor,
    outcome: &Outcome,
    summary: &mut RunSummary,
) {
    summary.scanned_bytes += outcome.scanned_bytes();
    side.scanned_bytes += outcome.scanned_bytes();
    if let Some(id) = outcome.id() {
        side.query_ids.push(id.to_string());
    }
    match outcome {
        Outcome::Succeeded {
            rows, engine_ms, ..
        } => {
            summary.query_engine_ms_sum += engine_ms.unwrap_or(0);
            match purpose {
                // What a query returned is described by its shape, never echoed: a cell could
                // be any table's data, and this text goes into the alert and the results file.
                JobFor::Count { .. } if side.segments.is_some() => match segment_counts(rows) {
                    Some(segments) => {
                        side.rows = Some(segments.values().sum());
                        side.segments = Some(segments);
                    }
                    None => {
                        side.error = Some(format!(
                            "the segmented count returned {}, not segments and counts",
                            shape(rows)
                        ))
                    }
                },
                JobFor::Count { .. } => match cell_u64(rows, 0) {
                    Some(n) => side.rows = Some(n),
                    None => {
                        side.error = Some(format!(
                            "the count query returned {}, not one count",
                            shape(rows)
                        ))
                    }
                },
                JobFor::Metadata { .. } => {
                    side.rows = cell_u64(rows, iceberg::DATA_ROWS);
                    if side.rows.is_none() {
                        side.error = Some(format!(
                            "Iceberg metadata returned {}, not a count",
                            shape(rows)
                        ));
                    }
                    if side.expect_partition {
                        side.partition_present =
                            cell_u64(rows, iceberg::FILES).map(|files| files > 0);
                    }
                }
                JobFor::Grouped { .. } => {}
                JobFor::Freshness { .. } => {
                    match rows.first().and_then(|r| r.first()).cloned().flatten() {
                        Some(v) => match catalog::parse_timestamp(&v) {
                            Some(t) => side.fresh_as_of = Some(t),
                            None => {
                                side.error = Some(
                                    "max() of the freshness column is not a date or timestamp"
                                        .into(),
                                )
                            }
                        },
                        None => match side.freshness_floor {
                            Some(floor) => {
                                side.fresh_as_of = Some(floor);
                                side.fresh_at_most = true;
                            }
                            None => side.error = Some("the table is empty: no freshness".into()),
                        },
                    }
                }
            }
        }
        _ => record_unsuccessful(side, outcome),
    }
}

/// A query that did not succeed, on its side: failed or over its cap (an error), or stopped at
/// the deadline (unfinished).
fn record_unsuccessful(side: &mut SideResult, outcome: &Outcome) {
    match outcome {
        Outcome::Succeeded { .. } => {}
        Outcome::Failed { reason, .. } => side.error = Some(format!("query failed: {reason}")),
        Outcome::Unfinished { .. } => side.unfinished = true,
        Outcome::OverCap {
            scanned_bytes, cap, ..
        } => {
            side.error = Some(format!(
                "stopped after scanning {} (bytes_cap {})",
                human_bytes(*scanned_bytes),
                human_bytes(*cap)
            ))
        }
    }
}

/// The verdict on one check run.
pub fn evaluate(
    c: &Check,
    k: u32,
    date: &RunDate,
    source: SideResult,
    target: SideResult,
    history: &history::History,
) -> CheckResult {
    let mut problems = Vec::new();
    let mut status = Status::Ok;
    let mut worse = |s: Status, p: String, problems: &mut Vec<String>| {
        status = status.max(s);
        problems.push(p);
    };
    for (label, s) in [("source", &source), ("target", &target)] {
        if let Some(e) = &s.error {
            worse(Status::Error, format!("{label}: {e}"), &mut problems);
        }
        if s.unfinished {
            worse(
                Status::Unfinished,
                format!("{label}: the query did not finish before the deadline and was stopped"),
                &mut problems,
            );
        }
        if s.partition_present == Some(false) {
            worse(
                Status::MissingPartition,
                format!(
                    "{label}: partition {} does not exist (no data arrived)",
                    s.window
                ),
                &mut problems,
            );
        }
        if let (Some(age), Some(max)) = (s.age_seconds, s.max_age_hours) {
            if age as f64 > max * 3600.0 {
                worse(
                    Status::Stale,
                    if s.fresh_at_most {
                        format!(
                            "{label}: nothing newer than {:.1} h ago (as far back as it looks), more than {max} h",
                            age as f64 / 3600.0
                        )
                    } else {
                        format!(
                            "{label}: last updated {:.1} h ago, more than {max} h",
                            age as f64 / 3600.0
                        )
                    },
                    &mut problems,
                );
            }
        }
    }
    let segments = match (&source.segments, &target.segments) {
        (Some(s), Some(t)) => {
            let compared = compare_segments(s, t, &c.tolerance);
            let differing: Vec<&SegmentComparison> =
                compared.iter().filter(|x| !x.comparison.within).collect();
            if !differing.is_empty() {
                let shown: Vec<String> = differing
                    .iter()
                    .take(10)
                    .map(|x| format!("{} (source {}, target {})", x.segment, x.source, x.target))
                    .collect();
                worse(
                    Status::Mismatch,
                    format!(
                        "{} of {} segments by {} differ beyond tolerance: {}{}",
                        differing.len(),
                        compared.len(),
                        c.group_by.join(", "),
                        shown.join("; "),
                        if differing.len() > shown.len() {
                            "; …"
                        } else {
                            ""
                        }
                    ),
                    &mut problems,
                );
            }
            Some(compared)
        }
        _ => None,
    };
    if let Some(min) = c.min_rows {
        for (label, s) in [("source", &source), ("target", &target)] {
            if let Some(n) = s.rows.filter(|n| *n < min) {
                worse(
                    Status::TooFewRows,
                    format!("{label} has {n} rows, fewer than min_rows {min}"),
                    &mut problems,
                );
            }
        }
    }
    let comparison = match (source.rows, target.rows) {
        (Some(s), Some(t)) => {
            let cmp = c.tolerance.compare(s, t);
            if !cmp.within {
                let pct = cmp
                    .diff_pct
                    .map(|p| format!("{p:.2}%"))
                    .unwrap_or_else(|| "n/a".into());
                let why = match (cmp.beyond_allowed_side, c.tolerance.allowed_side_percent) {
                    (true, Some(bound)) => format!(
                        "beyond the {direction:?} bound of {bound}%",
                        direction = c.tolerance.direction
                    ),
                    _ => "beyond tolerance".into(),
                };
                worse(
                    Status::Mismatch,
                    format!(
                        "target has {t} rows, source {s}: difference {:+} ({pct}) {why}",
                        cmp.diff
                    ),
                    &mut problems,
                );
            }
            Some(cmp)
        }
        _ => None,
    };
    // Volume history: the run date's own target count only (a look-back day is a re-count).
    let volume_anomaly = match (c.volume, target.rows, k) {
        (Some(settings), Some(rows), 0) => history::anomaly(
            rows,
            history.points(&c.name, &date.day.to_string(), settings.history_days),
            &settings,
        ),
        _ => None,
    };
    if let Some(a) = &volume_anomaly {
        worse(
            Status::VolumeAnomaly,
            format!(
                "target has {} rows against a median of {:.0} over the last {} successful runs (modified z-score {:.1})",
                a.rows,
                a.median,
                a.history.len(),
                a.z
            ),
            &mut problems,
        );
    }
    CheckResult {
        check: c.name.clone(),
        run_date: date.day.to_string(),
        lookback_day: k,
        status,
        problems,
        source,
        target,
        comparison,
        segments,
        volume_anomaly,
        tolerance: c.tolerance,
        severity: c.severity,
        owner: c.owner.clone(),
        tags: c.tags.clone(),
    }
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

/// One segment of a `group_by` check: its counts on both sides (0 where a side has no row).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentComparison {
    pub segment: String,
    pub source: u64,
    pub target: u64,
    pub comparison: Comparison,
}

/// Every segment of either side, compared with the check's tolerance.
pub fn compare_segments(
    source: &BTreeMap<String, u64>,
    target: &BTreeMap<String, u64>,
    tolerance: &checks::Tolerance,
) -> Vec<SegmentComparison> {
    let keys: std::collections::BTreeSet<&String> = source.keys().chain(target.keys()).collect();
    keys.into_iter()
        .map(|k| {
            let (s, t) = (
                source.get(k).copied().unwrap_or(0),
                target.get(k).copied().unwrap_or(0),
            );
            SegmentComparison {
                segment: k.clone(),
                source: s,
                target: t,
                comparison: tolerance.compare(s, t),
            }
        })
        .collect()
}

/// One alert per failing check run.
pub fn check_alert(
    r: &CheckResult,
    run_id: &str,
    region: &str,
    tz: Tz,
    now: DateTime<Utc>,
) -> Alert {
    let severity = match (r.status, r.severity) {
        (Status::Unfinished, _) => Severity::Warning,
        (_, CheckSeverity::Critical) => Severity::Critical,
        (_, CheckSeverity::Warning) => Severity::Warning,
        (_, CheckSeverity::Info) => Severity::Info,
    };
    let what = match r.status {
        Status::Mismatch => "row counts differ",
        Status::TooFewRows => "too few rows",
        Status::VolumeAnomaly => "volume far outside its history",
        Status::Stale => "data is stale",
        Status::MissingPartition => "a partition is missing",
        Status::Unfinished => "did not finish",
        Status::Error => "could not be checked",
        Status::Ok => "ok",
    };
    let rows = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_else(|| "-".into());
    let side_line = |s: &SideResult| {
        let mut parts = vec![format!(
            "{} rows ({})",
            rows(s.rows),
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
    };
    let diff = r.comparison.map(|c| {
        format!(
            "{:+} rows ({})",
            c.diff,
            c.diff_pct
                .map(|p| format!("{p:.2}%"))
                .unwrap_or_else(|| "n/a: source is 0".into())
        )
    });
    let mut alert = Alert::new(
        r.status.alert_kind(),
        severity,
        FUNCTION,
        format!("{FUNCTION}/{run_id}/{}/{}", r.check, r.run_date),
        now,
        format!("Check {}: {what} (run date {})", r.check, r.run_date),
        r.problems.join(" "),
    )
    .field("Check", &r.check)
    .field("Run date", format!("{} ({})", r.run_date, tz.name()))
    .field("Source", side_line(&r.source))
    .field("Target", side_line(&r.target))
    .field("Difference", diff.clone().unwrap_or_else(|| "-".into()))
    .field(
        "Tolerance",
        format!(
            "{} rows{} ({:?}{})",
            r.tolerance.rows,
            r.tolerance
                .percent
                .map(|p| format!(" or {p}%"))
                .unwrap_or_default(),
            r.tolerance.direction,
            r.tolerance
                .allowed_side_percent
                .map(|p| format!(", allowed side at most {p}%"))
                .unwrap_or_default()
        ),
    )
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
        .detail("check", &r.check)
        .detail("run_date", &r.run_date)
        .detail("status", r.status)
        .detail("source_rows", r.source.rows)
        .detail("target_rows", r.target.rows)
        .detail("row_diff", r.comparison.map(|c| c.diff))
        .detail("row_diff_pct", r.comparison.and_then(|c| c.diff_pct))
        .detail("result", r)
        .next_step(match r.status {
            Status::Mismatch => "Compare the two windows: late or duplicate loads, a failed upstream job, or a filter that differs between the sides.",
            Status::VolumeAnomaly => "Today's count is far from this check's recent counts (history above): a partial or duplicated load upstream, or a real change in volume to confirm with the data's owner.",
            Status::TooFewRows => "The window holds fewer rows than the check's min_rows: check the upstream load (an empty or partial day), even if both sides agree.",
            Status::Stale => "Check the pipeline that feeds the stale side: its last run, its schedule and its errors.",
            Status::MissingPartition => "The load for this window did not arrive: check the upstream job, or add the partition (MSCK REPAIR / ALTER TABLE ADD PARTITION) if the data is there.",
            Status::Unfinished => "Raise the function timeout or DEADLINE_MARGIN_SECONDS, or make the count cheaper (partition filter, Iceberg).",
            _ => "Read the error above; fix the table, permissions or the check, then re-run with {\"checks\": [\"<name>\"]}.",
        })
}

fn or_all(w: &str) -> &str {
    if w.is_empty() {
        "(whole table)"
    } else {
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mismatch_alert_has_both_counts_the_difference_and_the_window() {
        let text = r#"checks:
  - name: events_daily
    owner: platform
    source: {table: lake.events_raw, partition: {dt: "{{ yesterday }}"}}
    target: {table: lake.events_clean, partition: {dt: "{{ yesterday }}"}}
    tolerance: {percent: 1}
"#;
        let check = &checks::parse(text, "t").unwrap()[0];
        let run = RunDate::at(
            "2026-11-23T09:00:00Z".parse().unwrap(),
            chrono_tz::Asia::Seoul,
        );
        let side = |table: &str, rows: u64, id: &str| SideResult {
            counted: format!("awsdatacatalog.lake.{table}"),
            window: "\"dt\" = '2026-11-22'".into(),
            method: CountMethod::CountStar,
            method_reason: None,
            rows: Some(rows),
            query_ids: vec![id.into()],
            scanned_bytes: 1 << 20,
            partition_present: Some(true),
            fresh_as_of: None,
            age_seconds: None,
            max_age_hours: None,
            error: None,
            unfinished: false,
            sql: String::new(),
            fallback_sql: None,
            expect_partition: true,
            groupable: None,
            segments: None,
            fresh_at_most: false,
            freshness_floor: None,
            countable: true,
        };
        let r = evaluate(
            check,
            0,
            &run,
            side("events_raw", 5000, "q-src"),
            side("events_clean", 4100, "q-tgt"),
            &history::History::default(),
        );
        assert_eq!(r.status, Status::Mismatch);
        let alert = check_alert(&r, "evt-1", "us-east-1", chrono_tz::Asia::Seoul, Utc::now());
        let body = alert.text_body();
        println!("{body}");
        assert_eq!(alert.kind, "RowCountMismatch");
        assert_eq!(
            alert.id,
            "row-count-reconciler/evt-1/events_daily/2026-11-23"
        );
        for expected in [
            "5000 rows",
            "4100 rows",
            "-900 rows (18.00%)",
            "\"dt\" = '2026-11-22'",
            "q-src",
            "platform",
        ] {
            assert!(body.contains(expected), "missing {expected:?} in\n{body}");
        }
        // 0 vs 0 is a match, with no percentage.
        let zero = evaluate(
            check,
            0,
            &run,
            side("events_raw", 0, "a"),
            side("events_clean", 0, "b"),
            &history::History::default(),
        );
        assert_eq!(zero.status, Status::Ok);
        assert_eq!(zero.comparison.unwrap().diff_pct, None);
    }

    #[test]
    fn segments_are_compared_one_by_one() {
        let rows: Vec<Vec<Option<String>>> = vec![
            vec![Some("eu".into()), Some("web".into()), Some("500".into())],
            vec![None, Some("web".into()), Some("7".into())],
            vec![Some("us".into()), Some("app".into()), Some("300".into())],
        ];
        let source = segment_counts(&rows).unwrap();
        assert_eq!(source.get("(null) / web"), Some(&7));
        assert_eq!(source.values().sum::<u64>(), 807);
        assert_eq!(
            segment_counts(&[vec![Some("eu".into()), Some("x".into())]]),
            None
        );
        let target: BTreeMap<String, u64> =
            [("eu / web".to_string(), 500), ("us / app".to_string(), 200)].into();
        let tolerance = checks::Tolerance {
            rows: 0,
            percent: Some(1.0),
            direction: checks::Direction::Equal,
            allowed_side_percent: None,
        };
        let compared = compare_segments(&source, &target, &tolerance);
        let differing: Vec<(&str, u64, u64)> = compared
            .iter()
            .filter(|c| !c.comparison.within)
            .map(|c| (c.segment.as_str(), c.source, c.target))
            .collect();
        // A segment only one side has counts 0 on the other.
        assert_eq!(differing, [("(null) / web", 7, 0), ("us / app", 300, 200)]);
    }

    #[tokio::test]
    async fn a_bad_day_is_said_once_then_reminded_over_the_look_back() {
        use lakeops::alert::RecordingSink;
        use lakeops::ledger::MemoryLedger;
        let ledger = MemoryLedger::default();
        let sink = RecordingSink::default();
        let mut summary = RunSummary::default();
        let at = |run: &str| {
            Alert::new(
                "RowCountMismatch",
                Severity::Critical,
                FUNCTION,
                format!("{FUNCTION}/{run}/orders/2026-11-22"),
                Utc::now(),
                "Check orders: row counts differ (run date 2026-11-22)",
                "target has 90 rows, source 100",
            )
        };
        let key = ("orders", "2026-11-22", Status::Mismatch);
        // lookback_days 3: the date is looked at on four consecutive runs.
        for (run, k) in [("run-1", 0), ("run-2", 1), ("run-3", 2), ("run-4", 3)] {
            let mut alert = at(run);
            announce(
                &ledger,
                &sink,
                &mut alert,
                Repeat::of(k, 3),
                key,
                &mut summary,
            )
            .await;
        }
        let titles: Vec<String> = sink
            .alerts
            .lock()
            .unwrap()
            .iter()
            .map(|a| a.title.clone())
            .collect();
        assert_eq!(
            titles,
            [
                "Check orders: row counts differ (run date 2026-11-22)",
                "Reminder, last look-back day: Check orders: row counts differ (run date 2026-11-22)"
            ]
        );
        assert_eq!(summary.repeats_not_sent.len(), 2);
        // A date that was fine on its own run and went bad on a look-back is said.
        let mut late = at("run-5");
        announce(
            &ledger,
            &sink,
            &mut late,
            Repeat::Again,
            ("orders", "2026-11-21", Status::Mismatch),
            &mut summary,
        )
        .await;
        // ... and a changed status on the same date too.
        let mut changed = at("run-6");
        announce(
            &ledger,
            &sink,
            &mut changed,
            Repeat::Again,
            ("orders", "2026-11-22", Status::MissingPartition),
            &mut summary,
        )
        .await;
        assert_eq!(sink.alerts.lock().unwrap().len(), 4);
        // A date first failing at its last look is said plainly, not as a reminder.
        let mut last = at("run-7");
        announce(
            &ledger,
            &sink,
            &mut last,
            Repeat::LastLook,
            ("orders", "2026-11-19", Status::Mismatch),
            &mut summary,
        )
        .await;
        assert!(!sink.alerts.lock().unwrap()[4].title.starts_with("Reminder"));
        assert_eq!(
            Repeat::of(0, 0),
            Repeat::First,
            "no look-back: every run is a first look"
        );
    }

    #[test]
    fn reruns_and_backfills_from_the_event() {
        let run = |v: Value| ScheduledRun::from_event(&v, Utc::now()).unwrap();
        let o = overrides(&run(
            json!({"checks": ["orders_daily"], "date": "2026-11-20"}),
        ))
        .unwrap();
        assert_eq!(o.checks, Some(vec!["orders_daily".to_string()]));
        assert_eq!(o.date, NaiveDate::from_ymd_opt(2026, 11, 20));
        assert_eq!(overrides(&run(json!({}))).unwrap(), RunOverrides::default());
        assert!(overrides(&run(json!({"checks": "orders_daily"}))).is_err());
        assert!(overrides(&run(json!({"checks": [1]}))).is_err());
        assert!(overrides(&run(json!({"date": "20/11/2026"}))).is_err());
        assert_eq!(
            parse_s3_uri("s3://bucket/a/b.yaml"),
            Some(("bucket".into(), "a/b.yaml".into()))
        );
        assert_eq!(parse_s3_uri("/var/task/checks.yaml"), None);
    }
}
