//! Athena query history through the SDK: the SDK's record read into the core's
//! `QueryExecution`, workgroup listing, one `ListQueryExecutions` page at a time, and
//! `BatchGetQueryExecution` in chunks of 50 with unprocessed ids asked again — paced by the
//! suite's shared call budget. `ListQueryExecutions` returns ids only, at most 50 a page, one
//! workgroup per call, in an order AWS does not document: its callers (reconciliation) stop
//! paging at a checkpoint or by the submission times they read, never by page count.

use std::time::Duration;

use aws_sdk_athena::types::{QueryExecutionState, WorkGroupState};
use chrono::{DateTime, Utc};

pub use crate::api_budget::Pacer;
use crate::error::LakeopsError;

use lakeops_core::history::{BATCH_GET_MAX_IDS, LIST_PAGE_SIZE};
/// Extra rounds for `UnprocessedQueryExecutionIds` (beyond the first call).
const UNPROCESSED_RETRIES: u32 = 3;

pub use lakeops_core::history::{BatchGetResult, QueryControl, QueryHistory, Unprocessed};
pub use stop::stop_query;

mod stop;
pub use lakeops_core::query::{QueryExecution, QueryState, StatementType};

/// The state of an SDK query status.
pub fn state_of(s: &QueryExecutionState) -> QueryState {
    QueryState::parse(s.as_str())
}

