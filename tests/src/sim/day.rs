//! One simulated run: the world around the cost watcher's decisions, tick by tick (see the
//! module above for what is simulated).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::time::Instant;

use aws_config::{BehaviorVersion, Region};
use chrono::{DateTime, Duration, Utc};
use lakeops::athena::{QueryExecution, QueryState, StatementType};
use lakeops::ConfigReader;
use lakeops_core::memory::{MemoryAthena, MemoryCatalog, MemoryIndex};
use query_cost_watcher::feed::Delivery;
use query_cost_watcher::spend::MemorySpend;
use query_cost_watcher::window::Window;
use query_cost_watcher::{CostConfig, Deps, DigestRequest};
use serde_json::{json, Value};

use super::killer::{Killer, KILLER_PERIOD};
use super::memory::measured;
use super::observe;
use super::spend::SpendPlan;
use super::traffic::{PlannedQuery, Rng};
use super::world::{self, AlertTopic, Clock, EventQueue, SimLedger};
use super::{Broken, Report, SimConfig};
use crate::index::{cloudtrail_start, state_change, Identity, EVENT_QUEUE_BATCH_SIZE};

/// Something that happens at a moment of the simulated day (small: a day holds millions; the
/// events' JSON is built when EventBridge hands them over).
enum Happening {
    /// Athena shows query `n` in this state from now on.
    Athena(usize, QueryState),
    /// EventBridge hands query `n`'s state-change event (its `seq`-th) to the event queue.
    StateChange(usize, u8),
    /// EventBridge hands query `n`'s CloudTrail record to the event queue.
    Trail(usize),
    /// A message no reader can use.
    Poison(Result<Value, String>),
    /// EventBridge hands over the CANCELLED event of a query the killer stopped (as it ended).
    Stopped(Box<PlannedQuery>),
}

/// The body EventBridge delivers for `happening`.
fn body(happening: Happening, queries: &[PlannedQuery]) -> Result<Value, String> {
    match happening {
        Happening::StateChange(i, seq) => {
            let q = &queries[i];
            let (state, when, previous) = match seq {
                1 => (QueryState::Queued, q.submitted, None),
                2 => (QueryState::Running, q.started, Some("QUEUED")),
                _ => (q.state, q.ended, Some("RUNNING")),
            };
            let mut event = state_change(
                &q.id,
                &q.workgroup,
                previous,
                state.as_str(),
                seq.into(),
                when,
            );
            event["detail"]["statementType"] = json!(match q.statement {
                StatementType::Ddl => "DDL",
                _ => "DML",
            });
            Ok(event)
        }
        Happening::Trail(i) => {
            let q = &queries[i];
            let who = Identity::IamUser(&q.person);
            Ok(cloudtrail_start(
                &q.id,
                &q.workgroup,
                &who,
                "aws-cli/2.15.0",
                q.submitted,
            ))
        }
        Happening::Poison(body) => body,
        Happening::Stopped(q) => Ok(state_change(
            &q.id,
            &q.workgroup,
            Some("RUNNING"),
            QueryState::Cancelled.as_str(),
            3,
            q.ended,
        )),
        Happening::Athena(..) => Err("not an event".into()),
    }
}

pub(crate) type SimDeps =
    Deps<AlertTopic, SimLedger, MemoryIndex, MemoryAthena, MemorySpend, MemoryCatalog>;

const TICK: Duration = Duration::seconds(5);
const SWEEP: Duration = Duration::minutes(5);
/// After the simulated span, an hour without new queries: what is still running ends, late
/// events arrive, the runs settle it all; then the digest of the day.
pub(crate) const DRAIN: Duration = Duration::hours(1);
/// The digest's sweep runs this long after the drain.
pub(crate) const DIGEST_AFTER: Duration = SWEEP;

