//! The one alert model of lakeops and its delivery to SNS.
//!
//! Each alert is published once to the alert topic with `MessageStructure=json`, so every kind of
//! subscriber gets the body that suits it:
//! - `email` / `default`: a readable text body;
//! - `sqs`, `lambda`, `http`, `email-json`, `firehose`: the versioned JSON body
//!   (`"schema": "lakeops.alert.v1"`) with every field;
//! - `https`: the AWS Chatbot custom-notification shape (AWS Chatbot subscribes to SNS over
//!   HTTPS), so Slack and Teams render it. A plain HTTPS webhook gets the same shape: it is JSON
//!   and carries every field under `metadata.additionalContext`.
//!
//! Message attributes (`kind`, `severity`, `source` and the alert's own, e.g. `workgroup`) allow
//! SNS filter policies such as "only critical alerts to the pager".

use std::collections::BTreeMap;
use std::fmt;

use aws_sdk_sns::types::MessageAttributeValue;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::error::LakeopsError;

mod body;

pub use body::AlertBodyError;

/// Version of the JSON body; bump when a field changes meaning or disappears.
pub const SCHEMA: &str = "lakeops.alert.v1";
/// SNS: subject must be ASCII, no line breaks, under 100 characters.
pub const MAX_SUBJECT_CHARS: usize = 99;
/// SNS: whole message at most 256 KiB.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// SNS delivers at most 10 message attributes to SQS/Lambda subscribers.
const MAX_ATTRIBUTES: usize = 10;
/// One human-readable field value is cut beyond this (SQL text, log excerpts).
const MAX_FIELD_CHARS: usize = 4000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    pub label: String,
    pub url: String,
}

/// Something a person should know about. Build with [`Alert::new`] and the `with_*` methods.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// What happened, in CamelCase: `ExpensiveQuery`, `QueryStopped`, `RowCountMismatch`, ...
    pub kind: String,
    pub severity: Severity,
    /// The function that raised it.
    pub source: String,
    /// One line; the e-mail subject and chat title.
    pub title: String,
    /// A sentence or two saying what happened and why it matters.
    pub summary: String,
    /// Labelled values for people, in reading order.
    pub fields: Vec<(String, String)>,
    /// Values for SNS filter policies (e.g. `workgroup`), also in the JSON body.
    pub attributes: BTreeMap<String, String>,
    pub links: Vec<Link>,
    /// Every machine-readable field (numbers as numbers).
    pub details: Map<String, Value>,
    pub next_steps: Vec<String>,
    /// Stable identity: the same event retried yields the same id, so subscribers (and FIFO
    /// topics) can drop duplicates.
    pub id: String,
    pub occurred_at: DateTime<Utc>,
}

impl Alert {
    pub fn new(
        kind: &str,
        severity: Severity,
        source: &str,
        id: impl Into<String>,
        occurred_at: DateTime<Utc>,
        title: impl Into<String>,
        summary: impl Into<String>,
    ) -> Self {
        Self {
            kind: kind.to_string(),
            severity,
            source: source.to_string(),
            title: title.into(),
            summary: summary.into(),
            fields: Vec::new(),
            attributes: BTreeMap::new(),
            links: Vec::new(),
            details: Map::new(),
            next_steps: Vec::new(),
            id: id.into(),
            occurred_at,
        }
    }

    pub fn field(mut self, label: &str, value: impl fmt::Display) -> Self {
        self.fields.push((label.to_string(), value.to_string()));
        self
    }

    pub fn attribute(mut self, name: &str, value: impl Into<String>) -> Self {
        self.attributes.insert(name.to_string(), value.into());
        self
    }

