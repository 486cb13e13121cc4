//! Writes one synthetic day of transformed log records in both layouts, for
//! `scripts/bench/log_layout.py` to measure (`make bench-log-layout`): bytes stored, and bytes an
//! Athena query for "yesterday's timeouts and crashes by function" must read.
//!
//! The day: 8 Lambda functions (the benchmark's mixed batch, ~50k events each), one VPC flow log
//! group, one Glue job, one API Gateway access log — each a real shape
//! (`corpus/log-lines.txt`). Output: `<dir>/records-json.ndjson` (JSON layout: `fields` an object)
//! and `<dir>/records-parquet.ndjson` (what Firehose converts to Parquet: `fields` as JSON text).

use std::io::Write;

use log_subscription_transformer::decode;
use log_subscription_transformer::fixtures::{batch_json, Lcg};
use log_subscription_transformer::ndjson::Layout;
use log_subscription_transformer::transform::{self, Rules};
use serde_json::json;

const LAMBDA_EVENTS: usize = 50_000;
const OTHER_EVENTS: usize = 50_000;

fn batch(group: &str, stream: &str, messages: Vec<String>) -> String {
    let t0: i64 = 1_795_424_400_000;
    let events: Vec<_> = messages
        .into_iter()
        .enumerate()
        .map(|(i, m)| json!({"id": format!("{:056}", 39_000_000_000u64 * 1_000_000 + i as u64), "timestamp": t0 + i as i64 * 11, "message": m}))
        .collect();
    json!({"messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": group,
           "logStream": stream, "subscriptionFilters": ["lakeops-logs"], "logEvents": events})
    .to_string()
}

fn day() -> Vec<String> {
    let mut g = Lcg(7);
    let mut batches: Vec<String> = (0..8)
        .map(|i| {
            batch_json(LAMBDA_EVENTS).replace(
                "/aws/lambda/orders-ingest",
                &format!("/aws/lambda/service-{i}"),
            )
        })
        .collect();
    let ip = |g: &mut Lcg| format!("10.0.{}.{}", g.next_u64() % 256, g.next_u64() % 256);
    let vpc = (0..OTHER_EVENTS)
        .map(|_| {
            format!(
                "2 123456789012 eni-0a1b2c3d4e5f60718 {} {} {} {} 6 {} {} 1795400400 1795400460 {} OK",
                ip(&mut g),
                ip(&mut g),
                g.next_u64() % 65536,
                g.pick(&["443", "5432", "53", "8080"]),
                g.next_u64() % 50 + 1,
                g.next_u64() % 90_000 + 40,
                g.pick(&["ACCEPT", "ACCEPT", "ACCEPT", "REJECT"])
            )
        })
        .collect();
    batches.push(batch(
        "/aws/vpc/flow-logs/prod",
        "eni-0a1b2c3d4e5f60718-all",
        vpc,
    ));
    let glue = (0..OTHER_EVENTS / 5)
        .map(|i| {
            format!(
                "26/11/22 06:{:02}:{:02} {} {}: {}",
                i / 60 % 60,
                i % 60,
                g.pick(&["INFO", "INFO", "INFO", "WARN", "ERROR"]),
                g.pick(&[
                    "GlueContext",
                    "TaskSetManager",
                    "DAGScheduler",
                    "GlueLogger"
                ]),
                g.pick(&[
                    "Finished task 3.0 in stage 2.0 (TID 17) in 812 ms",
                    "Lost task 3.0 in stage 2.0 (TID 17): FetchFailed",
                    "Job failed: AnalysisException: Path does not exist: s3://lake/raw/orders/",
                    "Submitting 16 missing tasks from ResultStage 4",
                ])
            )
        })
        .collect();
    batches.push(batch("/aws-glue/jobs/output", "jr_5b0c9e1f2a3d", glue));
    let access = (0..OTHER_EVENTS / 5)
        .map(|_| {
            json!({"requestId": format!("{:08x}", g.next_u64()), "ip": ip(&mut g),
                   "requestTime": "22/Nov/2026:06:20:00 +0000", "httpMethod": g.pick(&["GET", "POST"]),
                   "resourcePath": "/orders", "status": g.pick(&["200", "200", "200", "404", "500"]),
                   "responseLength": (g.next_u64() % 4000).to_string()})
            .to_string()
        })
        .collect();
    batches.push(batch("/aws/apigateway/orders/access-logs", "prod", access));
    batches
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/log-layout".into());
    std::fs::create_dir_all(&dir).expect("output folder");
    let batches = day();
    for (layout, name) in [
        (Layout::Json, "records-json.ndjson"),
        (Layout::Parquet, "records-parquet.ndjson"),
    ] {
        let rules = Rules {
            layout,
            ..Rules::standard()
        };
        let path = format!("{dir}/{name}");
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("output file"));
        let mut records = 0;
        for b in &batches {
            let data = decode::parse(b.as_bytes()).expect("batch");
            let t = transform::transform(&data, "us-east-1", &rules, |_| {});
            records += t.lines.count;
            out.write_all(&t.lines.text).expect("write");
        }
        out.flush().expect("write");
        println!("{path}: {records} records");
    }
}
