//! `make bench-cold-start`: each function's cold start and peak memory, measured locally.
//!
//! Method: the release binary of each function (this machine's architecture — the arm64 zips
//! cannot run here) is started as a fresh process with `AWS_LAMBDA_RUNTIME_API` pointing at a
//! minimal Lambda Runtime API served by this program, against the emulator seeded as in
//! `make demo`. Measured per run:
//! - **init**: process start → its first `GET /runtime/invocation/next` (what Lambda reports as
//!   Init Duration: config read, SDK clients built);
//! - **first invoke**: the event handed over → its response (or error) posted, AWS calls to the
//!   emulator included;
//! - **peak memory**: the process's peak RSS (`VmHWM`) after that first invoke.
//!
//! Five fresh processes per function; medians printed as a Markdown table.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use lakeops_e2e::notify::{set_up_example_notifier, WebhookReceiver};
use lakeops_e2e::{lake, repo_root, Emulator};
use serde_json::Value;

const RUNS: usize = 5;

/// One HTTP request: (method, path, body).
fn read_request(stream: &mut TcpStream) -> Option<(String, String, Vec<u8>)> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut length = 0;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        if h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((method, path, body))
}

fn respond(stream: &mut TcpStream, headers: &[(&str, String)], body: &[u8]) {
    let mut head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

fn vm_hwm_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

struct Run {
    init: Duration,
    invoke: Duration,
    peak_kib: u64,
    ok: bool,
}

/// One fresh process of `binary`, one event.
fn cold_run(binary: &str, env: &[(String, String)], event: &Value) -> Run {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let exe = repo_root().join("target/release").join(binary);
    let started = Instant::now();
    let mut child = Command::new(&exe)
        .envs(env.iter().cloned())
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", binary)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{binary}"))
        .env("RUST_LOG", "warn")
        // The notifier posts to the local receiver over plain http: release builds refuse that
        // unless told (alert-notifier channels.rs, loopback_http_allowed).
        .env("LAKEOPS_ALLOW_LOOPBACK_HTTP", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "start {} (run `cargo build --release --bins`): {e}",
                exe.display()
            )
        });
    let pid = child.id();
    let body = serde_json::to_vec(event).expect("event");
    let mut init = None;
    let mut invoke_start = None;
    let mut result = None;
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let Some((method, path, _)) = read_request(&mut stream) else {
            continue;
        };
        if method == "GET" && path.ends_with("/invocation/next") {
            if invoke_start.is_some() {
                // Second poll: the first invoke is over; leave it waiting and stop.
                break;
            }
            init = Some(started.elapsed());
            let deadline = Utc::now().timestamp_millis() + 300_000;
            respond(
                &mut stream,
                &[
                    ("Lambda-Runtime-Aws-Request-Id", "cold-start-1".into()),
                    ("Lambda-Runtime-Deadline-Ms", deadline.to_string()),
                    (
                        "Lambda-Runtime-Invoked-Function-Arn",
                        format!("arn:aws:lambda:us-east-1:123456789012:function:{binary}"),
                    ),
                ],
                &body,
            );
            invoke_start = Some(Instant::now());
        } else if method == "POST" {
            let took = invoke_start.map(|t| t.elapsed()).unwrap_or_default();
            respond(&mut stream, &[], b"{}");
            result = Some((took, path.ends_with("/response")));
            if path.contains("/init/error") {
                break;
            }
        }
    }
    let peak_kib = vm_hwm_kib(pid);
    let _ = child.kill();
    let _ = child.wait();
    let (invoke, ok) = result.unwrap_or_default();
    Run {
        init: init.unwrap_or_default(),
        invoke,
        peak_kib,
        ok,
    }
}

fn median<T: Copy + Ord>(mut v: Vec<T>) -> T {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let emu = Emulator::start();
    let config = emu.sdk_config().await;
    let anchor = lakeops_e2e::floor_to_minutes(Utc::now(), 5);
    let lake = lake::seed(&emu, &config, anchor).await;
    let yesterday =
        anchor.with_timezone(&chrono_tz::Asia::Seoul).date_naive() - chrono::Duration::days(1);
    let recon = lake::seed_reconciliation(&emu, &config, yesterday, 0.2).await;
    let mut env = emu.aws_env();
    for (k, v) in [
        ("ALERT_TOPIC_ARN", lake.tap.topic_arn.as_str()),
        ("FIREHOSE_STREAM", lake::LOG_STREAM),
        ("LEDGER_TABLE", lakeops_e2e::LEDGER_TABLE),
        ("QUERY_INDEX_TABLE", lakeops_e2e::index::INDEX_TABLE),
        ("CHECKS_CONFIG", recon.checks_uri.as_str()),
        ("RESULTS_S3_URI", recon.results_uri.as_str()),
        ("ATHENA_WORKGROUP", "etl"),
    ] {
        env.push((k.to_string(), v.to_string()));
    }
    // The notifier posts to a local receiver; each of its runs gets a fresh ledger table, so every
    // first invoke really posts (the same alert ids are never "delivered before").
    let receiver = WebhookReceiver::start();
    let (_queue, notifier_env) =
        set_up_example_notifier(&config, &lake.tap.topic_arn, &receiver).await;
    env.extend(notifier_env);
    let mut ledgers = Vec::new();
    for run in 0..RUNS {
        let table = format!("lakeops-ledger-notifier-{run}");
        lakeops_e2e::create_table_with_key(&config, &table, "pk").await;
        ledgers.push(table);
    }
    let scheduled = |name: &str| {
        let mut e = lakeops_e2e::event(name);
        e["time"] = serde_json::json!(anchor.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        e
    };
    let cases = [
        (
            "query-cost-watcher",
            scheduled("schedule-query-cost-watcher.json"),
        ),
        (
            "long-query-killer",
            scheduled("schedule-long-query-killer.json"),
        ),
        (
            "row-count-reconciler",
            scheduled("schedule-row-count-reconciler.json"),
        ),
        (
            "log-subscription-transformer",
            lakeops_e2e::event("cloudwatch-logs-subscription.json"),
        ),
        (
            "alert-notifier",
            lakeops_e2e::event("sqs-alert-notifier.json"),
        ),
    ];
    println!("| function | init (process start → ready) | first invoke (emulator calls included) | peak RSS | invokes answered ok |");
    println!("|---|---|---|---|---|");
    for (binary, event) in cases {
        let runs: Vec<Run> = (0..RUNS)
            .map(|run| {
                let mut env = env.clone();
                if binary == "alert-notifier" {
                    env.push(("LEDGER_TABLE".into(), ledgers[run].clone()));
                }
                cold_run(binary, &env, &event)
            })
            .collect();
        let ok = runs.iter().filter(|r| r.ok).count();
        println!(
            "| {binary} | {:.1} ms | {:.0} ms | {:.1} MiB | {ok}/{RUNS} |",
            median(runs.iter().map(|r| r.init).collect()).as_secs_f64() * 1e3,
            median(runs.iter().map(|r| r.invoke).collect()).as_secs_f64() * 1e3,
            median(runs.iter().map(|r| r.peak_kib).collect()) as f64 / 1024.0,
        );
    }
}