    /// Who ran the query an alert is about: the "Run by" and "Client" fields, the `run_by`,
    /// `client`, `principal` and `person_source` message attributes (an SNS filter policy routes
    /// per team on them, or sends `caller-chosen` attributions to whoever fixes trust policies)
    /// and details. Without a CloudTrail record: "unknown (no CloudTrail trail)".
    pub fn run_by(self, caller: Option<&crate::attribution::Caller>) -> Self {
        use crate::attribution::{run_by_text, UNKNOWN};
        let or_unknown = |f: fn(&crate::attribution::Caller) -> &str| {
            caller.map(f).unwrap_or(UNKNOWN).to_string()
        };
        let (person, client, principal, source) = (
            or_unknown(|c| &c.person),
            or_unknown(|c| &c.client),
            or_unknown(|c| &c.principal_arn),
            or_unknown(|c| c.person_source.as_str()),
        );
        self.field("Run by", run_by_text(caller))
            .field("Client", &client)
            .attribute("run_by", &person)
            .attribute("client", &client)
            .attribute("principal", &principal)
            .attribute("person_source", &source)
            .detail("run_by", caller.map(|c| &c.person))
            .detail("person_source", caller.map(|c| c.person_source.as_str()))
            .detail(
                "session_name",
                caller.and_then(|c| Some(&c.session_name).filter(|s| !s.is_empty())),
            )
            .detail("principal_arn", caller.map(|c| &c.principal_arn))
            .detail("client", caller.map(|c| &c.client))
            .detail("source_ip", caller.map(|c| &c.source_ip))
            .detail("account", caller.map(|c| &c.account))
    }

    pub fn link(mut self, label: &str, url: impl Into<String>) -> Self {
        self.links.push(Link {
            label: label.to_string(),
            url: url.into(),
        });
        self
    }

    pub fn detail(mut self, name: &str, value: impl Serialize) -> Self {
        self.details.insert(
            name.to_string(),
            serde_json::to_value(value).unwrap_or(Value::Null),
        );
        self
    }

    pub fn next_step(mut self, step: impl Into<String>) -> Self {
        self.next_steps.push(step.into());
        self
    }

    /// `[lakeops] CRITICAL: <title>`, made safe for SNS: ASCII only, no control characters,
    /// under 100 characters (cut with `...`).
    pub fn subject(&self) -> String {
        let raw = format!(
            "[lakeops] {}: {}",
            self.severity.to_string().to_uppercase(),
            self.title
        );
        let clean: String = raw
            .chars()
            .map(|c| {
                if c.is_ascii() && !c.is_ascii_control() {
                    c
                } else if c.is_whitespace() {
                    ' '
                } else {
                    '?'
                }
            })
            .collect();
        let clean = clean.split_whitespace().collect::<Vec<_>>().join(" ");
        if clean.len() <= MAX_SUBJECT_CHARS {
            clean
        } else {
            format!("{}...", &clean[..MAX_SUBJECT_CHARS - 3])
        }
    }

