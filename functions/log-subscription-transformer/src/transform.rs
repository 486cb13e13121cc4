//! A decoded batch → output records: filter, redact, parse, enrich, cap the size.

use std::borrow::Cow;

use regex::Regex;

use crate::decode::LogsData;
use crate::ndjson::{self, Layout, Lines};
use crate::parse;
use crate::record::{Clock, LogRecord};
use crate::redact::{Redactor, Switches};

/// Firehose accepts records up to 1,000 KiB; one byte is kept for the newline.
pub const MAX_RECORD_BYTES: usize = 1000 * 1024 - 1;
const TRUNCATION_MARKER: &str = "…[truncated by lakeops]";

/// Include / exclude patterns, redaction, and the output layout.
#[derive(Debug, Clone)]
pub struct Rules {
    pub include: Option<Regex>,
    pub exclude: Option<Regex>,
    pub redactor: Redactor,
    pub layout: Layout,
}

impl Rules {
    /// Every built-in redaction on, no filters, the Parquet layout: the defaults.
    pub fn standard() -> Self {
        Self {
            include: None,
            exclude: None,
            redactor: Redactor::new(Switches::default(), Vec::new(), None),
            layout: Layout::default(),
        }
    }

    fn keeps(&self, message: &str) -> bool {
        self.include.as_ref().is_none_or(|r| r.is_match(message))
            && !self.exclude.as_ref().is_some_and(|r| r.is_match(message))
    }
}

/// What kind of source a log group is, from its name (the names AWS gives or requires; access
/// logs by the word in their name, as their groups are named by the user).
pub fn source_type(log_group: &str) -> (&'static str, Option<&str>) {
    if let Some(f) = log_group.strip_prefix("/aws/lambda/") {
        return ("lambda", Some(f));
    }
    let lower = log_group.to_ascii_lowercase();
    let kind = if lower.contains("access-log")
        || lower.contains("access_log")
        || lower.contains("accesslog")
    {
        "accesslog"
    } else if log_group.starts_with("aws-waf-logs-") {
        "waf"
    } else if log_group.starts_with("aws-cloudtrail-logs") || lower.contains("cloudtrail") {
        "cloudtrail"
    } else if log_group.starts_with("/aws-glue/") {
        "glue"
    } else if log_group.starts_with("/aws/rds/") {
        "rds"
    } else if log_group.starts_with("/aws/ecs/") || log_group.starts_with("/ecs/") {
        "ecs"
    } else if log_group.starts_with("/aws/apigateway/")
        || log_group.starts_with("API-Gateway-Execution-Logs")
    {
        "apigateway"
    } else if log_group.starts_with("/aws/vendedlogs/states/")
        || log_group.starts_with("/aws/states/")
    {
        "stepfunctions"
    } else if log_group.starts_with("/aws/codebuild/") {
        "codebuild"
    } else if log_group.starts_with("/aws/emr") {
        "emr"
    } else if lower.contains("vpc") && lower.contains("flow") {
        "vpcflow"
    } else {
        "other"
    };
    (kind, None)
}

/// What one batch became.
#[derive(Debug, Default)]
pub struct Transformed {
    /// The records as JSON lines, packed for Firehose.
    pub lines: Lines,
    pub events_in: usize,
    pub dropped: usize,
    pub redactions: usize,
    pub truncated: usize,
}

/// Transforms a DATA_MESSAGE batch (the caller drops CONTROL_MESSAGEs) into JSON lines; `each`
/// sees every record before it is written (for alerts and metrics).
pub fn transform(
    data: &LogsData,
    region: &str,
    rules: &Rules,
    mut each: impl FnMut(&LogRecord),
) -> Transformed {
    let (source, function_name) = source_type(&data.log_group);
    let mut out = Transformed {
        lines: Lines::with_capacity(
            data.log_events.iter().map(|e| e.message.len() + 400).sum(),
            rules.layout,
        ),
        events_in: data.log_events.len(),
        ..Default::default()
    };
    let switches = rules.redactor.switches_for(&data.log_group, source);
    let mut clock = Clock::default();
    // The request a line belongs to: set by START (or any line naming one), cleared after REPORT.
    let mut current_request: Option<String> = None;
    for event in &data.log_events {
        if !rules.keeps(&event.message) {
            out.dropped += 1;
            continue;
        }
        let (message, redactions) = rules.redactor.redact(&event.message, switches);
        let mut line = parse::parse(&message);
        if line.kind == parse::kind::START
            || (line.request_id.is_some() && current_request.is_none())
        {
            current_request = line.request_id.as_deref().map(str::to_string);
        }
        // REPORT ends a request, also when it says the request failed.
        let ends_request = line.report.is_some();
        if line.request_id.is_none() {
            line.request_id = current_request.as_deref().map(Cow::Borrowed);
        }
        let mut record = LogRecord {
            timestamp: clock.format(event.timestamp),
            event_id: &event.id,
            account: &data.owner,
            region,
            log_group: &data.log_group,
            log_stream: &data.log_stream,
            source_type: source,
            function_name,
            line,
            redactions,
            truncated: false,
        };
        out.redactions += redactions;
        if cap_size(&mut record, event.message.len(), rules.layout) {
            out.truncated += 1;
        }
        each(&record);
        out.lines.push(&record);
        if ends_request {
            current_request = None;
        }
    }
    out
}

