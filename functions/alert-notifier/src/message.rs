//! What arrives on the notifier's queue, read into the one alert model ([`Alert`]).
//!
//! The queue is subscribed to the alert topic, so each SQS body is an SNS envelope
//! (`"Type": "Notification"`, `Message`, `MessageId`, `Subject`) — or, with raw message delivery
//! turned on, the message itself. Three kinds of message are on the topic, and every one is
//! delivered:
//! - a lakeops alert (`lakeops.alert.v1`, the `sqs` member the functions publish);
//! - a CloudWatch alarm notification (the stack's self-monitoring alarms), read into an alert of
//!   kind `CloudWatchAlarm`;
//! - anything else someone published (a person testing the topic, another tool): delivered as a
//!   `Notification` with its subject and text, so nothing on the topic goes unseen.

use chrono::{DateTime, Utc};
use lakeops::alert::{truncate, Alert, Severity, SCHEMA};
use serde_json::Value;

/// The `source` of alerts made from CloudWatch alarm notifications.
pub const ALARM_SOURCE: &str = "cloudwatch-alarm";
/// The `source` of other messages on the topic.
pub const OTHER_SOURCE: &str = "sns";
/// How much of an unknown message's text is shown.
const MAX_OTHER_TEXT: usize = 3000;

/// One message of the topic, ready for routing.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub alert: Alert,
    /// What the message was: `lakeops`, `alarm` or `other` (a metric dimension).
    pub origin: &'static str,
    /// SNS's own `MessageId`: chosen by SNS, never by the publisher, and the same on every
    /// delivery of one publish. With raw message delivery (not what the template sets) there is
    /// no envelope and this is the SQS message id, which differs between SNS's duplicate
    /// deliveries: those would then be posted twice.
    pub message_id: String,
}

/// Reads one SQS body. `fallback_id` (the SQS message id) names a message that carries no id of
/// its own; `received_at` dates one that carries no time.
pub fn read(body: &str, fallback_id: &str, received_at: DateTime<Utc>) -> Notice {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let (message, subject, message_id, sent_at) = match &parsed {
        Some(envelope) if envelope["Type"] == "Notification" && envelope["Message"].is_string() => {
            (
                envelope["Message"].as_str().unwrap_or_default().to_string(),
                envelope["Subject"].as_str().map(str::to_string),
                envelope["MessageId"]
                    .as_str()
                    .unwrap_or(fallback_id)
                    .to_string(),
                envelope["Timestamp"]
                    .as_str()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or(received_at),
            )
        }
        _ => (body.to_string(), None, fallback_id.to_string(), received_at),
    };
    let json: Option<Value> = serde_json::from_str(&message).ok();
    if let Some(json) = &json {
        if json["schema"] == SCHEMA {
            match Alert::from_json_body(json) {
                Ok(alert) => {
                    return Notice {
                        alert,
                        origin: "lakeops",
                        message_id,
                    }
                }
                Err(problem) => {
                    tracing::warn!(%problem, "a lakeops alert body could not be read; delivered as text")
                }
            }
        } else if json["AlarmName"].is_string() && json["NewStateValue"].is_string() {
            return Notice {
                alert: alarm_alert(json, &message_id, sent_at),
                origin: "alarm",
                message_id,
            };
        }
    }
    Notice {
        alert: other_alert(&message, subject.as_deref(), &message_id, sent_at),
        origin: "other",
        message_id,
    }
}

