//! Reconciliation: the safety net under the event feed, costing what is new, not what is old.
//!
//! EventBridge delivers state-change events on a best-effort basis. Each scheduled run, per
//! workgroup (in a round that goes on where the last run ran out of time), pages `ListQueryExecutions` from the newest query back only until it reaches the id
//! the previous finished pass started from (its checkpoint, kept in the index table), or history
//! older than `MAX_QUERY_MINUTES`. Ids the index does not know (their events were dropped) are
//! read from Athena — one `BatchGetQueryExecution` per page of 50, and only for the unknown ids —
//! and indexed: finished ones settled (priced, alerted if expensive), in-flight ones added to the
//! in-flight index. A pass that runs out of time saves its `NextToken` and goes on from there next
//! run. Then unsettled items whose state has not changed for `RECONCILE_STALE_MINUTES` are read
//! again: in-flight ones whose terminal event was lost, and ended ones whose pricing or alert
//! failed on every delivery of their event (settled now, alerted if expensive).
//!
//! Nothing is lost to a failing run: the checkpoint moves only when a pass finished, and a query
//! is recorded as priced only after its alert was sent, so a run that fails anywhere is redone by
//! the next one from the same checkpoint (the alert ledger keeps the alerts single).

use chrono::{DateTime, Utc};
use lakeops::alert::AlertSink;
use lakeops::athena::QueryHistory;
use lakeops::ledger::Ledger;
use lakeops::query_index::{Checkpoint, IndexStore};
use lakeops::LakeopsError;
use lakeops_core::cost_hints::TableCatalog;
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

impl<A: AlertSink, L: Ledger, I: IndexStore, H: QueryHistory, S: Sync, C: TableCatalog>
    Deps<A, L, I, H, S, C>
