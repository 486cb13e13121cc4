//! long-query-killer: warns about, then stops, Athena queries that run (or queue) too long.
//!
//! Each scheduled run takes the QUEUED and RUNNING queries from the query index (the sparse
//! in-flight index the cost watcher keeps from Athena's state-change events and its
//! reconciliation: see [`lakeops::query_index`]), reads their live state with
//! `BatchGetQueryExecution` (50 ids a call; never `ListQueryExecutions`), decides per query with
//! [`policy::decide`],
//! sends one warning per query as it nears its limit, and at the limit stops it
//! (`StopQueryExecution`, then re-reads it to confirm it left RUNNING) — or, in dry-run, says it
//! would have. "Once per query" is exact across runs and retries through the shared ledger
//! (DynamoDB conditional writes); a stopped query is CANCELLED, so a retry finds nothing to stop.
//!
//! Phases: [`sweep`] (what runs, the decisions, the actions), [`stop`] (the stop, its outbox, the
//! kept alerts), [`alerts`] (what the alerts say), [`policy`] (the pure decisions).

#![warn(clippy::too_many_lines)] // the house limit: no function over 80 lines (clippy.toml)
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub mod alerts;
pub mod policy;
pub mod stop;
pub mod sweep;

use chrono::Utc;
use lakeops::athena::AthenaHistory;
use lakeops::config::AthenaWatchSettings;
use lakeops::ledger::DynamoLedger;
use lakeops::outbox::Outbox;
use lakeops::query_index::{IndexStore, QueryIndex};
use lakeops::schedule::ScheduledRun;
use lakeops::wiring::AthenaWatchClients;
use lakeops::{CommonConfig, ConfigReader, LakeopsError, Metrics, SnsAlertPublisher};
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::{json, Value};

use crate::policy::Policy;
pub use crate::sweep::Sweep;
pub use lakeops::athena::stop_query;

pub const FUNCTION: &str = "long-query-killer";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Enforce,
    DryRun,
}

impl Mode {
    /// The `KILLER_MODE` spelling, also the alerts' `mode` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::DryRun => "dry-run",
        }
    }
}

#[derive(Debug, Clone)]
pub struct KillerConfig {
    pub common: CommonConfig,
    /// `KILLER_MODE` (default `dry-run`): `enforce` stops queries; `dry-run` only says it would
    /// (stopping is opted into). A scheduled event with `{"dry_run": true}` forces dry-run for
    /// that run.
    pub mode: Mode,
    pub policy: Policy,
    /// `WORKGROUPS`: comma-separated workgroups to watch; empty = every workgroup (disabled ones
    /// too: disabling a workgroup stops new queries, not running ones).
    pub workgroups: Vec<String>,
    /// Athena pace, price, alert ledger and query index.
    pub athena: AthenaWatchSettings,
}

impl KillerConfig {
    pub fn read(r: &mut ConfigReader) -> Self {
        let common = CommonConfig::read(r);
        let mode = match r
            .string_or("KILLER_MODE", "dry-run")
            .to_ascii_lowercase()
            .as_str()
        {
            "enforce" => Mode::Enforce,
            "dry-run" | "dryrun" | "dry_run" => Mode::DryRun,
            other => {
                r.problem(
                    "KILLER_MODE",
                    format!("{other:?} is not a mode (use enforce or dry-run)"),
                );
                Mode::DryRun
            }
        };
        let policy = Policy::read(r);
        Self {
            common,
            mode,
            policy,
            workgroups: r.list("WORKGROUPS"),
            athena: AthenaWatchSettings::read(r),
        }
    }
}

pub struct Deps {
    pub config: KillerConfig,
    pub history: AthenaHistory,
    pub alerts: SnsAlertPublisher,
    pub ledger: DynamoLedger,
    pub index: QueryIndex,
    /// `QueryStopped` alerts are kept here before the stop (see [`lakeops::outbox`]).
    pub outbox: Outbox,
}

impl Deps {
    pub async fn from_env() -> Result<Self, LakeopsError> {
        let mut r = ConfigReader::from_env();
        let config = KillerConfig::read(&mut r);
        r.finish()?;
        let clients = AthenaWatchClients::connect(&config.common, &config.athena).await;
        Ok(Self {
            outbox: Outbox::new(clients.dynamodb, &config.athena.ledger_table, FUNCTION),
            history: clients.history,
            alerts: clients.alerts,
            ledger: clients.ledger,
            index: clients.index,
            config,
        })
    }
}

/// What one run did, returned as the invocation's result and logged.
#[derive(Debug, Default, Serialize)]
pub struct RunSummary {
    pub mode: Option<Mode>,
    pub workgroups: Vec<String>,
    pub active_queries: usize,
    pub warned: Vec<String>,
    pub stopped: Vec<String>,
    pub would_stop: Vec<String>,
    pub exempt: Vec<String>,
    pub failures: Vec<String>,
    pub unprocessed_ids: usize,
    /// `QueryStopped` alerts an earlier run could not publish, delivered by this one.
    pub delivered_late: Vec<String>,
    /// `QueryStopped` alerts still waiting in the outbox after this run (metric
    /// `StopAlertsKept`).
    pub stop_alerts_kept: usize,
    /// A stop alert of this run could not be published (kept for the next run, which also
    /// delivers the earlier kept ones).
    #[serde(skip)]
    pub unpublished: bool,
    /// Athena calls of this run (never `ListQueryExecutions`).
    pub batch_get_calls: u32,
    /// DynamoDB calls to the query index.
    pub index_calls: lakeops::query_index::IndexCalls,
}

/// One scheduled run. The trigger is typed: a payload that is not a scheduled event (or a bare
/// overrides object) is refused before this runs, with the reason.
pub async fn handle(event: LambdaEvent<ScheduledRun>, deps: &Deps) -> Result<Value, LakeopsError> {
    let run = event.payload;
    let mode = if run.bool_override("dry_run")? == Some(true) {
        Mode::DryRun
    } else {
        deps.config.mode
    };
    let mut metrics = Metrics::new(&deps.config.common.metrics_namespace);
    let sweep = Sweep {
        history: &deps.history,
        index: &deps.index,
        alerts: &deps.alerts,
        ledger: &deps.ledger,
        outbox: &deps.outbox,
        config: &deps.config,
    };
    let result = sweep.run(mode, Utc::now(), &mut metrics).await;
    metrics.flush();
    let mut summary = result?;
    summary.index_calls = deps.index.calls();
    tracing::info!(summary = %json!(summary), "run finished");
    if !summary.failures.is_empty() {
        // Everything else was done; failing the invocation makes Lambda retry, and the ledger
        // keeps the retry from repeating what already happened.
        return Err(LakeopsError::Undelivered(summary.failures.join("; ")));
    }
    Ok(json!(summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mode_and_the_tables_are_validated() {
        let mut r = ConfigReader::from_map([
            ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:1:t"),
            ("KILLER_MODE", "yolo"),
            ("LIMIT_MINUTES", "90"),
        ]);
        let c = KillerConfig::read(&mut r);
        assert_eq!(c.mode, Mode::DryRun);
        let err = r.finish().unwrap_err();
        let vars: Vec<_> = err.problems.iter().map(|p| p.variable.as_str()).collect();
        assert_eq!(vars, ["KILLER_MODE", "LEDGER_TABLE", "QUERY_INDEX_TABLE"]);
    }
}
