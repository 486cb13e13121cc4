//! log-subscription-transformer: CloudWatch Logs subscription payloads → clean, enriched JSON
//! records → Firehose (and so S3, queryable by Athena), with alerts on errors, timeouts and
//! crashes.
//!
//! Two triggers, read once into a [`Trigger`], one core ([`decode`] → [`transform`]):
//! - a **subscription filter invoking the function** (`{"awslogs":{"data":…}}`): the records go to
//!   `FIREHOSE_STREAM` with `PutRecordBatch` ([`sink`]); records that still fail after retries
//!   within the deadline fail the invocation, so Lambda's retry and on-failure destination keep
//!   the batch (records carry the CloudWatch event id, so downstream can drop the repeats);
//! - **Firehose data transformation** (`{"records":[…]}`): every `recordId` is answered `Ok` (its
//!   records as JSON lines), `Dropped` (CONTROL_MESSAGE, everything filtered out) or
//!   `ProcessingFailed` (undecodable — Firehose keeps it under its error prefix), within the 6 MB
//!   response limit.
//!
//! Never processes its own log group (a log loop); alerts at most once per log group per
//! `ALERT_MIN_INTERVAL_MINUTES`, through the shared alert ledger.

#![warn(clippy::too_many_lines)] // the house limit: no function over 80 lines (clippy.toml)
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub mod alerting;
pub mod config;
#[cfg(test)]
mod corpus;
pub mod decode;
pub mod fixtures;
pub mod level;
pub mod ndjson;
pub mod parse;
pub mod record;
pub mod redact;
pub mod sink;
pub mod transform;
pub mod trigger;

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use base64::Engine;
use chrono::Utc;
use lakeops::alert::AlertSink;
use lakeops::config::{ConfigError, ConfigProblem};
use lakeops::ledger::{DynamoLedger, Ledger};
use lakeops::outbox::{AlertOutbox, Outbox};
use lakeops::{ConfigReader, LakeopsError, Metrics, SnsAlertPublisher, Unit};
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::alerting::{note_errors, GroupErrors};
pub use crate::config::TransformerConfig;
use crate::decode::LogsData;
use crate::ndjson::Lines;
use crate::sink::FirehoseSink;
use crate::transform::Transformed;
pub use crate::trigger::{FirehoseRecord, Trigger};

pub const FUNCTION: &str = "log-subscription-transformer";
/// Firehose's limit on a transformation response, less room for the envelope.
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024 - 64 * 1024;

/// Tells glibc's allocator to keep freed memory for the next batch. A batch needs a few tens of
/// MiB at once (the inflated JSON, the output lines); by default glibc maps blocks that large
/// fresh each time and unmaps them on free, so every invocation pays a page fault per 4 KiB
/// touched — measured ~20 % of a 1 MB-compressed batch's time (`make bench-transformer`).
/// Raising the thresholds keeps that memory in the heap; the cost is RSS staying at the largest
/// batch's peak between invocations, well inside the function's memory.
pub fn keep_memory_between_batches() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes two allocator thresholds; called at start-up, before any
    // other thread allocates.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
    }
}

pub struct Deps<A = SnsAlertPublisher, L = DynamoLedger, O = Outbox> {
    pub config: TransformerConfig,
    pub sink: Option<FirehoseSink>,
    pub alerts: A,
    pub ledger: L,
    /// `LogErrors` alerts SNS refused, kept for a later invocation ([`alerting`]).
    pub outbox: O,
    /// When this process last looked for kept alerts.
    pub outbox_pace: alerting::OutboxPace,
}

impl Deps {
    pub async fn from_env() -> Result<Self, LakeopsError> {
        let mut r = ConfigReader::from_env();
        let config = TransformerConfig::read(&mut r);
        r.finish()?;
        let sdk = lakeops::aws::sdk_config().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        Ok(Self {
            sink: config.firehose_stream.clone().map(|stream| FirehoseSink {
                client: aws_sdk_firehose::Client::new(&sdk),
                stream,
            }),
            alerts: SnsAlertPublisher::new(
                aws_sdk_sns::Client::new(&sdk),
                &config.common.alert_topic_arn,
                config.common.dry_run,
            ),
            ledger: DynamoLedger::new(dynamodb.clone(), &config.ledger_table),
            outbox: Outbox::new(dynamodb, &config.ledger_table, FUNCTION),
            outbox_pace: alerting::OutboxPace::default(),
            config,
        })
    }
}

