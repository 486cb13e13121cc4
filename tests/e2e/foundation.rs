//! The foundation: emulator extension through the Rust SDK, alert delivery, start-up config
//! errors, and every function answering an invoke under `cargo lambda watch`.

use std::process::Command;

use chrono::{Duration, Utc};
use lakeops::alert::{Alert, AlertSink, Delivery, Severity, SnsAlertPublisher};
use lakeops::athena::QueryHistory;
use lakeops::athena::{AthenaHistory, QueryState, StatementType};
use lakeops_e2e::{event_file, repo_root, AlertTap, Emulator, Functions};
use serde_json::json;

#[tokio::test]
async fn emulator_extension_serves_seeded_queries_through_the_sdk() {
    let emu = Emulator::start();
    let config = emu.sdk_config().await;
    let now = Utc::now();
    emu.seed_queries(vec![
        json!({"QueryExecutionId": "q-running", "WorkGroup": "primary", "State": "RUNNING",
               "Query": "SELECT * FROM big", "SubmissionDateTime": (now - Duration::minutes(70)).timestamp(),
               "DataScannedInBytes": 3_000_000_000u64, "Database": "sales"}),
        json!({"QueryExecutionId": "q-done", "WorkGroup": "primary", "State": "SUCCEEDED",
               "Query": "SELECT 1", "SubmissionDateTime": (now - Duration::minutes(20)).timestamp(),
               "CompletionDateTime": (now - Duration::minutes(19)).timestamp(),
               "DataScannedInBytes": 1_099_511_627_776u64, "EngineExecutionTimeInMillis": 60000}),
        json!({"QueryExecutionId": "q-ddl", "WorkGroup": "primary", "State": "FAILED",
               "Query": "MSCK REPAIR TABLE sales.orders", "StateChangeReason": "boom",
               "SubmissionDateTime": (now - Duration::minutes(5)).timestamp()}),
    ]);
    let history = AthenaHistory::new(aws_sdk_athena::Client::new(&config), 5.0);
    let (ids, next) = history.list_query_page("primary", None).await.unwrap();
    assert_eq!((ids.len(), next), (3, None));
    let (found, calls) = history.batch_get(&ids).await.unwrap();
    assert_eq!((calls, found.unprocessed.len()), (1, 0));
    let by_id = |id: &str| {
        found
            .executions
            .iter()
            .find(|q| q.id == id)
            .unwrap()
            .clone()
    };
    let done = by_id("q-done");
    assert_eq!(done.state, QueryState::Succeeded);
    assert_eq!(done.data_scanned_bytes, Some(1 << 40));
    assert_eq!(done.engine_ms, Some(60000));
    assert_eq!(
        done.completed_at.unwrap().timestamp(),
        (now - Duration::minutes(19)).timestamp()
    );
    let ddl = by_id("q-ddl");
    assert_eq!(
        (ddl.statement_type, ddl.state),
        (StatementType::Ddl, QueryState::Failed)
    );
    assert_eq!(ddl.state_change_reason.as_deref(), Some("boom"));
    let running = by_id("q-running");
    assert_eq!(
        (running.state, running.database.as_deref()),
        (QueryState::Running, Some("sales"))
    );

    // A seeded RUNNING query stays RUNNING until stopped.
    history
        .client()
        .stop_query_execution()
        .query_execution_id("q-running")
        .send()
        .await
        .unwrap();
    let (after, _) = history
        .batch_get(&["q-running".into(), "q-missing".into()])
        .await
        .unwrap();
    assert_eq!(after.executions[0].state, QueryState::Cancelled);
    assert_eq!(
        after.unprocessed.len(),
        1,
        "unknown ids come back as unprocessed"
    );
    assert_eq!(emu.athena_call_counts()["StopQueryExecution"], 1);
}

