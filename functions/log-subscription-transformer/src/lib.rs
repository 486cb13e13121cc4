//! log-subscription-transformer: CloudWatch Logs subscription payloads → clean, enriched JSON
//! records → Firehose (and so S3, queryable by Athena), with alerts on errors, timeouts and
//! crashes.
//!
//! Two triggers, one core ([`decode`] → [`transform`]):
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

pub mod alerting;
#[cfg(test)]
mod corpus;
pub mod decode;
pub mod fixtures;
pub mod level;
pub mod ndjson;
pub mod parse;
pub mod redact;
pub mod sink;
pub mod transform;

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use lakeops::alert::{Alert, AlertSink, Severity};
use lakeops::config::{ConfigError, ConfigProblem};
use lakeops::ledger::{DynamoLedger, Ledger};
use lakeops::outbox::{AlertOutbox, Outbox};
use lakeops::{
    console, CommonConfig, ConfigReader, LakeopsError, Metrics, SnsAlertPublisher, Unit,
};
use lambda_runtime::LambdaEvent;
use regex::Regex;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::decode::LogsData;
use crate::ndjson::{Layout, Lines};
use crate::parse::kind;
use crate::redact::{Redactor, Switches};
use crate::sink::FirehoseSink;
use crate::transform::{LogRecord, Rules, Transformed};

pub const FUNCTION: &str = "log-subscription-transformer";
/// Firehose's limit on a transformation response, less room for the envelope.
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024 - 64 * 1024;
/// Error lines quoted in an alert.
const ALERT_LINES: usize = 5;

#[derive(Debug, Clone)]
pub struct TransformerConfig {
    pub common: CommonConfig,
    /// `FIREHOSE_STREAM`: where subscription-mode records go (not needed in Firehose mode).
    pub firehose_stream: Option<String>,
    /// `INCLUDE_PATTERN` / `EXCLUDE_PATTERN` (regexes on the raw message; `a|b` for several),
    /// redaction (`REDACT_*`), and the record layout (`LOG_RECORD_LAYOUT`).
    pub rules: Rules,
    /// `ALERT_MIN_INTERVAL_MINUTES` (default 15; 0 = every invocation): per log group.
    pub alert_interval: Duration,
    /// `LEDGER_TABLE`: the alert ledger (rate limit, no duplicates on retries).
    pub ledger_table: String,
    /// The function's own log group (`AWS_LAMBDA_LOG_GROUP_NAME`, set by Lambda): never processed.
    pub own_log_group: Option<String>,
}

fn regex(r: &mut ConfigReader, name: &str) -> Option<Regex> {
    let raw = r.optional(name)?;
    match Regex::new(&raw) {
        Ok(re) => Some(re),
        Err(e) => {
            r.problem(name, format!("not a valid regex: {e}"));
            None
        }
    }
}

impl TransformerConfig {
    pub fn read(r: &mut ConfigReader) -> Self {
        let common = CommonConfig::read(r);
        let include = regex(r, "INCLUDE_PATTERN");
        let exclude = regex(r, "EXCLUDE_PATTERN");
        let custom = regex(r, "REDACT_PATTERN");
        let switches = Switches {
            aws_keys: r.bool_or("REDACT_AWS_KEYS", true),
            secrets: r.bool_or("REDACT_SECRETS", true),
            emails: r.bool_or("REDACT_EMAILS", true),
            ips: r.bool_or("REDACT_IPS", true),
        };
        let overrides = match r.optional("REDACT_BY_LOG_GROUP") {
            None => Vec::new(),
            Some(text) => redact::parse_overrides(&text).unwrap_or_else(|problem| {
                r.problem("REDACT_BY_LOG_GROUP", problem);
                Vec::new()
            }),
        };
        let layout = match r.string_or("LOG_RECORD_LAYOUT", "parquet").as_str() {
            "parquet" => Layout::Parquet,
            "json" => Layout::Json,
            other => {
                r.problem(
                    "LOG_RECORD_LAYOUT",
                    format!("must be parquet or json, not {other:?}"),
                );
                Layout::Parquet
            }
        };
        let interval: u32 = r.parse_or("ALERT_MIN_INTERVAL_MINUTES", 15);
        let own = r.optional("AWS_LAMBDA_LOG_GROUP_NAME").or_else(|| {
            r.optional("AWS_LAMBDA_FUNCTION_NAME")
                .map(|f| format!("/aws/lambda/{f}"))
        });
        Self {
            common,
            firehose_stream: r.optional("FIREHOSE_STREAM"),
            rules: Rules {
                include,
                exclude,
                redactor: Redactor::new(switches, overrides, custom),
                layout,
            },
            alert_interval: Duration::minutes(interval as i64),
            ledger_table: r.required("LEDGER_TABLE"),
            own_log_group: own,
        }
    }
}

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

