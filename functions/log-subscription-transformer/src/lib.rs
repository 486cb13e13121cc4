//! log-subscription-transformer: CloudWatch Logs subscription payloads to enriched JSON records.
//!
//! Foundation stage: the function starts, validates its configuration and recognises its two
//! triggers (CloudWatch Logs subscription, Firehose transformation); the pipeline is issue #5.

use lakeops::{CommonConfig, ConfigReader, LakeopsError};
use lambda_runtime::LambdaEvent;
use serde_json::{json, Value};

pub const FUNCTION: &str = "log-subscription-transformer";

pub struct Deps {
    pub common: CommonConfig,
}

impl Deps {
    pub async fn from_env() -> Result<Self, LakeopsError> {
        let mut r = ConfigReader::from_env();
        let common = CommonConfig::read(&mut r);
        r.finish()?;
        Ok(Self { common })
    }
}

pub async fn handle(event: LambdaEvent<Value>, _deps: &Deps) -> Result<Value, LakeopsError> {
    let payload = &event.payload;
    if payload.pointer("/awslogs/data").is_some() {
        return Ok(json!({"function": FUNCTION, "trigger": "cloudwatch-logs-subscription"}));
    }
    if let Some(records) = payload.get("records").and_then(Value::as_array) {
        // Firehose requires an answer for every recordId; until the pipeline exists, none is lost:
        // each is handed back for Firehose to retry / send to its error prefix.
        let answers: Vec<Value> = records
            .iter()
            .map(|r| json!({"recordId": r["recordId"], "result": "ProcessingFailed", "data": r["data"]}))
            .collect();
        return Ok(json!({"records": answers}));
    }
    Err(LakeopsError::InvalidInput(
        "expected a CloudWatch Logs subscription event ({\"awslogs\":{\"data\":...}}) or a Firehose transformation event".into(),
    ))
}
