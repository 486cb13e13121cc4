//! A decoded batch → output records: filter, redact, parse, enrich, cap the size.

use std::borrow::Cow;
use std::ops::Range;

use chrono::{DateTime, Utc};
use regex::Regex;

use crate::decode::LogsData;
use crate::ndjson::{self, Lines};
use crate::parse::{self, Parsed};

/// Firehose accepts records up to 1,000 KiB; one byte is kept for the newline.
pub const MAX_RECORD_BYTES: usize = 1000 * 1024 - 1;
const TRUNCATION_MARKER: &str = "…[truncated by lakeops]";

/// Include / exclude patterns and redaction rules.
#[derive(Debug, Clone)]
pub struct Rules {
    pub include: Option<Regex>,
    pub exclude: Option<Regex>,
    /// Applied in order.
    pub redactions: Vec<Redaction>,
}

/// One redaction: what to find, what to put instead, and a cheap test a line must pass before
/// the pattern is searched for at all.
#[derive(Debug, Clone)]
pub struct Redaction {
    pub pattern: Regex,
    pub replacement: &'static str,
    pub needs: Needs,
    /// A hand-written finder giving exactly `pattern`'s matches, faster (property-tested
    /// against the regex).
    pub finder: Option<Finder>,
}

/// Byte ranges of every match in a text, leftmost first.
pub type Finder = fn(&str) -> Vec<Range<usize>>;

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// An IPv4 octet as the pattern `25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9]` takes it whole.
fn is_octet(d: &[u8]) -> bool {
    match d {
        [_] | [_, _] => true,
        [b'2', b'5', c] => *c <= b'5',
        [b'2', b, _] => *b <= b'4',
        [b'1', _, _] => true,
        _ => false,
    }
}

/// The matches of the IPv4 pattern (ASCII word boundaries, four octets), leftmost first, without
/// running an automaton over the line: only runs of digits ending at a `.` are looked at.
pub fn ipv4_matches(text: &str) -> Vec<Range<usize>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    for dot in memchr::memchr_iter(b'.', b) {
        if dot < from {
            continue;
        }
        // The digit run ending at this dot; a match can only start at its first digit, and
        // only after a non-word character.
        let mut start = dot;
        while start > from && b[start - 1].is_ascii_digit() {
            start -= 1;
        }
        if start == dot || (start > 0 && is_word(b[start - 1])) {
            continue;
        }
        let mut at = start;
        let mut octets = 0;
        let end = loop {
            let digits = b[at..].iter().take_while(|c| c.is_ascii_digit()).count();
            if !is_octet(&b[at..at + digits]) {
                break None;
            }
            at += digits;
            octets += 1;
            if octets == 4 {
                break (b.get(at).is_none_or(|c| !is_word(*c))).then_some(at);
            }
            if b.get(at) != Some(&b'.') {
                break None;
            }
            at += 1;
        };
        if let Some(end) = end {
            out.push(start..end);
            from = end;
        }
    }
    out
}

impl Redaction {
    /// The text with every match replaced, and how many there were. A replacement without `$`
    /// is spliced in from plain match positions: asking for capture groups makes the regex
    /// engine use its slower capturing matchers (measured: most of the redaction time).
    /// `None` when nothing matched (one search, no copy).
    fn apply(&self, text: &str) -> Option<(String, usize)> {
        if self.replacement.contains('$') {
            if !self.pattern.is_match(text) {
                return None;
            }
            let mut n = 0;
            let out = self.pattern.replace_all(text, |caps: &regex::Captures| {
                n += 1;
                let mut out = String::new();
                caps.expand(self.replacement, &mut out);
                out
            });
            return Some((out.into_owned(), n));
        }
        let matches: Vec<Range<usize>> = match self.finder {
            Some(find) => find(text),
            None => self.pattern.find_iter(text).map(|m| m.range()).collect(),
        };
        if matches.is_empty() {
            return None;
        }
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        let mut n = 0;
        for m in matches {
            out.push_str(&text[last..m.start]);
            out.push_str(self.replacement);
            last = m.end;
            n += 1;
        }
        out.push_str(&text[last..]);
        Some((out, n))
    }
}

/// A necessary condition for a pattern to match, tested with `memchr` before the regex runs.
/// The IP patterns start with a character class, which gives the regex engine no literal to
/// skip ahead with, so without this every line is walked by its automaton (measured: the two IP
/// patterns were most of the redaction time). IPv4 needs none: its hand-written finder only
/// looks at the line's dots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// No pre-test (the pattern has a literal the engine already looks for).
    Nothing,
    /// A full IPv6 address: seven `:` with a hex digit on both sides.
    HexColons,
}

