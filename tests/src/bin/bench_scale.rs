//! `make bench-scale`: the Athena guardrails under steady traffic of 10,000 and 1,000,000
//! queries a day over 100 workgroups, against the local emulator, through the real binaries.
//!
//! The account at the end of a 5-minute interval, in steady state:
//! - the hour before the interval already seen: its queries in Athena's history and priced in
//!   the query index, each workgroup's reconciliation checkpoint at its newest query (what the
//!   previous runs left);
//! - three runaway queries RUNNING for 75 minutes, indexed from their events;
//! - the interval's own traffic (a day's queries / 288, 20 s each, 1 in 97 scanning 2 TiB): in
//!   Athena, and their state-change events fed to the cost watcher in batches of 100 (the SQS
//!   event source mapping's batch) with 10% of the events dropped.
//!
//! Then, as production would: the feed's batches, one scheduled cost-watcher run (reconciliation,
//! window, budgets), one killer run (enforce) and one digest run, each measured: wall time of the
//! invoke, Athena calls by action and DynamoDB calls by action (counted by the emulator), and
//! the expensive and runaway queries that were not alerted (must be none). Prints Markdown.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use lakeops::athena::{QueryExecution, QueryState};
use lakeops::pricing::PriceList;
use lakeops::query_index::{state_change_of, Checkpoint, IndexStore, Pricing, QueryIndex};
use lakeops_e2e::index::{cloudtrail_start, life, share_of, Identity, INDEX_TABLE};
use lakeops_e2e::lake::query;
use lakeops_e2e::{athena_watch_setup, floor_to_minutes, Emulator, Functions, LEDGER_TABLE};
use serde_json::{json, Value};

const WORKGROUPS: usize = 100;
const RUNAWAYS: usize = 3;
const DROP: f64 = 0.1;
const BATCH: usize = 100;
const GIB: u64 = 1 << 30;
const TIB: u64 = 1 << 40;
/// Times each function runs a day: the sweep every 5 minutes, the killer every 2.
const SWEEPS_A_DAY: f64 = 288.0;
const KILLER_RUNS_A_DAY: f64 = 720.0;

fn wg(i: usize) -> String {
    format!("wg-{:03}", i % WORKGROUPS)
}

/// Calls by service and action, from the emulator.
type Counts = BTreeMap<String, BTreeMap<String, u64>>;

fn counts(emu: &Emulator) -> Counts {
    serde_json::from_value(emu.call_counts()).unwrap_or_default()
}

fn diff(before: &Counts, after: &Counts, service: &str) -> BTreeMap<String, u64> {
    let empty = BTreeMap::new();
    let b = before.get(service).unwrap_or(&empty);
    after
        .get(service)
        .unwrap_or(&empty)
        .iter()
        .map(|(action, n)| (action.clone(), n - b.get(action).copied().unwrap_or(0)))
        // The benchmark's own questions to the emulator are not the functions' calls.
        .filter(|(action, n)| *n > 0 && !action.starts_with("Lakeops"))
        .collect()
}

/// One measured step.
struct Step {
    name: String,
    invokes: usize,
    wall_s: f64,
    athena: BTreeMap<String, u64>,
    dynamodb: BTreeMap<String, u64>,
}

impl Step {
    fn athena(&self, action: &str) -> u64 {
        self.athena.get(action).copied().unwrap_or(0)
    }
    /// Calls (not the emulator's item counts, named `<action>.items`).
    fn dynamodb_total(&self) -> u64 {
        self.dynamodb
            .iter()
            .filter(|(a, _)| !a.contains('.'))
            .map(|(_, n)| n)
            .sum()
    }
}

async fn measure(
    emu: &Emulator,
    name: &str,
    invokes: usize,
    run: impl std::future::Future<Output = ()>,
) -> Step {
    let before = counts(emu);
    let t = Instant::now();
    run.await;
    let wall_s = t.elapsed().as_secs_f64();
    let after = counts(emu);
    Step {
        name: name.to_string(),
        invokes,
        wall_s,
        athena: diff(&before, &after, "athena"),
        dynamodb: diff(&before, &after, "dynamodb"),
    }
}

