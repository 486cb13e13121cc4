//! The query index in memory: [`crate::record`]'s rules applied directly, with the parts of
//! DynamoDB's contract the watchers depend on — every write conditional and atomic, a pricing and
//! its totals in one transaction that concurrent writers can cancel (`TransactionConflict`,
//! injected with [`MemoryIndex::inject_conflicts`] and tried again up to [`CONFLICT_ATTEMPTS`]
//! times, as the DynamoDB adapter does), calls failing as throttled after the SDK's retries
//! ([`MemoryIndex::inject_throttling`]), and finished queries handed over in pages.
//!
//! Differences, on purpose: the SQL of a priced query is kept whole (the DynamoDB adapter keeps a
//! masked excerpt), and totals are summed in `f64` (DynamoDB adds decimals exactly): callers
//! compare totals with a tolerance of a micro-dollar per query.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Timelike, Utc};

use crate::caller::Caller;
use crate::index::{
    day_total_key, person_day_total_key, Checkpoint, Finished, InFlight, IndexCalls, IndexStore,
    Pricing, CONFLICT_ATTEMPTS,
};
use crate::query::QueryExecution;
use crate::record::{Expect, QueryRecord, StateChange};

use super::MemoryError;

/// Finished queries per page: DynamoDB's 1 MB `Query` page holds about this many priced items
/// (an item is ~2–4 KB with its SQL excerpt).
pub const FINISHED_PAGE_ITEMS: usize = 300;

/// The capacity units DynamoDB on-demand would bill for each call, by the DynamoDB Developer
/// Guide's rules ("Read/write capacity mode", "Managing complex workflows with transactions"):
/// a write of up to 1 KB is 1 write unit, and a write that fails its condition still costs it;
/// transactional writes cost 2 per item; a write that moves an item into or out of a global
/// secondary index costs 1 more there; an eventually consistent read of up to 4 KB is half a read
/// unit (`BatchGetItem`, `Query`, `Scan` by what they return), a strongly consistent one 1. The
/// sizes: a query's item with its SQL excerpt and tables ~2 KB (2 units a write), its copy in
/// `completed` ~600 B, its entry in `in-flight` ~200 B, totals and checkpoints under 1 KB.
mod units {
    pub const QUERY_ITEM_WRITE: f64 = 2.0;
    pub const SMALL_WRITE: f64 = 1.0;
    pub const GSI_MOVE: f64 = 1.0;
    pub const TRANSACTIONAL: f64 = 2.0;
    pub const STRONG_READ: f64 = 1.0;
    pub const EVENTUAL_READ_PER_4KB: f64 = 0.5;
    pub const COMPLETED_BYTES: f64 = 600.0;
    pub const IN_FLIGHT_BYTES: f64 = 200.0;
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Total {
    usd: f64,
    bytes: u64,
    queries: u64,
}

/// One workgroup-hour of the `completed` index: (completion, id), in completion order.
type CompletedHour = BTreeSet<(DateTime<Utc>, String)>;

#[derive(Debug, Default)]
struct Tables {
    records: BTreeMap<String, QueryRecord>,
    /// The sparse in-flight index: ids of unsettled records.
    unsettled: BTreeSet<String>,
    /// The `completed` index: (workgroup, UTC hour) → (completion, id) of priced records.
    completed: BTreeMap<(String, DateTime<Utc>), CompletedHour>,
    totals: HashMap<String, Total>,
    checkpoints: HashMap<String, Checkpoint>,
    rotation: Option<String>,
    calls: IndexCalls,
    /// Every call since the index was made (not reset by `calls`).
    all_calls: (u64, u64),
    /// Write and read capacity units DynamoDB would bill, since the index was made ([`units`]).
    units: (f64, f64),
    /// Transaction attempts still to cancel with `TransactionConflict`.
    conflicts: u32,
    /// Calls still to fail as throttled.
    throttled: u32,
}

impl Tables {
    /// One call of `reads` and `writes` items, or the throttling injected for it.
    fn call(&mut self, reads: u32, writes: u32) -> Result<(), MemoryError> {
        if self.throttled > 0 {
            self.throttled -= 1;
            return Err(MemoryError::Throttled("dynamodb"));
        }
        self.calls.reads += reads;
        self.calls.writes += writes;
        self.all_calls.0 += u64::from(reads);
        self.all_calls.1 += u64::from(writes);
        Ok(())
    }

