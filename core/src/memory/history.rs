//! Athena's query history in memory, with the API's contract: `BatchGetQueryExecution` takes 1
//! to 50 ids and answers ids it cannot return as unprocessed (never silently drops them);
//! `ListQueryExecutions` pages 50 ids, newest first, behind an opaque token, one workgroup a
//! call; both can be throttled ([`MemoryAthena::inject_throttling`]) and ids can come back
//! unprocessed for a round ([`MemoryAthena::inject_unprocessed`]). The simulation writes each
//! query's current state with [`MemoryAthena::put`], as Athena would show it at that moment.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use crate::history::{
    BatchGetResult, QueryControl, QueryHistory, Unprocessed, BATCH_GET_MAX_IDS, LIST_PAGE_SIZE,
};
use crate::query::{QueryExecution, QueryState};

use super::MemoryError;

/// Rounds of unprocessed ids asked again, as the Athena adapter does.
const UNPROCESSED_RETRIES: u32 = 3;

#[derive(Debug, Default)]
struct Athena {
    queries: HashMap<String, QueryExecution>,
    /// Per workgroup, its query ids in submission order (the order they were first put).
    by_workgroup: BTreeMap<String, Vec<String>>,
    /// Workgroup → enabled.
    workgroups: BTreeMap<String, bool>,
    throttled: u32,
    /// Ids still to answer as unprocessed (each once per injection).
    unprocessed: u32,
    list_calls: u64,
    batch_get_calls: u64,
    /// Queries stopped through [`QueryControl::stop_and_confirm`] and not yet taken by [`MemoryAthena::take_stopped`].
    stopped: Vec<String>,
}

impl Athena {
    fn call(&mut self) -> Result<(), MemoryError> {
        if self.throttled > 0 {
            self.throttled -= 1;
            return Err(MemoryError::Throttled("athena"));
        }
        Ok(())
    }

    /// One `BatchGetQueryExecution` call of 1 to 50 ids.
    fn batch_get_call(&mut self, ids: &[String]) -> Result<BatchGetResult, MemoryError> {
        if ids.is_empty() || ids.len() > BATCH_GET_MAX_IDS {
            return Err(MemoryError::Invalid(format!(
                "BatchGetQueryExecution takes 1 to {BATCH_GET_MAX_IDS} ids, not {}",
                ids.len()
            )));
        }
        self.call()?;
        self.batch_get_calls += 1;
        let mut out = BatchGetResult::default();
        for id in ids {
            let query = self.queries.get(id).cloned();
            match query {
                Some(q) if self.unprocessed == 0 => out.executions.push(q),
                Some(_) => {
                    self.unprocessed -= 1;
                    out.unprocessed.push(unprocessed(id, "ThrottlingException"));
                }
                None => out.unprocessed.push(unprocessed(id, "INVALID_INPUT")),
            }
        }
        Ok(out)
    }
}

fn unprocessed(id: &str, code: &str) -> Unprocessed {
    Unprocessed {
        id: id.to_string(),
        code: code.to_string(),
        message: format!("{code}: {id}"),
    }
}

/// Athena's history in memory; safe to share between concurrent callers.
#[derive(Debug, Default)]
pub struct MemoryAthena {
    athena: Mutex<Athena>,
}

impl MemoryAthena {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Athena> {
        self.athena.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn add_workgroup(&self, name: &str, enabled: bool) {
        self.lock().workgroups.insert(name.to_string(), enabled);
    }

    /// Records `q` as Athena shows it now (a new query, or a new state of a known one); its
    /// workgroup is created if needed.
    pub fn put(&self, q: QueryExecution) {
        let mut a = self.lock();
        a.workgroups.entry(q.workgroup.clone()).or_insert(true);
        if !a.queries.contains_key(&q.id) {
            a.by_workgroup
                .entry(q.workgroup.clone())
                .or_default()
                .push(q.id.clone());
        }
        a.queries.insert(q.id.clone(), q);
    }

    /// What Athena shows of `id` now.
    pub fn get(&self, id: &str) -> Option<QueryExecution> {
        self.lock().queries.get(id).cloned()
    }

    /// The next `calls` calls fail as throttled.
    pub fn inject_throttling(&self, calls: u32) {
        self.lock().throttled = calls;
    }

    /// The next `ids` known ids asked for come back unprocessed (once each).
    pub fn inject_unprocessed(&self, ids: u32) {
        self.lock().unprocessed = ids;
    }

    /// The queries stopped since the last call, in the order they were stopped (the simulation
    /// ends them in its world: their CANCELLED events, no later state).
    pub fn take_stopped(&self) -> Vec<String> {
        std::mem::take(&mut self.lock().stopped)
    }

    /// `(ListQueryExecutions, BatchGetQueryExecution)` calls answered so far.
    pub fn calls(&self) -> (u64, u64) {
        let a = self.lock();
        (a.list_calls, a.batch_get_calls)
    }
}

impl QueryHistory for MemoryAthena {
    type Error = MemoryError;

    async fn workgroups(&self, enabled_only: bool) -> Result<Vec<String>, MemoryError> {
        let mut a = self.lock();
        a.call()?;
        Ok(a.workgroups
            .iter()
            .filter(|(_, enabled)| **enabled || !enabled_only)
            .map(|(name, _)| name.clone())
            .collect())
    }