where
    LakeopsError: From<I::Error> + From<H::Error>,
{
    /// Reconciles `workgroups`, stopping by `until`; errors are collected in `summary.failures`.
    /// `run_time` (the scheduled event's time) sets the first pass's horizon. The workgroups are
    /// taken in a round that goes on where the last run stopped ([`round_order`]), so when time
    /// runs out it is never the same workgroups that wait.
    pub async fn reconcile(
        &self,
        workgroups: &[String],
        run_time: DateTime<Utc>,
        now: DateTime<Utc>,
        until: Instant,
        summary: &mut RunSummary,
    ) -> ReconcileReport {
        let mut report = ReconcileReport::default();
        let start = self.index.rotation().await.unwrap_or_else(|e| {
            summary
                .failures
                .push(format!("reading the reconciliation round: {e}"));
            None
        });
        let order = round_order(workgroups, start.as_deref());
        let mut next: Option<String> = None;
        for (i, wg) in order.iter().enumerate() {
            if Instant::now() >= until {
                // Not reached: these go first next run (their checkpoints are untouched).
                next.get_or_insert_with(|| wg.clone());
                report.unfinished.extend(order[i..].iter().cloned());
                break;
            }
            if let Err(e) = self
                .reconcile_workgroup(wg, run_time, now, until, summary, &mut report)
                .await
            {
                summary.failures.push(format!("reconciling {wg}: {e}"));
            }
            if next.is_none() && report.unfinished.contains(wg) {
                next = Some(wg.clone());
            }
        }
        if let Err(e) = self.index.save_rotation(next.as_deref(), now).await {
            summary
                .failures
                .push(format!("saving the reconciliation round: {e}"));
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
        let mut token = saved.resume_token.clone();
        let mut newest = if saved.resume_token.is_some() {
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
                return Ok(self.index.save_checkpoint(wg, &resume, now).await?);
            }
            let (ids, next) = self
                .list_page(wg, token.clone(), &saved, now, summary, report)
                .await?;
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
                all_older &= self
                    .index_unknown(&unknown, horizon, now, summary, report)
                    .await?;
            }
            if reached_checkpoint || all_older || next.is_none() {
                let done = Checkpoint {
                    stop_at: newest.or(saved.stop_at),
                    ..Checkpoint::default()
                };
                return Ok(self.index.save_checkpoint(wg, &done, now).await?);
            }
            token = next;
        }
    }

    /// One page of `wg`'s history from `token`. A resume token that no longer works sends the
    /// next pass back to the top (the checkpoint keeps where to stop).
    async fn list_page(
        &self,
        wg: &str,
        token: Option<String>,
        saved: &Checkpoint,
        now: DateTime<Utc>,
        summary: &mut RunSummary,
        report: &mut ReconcileReport,
    ) -> Result<(Vec<String>, Option<String>), LakeopsError> {
        let resuming = saved.resume_token.is_some();
        let page = self.history.list_query_page(wg, token).await;
        report.list_calls += 1;
        summary.list_calls += 1;
        match page {
            Ok(p) => Ok(p),
            Err(e) if resuming => {
                let restart = Checkpoint {
                    stop_at: saved.stop_at.clone(),
                    ..Checkpoint::default()
                };
                self.index.save_checkpoint(wg, &restart, now).await?;
                Err(e.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Reads the queries the index does not know and indexes them (settled if they ended: their
    /// events were lost). Whether all of them were submitted before `horizon`.
    async fn index_unknown(
        &self,
        unknown: &[String],
        horizon: DateTime<Utc>,
        now: DateTime<Utc>,
        summary: &mut RunSummary,
        report: &mut ReconcileReport,
    ) -> Result<bool, LakeopsError> {
        let (found, calls) = self.history.batch_get(unknown).await?;
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
        let callers = self.index.callers(unknown).await?;
        let mut all_older = true;
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
        Ok(all_older)
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
        // Ended but unpriced ones are among them (their feed message failed until the DLQ): an
        // expensive one still inside its attribution wait is left for its CloudTrail record.
        let may_hold: std::collections::BTreeSet<String> = stale.iter().cloned().collect();
        let problems: Vec<(String, String)> = self
            .settle_ids(&stale, now, false, &may_hold, summary)
            .await
            .into_iter()
            .filter(|(_, why)| !why.starts_with(crate::feed::HELD))
            .collect();
        if let Some((id, why)) = problems.first() {
            return Err(LakeopsError::InvalidInput(format!(
                "{} stale queries not settled, e.g. {id}: {why}",
                problems.len()
            )));
        }
        Ok(())
    }
}

/// The workgroups in name order, starting at `start` (the first one the previous run did not
/// finish) and wrapping around; from the first if `start` is `None` or gone.
pub fn round_order(workgroups: &[String], start: Option<&str>) -> Vec<String> {
    let mut sorted: Vec<String> = workgroups.to_vec();
    sorted.sort();
    sorted.dedup();
    let at = start.map_or(0, |s| sorted.partition_point(|w| w.as_str() < s));
    let at = at.min(sorted.len());
    sorted.rotate_left(at);
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs that each have time for `per_run` workgroups reach every one of them within
    /// ceil(n / per_run) runs — name order from the top each run never reached the tail.
    #[test]
    fn every_workgroup_is_reached_however_many_there_are() {
        let workgroups: Vec<String> = (0..500).map(|i| format!("wg-{i:03}")).collect();
        let per_run = 120;
        let mut start: Option<String> = None;
        let mut reached = std::collections::BTreeSet::new();
        for _ in 0..500usize.div_ceil(per_run) {
            let order = round_order(&workgroups, start.as_deref());
            reached.extend(order[..per_run].iter().cloned());
            start = order.get(per_run).cloned();
        }
        assert_eq!(reached.len(), 500);
    }

    #[test]
    fn the_round_starts_where_it_stopped_and_wraps() {
        let wgs: Vec<String> = ["etl", "adhoc", "bi", "ml"].map(String::from).to_vec();
        assert_eq!(round_order(&wgs, None), ["adhoc", "bi", "etl", "ml"]);
        assert_eq!(round_order(&wgs, Some("etl")), ["etl", "ml", "adhoc", "bi"]);
        // A workgroup deleted since: the next one after it.
        assert_eq!(round_order(&wgs, Some("c")), ["etl", "ml", "adhoc", "bi"]);
        assert_eq!(round_order(&wgs, Some("zz")), ["adhoc", "bi", "etl", "ml"]);
    }
}
