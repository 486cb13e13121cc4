//! The sweep function's typed trigger: what an invocation of query-cost-watcher can be, read
//! from its JSON once, before the handler runs (a payload that is none of them is refused with
//! the reason).

use lakeops::attribution::CLOUDTRAIL_DETAIL_TYPE;
use lakeops::schedule::ScheduledRun;
use lakeops::LakeopsError;
use serde::Deserialize;
use serde_json::Value;

/// `detail-type` of Athena's state-change events.
pub const STATE_CHANGE_DETAIL_TYPE: &str = "Athena Query State Change";

/// What invoked the sweep function.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "Value")]
pub enum Trigger {
    /// The schedule (every `INTERVAL_MINUTES`), or a manual run with overrides such as
    /// `{"digest": "2026-11-22"}`.
    Schedule(ScheduledRun),
    /// One Athena state-change event or CloudTrail `StartQueryExecution` record, straight from
    /// an EventBridge rule or `make invoke`: settled as a batch of one.
    Event(Box<Value>),
}

impl TryFrom<Value> for Trigger {
    type Error = LakeopsError;

    fn try_from(payload: Value) -> Result<Self, Self::Error> {
        if payload.get("Records").is_some() {
            // The event queue's batches belong to the feed's own function (600 s here would
            // make the queue's visibility 1.1x the timeout; see `query-cost-feed`).
            return Err(LakeopsError::InvalidInput(
                "an SQS batch: the event queue is mapped to query-cost-feed, not the sweep".into(),
            ));
        }
        let detail_type = payload.get("detail-type").and_then(Value::as_str);
        if detail_type == Some(STATE_CHANGE_DETAIL_TYPE)
            || detail_type == Some(CLOUDTRAIL_DETAIL_TYPE)
        {
            return Ok(Self::Event(Box::new(payload)));
        }
        ScheduledRun::try_from(payload).map(Self::Schedule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: Value) -> Result<Trigger, String> {
        serde_json::from_value(v).map_err(|e| e.to_string())
    }

    #[test]
    fn each_invocation_is_read_as_what_it_is_or_refused_with_the_reason() {
        let change = json!({"detail-type": "Athena Query State Change", "detail": {}});
        assert!(matches!(read(change), Ok(Trigger::Event(_))));
        let tick = json!({"detail-type": "Scheduled Event", "time": "2026-11-23T03:05:00Z"});
        let Ok(Trigger::Schedule(run)) = read(tick) else {
            panic!("a scheduled event")
        };
        assert_eq!(run.time.to_rfc3339(), "2026-11-23T03:05:00+00:00");
        assert!(matches!(
            read(json!({"digest": true})),
            Ok(Trigger::Schedule(_))
        ));
        let batch = read(json!({"Records": []})).unwrap_err();
        assert!(batch.contains("query-cost-feed"), "{batch}");
        let other = read(json!({"detail-type": "EC2 Instance State-change Notification"}));
        assert!(other
            .unwrap_err()
            .contains("expected a \"Scheduled Event\""));
        assert!(read(json!([1, 2]))
            .unwrap_err()
            .contains("expected a JSON object"));
    }
}