/// The watcher's settings: the defaults (spikes at 3x and $10 over the baseline, budget warnings
/// at 80 %), UTC, the planned budgets; the digest is asked for by the last sweep of the drain (the
/// clock's trigger, `digest::due`, is unit-tested on its own).
fn config(spend: &SpendPlan) -> CostConfig {
    let mut settings: Vec<(&str, String)> = vec![
        (
            "ALERT_TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:lakeops-sim".into(),
        ),
        ("LEDGER_TABLE", "sim-ledger".into()),
        ("QUERY_INDEX_TABLE", "sim-index".into()),
        ("TIMEZONE", "UTC".into()),
        ("DIGEST_ENABLED", "false".into()),
    ];
    settings.extend(spend.settings());
    let mut r = ConfigReader::from_map(settings);
    let config = CostConfig::read(&mut r);
    r.finish().expect("the simulation's settings are valid");
    config
}

fn deps(
    clock: &Clock,
    outage: Option<(DateTime<Utc>, DateTime<Utc>)>,
    broken: Broken,
    spend: &SpendPlan,
) -> SimDeps {
    // Never called: the simulated feed is handed no receipts to return early.
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .build(),
    );
    let mut config = config(spend);
    match broken {
        Broken::SpikeRuleLoosened => config.spike_factor = 1.5,
        Broken::NoAttributionWait => config.attribution_wait = Duration::zero(),
        _ => {}
    }
    let history = MemorySpend::new();
    spend.seed(&history);
    Deps {
        spend: history,
        sqs,
        history: MemoryAthena::new(),
        alerts: AlertTopic::new(clock.clone(), outage),
        ledger: SimLedger {
            forgetful: broken == Broken::ForgetfulLedger,
            ..SimLedger::default()
        },
        index: MemoryIndex::new(),
        // The simulated account has no Lambda functions to audit.
        audit: None,
        // No catalog tables: the simulated SQL gives only the hints its text shows.
        catalog: MemoryCatalog::default(),
        config,
    }
}

/// Athena's view of `q` in `state`.
fn execution(q: &PlannedQuery, state: QueryState) -> QueryExecution {
    let ended = state.is_terminal();
    QueryExecution {
        id: q.id.clone(),
        workgroup: q.workgroup.clone(),
        sql: q.sql.clone(),
        statement_type: q.statement,
        state,
        state_change_reason: (state == QueryState::Failed).then(|| "simulated failure".into()),
        submitted_at: Some(q.submitted),
        completed_at: ended.then_some(q.ended),
        data_scanned_bytes: ended.then_some(q.bytes),
        engine_ms: ended.then(|| (q.ended - q.started).num_milliseconds()),
        queue_ms: Some((q.started - q.submitted).num_milliseconds()),
        total_ms: ended.then(|| (q.ended - q.submitted).num_milliseconds()),
        database: Some("sales".into()),
        catalog: Some("AwsDataCatalog".into()),
        dpu_count: q.dpu,
        ..QueryExecution::example(&q.id)
    }
}

/// Every moment of the day: Athena's state changes, and EventBridge's deliveries of their events
/// (best effort: 0.2 % dropped, 1 % twice, 1 % late by up to 5 minutes) and of the CloudTrail
/// records.
fn timeline(queries: &[PlannedQuery], rng: &mut Rng) -> BTreeMap<(DateTime<Utc>, u64), Happening> {
    let mut t = BTreeMap::new();
    let mut n = 0u64;
    let mut at = |t: &mut BTreeMap<_, _>, when: DateTime<Utc>, h: Happening| {
        n += 1;
        t.insert((when, n), h);
    };
    for (i, q) in queries.iter().enumerate() {
        let changes = [
            (QueryState::Queued, q.submitted, 1),
            (QueryState::Running, q.started, 2),
            (q.state, q.ended, 3),
        ];
        for (state, when, seq) in changes {
            at(&mut t, when, Happening::Athena(i, state));
            if rng.chance(0.002) {
                continue;
            }
            let copies = if rng.chance(0.01) { 2 } else { 1 };
            for _ in 0..copies {
                let delay = if rng.chance(0.01) {
                    Duration::seconds(rng.below(300) as i64)
                } else {
                    Duration::milliseconds(rng.log_between(100.0, 3000.0) as i64)
                };
                at(&mut t, when + delay, Happening::StateChange(i, seq));
            }
        }
        if let Some(when) = q.trail_at {
            at(&mut t, when, Happening::Trail(i));
        }
    }
    t
}

