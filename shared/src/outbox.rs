//! The alert outbox: alerts kept whole in the ledger table until they are published — the
//! killer's stop alerts *before* the stop, the transformer's error alerts after SNS refused
//! them. A run delivers what earlier runs kept (the killer does so after its own stops, best
//! effort), so a failed publish, a failed confirming read or a crash between the action and its
//! alert delays the alert instead of losing it.
//!
//! Why not the ledger alone: the ledger answers "was this said?" for alerts a later run can
//! rebuild from what it sees. An action changes what the next run sees — a stopped query is
//! CANCELLED, no longer a runaway — so the alert about it must be kept before the action, with
//! everything it says.
//!
//! Storage, in the ledger table (no new table): one item per kept alert
//! (`pk = outbox#<function>#<alert id>`, its `lakeops.alert.v1` body), and one list item per
//! function (`pk = outbox#<function>`) holding the kept ids as a string set. An alert's body is
//! written before its id is listed, and its id unlisted before its body is deleted, so a listed
//! id always has a body (or had one that TTL removed: the id is then dropped). The list item
//! holds thousands of ids within DynamoDB's 400 KB item limit, so an SNS outage does not make the
//! outbox full; bodies are read back 100 per `BatchGetItem`. Delivery is at least once: if the
//! removal after a publish fails, the next run publishes the same alert (same id) again, and
//! subscribers (and FIFO topics, and the alert-notifier's ledger) drop the repeat.
//!
//! Earlier versions kept the bodies as `pending:<id>` attributes of the list item itself; those
//! are still read and removed, so an upgrade loses no kept alert.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};

use crate::alert::{Alert, AlertSink};
use crate::batch_get::batch_get_items;
use crate::error::LakeopsError;
use crate::ledger::{KEY_ATTRIBUTE, TTL_ATTRIBUTE};

/// The list item's string set of kept alert ids.
const KEPT_IDS: &str = "kept";
/// A body item's alert JSON.
const BODY: &str = "body";
/// The attribute prefix of the single-item layout of earlier versions.
const LEGACY_PENDING: &str = "pending:";
/// A kept alert nobody delivered for this long is dropped by DynamoDB TTL.
const KEEP_DAYS: i64 = 14;

/// What delivering the kept alerts came to.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KeptDelivery {
    /// Alert ids published (and removed from the outbox).
    pub delivered: Vec<String>,
    /// Why the rest stay kept (the first failure).
    pub failure: Option<String>,
    /// Alerts still kept after this run (of those it was given).
    pub still_kept: usize,
}

/// Where a function keeps the alerts it could not publish yet (see the module doc). The
/// DynamoDB [`Outbox`] is the real one; [`MemoryOutbox`] honours the same contract for tests of
/// handler logic.
#[allow(async_fn_in_trait)]
pub trait AlertOutbox {
    /// Records `alert` as kept (replacing an earlier record of the same id).
    async fn keep_pending(&self, alert: &Alert, now: DateTime<Utc>) -> Result<(), LakeopsError>;
    /// Removes a delivered alert.
    async fn forget_delivered(&self, alert_id: &str) -> Result<(), LakeopsError>;
    /// Every kept alert, oldest first (by `occurred_at`, then id).
    async fn pending_alerts(&self) -> Result<Vec<Alert>, LakeopsError>;

    /// Publishes `kept` (read with [`Self::pending_alerts`], refreshed or filtered by the caller)
    /// in order, removing each once published. Stops at the first failure: the others wait for
    /// a later run rather than spend this one's time on the same outage. Best effort, never an
    /// error: what it could not deliver stays kept.
    async fn publish_kept<A: AlertSink>(&self, alerts: &A, kept: Vec<Alert>) -> KeptDelivery {
        let mut out = KeptDelivery {
            still_kept: kept.len(),
            ..KeptDelivery::default()
        };
        for alert in kept {
            let result = match alerts.publish(&alert).await {
                Ok(_) => self.forget_delivered(&alert.id).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => {
                    tracing::info!(alert_id = %alert.id, "kept alert delivered");
                    out.delivered.push(alert.id);
                    out.still_kept -= 1;
                }
                Err(e) => {
                    out.failure = Some(format!("kept alert {}: {e}", alert.id));
                    break;
                }
            }
        }
        out
    }
}

/// The outbox in memory: for tests of handler logic.
#[derive(Debug, Default)]
pub struct MemoryOutbox {
    kept: std::sync::Mutex<HashMap<String, Alert>>,
}

impl AlertOutbox for MemoryOutbox {
    async fn keep_pending(&self, alert: &Alert, _now: DateTime<Utc>) -> Result<(), LakeopsError> {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.insert(alert.id.clone(), alert.clone());
        Ok(())
    }

    async fn forget_delivered(&self, alert_id: &str) -> Result<(), LakeopsError> {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.remove(alert_id);
        Ok(())
    }

