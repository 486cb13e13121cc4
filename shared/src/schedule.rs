//! The EventBridge scheduled event every scheduled function receives, with its optional
//! overrides.
//!
//! A schedule rule with a constant input (`Input`) delivers that JSON instead of the standard
//! envelope; lakeops accepts both: the standard envelope (whose `time` is the scheduled instant)
//! and a bare overrides object such as `{"dry_run": true}` (then the time is "now").

use chrono::{DateTime, Datelike, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::error::LakeopsError;

/// A scheduled invocation: when it was scheduled for, and the overrides it carries. The typed
/// trigger of the scheduled functions: deserialized from the invocation's JSON through
/// [`ScheduledRun::from_event`] (a missing `time` is the moment it is read), so a payload that is
/// not one fails with the reason before the handler runs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "Value")]
pub struct ScheduledRun {
    /// The event's `time` (the schedule's instant, identical on every retry of the same event).
    pub time: DateTime<Utc>,
    /// EventBridge's event id, when present.
    pub event_id: Option<String>,
    /// `detail` of the envelope, or the bare object: function-specific overrides.
    pub overrides: Value,
}

#[derive(Deserialize)]
struct Envelope {
    id: Option<String>,
    #[serde(rename = "detail-type")]
    detail_type: Option<String>,
    time: Option<DateTime<Utc>>,
    #[serde(default)]
    detail: Value,
}

impl TryFrom<Value> for ScheduledRun {
    type Error = LakeopsError;

    fn try_from(event: Value) -> Result<Self, Self::Error> {
        Self::from_event(&event, Utc::now())
    }
}

impl ScheduledRun {
    /// Reads a scheduled event. `now` is used when the event carries no time.
    pub fn from_event(event: &Value, now: DateTime<Utc>) -> Result<Self, LakeopsError> {
        let Value::Object(map) = event else {
            return Err(LakeopsError::InvalidInput(format!(
                "expected a JSON object, got {}",
                kind(event)
            )));
        };
        if map.contains_key("detail-type") || map.contains_key("source") {
            let env: Envelope = serde_json::from_value(event.clone()).map_err(|e| {
                LakeopsError::InvalidInput(format!("not an EventBridge event: {e}"))
            })?;
            if let Some(dt) = env.detail_type.as_deref() {
                if dt != "Scheduled Event" {
                    return Err(LakeopsError::InvalidInput(format!(
                        "expected a \"Scheduled Event\", got detail-type {dt:?}"
                    )));
                }
            }
            let overrides = if env.detail.is_null() {
                Value::Object(Default::default())
            } else {
                env.detail
            };
            return Ok(Self {
                time: env.time.unwrap_or(now),
                event_id: env.id,
                overrides,
            });
        }
        Ok(Self {
            time: now,
            event_id: None,
            overrides: event.clone(),
        })
    }

    /// A boolean override, e.g. `dry_run`; an override of the wrong type is an error, not ignored.
    pub fn bool_override(&self, name: &str) -> Result<Option<bool>, LakeopsError> {
        match self.overrides.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(LakeopsError::InvalidInput(format!(
                "override {name:?} must be true or false, got {other}"
            ))),
        }
    }
}

impl ScheduledRun {
    /// A date override such as `{"date": "2026-11-20"}` (a backfill or a re-run); a wrong type or
    /// format is an error, not ignored.
    pub fn date_override(&self, name: &str) -> Result<Option<chrono::NaiveDate>, LakeopsError> {
        match self.overrides.get(name) {
            None | Some(Value::Null) => Ok(None),
            // A four-digit year: chrono also reads "+262143-12-31", whose day arithmetic
            // overflows; no run is about such a day.
            Some(Value::String(s)) => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .filter(|d| (1970..=9999).contains(&d.year()))
                .map(Some)
                .ok_or_else(|| {
                    LakeopsError::InvalidInput(format!(
                        "override {name:?} must be a date like 2026-11-20 (years 1970 to 9999), got {s:?}"
                    ))
                }),
            Some(other) => Err(LakeopsError::InvalidInput(format!(
                "override {name:?} must be a date like 2026-11-20, got {other}"
            ))),
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_envelope_and_bare_overrides() {
        let now = Utc::now();
        let e = json!({"id": "e-1", "detail-type": "Scheduled Event", "source": "aws.events",
                       "time": "2026-11-23T09:00:00Z", "detail": {}, "extra": 1});
        let run = ScheduledRun::from_event(&e, now).unwrap();
        assert_eq!(run.time.to_rfc3339(), "2026-11-23T09:00:00+00:00");
        assert_eq!(run.event_id.as_deref(), Some("e-1"));
        let bare = ScheduledRun::from_event(&json!({"dry_run": true}), now).unwrap();
        assert_eq!(bare.time, now);
        assert_eq!(bare.bool_override("dry_run").unwrap(), Some(true));
        assert!(ScheduledRun::from_event(&json!({"dry_run": "yes"}), now)
            .unwrap()
            .bool_override("dry_run")
            .is_err());
    }

    #[test]
    fn rejects_wrong_events_clearly() {
        let now = Utc::now();
        let err = ScheduledRun::from_event(&json!([1]), now).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid input: expected a JSON object, got an array"
        );
        let other = json!({"detail-type": "Athena Query State Change", "source": "aws.athena", "detail": {}});
        assert!(ScheduledRun::from_event(&other, now)
            .unwrap_err()
            .to_string()
            .contains("Athena Query State Change"));
        let bad_time = json!({"detail-type": "Scheduled Event", "time": "yesterday"});
        assert!(ScheduledRun::from_event(&bad_time, now).is_err());
    }

    #[test]
    fn date_overrides() {
        let run = |v| ScheduledRun::from_event(&v, Utc::now()).unwrap();
        let d = run(json!({"date": "2026-11-20"}))
            .date_override("date")
            .unwrap();
        assert_eq!(d, chrono::NaiveDate::from_ymd_opt(2026, 11, 20));
        assert_eq!(run(json!({})).date_override("date").unwrap(), None);
        let err = run(json!({"date": "20/11/2026"}))
            .date_override("date")
            .unwrap_err();
        assert!(err.to_string().contains("like 2026-11-20"), "{err}");
        assert!(run(json!({"date": 20261120}))
            .date_override("date")
            .is_err());
        for far in ["+262143-12-31", "-0001-01-01", "10000-01-01", "1969-12-31"] {
            let err = run(json!({ "digest": far }))
                .date_override("digest")
                .unwrap_err();
            assert!(
                err.to_string().contains("years 1970 to 9999"),
                "{far}: {err}"
            );
        }
    }
}