    /// Bills capacity units ([`units`]).
    fn bill(&mut self, write_units: f64, read_units: f64) {
        self.units.0 += write_units;
        self.units.1 += read_units;
    }

    /// Half a read unit per 4 KB an eventually consistent read returns (at least one unit's half).
    fn bill_eventual_read(&mut self, bytes: f64) {
        let blocks = (bytes / 4096.0).ceil().max(1.0);
        self.bill(0.0, blocks * units::EVENTUAL_READ_PER_4KB);
    }

    /// A transaction of `items` writes, the first a query's item, the others totals: tried
    /// again while conflicts are injected (a cancelled transaction is billed too).
    fn transaction(&mut self, items: u32) -> Result<(), MemoryError> {
        for _ in 0..CONFLICT_ATTEMPTS {
            self.call(0, items)?;
            let written = units::QUERY_ITEM_WRITE + f64::from(items.saturating_sub(1));
            self.bill(written * units::TRANSACTIONAL, 0.0);
            if self.conflicts == 0 {
                return Ok(());
            }
            self.conflicts -= 1;
        }
        Err(MemoryError::Conflict {
            attempts: CONFLICT_ATTEMPTS,
        })
    }

    /// A record was written: the indexes follow it (as DynamoDB's GSIs follow the base item),
    /// each move into or out of one billed.
    fn indexed(&mut self, id: &str) {
        let Some(r) = self.records.get(id) else {
            return;
        };
        let moved = if r.is_unsettled() {
            self.unsettled.insert(id.to_string())
        } else {
            self.unsettled.remove(id)
        };
        let mut filed = false;
        if let Some(p) = &r.price {
            if let Some(at) = p.query.completed_at {
                let key = (p.query.workgroup.clone(), hour_of(at));
                filed = self
                    .completed
                    .entry(key)
                    .or_default()
                    .insert((at, id.to_string()));
            }
        }
        let moves = f64::from(u8::from(moved) + u8::from(filed));
        self.bill(moves * units::GSI_MOVE, 0.0);
    }

    fn add(&mut self, key: String, usd: f64, bytes: u64) {
        let t = self.totals.entry(key).or_default();
        t.usd += usd;
        t.bytes += bytes;
        t.queries += 1;
    }
}

/// The index in memory; safe to share between concurrent callers.
#[derive(Debug, Default)]
pub struct MemoryIndex {
    tables: Mutex<Tables>,
}

impl MemoryIndex {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        // A panic while holding the lock leaves the tables as they were before the write.
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next `attempts` transaction attempts are cancelled for `TransactionConflict`.
    pub fn inject_conflicts(&self, attempts: u32) {
        self.lock().conflicts = attempts;
    }

    /// The next `calls` calls fail as throttled.
    pub fn inject_throttling(&self, calls: u32) {
        self.lock().throttled = calls;
    }

    /// Items read and written since the index was made (`IndexStore::calls` is per invocation).
    pub fn all_calls(&self) -> (u64, u64) {
        self.lock().all_calls
    }

    /// Write and read capacity units DynamoDB on-demand would have billed for every call since
    /// the index was made ([`units`]).
    pub fn capacity_units(&self) -> (f64, f64) {
        self.lock().units
    }

    /// One query's record, if any (for tests and the simulation's oracle).
    pub fn record(&self, query_id: &str) -> Option<QueryRecord> {
        self.lock().records.get(query_id).cloned()
    }

    /// Every record (for the simulation's oracle).
    pub fn records(&self) -> Vec<QueryRecord> {
        self.lock().records.values().cloned().collect()
    }

    /// The number of queries priced into `workgroup`'s total of `day`.
    #[cfg(test)]
    fn day_queries(&self, workgroup: &str, day: &str) -> u64 {
        self.lock()
            .totals
            .get(&day_total_key(workgroup, day))
            .map_or(0, |t| t.queries)
    }