    async fn pending_alerts(&self) -> Result<Vec<Alert>, LakeopsError> {
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        let mut alerts: Vec<Alert> = kept.values().cloned().collect();
        alerts.sort_by(|a, b| a.occurred_at.cmp(&b.occurred_at).then(a.id.cmp(&b.id)));
        Ok(alerts)
    }
}

/// The outbox of one function in the ledger table.
#[derive(Debug, Clone)]
pub struct Outbox {
    client: aws_sdk_dynamodb::Client,
    table: String,
    key: String,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

impl Outbox {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>, owner: &str) -> Self {
        Self {
            client,
            table: table.into(),
            key: format!("outbox#{owner}"),
        }
    }

    fn body_key(&self, alert_id: &str) -> String {
        format!("{}#{alert_id}", self.key)
    }

    /// The bodies of `ids` that exist, by id ([`crate::batch_get`]: 100 keys a call,
    /// unprocessed keys asked again, an error if some stay unprocessed).
    async fn bodies(&self, ids: &[String]) -> Result<HashMap<String, String>, LakeopsError> {
        let keys = ids
            .iter()
            .map(|id| HashMap::from([(KEY_ATTRIBUTE.to_string(), s(self.body_key(id)))]))
            .collect();
        let (items, _) = batch_get_items(&self.client, &self.table, keys, None, true).await?;
        let prefix = format!("{}#", self.key);
        Ok(items
            .iter()
            .filter_map(|item| {
                let id = item
                    .get(KEY_ATTRIBUTE)?
                    .as_s()
                    .ok()?
                    .strip_prefix(&prefix)?;
                let body = item.get(BODY)?.as_s().ok()?;
                Some((id.to_string(), body.clone()))
            })
            .collect())
    }
}

