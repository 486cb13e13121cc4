//! The query history port: what the watchers read from Athena's own record of its queries —
//! the workgroups, a page of a workgroup's query ids, the details of up to 50 ids a call. Two
//! adapters: the Athena API (`lakeops::athena::AthenaHistory`, paced by the suite's shared call
//! budget) and memory ([`crate::memory::MemoryAthena`]).

use std::future::Future;

use serde::Serialize;

use crate::query::QueryExecution;

/// `BatchGetQueryExecution` takes 1 to 50 ids.
pub const BATCH_GET_MAX_IDS: usize = 50;
/// `ListQueryExecutions` returns at most 50 ids a page.
pub const LIST_PAGE_SIZE: usize = 50;

/// An id `BatchGetQueryExecution` would not return even after retries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unprocessed {
    pub id: String,
    pub code: String,
    pub message: String,
}

/// Details of a set of ids.
#[derive(Debug, Default, Clone)]
pub struct BatchGetResult {
    pub executions: Vec<QueryExecution>,
    pub unprocessed: Vec<Unprocessed>,
}

/// Athena's record of its queries, as the watchers read it.
pub trait QueryHistory: Sync {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Names of the account's workgroups, sorted (only ENABLED ones when `enabled_only`).
    fn workgroups(
        &self,
        enabled_only: bool,
    ) -> impl Future<Output = Result<Vec<String>, Self::Error>> + Send;

    /// Details of `ids`, [`BATCH_GET_MAX_IDS`] a call, unprocessed ids asked again a few times;
    /// with the number of calls made.
    fn batch_get(
        &self,
        ids: &[String],
    ) -> impl Future<Output = Result<(BatchGetResult, u32), Self::Error>> + Send;

    /// One page of `workgroup`'s query ids (newest first) and the token of the next page.
    fn list_query_page(
        &self,
        workgroup: &str,
        token: Option<String>,
    ) -> impl Future<Output = Result<(Vec<String>, Option<String>), Self::Error>> + Send;
}

/// Stopping queries: what the long-query killer asks of Athena beyond reading its record.
pub trait QueryControl: QueryHistory {
    /// Asks Athena to stop `id` and reads it back until it has left QUEUED / RUNNING (Athena
    /// cancels asynchronously) or the reads run out; the query as last read. Stopping a query
    /// that already ended is harmless.
    fn stop_and_confirm(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<QueryExecution, Self::Error>> + Send;

    /// The query as Athena shows it now (`None`: Athena does not know it).
    fn read_query(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<QueryExecution>, Self::Error>> + Send;
}
