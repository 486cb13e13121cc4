//! One log line → what it is: a Lambda platform line (START / END / REPORT, in text or JSON log
//! format), a timeout, a runtime crash, a JSON application log (its fields kept), or plain text;
//! with its level and request id where the line says them.
//!
//! Everything borrows from the line: a JSON line's fields stay raw JSON text ([`Fields`]) and are
//! written out as they came, so a line is parsed once and nothing is rebuilt value by value.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The REPORT line's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    pub duration_ms: Option<f64>,
    pub billed_duration_ms: Option<f64>,
    pub memory_size_mb: Option<f64>,
    pub max_memory_used_mb: Option<f64>,
    pub init_duration_ms: Option<f64>,
}

/// A JSON line's members in their order, values as raw JSON text.
#[derive(Debug, Clone, Default)]
pub struct Fields<'a>(pub Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> Fields<'a> {
    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// Takes a member out.
    fn remove(&mut self, key: &str) -> Option<&'a RawValue> {
        let i = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(i).1)
    }

    /// A member that is a JSON string, unescaped (borrowed when it has no escapes).
    pub fn str(&self, key: &str) -> Option<Cow<'a, str>> {
        self.get(key).and_then(json_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A raw JSON value that is a string, unescaped.
fn json_str(v: &RawValue) -> Option<Cow<'_, str>> {
    let text = v.get();
    if !text.starts_with('"') {
        return None;
    }
    match serde_json::from_str::<&str>(text) {
        Ok(s) => Some(Cow::Borrowed(s)),
        Err(_) => serde_json::from_str::<String>(text).ok().map(Cow::Owned),
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Fields<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;
        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Self::Value, M::Error> {
                let mut out = Vec::with_capacity(m.size_hint().unwrap_or(8));
                while let Some(k) = m.next_key::<Key<'de>>()? {
                    out.push((k.0, m.next_value::<&'de RawValue>()?));
                }
                Ok(Fields(out))
            }
        }
        d.deserialize_map(FieldsVisitor)
    }
}

/// An object key, borrowed unless it holds escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

#[derive(Debug, Clone)]
pub struct Parsed<'a> {
    /// `log`, `platform.start`, `platform.end`, `platform.report`, `platform.timeout`,
    /// `runtime.crash`, or the JSON format's own `platform.*` type.
    pub kind: Cow<'a, str>,
    pub level: Option<&'static str>,
    pub request_id: Option<Cow<'a, str>>,
    /// The message text (for JSON application logs: their `message` field when present).
    pub message: Cow<'a, str>,
    /// A JSON message's other fields.
    pub fields: Option<Fields<'a>>,
    pub report: Option<Report>,
}

impl Parsed<'_> {
    /// Whether this line should raise an alert: error levels, timeouts and crashes.
    pub fn is_error(&self) -> bool {
        self.kind == "platform.timeout"
            || self.kind == "runtime.crash"
            || matches!(self.level, Some("ERROR" | "FATAL" | "CRITICAL"))
    }
}

/// Known levels, as written out (`WARNING` becomes `WARN`).
const LEVELS: [(&str, &str); 9] = [
    ("TRACE", "TRACE"),
    ("DEBUG", "DEBUG"),
    ("INFO", "INFO"),
    ("WARN", "WARN"),
    ("WARNING", "WARN"),
    ("ERROR", "ERROR"),
    ("FATAL", "FATAL"),
    ("CRITICAL", "CRITICAL"),
    ("NOTICE", "NOTICE"),
];

fn normalize_level(s: &str) -> Option<&'static str> {
    let word = s.trim().trim_matches(|c| c == '[' || c == ']');
    LEVELS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(word))
        .map(|(_, level)| *level)
}

pub fn parse(raw: &str) -> Parsed<'_> {
    let message = raw.trim_end_matches(['\n', '\r']);
    let trimmed = message.trim_start();
    if trimmed.starts_with('{') {
        if let Ok(fields) = serde_json::from_str::<Fields>(trimmed) {
            return parse_json(fields, message);
        }
    }
    parse_text(message)
}

fn plain<'a>(kind: &'static str, message: &'a str) -> Parsed<'a> {
    Parsed {
        kind: Cow::Borrowed(kind),
        level: None,
        request_id: None,
        message: Cow::Borrowed(message),
        fields: None,
        report: None,
    }
}

fn after<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let start = text.find(key)? + key.len();
    let rest = text[start..].trim_start();
    Some(rest.split([' ', '\t']).next().unwrap_or(rest))
}

fn number_after(text: &str, key: &str) -> Option<f64> {
    after(text, key)?.parse().ok()
}

fn first_word(s: &str) -> Option<Cow<'_, str>> {
    s.split_whitespace().next().map(Cow::Borrowed)
}

