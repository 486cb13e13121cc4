//! The demo's report: each function's run said in a few words, and a page no alert can script
//! (alerts carry SQL and log lines anyone can write).

use lakeops_e2e::report::{describe, Report, Run};
use lakeops_e2e::DeliveredAlert;
use serde_json::json;

fn run(function: &str, answer: serde_json::Value) -> Run {
    Run {
        function: function.into(),
        event: "events/x.json".into(),
        payload: json!({"Records": [{}, {}]}),
        answer: Ok(answer),
    }
}

#[test]
fn each_run_is_said_in_a_few_words() {
    let killer = run(
        "long-query-killer",
        json!({"active_queries": 3, "mode": "enforce", "warned": ["q1"], "stopped": ["q2"], "exempt": []}),
    );
    assert_eq!(
        describe(&killer),
        (
            "3 running queries (enforce mode)".to_string(),
            "warned 1 [q1], stopped 1 [q2], exempt 0".to_string()
        )
    );
    let feed = run("query-cost-feed", json!({"batchItemFailures": []}));
    assert_eq!(describe(&feed).0, "2 Athena and CloudTrail events");
    let failed = Run {
        answer: Err("InvalidInput: expected a JSON object\nmore".into()),
        ..run("row-count-reconciler", json!(null))
    };
    assert_eq!(
        describe(&failed).1,
        "failed: InvalidInput: expected a JSON object"
    );
}

#[test]
fn an_alert_cannot_script_the_report() {
    let dir = std::env::temp_dir().join(format!("lakeops-report-{}", std::process::id()));
    let evil = "</script><script>document.title='owned'</script>{{SCRIPT}}";
    let report = Report {
        setup: vec![evil.into()],
        runs: vec![run("query-cost-feed", json!({"batchItemFailures": []}))],
        alerts: vec![DeliveredAlert {
            subject: format!("[lakeops] CRITICAL: {evil}"),
            body: json!({"summary": evil}),
            attributes: [("kind".to_string(), evil.to_string())].into(),
        }],
        posts: vec![],
        channels: vec![],
    };
    let page = report.write(&dir, &lakeops_e2e::repo_root()).unwrap();
    let html = std::fs::read_to_string(page).unwrap();
    let data = &html[html.find("id=\"data\">").unwrap()..];
    let data = &data[..data.find("</script>").unwrap()];
    assert!(
        data.contains("\\u003c/script>\\u003cscript>"),
        "the alert's text is in the data, escaped"
    );
    assert_eq!(
        html.matches("<script").count(),
        4,
        "data, markdown-it, adaptivecards, the page's own"
    );
    assert_eq!(
        html.matches("window.lakeopsReport = state").count(),
        1,
        "{{{{SCRIPT}}}} in data is not the script"
    );
    let _ = std::fs::remove_dir_all(dir);
}
