//! The query index's feed: "Athena Query State Change" events (EventBridge → SQS → this
//! function, in batches), and what reconciliation reads from Athena itself.
//!
//! Per batch: every event is applied to the index ([`QueryIndex::apply_state_change`]: a
//! repeated or late event never overwrites a newer state); the queries whose event says they
//! ended are read from Athena, one `BatchGetQueryExecution` per up to 50 distinct ids, and
//! settled ([`Deps::settle`]): priced once into the index, and alerted once if expensive. A
//! message fails alone (reported as a batch item failure, so SQS redelivers just it and, after
//! the queue's retries, keeps it in the DLQ): when it cannot be read, or when applying its event,
//! reading its query or alerting on it failed. A finished query is read again on redelivery even
//! if its event was already applied, so a function that died between the two still prices it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use lakeops::alert::AlertSink;
use lakeops::athena::QueryExecution;
use lakeops::ledger::Ledger;
use lakeops::query_index::StateChange;
use lakeops::LakeopsError;
use serde::Serialize;
use serde_json::Value;

use crate::{assess, expensive_alert, Deps, RunSummary};

/// One SQS message of the batch: its id and the EventBridge event it carries.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub message_id: String,
    pub body: Result<Value, String>,
}

/// Reads an SQS event (`Records[]`) into deliveries; `None` if the payload is not one.
pub fn sqs_deliveries(payload: &Value) -> Option<Vec<Delivery>> {
    let records = payload.get("Records")?.as_array()?;
    let from_sqs = records
        .iter()
        .all(|r| r.get("eventSource").and_then(Value::as_str) == Some("aws:sqs"));
    if records.is_empty() || !from_sqs {
        return None;
    }
    Some(
        records
            .iter()
            .map(|r| Delivery {
                message_id: r["messageId"].as_str().unwrap_or_default().to_string(),
                body: r["body"]
                    .as_str()
                    .ok_or_else(|| "the message has no body".to_string())
                    .and_then(|b| {
                        serde_json::from_str(b)
                            .map_err(|e| format!("the message body is not JSON: {e}"))
                    }),
            })
            .collect(),
    )
}

/// What a batch did.
#[derive(Debug, Default, Serialize)]
pub struct FeedSummary {
    pub events: usize,
    pub applied: usize,
    /// Repeated or late events the index already had something newer for.
    pub stale: usize,
    pub finished: usize,
    /// Messages handed back to SQS, with why.
    pub failed: Vec<String>,
}

impl<A: AlertSink, L: Ledger> Deps<A, L> {
    /// The SQS trigger: one batch, answered with the messages to hand back (partial batch
    /// failures; the function itself does not fail, so the rest of the batch is not redelivered).
    pub async fn feed_batch(&self, deliveries: &[Delivery], now: DateTime<Utc>) -> Value {
        let mut summary = RunSummary {
            trigger: "state-change-queue",
            ..Default::default()
        };
        let mut fed = FeedSummary::default();
        let failed = self.feed(deliveries, now, &mut summary, &mut fed).await;
        // Alert failures are in `fed.failed` (their messages come back); not run failures.
        summary.failures.clear();
        summary.feed = Some(fed);
        summary.index_calls = self.index.calls();
        let mut metrics = lakeops::Metrics::new(&self.config.common.metrics_namespace);
        let f = summary.feed.as_ref().expect("just set");
        metrics.record(
            &[],
            "StateChangeEvents",
            f.events as f64,
            lakeops::Unit::Count,
        );
        metrics.record(
            &[],
            "StaleStateChangeEvents",
            f.stale as f64,
            lakeops::Unit::Count,
        );
        metrics.record(
            &[],
            "StateChangeMessagesRetried",
            failed.len() as f64,
            lakeops::Unit::Count,
        );
        metrics.flush();
        tracing::info!(summary = %serde_json::json!(summary), "batch done");
        serde_json::json!({
            "batchItemFailures": failed
                .iter()
                .map(|id| serde_json::json!({"itemIdentifier": id}))
                .collect::<Vec<_>>()
        })
    }

