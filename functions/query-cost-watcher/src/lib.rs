//! query-cost-watcher: prices every finished Athena query the way AWS bills it, alerts on
//! expensive ones, watches daily budgets and spikes, spots retry storms and sends the daily
//! digest. One library, two Lambda functions:
//! - **query-cost-feed** ([`feed::handle_batch`], `src/bin/query-cost-feed.rs`): the event queue's
//!   batches ("Athena Query State Change" events and CloudTrail `StartQueryExecution` records)
//!   applied to the query index; each query that ended is read from Athena, priced once and, if
//!   expensive, alerted once. Its own function, so its timeout is short and the queue's
//!   visibility is 6x it (docs/decisions/feed-function.md);
//! - **query-cost-watcher** ([`handle`]): the scheduled sweep. Reconciliation ([`reconcile`])
//!   finds in Athena's history what the feed missed (dropped events, queries left unpriced) and
//!   settles it the same way; then, over the window's finished queries in the index
//!   ([`window`]), retry storms ([`storm`]), daily budgets and spikes ([`spend`]) and, once a
//!   day, the digest ([`digest`]). A state-change event invoked directly (`make invoke`) is
//!   settled as a batch of one; what an invocation is, is read once ([`Trigger`]).
//!
//! Each query's spend metrics are emitted by whichever run prices it
//! ([`spend::record_priced`]), so none is counted twice or missed; every alert is claimed in the
//! alert ledger before it is sent (`query-cost-watcher/expensive/<id>`, ...), so none is sent
//! twice by the two functions or a retried run.

#![warn(clippy::too_many_lines)] // the house limit: no function over 80 lines (clippy.toml)
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub mod alerts;
pub mod config;
pub mod digest;
pub mod feed;
pub mod hints;
pub mod reconcile;
pub mod spend;
pub mod storm;
mod sweep;
pub mod trigger;
pub mod window;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use lakeops::alert::{Alert, AlertSink};
use lakeops::athena::{AthenaHistory, QueryExecution};
use lakeops::attribution::Caller;
use lakeops::ledger::{DynamoLedger, Ledger};
use lakeops::log_audit::read::AuditReader;
use lakeops::pricing::Charge;
use lakeops::query_index::{IndexStore, QueryIndex};
use lakeops::schedule::ScheduledRun;
use lakeops::wiring::AthenaWatchClients;
use lakeops::{ConfigReader, LakeopsError, Metrics, SnsAlertPublisher};
use lakeops_core::cost_hints::TableCatalog;
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::{json, Value};

use crate::hints::GlueCatalog;
use crate::spend::{record_priced, PricedSpend, SpendHistory};
use crate::window::Window;

pub use alerts::{budget_alert, expensive_alert, spike_alert, storm_alert, BudgetScope};
pub use config::CostConfig;
pub use trigger::Trigger;

pub const FUNCTION: &str = "query-cost-watcher";
pub(crate) const LEDGER_KEEP_DAYS: i64 = 3;

/// Everything a run needs. Generic over the alert sink and ledger so tests can record alerts.
/// `I`, `H`, `S` and `C`: the query index, Athena's history, the spend history and the Glue
/// catalog — the DynamoDB, Athena, CloudWatch and Glue adapters when deployed, the memory ones
/// (`lakeops_core::memory`, [`spend::MemorySpend`]) in unit tests and the simulated day.
pub struct Deps<
    A = SnsAlertPublisher,
    L = DynamoLedger,
    I = QueryIndex,
    H = AthenaHistory,
    S = SpendHistory,
    C = GlueCatalog,
> {
    pub config: CostConfig,
    pub history: H,
    pub alerts: A,
    pub ledger: L,
    pub index: I,
    pub spend: S,
    /// The event queue's own API: a message held for attribution comes back sooner.
    pub sqs: aws_sdk_sqs::Client,
    /// The blind-spot audit of the digest (`None`: no such section).
    pub audit: Option<AuditReader>,
    /// The Glue Data Catalog, for why an expensive query cost so much ([`hints`]).
    pub catalog: C,
}