/// The simulated world during a run: the clock, what is still to happen, the event queue, the
/// cost watcher's dependencies, and what was measured so far.
pub(super) struct Day<'q> {
    cfg: SimConfig,
    queries: &'q [PlannedQuery],
    clock: Clock,
    now: DateTime<Utc>,
    end: DateTime<Utc>,
    outage: Option<(DateTime<Utc>, DateTime<Utc>)>,
    deps: SimDeps,
    timeline: BTreeMap<(DateTime<Utc>, u64), Happening>,
    queue: EventQueue,
    /// The fault schedule's feed invocation has died.
    died: bool,
    killer: Killer,
    /// Query index by id (the killer names what it stopped by id).
    by_id: HashMap<String, usize>,
    /// The queries the killer stopped, as they really ended (CANCELLED when stopped).
    stopped: BTreeMap<usize, PlannedQuery>,
    /// The previous days' spend, the spike put in, the budgets.
    spend: SpendPlan,
    report: Report,
}

impl<'q> Day<'q> {
    pub(super) fn new(
        cfg: &SimConfig,
        queries: &'q [PlannedQuery],
        spend: SpendPlan,
        rng: &mut Rng,
    ) -> Self {
        let end = cfg.start + Duration::hours(cfg.hours.into());
        let outage = cfg.faults.then(|| {
            (
                share_of(cfg, 0.25),
                share_of(cfg, 0.25) + Duration::minutes(20),
            )
        });
        let clock = Clock::default();
        clock.set(cfg.start);
        let deps = deps(&clock, outage, cfg.broken, &spend);
        for q in queries {
            deps.history.add_workgroup(&q.workgroup, true);
        }
        let mut timeline = timeline(queries, rng);
        if cfg.faults {
            // Poison messages: an event no reader can use and a body that is not JSON (they
            // must end in the DLQ, alone).
            let body = json!({"detail-type": "Athena Query State Change", "detail": {"currentState": "RUNNING"}});
            let at = share_of(cfg, 0.1);
            timeline.insert((at, 0), Happening::Poison(Ok(body)));
            timeline.insert((at, 1), Happening::Poison(Err("not JSON: {{{".into())));
        }
        Self {
            report: Report::new(cfg, queries.len()),
            cfg: cfg.clone(),
            queries,
            now: cfg.start,
            clock,
            end,
            outage,
            deps,
            timeline,
            queue: EventQueue::default(),
            died: false,
            killer: Killer::new(cfg.broken == Broken::KillerDryRun),
            by_id: queries
                .iter()
                .enumerate()
                .map(|(i, q)| (q.id.clone(), i))
                .collect(),
            stopped: BTreeMap::new(),
            spend,
        }
    }

    /// Runs every tick to the end and through the drain, sends the digest, then judges.
    pub(super) async fn run(mut self) -> Report {
        let drain = if self.cfg.broken == Broken::DigestBeforeTheDaySettles {
            Duration::zero()
        } else {
            DRAIN
        };
        while self.now < self.end + drain {
            self.now += TICK;
            self.clock.set(self.now);
            self.release();
            if self.cfg.faults {
                inject(
                    &self.deps,
                    self.now,
                    self.cfg.start,
                    self.end - self.cfg.start,
                );
            }
            self.deliver().await;
            let elapsed = (self.now - self.cfg.start).num_seconds();
            if elapsed % SWEEP.num_seconds() == 0 {
                self.sweep().await;
            }
            if elapsed % KILLER_PERIOD.num_seconds() == 0 {
                self.kill().await;
            }
        }
        self.digest().await;
        self.finish().await
    }

