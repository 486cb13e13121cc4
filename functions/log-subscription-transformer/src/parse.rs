//! One log line → what it is: a Lambda platform line (START / END / REPORT, in text or JSON log
//! format), a timeout, a runtime crash, a JSON application log (its fields kept), or plain text;
//! with its level and request id where the line says them.

use serde::Serialize;
use serde_json::{Map, Value};

/// The REPORT line's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    pub duration_ms: Option<f64>,
    pub billed_duration_ms: Option<f64>,
    pub memory_size_mb: Option<f64>,
    pub max_memory_used_mb: Option<f64>,
    pub init_duration_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// `log`, `platform.start`, `platform.end`, `platform.report`, `platform.timeout`,
    /// `runtime.crash`, or the JSON format's own `platform.*` type.
    pub kind: String,
    pub level: Option<String>,
    pub request_id: Option<String>,
    /// The message text (for JSON application logs: their `message` field when present).
    pub message: String,
    /// A JSON message's other fields.
    pub fields: Option<Map<String, Value>>,
    pub report: Option<Report>,
}

impl Parsed {
    /// Whether this line should raise an alert: error levels, timeouts and crashes.
    pub fn is_error(&self) -> bool {
        self.kind == "platform.timeout"
            || self.kind == "runtime.crash"
            || matches!(self.level.as_deref(), Some("ERROR" | "FATAL" | "CRITICAL"))
    }
}

const LEVELS: [&str; 9] = [
    "TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR", "FATAL", "CRITICAL", "NOTICE",
];

fn normalize_level(s: &str) -> Option<String> {
    let up = s
        .trim()
        .trim_matches(|c| c == '[' || c == ']')
        .to_ascii_uppercase();
    match up.as_str() {
        "WARNING" => Some("WARN".into()),
        l if LEVELS.contains(&l) => Some(up),
        _ => None,
    }
}

pub fn parse(raw: &str) -> Parsed {
    let message = raw.trim_end_matches(['\n', '\r']);
    let trimmed = message.trim_start();
    if trimmed.starts_with('{') {
        if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(trimmed) {
            return parse_json(map, message);
        }
    }
    parse_text(message)
}

