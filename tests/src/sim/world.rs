//! The simulated AWS around the real decisions: EventBridge (best effort: drops, duplicates,
//! delays that reorder), the event queue as Lambda's event source mapping drives it (batches of
//! [`EVENT_QUEUE_BATCH_SIZE`], failed messages visible again after the queue's visibility
//! timeout, the DLQ after [`EVENT_QUEUE_MAX_RECEIVE_COUNT`] receives), and the alert topic,
//! which refuses publishes during an outage. Time is the simulation's clock.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use lakeops::alert::{Alert, AlertSink, Delivery};
use lakeops::ledger::{Ledger, MemoryLedger};
use lakeops::LakeopsError;
use serde_json::Value;

use crate::index::{EVENT_QUEUE_MAX_RECEIVE_COUNT, EVENT_QUEUE_VISIBILITY_TIMEOUT_SECONDS};

/// The simulation's clock, shared with the adapters that need it (the alert topic's outage).
#[derive(Debug, Clone, Default)]
pub struct Clock(Arc<AtomicI64>);

impl Clock {
    pub fn set(&self, t: DateTime<Utc>) {
        self.0.store(t.timestamp_millis(), Ordering::SeqCst);
    }

    pub fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.0.load(Ordering::SeqCst)).unwrap_or_default()
    }
}

/// One message of the event queue.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: String,
    pub body: Result<Value, String>,
    pub visible_at: DateTime<Utc>,
    pub receives: u32,
}

/// The event queue: messages by the time they become visible.
#[derive(Debug, Default)]
pub struct EventQueue {
    waiting: BTreeMap<(DateTime<Utc>, u64), Message>,
    next: u64,
    pub dead_letters: Vec<Message>,
    pub deliveries: u64,
}

impl EventQueue {
    pub fn send(&mut self, body: Result<Value, String>, at: DateTime<Utc>) {
        self.next += 1;
        let id = format!("m-{:09}", self.next);
        self.waiting.insert(
            (at, self.next),
            Message {
                id,
                body,
                visible_at: at,
                receives: 0,
            },
        );
    }

    /// Receives up to `max` visible messages (each receive counted).
    pub fn receive(&mut self, now: DateTime<Utc>, max: usize) -> Vec<Message> {
        let keys: Vec<_> = self
            .waiting
            .range(..(now + Duration::milliseconds(1), 0))
            .take(max)
            .map(|(k, _)| *k)
            .collect();
        keys.into_iter()
            .filter_map(|k| self.waiting.remove(&k))
            .map(|mut m| {
                m.receives += 1;
                self.deliveries += 1;
                m
            })
            .collect()
    }

    /// A message the function handed back (or whose batch it never answered): visible again
    /// after the visibility timeout, or to the DLQ once received the maximum number of times.
    /// A message the function handed back (or never answered for): visible again after the
    /// queue's visibility timeout, unless it was changed (`ChangeMessageVisibility`: `sooner`);
    /// to the DLQ after the last receive.
    pub fn give_back(&mut self, mut m: Message, now: DateTime<Utc>, sooner: Option<Duration>) {
        if m.receives >= EVENT_QUEUE_MAX_RECEIVE_COUNT {
            self.dead_letters.push(m);
            return;
        }
        let timeout = Duration::seconds(EVENT_QUEUE_VISIBILITY_TIMEOUT_SECONDS.into());
        m.visible_at = now + sooner.unwrap_or(timeout);
        self.next += 1;
        self.waiting.insert((m.visible_at, self.next), m);
    }

    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

/// The alert topic: what reached it and when; refuses publishes while `outage` covers the clock.
#[derive(Debug)]
pub struct AlertTopic {
    pub clock: Clock,
    pub outage: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub published: Mutex<Vec<(DateTime<Utc>, Alert)>>,
    pub refused: AtomicI64,
}

impl AlertTopic {
    pub fn new(clock: Clock, outage: Option<(DateTime<Utc>, DateTime<Utc>)>) -> Self {
        Self {
            clock,
            outage,
            published: Mutex::new(Vec::new()),
            refused: AtomicI64::new(0),
        }
    }
}

impl AlertSink for AlertTopic {
    async fn publish(&self, alert: &Alert) -> Result<Delivery, LakeopsError> {
        let now = self.clock.now();
        if self
            .outage
            .is_some_and(|(from, to)| from <= now && now < to)
        {
            self.refused.fetch_add(1, Ordering::SeqCst);
            return Err(LakeopsError::Aws {
                operation: "sns:Publish",
                message: "InternalError: simulated SNS outage".into(),
            });
        }
        self.published
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((now, alert.clone()));
        Ok(Delivery::Published {
            message_id: alert.id.clone(),
        })
    }
}

/// The alert ledger, or — to show the oracle catches a broken rule — one that forgets every
/// claim (so nothing is ever "sent once").
#[derive(Debug, Default)]
pub struct SimLedger {
    pub inner: MemoryLedger,
    pub forgetful: bool,
}

impl Ledger for SimLedger {
    async fn claim(
        &self,
        key: &str,
        now: DateTime<Utc>,
        keep_for: Duration,
    ) -> Result<bool, LakeopsError> {
        if self.forgetful {
            return Ok(true);
        }
        self.inner.claim(key, now, keep_for).await
    }

    async fn release(&self, key: &str) -> Result<(), LakeopsError> {
        self.inner.release(key).await
    }

    async fn is_claimed(&self, key: &str) -> Result<bool, LakeopsError> {
        if self.forgetful {
            return Ok(false);
        }
        self.inner.is_claimed(key).await
    }

    async fn claim_to_send(
        &self,
        key: &str,
        now: DateTime<Utc>,
        keep_for: Duration,
        lease: Duration,
    ) -> Result<bool, LakeopsError> {
        if self.forgetful {
            return Ok(true);
        }
        self.inner.claim_to_send(key, now, keep_for, lease).await
    }

    async fn confirm_sent(&self, key: &str) -> Result<(), LakeopsError> {
        self.inner.confirm_sent(key).await
    }
}