/// Failure and error lines of one log group in this invocation.
#[derive(Debug, Default, Clone)]
struct GroupErrors {
    stream: String,
    account: String,
    first_at: Option<DateTime<Utc>>,
    lines: Vec<String>,
    errors: usize,
    timeouts: usize,
    crashes: usize,
    unhandled: usize,
    /// What failed, each named once, in the order seen.
    error_types: Vec<String>,
}

impl GroupErrors {
    fn failures(&self) -> usize {
        self.timeouts + self.crashes + self.unhandled
    }
}

/// Everything one invocation collects besides its records.
struct Run {
    summary: RunSummary,
    metrics: Metrics,
    errors: BTreeMap<String, GroupErrors>,
}

pub async fn handle<A: AlertSink, L: Ledger, O: AlertOutbox>(
    event: LambdaEvent<Value>,
    deps: &Deps<A, L, O>,
) -> Result<Value, LakeopsError> {
    let now = Utc::now();
    let remaining = lakeops::deadline::remaining(event.context.deadline, now.timestamp_millis())
        .unwrap_or(StdDuration::from_secs(60));
    // Keep 2 s to answer and report.
    let deadline = Instant::now() + remaining.saturating_sub(StdDuration::from_secs(2));
    let payload = &event.payload;
    let mut run = Run {
        summary: RunSummary::default(),
        metrics: Metrics::new(&deps.config.common.metrics_namespace),
        errors: BTreeMap::new(),
    };
    let answer = if let Some(data) = payload.pointer("/awslogs/data").and_then(Value::as_str) {
        if let Err(e) = subscription(data, deps, deadline, &mut run).await {
            record_totals(&mut run.metrics, &run.summary);
            run.metrics.flush();
            return Err(e);
        }
        None
    } else if let Some(records) = payload.get("records").and_then(Value::as_array) {
        Some(firehose_transformation(records, deps, &mut run))
    } else {
        return Err(LakeopsError::InvalidInput(
            "expected a CloudWatch Logs subscription event ({\"awslogs\":{\"data\":...}}) or a Firehose transformation event ({\"records\":[...]})".into(),
        ));
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
    records: &[Value],
    deps: &Deps<A, L, O>,
    run: &mut Run,
) -> Value {
    run.summary.trigger = "firehose-transformation";
    let mut answers = Vec::with_capacity(records.len());
    let mut response_bytes = 0usize;
    for rec in records {
        let id = rec["recordId"].clone();
        let raw = rec["data"].as_str().unwrap_or_default();
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

fn note_errors(r: &LogRecord, errors: &mut BTreeMap<String, GroupErrors>) {
    if !r.line.is_error() {
        return;
    }
    let e = errors.entry(r.log_group.to_string()).or_default();
    if e.lines.is_empty() {
        e.stream = r.log_stream.to_string();
        e.account = r.account.to_string();
        e.first_at = DateTime::parse_from_rfc3339(r.timestamp.as_str())
            .ok()
            .map(|t| t.with_timezone(&Utc));
    }
    match r.line.kind.as_ref() {
        kind::TIMEOUT => e.timeouts += 1,
        kind::CRASH => e.crashes += 1,
        kind::UNHANDLED => e.unhandled += 1,
        _ => e.errors += 1,
    }
    if let Some(t) = &r.line.error_type {
        if e.error_types.len() < ALERT_LINES && !e.error_types.iter().any(|x| x == t) {
            e.error_types.push(t.to_string());
        }
    }
    if e.lines.len() < ALERT_LINES {
        let line = r.line.summary().unwrap_or(&r.line.message);
        e.lines.push(lakeops::alert::truncate(line, 500));
    }
}

/// One alert per log group per invocation (and at most one per interval).
fn error_alert(
    group: &str,
    e: &GroupErrors,
    interval: Duration,
    region: &str,
    now: DateTime<Utc>,
) -> Alert {
    let at = e.first_at.unwrap_or(now);
    let bucket = if interval.num_seconds() > 0 {
        at.timestamp().div_euclid(interval.num_seconds())
    } else {
        // No rate limit: one alert per first-error instant (a retry of the batch repeats it).
        at.timestamp_millis()
    };
    let what = match (e.timeouts, e.crashes, e.unhandled) {
        (0, 0, 0) => "errors",
        (_, 0, 0) => "timeouts",
        (0, _, 0) => "crashes",
        (0, 0, _) => "unhandled errors",
        _ => "failed invocations",
    };
    // A failed invocation (timeout, crash, out of memory, unhandled error) is critical; error
    // lines the code logged and handled are a warning.
    let severity = if e.failures() > 0 {
        Severity::Critical
    } else {
        Severity::Warning
    };
    Alert::new(
        "LogErrors",
        severity,
        FUNCTION,
        // The severity is part of the key: a critical batch after a warning in the same
        // interval still gets its alert (at most one of each per interval).
        format!(
            "{FUNCTION}/{}/{}/{bucket}",
            group.trim_start_matches('/'),
            severity
        ),
        now,
        format!("{} in {group}", capitalize(what)),
        format!(
            "{group} logged {} error line(s), {} timeout(s), {} crash(es) and {} unhandled error(s) in this batch, starting {}.",
            e.errors, e.timeouts, e.crashes, e.unhandled, at.to_rfc3339()
        ),
    )
    .field("Log group", group)
    .field("Log stream", &e.stream)
    .field(
        "Error types",
        if e.error_types.is_empty() {
            "-".to_string()
        } else {
            e.error_types.join(", ")
        },
    )
    .field("First lines", e.lines.join("\n"))
    .attribute("log_group", group)
    .link("Log stream in CloudWatch", console::log_stream(region, group, &e.stream))
    .detail("log_group", group)
    .detail("log_stream", &e.stream)
    .detail("account", &e.account)
    .detail("errors", e.errors)
    .detail("timeouts", e.timeouts)
    .detail("crashes", e.crashes)
    .detail("unhandled", e.unhandled)
    .detail("error_types", &e.error_types)
    .detail("first_error_at", at)
    .next_step("Open the log stream at the first line; for timeouts compare Duration with the function's timeout in the REPORT lines.")
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
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

    fn event(v: Value) -> LambdaEvent<Value> {
        LambdaEvent::new(v, lambda_runtime::Context::default())
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
        let neither = handle(event(json!({"hello": 1})), &d).await.unwrap_err();
        assert_eq!(neither.error_type(), "InvalidInput");
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

    #[test]
    fn a_critical_batch_after_a_warning_in_the_same_interval_has_its_own_alert() {
        let at: DateTime<Utc> = "2026-11-24T09:01:00Z".parse().unwrap();
        let interval = Duration::minutes(15);
        let alert = |e: &GroupErrors| error_alert("/aws/lambda/etl", e, interval, "us-east-1", at);
        let warning = GroupErrors {
            errors: 2,
            first_at: Some(at),
            ..Default::default()
        };
        let later_warning = GroupErrors {
            first_at: Some(at + Duration::minutes(5)),
            ..warning.clone()
        };
        let critical = GroupErrors {
            timeouts: 1,
            first_at: Some(at + Duration::minutes(1)),
            ..Default::default()
        };
        let (w, w2, c) = (alert(&warning), alert(&later_warning), alert(&critical));
        assert_eq!(
            (w.severity, c.severity),
            (Severity::Warning, Severity::Critical)
        );
        assert_eq!(w.id, w2.id, "one warning per interval");
        assert_ne!(
            w.id, c.id,
            "the critical one is not swallowed by the warning's key"
        );
    }
}
