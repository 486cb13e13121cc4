//! One log line → what it is: a Lambda platform line (START / END / REPORT / INIT_REPORT, in
//! text or JSON log format), a failed invocation (timeout, runtime crash, unhandled error — see
//! [`kind`]), a JSON application log (its fields kept), or plain text; with its level, request id
//! and error type where the line says them. The shapes come from each runtime; the corpus in
//! `tests/corpus/` says where each was seen.
//!
//! Everything borrows from the line: a JSON line's fields stay raw JSON text ([`Fields`]) and are
//! written out as they came, so a line is parsed once and nothing is rebuilt value by value.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

use crate::level;

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

/// The record types (`type` column) this module gives, besides the JSON format's own
/// `platform.*` types. The three failure kinds are what a failed invocation looks like.
pub mod kind {
    pub const LOG: &str = "log";
    pub const START: &str = "platform.start";
    pub const END: &str = "platform.end";
    pub const REPORT: &str = "platform.report";
    pub const INIT_START: &str = "platform.initStart";
    pub const INIT_REPORT: &str = "platform.initReport";
    pub const RESTORE_REPORT: &str = "platform.restoreReport";
    pub const EXTENSION: &str = "platform.extension";
    /// The invocation (or the init phase) ran out of time.
    pub const TIMEOUT: &str = "platform.timeout";
    /// The runtime process died: out of memory, a signal, an exit, an extension crash.
    pub const CRASH: &str = "runtime.crash";
    /// The function's code raised an error it did not handle (the invocation failed).
    pub const UNHANDLED: &str = "function.unhandled";
}

#[derive(Debug, Clone)]
pub struct Parsed<'a> {
    /// One of [`kind`], or the JSON format's own `platform.*` type.
    pub kind: Cow<'a, str>,
    pub level: Option<&'static str>,
    pub request_id: Option<Cow<'a, str>>,
    /// The message text (for JSON application logs: their `message` field when present).
    pub message: Cow<'a, str>,
    /// What failed, where the line names it: `Runtime.OutOfMemory`, `ZeroDivisionError`,
    /// `java.lang.RuntimeException`, `panic`.
    pub error_type: Option<Cow<'a, str>>,
    /// A JSON message's other fields.
    pub fields: Option<Fields<'a>>,
    pub report: Option<Report>,
}

/// The first line of the Python runtime's unhandled-exception event: the exception follows it.
const PYTHON_UNHANDLED: &str = "LAMBDA_WARNING: Unhandled exception";

impl Parsed<'_> {
    /// Whether the invocation (or init) failed: a timeout, a crash, an unhandled error.
    pub fn is_failure(&self) -> bool {
        matches!(
            self.kind.as_ref(),
            kind::TIMEOUT | kind::CRASH | kind::UNHANDLED
        )
    }

    /// Whether this line should raise an alert: failures and error levels.
    pub fn is_error(&self) -> bool {
        self.is_failure() || level::is_error(self.level)
    }

    /// A multi-line event's first line (the Python runtime's warning preamble skipped: the
    /// exception is the line after it); `None` for a one-line message.
    pub fn summary(&self) -> Option<&str> {
        let m = self.message.as_ref();
        memchr::memchr2(b'\n', b'\r', m.as_bytes())?;
        m.split(['\r', '\n'])
            .map(str::trim_end)
            .filter(|l| !l.trim().is_empty())
            .find(|l| !l.contains(PYTHON_UNHANDLED))
    }
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
        error_type: None,
        fields: None,
        report: None,
    }
}

impl<'a> Parsed<'a> {
    /// Marks the line as a failure of the given kind (level ERROR unless it says worse).
    fn failed(mut self, kind: &'static str, error_type: Option<Cow<'a, str>>) -> Self {
        self.kind = Cow::Borrowed(kind);
        if !level::is_error(self.level) {
            self.level = Some("ERROR");
        }
        self.error_type = error_type.or(self.error_type);
        self
    }
}

/// The `Key: value` pairs of a text platform line (REPORT, INIT_REPORT, RESTORE_REPORT,
/// EXTENSION), read in one pass over its colons: a colon's key is the longest known key that
/// the text before it ends with, at the line's start or after whitespace (so `Billed Duration`
/// is not `Duration`); its value is the next word. Lambda separates the pairs with tabs; spaces
/// read the same. The first of a key counts.
#[derive(Default)]
struct PlatformValues<'a> {
    status: Option<&'a str>,
    error_type: Option<&'a str>,
    duration: Option<&'a str>,
    billed_duration: Option<&'a str>,
    memory_size: Option<&'a str>,
    max_memory_used: Option<&'a str>,
    init_duration: Option<&'a str>,
}

