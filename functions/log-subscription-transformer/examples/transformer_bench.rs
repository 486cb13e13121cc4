//! `make bench-transformer`: the transformer's decode → parse → enrich → serialize path against
//! the floor (base64 + gunzip + JSON parse only) and a Python baseline doing what the AWS
//! CloudWatch Logs blueprint does plus JSON parsing of messages, on the same ~1 MB-compressed
//! payload; and the peak memory of one pass over it. Prints a Markdown table.
//!
//! `--peak <payload file>` runs one pass in a fresh process and prints its peak RSS growth only.

use std::process::Command;
use std::time::Instant;

use log_subscription_transformer::transform::{self, Rules};
use log_subscription_transformer::{decode, fixtures};

const COMPRESSED_BYTES: usize = 1_000_000;

fn floor(data: &str) -> usize {
    decode::decode(data).expect("payload").log_events.len()
}

fn pipeline(data: &str, rules: &Rules) -> usize {
    let batch = decode::decode(data).expect("payload");
    let t = transform::transform(&batch, "us-east-1", rules);
    let mut bytes = 0;
    for r in &t.records {
        let mut line = serde_json::to_vec(r).expect("record");
        line.push(b'\n');
        bytes += line.len();
    }
    bytes
}

/// Median seconds per call over at least 15 runs and 3 seconds.
fn time(mut f: impl FnMut() -> usize) -> f64 {
    let mut samples = Vec::new();
    let started = Instant::now();
    while samples.len() < 15 || started.elapsed().as_secs_f64() < 3.0 {
        let t = Instant::now();
        std::hint::black_box(f());
        samples.push(t.elapsed().as_secs_f64());
    }
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() {
    let rules = Rules::new(None, None, true, true, true, None);
    let args: Vec<String> = std::env::args().collect();
    if let Some(path) = args
        .iter()
        .position(|a| a == "--peak")
        .and_then(|i| args.get(i + 1))
    {
        // A fresh process that only reads the payload (as Lambda hands it over) and runs one pass.
        let data = std::fs::read_to_string(path).expect("payload file");
        let before = vm_hwm_kib();
        let out = pipeline(&data, &rules);
        let after = vm_hwm_kib();
        println!("{} {} {}", after.saturating_sub(before), after, out);
        return;
    }
    let (data, events, raw_len) = fixtures::payload_of_compressed_size(COMPRESSED_BYTES);
    let payload_path = std::env::temp_dir().join("lakeops-transformer-payload.b64");
    std::fs::write(&payload_path, &data).expect("write payload");
    let mb = raw_len as f64 / 1e6;
    let t_floor = time(|| floor(&data));
    let t_pipe = time(|| pipeline(&data, &rules));
    let no_redaction = Rules::new(None, None, false, false, false, None);
    let t_plain = time(|| pipeline(&data, &no_redaction));
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/bench/python_baseline.py"
    );
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python)
        .arg(script)
        .arg(&payload_path)
        .output()
        .expect("run the Python baseline");
    let t_py: f64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| {
            panic!(
                "python baseline said: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let exe = std::env::current_exe().expect("own path");
    let peak = Command::new(exe)
        .arg("--peak")
        .arg(&payload_path)
        .output()
        .expect("peak run");
    let peak = String::from_utf8_lossy(&peak.stdout);
    let mut p = peak.split_whitespace();
    let growth_kib: f64 = p.next().and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let hwm_kib: f64 = p.next().and_then(|v| v.parse().ok()).unwrap_or(0.0);

    println!(
        "payload: {} events, {:.2} MB uncompressed, {:.2} MB gzip ({:.2} MB base64)\n",
        events,
        mb,
        data.len() as f64 * 0.75 / 1e6,
        data.len() as f64 / 1e6
    );
    println!("| path (one core) | time per payload | MB/s (uncompressed) | events/s |");
    println!("|---|---|---|---|");
    for (name, t) in [
        ("Python baseline (blueprint + JSON messages)", t_py),
        ("floor: base64 + gunzip + JSON parse (Rust)", t_floor),
        (
            "lakeops: decode → parse → redact → enrich → serialize",
            t_pipe,
        ),
        ("lakeops, built-in redaction switched off", t_plain),
    ] {
        println!(
            "| {name} | {:.1} ms | {:.0} | {:.0} |",
            t * 1e3,
            mb / t,
            events as f64 / t
        );
    }
    println!(
        "\nlakeops is {:.1}x the Python baseline and {:.2}x the floor's time.",
        t_py / t_pipe,
        t_pipe / t_floor
    );
    println!(
        "peak memory of one pass: +{:.1} MiB over the process's start (peak RSS {:.1} MiB)",
        growth_kib / 1024.0,
        hwm_kib / 1024.0
    );
}
