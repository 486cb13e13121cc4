//! Writes the webhook payload of every alert kind in the corpus, for each platform, to a
//! directory: `<dir>/teams/<Kind>.json` (what `make cards` renders), `<dir>/google_chat/…` and
//! `<dir>/slack/…`. Also a CloudWatch alarm, a plain notification and an alert past every size
//! limit.
//!
//!   cargo run -p alert-notifier --example cards -- target/cards

use alert_notifier::channels::Platform;
use alert_notifier::{corpus, format, message};
use chrono::Utc;
use lakeops::alert::{Alert, Severity};

fn main() {
    let dir = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/cards".into()),
    );
    let mut alerts: Vec<Alert> = corpus::alerts()
        .into_iter()
        .map(|(kind, body)| {
            Alert::from_json_body(&body).unwrap_or_else(|e| panic!("corpus {kind}: {e}"))
        })
        .collect();
    alerts.push(message::read(corpus::ALARM, "sqs-1", Utc::now()).alert);
    alerts.push(
        message::read(
            "Someone tested the topic\nwith a plain message.",
            "sqs-2",
            Utc::now(),
        )
        .alert,
    );
    let mut huge = Alert::new(
        "Oversized",
        Severity::Warning,
        "query-cost-watcher",
        "Oversized/1",
        Utc::now(),
        "An alert past every size limit",
        "Every field, step and link is cut to fit.",
    );
    for i in 0..200 {
        huge = huge.field(&format!("Field {i}"), "v".repeat(200));
    }
    huge = huge.field(
        "SQL",
        format!("SELECT *\nFROM t\nWHERE {}", "x = 1 AND ".repeat(5000)),
    );
    alerts.push(huge);
    for platform in [Platform::Teams, Platform::GoogleChat, Platform::Slack] {
        let out = dir.join(platform.name());
        std::fs::create_dir_all(&out).expect("output directory");
        for a in &alerts {
            let body = format::render(platform, a);
            let path = out.join(format!("{}.json", a.kind));
            std::fs::write(&path, serde_json::to_vec_pretty(&body).expect("JSON"))
                .expect("write payload");
        }
        println!("{} payloads -> {}", alerts.len(), out.display());
    }
}