    /// One batch of deliveries; returns the message ids to hand back to SQS.
    pub async fn feed(
        &self,
        deliveries: &[Delivery],
        now: DateTime<Utc>,
        summary: &mut RunSummary,
        feed: &mut FeedSummary,
    ) -> Vec<String> {
        let mut failed: BTreeMap<String, String> = BTreeMap::new();
        // Query id → the messages that named it as finished.
        let mut finished: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for d in deliveries {
            feed.events += 1;
            let change = d
                .body
                .clone()
                .map_err(LakeopsError::InvalidInput)
                .and_then(|b| StateChange::from_event(&b));
            let change = match change {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(sqs_message_id = %d.message_id, error = %e, "unreadable state-change message; SQS keeps it (then its DLQ)");
                    failed.insert(d.message_id.clone(), e.to_string());
                    continue;
                }
            };
            match self.index.apply_state_change(&change).await {
                Ok(true) => feed.applied += 1,
                Ok(false) => feed.stale += 1,
                Err(e) => {
                    failed.insert(d.message_id.clone(), e.to_string());
                    continue;
                }
            }
            if change.state.is_terminal() {
                finished
                    .entry(change.query_id)
                    .or_default()
                    .push(d.message_id.clone());
            }
        }
        let ids: Vec<String> = finished.keys().cloned().collect();
        let problems = self.settle_ids(&ids, now, true, summary).await;
        feed.finished = ids.len();
        for (id, problem) in problems {
            for message in finished.get(&id).into_iter().flatten() {
                failed.insert(message.clone(), format!("query {id}: {problem}"));
            }
        }
        for (message, why) in &failed {
            feed.failed.push(format!("{message}: {why}"));
        }
        failed.into_keys().collect()
    }

    /// Reads `ids` from Athena (50 per call) and settles the finished ones; the others are
    /// recorded as in flight, and are a problem if `expect_finished` (their event said they
    /// ended: ask again later). Returns the ids that could not be settled, with why.
    pub async fn settle_ids(
        &self,
        ids: &[String],
        now: DateTime<Utc>,
        expect_finished: bool,
        summary: &mut RunSummary,
    ) -> BTreeMap<String, String> {
        let mut problems = BTreeMap::new();
        if ids.is_empty() {
            return problems;
        }
        let (found, calls) = match self.history.batch_get(ids).await {
            Ok(r) => r,
            Err(e) => {
                return ids.iter().map(|id| (id.clone(), e.to_string())).collect();
            }
        };
        summary.batch_get_calls += calls;
        for u in &found.unprocessed {
            problems.insert(
                u.id.clone(),
                format!("Athena would not describe it: {} {}", u.code, u.message),
            );
        }
        let returned: BTreeSet<&str> = found.executions.iter().map(|q| q.id.as_str()).collect();
        for id in ids {
            if !returned.contains(id.as_str()) && !problems.contains_key(id) {
                problems.insert(id.clone(), "unknown to Athena".into());
            }
        }
        for q in &found.executions {
            let result = if q.state.is_terminal() {
                self.settle(q, now, summary).await
            } else {
                let recorded = self.index.record_in_flight(q, now).await;
                if expect_finished {
                    recorded.and(Err(LakeopsError::InvalidInput(format!(
                        "Athena still reports {}",
                        q.state.as_str()
                    ))))
                } else {
                    recorded
                }
            };
            if let Err(e) = result {
                problems.insert(q.id.clone(), e.to_string());
            }
        }
        problems
    }

    /// A finished query: alerted once if expensive (the alert ledger makes the alert exact
    /// whichever path — event, reconciliation, sweep — gets here), then priced into the index
    /// once. In that order: a query is recorded as settled only when its alert went out, so a
    /// failure leaves it for the next attempt to find.
    pub async fn settle(
        &self,
        q: &QueryExecution,
        now: DateTime<Utc>,
        summary: &mut RunSummary,
    ) -> Result<(), LakeopsError> {
        let config = &self.config;
        let charge = config.athena.price.charge(q);
        let watched = config.workgroups.is_empty() || config.workgroups.contains(&q.workgroup);
        if watched {
            if let Some(why) = assess(q, &charge, config) {
                if !summary.expensive.contains(&q.id) {
                    summary.expensive.push(q.id.clone());
                }
                let alert = expensive_alert(q, &charge, &why, config, now);
                let before = summary.failures.len();
                self.send_once(&alert, summary).await;
                if summary.failures.len() > before {
                    return Err(LakeopsError::Undelivered(
                        summary
                            .failures
                            .drain(before..)
                            .collect::<Vec<_>>()
                            .join("; "),
                    ));
                }
            }
        }
        let day =
            lakeops::calendar::LocalDay::containing(q.completed_at.unwrap_or(now), config.timezone);
        if self
            .index
            .record_finished(q, charge.usd(), &day.to_string(), now)
            .await?
        {
            summary.priced += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_an_sqs_batch_and_keeps_unreadable_bodies_as_errors() {
        let payload = json!({"Records": [
            {"messageId": "m1", "eventSource": "aws:sqs", "body": "{\"detail-type\": \"Athena Query State Change\"}"},
            {"messageId": "m2", "eventSource": "aws:sqs", "body": "not json"},
            {"messageId": "m3", "eventSource": "aws:sqs"}
        ]});
        let d = sqs_deliveries(&payload).unwrap();
        assert_eq!(d.len(), 3);
        assert!(d[0].body.is_ok());
        assert!(d[1].body.as_ref().unwrap_err().contains("not JSON"));
        assert!(d[2].body.as_ref().unwrap_err().contains("no body"));
        assert!(sqs_deliveries(&json!({"detail-type": "Scheduled Event"})).is_none());
        assert!(sqs_deliveries(&json!({"Records": [{"eventSource": "aws:s3"}]})).is_none());
    }
}
