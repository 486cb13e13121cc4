//! log-subscription-transformer end to end: the sample subscription payload through
//! `cargo lambda invoke` lands in S3 through the emulator's Firehose as documented JSON lines,
//! the error alert arrives, and the Firehose-mode invoke answers every recordId.

use base64::Engine;
use lakeops_e2e::lake::{create_log_delivery, LOG_BUCKET, LOG_STREAM};
use lakeops_e2e::{
    create_ledger_table, event_file, s3_text, AlertTap, Emulator, Functions, LEDGER_TABLE,
};
use serde_json::Value;

async fn delivered_lines(config: &aws_config::SdkConfig) -> Vec<Value> {
    let s3 = aws_sdk_s3::Client::new(config);
    let listing = s3
        .list_objects_v2()
        .bucket(LOG_BUCKET)
        .prefix("logs/")
        .send()
        .await
        .unwrap();
    let mut lines = Vec::new();
    for object in listing.contents() {
        let body = s3_text(config, LOG_BUCKET, object.key().unwrap()).await;
        for line in body.lines() {
            lines.push(serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")));
        }
    }
    lines
}

/// A Firehose-mode answer's `result` per record, in order.
fn firehose_results(answer: &Value) -> Vec<&str> {
    answer["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["result"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn subscription_to_s3_with_an_alert_and_firehose_mode_answers_every_record() {
    let emu = Emulator::start();
    let config = emu.sdk_config().await;
    let tap = AlertTap::create(&config).await;
    create_ledger_table(&config).await;
    create_log_delivery(&config).await;
    let functions = Functions::start(
        &emu,
        &[
            ("ALERT_TOPIC_ARN", tap.topic_arn.as_str()),
            ("LEDGER_TABLE", LEDGER_TABLE),
            ("FIREHOSE_STREAM", LOG_STREAM),
        ],
    );

    let out = functions
        .invoke_file(
            "log-subscription-transformer",
            &event_file("cloudwatch-logs-subscription.json"),
        )
        .unwrap();
    assert_eq!(
        (out["events_in"].as_u64(), out["records_out"].as_u64()),
        (Some(5), Some(5)),
        "{out}"
    );
    let lines = delivered_lines(&config).await;
    assert_eq!(lines.len(), 5);
    for l in &lines {
        for field in [
            "timestamp",
            "event_id",
            "account",
            "region",
            "log_group",
            "log_stream",
            "source_type",
            "type",
            "message",
        ] {
            assert!(l.get(field).is_some(), "{field} missing in {l}");
        }
        assert_eq!(
            l["request_id"], "3f6a1c2e-9b7d-4e1a-8c5f-0d2b4a6e8c1f",
            "{l}"
        );
    }
    // The Parquet layout (default): application fields as one JSON-text column.
    let fields: Value = serde_json::from_str(lines[1]["fields"].as_str().unwrap()).unwrap();
    assert_eq!(fields["customer_email"], "[REDACTED:email]");
    assert_eq!(lines[4]["report"]["init_duration_ms"], 412.77);
    let alerts = tap.drain().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].kind(), "LogErrors");
    assert_eq!(
        alerts[0].attributes["log_group"],
        "/aws/lambda/orders-ingest"
    );
    // Node.js's `Invoke Error` is an unhandled error: the invocation failed.
    assert!(
        alerts[0].body["details"]["unhandled"] == 1 && alerts[0].body["severity"] == "critical",
        "{:?}",
        alerts[0].body
    );

    // Firehose mode: Ok / Dropped (CONTROL_MESSAGE) / Ok, every recordId answered.
    let answer = functions
        .invoke_file(
            "log-subscription-transformer",
            &event_file("firehose-cloudwatch-logs.json"),
        )
        .unwrap();
    let results = firehose_results(&answer);
    assert_eq!(results, ["Ok", "Dropped", "Ok"]);
    let glue = base64::engine::general_purpose::STANDARD
        .decode(answer["records"][2]["data"].as_str().unwrap())
        .unwrap();
    let glue: Value = serde_json::from_slice(
        String::from_utf8(glue)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(
        (glue["source_type"].as_str(), glue["level"].as_str()),
        (Some("glue"), Some("ERROR"))
    );
    // The Glue error alerts; orders-ingest's errors again within the interval do not.
    let alerts = tap.drain().await;
    let groups: Vec<&str> = alerts
        .iter()
        .map(|a| a.attributes["log_group"].as_str())
        .collect();
    assert_eq!(groups, ["/aws-glue/jobs/error"]);

    // Undecodable input is a clear error, not a crash.
    let err = functions
        .invoke(
            "log-subscription-transformer",
            &serde_json::json!({"awslogs": {"data": "bm90IGd6aXA="}}),
        )
        .unwrap_err();
    assert!(
        err.contains("InvalidInput") && err.contains("not gzip"),
        "{err}"
    );

    // Failed invocations as current runtimes log them: each raises a critical LogErrors alert
    // naming what failed.
    for (event, group, count, error_type, first_line) in [
        (
            "cloudwatch-logs-out-of-memory.json",
            "/aws/lambda/payments-api",
            "crashes",
            "Runtime.OutOfMemory",
            "REPORT RequestId",
        ),
        (
            "cloudwatch-logs-python-unhandled.json",
            "/aws/lambda/report-builder",
            "unhandled",
            "ZeroDivisionError",
            "[ERROR] ZeroDivisionError: division by zero",
        ),
    ] {
        functions
            .invoke_file("log-subscription-transformer", &event_file(event))
            .unwrap();
        let alerts = tap.drain().await;
        assert_eq!(alerts.len(), 1, "{event}: {alerts:?}");
        let a = &alerts[0];
        assert_eq!(
            (a.kind(), a.attributes["log_group"].as_str()),
            ("LogErrors", group)
        );
        assert_eq!(a.body["severity"], "critical", "{:?}", a.body);
        assert_eq!(a.body["details"][count], 1, "{:?}", a.body);
        assert_eq!(a.body["details"]["error_types"][0], error_type);
        let quoted = a.body["fields"].to_string();
        assert!(quoted.contains(first_line), "{quoted}");
    }

    // SNS down during a Firehose-mode invocation: every record is still answered Ok / Dropped
    // (failing the invocation would make Firehose re-send, and store, the whole batch again).
    let sns = aws_sdk_sns::Client::new(&config);
    sns.delete_topic()
        .topic_arn(&tap.topic_arn)
        .send()
        .await
        .unwrap();
    let answer = functions
        .invoke_file(
            "log-subscription-transformer",
            &event_file("firehose-cloudwatch-logs-failures.json"),
        )
        .unwrap();
    let results = firehose_results(&answer);
    assert_eq!(results, ["Ok", "Dropped", "Ok"], "{answer}");
}