/// What an invocation did.
#[derive(Debug, Default, Serialize)]
pub struct RunSummary {
    pub trigger: &'static str,
    pub batches: usize,
    pub events_in: usize,
    pub records_out: usize,
    pub dropped: usize,
    pub control_messages: usize,
    pub redacted: usize,
    pub truncated: usize,
    pub delivery_failed: usize,
    /// Payloads (Firehose records) that could not be decoded.
    pub decode_failed: usize,
    pub firehose_calls: usize,
    pub skipped_own_log_group: usize,
    pub alerted: Vec<String>,
    /// Alerts SNS refused this time: kept in the outbox for a later invocation, never a reason
    /// to fail the batch (a retried subscription batch would store its records twice).
    pub alerts_undelivered: Vec<String>,
    /// Alerts earlier invocations kept, published now.
    pub kept_alerts_delivered: Vec<String>,
    /// Alerts still in the outbox after this invocation, when it looked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerts_kept: Option<usize>,
    /// What makes the invocation fail (records not delivered).
    pub failures: Vec<String>,
}

/// Everything one invocation collects besides its records.
struct Run {
    summary: RunSummary,
    metrics: Metrics,
    errors: BTreeMap<String, GroupErrors>,
}

pub async fn handle<A: AlertSink, L: Ledger, O: AlertOutbox>(
    event: LambdaEvent<Trigger>,
    deps: &Deps<A, L, O>,
) -> Result<Value, LakeopsError> {
    let now = Utc::now();
    let remaining = lakeops::deadline::remaining(event.context.deadline, now.timestamp_millis())
        .unwrap_or(StdDuration::from_secs(60));
    // Keep 2 s to answer and report.
    let deadline = Instant::now() + remaining.saturating_sub(StdDuration::from_secs(2));
    let mut run = Run {
        summary: RunSummary::default(),
        metrics: Metrics::new(&deps.config.common.metrics_namespace),
        errors: BTreeMap::new(),
    };
    let answer = match &event.payload {
        Trigger::Subscription { data } => {
            if let Err(e) = subscription(data, deps, deadline, &mut run).await {
                record_totals(&mut run.metrics, &run.summary);
                run.metrics.flush();
                return Err(e);
            }
            None
        }
        Trigger::FirehoseTransformation { records } => {
            Some(firehose_transformation(records, deps, &mut run))
        }
    };
    alerting::send_error_alerts(deps, now, &mut run).await;
    let Run {
        summary,
        mut metrics,
        ..
    } = run;
    record_totals(&mut metrics, &summary);
    metrics.flush();
    tracing::info!(summary = %json!(summary), "run finished");
    if !summary.failures.is_empty() {
        return Err(LakeopsError::Undelivered(summary.failures.join("; ")));
    }
    Ok(answer.unwrap_or_else(|| json!(summary)))
}

/// Subscription mode: one payload → records → Firehose. An undecodable payload is
/// `InvalidInput` (Lambda's on-failure destination keeps the event); records Firehose still
/// refuses after retries are failures that fail the invocation.
async fn subscription<A, L, O>(
    data: &str,
    deps: &Deps<A, L, O>,
    deadline: Instant,
    run: &mut Run,
) -> Result<(), LakeopsError> {
    run.summary.trigger = "cloudwatch-logs-subscription";
    run.summary.batches = 1;
    let Some(sink) = &deps.sink else {
        return Err(LakeopsError::Config(ConfigError {
            problems: vec![ConfigProblem {
                variable: "FIREHOSE_STREAM".into(),
                problem: "required for CloudWatch Logs subscription events (records need a delivery stream)".into(),
            }],
        }));
    };
    let lines = match process_payload(data, deps, run) {
        Ok(lines) => lines.unwrap_or_default(),
        Err(e) => {
            run.summary.decode_failed = 1;
            return Err(LakeopsError::InvalidInput(e.to_string()));
        }
    };
    if lines.is_empty() {
        return Ok(());
    }
    let n = lines.count;
    let delivery = sink.send(&lines, deadline).await;
    let s = &mut run.summary;
    s.firehose_calls = delivery.calls;
    s.records_out = delivery.delivered;
    s.delivery_failed = delivery.failed;
    if delivery.failed > 0 {
        s.failures.push(format!(
            "{} of {n} records not delivered to Firehose: {}",
            delivery.failed,
            delivery.last_error.unwrap_or_default()
        ));
    }
    Ok(())
}

