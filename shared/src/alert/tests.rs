//! The alert's shape, its SNS message and attributes, and publishing.

use super::*;
use chrono::TimeZone;

fn sample() -> Alert {
    Alert::new(
        "ExpensiveQuery",
        Severity::Critical,
        "query-cost-watcher",
        "ExpensiveQuery/q-1",
        Utc.with_ymd_and_hms(2026, 11, 23, 1, 2, 3).unwrap(),
        "Athena query cost $12.50 in workgroup etl",
        "A query scanned 2.27 TiB.",
    )
    .field("Cost", "$12.50")
    .field("SQL", "SELECT *\nFROM big")
    .attribute("workgroup", "etl")
    .link("Query in Athena", "https://example/q-1")
    .detail("cost_usd", 12.5)
    .next_step("Add a partition filter")
}

#[test]
fn subject_is_sns_safe() {
    let mut a = sample();
    assert_eq!(
        a.subject(),
        "[lakeops] CRITICAL: Athena query cost $12.50 in workgroup etl"
    );
    a.title = format!("héllo\nworld {}", "x".repeat(200));
    let s = a.subject();
    assert!(s.len() <= MAX_SUBJECT_CHARS && s.ends_with("..."), "{s}");
    assert!(
        s.is_ascii() && !s.chars().any(|c| c.is_ascii_control()),
        "{s}"
    );
    assert!(s.starts_with("[lakeops] CRITICAL: h?llo world x"), "{s}");
}

#[test]
fn bodies_carry_every_field() {
    let a = sample();
    let text = a.text_body();
    assert!(
        text.contains("  Cost  $12.50\n  SQL   SELECT *\n        FROM big\n"),
        "{text}"
    );
    assert!(text.contains("Query in Athena: https://example/q-1"));
    let j = a.json_body();
    assert_eq!(j["schema"], SCHEMA);
    assert_eq!(j["details"]["cost_usd"], 12.5);
    assert_eq!(j["attributes"]["workgroup"], "etl");
    assert_eq!(j["occurred_at"], "2026-11-23T01:02:03.000Z");
    let c = a.chatbot_body();
    assert_eq!(c["version"], "1.0");
    assert_eq!(c["source"], "custom");
    assert_eq!(c["content"]["textType"], "client-markdown");
    assert_eq!(c["metadata"]["additionalContext"]["workgroup"], "etl");
    let sns: Value = serde_json::from_str(&a.sns_message()).unwrap();
    assert_eq!(sns["default"], text);
    let sqs: Value = serde_json::from_str(sns["sqs"].as_str().unwrap()).unwrap();
    assert_eq!(sqs, j);
}

#[test]
fn the_json_body_reads_back_into_the_same_alert() {
    let a = sample();
    assert_eq!(Alert::from_json_body(&a.json_body()).unwrap(), a);
    let mut wrong = a.json_body();
    wrong["severity"] = json!("loud");
    assert!(Alert::from_json_body(&wrong)
        .unwrap_err()
        .to_string()
        .contains("severity \"loud\""));
    wrong["schema"] = json!("other.v2");
    assert!(Alert::from_json_body(&wrong)
        .unwrap_err()
        .to_string()
        .contains("not a"));
}

#[test]
fn an_unreadable_body_names_the_member() {
    let a = sample();
    let mut body = a.json_body();
    body.as_object_mut().unwrap().remove("title");
    assert_eq!(
        Alert::from_json_body(&body),
        Err(AlertBodyError::Missing { member: "title" })
    );
    assert_eq!(
        Alert::from_json_body(&body).unwrap_err().to_string(),
        "lakeops.alert.v1 body without `title`"
    );
    let mut body = a.json_body();
    body["occurred_at"] = json!("yesterday");
    let err = Alert::from_json_body(&body).unwrap_err().to_string();
    assert!(
        err.starts_with("lakeops.alert.v1 body with occurred_at \"yesterday\": "),
        "{err}"
    );
}

#[test]
fn oversized_alert_is_shrunk_under_the_sns_limit() {
    let a = sample().detail("huge", "y".repeat(400_000));
    let msg = a.sns_message();
    assert!(msg.len() <= MAX_MESSAGE_BYTES);
    assert!(msg.contains("truncated"));
}

#[test]
fn attributes_are_capped_at_ten() {
    let mut a = sample();
    for i in 0..20 {
        a = a.attribute(&format!("a{i:02}"), "v");
    }
    let attrs = a.message_attributes();
    assert_eq!(attrs.len(), 10);
    assert_eq!(attrs[0], ("kind".into(), "ExpensiveQuery".into()));
}

#[tokio::test]
async fn publish_all_reports_what_failed_and_still_sends_the_rest() {
    use aws_sdk_sns::operation::publish::{PublishError, PublishOutput};
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    let fail = mock!(aws_sdk_sns::Client::publish)
        .match_requests(|r| r.subject().is_some_and(|s| s.contains("first")))
        .then_error(|| PublishError::unhandled("topic gone"));
    let ok = mock!(aws_sdk_sns::Client::publish)
        .then_output(|| PublishOutput::builder().message_id("m-2").build());
    let client = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&fail, &ok]);
    let publisher = SnsAlertPublisher::new(client, "arn:aws:sns:us-east-1:1:t", false);
    let mut first = sample();
    first.title = "first".into();
    first.id = "a-1".into();
    let second = sample();
    let err = publisher.publish_all(&[first, second]).await.unwrap_err();
    assert_eq!(err.error_type(), "Retryable.Undelivered");
    assert!(err.to_string().contains("1 of 2 alerts: a-1"), "{err}");
    assert_eq!(ok.num_calls(), 1);
}

#[test]
fn run_by_says_where_the_person_came_from() {
    use crate::attribution::{Caller, PersonSource};
    let caller = Caller {
        principal_arn: "arn:aws:iam::123456789012:role/Analysts".into(),
        person: "Analysts".into(),
        person_source: PersonSource::CallerChosen,
        session_name: "bob".into(),
        client: "boto3".into(),
        ..Caller::default()
    };
    let attribute = |a: &Alert, name: &str| {
        a.message_attributes()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    };
    let a = sample().run_by(Some(&caller));
    assert_eq!(attribute(&a, "run_by").as_deref(), Some("Analysts"));
    assert_eq!(
        attribute(&a, "person_source").as_deref(),
        Some("caller-chosen")
    );
    assert_eq!(a.details["session_name"], "bob");
    let unattributed = sample().run_by(None);
    assert_eq!(
        attribute(&unattributed, "person_source").as_deref(),
        Some("unknown")
    );
    assert!(unattributed.details["session_name"].is_null());
}
