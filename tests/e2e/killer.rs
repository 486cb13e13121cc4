//! long-query-killer end to end: seeded RUNNING / QUEUED queries, `cargo lambda invoke` with
//! events/schedule-long-query-killer.json, the queries' states and the alerts in the SQS tap.

use chrono::{Duration, Utc};
use lakeops_e2e::index::{create_index_table, EventFeed};
use lakeops_e2e::lake::query;
use lakeops_e2e::{create_ledger_table, event_file, AlertTap, Emulator, Functions, LEDGER_TABLE};
use serde_json::json;

const GIB: u64 = 1 << 30;

async fn states(emu: &Emulator, ids: &[&str]) -> Vec<(String, String)> {
    let athena = aws_sdk_athena::Client::new(&emu.sdk_config().await);
    let out = athena
        .batch_get_query_execution()
        .set_query_execution_ids(Some(ids.iter().map(|s| s.to_string()).collect()))
        .send()
        .await
        .unwrap();
    let mut got: Vec<(String, String)> = out
        .query_executions()
        .iter()
        .map(|q| {
            let state = q
                .status()
                .and_then(|s| s.state())
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            (
                q.query_execution_id().unwrap_or_default().to_string(),
                state,
            )
        })
        .collect();
    got.sort();
    got
}

/// The killer in enforce mode against a fresh emulator with `workgroup` (created unless it is
/// `primary`, which exists) and one RUNNING query `id` started 90 minutes ago.
async fn one_runaway(workgroup: &str, id: &str) -> (Emulator, AlertTap, Functions) {
    one_running_query(workgroup, id, 90, &[]).await
}

/// [`one_runaway`] with the query started `minutes_ago` and `env` added to the killer's.
async fn one_running_query(
    workgroup: &str,
    id: &str,
    minutes_ago: i64,
    env: &[(&str, &str)],
) -> (Emulator, AlertTap, Functions) {
    let emu = Emulator::start();
    let config = emu.sdk_config().await;
    if workgroup != "primary" {
        aws_sdk_athena::Client::new(&config)
            .create_work_group()
            .name(workgroup)
            .send()
            .await
            .unwrap();
    }
    let seeded = vec![query(
        id,
        workgroup,
        "RUNNING",
        "SELECT * FROM sales.clickstream",
        Utc::now() - Duration::minutes(minutes_ago),
        None,
        GIB,
        None,
    )];
    emu.seed_queries(seeded.clone());
    let tap = AlertTap::create(&config).await;
    create_ledger_table(&config).await;
    create_index_table(&config).await;
    let feed = EventFeed::create(&config).await;
    let mut vars = vec![
        ("ALERT_TOPIC_ARN", tap.topic_arn.as_str()),
        ("LEDGER_TABLE", LEDGER_TABLE),
        ("KILLER_MODE", "enforce"),
    ];
    vars.extend_from_slice(env);
    let functions = Functions::start(&emu, &vars);
    feed.announce(&functions, &seeded).await;
    (emu, tap, functions)
}