    /// The e-mail body.
    pub fn text_body(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "{} - {}\n",
            self.severity.to_string().to_uppercase(),
            self.title
        ));
        out.push_str(&format!("{}\n\n", self.summary));
        let width = self
            .fields
            .iter()
            .map(|(l, _)| l.chars().count())
            .max()
            .unwrap_or(0);
        for (label, value) in &self.fields {
            let value = truncate(value, MAX_FIELD_CHARS);
            let mut lines = value.lines();
            out.push_str(&format!(
                "  {label:<width$}  {}\n",
                lines.next().unwrap_or("")
            ));
            for more in lines {
                out.push_str(&format!("  {:<width$}  {more}\n", ""));
            }
        }
        if !self.links.is_empty() {
            out.push_str("\nLinks:\n");
            for l in &self.links {
                out.push_str(&format!("  {}: {}\n", l.label, l.url));
            }
        }
        if !self.next_steps.is_empty() {
            out.push_str("\nNext steps:\n");
            for s in &self.next_steps {
                out.push_str(&format!("  - {s}\n"));
            }
        }
        out.push_str(&format!(
            "\n-- {} · {} · alert id {} · {}\n",
            self.source,
            self.kind,
            self.id,
            self.occurred_at.to_rfc3339_opts(SecondsFormat::Secs, true)
        ));
        out
    }

    /// The versioned machine body.
    pub fn json_body(&self) -> Value {
        json!({
            "schema": SCHEMA,
            "id": self.id,
            "kind": self.kind,
            "severity": self.severity,
            "source": self.source,
            "occurred_at": self.occurred_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "title": self.title,
            "summary": self.summary,
            "attributes": self.attributes,
            "fields": self.fields.iter().map(|(l, v)| json!({"label": l, "value": truncate(v, MAX_FIELD_CHARS)})).collect::<Vec<_>>(),
            "details": self.details,
            "links": self.links,
            "next_steps": self.next_steps,
        })
    }

    /// AWS Chatbot custom notification (Slack / Microsoft Teams).
    pub fn chatbot_body(&self) -> Value {
        let icon = match self.severity {
            Severity::Critical => ":rotating_light:",
            Severity::Warning => ":warning:",
            Severity::Info => ":information_source:",
        };
        let mut description = format!("{}\n", self.summary);
        for (label, value) in &self.fields {
            let value = truncate(value, 500);
            if value.contains('\n') {
                description.push_str(&format!("*{label}*\n```{value}```\n"));
            } else {
                description.push_str(&format!("*{label}*: {value}\n"));
            }
        }
        for l in &self.links {
            description.push_str(&format!("<{}|{}>\n", l.url, l.label));
        }
        let mut context: Map<String, Value> = self
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        context.insert("alert_id".into(), Value::String(self.id.clone()));
        json!({
            "version": "1.0",
            "source": "custom",
            "id": self.id,
            "content": {
                "textType": "client-markdown",
                "title": format!("{icon} {}", self.title),
                "description": truncate(&description, 8000),
                "nextSteps": self.next_steps,
            },
            "metadata": {
                "threadId": format!("lakeops-{}", self.kind),
                "summary": self.subject(),
                "eventType": self.kind,
                "relatedResources": self.links.iter().map(|l| l.url.clone()).collect::<Vec<_>>(),
                "additionalContext": context,
            }
        })
    }

    /// The SNS `Message` for `MessageStructure=json`; details are dropped (and the fact noted) if
    /// the whole would exceed SNS's 256 KiB.
    pub fn sns_message(&self) -> String {
        let render = |alert: &Alert| {
            let machine = alert.json_body().to_string();
            let text = alert.text_body();
            json!({
                "default": text,
                "email": text,
                "email-json": machine,
                "sqs": machine,
                "lambda": machine,
                "http": machine,
                "firehose": machine,
                "https": alert.chatbot_body().to_string(),
            })
            .to_string()
        };
        let message = render(self);
        if message.len() <= MAX_MESSAGE_BYTES {
            return message;
        }
        let mut smaller = self.clone();
        smaller.details = Map::from_iter([("truncated".to_string(), Value::Bool(true))]);
        smaller
            .fields
            .iter_mut()
            .for_each(|(_, v)| *v = truncate(v, 500));
        render(&smaller)
    }

    /// SNS message attributes: `kind`, `severity`, `source`, then the alert's own (10 at most).
    pub fn message_attributes(&self) -> Vec<(String, String)> {
        let mut attrs = vec![
            ("kind".to_string(), self.kind.clone()),
            ("severity".to_string(), self.severity.to_string()),
            ("source".to_string(), self.source.clone()),
        ];
        attrs.extend(
            self.attributes
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.clone(), v.clone()))
                .take(MAX_ATTRIBUTES - 3),
        );
        attrs
    }
}

/// Cuts `s` to at most `max` characters, marking the cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let kept: String = s.chars().take(max.saturating_sub(14)).collect();
    format!("{kept} …[truncated]")
}

/// What became of one alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Published {
        message_id: String,
    },
    /// Dry-run: logged, not published.
    Logged,
}

