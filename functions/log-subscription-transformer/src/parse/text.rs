//! A text line: the runtimes' text envelopes and every failure shape a runtime prints.

use std::borrow::Cow;
use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

use super::fields::Fields;
use super::java;
use super::json::json_level;
use super::platform::{first_word, number, platform_line, PlatformValues};
use super::{kind, plain, Parsed, Report, PYTHON_UNHANDLED};
use crate::level;

pub(super) fn parse_text(message: &str) -> Parsed<'_> {
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
        let timed_out = p.kind == kind::TIMEOUT;
        p.report = Some(
            Report {
                duration_ms: number(values.duration),
                billed_duration_ms: number(values.billed_duration),
                memory_size_mb: number(values.memory_size),
                max_memory_used_mb: number(values.max_memory_used),
                init_duration_ms: number(values.init_duration),
                probable_out_of_memory: false,
            }
            .flag_probable_oom(timed_out),
        );
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
            // A JSON record printed through the envelope (pino or bunyan through console.log):
            // its own level is the line's; the envelope's only says which console method ran.
            p.level = json_body_level(d).or(Some(l));
            p.request_id = looks_like_request_id(b).then_some(Cow::Borrowed(b));
            body = d;
        }
    }
    if !FAILURE_SIGNS.is_match(message) {
        // Most lines: none of the failure shapes below can match.
        return with_text_level(p, message, body);
    }
    if is_platform_timeout(message) {
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
pub(super) static FAILURE_SIGNS: LazyLock<AhoCorasick> = LazyLock::new(|| {
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

/// Whether a line is the platform's own timeout line, `<time> <request id> Task timed out after
/// N seconds` (older runtimes: `RequestId: <id> Error: Task timed out …`): nothing but a
/// timestamp, a request id and those labels before the phrase. A line that quotes the phrase
/// after its own words (`INFO retrying after upstream said "Task timed out after 3.00 seconds"`)
/// is an application's line about someone else's timeout, not one.
fn is_platform_timeout(message: &str) -> bool {
    let Some(at) = message.find("Task timed out after") else {
        return false;
    };
    let mut words = message[..at].split_whitespace();
    words.by_ref().take(4).all(|w| {
        looks_like_request_id(w)
            || w.starts_with(|c: char| c.is_ascii_digit())
            || matches!(w, "RequestId:" | "Error:")
    }) && words.next().is_none()
}

/// The level a JSON object printed as a text line's message says it has, if it is one.
fn json_body_level(body: &str) -> Option<&'static str> {
    let body = body.trim_end();
    if !(body.starts_with('{') && body.ends_with('}')) {
        return None;
    }
    let fields: Fields = serde_json::from_str(body).ok()?;
    json_level(&fields)
}

/// A text line that is no failure: its level from the text when no field said it; a Java
/// exception's head (see [`java`]) is an error named by its class.
fn with_text_level<'a>(mut p: Parsed<'a>, message: &'a str, body: &'a str) -> Parsed<'a> {
    if p.level.is_none() {
        if let Some(class) = java::exception_head(message) {
            p.level = Some("ERROR");
            p.error_type = Some(Cow::Borrowed(class));
            return p;
        }
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
pub(super) fn crash_type(message: &str) -> Option<&'static str> {
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
pub(super) fn unhandled_type<'a>(message: &'a str, body: &'a str) -> Option<Option<Cow<'a, str>>> {
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

const ERROR_TYPE_KEY: &str = "\"errorType\":";

/// The `"errorType":"…"` a runtime's error document names, found in a text line.
pub(super) fn json_error_type(text: &str) -> Option<&str> {
    // One searcher for every line: `str::find` sets one up per call.
    static KEY: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new(ERROR_TYPE_KEY));
    let at = KEY.find(text.as_bytes())? + ERROR_TYPE_KEY.len();
    let rest = text[at..].trim_start().strip_prefix('"')?;
    let name = &rest[..rest.find('"')?];
    (!name.is_empty() && !name.contains('\\')).then_some(name)
}

pub(super) fn looks_like_request_id(s: &str) -> bool {
    s.len() == 36
        && s.bytes().filter(|c| *c == b'-').count() == 4
        && s.bytes().all(|c| c.is_ascii_hexdigit() || c == b'-')
}
