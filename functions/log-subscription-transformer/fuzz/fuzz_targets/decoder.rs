//! The decoder and the whole transform, from three depths: the `awslogs.data` text itself
//! (base64), gzip bytes (base64-encoded here), or the inflated JSON (so the fuzzer's coverage
//! feedback reaches the JSON and log-line code without having to get through gzip checksums).
//! Every written line must be one valid JSON document.
#![no_main]

use base64::Engine;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use log_subscription_transformer::decode;
use log_subscription_transformer::transform::{self, Rules};

/// Built once: compiling the patterns per input would be most of the time.
static RULES: LazyLock<Rules> = LazyLock::new(Rules::standard);

fn transform_all(json: &[u8]) {
    let Ok(data) = decode::parse(json) else {
        return;
    };
    let out = transform::transform(&data, "us-east-1", &RULES, |_| {});
    for line in out
        .lines
        .text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
    {
        // RFC 8259 JSON: application numbers of any size are copied as written.
        if let Err(e) = serde_json::from_slice::<Box<serde_json::value::RawValue>>(line) {
            panic!(
                "written line is not JSON ({e}): {}",
                String::from_utf8_lossy(line)
            );
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, body)) = input.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            if let Ok(text) = std::str::from_utf8(body) {
                if let Ok(json) = decode::inflate(text) {
                    transform_all(&json);
                }
            }
        }
        1 => {
            let text = base64::engine::general_purpose::STANDARD.encode(body);
            if let Ok(json) = decode::inflate(&text) {
                transform_all(&json);
            }
        }
        _ => transform_all(body),
    }
});
