//! Runs many Athena queries at once and collects their answers before a deadline.
//!
//! All jobs are started up to `concurrency` at a time (Athena's active-query quota is per
//! account; the rest wait for a slot), then polled together with one `BatchGetQueryExecution`
//! per round, backing off from 0.5 s to 5 s. A query still running at the deadline is stopped
//! and reported [`Outcome::Unfinished`] — never as a wrong answer; one that scans past its
//! byte cap is stopped and reported [`Outcome::OverCap`].

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use lakeops::athena::QueryHistory;
use lakeops::athena::{AthenaHistory, QueryExecution, QueryState};
use lakeops::LakeopsError;

const FIRST_POLL: Duration = Duration::from_millis(500);
const MAX_POLL: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct Job {
    /// The caller's handle for the answer.
    pub key: usize,
    pub sql: String,
    pub bytes_cap: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Succeeded {
        id: String,
        /// Data rows (header row removed), cells as text (`None` = SQL NULL).
        rows: Vec<Vec<Option<String>>>,
        scanned_bytes: u64,
        engine_ms: Option<i64>,
    },
    Failed {
        id: Option<String>,
        reason: String,
        scanned_bytes: u64,
    },
    Unfinished {
        id: Option<String>,
        scanned_bytes: u64,
    },
    OverCap {
        id: String,
        scanned_bytes: u64,
        cap: u64,
    },
}

impl Outcome {
    pub fn id(&self) -> Option<&str> {
        match self {
            Outcome::Succeeded { id, .. } | Outcome::OverCap { id, .. } => Some(id),
            Outcome::Failed { id, .. } | Outcome::Unfinished { id, .. } => id.as_deref(),
        }
    }

    pub fn scanned_bytes(&self) -> u64 {
        match self {
            Outcome::Succeeded { scanned_bytes, .. }
            | Outcome::Failed { scanned_bytes, .. }
            | Outcome::Unfinished { scanned_bytes, .. }
            | Outcome::OverCap { scanned_bytes, .. } => *scanned_bytes,
        }
    }
}

pub struct QueryRunner {
    pub history: AthenaHistory,
    pub workgroup: String,
    pub output_location: Option<String>,
    pub concurrency: usize,
}

struct Running {
    job: Job,
    id: String,
}

impl QueryRunner {
    fn client(&self) -> &aws_sdk_athena::Client {
        self.history.client()
    }