fn parse_text(message: &str) -> Parsed<'_> {
    if let Some(rest) = message.strip_prefix("START RequestId:") {
        let mut p = plain("platform.start", message);
        p.request_id = first_word(rest);
        return p;
    }
    if let Some(rest) = message.strip_prefix("END RequestId:") {
        let mut p = plain("platform.end", message);
        p.request_id = first_word(rest);
        return p;
    }
    if let Some(rest) = message.strip_prefix("REPORT RequestId:") {
        let mut p = plain("platform.report", message);
        p.request_id = first_word(rest);
        p.report = Some(Report {
            duration_ms: number_after(message, "\tDuration:")
                .or_else(|| number_after(message, " Duration:")),
            billed_duration_ms: number_after(message, "Billed Duration:"),
            memory_size_mb: number_after(message, "Memory Size:"),
            max_memory_used_mb: number_after(message, "Max Memory Used:"),
            init_duration_ms: number_after(message, "Init Duration:"),
        });
        if message.contains("Status: timeout") {
            p.kind = Cow::Borrowed("platform.timeout");
        }
        return p;
    }
    // Runtime text format: `<time>\t<request id>\t<LEVEL>\t<message>` (Node.js, Python's
    // `print`-style logger: `[LEVEL]\t<time>\t<request id>\t<message>`).
    let mut p = plain("log", message);
    let mut parts = message.splitn(4, '\t');
    if let (Some(a), Some(b), Some(c), Some(_)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    {
        if let Some(level) = normalize_level(a) {
            p.level = Some(level);
            p.request_id = looks_like_request_id(c).then_some(Cow::Borrowed(c));
        } else if let Some(level) = normalize_level(c) {
            p.level = Some(level);
            p.request_id = looks_like_request_id(b).then_some(Cow::Borrowed(b));
        }
    }
    if message.contains("Task timed out after") {
        p.kind = Cow::Borrowed("platform.timeout");
        p.level = Some("ERROR");
        if p.request_id.is_none() {
            p.request_id = message
                .split_whitespace()
                .find(|w| looks_like_request_id(w))
                .map(Cow::Borrowed);
        }
        return p;
    }
    if message.contains("Runtime exited with error")
        || message.contains("Runtime.ExitError")
        || message.contains("Runtime.OutOfMemory")
        || message.contains("signal: killed")
    {
        p.kind = Cow::Borrowed("runtime.crash");
        p.level = Some("ERROR");
        return p;
    }
    if p.level.is_none() {
        // A level word near the start: `[ERROR] ...`, `ERROR: ...`, Glue/Spark `... ERROR Logger: ...`.
        let mut end = message.len().min(64);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        p.level = message[..end]
            .split(|c: char| c.is_whitespace() || c == ':' || c == '[' || c == ']')
            .filter(|w| !w.is_empty() && w.bytes().all(|c| c.is_ascii_uppercase()))
            .find_map(normalize_level);
    }
    p
}

fn looks_like_request_id(s: &str) -> bool {
    s.len() == 36
        && s.bytes().filter(|c| *c == b'-').count() == 4
        && s.bytes().all(|c| c.is_ascii_hexdigit() || c == b'-')
}

/// The `record` of a Lambda JSON-format platform line.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PlatformRecord<'a> {
    #[serde(borrow, default)]
    request_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    status: Option<Cow<'a, str>>,
    #[serde(default)]
    metrics: Option<PlatformMetrics>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PlatformMetrics {
    duration_ms: Option<f64>,
    billed_duration_ms: Option<f64>,
    #[serde(rename = "memorySizeMB")]
    memory_size_mb: Option<f64>,
    #[serde(rename = "maxMemoryUsedMB")]
    max_memory_used_mb: Option<f64>,
    init_duration_ms: Option<f64>,
}

