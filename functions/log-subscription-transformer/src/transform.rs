//! A decoded batch → output records: filter, redact, parse, enrich, cap the size.

use chrono::{DateTime, SecondsFormat, Utc};
use regex::{Regex, RegexSet};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::decode::LogsData;
use crate::parse::{self, Parsed, Report};

/// Firehose accepts records up to 1,000 KiB; one byte is kept for the newline.
pub const MAX_RECORD_BYTES: usize = 1000 * 1024 - 1;
const TRUNCATION_MARKER: &str = "…[truncated by lakeops]";

/// Include / exclude patterns and redaction rules.
#[derive(Debug, Clone)]
pub struct Rules {
    pub include: Option<Regex>,
    pub exclude: Option<Regex>,
    /// (pattern, replacement), applied in order.
    pub redactions: Vec<(Regex, &'static str)>,
    /// All redaction patterns at once: one pass tells whether a line needs any (most do not).
    any_redaction: Option<RegexSet>,
}

impl Rules {
    /// The built-in redactions that are switched on, then the custom pattern.
    pub fn new(
        include: Option<Regex>,
        exclude: Option<Regex>,
        aws_keys: bool,
        emails: bool,
        ips: bool,
        custom: Option<Regex>,
    ) -> Self {
        let mut redactions = Vec::new();
        let re = |p: &str| Regex::new(p).expect("built-in pattern");
        if aws_keys {
            redactions.push((
                re(r"\b(?:AKIA|ASIA|AROA|AIDA)[A-Z0-9]{16}\b"),
                "[REDACTED:aws-key-id]",
            ));
            redactions.push((
                re(r#"(?i)(secret[_-]?(?:access[_-]?)?key["']?\s*[:=]\s*["']?)[A-Za-z0-9/+=]{40}"#),
                "${1}[REDACTED:aws-secret]",
            ));
        }
        if emails {
            redactions.push((
                re(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"),
                "[REDACTED:email]",
            ));
        }
        if ips {
            redactions.push((
                re(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b"),
                "[REDACTED:ip]",
            ));
            redactions.push((
                re(r"\b(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}\b"),
                "[REDACTED:ip]",
            ));
        }
        if let Some(c) = custom {
            redactions.push((c, "[REDACTED]"));
        }
        let any_redaction = (!redactions.is_empty())
            .then(|| RegexSet::new(redactions.iter().map(|(r, _)| r.as_str())).ok())
            .flatten();
        Self {
            include,
            exclude,
            redactions,
            any_redaction,
        }
    }

    fn keeps(&self, message: &str) -> bool {
        self.include.as_ref().is_none_or(|r| r.is_match(message))
            && !self.exclude.as_ref().is_some_and(|r| r.is_match(message))
    }

    /// The message with every match replaced, and how many were.
    fn redact<'a>(&self, message: &'a str) -> (std::borrow::Cow<'a, str>, usize) {
        if self
            .any_redaction
            .as_ref()
            .is_some_and(|set| !set.is_match(message))
        {
            return (std::borrow::Cow::Borrowed(message), 0);
        }
        let mut text = std::borrow::Cow::Borrowed(message);
        let mut count = 0;
        for (re, replacement) in &self.redactions {
            let n = re.find_iter(&text).count();
            if n > 0 {
                count += n;
                text = std::borrow::Cow::Owned(re.replace_all(&text, *replacement).into_owned());
            }
        }
        (text, count)
    }
}

/// One output record: the documented schema (`infra/athena/log_records.sql`).
#[derive(Debug, Clone, Serialize)]
pub struct LogRecord {
    pub timestamp: String,
    pub event_id: String,
    pub account: String,
    pub region: String,
    pub log_group: String,
    pub log_stream: String,
    pub source_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_name: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
    pub redactions: usize,
    pub truncated: bool,
}

impl LogRecord {
    pub fn is_error(&self) -> bool {
        self.kind == "platform.timeout"
            || self.kind == "runtime.crash"
            || matches!(self.level.as_deref(), Some("ERROR" | "FATAL" | "CRITICAL"))
    }
}

/// What kind of source a log group is, from its name.
pub fn source_type(log_group: &str) -> (&'static str, Option<String>) {
    if let Some(f) = log_group.strip_prefix("/aws/lambda/") {
        return ("lambda", Some(f.to_string()));
    }
    let kind = if log_group.starts_with("/aws-glue/") {
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
    } else if log_group.contains("vpc") && log_group.contains("flow") {
        "vpcflow"
    } else {
        "other"
    };
    (kind, None)
}

/// What one batch became.
#[derive(Debug, Default)]
pub struct Transformed {
    pub records: Vec<LogRecord>,
    pub events_in: usize,
    pub dropped: usize,
    pub redactions: usize,
    pub truncated: usize,
}

/// Transforms a DATA_MESSAGE batch (the caller drops CONTROL_MESSAGEs).
pub fn transform(data: &LogsData, region: &str, rules: &Rules) -> Transformed {
    let (source, function_name) = source_type(&data.log_group);
    let mut out = Transformed {
        events_in: data.log_events.len(),
        ..Default::default()
    };
    // The request a line belongs to: set by START (or any line naming one), cleared after REPORT.
    let mut current_request: Option<String> = None;
    for event in &data.log_events {
        if !rules.keeps(&event.message) {
            out.dropped += 1;
            continue;
        }
        let (message, redactions) = rules.redact(&event.message);
        let Parsed {
            kind,
            level,
            request_id,
            message,
            fields,
            report,
        } = parse::parse(&message);
        if kind == "platform.start" || (request_id.is_some() && current_request.is_none()) {
            current_request.clone_from(&request_id);
        }
        let request_id = request_id.or_else(|| current_request.clone());
        if kind == "platform.report" {
            current_request = None;
        }
        let timestamp = DateTime::<Utc>::from_timestamp_millis(event.timestamp)
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
            .unwrap_or_default();
        let mut record = LogRecord {
            timestamp,
            event_id: event.id.clone(),
            account: data.owner.clone(),
            region: region.to_string(),
            log_group: data.log_group.clone(),
            log_stream: data.log_stream.clone(),
            source_type: source,
            function_name: function_name.clone(),
            kind,
            level,
            request_id,
            message,
            fields,
            report,
            redactions,
            truncated: false,
        };
        out.redactions += redactions;
        if cap_size(&mut record, event.message.len()) {
            out.truncated += 1;
        }
        out.records.push(record);
    }
    out
}

/// Serialized size of a record (one JSON line without the newline).
pub fn size(record: &LogRecord) -> usize {
    serde_json::to_vec(record)
        .map(|v| v.len())
        .unwrap_or(usize::MAX)
}

/// Cuts an oversize record to fit [`MAX_RECORD_BYTES`]: its fields go first, then the message is
/// cut at a character boundary with a marker. Returns whether it was cut. `raw_len` is the log
/// event's length: JSON escaping at most sextuples text, so most records need no measuring.
pub fn cap_size(record: &mut LogRecord, raw_len: usize) -> bool {
    let bound = raw_len * 6 * 2 + record.log_group.len() + record.log_stream.len() + 4096;
    if bound <= MAX_RECORD_BYTES || size(record) <= MAX_RECORD_BYTES {
        return false;
    }
    record.truncated = true;
    record.fields = None;
    let overhead = size(&LogRecord {
        message: String::new(),
        ..record.clone()
    });
    // JSON escaping can grow text up to 6x (\u00XX); cut until it fits.
    let mut budget = MAX_RECORD_BYTES.saturating_sub(overhead + TRUNCATION_MARKER.len() + 8);
    loop {
        let mut cut = budget.min(record.message.len());
        while !record.message.is_char_boundary(cut) {
            cut -= 1;
        }
        let candidate = format!("{}{TRUNCATION_MARKER}", &record.message[..cut]);
        let trial = LogRecord {
            message: candidate,
            ..record.clone()
        };
        if size(&trial) <= MAX_RECORD_BYTES || budget == 0 {
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

    fn sample() -> LogsData {
        let path = format!(
            "{}/../../events/cloudwatch-logs-subscription.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        decode::decode(v["awslogs"]["data"].as_str().unwrap()).unwrap()
    }

    fn rules() -> Rules {
        Rules::new(None, None, true, true, true, None)
    }

    #[test]
    fn enriches_carries_the_request_id_and_redacts() {
        let t = transform(&sample(), "us-east-1", &rules());
        assert_eq!((t.events_in, t.records.len(), t.dropped), (5, 5, 0));
        let info = &t.records[1];
        assert_eq!(
            info.timestamp, "2026-11-23T09:00:00.012Z",
            "from the event, not from now"
        );
        assert_eq!(
            (info.source_type, info.function_name.as_deref()),
            ("lambda", Some("orders-ingest"))
        );
        assert_eq!(
            info.request_id.as_deref(),
            Some("3f6a1c2e-9b7d-4e1a-8c5f-0d2b4a6e8c1f"),
            "carried from START"
        );
        let fields = info.fields.as_ref().unwrap();
        assert_eq!(fields["customer_email"], "[REDACTED:email]");
        assert_eq!(t.redactions, 1);
        assert!(t.records[2].is_error());
        assert_eq!(
            t.records[4].report.as_ref().unwrap().init_duration_ms,
            Some(412.77)
        );
        let line = serde_json::to_string(&t.records[0]).unwrap();
        assert!(
            line.contains(r#""type":"platform.start""#)
                && line.contains(r#""account":"123456789012""#),
            "{line}"
        );
    }

    #[test]
    fn filters_and_custom_redaction() {
        let r = Rules::new(
            Some(Regex::new("ERROR|REPORT").unwrap()),
            Some(Regex::new("REPORT").unwrap()),
            true,
            true,
            false,
            Some(Regex::new(r"order_id").unwrap()),
        );
        let t = transform(&sample(), "us-east-1", &r);
        assert_eq!((t.records.len(), t.dropped), (1, 4));
        assert!(
            t.records[0].message.contains("[REDACTED]"),
            "{}",
            t.records[0].message
        );
        let secrets = Rules::new(None, None, true, true, true, None)
            .redact("key AKIAABCDEFGHIJKLMNOP secret_access_key=abcdEFGHijklMNOPqrstUVWXyz0123456789+/AB from 10.1.2.3");
        assert_eq!(
            secrets.0,
            "key [REDACTED:aws-key-id] secret_access_key=[REDACTED:aws-secret] from [REDACTED:ip]"
        );
        assert_eq!(secrets.1, 3);
    }

    #[test]
    fn an_oversize_event_is_truncated_with_a_marker_not_dropped() {
        let mut data = sample();
        data.log_events = vec![LogEvent {
            id: "big".into(),
            timestamp: 1_795_424_400_000,
            message: format!(
                "{{\"level\":\"INFO\",\"message\":\"{}\",\"x\":1}}",
                "é\"".repeat(400_000)
            ),
        }];
        let t = transform(&data, "us-east-1", &rules());
        assert_eq!((t.records.len(), t.truncated), (1, 1));
        let r = &t.records[0];
        assert!(r.truncated && r.message.ends_with(TRUNCATION_MARKER) && r.fields.is_none());
        assert!(size(r) <= MAX_RECORD_BYTES);
    }

    #[test]
    fn source_types() {
        assert_eq!(source_type("/aws-glue/jobs/error").0, "glue");
        assert_eq!(source_type("/aws/rds/instance/db/postgresql").0, "rds");
        assert_eq!(source_type("my-app").0, "other");
    }
}
