//! `make demo`: starts the local AWS emulator, seeds a small data lake, runs each of the four
//! Athena/log functions under `cargo lambda watch` with the files in `events/`, then lets the
//! alert-notifier deliver every alert they raised to a local chat receiver (standing in for
//! Teams, Google Chat and Slack), prints what happened, and stops everything it started.
//!
//! `make invoke FN=<function> EVENT=<file>` runs just one function with one event the same way.

use std::path::PathBuf;

use chrono::Utc;
use lakeops_e2e::notify::{set_up_example_notifier, WebhookReceiver, EXAMPLE_CHANNELS};
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
    // The lake's clock: the end of the current 5-minute sweep window, so the cost watcher's
    // scheduled run (stamped with this time) covers the queries that just completed.
    let anchor = lakeops_e2e::floor_to_minutes(Utc::now(), 5);
    let lake = lake::seed(&emu, &config, anchor).await;
    println!(
        "seeded: workgroups {:?}, {} Athena queries, Glue database `sales`, Firehose stream `{}` -> s3://{}, alert topic {} with an SQS tap",
        lake::WORKGROUPS,
        lake.queries,
        lake::LOG_STREAM,
        lake::LOG_BUCKET,
        lake.tap.topic_arn
    );

    // Yesterday in the reconciler's timezone (Asia/Seoul, the default): the day its checks count.
    let yesterday =
        (anchor.with_timezone(&chrono_tz::Asia::Seoul).date_naive()) - chrono::Duration::days(1);
    let recon = lake::seed_reconciliation(&emu, &config, yesterday, 2.0).await;
    println!(
        "reconciliation: database `lake` (5 pipelines, partitions for {yesterday}), checks file {}",
        recon.checks_uri
    );

    // Chat: the example routes, four channels on a local receiver.
    let receiver = WebhookReceiver::start();
    let (notifier_queue, notifier_env) =
        set_up_example_notifier(&config, &lake.tap.topic_arn, &receiver).await;
    println!(
        "chat: channels {:?} on a local webhook receiver (127.0.0.1:{}), routes functions/alert-notifier/routes.example.yaml",
        EXAMPLE_CHANNELS.map(|(n, p)| format!("{n} ({p})")),
        receiver.port
    );

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
    for (function, file) in runs {
        rule(&format!(
            "cargo lambda invoke {function} --data-file {}",
            file.strip_prefix(repo_root()).unwrap_or(&file).display()
        ));
        // The sample schedule events are stamped 2026-11-23T09:00Z; the demo's lake is seeded around
        // the current sweep window's end, so scheduled runs are stamped with that time.
        let is_schedule = file
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("schedule-"));
        let result = if is_schedule {
            let mut event =
                lakeops_e2e::event(&file.file_name().unwrap_or_default().to_string_lossy());
            event["time"] =
                serde_json::json!(anchor.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            println!(
                "(event time set to the current window's end: {})",
                event["time"]
            );
            functions.invoke(&function, &event)
        } else {
            functions.invoke_file(&function, &file)
        };
        match result {
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
    if only.is_none() {
        rule("alert-notifier: the alert topic's queue, batch by batch, as Lambda's event source mapping would");
        let batches = notifier_queue
            .run_mapping(&functions, "alert-notifier")
            .await;
        println!("{batches} batches");
    }
    rule("posts received by the local chat receiver");
    let posts = receiver.received();
    if posts.is_empty() {
        println!("(none)");
    }
    for p in posts {
        let format = if p.body["attachments"].is_array() {
            "Adaptive Card"
        } else if p.body["cardsV2"].is_array() {
            "Google Chat cardsV2"
        } else {
            "Slack Block Kit"
        };
        println!(
            "- {} <- {format}: {} (HTTP {})",
            p.path,
            p.alert_id().unwrap_or_default(),
            p.status
        );
    }

    rule("stopping the emulator and the functions");
    drop(functions);
    drop(emu);
    println!("done: nothing left running.");
}