#[tokio::test]
async fn an_alert_published_through_the_shared_publisher_arrives_in_the_sqs_tap() {
    let emu = Emulator::start();
    let config = emu.sdk_config().await;
    let tap = AlertTap::create(&config).await;
    let publisher =
        SnsAlertPublisher::new(aws_sdk_sns::Client::new(&config), &tap.topic_arn, false);
    let alert = Alert::new(
        "ExpensiveQuery",
        Severity::Critical,
        "query-cost-watcher",
        "ExpensiveQuery/q-1",
        Utc::now(),
        "Athena query cost $12.50 in workgroup etl",
        "A query scanned 2.27 TiB.",
    )
    .field("Cost", "$12.50")
    .attribute("workgroup", "etl")
    .detail("cost_usd", 12.5);
    assert!(matches!(
        publisher.publish(&alert).await.unwrap(),
        Delivery::Published { .. }
    ));

    let delivered = tap.drain().await;
    assert_eq!(delivered.len(), 1);
    let got = &delivered[0];
    assert_eq!(
        got.subject,
        "[lakeops] CRITICAL: Athena query cost $12.50 in workgroup etl"
    );
    assert_eq!(got.body["schema"], "lakeops.alert.v1");
    assert_eq!(got.body["id"], "ExpensiveQuery/q-1");
    assert_eq!(got.body["details"]["cost_usd"], 12.5);
    assert_eq!(got.attributes["kind"], "ExpensiveQuery");
    assert_eq!(got.attributes["severity"], "critical");
    assert_eq!(got.attributes["source"], "query-cost-watcher");
    assert_eq!(got.attributes["workgroup"], "etl");

    // Dry run publishes nothing.
    let dry = SnsAlertPublisher::new(aws_sdk_sns::Client::new(&config), &tap.topic_arn, true);
    assert_eq!(dry.publish(&alert).await.unwrap(), Delivery::Logged);
    assert!(tap.drain().await.is_empty());
}

#[test]
fn start_up_with_bad_configuration_names_every_bad_variable() {
    let binary = repo_root().join("target/debug/long-query-killer");
    assert!(binary.exists(), "build the functions first (make build)");
    let out = Command::new(binary)
        .env_clear()
        .env("DRY_RUN", "perhaps")
        .env("METRICS_NAMESPACE", "x".repeat(300))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    for variable in [
        "ALERT_TOPIC_ARN: required but not set",
        "DRY_RUN: \"perhaps\" is not a boolean",
        "METRICS_NAMESPACE",
        "LEDGER_TABLE: required but not set",
        "QUERY_INDEX_TABLE: required but not set",
    ] {
        assert!(
            stderr.contains(variable),
            "{variable} missing from: {stderr}"
        );
    }
    assert!(
        stderr.contains("invalid configuration (5 problems)"),
        "{stderr}"
    );
}

#[tokio::test]
async fn every_function_answers_an_invoke_under_cargo_lambda_watch() {
    let emu = Emulator::start();
    let config = emu.sdk_config().await;
    let tap = AlertTap::create(&config).await;
    lakeops_e2e::create_ledger_table(&config).await;
    lakeops_e2e::index::create_index_table(&config).await;
    let functions = Functions::start(
        &emu,
        &[
            ("ALERT_TOPIC_ARN", tap.topic_arn.as_str()),
            ("LEDGER_TABLE", lakeops_e2e::LEDGER_TABLE),
            // The CONTROL_MESSAGE sends nothing, but subscription mode needs a stream configured.
            ("FIREHOSE_STREAM", lakeops_e2e::lake::LOG_STREAM),
            // The shipped example, read from a path (its tables do not exist here: the checks
            // report errors, the invoke still answers).
            (
                "CHECKS_CONFIG",
                "functions/row-count-reconciler/checks.example.yaml",
            ),
        ],
    );
    for (function, file) in [
        ("query-cost-watcher", "schedule-query-cost-watcher.json"),
        ("long-query-killer", "schedule-long-query-killer.json"),
        ("row-count-reconciler", "schedule-row-count-reconciler.json"),
        (
            "log-subscription-transformer",
            "cloudwatch-logs-control-message.json",
        ),
    ] {
        let answer = functions.invoke_file(function, &event_file(file));
        assert!(answer.is_ok(), "{function} with {file}: {answer:?}");
    }
    // A wrong event is refused with the reason (the typed trigger's), not a crash.
    let err = functions
        .invoke("long-query-killer", &json!(["not", "an", "event"]))
        .unwrap_err();
    assert!(err.contains("expected a JSON object"), "{err}");
    for (function, event, reason) in [
        (
            "log-subscription-transformer",
            json!({"hello": 1}),
            "expected a CloudWatch Logs subscription event",
        ),
        (
            "row-count-reconciler",
            json!({"checks": 3}),
            "must be a list of check names",
        ),
    ] {
        let err = functions.invoke(function, &event).unwrap_err();
        assert!(err.contains(reason), "{function}: {err}");
    }
}