    /// Runs every job; the answers come back in no particular order, one per job.
    pub async fn run(&self, jobs: Vec<Job>, deadline: Instant) -> Vec<(usize, Outcome)> {
        let mut pending: VecDeque<Job> = jobs.into();
        let mut running: Vec<Running> = Vec::new();
        let mut done: Vec<(usize, Outcome)> = Vec::new();
        let mut poll = FIRST_POLL;
        loop {
            if Instant::now() >= deadline {
                self.stop_at_deadline(running, pending, &mut done).await;
                return done;
            }
            self.start_pending(&mut pending, &mut running, &mut done)
                .await;
            if running.is_empty() && pending.is_empty() {
                return done;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep(poll.min(left)).await;
            poll = (poll.mul_f32(1.5)).min(MAX_POLL);
            let ids: Vec<String> = running.iter().map(|r| r.id.clone()).collect();
            let states = match self.history.batch_get(&ids).await {
                Ok((found, _)) => found.executions,
                Err(e) => {
                    // Polling failed after the SDK's retries: try again next round.
                    tracing::warn!(error = %e, "polling Athena failed");
                    continue;
                }
            };
            let mut still = Vec::with_capacity(running.len());
            for r in running.drain(..) {
                match states.iter().find(|q| q.id == r.id) {
                    Some(q) => {
                        if let Some(r) = self.settle(r, q, &mut done).await {
                            still.push(r);
                        }
                    }
                    None => still.push(r),
                }
            }
            running = still;
        }
    }

    /// At the deadline: the running queries are stopped, and they and the jobs never started
    /// are unfinished.
    async fn stop_at_deadline(
        &self,
        running: Vec<Running>,
        pending: VecDeque<Job>,
        done: &mut Vec<(usize, Outcome)>,
    ) {
        for r in running {
            let scanned = self.stop(&r.id).await;
            done.push((
                r.job.key,
                Outcome::Unfinished {
                    id: Some(r.id),
                    scanned_bytes: scanned,
                },
            ));
        }
        for job in pending {
            done.push((
                job.key,
                Outcome::Unfinished {
                    id: None,
                    scanned_bytes: 0,
                },
            ));
        }
    }

    /// Starts pending jobs while there are free slots; a job Athena refuses is failed.
    async fn start_pending(
        &self,
        pending: &mut VecDeque<Job>,
        running: &mut Vec<Running>,
        done: &mut Vec<(usize, Outcome)>,
    ) {
        while running.len() < self.concurrency.max(1) {
            let Some(job) = pending.pop_front() else {
                break;
            };
            match self.start(&job.sql).await {
                Ok(id) => running.push(Running { job, id }),
                Err(e) => done.push((
                    job.key,
                    Outcome::Failed {
                        id: None,
                        reason: e.to_string(),
                        scanned_bytes: 0,
                    },
                )),
            }
        }
    }

    /// A running query's polled state: its answer when it ended (or is stopped over its byte
    /// cap), or the query back when it is still running.
    async fn settle(
        &self,
        r: Running,
        q: &QueryExecution,
        done: &mut Vec<(usize, Outcome)>,
    ) -> Option<Running> {
        let scanned = q.data_scanned_bytes.unwrap_or(0);
        let outcome = match q.state {
            QueryState::Succeeded => match self.rows(&r.id).await {
                Ok(rows) => Outcome::Succeeded {
                    id: r.id.clone(),
                    rows,
                    scanned_bytes: scanned,
                    engine_ms: q.engine_ms,
                },
                Err(e) => Outcome::Failed {
                    id: Some(r.id.clone()),
                    reason: e.to_string(),
                    scanned_bytes: scanned,
                },
            },
            QueryState::Failed | QueryState::Cancelled => Outcome::Failed {
                id: Some(r.id.clone()),
                reason: q
                    .state_change_reason
                    .clone()
                    .unwrap_or_else(|| format!("query ended {}", q.state.as_str())),
                scanned_bytes: scanned,
            },
            _ => match r.job.bytes_cap {
                Some(cap) if scanned > cap => {
                    let scanned = self.stop(&r.id).await.max(scanned);
                    Outcome::OverCap {
                        id: r.id.clone(),
                        scanned_bytes: scanned,
                        cap,
                    }
                }
                _ => return Some(r),
            },
        };
        done.push((r.job.key, outcome));
        None
    }

    async fn start(&self, sql: &str) -> Result<String, LakeopsError> {
        let mut req = self
            .client()
            .start_query_execution()
            .query_string(sql)
            .work_group(&self.workgroup);
        if let Some(loc) = &self.output_location {
            req = req.result_configuration(
                aws_sdk_athena::types::ResultConfiguration::builder()
                    .output_location(loc)
                    .build(),
            );
        }
        let out = req
            .send()
            .await
            .map_err(|e| LakeopsError::aws("athena:StartQueryExecution", e))?;
        out.query_execution_id()
            .map(str::to_string)
            .ok_or_else(|| LakeopsError::InvalidInput("Athena returned no query id".into()))
    }

    /// Stops a query; returns what it had scanned (0 if unknown).
    async fn stop(&self, id: &str) -> u64 {
        if let Err(e) = self
            .client()
            .stop_query_execution()
            .query_execution_id(id)
            .send()
            .await
        {
            tracing::error!(query = id, error = %LakeopsError::aws("athena:StopQueryExecution", e), "could not stop a query");
        }
        match self.history.batch_get(&[id.to_string()]).await {
            Ok((found, _)) => found
                .executions
                .first()
                .and_then(|q| q.data_scanned_bytes)
                .unwrap_or(0),
            Err(_) => 0,
        }
    }

    /// Every row of a finished query's results, page by page (Athena returns at most 1,000 rows
    /// a page; a grouped count over many segments or days takes several). The header row, first
    /// on the first page of a SELECT's results, is left out. More than [`MAX_RESULT_ROWS`] rows
    /// is an error naming the query: no check groups that finely, and a partial answer would
    /// read as missing rows.
    async fn rows(&self, id: &str) -> Result<Vec<Vec<Option<String>>>, LakeopsError> {
        let mut pages = self
            .client()
            .get_query_results()
            .query_execution_id(id)
            .max_results(RESULT_PAGE_ROWS)
            .into_paginator()
            .send();
        let mut rows = Vec::new();
        let mut header = true;
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| LakeopsError::aws("athena:GetQueryResults", e))?;
            let page_rows = page.result_set().map(|rs| rs.rows()).unwrap_or_default();
            for row in page_rows
                .iter()
                .skip(usize::from(std::mem::take(&mut header)))
            {
                rows.push(
                    row.data()
                        .iter()
                        .map(|d| d.var_char_value().map(str::to_string))
                        .collect(),
                );
            }
            if rows.len() > MAX_RESULT_ROWS {
                return Err(LakeopsError::InvalidInput(format!(
                    "query {id} returned more than {MAX_RESULT_ROWS} rows: group by fewer segments or days"
                )));
            }
        }
        Ok(rows)
    }
}

