//! Reading an alert's [`SCHEMA`] JSON body back into an [`Alert`].

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Alert, Severity, SCHEMA};

/// Why a JSON body is not a readable [`SCHEMA`] alert: the member that is missing or wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AlertBodyError {
    /// The body's `schema` member (`null` when it has none).
    #[error("not a {SCHEMA} body (schema {schema})")]
    NotThisSchema { schema: Value },
    /// A required string member is absent or not a string.
    #[error("{SCHEMA} body without `{member}`")]
    Missing { member: &'static str },
    #[error("{SCHEMA} body with severity {value}")]
    Severity { value: Value },
    #[error("{SCHEMA} body with occurred_at {value:?}: {source}")]
    OccurredAt {
        value: String,
        source: chrono::ParseError,
    },
}

impl Alert {
    /// Reads a [`SCHEMA`] body back (what an SQS or Lambda subscriber of the topic receives):
    /// the inverse of [`Alert::json_body`]. Unknown members are ignored; a missing or wrong
    /// required member is an error naming it.
    pub fn from_json_body(body: &Value) -> Result<Alert, AlertBodyError> {
        if body["schema"] != SCHEMA {
            return Err(AlertBodyError::NotThisSchema {
                schema: body["schema"].clone(),
            });
        }
        let text = |member: &'static str| -> Result<String, AlertBodyError> {
            body[member]
                .as_str()
                .map(str::to_string)
                .ok_or(AlertBodyError::Missing { member })
        };
        let severity: Severity =
            serde_json::from_value(body["severity"].clone()).map_err(|_| {
                AlertBodyError::Severity {
                    value: body["severity"].clone(),
                }
            })?;
        let occurred_at = text("occurred_at")?;
        let occurred_at = DateTime::parse_from_rfc3339(&occurred_at)
            .map_err(|source| AlertBodyError::OccurredAt {
                value: occurred_at.clone(),
                source,
            })?
            .with_timezone(&Utc);
        let strings = |name: &str| -> Vec<String> {
            body[name]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        };
        Ok(Alert {
            kind: text("kind")?,
            severity,
            source: text("source")?,
            title: text("title")?,
            summary: text("summary").unwrap_or_default(),
            fields: body["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| Some((f["label"].as_str()?.into(), f["value"].as_str()?.into())))
                .collect(),
            attributes: body["attributes"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect(),
            links: serde_json::from_value(body["links"].clone()).unwrap_or_default(),
            details: body["details"].as_object().cloned().unwrap_or_default(),
            next_steps: strings("next_steps"),
            id: text("id")?,
            occurred_at,
        })
    }
}
