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
//!
//! The same queue carries the CloudTrail records of `StartQueryExecution` ("AWS API Call via
//! CloudTrail"): who ran each query ([`lakeops::attribution`]). They are applied first in a
//! batch, so a batch holding both ends attributed. An expensive query whose CloudTrail record has
//! not arrived yet waits for it: its message is handed back (SQS redelivers it after the queue's
//! visibility timeout, which the feed shortens to `ATTRIBUTION_WAIT_SECONDS` for that message)
//! while the query ended less than `ATTRIBUTION_WAIT_SECONDS` ago and the message was received
//! fewer than [`MAX_HOLD_RECEIVES`] times (so a hold never sends it to the DLQ); after that the
//! alert goes out saying "run by: unknown".

use std::collections::{BTreeMap, BTreeSet};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use chrono::{DateTime, Utc};
use lakeops::alert::AlertSink;
use lakeops::athena::{QueryExecution, QueryHistory};
use lakeops::attribution::{is_cloudtrail_event, Caller, QueryStart, UNKNOWN};
use lakeops::ledger::Ledger;
use lakeops::query_index::{state_change_of, IndexStore, Pricing};
use lakeops::LakeopsError;
use lakeops_core::cost_hints::TableCatalog;
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;

use crate::{assess, Deps, RunSummary};

/// A message received this many times is not held for attribution again (the queue's DLQ
/// takes it after 5 receives).
pub const MAX_HOLD_RECEIVES: u32 = 3;

/// One SQS message of the batch: its id, how often SQS handed it out, and the EventBridge
/// event it carries.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub message_id: String,
    /// `attributes.ApproximateReceiveCount` (1 on the first delivery).
    pub receive_count: u32,
    /// Where it came from and its receipt handle (`None` for a direct invoke).
    pub receipt: Option<Receipt>,
    pub body: Result<Value, String>,
}

/// What it takes to change a received message's visibility.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// `eventSourceARN`: `arn:aws:sqs:<region>:<account>:<queue>`.
    pub queue_arn: String,
    pub handle: String,
}

/// The SQS event's messages as deliveries. A message without a body, or whose body is not
/// JSON, is kept as an error: it is handed back (and reaches the DLQ), never dropped.
pub fn deliveries(event: &SqsEvent) -> Vec<Delivery> {
    event
        .records
        .iter()
        .map(|r| Delivery {
            message_id: r.message_id.clone().unwrap_or_default(),
            receive_count: r
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|c| c.parse().ok())
                .unwrap_or(1),
            receipt: match (&r.event_source_arn, &r.receipt_handle) {
                (Some(arn), Some(handle)) => Some(Receipt {
                    queue_arn: arn.clone(),
                    handle: handle.clone(),
                }),
                _ => None,
            },
            body: r
                .body
                .as_deref()
                .ok_or_else(|| "the message has no body".to_string())
                .and_then(|b| {
                    serde_json::from_str(b)
                        .map_err(|e| format!("the message body is not JSON: {e}"))
                }),
        })
        .collect()
}

/// The feed function's handler (binary `query-cost-feed`, triggered by the event queue's
/// mapping only): one batch, answered with the messages to hand back. It never fails as a
/// whole, so the rest of the batch is not redelivered.
pub async fn handle_batch<A: AlertSink, L: Ledger>(
    event: LambdaEvent<SqsEvent>,
    deps: &Deps<A, L>,
) -> Result<SqsBatchResponse, LakeopsError> {
    Ok(deps
        .feed_batch(&deliveries(&event.payload), Utc::now())
        .await)
}

/// A batch, decided: what the event source mapping is to be told, and what to do about it.
#[derive(Debug)]
pub struct BatchOutcome {
    /// Message ids handed back (partial batch failures).
    pub failed: Vec<String>,
    /// Those of them held for attribution: visible again after `ATTRIBUTION_WAIT_SECONDS`.
    pub held: Vec<String>,
    pub metrics: lakeops::Metrics,
}

/// What a batch did.
#[derive(Debug, Default, Serialize)]
pub struct FeedSummary {
    pub events: usize,
    pub applied: usize,
    /// Repeated or late events the index already had something newer for.
    pub stale: usize,
    pub finished: usize,
    /// CloudTrail `StartQueryExecution` records applied (who ran a query) ...
    pub starts: usize,
    /// ... and those of calls that started no query (an error), skipped.
    pub starts_without_query: usize,
    /// Expensive queries whose alert waits for their CloudTrail record.
    pub held: usize,
    /// Messages handed back to SQS, with why.
    pub failed: Vec<String>,
}

