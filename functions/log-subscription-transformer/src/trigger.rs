//! The transformer's typed trigger: a CloudWatch Logs subscription event or a Firehose
//! data-transformation event, read from its JSON once, before the handler runs. The payloads
//! stay base64 text here: they are decoded by [`crate::decode`], bounded, one at a time.

use serde::Deserialize;
use serde_json::Value;

use lakeops::LakeopsError;

/// What invoked the transformer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "Envelope")]
pub enum Trigger {
    /// A subscription filter invoking the function: `{"awslogs": {"data": "<base64 gzip>"}}`.
    Subscription { data: String },
    /// Firehose's data transformation: `{"records": [{"recordId": …, "data": …}, …]}`, each
    /// answered by its `recordId`.
    FirehoseTransformation { records: Vec<FirehoseRecord> },
}

/// One record of a Firehose transformation event.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FirehoseRecord {
    /// Answered as it came (Firehose's ids are strings; kept as JSON so any is echoed back).
    pub record_id: Value,
    /// The record's base64 payload (a CloudWatch Logs subscription payload, gzipped).
    #[serde(default)]
    pub data: String,
}

/// The members either kind of event may carry; anything else in the object is ignored.
#[derive(Deserialize)]
struct Envelope {
    awslogs: Option<AwsLogs>,
    records: Option<Vec<FirehoseRecord>>,
}

#[derive(Deserialize)]
struct AwsLogs {
    data: String,
}

impl TryFrom<Envelope> for Trigger {
    type Error = LakeopsError;

    fn try_from(e: Envelope) -> Result<Self, Self::Error> {
        match (e.awslogs, e.records) {
            (Some(logs), None) => Ok(Self::Subscription { data: logs.data }),
            (None, Some(records)) => Ok(Self::FirehoseTransformation { records }),
            _ => Err(LakeopsError::InvalidInput(
                "expected a CloudWatch Logs subscription event ({\"awslogs\":{\"data\":...}}) or a Firehose transformation event ({\"records\":[...]})".into(),
            )),
        }
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
        let sub = read(json!({"awslogs": {"data": "H4sI"}})).unwrap();
        assert_eq!(
            sub,
            Trigger::Subscription {
                data: "H4sI".into()
            }
        );
        let fh = json!({"invocationId": "i", "region": "us-east-1",
            "records": [{"recordId": "r1", "approximateArrivalTimestamp": 1, "data": "H4sI"}]});
        let Ok(Trigger::FirehoseTransformation { records }) = read(fh) else {
            panic!("a Firehose transformation event")
        };
        assert_eq!(
            (records[0].record_id.as_str(), records[0].data.as_str()),
            (Some("r1"), "H4sI")
        );
        for wrong in [
            json!({}),
            json!({"detail-type": "Scheduled Event"}),
            json!({"awslogs": {"data": "x"}, "records": []}),
        ] {
            let e = read(wrong).unwrap_err();
            assert!(
                e.contains("expected a CloudWatch Logs subscription event"),
                "{e}"
            );
        }
        assert!(read(json!({"awslogs": {"data": 7}}))
            .unwrap_err()
            .contains("invalid type"));
        assert!(read(json!(["not", "an", "event"]))
            .unwrap_err()
            .contains("invalid type"));
    }
}
