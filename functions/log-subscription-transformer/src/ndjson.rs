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
use crate::record::LogRecord;

mod escape;
use escape::{needs_escape, write_escaped_inner, write_str};

/// `,"key":` for our own keys (plain ASCII: nothing to escape), as one literal of known length
/// so the copy is a few stores rather than a `memcpy` call.
macro_rules! write_key {
    ($out:expr, $key:literal) => {
        $out.extend_from_slice(concat!(",\"", $key, "\":").as_bytes())
    };
}

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
    /// The members the last record shared with the batch, already written.
    shared: SharedMembers,
}

/// The members every record of a batch repeats (account, region, log group and stream, source
/// type, function), written once and copied into each line: escaping them again for every line
/// was a tenth of the transformer's time (measured). Kept with the values they were written
/// from, so a record with other values is written afresh, never mislabelled.
#[derive(Debug, Default, Clone, PartialEq)]
struct SharedMembers {
    account: String,
    region: String,
    log_group: String,
    log_stream: String,
    source_type: String,
    function_name: Option<String>,
    text: Vec<u8>,
}

impl SharedMembers {
    fn of(r: &LogRecord) -> Self {
        let mut text = Vec::new();
        write_shared(&mut text, r);
        Self {
            account: r.account.to_string(),
            region: r.region.to_string(),
            log_group: r.log_group.to_string(),
            log_stream: r.log_stream.to_string(),
            source_type: r.source_type.to_string(),
            function_name: r.function_name.map(str::to_string),
            text,
        }
    }

    fn written_for(&self, r: &LogRecord) -> bool {
        !self.text.is_empty()
            && self.log_stream == r.log_stream
            && self.log_group == r.log_group
            && self.account == r.account
            && self.region == r.region
            && self.source_type == r.source_type
            && self.function_name.as_deref() == r.function_name
    }
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
        if !self.shared.written_for(record) {
            self.shared = SharedMembers::of(record);
        }
        write_head(&mut self.text, record);
        self.text.extend_from_slice(&self.shared.text);
        write_body(&mut self.text, record, self.layout);
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
    write_head(out, r);
    write_shared(out, r);
    write_body(out, r, layout);
}

/// `{"timestamp":…,"event_id":…`: the event's own members that come first.
fn write_head(out: &mut Vec<u8>, r: &LogRecord) {
    // The timestamp needs no escaping: digits, `-`, `:`, `.`, `T`, `Z`.
    out.extend_from_slice(b"{\"timestamp\":\"");
    out.extend_from_slice(r.timestamp.as_str().as_bytes());
    out.push(b'"');
    write_key!(out, "event_id");
    write_str(out, r.event_id);
}

/// `,"account":…` up to `function_name`: what every record of a batch shares.
fn write_shared(out: &mut Vec<u8>, r: &LogRecord) {
    write_key!(out, "account");
    write_str(out, r.account);
    write_key!(out, "region");
    write_str(out, r.region);
    write_key!(out, "log_group");
    write_str(out, r.log_group);
    write_key!(out, "log_stream");
    write_str(out, r.log_stream);
    write_key!(out, "source_type");
    write_str(out, r.source_type);
    if let Some(f) = r.function_name {
        write_key!(out, "function_name");
        write_str(out, f);
    }
}

