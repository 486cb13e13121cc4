//! The demo's report: what a person reads in a minute — per function what it saw and what it
//! did, the alerts one line each, the chat posts — printed, and written as an HTML page with the
//! posts rendered as the cards people receive (Teams by Microsoft's Adaptive Cards renderer,
//! Google Chat and Slack by `tests/cards/report.js`, which draws their card and block layouts).
//! `make test` opens the page in headless Chromium (`tests/cards/check-report.mjs`).

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::notify::Received;
use crate::DeliveredAlert;

/// One function invocation of the demo.
pub struct Run {
    pub function: String,
    /// The event file, relative to the repository.
    pub event: String,
    /// The event as sent.
    pub payload: Value,
    /// The function's answer, or its error.
    pub answer: Result<Value, String>,
}

/// Everything the demo saw.
pub struct Report {
    /// What was set up, one line each.
    pub setup: Vec<String>,
    pub runs: Vec<Run>,
    pub alerts: Vec<DeliveredAlert>,
    pub posts: Vec<Received>,
    /// Channel name → platform (`teams`, `google_chat`, `slack`).
    pub channels: Vec<(String, String)>,
}

/// What a run saw and what it did, in a few words.
pub fn describe(run: &Run) -> (String, String) {
    let a = match &run.answer {
        Ok(a) => a,
        Err(e) => return ("—".into(), format!("failed: {}", first_line(e))),
    };
    let n = |v: &Value| v.as_array().map_or(0, Vec::len);
    let ids = |v: &Value| {
        let list: Vec<&str> = v
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        list.join(", ")
    };
    match run.function.as_str() {
        "query-cost-feed" => (
            format!(
                "{} Athena and CloudTrail events",
                n(&run.payload["Records"])
            ),
            format!(
                "indexed them; {} failed back to the queue",
                n(&a["batchItemFailures"])
            ),
        ),
        "query-cost-watcher" => (
            format!(
                "window {}–{} over {} workgroups; reconciliation found {} queries",
                hhmm(&a["window_start"]),
                hhmm(&a["window_end"]),
                n(&a["workgroups"]),
                n(&a["reconcile"]["indexed"])
            ),
            format!(
                "priced {} (${:.2}); {} expensive, {} alerted",
                a["priced"].as_u64().unwrap_or(0),
                spend(&a["priced_spend"]),
                n(&a["expensive"]),
                n(&a["alerted"])
            ),
        ),
        "long-query-killer" => (
            format!(
                "{} running queries ({} mode)",
                a["active_queries"].as_u64().unwrap_or(0),
                a["mode"].as_str().unwrap_or("?")
            ),
            format!(
                "warned {} [{}], stopped {} [{}], exempt {}",
                n(&a["warned"]),
                ids(&a["warned"]),
                n(&a["stopped"]),
                ids(&a["stopped"]),
                n(&a["exempt"])
            ),
        ),
        "row-count-reconciler" => (
            format!(
                "{} checks for {}; {} Athena queries (${:.4})",
                a["checks"].as_u64().unwrap_or(0),
                a["run_date"].as_str().unwrap_or("?"),
                a["queries"].as_u64().unwrap_or(0),
                a["cost_usd"].as_f64().unwrap_or(0.0)
            ),
            format!(
                "{} failing [{}], {} alerted",
                n(&a["failing"]),
                ids(&a["failing"]),
                n(&a["alerted"])
            ),
        ),
        "log-subscription-transformer" => describe_transformer(a),
        _ => ("—".into(), first_line(&a.to_string())),
    }
}

fn describe_transformer(a: &Value) -> (String, String) {
    if let Some(records) = a["records"].as_array() {
        let count = |r: &str| records.iter().filter(|x| x["result"] == r).count();
        return (
            format!("Firehose transformation: {} records", records.len()),
            format!(
                "answered {} Ok, {} Dropped, {} ProcessingFailed",
                count("Ok"),
                count("Dropped"),
                count("ProcessingFailed")
            ),
        );
    }
    let u = |k: &str| a[k].as_u64().unwrap_or(0);
    (
        format!("subscription: {} log events", u("events_in")),
        format!(
            "{} records to Firehose, {} redacted, {} alert(s)",
            u("records_out"),
            u("redacted"),
            a["alerted"].as_array().map_or(0, Vec::len)
        ),
    )
}

