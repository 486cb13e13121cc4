//! `make fuzz-transformer`: a stable-Rust fuzzer over the decoder and the whole transform.
//!
//! The quick, deterministic check (`make test` runs 20,000 inputs); the coverage-guided fuzzing
//! is `fuzz/` (cargo-fuzz / libFuzzer, `make fuzz-libfuzzer`). This harness needs no
//! instrumented build and no coverage feedback. From real-shaped seeds (the sample subscription
//! payload, the control message, a generated mixed batch) it makes inputs broken at every layer — bad base64, flipped / cut / extended
//! gzip, gzip bombs, invalid UTF-8, cut and flipped JSON, deeply nested JSON inside and outside
//! the messages, huge and empty lines — and runs each through decode → parse → redact → enrich →
//! serialize, under `catch_unwind`. Any panic is reported with the input saved to a file, and
//! the run fails. Deterministic: `--seed` and `--runs` reproduce a run exactly.
//!
//! `cargo run --release -p log-subscription-transformer --example decoder_fuzz -- --runs 1000000`

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use base64::Engine;
use log_subscription_transformer::decode::{self, DecodeError};
use log_subscription_transformer::fixtures::{self, Lcg};
use log_subscription_transformer::transform::{self, Rules};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn gzip(raw: &[u8]) -> Vec<u8> {
    B64.decode(decode::encode(raw)).expect("own encoding")
}

/// One payload through everything the function does with it; the outcome's name.
fn run(data: &str, rules: &Rules) -> &'static str {
    let json = match decode::inflate(data) {
        Ok(j) => j,
        Err(DecodeError::Base64(_)) => return "bad base64",
        Err(DecodeError::Gzip(_)) => return "bad gzip",
        Err(DecodeError::TooLarge { .. }) => return "too large",
        Err(DecodeError::Json(_)) => return "bad json",
    };
    let Ok(batch) = decode::parse(&json) else {
        return "bad json";
    };
    let mut errors = 0usize;
    let t = transform::transform(&batch, "us-east-1", rules, |r| {
        errors += r.line.is_error() as usize
    });
    // Every line must be one valid JSON object.
    for line in t
        .lines
        .text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
    {
        if serde_json::from_slice::<serde_json::Value>(line).is_err() {
            panic!(
                "invalid JSON line written: {}",
                String::from_utf8_lossy(line)
            );
        }
    }
    "transformed"
}

fn mutate_bytes(g: &mut Lcg, b: &mut Vec<u8>) {
    if b.is_empty() {
        b.push(g.next_u64() as u8);
        return;
    }
    let at = (g.next_u64() as usize) % b.len();
    match g.next_u64() % 8 {
        0 => b[at] ^= 1 << (g.next_u64() % 8),
        1 => b[at] = g.next_u64() as u8,
        2 => b.truncate(at),
        3 => {
            let end = (at + (g.next_u64() as usize % 64)).min(b.len());
            b.drain(at..end);
        }
        4 => {
            let end = (at + (g.next_u64() as usize % 64)).min(b.len());
            let copy = b[at..end].to_vec();
            b.splice(at..at, copy);
        }
        5 => {
            b.splice(at..at, [0xff, 0xfe, 0xc3]);
        }
        6 => {
            let depth = 1 + g.next_u64() as usize % 5000;
            let open = if g.next_u64() % 2 == 0 { b"[" } else { b"{" };
            let nest: Vec<u8> = open.repeat(depth);
            b.splice(at..at, nest);
        }
        _ => {
            b.splice(
                at..at,
                std::iter::repeat_n(b'"', 1 + g.next_u64() as usize % 8),
            );
        }
    }
}

/// A message that is itself hostile JSON / text (so the per-line parser sees it, not just the
/// batch decoder).
fn hostile_message(g: &mut Lcg) -> String {
    match g.next_u64() % 6 {
        0 => "[".repeat(1 + g.next_u64() as usize % 10_000),
        1 => format!("{{\"level\":\"ERROR\",\"message\":{}}}", "[".repeat(200)),
        2 => format!(
            "{{\"type\":\"platform.report\",\"record\":{{\"metrics\":{{\"durationMs\":\"x{}\"}}}}}}",
            g.next_u64()
        ),
        3 => "REPORT RequestId: \tDuration: -1e999 ms\tInit Duration: NaN".into(),
        4 => "é".repeat(g.next_u64() as usize % 600_000),
        _ => format!("{{\"message\": {{\n \"a\": [1,\n2]}}, \"k\":\"{}\"}}", "\\u0000".repeat(50)),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1)?.parse().ok())
            .unwrap_or(default)
    };
    let runs = arg("--runs", 200_000);
    let mut g = Lcg(arg("--seed", 1));
    let rules = Rules::standard();
    let event = |name: &str| -> Vec<u8> {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("event file"))
                .expect("json");
        decode::inflate(v["awslogs"]["data"].as_str().expect("awslogs.data")).expect("sample")
    };
    let seeds = [
        event("cloudwatch-logs-subscription.json"),
        event("cloudwatch-logs-control-message.json"),
        fixtures::batch_json(40).into_bytes(),
    ];
    let bomb = {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![b' '; 64 << 20]).expect("memory");
        B64.encode(gz.finish().expect("memory"))
    };
    let started = Instant::now();
    let mut outcomes: std::collections::BTreeMap<&str, u64> = Default::default();
    for i in 0..runs {
        let mut raw = seeds[(g.next_u64() % seeds.len() as u64) as usize].clone();
        let data = match if i % 1000 == 999 {
            99
        } else {
            g.next_u64() % 10
        } {
            // Hostile messages inside an otherwise valid batch.
            0 | 1 => {
                let mut v: serde_json::Value = serde_json::from_slice(&seeds[0]).expect("seed");
                v["logEvents"][0]["message"] = hostile_message(&mut g).into();
                decode::encode(v.to_string().as_bytes())
            }
            // Broken JSON, valid gzip and base64.
            2..=5 => {
                for _ in 0..1 + g.next_u64() % 4 {
                    mutate_bytes(&mut g, &mut raw);
                }
                decode::encode(&raw)
            }
            // Broken gzip stream.
            6 | 7 => {
                let mut gz = gzip(&raw);
                for _ in 0..1 + g.next_u64() % 3 {
                    mutate_bytes(&mut g, &mut gz);
                }
                B64.encode(gz)
            }
            // Broken base64 text.
            8 => {
                let mut text = decode::encode(&raw).into_bytes();
                mutate_bytes(&mut g, &mut text);
                String::from_utf8_lossy(&text).into_owned()
            }
            // Unchanged seeds.
            9 => decode::encode(&raw),
            // Every 1,000th input a gzip bomb (64 MiB of spaces, ~65 KB compressed).
            _ => bomb.clone(),
        };
        match catch_unwind(AssertUnwindSafe(|| run(&data, &rules))) {
            Ok(outcome) => *outcomes.entry(outcome).or_default() += 1,
            Err(_) => {
                let path = std::env::temp_dir().join(format!("lakeops-fuzz-crash-{i}.b64"));
                std::fs::write(&path, &data).expect("save crash");
                eprintln!("PANIC on input {i}; saved to {}", path.display());
                std::process::exit(1);
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{runs} executions in {secs:.1} s ({:.0}/s), no panic; outcomes: {outcomes:?}",
        runs as f64 / secs
    );
}