/// A CloudWatch alarm notification (shape: the Amazon SNS message CloudWatch sends for an
/// alarm state change, as in the CloudWatch user guide's "Using Amazon CloudWatch alarms").
fn alarm_alert(json: &Value, message_id: &str, sent_at: DateTime<Utc>) -> Alert {
    let s = |name: &str| json[name].as_str().unwrap_or_default().to_string();
    let name = s("AlarmName");
    let new_state = s("NewStateValue");
    let severity = match new_state.as_str() {
        "ALARM" => Severity::Critical,
        "INSUFFICIENT_DATA" => Severity::Warning,
        _ => Severity::Info,
    };
    // "2026-11-24T01:02:03.456+0000": RFC 3339 but for the offset's missing colon.
    let occurred_at = DateTime::parse_from_str(&s("StateChangeTime"), "%Y-%m-%dT%H:%M:%S%.f%z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(sent_at);
    let arn = s("AlarmArn");
    let region = arn.split(':').nth(3).unwrap_or_default().to_string();
    let id = if json["StateChangeTime"].is_string() {
        format!("CloudWatchAlarm/{name}/{}", s("StateChangeTime"))
    } else {
        format!("CloudWatchAlarm/{message_id}")
    };
    let title = match new_state.as_str() {
        "OK" => format!("Alarm {name} is OK again"),
        _ => format!("Alarm {name} is {new_state}"),
    };
    let mut alert = Alert::new(
        "CloudWatchAlarm",
        severity,
        ALARM_SOURCE,
        id,
        occurred_at,
        title,
        s("NewStateReason"),
    )
    .field("Alarm", &name)
    .field(
        "State",
        format!(
            "{} → {new_state}",
            json["OldStateValue"].as_str().unwrap_or("?")
        ),
    )
    .attribute("alarm", &name);
    let trigger = &json["Trigger"];
    if let Some(metric) = trigger["MetricName"].as_str() {
        let dimensions: Vec<String> = trigger["Dimensions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| Some(format!("{}={}", d["name"].as_str()?, d["value"].as_str()?)))
            .collect();
        let namespace = trigger["Namespace"].as_str().unwrap_or_default();
        alert = alert.field(
            "Metric",
            if dimensions.is_empty() {
                format!("{namespace} {metric}")
            } else {
                format!("{namespace} {metric} ({})", dimensions.join(", "))
            },
        );
        if let (Some(op), Some(threshold)) = (
            trigger["ComparisonOperator"].as_str(),
            trigger["Threshold"].as_f64(),
        ) {
            alert = alert.field("Condition", format!("{op} {threshold}"));
        }
    }
    if !s("AWSAccountId").is_empty() {
        alert = alert.field("Account", s("AWSAccountId"));
    }
    if !region.is_empty() {
        alert = alert.field("Region", &region).link(
            "Alarm in CloudWatch",
            format!(
                "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#alarmsV2:alarm/{}",
                url::form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>()
            ),
        );
    }
    if let Some(description) = json["AlarmDescription"].as_str().filter(|d| !d.is_empty()) {
        alert = alert.next_step(description);
    }
    alert
}

/// Any other message: its subject (or first line) as the title, its text as the summary.
fn other_alert(message: &str, subject: Option<&str>, message_id: &str, at: DateTime<Utc>) -> Alert {
    let title = subject
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
        .or_else(|| {
            message
                .lines()
                .find(|l| !l.trim().is_empty())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "Empty message on the alert topic".to_string());
    Alert::new(
        "Notification",
        Severity::Info,
        OTHER_SOURCE,
        format!("Notification/{message_id}"),
        at,
        truncate(&title, 200),
        truncate(message, MAX_OTHER_TEXT),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 3, 0, 0).unwrap()
    }

    fn envelope(message: &str, subject: Option<&str>) -> String {
        json!({
            "Type": "Notification",
            "MessageId": "5b2c0e8a-1111-2222-3333-444455556666",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:lakeops-alerts",
            "Subject": subject,
            "Message": message,
            "Timestamp": "2026-11-24T02:59:58.123Z",
        })
        .to_string()
    }

    #[test]
    fn every_captured_alert_body_reads_back_from_its_envelope() {
        for (name, body) in crate::corpus::alerts() {
            let notice = read(&envelope(&body.to_string(), Some("s")), "sqs-1", now());
            assert_eq!(notice.origin, "lakeops", "{name}");
            assert_eq!(notice.alert.json_body(), body, "{name}");
        }
    }

    #[test]
    fn a_cloudwatch_alarm_becomes_an_alarm_alert() {
        let notice = read(
            &envelope(crate::corpus::ALARM, Some("ALARM: x")),
            "sqs-1",
            now(),
        );
        assert_eq!(notice.origin, "alarm");
        let a = notice.alert;
        assert_eq!(a.kind, "CloudWatchAlarm");
        assert_eq!(a.severity, Severity::Critical);
        assert_eq!(a.title, "Alarm lakeops-long-query-killer-errors is ALARM");
        assert_eq!(
            a.id,
            "CloudWatchAlarm/lakeops-long-query-killer-errors/2026-11-24T02:55:00.512+0000"
        );
        assert_eq!(a.occurred_at.to_rfc3339(), "2026-11-24T02:55:00.512+00:00");
        let fields: Vec<_> = a.fields.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(
            fields,
            ["Alarm", "State", "Metric", "Condition", "Account", "Region"]
        );
        assert_eq!(
            a.fields[2].1,
            "AWS/Lambda Errors (FunctionName=lakeops-long-query-killer)"
        );
        assert!(a.links[0]
            .url
            .contains("#alarmsV2:alarm/lakeops-long-query-killer-errors"));
        assert_eq!(a.next_steps.len(), 1);
    }

    #[test]
    fn anything_else_is_delivered_as_a_notification() {
        let n = read(&envelope("hello\nfrom a person", None), "sqs-1", now());
        assert_eq!(n.origin, "other");
        assert_eq!(n.alert.kind, "Notification");
        assert_eq!(n.alert.title, "hello");
        assert_eq!(n.alert.summary, "hello\nfrom a person");
        assert_eq!(
            n.alert.id,
            "Notification/5b2c0e8a-1111-2222-3333-444455556666"
        );
        // raw delivery, not JSON at all
        let raw = read("plain words", "sqs-9", now());
        assert_eq!(raw.alert.id, "Notification/sqs-9");
        assert_eq!(raw.alert.occurred_at, now());
        // a broken lakeops body is still delivered, as text
        let broken = read(
            &envelope(
                r#"{"schema":"lakeops.alert.v1","kind":"X"}"#,
                Some("[lakeops] X"),
            ),
            "sqs-2",
            now(),
        );
        assert_eq!(broken.origin, "other");
        assert_eq!(broken.alert.title, "[lakeops] X");
        let empty = read(&envelope("", None), "sqs-3", now());
        assert_eq!(empty.alert.title, "Empty message on the alert topic");
    }
}