impl<'a> PlatformValues<'a> {
    fn read(message: &'a str) -> Self {
        // Longest first; SnapStart's restore durations are known only so that they are not
        // taken for `Duration`.
        const KEYS: [&str; 9] = [
            "Billed Restore Duration",
            "Billed Duration",
            "Restore Duration",
            "Max Memory Used",
            "Init Duration",
            "Memory Size",
            "Error Type",
            "Duration",
            "Status",
        ];
        let mut values = Self::default();
        for colon in memchr::memchr_iter(b':', message.as_bytes()) {
            let before = &message[..colon];
            let Some(key) = KEYS.iter().find(|k| {
                before
                    .strip_suffix(**k)
                    .is_some_and(|head| head.chars().next_back().is_none_or(char::is_whitespace))
            }) else {
                continue;
            };
            let slot = match *key {
                "Status" => &mut values.status,
                "Error Type" => &mut values.error_type,
                "Duration" => &mut values.duration,
                "Billed Duration" => &mut values.billed_duration,
                "Memory Size" => &mut values.memory_size,
                "Max Memory Used" => &mut values.max_memory_used,
                "Init Duration" => &mut values.init_duration,
                _ => continue,
            };
            if slot.is_none() {
                let rest = message[colon + 1..].trim_start();
                *slot = rest.split(['\t', '\r', '\n', ' ']).next();
            }
        }
        values
    }
}

fn number(value: Option<&str>) -> Option<f64> {
    value?.parse().ok()
}

fn first_word(s: &str) -> Option<Cow<'_, str>> {
    s.split_whitespace().next().map(Cow::Borrowed)
}

/// A text platform line (REPORT, INIT_REPORT, RESTORE_REPORT, EXTENSION) with its `Status:`
/// (`timeout`, `error`, `failure`) and `Error Type:` read as a failure.
fn platform_line<'a>(
    kind: &'static str,
    message: &'a str,
    values: &PlatformValues<'a>,
) -> Parsed<'a> {
    let p = plain(kind, message);
    let error_type = values.error_type.map(Cow::Borrowed);
    match values.status {
        Some("timeout") => p.failed(kind::TIMEOUT, error_type),
        Some("error") => p.failed(kind::CRASH, error_type),
        Some("failure") => p.failed(kind::UNHANDLED, error_type),
        _ => p,
    }
}

fn parse_text(message: &str) -> Parsed<'_> {
    if let Some(rest) = message.strip_prefix("START RequestId:") {
        let mut p = plain(kind::START, message);
        p.request_id = first_word(rest);
        return p;
    }
    if let Some(rest) = message.strip_prefix("END RequestId:") {
        let mut p = plain(kind::END, message);
        p.request_id = first_word(rest);
        return p;
    }
    if let Some(rest) = message.strip_prefix("REPORT RequestId:") {
        let values = PlatformValues::read(message);
        let mut p = platform_line(kind::REPORT, message, &values);
        p.request_id = first_word(rest);
        p.report = Some(Report {
            duration_ms: number(values.duration),
            billed_duration_ms: number(values.billed_duration),
            memory_size_mb: number(values.memory_size),
            max_memory_used_mb: number(values.max_memory_used),
            init_duration_ms: number(values.init_duration),
        });
        return p;
    }
    for (prefix, k) in [
        ("INIT_START ", kind::INIT_START),
        ("INIT_REPORT ", kind::INIT_REPORT),
        ("RESTORE_REPORT ", kind::RESTORE_REPORT),
        ("EXTENSION\t", kind::EXTENSION),
    ] {
        if message.starts_with(prefix) {
            return platform_line(k, message, &PlatformValues::read(message));
        }
    }
    let mut p = plain(kind::LOG, message);
    // Runtime text format: `<time>\t<request id>\t<LEVEL>\t<message>` (Node.js, Java, .NET;
    // Python's logger: `[LEVEL]\t<time>\t<request id>\t<message>`).
    let mut body = message;
    let mut parts = message.splitn(4, '\t');
    if let (Some(a), Some(b), Some(c), Some(d)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    {
        if let Some(l) = level::from_word(a) {
            p.level = Some(l);
            p.request_id = looks_like_request_id(c).then_some(Cow::Borrowed(c));
            body = d;
        } else if let Some(l) = level::from_word(c) {
            p.level = Some(l);
            p.request_id = looks_like_request_id(b).then_some(Cow::Borrowed(b));
            body = d;
        }
    }
    if !FAILURE_SIGNS.is_match(message) {
        // Most lines: none of the failure shapes below can match.
        return with_text_level(p, message, body);
    }
    if message.contains("Task timed out after") {
        if p.request_id.is_none() {
            p.request_id = message
                .split_whitespace()
                .find(|w| looks_like_request_id(w))
                .map(Cow::Borrowed);
        }
        return p.failed(kind::TIMEOUT, Some(Cow::Borrowed("Sandbox.Timedout")));
    }
    if let Some(error_type) = crash_type(message) {
        return p.failed(kind::CRASH, Some(Cow::Borrowed(error_type)));
    }
    if let Some(error_type) = unhandled_type(message, body) {
        return p.failed(kind::UNHANDLED, error_type);
    }
    with_text_level(p, message, body)
}