impl Deps {
    pub async fn from_env() -> Result<Self, LakeopsError> {
        let mut r = ConfigReader::from_env();
        let config = CostConfig::read(&mut r);
        r.finish()?;
        let clients = AthenaWatchClients::connect(&config.common, &config.athena).await;
        let sdk = lakeops::aws::sdk_config().await;
        Ok(Self {
            history: clients.history,
            alerts: clients.alerts,
            ledger: clients.ledger,
            index: clients.index,
            spend: SpendHistory::new(
                aws_sdk_cloudwatch::Client::new(&sdk),
                &config.common.metrics_namespace,
            ),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            catalog: GlueCatalog::new(aws_sdk_glue::Client::new(&sdk)),
            audit: config
                .log_audit
                .in_digest
                .then(|| AuditReader::new(&sdk, config.log_audit.calls_per_second)),
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
    // Per byte, or a capacity reservation's DPU-time: either is what the query cost.
    if let Charge::Scanned { usd, .. } | Charge::Capacity { usd, .. } = charge {
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
    /// Today's spend so far per workgroup (local day), when budgets or spikes are watched.
    pub spend_today_usd: BTreeMap<String, f64>,
    /// Today's spend so far of each person with a budget.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub spend_today_by_person_usd: BTreeMap<String, f64>,
    pub expensive: Vec<String>,
    pub storms: Vec<String>,
    /// Ledger keys of the alerts sent by this run.
    pub alerted: Vec<String>,
    pub digest: Option<String>,
    pub failures: Vec<String>,
    pub unprocessed_ids: usize,
    pub list_calls: u32,
    pub batch_get_calls: u32,
    /// Finished queries this run priced into the index first (each query is priced once).
    pub priced: usize,
    /// What those queries cost, per workgroup: the spend metrics ([`spend::record_priced`]).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub priced_spend: BTreeMap<String, PricedSpend>,
    /// ... and per workgroup and person (`PERSON_METRICS`).
    #[serde(skip)]
    pub priced_by_person: BTreeMap<(String, String), f64>,
    /// The state-change batch, when the trigger was the event queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feed: Option<feed::FeedSummary>,
    /// The safety net under the event feed, on scheduled runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reconcile: Option<reconcile::ReconcileReport>,
    /// DynamoDB calls made to the query index.
    pub index_calls: lakeops::query_index::IndexCalls,
    /// Expensive-query alerts sent without some of their cost hints: a Glue lookup failed.
    pub cost_hint_failures: usize,
}

/// Time kept back from the invocation's deadline for what follows reconciliation (the window's
/// evaluation, budgets, the digest).
const RECONCILE_SHARE_OF_TIME: f64 = 0.5;

/// One invocation: a scheduled sweep, or one event settled as a batch of one.
pub async fn handle<A: AlertSink, L: Ledger>(
    event: LambdaEvent<Trigger>,
    deps: &Deps<A, L>,
) -> Result<Value, LakeopsError> {
    let now = Utc::now();
    let mut summary = match event.payload {
        Trigger::Event(payload) => settle_one(*payload, now, deps).await,
        Trigger::Schedule(run) => {
            let forced_digest = digest_override(&run)?;
            let mut metrics = Metrics::new(&deps.config.common.metrics_namespace);
            let window = Window::ending_at(run.time, deps.config.interval);
            let left = lakeops::deadline::remaining(event.context.deadline, now.timestamp_millis())
                .unwrap_or(std::time::Duration::from_secs(60));
            let until = tokio::time::Instant::now() + left.mul_f64(RECONCILE_SHARE_OF_TIME);
            let result = deps
                .sweep(window, forced_digest, now, until, &mut metrics)
                .await;
            // Stamped with the window's start: a retried window lands in the same period.
            metrics.flush_at(window.start);
            result?
        }
    };
    summary.index_calls = deps.index.calls();
    tracing::info!(summary = %json!(summary), "run finished");
    if !summary.failures.is_empty() {
        return Err(LakeopsError::Undelivered(summary.failures.join("; ")));
    }
    Ok(json!(summary))
}

/// An event straight from an EventBridge rule (or `make invoke`): a batch of one, never held
/// for attribution (no queue to hand it back to).
async fn settle_one<A: AlertSink, L: Ledger>(
    payload: Value,
    now: DateTime<Utc>,
    deps: &Deps<A, L>,
) -> RunSummary {
    let one = [feed::Delivery {
        message_id: "event".into(),
        receive_count: feed::MAX_HOLD_RECEIVES,
        receipt: None,
        body: Ok(payload),
    }];
    let mut summary = RunSummary {
        trigger: "state-change",
        ..Default::default()
    };
    let mut fed = feed::FeedSummary::default();
    deps.feed(&one, now, &mut summary, &mut fed).await;
    let mut metrics = Metrics::new(&deps.config.common.metrics_namespace);
    record_priced(&mut metrics, &summary, &[], deps.config.person_metrics);
    metrics.flush();
    summary.failures.extend(fed.failed.iter().cloned());
    summary.feed = Some(fed);
    summary
}

/// A digest asked for by the event: `{"digest": true}` (yesterday) or `{"digest": "2026-11-22"}`.
fn digest_override(run: &ScheduledRun) -> Result<Option<DigestRequest>, LakeopsError> {
    match run.overrides.get("digest") {
        Some(Value::Bool(true)) => Ok(Some(DigestRequest::Yesterday)),
        Some(Value::Bool(false)) => Ok(None),
        _ => Ok(run.date_override("digest")?.map(DigestRequest::Day)),
    }
}

/// A digest requested by the event rather than by the clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DigestRequest {
    Yesterday,
    Day(NaiveDate),
}

impl<A: AlertSink, L: Ledger, I, H, S, C> Deps<A, L, I, H, S, C> {
    /// Sends `alert` unless its id was claimed in the ledger already; failures are collected
    /// (the run fails at the end, after everything else was tried).
    async fn send_once(&self, alert: &Alert, summary: &mut RunSummary) {
        lakeops::ledger::send_alert_once(
            &self.ledger,
            &self.alerts,
            alert,
            Duration::days(LEDGER_KEEP_DAYS),
            &mut summary.alerted,
            &mut summary.failures,
        )
        .await;
    }
}

impl<A, L, I, H, S, C: TableCatalog> Deps<A, L, I, H, S, C> {
    /// The expensive-query alert with why it cost so much. A lookup that failed is counted
    /// (`summary.cost_hint_failures`) and logged; the alert goes out without those hints.
    pub(crate) async fn expensive_alert(
        &self,
        q: &QueryExecution,
        charge: &Charge,
        why: &Expensive,
        caller: Option<&Caller>,
        now: DateTime<Utc>,
        summary: &mut RunSummary,
    ) -> Alert {
        let hints = hints::cost_hints(&self.catalog, q).await;
        if let Some(e) = &hints.lookup_failed {
            summary.cost_hint_failures += 1;
            tracing::warn!(query = %q.id, error = %e, "cost hints: catalog lookup failed");
        }
        expensive_alert(q, charge, why, caller, &hints, &self.config, now)
    }
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
            ("QUERY_INDEX_TABLE", "i"),
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
        capacity.engine_ms = Some(10 * 60_000);
        assert!(
            matches!(check(&capacity), Some(Expensive::Bytes { .. })),
            "24 DPU × 10 min = $1.20: under $5, but 2 TiB is over the bytes threshold"
        );
        capacity.engine_ms = Some(60 * 60_000);
        capacity.data_scanned_bytes = Some(1 << 30);
        assert_eq!(
            check(&capacity),
            Some(Expensive::Cost {
                usd: 24.0 * 0.30,
                threshold: 5.0
            }),
            "24 DPU × 1 h = $7.20 of the reservation"
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
        let a = expensive_alert(
            &query,
            &charge,
            &why,
            None,
            &hints::CostHints::default(),
            &c,
            Utc::now(),
        );
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
        assert_eq!(a.next_steps.len(), 1, "the general advice without hints");
    }

    #[tokio::test]
    async fn the_alert_says_why_it_cost_so_much_and_how_to_fix_it() {
        use lakeops_core::cost_hints::{PartitionCount, StorageFormat, TableFacts};
        let c = config();
        let mut query = q("adhoc", QueryState::Succeeded, StatementType::Dml, 3 * TB);
        query.sql = "SELECT * FROM sales.clickstream WHERE user_id = 7".into();
        let mut catalog = lakeops_core::memory::MemoryCatalog::default();
        catalog.tables.insert(
            "sales.clickstream".into(),
            TableFacts {
                format: StorageFormat::Parquet,
                columns: 22,
                partition_keys: vec!["dt".into()],
                partitions: Some(PartitionCount {
                    counted: 3650,
                    more: false,
                }),
                size_bytes: None,
            },
        );
        let hints = hints::cost_hints(&catalog, &query).await;
        let charge = c.athena.price.charge(&query);
        let why = assess(&query, &charge, &c).unwrap();
        let a = expensive_alert(&query, &charge, &why, None, &hints, &c, Utc::now());
        let labels: Vec<&str> = a.fields.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(labels[..4], ["Cost", "Scanned", "Why", "Why"]);
        assert_eq!(
            a.fields[2].1,
            "sales.clickstream has 3,650 partitions by dt; this query filtered on none of them, so Athena read every one."
        );
        assert!(
            a.fields[3].1.starts_with("SELECT * read all 23 columns"),
            "{:?}",
            a.fields[3]
        );
        assert_eq!(a.next_steps.len(), 2);
        assert!(
            a.next_steps[0].starts_with("Filter on dt"),
            "{:?}",
            a.next_steps
        );
        assert_eq!(a.details["cost_hints"][0]["kind"], "no_partition_filter");
        assert_eq!(a.details["cost_hints_unavailable"], serde_json::Value::Null);
    }
}