/// Serialized size of a record (one JSON line without the newline).
pub fn size(record: &LogRecord, layout: Layout) -> usize {
    let mut line = Vec::new();
    ndjson::write_record(&mut line, record, layout);
    line.len()
}

/// Cuts an oversize record to fit [`MAX_RECORD_BYTES`]: its fields go first, then the message is
/// cut at a character boundary with a marker. Returns whether it was cut. `raw_len` is the log
/// event's length: JSON escaping at most sextuples text, so most records need no measuring.
pub fn cap_size(record: &mut LogRecord, raw_len: usize, layout: Layout) -> bool {
    // The message can be written twice (the summary is its first line), and in the Parquet
    // layout the fields are escaped twice (JSON text in a JSON string): 6x each time.
    let bound = raw_len * 6 * 6 + record.log_group.len() + record.log_stream.len() + 4096;
    if bound <= MAX_RECORD_BYTES || size(record, layout) <= MAX_RECORD_BYTES {
        return false;
    }
    record.truncated = true;
    record.line.fields = None;
    let mut empty = record.clone();
    empty.line.message = Cow::Borrowed("");
    let overhead = size(&empty, layout);
    // JSON escaping can grow text up to 6x (\u00XX); cut until it fits.
    let mut budget = MAX_RECORD_BYTES.saturating_sub(overhead + TRUNCATION_MARKER.len() + 8);
    loop {
        let message = &record.line.message;
        let mut cut = budget.min(message.len());
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        let candidate = format!("{}{TRUNCATION_MARKER}", &message[..cut]);
        let mut trial = record.clone();
        trial.line.message = Cow::Owned(candidate);
        if size(&trial, layout) <= MAX_RECORD_BYTES || budget == 0 {
            *record = trial;
            return true;
        }
        budget = budget * 3 / 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{self, LogEvent};
    use serde_json::{json, Value};

    fn sample_json() -> Vec<u8> {
        let path = format!(
            "{}/../../events/cloudwatch-logs-subscription.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        decode::inflate(v["awslogs"]["data"].as_str().unwrap()).unwrap()
    }

    fn rules() -> Rules {
        Rules {
            layout: Layout::Json,
            ..Rules::standard()
        }
    }

    /// The batch transformed, its lines read back as JSON, and which records were errors.
    fn run(data: &LogsData, rules: &Rules) -> (Transformed, Vec<Value>, Vec<bool>) {
        let mut errors = Vec::new();
        let t = transform(data, "us-east-1", rules, |r| errors.push(r.line.is_error()));
        assert_eq!(t.lines.text.last(), Some(&b'\n'));
        let lines: Vec<Value> = t
            .lines
            .text
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(lines.len(), t.lines.count);
        (t, lines, errors)
    }

    #[test]
    fn enriches_carries_the_request_id_and_redacts() {
        let json = sample_json();
        let (t, records, errors) = run(&decode::parse(&json).unwrap(), &rules());
        assert_eq!((t.events_in, records.len(), t.dropped), (5, 5, 0));
        let info = &records[1];
        assert_eq!(
            info["timestamp"], "2026-11-23T09:00:00.012Z",
            "from the event, not from now"
        );
        assert_eq!(
            (&info["source_type"], &info["function_name"]),
            (&json!("lambda"), &json!("orders-ingest"))
        );
        assert_eq!(
            info["request_id"], "3f6a1c2e-9b7d-4e1a-8c5f-0d2b4a6e8c1f",
            "carried from START"
        );
        assert_eq!(info["fields"]["customer_email"], "[REDACTED:email]");
        assert_eq!(t.redactions, 1);
        assert_eq!(errors, [false, false, true, false, false]);
        assert_eq!(records[4]["report"]["init_duration_ms"], 412.77);
        assert_eq!(records[0]["type"], "platform.start");
        assert_eq!(records[0]["account"], "123456789012");
    }

    #[test]
    fn filters_and_custom_redaction() {
        let r = Rules {
            include: Some(Regex::new("ERROR|REPORT").unwrap()),
            exclude: Some(Regex::new("REPORT").unwrap()),
            redactor: Redactor::new(
                Switches {
                    ips: false,
                    ..Switches::default()
                },
                Vec::new(),
                Some(Regex::new(r"order_id").unwrap()),
            ),
            layout: Layout::Json,
        };
        let json = sample_json();
        let (t, records, _) = run(&decode::parse(&json).unwrap(), &r);
        assert_eq!((records.len(), t.dropped), (1, 4));
        let message = records[0]["message"].as_str().unwrap();
        assert!(message.contains("[REDACTED]"), "{message}");
        let r = rules().redactor;
        let secrets = r.redact("key AKIAABCDEFGHIJKLMNOP secret_access_key=abcdEFGHijklMNOPqrstUVWXyz0123456789+/AB from 10.1.2.3 and fe80:0:0:0:202:b3ff:fe1e:8329 to ann@example.org", Switches::default());
        assert_eq!(
            secrets.0,
            "key [REDACTED:aws-key-id] secret_access_key=[REDACTED:secret] from [REDACTED:ip] and [REDACTED:ip] to [REDACTED:email]"
        );
        assert_eq!(secrets.1, 5);
        let (untouched, n) = r.redact(
            "AKIAABCDEFGHIJKLMNOPQ 10.1.2.300 ünïcode ok",
            Switches::default(),
        );
        assert_eq!(
            (untouched.as_ref(), n),
            ("AKIAABCDEFGHIJKLMNOPQ 10.1.2.300 ünïcode ok", 0),
            "no partial-word matches"
        );
    }

    #[test]
    fn an_oversize_event_is_truncated_with_a_marker_not_dropped() {
        let json = sample_json();
        let mut data = decode::parse(&json).unwrap();
        data.log_events = vec![LogEvent {
            id: "big".into(),
            timestamp: 1_795_424_400_000,
            message: format!(
                "{{\"level\":\"INFO\",\"message\":\"{}\",\"x\":1}}",
                "é\"".repeat(400_000)
            )
            .into(),
        }];
        let (t, records, _) = run(&data, &rules());
        assert_eq!((records.len(), t.truncated), (1, 1));
        let r = &records[0];
        assert_eq!(r["truncated"], true);
        assert!(r["message"].as_str().unwrap().ends_with(TRUNCATION_MARKER));
        assert!(r.get("fields").is_none());
        assert!(t.lines.text.len() <= MAX_RECORD_BYTES + 1);
    }

    #[test]
    fn lines_are_packed_whole_into_firehose_records() {
        let json = sample_json();
        let mut data = decode::parse(&json).unwrap();
        data.log_events = (0..3)
            .map(|i| LogEvent {
                id: format!("e{i}").into(),
                timestamp: 1_795_424_400_000,
                message: "x".repeat(400 * 1024).into(),
            })
            .collect();
        let (t, records, _) = run(&data, &rules());
        assert_eq!(records.len(), 3);
        let packed: Vec<usize> = t.lines.records.iter().map(|r| r.lines).collect();
        assert_eq!(
            packed,
            [2, 1],
            "two 400 KiB lines fit in one 1,000 KiB record"
        );
        for r in &t.lines.records {
            assert!(r.bytes.len() <= ndjson::MAX_FIREHOSE_RECORD_BYTES);
            assert_eq!(t.lines.text[r.bytes.end - 1], b'\n', "whole lines only");
        }
        assert_eq!(
            t.lines.records.last().unwrap().bytes.end,
            t.lines.text.len()
        );
    }

    #[test]
    fn timestamps_are_rfc3339_millis_from_the_event() {
        let mut c = Clock::default();
        assert_eq!(
            c.format(1_795_424_400_012).as_str(),
            "2026-11-23T09:00:00.012Z"
        );
        assert_eq!(
            c.format(1_795_424_400_999).as_str(),
            "2026-11-23T09:00:00.999Z"
        );
        assert_eq!(
            c.format(1_795_424_401_000).as_str(),
            "2026-11-23T09:00:01.000Z"
        );
        assert_eq!(c.format(-1).as_str(), "1969-12-31T23:59:59.999Z");
        assert_eq!(c.format(i64::MAX).as_str(), "", "out of range");
    }

    #[test]
    fn source_types() {
        assert_eq!(source_type("/aws-glue/jobs/error").0, "glue");
        assert_eq!(source_type("/aws/rds/instance/db/postgresql").0, "rds");
        assert_eq!(
            source_type("/aws/apigateway/orders/access-logs").0,
            "accesslog"
        );
        assert_eq!(
            source_type("API-Gateway-Execution-Logs_abc/prod").0,
            "apigateway"
        );
        assert_eq!(source_type("aws-waf-logs-edge").0, "waf");
        assert_eq!(source_type("/VPC/Flow-Logs").0, "vpcflow");
        assert_eq!(source_type("my-app").0, "other");
    }
}
