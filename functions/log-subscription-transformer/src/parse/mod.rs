//! One log line → what it is: a Lambda platform line (START / END / REPORT / INIT_REPORT, in
//! text or JSON log format), a failed invocation (timeout, runtime crash, unhandled error — see
//! [`kind`]), a JSON application log (its fields kept), or plain text; with its level, request id
//! and error type where the line says them. The shapes come from each runtime; the corpus in
//! `corpus/log-lines.txt` says where each was seen.
//!
//! Everything borrows from the line: a JSON line's fields stay raw JSON text ([`Fields`]) and are
//! written out as they came, so a line is parsed once and nothing is rebuilt value by value.

use std::borrow::Cow;

use serde::Serialize;

use crate::level;

mod fields;
mod java;
mod json;
mod platform;
#[cfg(test)]
mod tests;
mod text;

pub use fields::Fields;
use json::parse_json;
use text::parse_text;

/// The REPORT line's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    pub duration_ms: Option<f64>,
    pub billed_duration_ms: Option<f64>,
    pub memory_size_mb: Option<f64>,
    pub max_memory_used_mb: Option<f64>,
    pub init_duration_ms: Option<f64>,
    /// A timed-out invocation whose memory was (nearly) full: `Max Memory Used` at least
    /// [`PROBABLE_OOM_SHARE`] of `Memory Size`. Such a function most likely ran out of memory
    /// (swapping, or its garbage collector thrashing) and only then out of time, so the timeout
    /// alone would send someone after the wrong cause. The record keeps its timeout type; this
    /// flag (written out only when true) says what probably lies behind it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub probable_out_of_memory: bool,
}

/// The share of `Memory Size` from which a timed-out invocation's `Max Memory Used` counts as
/// full (the threshold: equal, or at least 98 %).
pub const PROBABLE_OOM_SHARE: f64 = 0.98;

impl Report {
    /// Sets [`Report::probable_out_of_memory`] for an invocation that timed out.
    fn flag_probable_oom(mut self, timed_out: bool) -> Self {
        self.probable_out_of_memory = timed_out
            && match (self.max_memory_used_mb, self.memory_size_mb) {
                (Some(used), Some(size)) => size > 0.0 && used >= size * PROBABLE_OOM_SHARE,
                _ => false,
            };
        self
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