impl<A: AlertSink, L: Ledger, I: IndexStore, H: QueryHistory, S: Sync, C: TableCatalog>
    Deps<A, L, I, H, S, C>
where
    LakeopsError: From<I::Error> + From<H::Error>,
{
    /// The SQS trigger: one batch, answered with the messages to hand back (partial batch
    /// failures; the function itself does not fail, so the rest of the batch is not redelivered).
    /// Messages held for attribution are made visible again sooner ([`Self::retry_sooner`]).
    pub async fn feed_batch(
        &self,
        deliveries: &[Delivery],
        now: DateTime<Utc>,
    ) -> SqsBatchResponse {
        let mut outcome = self.feed_with_metrics(deliveries, now).await;
        let held: Vec<&Delivery> = deliveries
            .iter()
            .filter(|d| outcome.held.contains(&d.message_id))
            .collect();
        self.retry_sooner(&held).await;
        outcome.metrics.flush();
        let mut response = SqsBatchResponse::default();
        for id in outcome.failed {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
        response
    }

    /// One batch, decided: the messages to hand back, those of them held for attribution (to
    /// come back after `ATTRIBUTION_WAIT_SECONDS`), and the batch's metrics (not flushed yet).
    pub async fn feed_with_metrics(
        &self,
        deliveries: &[Delivery],
        now: DateTime<Utc>,
    ) -> BatchOutcome {
        let mut summary = RunSummary {
            trigger: "state-change-queue",
            ..Default::default()
        };
        let mut fed = FeedSummary::default();
        let (failed, held) = self.feed(deliveries, now, &mut summary, &mut fed).await;
        let held = held.iter().map(|d| d.message_id.clone()).collect();
        // Alert failures are in `fed.failed` (their messages come back); not run failures.
        summary.failures.clear();
        let mut metrics = lakeops::Metrics::new(&self.config.common.metrics_namespace);
        let counts = [
            ("StateChangeEvents", fed.events),
            ("StaleStateChangeEvents", fed.stale),
            ("StateChangeMessagesRetried", failed.len()),
            ("QueryStartRecords", fed.starts),
            ("ExpensiveQueriesHeldForAttribution", fed.held),
        ];
        for (name, count) in counts {
            metrics.record(&[], name, count as f64, lakeops::Unit::Count);
        }
        crate::spend::record_priced(&mut metrics, &summary, &[], self.config.person_metrics);
        summary.feed = Some(fed);
        summary.index_calls = self.index.calls();
        tracing::info!(summary = %serde_json::json!(summary), "batch done");
        BatchOutcome {
            failed,
            held,
            metrics,
        }
    }

    /// One batch of deliveries; returns the message ids to hand back to SQS, and the deliveries
    /// among them held for attribution (to come back sooner: [`Self::retry_sooner`]).
    pub async fn feed<'d>(
        &self,
        deliveries: &'d [Delivery],
        now: DateTime<Utc>,
        summary: &mut RunSummary,
        feed: &mut FeedSummary,
    ) -> (Vec<String>, Vec<&'d Delivery>) {
        let mut failed: BTreeMap<String, String> = BTreeMap::new();
        // Query id → the messages that named it as finished.
        let mut finished: BTreeMap<String, Vec<String>> = BTreeMap::new();
        // Who ran a query first: a batch holding its start and its end settles it attributed.
        let (starts, changes): (Vec<&Delivery>, Vec<&Delivery>) = deliveries
            .iter()
            .partition(|d| d.body.as_ref().is_ok_and(is_cloudtrail_event));
        for d in starts {
            feed.events += 1;
            if let Err(e) = self.apply_start(d, now, feed).await {
                tracing::error!(sqs_message_id = %d.message_id, error = %e, "CloudTrail record not applied; SQS keeps it (then its DLQ)");
                failed.insert(d.message_id.clone(), e.to_string());
            }
        }
        let mut may_hold = BTreeSet::new();
        for d in changes {
            feed.events += 1;
            let change = d
                .body
                .clone()
                .map_err(LakeopsError::InvalidInput)
                .and_then(|b| state_change_of(&b));
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
                if d.receive_count < MAX_HOLD_RECEIVES {
                    may_hold.insert(change.query_id.clone());
                }
                finished
                    .entry(change.query_id)
                    .or_default()
                    .push(d.message_id.clone());
            }
        }
        let ids: Vec<String> = finished.keys().cloned().collect();
        let problems = self.settle_ids(&ids, now, true, &may_hold, summary).await;
        feed.finished = ids.len();
        feed.held = problems.values().filter(|p| p.starts_with(HELD)).count();
        let held: Vec<&Delivery> = deliveries
            .iter()
            .filter(|d| {
                finished.iter().any(|(id, messages)| {
                    messages.contains(&d.message_id)
                        && problems.get(id).is_some_and(|p| p.starts_with(HELD))
                })
            })
            .collect();
        for (id, problem) in problems {
            for message in finished.get(&id).into_iter().flatten() {
                failed.insert(message.clone(), format!("query {id}: {problem}"));
            }
        }
        for (message, why) in &failed {
            feed.failed.push(format!("{message}: {why}"));
        }
        (failed.into_keys().collect(), held)
    }

    /// Held messages come back after `ATTRIBUTION_WAIT_SECONDS`, not the queue's visibility
    /// timeout (sized for the function's timeout). If that fails they come back later, no less
    /// surely: logged, not an error.
    async fn retry_sooner(&self, held: &[&Delivery]) {
        let sqs: &aws_sdk_sqs::Client = &self.sqs;
        let seconds = self.config.attribution_wait.num_seconds().clamp(1, 900) as i32;
        let mut urls: BTreeMap<&str, String> = BTreeMap::new();
        for d in held {
            let Some(receipt) = &d.receipt else { continue };
            if !urls.contains_key(receipt.queue_arn.as_str()) {
                match self.queue_url(&receipt.queue_arn).await {
                    Ok(url) => {
                        urls.insert(&receipt.queue_arn, url);
                    }
                    Err(e) => {
                        tracing::warn!(queue = %receipt.queue_arn, error = %e, "queue URL unknown; held messages come back after the queue's visibility timeout");
                        continue;
                    }
                }
            }
            let result = sqs
                .change_message_visibility()
                .queue_url(&urls[receipt.queue_arn.as_str()])
                .receipt_handle(&receipt.handle)
                .visibility_timeout(seconds)
                .send()
                .await;
            if let Err(e) = result {
                tracing::warn!(sqs_message_id = %d.message_id, error = %lakeops::LakeopsError::aws("sqs:ChangeMessageVisibility", e), "held message comes back after the queue's visibility timeout");
            }
        }
    }

    /// The URL of the queue `arn` names (`arn:aws:sqs:<region>:<account>:<name>`).
    async fn queue_url(&self, arn: &str) -> Result<String, LakeopsError> {
        let parts: Vec<&str> = arn.split(':').collect();
        let [_, _, "sqs", _, account, name] = parts.as_slice() else {
            return Err(LakeopsError::InvalidInput(format!(
                "eventSourceARN {arn} is not an SQS queue ARN"
            )));
        };
        let sqs: &aws_sdk_sqs::Client = &self.sqs;
        sqs.get_queue_url()
            .queue_name(*name)
            .queue_owner_aws_account_id(*account)
            .send()
            .await
            .map_err(|e| LakeopsError::aws("sqs:GetQueueUrl", e))?
            .queue_url
            .ok_or_else(|| LakeopsError::InvalidInput(format!("no URL for queue {arn}")))
    }

    /// One CloudTrail record: who started a query, into its index item.
    async fn apply_start(
        &self,
        d: &Delivery,
        now: DateTime<Utc>,
        feed: &mut FeedSummary,
    ) -> Result<(), LakeopsError> {
        let body = d
            .body
            .as_ref()
            .map_err(|e| LakeopsError::InvalidInput(e.clone()))?;
        match QueryStart::from_event(body)? {
            Some(start) => {
                self.index
                    .record_start(
                        &start.query_id,
                        &start.caller,
                        start.database.as_deref(),
                        now,
                    )
                    .await?;
                feed.starts += 1;
            }
            None => feed.starts_without_query += 1,
        }
        Ok(())
    }

    /// Reads `ids` from Athena (50 per call) and settles the finished ones; the others are
    /// recorded as in flight, and are a problem if `expect_finished` (their event said they
    /// ended: ask again later). An expensive query of `may_hold` whose caller is unknown may be
    /// held for its CloudTrail record (a problem starting with [`HELD`]). Returns the ids that
    /// could not be settled, with why.
    pub async fn settle_ids(
        &self,
        ids: &[String],
        now: DateTime<Utc>,
        expect_finished: bool,
        may_hold: &BTreeSet<String>,
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
        let finished: Vec<String> = found
            .executions
            .iter()
            .filter(|q| q.state.is_terminal())
            .map(|q| q.id.clone())
            .collect();
        let callers = match self.index.callers(&finished).await {
            Ok(c) => c,
            Err(e) => {
                return ids.iter().map(|id| (id.clone(), e.to_string())).collect();
            }
        };
        for id in ids {
            if !returned.contains(id.as_str()) && !problems.contains_key(id) {
                problems.insert(id.clone(), "unknown to Athena".into());
            }
        }
        for q in &found.executions {
            let result = if q.state.is_terminal() {
                let hold = may_hold.contains(&q.id);
                match self.settle(q, callers.get(&q.id), hold, now, summary).await {
                    Ok(Settled::Held) => {
                        problems.insert(
                            q.id.clone(),
                            format!("{HELD} (its CloudTrail record, for who ran it)"),
                        );
                        continue;
                    }
                    Ok(Settled::Done) => Ok(()),
                    Err(e) => Err(e),
                }
            } else {
                let recorded = self
                    .index
                    .record_in_flight(q, now)
                    .await
                    .map_err(LakeopsError::from);
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
    /// failure leaves it for the next attempt to find. `caller`: who ran it, if known; an
    /// expensive query without one is [`Settled::Held`] if `may_hold` and it ended less than
    /// `ATTRIBUTION_WAIT_SECONDS` ago (neither alerted nor priced: the retry does both).
    pub async fn settle(
        &self,
        q: &QueryExecution,
        caller: Option<&Caller>,
        may_hold: bool,
        now: DateTime<Utc>,
        summary: &mut RunSummary,
    ) -> Result<Settled, LakeopsError> {
        let config = &self.config;
        let charge = config.athena.price.charge(q);
        let watched = config.workgroups.is_empty() || config.workgroups.contains(&q.workgroup);
        if watched {
            if let Some(why) = assess(q, &charge, config) {
                let ended = q.completed_at.unwrap_or(now);
                if caller.is_none() && may_hold && now - ended < config.attribution_wait {
                    return Ok(Settled::Held);
                }
                if !summary.expensive.contains(&q.id) {
                    summary.expensive.push(q.id.clone());
                }
                let alert = self
                    .expensive_alert(q, &charge, &why, caller, now, summary)
                    .await;
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
        // What it read: parsed here, once, by whichever reader prices it.
        let tables = lakeops::tables_read::tables_read(&q.sql, q.database.as_deref());
        let pricing = Pricing {
            query: q,
            usd: charge.usd(),
            day: &day.to_string(),
            tables: &tables,
        };
        if self.index.record_finished(pricing, now, caller).await? {
            summary.priced += 1;
            let spend = summary.priced_spend.entry(q.workgroup.clone()).or_default();
            spend.usd += charge.usd();
            spend.bytes += q.data_scanned_bytes.unwrap_or(0);
            spend.queries += 1;
            let person = caller.map_or(UNKNOWN, |c| c.person.as_str());
            *summary
                .priced_by_person
                .entry((q.workgroup.clone(), person.to_string()))
                .or_default() += charge.usd();
        }
        Ok(Settled::Done)
    }
}

/// How a problem of a held query starts.
pub const HELD: &str = "held for attribution";

/// What [`Deps::settle`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    Done,
    /// Left for a retry: an expensive query waiting for who ran it.
    Held,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_an_sqs_batch_and_keeps_unreadable_bodies_as_errors() {
        let event: SqsEvent = serde_json::from_value(json!({"Records": [
            {"messageId": "m1", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:lakeops-query-events", "receiptHandle": "AQEB", "attributes": {"ApproximateReceiveCount": "3"}, "body": "{\"detail-type\": \"Athena Query State Change\"}"},
            {"messageId": "m2", "eventSource": "aws:sqs", "body": "not json"},
            {"messageId": "m3", "eventSource": "aws:sqs"}
        ]}))
        .unwrap();
        let d = deliveries(&event);
        assert_eq!(d.len(), 3);
        assert!(d[0].body.is_ok());
        assert_eq!((d[0].receive_count, d[1].receive_count), (3, 1));
        assert_eq!(
            d[0].receipt.as_ref().map(|r| r.handle.as_str()),
            Some("AQEB")
        );
        assert_eq!(d[1].receipt, None);
        assert!(d[1].body.as_ref().unwrap_err().contains("not JSON"));
        assert!(d[2].body.as_ref().unwrap_err().contains("no body"));
    }
}
