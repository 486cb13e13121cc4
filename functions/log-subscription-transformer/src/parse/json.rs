//! A JSON line: a Lambda JSON-format platform event, a runtime's error document, or an
//! application log with its level, request id and message.

use std::borrow::Cow;

use super::fields::{json_str, Fields};
use super::platform::PlatformRecord;
use super::text::{crash_type, json_error_type};
use super::{kind, plain, Parsed, Report};
use crate::level;

/// The Logs API's `platform.fault` type (Lambda Developer Guide, "Lambda Logs API"): runtime or
/// execution-environment errors, its `record` a string.
const FAULT: &str = "platform.fault";

/// A JSON object's level, from the first of [`level::JSON_KEYS`] it has: a level word, or a
/// number on that key's scale (pino / bunyan `"level":50`).
pub(super) fn json_level(fields: &Fields) -> Option<&'static str> {
    level::JSON_KEYS.iter().find_map(|(key, scale)| {
        let v = fields.get(key)?;
        match json_str(v) {
            Some(word) => level::from_word(&word),
            None => level::from_number(v.get().parse().ok()?, *scale),
        }
    })
}

/// A `platform.fault` event: always a crash of the runtime or its environment. Its record
/// (`RequestId: <id> Process exited before completing request`) names the request and, through
/// the text crash signs, the error type where it says one.
fn platform_fault<'a>(record: Option<Cow<'a, str>>, raw: &'a str) -> Parsed<'a> {
    let mut p = plain(FAULT, raw);
    let mut error_type = None;
    if let Some(text) = record {
        error_type = crash_type(&text).map(Cow::Borrowed);
        p.request_id = text
            .split_once("RequestId:")
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .map(|id| Cow::Owned(id.to_string()));
    }
    p.failed(kind::CRASH, error_type)
}

pub(super) fn parse_json<'a>(mut fields: Fields<'a>, raw: &'a str) -> Parsed<'a> {
    // Lambda JSON log format, platform events: {"time", "type": "platform.*", "record": {...}}.
    if let Some(k) = fields.str("type").filter(|t| t.starts_with("platform.")) {
        if k == FAULT {
            return platform_fault(fields.get("record").and_then(json_str), raw);
        }
        let record: PlatformRecord = fields
            .get("record")
            .and_then(|r| serde_json::from_str(r.get()).ok())
            .unwrap_or_default();
        let mut p = plain(kind::LOG, raw);
        if k == kind::REPORT {
            let m = record.metrics.unwrap_or_default();
            let timed_out = record.status.as_deref() == Some("timeout");
            p.report = Some(
                Report {
                    duration_ms: m.duration_ms,
                    billed_duration_ms: m.billed_duration_ms,
                    memory_size_mb: m.memory_size_mb,
                    max_memory_used_mb: m.max_memory_used_mb,
                    init_duration_ms: m.init_duration_ms,
                    probable_out_of_memory: false,
                }
                .flag_probable_oom(timed_out),
            );
        }
        p.kind = k;
        p.request_id = record.request_id;
        // Telemetry API statuses: `failure` = the function's error, `error` = the runtime or
        // environment's, `timeout`.
        return match record.status.as_deref() {
            Some("timeout") => p.failed(kind::TIMEOUT, record.error_type),
            Some("error") => p.failed(kind::CRASH, record.error_type),
            Some("failure") => p.failed(kind::UNHANDLED, record.error_type),
            _ => p,
        };
    }
    // An application log in JSON: its level, request id and message, the rest as fields.
    let level = json_level(&fields);
    let request_id = ["requestId", "request_id", "AWSRequestId", "aws_request_id"]
        .iter()
        .find_map(|k| fields.str(k));
    // A runtime's error document (Python, Java, .NET, Go, Node.js init errors; Python's JSON
    // format adds `log_level`): the invocation failed with this error.
    let document_error = fields.str("errorType");
    let is_document = document_error.is_some() && fields.get("errorMessage").is_some();
    let message = ["message", "msg", "errorMessage"]
        .iter()
        .find_map(|k| fields.remove(k))
        .map(|v| json_str(v).unwrap_or(Cow::Borrowed(v.get())))
        .unwrap_or(Cow::Borrowed(raw));
    let mut p = Parsed {
        kind: Cow::Borrowed(kind::LOG),
        level,
        request_id,
        message,
        error_type: None,
        fields: Some(fields),
        report: None,
    };
    if is_document {
        return p.failed(kind::UNHANDLED, document_error);
    }
    if level::is_error(p.level) {
        // Node.js's JSON format logs an error object as the message.
        p.error_type = json_error_type(&p.message).map(|t| Cow::Owned(t.to_string()));
    }
    p
}
