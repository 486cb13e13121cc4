//! long-query-killer: warns about, then stops, Athena queries that run too long.
//!
//! Foundation stage: the function starts, validates its configuration and answers scheduled
//! events with nothing more yet; finding and stopping runaway queries is issue #4.

use lakeops::schedule::ScheduledRun;
use lakeops::{CommonConfig, ConfigReader, LakeopsError};
use lambda_runtime::LambdaEvent;
use serde_json::{json, Value};

pub const FUNCTION: &str = "long-query-killer";

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
    let run = ScheduledRun::from_event(&event.payload, chrono::Utc::now())?;
    Ok(json!({"function": FUNCTION, "scheduled_for": run.time, "stopped": 0}))
}
