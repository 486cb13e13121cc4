//! One log line through classification, every redaction and the writer, in both layouts: no
//! panic, the written record is one valid JSON document (RFC 8259: numbers of any size), and an
//! untouched text line is written as it came.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use log_subscription_transformer::decode;
use log_subscription_transformer::ndjson::Layout;
use log_subscription_transformer::transform::{self, Rules};

/// Both layouts' rules, built once: compiling the patterns per input would be most of the time.
static RULES: LazyLock<[Rules; 2]> = LazyLock::new(|| {
    [Layout::Parquet, Layout::Json].map(|layout| Rules {
        layout,
        ..Rules::standard()
    })
});

fuzz_target!(|input: &[u8]| {
    let Ok(line) = std::str::from_utf8(input) else {
        return;
    };
    // A one-event batch, so the line goes through exactly what the function does with it.
    let mut batch = br#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"/aws/lambda/f","logStream":"s","subscriptionFilters":[],"logEvents":[{"id":"1","timestamp":1795424400000,"message":"#.to_vec();
    log_subscription_transformer::ndjson::write_str(&mut batch, line);
    batch.extend_from_slice(b"}]}");
    let data = decode::parse(&batch).expect("a batch we built");
    for rules in RULES.iter() {
        let out = transform::transform(&data, "us-east-1", rules, |_| {});
        let text = &out.lines.text;
        let written = &text[..text.len() - 1];
        // Valid JSON (RFC 8259), numbers of any size: application numbers are copied as written.
        if let Err(e) = serde_json::from_slice::<Box<serde_json::value::RawValue>>(written) {
            panic!("not JSON ({e}): {}", String::from_utf8_lossy(written));
        }
        // The checks below read the record; `Value` cannot hold a number beyond f64 (a JSON
        // reader's limit, not the line's), so such a line stops here.
        let Ok(record) = serde_json::from_slice::<serde_json::Value>(written) else {
            continue;
        };
        if out.redactions == 0 && !record["truncated"].as_bool().unwrap_or(false) {
            let line = line.trim_end_matches(['\n', '\r']);
            let message = record["message"].as_str().unwrap_or_default();
            // A JSON line's message is its `message` member; a text line's is the line itself.
            if !line.trim_start().starts_with('{') {
                assert_eq!(
                    message, line,
                    "an untouched text line is written as it came"
                );
            }
        }
    }
});
