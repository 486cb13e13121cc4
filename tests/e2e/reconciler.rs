//! row-count-reconciler end to end: five checks over a Glue catalog with partitions, run in one
//! invoke through `cargo lambda invoke`; exactly the three failing checks alert; the count
//! queries ran in parallel.

use lakeops_e2e::lake::{seed_reconciliation, RESULTS_BUCKET};
use lakeops_e2e::{athena_watch_setup, event_file, s3_text, Emulator, Functions, LEDGER_TABLE};

#[tokio::test]
async fn five_checks_three_alerts_in_parallel() {
    let emu = Emulator::start();
    let (config, tap) = athena_watch_setup(&emu, &["reconciler"]).await;
    // events/schedule-row-count-reconciler.json: 2026-11-23T09:00Z = 18:00 on 23 Nov in Seoul.
    let yesterday = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    let lake = seed_reconciliation(&emu, &config, yesterday, 3.0).await;
    let functions = Functions::start(
        &emu,
        &[
            ("ALERT_TOPIC_ARN", tap.topic_arn.as_str()),
            ("LEDGER_TABLE", LEDGER_TABLE),
            ("CHECKS_CONFIG", lake.checks_uri.as_str()),
            ("RESULTS_S3_URI", lake.results_uri.as_str()),
            ("ATHENA_WORKGROUP", "reconciler"),
            ("MAX_CONCURRENT_QUERIES", "10"),
        ],
    );
    let event = event_file("schedule-row-count-reconciler.json");
    let run = functions
        .invoke_file("row-count-reconciler", &event)
        .unwrap();
    assert_eq!(run["run_date"], "2026-11-23", "{run}");
    assert_eq!(run["checks"], 5);
    assert_eq!(run["queries"], 10);

    let status = |name: &str| {
        run["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["check"] == name)
            .unwrap_or_else(|| panic!("no result for {name}: {run}"))
            .clone()
    };
    let orders = status("orders_daily");
    assert_eq!(orders["status"], "ok", "{orders}");
    assert_eq!(orders["target"]["method"], "iceberg_metadata");
    assert_eq!(orders["target"]["partition_present"], true);
    assert_eq!(orders["source"]["partition_present"], true);
    assert_eq!(status("payments_daily")["status"], "ok");
    assert_eq!(status("payments_daily")["comparison"]["diff"], -2);
    let events = status("events_daily");
    assert_eq!(events["status"], "mismatch");
    assert_eq!(events["comparison"]["diff_pct"], 18.0);
    let customers = status("customers_snapshot");
    assert_eq!(customers["status"], "stale");
    assert_eq!(customers["target"]["age_seconds"], 66 * 3600);
    let refunds = status("refunds_daily");
    assert_eq!(refunds["status"], "error");
    assert!(
        refunds["problems"][0]
            .as_str()
            .unwrap()
            .contains("HIVE_BAD_DATA"),
        "{refunds}"
    );

    // Exactly three alerts, one per failing check.
    let mut alerts: Vec<(String, String)> = tap
        .drain()
        .await
        .iter()
        .map(|a| (a.kind().to_string(), a.attributes["check"].clone()))
        .collect();
    alerts.sort();
    let expected = [
        ("CheckError", "refunds_daily"),
        ("RowCountMismatch", "events_daily"),
        ("StaleData", "customers_snapshot"),
    ]
    .map(|(k, c)| (k.to_string(), c.to_string()));
    assert_eq!(alerts, expected);

    // In parallel: ten queries of 3 s each took well under their 30 s sum.
    let wall = run["query_wall_ms"].as_u64().unwrap();
    let sum = run["query_engine_ms_sum"].as_i64().unwrap() as u64;
    assert!(sum >= 9 * 3000, "engine time sum {sum} ms");
    assert!(
        wall * 3 < sum,
        "wall {wall} ms vs sum {sum} ms: not parallel"
    );
    println!("reconciler: 10 count queries of 3 s: wall {wall} ms, sum of engine times {sum} ms");

    // Results as JSON lines in S3.
    let object = run["results_object"].as_str().unwrap();
    let key = object
        .strip_prefix(&format!("s3://{RESULTS_BUCKET}/"))
        .unwrap();
    let lines: Vec<serde_json::Value> = s3_text(&config, RESULTS_BUCKET, key)
        .await
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);

    // The same event again (a Lambda retry) alerts nothing new.
    let again = functions
        .invoke_file("row-count-reconciler", &event)
        .unwrap();
    assert_eq!(again["alerted"], serde_json::json!([]), "{again}");
    assert!(tap.drain().await.is_empty());
}