fn to_chrono(t: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

/// The domain record of an SDK query execution.
pub fn execution_of(q: &aws_sdk_athena::types::QueryExecution) -> QueryExecution {
    let status = q.status();
    let stats = q.statistics();
    let context = q.query_execution_context();
    let error = status.and_then(|s| s.athena_error());
    QueryExecution {
        id: q.query_execution_id().unwrap_or_default().to_string(),
        workgroup: q.work_group().unwrap_or("primary").to_string(),
        sql: q.query().unwrap_or_default().to_string(),
        statement_type: q
            .statement_type()
            .map(|s| StatementType::parse(s.as_str()))
            .unwrap_or(StatementType::Unknown),
        state: status
            .and_then(|s| s.state())
            .map(state_of)
            .unwrap_or(QueryState::Unknown),
        // Athena quotes data values in failure reasons: masked before anything stores or shows it.
        state_change_reason: status
            .and_then(|s| s.state_change_reason())
            .map(crate::sql::mask_reason),
        error_category: error.and_then(|e| e.error_category()),
        error_type: error.and_then(|e| e.error_type()),
        submitted_at: status
            .and_then(|s| s.submission_date_time())
            .and_then(to_chrono),
        completed_at: status
            .and_then(|s| s.completion_date_time())
            .and_then(to_chrono),
        data_scanned_bytes: stats
            .and_then(|s| s.data_scanned_in_bytes())
            .map(|b| b.max(0) as u64),
        engine_ms: stats.and_then(|s| s.engine_execution_time_in_millis()),
        queue_ms: stats.and_then(|s| s.query_queue_time_in_millis()),
        total_ms: stats.and_then(|s| s.total_execution_time_in_millis()),
        dpu_count: stats.and_then(|s| s.dpu_count()),
        database: context.and_then(|c| c.database()).map(str::to_string),
        catalog: context.and_then(|c| c.catalog()).map(str::to_string),
    }
}

/// Reads Athena's query history through the SDK.
#[derive(Debug)]
pub struct AthenaHistory {
    client: aws_sdk_athena::Client,
    list_pacer: Pacer,
    /// The suite's shared budget for List and BatchGet calls, when set (the functions always set
    /// it; without it List calls are paced per instance and BatchGet is not).
    budget: Option<crate::api_budget::ApiBudget>,
}

impl AthenaHistory {
    /// `list_calls_per_second`: how fast to page `ListQueryExecutions` (AWS's default quota is 5).
    pub fn new(client: aws_sdk_athena::Client, list_calls_per_second: f64) -> Self {
        Self {
            client,
            list_pacer: Pacer::new(list_calls_per_second, 5),
            budget: None,
        }
    }

    /// Paces every List and BatchGet call by the suite's shared budget instead.
    pub fn with_budget(mut self, budget: crate::api_budget::ApiBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    pub fn client(&self) -> &aws_sdk_athena::Client {
        &self.client
    }
}

/// The port, kept by the Athena API.
impl QueryHistory for AthenaHistory {
    type Error = LakeopsError;

    /// Names of the account's workgroups (only ENABLED ones when `enabled_only`).
    async fn workgroups(&self, enabled_only: bool) -> Result<Vec<String>, LakeopsError> {
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .list_work_groups()
                .set_next_token(token.clone())
                .max_results(50)
                .send()
                .await
                .map_err(|e| LakeopsError::aws("athena:ListWorkGroups", e))?;
            for wg in out.work_groups() {
                let enabled = wg.state().is_none_or(|s| *s == WorkGroupState::Enabled);
                if let Some(name) = wg.name() {
                    if enabled || !enabled_only {
                        names.push(name.to_string());
                    }
                }
            }
            match out.next_token() {
                Some(t) if !t.is_empty() && Some(t) != token.as_deref() => {
                    token = Some(t.to_string())
                }
                _ => break,
            }
        }
        names.sort();
        Ok(names)
    }

    /// Details of `ids`, 50 per call; unprocessed ids are asked for again (with a short backoff)
    /// up to 3 more times, and what still fails is returned in `unprocessed`.
    async fn batch_get(&self, ids: &[String]) -> Result<(BatchGetResult, u32), LakeopsError> {
        let mut result = BatchGetResult::default();
        let mut calls = 0;
        for chunk in ids.chunks(BATCH_GET_MAX_IDS) {
            let mut pending: Vec<String> = chunk.to_vec();
            let mut round = 0;
            loop {
                calls += 1;
                if let Some(budget) = &self.budget {
                    budget.wait_for_athena_call_turn().await;
                }
                let out = self
                    .client
                    .batch_get_query_execution()
                    .set_query_execution_ids(Some(pending.clone()))
                    .send()
                    .await
                    .map_err(|e| LakeopsError::aws("athena:BatchGetQueryExecution", e))?;
                result
                    .executions
                    .extend(out.query_executions().iter().map(execution_of));
                let unprocessed: Vec<Unprocessed> = out
                    .unprocessed_query_execution_ids()
                    .iter()
                    .filter_map(|u| {
                        Some(Unprocessed {
                            id: u.query_execution_id()?.to_string(),
                            code: u.error_code().unwrap_or_default().to_string(),
                            message: u.error_message().unwrap_or_default().to_string(),
                        })
                    })
                    .collect();
                if unprocessed.is_empty() {
                    break;
                }
                if round == UNPROCESSED_RETRIES {
                    tracing::warn!(
                        count = unprocessed.len(),
                        "query ids still unprocessed after retries"
                    );
                    result.unprocessed.extend(unprocessed);
                    break;
                }
                round += 1;
                tokio::time::sleep(Duration::from_millis(100 * 2u64.pow(round))).await;
                pending = unprocessed.into_iter().map(|u| u.id).collect();
            }
        }
        Ok((result, calls))
    }

    /// One page of `workgroup`'s query ids (newest first, in practice) and the token of the
    /// next page; paced like every List call.
    async fn list_query_page(
        &self,
        workgroup: &str,
        token: Option<String>,
    ) -> Result<(Vec<String>, Option<String>), LakeopsError> {
        match &self.budget {
            Some(budget) => budget.wait_for_athena_call_turn().await,
            None => self.list_pacer.wait().await,
        }
        let page = self
            .client
            .list_query_executions()
            .work_group(workgroup)
            .max_results(LIST_PAGE_SIZE as i32)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| LakeopsError::aws("athena:ListQueryExecutions", e))?;
        let next = page
            .next_token()
            .filter(|t| !t.is_empty() && Some(*t) != token.as_deref())
            .map(str::to_string);
        Ok((page.query_execution_ids().to_vec(), next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_athena::operation::batch_get_query_execution::BatchGetQueryExecutionOutput;
    use aws_sdk_athena::operation::list_query_executions::{
        ListQueryExecutionsError, ListQueryExecutionsOutput,
    };
    use aws_sdk_athena::types::{
        QueryExecution as SdkQuery, QueryExecutionStatistics, QueryExecutionStatus,
        UnprocessedQueryExecutionId,
    };
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use chrono::TimeZone;

    fn t(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap() + chrono::Duration::minutes(minute)
    }

    /// Query `n` was submitted `n` minutes before 12:00.
    fn sdk_query(id: &str) -> SdkQuery {
        let n: i64 = id.trim_start_matches('q').parse().unwrap();
        SdkQuery::builder()
            .query_execution_id(id)
            .work_group("etl")
            .query("SELECT 1")
            .status(
                QueryExecutionStatus::builder()
                    .state(QueryExecutionState::Succeeded)
                    .submission_date_time(aws_smithy_types::DateTime::from_secs(t(-n).timestamp()))
                    .build(),
            )
            .statistics(
                QueryExecutionStatistics::builder()
                    .data_scanned_in_bytes(n * 1000)
                    .build(),
            )
            .build()
    }

    fn ids(range: std::ops::Range<i64>) -> Vec<String> {
        range.map(|n| format!("q{n}")).collect()
    }

    fn batch_rule() -> aws_smithy_mocks::Rule {
        mock!(aws_sdk_athena::Client::batch_get_query_execution).then_compute_output(|req| {
            BatchGetQueryExecutionOutput::builder()
                .set_query_executions(Some(
                    req.query_execution_ids()
                        .iter()
                        .map(|id| sdk_query(id))
                        .collect(),
                ))
                .build()
        })
    }

    #[tokio::test]
    async fn batch_get_chunks_by_50_and_retries_unprocessed_ids() {
        let first_round = mock!(aws_sdk_athena::Client::batch_get_query_execution)
            .match_requests(|r| r.query_execution_ids().len() == 50)
            .then_compute_output(|req| {
                let ids = req.query_execution_ids();
                // The last two of each chunk are unprocessed the first time.
                BatchGetQueryExecutionOutput::builder()
                    .set_query_executions(Some(ids[..48].iter().map(|id| sdk_query(id)).collect()))
                    .set_unprocessed_query_execution_ids(Some(
                        ids[48..]
                            .iter()
                            .map(|id| {
                                UnprocessedQueryExecutionId::builder()
                                    .query_execution_id(id)
                                    .error_code("ThrottlingException")
                                    .build()
                            })
                            .collect(),
                    ))
                    .build()
            });
        let retry_round = batch_rule();
        let client = mock_client!(
            aws_sdk_athena,
            RuleMode::MatchAny,
            &[&first_round, &retry_round]
        );
        let history = AthenaHistory::new(client, 1000.0);
        let (result, calls) = history.batch_get(&ids(0..100)).await.unwrap();
        assert_eq!(result.executions.len(), 100);
        assert!(result.unprocessed.is_empty());
        assert_eq!(
            calls, 4,
            "2 chunks, each retried once for its 2 unprocessed ids"
        );
        assert_eq!(first_round.num_calls(), 2);
    }

    #[tokio::test]
    async fn ids_that_stay_unprocessed_are_reported_not_lost() {
        let always =
            mock!(aws_sdk_athena::Client::batch_get_query_execution).then_compute_output(|req| {
                BatchGetQueryExecutionOutput::builder()
                    .set_unprocessed_query_execution_ids(Some(
                        req.query_execution_ids()
                            .iter()
                            .map(|id| {
                                UnprocessedQueryExecutionId::builder()
                                    .query_execution_id(id)
                                    .error_code("INVALID_INPUT")
                                    .error_message("gone")
                                    .build()
                            })
                            .collect(),
                    ))
                    .build()
            });
        let client = mock_client!(aws_sdk_athena, RuleMode::MatchAny, &[&always]);
        let (result, calls) = AthenaHistory::new(client, 1000.0)
            .batch_get(&ids(0..3))
            .await
            .unwrap();
        assert_eq!(calls, 1 + UNPROCESSED_RETRIES);
        assert_eq!(result.unprocessed.len(), 3);
        assert_eq!(result.unprocessed[0].code, "INVALID_INPUT");
    }

    #[tokio::test]
    async fn throttling_is_retried_by_the_sdk() {
        let throttled = mock!(aws_sdk_athena::Client::list_query_executions)
            .sequence()
            .http_status(
                400,
                Some(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.into()),
            )
            .times(2)
            .output(|| {
                ListQueryExecutionsOutput::builder()
                    .set_query_execution_ids(Some(vec![]))
                    .build()
            })
            .build();
        let client = mock_client!(aws_sdk_athena, RuleMode::Sequential, &[&throttled], |c| c
            .retry_config(
                aws_sdk_athena::config::retry::RetryConfig::standard().with_max_attempts(3)
            )
            .sleep_impl(aws_smithy_async::rt::sleep::SharedAsyncSleep::new(
                aws_smithy_async::rt::sleep::TokioSleep::new()
            )));
        let found = AthenaHistory::new(client, 1000.0)
            .list_query_page("etl", None)
            .await
            .unwrap();
        assert!(found.0.is_empty());
        assert_eq!(throttled.num_calls(), 3);
    }

    #[tokio::test]
    async fn throttling_beyond_the_retries_is_a_retryable_error() {
        let throttled = mock!(aws_sdk_athena::Client::list_query_executions)
            .then_error(|| ListQueryExecutionsError::unhandled("Rate exceeded"));
        let client = mock_client!(aws_sdk_athena, RuleMode::MatchAny, &[&throttled]);
        let err = AthenaHistory::new(client, 1000.0)
            .list_query_page("etl", None)
            .await
            .unwrap_err();
        assert_eq!(err.error_type(), "Retryable.AwsCall");
        assert!(
            err.to_string().contains("athena:ListQueryExecutions"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn pacer_spaces_calls_beyond_the_burst() {
        tokio::time::pause();
        let pacer = Pacer::new(5.0, 2);
        let start = tokio::time::Instant::now();
        for _ in 0..4 {
            pacer.wait().await;
        }
        // 2 from the burst, then 2 more at 200 ms each.
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(390) && waited < Duration::from_millis(600),
            "{waited:?}"
        );
    }

    #[test]
    fn converts_sdk_queries() {
        let q = execution_of(&sdk_query("q5"));
        assert_eq!(q.state, QueryState::Succeeded);
        assert_eq!(q.data_scanned_bytes, Some(5000));
        assert_eq!(q.submitted_at, Some(t(-5)));
        assert_eq!(q.age(t(0)), None.or(Some(chrono::Duration::minutes(5))));
    }
}