/// `HH:MM` of an RFC 3339 time.
fn hhmm(v: &Value) -> String {
    v.as_str()
        .and_then(|s| s.get(11..16))
        .unwrap_or("?")
        .to_string()
}

fn spend(per_workgroup: &Value) -> f64 {
    per_workgroup
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(_, w)| w["usd"].as_f64())
        .sum()
}

fn first_line(s: &str) -> String {
    let line = s.trim().lines().next().unwrap_or_default();
    line.chars().take(160).collect()
}

/// The alert as one line: severity, kind, subject, who ran it when known, and why it cost so
/// much (the cost hints' kinds) when the alert says.
pub fn alert_line(a: &DeliveredAlert) -> String {
    let attr = |k: &str| a.attributes.get(k).map(String::as_str).unwrap_or("");
    let subject = a
        .subject
        .trim_start_matches("[lakeops] ")
        .split_once(": ")
        .map_or(a.subject.as_str(), |(_, s)| s);
    let who = match attr("run_by") {
        "" | "unknown" => String::new(),
        person => format!(" — run by {person}"),
    };
    let hints: Vec<&str> = a.body["details"]["cost_hints"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h["kind"].as_str())
        .collect();
    let why = if hints.is_empty() {
        String::new()
    } else {
        format!(" — why: {}", hints.join(", "))
    };
    format!(
        "{:<8} {:<16} {subject}{who}{why}",
        attr("severity").to_uppercase(),
        attr("kind")
    )
}

impl Report {
    fn platform_of(&self, post: &Received) -> &str {
        let channel = post.path.trim_start_matches('/');
        self.channels
            .iter()
            .find(|(n, _)| n == channel)
            .map_or("unknown", |(_, p)| p.as_str())
    }

    /// The summary a person reads in a minute.
    pub fn print(&self, dir: &Path) {
        println!("\n\x1b[1mWhat each function saw and did\x1b[0m");
        for run in &self.runs {
            let (saw, did) = describe(run);
            println!("  {:<29} {saw}\n  {:<29} → {did}", run.function, "");
        }
        println!("\n\x1b[1mAlerts published ({})\x1b[0m", self.alerts.len());
        for a in &self.alerts {
            println!("  {}", alert_line(a));
        }
        println!("\n\x1b[1mChat posts ({})\x1b[0m", self.posts.len());
        for p in &self.posts {
            println!(
                "  {:<27} HTTP {}  {}",
                format!(
                    "{} ({})",
                    p.path.trim_start_matches('/'),
                    self.platform_of(p)
                ),
                p.status,
                p.alert_id().unwrap_or_default()
            );
        }
        println!(
            "\nReport: {} (the posts as cards)\nEach function's full answer: {}",
            dir.join("report.html").display(),
            dir.join("answers").display()
        );
    }

    /// Writes `report.html`, each run's answer under `answers/`, and the card renderer's
    /// scripts beside the page (from `tests/cards/node_modules`, when installed).
    pub fn write(&self, dir: &Path, repo: &Path) -> std::io::Result<PathBuf> {
        let answers = dir.join("answers");
        std::fs::create_dir_all(&answers)?;
        for (i, run) in self.runs.iter().enumerate() {
            let body = match &run.answer {
                Ok(a) => serde_json::to_string_pretty(a).unwrap_or_default(),
                Err(e) => e.clone(),
            };
            std::fs::write(
                answers.join(format!("{}-{}.json", i + 1, run.function)),
                body,
            )?;
        }
        let modules = repo.join("tests/cards/node_modules");
        for (from, to) in [
            (
                "adaptivecards/dist/adaptivecards.min.js",
                "adaptivecards.min.js",
            ),
            ("markdown-it/dist/markdown-it.min.js", "markdown-it.min.js"),
        ] {
            if modules.join(from).exists() {
                std::fs::copy(modules.join(from), dir.join(to))?;
            }
        }
        let page = dir.join("report.html");
        std::fs::write(&page, self.html())?;
        Ok(page)
    }