fn parse_json<'a>(mut fields: Fields<'a>, raw: &'a str) -> Parsed<'a> {
    // Lambda JSON log format, platform events: {"time", "type": "platform.*", "record": {...}}.
    if let Some(kind) = fields.str("type").filter(|t| t.starts_with("platform.")) {
        let record: PlatformRecord = fields
            .get("record")
            .and_then(|r| serde_json::from_str(r.get()).ok())
            .unwrap_or_default();
        let is_report = kind == "platform.report";
        let mut p = plain("log", raw);
        p.kind = kind;
        p.request_id = record.request_id;
        if is_report {
            let m = record.metrics.unwrap_or_default();
            p.report = Some(Report {
                duration_ms: m.duration_ms,
                billed_duration_ms: m.billed_duration_ms,
                memory_size_mb: m.memory_size_mb,
                max_memory_used_mb: m.max_memory_used_mb,
                init_duration_ms: m.init_duration_ms,
            });
        }
        match record.status.as_deref() {
            Some("timeout") => {
                p.kind = Cow::Borrowed("platform.timeout");
                p.level = Some("ERROR");
            }
            Some("error" | "failure") if !is_report => {
                p.kind = Cow::Borrowed("runtime.crash");
                p.level = Some("ERROR");
            }
            _ => {}
        }
        return p;
    }
    // An application log in JSON: its level, request id and message, the rest as fields.
    let level = ["level", "levelname", "severity", "log.level"]
        .iter()
        .find_map(|k| fields.str(k))
        .and_then(|l| normalize_level(&l));
    let request_id = ["requestId", "request_id", "AWSRequestId", "aws_request_id"]
        .iter()
        .find_map(|k| fields.str(k));
    let message = ["message", "msg"]
        .iter()
        .find_map(|k| fields.remove(k))
        .map(|v| json_str(v).unwrap_or(Cow::Borrowed(v.get())))
        .unwrap_or(Cow::Borrowed(raw));
    Parsed {
        kind: Cow::Borrowed("log"),
        level,
        request_id,
        message,
        fields: Some(fields),
        report: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQ: &str = "3f6a1c2e-9b7d-4e1a-8c5f-0d2b4a6e8c1f";

    /// Parses a line built in the test (kept alive for the test's length).
    fn parse_owned(line: String) -> Parsed<'static> {
        parse(Box::leak(line.into_boxed_str()))
    }

    #[test]
    fn text_platform_lines() {
        let s = parse_owned(format!("START RequestId: {REQ} Version: $LATEST\n"));
        assert_eq!(
            (s.kind.as_ref(), s.request_id.as_deref()),
            ("platform.start", Some(REQ))
        );
        let r = parse_owned(format!("REPORT RequestId: {REQ}\tDuration: 843.21 ms\tBilled Duration: 844 ms\tMemory Size: 512 MB\tMax Memory Used: 187 MB\tInit Duration: 412.77 ms\t\n"));
        assert_eq!(r.kind, "platform.report");
        let rep = r.report.unwrap();
        assert_eq!(rep.duration_ms, Some(843.21));
        assert_eq!(rep.billed_duration_ms, Some(844.0));
        assert_eq!(rep.memory_size_mb, Some(512.0));
        assert_eq!(rep.max_memory_used_mb, Some(187.0));
        assert_eq!(rep.init_duration_ms, Some(412.77));
        let warm = parse_owned(format!("REPORT RequestId: {REQ}\tDuration: 3.10 ms\tBilled Duration: 4 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\t"));
        assert_eq!(
            warm.report.unwrap().init_duration_ms,
            None,
            "warm start: no Init Duration"
        );
    }

    #[test]
    fn runtime_text_format_levels_timeouts_and_crashes() {
        let e = parse_owned(format!("2026-11-23T06:20:00.840Z\t{REQ}\tERROR\tInvoke Error \t{{\"errorType\":\"KeyError\"}}\n"));
        assert_eq!(
            (e.level, e.request_id.as_deref()),
            (Some("ERROR"), Some(REQ))
        );
        assert!(e.is_error());
        let py = parse_owned(format!(
            "[WARNING]\t2026-11-23T06:20:00.840Z\t{REQ}\tslow downstream"
        ));
        assert_eq!(py.level, Some("WARN"));
        let t = parse_owned(format!(
            "2026-11-23T06:20:03.000Z {REQ} Task timed out after 3.00 seconds"
        ));
        assert_eq!(
            (t.kind.as_ref(), t.request_id.as_deref()),
            ("platform.timeout", Some(REQ))
        );
        assert!(t.is_error());
        let oom = parse_owned(format!(
            "RequestId: {REQ} Error: Runtime exited with error: signal: killed\nRuntime.ExitError"
        ));
        assert_eq!(oom.kind, "runtime.crash");
        let glue = parse("26/11/23 06:20:05 ERROR GlueLogger: Job failed: AnalysisException");
        assert_eq!(glue.level, Some("ERROR"));
        assert_eq!(parse("just some text about errors").level, None);
    }

    #[test]
    fn json_application_and_platform_lines() {
        let app =
            parse(r#"{"level":"INFO","message":"batch received","orders":412,"requestId":"r-1"}"#);
        assert_eq!(
            (app.kind.as_ref(), app.level, app.message.as_ref()),
            ("log", Some("INFO"), "batch received")
        );
        assert_eq!(app.fields.unwrap().get("orders").unwrap().get(), "412");
        let report = parse(
            r#"{"time":"2026-11-23T06:20:00.845Z","type":"platform.report","record":{"requestId":"r-1","metrics":{"durationMs":843.21,"billedDurationMs":844,"memorySizeMB":512,"maxMemoryUsedMB":187,"initDurationMs":412.77},"status":"success"}}"#,
        );
        assert_eq!(report.kind, "platform.report");
        assert_eq!(report.report.unwrap().max_memory_used_mb, Some(187.0));
        let timeout = parse(
            r#"{"time":"t","type":"platform.runtimeDone","record":{"requestId":"r-2","status":"timeout"}}"#,
        );
        assert_eq!(
            (timeout.kind.as_ref(), timeout.request_id.as_deref()),
            ("platform.timeout", Some("r-2"))
        );
        assert!(parse("{not json").fields.is_none());
    }
}