impl Needs {
    fn may_match(self, text: &str) -> bool {
        let b = text.as_bytes();
        let around = |i: usize, ok: fn(&u8) -> bool| {
            i > 0 && b.get(i - 1).is_some_and(ok) && b.get(i + 1).is_some_and(ok)
        };
        match self {
            Needs::Nothing => true,
            Needs::HexColons => memchr::memchr_iter(b':', b)
                .filter(|&i| around(i, u8::is_ascii_hexdigit))
                .nth(6)
                .is_some(),
        }
    }
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
        let mut add = |pattern: &str, replacement, needs, finder| {
            redactions.push(Redaction {
                pattern: Regex::new(pattern).expect("built-in pattern"),
                replacement,
                needs,
                finder,
            })
        };
        // ASCII word boundaries and classes (`(?-u:\b)`, `[0-9]`): Unicode ones make the engine
        // fall back to a slower automaton on non-ASCII text, and these tokens are ASCII anyway.
        if aws_keys {
            add(
                r"(?-u:\b)(?:AKIA|ASIA|AROA|AIDA)[A-Z0-9]{16}(?-u:\b)",
                "[REDACTED:aws-key-id]",
                Needs::Nothing,
                None,
            );
            add(
                r#"(?i-u)(secret[_-]?(?:access[_-]?)?key["']?\s*[:=]\s*["']?)[A-Za-z0-9/+=]{40}"#,
                "${1}[REDACTED:aws-secret]",
                Needs::Nothing,
                None,
            );
        }
        if emails {
            add(
                r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
                "[REDACTED:email]",
                Needs::Nothing,
                None,
            );
        }
        if ips {
            add(
                r"(?-u:\b)(?:(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(?-u:\b)",
                "[REDACTED:ip]",
                Needs::Nothing,
                Some(ipv4_matches),
            );
            add(
                r"(?-u:\b)(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}(?-u:\b)",
                "[REDACTED:ip]",
                Needs::HexColons,
                None,
            );
        }
        if let Some(pattern) = custom {
            redactions.push(Redaction {
                pattern,
                replacement: "[REDACTED]",
                needs: Needs::Nothing,
                finder: None,
            });
        }
        Self {
            include,
            exclude,
            redactions,
        }
    }

    fn keeps(&self, message: &str) -> bool {
        self.include.as_ref().is_none_or(|r| r.is_match(message))
            && !self.exclude.as_ref().is_some_and(|r| r.is_match(message))
    }

    /// The message with every match replaced, and how many were. Each pattern searches on its
    /// own: the regex engine then uses each one's literal prefilter (`AKIA…`, `@`, `secret`),
    /// which measured faster than one `RegexSet` or alternation over all of them, and a line
    /// with nothing to redact is never copied.
    fn redact<'a>(&self, message: &'a str) -> (Cow<'a, str>, usize) {
        let mut text = Cow::Borrowed(message);
        let mut count = 0;
        for r in &self.redactions {
            if !r.needs.may_match(&text) {
                continue;
            }
            let Some((replaced, n)) = r.apply(&text) else {
                continue;
            };
            count += n;
            text = Cow::Owned(replaced);
        }
        (text, count)
    }
}

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

/// What kind of source a log group is, from its name.
pub fn source_type(log_group: &str) -> (&'static str, Option<&str>) {
    if let Some(f) = log_group.strip_prefix("/aws/lambda/") {
        return ("lambda", Some(f));
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
        lines: Lines::with_capacity(data.log_events.iter().map(|e| e.message.len() + 400).sum()),
        events_in: data.log_events.len(),
        ..Default::default()
    };
    let mut clock = Clock::default();
    // The request a line belongs to: set by START (or any line naming one), cleared after REPORT.
    let mut current_request: Option<String> = None;
    for event in &data.log_events {
        if !rules.keeps(&event.message) {
            out.dropped += 1;
            continue;
        }
        let (message, redactions) = rules.redact(&event.message);
        let mut line = parse::parse(&message);
        if line.kind == "platform.start" || (line.request_id.is_some() && current_request.is_none())
        {
            current_request = line.request_id.as_deref().map(str::to_string);
        }
        let ends_request = line.kind == "platform.report";
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
        if cap_size(&mut record, event.message.len()) {
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
pub fn size(record: &LogRecord) -> usize {
    let mut line = Vec::new();
    ndjson::write_record(&mut line, record);
    line.len()
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
    record.line.fields = None;
    let mut empty = record.clone();
    empty.line.message = Cow::Borrowed("");
    let overhead = size(&empty);
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
        Rules::new(None, None, true, true, true, None)
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
        let r = Rules::new(
            Some(Regex::new("ERROR|REPORT").unwrap()),
            Some(Regex::new("REPORT").unwrap()),
            true,
            true,
            false,
            Some(Regex::new(r"order_id").unwrap()),
        );
        let json = sample_json();
        let (t, records, _) = run(&decode::parse(&json).unwrap(), &r);
        assert_eq!((records.len(), t.dropped), (1, 4));
        let message = records[0]["message"].as_str().unwrap();
        assert!(message.contains("[REDACTED]"), "{message}");
        let secrets = Rules::new(None, None, true, true, true, None)
            .redact("key AKIAABCDEFGHIJKLMNOP secret_access_key=abcdEFGHijklMNOPqrstUVWXyz0123456789+/AB from 10.1.2.3 and fe80:0:0:0:202:b3ff:fe1e:8329 to ann@example.org");
        assert_eq!(
            secrets.0,
            "key [REDACTED:aws-key-id] secret_access_key=[REDACTED:aws-secret] from [REDACTED:ip] and [REDACTED:ip] to [REDACTED:email]"
        );
        assert_eq!(secrets.1, 5);
        let (untouched, n) = rules().redact("AKIAABCDEFGHIJKLMNOPQ 10.1.2.300 ünïcode ok");
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

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// The hand-written IPv4 finder finds exactly what the documented regex finds.
        #[test]
        fn ipv4_finder_matches_the_regex(text in "[0-9.a_ é:]{0,48}", ip in "(25[0-9]|2[0-9][0-9]|1[0-9][0-9]|[0-9][0-9]?)(\\.(25[0-9]|2[0-9][0-9]|1[0-9][0-9]|[0-9]{1,3})){2,4}", pre in "[ a.0_]?", post in "[ a.0_]?") {
            let r = rules();
            let ipv4 = r.redactions.iter().find(|x| x.finder.is_some()).unwrap();
            for t in [text.clone(), format!("{pre}{ip}{post}"), format!("{text}{pre}{ip}{post}{text}")] {
                let want: Vec<Range<usize>> = ipv4.pattern.find_iter(&t).map(|m| m.range()).collect();
                proptest::prop_assert_eq!(ipv4_matches(&t), want, "{:?}", t);
            }
        }
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
        assert_eq!(source_type("my-app").0, "other");
    }
}
