//! `make demo`: starts the local AWS emulator, seeds a small data lake, runs each of the four
//! Athena/log functions under `cargo lambda watch` with the files in `events/`, then lets the
//! alert-notifier deliver every alert they raised to a local chat receiver (standing in for
//! Teams, Google Chat and Slack), prints a summary a person reads in a minute, writes
//! `target/demo/report.html` (the posts rendered as the cards people receive; each function's
//! full answer in `target/demo/answers/`), and stops everything it started.
//!
//! `make invoke FN=<function> EVENT=<file>` runs just one function with one event the same way.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use lakeops_e2e::notify::{set_up_example_notifier, WebhookReceiver, EXAMPLE_CHANNELS};
use lakeops_e2e::report::{Report, Run};
use lakeops_e2e::{event_file, lake, repo_root, Emulator, Functions};
use serde_json::Value;

fn rule(title: &str) {
    println!(
        "\n\x1b[1m== {title} {}\x1b[0m",
        "=".repeat(70usize.saturating_sub(title.len()))
    );
}

fn show(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let only = arg("--only");
    let event = arg("--event").map(|e| repo_root().join(e));

    rule("starting the local AWS emulator (moto + lakeops Athena extension)");
    let mut setup = Vec::new();
    let emu = Emulator::start();
    println!("emulator on {}", emu.endpoint());
    let config = emu.sdk_config().await;
    // The lake's clock: the end of the current 5-minute sweep window, so the cost watcher's
    // scheduled run (stamped with this time) covers the queries that just completed.
    let anchor = lakeops_e2e::floor_to_minutes(Utc::now(), 5);
    let lake = lake::seed(&emu, &config, anchor).await;
    setup.push(format!(
        "a lake of {} Athena queries in workgroups {}, Glue database `sales`, Firehose stream `{}` → s3://{}",
        lake.queries,
        lake::WORKGROUPS.join(", "),
        lake::LOG_STREAM,
        lake::LOG_BUCKET,
    ));

    // Yesterday in the reconciler's timezone (Asia/Seoul, the default): the day its checks count.
    let yesterday =
        (anchor.with_timezone(&chrono_tz::Asia::Seoul).date_naive()) - chrono::Duration::days(1);
    let recon = lake::seed_reconciliation(&emu, &config, yesterday, 2.0).await;
    setup.push(format!(
        "5 pipelines to reconcile in database `lake` for {yesterday} ({})",
        recon.checks_uri
    ));

    // Chat: the example routes, four channels on a local receiver.
    let receiver = WebhookReceiver::start();
    let (notifier_queue, notifier_env) =
        set_up_example_notifier(&config, &lake.tap.topic_arn, &receiver).await;
    setup.push(format!(
        "chat channels {} on a local webhook receiver, routed by functions/alert-notifier/routes.example.yaml",
        EXAMPLE_CHANNELS.map(|(n, p)| format!("{n} ({p})")).join(", "),
    ));
    for line in &setup {
        println!("{line}");
    }

    rule("starting the functions under cargo lambda watch");
    let mut env = vec![
        ("ALERT_TOPIC_ARN", lake.tap.topic_arn.as_str()),
        ("FIREHOSE_STREAM", lake::LOG_STREAM),
        ("LEDGER_TABLE", lakeops_e2e::LEDGER_TABLE),
        ("KILLER_MODE", "enforce"),
        ("CHECKS_CONFIG", recon.checks_uri.as_str()),
        ("RESULTS_S3_URI", recon.results_uri.as_str()),
        ("ATHENA_WORKGROUP", "etl"),
        ("MAX_CONCURRENT_QUERIES", "10"),
    ];
    env.extend(notifier_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let functions = Functions::start(&emu, &env);
    println!("invoke endpoint 127.0.0.1:{}", functions.invoke_port);

    let runs: Vec<(String, PathBuf)> = match (&only, &event) {
        (Some(f), Some(e)) => vec![(f.clone(), e.clone())],
        (Some(f), None) if f == "alert-notifier" => {
            vec![(f.clone(), event_file("sqs-alert-notifier.json"))]
        }
        (Some(f), None) if f == "query-cost-feed" => {
            vec![(f.clone(), event_file("sqs-query-events.json"))]
        }
        (Some(f), None) => vec![(f.clone(), event_file(&format!("schedule-{f}.json")))],
        _ => vec![
            (
                "query-cost-feed".into(),
                event_file("sqs-query-events.json"),
            ),
            (
                "query-cost-watcher".into(),
                event_file("schedule-query-cost-watcher.json"),
            ),
            (
                "long-query-killer".into(),
                event_file("schedule-long-query-killer.json"),
            ),
            (
                "row-count-reconciler".into(),
                event_file("schedule-row-count-reconciler.json"),
            ),
            (
                "log-subscription-transformer".into(),
                event_file("cloudwatch-logs-subscription.json"),
            ),
            (
                "log-subscription-transformer".into(),
                event_file("firehose-cloudwatch-logs.json"),
            ),
        ],
    };
    let mut done = Vec::new();
    for (function, file) in runs {
        let run = invoke(&functions, &function, &file, anchor);
        match (&run.answer, only.is_some()) {
            // `make invoke`: the whole answer is what was asked for.
            (Ok(answer), true) => show(answer),
            (Ok(_), false) => println!("answered (summary below)"),
            (Err(e), _) => println!("ERROR: {}", e.trim()),
        }
        done.push(run);
    }
    if only.is_none() {
        rule("alert-notifier: the alert topic's queue, batch by batch, as Lambda's event source mapping would");
        let batches = notifier_queue
            .run_mapping(&functions, "alert-notifier")
            .await;
        println!("{batches} batches");
    }
    let report = Report {
        setup,
        runs: done,
        alerts: lake.tap.drain().await,
        posts: receiver.received(),
        channels: EXAMPLE_CHANNELS
            .map(|(n, p)| (n.to_string(), p.to_string()))
            .to_vec(),
    };
    rule("stopping the emulator and the functions");
    drop(functions);
    drop(emu);
    println!("nothing left running.");
    let dir = repo_root().join("target/demo");
    report.print(&dir);
    if let Err(e) = report.write(&dir, &repo_root()) {
        eprintln!("could not write the report in {}: {e}", dir.display());
        std::process::exit(1);
    }
}

/// One invocation, as `cargo lambda invoke --data-file` would make it. The sample schedule
/// events are stamped 2026-11-23T09:00Z; the demo's lake is seeded around the current sweep
/// window's end, so scheduled runs are stamped with that time.
fn invoke(functions: &Functions, function: &str, file: &Path, anchor: DateTime<Utc>) -> Run {
    let shown = file
        .strip_prefix(repo_root())
        .unwrap_or(file)
        .display()
        .to_string();
    rule(&format!(
        "cargo lambda invoke {function} --data-file {shown}"
    ));
    let name = file
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .to_string();
    let read = std::fs::read_to_string(file)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str::<Value>(&text).map_err(|e| e.to_string()));
    let mut payload = match read {
        Ok(payload) => payload,
        Err(e) => {
            return Run {
                function: function.to_string(),
                answer: Err(format!("{shown}: {e}")),
                event: shown,
                payload: Value::Null,
            }
        }
    };
    if name.starts_with("schedule-") {
        payload["time"] =
            serde_json::json!(anchor.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        println!(
            "(event time set to the current window's end: {})",
            payload["time"]
        );
    }
    let answer = functions.invoke(function, &payload);
    Run {
        function: function.to_string(),
        event: shown,
        payload,
        answer,
    }
}
