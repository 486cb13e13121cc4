//! row-count-reconciler end to end: five checks over a Glue catalog with partitions, run in one
//! invoke through `cargo lambda invoke`; exactly the three failing checks alert; the count
//! queries ran in parallel.

use lakeops_e2e::lake::{
    create_partition, put_iceberg_metadata, seed_reconciliation, RESULTS_BUCKET,
};
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

/// No silent pass: a freshness Glue cannot measure (a projected table lists no partitions), a
/// `target_le_source` target emptied to 0 against a million, and an empty day on both sides with
/// `min_rows` each fail with their own alert; a `sql` side runs as one CAST number and passes;
/// DATE and INT partition keys get typed literals (`DATE '2026-11-22'`, `20261122`) in the count
/// and in Glue's partition lookup, and pass; a projected table's partition exists when S3 has
/// files under its location (Hive layout or `storage.location.template`), not when Glue lists it;
/// an Iceberg table whose current snapshot summary counts deletes (after a MERGE) is counted with
/// `count(*)`, not from `$files` (which shows no delete file), and says why; a day whose counts
/// match but whose target is far below its history of successful runs (the failed runs in the
/// results files left out) raises `VolumeAnomaly` with the history; a day window on an Iceberg
/// table partitioned by `day(ts)` is counted from `$files` of that day's partition, and on one
/// partitioned by `month(ts)` with `count(*)` over the day's range, saying why; a federated
/// source (`mysql_prod.shop.orders`, a catalog Glue does not hold) is counted through Athena with
/// no Glue lookup.
#[tokio::test]
async fn unmeasurable_freshness_an_emptied_target_and_an_empty_day_fail() {
    use aws_sdk_glue::types::{Column, DatabaseInput, StorageDescriptor, TableInput};
    use lakeops_e2e::lake::CHECKS_BUCKET;
    let emu = Emulator::start();
    let (config, tap) = athena_watch_setup(&emu, &["reconciler"]).await;
    let glue = aws_sdk_glue::Client::new(&config);
    glue.create_database()
        .database_input(DatabaseInput::builder().name("quiet").build().unwrap())
        .send()
        .await
        .unwrap();
    let key = |name: &str, t: &str| Column::builder().name(name).r#type(t).build().unwrap();
    for name in [
        "src",
        "projected",
        "emptied",
        "empty_a",
        "empty_b",
        "copy",
        "dated",
        "numbered",
        "proj_in",
        "proj_out",
        "merged_src",
        "merged",
        "vol_src",
        "vol_tgt",
        "events_src",
        "events_daily",
        "events_monthly",
        "reg_src",
        "reg_tgt",
        "loads",
    ] {
        let mut table = TableInput::builder().name(name);
        match name {
            // Partition projection: Athena works the partitions out; Glue lists none.
            "projected" => {
                table = table
                    .partition_keys(key("dt", "string"))
                    .parameters("projection.enabled", "true")
                    .parameters("projection.dt.type", "date")
            }
            "dated" => table = table.partition_keys(key("dt", "date")),
            "merged" => table = table.parameters("table_type", "ICEBERG"),
            "loads" => {
                table = table.storage_descriptor(
                    StorageDescriptor::builder()
                        .columns(key("loaded_at", "timestamp"))
                        .build(),
                )
            }
            "events_src" => {
                table = table.storage_descriptor(
                    StorageDescriptor::builder()
                        .columns(key("ts", "timestamp"))
                        .build(),
                )
            }
            "events_daily" | "events_monthly" => {
                table = table
                    .parameters("table_type", "ICEBERG")
                    .parameters(
                        "metadata_location",
                        format!("s3://lake-data/{name}/metadata/00001.metadata.json"),
                    )
                    .storage_descriptor(
                        StorageDescriptor::builder()
                            .columns(key("ts", "timestamp"))
                            .build(),
                    )
            }
            // Files under the table location, Hive-style: s3://lake-data/in/dt=2026-11-22/.
            "proj_in" => {
                table = table
                    .partition_keys(key("dt", "string"))
                    .parameters("projection.enabled", "true")
                    .storage_descriptor(
                        StorageDescriptor::builder()
                            .location("s3://lake-data/in/")
                            .build(),
                    )
            }
            // A location template, and no files for the day.
            "proj_out" => {
                table = table
                    .partition_keys(key("dt", "string"))
                    .parameters("projection.enabled", "true")
                    .parameters("storage.location.template", "s3://lake-data/out/${dt}/")
            }
            "numbered" => table = table.partition_keys(key("day", "int")),
            _ => {}
        }
        glue.create_table()
            .database_name("quiet")
            .table_input(table.build().unwrap())
            .send()
            .await
            .unwrap();
    }
    for (table, value) in [
        ("dated", "2026-11-22"),
        ("dated", "2026-11-21"),
        ("dated", "2026-11-20"),
        ("numbered", "20261122"),
        ("numbered", "20261121"),
        ("numbered", "20261120"),
    ] {
        create_partition(
            &glue,
            "quiet",
            table,
            value,
            &format!("s3://lake/{table}/{value}/"),
        )
        .await;
    }
    let count = |contains: &str, n: u64| serde_json::json!({"SqlContains": contains, "Rows": [[n.to_string()]], "DataScannedInBytes": 1u64 << 20});
    emu.seed_results(vec![
        // The sql side is answered only in its CAST form: the rule proves the wrapper.
        count(
            "select cast((select count(*) from quiet.src) as bigint)",
            1_000_000,
        ),
        count("\"quiet\".\"src\"", 1_000_000),
        count("\"quiet\".\"projected\"", 1_000_000),
        count("\"quiet\".\"emptied\"", 0),
        count("\"quiet\".\"empty_a\"", 0),
        count("\"quiet\".\"empty_b\"", 0),
        count("\"quiet\".\"copy\"", 1_000_000),
        // Answered only with the typed literals.
        // One grouped query per side for the run date and its two look-back days, answered
        // only in that form (the numbered side has no row for its third day: 0, a mismatch).
        serde_json::json!({"SqlContains": "from \"awsdatacatalog\".\"quiet\".\"dated\" where (\"dt\" = date '2026-11-22') or (\"dt\" = date '2026-11-21') or (\"dt\" = date '2026-11-20') group by 1",
            "Columns": ["lookback_day", "_col1"], "Rows": [["0", "500"], ["1", "480"], ["2", "470"]]}),
        serde_json::json!({"SqlContains": "from \"awsdatacatalog\".\"quiet\".\"numbered\" where (\"day\" = 20261122) or (\"day\" = 20261121) or (\"day\" = 20261120) group by 1",
            "Columns": ["lookback_day", "_col1"], "Rows": [["1", "480"], ["0", "500"]]}),
        count("\"quiet\".\"proj_in\"", 10),
        // $files: 500 rows in data files and no delete file; the snapshot: 1 delete file with
        // 20 position deletes. The real count is 480.
        serde_json::json!({"SqlContains": "\"quiet\".\"merged$files\"",
            "Columns": ["delete_files", "data_rows", "files", "total-delete-files", "total-position-deletes", "total-equality-deletes"],
            "Rows": [["0", "500", "2", "1", "20", "0"]]}),
        count("\"quiet\".\"merged\"", 480),
        count("\"quiet\".\"merged_src\"", 480),
        count("\"quiet\".\"vol_src\"", 300),
        // Column freshness reads only since a day beyond the allowed age (run 2026-11-23 09:00
        // UTC, 24 h allowed): nothing there (NULL) — at least that old.
        serde_json::json!({"SqlContains": "select max(\"loaded_at\") from \"awsdatacatalog\".\"quiet\".\"loads\" where \"loaded_at\" >= timestamp '2026-11-21 09:00:00'",
            "Rows": [[null]]}),
        count("\"quiet\".\"loads\"", 300),
        // Segments by region: us is short on the target. 1,000 small regions come first, so the
        // answer spans two of Athena's 1,000-row pages and us is on the second.
        serde_json::json!({"SqlContains": "select \"region\", count(*) from \"awsdatacatalog\".\"quiet\".\"reg_src\" group by 1",
            "Columns": ["region", "_col1"], "Rows": regions(&[["eu", "500"], ["us", "500"], ["ap", "40"]])}),
        serde_json::json!({"SqlContains": "select \"region\", count(*) from \"awsdatacatalog\".\"quiet\".\"reg_tgt\" group by 1",
            "Columns": ["region", "_col1"], "Rows": regions(&[["eu", "500"], ["us", "350"], ["ap", "40"]])}),
        count("\"mysql_prod\".\"shop\".\"orders\" where (created_at >= timestamp '2026-11-21 15:00:00' and created_at < timestamp '2026-11-22 15:00:00')", 1_000_000),
        // The day partition's files only; the day's range for the others.
        serde_json::json!({"SqlContains": "\"quiet\".\"events_daily$files\" where \"partition\".\"ts_day\" = date '2026-11-22'",
            "Columns": ["delete_files", "data_rows", "files", "total-delete-files", "total-position-deletes", "total-equality-deletes"],
            "Rows": [["0", "700", "3", "0", "0", "0"]]}),
        count("\"quiet\".\"events_src\" where \"ts\" >= timestamp '2026-11-22 00:00:00' and \"ts\" < timestamp '2026-11-23 00:00:00'", 700),
        count("\"quiet\".\"events_monthly\" where \"ts\" >= timestamp '2026-11-22 00:00:00' and \"ts\" < timestamp '2026-11-23 00:00:00'", 700),
        count("\"quiet\".\"vol_tgt\"", 300),
        count("\"quiet\".\"proj_out\"", 10),
    ]);
    let checks = r#"checks:
  - name: unmeasurable_freshness
    source: {table: quiet.src}
    target:
      table: quiet.projected
      freshness: {max_age_hours: 24, measure: newest_partition}
  - name: emptied_target
    source: {table: quiet.src}
    target: {table: quiet.emptied}
    tolerance: {direction: target_le_source}
  - name: empty_day
    min_rows: 1
    source: {table: quiet.empty_a}
    target: {table: quiet.empty_b}
  - name: sql_is_one_number
    source: {sql: "SELECT count(*) FROM quiet.src"}
    target: {table: quiet.copy}
  - name: typed_partitions
    source: {table: quiet.dated, partition: {dt: "{{ yesterday }}"}}
    target: {table: quiet.numbered, partition: {day: "{{ yesterday_compact }}"}}
    lookback_days: 2
  - name: after_merge
    source: {table: quiet.merged_src}
    target: {table: quiet.merged}
  - name: iceberg_day
    source: {table: quiet.events_src, window: {column: ts, day: "{{ yesterday }}"}}
    target: {table: quiet.events_daily, window: {column: ts, day: "{{ yesterday }}"}}
  - name: iceberg_month
    source: {table: quiet.events_src, window: {column: ts, day: "{{ yesterday }}"}}
    target: {table: quiet.events_monthly, window: {column: ts, day: "{{ yesterday }}"}}
  - name: federated_orders
    source:
      table: mysql_prod.shop.orders
      filter: "created_at >= timestamp '{{ yesterday_start }}' AND created_at < timestamp '{{ today_start }}'"
    target: {table: quiet.copy}
  - name: by_region
    source: {table: quiet.reg_src}
    target: {table: quiet.reg_tgt}
    group_by: [region]
    volume_anomaly: {enabled: false}
  - name: stale_loads
    source: {table: quiet.vol_src}
    target:
      table: quiet.loads
      freshness: {max_age_hours: 24, measure: "column:loaded_at"}
    volume_anomaly: {enabled: false}
  - name: volume_drop
    source: {table: quiet.vol_src}
    target: {table: quiet.vol_tgt}
  - name: projected_day
    source: {table: quiet.proj_in, partition: {dt: "{{ yesterday }}"}}
    target: {table: quiet.proj_out, partition: {dt: "{{ yesterday }}"}}
"#;
    let s3 = aws_sdk_s3::Client::new(&config);
    s3.create_bucket()
        .bucket(CHECKS_BUCKET)
        .send()
        .await
        .unwrap();
    s3.create_bucket().bucket("lake-data").send().await.unwrap();
    s3.create_bucket()
        .bucket(RESULTS_BUCKET)
        .send()
        .await
        .unwrap();
    for (table, transform) in [("events_daily", "day"), ("events_monthly", "month")] {
        put_iceberg_metadata(
            &s3,
            &format!("s3://lake-data/{table}/metadata/00001.metadata.json"),
            &[("ts", "timestamptz", transform)],
        )
        .await;
    }
    // History in the results files of earlier runs: eight good days near 1,000 rows, then nine
    // failed runs at 300 (which must not count, or 300 would be the median).
    for day in 5..=21 {
        let (status, rows) = if day <= 12 {
            ("ok", 990 + (day * 7) % 25)
        } else {
            ("mismatch", 300)
        };
        let line = serde_json::json!({"check": "volume_drop", "run_date": format!("2026-11-{day:02}"),
            "lookback_day": 0, "status": status, "source": {"rows": rows}, "target": {"rows": rows}});
        s3.put_object()
            .bucket(RESULTS_BUCKET)
            .key(format!("quiet/run_date=2026-11-{day:02}/run-{day}.json"))
            .body(format!("{line}\n").into_bytes().into())
            .send()
            .await
            .unwrap();
    }
    for key in [
        "in/dt=2026-11-22/part-00000.parquet",
        "out/2026-11-21/part-00000.parquet",
    ] {
        s3.put_object()
            .bucket("lake-data")
            .key(key)
            .body(b"PAR1".to_vec().into())
            .send()
            .await
            .unwrap();
    }
    s3.put_object()
        .bucket(CHECKS_BUCKET)
        .key("quiet.yaml")
        .body(checks.as_bytes().to_vec().into())
        .send()
        .await
        .unwrap();
    let checks_uri = format!("s3://{CHECKS_BUCKET}/quiet.yaml");
    let results_uri = format!("s3://{RESULTS_BUCKET}/quiet");
    let functions = Functions::start(
        &emu,
        &[
            ("ALERT_TOPIC_ARN", tap.topic_arn.as_str()),
            ("LEDGER_TABLE", LEDGER_TABLE),
            ("CHECKS_CONFIG", checks_uri.as_str()),
            ("ATHENA_WORKGROUP", "reconciler"),
            ("RESULTS_S3_URI", results_uri.as_str()),
        ],
    );
    let run = functions
        .invoke_file(
            "row-count-reconciler",
            &event_file("schedule-row-count-reconciler.json"),
        )
        .unwrap();
    let result = |name: &str| {
        run["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["check"] == name)
            .unwrap_or_else(|| panic!("no result for {name}: {run}"))
            .clone()
    };
    let freshness = result("unmeasurable_freshness");
    assert_eq!(freshness["status"], "error", "{freshness}");
    assert!(
        freshness["problems"][0]
            .as_str()
            .unwrap()
            .contains("freshness cannot be measured: Glue lists no partitions"),
        "{freshness}"
    );
    let emptied = result("emptied_target");
    assert_eq!(emptied["status"], "mismatch", "{emptied}");
    assert!(
        emptied["problems"][0]
            .as_str()
            .unwrap()
            .contains("beyond the TargetLeSource bound of 50%"),
        "{emptied}"
    );
    let empty = result("empty_day");
    assert_eq!(empty["status"], "too_few_rows", "{empty}");
    assert_eq!(
        empty["comparison"]["within"], true,
        "0 vs 0 is still a match"
    );
    let sql = result("sql_is_one_number");
    assert_eq!(sql["status"], "ok", "{sql}");
    assert_eq!(sql["source"]["rows"], 1_000_000);
    let typed = result("typed_partitions");
    assert_eq!(typed["status"], "ok", "{typed}");
    assert_eq!(typed["source"]["window"], "\"dt\" = DATE '2026-11-22'");
    assert_eq!(typed["target"]["window"], "\"day\" = 20261122");
    assert_eq!(typed["source"]["partition_present"], true, "{typed}");
    assert_eq!(typed["target"]["partition_present"], true, "{typed}");
    // The look-back days came from the same two grouped queries.
    let days: Vec<(u64, u64, String)> = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["check"] == "typed_partitions")
        .map(|r| {
            (
                r["source"]["rows"].as_u64().unwrap(),
                r["target"]["rows"].as_u64().unwrap(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        days,
        [
            (500, 500, "ok".to_string()),
            (480, 480, "ok".to_string()),
            (470, 0, "mismatch".to_string())
        ]
    );
    let merged = result("after_merge");
    assert_eq!(merged["status"], "ok", "{merged}");
    assert_eq!(merged["target"]["method"], "count_star_iceberg_has_deletes");
    assert_eq!(
        merged["target"]["method_reason"],
        "snapshot summary: total-delete-files 1, total-position-deletes 20"
    );
    assert_eq!(merged["target"]["rows"], 480);
    let day = result("iceberg_day");
    assert_eq!(day["status"], "ok", "{day}");
    assert_eq!(day["target"]["method"], "iceberg_metadata", "{day}");
    assert_eq!(day["target"]["rows"], 700);
    let month = result("iceberg_month");
    assert_eq!(month["status"], "ok", "{month}");
    assert_eq!(month["target"]["method"], "count_star_iceberg", "{month}");
    assert_eq!(
        month["target"]["method_reason"],
        "ts is partitioned by month(ts), which does not map to one day"
    );
    let methods: Vec<String> = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            [
                r["source"]["method"].to_string(),
                r["target"]["method"].to_string(),
            ]
        })
        .collect();
    println!(
        "reconciler e2e checks file: {} checks, {} queries, {} bytes scanned (as the emulator declares them), methods {methods:?}",
        run["checks"], run["queries"], run["scanned_bytes"]
    );
    let regions = result("by_region");
    assert_eq!(regions["status"], "mismatch", "{regions}");
    assert_eq!(regions["segments"].as_array().unwrap().len(), 1003);
    assert_eq!(regions["source"]["rows"], 2040);
    assert!(
        regions["problems"][0].as_str().unwrap().contains(
            "1 of 1003 segments by region differ beyond tolerance: us (source 500, target 350)"
        ),
        "{regions}"
    );
    let stale = result("stale_loads");
    assert_eq!(stale["status"], "stale", "{stale}");
    assert_eq!(stale["target"]["fresh_at_most"], true, "{stale}");
    assert!(
        stale["problems"][0].as_str().unwrap().contains(
            "target: nothing newer than 48.0 h ago (as far back as it looks), more than 24 h"
        ),
        "{stale}"
    );
    let federated = result("federated_orders");
    assert_eq!(federated["status"], "ok", "{federated}");
    assert_eq!(federated["source"]["counted"], "mysql_prod.shop.orders");
    assert_eq!(federated["source"]["rows"], 1_000_000);
    let volume = result("volume_drop");
    assert_eq!(volume["status"], "volume_anomaly", "{volume}");
    assert_eq!(volume["comparison"]["within"], true, "the counts agree");
    let anomaly = &volume["volume_anomaly"];
    assert_eq!(anomaly["history"].as_array().unwrap().len(), 8, "{anomaly}");
    assert!(anomaly["median"].as_f64().unwrap() > 990.0, "{anomaly}");
    let projected = result("projected_day");
    assert_eq!(projected["status"], "missing_partition", "{projected}");
    assert_eq!(
        projected["source"]["partition_present"], true,
        "{projected}"
    );
    assert_eq!(
        projected["target"]["partition_present"], false,
        "{projected}"
    );

    let mut alerts: Vec<(String, String)> = tap
        .drain()
        .await
        .iter()
        .map(|a| (a.kind().to_string(), a.attributes["check"].clone()))
        .collect();
    alerts.sort();
    let expected = [
        ("CheckError", "unmeasurable_freshness"),
        ("MissingPartition", "projected_day"),
        ("RowCountMismatch", "by_region"),
        ("RowCountMismatch", "emptied_target"),
        ("RowCountMismatch", "typed_partitions"),
        ("StaleData", "stale_loads"),
        ("TooFewRows", "empty_day"),
        ("VolumeAnomaly", "volume_drop"),
    ]
    .map(|(k, c)| (k.to_string(), c.to_string()));
    assert_eq!(alerts, expected);
}

/// 1,000 regions of one row each, then `last`: a grouped count's rows.
fn regions(last: &[[&str; 2]]) -> serde_json::Value {
    let mut rows: Vec<[String; 2]> = (0..1000)
        .map(|i| [format!("r{i:03}"), "1".into()])
        .collect();
    rows.extend(last.iter().map(|[r, n]| [r.to_string(), n.to_string()]));
    serde_json::json!(rows)
}
