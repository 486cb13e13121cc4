//! An Athena query as lakeops reads it: its state, its statement type and the execution record
//! (what `GetQueryExecution` / `BatchGetQueryExecution` return), free of the SDK's types.

use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum QueryState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    Unknown,
}

impl QueryState {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            QueryState::Succeeded | QueryState::Failed | QueryState::Cancelled
        )
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "QUEUED" => QueryState::Queued,
            "RUNNING" => QueryState::Running,
            "SUCCEEDED" => QueryState::Succeeded,
            "FAILED" => QueryState::Failed,
            "CANCELLED" => QueryState::Cancelled,
            _ => QueryState::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            QueryState::Queued => "QUEUED",
            QueryState::Running => "RUNNING",
            QueryState::Succeeded => "SUCCEEDED",
            QueryState::Failed => "FAILED",
            QueryState::Cancelled => "CANCELLED",
            QueryState::Unknown => "UNKNOWN",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StatementType {
    Dml,
    Ddl,
    Utility,
    Unknown,
}

impl StatementType {
    pub fn parse(s: &str) -> Self {
        match s {
            "DML" => StatementType::Dml,
            "DDL" => StatementType::Ddl,
            "UTILITY" => StatementType::Utility,
            _ => StatementType::Unknown,
        }
    }
}

/// One Athena query, as lakeops needs it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryExecution {
    pub id: String,
    pub workgroup: String,
    pub sql: String,
    pub statement_type: StatementType,
    pub state: QueryState,
    pub state_change_reason: Option<String>,
    pub error_category: Option<i32>,
    pub error_type: Option<i32>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub data_scanned_bytes: Option<u64>,
    pub engine_ms: Option<i64>,
    pub queue_ms: Option<i64>,
    pub total_ms: Option<i64>,
    /// Present for queries run on a capacity reservation (billed per DPU, not per byte).
    pub dpu_count: Option<f64>,
    pub database: Option<String>,
    pub catalog: Option<String>,
}

impl QueryExecution {
    /// A SUCCEEDED DML query with nothing else known: a base for tests and synthetic records.
    pub fn example(id: &str) -> Self {
        Self {
            id: id.to_string(),
            workgroup: "primary".to_string(),
            sql: String::new(),
            statement_type: StatementType::Dml,
            state: QueryState::Succeeded,
            state_change_reason: None,
            error_category: None,
            error_type: None,
            submitted_at: None,
            completed_at: None,
            data_scanned_bytes: None,
            engine_ms: None,
            queue_ms: None,
            total_ms: None,
            dpu_count: None,
            database: None,
            catalog: None,
        }
    }

    /// How long it has been (or was) in flight: from submission to completion, or to `now`.
    pub fn age(&self, now: DateTime<Utc>) -> Option<chrono::Duration> {
        let start = self.submitted_at?;
        let end = if self.state.is_terminal() {
            self.completed_at.unwrap_or(now)
        } else {
            now
        };
        Some(end - start)
    }
}

/// What a query read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TablesRead {
    /// `database.table` (or `catalog.database.table`), sorted, each once; empty for a statement
    /// that reads no table (`SELECT 1`, DDL without a source).
    Tables(Vec<String>),
    /// The SQL could not be parsed.
    Unparsed,
}

impl TablesRead {
    /// The marker stored and shown for unparsed SQL.
    pub const UNPARSED: &'static str = "unparsed";

    pub fn tables(&self) -> &[String] {
        match self {
            TablesRead::Tables(t) => t,
            TablesRead::Unparsed => &[],
        }
    }
}
