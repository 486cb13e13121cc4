//! Loss paths under the faults AWS really produces, each injected during the step that settles,
//! stops or publishes (docs/guarantees.md lists the promise each test holds up).

use chrono::{Duration, SecondsFormat, Utc};
use lakeops_e2e::index::{events_of_seeded, Delivery, EventFeed};
use lakeops_e2e::lake::query;
use lakeops_e2e::{athena_watch_setup, Emulator, Functions, LEDGER_TABLE};
use serde_json::{json, Value};

const TIB: u64 = 1 << 40;

fn schedule(time: chrono::DateTime<Utc>) -> Value {
    let mut e = lakeops_e2e::event("schedule-query-cost-watcher.json");
    e["time"] = json!(time.to_rfc3339_opts(SecondsFormat::Secs, true));
    e
}

/// SNS refuses the feed's publish on every receive of the message that says an expensive query
/// ended, so the message goes to the DLQ with the query's end already in the index. Once SNS is
/// back, the next sweep still alerts and prices it: an ended but unpriced query stays unsettled
/// (in the in-flight index) until it is priced, and the sweep's stale re-read settles it.
#[tokio::test]
async fn an_alert_sns_refused_until_the_dlq_is_sent_by_the_next_sweep() {
    let emu = Emulator::start();
    let (config, tap) = athena_watch_setup(&emu, &["adhoc"]).await;
    let feed = EventFeed::create(&config).await;
    let now = Utc::now();
    let ended = now - Duration::minutes(4);
    let expensive = query(
        "q-expensive-sns-down",
        "adhoc",
        "SUCCEEDED",
        "SELECT * FROM sales.clickstream",
        ended - Duration::minutes(3),
        Some(ended),
        3 * TIB,
        None,
    );
    emu.seed_queries(vec![expensive.clone()]);
    let functions = Functions::start(
        &emu,
        &[
            ("ALERT_TOPIC_ARN", tap.topic_arn.as_str()),
            ("LEDGER_TABLE", LEDGER_TABLE),
            ("DIGEST_ENABLED", "false"),
        ],
    );
    // Every publish attempt of every receive fails (the SDK tries 6 times; the queue allows
    // the template's receive count).
    let attempts = 6 * lakeops_e2e::index::EVENT_QUEUE_MAX_RECEIVE_COUNT;
    emu.inject_faults("sns", "Publish", attempts, "error");
    feed.deliver(&events_of_seeded(&[expensive]), Delivery::default())
        .await;
    feed.drain(&functions).await;
    assert_eq!(
        feed.queue.dead_letters().await.len(),
        1,
        "the message was dead-lettered"
    );
    assert_eq!(emu.injected_faults()[0]["Injected"], attempts);
    assert!(tap.drain().await.is_empty(), "nothing was published yet");

    let sweep = functions
        .invoke(
            "query-cost-watcher",
            &schedule(lakeops_e2e::floor_to_minutes(now, 5)),
        )
        .unwrap();
    let alerts = tap.drain().await;
    let expensive: Vec<_> = alerts
        .iter()
        .filter(|a| a.kind() == "ExpensiveQuery")
        .collect();
    assert_eq!(expensive.len(), 1, "sweep: {sweep}");
    assert_eq!(
        expensive[0].body["details"]["query_execution_id"],
        "q-expensive-sns-down"
    );
    // Settled: priced once, no longer unsettled, so the next sweep does nothing more.
    let again = functions
        .invoke(
            "query-cost-watcher",
            &schedule(lakeops_e2e::floor_to_minutes(now, 5) + Duration::minutes(5)),
        )
        .unwrap();
    assert_eq!(again["reconcile"]["reread"], 0, "{again}");
    assert!(tap.drain().await.is_empty());
}

