//! Records → newline-delimited JSON, written by hand into one buffer, and that buffer cut into
//! Firehose records.
//!
//! Written by hand (not `serde_json::to_writer` per record) because this is the hot path: one
//! growing buffer instead of an allocation per line, and string escaping that skips 8 bytes at a
//! time when none of them needs escaping (most log text), where `serde_json` looks at every byte.
//! The output is checked against `serde_json` by the tests below.
//!
//! Packing: Firehose bills ingestion per record rounded up to 5 KB, and a log line is typically
//! a few hundred bytes, so one Firehose record per line would cost ~20x the data's size. Lines are
//! therefore packed whole into records of at most [`MAX_FIREHOSE_RECORD_BYTES`]; S3 sees the same
//! newline-delimited file either way, and each line still carries its CloudWatch event id.

use std::ops::Range;

use crate::parse::Fields;
use crate::transform::LogRecord;

/// Firehose's limit for one record (1,000 KiB).
pub const MAX_FIREHOSE_RECORD_BYTES: usize = 1000 * 1024;

/// How a record's application `fields` are written.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `fields` as one JSON-text string: the Glue table behind Firehose's Parquet conversion
    /// declares it `string`, so no application's keys can ever break the conversion
    /// (`json_extract_scalar(fields, '$.x')` reads them).
    #[default]
    Parquet,
    /// `fields` as a JSON object (keys made unique ignoring case, so JSON SerDes that fold case
    /// do not reject the line).
    Json,
}

/// JSON lines in one buffer, and how they are packed into Firehose records.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Lines {
    pub layout: Layout,
    /// Every line, each ending in `\n`.
    pub text: Vec<u8>,
    pub count: usize,
    /// Firehose records: byte ranges of `text`, each whole lines, each at most
    /// [`MAX_FIREHOSE_RECORD_BYTES`].
    pub records: Vec<PackedRange>,
}

/// One Firehose record's range and how many lines it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedRange {
    pub bytes: Range<usize>,
    pub lines: usize,
}

impl Lines {
    pub fn with_capacity(bytes: usize, layout: Layout) -> Self {
        Self {
            layout,
            text: Vec::with_capacity(bytes),
            ..Self::default()
        }
    }