    /// What happened by now: Athena's new states, EventBridge's deliveries to the queue.
    fn release(&mut self) {
        while let Some(entry) = self.timeline.first_entry() {
            if entry.key().0 > self.now {
                break;
            }
            match entry.remove() {
                // A stopped query's planned end never happens.
                Happening::Athena(i, _) | Happening::StateChange(i, 3)
                    if self.stopped.contains_key(&i) => {}
                Happening::Athena(i, state) => {
                    self.deps.history.put(execution(&self.queries[i], state))
                }
                event => {
                    self.report.messages += 1;
                    self.queue.send(body(event, self.queries), self.now);
                }
            }
        }
    }

    /// The event source mapping: every visible message, in batches, through the feed.
    async fn deliver(&mut self) {
        loop {
            let batch = self.queue.receive(self.now, EVENT_QUEUE_BATCH_SIZE);
            if batch.is_empty() {
                return;
            }
            self.report.batches += 1;
            // The fault schedule's feed invocation dies after half its batch: its answer never
            // comes, so every message of the batch is visible again after the timeout.
            let dies = self.cfg.faults
                && !self.died
                && self.now >= share_of(&self.cfg, 0.6)
                && batch.len() > 1;
            let handled = if dies {
                &batch[..batch.len() / 2]
            } else {
                &batch[..]
            };
            let took = Instant::now();
            let ((failed, held), bytes) = measured(feed(&self.deps, handled, self.now)).await;
            self.report.note_peak("query-cost-feed", bytes);
            self.report.slowest_batch = self.report.slowest_batch.max(took.elapsed());
            let wait = self.deps.config.attribution_wait;
            for m in batch {
                // A held message's visibility was changed to the attribution wait (not when the
                // invocation died: its answer, and the change, never came).
                let sooner = (!dies && held.contains(&m.id)).then_some(wait);
                self.report.held += u64::from(sooner.is_some());
                if dies || failed.contains(&m.id) {
                    self.queue.give_back(m, self.now, sooner);
                }
            }
            self.died |= dies;
        }
    }

    /// The scheduled run of the window ending now (with the digest of `digest`'s day).
    async fn sweep_with(&mut self, digest: Option<DigestRequest>) -> (std::time::Duration, usize) {
        let took = Instant::now();
        let window = Window::ending_at(self.now, SWEEP);
        let mut metrics = lakeops::Metrics::new("Lakeops");
        let until = tokio::time::Instant::now() + std::time::Duration::from_secs(300);
        // Its failures are the faults' doing; the oracle judges what they left behind.
        let (_, bytes) = measured(
            self.deps
                .sweep(window, digest, self.now, until, &mut metrics),
        )
        .await;
        self.report.note_peak("query-cost-watcher", bytes);
        // Stamped with the window's start, as the deployed sweep stamps them.
        add_cost(&self.deps, &metrics, window.start);
        self.report.sweeps += 1;
        let took = took.elapsed();
        self.report.slowest_sweep = self.report.slowest_sweep.max(took);
        (took, bytes)
    }

    async fn sweep(&mut self) {
        self.sweep_with(None).await;
    }

    /// The digest of the simulated day, by the sweep after the drain; its time and memory.
    async fn digest(&mut self) {
        self.now += DIGEST_AFTER;
        self.clock.set(self.now);
        let day = self.cfg.start.date_naive();
        let (calls, units) = (
            self.deps.index.all_calls().0,
            self.deps.index.capacity_units().1,
        );
        let (took, bytes) = self.sweep_with(Some(DigestRequest::Day(day))).await;
        self.report.digest = Some(super::DigestRun {
            took,
            bytes,
            index_reads: self.deps.index.all_calls().0 - calls,
            read_units: self.deps.index.capacity_units().1 - units,
        });
    }

