//! row-count-reconciler: compares source and target row counts and freshness of each pipeline.
//!
//! Foundation stage: the function starts, validates its configuration and answers scheduled
//! events with what it would check; the reconciliation itself is issue #7.

use lakeops::schedule::ScheduledRun;
use lakeops::{CommonConfig, ConfigReader, LakeopsError};
use lambda_runtime::LambdaEvent;
use serde_json::{json, Value};

pub const FUNCTION: &str = "row-count-reconciler";

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
    Ok(json!({"function": FUNCTION, "scheduled_for": run.time, "checks_run": 0}))
}