/// `GetQueryResults` returns at most 1,000 rows a page.
const RESULT_PAGE_ROWS: i32 = 1000;
/// The most result rows a check reads (segments × days of a grouped count).
pub const MAX_RESULT_ROWS: usize = 100_000;

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_athena::operation::batch_get_query_execution::BatchGetQueryExecutionOutput;
    use aws_sdk_athena::operation::get_query_results::GetQueryResultsOutput;
    use aws_sdk_athena::operation::start_query_execution::StartQueryExecutionOutput;
    use aws_sdk_athena::operation::stop_query_execution::StopQueryExecutionOutput;
    use aws_sdk_athena::types::{
        Datum, QueryExecution, QueryExecutionState, QueryExecutionStatistics, QueryExecutionStatus,
        ResultSet, Row,
    };
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn exec(id: &str, state: QueryExecutionState, scanned: i64) -> QueryExecution {
        QueryExecution::builder()
            .query_execution_id(id)
            .work_group("primary")
            .query("SELECT count(*) FROM t")
            .status(QueryExecutionStatus::builder().state(state).build())
            .statistics(
                QueryExecutionStatistics::builder()
                    .data_scanned_in_bytes(scanned)
                    .build(),
            )
            .build()
    }

    #[tokio::test(start_paused = true)]
    async fn bounded_concurrency_answers_and_a_deadline_that_stops_the_rest() {
        // q0 and q1 succeed; q2 stays running until stopped; q3 scans past its cap.
        let started = Arc::new(AtomicUsize::new(0));
        let counter = started.clone();
        let start =
            mock!(aws_sdk_athena::Client::start_query_execution).then_compute_output(move |_| {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                StartQueryExecutionOutput::builder()
                    .query_execution_id(format!("q{n}"))
                    .build()
            });
        let batch =
            mock!(aws_sdk_athena::Client::batch_get_query_execution).then_compute_output(|req| {
                let execs = req
                    .query_execution_ids()
                    .iter()
                    .map(|id| match id.as_str() {
                        "q0" | "q1" => exec(id, QueryExecutionState::Succeeded, 10),
                        "q3" => exec(id, QueryExecutionState::Running, 5_000),
                        _ => exec(id, QueryExecutionState::Running, 1),
                    })
                    .collect();
                BatchGetQueryExecutionOutput::builder()
                    .set_query_executions(Some(execs))
                    .build()
            });
        let results = mock!(aws_sdk_athena::Client::get_query_results).then_output(|| {
            GetQueryResultsOutput::builder()
                .result_set(
                    ResultSet::builder()
                        .rows(
                            Row::builder()
                                .data(Datum::builder().var_char_value("_col0").build())
                                .build(),
                        )
                        .rows(
                            Row::builder()
                                .data(Datum::builder().var_char_value("42").build())
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
        let stop = mock!(aws_sdk_athena::Client::stop_query_execution)
            .then_output(|| StopQueryExecutionOutput::builder().build());
        let client = mock_client!(
            aws_sdk_athena,
            RuleMode::MatchAny,
            &[&start, &batch, &results, &stop]
        );
        let runner = QueryRunner {
            history: AthenaHistory::new(client, 1000.0),
            workgroup: "primary".into(),
            output_location: None,
            concurrency: 2,
        };
        let jobs = (0..4)
            .map(|key| Job {
                key,
                sql: format!("SELECT count(*) FROM t{key}"),
                bytes_cap: (key == 3).then_some(1_000),
            })
            .collect();
        let mut out = runner
            .run(jobs, Instant::now() + Duration::from_secs(30))
            .await;
        out.sort_by_key(|(k, _)| *k);
        assert!(
            matches!(&out[0].1, Outcome::Succeeded { rows, .. } if rows == &vec![vec![Some("42".to_string())]])
        );
        assert!(matches!(out[1].1, Outcome::Succeeded { .. }));
        assert!(
            matches!(out[2].1, Outcome::Unfinished { id: Some(_), .. }),
            "{:?}",
            out[2]
        );
        assert!(
            matches!(out[3].1, Outcome::OverCap { cap: 1_000, .. }),
            "{:?}",
            out[3]
        );
        assert_eq!(start.num_calls(), 4);
        assert_eq!(
            stop.num_calls(),
            2,
            "the over-cap query and the unfinished one"
        );
    }

    fn row(value: &str) -> Row {
        Row::builder()
            .data(Datum::builder().var_char_value(value).build())
            .build()
    }

    /// Athena pages results at 1,000 rows; the header is the first row of the first page only.
    #[tokio::test]
    async fn results_are_read_page_by_page_without_the_header() {
        let first = mock!(aws_sdk_athena::Client::get_query_results)
            .match_requests(|r| r.next_token().is_none() && r.max_results() == Some(1000))
            .then_output(|| {
                let mut rs = ResultSet::builder().rows(row("segment"));
                for i in 0..999 {
                    rs = rs.rows(row(&format!("s{i}")));
                }
                GetQueryResultsOutput::builder()
                    .result_set(rs.build())
                    .next_token("page-2")
                    .build()
            });
        let second = mock!(aws_sdk_athena::Client::get_query_results)
            .match_requests(|r| r.next_token() == Some("page-2"))
            .then_output(|| {
                GetQueryResultsOutput::builder()
                    .result_set(
                        ResultSet::builder()
                            .rows(row("s999"))
                            .rows(row("s1000"))
                            .build(),
                    )
                    .build()
            });
        let client = mock_client!(aws_sdk_athena, RuleMode::MatchAny, &[&first, &second]);
        let runner = QueryRunner {
            history: AthenaHistory::new(client, 1000.0),
            workgroup: "primary".into(),
            output_location: None,
            concurrency: 1,
        };
        let rows = runner.rows("q").await.unwrap();
        assert_eq!(rows.len(), 1001);
        assert_eq!(rows[0], vec![Some("s0".to_string())]);
        assert_eq!(rows[1000], vec![Some("s1000".to_string())]);
        assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    }
}