#[tokio::test]
async fn warns_then_stops_runaway_queries_once() {
    let emu = Emulator::start();
    let config = emu.sdk_config().await;
    let athena = aws_sdk_athena::Client::new(&config);
    for wg in ["adhoc", "etl", "ml"] {
        athena.create_work_group().name(wg).send().await.unwrap();
    }
    let now = Utc::now();
    let m = Duration::minutes;
    let sel = "SELECT customer_id, count(*) FROM sales.clickstream WHERE note = 'card 4111111111111111' GROUP BY 1";
    let seeded = vec![
        query(
            "q-ok",
            "adhoc",
            "RUNNING",
            sel,
            now - m(10),
            None,
            GIB,
            None,
        ),
        query(
            "q-warn",
            "adhoc",
            "RUNNING",
            sel,
            now - m(52),
            None,
            50 * GIB,
            None,
        ),
        query(
            "q-kill-1",
            "adhoc",
            "RUNNING",
            sel,
            now - m(75),
            None,
            900 * GIB,
            None,
        ),
        query(
            "q-kill-2",
            "etl",
            "QUEUED",
            "SELECT * FROM sales.orders",
            now - m(64),
            None,
            0,
            None,
        ),
        query(
            "q-allowlisted",
            "ml",
            "RUNNING",
            sel,
            now - m(300),
            None,
            GIB,
            None,
        ),
        query(
            "q-marker",
            "etl",
            "RUNNING",
            "-- lakeops:allow-long\nINSERT INTO t SELECT * FROM s",
            now - m(200),
            None,
            GIB,
            None,
        ),
        query(
            "q-ddl",
            "etl",
            "RUNNING",
            "MSCK REPAIR TABLE sales.orders_raw",
            now - m(130),
            None,
            0,
            None,
        ),
        query(
            "q-done",
            "adhoc",
            "SUCCEEDED",
            sel,
            now - m(200),
            Some(now - m(100)),
            GIB,
            None,
        ),
    ];
    emu.seed_queries(seeded.clone());
    let tap = AlertTap::create(&config).await;
    create_ledger_table(&config).await;
    create_index_table(&config).await;
    let feed = EventFeed::create(&config).await;
    let functions = Functions::start(
        &emu,
        &[
            ("ALERT_TOPIC_ARN", tap.topic_arn.as_str()),
            ("LEDGER_TABLE", LEDGER_TABLE),
            ("KILLER_MODE", "enforce"),
            ("EXEMPT_WORKGROUPS", "ml"),
        ],
    );
    // The cost watcher indexes the queries from their state-change events.
    feed.announce(&functions, &seeded).await;
    let event = event_file("schedule-long-query-killer.json");
    let answer = functions.invoke_file("long-query-killer", &event).unwrap();
    assert_eq!(answer["mode"], "enforce");
    let mut stopped: Vec<&str> = answer["stopped"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    stopped.sort();
    assert_eq!(stopped, ["q-kill-1", "q-kill-2"]);
    assert_eq!(answer["warned"], json!(["q-warn"]));

    let ids = [
        "q-allowlisted",
        "q-ddl",
        "q-done",
        "q-kill-1",
        "q-kill-2",
        "q-marker",
        "q-ok",
        "q-warn",
    ];
    let expected = [
        ("q-allowlisted", "RUNNING"),
        ("q-ddl", "RUNNING"),
        ("q-done", "SUCCEEDED"),
        ("q-kill-1", "CANCELLED"),
        ("q-kill-2", "CANCELLED"),
        ("q-marker", "RUNNING"),
        ("q-ok", "RUNNING"),
        ("q-warn", "RUNNING"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(states(&emu, &ids).await, expected);

    let alerts = tap.drain().await;
    let mut kinds: Vec<(String, String)> = alerts
        .iter()
        .map(|a| {
            (
                a.kind().to_string(),
                a.body["details"]["query_execution_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("LongQueryWarning".to_string(), "q-warn".to_string()),
            ("QueryStopped".to_string(), "q-kill-1".to_string()),
            ("QueryStopped".to_string(), "q-kill-2".to_string()),
        ]
    );
    let stop = alerts
        .iter()
        .find(|a| a.body["details"]["query_execution_id"] == "q-kill-1")
        .unwrap();
    assert_eq!(stop.attributes["severity"], "critical");
    assert_eq!(stop.attributes["workgroup"], "adhoc");
    assert_eq!(stop.body["details"]["state_after_stop"], "CANCELLED");
    assert_eq!(stop.body["details"]["data_scanned_bytes"], 900 * GIB);
    assert_eq!(stop.body["details"]["cost_usd"], 900.0 / 1024.0 * 5.0);
    // First seen past its limit, so never warned: the alert says so.
    assert_eq!(stop.body["details"]["warned_first"], false);
    assert!(
        stop.subject
            .starts_with("[lakeops] CRITICAL: Stopped Athena query after 75 min in adhoc"),
        "{}",
        stop.subject
    );
    let sql_field = stop.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["label"] == "SQL")
        .unwrap();
    assert!(
        sql_field["value"].as_str().unwrap().contains("'card…'"),
        "card number masked: {sql_field}"
    );
    let warn = alerts
        .iter()
        .find(|a| a.kind() == "LongQueryWarning")
        .unwrap();
    assert!(
        warn.body["summary"]
            .as_str()
            .unwrap()
            .contains("will be stopped at"),
        "{}",
        warn.body["summary"]
    );

    // The same event again: nothing new is stopped and nothing new is sent.
    let again = functions.invoke_file("long-query-killer", &event).unwrap();
    assert_eq!(again["stopped"], json!([]));
    assert_eq!(again["warned"], json!([]));
    assert!(tap.drain().await.is_empty());
    let calls = emu.athena_call_counts();
    assert_eq!(calls["StopQueryExecution"], 2);
    // The running queries came from the index: nobody paged the history.
    assert_eq!(calls.get("ListQueryExecutions"), None, "{calls}");
}

#[tokio::test]
async fn dry_run_stops_nothing_and_says_it_would_have() {
    let (emu, tap, functions) = one_runaway("primary", "q-runaway").await;
    // The deployment enforces; the event asks for a dry run.
    let mut event = lakeops_e2e::event("schedule-long-query-killer.json");
    event["detail"] = json!({"dry_run": true});
    let answer = functions.invoke("long-query-killer", &event).unwrap();
    assert_eq!(answer["mode"], "dry-run");
    assert_eq!(answer["would_stop"], json!(["q-runaway"]));
    assert_eq!(
        states(&emu, &["q-runaway"]).await,
        [("q-runaway".to_string(), "RUNNING".to_string())]
    );
    let alerts = tap.drain().await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind(), "QueryWouldBeStopped");
    assert!(
        alerts[0].subject.contains("Would have stopped"),
        "{}",
        alerts[0].subject
    );
    assert!(emu.athena_call_counts().get("StopQueryExecution").is_none());
}

#[tokio::test]
async fn a_runaway_in_a_workgroup_disabled_while_it_runs_is_still_stopped() {
    let (emu, tap, functions) = one_runaway("legacy", "q-orphan").await;
    // Disabling stops new queries in the workgroup; the running one goes on.
    aws_sdk_athena::Client::new(&emu.sdk_config().await)
        .update_work_group()
        .work_group("legacy")
        .state(aws_sdk_athena::types::WorkGroupState::Disabled)
        .send()
        .await
        .unwrap();
    let out = functions
        .invoke_file(
            "long-query-killer",
            &event_file("schedule-long-query-killer.json"),
        )
        .expect("killer run");
    assert_eq!(out["stopped"], json!(["q-orphan"]), "{out}");
    assert_eq!(
        states(&emu, &["q-orphan"]).await,
        [("q-orphan".to_string(), "CANCELLED".to_string())]
    );
    let kinds: Vec<String> = tap
        .drain()
        .await
        .iter()
        .map(|a| a.kind().to_string())
        .collect();
    assert_eq!(kinds, ["QueryStopped"]);
}

/// The loss path the outbox closes: the stop happened, the alert could not be published (SNS
/// failing every retry of the SDK). The next run finds the query CANCELLED — no longer a
/// runaway — and still delivers the kept `QueryStopped` alert, exactly once.
#[tokio::test]
async fn a_stop_whose_alert_cannot_be_published_is_reported_by_the_next_run_once() {
    let (emu, tap, functions) = one_runaway("adhoc", "q-runaway").await;
    let schedule = event_file("schedule-long-query-killer.json");
    // Every attempt the SDK makes for the first Publish fails with a 500.
    emu.inject_faults("sns", "Publish", 6, "error");
    let first = functions.invoke_file("long-query-killer", &schedule);
    let err = first.expect_err("the run whose alert failed must fail");
    assert!(err.contains("kept for the next run"), "{err}");
    assert_eq!(emu.injected_faults()[0]["Injected"], 6);
    assert_eq!(
        states(&emu, &["q-runaway"]).await,
        [("q-runaway".to_string(), "CANCELLED".to_string())]
    );
    assert!(tap.drain().await.is_empty());

    let second = functions
        .invoke_file("long-query-killer", &schedule)
        .expect("the next run");
    assert_eq!(
        second["delivered_late"],
        json!(["long-query-killer/stopped/q-runaway"]),
        "{second}"
    );
    assert_eq!(second["stopped"], json!([]));
    let alerts = tap.drain().await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind(), "QueryStopped");
    let state_now = alerts[0].body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["label"] == "State now")
        .map(|f| f["value"].clone());
    assert_eq!(state_now, Some(json!("CANCELLED")));

    let third = functions
        .invoke_file("long-query-killer", &schedule)
        .expect("a third run");
    assert_eq!(third["delivered_late"], json!([]));
    assert!(tap.drain().await.is_empty(), "delivered once");
}

/// The ledger's loss path: a warning claimed, then neither published nor given back (SNS and
/// DynamoDB both failing every retry, as if the function died between claim and publish). The
/// claim is a lease: once it runs out the next run sends the warning — once.
#[tokio::test]
async fn a_warning_whose_sender_died_after_claiming_it_is_sent_after_the_lease_once() {
    let (emu, tap, functions) = one_running_query(
        "adhoc",
        "q-warn",
        52,
        &[("LAKEOPS_SEND_LEASE_SECONDS", "1")],
    )
    .await;
    let schedule = event_file("schedule-long-query-killer.json");
    emu.inject_faults("sns", "Publish", 6, "error");
    emu.inject_faults("dynamodb", "DeleteItem", 6, "error");
    let first = functions.invoke_file("long-query-killer", &schedule);
    assert!(first.is_err(), "{first:?}");
    assert!(tap.drain().await.is_empty());
    let injected: Vec<i64> = emu
        .injected_faults()
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["Injected"].as_i64().unwrap())
        .collect();
    assert_eq!(
        injected,
        [6, 6],
        "the claim was neither used nor given back"
    );

    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let second = functions
        .invoke_file("long-query-killer", &schedule)
        .expect("the run after the lease");
    assert_eq!(second["warned"], json!(["q-warn"]), "{second}");
    let alerts = tap.drain().await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind(), "LongQueryWarning");

    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let third = functions
        .invoke_file("long-query-killer", &schedule)
        .expect("a later run");
    assert_eq!(third["warned"], json!([]));
    assert!(tap.drain().await.is_empty(), "confirmed: sent once");
}