/// Firehose data-transformation mode: every `recordId` answered `Ok` (its records as JSON
/// lines), `Dropped` (control message, everything filtered) or `ProcessingFailed` (undecodable,
/// or over the response limit). A failed record's data is not echoed — Firehose keeps the
/// original under its error prefix — so the response stays under the 6 MB limit whatever the
/// input.
fn firehose_transformation<A, L, O>(
    records: &[FirehoseRecord],
    deps: &Deps<A, L, O>,
    run: &mut Run,
) -> Value {
    run.summary.trigger = "firehose-transformation";
    let mut answers = Vec::with_capacity(records.len());
    let mut response_bytes = 0usize;
    for rec in records {
        let id = &rec.record_id;
        let raw = rec.data.as_str();
        run.summary.batches += 1;
        let (result, data) = match process_payload(raw, deps, run) {
            Err(e) => {
                tracing::warn!(record_id = %id, error = %e, "record cannot be decoded");
                run.summary.decode_failed += 1;
                ("ProcessingFailed", String::new())
            }
            Ok(None) => ("Dropped", String::new()),
            Ok(Some(lines)) if lines.is_empty() => ("Dropped", String::new()),
            Ok(Some(lines)) => {
                let body = base64::engine::general_purpose::STANDARD.encode(&lines.text);
                if response_bytes + body.len() > MAX_RESPONSE_BYTES {
                    tracing::warn!(record_id = %id, bytes = body.len(), "over the response limit: answered ProcessingFailed (Firehose keeps the record)");
                    run.summary.delivery_failed += lines.count;
                    ("ProcessingFailed", String::new())
                } else {
                    run.summary.records_out += lines.count;
                    ("Ok", body)
                }
            }
        };
        response_bytes += data.len() + ANSWER_OVERHEAD_BYTES + id.to_string().len();
        answers.push(json!({"recordId": id, "result": result, "data": data}));
    }
    json!({"records": answers})
}

/// A record's answer without its data: `{"recordId":…,"result":"ProcessingFailed","data":""}`.
const ANSWER_OVERHEAD_BYTES: usize = 64;

/// The invocation's totals (no dimensions: one series each for the whole function).
fn record_totals(metrics: &mut Metrics, s: &RunSummary) {
    let totals: [(&str, &str); 0] = [];
    for (name, value) in [
        ("EventsIn", s.events_in),
        ("RecordsOut", s.records_out),
        ("Dropped", s.dropped),
        ("Redacted", s.redacted),
        ("Truncated", s.truncated),
        ("DeliveryFailed", s.delivery_failed),
        ("DecodeFailed", s.decode_failed),
        ("AlertsUndelivered", s.alerts_undelivered.len()),
    ] {
        metrics.record(&totals, name, value as f64, Unit::Count);
    }
    if let Some(kept) = s.alerts_kept {
        metrics.record(&totals, "LogErrorAlertsKept", kept as f64, Unit::Count);
    }
}

/// One payload (`awslogs.data` or a Firehose record's `data`) → JSON lines: `Err` when it cannot
/// be decoded, `Ok(None)` when the batch is dropped whole.
fn process_payload<A, L, O>(
    raw: &str,
    deps: &Deps<A, L, O>,
    run: &mut Run,
) -> Result<Option<Lines>, decode::DecodeError> {
    let json = decode::inflate(raw)?;
    let data = decode::parse(&json)?;
    Ok(process(&data, deps, run))
}

