//! Realistic, deterministic subscription payloads for the benchmarks: a mix of Lambda platform
//! lines (START / END / REPORT), JSON application logs, runtime text-format lines with levels,
//! e-mail addresses and IPs to redact, and the occasional timeout.

use serde_json::json;

/// A tiny deterministic generator (no `rand` dependency for a fixture).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next_u64() % items.len() as u64) as usize]
    }
}

/// The raw (uncompressed) JSON of one DATA_MESSAGE batch with `events` log events.
pub fn batch_json(events: usize) -> String {
    let mut g = Lcg(42);
    let mut log_events = Vec::with_capacity(events);
    let t0: i64 = 1_795_424_400_000;
    let mut request = String::new();
    for i in 0..events {
        let ts = t0 + i as i64 * 7;
        let phase = i % 20;
        if phase == 0 {
            request = format!(
                "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
                g.next_u64() as u32,
                g.next_u64() as u16,
                g.next_u64() % 4096,
                g.next_u64() % 4096,
                g.next_u64() * g.next_u64() % 0xffff_ffff_ffff
            );
        }
        let message = match phase {
            0 => format!("START RequestId: {request} Version: $LATEST\n"),
            18 => format!("END RequestId: {request}\n"),
            19 => format!(
                "REPORT RequestId: {request}\tDuration: {}.{:02} ms\tBilled Duration: {} ms\tMemory Size: 512 MB\tMax Memory Used: {} MB\t{}\n",
                g.next_u64() % 2000,
                g.next_u64() % 100,
                g.next_u64() % 2000 + 1,
                g.next_u64() % 400 + 60,
                if g.next_u64() % 10 == 0 { "Init Duration: 412.77 ms\t" } else { "" }
            ),
            p if p % 3 == 0 => json!({
                "level": g.pick(&["INFO", "INFO", "DEBUG", "WARN", "ERROR"]),
                "message": g.pick(&["batch received", "order stored", "retrying downstream call", "cache miss"]),
                "requestId": request,
                "orders": g.next_u64() % 1000,
                "customer_email": format!("user{}@example.com", g.next_u64() % 10_000),
                "latency_ms": g.next_u64() % 900,
                "path": "/v1/orders",
            })
            .to_string()
                + "\n",
            p if p % 3 == 1 => format!(
                "2026-11-23T09:00:{:02}.{:03}Z\t{request}\t{}\t{} from 10.0.{}.{} took {} ms\n",
                g.next_u64() % 60,
                g.next_u64() % 1000,
                g.pick(&["INFO", "INFO", "WARN", "ERROR"]),
                g.pick(&["GET /v1/orders", "POST /v1/orders", "loaded 412 rows", "connected to db"]),
                g.next_u64() % 256,
                g.next_u64() % 256,
                g.next_u64() % 3000
            ),
            _ => {
                if g.next_u64() % 500 == 0 {
                    format!("2026-11-23T09:00:03.000Z {request} Task timed out after 3.00 seconds\n")
                } else {
                    format!("processing item {} of batch {} ok\n", g.next_u64() % 10_000, i / 20)
                }
            }
        };
        log_events.push(json!({"id": format!("{:056}", 38_000_000_000u64 * 1_000_000 + i as u64), "timestamp": ts, "message": message}));
    }
    json!({
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": "/aws/lambda/orders-ingest",
        "logStream": "2026/11/23/[$LATEST]8f0c6d1e2a3b4c5d6e7f8091a2b3c4d5",
        "subscriptionFilters": ["lakeops-logs"],
        "logEvents": log_events,
    })
    .to_string()
}

/// A payload (`awslogs.data`: base64 of gzip) whose gzip body is about `compressed_bytes` long;
/// returns it with its event count and uncompressed size.
pub fn payload_of_compressed_size(compressed_bytes: usize) -> (String, usize, usize) {
    // Grow the event count until the compressed size is reached (gzip ratio is ~8-10x here).
    let mut events = 1000;
    loop {
        let raw = batch_json(events);
        let data = crate::decode::encode(raw.as_bytes());
        let gz_len = data.len() * 3 / 4;
        if gz_len >= compressed_bytes {
            return (data, events, raw.len());
        }
        events = (events as f64 * (compressed_bytes as f64 / gz_len as f64) * 1.02) as usize + 1;
    }
}
