//! The DynamoDB adapter's SDK behaviour (aws-smithy-mocks) and the event reader.

use super::item::{n, s};
use super::*;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;

/// An item of the `completed` index as pricing leaves it (only what the reader needs).
fn completed_item(id: &str, at: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (KEY.to_string(), s(id)),
        ("workgroup".to_string(), s("etl")),
        ("state".to_string(), s("SUCCEEDED")),
        ("completed_at".to_string(), s(at)),
        ("usd".to_string(), n(5)),
    ])
}

#[tokio::test]
async fn finished_queries_are_handed_over_page_by_page_hour_by_hour() {
    use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    fn asks(r: &QueryInput, hour: &str, after: Option<&str>) -> bool {
        let values = r.expression_attribute_values().cloned().unwrap_or_default();
        let start = r
            .exclusive_start_key()
            .and_then(|k| k.get(KEY))
            .and_then(|v| v.as_s().ok());
        values[":bucket"] == s(format!("etl#{hour}")) && start.map(String::as_str) == after
    }
    // 10:00's hour takes two pages; 11:00's one, whose last query completed at the span's
    // (excluded) end.
    let first = mock!(aws_sdk_dynamodb::Client::query)
        .match_requests(|r| asks(r, "2026-11-22T10", None))
        .then_output(|| {
            QueryOutput::builder()
                .items(completed_item("a", "2026-11-22T10:45:00.000Z"))
                .last_evaluated_key(KEY, s("a"))
                .build()
        });
    let second = mock!(aws_sdk_dynamodb::Client::query)
        .match_requests(|r| asks(r, "2026-11-22T10", Some("a")))
        .then_output(|| {
            QueryOutput::builder()
                .items(completed_item("b", "2026-11-22T10:50:00.000Z"))
                .build()
        });
    let third = mock!(aws_sdk_dynamodb::Client::query)
        .match_requests(|r| asks(r, "2026-11-22T11", None))
        .then_output(|| {
            QueryOutput::builder()
                .items(completed_item("c", "2026-11-22T11:59:59.999Z"))
                .items(completed_item("end", "2026-11-22T12:00:00.000Z"))
                .build()
        });
    let client = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[&first, &second, &third]
    );
    let index = QueryIndex::new(client, "index");
    let (from, to) = (
        "2026-11-22T10:30:00Z".parse().unwrap(),
        "2026-11-22T12:00:00Z".parse().unwrap(),
    );
    let mut pages: Vec<Vec<String>> = Vec::new();
    index
        .for_each_finished_page("etl", from, to, |page| {
            pages.push(page.into_iter().map(|f| f.query.id).collect())
        })
        .await
        .unwrap();
    assert_eq!(pages, [vec!["a"], vec!["b"], vec!["c"]]);
    let all = index.finished_between("etl", from, to).await.unwrap();
    let all: Vec<(&str, f64)> = all.iter().map(|f| (f.query.id.as_str(), f.usd)).collect();
    assert_eq!(all, [("a", 5.0), ("b", 5.0), ("c", 5.0)]);
    assert_eq!(
        (first.num_calls(), second.num_calls(), third.num_calls()),
        (2, 2, 2)
    );
}

fn event(state: &str, seq: Value) -> Value {
    // The shape of AWS's documented example (Athena User Guide, "Monitoring Athena queries
    // with EventBridge events").
    json!({
        "version": "0",
        "id": "abcdef00-1234-5678-9abc-def012345678",
        "detail-type": "Athena Query State Change",
        "source": "aws.athena",
        "account": "123456789012",
        "time": "2026-11-24T09:30:10Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "versionId": "0",
            "currentState": state,
            "previousState": "RUNNING",
            "statementType": "DDL",
            "queryExecutionId": "01234567-0123-0123-0123-012345678901",
            "workgroupName": "etl",
            "sequenceNumber": seq
        }
    })
}

#[test]
fn reads_the_documented_event() {
    let e = state_change_of(&event("SUCCEEDED", json!("3"))).unwrap();
    assert_eq!(e.query_id, "01234567-0123-0123-0123-012345678901");
    assert_eq!(e.workgroup, "etl");
    assert_eq!(e.state, QueryState::Succeeded);
    assert_eq!(e.statement_type, StatementType::Ddl);
    assert_eq!(e.sequence, 3);
    assert_eq!(e.at.to_rfc3339(), "2026-11-24T09:30:10+00:00");
    assert_eq!(
        state_change_of(&event("QUEUED", json!(1)))
            .unwrap()
            .sequence,
        1
    );
}

#[test]
fn a_malformed_event_is_an_error_naming_what_is_wrong() {
    let cases = [
        (event("SUCCEEDED", json!("three")), "sequenceNumber"),
        (event("SUCCEEDED", Value::Null), "sequenceNumber"),
        (
            event("SUCCEEDED", json!(OBSERVED_TERMINAL)),
            "sequenceNumber",
        ),
        (event("DONE", json!("1")), "currentState"),
        (json!({"detail-type": "Scheduled Event"}), "detail-type"),
    ];
    for (e, what) in cases {
        let err = state_change_of(&e).unwrap_err().to_string();
        assert!(err.contains(what), "{err}");
    }
    let mut no_id = event("RUNNING", json!("2"));
    no_id["detail"]["queryExecutionId"] = json!("");
    assert!(state_change_of(&no_id)
        .unwrap_err()
        .to_string()
        .contains("queryExecutionId"));
    let mut no_time = event("RUNNING", json!("2"));
    no_time["time"] = json!("yesterday");
    assert!(state_change_of(&no_time)
        .unwrap_err()
        .to_string()
        .contains("time"));
}
