//! query-cost-watcher end to end: ~200 seeded queries in 3 workgroups, the state-change event and
//! the scheduled sweep through `cargo lambda invoke`, alerts in the SQS tap, no duplicates.

use chrono::{DateTime, Duration, Utc};
use lakeops_e2e::lake::query;
use lakeops_e2e::{athena_watch_setup, event_file, Emulator, Functions, LEDGER_TABLE};

const TIB: u64 = 1 << 40;
const GIB: u64 = 1 << 30;

#[tokio::test]
async fn prices_the_window_and_alerts_once_per_expensive_query() {
    let emu = Emulator::start();
    let (config, tap) = athena_watch_setup(&emu, &["etl", "analytics", "adhoc"]).await;
    // events/schedule-query-cost-watcher.json is scheduled at 09:00Z: its window is [08:55, 09:00).
    let end: DateTime<Utc> = "2026-11-23T09:00:00Z".parse().unwrap();
    let m = Duration::minutes;
    let s = Duration::seconds;
    let mut queries = vec![
        // The state-change event's query (events/athena-query-state-change.json).
        query(
            "5f0a8c1e-7b2d-4e9f-a3c6-1d8e2b4f6a90",
            "analytics",
            "SUCCEEDED",
            "SELECT * FROM sales.orders",
            end - m(6),
            Some(end - s(149)),
            4 * TIB,
            None,
        ),
        query(
            "q-expensive",
            "adhoc",
            "SUCCEEDED",
            "SELECT * FROM sales.clickstream",
            end - m(4),
            Some(end - m(3)),
            2 * TIB,
            None,
        ),
        query(
            "q-cutoff",
            "etl",
            "CANCELLED",
            "SELECT * FROM sales.events",
            end - m(5),
            Some(end - m(2)),
            3 * TIB,
            Some("Bytes scanned limit was exceeded"),
        ),
        query(
            "q-late",
            "etl",
            "SUCCEEDED",
            "INSERT INTO sales.agg SELECT * FROM sales.raw",
            end - m(270),
            Some(end - m(1)),
            3 * TIB,
            None,
        ),
        query(
            "q-failed",
            "adhoc",
            "FAILED",
            "SELECT * FROM sales.nope",
            end - m(3),
            Some(end - m(2)),
            5 * TIB,
            Some("TABLE_NOT_FOUND"),
        ),
        query(
            "q-ddl",
            "etl",
            "SUCCEEDED",
            "MSCK REPAIR TABLE sales.raw",
            end - m(4),
            Some(end - m(2)),
            5 * TIB,
            None,
        ),
        query(
            "q-before",
            "adhoc",
            "SUCCEEDED",
            "SELECT * FROM sales.clickstream",
            end - m(20),
            Some(end - m(6)),
            2 * TIB,
            None,
        ),
        query(
            "q-after",
            "adhoc",
            "SUCCEEDED",
            "SELECT * FROM sales.clickstream",
            end - m(1),
            Some(end + s(1)),
            2 * TIB,
            None,
        ),
        query(
            "q-running",
            "adhoc",
            "RUNNING",
            "SELECT * FROM sales.clickstream",
            end - m(30),
            None,
            2 * TIB,
            None,
        ),
    ];
    for i in 0..192 {
        let wg = ["etl", "analytics", "adhoc"][i % 3];
        let completed = end - s(10 + (i as i64 * 37) % 590); // about half in the window
        queries.push(query(
            &format!("q-cheap-{i}"),
            wg,
            "SUCCEEDED",
            "SELECT count(*) FROM sales.orders WHERE dt = '2026-11-22'",
            completed - s(30),
            Some(completed),
            200 * GIB,
            None,
        ));
    }
    emu.seed_queries(queries);
    // The state-change event's query reads sales.orders: a wide Parquet table, three days of
    // partitions, and the query filters on none.
    let glue = aws_sdk_glue::Client::new(&config);
    lakeops_e2e::lake::create_glue_database(&glue, "sales").await;
    let days = ["2026-11-20", "2026-11-21", "2026-11-22"];
    lakeops_e2e::lake::create_parquet_table(&glue, "sales", "orders", 30, &days).await;
    let functions = Functions::start(
        &emu,
        &[
            ("ALERT_TOPIC_ARN", tap.topic_arn.as_str()),
            ("LEDGER_TABLE", LEDGER_TABLE),
        ],
    );

    // Real time first: the state-change event alerts for its query.
    let rt = functions
        .invoke_file(
            "query-cost-watcher",
            &event_file("athena-query-state-change.json"),
        )
        .unwrap();
    assert_eq!(
        rt["alerted"],
        serde_json::json!(["query-cost-watcher/expensive/5f0a8c1e-7b2d-4e9f-a3c6-1d8e2b4f6a90"])
    );
    let first = tap.drain().await;
    assert_eq!(first.len(), 1);
    assert_eq!(
        first[0].subject,
        "[lakeops] CRITICAL: Athena query cost $20.00 in workgroup analytics"
    );
    // Why it cost so much, from the Glue catalog: every partition, every column.
    let why: Vec<&str> = first[0].body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["label"] == "Why")
        .filter_map(|f| f["value"].as_str())
        .collect();
    assert_eq!(
        why,
        [
            "sales.orders has 3 partitions by dt; this query filtered on none of them, so Athena read every one.",
            "SELECT * read all 31 columns of sales.orders; Parquet is read column by column."
        ],
        "{}",
        first[0].body
    );
    assert_eq!(
        first[0].body["details"]["cost_hints"][0]["kind"],
        "no_partition_filter"
    );
    assert!(first[0].body["next_steps"][0]
        .as_str()
        .unwrap()
        .starts_with("Filter on dt"));

    // The sweep: first reconciliation indexes every query whose event never came (here: all but
    // the one above) and alerts the expensive ones — q-before and q-after too, which finished
    // outside the window; then the window finds its expensive queries already alerted. Never
    // twice.
    let event = event_file("schedule-query-cost-watcher.json");
    let sweep = functions.invoke_file("query-cost-watcher", &event).unwrap();
    assert_eq!(sweep["window_start"], "2026-11-23T08:55:00Z");
    let indexed = sweep["reconcile"]["indexed"].as_array().unwrap();
    // The first pass pages each workgroup back to MAX_QUERY_MINUTES before the run; those are
    // the run's only List calls (the window is read from the index).
    assert_eq!(sweep["list_calls"], sweep["reconcile"]["list_calls"]);
    assert!(indexed.len() > 190, "{}", indexed.len());
    assert!(
        !indexed
            .iter()
            .any(|id| id == "5f0a8c1e-7b2d-4e9f-a3c6-1d8e2b4f6a90"),
        "{indexed:?}"
    );
    let mut alerted: Vec<&str> = sweep["alerted"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str()?.strip_prefix("query-cost-watcher/expensive/"))
        .collect();
    alerted.sort();
    assert_eq!(
        alerted,
        ["q-after", "q-before", "q-cutoff", "q-expensive", "q-late"]
    );
    let delivered = tap.drain().await;
    let mut ids: Vec<String> = delivered
        .iter()
        .map(|a| {
            a.body["details"]["query_execution_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        ["q-after", "q-before", "q-cutoff", "q-expensive", "q-late"]
    );
    let cutoff = delivered
        .iter()
        .find(|a| a.body["details"]["query_execution_id"] == "q-cutoff")
        .unwrap();
    assert_eq!(cutoff.body["details"]["cost_usd"], 15.0);
    assert_eq!(cutoff.attributes["workgroup"], "etl");

    // Spend of the window: the cheap queries in it plus the expensive ones.
    let cheap_in_window = (0..192).filter(|i| 10 + (i * 37) % 590 <= 300).count();
    assert_eq!(
        sweep["queries_completed"].as_u64().unwrap() as usize,
        cheap_in_window + 6
    );

    // The same event again sends nothing.
    let again = functions.invoke_file("query-cost-watcher", &event).unwrap();
    assert_eq!(again["alerted"], serde_json::json!([]));
    assert!(tap.drain().await.is_empty());
}

/// Writes what earlier sweeps would have emitted: one `QueryCostUSD` value per window.
async fn seed_spend_history(config: &aws_config::SdkConfig, points: &[(&str, DateTime<Utc>, f64)]) {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
    let cw = aws_sdk_cloudwatch::Client::new(config);
    for (wg, at, usd) in points {
        cw.put_metric_data()
            .namespace("Lakeops")
            .metric_data(
                MetricDatum::builder()
                    .metric_name("QueryCostUSD")
                    .dimensions(Dimension::builder().name("WorkGroup").value(*wg).build())
                    .timestamp(aws_smithy_types::DateTime::from_secs(at.timestamp()))
                    .value(*usd)
                    .unit(StandardUnit::None)
                    .build(),
            )
            .send()
            .await
            .expect("put metric data");
    }
}

#[tokio::test]
async fn budgets_spikes_storms_and_the_daily_digest() {
    let emu = Emulator::start();
    let (config, tap) = athena_watch_setup(&emu, &["etl", "analytics", "adhoc"]).await;
    // The sweep at 09:00Z = 18:00 in Seoul on 2026-11-23 (KST day began 2026-11-22T15:00Z).
    let end: DateTime<Utc> = "2026-11-23T09:00:00Z".parse().unwrap();
    let m = Duration::minutes;
    let five_am = |days_ago: i64| {
        "2026-11-23T05:00:00Z".parse::<DateTime<Utc>>().unwrap() - Duration::days(days_ago)
    };
    // The previous days' spend, as the sweeps' metrics recorded it (the spike baseline): a usual
    // $2 for analytics by this time of day.
    let mut history = vec![];
    for day in 1..=7 {
        history.push(("analytics", five_am(day), 2.0));
        // Later in those days: outside "by this time of day", so not in the baseline.
        history.push(("analytics", five_am(day) + m(300), 500.0));
    }
    seed_spend_history(&config, &history).await;

    // Earlier today (priced into the index's running total of the day): etl $70 of its $100
    // ($25 here and d-after's $45 below, which completed just after yesterday), adhoc $25 of its
    // $20, analytics $30 against its usual $2.
    let mut queries: Vec<serde_json::Value> = [("etl", 5), ("adhoc", 5), ("analytics", 6)]
        .into_iter()
        .map(|(wg, tib)| {
            query(
                &format!("today-{wg}"),
                wg,
                "SUCCEEDED",
                "SELECT * FROM sales.orders",
                five_am(0) - m(10),
                Some(five_am(0)),
                tib * TIB,
                None,
            )
        })
        .collect();
    queries.extend([
        query(
            "etl-window",
            "etl",
            "SUCCEEDED",
            "INSERT INTO agg SELECT * FROM raw",
            end - m(4),
            Some(end - m(2)),
            3 * TIB,
            None,
        ),
        query(
            "analytics-window",
            "analytics",
            "SUCCEEDED",
            "SELECT * FROM orders",
            end - m(4),
            Some(end - m(1)),
            2 * TIB,
            None,
        ),
    ]);
    // A retry storm in adhoc: one statement shape failing 5 times in the last hour.
    for (i, ago) in [50, 40, 30, 20, 2].into_iter().enumerate() {
        queries.push(query(
            &format!("storm-{i}"),
            "adhoc",
            "FAILED",
            &format!(
                "SELECT * FROM sales.gone WHERE dt = '2026-11-{:02}'",
                18 + i
            ),
            end - m(ago) - m(1),
            Some(end - m(ago)),
            0,
            Some("TABLE_NOT_FOUND: Table awsdatacatalog.sales.gone does not exist"),
        ));
    }
    // Yesterday in Seoul (2026-11-22 KST = [2026-11-21T15:00Z, 2026-11-22T15:00Z)), for the digest.
    let kst_day =
        |h: i64| "2026-11-21T15:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::hours(h);
    queries.extend([
        query(
            "d-etl-1",
            "etl",
            "SUCCEEDED",
            "INSERT INTO agg SELECT * FROM raw",
            kst_day(1),
            Some(kst_day(2)),
            2 * TIB,
            None,
        ),
        query(
            "d-etl-2",
            "etl",
            "CANCELLED",
            "SELECT * FROM raw",
            kst_day(3),
            Some(kst_day(4)),
            TIB,
            Some("cancelled by user"),
        ),
        query(
            "d-analytics",
            "analytics",
            "SUCCEEDED",
            "SELECT * FROM orders",
            kst_day(10),
            Some(kst_day(11)),
            TIB / 2,
            None,
        ),
        query(
            "d-adhoc-failed",
            "adhoc",
            "FAILED",
            "SELECT * FROM nope",
            kst_day(12),
            Some(kst_day(12) + m(1)),
            TIB,
            Some("TABLE_NOT_FOUND"),
        ),
        query(
            "d-before",
            "etl",
            "SUCCEEDED",
            "SELECT 1",
            kst_day(-2),
            Some(kst_day(-1)),
            9 * TIB,
            None,
        ),
        query(
            "d-after",
            "etl",
            "SUCCEEDED",
            "SELECT 1",
            kst_day(23),
            Some(kst_day(24) + m(30)),
            9 * TIB,
            None,
        ),
    ]);
    emu.seed_queries(queries);
    let functions = Functions::start(
        &emu,
        &[
            ("ALERT_TOPIC_ARN", tap.topic_arn.as_str()),
            ("LEDGER_TABLE", LEDGER_TABLE),
            ("COST_THRESHOLD_USD", "100"),
            ("DAILY_BUDGET_USD_BY_WORKGROUP", "etl=100,adhoc=20"),
        ],
    );

    let event = event_file("schedule-query-cost-watcher.json");
    let sweep = functions.invoke_file("query-cost-watcher", &event).unwrap();
    assert_eq!(sweep["spend_today_usd"]["etl"], 85.0, "{sweep}");
    assert_eq!(sweep["spend_today_usd"]["analytics"], 40.0, "{sweep}");
    let mut kinds: Vec<(String, String)> = tap
        .drain()
        .await
        .iter()
        .map(|a| (a.kind().to_string(), a.attributes["workgroup"].clone()))
        .collect();
    kinds.sort();
    let expected = [
        ("BudgetExceeded", "adhoc"),
        ("BudgetWarning", "etl"),
        ("RetryStorm", "adhoc"),
        ("SpendSpike", "analytics"),
    ];
    assert_eq!(
        kinds,
        expected.map(|(k, w)| (k.to_string(), w.to_string())),
        "{sweep}"
    );
    let again = functions.invoke_file("query-cost-watcher", &event).unwrap();
    assert_eq!(again["alerted"], serde_json::json!([]), "{again}");
    assert!(tap.drain().await.is_empty());

    // 09:05 in Seoul: the sweep of [00:00Z, 00:05Z) holds 09:00 KST and sends yesterday's digest.
    let morning = event_file("schedule-query-cost-watcher-0905-kst.json");
    let run = functions
        .invoke_file("query-cost-watcher", &morning)
        .unwrap();
    assert_eq!(run["digest"], "2026-11-22", "{run}");
    let digest = tap.drain().await;
    assert_eq!(digest.len(), 1, "{digest:?}");
    assert_eq!(digest[0].kind(), "DailyDigest");
    assert_eq!(
        digest[0].subject,
        "[lakeops] INFO: Athena spend 2026-11-22 (Asia/Seoul): $17.50 in 4 queries"
    );
    let d = &digest[0].body["details"];
    let top: Vec<&str> = d["top_queries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["id"].as_str().unwrap())
        .collect();
    assert_eq!(top, ["d-etl-1", "d-etl-2", "d-analytics"]);
    let etl = &d["workgroups"][0];
    assert_eq!(
        (
            etl["workgroup"].as_str(),
            etl["usd"].as_f64(),
            etl["cancelled"].as_u64()
        ),
        (Some("etl"), Some(15.0), Some(1))
    );
    let again = functions
        .invoke_file("query-cost-watcher", &morning)
        .unwrap();
    assert_eq!(again["alerted"], serde_json::json!([]), "{again}");
    assert!(
        tap.drain().await.is_empty(),
        "the digest is sent once a day"
    );
}

/// A workgroup on a capacity reservation: each query costs its DPUs × engine time at the
/// DPU-hour price (Athena reports `DpuCount`), so a 90-minute query on 24 DPUs is expensive
/// though it scanned little, and the window's spend adds both queries up.
#[tokio::test]
async fn a_capacity_reservation_query_is_priced_by_its_dpu_time() {
    let emu = Emulator::start();
    let (_config, tap) = athena_watch_setup(&emu, &["reserved"]).await;
    let end: DateTime<Utc> = "2026-11-23T09:00:00Z".parse().unwrap();
    let m = Duration::minutes;
    let on_reservation = |id: &str, dpu: u32, engine_minutes: i64| {
        let mut q = query(
            id,
            "reserved",
            "SUCCEEDED",
            "SELECT customer_id, count(*) FROM sales.orders GROUP BY 1",
            end - m(engine_minutes) - m(3),
            Some(end - m(2)),
            GIB,
            None,
        );
        q["DpuCount"] = serde_json::json!(dpu);
        q["EngineExecutionTimeInMillis"] = serde_json::json!(engine_minutes * 60_000);
        q
    };
    emu.seed_queries(vec![
        on_reservation("q-reserved-long", 24, 90),
        on_reservation("q-reserved-short", 4, 1),
    ]);
    let functions = Functions::start(
        &emu,
        &[
            ("ALERT_TOPIC_ARN", tap.topic_arn.as_str()),
            ("LEDGER_TABLE", LEDGER_TABLE),
            ("DIGEST_ENABLED", "false"),
        ],
    );
    let sweep = functions
        .invoke_file(
            "query-cost-watcher",
            &event_file("schedule-query-cost-watcher.json"),
        )
        .unwrap();
    // 24 × 1.5 h × $0.30 = $10.80; 4 × 1/60 h × $0.30 = $0.02.
    let spend = sweep["spend_usd"]["reserved"].as_f64().unwrap();
    assert!((spend - 10.82).abs() < 1e-9, "{sweep}");
    let alerts = tap.drain().await;
    assert_eq!(alerts.len(), 1, "only the long one is over $5");
    let cost = alerts[0].body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["label"] == "Cost")
        .unwrap()["value"]
        .clone();
    assert_eq!(
        cost,
        "$10.80: 24 DPU × 90m 00s engine at $0.30/DPU-hour (capacity reservation)"
    );
    assert_eq!(alerts[0].body["details"]["capacity_billed"], true);
}