/// Alerting never blocks enforcement: while SNS refuses every publish, a stop alert kept by one
/// run does not stop the next run from stopping a second runaway that started meanwhile. Both
/// alerts are delivered, once each, when SNS is back.
#[tokio::test]
async fn a_kept_alert_sns_still_refuses_does_not_hold_up_the_next_stop() {
    let emu = Emulator::start();
    let (config, tap) = athena_watch_setup(&emu, &["adhoc"]).await;
    let feed = EventFeed::create(&config).await;
    let runaway = |id: &str| {
        query(
            id,
            "adhoc",
            "RUNNING",
            "SELECT * FROM sales.clickstream",
            Utc::now() - Duration::minutes(90),
            None,
            1 << 30,
            None,
        )
    };
    let (first, second) = (runaway("q-runaway-1"), runaway("q-runaway-2"));
    emu.seed_queries(vec![first.clone(), second.clone()]);
    let functions = Functions::start(
        &emu,
        &[
            ("ALERT_TOPIC_ARN", tap.topic_arn.as_str()),
            ("LEDGER_TABLE", LEDGER_TABLE),
            ("KILLER_MODE", "enforce"),
        ],
    );
    let schedule = lakeops_e2e::event_file("schedule-long-query-killer.json");
    feed.announce(&functions, &[first]).await;
    // The first stop's alert: every attempt of the SDK fails (6).
    emu.inject_faults("sns", "Publish", 6, "error");
    let run = functions.invoke_file("long-query-killer", &schedule);
    assert!(run.is_err(), "{run:?}");
    // The second runaway reaches the index; SNS still refuses (every attempt of the next
    // publish: a run that finds kept alerts used to publish them first and stop nothing).
    feed.announce(&functions, &[second]).await;
    emu.inject_faults("sns", "Publish", 6, "error");
    let run = functions.invoke_file("long-query-killer", &schedule);
    let err = run.expect_err("alerts could not be published");
    assert!(err.contains("kept"), "{err}");
    assert_eq!(
        state_of(&config, "q-runaway-2").await,
        "CANCELLED",
        "the second runaway was stopped while SNS was down"
    );
    let injected: Vec<i64> = emu
        .injected_faults()
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["Injected"].as_i64().unwrap())
        .collect();
    assert_eq!(injected, [6, 6]);
    assert!(tap.drain().await.is_empty());

    let back = functions
        .invoke_file("long-query-killer", &schedule)
        .expect("SNS is back");
    let mut late: Vec<String> = back["delivered_late"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    late.sort();
    assert_eq!(
        late,
        [
            "long-query-killer/stopped/q-runaway-1",
            "long-query-killer/stopped/q-runaway-2"
        ]
    );
    assert_eq!(back["stop_alerts_kept"], 0);
    let kinds: Vec<String> = tap
        .drain()
        .await
        .iter()
        .map(|a| a.kind().to_string())
        .collect();
    assert_eq!(kinds, ["QueryStopped", "QueryStopped"]);
}

