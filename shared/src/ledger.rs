//! The alert ledger: "has this already been said / done?" across runs and retries.
//!
//! Some alerts cannot be made idempotent from the event alone: a warning for a query that stays
//! in the warning range is due on every run until the query ends, and a retried invocation of
//! the same scheduled event sees the same world again. A DynamoDB item per alert key, written with
//! a conditional put (`attribute_not_exists`), makes "send once" exact: the first claim wins,
//! every later claim for the key is refused. Items expire through DynamoDB TTL (`expires_at`).
//!
//! If sending fails after a claim, the claim is released so the retry sends it. A claim made to
//! send an alert ([`Ledger::claim_to_send`]) is a *lease* until the send is confirmed: if the
//! function dies between claim and publish (or cannot give the claim back), another run may claim
//! the key again once the lease has run out ([`send_lease`], 10 minutes), so the alert is late,
//! not lost. At least once: if the confirmation after a publish fails, the alert is sent again
//! after the lease, with the same id.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};

use crate::error::LakeopsError;

/// Partition key attribute of the ledger table.
pub const KEY_ATTRIBUTE: &str = "pk";
/// TTL attribute (epoch seconds).
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// A claim to send: `sending` until confirmed `sent`.
const STATE_ATTRIBUTE: &str = "state";
const SENDING: &str = "sending";
const SENT: &str = "sent";
/// Until when (epoch seconds) an unconfirmed claim to send holds.
const LEASE_ATTRIBUTE: &str = "lease_until";

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
    /// Claims `key` to send something: `true` if the key is new, or was claimed to send before
    /// and never confirmed within its lease (that sender died); `false` if it was sent.
    async fn claim_to_send(
        &self,
        key: &str,
        now: DateTime<Utc>,
        keep_for: Duration,
        lease: Duration,
    ) -> Result<bool, LakeopsError>;
    /// Confirms a [`Ledger::claim_to_send`]: it was sent; the key is never claimed again.
    async fn confirm_sent(&self, key: &str) -> Result<(), LakeopsError>;
}

/// How long a claim to send waits for its confirmation before another run may send in its place.
/// `LAKEOPS_SEND_LEASE_SECONDS` (default 600): how long a claim to send an alert waits for its
/// confirmation before another run may send it; longer than any publish with the SDK's retries.
pub fn send_lease() -> Duration {
    static LEASE: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    Duration::seconds(*LEASE.get_or_init(|| {
        std::env::var("LAKEOPS_SEND_LEASE_SECONDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|s| *s > 0)
            .unwrap_or(600)
    }))
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
    if !ledger
        .claim_to_send(key, now, keep_for, send_lease())
        .await?
    {
        return Ok(false);
    }
    if let Err(e) = alerts.publish(alert).await {
        if let Err(release) = ledger.release(key).await {
            // The lease runs out and a later run sends it.
            tracing::error!(key, error = %release, "could not release ledger claim; the alert is retried after its lease");
        }
        return Err(e);
    }
    if let Err(e) = ledger.confirm_sent(key).await {
        tracing::error!(key, error = %e, "sent but not confirmed: may be sent again (same id) after its lease");
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
        claimed(result)
    }

    async fn claim_to_send(
        &self,
        key: &str,
        now: DateTime<Utc>,
        keep_for: Duration,
        lease: Duration,
    ) -> Result<bool, LakeopsError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(KEY_ATTRIBUTE, AttributeValue::S(key.to_string()))
            .item("claimed_at", AttributeValue::S(now.to_rfc3339()))
            .item(STATE_ATTRIBUTE, AttributeValue::S(SENDING.into()))
            .item(
                LEASE_ATTRIBUTE,
                AttributeValue::N((now + lease).timestamp().to_string()),
            )
            .item(
                TTL_ATTRIBUTE,
                AttributeValue::N((now + keep_for).timestamp().to_string()),
            )
            // New, or a send that was never confirmed and whose lease has run out. Keys claimed
            // with `claim` (no state) count as sent.
            .condition_expression(
                "attribute_not_exists(#pk) OR (#state = :sending AND #lease < :now)",
            )
            .expression_attribute_names("#pk", KEY_ATTRIBUTE)
            .expression_attribute_names("#state", STATE_ATTRIBUTE)
            .expression_attribute_names("#lease", LEASE_ATTRIBUTE)
            .expression_attribute_values(":sending", AttributeValue::S(SENDING.into()))
            .expression_attribute_values(":now", AttributeValue::N(now.timestamp().to_string()))
            .send()
            .await;
        claimed(result)
    }

    async fn confirm_sent(&self, key: &str) -> Result<(), LakeopsError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, AttributeValue::S(key.to_string()))
            .update_expression("SET #state = :sent REMOVE #lease")
            .expression_attribute_names("#state", STATE_ATTRIBUTE)
            .expression_attribute_names("#lease", LEASE_ATTRIBUTE)
            .expression_attribute_values(":sent", AttributeValue::S(SENT.into()))
            .send()
            .await
            .map_err(|e| LakeopsError::aws("dynamodb:UpdateItem", e))?;
        Ok(())
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

