//! The alert ledger: "has this already been said / done?" across runs and retries.
//!
//! Some alerts cannot be made idempotent from the event alone: a warning for a query that stays
//! in the warning range is due on every run until the query ends, and a retried invocation of
//! the same scheduled event sees the same world again. A DynamoDB item per alert key, written with
//! a conditional put (`attribute_not_exists`), makes "send once" exact: the first claim wins,
//! every later claim for the key is refused. Items expire through DynamoDB TTL (`expires_at`).
//!
//! If sending fails after a claim, the claim is released so the retry sends it.

use std::collections::HashSet;
use std::sync::Mutex;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};

use crate::error::LakeopsError;

/// Partition key attribute of the ledger table.
pub const KEY_ATTRIBUTE: &str = "pk";
/// TTL attribute (epoch seconds).
pub const TTL_ATTRIBUTE: &str = "expires_at";

#[allow(async_fn_in_trait)]
pub trait Ledger {
    /// Claims `key`; `true` if this call is the first, `false` if it was already claimed.
    async fn claim(
        &self,
        key: &str,
        now: DateTime<Utc>,
        keep_for: Duration,
    ) -> Result<bool, LakeopsError>;
    /// Gives a claim back (the thing it guarded did not happen after all).
    async fn release(&self, key: &str) -> Result<(), LakeopsError>;
    /// Whether `key` is claimed now (a strongly consistent read). For "do, then record" uses
    /// where a crash between the two must repeat the action rather than lose it: check, act,
    /// then [`Ledger::claim`].
    async fn is_claimed(&self, key: &str) -> Result<bool, LakeopsError>;
}

/// Publishes `alert` unless `key` was already claimed; `Ok(true)` when it was sent now. If
/// publishing fails the claim is given back, so the retry of the invocation sends it.
pub async fn send_once<L: Ledger, A: crate::alert::AlertSink>(
    ledger: &L,
    alerts: &A,
    key: &str,
    alert: &crate::alert::Alert,
    now: DateTime<Utc>,
    keep_for: Duration,
) -> Result<bool, LakeopsError> {
    if !ledger.claim(key, now, keep_for).await? {
        return Ok(false);
    }
    if let Err(e) = alerts.publish(alert).await {
        if let Err(release) = ledger.release(key).await {
            tracing::error!(key, error = %release, "could not release ledger claim");
        }
        return Err(e);
    }
    Ok(true)
}

/// [`send_once`] keyed by the alert's own id (stable across retries) at its `occurred_at`, noted
/// in a run's summary: the id goes to `sent` when it was published now, a failure to `failures`
/// (the run carries on and fails at the end, so a retry sends what is missing). Returns
/// `Some(true)` sent now, `Some(false)` sent before, `None` failed.
pub async fn send_alert_once<L: Ledger, A: crate::alert::AlertSink>(
    ledger: &L,
    alerts: &A,
    alert: &crate::alert::Alert,
    keep_for: Duration,
    sent: &mut Vec<String>,
    failures: &mut Vec<String>,
) -> Option<bool> {
    match send_once(
        ledger,
        alerts,
        &alert.id,
        alert,
        alert.occurred_at,
        keep_for,
    )
    .await
    {
        Ok(true) => {
            sent.push(alert.id.clone());
            Some(true)
        }
        Ok(false) => Some(false),
        Err(e) => {
            failures.push(format!("alert {}: {e}", alert.id));
            None
        }
    }
}

/// The ledger in a DynamoDB table (partition key `pk`, string; TTL on `expires_at`).
#[derive(Debug, Clone)]
pub struct DynamoLedger {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoLedger {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl Ledger for DynamoLedger {
    async fn claim(
        &self,
        key: &str,
        now: DateTime<Utc>,
        keep_for: Duration,
    ) -> Result<bool, LakeopsError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(KEY_ATTRIBUTE, AttributeValue::S(key.to_string()))
            .item("claimed_at", AttributeValue::S(now.to_rfc3339()))
            .item(
                TTL_ATTRIBUTE,
                AttributeValue::N((now + keep_for).timestamp().to_string()),
            )
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", KEY_ATTRIBUTE)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(LakeopsError::aws("dynamodb:PutItem", e)),
        }
    }

    async fn is_claimed(&self, key: &str) -> Result<bool, LakeopsError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, AttributeValue::S(key.to_string()))
            .consistent_read(true)
            .projection_expression("#pk")
            .expression_attribute_names("#pk", KEY_ATTRIBUTE)
            .send()
            .await
            .map_err(|e| LakeopsError::aws("dynamodb:GetItem", e))?;
        Ok(out.item.is_some())
    }

    async fn release(&self, key: &str) -> Result<(), LakeopsError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, AttributeValue::S(key.to_string()))
            .send()
            .await
            .map_err(|e| LakeopsError::aws("dynamodb:DeleteItem", e))?;
        Ok(())
    }
}

/// The ledger in memory: for tests of handler logic.
#[derive(Debug, Default)]
pub struct MemoryLedger {
    keys: Mutex<HashSet<String>>,
}

impl Ledger for MemoryLedger {
    async fn claim(
        &self,
        key: &str,
        _now: DateTime<Utc>,
        _keep_for: Duration,
    ) -> Result<bool, LakeopsError> {
        Ok(self
            .keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_string()))
    }

    async fn release(&self, key: &str) -> Result<(), LakeopsError> {
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        Ok(())
    }

    async fn is_claimed(&self, key: &str) -> Result<bool, LakeopsError> {
        Ok(self
            .keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
    use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    #[tokio::test]
    async fn a_key_is_claimed_once() {
        let first = mock!(aws_sdk_dynamodb::Client::put_item)
            .then_output(|| PutItemOutput::builder().build());
        let second = mock!(aws_sdk_dynamodb::Client::put_item).then_error(|| {
            PutItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder().build(),
            )
        });
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, &[&first, &second]);
        let ledger = DynamoLedger::new(client, "ledger");
        let now = Utc::now();
        assert!(ledger
            .claim("warn#q1", now, Duration::days(2))
            .await
            .unwrap());
        assert!(!ledger
            .claim("warn#q1", now, Duration::days(2))
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn other_failures_are_errors_not_silent_claims() {
        let broken = mock!(aws_sdk_dynamodb::Client::put_item)
            .then_error(|| PutItemError::unhandled("no table"));
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, &[&broken]);
        let err = DynamoLedger::new(client, "ledger")
            .claim("k", Utc::now(), Duration::days(1))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("dynamodb:PutItem"), "{err}");
    }
}