/// What the line is, from `type` to the closing brace.
fn write_body(out: &mut Vec<u8>, r: &LogRecord, layout: Layout) {
    write_key!(out, "type");
    let line = &r.line;
    write_str(out, &line.kind);
    if let Some(level) = line.level {
        write_key!(out, "level");
        write_str(out, level);
    }
    if let Some(id) = &line.request_id {
        write_key!(out, "request_id");
        write_str(out, id);
    }
    if let Some(t) = &line.error_type {
        write_key!(out, "error_type");
        write_str(out, t);
    }
    write_key!(out, "message");
    write_str(out, &line.message);
    if let Some(summary) = line.summary() {
        write_key!(out, "summary");
        write_str(out, summary);
    }
    if let Some(fields) = line.fields.as_ref().filter(|f| !f.is_empty()) {
        write_key!(out, "fields");
        match layout {
            Layout::Json => write_fields(out, fields, Nesting::Object),
            Layout::Parquet => {
                out.push(b'"');
                write_fields(out, fields, Nesting::InString);
                out.push(b'"');
            }
        }
    }
    if let Some(report) = &line.report {
        write_key!(out, "report");
        // Rare (one line per invocation) and numbers only: serde_json's float formatting.
        if serde_json::to_writer(&mut *out, report).is_err() {
            out.extend_from_slice(b"null");
        }
    }
    write_key!(out, "redactions");
    write_count(out, r.redactions);
    write_key!(out, "truncated");
    out.extend_from_slice(if r.truncated { b"true" } else { b"false" });
    out.push(b'}');
}

/// A count in decimal, without the allocation of `to_string`.
fn write_count(out: &mut Vec<u8>, n: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// A JSON line's other members, values copied as they came. Whitespace inside a raw value can
/// hold a newline (a pretty-printed nested object); raw newlines can only be whitespace in JSON
/// (inside strings they are escaped), so they are dropped to keep one record per line.
///
/// Keys are made unique ignoring (ASCII) case ([`UniqueNames`]): a duplicate or
/// case-colliding key is valid JSON but breaks JSON SerDes that fold case (Athena's OpenX), and
/// renaming keeps the value where dropping it would lose data.
fn write_fields(out: &mut Vec<u8>, fields: &Fields, nesting: Nesting) {
    write_fields_named(out, fields, UniqueNames::new(fields), nesting);
}

/// Where the fields object is written: as an object, or (the Parquet layout) as the inside of a
/// JSON string. Escaping maps each byte on its own, so the object is escaped piece by piece as
/// it is written — one pass, where writing it aside and escaping it whole read it twice
/// (measured). The object's own `{`, `,`, `:`, `}` need no escaping.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Nesting {
    Object,
    InString,
}

impl Nesting {
    fn put(self, out: &mut Vec<u8>, bytes: &[u8]) {
        match self {
            Self::Object => out.extend_from_slice(bytes),
            Self::InString => write_escaped_inner(out, bytes),
        }
    }

    /// A key as a JSON string: in a string, its quotes escaped and its text escaped twice (once
    /// as a key, once as part of the string); a key with nothing to escape (nearly all) is
    /// copied between the quotes.
    fn put_key(self, out: &mut Vec<u8>, key: &str) {
        if self == Self::Object {
            return write_str(out, key);
        }
        out.extend_from_slice(b"\\\"");
        if key.bytes().any(needs_escape) {
            let mut once = Vec::with_capacity(key.len() + 8);
            write_escaped_inner(&mut once, key.as_bytes());
            write_escaped_inner(out, &once);
        } else {
            out.extend_from_slice(key.as_bytes());
        }
        out.extend_from_slice(b"\\\"");
    }
}

fn write_fields_named(
    out: &mut Vec<u8>,
    fields: &Fields,
    mut names: UniqueNames,
    nesting: Nesting,
) {
    out.push(b'{');
    for (i, (k, v)) in fields.0.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match names.rename(fields, i, k) {
            Some(unique) => nesting.put_key(out, &unique),
            None => nesting.put_key(out, k),
        }
        out.push(b':');
        let raw = v.get().as_bytes();
        if memchr::memchr2(b'\n', b'\r', raw).is_some() {
            let kept: Vec<u8> = raw
                .iter()
                .copied()
                .filter(|b| *b != b'\n' && *b != b'\r')
                .collect();
            nesting.put(out, &kept);
        } else {
            nesting.put(out, raw);
        }
    }
    out.push(b'}');
}

/// Up to this many keys a record's keys are compared in place (nothing allocated unless one
/// collides); more are hashed.
const IN_PLACE_KEYS: usize = 32;