impl AlertOutbox for Outbox {
    /// Records `alert` as kept (replacing an earlier record of the same id): its body, then
    /// its id in the list.
    async fn keep_pending(&self, alert: &Alert, now: DateTime<Utc>) -> Result<(), LakeopsError> {
        let ttl = AttributeValue::N((now + Duration::days(KEEP_DAYS)).timestamp().to_string());
        self.client
            .put_item()
            .table_name(&self.table)
            .item(KEY_ATTRIBUTE, s(self.body_key(&alert.id)))
            .item(BODY, s(alert.json_body().to_string()))
            .item(TTL_ATTRIBUTE, ttl.clone())
            .send()
            .await
            .map_err(|e| LakeopsError::aws("dynamodb:PutItem", e))?;
        self.client
            .update_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, s(&self.key))
            .update_expression("ADD #kept :id SET #ttl = :ttl")
            .expression_attribute_names("#kept", KEPT_IDS)
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":id", AttributeValue::Ss(vec![alert.id.clone()]))
            .expression_attribute_values(":ttl", ttl)
            .send()
            .await
            .map_err(|e| LakeopsError::aws("dynamodb:UpdateItem", e))?;
        Ok(())
    }

    /// Removes a delivered alert: its id from the list (and any record of it in the earlier
    /// layout), then its body. A body left behind is dropped by TTL.
    async fn forget_delivered(&self, alert_id: &str) -> Result<(), LakeopsError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, s(&self.key))
            .update_expression("REMOVE #legacy DELETE #kept :id")
            .expression_attribute_names("#legacy", format!("{LEGACY_PENDING}{alert_id}"))
            .expression_attribute_names("#kept", KEPT_IDS)
            .expression_attribute_values(":id", AttributeValue::Ss(vec![alert_id.to_string()]))
            .send()
            .await
            .map_err(|e| LakeopsError::aws("dynamodb:UpdateItem", e))?;
        if let Err(e) = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, s(self.body_key(alert_id)))
            .send()
            .await
        {
            tracing::warn!(alert_id, error = %LakeopsError::aws("dynamodb:DeleteItem", e), "delivered alert's body left for TTL");
        }
        Ok(())
    }

    /// Every kept alert, oldest first. A record that no longer reads as an alert (or whose body
    /// expired) is logged and removed: it could never be delivered.
    async fn pending_alerts(&self) -> Result<Vec<Alert>, LakeopsError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, s(&self.key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| LakeopsError::aws("dynamodb:GetItem", e))?;
        let list = out.item.unwrap_or_default();
        let mut bodies: Vec<(String, Option<String>)> = list
            .iter()
            .filter_map(|(name, value)| {
                let id = name.strip_prefix(LEGACY_PENDING)?;
                Some((id.to_string(), value.as_s().ok().cloned()))
            })
            .collect();
        let ids: Vec<String> = list
            .get(KEPT_IDS)
            .and_then(|v| v.as_ss().ok())
            .cloned()
            .unwrap_or_default();
        let mut stored = self.bodies(&ids).await?;
        bodies.extend(ids.into_iter().map(|id| {
            let body = stored.remove(&id);
            (id, body)
        }));
        let mut alerts = Vec::new();
        for (id, body) in bodies {
            let parsed = body.as_deref().and_then(|b| serde_json::from_str(b).ok());
            match parsed.as_ref().map(Alert::from_json_body) {
                Some(Ok(alert)) => alerts.push(alert),
                _ => {
                    tracing::error!(
                        alert_id = id,
                        "unreadable or expired kept alert dropped from the outbox"
                    );
                    self.forget_delivered(&id).await?;
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
    use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
    use aws_sdk_dynamodb::operation::delete_item::DeleteItemOutput;
    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
    use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
    use aws_sdk_dynamodb::types::KeysAndAttributes;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    const LIST: &str = "outbox#long-query-killer";

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

    fn body_item(id: &str, at: i64) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (KEY_ATTRIBUTE.to_string(), s(format!("{LIST}#{id}"))),
            (BODY.to_string(), s(alert(id, at).json_body().to_string())),
        ])
    }

    fn batch(
        items: Vec<HashMap<String, AttributeValue>>,
        unprocessed: &[&str],
    ) -> BatchGetItemOutput {
        let mut out = BatchGetItemOutput::builder().responses("ledger", items);
        if !unprocessed.is_empty() {
            let keys = unprocessed
                .iter()
                .map(|id| HashMap::from([(KEY_ATTRIBUTE.to_string(), s(format!("{LIST}#{id}")))]))
                .collect();
            out = out.unprocessed_keys(
                "ledger",
                KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .build()
                    .unwrap(),
            );
        }
        out.build()
    }

    #[tokio::test]
    async fn kept_alerts_read_back_oldest_first_across_pages_and_layouts_and_bad_ones_are_removed()
    {
        let list: HashMap<String, AttributeValue> = [
            ("pk", s(LIST)),
            (
                "kept",
                AttributeValue::Ss(vec!["a".into(), "b".into(), "gone".into()]),
            ),
            ("pending:c", s(alert("c", 50).json_body().to_string())),
            ("pending:broken", s("{")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let get = mock!(aws_sdk_dynamodb::Client::get_item).then_output(move || {
            GetItemOutput::builder()
                .set_item(Some(list.clone()))
                .build()
        });
        // DynamoDB leaves b unprocessed on the first call; it is asked again.
        let bodies = mock!(aws_sdk_dynamodb::Client::batch_get_item)
            .sequence()
            .output(|| batch(vec![body_item("a", 100)], &["b", "gone"]))
            .output(|| batch(vec![body_item("b", 200)], &[]))
            .build();
        let forget = mock!(aws_sdk_dynamodb::Client::update_item)
            .match_requests(|r| r.update_expression() == Some("REMOVE #legacy DELETE #kept :id"))
            .then_output(|| UpdateItemOutput::builder().build());
        let delete = mock!(aws_sdk_dynamodb::Client::delete_item)
            .then_output(|| DeleteItemOutput::builder().build());
        let client = mock_client!(
            aws_sdk_dynamodb,
            RuleMode::MatchAny,
            &[&get, &bodies, &forget, &delete]
        );
        let outbox = Outbox::new(client, "ledger", "long-query-killer");
        let ids: Vec<String> = outbox
            .pending_alerts()
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(ids, ["c", "a", "b"]);
        assert_eq!(bodies.num_calls(), 2);
        // "broken" (unreadable) and "gone" (its body expired) are dropped.
        assert_eq!(forget.num_calls(), 2);
    }

    #[tokio::test]
    async fn keeping_writes_the_whole_body_before_listing_its_id() {
        let body = mock!(aws_sdk_dynamodb::Client::put_item)
            .match_requests(|r| {
                let item = r.item().cloned().unwrap_or_default();
                item["pk"] == s(format!("{LIST}#long-query-killer/stopped/q-1"))
                    && item["body"]
                        .as_s()
                        .is_ok_and(|b| b.contains("\"schema\":\"lakeops.alert.v1\""))
            })
            .then_output(|| PutItemOutput::builder().build());
        let listed = mock!(aws_sdk_dynamodb::Client::update_item)
            .match_requests(|r| {
                let values = r.expression_attribute_values().cloned().unwrap_or_default();
                r.key().is_some_and(|k| k["pk"] == s(LIST))
                    && values[":id"]
                        == AttributeValue::Ss(vec!["long-query-killer/stopped/q-1".into()])
            })
            .then_output(|| UpdateItemOutput::builder().build());
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, &[&body, &listed]);
        Outbox::new(client, "ledger", "long-query-killer")
            .keep_pending(&alert("long-query-killer/stopped/q-1", 1), Utc::now())
            .await
            .unwrap();
        assert_eq!((body.num_calls(), listed.num_calls()), (1, 1));
    }
}