async fn state_of(config: &aws_config::SdkConfig, id: &str) -> String {
    aws_sdk_athena::Client::new(config)
        .get_query_execution()
        .query_execution_id(id)
        .send()
        .await
        .unwrap()
        .query_execution()
        .and_then(|q| q.status())
        .and_then(|s| s.state())
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

/// The outbox is not one 400 KB item: an SNS outage long enough to keep 150 stop alerts of 3 KB
/// (450 KB) keeps them all, and reads them back in full.
#[tokio::test]
async fn the_outbox_keeps_more_alerts_than_one_item_holds() {
    use lakeops::alert::{Alert, Severity};
    use lakeops::outbox::{AlertOutbox, Outbox};
    let emu = Emulator::start();
    let config = emu.sdk_config().await;
    lakeops_e2e::create_ledger_table(&config).await;
    let outbox = Outbox::new(
        aws_sdk_dynamodb::Client::new(&config),
        LEDGER_TABLE,
        "long-query-killer",
    );
    let now = Utc::now();
    let sql = "x".repeat(3000);
    for i in 0..150 {
        let alert = Alert::new(
            "QueryStopped",
            Severity::Critical,
            "long-query-killer",
            format!("long-query-killer/stopped/q-{i:03}"),
            now + Duration::seconds(i),
            "Stopped Athena query",
            sql.clone(),
        );
        outbox.keep_pending(&alert, now).await.unwrap();
    }
    let kept = outbox.pending_alerts().await.unwrap();
    assert_eq!(kept.len(), 150);
    assert_eq!(kept[0].id, "long-query-killer/stopped/q-000");
    outbox.forget_delivered(&kept[0].id).await.unwrap();
    assert_eq!(outbox.pending_alerts().await.unwrap().len(), 149);
}

/// Hot keys: every pricing transaction updates its workgroup's day total, and DynamoDB cancels
/// colliding transactions with `TransactionConflict`. Seven conflicts in a row on one pricing
/// (five feeders on the busiest workgroup at the morning peak) are waited out, with jitter,
/// inside one invocation: the message is not handed back, let alone dead-lettered.
#[tokio::test]
async fn pricing_waits_out_transaction_conflicts_on_a_hot_day_total() {
    let emu = Emulator::start();
    let (config, tap) = athena_watch_setup(&emu, &["bi"]).await;
    let feed = EventFeed::create(&config).await;
    let now = Utc::now();
    let dashboard = query(
        "q-dashboard",
        "bi",
        "SUCCEEDED",
        "SELECT region, sum(amount) FROM sales.orders GROUP BY 1",
        now - Duration::minutes(2),
        Some(now - Duration::minutes(1)),
        1 << 30,
        None,
    );
    emu.seed_queries(vec![dashboard.clone()]);
    let functions = Functions::start(
        &emu,
        &[
            ("ALERT_TOPIC_ARN", tap.topic_arn.as_str()),
            ("LEDGER_TABLE", LEDGER_TABLE),
            ("DIGEST_ENABLED", "false"),
        ],
    );
    emu.inject_faults("dynamodb", "TransactWriteItems", 7, "conflict");
    feed.deliver(&events_of_seeded(&[dashboard]), Delivery::default())
        .await;
    let invocations = feed.drain(&functions).await;
    assert_eq!(emu.injected_faults()[0]["Injected"], 7);
    assert_eq!(
        invocations, 1,
        "the conflicts were waited out in one invocation"
    );
    assert!(feed.queue.dead_letters().await.is_empty());
    let item = aws_sdk_dynamodb::Client::new(&config)
        .get_item()
        .table_name(lakeops_e2e::index::INDEX_TABLE)
        .key(
            "query_id",
            aws_sdk_dynamodb::types::AttributeValue::S("q-dashboard".into()),
        )
        .send()
        .await
        .unwrap();
    assert!(
        item.item().is_some_and(|i| i.contains_key("usd")),
        "priced: {item:?}"
    );
}

/// SNS refuses every attempt of the transformer's `LogErrors` publish in the invocation that saw
/// the failure (the fault in the step that publishes). The batch's records are still delivered
/// and the alert is kept in the outbox (DynamoDB); the next invocation, SNS back, publishes it
/// with its own alert, each once, and the one after sends nothing again. Before the outbox the
/// alert lived only in a log line.
#[tokio::test]
async fn a_log_errors_alert_sns_refused_is_kept_and_sent_once_by_the_next_invocation() {
    use lakeops_e2e::lake::{create_log_delivery, LOG_STREAM};
    use lakeops_e2e::{create_ledger_table, event_file, AlertTap};
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
    const TRANSFORMER: &str = "log-subscription-transformer";
    // Every attempt the SDK makes for the one publish.
    emu.inject_faults("sns", "Publish", 6, "error");
    let out = functions
        .invoke_file(
            TRANSFORMER,
            &event_file("cloudwatch-logs-subscription.json"),
        )
        .unwrap();
    assert_eq!(out["records_out"], 5, "records delivered: {out}");
    assert_eq!(out["alerts_undelivered"].as_array().map(Vec::len), Some(1));
    assert!(tap.drain().await.is_empty(), "SNS took nothing");
    assert_eq!(emu.injected_faults()[0]["Injected"], 6);

    // SNS is back. The next invocation (Firehose mode, a Glue error of its own) sends both.
    let answer = functions
        .invoke_file(TRANSFORMER, &event_file("firehose-cloudwatch-logs.json"))
        .unwrap();
    assert_eq!(answer["records"].as_array().map(Vec::len), Some(3));
    let mut groups: Vec<String> = tap
        .drain()
        .await
        .iter()
        .map(|a| {
            assert_eq!(a.kind(), "LogErrors");
            a.attributes["log_group"].clone()
        })
        .collect();
    groups.sort();
    assert_eq!(
        groups,
        ["/aws-glue/jobs/error", "/aws/lambda/orders-ingest"]
    );

    // Once: nothing is kept any more, and the Glue error is within its interval.
    functions
        .invoke_file(TRANSFORMER, &event_file("firehose-cloudwatch-logs.json"))
        .unwrap();
    assert!(tap.drain().await.is_empty());
}

/// Glue fails every `GetTable` while the feed prices an expensive query over a catalog table: the
/// alert still goes out, on time and once, without the hints it could not give, and says why
/// (`cost_hints_unavailable`); the batch counts the failed lookup. The lookup sits right before
/// the publish: were its failure to fail the settle, the alert would wait for Glue.
#[tokio::test]
async fn a_glue_outage_leaves_the_expensive_alert_without_hints_not_unsent() {
    let emu = Emulator::start();
    let (config, tap) = athena_watch_setup(&emu, &["adhoc"]).await;
    let glue = aws_sdk_glue::Client::new(&config);
    lakeops_e2e::lake::create_glue_database(&glue, "sales").await;
    lakeops_e2e::lake::create_parquet_table(&glue, "sales", "orders", 30, &["2026-11-22"]).await;
    let feed = EventFeed::create(&config).await;
    let ended = Utc::now() - Duration::minutes(4);
    let expensive = query(
        "q-expensive-glue-down",
        "adhoc",
        "SUCCEEDED",
        "SELECT * FROM sales.orders",
        ended - Duration::minutes(3),
        Some(ended),
        3 * TIB,
        None,
    );
    emu.seed_queries(vec![expensive.clone()]);
    let functions = Functions::start(
        &emu,
        &[
            ("ALERT_TOPIC_ARN", tap.topic_arn.as_str()),
            ("LEDGER_TABLE", LEDGER_TABLE),
            ("DIGEST_ENABLED", "false"),
        ],
    );
    emu.inject_faults("glue", "GetTable", 100, "error");
    feed.deliver(&events_of_seeded(&[expensive]), Delivery::default())
        .await;
    feed.drain(&functions).await;
    assert!(feed.queue.dead_letters().await.is_empty());
    let alerts = tap.drain().await;
    assert_eq!(alerts.len(), 1, "alerted once, Glue or not");
    let body = &alerts[0].body;
    assert!(
        body["details"]["cost_hints_unavailable"]
            .as_str()
            .is_some_and(|e| e.starts_with("glue:GetTable sales.orders:")),
        "{body}"
    );
    assert_eq!(body["details"]["cost_hints"], json!([]));
    assert!(
        emu.injected_faults()[0]["Injected"].as_u64().unwrap_or(0) >= 1,
        "Glue was asked and failed"
    );
}