/// Every literal that one of the failure shapes below needs (`crash_type`, `unhandled_type`,
/// the timeout line): one Aho-Corasick pass tells a line that can be none of them, which is
/// nearly every line, without the dozen substring searches.
static FAILURE_SIGNS: LazyLock<AhoCorasick> = LazyLock::new(|| {
    // Leftmost-first lets the crate use its SIMD (Teddy) search (measured: the default
    // automaton walked every byte).
    AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::LeftmostFirst)
        .build([
            "Task timed out after",
            "Runtime",
            "signal: killed",
            "OutOfMemoryError",
            "Process exited before",
            "Extension.Crash",
            "LAMBDA_WARNING",
            "Traceback (most recent call last)",
            "Invoke Error",
            "Uncaught Exception",
            "Unhandled Promise Rejection",
            "Exception in thread",
            "Unhandled exception. ",
            "panic",
            "goroutine ",
        ])
        .expect("built-in patterns")
});

/// A text line that is no failure: its level from the text when no field said it.
fn with_text_level<'a>(mut p: Parsed<'a>, message: &'a str, body: &'a str) -> Parsed<'a> {
    if p.level.is_none() {
        p.level = level::from_text_start(message).or_else(|| level::from_logfmt(message));
    }
    if level::is_error(p.level) {
        p.error_type = json_error_type(body).map(Cow::Borrowed);
    }
    p
}

/// A runtime that died, and how: Lambda's own lines for a runtime exit (`Runtime.ExitError`,
/// `Runtime exited with error: signal: killed`, the OOM `Runtime.OutOfMemory`), a process that
/// ended before answering, the JVM's `OutOfMemoryError`, an extension crash.
fn crash_type(message: &str) -> Option<&'static str> {
    const SIGNS: [(&str, &str); 8] = [
        ("Runtime.OutOfMemory", "Runtime.OutOfMemory"),
        ("java.lang.OutOfMemoryError", "java.lang.OutOfMemoryError"),
        ("signal: killed", "Runtime.ExitError"),
        ("Runtime exited with error", "Runtime.ExitError"),
        (
            "Runtime exited without providing a reason",
            "Runtime.ExitError",
        ),
        ("Runtime.ExitError", "Runtime.ExitError"),
        (
            "Process exited before completing request",
            "Runtime.ExitError",
        ),
        ("Extension.Crash", "Extension.Crash"),
    ];
    SIGNS
        .iter()
        .find(|(sign, _)| message.contains(sign))
        .map(|(_, t)| *t)
}

