//! The scheduled sweep of one window, in pipeline order: reconciliation (what the feed missed),
//! the window's expensive queries and retry storms per workgroup, budgets and spikes, and the
//! digest when it is due. It decides from the query index and the spend history; Athena is read
//! only for the workgroup list and by reconciliation.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use lakeops::alert::{Alert, AlertSink};
use lakeops::athena::{QueryExecution, QueryHistory};
use lakeops::attribution::Caller;
use lakeops::calendar::LocalDay;
use lakeops::ledger::Ledger;
use lakeops::query_index::IndexStore;
use lakeops::{LakeopsError, Metrics, Unit};
use lakeops_core::cost_hints::TableCatalog;

use crate::alerts::budget_key;
use crate::digest::{self, DigestBuilder, WorkgroupSpec};
use crate::spend::{self, record_priced, BudgetLevel, SpendSource};
use crate::window::Window;
use crate::{
    assess, budget_alert, spike_alert, storm, storm_alert, BudgetScope, Deps, DigestRequest,
    RunSummary, FUNCTION, LEDGER_KEEP_DAYS,
};

impl<A, L, I, H, S, C> Deps<A, L, I, H, S, C>
where
    A: AlertSink,
    L: Ledger,
    I: IndexStore,
    H: QueryHistory,
    S: SpendSource,
    C: TableCatalog,
    LakeopsError: From<I::Error> + From<H::Error>,
{
    /// The sweep of one window over the configured workgroups.
    pub async fn sweep(
        &self,
        window: Window,
        forced_digest: Option<DigestRequest>,
        now: DateTime<Utc>,
        reconcile_until: tokio::time::Instant,
        metrics: &mut Metrics,
    ) -> Result<RunSummary, LakeopsError> {
        let config = &self.config;
        let workgroups = if config.workgroups.is_empty() {
            self.history.workgroups(true).await?
        } else {
            config.workgroups.clone()
        };
        let mut summary = RunSummary {
            trigger: "schedule",
            window_start: Some(window.start),
            window_end: Some(window.end),
            workgroups: workgroups.clone(),
            ..Default::default()
        };
        // Disabled workgroups too: a query may still be running in one just disabled.
        let all_workgroups = if config.workgroups.is_empty() {
            self.history.workgroups(false).await?
        } else {
            config.workgroups.clone()
        };
        let report = self
            .reconcile(
                &all_workgroups,
                window.end,
                now,
                reconcile_until,
                &mut summary,
            )
            .await;
        summary.reconcile = Some(report);
        for wg in &workgroups {
            self.judge_window(wg, window, now, &mut summary, metrics)
                .await?;
        }
        record_priced(metrics, &summary, &workgroups, config.person_metrics);
        if !config.budget_by_person.is_empty() {
            if let Err(e) = self.person_budgets(window, now, &mut summary).await {
                summary.failures.push(format!("budgets per person: {e}"));
            }
        }
        if config.watches_daily_spend() {
            if let Err(e) = self
                .daily_spend(window, &workgroups, now, &mut summary)
                .await
            {
                summary.failures.push(format!("daily spend: {e}"));
            }
        }
        let digest_day = self.digest_day(window, forced_digest);
        if let Some(day) = digest_day {
            if let Err(e) = self.digest(day, &workgroups, now, &mut summary).await {
                summary.failures.push(format!("digest of {day}: {e}"));
            }
        }
        Ok(summary)
    }

    /// The window's finished queries of one workgroup, from the index (no Athena call):
    /// expensive ones alerted, retry storms found over the look-back before the window.
    async fn judge_window(
        &self,
        wg: &str,
        window: Window,
        now: DateTime<Utc>,
        summary: &mut RunSummary,
        metrics: &mut Metrics,
    ) -> Result<(), LakeopsError> {
        let config = &self.config;
        let finished = self
            .index
            .finished_between(wg, window.start - config.storm_lookback, window.end)
            .await?;
        let callers: HashMap<&str, &Caller> = finished
            .iter()
            .filter_map(|f| f.caller.as_ref().map(|c| (f.query.id.as_str(), c)))
            .collect();
        let recent: Vec<QueryExecution> = finished.iter().map(|f| f.query.clone()).collect();
        let (mut spend, mut count, mut expensive_count) = (0.0, 0u32, 0u32);
        for f in finished.iter().filter(|f| {
            f.query.state.is_terminal() && f.query.completed_at.is_some_and(|t| window.contains(t))
        }) {
            let q = &f.query;
            let charge = config.athena.price.charge(q);
            count += 1;
            spend += charge.usd();
            if let Some(why) = assess(q, &charge, config) {
                expensive_count += 1;
                if !summary.expensive.contains(&q.id) {
                    summary.expensive.push(q.id.clone());
                }
                let alert = self
                    .expensive_alert(q, &charge, &why, f.caller.as_ref(), now, summary)
                    .await;
                self.send_once(&alert, summary).await;
            }
        }
        for s in storm::find(&recent, window, config.storm_lookback, config.storm_count) {
            summary.storms.push(format!("{wg}/{}", s.fingerprint_id));
            let caller = callers.get(s.latest.id.as_str()).copied();
            let alert = storm_alert(&s, caller, window, config, now);
            self.send_once(&alert, summary).await;
        }
        summary.queries_completed += count as usize;
        summary.spend_usd.insert(wg.to_string(), spend);
        let dims = [("WorkGroup", wg)];
        metrics.record(
            &dims,
            "ExpensiveQueryCount",
            expensive_count as f64,
            Unit::Count,
        );
        Ok(())
    }

    /// The day whose digest this run sends: asked for by the event, or due by the clock.
    fn digest_day(&self, window: Window, forced: Option<DigestRequest>) -> Option<LocalDay> {
        let config = &self.config;
        match forced {
            Some(DigestRequest::Day(d)) => Some(LocalDay::new(d, config.timezone)),
            Some(DigestRequest::Yesterday) => {
                Some(LocalDay::containing(window.end, config.timezone).previous())
            }
            None if config.digest_enabled => {
                digest::due(window, config.timezone, config.digest_hour)
            }
            None => None,
        }
    }

    /// Budgets and spikes: today's spend per workgroup from the index's running total of the day
    /// (exact: every query counted once, whatever happened to earlier sweeps); the spike baseline
    /// from the sweeps' spend metrics of the previous days.
    async fn daily_spend(
        &self,
        window: Window,
        workgroups: &[String],
        now: DateTime<Utc>,
        summary: &mut RunSummary,
    ) -> Result<(), LakeopsError> {
        let config = &self.config;
        let today = LocalDay::containing(window.start, config.timezone);
        let from = today
            .plus_days(-(config.spike_baseline_days as i64))
            .start();
        let history = self
            .spend
            .windows(workgroups, from, window.start, config.interval)
            .await?;
        let totals = self
            .index
            .day_totals(workgroups, &today.to_string())
            .await?;
        for wg in workgroups {
            let this_window = summary.spend_usd.get(wg).copied().unwrap_or(0.0);
            let points = history.get(wg).map(Vec::as_slice).unwrap_or(&[]);
            let mut daily = spend::daily_spend(
                points,
                window,
                this_window,
                config.timezone,
                config.spike_baseline_days,
            );
            daily.today_usd = totals.get(wg).copied().unwrap_or(0.0);
            summary.spend_today_usd.insert(wg.clone(), daily.today_usd);
            if let Some(budget) = config.budget_for(wg) {
                let scope = BudgetScope::Workgroup(wg);
                self.check_budget(scope, daily.today_usd, &daily.day, budget, now, summary)
                    .await;
            }
            if spend::is_spike(&daily, config.spike_factor, config.spike_min_usd) {
                let alert = spike_alert(wg, &daily, config, now);
                self.send_once(&alert, summary).await;
            }
        }
        Ok(())
    }

    /// One budget: alerted once per level and day; straight past 100%, the warning is skipped.
    async fn check_budget(
        &self,
        scope: BudgetScope<'_>,
        spent: f64,
        day: &LocalDay,
        budget: f64,
        now: DateTime<Utc>,
        summary: &mut RunSummary,
    ) {
        let config = &self.config;
        let Some(level) = spend::budget_level(spent, budget, config.budget_warn_percent) else {
            return;
        };
        if level == BudgetLevel::Exceeded {
            // Straight past 100%: the warning would only be noise now.
            let warning = budget_key(scope, day, BudgetLevel::Warning);
            if let Err(e) = self
                .ledger
                .claim(&warning, now, Duration::days(LEDGER_KEEP_DAYS))
                .await
            {
                summary.failures.push(format!("ledger {warning}: {e}"));
            }
        }
        let alert = budget_alert(scope, spent, day, budget, level, config, now);
        self.send_once(&alert, summary).await;
    }

    /// `DAILY_BUDGET_USD_BY_PRINCIPAL`: each person's spend today from the index's running total
    /// per person and day (a query counts once its CloudTrail record and its price are both in).
    async fn person_budgets(
        &self,
        window: Window,
        now: DateTime<Utc>,
        summary: &mut RunSummary,
    ) -> Result<(), LakeopsError> {
        let config = &self.config;
        let today = LocalDay::containing(window.start, config.timezone);
        let persons: Vec<String> = config.budget_by_person.keys().cloned().collect();
        let totals = self
            .index
            .person_day_totals(&persons, &today.to_string())
            .await?;
        for (person, budget) in &config.budget_by_person {
            let spent = totals.get(person).copied().unwrap_or(0.0);
            summary
                .spend_today_by_person_usd
                .insert(person.clone(), spent);
            let scope = BudgetScope::Person(person);
            self.check_budget(scope, spent, &today, *budget, now, summary)
                .await;
        }
        Ok(())
    }

    /// The daily digest of `day`, recounted from the queries the index priced (no Athena call);
    /// sent once per day. The day is counted page by page as the index reads it (a few
    /// workgroup-hours at a time), never held whole: a busy account finishes a million queries
    /// a day.
    async fn digest(
        &self,
        day: LocalDay,
        workgroups: &[String],
        now: DateTime<Utc>,
        summary: &mut RunSummary,
    ) -> Result<(), LakeopsError> {
        let config = &self.config;
        let specs = workgroups.iter().map(|wg| WorkgroupSpec {
            workgroup: wg,
            threshold_usd: config.threshold_for(wg),
            budget_usd: config.budget_for(wg),
        });
        let builder = DigestBuilder::new(day, config.athena.price);
        let digest = digest::read_day(&self.index, builder, specs).await?;
        let key = format!("{FUNCTION}/digest/{day}");
        let alert = digest.alert(&key, FUNCTION, &config.common.region, now);
        let alert = self.with_blind_spots(alert).await;
        summary.digest = Some(day.to_string());
        self.send_once(&alert, summary).await;
        Ok(())
    }

    /// The digest with its "Log blind spots" section: the functions whose failures the suite
    /// cannot see. The audit never holds up the digest: if it fails, the section says so.
    async fn with_blind_spots(&self, alert: Alert) -> Alert {
        let Some(reader) = &self.audit else {
            return alert;
        };
        match lakeops::log_audit::audit_account(reader, &self.config.log_audit).await {
            Ok((lines, findings)) => {
                let unseen: Vec<&str> = findings.iter().map(|f| f.function.as_str()).collect();
                alert
                    .field("Log blind spots", lines.join("\n"))
                    .detail("log_blind_spots", unseen)
            }
            Err(e) => {
                tracing::warn!(error = %e, "log blind-spot audit failed; the digest says so");
                alert.field("Log blind spots", format!("not audited: {e}"))
            }
        }
    }
}
