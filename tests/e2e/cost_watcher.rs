//! query-cost-watcher end to end: ~200 seeded queries in 3 workgroups, the state-change event and
//! the scheduled sweep through `cargo lambda invoke`, alerts in the SQS tap, no duplicates.

use chrono::{DateTime, Duration, Utc};
use lakeops_e2e::lake::query;
use lakeops_e2e::{create_ledger_table, event_file, AlertTap, Emulator, Functions, LEDGER_TABLE};

const TIB: u64 = 1 << 40;
const GIB: u64 = 1 << 30;

#[tokio::test]
async fn prices_the_window_and_alerts_once_per_expensive_query() {
    let emu = Emulator::start();
    let config = emu.sdk_config().await;
    let athena = aws_sdk_athena::Client::new(&config);
    for wg in ["etl", "analytics", "adhoc"] {
        athena.create_work_group().name(wg).send().await.unwrap();
    }
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
    let tap = AlertTap::create(&config).await;
    create_ledger_table(&config).await;
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
        serde_json::json!(["5f0a8c1e-7b2d-4e9f-a3c6-1d8e2b4f6a90"])
    );
    let first = tap.drain().await;
    assert_eq!(first.len(), 1);
    assert_eq!(
        first[0].subject,
        "[lakeops] CRITICAL: Athena query cost $20.00 in workgroup analytics"
    );

    // The sweep: the other expensive queries of the window, not the one already alerted.
    let event = event_file("schedule-query-cost-watcher.json");
    let sweep = functions.invoke_file("query-cost-watcher", &event).unwrap();
    assert_eq!(sweep["window_start"], "2026-11-23T08:55:00Z");
    let mut alerted: Vec<&str> = sweep["alerted"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    alerted.sort();
    assert_eq!(alerted, ["q-cutoff", "q-expensive", "q-late"]);
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
    assert_eq!(ids, ["q-cutoff", "q-expensive", "q-late"]);
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
