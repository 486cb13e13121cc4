//! The reconciler's typed trigger: a scheduled run and the overrides it may carry (`checks`: a
//! re-run of some checks; `date`: a backfill of one day), read from its JSON once, before the
//! handler runs; a payload that is neither is refused with the reason.

use chrono::NaiveDate;
use lakeops::schedule::ScheduledRun;
use lakeops::LakeopsError;
use serde::Deserialize;
use serde_json::Value;

/// What invoked the reconciler: the schedule, or a manual run with overrides.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "Value")]
pub struct Trigger {
    pub run: ScheduledRun,
    pub overrides: RunOverrides,
}

impl TryFrom<Value> for Trigger {
    type Error = LakeopsError;

    fn try_from(payload: Value) -> Result<Self, Self::Error> {
        let run = ScheduledRun::try_from(payload)?;
        let overrides = overrides(&run)?;
        Ok(Self { run, overrides })
    }
}

/// The overrides a scheduled event may carry.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RunOverrides {
    pub checks: Option<Vec<String>>,
    pub date: Option<NaiveDate>,
}

pub fn overrides(run: &ScheduledRun) -> Result<RunOverrides, LakeopsError> {
    let mut o = RunOverrides::default();
    match run.overrides.get("checks") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            let names: Option<Vec<String>> = items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect();
            o.checks = Some(names.ok_or_else(|| {
                LakeopsError::InvalidInput(
                    "override \"checks\" must be a list of check names".into(),
                )
            })?);
        }
        Some(other) => {
            return Err(LakeopsError::InvalidInput(format!(
                "override \"checks\" must be a list of check names, got {other}"
            )))
        }
    }
    o.date = run.date_override("date")?;
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use serde_json::json;

    #[test]
    fn reruns_and_backfills_from_the_event() {
        let run = |v: Value| ScheduledRun::from_event(&v, Utc::now()).unwrap();
        let o = overrides(&run(
            json!({"checks": ["orders_daily"], "date": "2026-11-20"}),
        ))
        .unwrap();
        assert_eq!(o.checks, Some(vec!["orders_daily".to_string()]));
        assert_eq!(o.date, NaiveDate::from_ymd_opt(2026, 11, 20));
        assert_eq!(overrides(&run(json!({}))).unwrap(), RunOverrides::default());
        assert!(overrides(&run(json!({"checks": "orders_daily"}))).is_err());
        assert!(overrides(&run(json!({"checks": [1]}))).is_err());
        assert!(overrides(&run(json!({"date": "20/11/2026"}))).is_err());
    }

    #[test]
    fn a_payload_that_is_no_run_is_refused_with_the_reason() {
        let read = |v: Value| serde_json::from_value::<Trigger>(v).map_err(|e| e.to_string());
        let ok = read(
            json!({"detail-type": "Scheduled Event", "time": "2026-11-23T03:05:00Z",
            "detail": {"date": "2026-11-20"}}),
        )
        .unwrap();
        assert_eq!(ok.overrides.date, NaiveDate::from_ymd_opt(2026, 11, 20));
        let e = read(json!({"checks": 3})).unwrap_err();
        assert!(e.contains("must be a list of check names"), "{e}");
        assert!(read(json!([1]))
            .unwrap_err()
            .contains("expected a JSON object"));
    }
}
