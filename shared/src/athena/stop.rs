//! Stopping a query through the Athena API: `StopQueryExecution`, then reads until Athena's
//! asynchronous cancel shows (the [`QueryControl`] port's Athena adapter; the killer's stops).

use std::time::Duration as StdDuration;

use super::{AthenaHistory, QueryExecution, QueryState};
use crate::error::LakeopsError;
use lakeops_core::history::QueryControl;

/// Reads confirming a stop: at once, then after 0.2 s, 0.4 s and 0.8 s (no wait after the last).
const CONFIRM_ATTEMPTS: u32 = 4;

/// Stops a query, then re-reads it until it has left QUEUED/RUNNING (or the attempts run out);
/// returns the query as last read. Stopping a query that already ended is harmless.
pub async fn stop_query(
    client: &aws_sdk_athena::Client,
    id: &str,
) -> Result<QueryExecution, LakeopsError> {
    client
        .stop_query_execution()
        .query_execution_id(id)
        .send()
        .await
        .map_err(|e| LakeopsError::aws("athena:StopQueryExecution", e))?;
    let mut last = None;
    for attempt in 0..CONFIRM_ATTEMPTS {
        let out = client
            .get_query_execution()
            .query_execution_id(id)
            .send()
            .await
            .map_err(|e| LakeopsError::aws("athena:GetQueryExecution", e))?;
        let q = out.query_execution().map(super::execution_of);
        if let Some(q) = &q {
            if !matches!(q.state, QueryState::Queued | QueryState::Running) {
                return Ok(q.clone());
            }
        }
        last = q;
        if attempt + 1 < CONFIRM_ATTEMPTS {
            tokio::time::sleep(StdDuration::from_millis(200 << attempt)).await;
        }
    }
    last.ok_or_else(|| {
        LakeopsError::aws(
            "athena:GetQueryExecution",
            std::io::Error::other("no query in the answer"),
        )
    })
}

/// The port, kept by the Athena API.
impl QueryControl for AthenaHistory {
    async fn stop_and_confirm(&self, id: &str) -> Result<QueryExecution, LakeopsError> {
        stop_query(self.client(), id).await
    }

    async fn read_query(&self, id: &str) -> Result<Option<QueryExecution>, LakeopsError> {
        let out = self
            .client()
            .get_query_execution()
            .query_execution_id(id)
            .send()
            .await
            .map_err(|e| LakeopsError::aws("athena:GetQueryExecution", e))?;
        Ok(out.query_execution().map(super::execution_of))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_athena::operation::get_query_execution::GetQueryExecutionOutput;
    use aws_sdk_athena::operation::stop_query_execution::{
        StopQueryExecutionError, StopQueryExecutionOutput,
    };
    use aws_sdk_athena::types::{
        QueryExecution as SdkQuery, QueryExecutionState, QueryExecutionStatus,
    };
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    fn sdk_query(state: QueryExecutionState) -> SdkQuery {
        SdkQuery::builder()
            .query_execution_id("q-1")
            .status(QueryExecutionStatus::builder().state(state).build())
            .build()
    }

    #[tokio::test]
    async fn a_stop_is_confirmed_by_re_reading_the_query() {
        let stop = mock!(aws_sdk_athena::Client::stop_query_execution)
            .then_output(|| StopQueryExecutionOutput::builder().build());
        let read = mock!(aws_sdk_athena::Client::get_query_execution)
            .sequence()
            .output(|| {
                GetQueryExecutionOutput::builder()
                    .query_execution(sdk_query(QueryExecutionState::Running))
                    .build()
            })
            .output(|| {
                GetQueryExecutionOutput::builder()
                    .query_execution(sdk_query(QueryExecutionState::Cancelled))
                    .build()
            })
            .build();
        let client = mock_client!(aws_sdk_athena, RuleMode::MatchAny, &[&stop, &read]);
        let after = stop_query(&client, "q-1").await.unwrap();
        assert_eq!(after.state, QueryState::Cancelled);
        assert_eq!(read.num_calls(), 2);
    }

    #[tokio::test]
    async fn a_stop_that_fails_is_an_error_and_nothing_is_reported_stopped() {
        let stop = mock!(aws_sdk_athena::Client::stop_query_execution)
            .then_error(|| StopQueryExecutionError::unhandled("AccessDenied"));
        let client = mock_client!(aws_sdk_athena, RuleMode::MatchAny, &[&stop]);
        let err = stop_query(&client, "q-1").await.unwrap_err();
        assert_eq!(err.error_type(), "Retryable.AwsCall");
        assert!(
            err.to_string().contains("athena:StopQueryExecution"),
            "{err}"
        );
    }
}
