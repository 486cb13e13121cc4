//! The query index: one DynamoDB item per Athena query, kept from the "Athena Query State Change"
//! events (and, for what the events missed, from reading Athena itself), so nothing has to page
//! `ListQueryExecutions` to find out what is running.
//!
//! An item holds the workgroup, the state, the time of the last state change, the submission time
//! and statement type, the `sequenceNumber` of the event that set the state and, once the query
//! ended and was priced, its price and bytes. Ordering: a state is written only if its sequence
//! number is above the stored one, so a repeated or late event never overwrites a newer state; a
//! terminal state read from Athena carries [`OBSERVED_TERMINAL`], above any event's number (a
//! finished query never changes again). Until a query is settled — while it is QUEUED or
//! RUNNING, and after it ended until it is priced — its item also carries `in_flight` (the
//! workgroup): the key of the sparse index [`IN_FLIGHT_INDEX`], which holds only unsettled
//! queries, so finding them costs what is unsettled, never a scan of the table. A query whose
//! end was recorded but whose pricing or alert failed (SNS down on every delivery of its event,
//! its message gone to the DLQ) therefore stays there until reconciliation settles it.
//!
//! Items expire through DynamoDB TTL (`expires_at`, [`KEEP`] after the last write). The same
//! table holds one checkpoint item per workgroup (`checkpoint#<workgroup>`) for the
//! reconciliation that catches the events EventBridge dropped.
//!
//! Attribution: the CloudTrail record of a query's `StartQueryExecution` adds who ran it
//! ([`QueryIndex::record_start`]: principal, person, account, source IP, client) to the same
//! item, whether it comes before the state-change events (the item is created with just those)
//! or after the query was priced; pricing adds the tables it read and its default database. A
//! query's spend is added to its person's running total of the day (`pday#<person>#<date>`)
//! exactly once, by whichever of the two comes second (`principal_counted` marks it).

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use crate::attribution::Caller;
use crate::error::LakeopsError;
use lakeops_core::query::{QueryExecution, QueryState, StatementType};
use lakeops_core::record::Expect;

pub use lakeops_core::index::{
    day_total_key, person_day_total_key, Checkpoint, Finished, InFlight, IndexCalls, IndexStore,
    Pricing, CONFLICT_ATTEMPTS,
};
pub use lakeops_core::record::{StateChange, OBSERVED_TERMINAL};

mod item;
mod reads;
mod writes;

/// Partition key of the index table.
pub const KEY: &str = "query_id";
/// The sparse global secondary index of in-flight queries (partition key `in_flight`).
pub const IN_FLIGHT_INDEX: &str = "in-flight";
/// How long an item is kept after its last write (the digest reads yesterday; a day's slack).
pub const KEEP: Duration = Duration::days(3);
/// The global secondary index of finished queries by workgroup and UTC hour of completion
/// (partition key `completed_bucket` = `<workgroup>#<YYYY-MM-DDTHH>`, sort key `completed_at`).
pub const COMPLETED_INDEX: &str = "completed";
/// SQL kept per finished query (string literals masked, as in alerts): enough for the digest's
/// excerpts and the retry-storm fingerprints, small enough for one or two write units.
const STORED_SQL_CHARS: usize = 1000;
/// The item holding where reconciliation's round of the workgroups goes on (`#` cannot start a
/// workgroup name: Athena allows letters, digits, `.`, `-` and `_`).
const ROTATION_KEY: &str = "#reconcile-rotation";
/// Day totals outlive the spike baseline's longest look-back (14 days).
const DAY_TOTAL_KEEP: Duration = Duration::days(16);

/// The index in a DynamoDB table.
#[derive(Debug)]
pub struct QueryIndex {
    client: aws_sdk_dynamodb::Client,
    table: String,
    calls: std::sync::Mutex<IndexCalls>,
}

/// Reads an "Athena Query State Change" EventBridge event; every missing or malformed field is
/// named in the error.
pub fn state_change_of(event: &Value) -> Result<StateChange, LakeopsError> {
    let bad =
        |what: &str| LakeopsError::InvalidInput(format!("Athena Query State Change event: {what}"));
    if event.get("detail-type").and_then(Value::as_str) != Some("Athena Query State Change") {
        return Err(bad("detail-type is not \"Athena Query State Change\""));
    }
    let detail = &event["detail"];
    let text = |field: &str| {
        detail
            .get(field)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let query_id = text("queryExecutionId").ok_or_else(|| bad("no detail.queryExecutionId"))?;
    let state =
        QueryState::parse(text("currentState").ok_or_else(|| bad("no detail.currentState"))?);
    if state == QueryState::Unknown {
        return Err(bad("detail.currentState is not an Athena query state"));
    }
    // Documented as a string ("3"); a number is accepted too.
    let sequence = match detail.get("sequenceNumber") {
        Some(Value::String(s)) => s.parse().ok(),
        Some(Value::Number(n)) => n.as_u64(),
        _ => None,
    }
    .filter(|n| *n < OBSERVED_TERMINAL)
    .ok_or_else(|| bad("detail.sequenceNumber is missing or not a whole number"))?;
    let at = event
        .get("time")
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| bad("time is missing or not an RFC 3339 time"))?;
    Ok(StateChange {
        query_id: query_id.to_string(),
        workgroup: text("workgroupName").unwrap_or("primary").to_string(),
        state,
        statement_type: text("statementType")
            .map(StatementType::parse)
            .unwrap_or(StatementType::Unknown),
        sequence,
        at,
    })
}