    /// Appends one record as a line (the caller has capped it to fit a Firehose record).
    pub fn push(&mut self, record: &LogRecord) {
        let start = self.text.len();
        write_record(&mut self.text, record, self.layout);
        self.text.push(b'\n');
        self.count += 1;
        let len = self.text.len() - start;
        match self.records.last_mut() {
            Some(r) if r.bytes.end - r.bytes.start + len <= MAX_FIREHOSE_RECORD_BYTES => {
                r.bytes.end = self.text.len();
                r.lines += 1;
            }
            _ => self.records.push(PackedRange {
                bytes: start..self.text.len(),
                lines: 1,
            }),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// One record as a JSON object (no newline), in the schema's field order
/// (`infra/athena/log_records.sql`).
pub fn write_record(out: &mut Vec<u8>, r: &LogRecord, layout: Layout) {
    // The timestamp needs no escaping: digits, `-`, `:`, `.`, `T`, `Z`.
    out.extend_from_slice(b"{\"timestamp\":\"");
    out.extend_from_slice(r.timestamp.as_str().as_bytes());
    out.push(b'"');
    for (key, value) in [
        ("event_id", r.event_id),
        ("account", r.account),
        ("region", r.region),
        ("log_group", r.log_group),
        ("log_stream", r.log_stream),
        ("source_type", r.source_type),
    ] {
        write_key(out, key);
        write_str(out, value);
    }
    if let Some(f) = r.function_name {
        write_key(out, "function_name");
        write_str(out, f);
    }
    write_key(out, "type");
    let line = &r.line;
    write_str(out, &line.kind);
    if let Some(level) = line.level {
        write_key(out, "level");
        write_str(out, level);
    }
    if let Some(id) = &line.request_id {
        write_key(out, "request_id");
        write_str(out, id);
    }
    if let Some(t) = &line.error_type {
        write_key(out, "error_type");
        write_str(out, t);
    }
    write_key(out, "message");
    write_str(out, &line.message);
    if let Some(summary) = line.summary() {
        write_key(out, "summary");
        write_str(out, summary);
    }
    if let Some(fields) = line.fields.as_ref().filter(|f| !f.is_empty()) {
        write_key(out, "fields");
        match layout {
            Layout::Json => write_fields(out, fields),
            Layout::Parquet => SCRATCH.with_borrow_mut(|object| {
                object.clear();
                write_fields(object, fields);
                // `write_fields` writes valid UTF-8 (keys and raw values come from a `str`).
                write_str(out, std::str::from_utf8(object).unwrap_or_default());
            }),
        }
    }
    if let Some(report) = &line.report {
        write_key(out, "report");
        // Rare (one line per invocation) and numbers only: serde_json's float formatting.
        if serde_json::to_writer(&mut *out, report).is_err() {
            out.extend_from_slice(b"null");
        }
    }
    write_key(out, "redactions");
    out.extend_from_slice(r.redactions.to_string().as_bytes());
    write_key(out, "truncated");
    out.extend_from_slice(if r.truncated { b"true" } else { b"false" });
    out.push(b'}');
}

thread_local! {
    /// The Parquet layout's fields object before it is escaped into a string: one buffer reused
    /// for every record instead of one allocation each.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `,"key":` for our own keys (plain ASCII: nothing to escape).
fn write_key(out: &mut Vec<u8>, key: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

/// A JSON line's other members, values copied as they came. Whitespace inside a raw value can
/// hold a newline (a pretty-printed nested object); raw newlines can only be whitespace in JSON
/// (inside strings they are escaped), so they are dropped to keep one record per line.
///
/// Keys are made unique ignoring (ASCII) case (`Level` after `level` becomes `Level_2`): a
/// duplicate or case-colliding key is valid JSON but breaks JSON SerDes that fold case (Athena's
/// OpenX), and renaming keeps the value where dropping it would lose data. Compared in place: a
/// record's keys are few, and nothing is allocated unless a key collides.
fn write_fields(out: &mut Vec<u8>, fields: &Fields) {
    out.push(b'{');
    let mut renamed: Vec<String> = Vec::new();
    for (i, (k, v)) in fields.0.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let taken = |name: &str| {
            fields.0[..i]
                .iter()
                .any(|(e, _)| e.eq_ignore_ascii_case(name))
                || renamed.iter().any(|r| r.eq_ignore_ascii_case(name))
        };
        if taken(k) {
            let unique = (2..)
                .map(|n| format!("{k}_{n}"))
                .find(|c| !taken(c) && !fields.0.iter().any(|(e, _)| e.eq_ignore_ascii_case(c)))
                .unwrap_or_default();
            write_str(out, &unique);
            renamed.push(unique);
        } else {
            write_str(out, k);
        }
        out.push(b':');
        let raw = v.get().as_bytes();
        if memchr::memchr2(b'\n', b'\r', raw).is_some() {
            out.extend(raw.iter().filter(|b| **b != b'\n' && **b != b'\r'));
        } else {
            out.extend_from_slice(raw);
        }
    }
    out.push(b'}');
}

/// Whether any of 8 bytes needs escaping in a JSON string: a control character, `"` or `\`.
/// (The classic "has zero byte / has byte less than" word tricks: exact as a yes/no answer.)
#[inline]
fn any_needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let control = w.wrapping_sub(ONES * 0x20) & !w;
    let q = w ^ (ONES * b'"' as u64);
    let quote = q.wrapping_sub(ONES) & !q;
    let b = w ^ (ONES * b'\\' as u64);
    let backslash = b.wrapping_sub(ONES) & !b;
    (control | quote | backslash) & HIGH != 0
}

/// A JSON string, escaped as `serde_json` escapes it.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        while let Some(chunk) = bytes.get(i..i + 8) {
            let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
            if any_needs_escape(word) {
                break;
            }
            i += 8;
        }
        let Some(&c) = bytes.get(i) else { break };
        let escape: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(c >> 4) as usize]);
                out.push(HEX[(c & 0xf) as usize]);
                i += 1;
                start = i;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(s: &str) -> String {
        let mut out = Vec::new();
        write_str(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_like_serde_json() {
        for s in [
            "",
            "plain ascii text that is longer than eight bytes",
            "quote \" backslash \\ newline \n tab \t cr \r",
            "\u{0}\u{1}\u{8}\u{c}\u{1f}\u{7f}",
            "ünïcödé and emoji 🦀 stay as they are",
            "\"\"\"\"\"\"\"\"\"",
        ] {
            assert_eq!(escaped(s), serde_json::to_string(s).unwrap(), "{s:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_string_escapes_like_serde_json(s in "\\PC*|[\\x00-\\x7f]{0,64}") {
            proptest::prop_assert_eq!(escaped(&s), serde_json::to_string(&s).unwrap());
        }
    }

    #[test]
    fn fields_with_newlines_stay_on_one_line() {
        let fields: Fields =
            serde_json::from_str("{\"a\": {\n  \"b\": [1,\r\n 2]\n}, \"c\": \"x\\ny\"}").unwrap();
        let mut out = Vec::new();
        write_fields(&mut out, &fields);
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains('\n'), "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["a"]["b"][1], 2);
        assert_eq!(v["c"], "x\ny");
    }

    #[test]
    fn duplicate_and_case_colliding_keys_are_renamed_not_lost() {
        let fields: Fields =
            serde_json::from_str(r#"{"level":"info","Level":2,"level":3,"Level_2":4}"#).unwrap();
        let mut out = Vec::new();
        write_fields(&mut out, &fields);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"level":"info","Level_3":2,"level_4":3,"Level_2":4}"#,
            "a renamed key never takes another key's own name"
        );
    }
}
