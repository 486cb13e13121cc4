//! Who ran it, end to end: CloudTrail's `StartQueryExecution` records arrive on the index's
//! queue before a query's state changes, after its end (its expensive-query alert waits for
//! them, their messages back in the queue for `ATTRIBUTION_WAIT_SECONDS`), or never. Alerts of every kind, the budgets per person and the daily digest name the
//! right person, client and tables — and "unknown (no CloudTrail trail)" where no record came.

use chrono::{Duration, SecondsFormat, Timelike, Utc};
use lakeops::calendar::LocalDay;
use lakeops_e2e::index::{
    cloudtrail_start, events_of_seeded, Delivery, EventFeed, Identity, INDEX_TABLE,
};
use lakeops_e2e::lake::query;
use lakeops_e2e::{athena_watch_setup, DeliveredAlert, Emulator, Functions, LEDGER_TABLE};
use serde_json::{json, Value};

const GIB: u64 = 1 << 30;
const TIB: u64 = 1 << 40;

const JANE: Identity = Identity::Sso {
    permission_set: "DataAnalyst",
    user: "jane.doe@example.com",
};
const ETL: Identity = Identity::Role {
    role: "etl-runner",
    session: "nightly-orders-load",
};
const JOHN: Identity = Identity::IamUser("johndoe");
const DASHBOARD: Identity = Identity::Role {
    role: "bi-refresh",
    session: "dashboard-refresh",
};

// Real agent shapes (sources in shared/src/attribution.rs).
const CONSOLE: &str = "aws-internal/3";
const WRANGLER: &str = "Boto3/1.34.34 md/Botocore#1.34.34 ua/2.0 os/linux#5.10.209 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 Botocore/1.34.34 awswrangler/3.5.2";
const TABLEAU: &str = "aws-sdk-java/1.12.261 Windows_Server_2019/10.0 OpenJDK_64-Bit_Server_VM/11.0.16 java/11.0.16 AthenaJDBC/2.0.35 Tableau";
const AIRFLOW: &str = "Boto3/1.33.13 md/Botocore#1.33.13 ua/2.0 os/linux#5.10.0 lang/python#3.11.7 Botocore/1.33.13 Airflow/2.8.1 AmPP/8.16.0 Caller/AthenaOperator DagRunKey/8a7c3f62-1e4b-5c09-9d2e-3f1a0b6c7d8e";

fn alerts_of<'a>(alerts: &'a [DeliveredAlert], kind: &str, id: &str) -> Vec<&'a DeliveredAlert> {
    alerts
        .iter()
        .filter(|a| {
            a.kind() == kind
                && (a.body["details"]["query_execution_id"] == id
                    || a.body["details"]["latest_query_execution_id"] == id)
        })
        .collect()
}

fn field<'a>(a: &'a DeliveredAlert, label: &str) -> &'a str {
    a.body["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["label"] == label)
        .and_then(|f| f["value"].as_str())
        .unwrap_or_else(|| panic!("no field {label} in {}", a.body))
}

/// The alert names `person` (message attribute and "Run by" field), where the person came from
/// (`source`: the `person_source` attribute; a caller-chosen session name is shown as such) and
/// `client`.
fn assert_run_by(a: &DeliveredAlert, person: &str, source: &str, client: &str) {
    assert_eq!(
        a.attributes.get("run_by").map(String::as_str),
        Some(person),
        "{}",
        a.body
    );
    assert_eq!(
        a.attributes.get("person_source").map(String::as_str),
        Some(source),
        "{}",
        a.body
    );
    if source == "caller-chosen" {
        assert!(
            field(a, "Run by").contains("chosen by the caller"),
            "{}",
            a.body
        );
    }
    assert_eq!(
        a.attributes.get("client").map(String::as_str),
        Some(client),
        "{}",
        a.body
    );
    assert!(field(a, "Run by").starts_with(person), "{}", a.body);
    assert_eq!(field(a, "Client"), client);
}

