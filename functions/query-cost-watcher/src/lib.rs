//! query-cost-watcher: prices every finished Athena query and alerts on expensive ones.
//!
//! Foundation stage: the function starts, validates its configuration and recognises its two
//! triggers (schedule, Athena Query State Change); pricing sweeps are issue #3.

use lakeops::schedule::ScheduledRun;
use lakeops::{CommonConfig, ConfigReader, LakeopsError};
use lambda_runtime::LambdaEvent;
use serde_json::{json, Value};

pub const FUNCTION: &str = "query-cost-watcher";

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
    if payload.get("detail-type").and_then(Value::as_str) == Some("Athena Query State Change") {
        let detail = &payload["detail"];
        let id = detail["queryExecutionId"].as_str().ok_or_else(|| {
            LakeopsError::InvalidInput("state change event without detail.queryExecutionId".into())
        })?;
        return Ok(
            json!({"function": FUNCTION, "trigger": "state-change", "query_execution_id": id,
                         "state": detail["currentState"]}),
        );
    }
    let run = ScheduledRun::from_event(payload, chrono::Utc::now())?;
    Ok(json!({"function": FUNCTION, "trigger": "schedule", "scheduled_for": run.time}))
}