/// Athena cancels asynchronously: each stop here reads RUNNING for a second after the call, so
/// the killer's confirmation waits (four reads over 1.4 s). Ten runaways one after the other took
/// over 14 s of the run (10 x 1.4 s; 50 would pass the function's 120 s); five at a time, about
/// two rounds. Every one is stopped and reported once.
#[tokio::test]
async fn many_runaways_are_stopped_together_not_one_after_the_other() {
    let emu = Emulator::start();
    let config = emu.sdk_config().await;
    let now = Utc::now();
    let ids: Vec<String> = (0..10).map(|i| format!("q-runaway-{i:02}")).collect();
    let seeded: Vec<_> = ids
        .iter()
        .map(|id| {
            let mut q = query(
                id,
                "primary",
                "RUNNING",
                "SELECT * FROM sales.clickstream",
                now - Duration::minutes(90),
                None,
                GIB,
                None,
            );
            q["StopTakesSeconds"] = json!(1.0);
            q
        })
        .collect();
    emu.seed_queries(seeded.clone());
    let tap = AlertTap::create(&config).await;
    create_ledger_table(&config).await;
    create_index_table(&config).await;
    let feed = EventFeed::create(&config).await;
    let functions = Functions::start(
        &emu,
        &[
            ("ALERT_TOPIC_ARN", tap.topic_arn.as_str()),
            ("LEDGER_TABLE", LEDGER_TABLE),
            ("KILLER_MODE", "enforce"),
        ],
    );
    feed.announce(&functions, &seeded).await;

    let started = std::time::Instant::now();
    let out = functions
        .invoke_file(
            "long-query-killer",
            &event_file("schedule-long-query-killer.json"),
        )
        .unwrap();
    let took = started.elapsed();
    assert_eq!(out["stopped"].as_array().map(Vec::len), Some(10), "{out}");
    assert!(
        took < std::time::Duration::from_secs(8),
        "10 stops of 1.4 s each took {took:?}: one after the other?"
    );
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    for (_, state) in states(&emu, &id_refs).await {
        assert_eq!(state, "CANCELLED");
    }
    let stopped = tap
        .drain()
        .await
        .iter()
        .filter(|a| a.kind() == "QueryStopped")
        .count();
    assert_eq!(stopped, 10, "each stop reported once");
}
