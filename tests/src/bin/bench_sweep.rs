//! `make bench-sweep`: API calls and wall time of one query-cost-watcher sweep over 10,000 queries
//! that completed in its window, against the local emulator, through `cargo lambda invoke`.
//!
//! The lake: 10,000 queries completing in the window [08:55, 09:00) (submitted up to 4 h
//! earlier), 2,000 more that completed earlier in the look-back (5 h), and 1,000 older than the
//! look-back, spread over 3 workgroups. The sweep runs twice: at the default pace of 4
//! `ListQueryExecutions` calls a second (what production does: AWS allows 5/s per account) and
//! unpaced (100/s) to show what the function itself costs. Prints a Markdown table.

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use lakeops_e2e::lake::query;
use lakeops_e2e::{athena_watch_setup, event_file, Emulator, Functions, LEDGER_TABLE};
use serde_json::Value;

const IN_WINDOW: usize = 10_000;
const EARLIER: usize = 2_000;
const TOO_OLD: usize = 1_000;
const WORKGROUPS: [&str; 3] = ["etl", "analytics", "adhoc"];

fn lake(end: DateTime<Utc>) -> Vec<Value> {
    let s = Duration::seconds;
    let mut queries = Vec::with_capacity(IN_WINDOW + EARLIER + TOO_OLD);
    let mut push = |i: usize, completed: DateTime<Utc>, ran: Duration, kind: &str| {
        let wg = WORKGROUPS[i % 3];
        let gib = 1u64 << 30;
        queries.push(query(
            &format!("{kind}-{i:05}"),
            wg,
            if i % 50 == 0 { "FAILED" } else { "SUCCEEDED" },
            "SELECT count(*) FROM sales.orders WHERE dt = '2026-11-22'",
            completed - ran,
            Some(completed),
            (i as u64 % 700 + 1) * gib,
            None,
        ));
    };
    for i in 0..IN_WINDOW {
        // Completions spread over the 300 s window; run times from 1 s to 4 h.
        let completed = end - s(300) + s((i as i64 * 7) % 300);
        push(i, completed, s(1 + (i as i64 * 13) % 14_400), "win");
    }
    for i in 0..EARLIER {
        push(i, end - s(301 + (i as i64 * 11) % 17_000), s(30), "early");
    }
    for i in 0..TOO_OLD {
        push(i, end - Duration::hours(7) - s(i as i64), s(30), "old");
    }
    queries
}

#[tokio::main]
async fn main() {
    let end: DateTime<Utc> = "2026-11-23T09:00:00Z".parse().expect("time");
    let event = event_file("schedule-query-cost-watcher.json");
    println!("| pace (List calls/s) | queries in window | ListQueryExecutions | BatchGetQueryExecution | ListWorkGroups | wall time of the invoke |");
    println!("|---|---|---|---|---|---|");
    for pace in ["4", "100"] {
        let emu = Emulator::start();
        let (_config, tap) = athena_watch_setup(&emu, &WORKGROUPS).await;
        emu.seed_queries(lake(end));
        let functions = Functions::start(
            &emu,
            &[
                ("ALERT_TOPIC_ARN", tap.topic_arn.as_str()),
                ("LEDGER_TABLE", LEDGER_TABLE),
                ("ATHENA_LIST_CALLS_PER_SECOND", pace),
                ("COST_THRESHOLD_USD", "1000000"),
                ("RUST_LOG", "warn"),
            ],
        );
        // Warm-up: the first invoke starts the binary; the measured one is the second run on a
        // fresh emulator counter.
        functions
            .invoke_file(
                "query-cost-watcher",
                &event_file("athena-query-state-change.json"),
            )
            .ok();
        let before = emu.athena_call_counts();
        let started = Instant::now();
        let out = functions
            .invoke_file("query-cost-watcher", &event)
            .expect("sweep");
        let wall = started.elapsed();
        let after = emu.athena_call_counts();
        let calls = |action: &str| {
            after[action].as_u64().unwrap_or(0) - before[action].as_u64().unwrap_or(0)
        };
        assert_eq!(
            out["queries_completed"].as_u64(),
            Some(IN_WINDOW as u64),
            "the sweep must see every query of the window: {out}"
        );
        println!(
            "| {pace} | {} | {} | {} | {} | {:.1} s |",
            out["queries_completed"],
            calls("ListQueryExecutions"),
            calls("BatchGetQueryExecution"),
            calls("ListWorkGroups"),
            wall.as_secs_f64()
        );
    }
}