    fn totals(&self, keys: impl Iterator<Item = (String, String)>) -> HashMap<String, f64> {
        let t = self.lock();
        keys.map(|(name, key)| (name, t.totals.get(&key).map_or(0.0, |t| t.usd)))
            .collect()
    }
}

fn hour_of(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(t)
}

impl IndexStore for MemoryIndex {
    type Error = MemoryError;

    async fn apply_state_change(&self, e: &StateChange) -> Result<bool, MemoryError> {
        let mut t = self.lock();
        t.call(0, 1)?;
        t.bill(units::QUERY_ITEM_WRITE, 0.0);
        let record = t.records.get(&e.query_id);
        if !Expect::EarlierThan(e.sequence).holds(record) {
            return Ok(false);
        }
        t.records
            .entry(e.query_id.clone())
            .or_insert_with(|| QueryRecord::new(&e.query_id))
            .apply_state_change(e);
        t.indexed(&e.query_id);
        Ok(true)
    }

    async fn record_finished(
        &self,
        p: Pricing<'_>,
        now: DateTime<Utc>,
        caller: Option<&Caller>,
    ) -> Result<bool, MemoryError> {
        // Filed under its completion, or under now if Athena gave none (as DynamoDB's is).
        let query = QueryExecution {
            completed_at: Some(p.query.completed_at.unwrap_or(now)),
            ..p.query.clone()
        };
        let p = Pricing { query: &query, ..p };
        let mut t = self.lock();
        let record = t.records.get(&p.query.id);
        // A caller that arrived since the reader looked is used (the DynamoDB adapter reads it
        // back and tries again): the person's total never misses the query.
        let caller = caller
            .cloned()
            .or_else(|| record.and_then(|r| r.caller.clone()));
        if !Expect::Unpriced.holds(record) {
            t.call(1, 0)?;
            t.bill(0.0, units::STRONG_READ);
            return Ok(false);
        }
        t.transaction(if caller.is_some() { 3 } else { 2 })?;
        let bytes = p.query.data_scanned_bytes.unwrap_or(0);
        t.records
            .entry(p.query.id.clone())
            .or_insert_with(|| QueryRecord::new(&p.query.id))
            .price(p.query, p.usd, p.day, p.tables, caller.is_some());
        t.indexed(&p.query.id);
        t.add(day_total_key(&p.query.workgroup, p.day), p.usd, bytes);
        if let Some(c) = &caller {
            t.add(person_day_total_key(&c.person, p.day), p.usd, 0);
        }
        Ok(true)
    }

    async fn record_start(
        &self,
        query_id: &str,
        caller: &Caller,
        database: Option<&str>,
        _now: DateTime<Utc>,
    ) -> Result<bool, MemoryError> {
        let mut t = self.lock();
        t.call(0, 1)?;
        t.bill(units::QUERY_ITEM_WRITE, 0.0);
        let record = t
            .records
            .entry(query_id.to_string())
            .or_insert_with(|| QueryRecord::new(query_id));
        let Some((usd, day)) = record.attribute(caller, database) else {
            return Ok(false);
        };
        if !Expect::PricedUncounted.holds(Some(record)) {
            return Ok(false);
        }
        t.transaction(2)?;
        if let Some(r) = t.records.get_mut(query_id) {
            r.count_for_person();
        }
        t.add(person_day_total_key(&caller.person, &day), usd, 0);
        Ok(true)
    }

    async fn record_in_flight(
        &self,
        q: &QueryExecution,
        now: DateTime<Utc>,
    ) -> Result<(), MemoryError> {
        let mut t = self.lock();
        t.call(0, 1)?;
        t.bill(units::QUERY_ITEM_WRITE, 0.0);
        let record = t
            .records
            .entry(q.id.clone())
            .or_insert_with(|| QueryRecord::new(&q.id));
        if Expect::NoState.holds(Some(record)) {
            record.observe_in_flight(q, now);
        } else if Expect::UnsettledOtherThan(q.state).holds(Some(record)) {
            record.correct_state(q.state, now);
        } else if Expect::UnsettledIn(q.state).holds(Some(record)) {
            record.mark_checked(now);
        }
        t.indexed(&q.id);
        Ok(())
    }