/// A conditional put's answer as "claimed now?": the condition failing means someone claimed the
/// key before (`false`); any other failure is an error, never a silent claim.
fn claimed<O, R: std::fmt::Debug>(
    result: Result<O, SdkError<PutItemError, R>>,
) -> Result<bool, LakeopsError> {
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

/// The ledger in memory: for tests of handler logic.
#[derive(Debug, Default)]
pub struct MemoryLedger {
    /// key → the lease end while a claim to send is unconfirmed, `None` once claimed for good.
    keys: Mutex<HashMap<String, Option<DateTime<Utc>>>>,
}

impl Ledger for MemoryLedger {
    async fn claim(
        &self,
        key: &str,
        _now: DateTime<Utc>,
        _keep_for: Duration,
    ) -> Result<bool, LakeopsError> {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if keys.contains_key(key) {
            return Ok(false);
        }
        keys.insert(key.to_string(), None);
        Ok(true)
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
            .contains_key(key))
    }

    async fn claim_to_send(
        &self,
        key: &str,
        now: DateTime<Utc>,
        _keep_for: Duration,
        lease: Duration,
    ) -> Result<bool, LakeopsError> {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        let free = match keys.get(key) {
            None => true,
            Some(Some(lease_end)) => *lease_end < now,
            Some(None) => false,
        };
        if free {
            keys.insert(key.to_string(), Some(now + lease));
        }
        Ok(free)
    }

    async fn confirm_sent(&self, key: &str) -> Result<(), LakeopsError> {
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_string(), None);
        Ok(())
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
    async fn a_send_that_died_before_its_confirmation_is_sent_again_after_its_lease() {
        use crate::alert::{Alert, RecordingSink, Severity};
        let ledger = MemoryLedger::default();
        let t0 = Utc::now();
        let lease = Duration::minutes(10);
        // A sender claimed, then died (no publish, no release, no confirmation).
        assert!(ledger
            .claim_to_send("warn#q1", t0, Duration::days(2), lease)
            .await
            .unwrap());
        // Within the lease nobody else sends it; after it, the next run does.
        assert!(!ledger
            .claim_to_send(
                "warn#q1",
                t0 + Duration::minutes(9),
                Duration::days(2),
                lease
            )
            .await
            .unwrap());
        let sink = RecordingSink::default();
        let alert = Alert::new("K", Severity::Warning, "s", "warn#q1", t0, "t", "s");
        let later = t0 + Duration::minutes(11);
        assert!(
            send_once(&ledger, &sink, "warn#q1", &alert, later, Duration::days(2))
                .await
                .unwrap()
        );
        // Confirmed: never again, whatever the time.
        let much_later = t0 + Duration::days(1);
        assert!(!send_once(
            &ledger,
            &sink,
            "warn#q1",
            &alert,
            much_later,
            Duration::days(2)
        )
        .await
        .unwrap());
        assert_eq!(sink.alerts.lock().unwrap().len(), 1);
        // A key claimed for good with `claim` is never taken by a claim to send.
        ledger.claim("said", t0, Duration::days(1)).await.unwrap();
        assert!(!ledger
            .claim_to_send("said", much_later, Duration::days(2), lease)
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn a_claim_to_send_takes_a_new_key_or_an_expired_unconfirmed_lease_only() {
        let put = mock!(aws_sdk_dynamodb::Client::put_item)
            .match_requests(|r| {
                r.condition_expression()
                    == Some("attribute_not_exists(#pk) OR (#state = :sending AND #lease < :now)")
                    && r.item()
                        .is_some_and(|i| i["state"] == AttributeValue::S("sending".into()))
            })
            .then_output(|| PutItemOutput::builder().build());
        let confirm = mock!(aws_sdk_dynamodb::Client::update_item)
            .match_requests(|r| r.update_expression() == Some("SET #state = :sent REMOVE #lease"))
            .then_output(|| {
                aws_sdk_dynamodb::operation::update_item::UpdateItemOutput::builder().build()
            });
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&put, &confirm]);
        let ledger = DynamoLedger::new(client, "ledger");
        let now = Utc::now();
        assert!(ledger
            .claim_to_send("k", now, Duration::days(1), Duration::minutes(10))
            .await
            .unwrap());
        ledger.confirm_sent("k").await.unwrap();
        assert_eq!((put.num_calls(), confirm.num_calls()), (1, 1));
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
