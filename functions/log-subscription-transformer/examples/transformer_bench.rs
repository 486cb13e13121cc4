//! `make bench-transformer`: the transformer's decode → parse → enrich → serialize path against
//! the floor (base64 + gunzip + JSON parse only) and a Python baseline doing what the AWS
//! CloudWatch Logs blueprint does plus JSON parsing of messages, on the same ~1 MB-compressed
//! payload; and the peak memory of one pass over it. Prints a Markdown table.
//!
//! `--peak <payload file>` runs one pass in a fresh process and prints its peak RSS growth only;
//! `--loop <n>` runs only the pipeline n times (for `perf record`).

use std::process::Command;
use std::time::Instant;

use log_subscription_transformer::redact::{Redactor, Switches};
use log_subscription_transformer::transform::{self, Rules};
use log_subscription_transformer::{decode, fixtures};

const COMPRESSED_BYTES: usize = 1_000_000;

/// The floor: what any program must do to see the events (base64, gunzip, parse the batch JSON
/// with the same borrowing reader the pipeline uses).
fn floor(data: &str) -> usize {
    let json = decode::inflate(data).expect("payload");
    decode::parse(&json).expect("payload").log_events.len()
}

/// The whole path: the JSON lines that would go to Firehose, and their total size.
fn pipeline(data: &str, rules: &Rules) -> usize {
    let json = decode::inflate(data).expect("payload");
    let batch = decode::parse(&json).expect("payload");
    let mut errors = 0;
    let t = transform::transform(&batch, "us-east-1", rules, |r| {
        errors += r.line.is_error() as usize
    });
    t.lines.text.len() + t.lines.records.len() + errors
}

/// Median seconds per call of each path, the paths run in turn in every round (at least 25
/// rounds and 8 seconds) so that a noisy neighbour on this shared machine slows all of them
/// alike instead of skewing one path's figure.
fn time_interleaved(paths: &mut [&mut dyn FnMut() -> usize]) -> Vec<f64> {
    let mut samples = vec![Vec::new(); paths.len()];
    let started = Instant::now();
    while samples[0].len() < 25 || started.elapsed().as_secs_f64() < 8.0 {
        for (path, s) in paths.iter_mut().zip(&mut samples) {
            let t = Instant::now();
            std::hint::black_box(path());
            s.push(t.elapsed().as_secs_f64());
        }
    }
    samples
        .into_iter()
        .map(|mut s| {
            s.sort_by(f64::total_cmp);
            s[s.len() / 2]
        })
        .collect()
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
    // As the function does at start-up, so the figures are the deployed configuration's.
    log_subscription_transformer::keep_memory_between_batches();
    let rules = Rules::standard();
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
    if let Some(n) = args
        .iter()
        .position(|a| a == "--loop")
        .and_then(|i| args.get(i + 1)?.parse::<usize>().ok())
    {
        // `--rules aws,secret,email,ip` (or `none`): which built-in redactions are on.
        let on = args
            .iter()
            .position(|a| a == "--rules")
            .and_then(|i| args.get(i + 1))
            .map_or("aws,secret,email,ip", String::as_str);
        let rules = rules_with(Switches {
            aws_keys: on.contains("aws"),
            secrets: on.contains("secret"),
            emails: on.contains("email"),
            ips: on.contains("ip"),
        });
        let started = Instant::now();
        let out: usize = (0..n).map(|_| pipeline(&data, &rules)).sum();
        let ms = started.elapsed().as_secs_f64() * 1e3 / n.max(1) as f64;
        println!("{out} ({ms:.1} ms per pass)");
        return;
    }
    let payload_path = std::env::temp_dir().join("lakeops-transformer-payload.b64");
    std::fs::write(&payload_path, &data).expect("write payload");
    let mb = raw_len as f64 / 1e6;
    let no_redaction = rules_with(Switches {
        aws_keys: false,
        secrets: false,
        emails: false,
        ips: false,
    });
    let t = time_interleaved(&mut [
        &mut || floor(&data),
        &mut || pipeline(&data, &rules),
        &mut || pipeline(&data, &no_redaction),
    ]);
    let (t_floor, t_pipe, t_plain) = (t[0], t[1], t[2]);
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

/// The standard rules with only these redactions switched on.
fn rules_with(switches: Switches) -> Rules {
    Rules {
        redactor: Redactor::new(switches, Vec::new(), None),
        ..Rules::standard()
    }
}