/// Where alerts go. The SNS publisher is the real one; tests of handler logic use
/// [`RecordingSink`].
#[allow(async_fn_in_trait)]
pub trait AlertSink {
    async fn publish(&self, alert: &Alert) -> Result<Delivery, LakeopsError>;

    /// Publishes every alert, even after a failure, then fails listing what was not delivered
    /// (so the invocation fails and Lambda retries it; subscribers dedupe on the alert `id`).
    async fn publish_all(&self, alerts: &[Alert]) -> Result<usize, LakeopsError> {
        let mut failed = Vec::new();
        for alert in alerts {
            if let Err(e) = self.publish(alert).await {
                tracing::error!(alert_id = %alert.id, kind = %alert.kind, error = %e, "alert not delivered");
                failed.push(format!("{} ({e})", alert.id));
            }
        }
        if failed.is_empty() {
            Ok(alerts.len())
        } else {
            Err(LakeopsError::Undelivered(format!(
                "{} of {} alerts: {}",
                failed.len(),
                alerts.len(),
                failed.join("; ")
            )))
        }
    }
}

/// Publishes alerts to the SNS alert topic.
#[derive(Debug, Clone)]
pub struct SnsAlertPublisher {
    client: aws_sdk_sns::Client,
    topic_arn: String,
    dry_run: bool,
}

impl SnsAlertPublisher {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>, dry_run: bool) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
            dry_run,
        }
    }
}

impl AlertSink for SnsAlertPublisher {
    async fn publish(&self, alert: &Alert) -> Result<Delivery, LakeopsError> {
        if self.dry_run {
            tracing::info!(
                dry_run = true,
                alert_id = %alert.id,
                kind = %alert.kind,
                severity = %alert.severity,
                subject = %alert.subject(),
                body = %alert.json_body(),
                "alert (dry run, not published)"
            );
            return Ok(Delivery::Logged);
        }
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(alert.subject())
            .message_structure("json")
            .message(alert.sns_message());
        for (name, value) in alert.message_attributes() {
            let value = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| LakeopsError::aws("sns:Publish", e))?;
            request = request.message_attributes(name, value);
        }
        if self.topic_arn.ends_with(".fifo") {
            // FIFO topics drop a repeated id within 5 minutes: a retried invocation cannot
            // deliver the same alert twice.
            request = request
                .message_group_id(&alert.kind)
                .message_deduplication_id(dedup_token(&alert.id));
        }
        let out = request
            .send()
            .await
            .map_err(|e| LakeopsError::aws("sns:Publish", e))?;
        let message_id = out.message_id().unwrap_or_default().to_string();
        tracing::info!(alert_id = %alert.id, kind = %alert.kind, severity = %alert.severity, %message_id, "alert published");
        Ok(Delivery::Published { message_id })
    }
}

/// SNS deduplication ids allow at most 128 characters of `[A-Za-z0-9!-~]`.
fn dedup_token(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(128)
        .collect()
}

/// Keeps alerts in memory: for testing handler logic without SNS.
#[derive(Debug, Default)]
pub struct RecordingSink {
    pub alerts: std::sync::Mutex<Vec<Alert>>,
    /// Publishes to refuse (as SNS does in an outage) before accepting again.
    pub refusals: std::sync::atomic::AtomicUsize,
}

impl RecordingSink {
    /// Refuses the next `n` publishes.
    pub fn refuse_next(&self, n: usize) {
        self.refusals.store(n, std::sync::atomic::Ordering::SeqCst);
    }
}

impl AlertSink for RecordingSink {
    async fn publish(&self, alert: &Alert) -> Result<Delivery, LakeopsError> {
        use std::sync::atomic::Ordering;
        let refused = self
            .refusals
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if refused.is_ok() {
            return Err(LakeopsError::Undelivered(format!(
                "sns:Publish refused (test outage): {}",
                alert.id
            )));
        }
        self.alerts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(alert.clone());
        Ok(Delivery::Logged)
    }
}

#[cfg(test)]
mod tests;