impl QueryIndex {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            calls: Default::default(),
        }
    }

    fn count(&self, reads: u32, writes: u32) {
        let mut c = self.calls.lock().expect("index call counter");
        c.reads += reads;
        c.writes += writes;
    }
}

/// The condition expression of a write made under `expect` ([`lakeops_core::record`]'s rules):
/// `:seq` and `:st` are the write's sequence number and state, `#state` names `state`,
/// `#usd` / `#person` their attributes.
fn condition(expect: &Expect) -> &'static str {
    match expect {
        Expect::EarlierThan(_) => "attribute_not_exists(seq) OR seq < :seq",
        Expect::NoState => "attribute_not_exists(seq)",
        Expect::UnsettledOtherThan(_) => "attribute_exists(in_flight) AND #state <> :st",
        Expect::UnsettledIn(_) => "attribute_exists(in_flight) AND #state = :st",
        Expect::Unpriced => "attribute_not_exists(#usd)",
        Expect::UnpricedUnattributed => {
            "attribute_not_exists(#usd) AND attribute_not_exists(#person)"
        }
        Expect::PricedUncounted => {
            "attribute_exists(usd) AND attribute_not_exists(principal_counted)"
        }
    }
}

/// The port, kept by DynamoDB: each method is one of the write or read phases in `writes.rs`
/// and `reads.rs`.
impl IndexStore for QueryIndex {
    type Error = LakeopsError;

    async fn apply_state_change(&self, e: &StateChange) -> Result<bool, LakeopsError> {
        self.write_state_change(e).await
    }

    async fn record_finished(
        &self,
        p: Pricing<'_>,
        now: DateTime<Utc>,
        caller: Option<&Caller>,
    ) -> Result<bool, LakeopsError> {
        self.write_price(p, now, caller).await
    }

    async fn record_start(
        &self,
        query_id: &str,
        caller: &Caller,
        database: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool, LakeopsError> {
        self.write_start(query_id, caller, database, now).await
    }

    async fn record_in_flight(
        &self,
        q: &QueryExecution,
        now: DateTime<Utc>,
    ) -> Result<(), LakeopsError> {
        self.write_in_flight(q, now).await
    }

    async fn callers(&self, ids: &[String]) -> Result<HashMap<String, Caller>, LakeopsError> {
        self.read_callers(ids).await
    }

    async fn known(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, Option<DateTime<Utc>>>, LakeopsError> {
        self.read_known(ids).await
    }

    async fn in_flight(&self) -> Result<Vec<InFlight>, LakeopsError> {
        self.read_in_flight().await
    }

    async fn day_totals(
        &self,
        workgroups: &[String],
        day: &str,
    ) -> Result<HashMap<String, f64>, LakeopsError> {
        let keys = workgroups.iter().map(|wg| (wg, day_total_key(wg, day)));
        self.read_totals(keys.collect()).await
    }

    async fn person_day_totals(
        &self,
        persons: &[String],
        day: &str,
    ) -> Result<HashMap<String, f64>, LakeopsError> {
        let keys = persons.iter().map(|p| (p, person_day_total_key(p, day)));
        self.read_totals(keys.collect()).await
    }

    async fn for_each_finished_page(
        &self,
        workgroup: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        each: impl FnMut(Vec<Finished>) + Send,
    ) -> Result<(), LakeopsError> {
        self.read_finished_pages(workgroup, from, to, each).await
    }

    async fn checkpoint(&self, workgroup: &str) -> Result<Checkpoint, LakeopsError> {
        self.read_checkpoint(workgroup).await
    }

    async fn save_checkpoint(
        &self,
        workgroup: &str,
        checkpoint: &Checkpoint,
        now: DateTime<Utc>,
    ) -> Result<(), LakeopsError> {
        self.write_checkpoint(workgroup, checkpoint, now).await
    }

    async fn rotation(&self) -> Result<Option<String>, LakeopsError> {
        self.read_rotation().await
    }

    async fn save_rotation(
        &self,
        next: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), LakeopsError> {
        self.write_rotation(next, now).await
    }

    /// Calls made since the last time this was asked (one invocation's calls: the value lives
    /// as long as the Lambda instance).
    fn calls(&self) -> IndexCalls {
        std::mem::take(&mut *self.calls.lock().expect("index call counter"))
    }
}

#[cfg(test)]
mod tests;