    /// The killer's scheduled run; what it stopped ends now in the world: Athena shows it
    /// CANCELLED with what it scanned so far, and its event goes to EventBridge.
    async fn kill(&mut self) {
        let d = &self.deps;
        let (stopped, bytes) = measured(
            self.killer
                .run(&d.history, &d.index, &d.alerts, &d.ledger, self.now),
        )
        .await;
        self.report.note_peak("long-query-killer", bytes);
        for id in stopped {
            let Some(&i) = self.by_id.get(&id) else {
                continue;
            };
            let planned = &self.queries[i];
            let ran = (self.now - planned.started).num_milliseconds().max(0) as f64;
            let would = (planned.ended - planned.started).num_milliseconds().max(1) as f64;
            let actual = PlannedQuery {
                state: QueryState::Cancelled,
                ended: self.now,
                bytes: (planned.bytes as f64 * (ran / would).min(1.0)) as u64,
                ..planned.clone()
            };
            self.deps
                .history
                .put(execution(&actual, QueryState::Cancelled));
            let at = (self.now + Duration::seconds(1), (1 << 62) + i as u64);
            self.timeline
                .insert(at, Happening::Stopped(Box::new(actual.clone())));
            self.stopped.insert(i, actual);
        }
    }

    async fn finish(mut self) -> Report {
        let r = &mut self.report;
        (r.index_reads, r.index_writes) = self.deps.index.all_calls();
        // Before the oracle reads the totals (its reads are not the suite's).
        r.index_units = self.deps.index.capacity_units();
        (r.list_calls, r.batch_get_calls) = self.deps.history.calls();
        r.dead_letters = self.queue.dead_letters.len();
        r.alerts_refused = self.deps.alerts.refused.load(Ordering::SeqCst);
        r.killer_runs = self.killer.runs;
        r.killer_failed_runs = self.killer.failed_runs;
        r.slowest_killer = self.killer.slowest;
        r.stopped = self.stopped.len();
        r.cost_metric = self.deps.spend.totals_since(self.cfg.start);
        r.verdict = observe::judge(observe::Run {
            deps: &self.deps,
            queries: self.queries,
            stopped: &self.stopped,
            outage: self.outage,
            end: self.end + DRAIN,
            spend: &self.spend,
            day: self.cfg.start,
            cost_metric: &r.cost_metric,
        })
        .await;
        let over = super::memory::over_limits(r);
        r.verdict.discrepancies.extend(over);
        self.report
    }
}

/// The moment `share` of the simulated span has passed.
fn share_of(cfg: &SimConfig, share: f64) -> DateTime<Utc> {
    let span = i64::from(cfg.hours) * 3600;
    cfg.start + Duration::seconds((span as f64 * share) as i64)
}

/// A run's `QueryCostUSD` per workgroup, as CloudWatch receives it: stamped `at`.
fn add_cost(deps: &SimDeps, metrics: &lakeops::Metrics, at: DateTime<Utc>) {
    deps.spend.record(metrics, at);
}

/// One batch through the feed, as the event source mapping delivers it: the ids it hands back,
/// and those of them held for attribution.
async fn feed(
    deps: &SimDeps,
    batch: &[world::Message],
    now: DateTime<Utc>,
) -> (Vec<String>, Vec<String>) {
    let deliveries: Vec<Delivery> = batch
        .iter()
        .map(|m| Delivery {
            message_id: m.id.clone(),
            receive_count: m.receives,
            receipt: None,
            body: m.body.clone(),
        })
        .collect();
    let outcome = deps.feed_with_metrics(&deliveries, now).await;
    add_cost(deps, &outcome.metrics, now);
    (outcome.failed, outcome.held)
}

/// The fault schedule's DynamoDB and Athena faults, at their moments of the slice.
fn inject(deps: &SimDeps, now: DateTime<Utc>, start: DateTime<Utc>, slice: Duration) {
    let share = (now - start).num_seconds() as f64 / slice.num_seconds() as f64;
    let at = |s: f64| {
        let t = start + Duration::seconds((slice.num_seconds() as f64 * s) as i64);
        t <= now && now < t + TICK
    };
    if at(0.4) {
        // A throttling burst: 30 calls in a row fail after the SDK's retries.
        deps.index.inject_throttling(30);
    }
    if at(0.5) {
        deps.history.inject_throttling(20);
        deps.history.inject_unprocessed(40);
    }
    if (0.3..0.35).contains(&share) {
        // The morning peak's hot day totals: transactions cancelled for conflicts.
        deps.index.inject_conflicts(3);
    }
}
