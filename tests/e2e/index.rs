//! The query index end to end, with the faults a busy account has: EventBridge dropping 10% of
//! the state-change events (and all of some queries'), repeating and reordering them; an SNS
//! publish failing in the feed and another between a stop and its alert; a scheduled sweep
//! invocation failing outright. Every expensive query is still alerted once, every runaway
//! stopped and reported once, every finished query priced once — and a query Athena put back in
//! the queue is not killed for the time it ran.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use lakeops::pricing::PriceList;
use lakeops::query_index::IndexStore;
use lakeops_e2e::index::{
    create_index_table, events_of_seeded, state_change, Delivery, EventFeed, INDEX_TABLE,
};
use lakeops_e2e::lake::query;
use lakeops_e2e::{athena_watch_setup, Emulator, Functions, LEDGER_TABLE};
use serde_json::{json, Value};

const GIB: u64 = 1 << 30;
const TIB: u64 = 1 << 40;

fn schedule(time: DateTime<Utc>) -> Value {
    let mut e = lakeops_e2e::event("schedule-query-cost-watcher.json");
    e["time"] = json!(time.to_rfc3339_opts(SecondsFormat::Secs, true));
    e
}

/// Every item of the index that carries a price: query id → usd.
async fn priced(config: &aws_config::SdkConfig) -> BTreeMap<String, f64> {
    let out = aws_sdk_dynamodb::Client::new(config)
        .scan()
        .table_name(INDEX_TABLE)
        .send()
        .await
        .unwrap();
    assert!(out.last_evaluated_key.is_none(), "one page is enough here");
    out.items()
        .iter()
        .filter_map(|item| {
            let id = item.get("query_id")?.as_s().ok()?.clone();
            if id.starts_with("day#") {
                return None;
            }
            let usd: f64 = item.get("usd")?.as_n().ok()?.parse().ok()?;
            Some((id, usd))
        })
        .collect()
}