/// An error the function's code did not handle, in each runtime's shape: Python's warning
/// preamble or `[ERROR] Type: …` with a traceback, Node.js's `Invoke Error` / `Uncaught
/// Exception` / `Unhandled Promise Rejection`, Java's `Exception in thread`, .NET's `Unhandled
/// exception.`, a Go or Rust panic. `Some(error type)` when it is one.
fn unhandled_type<'a>(message: &'a str, body: &'a str) -> Option<Option<Cow<'a, str>>> {
    let name_at = |text: &'a str| {
        let name = text
            .split([':', ' ', '\r', '\n'])
            .next()
            .unwrap_or_default();
        (!name.is_empty()).then_some(Cow::Borrowed(name))
    };
    let python_error = || {
        let at = message.find("[ERROR] ")? + "[ERROR] ".len();
        name_at(&message[at..])
    };
    if message.contains(PYTHON_UNHANDLED)
        || (message.contains("Traceback (most recent call last)") && message.contains("[ERROR] "))
        || message.starts_with("[ERROR] Runtime.")
    {
        return Some(python_error());
    }
    for node in [
        "Invoke Error",
        "Uncaught Exception",
        "Unhandled Promise Rejection",
    ] {
        if body.starts_with(node) {
            return Some(json_error_type(body).map(Cow::Borrowed));
        }
    }
    if let Some(rest) = message.strip_prefix("Exception in thread \"") {
        return Some(rest.split_once("\" ").and_then(|(_, r)| name_at(r)));
    }
    if let Some(rest) = body.strip_prefix("Unhandled exception. ") {
        return Some(name_at(rest));
    }
    if message.starts_with("panic: ")
        || message.contains("\ngoroutine ")
        || (message.starts_with("thread '") && message.contains("' panicked at"))
    {
        return Some(Some(Cow::Borrowed("panic")));
    }
    None
}

/// The `"errorType":"…"` a runtime's error document names, found in a text line.
fn json_error_type(text: &str) -> Option<&str> {
    let at = text.find("\"errorType\":")? + "\"errorType\":".len();
    let rest = text[at..].trim_start().strip_prefix('"')?;
    let name = &rest[..rest.find('"')?];
    (!name.is_empty() && !name.contains('\\')).then_some(name)
}

fn looks_like_request_id(s: &str) -> bool {
    s.len() == 36
        && s.bytes().filter(|c| *c == b'-').count() == 4
        && s.bytes().all(|c| c.is_ascii_hexdigit() || c == b'-')
}

/// The `record` of a Lambda JSON-format platform line (the Telemetry API schema).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PlatformRecord<'a> {
    #[serde(borrow, default)]
    request_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    error_type: Option<Cow<'a, str>>,
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
    if let Some(k) = fields.str("type").filter(|t| t.starts_with("platform.")) {
        let record: PlatformRecord = fields
            .get("record")
            .and_then(|r| serde_json::from_str(r.get()).ok())
            .unwrap_or_default();
        let mut p = plain(kind::LOG, raw);
        if k == kind::REPORT {
            let m = record.metrics.unwrap_or_default();
            p.report = Some(Report {
                duration_ms: m.duration_ms,
                billed_duration_ms: m.billed_duration_ms,
                memory_size_mb: m.memory_size_mb,
                max_memory_used_mb: m.max_memory_used_mb,
                init_duration_ms: m.init_duration_ms,
            });
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
    let level = level::JSON_KEYS.iter().find_map(|(key, scale)| {
        let v = fields.get(key)?;
        match json_str(v) {
            Some(word) => level::from_word(&word),
            None => level::from_number(v.get().parse().ok()?, *scale),
        }
    });
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
        // SnapStart's REPORT (AWS Lambda docs, "Monitoring for Lambda SnapStart") puts its
        // restore durations after the others: neither is the invocation's `Duration`.
        let restored = parse_owned(format!("REPORT RequestId: {REQ}\tDuration: 77.38 ms\tBilled Duration: 270 ms\tMemory Size: 512 MB\tMax Memory Used: 97 MB\tRestore Duration: 413.73 ms\tBilled Restore Duration: 192 ms\t"));
        let rep = restored.report.unwrap();
        assert_eq!(
            (
                rep.duration_ms,
                rep.billed_duration_ms,
                rep.init_duration_ms
            ),
            (Some(77.38), Some(270.0), None)
        );
        // Pairs separated by spaces (tabs lost on the way) read the same.
        let spaced = parse_owned(format!("REPORT RequestId: {REQ} Duration: 12.5 ms Billed Duration: 13 ms Memory Size: 128 MB Max Memory Used: 128 MB Status: error Error Type: Runtime.OutOfMemory"));
        assert_eq!(
            (spaced.kind.as_ref(), spaced.error_type.as_deref()),
            ("runtime.crash", Some("Runtime.OutOfMemory"))
        );
        let rep = spaced.report.unwrap();
        assert_eq!(
            (
                rep.duration_ms,
                rep.billed_duration_ms,
                rep.max_memory_used_mb
            ),
            (Some(12.5), Some(13.0), Some(128.0))
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
