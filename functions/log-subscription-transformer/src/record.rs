//! One output record of the transformer — the documented schema (`infra/athena/log_records.sql`,
//! docs/reference/log-record.md) — and the event time it carries. `transform` makes records,
//! `ndjson` writes them, `alerting` reads them.

use chrono::{DateTime, Utc};

use crate::parse::Parsed;

/// One output record: the documented schema (`infra/athena/log_records.sql`). It borrows from
/// the decoded batch and the (redacted) line, and lives only until it is written out.
/// Written out by [`crate::ndjson::write_record`].
#[derive(Debug, Clone)]
pub struct LogRecord<'a> {
    pub timestamp: Timestamp,
    pub event_id: &'a str,
    pub account: &'a str,
    pub region: &'a str,
    pub log_group: &'a str,
    pub log_stream: &'a str,
    pub source_type: &'static str,
    pub function_name: Option<&'a str>,
    /// What the line is (kind, level, request id — carried forward when the line has none —,
    /// message, fields, REPORT figures).
    pub line: Parsed<'a>,
    pub redactions: usize,
    pub truncated: bool,
}

/// An event's time as RFC 3339 with milliseconds (`2026-11-23T09:00:00.012Z`), kept inline; an
/// out-of-range time is written as an empty string.
#[derive(Clone, Copy)]
pub struct Timestamp {
    text: [u8; 24],
    len: u8,
}

impl Timestamp {
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text[..self.len as usize]).unwrap_or_default()
    }
}

impl std::fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Formats event times; the date-and-second part is reused while events share a second (they
/// mostly do: a batch is one stream's consecutive lines).
#[derive(Default)]
pub struct Clock {
    second: Option<i64>,
    prefix: [u8; 19],
    prefix_ok: bool,
}

impl Clock {
    pub fn format(&mut self, millis: i64) -> Timestamp {
        let second = millis.div_euclid(1000);
        if self.second != Some(second) {
            self.second = Some(second);
            self.prefix_ok = false;
            if let Some(t) = DateTime::<Utc>::from_timestamp(second, 0) {
                let text = t.format("%Y-%m-%dT%H:%M:%S").to_string();
                if text.len() == 19 {
                    self.prefix.copy_from_slice(text.as_bytes());
                    self.prefix_ok = true;
                }
            }
        }
        let mut out = Timestamp {
            text: [0; 24],
            len: 0,
        };
        if self.prefix_ok {
            let ms = millis.rem_euclid(1000) as u32;
            out.text[..19].copy_from_slice(&self.prefix);
            out.text[19] = b'.';
            out.text[20] = b'0' + (ms / 100) as u8;
            out.text[21] = b'0' + (ms / 10 % 10) as u8;
            out.text[22] = b'0' + (ms % 10) as u8;
            out.text[23] = b'Z';
            out.len = 24;
        }
        out
    }
}