/// Unique names for a record's keys, ignoring ASCII case: a key already taken — by an earlier
/// key or an earlier renaming — becomes `<key>_<n>` with the smallest n ≥ 2 that is neither taken
/// nor any key of the record (`Level` after `level` is `Level_2`). Few keys are compared in
/// place; many are hashed, so a line of thousands of duplicate keys costs linear time instead of
/// cubic (the classify fuzz target found it: 4,000 duplicate keys took 25 s in place).
enum UniqueNames {
    InPlace {
        renamed: Vec<String>,
    },
    Hashed {
        /// Names written so far, lower-cased.
        taken: std::collections::HashSet<String>,
        /// Every key of the record, lower-cased.
        keys: std::collections::HashSet<String>,
        /// The next suffix to try per lower-cased key: names only ever get taken, so a suffix
        /// found taken once stays taken.
        next: std::collections::HashMap<String, usize>,
    },
}

impl UniqueNames {
    fn new(fields: &Fields) -> Self {
        if fields.0.len() <= IN_PLACE_KEYS {
            Self::InPlace {
                renamed: Vec::new(),
            }
        } else {
            Self::hashed(fields)
        }
    }

    fn hashed(fields: &Fields) -> Self {
        Self::Hashed {
            taken: Default::default(),
            keys: fields
                .0
                .iter()
                .map(|(k, _)| k.to_ascii_lowercase())
                .collect(),
            next: Default::default(),
        }
    }

