//! `make demo`: starts the local AWS emulator, seeds a small data lake, runs each of the four
//! functions under `cargo lambda watch` with the files in `events/`, prints what happened, and
//! stops everything it started.
//!
//! `make invoke FN=<function> EVENT=<file>` runs just one function with one event the same way.

use std::path::PathBuf;

use chrono::Utc;
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
    let emu = Emulator::start();
    println!("emulator on {}", emu.endpoint());
    let config = emu.sdk_config().await;
    let lake = lake::seed(&emu, &config, Utc::now()).await;
    println!(
        "seeded: workgroups {:?}, {} Athena queries, Glue database `sales`, Firehose stream `{}` -> s3://{}, alert topic {} with an SQS tap",
        lake::WORKGROUPS,
        lake.queries,
        lake::LOG_STREAM,
        lake::LOG_BUCKET,
        lake.tap.topic_arn
    );

    rule("starting the functions under cargo lambda watch");
    let functions = Functions::start(
        &emu,
        &[
            ("ALERT_TOPIC_ARN", lake.tap.topic_arn.as_str()),
            ("FIREHOSE_STREAM", lake::LOG_STREAM),
            ("LEDGER_TABLE", lakeops_e2e::LEDGER_TABLE),
            ("KILLER_MODE", "enforce"),
        ],
    );
    println!("invoke endpoint 127.0.0.1:{}", functions.invoke_port);

    let runs: Vec<(String, PathBuf)> = match (&only, &event) {
        (Some(f), Some(e)) => vec![(f.clone(), e.clone())],
        (Some(f), None) => vec![(f.clone(), event_file(&format!("schedule-{f}.json")))],
        _ => vec![
            (
                "query-cost-watcher".into(),
                event_file("schedule-query-cost-watcher.json"),
            ),
            (
                "query-cost-watcher".into(),
                event_file("athena-query-state-change.json"),
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
    for (function, file) in runs {
        rule(&format!(
            "cargo lambda invoke {function} --data-file {}",
            file.strip_prefix(repo_root()).unwrap_or(&file).display()
        ));
        match functions.invoke_file(&function, &file) {
            Ok(answer) => show(&answer),
            Err(e) => println!("ERROR: {}", e.trim()),
        }
    }

    rule("alerts received by the SQS tap of the alert topic");
    let alerts = lake.tap.drain().await;
    if alerts.is_empty() {
        println!("(none)");
    }
    for a in alerts {
        println!("- {}", a.subject);
        println!("  attributes: {:?}", a.attributes);
        if let Some(summary) = a.body["summary"].as_str() {
            println!("  {summary}");
        }
    }
    rule("stopping the emulator and the functions");
    drop(functions);
    drop(emu);
    println!("done: nothing left running.");
}
