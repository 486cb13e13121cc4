//! The alert outbox: an alert about an action is recorded — whole — *before* the action, and
//! removed once it is published. Every run first delivers what is still recorded, so a failed
//! publish, a failed confirming read or a crash between the action and its alert delays the
//! alert instead of losing it.
//!
//! Why not the ledger alone: the ledger answers "was this said?" for alerts a later run can
//! rebuild from what it sees. An action changes what the next run sees — a stopped query is
//! CANCELLED, no longer a runaway — so the alert about it must be kept before the action, with
//! everything it says.
//!
//! Storage: one item of the ledger table per owner (`pk = outbox#<function>`), one attribute
//! per pending alert (`pending:<alert id>` = its `lakeops.alert.v1` body). No new table; an item
//! holds up to 400 KB, dozens of alerts — a run that cannot record an alert does not act.
//! Delivery is at least once: if the removal after a publish fails, the next run publishes the
//! same alert (same id) again, and subscribers (and FIFO topics, and the alert-notifier's
//! ledger) drop the repeat.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};

use crate::alert::Alert;
use crate::error::LakeopsError;
use crate::ledger::{KEY_ATTRIBUTE, TTL_ATTRIBUTE};

const PENDING: &str = "pending:";
/// A pending alert nobody delivered for this long is dropped by DynamoDB TTL.
const KEEP_DAYS: i64 = 14;

/// The outbox of one function in the ledger table.
#[derive(Debug, Clone)]
pub struct Outbox {
    client: aws_sdk_dynamodb::Client,
    table: String,
    key: String,
}

impl Outbox {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>, owner: &str) -> Self {
        Self {
            client,
            table: table.into(),
            key: format!("outbox#{owner}"),
        }
    }

    /// Records `alert` as pending (replacing an earlier record of the same id).
    pub async fn keep_pending(
        &self,
        alert: &Alert,
        now: DateTime<Utc>,
    ) -> Result<(), LakeopsError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, AttributeValue::S(self.key.clone()))
            .update_expression("SET #a = :body, #ttl = :ttl")
            .expression_attribute_names("#a", format!("{PENDING}{}", alert.id))
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":body", AttributeValue::S(alert.json_body().to_string()))
            .expression_attribute_values(
                ":ttl",
                AttributeValue::N((now + Duration::days(KEEP_DAYS)).timestamp().to_string()),
            )
            .send()
            .await
            .map_err(|e| LakeopsError::aws("dynamodb:UpdateItem", e))?;
        Ok(())
    }

    /// Removes a delivered alert.
    pub async fn forget_delivered(&self, alert_id: &str) -> Result<(), LakeopsError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, AttributeValue::S(self.key.clone()))
            .update_expression("REMOVE #a")
            .expression_attribute_names("#a", format!("{PENDING}{alert_id}"))
            .send()
            .await
            .map_err(|e| LakeopsError::aws("dynamodb:UpdateItem", e))?;
        Ok(())
    }

    /// Every pending alert, oldest first. A record that no longer reads as an alert is logged
    /// and removed (it could never be delivered).
    pub async fn pending_alerts(&self) -> Result<Vec<Alert>, LakeopsError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, AttributeValue::S(self.key.clone()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| LakeopsError::aws("dynamodb:GetItem", e))?;
        let mut alerts = Vec::new();
        for (name, value) in out.item.unwrap_or_default() {
            let Some(id) = name.strip_prefix(PENDING) else {
                continue;
            };
            let body = value.as_s().ok().and_then(|s| serde_json::from_str(s).ok());
            match body.as_ref().map(Alert::from_json_body) {
                Some(Ok(alert)) => alerts.push(alert),
                _ => {
                    tracing::error!(
                        alert_id = id,
                        "unreadable pending alert dropped from the outbox"
                    );
                    self.forget_delivered(id).await?;
                }
            }
        }
        alerts.sort_by(|a, b| a.occurred_at.cmp(&b.occurred_at).then(a.id.cmp(&b.id)));
        Ok(alerts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Severity;
    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use std::collections::HashMap;

    fn alert(id: &str, at: i64) -> Alert {
        Alert::new(
            "QueryStopped",
            Severity::Critical,
            "long-query-killer",
            id,
            DateTime::from_timestamp(at, 0).unwrap(),
            "t",
            "s",
        )
    }

    #[tokio::test]
    async fn pending_alerts_read_back_oldest_first_and_bad_records_are_removed() {
        let item: HashMap<String, AttributeValue> = [
            ("pk", AttributeValue::S("outbox#long-query-killer".into())),
            ("expires_at", AttributeValue::N("1".into())),
            (
                "pending:b",
                AttributeValue::S(alert("b", 200).json_body().to_string()),
            ),
            (
                "pending:a",
                AttributeValue::S(alert("a", 100).json_body().to_string()),
            ),
            ("pending:broken", AttributeValue::S("{".into())),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let get = mock!(aws_sdk_dynamodb::Client::get_item).then_output(move || {
            GetItemOutput::builder()
                .set_item(Some(item.clone()))
                .build()
        });
        let remove = mock!(aws_sdk_dynamodb::Client::update_item)
            .match_requests(|r| {
                r.update_expression() == Some("REMOVE #a")
                    && r.expression_attribute_names()
                        .is_some_and(|n| n["#a"] == "pending:broken")
            })
            .then_output(|| UpdateItemOutput::builder().build());
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&get, &remove]);
        let outbox = Outbox::new(client, "ledger", "long-query-killer");
        let ids: Vec<String> = outbox
            .pending_alerts()
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(remove.num_calls(), 1);
    }

    #[tokio::test]
    async fn recording_writes_the_whole_body_under_the_alert_id() {
        let record = mock!(aws_sdk_dynamodb::Client::update_item)
            .match_requests(|r| {
                let names = r.expression_attribute_names().cloned().unwrap_or_default();
                let values = r.expression_attribute_values().cloned().unwrap_or_default();
                names["#a"] == "pending:long-query-killer/stopped/q-1"
                    && values[":body"]
                        .as_s()
                        .is_ok_and(|b| b.contains("\"schema\":\"lakeops.alert.v1\""))
                    && r.key().is_some_and(|k| {
                        k["pk"] == AttributeValue::S("outbox#long-query-killer".into())
                    })
            })
            .then_output(|| UpdateItemOutput::builder().build());
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&record]);
        Outbox::new(client, "ledger", "long-query-killer")
            .keep_pending(&alert("long-query-killer/stopped/q-1", 1), Utc::now())
            .await
            .unwrap();
        assert_eq!(record.num_calls(), 1);
    }
}