/// Alerts of `kind` per query id.
fn per_query(alerts: &[lakeops_e2e::DeliveredAlert], kind: &str) -> BTreeMap<String, usize> {
    let mut count = BTreeMap::new();
    for a in alerts.iter().filter(|a| a.kind() == kind) {
        let id = a.body["details"]["query_execution_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        *count.entry(id).or_default() += 1;
    }
    count
}

#[tokio::test]
async fn a_lossy_feed_and_failing_runs_still_alert_stop_and_price_every_query_once() {
    let emu = Emulator::start();
    let (config, tap) = athena_watch_setup(&emu, &["adhoc", "etl"]).await;
    let feed = EventFeed::create(&config).await;
    let now = Utc::now();
    let m = Duration::minutes;
    let wg = |i: usize| if i % 2 == 0 { "adhoc" } else { "etl" };
    let mut finished = Vec::new();
    for i in 0..100 {
        let submitted = now - m(5 + i as i64);
        finished.push(query(
            &format!("q-cheap-{i:03}"),
            wg(i),
            "SUCCEEDED",
            &format!("SELECT * FROM sales.orders WHERE id = {i}"),
            submitted,
            Some(submitted + m(1)),
            GIB,
            None,
        ));
    }
    for i in 0..10 {
        let submitted = now - m(10 + 3 * i as i64);
        finished.push(query(
            &format!("q-expensive-{i}"),
            wg(i),
            "SUCCEEDED",
            "SELECT * FROM sales.clickstream",
            submitted,
            Some(submitted + m(2)),
            2 * TIB,
            None,
        ));
    }
    let mut running = Vec::new();
    for i in 0..4 {
        running.push(query(
            &format!("q-runaway-{i}"),
            wg(i),
            "RUNNING",
            "SELECT * FROM sales.clickstream CROSS JOIN sales.orders",
            now - m(70 + 5 * i as i64),
            None,
            GIB,
            None,
        ));
    }
    for i in 0..3 {
        running.push(query(
            &format!("q-running-{i}"),
            wg(i),
            "RUNNING",
            "SELECT count(*) FROM sales.orders",
            now - m(15 + i as i64),
            None,
            GIB,
            None,
        ));
    }
    // Submitted 55 minutes ago, ran 52 minutes, back in the queue for 3.
    let requeued = query(
        "q-requeued",
        "etl",
        "QUEUED",
        "INSERT INTO sales.daily SELECT * FROM sales.orders",
        now - m(55),
        None,
        0,
        None,
    );
    let mut seeded: Vec<Value> = finished.iter().chain(&running).cloned().collect();
    seeded.push(requeued);
    emu.seed_queries(seeded);

    let functions = Functions::start(
        &emu,
        &[
            ("ALERT_TOPIC_ARN", tap.topic_arn.as_str()),
            ("LEDGER_TABLE", LEDGER_TABLE),
            ("KILLER_MODE", "enforce"),
            ("QUEUED_LIMIT_MINUTES", "10"),
            ("DIGEST_ENABLED", "false"),
        ],
    );

    // EventBridge: 10% dropped, 10% repeated, all in reverse order; besides, every event of
    // q-expensive-0 and q-runaway-0 and the end of q-expensive-1 never arrive.
    let never = |e: &Value| {
        let id = e["detail"]["queryExecutionId"].as_str().unwrap_or_default();
        id == "q-expensive-0"
            || id == "q-runaway-0"
            || (id == "q-expensive-1" && e["detail"]["currentState"] == "SUCCEEDED")
    };
    let (lost, events): (Vec<Value>, Vec<Value>) =
        events_of_seeded(&finished.iter().chain(&running).cloned().collect::<Vec<_>>())
            .into_iter()
            .partition(never);
    let how = Delivery {
        drop: 0.1,
        repeat: 0.1,
        reverse: true,
    };
    // One publish of the feed fails (the SDK's 6 attempts): its message comes back, alerts once.
    emu.inject_faults("sns", "Publish", 6, "error");
    let delivered = feed.deliver(&events, how).await;
    assert!(
        delivered.dropped.len() >= 20 && delivered.sent > events.len() - delivered.dropped.len(),
        "{} dropped, {} sent of {}",
        delivered.dropped.len(),
        delivered.sent,
        events.len()
    );
    // The requeue, in order and complete (the killer must see the last change).
    let r = "q-requeued";
    feed.deliver(
        &[
            state_change(r, "etl", None, "QUEUED", 1, now - m(55)),
            state_change(r, "etl", Some("QUEUED"), "RUNNING", 2, now - m(55)),
            state_change(r, "etl", Some("RUNNING"), "QUEUED", 3, now - m(3)),
        ],
        Delivery::default(),
    )
    .await;
    feed.drain(&functions).await;
    assert_eq!(
        emu.injected_faults()[0]["Injected"],
        6,
        "the feed's publish failed"
    );
    assert_eq!(lost.len(), 6);

    // The killer stops what the index knows (three runaways; the events of the fourth were
    // lost), all at once; SNS refuses every attempt of every stop alert (6 each).
    emu.inject_faults("sns", "Publish", 3 * 6, "error");
    let first = functions.invoke(
        "long-query-killer",
        &lakeops_e2e::event("schedule-long-query-killer.json"),
    );
    assert!(first.is_err(), "the unpublished stop alerts fail the run");
    assert_eq!(
        emu.injected_faults()[1]["Injected"],
        3 * 6,
        "every attempt of the three stop alerts was refused"
    );

    // A sweep whose invocation fails outright (Lambda's retries would fail alike: its event
    // ends in the failed-events queue and that window is never run again) ...
    let window = lakeops_e2e::floor_to_minutes(now, 5);
    emu.inject_faults("athena", "ListWorkGroups", 6, "error");
    let failed = functions.invoke("query-cost-watcher", &schedule(window));
    assert!(failed.is_err(), "the sweep fails: {failed:?}");
    // ... and the next window's run reconciles what the events missed.
    let next = functions
        .invoke("query-cost-watcher", &schedule(window + m(5)))
        .unwrap();
    let indexed: Vec<&str> = next["reconcile"]["indexed"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for id in ["q-expensive-0", "q-runaway-0"] {
        assert!(indexed.contains(&id), "{id} not in {indexed:?}");
    }
    // In-flight items unchanged for RECONCILE_STALE_MINUTES are read again: q-running-* (still
    // running) and q-expensive-1, whose end never came.
    assert!(
        next["reconcile"]["reread"].as_u64().unwrap() >= 3,
        "{}",
        next["reconcile"]
    );

    // The killer again: the kept alert delivered, the runaway the events never mentioned stopped.
    let second = functions
        .invoke(
            "long-query-killer",
            &lakeops_e2e::event("schedule-long-query-killer.json"),
        )
        .unwrap();
    assert_eq!(
        second["delivered_late"].as_array().unwrap().len(),
        3,
        "{second}"
    );
    let third = functions
        .invoke(
            "long-query-killer",
            &lakeops_e2e::event("schedule-long-query-killer.json"),
        )
        .unwrap();
    assert_eq!(third["stopped"], json!([]));
    assert_eq!(third["delivered_late"], json!([]));
    // And the sweep again: nothing new.
    let again = functions
        .invoke("query-cost-watcher", &schedule(window + m(10)))
        .unwrap();
    assert_eq!(again["alerted"], json!([]), "{again}");

    let alerts = tap.drain().await;
    let expensive = per_query(&alerts, "ExpensiveQuery");
    let expected: BTreeMap<String, usize> =
        (0..10).map(|i| (format!("q-expensive-{i}"), 1)).collect();
    assert_eq!(
        expensive, expected,
        "every expensive query alerted exactly once"
    );
    let stopped = per_query(&alerts, "QueryStopped");
    let expected: BTreeMap<String, usize> = (0..4).map(|i| (format!("q-runaway-{i}"), 1)).collect();
    assert_eq!(
        stopped, expected,
        "every runaway reported stopped exactly once"
    );
    assert!(
        per_query(&alerts, "LongQueryWarning").is_empty(),
        "nothing else was near a limit"
    );

    let athena = aws_sdk_athena::Client::new(&config);
    let states = athena
        .batch_get_query_execution()
        .set_query_execution_ids(Some(
            [
                "q-runaway-0",
                "q-runaway-1",
                "q-runaway-2",
                "q-runaway-3",
                "q-running-0",
                "q-requeued",
            ]
            .map(String::from)
            .to_vec(),
        ))
        .send()
        .await
        .unwrap();
    let state: BTreeMap<String, String> = states
        .query_executions()
        .iter()
        .map(|q| {
            (
                q.query_execution_id().unwrap().to_string(),
                q.status().unwrap().state().unwrap().as_str().to_string(),
            )
        })
        .collect();
    for i in 0..4 {
        assert_eq!(state[&format!("q-runaway-{i}")], "CANCELLED");
    }
    assert_eq!(state["q-running-0"], "RUNNING");
    assert_eq!(
        state["q-requeued"], "QUEUED",
        "3 minutes in the queue is within QUEUED_LIMIT_MINUTES=10, whatever it ran before"
    );

    // Athena's events of the stops (a cancelled query is billed for what it scanned): three of
    // the runaways were already priced by reconciliation, which re-read them CANCELLED.
    let stop_events: Vec<Value> = (0..4)
        .map(|i| {
            let id = format!("q-runaway-{i}");
            state_change(&id, wg(i), Some("RUNNING"), "CANCELLED", 3, Utc::now())
        })
        .collect();
    feed.deliver(&stop_events, Delivery::default()).await;
    feed.drain(&functions).await;

    // Every finished query priced once, at its price; nothing else priced.
    let price = PriceList::default();
    let prices = priced(&config).await;
    let mut expected_usd = 0.0;
    for q in finished.iter().chain(&running[..4]) {
        let id = q["QueryExecutionId"].as_str().unwrap();
        let usd = price.usd_for_scan(q["DataScannedInBytes"].as_u64().unwrap());
        assert_eq!(prices.get(id), Some(&usd), "{id}");
        expected_usd += usd;
    }
    assert_eq!(prices.len(), finished.len() + 4, "{:?}", prices.keys());
    let total: f64 = prices.values().sum();
    assert!(
        (total - expected_usd).abs() < 1e-9,
        "{total} vs {expected_usd}"
    );
    assert_eq!(emu.athena_call_counts()["StopQueryExecution"], 4);
}

/// The DynamoDB adapter keeps the query index contract the memory index keeps
/// (`lakeops_core::index_contract`): the same suite, against the emulator's DynamoDB.
#[tokio::test]
async fn the_dynamodb_index_keeps_the_index_contract() {
    let emu = Emulator::start();
    let config = emu.sdk_config().await;
    create_index_table(&config).await;
    let index =
        lakeops::query_index::QueryIndex::new(aws_sdk_dynamodb::Client::new(&config), INDEX_TABLE);
    lakeops_core::index_contract::run(&index, "contract-").await;
}

/// Ordering by sequence number and the sparse in-flight index, against the emulator's DynamoDB:
/// it holds the queries not yet settled — in flight, or ended but not yet priced.
#[tokio::test]
async fn the_in_flight_index_holds_only_unsettled_queries() {
    let emu = Emulator::start();
    let config = emu.sdk_config().await;
    create_index_table(&config).await;
    let index =
        lakeops::query_index::QueryIndex::new(aws_sdk_dynamodb::Client::new(&config), INDEX_TABLE);
    let at: DateTime<Utc> = "2026-11-24T09:00:00Z".parse().unwrap();
    let change = |id: &str, state: &str, seq: u32, minute: i64| {
        lakeops::query_index::state_change_of(&state_change(
            id,
            "etl",
            None,
            state,
            seq,
            at + Duration::minutes(minute),
        ))
        .unwrap()
    };
    // Out of order: the end first, then the older states, then the end again.
    assert!(index
        .apply_state_change(&change("a", "SUCCEEDED", 3, 5))
        .await
        .unwrap());
    assert!(!index
        .apply_state_change(&change("a", "RUNNING", 2, 1))
        .await
        .unwrap());
    assert!(!index
        .apply_state_change(&change("a", "QUEUED", 1, 0))
        .await
        .unwrap());
    assert!(!index
        .apply_state_change(&change("a", "SUCCEEDED", 3, 5))
        .await
        .unwrap());
    assert!(index
        .apply_state_change(&change("b", "QUEUED", 1, 0))
        .await
        .unwrap());
    assert!(index
        .apply_state_change(&change("b", "RUNNING", 2, 1))
        .await
        .unwrap());
    assert!(index
        .apply_state_change(&change("c", "QUEUED", 1, 2))
        .await
        .unwrap());
    let in_flight = index.in_flight().await.unwrap();
    let got: Vec<(&str, &str, String)> = in_flight
        .iter()
        .map(|q| (q.query_id.as_str(), q.state.as_str(), q.since.to_rfc3339()))
        .collect();
    assert_eq!(
        got,
        [
            ("a", "SUCCEEDED", "2026-11-24T09:05:00+00:00".to_string()),
            ("b", "RUNNING", "2026-11-24T09:01:00+00:00".to_string()),
            ("c", "QUEUED", "2026-11-24T09:02:00+00:00".to_string()),
        ]
    );
    let known = index
        .known(&["a".into(), "b".into(), "zz".into()])
        .await
        .unwrap();
    assert_eq!(known.len(), 2);
    assert!(!known.contains_key("zz"));
}

/// Two functions' instances share one budget of Athena history calls: past the burst they get
/// calls at the budget's rate between them, not each at its own.
#[tokio::test]
async fn the_athena_call_budget_is_shared_between_instances() {
    use lakeops::api_budget::{ApiBudget, BURST};
    let emu = Emulator::start();
    let config = emu.sdk_config().await;
    create_index_table(&config).await;
    let budget = || ApiBudget::new(aws_sdk_dynamodb::Client::new(&config), INDEX_TABLE, 4.0);
    let (a, b) = (budget(), budget());
    let start = std::time::Instant::now();
    // The burst (5) and 8 more between the two, at 4 calls/s: at least 2 s.
    let taken = BURST as usize + 8;
    let per_instance = taken / 2;
    tokio::join!(
        async {
            for _ in 0..per_instance {
                a.wait_for_athena_call_turn().await;
            }
        },
        async {
            for _ in 0..taken - per_instance {
                b.wait_for_athena_call_turn().await;
            }
        }
    );
    let elapsed = start.elapsed().as_secs_f64();
    assert!(elapsed >= 1.9, "{taken} calls in {elapsed:.2} s");
    assert!(elapsed < 4.0, "{taken} calls in {elapsed:.2} s");
}