    fn data(&self) -> Value {
        let runs: Vec<Value> = self
            .runs
            .iter()
            .map(|r| {
                let (saw, did) = describe(r);
                json!({"function": r.function, "event": r.event, "saw": saw, "did": did,
                       "ok": r.answer.is_ok()})
            })
            .collect();
        let alerts: Vec<Value> = self
            .alerts
            .iter()
            .map(|a| {
                json!({"subject": a.subject, "attributes": a.attributes,
                            "summary": a.body["summary"]})
            })
            .collect();
        let posts: Vec<Value> = self
            .posts
            .iter()
            .map(|p| {
                json!({"channel": p.path.trim_start_matches('/'), "platform": self.platform_of(p),
                            "status": p.status, "alert_id": p.alert_id(), "body": p.body})
            })
            .collect();
        json!({"setup": self.setup, "runs": runs, "alerts": alerts, "posts": posts,
               "hostConfig": serde_json::from_str::<Value>(HOST_CONFIG).unwrap_or_default()})
    }

    fn html(&self) -> String {
        // No `<` at all in the data block (a JSON escape instead), so nothing an alert's SQL or
        // log line holds can end the block or open a script.
        let data = self.data().to_string().replace('<', "\\u003c");
        // The script first: the data (alert text) may hold any placeholder.
        PAGE.replace("{{SCRIPT}}", REPORT_JS)
            .replace("{{DATA}}", &data)
    }
}

/// Teams' look for the Adaptive Cards renderer (shared with `make cards`).
const HOST_CONFIG: &str = include_str!("../cards/host-config.json");
/// Draws the page from its data: tables, and each post as its platform shows it.
const REPORT_JS: &str = include_str!("../cards/report.js");

const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lakeops demo</title>
<style>
 body { font: 14px/1.45 'DejaVu Sans', 'Segoe UI', sans-serif; margin: 24px; color: #242424; background: #F5F5F5; max-width: 1180px; }
 h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
 table { border-collapse: collapse; background: #fff; width: 100%; }
 td, th { border: 1px solid #E0E0E0; padding: 5px 8px; text-align: left; vertical-align: top; }
 th { background: #FAFAFA; } .sev-critical { color: #C4314B; font-weight: 600; } .sev-warning { color: #835B00; font-weight: 600; }
 .posts { display: grid; grid-template-columns: repeat(auto-fill, minmax(540px, 1fr)); gap: 16px; }
 .post { background: #fff; border: 1px solid #E0E0E0; border-radius: 6px; overflow: hidden; }
 .post > .where { background: #FAFAFA; border-bottom: 1px solid #E0E0E0; padding: 6px 10px; font-size: 12px; color: #616161; }
 .card { padding: 0; } .ac-textBlock p { margin: 0; } .ac-textBlock ul { margin: 0; padding-left: 1.3em; }
 .gchat, .slack { padding: 12px 14px; } .gchat div, .slack div { white-space: pre-line; } .gchat .title { font-weight: 600; font-size: 15px; } .gchat .subtitle { color: #616161; font-size: 12px; }
 .gchat .section { border-top: 1px solid #EEE; margin-top: 8px; padding-top: 6px; } .label { color: #616161; font-size: 12px; }
 .slack .header { font-weight: 700; font-size: 15px; margin-bottom: 6px; } .slack .fields { display: grid; grid-template-columns: 1fr 1fr; gap: 6px 12px; margin: 6px 0; }
 .slack .context { color: #616161; font-size: 12px; margin-top: 6px; } .button { display: inline-block; border: 1px solid #D1D1D1; border-radius: 4px; padding: 3px 10px; margin: 4px 6px 0 0; font-size: 12px; }
 pre.raw { white-space: pre-wrap; font-size: 11px; margin: 0; padding: 10px; }
</style></head>
<body>
<h1>lakeops demo</h1>
<div id="setup"></div>
<h2>What each function saw and did</h2><table id="runs"><tr><th>function</th><th>event</th><th>saw</th><th>did</th></tr></table>
<h2>Alerts published</h2><table id="alerts"><tr><th>severity</th><th>kind</th><th>alert</th><th>run by</th></tr></table>
<h2>Chat posts, as the channel shows them</h2><div class="posts" id="posts"></div>
<script type="application/json" id="data">{{DATA}}</script>
<script src="markdown-it.min.js"></script>
<script src="adaptivecards.min.js"></script>
<script>{{SCRIPT}}</script>
</body></html>
"#;