    async fn batch_get(&self, ids: &[String]) -> Result<(BatchGetResult, u32), MemoryError> {
        let mut a = self.lock();
        let (mut result, mut calls) = (BatchGetResult::default(), 0);
        for chunk in ids.chunks(BATCH_GET_MAX_IDS) {
            let mut pending = chunk.to_vec();
            for round in 0..=UNPROCESSED_RETRIES {
                calls += 1;
                let out = a.batch_get_call(&pending)?;
                result.executions.extend(out.executions);
                if out.unprocessed.is_empty() {
                    break;
                }
                // Unknown ids never become known by asking again.
                let (retry, give_up): (Vec<_>, Vec<_>) = out
                    .unprocessed
                    .into_iter()
                    .partition(|u| u.code == "ThrottlingException" && round < UNPROCESSED_RETRIES);
                result.unprocessed.extend(give_up);
                if retry.is_empty() {
                    break;
                }
                pending = retry.into_iter().map(|u| u.id).collect();
            }
        }
        Ok((result, calls))
    }

    async fn list_query_page(
        &self,
        workgroup: &str,
        token: Option<String>,
    ) -> Result<(Vec<String>, Option<String>), MemoryError> {
        let mut a = self.lock();
        a.call()?;
        a.list_calls += 1;
        let skip = match token
            .as_deref()
            .map(|t| t.strip_prefix("page-").map(str::parse))
        {
            None => 0,
            Some(Some(Ok(n))) => n,
            Some(_) => return Err(MemoryError::Invalid("unknown NextToken".into())),
        };
        let ids = a
            .by_workgroup
            .get(workgroup)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let page: Vec<String> = ids
            .iter()
            .rev()
            .skip(skip)
            .take(LIST_PAGE_SIZE)
            .cloned()
            .collect();
        let next = (skip + page.len() < ids.len()).then(|| format!("page-{}", skip + page.len()));
        Ok((page, next))
    }
}

/// Stops take effect at once here (the Athena adapter waits for Athena's asynchronous cancel).
impl QueryControl for MemoryAthena {
    async fn stop_and_confirm(&self, id: &str) -> Result<QueryExecution, MemoryError> {
        let mut a = self.lock();
        a.call()?;
        let Some(q) = a.queries.get_mut(id) else {
            return Err(MemoryError::Invalid(format!("no query {id}")));
        };
        if matches!(q.state, QueryState::Queued | QueryState::Running) {
            q.state = QueryState::Cancelled;
            let q = q.clone();
            a.stopped.push(id.to_string());
            return Ok(q);
        }
        Ok(q.clone())
    }

    async fn read_query(&self, id: &str) -> Result<Option<QueryExecution>, MemoryError> {
        let mut a = self.lock();
        a.call()?;
        Ok(a.queries.get(id).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::tests_support::ready;

    fn athena(n: usize) -> MemoryAthena {
        let a = MemoryAthena::new();
        for i in 0..n {
            let mut q = QueryExecution::example(&format!("q{i:03}"));
            q.workgroup = "etl".into();
            a.put(q);
        }
        a
    }

    #[test]
    fn lists_newest_first_fifty_a_page() {
        let a = athena(120);
        let (first, next) = ready(a.list_query_page("etl", None)).unwrap();
        assert_eq!((first.len(), first[0].as_str()), (50, "q119"));
        let (_, next) = ready(a.list_query_page("etl", next)).unwrap();
        let (last, end) = ready(a.list_query_page("etl", next)).unwrap();
        assert_eq!((last.len(), last[19].as_str(), end), (20, "q000", None));
        assert!(ready(a.list_query_page("etl", Some("bogus".into()))).is_err());
    }

    #[test]
    fn batch_get_asks_fifty_a_call_and_names_what_it_could_not_return() {
        let a = athena(120);
        let mut ids: Vec<String> = (0..120).map(|i| format!("q{i:03}")).collect();
        ids.push("missing".into());
        a.inject_unprocessed(3);
        let (found, calls) = ready(a.batch_get(&ids)).unwrap();
        assert_eq!(found.executions.len(), 120, "throttled ids are asked again");
        assert_eq!(found.unprocessed.len(), 1);
        assert_eq!(found.unprocessed[0].id, "missing");
        assert_eq!(calls, 4, "3 chunks, one round again");
        a.inject_throttling(1);
        assert_eq!(
            ready(a.batch_get(&ids[..1])).err(),
            Some(MemoryError::Throttled("athena"))
        );
    }

    #[test]
    fn a_stop_cancels_a_running_query_once_and_leaves_an_ended_one_alone() {
        let a = athena(2);
        let mut running = QueryExecution::example("q000");
        running.workgroup = "etl".into();
        running.state = QueryState::Running;
        a.put(running);
        assert_eq!(
            ready(a.stop_and_confirm("q000")).unwrap().state,
            QueryState::Cancelled
        );
        assert_eq!(
            ready(QueryControl::read_query(&a, "q000"))
                .unwrap()
                .unwrap()
                .state,
            QueryState::Cancelled
        );
        let ended = ready(QueryControl::read_query(&a, "q001"))
            .unwrap()
            .unwrap()
            .state;
        assert_eq!(ready(a.stop_and_confirm("q001")).unwrap().state, ended);
        assert_eq!(
            ready(a.stop_and_confirm("q000")).unwrap().state,
            QueryState::Cancelled
        );
        assert_eq!(a.take_stopped(), vec!["q000".to_string()]);
        assert!(a.take_stopped().is_empty());
        assert!(ready(a.stop_and_confirm("missing")).is_err());
    }
}