fn sqs_batch(events: &[Value]) -> Value {
    let records: Vec<Value> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            json!({
                "messageId": format!("m-{}-{i}", e["id"].as_str().unwrap_or_default()),
                "receiptHandle": "bench",
                "body": e.to_string(),
                "attributes": {},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:lakeops-query-events",
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    json!({ "Records": records })
}

fn execution(q: &Value) -> QueryExecution {
    let time = |v: &Value| {
        v.as_f64()
            .and_then(|s| DateTime::from_timestamp_millis((s * 1000.0) as i64))
    };
    QueryExecution {
        workgroup: q["WorkGroup"].as_str().unwrap_or_default().to_string(),
        sql: q["Query"].as_str().unwrap_or_default().to_string(),
        state: QueryState::parse(q["State"].as_str().unwrap_or_default()),
        submitted_at: time(&q["SubmissionDateTime"]),
        completed_at: time(&q["CompletionDateTime"]),
        data_scanned_bytes: q["DataScannedInBytes"].as_u64(),
        ..QueryExecution::example(q["QueryExecutionId"].as_str().unwrap_or_default())
    }
}

struct Outcome {
    per_day: u64,
    in_interval: usize,
    in_history: usize,
    events_sent: usize,
    events_dropped: usize,
    steps: Vec<Step>,
    missed_expensive: Vec<String>,
    missed_runaways: Vec<String>,
}

async fn scenario(per_day: u64) -> Outcome {
    let emu = Emulator::start();
    let names: Vec<String> = (0..WORKGROUPS).map(wg).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let (config, tap) = athena_watch_setup(&emu, &refs).await;
    let index = QueryIndex::new(aws_sdk_dynamodb::Client::new(&config), INDEX_TABLE);
    let end = floor_to_minutes(Utc::now(), 5);
    let start = end - Duration::minutes(5);
    let s = Duration::seconds;
    let price = PriceList::default();

    // The hour before the interval: in Athena and priced in the index.
    let in_history = (per_day / 24) as usize;
    let history: Vec<Value> = (0..in_history)
        .map(|i| {
            let completed = start - s(1 + (i as i64 * 3600) / in_history as i64);
            query(
                &format!("h-{i:07}"),
                &wg(i),
                "SUCCEEDED",
                "SELECT count(*) FROM sales.orders WHERE dt = '2026-11-23'",
                completed - s(20),
                Some(completed),
                GIB,
                None,
            )
        })
        .collect();
    for chunk in history.chunks(5_000) {
        emu.seed_queries(chunk.to_vec());
    }
    // One at a time: moto's DynamoDB does not take concurrent transactions.
    for q in history.iter().map(execution) {
        let day = lakeops::calendar::LocalDay::containing(
            q.completed_at.unwrap(),
            chrono_tz::Asia::Seoul,
        );
        let tables = lakeops::tables_read::tables_read(&q.sql, q.database.as_deref());
        let pricing = Pricing {
            query: &q,
            usd: price.charge(&q).usd(),
            day: &day.to_string(),
            tables: &tables,
        };
        index
            .record_finished(pricing, Utc::now(), None)
            .await
            .expect("seed the index");
    }
    for w in 0..WORKGROUPS {
        // The newest history query of each workgroup is the lowest index i with i % 100 == w.
        let newest = (w < in_history).then(|| format!("h-{w:07}"));
        index
            .save_checkpoint(
                &wg(w),
                &Checkpoint {
                    stop_at: newest,
                    ..Checkpoint::default()
                },
                Utc::now(),
            )
            .await
            .expect("checkpoint");
    }

    // Runaways, indexed from their events.
    let runaways: Vec<Value> = (0..RUNAWAYS)
        .map(|r| {
            query(
                &format!("runaway-{r}"),
                &wg(r * 37),
                "RUNNING",
                "SELECT * FROM sales.clickstream CROSS JOIN sales.orders",
                end - Duration::minutes(75),
                None,
                100 * GIB,
                None,
            )
        })
        .collect();
    emu.seed_queries(runaways.clone());
    for q in &runaways {
        let id = q["QueryExecutionId"].as_str().unwrap();
        for e in life(
            id,
            q["WorkGroup"].as_str().unwrap(),
            end - Duration::minutes(75),
            None,
        ) {
            index
                .apply_state_change(&state_change_of(&e).unwrap())
                .await
                .expect("index a runaway");
        }
    }

    // The interval's traffic.
    let in_interval = (per_day / 288) as usize;
    let mut interval = Vec::with_capacity(in_interval);
    let mut events = Vec::new();
    let mut expensive = BTreeSet::new();
    let mut late_starts = Vec::new();
    for j in 0..in_interval {
        let id = format!("n-{j:06}");
        let submitted = start + s((j as i64 * 300) / in_interval as i64);
        let completed = submitted + s(20);
        let big = j % 97 == 0;
        let done = completed < end;
        interval.push(query(
            &id,
            &wg(j),
            if done { "SUCCEEDED" } else { "RUNNING" },
            "SELECT * FROM sales.clickstream WHERE dt = '2026-11-23'",
            submitted,
            done.then_some(completed),
            if big { 2 * TIB } else { GIB },
            None,
        ));
        if big && done {
            expensive.insert(id.clone());
        }
        events.extend(life(
            &id,
            &wg(j),
            submitted,
            done.then_some(("SUCCEEDED", completed)),
        ));
        // Who ran it: CloudTrail's record for 9 queries in 10 (no trail covers the rest), after
        // the query's own events (CloudTrail reaches EventBridge later than Athena does).
        if share_of(&format!("trail:{id}")) < 0.9 {
            let who = Identity::Sso {
                permission_set: "DataAnalyst",
                user: ["ana", "ben", "chloe", "dev"][j % 4],
            };
            late_starts.push(cloudtrail_start(
                &id,
                &wg(j),
                &who,
                "aws-internal/3",
                submitted,
            ));
        }
    }
    events.extend(late_starts);
    for chunk in interval.chunks(5_000) {
        emu.seed_queries(chunk.to_vec());
    }
    let (dropped, events): (Vec<Value>, Vec<Value>) = events
        .into_iter()
        .partition(|e| share_of(&format!("drop:{}", e["id"].as_str().unwrap_or_default())) < DROP);

    let functions = Functions::start(
        &emu,
        &[
            ("ALERT_TOPIC_ARN", tap.topic_arn.as_str()),
            ("LEDGER_TABLE", LEDGER_TABLE),
            ("KILLER_MODE", "enforce"),
            ("DIGEST_ENABLED", "false"),
            // Measured without holding expensive queries for their CloudTrail records: every
            // batch settles at once (a hold hands a message back, which this loop counts as a
            // failure).
            ("ATTRIBUTION_WAIT_SECONDS", "0"),
            ("RUST_LOG", "warn"),
        ],
    );
    // Warm-up (starts the binaries); not measured.
    let schedule = |time: DateTime<Utc>, detail: Value| {
        let mut e = lakeops_e2e::event("schedule-query-cost-watcher.json");
        e["time"] = json!(time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        e["detail"] = detail;
        e
    };
    // An unreadable message: the feed hands it back and does nothing else.
    functions
        .invoke(
            lakeops_e2e::index::FEED_FUNCTION,
            &sqs_batch(&[json!({"id": "warm-up"})]),
        )
        .ok();
    let mut dry = lakeops_e2e::event("schedule-long-query-killer.json");
    dry["detail"] = json!({"dry_run": true});
    functions.invoke("long-query-killer", &dry).ok();

    let mut steps = Vec::new();
    let batches: Vec<&[Value]> = events.chunks(BATCH).collect();
    steps.push(
        measure(&emu, "feed: the interval's events", batches.len(), async {
            for batch in &batches {
                let answer = functions
                    .invoke(lakeops_e2e::index::FEED_FUNCTION, &sqs_batch(batch))
                    .expect("feed batch");
                let failed = answer["batchItemFailures"].as_array().map_or(0, Vec::len);
                assert_eq!(failed, 0, "{answer}");
            }
        })
        .await,
    );
    let mut sweep = Value::Null;
    steps.push(
        measure(&emu, "cost watcher: scheduled run", 1, async {
            sweep = functions
                .invoke("query-cost-watcher", &schedule(end, json!({})))
                .expect("scheduled run");
        })
        .await,
    );
    eprintln!(
        "scheduled run: reconcile {}, index calls {}",
        json!({
            "indexed": sweep["reconcile"]["indexed"].as_array().map_or(0, Vec::len),
            "reread": sweep["reconcile"]["reread"],
            "unfinished": sweep["reconcile"]["unfinished"],
            "priced": sweep["priced"],
            "expensive": sweep["expensive"].as_array().map_or(0, Vec::len),
        }),
        sweep["index_calls"]
    );
    steps.push(
        measure(&emu, "killer: scheduled run", 1, async {
            functions
                .invoke(
                    "long-query-killer",
                    &lakeops_e2e::event("schedule-long-query-killer.json"),
                )
                .expect("killer run");
        })
        .await,
    );
    steps.push(
        measure(&emu, "cost watcher: digest run", 1, async {
            functions
                .invoke(
                    "query-cost-watcher",
                    &schedule(end + Duration::minutes(5), json!({"digest": true})),
                )
                .expect("digest run");
        })
        .await,
    );

    let alerts = tap.drain().await;
    let alerted = |kind: &str| -> BTreeSet<String> {
        alerts
            .iter()
            .filter(|a| a.kind() == kind)
            .filter_map(|a| {
                a.body["details"]["query_execution_id"]
                    .as_str()
                    .map(str::to_string)
            })
            .collect()
    };
    let got = alerted("ExpensiveQuery");
    let stopped = alerted("QueryStopped");
    Outcome {
        per_day,
        in_interval,
        in_history,
        events_sent: events.len(),
        events_dropped: dropped.len(),
        steps,
        missed_expensive: expensive.difference(&got).cloned().collect(),
        missed_runaways: (0..RUNAWAYS)
            .map(|r| format!("runaway-{r}"))
            .filter(|id| !stopped.contains(id))
            .collect(),
    }
}

fn show(map: &BTreeMap<String, u64>) -> String {
    if map.is_empty() {
        return "—".into();
    }
    map.iter()
        .map(|(a, n)| format!("{a} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::main]
async fn main() {
    let volumes: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.replace('_', "").parse().ok())
        .collect();
    let volumes = if volumes.is_empty() {
        vec![10_000, 1_000_000]
    } else {
        volumes
    };
    let mut outcomes = Vec::new();
    for per_day in volumes {
        eprintln!("bench-scale: {per_day} queries/day ...");
        outcomes.push(scenario(per_day).await);
    }
    println!("| queries/day | step | invokes | wall time | Athena calls | DynamoDB calls |");
    println!("|---|---|---|---|---|---|");
    for o in &outcomes {
        for s in &o.steps {
            println!(
                "| {} | {} | {} | {:.2} s | {} | {} ({}) |",
                o.per_day,
                s.name,
                s.invokes,
                s.wall_s,
                show(&s.athena),
                s.dynamodb_total(),
                show(&s.dynamodb)
            );
        }
    }
    println!();
    println!("| queries/day | interval's queries | history in the index | events fed (10% dropped) | List calls/s (suite, average) | killer run | missed expensive | missed runaways |");
    println!("|---|---|---|---|---|---|---|---|");
    for o in &outcomes {
        let sweep = &o.steps[1];
        let killer = &o.steps[2];
        // The feed makes no List call; the killer none; the sweep's are reconciliation's.
        let list_per_s = (sweep.athena("ListQueryExecutions") as f64) / 300.0
            + (killer.athena("ListQueryExecutions") as f64) / 120.0;
        println!(
            "| {} | {} | {} | {} sent, {} dropped | {:.3} | {:.2} s, {} List | {} | {} |",
            o.per_day,
            o.in_interval,
            o.in_history,
            o.events_sent,
            o.events_dropped,
            list_per_s,
            killer.wall_s,
            killer.athena("ListQueryExecutions"),
            o.missed_expensive.len(),
            o.missed_runaways.len()
        );
    }
    println!();
    println!("DynamoDB calls a day (feed and sweep × {SWEEPS_A_DAY}, killer × {KILLER_RUNS_A_DAY}, digest × 1):");
    for o in &outcomes {
        let per_day: f64 = o.steps[0].dynamodb_total() as f64 * SWEEPS_A_DAY
            + o.steps[1].dynamodb_total() as f64 * SWEEPS_A_DAY
            + o.steps[2].dynamodb_total() as f64 * KILLER_RUNS_A_DAY
            + o.steps[3].dynamodb_total() as f64;
        let mut by_action: BTreeMap<String, f64> = BTreeMap::new();
        for (i, s) in o.steps.iter().enumerate() {
            let times = [SWEEPS_A_DAY, SWEEPS_A_DAY, KILLER_RUNS_A_DAY, 1.0][i];
            for (a, n) in &s.dynamodb {
                *by_action.entry(a.clone()).or_default() += *n as f64 * times;
            }
        }
        let shown: Vec<String> = by_action
            .iter()
            .filter(|(a, _)| !a.contains('.'))
            .map(|(a, n)| format!("{a} {:.0}", n))
            .collect();
        println!(
            "- {}/day: {:.0} calls ({})",
            o.per_day,
            per_day,
            shown.join(", ")
        );
        let n = |a: &str| by_action.get(a).copied().unwrap_or(0.0);
        // Write units: an update 1 + 1 for the global secondary index it moves an item in or out
        // of; a transaction 2 per item it writes (counted by the emulator) + 2 for the query's
        // ~1 KB copy in `completed`; puts and deletes 1. Read units: strongly consistent gets 1; BatchGetItem at most 50 keys × 0.5;
        // Query/Scan 0.5 per call plus the bytes they return, ~600 B per finished query at
        // 0.5 per 4 KB: each sweep reads its 65 minutes of queries, the digest a day's.
        let wru = 2.0 * n("UpdateItem")
            + 2.0 * n("TransactWriteItems.items")
            + 2.0 * n("TransactWriteItems")
            + n("PutItem")
            + n("DeleteItem");
        let day = o.per_day as f64;
        let bytes_read = SWEEPS_A_DAY * day * 65.0 / 1440.0 * 600.0 + day * 600.0;
        let rru = n("GetItem")
            + 25.0 * n("BatchGetItem")
            + 0.5 * (n("Query") + n("Scan"))
            + bytes_read / 4096.0 * 0.5;
        // Items live 3 days (TTL), each also in `completed`: ~1.4 KB a query.
        let storage_gb = 3.0 * day * 1400.0 / 1e9;
        let usd = lakeops_e2e::dynamodb_price::usd_a_day(wru, rru, storage_gb);
        println!(
            "  ≈ {:.2} M write units + {:.2} M read units + {:.2} GB stored = ${:.2} a day (on-demand, us-east-1)",
            wru / 1e6,
            rru / 1e6,
            storage_gb,
            usd
        );
        if !o.missed_expensive.is_empty() || !o.missed_runaways.is_empty() {
            println!(
                "  MISSED: expensive {:?}, runaways {:?}",
                o.missed_expensive, o.missed_runaways
            );
        }
    }
}
