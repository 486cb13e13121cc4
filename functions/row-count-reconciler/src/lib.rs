//! row-count-reconciler: compares source and target row counts and freshness of each pipeline,
//! declared once in a checks file ([`checks`]), on a schedule.
//!
//! One run, in pipeline order: load and validate the checks file (every problem at once, nothing
//! runs if any); [`plan`] each check on its run date and look-back days — the window from the run
//! date in the configured timezone ([`template`]), what Glue knows ([`catalog`]), how each side
//! is counted and by which queries; [`measure`] — every query at once with bounded concurrency,
//! collected before the Lambda deadline ([`runner`]); the [`verdict`] on each check day
//! ([`checks::Tolerance`], [`history`]); [`report`] — one alert per failing check, EMF metrics
//! per check, a summary in the log and, optionally, JSON lines in S3 ([`results`]).
//!
//! Counting method per side: an Iceberg table (Glue `table_type=ICEBERG`) whose window maps onto
//! its current partition spec (identity keys, a `day(column)` partition, or the whole table) is
//! counted from its `$files` metadata (`record_count` of the data files) —
//! unless the measurement shows its current snapshot's summary stating deletes (or no delete
//! totals), which make metadata over-count; then the side is counted by `COUNT(*)` instead
//! ([`iceberg`]). Other tables always get a `COUNT(*)` pruned by the partition and filter.
//! Glue's crawler `recordCount` is an estimate and is never used.

#![warn(clippy::too_many_lines)] // the house limit: no function over 80 lines (clippy.toml)
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub mod catalog;
pub mod checks;
pub mod config;
pub mod history;
pub mod iceberg;
pub mod measure;
pub mod plan;
pub mod report;
pub mod results;
pub mod runner;
pub mod side;
pub mod sqlsafe;
pub mod template;
pub mod trigger;
pub mod verdict;

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use lakeops::alert::{Alert, AlertSink, Severity};
use lakeops::ledger::{DynamoLedger, Ledger};
use lakeops::schedule::ScheduledRun;
use lakeops::wiring::AthenaWatchClients;
use lakeops::{ConfigReader, LakeopsError, SnsAlertPublisher};
use lambda_runtime::LambdaEvent;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::catalog::Catalog;
use crate::checks::Check;
use crate::config::{checks_file_error, object_bytes};
use crate::measure::Measurer;
use crate::plan::Planner;
use crate::report::{Reporter, LEDGER_KEEP_DAYS};
use crate::results::ResultsFiles;
use crate::runner::QueryRunner;
use crate::template::RunDate;

pub use crate::config::{parse_s3_uri, ReconcilerConfig};
pub use crate::report::{announce, check_alert, Repeat, RunSummary};
pub use crate::side::{CountMethod, Side, SideResult, Sides};
pub use crate::trigger::{RunOverrides, Trigger};
pub use crate::verdict::{compare_segments, evaluate, CheckResult, SegmentComparison, Status};

pub const FUNCTION: &str = "row-count-reconciler";

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

pub async fn handle<A: AlertSink, L: Ledger>(
    event: LambdaEvent<Trigger>,
    deps: &Deps<A, L>,
) -> Result<Value, LakeopsError> {
    let now = Utc::now();
    let Trigger { run, overrides: o } = &event.payload;
    // Stop waiting for queries this long before the Lambda deadline (15 min when there is none).
    let remaining = lakeops::deadline::remaining(event.context.deadline, now.timestamp_millis())
        .unwrap_or(StdDuration::from_secs(900));
    let deadline = Instant::now() + remaining.saturating_sub(deps.config.deadline_margin);
    let run_id = run
        .event_id
        .clone()
        .unwrap_or_else(|| run.time.to_rfc3339_opts(SecondsFormat::Secs, true));
    let summary = deps.reconcile(run, o, &run_id, deadline, now).await?;
    tracing::info!(summary = %json!(summary), "run finished");
    if !summary.failures.is_empty() {
        return Err(LakeopsError::Undelivered(summary.failures.join("; ")));
    }
    Ok(json!(summary))
}

impl<A: AlertSink, L: Ledger> Deps<A, L> {
    /// Loads the checks file: S3 or a local path.
    pub async fn load_checks(&self) -> Result<Vec<Check>, LakeopsError> {
        let origin = &self.config.checks_config;
        let text = if let Some((bucket, key)) = parse_s3_uri(origin) {
            let bytes = object_bytes(&self.s3, &bucket, &key).await?;
            String::from_utf8(bytes).map_err(|_| {
                LakeopsError::Config(checks_file_error(origin, vec!["not UTF-8 text".into()]))
            })?
        } else {
            std::fs::read_to_string(origin).map_err(|e| {
                LakeopsError::Config(checks_file_error(origin, vec![format!("cannot read: {e}")]))
            })?
        };
        checks::parse(&text, origin)
            .map_err(|e| LakeopsError::Config(checks_file_error(origin, e.problems)))
    }

    /// One run, in its phases: choose the checks, plan every (check, day), measure, judge,
    /// report.
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
        let planner = Planner {
            catalog: &self.catalog,
            s3: &self.s3,
        };
        let plan = planner.plan(&selected, &base).await;
        let measurer = Measurer {
            runner: &self.runner,
            catalog: &self.catalog,
            timezone: config.timezone,
        };
        let (days, sides) = measurer.measure(plan, deadline, &mut summary).await;
        summary.cost_usd = config.athena.price.usd_for_scan(summary.scanned_bytes);
        let results_files = config
            .results_uri
            .as_ref()
            .map(|(bucket, prefix)| ResultsFiles {
                s3: &self.s3,
                bucket,
                prefix,
            });
        let history = match &results_files {
            Some(files) => files.history(&selected, &base, &mut summary).await,
            None => history::History::default(),
        };
        let results = verdict::judge(&selected, &days, sides, &history);
        report::emit_metrics(&results, &config.common.metrics_namespace);
        let reporter = Reporter {
            alerts: &self.alerts,
            ledger: &self.ledger,
            region: &config.common.region,
            timezone: config.timezone,
        };
        reporter
            .report(&selected, &results, run_id, now, &mut summary)
            .await;
        if let Some(files) = &results_files {
            files.write(&results, &base, run_id, &mut summary).await;
        }
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
                self.say_checks_file_invalid(&e, run_id, now).await;
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

    /// The `ChecksFileInvalid` alert, once per run event.
    async fn say_checks_file_invalid(&self, e: &LakeopsError, run_id: &str, now: DateTime<Utc>) {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_uris_and_paths_are_told_apart() {
        assert_eq!(
            parse_s3_uri("s3://bucket/a/b.yaml"),
            Some(("bucket".into(), "a/b.yaml".into()))
        );
        assert_eq!(parse_s3_uri("/var/task/checks.yaml"), None);
    }
}