fn plain(kind: &str, message: &str) -> Parsed {
    Parsed {
        kind: kind.to_string(),
        level: None,
        request_id: None,
        message: message.to_string(),
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

fn parse_text(message: &str) -> Parsed {
    if let Some(rest) = message.strip_prefix("START RequestId:") {
        let mut p = plain("platform.start", message);
        p.request_id = rest.split_whitespace().next().map(str::to_string);
        return p;
    }
    if let Some(rest) = message.strip_prefix("END RequestId:") {
        let mut p = plain("platform.end", message);
        p.request_id = rest.split_whitespace().next().map(str::to_string);
        return p;
    }
    if let Some(rest) = message.strip_prefix("REPORT RequestId:") {
        let mut p = plain("platform.report", message);
        p.request_id = rest.split_whitespace().next().map(str::to_string);
        p.report = Some(Report {
            duration_ms: number_after(message, "\tDuration:")
                .or_else(|| number_after(message, " Duration:")),
            billed_duration_ms: number_after(message, "Billed Duration:"),
            memory_size_mb: number_after(message, "Memory Size:"),
            max_memory_used_mb: number_after(message, "Max Memory Used:"),
            init_duration_ms: number_after(message, "Init Duration:"),
        });
        if message.contains("Status: timeout") {
            p.kind = "platform.timeout".into();
        }
        return p;
    }
    // Runtime text format: `<time>\t<request id>\t<LEVEL>\t<message>` (Node.js, Python's
    // `print`-style logger: `[LEVEL]\t<time>\t<request id>\t<message>`).
    let parts: Vec<&str> = message.splitn(4, '\t').collect();
    let mut p = plain("log", message);
    if parts.len() == 4 {
        if let Some(level) = normalize_level(parts[0]) {
            p.level = Some(level);
            p.request_id = looks_like_request_id(parts[2]).then(|| parts[2].to_string());
        } else if let Some(level) = normalize_level(parts[2]) {
            p.level = Some(level);
            p.request_id = looks_like_request_id(parts[1]).then(|| parts[1].to_string());
        }
    }
    if message.contains("Task timed out after") {
        p.kind = "platform.timeout".into();
        p.level = Some("ERROR".into());
        if p.request_id.is_none() {
            p.request_id = message
                .split_whitespace()
                .find(|w| looks_like_request_id(w))
                .map(str::to_string);
        }
        return p;
    }
    if message.contains("Runtime exited with error")
        || message.contains("Runtime.ExitError")
        || message.contains("Runtime.OutOfMemory")
        || message.contains("signal: killed")
    {
        p.kind = "runtime.crash".into();
        p.level = Some("ERROR".into());
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
            .find_map(|w| normalize_level(w).filter(|_| w.chars().all(|c| c.is_ascii_uppercase())));
    }
    p
}

fn looks_like_request_id(s: &str) -> bool {
    s.len() == 36
        && s.chars().filter(|c| *c == '-').count() == 4
        && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

fn parse_json(mut map: Map<String, Value>, raw: &str) -> Parsed {
    let str_field =
        |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
    // Lambda JSON log format, platform events: {"time", "type": "platform.*", "record": {...}}.
    if let Some(kind) = str_field(&map, "type").filter(|t| t.starts_with("platform.")) {
        let record = map.get("record").cloned().unwrap_or(Value::Null);
        let status = record.get("status").and_then(Value::as_str).unwrap_or("");
        let mut p = plain(&kind, raw);
        p.request_id = record
            .get("requestId")
            .and_then(Value::as_str)
            .map(str::to_string);
        if kind == "platform.report" {
            let m = &record["metrics"];
            p.report = Some(Report {
                duration_ms: m["durationMs"].as_f64(),
                billed_duration_ms: m["billedDurationMs"].as_f64(),
                memory_size_mb: m["memorySizeMB"].as_f64(),
                max_memory_used_mb: m["maxMemoryUsedMB"].as_f64(),
                init_duration_ms: m["initDurationMs"].as_f64(),
            });
        }
        match status {
            "timeout" => {
                p.kind = "platform.timeout".into();
                p.level = Some("ERROR".into());
            }
            "error" | "failure" if kind != "platform.report" => {
                p.kind = "runtime.crash".into();
                p.level = Some("ERROR".into());
            }
            _ => {}
        }
        return p;
    }
    // An application log in JSON: its level, request id and message, the rest as fields.
    let level = ["level", "levelname", "severity", "log.level"]
        .iter()
        .find_map(|k| str_field(&map, k))
        .and_then(|l| normalize_level(&l));
    let request_id = ["requestId", "request_id", "AWSRequestId", "aws_request_id"]
        .iter()
        .find_map(|k| str_field(&map, k));
    let message = ["message", "msg"]
        .iter()
        .find_map(|k| map.remove(*k))
        .map(|v| match v {
            Value::String(s) => s,
            other => other.to_string(),
        })
        .unwrap_or_else(|| raw.to_string());
    Parsed {
        kind: "log".into(),
        level,
        request_id,
        message,
        fields: Some(map),
        report: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQ: &str = "3f6a1c2e-9b7d-4e1a-8c5f-0d2b4a6e8c1f";

    #[test]
    fn text_platform_lines() {
        let s = parse(&format!("START RequestId: {REQ} Version: $LATEST\n"));
        assert_eq!(
            (s.kind.as_str(), s.request_id.as_deref()),
            ("platform.start", Some(REQ))
        );
        let r = parse(&format!("REPORT RequestId: {REQ}\tDuration: 843.21 ms\tBilled Duration: 844 ms\tMemory Size: 512 MB\tMax Memory Used: 187 MB\tInit Duration: 412.77 ms\t\n"));
        assert_eq!(r.kind, "platform.report");
        let rep = r.report.unwrap();
        assert_eq!(rep.duration_ms, Some(843.21));
        assert_eq!(rep.billed_duration_ms, Some(844.0));
        assert_eq!(rep.memory_size_mb, Some(512.0));
        assert_eq!(rep.max_memory_used_mb, Some(187.0));
        assert_eq!(rep.init_duration_ms, Some(412.77));
        let warm = parse(&format!("REPORT RequestId: {REQ}\tDuration: 3.10 ms\tBilled Duration: 4 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\t"));
        assert_eq!(
            warm.report.unwrap().init_duration_ms,
            None,
            "warm start: no Init Duration"
        );
    }

    #[test]
    fn runtime_text_format_levels_timeouts_and_crashes() {
        let e = parse(&format!("2026-11-23T06:20:00.840Z\t{REQ}\tERROR\tInvoke Error \t{{\"errorType\":\"KeyError\"}}\n"));
        assert_eq!(
            (e.level.as_deref(), e.request_id.as_deref()),
            (Some("ERROR"), Some(REQ))
        );
        assert!(e.is_error());
        let py = parse(&format!(
            "[WARNING]\t2026-11-23T06:20:00.840Z\t{REQ}\tslow downstream"
        ));
        assert_eq!(py.level.as_deref(), Some("WARN"));
        let t = parse(&format!(
            "2026-11-23T06:20:03.000Z {REQ} Task timed out after 3.00 seconds"
        ));
        assert_eq!(
            (t.kind.as_str(), t.request_id.as_deref()),
            ("platform.timeout", Some(REQ))
        );
        assert!(t.is_error());
        let oom = parse(&format!(
            "RequestId: {REQ} Error: Runtime exited with error: signal: killed\nRuntime.ExitError"
        ));
        assert_eq!(oom.kind, "runtime.crash");
        let glue = parse("26/11/23 06:20:05 ERROR GlueLogger: Job failed: AnalysisException");
        assert_eq!(glue.level.as_deref(), Some("ERROR"));
        assert_eq!(parse("just some text about errors").level, None);
    }

    #[test]
    fn json_application_and_platform_lines() {
        let app =
            parse(r#"{"level":"INFO","message":"batch received","orders":412,"requestId":"r-1"}"#);
        assert_eq!(
            (
                app.kind.as_str(),
                app.level.as_deref(),
                app.message.as_str()
            ),
            ("log", Some("INFO"), "batch received")
        );
        assert_eq!(app.fields.unwrap()["orders"], 412);
        let report = parse(
            r#"{"time":"2026-11-23T06:20:00.845Z","type":"platform.report","record":{"requestId":"r-1","metrics":{"durationMs":843.21,"billedDurationMs":844,"memorySizeMB":512,"maxMemoryUsedMB":187,"initDurationMs":412.77},"status":"success"}}"#,
        );
        assert_eq!(report.kind, "platform.report");
        assert_eq!(report.report.unwrap().max_memory_used_mb, Some(187.0));
        let timeout = parse(
            r#"{"time":"t","type":"platform.runtimeDone","record":{"requestId":"r-2","status":"timeout"}}"#,
        );
        assert_eq!(
            (timeout.kind.as_str(), timeout.request_id.as_deref()),
            ("platform.timeout", Some("r-2"))
        );
        assert!(parse("{not json").fields.is_none());
    }
}
