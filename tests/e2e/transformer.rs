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
    assert_eq!(lines[1]["fields"]["customer_email"], "[REDACTED:email]");
    assert_eq!(lines[4]["report"]["init_duration_ms"], 412.77);
    let alerts = tap.drain().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].kind(), "LogErrors");
    assert_eq!(
        alerts[0].attributes["log_group"],
        "/aws/lambda/orders-ingest"
    );
    assert!(
        alerts[0].body["details"]["errors"] == 1,
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
    let results: Vec<&str> = answer["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["result"].as_str().unwrap())
        .collect();
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
}
