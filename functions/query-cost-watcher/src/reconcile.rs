//! Reconciliation: the safety net under the event feed, costing what is new, not what is old.
//!
//! EventBridge delivers state-change events on a best-effort basis. Each scheduled run, per
//! workgroup, pages `ListQueryExecutions` from the newest query back only until it reaches the id
//! the previous finished pass started from (its checkpoint, kept in the index table), or history
//! older than `MAX_QUERY_MINUTES`. Ids the index does not know (their events were dropped) are
//! read from Athena — one `BatchGetQueryExecution` per page of 50, and only for the unknown ids —
//! and indexed: finished ones settled (priced, alerted if expensive), in-flight ones added to the
//! in-flight index. A pass that runs out of time saves its `NextToken` and goes on from there next
//! run. Then in-flight items whose state has not changed for `RECONCILE_STALE_MINUTES` (a lost
//! terminal event) are read again.
//!
//! Nothing is lost to a failing run: the checkpoint moves only when a pass finished, and a query
//! is recorded as priced only after its alert was sent, so a run that fails anywhere is redone by
//! the next one from the same checkpoint (the alert ledger keeps the alerts single).

use chrono::{DateTime, Utc};
use lakeops::alert::AlertSink;
use lakeops::ledger::Ledger;
use lakeops::query_index::Checkpoint;
use lakeops::LakeopsError;
use serde::Serialize;
use tokio::time::Instant;

use crate::{Deps, RunSummary};

/// What reconciliation did in one run.
#[derive(Debug, Default, Serialize)]
pub struct ReconcileReport {
    pub list_calls: u32,
    /// Queries the index did not know, now indexed.
    pub indexed: Vec<String>,
    /// In-flight items read again because they had not changed for a while.
    pub reread: usize,
    /// Workgroups whose pass ran out of time (resumed next run).
    pub unfinished: Vec<String>,
}

impl<A: AlertSink, L: Ledger> Deps<A, L> {
    /// Reconciles `workgroups`, stopping by `until`; errors are collected in `summary.failures`.
    /// `run_time` (the scheduled event's time) sets the first pass's horizon.
    pub async fn reconcile(
        &self,
        workgroups: &[String],
        run_time: DateTime<Utc>,
        now: DateTime<Utc>,
        until: Instant,
        summary: &mut RunSummary,
    ) -> ReconcileReport {
        let mut report = ReconcileReport::default();
        for wg in workgroups {
            if let Err(e) = self
                .reconcile_workgroup(wg, run_time, now, until, summary, &mut report)
                .await
            {
                summary.failures.push(format!("reconciling {wg}: {e}"));
            }
        }
        if let Err(e) = self.reread_stale(now, summary, &mut report).await {
            summary
                .failures
                .push(format!("re-reading stale in-flight queries: {e}"));
        }
        report
    }

    async fn reconcile_workgroup(
        &self,
        wg: &str,
        run_time: DateTime<Utc>,
        now: DateTime<Utc>,
        until: Instant,
        summary: &mut RunSummary,
        report: &mut ReconcileReport,
    ) -> Result<(), LakeopsError> {
        let horizon = run_time.min(now) - self.config.max_query;
        let saved = self.index.checkpoint(wg).await?;
        let resuming = saved.resume_token.is_some();
        let mut token = saved.resume_token.clone();
        let mut newest = if resuming {
            saved.resume_newest.clone()
        } else {
            None
        };
        loop {
            if Instant::now() >= until {
                report.unfinished.push(wg.to_string());
                let resume = Checkpoint {
                    stop_at: saved.stop_at.clone(),
                    resume_token: token.clone(),
                    resume_newest: newest.clone(),
                };
                return self.index.save_checkpoint(wg, &resume, now).await;
            }
            let page = self.history.list_query_page(wg, token.clone()).await;
            report.list_calls += 1;
            summary.list_calls += 1;
            let (ids, next) = match page {
                Ok(p) => p,
                Err(e) if resuming => {
                    // A token that no longer works: the next pass starts from the top again.
                    let restart = Checkpoint {
                        stop_at: saved.stop_at.clone(),
                        ..Checkpoint::default()
                    };
                    self.index.save_checkpoint(wg, &restart, now).await?;
                    return Err(e);
                }
                Err(e) => return Err(e),
            };
            if newest.is_none() {
                newest = ids.first().cloned();
            }
            let reached_checkpoint = saved.stop_at.as_ref().is_some_and(|s| ids.contains(s));
            let known = self.index.known(&ids).await?;
            let mut all_older = !ids.is_empty()
                && known
                    .values()
                    .all(|changed| changed.is_some_and(|t| t < horizon));
            let unknown: Vec<String> = ids
                .iter()
                .filter(|id| !known.contains_key(*id))
                .cloned()
                .collect();
            if !unknown.is_empty() {
                let (found, calls) = self.history.batch_get(&unknown).await?;
                summary.batch_get_calls += calls;
                if let Some(u) = found.unprocessed.first() {
                    return Err(LakeopsError::aws(
                        "athena:BatchGetQueryExecution",
                        std::io::Error::other(format!(
                            "{} ids unprocessed ({}: {})",
                            found.unprocessed.len(),
                            u.code,
                            u.message
                        )),
                    ));
                }
                let callers = self.index.callers(&unknown).await?;
                for q in &found.executions {
                    all_older &= q.submitted_at.is_some_and(|t| t < horizon);
                    if q.state.is_terminal() {
                        // Its events were lost: not held for attribution either.
                        self.settle(q, callers.get(&q.id), false, now, summary)
                            .await?;
                    } else {
                        self.index.record_in_flight(q, now).await?;
                    }
                    report.indexed.push(q.id.clone());
                }
            }
            if reached_checkpoint || all_older || next.is_none() {
                let done = Checkpoint {
                    stop_at: newest.or(saved.stop_at),
                    ..Checkpoint::default()
                };
                return self.index.save_checkpoint(wg, &done, now).await;
            }
            token = next;
        }
    }

    /// In-flight items unchanged for `RECONCILE_STALE_MINUTES` and not re-read for as long.
    async fn reread_stale(
        &self,
        now: DateTime<Utc>,
        summary: &mut RunSummary,
        report: &mut ReconcileReport,
    ) -> Result<(), LakeopsError> {
        let cutoff = now - self.config.stale_after;
        let stale: Vec<String> = self
            .index
            .in_flight()
            .await?
            .into_iter()
            .filter(|q| q.since < cutoff && q.checked_at.is_none_or(|c| c < cutoff))
            .filter(|q| {
                self.config.workgroups.is_empty() || self.config.workgroups.contains(&q.workgroup)
            })
            .map(|q| q.query_id)
            .collect();
        report.reread = stale.len();
        let problems = self
            .settle_ids(&stale, now, false, &Default::default(), summary)
            .await;
        if let Some((id, why)) = problems.iter().next() {
            return Err(LakeopsError::InvalidInput(format!(
                "{} stale queries not settled, e.g. {id}: {why}",
                problems.len()
            )));
        }
        Ok(())
    }
}