    /// The name key `i` (`k`) is written under, when it is not its own.
    fn rename(&mut self, fields: &Fields, i: usize, k: &str) -> Option<String> {
        match self {
            Self::InPlace { renamed } => {
                let taken = |name: &str, renamed: &[String]| {
                    fields.0[..i]
                        .iter()
                        .any(|(e, _)| e.eq_ignore_ascii_case(name))
                        || renamed.iter().any(|r| r.eq_ignore_ascii_case(name))
                };
                if !taken(k, renamed) {
                    return None;
                }
                let unique = (2..)
                    .map(|n| format!("{k}_{n}"))
                    .find(|c| {
                        !taken(c, renamed)
                            && !fields.0.iter().any(|(e, _)| e.eq_ignore_ascii_case(c))
                    })
                    .unwrap_or_default();
                renamed.push(unique.clone());
                Some(unique)
            }
            Self::Hashed { taken, keys, next } => {
                let lower = k.to_ascii_lowercase();
                if taken.insert(lower.clone()) {
                    return None;
                }
                let n = next.entry(lower.clone()).or_insert(2);
                loop {
                    let candidate = format!("{lower}_{n}");
                    let suffix = *n;
                    *n += 1;
                    if !taken.contains(&candidate) && !keys.contains(&candidate) {
                        taken.insert(candidate);
                        return Some(format!("{k}_{suffix}"));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_write_what_write_record_writes_when_the_shared_members_change() {
        let mut clock = crate::record::Clock::default();
        let mut record =
            |log_group: &'static str, function_name, message: &'static str| LogRecord {
                timestamp: clock.format(1_795_424_400_012),
                event_id: "1",
                account: "123456789012",
                region: "us-east-1",
                log_group,
                log_stream: "2026/11/23/[$LATEST]abc",
                source_type: "lambda",
                function_name,
                line: crate::parse::parse(message),
                redactions: 0,
                truncated: false,
            };
        let records = [
            record("/aws/lambda/a", Some("a"), r#"{"level":"INFO","n":1}"#),
            record("/aws/lambda/a", Some("a"), "plain \"quoted\" text"),
            record("/aws/lambda/b", Some("b"), "another function"),
            record("/aws/lambda/b", None, "same group, no function"),
        ];
        for layout in [Layout::Parquet, Layout::Json] {
            let mut lines = Lines::with_capacity(0, layout);
            let mut expected = Vec::new();
            for r in &records {
                lines.push(r);
                write_record(&mut expected, r, layout);
                expected.push(b'\n');
            }
            assert_eq!(
                String::from_utf8(lines.text).unwrap(),
                String::from_utf8(expected).unwrap()
            );
        }
    }

    #[test]
    fn fields_with_newlines_stay_on_one_line() {
        let fields: Fields =
            serde_json::from_str("{\"a\": {\n  \"b\": [1,\r\n 2]\n}, \"c\": \"x\\ny\"}").unwrap();
        let mut out = Vec::new();
        write_fields(&mut out, &fields, Nesting::Object);
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains('\n'), "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["a"]["b"][1], 2);
        assert_eq!(v["c"], "x\ny");
    }

    proptest::proptest! {
        /// The hashed renaming writes exactly what the in-place one does.
        #[test]
        fn hashed_names_are_the_in_place_names(
            keys in proptest::collection::vec("(a|A|b|a_2|A_3|b_2|a_2_2)", 0..40)
        ) {
            let members: Vec<String> = keys.iter().enumerate().map(|(i, k)| format!("\"{k}\":{i}")).collect();
            let line = format!("{{{}}}", members.join(","));
            let fields: Fields = serde_json::from_str(&line).unwrap();
            let mut in_place = Vec::new();
            write_fields_named(&mut in_place, &fields, UniqueNames::InPlace { renamed: Vec::new() }, Nesting::Object);
            let mut hashed = Vec::new();
            write_fields_named(&mut hashed, &fields, UniqueNames::hashed(&fields), Nesting::Object);
            proptest::prop_assert_eq!(String::from_utf8(hashed).unwrap(), String::from_utf8(in_place).unwrap());
        }
    }

    proptest::proptest! {
        /// The Parquet layout's one pass writes what escaping the whole object writes.
        #[test]
        fn fields_in_a_string_are_the_object_escaped(
            members in proptest::collection::vec(("\\PC{0,12}|[\\x00-\\x7f]{0,12}", "\\PC{0,12}|[\\x00-\\x7f]{0,12}", 0..3u8), 0..6)
        ) {
            let parts: Vec<String> = members
                .iter()
                .map(|(k, v, shape)| {
                    let value = match shape {
                        0 => serde_json::to_string(v).unwrap(),
                        1 => format!("{{\n  \"v\": {}\r\n}}", serde_json::to_string(v).unwrap()),
                        _ => v.len().to_string(),
                    };
                    format!("{}:{value}", serde_json::to_string(k).unwrap())
                })
                .collect();
            let line = format!("{{{}}}", parts.join(","));
            let fields: Fields = serde_json::from_str(&line).unwrap();
            let mut object = Vec::new();
            write_fields(&mut object, &fields, Nesting::Object);
            let mut whole = Vec::new();
            write_str(&mut whole, std::str::from_utf8(&object).unwrap());
            let mut one_pass = vec![b'"'];
            write_fields(&mut one_pass, &fields, Nesting::InString);
            one_pass.push(b'"');
            proptest::prop_assert_eq!(String::from_utf8(one_pass).unwrap(), String::from_utf8(whole).unwrap());
        }
    }

    #[test]
    fn many_duplicate_keys_take_linear_time() {
        // 40,000 duplicate keys: what one 256 KB CloudWatch event can hold.
        let line = format!("{{{}}}", vec!["\"a\":1"; 40_000].join(","));
        let fields: Fields = serde_json::from_str(&line).unwrap();
        let started = std::time::Instant::now();
        let mut out = Vec::new();
        write_fields(&mut out, &fields, Nesting::Object);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\"a_40000\":1"), "every value kept");
        // Cubic took 25 s for 4,000 keys; linear is milliseconds (a debug build, a busy machine).
        assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
    }

    #[test]
    fn duplicate_and_case_colliding_keys_are_renamed_not_lost() {
        let fields: Fields =
            serde_json::from_str(r#"{"level":"info","Level":2,"level":3,"Level_2":4}"#).unwrap();
        let mut out = Vec::new();
        write_fields(&mut out, &fields, Nesting::Object);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"level":"info","Level_3":2,"level_4":3,"Level_2":4}"#,
            "a renamed key never takes another key's own name"
        );
    }
}