async fn person_total(config: &aws_config::SdkConfig, person: &str, day: &str) -> f64 {
    let out = aws_sdk_dynamodb::Client::new(config)
        .get_item()
        .table_name(INDEX_TABLE)
        .key(
            "query_id",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("pday#{person}#{day}")),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.item
        .and_then(|i| i.get("usd").and_then(|v| v.as_n().ok()).cloned())
        .map(|n| n.parse().unwrap())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn alerts_budgets_and_the_digest_say_who_ran_each_query_whatever_order_cloudtrail_comes_in() {
    let emu = Emulator::start();
    let (config, tap) = athena_watch_setup(&emu, &["adhoc", "etl"]).await;
    let mut feed = EventFeed::create(&config).await;
    // A handed-back message stays invisible as in Lambda: the queue's 360 s, unless the function
    // shortens it (a held one: ATTRIBUTION_WAIT_SECONDS).
    feed.queue.retry_after_seconds = None;
    let now = Utc::now();
    let m = Duration::minutes;
    let window_end = lakeops_e2e::floor_to_minutes(now, 5);
    // Every query of this test is within the last 75 minutes: a zone where they are all on the
    // same local day (the digest's), whatever time the test runs.
    let tz = if now.hour() >= 2 { "UTC" } else { "Asia/Seoul" };
    let today = LocalDay::containing(now, tz.parse().unwrap()).to_string();

    let expensive = |id: &str, sql: &str, ended: chrono::DateTime<Utc>| {
        query(
            id,
            "adhoc",
            "SUCCEEDED",
            sql,
            ended - m(3),
            Some(ended),
            2 * TIB,
            None,
        )
    };
    // CloudTrail before its events: jane, in the console.
    let before = expensive(
        "q-before",
        "WITH recent AS (SELECT * FROM clickstream WHERE dt >= '2026-11-01') \
         SELECT r.*, c.segment FROM recent r JOIN crm.customers c ON r.customer_id = c.id",
        now - m(20),
    );
    // Ended seconds ago; its record comes after its end: the ETL role, through awswrangler.
    let after = expensive(
        "q-after",
        "SELECT o.*, i.sku FROM sales.orders o CROSS JOIN UNNEST(o.items) AS i(sku)",
        now - Duration::seconds(10),
    );
    // Ended seconds ago; no record ever comes.
    let never = expensive(
        "q-never",
        r#"SELECT * FROM "awsdatacatalog"."web"."access_logs""#,
        now - Duration::seconds(10),
    );
    let mut seeded = vec![before, after, never];
    for i in 0..6 {
        let sql = if i == 5 {
            "SELECT * FROM orders FOR TIMESTAMP AS OF TIMESTAMP '2026-11-01 00:00:00 UTC'".into()
        } else {
            format!("SELECT count(*) FROM sales.orders WHERE id = {i}")
        };
        let ended = now - m(30 + i);
        seeded.push(query(
            &format!("q-cheap-{i}"),
            "etl",
            "SUCCEEDED",
            &sql,
            ended - m(1),
            Some(ended),
            10 * GIB,
            None,
        ));
    }
    for i in 0..5 {
        let ended = window_end - m(1 + 2 * i);
        seeded.push(query(
            &format!("q-storm-{i}"),
            "etl",
            "FAILED",
            "SELECT * FROM sales.missing_table",
            ended - m(1),
            Some(ended),
            0,
            Some("TABLE_NOT_FOUND: Table awsdatacatalog.sales.missing_table does not exist"),
        ));
    }
    let runaway = query(
        "q-runaway",
        "adhoc",
        "RUNNING",
        "SELECT * FROM sales.clickstream CROSS JOIN sales.orders",
        now - m(70),
        None,
        GIB,
        None,
    );
    let long = query(
        "q-long",
        "etl",
        "RUNNING",
        "SELECT * FROM sales.clickstream",
        now - m(52),
        None,
        GIB,
        None,
    );
    seeded.push(runaway);
    seeded.push(long);
    emu.seed_queries(seeded.clone());

    let functions = Functions::start(
        &emu,
        &[
            ("ALERT_TOPIC_ARN", tap.topic_arn.as_str()),
            ("LEDGER_TABLE", LEDGER_TABLE),
            ("KILLER_MODE", "enforce"),
            ("DIGEST_ENABLED", "false"),
            ("TIMEZONE", tz),
            ("ATTRIBUTION_WAIT_SECONDS", "60"),
            (
                "DAILY_BUDGET_USD_BY_PRINCIPAL",
                "jane.doe@example.com=5,etl-runner=1000",
            ),
        ],
    );
    let start = |id: &str, wg: &str, who: &Identity, agent: &str| {
        cloudtrail_start(id, wg, who, agent, now - m(75))
    };

    // 1. The records that come first.
    let mut first = vec![
        start("q-before", "adhoc", &JANE, CONSOLE),
        start("q-runaway", "adhoc", &JOHN, TABLEAU),
        start("q-long", "etl", &DASHBOARD, AIRFLOW),
    ];
    for i in 0..5 {
        first.push(start(&format!("q-storm-{i}"), "etl", &DASHBOARD, AIRFLOW));
    }
    for i in [0, 3] {
        first.push(start(&format!("q-cheap-{i}"), "etl", &JANE, CONSOLE));
    }
    feed.deliver(&first, Delivery::default()).await;
    feed.drain(&functions).await;

    // 2. Every state change. q-after and q-never are held: ended seconds ago, caller unknown.
    feed.deliver(&events_of_seeded(&seeded), Delivery::default())
        .await;
    feed.drain(&functions).await;
    let mut alerts = tap.drain().await;
    assert_eq!(alerts_of(&alerts, "ExpensiveQuery", "q-before").len(), 1);
    assert!(
        alerts_of(&alerts, "ExpensiveQuery", "q-after").is_empty()
            && alerts_of(&alerts, "ExpensiveQuery", "q-never").is_empty(),
        "held for their CloudTrail records"
    );
    assert!(
        feed.queue.depth().await >= 2,
        "the held messages wait in the queue"
    );

    // 3. The late records (one repeated); the held messages come back and settle.
    let late = [
        start("q-after", "adhoc", &ETL, WRANGLER),
        start("q-after", "adhoc", &ETL, WRANGLER),
        start("q-cheap-1", "etl", &JOHN, TABLEAU),
        start("q-cheap-4", "etl", &JOHN, TABLEAU),
    ];
    feed.deliver(&late, Delivery::default()).await;
    // Back after the 60 s wait the feed set, not the queue's 360 s: q-after now attributed,
    // q-never (ended over 60 s ago) alerted as unknown.
    let waited = std::time::Instant::now();
    feed.drain_all(&functions, std::time::Duration::from_secs(150))
        .await;
    assert!(
        waited.elapsed() >= std::time::Duration::from_secs(40),
        "the held messages waited: {:?}",
        waited.elapsed()
    );
    alerts.extend(tap.drain().await);
    assert!(
        feed.queue.dead_letters().await.is_empty(),
        "a hold never dead-letters"
    );

    let before = alerts_of(&alerts, "ExpensiveQuery", "q-before");
    assert_run_by(
        before[0],
        "jane.doe@example.com",
        "identity-center",
        "console",
    );
    assert!(
        field(before[0], "Run by").contains("AWSReservedSSO_DataAnalyst"),
        "the principal (the SSO role) too"
    );
    let after = alerts_of(&alerts, "ExpensiveQuery", "q-after");
    assert_eq!(after.len(), 1, "alerted once, after its record");
    // A role session's name is its caller's choice: the role is charged, the name only shown.
    assert_run_by(after[0], "etl-runner", "caller-chosen", "awswrangler");
    assert_eq!(
        after[0].attributes.get("principal").map(String::as_str),
        Some(format!("arn:aws:iam::{}:role/etl-runner", lakeops_e2e::ACCOUNT).as_str())
    );
    let never = alerts_of(&alerts, "ExpensiveQuery", "q-never");
    assert_eq!(never.len(), 1, "alerted once the wait was over");
    assert_eq!(never[0].attributes["run_by"], "unknown");
    assert_eq!(field(never[0], "Run by"), "unknown (no CloudTrail trail)");

    // Spend per person and day: priced with its caller (jane), caller after the price
    // (johndoe), price after a hold (the ETL role).
    let cheap = 10.0 * 5.0 / 1024.0;
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    let jane = person_total(&config, "jane.doe@example.com", &today).await;
    assert!(close(jane, 10.0 + 2.0 * cheap), "jane: {jane}");
    let john = person_total(&config, "johndoe", &today).await;
    assert!(close(john, 2.0 * cheap), "johndoe: {john}");
    let etl = person_total(&config, "etl-runner", &today).await;
    assert!(close(etl, 10.0), "etl: {etl}");

    // 4. The killer: a warning and a stop, each naming who ran the query.
    functions
        .invoke(
            "long-query-killer",
            &lakeops_e2e::event("schedule-long-query-killer.json"),
        )
        .unwrap();
    // 5. A sweep, with the digest of today: the storm, jane's budget, the digest.
    let mut schedule = lakeops_e2e::event("schedule-query-cost-watcher.json");
    schedule["time"] = json!(window_end.to_rfc3339_opts(SecondsFormat::Secs, true));
    schedule["detail"] = json!({"digest": today});
    let run = functions.invoke("query-cost-watcher", &schedule).unwrap();
    assert_eq!(run["digest"], json!(today), "{run}");
    alerts.extend(tap.drain().await);

    let stopped = alerts_of(&alerts, "QueryStopped", "q-runaway");
    assert_eq!(stopped.len(), 1);
    assert_run_by(stopped[0], "johndoe", "iam-user", "tableau");
    let warned = alerts_of(&alerts, "LongQueryWarning", "q-long");
    assert_eq!(warned.len(), 1);
    assert_run_by(warned[0], "bi-refresh", "caller-chosen", "airflow");
    let storm: Vec<&DeliveredAlert> = alerts.iter().filter(|a| a.kind() == "RetryStorm").collect();
    assert_eq!(storm.len(), 1, "{run}");
    assert_run_by(storm[0], "bi-refresh", "caller-chosen", "airflow");
    let budget: Vec<&DeliveredAlert> = alerts
        .iter()
        .filter(|a| a.kind() == "BudgetExceeded")
        .collect();
    assert_eq!(budget.len(), 1, "jane's, not the ETL role's: {run}");
    assert_eq!(budget[0].attributes["run_by"], "jane.doe@example.com");

    let digest: Vec<&DeliveredAlert> = alerts
        .iter()
        .filter(|a| a.kind() == "DailyDigest")
        .collect();
    assert_eq!(digest.len(), 1);
    let d = &digest[0].body["details"];
    let spend = |list: &str, name: &str| -> Option<f64> {
        d[list]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .map(|s| s["usd"].as_f64().unwrap())
    };
    assert!(close(
        spend("spend_by_person", "jane.doe@example.com").unwrap(),
        jane
    ));
    assert!(close(spend("spend_by_person", "etl-runner").unwrap(), 10.0));
    // Besides the two cheap ones, the runaway he ran (CANCELLED by the killer, billed for its
    // 1 GiB), priced when this sweep's reconciliation read it again.
    let john_today = spend("spend_by_person", "johndoe").unwrap();
    assert!(
        close(john_today, 2.0 * cheap + cheap / 10.0),
        "{john_today}"
    );
    // q-never, q-cheap-2 and q-cheap-5 had no record.
    let unknown = spend("spend_by_person", "unknown (no CloudTrail trail)").unwrap();
    assert!(close(unknown, 10.0 + 2.0 * cheap), "{unknown}");
    assert!(close(spend("spend_by_client", "console").unwrap(), jane));
    assert!(close(
        spend("spend_by_client", "awswrangler").unwrap(),
        10.0
    ));
    let tables: Vec<(&str, u64)> = d["top_tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["table"].as_str().unwrap(),
                t["scanned_bytes"].as_u64().unwrap(),
            )
        })
        .collect();
    for (table, at_least) in [
        ("sales.clickstream", 2 * TIB),
        ("crm.customers", 2 * TIB),
        ("sales.orders", 2 * TIB + 4 * 10 * GIB),
        ("web.access_logs", 2 * TIB),
        ("unparsed", 10 * GIB),
    ] {
        let found = tables.iter().find(|(t, _)| *t == table);
        assert!(
            found.is_some_and(|(_, b)| *b >= at_least),
            "{table} in {tables:?}"
        );
    }
    assert!(
        !tables
            .iter()
            .any(|(t, _)| *t == "sales.recent" || *t == "recent"),
        "a CTE is not a table: {tables:?}"
    );
    let text = &digest[0].body["fields"];
    let text: Vec<&Value> = text.as_array().unwrap().iter().collect();
    assert!(
        text.iter().any(|f| f["label"] == "Spend by person"),
        "{text:?}"
    );
}