/// One decoded batch → JSON lines (None when the batch is dropped whole).
fn process<A, L, O>(data: &LogsData, deps: &Deps<A, L, O>, run: &mut Run) -> Option<Lines> {
    let summary = &mut run.summary;
    if data.is_control() {
        summary.control_messages += 1;
        summary.dropped += data.log_events.len();
        return None;
    }
    if deps.config.own_log_group.as_deref() == Some(data.log_group.as_ref()) {
        tracing::warn!(
            log_group = %data.log_group,
            "own log group: skipped (no log loop)"
        );
        summary.skipped_own_log_group += 1;
        summary.dropped += data.log_events.len();
        return None;
    }
    let (errors, metrics) = (&mut run.errors, &mut run.metrics);
    let Transformed {
        lines,
        events_in,
        dropped,
        redactions,
        truncated,
    } = transform::transform(data, &deps.config.common.region, &deps.config.rules, |r| {
        note_errors(r, errors);
        if let (Some(report), Some(f)) = (&r.line.report, r.function_name) {
            let dims = [("FunctionName", f)];
            if let Some(v) = report.duration_ms {
                metrics.record(&dims, "Duration", v, Unit::Milliseconds);
            }
            if let Some(v) = report.max_memory_used_mb {
                metrics.record(&dims, "MaxMemoryUsed", v, Unit::Megabytes);
            }
            if let Some(v) = report.init_duration_ms {
                metrics.record(&dims, "InitDuration", v, Unit::Milliseconds);
            }
        }
    });
    summary.events_in += events_in;
    summary.dropped += dropped;
    summary.redacted += redactions;
    summary.truncated += truncated;
    Some(lines)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use lakeops::alert::RecordingSink;
    use lakeops::ledger::MemoryLedger;
    use lakeops::outbox::MemoryOutbox;

    pub(crate) fn deps() -> Deps<RecordingSink, MemoryLedger, MemoryOutbox> {
        let mut r = ConfigReader::from_map([
            ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:1:t"),
            ("LEDGER_TABLE", "l"),
        ]);
        let config = TransformerConfig::read(&mut r);
        r.finish().unwrap();
        Deps {
            config,
            sink: None,
            alerts: RecordingSink::default(),
            ledger: MemoryLedger::default(),
            outbox: MemoryOutbox::default(),
            outbox_pace: alerting::OutboxPace::default(),
        }
    }

    fn event(v: Value) -> LambdaEvent<Trigger> {
        let trigger = serde_json::from_value(v).expect("a transformer trigger");
        LambdaEvent::new(trigger, lambda_runtime::Context::default())
    }

    #[test]
    fn bad_layout_and_redaction_overrides_fail_start_up_naming_each_variable() {
        let mut r = ConfigReader::from_map([
            ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:1:t"),
            ("LEDGER_TABLE", "l"),
            ("LOG_RECORD_LAYOUT", "csv"),
            (
                "REDACT_BY_LOG_GROUP",
                r#"[{"log_group":"/aws/*","ipz":true}]"#,
            ),
        ]);
        TransformerConfig::read(&mut r);
        let problems = r.finish().unwrap_err().to_string();
        assert!(problems.contains("LOG_RECORD_LAYOUT"), "{problems}");
        assert!(problems.contains("REDACT_BY_LOG_GROUP"), "{problems}");
    }

    #[tokio::test]
    async fn bad_events_and_missing_configuration_are_clear_errors() {
        let d = deps();
        let no_stream = handle(event(json!({"awslogs": {"data": "x"}})), &d)
            .await
            .unwrap_err();
        assert_eq!(no_stream.error_type(), "InvalidConfiguration");
        assert!(
            no_stream.to_string().contains("FIREHOSE_STREAM"),
            "{no_stream}"
        );
        // Firehose mode: an undecodable record is answered ProcessingFailed, nothing raised.
        let fh = json!({"records": [{"recordId": "r1", "data": "not base64!"}]});
        let answer = handle(event(fh), &d).await.unwrap();
        assert_eq!(answer["records"][0]["result"], "ProcessingFailed");
        assert_eq!(
            answer["records"][0]["data"], "",
            "not echoed: Firehose keeps the original"
        );
        assert!(d.alerts.alerts.lock().unwrap().is_empty());
    }
}