    async fn callers(&self, ids: &[String]) -> Result<HashMap<String, Caller>, MemoryError> {
        let mut t = self.lock();
        t.call(ids.len().div_ceil(100) as u32, 0)?;
        t.bill(0.0, ids.len() as f64 * units::EVENTUAL_READ_PER_4KB);
        Ok(ids
            .iter()
            .filter_map(|id| {
                let c = t.records.get(id)?.caller.clone()?;
                Some((id.clone(), c))
            })
            .collect())
    }

    async fn known(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, Option<DateTime<Utc>>>, MemoryError> {
        let mut t = self.lock();
        t.call(ids.len().div_ceil(100) as u32, 0)?;
        t.bill(0.0, ids.len() as f64 * units::EVENTUAL_READ_PER_4KB);
        Ok(ids
            .iter()
            .filter_map(|id| {
                let r = t.records.get(id).filter(|r| r.sequence.is_some())?;
                Some((id.clone(), r.changed_at))
            })
            .collect())
    }

    async fn in_flight(&self) -> Result<Vec<InFlight>, MemoryError> {
        let mut t = self.lock();
        t.call(1, 0)?;
        let bytes = t.unsettled.len() as f64 * units::IN_FLIGHT_BYTES;
        t.bill_eventual_read(bytes);
        Ok(t.unsettled
            .iter()
            .filter_map(|id| t.records.get(id))
            .map(|r| InFlight {
                query_id: r.query_id.clone(),
                workgroup: r.workgroup.clone().unwrap_or_default(),
                state: r.state.unwrap_or(crate::query::QueryState::Unknown),
                since: r.changed_at.unwrap_or(DateTime::UNIX_EPOCH),
                checked_at: r.checked_at,
            })
            .collect())
    }

    async fn day_totals(
        &self,
        workgroups: &[String],
        day: &str,
    ) -> Result<HashMap<String, f64>, MemoryError> {
        {
            let mut t = self.lock();
            t.call(workgroups.len().div_ceil(100) as u32, 0)?;
            t.bill(0.0, workgroups.len() as f64 * units::EVENTUAL_READ_PER_4KB);
        }
        Ok(self.totals(
            workgroups
                .iter()
                .map(|wg| (wg.clone(), day_total_key(wg, day))),
        ))
    }

    async fn person_day_totals(
        &self,
        persons: &[String],
        day: &str,
    ) -> Result<HashMap<String, f64>, MemoryError> {
        {
            let mut t = self.lock();
            t.call(persons.len().div_ceil(100) as u32, 0)?;
            t.bill(0.0, persons.len() as f64 * units::EVENTUAL_READ_PER_4KB);
        }
        Ok(self.totals(
            persons
                .iter()
                .map(|p| (p.clone(), person_day_total_key(p, day))),
        ))
    }

    async fn for_each_finished_page(
        &self,
        workgroup: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        mut each: impl FnMut(Vec<Finished>) + Send,
    ) -> Result<(), MemoryError> {
        let mut hour = hour_of(from);
        while hour < to {
            let end = (hour + Duration::hours(1)).min(to);
            let start = from.max(hour);
            let found: Vec<Finished> = {
                let t = self.lock();
                let key = (workgroup.to_string(), hour);
                t.completed
                    .get(&key)
                    .into_iter()
                    .flatten()
                    .filter(|(at, _)| start <= *at && *at < end)
                    .filter_map(|(_, id)| {
                        let r = t.records.get(id)?;
                        let p = r.price.as_ref()?;
                        Some(Finished {
                            query: p.query.clone(),
                            caller: r.caller.clone(),
                            tables: p.tables.clone(),
                            usd: p.usd,
                        })
                    })
                    .collect()
            };
            let pages = found.len().div_ceil(FINISHED_PAGE_ITEMS).max(1);
            {
                let mut t = self.lock();
                t.call(pages as u32, 0)?;
                t.bill_eventual_read(found.len() as f64 * units::COMPLETED_BYTES);
            }
            let mut rest = found.into_iter().peekable();
            while rest.peek().is_some() {
                each(rest.by_ref().take(FINISHED_PAGE_ITEMS).collect());
            }
            hour += Duration::hours(1);
        }
        Ok(())
    }

    async fn checkpoint(&self, workgroup: &str) -> Result<Checkpoint, MemoryError> {
        let mut t = self.lock();
        t.call(1, 0)?;
        t.bill(0.0, units::STRONG_READ);
        Ok(t.checkpoints.get(workgroup).cloned().unwrap_or_default())
    }

    async fn save_checkpoint(
        &self,
        workgroup: &str,
        checkpoint: &Checkpoint,
        _now: DateTime<Utc>,
    ) -> Result<(), MemoryError> {
        let mut t = self.lock();
        t.call(0, 1)?;
        t.bill(units::SMALL_WRITE, 0.0);
        t.checkpoints
            .insert(workgroup.to_string(), checkpoint.clone());
        Ok(())
    }

    async fn rotation(&self) -> Result<Option<String>, MemoryError> {
        let mut t = self.lock();
        t.call(1, 0)?;
        t.bill(0.0, units::STRONG_READ);
        Ok(t.rotation.clone())
    }

    async fn save_rotation(
        &self,
        next: Option<&str>,
        _now: DateTime<Utc>,
    ) -> Result<(), MemoryError> {
        let mut t = self.lock();
        t.call(0, 1)?;
        t.bill(units::SMALL_WRITE, 0.0);
        t.rotation = next.map(str::to_string);
        Ok(())
    }

    fn calls(&self) -> IndexCalls {
        std::mem::take(&mut self.lock().calls)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::tests_support::ready;

    #[test]
    fn keeps_the_index_contract() {
        ready(crate::index_contract::run(&MemoryIndex::new(), "t-"));
    }

    #[test]
    fn conflicts_are_tried_again_then_given_up() {
        let index = MemoryIndex::new();
        let q = QueryExecution::example("q1");
        let tables = crate::query::TablesRead::Unparsed;
        let p = Pricing {
            query: &q,
            usd: 1.0,
            day: "2026-03-02",
            tables: &tables,
        };
        index.inject_conflicts(CONFLICT_ATTEMPTS - 1);
        assert_eq!(ready(index.record_finished(p, Utc::now(), None)), Ok(true));
        let q2 = QueryExecution::example("q2");
        index.inject_conflicts(CONFLICT_ATTEMPTS);
        let p2 = Pricing { query: &q2, ..p };
        assert_eq!(
            ready(index.record_finished(p2, Utc::now(), None)),
            Err(MemoryError::Conflict {
                attempts: CONFLICT_ATTEMPTS
            })
        );
        assert!(
            index.record("q2").is_none(),
            "a cancelled transaction wrote nothing"
        );
        assert_eq!(index.day_queries("primary", "2026-03-02"), 1);
        index.inject_throttling(1);
        assert_eq!(
            ready(index.in_flight()),
            Err(MemoryError::Throttled("dynamodb"))
        );
        assert_eq!(ready(index.in_flight()), Ok(vec![]));
    }

    #[test]
    fn bills_what_dynamodb_would() {
        let index = MemoryIndex::new();
        let mut q = QueryExecution::example("q1");
        q.state = crate::query::QueryState::Running;
        ready(index.record_in_flight(&q, Utc::now())).unwrap();
        // The item (2 KB: 2 units) and its move into `in-flight` (1).
        assert_eq!(index.capacity_units(), (3.0, 0.0));
        q.state = crate::query::QueryState::Succeeded;
        q.completed_at = Some(Utc::now());
        let tables = crate::query::TablesRead::Unparsed;
        let p = Pricing {
            query: &q,
            usd: 1.0,
            day: "2026-03-02",
            tables: &tables,
        };
        ready(index.record_finished(p, Utc::now(), None)).unwrap();
        // A transaction of the item (2 KB) and the day total (1 KB), each unit twice: 6; out of
        // `in-flight` (1), into `completed` (1).
        assert_eq!(index.capacity_units(), (11.0, 0.0));
        // Asked again: the condition fails, read back strongly consistent (1 read unit).
        ready(index.record_finished(p, Utc::now(), None)).unwrap();
        assert_eq!(index.capacity_units(), (11.0, 1.0));
        ready(index.known(&["q1".to_string(), "q2".to_string()])).unwrap();
        assert_eq!(index.capacity_units(), (11.0, 2.0));
    }
}
