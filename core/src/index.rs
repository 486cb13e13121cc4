//! The query index port: what the Athena watchers need from the store that keeps one
//! [`QueryRecord`](crate::record::QueryRecord) per query, the day totals and reconciliation's
//! place — and the shapes it answers in. Two adapters keep it: DynamoDB
//! (`lakeops::query_index::QueryIndex`) and memory ([`crate::memory::MemoryIndex`]); one contract
//! suite ([`crate::index_contract`]) holds both to the same behaviour.

use std::collections::HashMap;
use std::future::Future;

use chrono::{DateTime, Utc};

use crate::caller::Caller;
use crate::query::{QueryExecution, QueryState, TablesRead};
use crate::record::StateChange;

/// The key of `workgroup`'s running totals of a local day (`YYYY-MM-DD`).
pub fn day_total_key(workgroup: &str, day: &str) -> String {
    format!("day#{workgroup}#{day}")
}

/// The key of `person`'s running totals of a local day (`YYYY-MM-DD`).
pub fn person_day_total_key(person: &str, day: &str) -> String {
    format!("pday#{person}#{day}")
}

/// A finished query as the index holds it: priced, with who ran it and what it read.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    pub query: QueryExecution,
    /// `None`: no CloudTrail record of its start arrived (no trail, or not yet).
    pub caller: Option<Caller>,
    pub tables: TablesRead,
    pub usd: f64,
}

/// What the index knows of one unsettled query (in flight, or ended and not yet priced).
#[derive(Debug, Clone, PartialEq)]
pub struct InFlight {
    pub query_id: String,
    pub workgroup: String,
    pub state: QueryState,
    /// When it entered `state` (the event's time, or when a read first saw it).
    pub since: DateTime<Utc>,
    /// When reconciliation last re-read it from Athena, if ever.
    pub checked_at: Option<DateTime<Utc>>,
}

/// Where a workgroup's reconciliation stands.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checkpoint {
    /// The newest query id a finished pass started from: the next pass stops when it reaches it.
    pub stop_at: Option<String>,
    /// A pass that ran out of time: where to go on (`ListQueryExecutions` token) ...
    pub resume_token: Option<String>,
    /// ... and the newest id of that pass, the next `stop_at` once it is finished.
    pub resume_newest: Option<String>,
}

/// Calls made, for the run summaries and the scale benchmark.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct IndexCalls {
    pub reads: u32,
    pub writes: u32,
}

/// Attempts of a transaction cancelled for `TransactionConflict` before it is given up (the
/// busiest workgroup's day total is a hot key: five feeders collide on it).
pub const CONFLICT_ATTEMPTS: u32 = 8;

/// A query to price: what Athena reported, its price, the local day its totals are of, and what
/// it read.
#[derive(Debug, Clone, Copy)]
pub struct Pricing<'a> {
    pub query: &'a QueryExecution,
    pub usd: f64,
    pub day: &'a str,
    pub tables: &'a TablesRead,
}

/// The query index, as the watchers use it. Every write follows [`crate::record`]'s rules.
pub trait IndexStore: Sync {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Applies one event; `Ok(false)` when the index already holds a newer (or the same) state.
    fn apply_state_change(
        &self,
        e: &StateChange,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// Prices a finished query once, adding it to its workgroup's total of `p.day` and, with a
    /// caller (the one its record holds, as read before), to its person's, in one write: a
    /// caller that arrived since is used instead of `None`. `Ok(true)` when this call priced it.
    fn record_finished(
        &self,
        p: Pricing<'_>,
        now: DateTime<Utc>,
        caller: Option<&Caller>,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// Records who started a query; `Ok(true)` when this added its spend to the person's total
    /// (it had been priced without a caller).
    fn record_start(
        &self,
        query_id: &str,
        caller: &Caller,
        database: Option<&str>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// Records a QUEUED or RUNNING query read from Athena (first sight, or a re-read).
    fn record_in_flight(
        &self,
        q: &QueryExecution,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Who ran each of `ids`, for those whose CloudTrail record arrived.
    fn callers(
        &self,
        ids: &[String],
    ) -> impl Future<Output = Result<HashMap<String, Caller>, Self::Error>> + Send;

    /// Which of `ids` the index holds a state of, with the time of their last state change.
    fn known(
        &self,
        ids: &[String],
    ) -> impl Future<Output = Result<HashMap<String, Option<DateTime<Utc>>>, Self::Error>> + Send;

    /// Every unsettled query, sorted by id.
    fn in_flight(&self) -> impl Future<Output = Result<Vec<InFlight>, Self::Error>> + Send;

    /// The running totals of `day` per workgroup (usd; 0 when nothing was priced).
    fn day_totals(
        &self,
        workgroups: &[String],
        day: &str,
    ) -> impl Future<Output = Result<HashMap<String, f64>, Self::Error>> + Send;

    /// The running totals of `day` per person (usd; 0 when nothing was priced).
    fn person_day_totals(
        &self,
        persons: &[String],
        day: &str,
    ) -> impl Future<Output = Result<HashMap<String, f64>, Self::Error>> + Send;

    /// The finished queries of `workgroup` that completed in `[from, to)`, handed to `each` a
    /// page at a time (hour by hour, in completion order within an hour; no empty pages).
    fn for_each_finished_page(
        &self,
        workgroup: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        each: impl FnMut(Vec<Finished>) + Send,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// [`IndexStore::for_each_finished_page`], collected: for a span short enough to hold.
    fn finished_between(
        &self,
        workgroup: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<Finished>, Self::Error>> + Send {
        async move {
            let mut found = Vec::new();
            self.for_each_finished_page(workgroup, from, to, |page| found.extend(page))
                .await?;
            Ok(found)
        }
    }

    fn checkpoint(
        &self,
        workgroup: &str,
    ) -> impl Future<Output = Result<Checkpoint, Self::Error>> + Send;

    fn save_checkpoint(
        &self,
        workgroup: &str,
        checkpoint: &Checkpoint,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Where reconciliation's round of the workgroups goes on next (`None`: from the first).
    fn rotation(&self) -> impl Future<Output = Result<Option<String>, Self::Error>> + Send;

    fn save_rotation(
        &self,
        next: Option<&str>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Calls made since the last time this was asked.
    fn calls(&self) -> IndexCalls;
}
